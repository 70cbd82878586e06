"""Bounces that arrive later, by mail: delivery status notifications (RFC 3464) and complaints
(ARF, RFC 5965) read from the bounce mailbox and related to the delivery they are about.

Most relays accept a message and report minutes later that it could not be delivered. Each report
is tied to its delivery by our VERP return path (`bounces.verp`: the report goes to
`local+<delivery>-<signature>@domain`), else by the Message-ID of the original message the report
quotes. A hard bounce (5.x.x) counts towards `mail.bounce_limit` at once; `bounces.soft_per_hard`
soft ones (4.x.x: mailbox full) in a row count as one. A complaint ("this is spam") unsubscribes
the member. A message that is no report, or a report on nothing we sent, is left alone.

Standard reports are read with the stdlib parser (message/delivery-status, message/feedback-
report); older formats without those parts (some Exim and Exchange servers) with flufl.bounce's
detectors.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures
from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db

from vcs import audit
from vcs.config import Settings
from vcs.context import Context
from vcs.mail import outbox
from vcs.mail.imap import Mailbox
from vcs.states import MemberStatus
from vcs.storage.models import BounceReport, Delivery, Member

log = logging.getLogger(__name__)

HARD, SOFT, COMPLAINT = "hard", "soft", "complaint"
# A report we read that is about no delivery of ours, and a message that is no report at all.
UNMATCHED, OTHER = "unmatched", "other"
# Who the audit log names for what the bounce mailbox did to a member.
ACTOR = "bounces"
# A delivery the relay took this long ago with no report since was delivered: it ends a streak.
REPORT_GRACE = dt.timedelta(days=3)
STREAK_LOOKBACK = 50
# ARF feedback types that are a member's complaint about our mail.
COMPLAINT_TYPES = {"abuse", "fraud", "other"}
_MESSAGE_ID = re.compile(r"(?im)^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^>\s]+>)")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Failure:
    """What a report says of one recipient."""

    recipient: str
    kind: str  # hard or soft
    status: str = ""
    diagnostic: str = ""


@dataclass(frozen=True)
class Report:
    """One message of the bounce mailbox, read."""

    # bounce, complaint, other
    kind: str
    message_id: str = ""
    # The Message-ID of the message the report is about, when it quotes it.
    original_message_id: str = ""
    failures: tuple[Failure, ...] = ()
    # Where the report was sent: our VERP address names the delivery.
    sent_to: tuple[str, ...] = ()
    # A complaint's recipient (Original-Rcpt-To), if it says.
    complainant: str = ""
    feedback_type: str = ""


@dataclass
class IntakeReport:
    """What one run of `vcs bounces fetch` did."""

    hard: int = 0
    soft: int = 0
    complaints: int = 0
    unmatched: int = 0
    other: int = 0
    known: int = 0
    bounced_members: int = 0
    unsubscribed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        counts = [
            f"{value} {name}"
            for name, value in (
                ("hard bounces", self.hard),
                ("soft bounces", self.soft),
                ("complaints", self.complaints),
                ("reports on no delivery of ours", self.unmatched),
                ("other messages left alone", self.other),
                ("member(s) marked bounced", self.bounced_members),
                ("member(s) unsubscribed by complaint", self.unsubscribed),
            )
            if value
        ]
        return "\n".join([", ".join(counts) or "no new reports", *self.errors])


# --- VERP -----------------------------------------------------------------------------------


def verp_address(settings: Settings, delivery_id: int) -> str:
    """The return path of one delivery: `local+<id>-<signature>@domain` of mail.from_address.

    Signed, so a forged report cannot bounce a member by guessing delivery ids.
    """
    local, _at, domain = settings.mail.from_address.rpartition("@")
    return f"{local}+{delivery_id}-{_signature(settings, delivery_id)}@{domain}"


def verp_delivery(settings: Settings, address: str) -> int | None:
    """The delivery a VERP address of ours names, or None."""
    local, _at, domain = settings.mail.from_address.rpartition("@")
    found = re.fullmatch(
        rf"{re.escape(local)}\+(\d+)-([0-9a-f]+)@{re.escape(domain)}", address.strip(), re.I
    )
    if not found:
        return None
    delivery_id = int(found.group(1))
    if not hmac.compare_digest(found.group(2).lower(), _signature(settings, delivery_id)):
        return None
    return delivery_id


def return_path(settings: Settings, delivery_id: int) -> str:
    """The SMTP envelope sender for a delivery: VERP when bounces.verp is on."""
    if settings.bounces.verp:
        return verp_address(settings, delivery_id)
    return settings.mail.from_address


def _signature(settings: Settings, delivery_id: int) -> str:
    key = settings.signing_key.encode()
    return hmac.new(key, f"verp:{delivery_id}".encode(), hashlib.sha256).hexdigest()[:10]


# --- reading a report -----------------------------------------------------------------------


def read_report(raw: bytes) -> Report:
    """What the message says: a bounce (with its failures), a complaint, or other."""
    msg = email.message_from_bytes(raw)
    own_id = _header(msg, "Message-ID")
    sent_to = tuple(
        address.lower()
        for _name, address in getaddresses(
            [
                str(v)
                for key in ("To", "Delivered-To", "X-Original-To", "Envelope-To")
                for v in msg.get_all(key, [])
            ]
        )
        if address
    )
    original = _original_message_id(msg)
    feedback = _part(msg, "message/feedback-report")
    if feedback is not None:
        fields = _fields(feedback)
        kind = fields.get("feedback-type", "").lower()
        return Report(
            kind="complaint" if kind in COMPLAINT_TYPES else "other",
            message_id=own_id,
            original_message_id=original,
            sent_to=sent_to,
            complainant=_address(fields.get("original-rcpt-to", "")),
            feedback_type=kind,
        )
    status = _part(msg, "message/delivery-status")
    if status is not None:
        failures = tuple(_dsn_failures(status))
        # A report of delay ("Action: delayed") or success is a report, but no bounce.
        return Report("bounce" if failures else "other", own_id, original, failures, sent_to)
    if _from_a_mailer(msg):
        temporary, permanent = all_failures(msg)
        text = _text_of(msg)
        code = _STATUS.search(text)
        failures = tuple(
            Failure(_decode(address), kind, code.group(0) if code else "")
            for kind, addresses in ((HARD, permanent), (SOFT, temporary - permanent))
            for address in sorted(addresses)
        )
        if failures:
            return Report("bounce", own_id, original, failures, sent_to)
    return Report("other", own_id)


def _dsn_failures(status: Message) -> Iterable[Failure]:
    """The failed recipients of a message/delivery-status part (RFC 3464 section 2.3)."""
    for block in _blocks(status)[1:]:
        action = block.get("action", "").lower()
        code = _STATUS.search(block.get("status", ""))
        if action != "failed" or code is None:
            continue
        recipient = _address(block.get("original-recipient") or block.get("final-recipient", ""))
        kind = HARD if code.group(1) == "5" else SOFT
        diagnostic = " ".join(block.get("diagnostic-code", "").split())
        yield Failure(recipient, kind, code.group(0), diagnostic.partition(";")[2].strip())


def _blocks(status: Message) -> list[dict[str, str]]:
    """The per-message block, then one block per recipient, as lower-cased fields."""
    payload = status.get_payload()
    if isinstance(payload, list):
        return [_fields(block) for block in payload if isinstance(block, Message)]
    # Parsers that kept the part as text: blocks are separated by empty lines.
    text = payload.replace("\r\n", "\n") if isinstance(payload, str) else ""
    return [
        _fields(email.message_from_string(chunk + "\n"))
        for chunk in re.split(r"\n\s*\n", text)
        if chunk.strip()
    ]


def _fields(part: Message) -> dict[str, str]:
    if part.get_content_type() in ("message/feedback-report",):
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            part = payload[0]
        elif isinstance(payload, str):
            part = email.message_from_string(payload)
    return {key.lower(): " ".join(str(value).split()) for key, value in part.items()}


def _original_message_id(msg: Message) -> str:
    """The Message-ID of the message the report quotes (message/rfc822, text/rfc822-headers, or
    the copy a plain-text bounce has in its body)."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                quoted = _header(payload[0], "Message-ID")
                if quoted:
                    return quoted
        if kind in ("text/rfc822-headers", "message/rfc822-headers", "text/plain"):
            found = _MESSAGE_ID.search(_decoded(part))
            if found:
                return str(found.group(1))
    return ""


def _part(msg: Message, content_type: str) -> Message | None:
    return next((p for p in msg.walk() if p.get_content_type() == content_type), None)


def _from_a_mailer(msg: Message) -> bool:
    """Whether a message without a standard report part still comes from a mail server."""
    _name, sender = parseaddr(str(msg.get("From", "")))
    local = sender.partition("@")[0].lower()
    return (
        str(msg.get("Return-Path", "")).strip() == "<>"
        or local in ("mailer-daemon", "postmaster", "mail-daemon")
        or "mailer-daemon" in sender.lower()
    )


def _text_of(msg: Message) -> str:
    return "\n".join(_decoded(p) for p in msg.walk() if p.get_content_maintype() == "text")


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    return " ".join(str(value).split()) if value else ""


def _address(field_value: str) -> str:
    """`rfc822; someone@example.lv` -> someone@example.lv"""
    _type, _sep, rest = field_value.partition(";")
    return (rest or field_value).strip().strip("<>").lower()


def _decode(address: bytes | str) -> str:
    return (address.decode("utf-8", "replace") if isinstance(address, bytes) else address).lower()


# --- taking reports in ----------------------------------------------------------------------


def fetch(context: Context, mailbox: Mailbox) -> IntakeReport:
    """Read every unseen message of the mailbox once; count, unsubscribe, record."""
    result = IntakeReport()
    with context.database.session() as db:
        known = set(db.scalars(select(BounceReport.uid).where(BounceReport.mailbox == mailbox.key)))
    for uid in mailbox.unseen():
        if uid in known:
            result.known += 1
            continue
        report = read_report(mailbox.fetch(uid))
        now = context.clock.now()
        with context.database.session() as db:
            done = take_in(db, context.settings, mailbox.key, uid, report, now, result)
        if done:
            # Only reports are marked (and moved); anything else stays as it came.
            mailbox.done(uid)
    return result


def take_in(
    db: Db,
    settings: Settings,
    mailbox_key: str,
    uid: int,
    report: Report,
    now: dt.datetime,
    result: IntakeReport,
) -> bool:
    """Record one message and act on it; True when it was a report (bounce or complaint)."""

    def record(kind: str, **values: object) -> None:
        db.add(
            BounceReport(
                mailbox=mailbox_key,
                uid=uid,
                read_at=now,
                message_id=report.message_id[:300],
                kind=kind,
                **values,
            )
        )

    if report.kind == "other":
        record(OTHER)
        result.other += 1
        return False
    delivery = _delivery(db, settings, report)
    if report.kind == "complaint":
        member = _member(db, delivery, report.complainant)
        if member is None:
            record(UNMATCHED, recipient=report.complainant[:320], diagnostic="complaint")
            result.unmatched += 1
            return True
        record(
            COMPLAINT,
            recipient=member.email,
            delivery_id=delivery.id if delivery else None,
            member_id=member.id,
            diagnostic=report.feedback_type,
        )
        result.complaints += 1
        if delivery is not None:
            delivery.bounce, delivery.bounced_at = COMPLAINT, now
        if member.status != MemberStatus.UNSUBSCRIBED:
            audit.record(
                db,
                ACTOR,
                "complaint",
                "member",
                member.id,
                {"status": member.status},
                {"status": MemberStatus.UNSUBSCRIBED, "feedback_type": report.feedback_type},
            )
            member.status = MemberStatus.UNSUBSCRIBED
            result.unsubscribed += 1
            outbox.cancel_unreachable(db)
        return True
    if delivery is None:
        # One row per recipient the report names (the table's key), the first line on each.
        lines = {failure.recipient: failure for failure in reversed(report.failures)}
        for failure in lines.values():
            record(
                UNMATCHED,
                recipient=failure.recipient[:320],
                status=failure.status,
                diagnostic=failure.diagnostic[:2000],
            )
        result.unmatched += 1
        return True
    failure = _failure_for(report.failures, delivery.to_address)
    member = None
    if delivery.member_id is not None:
        member = db.get(Member, delivery.member_id, with_for_update=True)
    record(
        failure.kind,
        recipient=delivery.to_address,
        status=failure.status,
        diagnostic=failure.diagnostic[:2000],
        delivery_id=delivery.id,
        member_id=member.id if member else None,
    )
    if failure.kind == HARD:
        result.hard += 1
    else:
        result.soft += 1
    first_of_its_kind = delivery.bounce not in (HARD, failure.kind)
    if first_of_its_kind:
        delivery.bounce, delivery.bounced_at = failure.kind, now
        if failure.kind == HARD:
            delivery.status = outbox.FAILED_PERMANENT
            delivery.last_error = f"bounced later: {failure.status} {failure.diagnostic}".strip()[
                :2000
            ]
    if member is not None and first_of_its_kind and _count(db, settings, member, failure, now):
        result.bounced_members += 1
    return True


def _delivery(db: Db, settings: Settings, report: Report) -> Delivery | None:
    """The delivery the report is about: by our VERP address, else by the quoted Message-ID."""
    for address in report.sent_to:
        delivery_id = verp_delivery(settings, address)
        if delivery_id is not None:
            found = db.get(Delivery, delivery_id)
            if found is not None:
                return found
    if report.original_message_id:
        return db.scalars(
            select(Delivery).where(Delivery.message_id == report.original_message_id)
        ).first()
    return None


def _member(db: Db, delivery: Delivery | None, address: str) -> Member | None:
    if delivery is not None and delivery.member_id is not None:
        return db.get(Member, delivery.member_id)
    if address:
        return db.scalars(select(Member).where(func.lower(Member.email) == address.lower())).first()
    return None


def _failure_for(failures: tuple[Failure, ...], address: str) -> Failure:
    """The report's line on this delivery's recipient; else its first (a forwarded address)."""
    for failure in failures:
        if failure.recipient == address.lower():
            return failure
    return failures[0]


def _count(db: Db, settings: Settings, member: Member, failure: Failure, now: dt.datetime) -> bool:
    """Count the bounce towards mail.bounce_limit; True when it made the member bounced.

    The outbox clears a member's count whenever the relay takes a message for them, but the relay
    taking it proves nothing when the report comes later. So the count is also made from the
    member's latest deliveries: hard bounces, and soft ones `soft_per_hard` to one, back to the
    first delivery that was taken long enough ago (REPORT_GRACE) with no report.
    """
    hard = soft = 0
    rows = db.execute(
        select(Delivery.bounce, Delivery.status, Delivery.sent_at)
        .where(Delivery.member_id == member.id, Delivery.message_id != "")
        .order_by(func.coalesce(Delivery.sent_at, Delivery.created_at).desc(), Delivery.id.desc())
        .limit(STREAK_LOOKBACK)
    )
    for bounce, status, sent_at in rows:
        if bounce == HARD:
            hard += 1
        elif bounce == SOFT:
            soft += 1
        elif status == outbox.SENT and sent_at is not None and sent_at < now - REPORT_GRACE:
            break
    streak = hard + soft // settings.bounces.soft_per_hard
    counted = member.bounce_count + 1 if failure.kind == HARD else member.bounce_count
    member.bounce_count = max(counted, streak)
    if member.bounce_count < settings.mail.bounce_limit or member.status in outbox.UNREACHABLE:
        return False
    audit.record(
        db,
        ACTOR,
        "bounce",
        "member",
        member.id,
        {"status": member.status},
        {
            "status": MemberStatus.BOUNCED,
            "bounce_count": member.bounce_count,
            "answer": f"{failure.status} {failure.diagnostic}".strip()[:300],
        },
    )
    member.status = MemberStatus.BOUNCED
    member.bounced_at = now
    outbox.cancel_unreachable(db)
    return True
