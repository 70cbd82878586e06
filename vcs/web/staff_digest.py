"""The digest pages of the staff area: the list, editing one issue, previews, test, approve, send.

Every route is declared with `page()` from vcs.web.staff (editors may use them all); the work is
done by vcs.digest. Importing this module registers the routes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from vcs import digest as digests
from vcs.errors import VcsError
from vcs.i18n import LANGUAGES, gettext_for
from vcs.planning import sessions
from vcs.storage.models import Digest
from vcs.web.staff import Staff, page, staff_render
from vcs.web.templating import request_language

# The preview is the e-mail itself, shown in a sandboxed frame of the edit page: its inline
# styles must apply (as in a mail client), and nothing else may run or load.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


def _messages(lang: str) -> dict[str, str]:
    _ = gettext_for(lang)
    return {
        "subject_lv": _("The digest needs a subject in Latvian."),
        "title_lv": _("An item needs a title in Latvian."),
        "link": _("A link must start with https:// or http://."),
        "item": _("There is no such item in this digest."),
        "at": _("Give the date and time like 2027-01-15T10:00."),
        "past": _("The time to send must be in the future; to send now, use “Send now”."),
        "confirm": _("Tick the box to confirm that the digest goes to every member."),
        "draft": _("Only a draft can be changed. Return it to draft first."),
    }


def _done(lang: str) -> dict[str, str]:
    _ = gettext_for(lang)
    return {
        "drafted": _("This week's digest has been drafted."),
        "existing": _("This week's digest was drafted already; here it is."),
        "text": _("The subject and the introduction have been saved."),
        "item": _("The items have been saved."),
        "test": _("A test has been queued to your address; it goes out within a minute."),
        "approved": _("The digest is approved and will be sent at the chosen time."),
        "draft": _("The digest is a draft again."),
        "sent": _("The digest has been queued for every member."),
        "unchanged": _("Nothing was changed."),
    }


@page("/staff/digests", "editor")
def digest_list(request: Request, staff: Staff, form: FormData | None) -> Response:
    with request.app.state.context.database.session() as db:
        found = list(digests.all_digests(db))
        figures = digests.figures(db, [d.id for d in found if d.status == digests.SENT])
        return staff_render(request, staff, "staff/digests.html", digests=found, figures=figures)


@page("/staff/digests/draft", "editor", methods=("POST",))
def digest_draft(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    with context.database.session() as db:
        digest, created = digests.draft(db, context.settings, context.clock.now(), staff.email)
        digest_id = digest.id
    done = "drafted" if created else "existing"
    return RedirectResponse(f"/staff/digests/{digest_id}?done={done}", 303)


@page("/staff/digests/{digest_id:int}", "editor")
def digest_edit(request: Request, staff: Staff, form: FormData | None) -> Response:
    return _edit_page(request, staff, request.path_params["digest_id"])


def _edit_page(
    request: Request, staff: Staff, digest_id: int, error: str | None = None, status: int = 200
) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    with context.database.session() as db:
        try:
            digest = digests.get(db, digest_id)
        except digests.DigestError:
            return staff_render(request, staff, "staff/digest_not_found.html", 404)
        tz = context.settings.tz
        figures = digests.figures(db, [digest.id])[digest.id]
        scheduled = digest.scheduled_at or context.clock.now() + dt.timedelta(hours=1)
        return staff_render(
            request,
            staff,
            "staff/digest.html",
            status,
            digest=digest,
            items=sorted(digest.items, key=lambda i: (i.position, i.id)),
            figures=figures,
            editable=digest.status == digests.DRAFT,
            scheduled_local=f"{scheduled.astimezone(tz):%Y-%m-%dT%H:%M}",
            timezone=context.settings.timezone,
            done=_done(lang).get(request.query_params.get("done", "")),
            error=error,
        )


def _change(request: Request, staff: Staff, change: Callable[[Any, Digest], str]) -> Response:
    """Apply `change(db, digest)` and go back to the page; a refused change shows why (400)."""
    context = request.app.state.context
    digest_id = request.path_params["digest_id"]
    messages = _messages(request_language(request))
    with context.database.session() as db:
        try:
            digest = digests.get(db, digest_id)
        except digests.DigestError:
            return staff_render(request, staff, "staff/digest_not_found.html", 404)
        try:
            done = change(db, digest)
        except (digests.DigestError, sessions.SessionError) as exc:
            db.rollback()
            key = str(exc)
            error = messages.get(key) or (
                messages["draft"] if key.startswith("only a draft") else key
            )
        except VcsError as exc:
            db.rollback()
            lang = request_language(request)
            error = " ".join(
                f"{_field_label(problem.field, lang)}: {problem.text(lang)}"
                for problem in exc.problems
            )
        else:
            return RedirectResponse(f"/staff/digests/{digest_id}?done={done}", 303)
    return _edit_page(request, staff, digest_id, error, 400)


def _field_label(field: str, lang: str) -> str:
    """A digest form field as its label says it: "Subject (lv)"."""
    _ = gettext_for(lang)
    name, _sep, code = field.partition("_")
    labels = {
        "subject": _("Subject"),
        "intro": _("Introduction"),
        "title": _("Title"),
        "body": _("Text"),
        "link": _("Link"),
    }
    label = labels.get(name, field)
    return f"{label} ({code})" if code else label


@page("/staff/digests/{digest_id:int}/text", "editor", methods=("POST",))
def digest_text(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None

    def change(db: Any, digest: Digest) -> str:
        values = {
            key: str(form.get(key, ""))
            for key in ("subject_lv", "subject_en", "intro_lv", "intro_en")
        }
        changed = digests.update_text(db, digest, staff.email, **values)
        return "text" if changed else "unchanged"

    return _change(request, staff, change)


@page("/staff/digests/{digest_id:int}/items", "editor", methods=("POST",))
def digest_items(request: Request, staff: Staff, form: FormData | None) -> Response:
    """One form per item, and one to add: `action` is add, save, delete, up or down."""
    assert form is not None

    def change(db: Any, digest: Digest) -> str:
        action = str(form.get("action", ""))
        values = {key: str(form.get(key, "")) for key in digests.ITEM_FIELDS}
        if action == "add":
            digests.add_item(db, digest, staff.email, **values)
            return "item"
        try:
            item_id = int(str(form.get("item_id", "")))
        except ValueError:
            raise digests.DigestError("item") from None
        if action == "save":
            digests.update_item(db, digest, item_id, staff.email, **values)
        elif action == "delete":
            digests.delete_item(db, digest, item_id, staff.email)
        elif action in ("up", "down"):
            digests.move_item(db, digest, item_id, -1 if action == "up" else 1, staff.email)
        else:
            raise digests.DigestError("item")
        return "item"

    return _change(request, staff, change)


@page("/staff/digests/{digest_id:int}/preview", "editor")
def digest_preview(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The e-mail exactly as sent (?language=lv|en, ?format=html|text), by the sending code."""
    context = request.app.state.context
    lang = request.query_params.get("language", "lv")
    lang = lang if lang in LANGUAGES else "lv"
    with context.database.session() as db:
        try:
            digest = digests.get(db, request.path_params["digest_id"])
        except digests.DigestError:
            return staff_render(request, staff, "staff/digest_not_found.html", 404)
        _subject, text, html = digests.preview(db, context.settings, digest, lang)
    if request.query_params.get("format") == "text":
        return PlainTextResponse(text)
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@page("/staff/digests/{digest_id:int}/test", "editor", methods=("POST",))
def digest_test(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    context = request.app.state.context
    lang = str(form.get("language", "lv"))
    lang = lang if lang in LANGUAGES else "lv"

    def change(db: Any, digest: Digest) -> str:
        now = context.clock.now()
        digests.send_test(db, context.settings, digest, staff.email, staff.name, lang, now)
        return "test"

    return _change(request, staff, change)


@page("/staff/digests/{digest_id:int}/approve", "editor", methods=("POST",))
def digest_approve(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    context = request.app.state.context

    def change(db: Any, digest: Digest) -> str:
        text = str(form.get("at", "")).strip()
        try:
            at = sessions.parse_local(text, context.settings.tz)
        except sessions.SessionError:
            raise digests.DigestError("at") from None
        if at <= context.clock.now():
            raise digests.DigestError("past")
        digests.approve(db, digest, at.astimezone(dt.UTC), staff.email)
        return "approved"

    return _change(request, staff, change)


@page("/staff/digests/{digest_id:int}/unapprove", "editor", methods=("POST",))
def digest_unapprove(request: Request, staff: Staff, form: FormData | None) -> Response:
    def change(db: Any, digest: Digest) -> str:
        if digest.status != digests.APPROVED:
            return "unchanged"
        digests.return_to_draft(db, digest, staff.email)
        return "draft"

    return _change(request, staff, change)


@page("/staff/digests/{digest_id:int}/send", "editor", methods=("POST",))
def digest_send(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Send now (or again, to members who have not had it); needs the confirmation box."""
    assert form is not None
    context = request.app.state.context

    def change(db: Any, digest: Digest) -> str:
        if form.get("confirm") != "yes":
            raise digests.DigestError("confirm")
        digests.send(db, context.settings, digest, context.clock.now(), staff.email)
        return "sent"

    return _change(request, staff, change)
