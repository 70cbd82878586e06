"""Live now: members who asked for it (`Member.live_alerts`, on their preferences page) get one
short e-mail when a session they follow goes live, with the stream and the join link.

A session is live by the same rule its page uses (vcs.planning.sessions.phase()): the provider's
word once the livestream-status job has it, else the clock (a static link is live from the
start). The alert is a delivery of kind `live-now` with the ref `session:{id}:live`, so each
member gets it once per session however often the job runs. A session that started more than
`WITHIN` ago gets none: a scheduler that was stopped must not send news that is stale. Sessions
in a room only, with no stream and no join link, have nothing to watch and get none. Run by the
`reminders` job (vcs.reminders). See docs/registration.md.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from vcs.announcements import describe, followers
from vcs.config import Settings
from vcs.i18n import gettext_for
from vcs.mail import compose, outbox
from vcs.mail.compose import Content, MailKind
from vcs.planning import wording
from vcs.planning.sessions import phase
from vcs.reminders import RemindReport
from vcs.states import SessionStatus
from vcs.storage.db import Database
from vcs.storage.models import Session

# No alert for a session that started longer ago than this.
WITHIN = dt.timedelta(minutes=30)
# A provider's broadcast may go live this long before the start (a warm-up).
EARLY = dt.timedelta(hours=1)


def live_ref(session: Session) -> str:
    # One alert per session and address, whatever the session does later.
    return f"session:{session.id}:live"


def alert(
    database: Database, settings: Settings, now: dt.datetime, report: RemindReport | None = None
) -> RemindReport:
    """Queue the live-now alerts of the sessions that are live now; add them to `report`."""
    report = report if report is not None else RemindReport()
    with database.session() as db:
        ids = db.scalars(
            select(Session.id)
            .where(
                Session.status == SessionStatus.SCHEDULED,
                Session.start <= now + EARLY,
                Session.start > now - WITHIN,
            )
            .order_by(Session.start, Session.id)
        ).all()
    for session_id in ids:
        try:
            with database.session() as db:
                queued, not_made = alert_session(db, settings, session_id, now)
        except Exception as exc:  # one broken session must not stop the others' alerts
            report.failures.append(f"session {session_id}: {type(exc).__name__}: {exc}")
            continue
        report.alerted += int(queued > 0)
        report.alerts += queued
        report.not_made += not_made
    return report


def alert_session(db: Db, settings: Settings, session_id: int, now: dt.datetime) -> tuple[int, int]:
    """Queue the session's alert to the followers who want one, if it is live; (queued, not
    made)."""
    session = db.get(Session, session_id)
    if session is None or phase(session, now) != "live":
        return 0, 0
    if not (wording.streamed(session) or wording.join_url(session)):
        return 0, 0
    wanting = [member for member in followers(db, session) if member.live_alerts]
    if not wanting:
        return 0, 0
    queued = outbox.enqueue_for_members(
        db,
        settings,
        kind=MailKind.LIVE_NOW.value,
        ref=live_ref(session),
        members=wanting,
        compose=live_composer(settings, session),
        now=now,
    )
    return queued, outbox.not_made(db, MailKind.LIVE_NOW.value, live_ref(session))


def live_composer(settings: Settings, session: Session) -> Callable[[outbox.Recipient], Content]:
    """Compose the alert in each recipient's language (all of them members: the join link too)."""

    @functools.cache
    def content(lang: str) -> Content:
        _ = gettext_for(lang)
        about = describe(session, settings, lang)
        subject = _("Live now: %(title)s", title=about.title)
        values = {"s": about, "watch": about.link if wording.streamed(session) else ""}
        return compose.render(MailKind.LIVE_NOW, lang, subject, values)

    return lambda recipient: content(recipient.language)
