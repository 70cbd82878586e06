"""The outbox: one `Delivery` per recipient, and the state changes a sender makes to it.

    queued --claim--> sending --> sent
                         |------> failed-temporary --(backoff, due again)--> sending ...
                         |------> failed-permanent          (5xx, or max_attempts reached)
    queued / failed-temporary --> cancelled                 (the member unsubscribed or bounced)

Every message is rendered once, when it is queued, and stored with its delivery; see docs/mail.md.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as Db

from vcs.config import Settings, send_window
from vcs.mail import dkim, links
from vcs.mail.message import Attachment, as_bytes, build_message
from vcs.mail.transport import DeliveryError, RelayUnavailable
from vcs.storage.models import Delivery, Member

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
FAILED_TEMPORARY = "failed-temporary"
FAILED_PERMANENT = "failed-permanent"
CANCELLED = "cancelled"
STATES = (QUEUED, SENDING, SENT, FAILED_TEMPORARY, FAILED_PERMANENT, CANCELLED)
FAILED = (FAILED_TEMPORARY, FAILED_PERMANENT)
# Members in these states get nothing more; what was queued for them is cancelled.
UNREACHABLE = ("unsubscribed", "bounced")
MAX_BACKOFF = dt.timedelta(hours=6)
INSERT_CHUNK = 200


@dataclass(frozen=True)
class Recipient:
    """Whom one message goes to, in which language, with their own links."""

    address: str
    name: str = ""
    language: str = "lv"
    member_id: int | None = None
    unsubscribe_url: str = ""
    preferences_url: str = ""

    @classmethod
    def for_member(cls, settings: Settings, member: Member) -> Recipient:
        """A member as a recipient: their address, name, language and signed links."""
        return cls(
            address=member.email,
            name=member.name,
            language=member.language or settings.default_language,
            member_id=member.id,
            unsubscribe_url=links.unsubscribe_url(settings, member.id),
            preferences_url=links.preferences_url(settings, member.id),
        )


@dataclass(frozen=True)
class Content:
    """What one recipient reads: subject, plain text, HTML (the layout is added around both)."""

    subject: str
    text: str
    html: str
    attachments: Sequence[Attachment] = field(default_factory=tuple)


# Renders the content for one recipient, in the recipient's language.
Compose = Callable[[Recipient], Content]


def enqueue(
    db: Db,
    settings: Settings,
    *,
    kind: str,
    ref: str,
    recipients: Iterable[Recipient],
    compose: Compose,
    now: dt.datetime,
) -> int:
    """Queue one message per recipient not yet queued for (kind, ref); return how many are new.

    Enqueueing the same (kind, ref) again adds only recipients who are new, so re-sending a
    digest reaches nobody twice.
    """
    known = {
        address.lower()
        for address in db.scalars(
            select(Delivery.to_address).where(Delivery.kind == kind, Delivery.ref == ref)
        )
    }
    rows: list[dict[str, Any]] = []
    added = 0
    for recipient in recipients:
        address = recipient.address.strip()
        if not address or address.lower() in known:
            continue
        known.add(address.lower())
        rows.append(_delivery_row(settings, kind, ref, recipient, address, compose, now))
        if len(rows) >= INSERT_CHUNK:
            added += _insert(db, rows)
            rows = []
    if rows:
        added += _insert(db, rows)
    return added


def enqueue_for_members(
    db: Db,
    settings: Settings,
    *,
    kind: str,
    ref: str,
    members: Iterable[Member],
    compose: Compose,
    now: dt.datetime,
) -> int:
    """`enqueue()` for members, skipping those who unsubscribed or bounced."""
    recipients = (
        Recipient.for_member(settings, member)
        for member in members
        if member.status not in UNREACHABLE
    )
    return enqueue(
        db, settings, kind=kind, ref=ref, recipients=recipients, compose=compose, now=now
    )


def _delivery_row(
    settings: Settings,
    kind: str,
    ref: str,
    recipient: Recipient,
    address: str,
    compose: Compose,
    now: dt.datetime,
) -> dict[str, Any]:
    content = compose(recipient)
    message = build_message(
        settings,
        subject=content.subject,
        text=content.text,
        html=content.html,
        language=recipient.language,
        to_address=address,
        to_name=recipient.name,
        unsubscribe_url=recipient.unsubscribe_url or f"{settings.base_url}/unsubscribe",
        preferences_url=recipient.preferences_url or settings.base_url,
        now=now,
        attachments=content.attachments,
        list_id=kind,
    )
    return {
        "kind": kind,
        "ref": ref,
        "member_id": recipient.member_id,
        "to_address": address,
        "language": recipient.language,
        "status": QUEUED,
        "attempts": 0,
        "last_error": "",
        "message_id": str(message["Message-ID"]),
        "created_at": now,
        # Signed here, once: a retry sends these very bytes, signature and all.
        "raw_message": zlib.compress(dkim.sign(settings, as_bytes(message)), 6),
    }


def _insert(db: Db, rows: list[dict[str, Any]]) -> int:
    # ON CONFLICT DO NOTHING: a second process queueing the same (kind, ref) at the same moment
    # adds nothing twice and fails nothing.
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    # RETURNING counts what was really inserted, on both databases.
    statement = (
        insert(Delivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["kind", "ref", "to_address"])
        .returning(Delivery.id)
    )
    return len(db.execute(statement).all())


# --- what a sender does ---------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A delivery a sender now holds (status sending), with its message."""

    id: int
    member_id: int | None
    to_address: str
    message_id: str
    attempts: int
    data: bytes


def _due(now: dt.datetime) -> Any:
    return or_(
        Delivery.status == QUEUED,
        and_(Delivery.status == FAILED_TEMPORARY, Delivery.next_attempt_at <= now),
    )


def due_count(db: Db, now: dt.datetime) -> int:
    """How many deliveries could be sent now."""
    return int(db.scalar(select(func.count()).select_from(Delivery).where(_due(now))) or 0)


def claim(db: Db, now: dt.datetime, limit: int) -> list[Claimed]:
    """Move up to `limit` due deliveries, oldest first, to sending and return them.

    On PostgreSQL the rows are picked FOR UPDATE SKIP LOCKED, so two claimers never take the
    same row. The pick is its own statement: as an IN (subquery) PostgreSQL may run the subquery
    more than once and update more than `limit` rows. The UPDATE checks again that each row is
    still due, so on SQLite (no row locks) a row another sender took in between is left out.
    """
    if limit <= 0:
        return []
    picked = db.scalars(
        select(Delivery.id)
        .where(_due(now))
        .order_by(Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not picked:
        return []
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(picked), _due(now))
        .values(status=SENDING, attempts=Delivery.attempts + 1, claimed_at=now)
        .returning(
            Delivery.id,
            Delivery.member_id,
            Delivery.to_address,
            Delivery.message_id,
            Delivery.attempts,
            Delivery.raw_message,
        )
        .execution_options(synchronize_session=False)
    )
    rows = db.execute(statement).all()
    return sorted(
        (Claimed(row[0], row[1], row[2], row[3], row[4], zlib.decompress(row[5])) for row in rows),
        key=lambda c: c.id,
    )


def recover_in_flight(db: Db) -> int:
    """Queue again what a stopped sender left in sending; only the sender lock holder may."""
    result = db.execute(
        update(Delivery)
        .where(Delivery.status == SENDING)
        .values(status=QUEUED, last_error="the sender stopped during this attempt")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def release(db: Db, ids: Iterable[int]) -> int:
    """Give back claimed deliveries that were never tried (a pause): queued, attempt uncounted."""
    ids = list(ids)
    if not ids:
        return 0
    result = db.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == SENDING)
        .values(status=QUEUED, attempts=Delivery.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def cancel_unreachable(db: Db) -> int:
    """Cancel what is still to be sent to members who unsubscribed or bounced meanwhile."""
    gone = select(Member.id).where(Member.status.in_(UNREACHABLE))
    result = db.execute(
        update(Delivery)
        .where(Delivery.status.in_((QUEUED, FAILED_TEMPORARY)), Delivery.member_id.in_(gone))
        .values(status=CANCELLED, last_error="the member unsubscribed or bounced")
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Built once: a worker waits for this record before its next message, so building and
# compiling the statements anew each time (their cache keys included) slowed every send.
_MARK_SENT = (
    update(Delivery)
    .where(Delivery.id.in_(bindparam("ids", expanding=True)))
    .values(status=SENT, sent_at=bindparam("now"), next_attempt_at=None, last_error="")
    .execution_options(synchronize_session=False)
)
# Bounces count in a row: one message delivered clears them.
_CLEAR_BOUNCES = (
    update(Member)
    .where(Member.id.in_(bindparam("members", expanding=True)), Member.bounce_count > 0)
    .values(bounce_count=0)
    .execution_options(synchronize_session=False)
)


def mark_sent(db: Db | Connection, claimed: Sequence[Claimed], now: dt.datetime) -> None:
    """The relay accepted these messages (one statement for all of them).

    Plain SQL on a Connection is the fast way: this runs once for every few messages sent.
    """
    if not claimed:
        return
    db.execute(_MARK_SENT, {"ids": [c.id for c in claimed], "now": now})
    members = [c.member_id for c in claimed if c.member_id is not None]
    if members:
        db.execute(_CLEAR_BOUNCES, {"members": members})


def backoff(settings: Settings, attempts: int) -> dt.timedelta:
    """The wait after the `attempts`-th failed try: retry_base_seconds doubled, at most 6 h."""
    seconds = settings.mail.retry_base_seconds * 2 ** min(max(attempts - 1, 0), 20)
    return min(dt.timedelta(seconds=seconds), MAX_BACKOFF)


def mark_failed(
    db: Db, settings: Settings, claimed: Claimed, error: DeliveryError, now: dt.datetime
) -> bool:
    """Record a failed attempt; True when it made the member bounced."""
    values: dict[str, Any] = {"last_error": str(error)[:2000]}
    if error.permanent:
        values.update(status=FAILED_PERMANENT, next_attempt_at=None)
    elif isinstance(error, RelayUnavailable):
        # The relay refused us, not this recipient: the attempt does not count.
        values.update(
            status=FAILED_TEMPORARY,
            attempts=Delivery.attempts - 1,
            next_attempt_at=now + backoff(settings, 1),
        )
    elif claimed.attempts >= settings.mail.max_attempts:
        values.update(
            status=FAILED_PERMANENT,
            next_attempt_at=None,
            last_error=f"gave up after {claimed.attempts} attempts: {error}"[:2000],
        )
    else:
        values.update(
            status=FAILED_TEMPORARY, next_attempt_at=now + backoff(settings, claimed.attempts)
        )
    db.execute(
        update(Delivery)
        .where(Delivery.id == claimed.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not (error.permanent and claimed.member_id is not None):
        return False
    member = db.get(Member, claimed.member_id, with_for_update=True)
    if member is None:
        return False
    member.bounce_count += 1
    if member.bounce_count >= settings.mail.bounce_limit and member.status not in UNREACHABLE:
        member.status = "bounced"
        return True
    return False


# --- what staff see and do ------------------------------------------------------------------


def retry_failed(db: Db, kind: str | None = None) -> int:
    """Queue the failed deliveries again (only those), as if new; return how many."""
    statement = update(Delivery).where(Delivery.status.in_(FAILED))
    if kind:
        statement = statement.where(Delivery.kind == kind)
    result = db.execute(
        statement.values(status=QUEUED, attempts=0, next_attempt_at=None).execution_options(
            synchronize_session=False
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class FailedDelivery:
    id: int
    kind: str
    ref: str
    to_address: str
    status: str
    attempts: int
    last_error: str
    next_attempt_at: dt.datetime | None


@dataclass(frozen=True)
class OutboxStatus:
    """Counts per (kind, status), and the failed deliveries with their errors."""

    counts: dict[tuple[str, str], int]
    failed: list[FailedDelivery]
    failed_total: int

    def total(self, status: str) -> int:
        return sum(n for (_kind, state), n in self.counts.items() if state == status)


def outbox_status(db: Db, failed_limit: int = 50) -> OutboxStatus:
    """What is in the outbox: counts per kind and state, and the failed deliveries."""
    counts = {
        (kind, state): int(n)
        for kind, state, n in db.execute(
            select(Delivery.kind, Delivery.status, func.count()).group_by(
                Delivery.kind, Delivery.status
            )
        )
    }
    failed = [
        FailedDelivery(*row)
        for row in db.execute(
            select(
                Delivery.id,
                Delivery.kind,
                Delivery.ref,
                Delivery.to_address,
                Delivery.status,
                Delivery.attempts,
                Delivery.last_error,
                Delivery.next_attempt_at,
            )
            .where(Delivery.status.in_(FAILED))
            .order_by(Delivery.id)
            .limit(failed_limit)
        )
    ]
    failed_total = sum(n for (_kind, state), n in counts.items() if state in FAILED)
    return OutboxStatus(counts, failed, failed_total)


# --- send windows and daily caps, for municipal relays ---------------------------------------


def in_send_window(settings: Settings, now: dt.datetime) -> bool:
    """Whether mail.send_window (local time) allows sending now; always with no window."""
    window = send_window(settings.mail.send_window) if settings.mail.send_window else None
    if window is None:
        return True
    start, end = window
    local = now.astimezone(settings.tz).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end  # a window over midnight


def allowance(db: Db, settings: Settings, now: dt.datetime) -> int | None:
    """How many more messages may go out now: None for no limit, 0 outside the window or when
    today's cap is spent."""
    if not in_send_window(settings, now):
        return 0
    cap = settings.mail.daily_cap
    if not cap:
        return None
    local = now.astimezone(settings.tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    used = db.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(
            or_(
                and_(Delivery.status == SENT, Delivery.sent_at >= midnight),
                Delivery.status == SENDING,
            )
        )
    )
    return max(cap - int(used or 0), 0)
