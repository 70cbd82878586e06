"""The confirmation step before a change that cannot be taken back (cancelling or moving a
session, deleting a digest item, sending a digest): a page that says what will happen, with the
numbers from the data, and the same form again with confirm=yes.

A view asks `confirmed(form)`; when not, it answers `confirm_page(...)`, which carries the
submitted fields along unchanged, so the second post is the first one plus the "yes".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from babel.numbers import format_decimal
from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from vcs import announcements, dates
from vcs import digest as digests
from vcs.errors import VcsError
from vcs.i18n import gettext_for, ngettext_for
from vcs.mail.compose import MailKind
from vcs.planning import sessions, wording
from vcs.states import MemberStatus, SessionStatus
from vcs.storage.models import Delivery, Member, Session
from vcs.web.staff.pages import Staff, or_none, staff_render
from vcs.web.templating import request_language

YES = "yes"


def confirmed(form: FormData) -> bool:
    """The form came back from the confirmation page."""
    return form.get("confirm") == YES


def number(n: int, lang: str) -> str:
    """A count as people write it: 1 204 in Latvian, 1,204 in English."""
    return format_decimal(n, locale=lang)


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page says and where its "yes" goes."""

    title: str
    consequences: list[str]
    action: str  # the URL the form posts to
    button: str  # the words on the "yes" button
    back: str  # the URL of "no, go back"
    fields: Mapping[str, str]  # the submitted fields, sent again unchanged


def carried(form: FormData, names: Iterable[str]) -> dict[str, str]:
    """The submitted fields that the "yes" sends again."""
    return {name: str(form.get(name, "")) for name in names}


def confirm_page(request: Request, staff: Staff, confirmation: Confirmation) -> Response:
    """The page that asks before a change is made (nothing has been changed yet)."""
    return staff_render(request, staff, "staff/confirm.html", confirmation=confirmation)


# --- what each change will do ---------------------------------------------------------------


def _told(db: Db, session: Session, now: dt.datetime) -> int:
    """How many members a change of the session e-mails: those who had its announcement, while
    it is not over (vcs.announcements.notify_change)."""
    return len(announcements.announced_to(db, session)) if session.end > now else 0


def _told_line(n: int, lang: str) -> str:
    _ = gettext_for(lang)
    if n == 0:
        return _("Nobody has had an announcement of this session, so no e-mail goes out.")
    return ngettext_for(lang)(
        "%(num)s member who got the announcement will be e-mailed.",
        "%(num)s members who got the announcement will be e-mailed.",
        n,
        num=number(n, lang),
    )


def ask_cancel(request: Request, staff: Staff, form: FormData) -> Response | None:
    """The confirmation before cancelling a session; None when the change itself will refuse
    (no reason) or do nothing (cancelled already), so the page says that instead."""
    context = request.app.state.context
    lang = request_language(request)
    _ = gettext_for(lang)
    session_id = request.path_params["session_id"]
    reason, reason_en = (str(form.get(name, "")).strip() for name in ("reason", "reason_en"))
    with context.database.session() as db:
        session = or_none(lambda: sessions.get(db, session_id))
        if session is None or not reason or session.status == SessionStatus.CANCELLED:
            return None
        told = _told(db, session, context.clock.now())
        title = wording.title(session, lang)
    consequences = [
        _(
            "“%(title)s” will be shown as cancelled on the website and in every calendar.",
            title=title,
        ),
        _told_line(told, lang),
        _("Reason in Latvian: %(reason)s", reason=reason),
        _("Reason in English: %(reason)s", reason=reason_en)
        if reason_en
        else _("No reason in English: English readers will read the Latvian one."),
    ]
    return confirm_page(
        request,
        staff,
        Confirmation(
            title=_("Cancel the session?"),
            consequences=consequences,
            action=f"/staff/sessions/{session_id}/cancel",
            button=_("Yes, cancel the session"),
            back=f"/staff/sessions/{session_id}",
            fields=carried(form, ("reason", "reason_en")),
        ),
    )


def ask_move(request: Request, staff: Staff, form: FormData) -> Response | None:
    """The confirmation before moving a session; None when the times will be refused or are
    the same, so the page says that instead."""
    context = request.app.state.context
    lang = request_language(request)
    _ = gettext_for(lang)
    session_id = request.path_params["session_id"]
    with context.database.session() as db:
        session = or_none(lambda: sessions.get(db, session_id))
        if session is None:
            return None
        tz = sessions.timezone(session)
        start_text, end_text = (str(form.get(name, "")).strip() for name in ("start", "end"))
        try:
            start = sessions.parse_local(start_text, tz)
            end = sessions.parse_local(end_text, tz) if end_text else None
        except VcsError:
            return None
        if (end is not None and end <= start) or (
            start == session.start and (end is None or end == session.end)
        ):
            return None
        told = _told(db, session, context.clock.now())
        title = wording.title(session, lang)
        was = dates.in_sentence(session.start, lang, tz)
    consequences = [
        _(
            "“%(title)s” will take place %(when)s instead of %(was)s.",
            title=title,
            when=dates.in_sentence(start, lang, tz),
            was=was,
        ),
        _("Calendars that subscribe to it get the new time at their next update."),
        _told_line(told, lang),
    ]
    return confirm_page(
        request,
        staff,
        Confirmation(
            title=_("Move the session?"),
            consequences=consequences,
            action=f"/staff/sessions/{session_id}/move",
            button=_("Yes, move the session"),
            back=f"/staff/sessions/{session_id}",
            fields=carried(form, ("start", "end")),
        ),
    )


def digest_recipients(db: Db, digest_id: int) -> int:
    """How many members sending the digest now reaches: the active ones without a copy yet."""
    had = select(Delivery.member_id).where(
        Delivery.kind == MailKind.DIGEST,
        Delivery.ref == digests.ref(digest_id),
        Delivery.member_id.is_not(None),
    )
    return (
        db.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.status == MemberStatus.ACTIVE, Member.id.not_in(had))
        )
        or 0
    )


def ask_send(request: Request, staff: Staff, form: FormData) -> Response | None:
    """The confirmation before sending a digest to members, with how many it goes to."""
    context = request.app.state.context
    lang = request_language(request)
    _ = gettext_for(lang)
    digest_id = request.path_params["digest_id"]
    with context.database.session() as db:
        digest = or_none(lambda: digests.get(db, digest_id))
        if digest is None:
            return None
        n = digest_recipients(db, digest.id)
        subject = digest.subject_lv
        again = digest.status == digests.SENT
    if n == 0:
        goes = _("Every active member has had this digest already: nobody gets it now.")
    else:
        goes = ngettext_for(lang)(
            "The digest goes to %(num)s member now.",
            "The digest goes to %(num)s members now.",
            n,
            num=number(n, lang),
        )
    consequences = [goes, _("A sent digest cannot be changed or called back.")]
    if again:
        consequences.append(_("Members who have had it already do not get it twice."))
    return confirm_page(
        request,
        staff,
        Confirmation(
            title=_("Send “%(subject)s”?", subject=subject) if subject else _("Send the digest?"),
            consequences=consequences,
            action=f"/staff/digests/{digest_id}/send",
            button=_("Yes, send it now"),
            back=f"/staff/digests/{digest_id}",
            fields={},
        ),
    )


def ask_delete_item(request: Request, staff: Staff, form: FormData) -> Response | None:
    """The confirmation before deleting a news item from a digest."""
    context = request.app.state.context
    lang = request_language(request)
    _ = gettext_for(lang)
    digest_id = request.path_params["digest_id"]
    with context.database.session() as db:
        digest = or_none(lambda: digests.get(db, digest_id))
        item = next(
            (i for i in (digest.items if digest else []) if str(i.id) == form.get("item_id")),
            None,
        )
        if digest is None or item is None or digest.status != digests.DRAFT:
            return None
        title = item.title_lv
    return confirm_page(
        request,
        staff,
        Confirmation(
            title=_("Delete the item?"),
            consequences=[
                _("The item “%(title)s” will be deleted from this digest.", title=title),
                _("Its text in both languages is lost; this cannot be undone."),
            ],
            action=f"/staff/digests/{digest_id}/items",
            button=_("Yes, delete the item"),
            back=f"/staff/digests/{digest_id}",
            fields=carried(form, ("item_id", "action")),
        ),
    )
