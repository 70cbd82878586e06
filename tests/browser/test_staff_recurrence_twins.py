"""static/recurrence.js and vcs/planning/recurrence_form.py are twins: in Chromium, the script
reads every rule as the server does, into the same builder controls or into "cannot show"."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.unit.test_recurrence_form import CANNOT_SHOW, CHOICES, PIECES
from vcs.paths import STATIC_DIR
from vcs.planning.recurrence_form import builder_of

pytestmark = pytest.mark.browser


def typed_rules(count: int) -> list[str]:
    """Rules as staff might type them: a FREQ and a few other parts, in any order and case."""
    chance = random.Random(13)
    found = []
    for _ in range(count):
        names = chance.sample(sorted(set(PIECES) - {"FREQ"}), chance.randint(0, 3))
        names.insert(chance.randint(0, len(names)), "FREQ")
        text = ";".join(f"{name}={chance.choice(PIECES[name])}" for name in names)
        found.append(text.lower() if chance.random() < 0.3 else text)
    return found


def test_the_script_reads_every_rule_as_the_server_does(page: Any) -> None:
    rules = [rule for _builder, rule in CHOICES] + CANNOT_SHOW + typed_rules(400)
    page.set_content("<!doctype html><title>recurrence.js</title>")
    page.add_script_tag(path=str(STATIC_DIR / "recurrence.js"))
    in_browser = page.evaluate("(rules) => rules.map(builderFromRule)", rules)
    on_server = [None if (found := builder_of(rule)) is None else found.fields() for rule in rules]
    differ = [
        (rule, script, server)
        for rule, script, server in zip(rules, in_browser, on_server, strict=True)
        if script != server
    ]
    assert differ == []
    assert sum(found is not None for found in on_server) > 50
