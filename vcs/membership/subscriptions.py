"""Self-service: subscribe with double opt-in, confirm, preferences, unsubscribe, my data, erasure.

What a visitor types into /subscribe is not trusted until the address's owner confirms it: a new
address becomes a `pending` member, but an existing member is not changed by the form at all.
The form's choices travel inside the signed, expiring confirmation link and are applied when its
owner presses "Confirm". So nobody can re-subscribe, rename or re-route someone else's address by
typing it into the form, and the answer is the same whoever the address belongs to.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import selectinload

from vcs import ratelimit
from vcs.clock import Clock
from vcs.config import Settings
from vcs.errors import Problem, VcsError
from vcs.i18n import LANGUAGES, N_, gettext_for
from vcs.mail import compose, links, outbox
from vcs.mail.compose import MailKind
from vcs.membership import members
from vcs.membership.members import EVERYTHING, Follows, MemberError, MemberSpec
from vcs.states import MemberStatus
from vcs.storage.models import (
    Attendance,
    Certificate,
    Delivery,
    Member,
    Region,
    Registration,
    Series,
    UsedFormToken,
)
from vcs.text import NAME, clean

# How long the link in a confirmation e-mail works.
CONFIRM_MAX_AGE = dt.timedelta(days=7)
# How long a /subscribe form may stay open in a browser before it is sent.
FORM_MAX_AGE = dt.timedelta(days=1)
# Subscription e-mails (confirmations and "already subscribed") per mailbox in 24 hours: the
# form cannot be used to flood someone's mailbox. name+tag@ counts as name@ (see mailbox_key).
DAILY_LIMIT = 3
# At most one subscription e-mail per mailbox in this time: requests sent at once (a double
# click, a script) get one e-mail between them.
RESEND_GAP = dt.timedelta(minutes=1)
# subscriptions.max_per_client_per_hour counts sign-ups in windows this long.
CLIENT_WINDOW = dt.timedelta(hours=1)
CONSENT_SOURCE = "web form"
# The /subscribe form's municipality answer for "none: a national institution or other".
NO_MUNICIPALITY = "none"
# The wording next to the consent checkbox; stored, in the language shown, with the consent.
CONSENT_WORDING = N_(
    "I agree that the network keeps my name, e-mail address and municipality and sends me "
    "announcements of videoconferences and the weekly info-letter. I can unsubscribe at any time."
)
CONFIRM_SALT = "vcs.membership.subscriptions.confirm"
FORM_SALT = "vcs.membership.subscriptions.form"


# Why a link does not work, as the page says it to whoever opened it.
LINK_PROBLEMS = {
    "invalid": N_(
        "The link is incomplete or has been changed. Copy the whole link from the e-mail, or "
        "open it by clicking it in the e-mail."
    ),
    "expired": N_(
        "The confirmation link has expired: it works for 7 days. Subscribe again and we will "
        "send you a new one."
    ),
    "unknown": N_(
        "This address is no longer on the network's list: it was deleted. You can subscribe "
        "again at any time."
    ),
    "outdated": N_(
        "This link comes from an e-mail sent before our links were renewed, and it no longer "
        "works. The links in the e-mails we send now work. To get one at once, enter your "
        "address in the subscription form: if you are subscribed, we will send you a link to "
        "your settings."
    ),
    "used": N_(
        "This confirmation link has been used already: your subscription is confirmed. Every "
        "e-mail we send you has a link to your settings."
    ),
    "withdrawn": N_(
        "This confirmation link no longer works: the subscription was cancelled or deleted "
        "after it was sent. Subscribe again and we will send you a new one."
    ),
    "foreign": N_(
        "The form was sent from another website. Open the subscription form on this site and "
        "send it from there."
    ),
}


class LinkError(VcsError):
    """A self-service link (or form) that cannot be used: code `link.<reason>`, one of
    LINK_PROBLEMS ("invalid", "expired", "unknown", ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__([Problem(f"link.{reason}", LINK_PROBLEMS[reason])])

    @property
    def reason(self) -> str:
        """The code without its family: what the page decides its status and button by."""
        return self.code.removeprefix("link.")


@dataclass(frozen=True)
class SignUp:
    """What someone asked for on /subscribe; applied only when the address's owner confirms."""

    email: str
    name: str
    municipality: str | None
    language: str
    follows: Follows

    def as_token_data(self) -> dict[str, Any]:
        return {
            "e": self.email,
            "n": self.name,
            "m": self.municipality,
            "l": self.language,
            "a": self.follows.everything,
            "s": sorted(self.follows.series),
            "r": sorted(self.follows.regions),
        }

    @classmethod
    def from_token_data(cls, data: Any) -> SignUp:
        try:
            return cls(
                email=str(data["e"]),
                name=str(data["n"]),
                municipality=str(data["m"]) if data["m"] else None,
                language=str(data["l"]) if data["l"] in LANGUAGES else "lv",
                follows=Follows(
                    bool(data["a"]), frozenset(map(str, data["s"])), frozenset(map(str, data["r"]))
                ),
            )
        except (KeyError, TypeError) as exc:
            raise LinkError("invalid") from exc


# -- signed tokens that know the clock ------------------------------------------------------------


def _timed(settings: Settings, clock: Clock, salt: str) -> URLSafeTimedSerializer:
    """A timed serializer whose "now" is the context's clock, so tests can move time."""

    class ClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now().timestamp())

    return URLSafeTimedSerializer(settings.signing_key, salt=salt, signer=ClockSigner)


@dataclass(frozen=True)
class Confirmation:
    """A confirmation link: the sign-up, and the member as it was when the link was sent.

    The link works only while the member is that member (ids are never reused) with the same
    number of status changes: confirming is a change, and so is leaving, so it works once and
    not after an unsubscribe; after an erasure there is no member for it.
    """

    sign_up: SignUp
    member_id: int
    status_changes: int


def confirmation_token(settings: Settings, clock: Clock, sign_up: SignUp, member: Member) -> str:
    """The token in /subscribe/confirm/{token}: the sign-up for `member`, signed, valid
    CONFIRM_MAX_AGE."""
    data = {**sign_up.as_token_data(), "i": member.id, "c": member.status_changes}
    return str(_timed(settings, clock, CONFIRM_SALT).dumps(data))


def read_confirmation(settings: Settings, clock: Clock, token: str) -> Confirmation:
    """What a confirmation token says; LinkError("expired" or "invalid") otherwise."""
    serializer = _timed(settings, clock, CONFIRM_SALT)
    try:
        data = serializer.loads(token, max_age=int(CONFIRM_MAX_AGE.total_seconds()))
    except SignatureExpired as exc:
        raise LinkError("expired") from exc
    except BadSignature as exc:
        raise LinkError("invalid") from exc
    if not isinstance(data, dict):
        raise LinkError("invalid")
    member_id, changes = data.get("i"), data.get("c")
    if not isinstance(member_id, int) or not isinstance(changes, int):
        # Sent before links were bound to the member: "subscribe again" is the way on.
        raise LinkError("expired")
    return Confirmation(SignUp.from_token_data(data), member_id, changes)


def confirmation_member(db: Db, confirmation: Confirmation, lock: bool = False) -> Member:
    """The member a confirmation link may still confirm.

    LinkError("used") when she is active since the link was sent (confirmed, by this link or
    another), LinkError("withdrawn") when she left or was erased since. `lock` holds her row
    to the end of the transaction, so two presses at once confirm once.
    """
    query = select(Member).where(Member.email == confirmation.sign_up.email)
    member = db.scalars(query.with_for_update() if lock else query).first()
    if member is None or member.id != confirmation.member_id:
        raise LinkError("withdrawn")
    if member.status_changes != confirmation.status_changes:
        raise LinkError("used" if member.status == MemberStatus.ACTIVE else "withdrawn")
    return member


def form_token(settings: Settings, clock: Clock) -> str:
    """The hidden field of the /subscribe form: a random nonce, signed with the time."""
    return str(_timed(settings, clock, FORM_SALT).dumps(secrets.token_urlsafe(16)))


def form_token_valid(settings: Settings, clock: Clock, token: str | None) -> bool:
    """Whether the form was handed out by us within FORM_MAX_AGE (used or not)."""
    return _form_nonce(settings, clock, token) is not None


def use_form_token(db: Db, settings: Settings, clock: Clock, token: str | None) -> bool:
    """Spend a form token: True the first time a valid one is sent, False ever after."""
    nonce = _form_nonce(settings, clock, token)
    if nonce is None:
        return False
    now = clock.now()
    expired = (
        select(UsedFormToken.nonce)
        .where(UsedFormToken.expires_at < now)
        .limit(200)
        .with_for_update(skip_locked=True)
    )
    db.execute(delete(UsedFormToken).where(UsedFormToken.nonce.in_(expired.scalar_subquery())))
    insert = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    # Two requests with one token: the second waits for the first's row, then inserts nothing.
    # RETURNING says which, on both databases (rowcount does not, for an ORM insert).
    spent = db.execute(
        insert(UsedFormToken)
        .values(nonce=nonce, expires_at=now + FORM_MAX_AGE)
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(UsedFormToken.nonce)
    )
    return spent.first() is not None


def _form_nonce(settings: Settings, clock: Clock, token: str | None) -> str | None:
    if not token:
        return None
    try:
        nonce = _timed(settings, clock, FORM_SALT).loads(
            token, max_age=int(FORM_MAX_AGE.total_seconds())
        )
    except BadSignature:
        return None
    return nonce[:64] if isinstance(nonce, str) and nonce else None


def client_may_sign_up(db: Db, settings: Settings, clock: Clock, client: str) -> bool:
    """Count one sign-up from this client address; False when it had its share this hour."""
    now = clock.now()
    tally = ratelimit.counter(
        db, "subscribe-client", ratelimit.client_key(client), now, CLIENT_WINDOW
    )
    if tally.count >= settings.subscriptions.max_per_client_per_hour:
        return False
    tally.count += 1
    tally.last_at = now
    return True


def mailbox_key(email: str) -> str:
    """The mailbox an address reaches, for counting e-mails: name+tag@domain is name@domain."""
    local, _, domain = email.casefold().rpartition("@")
    return f"{local.split('+', 1)[0] or local}@{domain}"


def member_for_link(db: Db, settings: Settings, token: str) -> Member:
    """The member of a preferences or unsubscribe link; LinkError otherwise.

    "invalid": not signed by us; "outdated": made before links were bound to the member;
    "unknown": the member was erased since (her secret went with her). A link whose secret is
    not the member's gets the same answer as one whose member is gone, so a link tells nobody
    whether an id exists.
    """
    try:
        read = links.read_member_token(settings, token)
    except links.OutdatedToken as exc:
        raise LinkError("outdated") from exc
    if read is None:
        raise LinkError("invalid")
    member = db.get(
        Member,
        read.member_id,
        options=[
            selectinload(Member.municipality),
            selectinload(Member.followed_series),
            selectinload(Member.followed_regions),
        ],
    )
    if member is None or not read.opens(member):
        raise LinkError("unknown")
    return member


# -- what the forms offer -------------------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """The municipalities by planning region, and the series and regions one can follow."""

    regions: list[Region]
    series: list[Series]


def choices(db: Db, also: Iterable[str] = ()) -> Choices:
    """Regions (with municipalities) and the public active series, plus the series in `also`."""
    regions = list(
        db.scalars(select(Region).options(selectinload(Region.municipalities)).order_by(Region.id))
    )
    wanted = set(also)
    series = [
        s
        for s in db.scalars(select(Series).order_by(Series.title_lv))
        if (s.visibility == "public" and s.active) or s.slug in wanted
    ]
    return Choices(regions, series)


# -- validating the forms -------------------------------------------------------------------------


def read_follows(
    form: Mapping[str, Any], offered: Choices, lang: str
) -> tuple[Follows, dict[str, str]]:
    """What the "what to follow" part of a form chose; errors by field name."""
    _ = gettext_for(lang)
    if form.get("follows", "all") == "all":
        return EVERYTHING, {}
    series_slugs = {s.slug for s in offered.series}
    region_slugs = {r.slug for r in offered.regions}
    series = frozenset(s for s in form.get("series", []) if s in series_slugs)
    regions = frozenset(r for r in form.get("regions", []) if r in region_slugs)
    if not series and not regions:
        return EVERYTHING, {"follows": _("Choose at least one series or region, or everything.")}
    return Follows(False, series, regions), {}


def read_sign_up(
    form: Mapping[str, Any], offered: Choices, lang: str
) -> tuple[SignUp | None, dict[str, str]]:
    """The /subscribe form as a SignUp, or the errors (translated) by field name."""
    _ = gettext_for(lang)
    errors: dict[str, str] = {}
    # One line, no control characters (vcs/text.py), and runs of spaces made one.
    name = " ".join(clean(str(form.get("name", "")), NAME).split())
    if not name:
        errors["name"] = _("Enter your name.")
    elif len(name) > members.MAX_LENGTHS["name"]:
        errors["name"] = _("The name is too long.")
    email = ""
    raw_email = str(form.get("email", ""))
    if not raw_email.strip():
        errors["email"] = _("Enter your e-mail address.")
    else:
        try:
            email = members.normalise_email(raw_email)
        except MemberError:
            errors["email"] = _("Enter an e-mail address like name@example.lv.")
    # A choice, not a default: "none" (a national institution or other) is said, not assumed.
    chosen = str(form.get("municipality", ""))
    municipality = None if chosen in ("", NO_MUNICIPALITY) else chosen
    known = {m.slug for region in offered.regions for m in region.municipalities}
    if not chosen:
        errors["municipality"] = _(
            "Choose your municipality, or “None” if you work for a national institution."
        )
    elif municipality is not None and municipality not in known:
        errors["municipality"] = _("Choose a municipality from the list.")
    language = str(form.get("language", lang))
    if language not in LANGUAGES:
        errors["language"] = _("Choose a language.")
    follows, follow_errors = read_follows(form, offered, lang)
    errors.update(follow_errors)
    if form.get("consent") != "yes":
        errors["consent"] = _("Tick the box to agree, or we cannot send you anything.")
    if errors:
        return None, errors
    return SignUp(email, name, municipality, language, follows), {}


# -- subscribing and confirming -------------------------------------------------------------------

NetworkName = Callable[[str], str]


def subscribe(
    db: Db, settings: Settings, clock: Clock, sign_up: SignUp, network_name: NetworkName
) -> str:
    """Queue the e-mail the sign-up calls for; say which (for logs and tests, never the visitor).

    "confirmation": a new address (now a pending member) or a member not active: a link that
    confirms. "already": an active member: their preferences link, nothing changed. "limited":
    the mailbox had DAILY_LIMIT e-mails today, or one within RESEND_GAP: nothing queued, nobody
    added. Concurrent calls for one mailbox queue one e-mail between them (see
    _mailbox_may_get_one), so they never race to add the same member either.

    The e-mail goes to the bare address, in the language chosen on the form (whoever asked reads
    it), and never names anyone: the name typed into the form is unconfirmed.
    """
    now = clock.now()
    if not _mailbox_may_get_one(db, sign_up.email, now):
        return "limited"
    member = db.scalars(select(Member).where(Member.email == sign_up.email)).first()
    if member is None:
        spec = MemberSpec(
            email=sign_up.email,
            name=sign_up.name,
            municipality=sign_up.municipality,
            language=sign_up.language,
            follows=sign_up.follows,
            status=MemberStatus.PENDING,
        )
        member = members.create_member(db, spec, actor=sign_up.email)
    stamp = now.strftime("%Y%m%dT%H%M%S.%f")
    if member.status == MemberStatus.ACTIVE:
        kind, composer = MailKind.ALREADY_SUBSCRIBED, _already_subscribed(network_name)
        outcome, ref = "already", f"already:{member.id}:{stamp}"
    else:
        url = f"{settings.base_url}/subscribe/confirm/"
        url += confirmation_token(settings, clock, sign_up, member)
        kind, composer = MailKind.CONFIRMATION, _please_confirm(network_name, url)
        outcome, ref = "confirmation", f"confirm:{member.id}:{stamp}"
    recipient = replace(
        outbox.Recipient.for_member(settings, member), name="", language=sign_up.language
    )
    outbox.enqueue(
        db,
        settings,
        kind=kind.outbox_kind,
        ref=ref,
        recipients=[recipient],
        compose=composer,
        now=now,
    )
    return outcome


def confirm(db: Db, settings: Settings, clock: Clock, confirmation: Confirmation) -> Member:
    """Make the link's member active with the form's choices and the consent given now.

    LinkError as confirmation_member() says: a link works once, and never for a member who
    left or was erased after it was sent (nobody is re-subscribed or re-created by it).
    """
    member = confirmation_member(db, confirmation, lock=True)
    sign_up = confirmation.sign_up
    if member.status == MemberStatus.ACTIVE:  # active when it was sent: she keeps her choices
        return member
    consent = MemberSpec(
        email=sign_up.email,
        name=sign_up.name,
        municipality=sign_up.municipality,
        language=sign_up.language,
        follows=sign_up.follows,
        status=MemberStatus.ACTIVE,
        consent_at=clock.now().replace(microsecond=0),
        consent_source=CONSENT_SOURCE,
        consent_text=consent_text(sign_up.language),
    )
    lookups = members.Lookups.load(db)
    # A series or region removed since the form was sent is simply not followed.
    follows = Follows(
        sign_up.follows.everything,
        frozenset(s for s in sign_up.follows.series if s in lookups.series),
        frozenset(r for r in sign_up.follows.regions if r in lookups.regions),
    )
    municipality = sign_up.municipality if sign_up.municipality in lookups.municipalities else None
    consent = replace(consent, follows=follows, municipality=municipality)
    spec = replace(
        consent,
        phone=member.phone,
        organisation=member.organisation,
        position=member.position,
    )
    members.update_member(db, member, spec, actor=sign_up.email, lookups=lookups)
    member.bounce_count = 0  # the owner just read our e-mail at this address
    return member


def consent_text(lang: str) -> str:
    """The consent wording exactly as the form shows it in `lang`."""
    return gettext_for(lang)(CONSENT_WORDING)


def _mailbox_may_get_one(db: Db, email: str, now: dt.datetime) -> bool:
    """Count one subscription e-mail to the mailbox of `email`; False when it may get none now.

    The mailbox's counter stays locked until the transaction ends, so a concurrent request for
    the same mailbox waits here and then sees this one's e-mail.
    """
    day = dt.timedelta(days=1)
    tally = ratelimit.counter(db, "subscribe-mailbox", mailbox_key(email), now, day)
    if tally.count >= DAILY_LIMIT:
        return False
    if tally.last_at is not None and now - tally.last_at < RESEND_GAP:
        return False
    tally.count += 1
    tally.last_at = now
    return True


def _please_confirm(
    network_name: NetworkName, url: str
) -> Callable[[outbox.Recipient], compose.Content]:
    def content(recipient: outbox.Recipient) -> compose.Content:
        lang = recipient.language
        _ = gettext_for(lang)
        network = network_name(lang)
        subject = _("Confirm your subscription: %(network)s", network=network)
        values = {"network": network, "url": url, "days": CONFIRM_MAX_AGE.days}
        return compose.render(MailKind.CONFIRMATION, lang, subject, values)

    return content


def _already_subscribed(network_name: NetworkName) -> Callable[[outbox.Recipient], compose.Content]:
    def content(recipient: outbox.Recipient) -> compose.Content:
        lang = recipient.language
        _ = gettext_for(lang)
        network = network_name(lang)
        subject = _("You are already subscribed: %(network)s", network=network)
        values = {"network": network, "url": recipient.preferences_url}
        return compose.render(MailKind.ALREADY_SUBSCRIBED, lang, subject, values)

    return content


# -- the member's own changes ---------------------------------------------------------------------


def save_preferences(db: Db, member: Member, language: str, follows: Follows) -> bool:
    """Change a member's language and what they follow; False when nothing changed."""
    spec = replace(members.spec_of(member), language=language, follows=follows)
    return bool(members.update_member(db, member, spec, actor=member.email))


def unsubscribe(db: Db, member: Member) -> bool:
    """The member leaves the mailing; False when they had already.

    The status change ends every confirmation link sent before. Her member links keep working
    (her secret stays): from an old e-mail she can still download or delete her data.
    """
    return members.set_status(db, member, MemberStatus.UNSUBSCRIBED, actor=member.email)


def rotate_feed(db: Db, member: Member) -> str:
    """A new personal feed address; the old one stops working."""
    return members.rotate_feed_token(db, member, actor=member.email)


def my_data(db: Db, settings: Settings, member: Member) -> dict[str, Any]:
    """Everything stored about the member, as JSON-safe data ("download my data")."""
    deliveries = db.execute(
        select(Delivery.kind, Delivery.ref, Delivery.status, Delivery.created_at, Delivery.sent_at)
        .where(Delivery.member_id == member.id)
        .order_by(Delivery.id)
    ).all()

    def iso(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()

    return {
        "member": members.spec_of(member).as_json(),
        "feed_address": f"{settings.base_url}/feeds/{member.feed_token}.ics",
        "bounce_count": member.bounce_count,
        "live_alerts": member.live_alerts,
        "created_at": iso(member.created_at),
        "updated_at": iso(member.updated_at),
        "deliveries": [
            {
                "kind": kind,
                "ref": ref,
                "status": status,
                "created_at": iso(created),
                "sent_at": iso(sent),
            }
            for kind, ref, status, created, sent in deliveries
        ],
        **_taking_part(db, member, iso),
    }


def _taking_part(
    db: Db, member: Member, iso: Callable[[dt.datetime | None], str | None]
) -> dict[str, list[dict[str, Any]]]:
    """The member's registrations, attendance and certificates, for "download my data".

    Feedback answers are not among them: they are stored without a link to anyone.
    """
    registered = db.scalars(
        select(Registration).where(Registration.member_id == member.id).order_by(Registration.id)
    )
    attended = db.scalars(
        select(Attendance).where(Attendance.member_id == member.id).order_by(Attendance.id)
    )
    certified = db.scalars(
        select(Certificate).where(Certificate.member_id == member.id).order_by(Certificate.id)
    )
    return {
        "registrations": [
            {
                "session_id": row.session_id,
                "attendance": row.attendance,
                "status": row.status,
                "created_at": iso(row.created_at),
                "cancelled_at": iso(row.cancelled_at),
            }
            for row in registered
        ],
        "attendance": [
            {
                "session_id": row.session_id,
                "attendance": row.attendance,
                "minutes": row.minutes,
                "source": row.source,
                "marked_at": iso(row.marked_at),
            }
            for row in attended
        ],
        "certificates": [
            {
                "code": row.code,
                "session_id": row.session_id,
                "name": row.name,
                "minutes": row.minutes,
                "issued_at": iso(row.issued_at),
                "revoked_at": iso(row.revoked_at),
            }
            for row in certified
        ],
    }


def delete_me(db: Db, member: Member) -> None:
    """Erase the member at their own request (anonymous delivery counts stay).

    Her link secret goes with her row and her id is never given again, so every link she was
    sent (member links and confirmations) stops working.
    """
    members.erase_member(db, member, actor="member (self-service)")
