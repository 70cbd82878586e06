"""Error codes and their words: every code the series, recurrence and member checks can raise has
a row in tests/integration/test_error_messages.py (or a reason it cannot be caused), every
message is marked for translation, and every label a problem is placed under reads as words in
Latvian."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.integration.test_error_messages import (
    FILE_CASES,
    SERIES_CASES,
    entry_of,
    label,
    series_file,
    table_codes,
)
from vcs import digest
from vcs.i18n import gettext_for
from vcs.paths import PROJECT_DIR
from vcs.planning import places, series, sessions
from vcs.providers.provider import SeriesKey
from vcs.providers.registry import REGISTRY

CODE = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$")
# How each module names its codes: the callee, the position of the code, the prefix it gets.
RAISERS = {
    "vcs/planning/series.py": {"bad": (1, "series."), "refuse": (0, "series.file."),
                               "Problem": (0, "")},
    "vcs/planning/recurrence.py": {"RecurrenceError": (0, "series.rrule.")},
    "vcs/membership/members.py": {"MemberError": (1, "member.")},
    "vcs/membership/members_csv.py": {"MemberError": (1, "member."), "file": (2, "csv."),
                                      "whole_file": (0, "csv."), "Problem": (0, "")},
    # A series' livestream table is checked by the providers (vcs/livestream/).
    "vcs/providers/registry.py": {"Problem": (0, "")},
    "vcs/providers/provider.py": {"Problem": (0, "")},
    "vcs/providers/static.py": {"Problem": (0, "")},
    "vcs/providers/youtube.py": {"Problem": (0, "")},
}  # fmt: skip
# Codes the checks have that no file or form can cause, and why.
UNREACHABLE = {
    "series.rrule.byday-byweekno": "BYWEEKNO is refused as an unsupported part before",
    "member.email.not-normalised": "a file's addresses are normalised as they are read",
    "member.follows.everything": "a file's `all` stands alone (member.follows.alone)",
    "member.consent-at.naive": "a file's times without a zone get the installation's",
    "csv.changed": "a race: another import adds the same member while this one saves",
}
# Callees that take a code and then a message.
ERROR_CALLEES = {"Problem", "one", "bad", "refuse", "file", "whole_file"}


def callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def choice_keys() -> list[SeriesKey]:
    """The keys of livestream tables whose value is one of a few choices (privacy)."""
    return [key for kind in REGISTRY.kinds for key in kind.keys if key.kind == "choice"]


def codes_raised() -> set[str]:
    """Every code the modules in RAISERS can raise, read from their source."""
    found: set[str] = {"series.unknown-key", "member.status"}  # _Found.unknown, status_error
    for path, raisers in RAISERS.items():
        for node in ast.walk(ast.parse((PROJECT_DIR / path).read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or callee(node) not in raisers:
                continue
            index, prefix = raisers[callee(node)]
            if len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(prefix + arg.value)
            elif isinstance(arg, ast.JoinedStr) and ast.unparse(arg) == "f'place.needs-{key}'":
                found |= {f"{prefix}place.needs-{key}" for key in places.NEEDED}
            elif ast.unparse(arg) == "f'series.livestream.{self.name}'":
                found |= {f"series.livestream.{key.name}" for key in choice_keys()}
    return found


def test_every_code_the_checks_raise_is_caused_in_the_message_tables() -> None:
    raised = codes_raised()
    assert len(raised) > 80, sorted(raised)
    untested = sorted(raised - table_codes() - set(UNREACHABLE))
    assert not untested, f"codes without a row in test_error_messages.py: {untested}"
    stale = sorted(set(UNREACHABLE) - raised)
    assert not stale, f"no longer raised: {stale}"
    made_up = sorted(table_codes() - raised - {"text.too-long", "text.url-spaces"})
    assert not made_up, f"rows whose code no check raises: {made_up}"


def test_every_message_given_with_a_code_is_marked_for_translation() -> None:
    # `SomeError("code", "an English message")` would never be translated: it must be N_(...).
    unmarked = []
    for path in sorted((PROJECT_DIR / "vcs").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = callee(node)
            if not (name.endswith("Error") or name in ERROR_CALLEES):
                continue
            for code, message in zip(node.args, node.args[1:], strict=False):
                if (
                    isinstance(code, ast.Constant)
                    and isinstance(code.value, str)
                    and CODE.match(code.value)
                    and isinstance(message, ast.Constant)
                    and isinstance(message.value, str)
                    and " " in message.value
                ):
                    where = Path(path).relative_to(PROJECT_DIR)
                    unmarked.append(f"{where}:{node.lineno}: {message.value!r}")
    assert not unmarked, "\n".join(unmarked)


def test_every_label_a_problem_is_placed_under_reads_as_latvian_words() -> None:
    latvian = gettext_for("lv")
    labels = {*series.KEYS, *series.FIELD_OF_KEY}
    assert labels <= set(series.KEY_LABELS)
    session_fields = {*sessions.EDITABLE_TEXT, *sessions.FORM_FIELDS, *sessions.SPEAKER_KINDS}
    assert session_fields <= set(sessions.FIELD_LABELS)
    assert {*digest.TEXT_KINDS, *digest.ITEM_FIELDS} <= set(digest.FIELD_LABELS)
    every = {*series.KEY_LABELS, *sessions.FIELD_LABELS, *digest.FIELD_LABELS}
    untranslated = sorted(word for word in every if latvian(word) == word)
    assert not untranslated, untranslated
    assert latvian("title.lv") == "nosaukums latviski"


def test_each_series_row_is_the_problem_its_code_names_with_its_latvian_words(
    tmp_path: Path,
) -> None:
    filed = [case for case in SERIES_CASES if case.entry is not None]
    entries = [entry_of(n, case.entry or {}) for n, case in enumerate(filed, 1)]
    path = series_file(tmp_path / "series.toml", entries)
    with pytest.raises(series.SeriesError) as raised:
        series.read_series_file(path)
    found = [(p.code, p.line("en"), p.text("lv")) for p in raised.value.problems]
    wrong = []
    for number, (case, entry) in enumerate(zip(filed, entries, strict=True), 1):
        line = f"{path}: {label(number, entry)}: {case.key}: {case.english}"
        if (case.code, line, case.latvian) not in found:
            wrong.append(f"{case.code}: {line}, {case.latvian!r}")
    for code, content, _english, latvian in FILE_CASES:
        path = tmp_path / (f"{code}.toml" if code != "series.file.unreadable" else "x" * 300)
        if content is not None:
            path.write_text(content, encoding="utf-8")
        with pytest.raises(series.SeriesError) as raised:
            series.read_series_file(path)
        if [(p.code, p.line("lv")) for p in raised.value.problems] != [
            (code, f"{path}: {latvian}")
        ]:
            wrong.append(f"{code}: {raised.value.lines('lv')}")
    assert not wrong, "\n".join(wrong)


def test_a_slug_used_twice_names_both_series_in_latvian(tmp_path: Path) -> None:
    path = tmp_path / "twice.toml"
    entry = '[[series]]\nslug = "s"\ntitle = "S"\nrrule = "FREQ=DAILY"\n'
    path.write_text(2 * (entry + 'start = "2026-12-10T10:00"\nduration = "PT1H"\n'))
    with pytest.raises(series.SeriesError) as raised:
        series.read_series_file(path)
    assert raised.value.code == "series.slug.duplicate"
    assert raised.value.lines("lv") == [
        f"{path}: adresi (slug) 's' izmanto vairākas sērijas: 1. sērija un 2. sērija"
    ]
