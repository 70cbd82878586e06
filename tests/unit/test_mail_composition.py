"""One way to compose mail: every kind from its own templates, and no e-mail written in Python.

The second test reads the package as source (ast), so it fails when some code builds an e-mail
body of its own: HTML in a string, a `Content` made outside vcs/mail/compose.py, a template
rendered from a string, or an e-mail template opened by name somewhere else.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import vcs
from vcs.paths import TEMPLATES_DIR

PACKAGE = Path(vcs.__file__).parent
COMPOSE = PACKAGE / "mail" / "compose.py"
HTML_TAG = re.compile(
    r"<\s*/?\s*(html|head|body|style|title|meta|p|a|br|hr|div|span|table|tr|td|th|h[1-6]|ul|ol"
    r"|li|strong|em|b|i|s|u|img|button)\b[^<>]*>",
    re.IGNORECASE,
)
EMAIL_TEMPLATE = re.compile(r"^email/.+\.(txt|html)$")


def test_every_mail_kind_has_a_text_and_an_html_template() -> None:
    from vcs.mail.compose import MailKind

    for kind in MailKind:
        for suffix in ("txt", "html"):
            assert (TEMPLATES_DIR / "email" / f"{kind.template}.{suffix}").is_file(), kind.name


def test_mail_kinds_are_stored_as_they_always_were() -> None:
    from vcs.mail.compose import MailKind

    # Delivery.kind in existing databases, `vcs outbox retry --kind` and the metrics' labels.
    stored = {kind.outbox_kind for kind in MailKind}
    assert stored == {
        "announcement", "change", "cancellation", "digest", "test", "confirmation", "follow-up",
        "registration-confirm", "registration-promoted", "reminder", "live-now", "certificate",
        "feedback",
    }  # fmt: skip
    assert MailKind.ALREADY_SUBSCRIBED.outbox_kind == "confirmation"


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _problems(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docstrings = _docstrings(tree)
    where = path.relative_to(PACKAGE.parent)
    own = path == COMPOSE
    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            tag = HTML_TAG.search(node.value)
            if tag:
                yield f"{line}: HTML in a string: {tag[0]!r}"
            if EMAIL_TEMPLATE.match(node.value) and not own:
                yield f"{line}: an e-mail template opened outside vcs/mail/compose.py"
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "Content" and not own:
                yield f"{line}: {name}(...) made outside vcs/mail/compose.py (use render())"
            if name == "from_string":
                yield f"{line}: a template rendered from a string"


def test_no_email_body_is_written_in_python() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert COMPOSE in modules
    problems = [problem for path in modules for problem in _problems(path)]
    assert not problems, "\n".join(problems)
