"""The digest pages of the staff area (editors): the list, editing one issue, previews, a test,
approving and sending. The work is done by vcs.digest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy.orm import Session as Db
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from vcs import digest as digests
from vcs.errors import VcsError
from vcs.i18n import LANGUAGES, N_, gettext_for
from vcs.planning import sessions
from vcs.storage.models import Digest
from vcs.web.staff import confirm
from vcs.web.staff.pages import Refusal, Staff, edit, or_none, page, staff_render
from vcs.web.templating import request_language

# The preview is the e-mail itself, shown in a sandboxed frame of the edit page: its inline
# styles must apply (as in a mail client), and nothing else may run or load.
PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)
NOT_FOUND = "staff/digest_not_found.html"
NO_SUCH_ITEM = N_("There is no such item in this digest.")
DONE = {
    "drafted": N_("This week's digest has been drafted."),
    "existing": N_("This week's digest was drafted already; here it is."),
    "text": N_("The subject and the introduction have been saved."),
    "item": N_("The items have been saved."),
    "test": N_("A test has been queued to your address; it goes out within a minute."),
    "approved": N_("The digest is approved and will be sent at the chosen time."),
    "draft": N_("The digest is a draft again."),
    "sent": N_("The digest has been queued for every member."),
    "unchanged": N_("Nothing was changed."),
    "links": N_("The links have been confirmed; the digest may be approved and sent."),
}
LABELS = {
    "subject": N_("Subject"),
    "intro": N_("Introduction"),
    "title": N_("Title"),
    "body": N_("Text"),
    "link": N_("Link"),
}


def digest_list(request: Request, staff: Staff, form: FormData | None) -> Response:
    with request.app.state.context.database.session() as db:
        found = list(digests.all_digests(db))
        figures = digests.figures(db, [d.id for d in found if d.status == digests.SENT])
        return staff_render(request, staff, "staff/digests.html", digests=found, figures=figures)


def digest_draft(request: Request, staff: Staff, form: FormData | None) -> Response:
    context = request.app.state.context
    with context.database.session() as db:
        digest, created = digests.draft(db, context.settings, context.clock.now(), staff.email)
        digest_id = digest.id
    done = "drafted" if created else "existing"
    return RedirectResponse(f"/staff/digests/{digest_id}?done={done}", 303)


def digest_edit(request: Request, staff: Staff, form: FormData | None) -> Response:
    return _edit_page(request, staff, request.path_params["digest_id"])


def _edit_page(
    request: Request,
    staff: Staff,
    digest_id: int,
    refusal: Refusal | None = None,
    status: int = 200,
) -> Response:
    context = request.app.state.context
    lang = request_language(request)
    _ = gettext_for(lang)
    with context.database.session() as db:
        digest = or_none(lambda: digests.get(db, digest_id))
        if digest is None:
            return staff_render(request, staff, NOT_FOUND, 404)
        tz = context.settings.tz
        figures = digests.figures(db, [digest.id])[digest.id]
        scheduled = digest.scheduled_at or context.clock.now() + dt.timedelta(hours=1)
        done = DONE.get(request.query_params.get("done", ""))
        flagged = digests.flagged_links(db, context.settings, digest)
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
            done=_(done) if done else None,
            error=_said(refusal, lang) if refusal else None,
            flagged=[(link, _where(link, lang)) for link in flagged],
            english_gaps=english_gaps(digest, lang),
            unconfirmed=sorted({link.domain for link in flagged if not link.confirmed}),
        )


def english_gaps(digest: Digest, lang: str) -> list[str]:
    """What has Latvian text but no English ("Introduction", "Item 2: Text"): members who read
    English get the Latvian there, so the page warns before it is sent."""
    _ = gettext_for(lang)
    gaps = [
        _(LABELS[name])
        for name in ("subject", "intro")
        if getattr(digest, f"{name}_lv").strip() and not getattr(digest, f"{name}_en").strip()
    ]
    items = sorted(digest.items, key=lambda i: (i.position, i.id))
    for number, item in enumerate(items, 1):
        for name in ("title", "body"):
            if getattr(item, f"{name}_lv").strip() and not getattr(item, f"{name}_en").strip():
                gaps.append(_("Item %(n)s", n=number) + f": {_(LABELS[name])}")
    return gaps


def _where(link: digests.FlaggedLink, lang: str) -> str:
    """Where a flagged link is: "Introduction (lv)", "Item 2: Text (en)", "Item 2: Link"."""
    _ = gettext_for(lang)
    name, _sep, code = link.field.partition("_")
    label = _(LABELS[name]) if name in LABELS else link.field
    label += f" ({code})" if code else ""
    return _("Item %(n)s", n=link.item) + f": {label}" if link.item else label


def _said(refusal: Refusal, lang: str) -> str:
    """A refusal on one line: the page has many forms, so problems are named, not placed."""
    _ = gettext_for(lang)
    named = []
    for field, problems in refusal.fields.items():
        # A field is "subject_lv": its label, "Subject (lv)".
        name, _sep, code = field.partition("_")
        label = _(LABELS[name]) if name in LABELS else field
        named += [f"{label} ({code}): {text}" if code else f"{label}: {text}" for text in problems]
    return " ".join(refusal.lines + named)


def _change(request: Request, staff: Staff, change: Callable[[Db, Digest], str]) -> Response:
    """Apply `change(db, digest)` and go back to the page; a refused change shows why (400)."""
    digest_id = request.path_params["digest_id"]
    return edit(
        request,
        staff,
        lambda db: or_none(lambda: digests.get(db, digest_id)),
        change,
        done_url=f"/staff/digests/{digest_id}",
        again=lambda refusal: _edit_page(request, staff, digest_id, refusal, 400),
        missing=NOT_FOUND,
    )


def digest_text(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None

    def change(db: Db, digest: Digest) -> str:
        values = {
            key: str(form.get(key, ""))
            for key in ("subject_lv", "subject_en", "intro_lv", "intro_en")
        }
        changed = digests.update_text(db, digest, staff.email, **values)
        return "text" if changed else "unchanged"

    return _change(request, staff, change)


def digest_items(request: Request, staff: Staff, form: FormData | None) -> Response:
    """One form per item, and one to add: `action` is add, save, delete, up or down."""
    assert form is not None

    if form.get("action") == "delete" and not confirm.confirmed(form):
        asked = confirm.ask_delete_item(request, staff, form)
        if asked is not None:
            return asked

    def change(db: Db, digest: Digest) -> str:
        action = str(form.get("action", ""))
        values = {key: str(form.get(key, "")) for key in digests.ITEM_FIELDS}
        if action == "add":
            digests.add_item(db, digest, staff.email, **values)
            return "item"
        try:
            item_id = int(str(form.get("item_id", "")))
        except ValueError:
            raise VcsError.one("digest.no-such-item", NO_SUCH_ITEM) from None
        if action == "save":
            digests.update_item(db, digest, item_id, staff.email, **values)
        elif action == "delete":
            digests.delete_item(db, digest, item_id, staff.email)
        elif action in ("up", "down"):
            digests.move_item(db, digest, item_id, -1 if action == "up" else 1, staff.email)
        else:
            raise VcsError.one("digest.no-such-item", NO_SUCH_ITEM)
        return "item"

    return _change(request, staff, change)


def digest_preview(request: Request, staff: Staff, form: FormData | None) -> Response:
    """The e-mail exactly as sent (?language=lv|en, ?format=html|text), by the sending code."""
    context = request.app.state.context
    lang = request.query_params.get("language", "lv")
    lang = lang if lang in LANGUAGES else "lv"
    with context.database.session() as db:
        digest = or_none(lambda: digests.get(db, request.path_params["digest_id"]))
        if digest is None:
            return staff_render(request, staff, NOT_FOUND, 404)
        _subject, text, html = digests.preview(db, context.settings, digest, lang)
    if request.query_params.get("format") == "text":
        return PlainTextResponse(text)
    response = HTMLResponse(html)
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def digest_test(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    context = request.app.state.context
    lang = str(form.get("language", "lv"))
    lang = lang if lang in LANGUAGES else "lv"

    def change(db: Db, digest: Digest) -> str:
        now = context.clock.now()
        digests.send_test(db, context.settings, digest, staff.email, staff.name, lang, now)
        return "test"

    return _change(request, staff, change)


def digest_approve(request: Request, staff: Staff, form: FormData | None) -> Response:
    assert form is not None
    context = request.app.state.context

    def change(db: Db, digest: Digest) -> str:
        text = str(form.get("at", "")).strip()
        try:
            at = sessions.parse_local(text, context.settings.tz)
        except VcsError:
            raise VcsError.one(
                "digest.time-format", N_("Give the date and time like 2027-01-15T10:00.")
            ) from None
        if at <= context.clock.now():
            raise VcsError.one(
                "digest.time-past",
                N_("The time to send must be in the future; to send now, use “Send now”."),
            )
        digests.approve(db, context.settings, digest, at.astimezone(dt.UTC), staff.email)
        return "approved"

    return _change(request, staff, change)


def digest_links(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Confirm the links to untrusted domains the digest has now (needs the box ticked)."""
    assert form is not None
    context = request.app.state.context

    def change(db: Db, digest: Digest) -> str:
        if form.get("confirm_links") != "yes":
            raise VcsError.one(
                "digest.links-not-ticked",
                N_("Tick the box to confirm that you have checked the links."),
            )
        confirmed = digests.confirm_links(db, context.settings, digest, staff.email)
        return "links" if confirmed else "unchanged"

    return _change(request, staff, change)


def digest_unapprove(request: Request, staff: Staff, form: FormData | None) -> Response:
    def change(db: Db, digest: Digest) -> str:
        if digest.status != digests.APPROVED:
            return "unchanged"
        digests.return_to_draft(db, digest, staff.email)
        return "draft"

    return _change(request, staff, change)


def digest_send(request: Request, staff: Staff, form: FormData | None) -> Response:
    """Send now (or again, to members who have not had it), after the confirmation step that
    says how many members it goes to."""
    assert form is not None
    context = request.app.state.context

    if not confirm.confirmed(form):
        asked = confirm.ask_send(request, staff, form)
        if asked is not None:
            return asked

    def change(db: Db, digest: Digest) -> str:
        digests.send(db, context.settings, digest, context.clock.now(), staff.email)
        return "sent"

    return _change(request, staff, change)


DIGEST = "/staff/digests/{digest_id:int}"
routes = [
    page("/staff/digests", digest_list, "editor"),
    page("/staff/digests/draft", digest_draft, "editor", methods=("POST",)),
    page(DIGEST, digest_edit, "editor"),
    page(f"{DIGEST}/text", digest_text, "editor", methods=("POST",)),
    page(f"{DIGEST}/items", digest_items, "editor", methods=("POST",)),
    page(f"{DIGEST}/preview", digest_preview, "editor"),
    page(f"{DIGEST}/test", digest_test, "editor", methods=("POST",)),
    page(f"{DIGEST}/approve", digest_approve, "editor", methods=("POST",)),
    page(f"{DIGEST}/links", digest_links, "editor", methods=("POST",)),
    page(f"{DIGEST}/unapprove", digest_unapprove, "editor", methods=("POST",)),
    page(f"{DIGEST}/send", digest_send, "editor", methods=("POST",)),
]
