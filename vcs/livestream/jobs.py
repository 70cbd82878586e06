"""The provision and livestream-status jobs.

provision: every streamed session that starts within `livestream.provision_days` gets exactly one
broadcast, kept in line with the session (moved, retitled, cancelled) and repaired when someone
edits or deletes it at the provider. The intent is committed before the provider is called, so a
run that dies between the call and the commit looks the broadcast up instead of making another.

livestream-status: around each session's time, ask the provider where its broadcast is and move
the session from upcoming to live to ended, keeping the recording link. A recording that appears
raises the session's revision, so calendars learn the link (and the announce job sends the
follow-up).

provision_soon: a session created, moved or reinstated less than one provisioning interval
before it starts cannot wait for the next provision run (it may be over by then): the command
or page that changed it provisions it at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import joinedload

from vcs import audit, metrics
from vcs.context import Context
from vcs.livestream.plan import broadcast_plan
from vcs.planning import sessions
from vcs.planning.wording import streamed
from vcs.providers import health
from vcs.providers.provider import (
    BroadcastGone,
    BroadcastPlan,
    BroadcastState,
    LivestreamError,
    LivestreamProvider,
)
from vcs.providers.registry import Providers
from vcs.states import LiveStatus, LivestreamStatus, SessionStatus
from vcs.storage.models import Livestream, Session

log = logging.getLogger(__name__)

# The status job looks at sessions from this long before their start ...
STATUS_BEFORE = dt.timedelta(minutes=30)
# ... to this long after their end (a stream may run late; a recording takes time to process).
STATUS_AFTER = sessions.LIVE_OVERRUN
MAX_BACKOFF = dt.timedelta(hours=6)
# What the provider's word for its broadcast means for the session's live status.
LIVE_STATUS: dict[str, str] = {
    LivestreamStatus.CREATED: LiveStatus.UPCOMING,
    LivestreamStatus.LIVE: LiveStatus.LIVE,
    LivestreamStatus.COMPLETE: LiveStatus.ENDED,
}
# How often the scheduler's provision job runs (its trigger in vcs/scheduler/jobs.py).
PROVISION_INTERVAL = dt.timedelta(minutes=10)


class LivestreamJobError(Exception):
    """Some sessions failed; the first line names the first failure, the rest is the summary."""

    def __init__(self, report: Report) -> None:
        more = f" (and {len(report.errors) - 1} more)" if len(report.errors) > 1 else ""
        super().__init__(f"{report.errors[0]}{more}\n{report}")


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    repaired: int = 0
    cancelled: int = 0
    live: int = 0
    ended: int = 0
    waiting: int = 0
    blocked: int = 0
    errors: list[str] = field(default_factory=list)
    spent: str = ""

    def __str__(self) -> str:
        counts = [
            f"{value} {name}"
            for name, value in (
                ("created", self.created),
                ("updated", self.updated),
                ("repaired", self.repaired),
                ("cancelled", self.cancelled),
                ("now live", self.live),
                ("ended", self.ended),
                ("waiting to retry", self.waiting),
                ("blocked", self.blocked),
                ("failed", len(self.errors)),
            )
            if value
        ]
        text = ", ".join(counts) or "nothing to do"
        if self.spent:
            text += f"; {self.spent}"
        return "\n".join([text, *self.errors])


# --- provision ------------------------------------------------------------------------------


def provision(context: Context, providers: Providers | None = None) -> Report:
    """Create, update, cancel and repair the broadcasts of the coming sessions."""
    providers = providers or Providers(context)
    now = context.clock.now()
    horizon = now + dt.timedelta(days=context.settings.livestream.provision_days)
    report = Report()
    with context.database.session() as db:
        ids = db.scalars(
            select(Session.id)
            .where(Session.end > now, Session.start <= horizon)
            .order_by(Session.start, Session.id)
        ).all()
    for session_id in ids:
        _provision_one(context, providers, session_id, now, report)
    _repair(context, providers, now, horizon, report)
    report.spent = providers.spent()
    if report.errors:
        raise LivestreamJobError(report)
    return report


def _load(db: Db, session_id: int) -> Session:
    query = select(Session).where(Session.id == session_id)
    options = (joinedload(Session.series), joinedload(Session.livestream))
    return db.scalars(query.options(*options)).unique().one()


def _provision_one(
    context: Context, providers: Providers, session_id: int, now: dt.datetime, report: Report
) -> None:
    with context.database.session() as db:
        session = _load(db, session_id)
        name = session.series.livestream_provider
        row = session.livestream
        wanted = session.status == SessionStatus.SCHEDULED and streamed(session)
        if not wanted:
            if row is None or row.status == SessionStatus.CANCELLED:
                return
            if not row.external_id and row.intent_at is None:
                row.status = LivestreamStatus.CANCELLED
                return
            action, name = "cancel", row.provider
        elif row is None or not row.external_id:
            action = "create"
        elif row.provider != name:
            action = "switch"
        elif row.synced_revision != session.revision:
            action = "update"
        else:
            return
        if health.blocked(db, name, now):
            report.blocked += 1
            return
        if row is None:
            row = Livestream(session_id=session.id, provider=name, status=LivestreamStatus.INTENDED)
            db.add(row)
        elif row.next_attempt_at is not None and row.next_attempt_at > now:
            report.waiting += 1
            return
        # Only an intent committed before an earlier create call can have left a broadcast
        # behind that we do not know of.
        look_first = action == "create" and row.intent_at is not None
        old = (row.provider, row.external_id)
        if action in ("create", "switch"):
            row.intent_at = now
        plan = broadcast_plan(session, context.settings.base_url)
        revision = session.revision
    # The intent is committed; now the provider may be called.
    try:
        if action == "switch" and old[1]:
            providers.get(old[0]).cancel(old[1])
        provider = providers.get(name)
        state = _act(provider, action, row.external_id, plan, look_first)
    except LivestreamError as exc:
        _failed(context, name, session_id, exc, now, report)
        return
    with context.database.session() as db:
        row = db.scalars(select(Livestream).where(Livestream.session_id == session_id)).one()
        if state is None:
            row.status = LivestreamStatus.CANCELLED
            report.cancelled += 1
        else:
            _store(row, name, state, revision)
            if action == "update":
                report.updated += 1
            else:
                report.created += 1
        row.last_error, row.error_count, row.next_attempt_at = "", 0, None


def _act(
    provider: LivestreamProvider,
    action: str,
    external_id: str,
    plan: BroadcastPlan,
    look_first: bool,
) -> BroadcastState | None:
    """Do `action` at the provider; None means the broadcast is cancelled."""
    if action == "cancel":
        if not external_id:
            found = provider.find(plan)
            external_id = found.external_id if found is not None else ""
        if external_id:
            provider.cancel(external_id)
        return None
    if action == "update":
        try:
            return provider.update(external_id, plan)
        except BroadcastGone:
            # Deleted at the provider by hand: make it again.
            return provider.create(plan)
    found = provider.find(plan) if look_first else None
    return found if found is not None else provider.create(plan)


def _store(row: Livestream, provider: str, state: BroadcastState, revision: int) -> None:
    row.provider = provider
    row.external_id = state.external_id
    row.watch_url, row.embed_url = state.watch_url, state.embed_url
    if state.recording_url:
        row.recording_url = state.recording_url
    row.status = state.status
    row.details = {**row.details, **state.details}
    row.synced_revision = revision


def _failed(
    context: Context,
    provider: str,
    session_id: int,
    error: LivestreamError,
    now: dt.datetime,
    report: Report,
) -> None:
    """Record the failure on the broadcast (and the provider), and when to try again."""
    metrics.livestream_error(provider, error)
    base = dt.timedelta(seconds=context.settings.livestream.retry_base_seconds)
    with context.database.session() as db:
        row = db.scalars(select(Livestream).where(Livestream.session_id == session_id)).one()
        row.error_count += 1
        row.last_error = f"{type(error).__name__}: {error}"
        delay = error.retry_after or min(base * 2 ** (row.error_count - 1), MAX_BACKOFF)
        row.next_attempt_at = now + delay
        if not error.retryable and error.retry_after is None:
            row.status = LivestreamStatus.ERROR
        health.record_failure(db, provider, error, now)
    report.errors.append(f"session {session_id} ({provider}): {error}")


def _repair(
    context: Context,
    providers: Providers,
    now: dt.datetime,
    horizon: dt.datetime,
    report: Report,
) -> None:
    """Find broadcasts edited or deleted by hand at the provider, and put them right."""
    query = select(Livestream).where(
        Livestream.status == LivestreamStatus.CREATED,
        Livestream.external_id != "",
        Session.status == SessionStatus.SCHEDULED,
        Session.start > now,
        Session.start <= horizon,
    )
    # The sessions of a blocked provider were counted once already, by provision.
    for name, broadcasts, states in _ask(context, providers, query, now, report, False):
        for external_id, plan in broadcasts:
            state = states.get(external_id)
            if state is not None and not state.drift:
                continue
            what = "deleted" if state is None else "changed (" + ", ".join(state.drift) + ")"
            log.warning(
                "broadcast %s of session %s was %s by hand", external_id, plan.session_id, what
            )
            try:
                provider = providers.get(name)
                fixed = (
                    provider.create(plan) if state is None else provider.update(external_id, plan)
                )
            except LivestreamError as exc:
                _failed(context, name, plan.session_id, exc, now, report)
                continue
            with context.database.session() as db:
                row = db.scalars(
                    select(Livestream).where(Livestream.session_id == plan.session_id)
                ).one()
                _store(row, name, fixed, row.synced_revision)
            report.repaired += 1


def _ask(
    context: Context,
    providers: Providers,
    query: Select[tuple[Livestream]],
    now: dt.datetime,
    report: Report,
    count_blocked: bool = True,
) -> Iterator[tuple[str, list[tuple[str, BroadcastPlan]], dict[str, BroadcastState]]]:
    """The broadcasts `query` selects, asked about in one batch per provider that may be called.

    A provider that fails is recorded (and blocked when the failure is provider-wide); the
    others are still asked.
    """
    with context.database.session() as db:
        rows = db.scalars(
            query.join(Livestream.session).options(
                joinedload(Livestream.session).joinedload(Session.series)
            )
        ).all()
        by_provider: dict[str, list[tuple[str, BroadcastPlan]]] = defaultdict(list)
        for row in rows:
            if health.blocked(db, row.provider, now):
                report.blocked += count_blocked
                continue
            plan = broadcast_plan(row.session, context.settings.base_url)
            by_provider[row.provider].append((row.external_id, plan))
    for name, broadcasts in by_provider.items():
        try:
            states = providers.get(name).statuses(broadcasts, now)
        except LivestreamError as exc:
            metrics.livestream_error(name, exc)
            with context.database.session() as db:
                if not health.record_failure(db, name, exc, now):
                    report.errors.append(f"{name}: asking about its broadcasts failed: {exc}")
            continue
        yield name, broadcasts, states


def provision_soon(
    context: Context, session_id: int | None = None, providers: Providers | None = None
) -> Report | None:
    """Provision now the sessions (or the one session) that start within one provisioning
    interval or are under way; None when there are none (the provision job will be in time).

    Called after a change is committed (a session created, moved or reinstated). A failure is
    recorded on the broadcast like any other (the provision job retries it) and logged, never
    raised: the change itself stands.
    """
    now = context.clock.now()
    soon = and_(Session.end > now, Session.start <= now + PROVISION_INTERVAL)
    query = select(Session.id).where(soon).order_by(Session.start, Session.id)
    if session_id is not None:
        query = query.where(Session.id == session_id)
    with context.database.session() as db:
        ids = db.scalars(query).all()
    if not ids:
        return None
    report = Report()
    try:
        providers = providers or Providers(context)
        for found in ids:
            _provision_one(context, providers, found, now, report)
        # Already under way (or about to be): learn at once where their broadcasts are.
        status = select(Livestream).where(
            Livestream.session_id.in_(ids),
            Livestream.external_id != "",
            Livestream.status.in_((LivestreamStatus.CREATED, LivestreamStatus.LIVE)),
            Session.status == SessionStatus.SCHEDULED,
            Session.start <= now + STATUS_BEFORE,
        )
        _poll(context, providers, status, now, report)
    except Exception:  # the change is saved; the provision job tries again in a few minutes
        log.exception("provisioning sessions %s at once failed", list(ids))
        return report
    for error in report.errors:
        log.warning("provisioning at once: %s", error)
    return report


# --- livestream-status ----------------------------------------------------------------------


def poll_status(context: Context, providers: Providers | None = None) -> Report:
    """Move sessions around their time from upcoming to live to ended, with the recording."""
    providers = providers or Providers(context)
    now = context.clock.now()
    report = Report()
    query = select(Livestream).where(
        Livestream.external_id != "",
        Livestream.status.in_((LivestreamStatus.CREATED, LivestreamStatus.LIVE)),
        Session.status == SessionStatus.SCHEDULED,
        Session.start <= now + STATUS_BEFORE,
        Session.end >= now - STATUS_AFTER,
    )
    _poll(context, providers, query, now, report)
    report.spent = providers.spent()
    if report.errors:
        raise LivestreamJobError(report)
    return report


def _poll(
    context: Context,
    providers: Providers,
    query: Select[tuple[Livestream]],
    now: dt.datetime,
    report: Report,
) -> None:
    for _name, broadcasts, states in _ask(context, providers, query, now, report):
        with context.database.session() as db:
            for external_id, plan in broadcasts:
                _apply_status(db, plan.session_id, states.get(external_id), report)


def _apply_status(db: Db, session_id: int, state: BroadcastState | None, report: Report) -> None:
    session = _load(db, session_id)
    row = session.livestream
    assert row is not None
    if state is None:
        row.last_error = "the broadcast is gone at the provider"
        return
    row.status = state.status
    row.watch_url = state.watch_url or row.watch_url
    row.embed_url = state.embed_url or row.embed_url
    live_status = LIVE_STATUS.get(state.status, session.live_status)
    if live_status != session.live_status:
        session.live_status = live_status
        if live_status == LiveStatus.LIVE:
            report.live += 1
        elif live_status == LiveStatus.ENDED:
            report.ended += 1
    if state.recording_url:
        row.recording_url = state.recording_url
        # A link staff set by hand (an edited recording elsewhere) wins.
        if not session.recording_url:
            session.recording_url = state.recording_url
            # Calendars that imported the .ics learn the link by the new SEQUENCE. The broadcast
            # itself does not change: if it was in step, it stays in step (no provider update).
            if row.synced_revision == session.revision:
                row.synced_revision += 1
            session.revision += 1
            audit.record(
                db,
                audit.SCHEDULER,
                "recording",
                "session",
                session.id,
                before={"recording_url": ""},
                after={"recording_url": state.recording_url},
            )
