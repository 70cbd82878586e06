"""The outbox: one `Delivery` per recipient, and the state changes a sender makes to it.

    queued --claim--> sending --> sent
                         |------> failed-temporary --(backoff, due again)--> sending ...
                         |------> failed-permanent          (5xx, or max_attempts reached)
    queued / failed-temporary --> cancelled                 (the member unsubscribed or bounced)

Every message is rendered once, when it is queued, and stored with its delivery; see docs/mail.md.
A content handed to many recipients is made into a message once per language and filled in per
recipient (vcs.mail.prepared).
A message that cannot be made for one recipient (say, a name with a line break that reached the
database some other way than through the doors of vcs/text.py) holds up nobody else: that
recipient's delivery is recorded as failed-permanent with no message (`message_id` empty) and the
reason, and queueing the same (kind, ref) again tries to make it once more.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as Db

from vcs import audit, text
from vcs.config import Settings, send_window
from vcs.mail import dkim, links, prepared, relay
from vcs.mail.compose import Content
from vcs.mail.transport import DeliveryError
from vcs.states import OPTED_OUT, DeliveryStatus, MemberStatus
from vcs.storage.models import Delivery, MailRelayPause, Member

QUEUED = DeliveryStatus.QUEUED
SENDING = DeliveryStatus.SENDING
SENT = DeliveryStatus.SENT
FAILED_TEMPORARY = DeliveryStatus.FAILED_TEMPORARY
FAILED_PERMANENT = DeliveryStatus.FAILED_PERMANENT
CANCELLED = DeliveryStatus.CANCELLED
STATES = tuple(DeliveryStatus)
FAILED = (FAILED_TEMPORARY, FAILED_PERMANENT)
# Members in these states get nothing more; what was queued for them is cancelled.
UNREACHABLE = OPTED_OUT
MAX_BACKOFF = dt.timedelta(hours=6)
INSERT_CHUNK = 200
# The start of last_error for a delivery whose message could not be made.
NOT_MADE = "the message could not be made"

log = logging.getLogger(__name__)


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
        unsubscribe_url, preferences_url = links.member_urls(settings, member)
        return cls(
            address=member.email,
            name=member.name,
            language=member.language or settings.default_language,
            member_id=member.id,
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
        )


# Renders the content for one recipient, in the recipient's language (vcs.mail.compose.render()).
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
    digest reaches nobody twice; a recipient whose message could not be made before is tried
    again. A recipient whose message cannot be made now is recorded as failed (module doc) and
    not counted.
    """
    known: set[str] = set()
    not_made: dict[str, str] = {}
    for address, message_id, status in db.execute(
        select(Delivery.to_address, Delivery.message_id, Delivery.status).where(
            Delivery.kind == kind, Delivery.ref == ref
        )
    ):
        if status == FAILED_PERMANENT and not message_id:
            not_made[address.lower()] = address
        else:
            known.add(address.lower())
    rows: list[dict[str, Any]] = []
    added = 0
    statement = _insert_statement(db)
    # Each content is made into a message once per language, then filled in per recipient.
    variants = prepared.Variants(settings, kind=kind, now=now)
    for recipient in recipients:
        address = recipient.address.strip()
        if not address or address.lower() in known:
            continue
        known.add(address.lower())
        row = _delivery_row(settings, kind, ref, recipient, address, compose, now, variants)
        if address.lower() in not_made:
            added += _make_again(db, kind, ref, not_made[address.lower()], row)
            continue
        rows.append(row)
        if len(rows) >= INSERT_CHUNK:
            added += _insert(db, statement, rows)
            rows = []
    if rows:
        added += _insert(db, statement, rows)
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
    variants: prepared.Variants,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "kind": kind,
        "ref": ref,
        "member_id": recipient.member_id,
        "to_address": address,
        "language": recipient.language,
        "attempts": 0,
        "created_at": now,
    }
    try:
        content = compose(recipient)
        # The stdlib refuses some of these in a header and lets others (NUL, ESC) through into
        # the bytes; neither may reach a relay.
        if not text.fits_a_header(recipient.name):
            raise ValueError("the recipient's name has a line break or a control character")
        if not text.fits_a_header(content.subject):
            raise ValueError("the subject has a line break or a control character")
        message_id, data = variants.make(
            content,
            recipient.language,
            prepared.Recipient(
                address=address,
                name=recipient.name,
                unsubscribe_url=recipient.unsubscribe_url or f"{settings.base_url}/unsubscribe",
                preferences_url=recipient.preferences_url or settings.base_url,
            ),
        )
    except Exception as exc:  # one recipient's message must not stop everyone else's
        reason = text.one_line(f"{NOT_MADE}: {type(exc).__name__}: {exc}")
        who = f"member {recipient.member_id}" if recipient.member_id is not None else address
        log.warning("%s %s for %s: %s", kind, ref, who, reason)
        return row | {"status": FAILED_PERMANENT, "last_error": reason, "message_id": ""}
    # Signing stays outside the try: a DKIM key that does not work is the installation's
    # problem, not one recipient's, and stops the whole run as before.
    return row | {
        "status": QUEUED,
        "last_error": "",
        "message_id": message_id,
        # Signed here, once: a retry sends these very bytes, signature and all.
        "raw_message": zlib.compress(dkim.sign(settings, data), 6),
    }


def _make_again(db: Db, kind: str, ref: str, stored: str, row: dict[str, Any]) -> int:
    """Replace a delivery whose message could not be made with the new try; 1 if now queued."""
    values = {key: row[key] for key in ("status", "last_error", "message_id", "language")}
    if row["status"] == QUEUED:
        values.update(raw_message=row["raw_message"], created_at=row["created_at"])
    db.execute(
        update(Delivery)
        .where(
            Delivery.kind == kind,
            Delivery.ref == ref,
            Delivery.to_address == stored,
            Delivery.status == FAILED_PERMANENT,
            Delivery.message_id == "",
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(row["status"] == QUEUED)


def _insert_statement(db: Db) -> Any:
    """The INSERT of a batch of deliveries, made once per `enqueue()`.

    Executed with a list of rows (executemany; SQLAlchemy's "insertmanyvalues" sends them as
    multi-row INSERTs), it is compiled once: a statement with the rows in its VALUES was compiled
    anew for each batch, which cost more than storing the rows. ON CONFLICT DO NOTHING: a second
    process queueing the same (kind, ref) at the same moment adds nothing twice and fails
    nothing. RETURNING counts what was really inserted, on both databases.
    """
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    return (
        insert(Delivery)
        .on_conflict_do_nothing(index_elements=["kind", "ref", "to_address"])
        .returning(Delivery.status)
    )


def _insert(db: Db, statement: Any, rows: list[dict[str, Any]]) -> int:
    # A recipient whose message could not be made is recorded but not counted as queued. A row
    # without a message gets the column default, so every row has the same keys.
    rows = [{"raw_message": b"", **row} for row in rows]
    # On the session's connection, as Core: the ORM's bulk INSERT would look at every row again.
    return sum(1 for (status,) in db.connection().execute(statement, rows) if status == QUEUED)


def not_made(db: Db, kind: str, ref: str) -> int:
    """How many recipients of (kind, ref) have a failed delivery because their message could not
    be made (see the module doc); `vcs outbox status` lists them with the reason."""
    return int(
        db.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.kind == kind,
                Delivery.ref == ref,
                Delivery.status == FAILED_PERMANENT,
                Delivery.message_id == "",
            )
        )
        or 0
    )


def summary(queued: int, failed: int) -> str:
    """ "N queued", and ", M failed (see vcs outbox status)" when messages could not be made."""
    return f"{queued} queued" + (f", {failed} failed (see vcs outbox status)" if failed else "")


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


def release(db: Db, ids: Iterable[int], note: str | None = None) -> int:
    """Give back claimed deliveries that were never tried (a pause), or whose try the relay, not
    the recipient, failed (`note` says how): queued, attempt uncounted."""
    ids = list(ids)
    if not ids:
        return 0
    values: dict[str, Any] = {"status": QUEUED, "attempts": Delivery.attempts - 1}
    if note is not None:
        values["last_error"] = note[:2000]
    result = db.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.status == SENDING)
        .values(**values)
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


# Who the audit log names when the outbox marks a member bounced.
MAIL_ACTOR = "mail"


def mark_failed(
    db: Db, settings: Settings, claimed: Claimed, error: DeliveryError, now: dt.datetime
) -> bool:
    """Record a failed attempt at this recipient; True when it made the member bounced.

    Only for failures that are the recipient's own: the sender gives back (`release()`) what
    the relay refused us for.
    """
    values: dict[str, Any] = {"last_error": str(error)[:2000]}
    if error.permanent:
        values.update(status=FAILED_PERMANENT, next_attempt_at=None)
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
        audit.record(
            db,
            MAIL_ACTOR,
            "bounce",
            "member",
            member.id,
            {"status": member.status},
            {
                "status": MemberStatus.BOUNCED,
                "bounce_count": member.bounce_count,
                "answer": str(error)[:300],
            },
        )
        member.status = MemberStatus.BOUNCED
        member.bounced_at = now
        return True
    return False


# --- what staff see and do ------------------------------------------------------------------


def retry_failed(db: Db, kind: str | None = None) -> int:
    """Queue the failed deliveries again (only those), as if new; return how many.

    A delivery whose message could not be made has nothing to send: queueing its mailing again
    (`vcs digest send`, the next announce run) makes it anew instead.
    """
    statement = update(Delivery).where(Delivery.status.in_(FAILED), Delivery.message_id != "")
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
    """Counts per (kind, status), the failed deliveries with their errors, and the pause."""

    counts: dict[tuple[str, str], int]
    failed: list[FailedDelivery]
    failed_total: int
    # Open while the relay refuses us (see vcs.mail.relay).
    pause: MailRelayPause | None = None

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
    return OutboxStatus(counts, failed, failed_total, relay.current_pause(db))


@dataclass(frozen=True)
class Reactivated:
    """A member staff returned to active: their address, status and bounce count before."""

    email: str
    status: str
    bounce_count: int


def bounced_since(db: Db, since: dt.datetime) -> list[Member]:
    """Members the outbox marked bounced at or after `since` (a relay incident), by address."""
    return list(
        db.scalars(
            select(Member)
            .where(Member.status == MemberStatus.BOUNCED, Member.bounced_at >= since)
            .order_by(Member.email)
        )
    )


def reactivate(db: Db, members: Iterable[Member], actor: str) -> list[Reactivated]:
    """Return bounced members to active with no bounces counted, each in the audit log.

    Members who are active keep their status and lose their bounce count; pending and
    unsubscribed members are left alone (an unsubscription is the member's own choice).
    Failed deliveries stay failed: `retry_failed()` queues them again.
    """
    done = []
    for member in members:
        if member.status not in (MemberStatus.BOUNCED, MemberStatus.ACTIVE):
            continue
        if member.status == MemberStatus.ACTIVE and not member.bounce_count:
            continue
        before = {"status": member.status, "bounce_count": member.bounce_count}
        done.append(Reactivated(member.email, member.status, member.bounce_count))
        member.status = MemberStatus.ACTIVE
        member.bounce_count = 0
        member.bounced_at = None
        after = {"status": MemberStatus.ACTIVE, "bounce_count": 0}
        audit.record(db, actor, "reactivate", "member", member.id, before, after)
    db.flush()
    return done


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
