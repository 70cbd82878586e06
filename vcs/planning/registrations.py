"""Who comes to a session: registration with a capacity, a waiting list and cancellations.

A series (or one session) takes registrations when its settings say so:
`registration = { open = true, capacity = 40, closes = "P1D" }`, the capacity counting the seats
in the room and `closes` how long before the start registration ends (docs/registration.md).
Members register with the signed link in any of their e-mails; a visitor gives a name, an
address and a municipality and confirms by e-mail, without becoming a member.

When the room is full, a new room registration waits; a cancellation of a room seat gives it to
the first on the waiting list, who is told by e-mail (through the outbox).

Capacity holds under concurrent requests because every change of a session's registrations
first holds the session's row (`sessions.hold`), so they happen one after another.

Registrations are not tracked by the change stamp: the cached session page shows only whether
registration is open (a session setting); counts are read fresh by the registration pages.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session as Db

from vcs import dates, ratelimit, spreadsheet
from vcs.clock import Clock
from vcs.config import Settings
from vcs.errors import Problem, VcsError
from vcs.i18n import N_, gettext_for
from vcs.mail import compose, outbox
from vcs.mail.compose import MailKind
from vcs.planning import sessions, wording
from vcs.states import MemberStatus, SessionStatus
from vcs.storage.models import Member, Registration, Session

ROOM, ONLINE = "room", "online"
ATTENDANCES = (ROOM, ONLINE)
UNCONFIRMED, REGISTERED, WAITING, CANCELLED = "unconfirmed", "registered", "waiting", "cancelled"
SETTING_KEYS = {"open", "capacity", "closes"}
MAX_CAPACITY = 100_000
# E-mails one address may get from visitor registration forms in a day (all sessions).
DAILY_LIMIT = 5
SALT = "vcs.registration.link"
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NetworkName = Callable[[str], str]

PROBLEMS = {
    "not-open": N_("this session does not take registrations"),
    "closed": N_("registration for this session has closed"),
    "cancelled": N_("this session is cancelled"),
    "attendance": N_("choose how you take part: %(choices)s"),
    "link": N_("this registration link does not work; register again on the session page"),
    "visitor-name": N_("write your name"),
    "visitor-email": N_("write an e-mail address like name@example.lv"),
}


class RegistrationError(VcsError):
    """A registration that cannot be made or changed: code `registration.<reason>`."""

    def __init__(self, reason: str, field: str = "", **params: Any) -> None:
        super().__init__([Problem(f"registration.{reason}", PROBLEMS[reason], params, (), field)])


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """A session's registration settings: open or not, the room's seats, when it closes."""

    open: bool
    capacity: int | None
    closes: dt.timedelta

    def closes_at(self, session: Session) -> dt.datetime:
        return session.start - self.closes


def check_settings(value: Any, key: str = "registration") -> tuple[dict[str, Any], list[Problem]]:
    """A series file's `registration` table as stored (`Series.registration`), and its problems.

    Problems have codes `series.registration.*` and are placed under `key`.
    """
    problems: list[Problem] = []

    def bad(where: str, code: str, message: str, **params: Any) -> None:
        problems.append(Problem(f"series.registration.{code}", message, params, (where,)))

    if not isinstance(value, dict):
        bad(
            key, "not-a-table", N_('must be a table { open = true, capacity = 40, closes = "P1D" }')
        )
        return {}, problems
    for unknown in sorted(set(value) - SETTING_KEYS):
        bad(f"{key}.{unknown}", "unknown-key", N_("unknown key (use open, capacity and closes)"))
    is_open = value.get("open", True)
    if not isinstance(is_open, bool):
        bad(f"{key}.open", "open", N_("must be true or false"))
    capacity = value.get("capacity")
    if capacity is not None and (
        isinstance(capacity, bool)
        or not isinstance(capacity, int)
        or not 0 < capacity <= MAX_CAPACITY
    ):
        bad(
            f"{key}.capacity",
            "capacity",
            N_("must be a whole number of seats from 1 to %(max)s, not %(value)r"),
            max=MAX_CAPACITY,
            value=capacity,
        )
    closes = value.get("closes", "PT0M")
    if dates.lead_time(closes) is None:
        bad(
            f"{key}.closes",
            "closes",
            N_('%(value)r is not an ISO 8601 duration before the start like "P1D" or "PT2H"'),
            value=closes,
        )
    if problems:
        return {}, problems
    return {"open": is_open, "capacity": capacity, "closes": closes}, []


def without_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    """Checked settings without the keys that say nothing (no capacity), as a file writes them."""
    return {key: value for key, value in settings.items() if value is not None}


def duration(value: Any) -> dt.timedelta:
    """A stored `closes` value as a length of time (zero when it is not one)."""
    return dates.lead_time(value) or dt.timedelta()


# How forms say a closing time: a whole number of days, hours or minutes before the start.
CLOSES_UNITS = {"days": ("P", "D"), "hours": ("PT", "H"), "minutes": ("PT", "M")}


def closes_in_units(value: Any) -> tuple[str, str]:
    """A stored `closes` as a form shows it: ("2", "days"), ("90", "minutes"); ("", "days")."""
    minutes = int(duration(value).total_seconds() // 60)
    if not minutes:
        return "", "days"
    if minutes % (24 * 60) == 0:
        return str(minutes // (24 * 60)), "days"
    if minutes % 60 == 0:
        return str(minutes // 60), "hours"
    return str(minutes), "minutes"


def closes_from_units(amount: str, unit: str) -> str:
    """A form's amount and unit as a `closes` value; not a number: as written, for the checks."""
    prefix, suffix = CLOSES_UNITS.get(unit, CLOSES_UNITS["days"])
    return f"{prefix}{int(amount)}{suffix}" if amount.isascii() and amount.isdigit() else amount


def rules(session: Session) -> Rules | None:
    """The session's registration settings (its own, else its series'); None: no registration."""
    stored = (
        session.registration if session.registration is not None else session.series.registration
    )
    if not stored:
        return None
    capacity = stored.get("capacity")
    return Rules(
        open=bool(stored.get("open", True)),
        capacity=capacity if isinstance(capacity, int) else None,
        closes=dates.lead_time(stored.get("closes", "PT0M")) or dt.timedelta(),
    )


def attendances(session: Session) -> tuple[str, ...]:
    """How one takes part: the room and online for a hybrid session, else the one there is."""
    kind = wording.place(session).get("kind", "online")
    if kind == "hybrid":
        return ATTENDANCES
    return (ONLINE,) if kind == "online" else (ROOM,)


def refusal(session: Session, now: dt.datetime) -> str | None:
    """Why the session takes no registration now ("not-open", "closed", "cancelled"), or None."""
    found = rules(session)
    if found is None or not found.open:
        return "not-open"
    if session.status == SessionStatus.CANCELLED:
        return "cancelled"
    if now >= found.closes_at(session):
        return "closed"
    return None


def choices(session: Session, now: dt.datetime) -> tuple[str, ...]:
    """How one may register now (room, online); () when the session takes no registration now."""
    return () if refusal(session, now) else attendances(session)


def closes_at(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When registration closes, if it is open now: a page showing the form is stale then."""
    found = rules(session)
    return found.closes_at(session) if choices(session, now) and found else None


# -- counting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """A session's registrations by kind: seats in the room, online, waiting, cancelled."""

    room: int = 0
    online: int = 0
    waiting: int = 0
    cancelled: int = 0
    unconfirmed: int = 0

    @property
    def taken(self) -> int:
        return self.room + self.online


def counts(db: Db, session_id: int) -> Counts:
    """How many registrations of each kind the session has."""
    rows = db.execute(
        select(Registration.status, Registration.attendance, func.count())
        .where(Registration.session_id == session_id)
        .group_by(Registration.status, Registration.attendance)
    )
    tally: dict[str, int] = {}
    for status, attendance, number in rows:
        name = (ROOM if attendance == ROOM else ONLINE) if status == REGISTERED else status
        tally[name] = tally.get(name, 0) + int(number)
    return Counts(**{key: tally.get(key, 0) for key in Counts.__dataclass_fields__})


def summary(db: Db, session: Session) -> dict[str, Any] | None:
    """What /api/sessions/{id} says of registration: {open, capacity, taken, waiting}, no names."""
    found = rules(session)
    if found is None:
        return None
    tally = counts(db, session.id)
    return {
        "open": found.open,
        "capacity": found.capacity,
        "taken": tally.taken,
        "waiting": tally.waiting,
    }


def registrants(db: Db, session_id: int) -> list[Registration]:
    """Every registration of the session: registered first, then waiting (in order), then the
    rest."""
    order = {REGISTERED: 0, WAITING: 1, UNCONFIRMED: 2, CANCELLED: 3}
    found = db.scalars(
        select(Registration)
        .where(Registration.session_id == session_id)
        .order_by(Registration.asked_at, Registration.id)
    ).all()
    return sorted(found, key=lambda row: order.get(row.status, 9))


# -- registering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visitor:
    """Someone who is not a member, as they wrote themselves on the form."""

    name: str
    email: str
    municipality: str
    language: str


def read_visitor(form: dict[str, str], language: str) -> Visitor:
    """The visitor form's fields, checked; RegistrationError names the field that is wrong."""
    name = " ".join(form.get("name", "").split())[:200]
    email = form.get("email", "").strip().lower()[:320]
    if not name:
        raise RegistrationError("visitor-name", field="name")
    if not EMAIL.match(email):
        raise RegistrationError("visitor-email", field="email")
    municipality = " ".join(form.get("municipality", "").split())[:200]
    return Visitor(name, email, municipality, language)


def _seat_for(db: Db, session: Session, attendance: str) -> str:
    """REGISTERED or WAITING for a new registration, as the room's seats allow now."""
    found = rules(session)
    if attendance != ROOM or found is None or found.capacity is None:
        return REGISTERED
    return REGISTERED if counts(db, session.id).room < found.capacity else WAITING


def _checked(session: Session | None, attendance: str, now: dt.datetime) -> Session:
    if session is None:
        raise RegistrationError("not-open")
    reason = refusal(session, now)
    if reason is not None:
        raise RegistrationError(reason)
    choices = attendances(session)
    if attendance not in choices:
        raise RegistrationError("attendance", field="attendance", choices=", ".join(choices))
    return session


def register_member(
    db: Db, clock: Clock, session_id: int, member: Member, attendance: str
) -> Registration:
    """Register a member (or keep their registration: registering twice is one registration)."""
    now = clock.now()
    session = _checked(sessions.hold(db, session_id), attendance, now)
    email = member.email.lower()
    row = db.scalars(
        select(Registration).where(
            Registration.session_id == session.id, Registration.email == email
        )
    ).first()
    if row is not None and row.status in (REGISTERED, WAITING):
        return row
    if row is None:
        row = Registration(session_id=session.id, email=email, status=CANCELLED, asked_at=now)
        db.add(row)
    row.member_id, row.name, row.language = member.id, member.name, member.language or "lv"
    row.municipality = member.municipality.name if member.municipality else ""
    row.attendance, row.asked_at, row.cancelled_at = attendance, now, None
    row.status = _seat_for(db, session, attendance)
    db.flush()
    return row


def ask_visitor(
    db: Db,
    settings: Settings,
    clock: Clock,
    session_id: int,
    visitor: Visitor,
    attendance: str,
    network_name: NetworkName,
) -> str:
    """Queue a visitor's confirmation e-mail; say what happened (for tests and logs, not the
    visitor): "confirmation", "already" (registered: the link again), "member" (the address is
    a member's: their own registration link, so they register as a member) or "limited".

    The page says the same whatever happened, so it tells nobody who is a member or registered.
    """
    now = clock.now()
    session = _checked(sessions.hold(db, session_id), attendance, now)
    tally = ratelimit.counter(db, "register-mailbox", visitor.email, now, dt.timedelta(days=1))
    if tally.count >= DAILY_LIMIT:
        return "limited"
    tally.count += 1
    tally.last_at = now
    member = db.scalars(select(Member).where(func.lower(Member.email) == visitor.email)).first()
    if member is not None and may_register(member):
        outbox.enqueue(
            db,
            settings,
            kind=MailKind.REGISTRATION_CONFIRM.value,
            ref=f"registration:member:{member.id}:{now.strftime('%Y%m%dT%H%M%S.%f')}",
            recipients=[outbox.Recipient.for_member(settings, member)],
            compose=_please_confirm(session, network_name, member_url(settings, session, member)),
            now=now,
        )
        return "member"
    row = db.scalars(
        select(Registration).where(
            Registration.session_id == session.id, Registration.email == visitor.email
        )
    ).first()
    outcome = "already"
    if row is None or row.status in (UNCONFIRMED, CANCELLED):
        if row is None:
            row = Registration(session_id=session.id, email=visitor.email, asked_at=now)
            db.add(row)
        row.member_id = None
        row.name, row.municipality, row.language = (
            visitor.name,
            visitor.municipality,
            visitor.language,
        )
        row.attendance, row.status, row.asked_at = attendance, UNCONFIRMED, now
        outcome = "confirmation"
    db.flush()
    url = link_url(settings, row)
    recipient = outbox.Recipient(address=visitor.email, language=visitor.language)
    outbox.enqueue(
        db,
        settings,
        kind=MailKind.REGISTRATION_CONFIRM.value,
        ref=f"registration:{row.id}:{now.strftime('%Y%m%dT%H%M%S.%f')}",
        recipients=[recipient],
        compose=_please_confirm(session, network_name, url),
        now=now,
    )
    return outcome


def confirm_visitor(db: Db, clock: Clock, registration_id: int) -> Registration:
    """Take a seat (or a place on the waiting list) for a visitor who opened their link; a
    registration confirmed before stays as it is, so the link works once."""
    now = clock.now()
    row = db.get(Registration, registration_id)
    if row is None:
        raise RegistrationError("link")
    session = sessions.hold(db, row.session_id)
    db.refresh(row)
    if row.status != UNCONFIRMED:
        return row
    _checked(session, row.attendance, now)
    assert session is not None
    row.status = _seat_for(db, session, row.attendance)
    row.asked_at = now
    db.flush()
    return row


def cancel(
    db: Db, settings: Settings, clock: Clock, registration_id: int, network_name: NetworkName
) -> Registration | None:
    """Cancel a registration; a room seat goes to the first on the waiting list, who is told by
    e-mail. Return whom it went to (None: nobody)."""
    now = clock.now()
    row = db.get(Registration, registration_id)
    if row is None:
        raise RegistrationError("link")
    session = sessions.hold(db, row.session_id)
    db.refresh(row)
    assert session is not None
    if row.status == CANCELLED:
        return None
    freed = row.status == REGISTERED and row.attendance == ROOM
    row.status, row.cancelled_at = CANCELLED, now
    db.flush()
    if not freed or session.status == SessionStatus.CANCELLED or now >= session.start:
        return None
    found = rules(session)
    if found is None or (
        found.capacity is not None and counts(db, session.id).room >= found.capacity
    ):
        return None
    first = db.scalars(
        select(Registration)
        .where(Registration.session_id == session.id, Registration.status == WAITING)
        .order_by(Registration.asked_at, Registration.id)
        .limit(1)
    ).first()
    if first is None:
        return None
    first.status, first.promoted_at = REGISTERED, now
    db.flush()
    _tell_promoted(db, settings, session, first, network_name, now)
    return first


def _tell_promoted(
    db: Db,
    settings: Settings,
    session: Session,
    row: Registration,
    network_name: NetworkName,
    now: dt.datetime,
) -> None:
    member = db.get(Member, row.member_id) if row.member_id is not None else None
    if member is not None and member.status not in outbox.UNREACHABLE:
        recipient = outbox.Recipient.for_member(settings, member)
    elif member is None:
        recipient = outbox.Recipient(address=row.email, name="", language=row.language)
    else:
        return
    url = member_url(settings, session, member) if member is not None else link_url(settings, row)
    outbox.enqueue(
        db,
        settings,
        kind=MailKind.REGISTRATION_PROMOTED.value,
        ref=f"registration:{row.id}:promoted:{now.strftime('%Y%m%dT%H%M%S.%f')}",
        recipients=[recipient],
        compose=_promoted(session, network_name, url),
        now=now,
    )


# -- links ---------------------------------------------------------------------------------------


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.signing_key, salt=SALT)


def link_token(settings: Settings, row: Registration) -> str:
    """A visitor's token: the registration and its secret, signed (confirm, then cancel)."""
    return str(_serializer(settings).dumps([row.id, row.secret]))


def link_url(settings: Settings, row: Registration) -> str:
    """/registrations/{token}: a visitor confirms there, and cancels later."""
    return f"{settings.base_url}/registrations/{link_token(settings, row)}"


def member_url(settings: Settings, session: Session, member: Member) -> str:
    """/sessions/{id}/register/{member token}: a member registers and cancels there."""
    from vcs.mail.links import member_token

    return f"{settings.base_url}/sessions/{session.id}/register/{member_token(settings, member)}"


def registration_for_link(db: Db, settings: Settings, token: str) -> Registration:
    """The registration a visitor's token opens; RegistrationError("link") otherwise."""
    try:
        value = _serializer(settings).loads(token)
    except BadSignature as exc:
        raise RegistrationError("link") from exc
    match value:
        case [int(registration_id), str(secret)] if not isinstance(registration_id, bool):
            row = db.get(Registration, registration_id)
            if row is not None and row.member_id is None and row.secret == secret:
                return row
    raise RegistrationError("link")


def member_registration(db: Db, session_id: int, member: Member) -> Registration | None:
    """The member's registration for the session, if any."""
    return db.scalars(
        select(Registration).where(
            Registration.session_id == session_id, Registration.email == member.email.lower()
        )
    ).first()


def may_register(member: Member) -> bool:
    """Whether a member's link may register: members who left or bounced may not."""
    return member.status == MemberStatus.ACTIVE


# -- e-mails -------------------------------------------------------------------------------------


def _mail_values(session: Session, lang: str, network: str, url: str) -> dict[str, Any]:
    return {
        "network": network,
        "url": url,
        "title": wording.title(session, lang),
        "when": wording.when(session, lang),
        "place": wording.place_line(session, lang),
    }


def _please_confirm(
    session: Session, network_name: NetworkName, url: str
) -> Callable[[outbox.Recipient], compose.Content]:
    def content(recipient: outbox.Recipient) -> compose.Content:
        lang = recipient.language
        _ = gettext_for(lang)
        values = _mail_values(session, lang, network_name(lang), url)
        subject = _("Confirm your registration: %(title)s", title=values["title"])
        return compose.render(MailKind.REGISTRATION_CONFIRM, lang, subject, values)

    return content


def _promoted(
    session: Session, network_name: NetworkName, url: str
) -> Callable[[outbox.Recipient], compose.Content]:
    def content(recipient: outbox.Recipient) -> compose.Content:
        lang = recipient.language
        _ = gettext_for(lang)
        values = _mail_values(session, lang, network_name(lang), url)
        subject = _("A seat for you: %(title)s", title=values["title"])
        return compose.render(MailKind.REGISTRATION_PROMOTED, lang, subject, values)

    return content


# -- export --------------------------------------------------------------------------------------

CSV_COLUMNS = ("status", "attendance", "name", "email", "municipality", "member", "registered")


def export_csv(db: Db, session_id: int, tz: ZoneInfo) -> bytes:
    """The session's registrations for Excel in Latvia (vcs/spreadsheet.py)."""
    return spreadsheet.excel_csv(
        CSV_COLUMNS,
        (
            [
                row.status,
                row.attendance,
                row.name,
                row.email,
                row.municipality,
                str(row.member_id or ""),
                row.asked_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            ]
            for row in registrants(db, session_id)
        ),
    )
