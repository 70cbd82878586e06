"""The member directory: who the members are, what they follow, their feed tokens, erasure."""

from __future__ import annotations

import datetime as dt
import difflib
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import String, cast, literal, null, or_, select, update
from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import selectinload

from vcs import audit, states, text
from vcs.errors import OR, Joined, Problem, VcsError
from vcs.i18n import N_
from vcs.states import MemberStatus
from vcs.storage.models import AuditEntry, Delivery, Member, Municipality, Region, Series

STATUSES = tuple(MemberStatus)
LANGUAGES = ("lv", "en")
# A member's own "no" and the mail server's verdict; a staff file does not undo them.
OPTED_OUT = states.OPTED_OUT
MAX_LENGTHS = {
    "email": 254, "name": 200, "phone": 64, "organisation": 300, "position": 300,
    "consent_source": 64, "consent_text": 20_000,
}  # fmt: skip
# How the door (a member file, a form) cleans each free-text field; see vcs/text.py.
TEXT_KINDS = {
    "name": text.NAME, "organisation": text.TITLE, "position": text.TITLE,
    "consent_source": text.SHORT, "consent_text": text.TEXT,
}  # fmt: skip
# The fields of a member that staff and files describe (the feed token and counts are not).
FIELDS = (
    "email", "name", "phone", "municipality", "organisation", "position", "language", "follows",
    "status", "consent_at", "consent_source", "consent_text",
)  # fmt: skip
# RFC 5321 atoms: what an unquoted ASCII local part may hold.
LOCAL_PART = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
DOMAIN_LABEL = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)$")
# Spreadsheets read a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@")


MISSING = N_("missing")
TOO_LONG = N_("longer than %(limit)s characters")
LANGUAGE = N_("must be lv or en, not %(value)r")
MUST_BE_ONE_OF = N_("must be one of %(choices)s, not %(value)r")
NOT_A_DOMAIN = N_("%(address)r: %(domain)r is not a domain name")


class MemberError(VcsError):
    """One problem with one field of a member, code `member.<what>`, placed under the field (a
    member file's column, a form's field)."""

    def __init__(self, field: str, code: str, message: str, **params: Any) -> None:
        super().__init__([Problem(f"member.{code}", message, params, (field,), field)])


@dataclass(frozen=True)
class Follows:
    """What a member follows: everything, or some series and planning regions (by slug).

    A followed region means that region's sessions plus the national ones (see feeds).
    """

    everything: bool = True
    series: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if self.everything:
            return "all"
        parts = [f"region:{slug}" for slug in sorted(self.regions)]
        parts += [f"series:{slug}" for slug in sorted(self.series)]
        return "|".join(parts) or "none"


EVERYTHING = Follows(True)
NOTHING = Follows(False)


@dataclass(frozen=True)
class MemberSpec:
    """A member as a file or a form describes it, checked but not yet saved."""

    email: str
    name: str
    phone: str = ""
    municipality: str | None = None  # slug
    organisation: str = ""
    position: str = ""
    language: str = "lv"
    follows: Follows = EVERYTHING
    status: str = MemberStatus.PENDING
    # Whole seconds: files keep no more, so a round trip compares equal.
    consent_at: dt.datetime | None = None
    consent_source: str = ""
    consent_text: str = ""

    def as_json(self) -> dict[str, Any]:
        """The values as JSON-safe data (for the audit log and "download my data")."""
        values = asdict(self)
        values["follows"] = str(self.follows)
        values["consent_at"] = self.consent_at.isoformat() if self.consent_at else None
        return values


@dataclass(frozen=True)
class Saved:
    member: Member
    outcome: str  # created, updated, unchanged
    changed: tuple[str, ...] = field(default=())


# -- e-mail addresses ----------------------------------------------------------------------------


def normalise_email(text: str) -> str:
    """The address as the directory keys it: trimmed and all lower case; MemberError if invalid.

    The local part is lower-cased too. RFC 5321 lets a server treat it case-sensitively, but no
    mailbox provider our members use does, while spreadsheets and people do mix the case: keeping
    it would let "Anna.Ozola@" and "anna.ozola@" become two members with one inbox.
    """
    address = text.strip()
    if address.lower().startswith("mailto:"):
        address = address[len("mailto:") :].strip()
    if not address:
        raise MemberError("email", "missing", MISSING)
    if "<" in address or ">" in address:
        raise MemberError(
            "email",
            "email.with-name",
            N_("%(address)r: write the address alone, without a name"),
            address=text.strip(),
        )
    if any(char.isspace() for char in address):
        raise MemberError(
            "email", "email.space", N_("%(address)r contains a space"), address=address
        )
    if address.count("@") != 1:
        raise MemberError(
            "email",
            "email.no-at",
            N_("%(address)r is not an e-mail address (it needs one @)"),
            address=address,
        )
    local, domain = address.lower().split("@")
    if not local or not domain:
        raise MemberError(
            "email", "email.invalid", N_("%(address)r is not an e-mail address"), address=address
        )
    if local.startswith(FORMULA_START):
        raise MemberError(
            "email",
            "email.formula",
            N_("%(address)r starts with %(start)r"),
            address=address,
            start=local[0],
        )
    if not local.isascii():
        raise MemberError(
            "email",
            "email.diacritics",
            N_("%(address)r: letters with diacritics before the @ are not deliverable"),
            address=address,
        )
    if len(local) > 64 or not LOCAL_PART.match(local):
        raise MemberError(
            "email",
            "email.local-part",
            N_("%(address)r: the part before the @ is not valid"),
            address=address,
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(DOMAIN_LABEL.match(label) for label in labels):
        raise MemberError("email", "email.domain", NOT_A_DOMAIN, address=address, domain=domain)
    if "_" in domain or labels[-1].isdigit():
        raise MemberError("email", "email.domain", NOT_A_DOMAIN, address=address, domain=domain)
    normal = f"{local}@{domain}"
    if len(normal) > MAX_LENGTHS["email"]:
        raise MemberError("email", "too-long", TOO_LONG, limit=MAX_LENGTHS["email"])
    return normal


# -- look-ups ------------------------------------------------------------------------------------


def fold(text: str) -> str:
    """Text compared loosely: case, diacritics and runs of spaces ignored ("Cēsu" = "cesu")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


@dataclass
class Lookups:
    """The municipalities, regions and series by slug, read once for many members."""

    municipalities: dict[str, Municipality]
    regions: dict[str, Region]
    series: dict[str, Series]
    _names: dict[str, Municipality] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, db: Db) -> Lookups:
        lookups = cls(
            municipalities={m.slug: m for m in db.scalars(select(Municipality))},
            regions={r.slug: r for r in db.scalars(select(Region))},
            series={s.slug: s for s in db.scalars(select(Series))},
        )
        for municipality in lookups.municipalities.values():
            lookups._names[fold(municipality.slug)] = municipality
            lookups._names[fold(municipality.name)] = municipality
        return lookups

    def municipality(self, text: str) -> Municipality:
        """A municipality by slug or name (any case, with or without diacritics)."""
        found = self._names.get(fold(text))
        if found is not None:
            return found
        choices = {fold(m.name): m for m in sorted(self.municipalities.values(), key=_by_name)}
        close = difflib.get_close_matches(fold(text), choices, n=1, cutoff=0.6)
        # A town ("Cēsis") is not close to its novads ("Cēsu novads") by difflib's measure,
        # but shares its first letters.
        close = close or [name for name in choices if name[:3] == fold(text)[:3]][:3]
        if close:
            names = Joined(tuple(f"{choices[n].name!r} ({choices[n].slug})" for n in close), OR)
            raise MemberError(
                "municipality",
                "municipality.unknown",
                N_(
                    "unknown municipality %(name)r (did you mean %(names)s?); give its name or "
                    "slug from config/network.toml"
                ),
                name=text,
                names=names,
            )
        raise MemberError(
            "municipality",
            "municipality.unknown",
            N_("unknown municipality %(name)r; give its name or slug from config/network.toml"),
            name=text,
        )


# -- reading and saving ---------------------------------------------------------------------------


def find_by_email(db: Db, email: str) -> Member | None:
    """The member with this address (normalised first), or None."""
    try:
        normal = normalise_email(email)
    except MemberError:
        return None
    return db.scalars(select(Member).where(Member.email == normal)).first()


def find_by_feed_token(db: Db, token: str) -> Member | None:
    """The member whose personal feed is /feeds/{token}.ics, or None."""
    return db.scalars(select(Member).where(Member.feed_token == token)).first()


def find_by_emails(db: Db, emails: Iterable[str]) -> dict[str, Member]:
    """Members by normalised address, with what they follow loaded (for many at once)."""
    wanted = sorted(set(emails))
    found: dict[str, Member] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = (
            select(Member)
            .where(Member.email.in_(chunk))
            .options(
                selectinload(Member.municipality),
                selectinload(Member.followed_series),
                selectinload(Member.followed_regions),
            )
        )
        found.update((member.email, member) for member in db.scalars(query))
    return found


def spec_of(member: Member) -> MemberSpec:
    """A saved member as a spec: what export writes and what a change is compared with."""
    if member.follows_all:
        follows = EVERYTHING
    else:
        follows = Follows(
            False,
            frozenset(s.slug for s in member.followed_series),
            frozenset(r.slug for r in member.followed_regions),
        )
    consent_at = member.consent_at.replace(microsecond=0) if member.consent_at else None
    return MemberSpec(
        email=member.email,
        name=member.name,
        phone=member.phone,
        municipality=member.municipality.slug if member.municipality else None,
        organisation=member.organisation,
        position=member.position,
        language=member.language,
        follows=follows,
        status=member.status,
        consent_at=consent_at,
        consent_source=member.consent_source,
        consent_text=member.consent_text,
    )


def check_spec(spec: MemberSpec, lookups: Lookups) -> None:
    """Raise MemberError for the first value the directory cannot store."""
    if spec.email != normalise_email(spec.email):
        raise MemberError(
            "email",
            "email.not-normalised",
            N_("%(address)r is not normalised"),
            address=spec.email,
        )
    if not spec.name.strip():
        raise MemberError("name", "missing", MISSING)
    for key, limit in MAX_LENGTHS.items():
        if len(getattr(spec, key)) > limit:
            raise MemberError(key, "too-long", TOO_LONG, limit=limit)
    if spec.language not in LANGUAGES:
        raise MemberError("language", "language", LANGUAGE, value=spec.language)
    if spec.status not in STATUSES:
        raise status_error(spec.status)
    if spec.municipality is not None and spec.municipality not in lookups.municipalities:
        raise MemberError(
            "municipality",
            "municipality.unknown",
            N_("unknown municipality %(municipality)r"),
            municipality=spec.municipality,
        )
    if spec.follows.everything and (spec.follows.series or spec.follows.regions):
        raise MemberError(
            "follows",
            "follows.everything",
            N_("everything already includes every series and region"),
        )
    for slug in sorted(spec.follows.series):
        if slug not in lookups.series:
            raise MemberError(
                "follows", "follows.unknown", N_("unknown series %(slug)r"), slug=slug
            )
    for slug in sorted(spec.follows.regions):
        if slug not in lookups.regions:
            raise MemberError(
                "follows", "follows.unknown", N_("unknown planning region %(slug)r"), slug=slug
            )
    if spec.consent_at is not None and spec.consent_at.tzinfo is None:
        raise MemberError("consent_at", "consent-at.naive", N_("needs a time zone"))


def status_error(status: str) -> MemberError:
    """The problem with a status that is not one of STATUSES."""
    return MemberError(
        "status", "status", MUST_BE_ONE_OF, choices=", ".join(STATUSES), value=status
    )


def differences(member: Member, spec: MemberSpec) -> tuple[str, ...]:
    """The fields (in FIELDS order) where `spec` differs from the saved member."""
    saved = spec_of(member)
    return tuple(key for key in FIELDS if getattr(saved, key) != getattr(spec, key))


def new_feed_token() -> str:
    """A fresh, unguessable feed token (the secret in /feeds/{token}.ics)."""
    return secrets.token_urlsafe(24)


def create_members(
    db: Db, specs: Sequence[MemberSpec], actor: str, lookups: Lookups | None = None
) -> list[Member]:
    """Create members (their addresses must be new) with fresh feed tokens; one flush for all."""
    lookups = lookups or Lookups.load(db)
    members = []
    for spec in specs:
        check_spec(spec, lookups)
        member = Member(email=spec.email, feed_token=new_feed_token(), bounce_count=0)
        _apply(member, spec, FIELDS, lookups)
        members.append(member)
    db.add_all(members)
    db.flush()
    for member, spec in zip(members, specs, strict=True):
        audit.record(db, actor, "create", "member", member.id, after=spec.as_json())
    return members


def create_member(db: Db, spec: MemberSpec, actor: str, lookups: Lookups | None = None) -> Member:
    """Create one member with a fresh feed token."""
    return create_members(db, [spec], actor, lookups)[0]


def update_member(
    db: Db, member: Member, spec: MemberSpec, actor: str, lookups: Lookups | None = None
) -> tuple[str, ...]:
    """Make `member` what `spec` says; return the changed fields. The feed token stays."""
    lookups = lookups or Lookups.load(db)
    check_spec(spec, lookups)
    before = spec_of(member)
    changed = differences(member, spec)
    if not changed:
        return ()
    _apply(member, spec, changed, lookups)
    old, new = before.as_json(), spec.as_json()
    audit.record(
        db,
        actor,
        "update",
        "member",
        member.id,
        before={key: old[key] for key in changed},
        after={key: new[key] for key in changed},
    )
    return changed


def save_member(db: Db, spec: MemberSpec, actor: str, lookups: Lookups | None = None) -> Saved:
    """Create the member `spec.email` or update it; say which, and what changed."""
    member = db.scalars(select(Member).where(Member.email == spec.email)).first()
    if member is None:
        return Saved(create_member(db, spec, actor, lookups), "created", FIELDS)
    changed = update_member(db, member, spec, actor, lookups)
    return Saved(member, "updated" if changed else "unchanged", changed)


def set_follows(
    db: Db, member: Member, follows: Follows, actor: str, lookups: Lookups | None = None
) -> bool:
    """Change what a member follows; False when it was that already."""
    return bool(
        update_member(db, member, replace(spec_of(member), follows=follows), actor, lookups)
    )


def set_status(db: Db, member: Member, status: str, actor: str) -> bool:
    """Confirm (active), unsubscribe or mark bounced; False when it was that already."""
    if status not in STATUSES:
        raise status_error(status)
    if member.status == status:
        return False
    audit.record(
        db, actor, "update", "member", member.id, {"status": member.status}, {"status": status}
    )
    member.status = status
    return True


def rotate_feed_token(db: Db, member: Member, actor: str) -> str:
    """Give the member a new feed token; the old feed address stops working at once."""
    member.feed_token = new_feed_token()
    # The token is a secret: the audit log says that it changed, not what it is.
    audit.record(db, actor, "rotate-feed-token", "member", member.id)
    return member.feed_token


def erase_member(db: Db, member: Member, actor: str) -> None:
    """Delete a member and every trace of who they were; keep only anonymous delivery counts.

    Their deliveries stay (kind, reference, status, times: what the figures count) with the
    address replaced by a unique placeholder at the reserved .invalid domain (RFC 2606) and the
    stored message emptied; the audit log keeps that member N was created, changed and erased,
    without the values.
    """
    member_id, email = member.id, member.email
    placeholder = literal("erased-", String) + cast(Delivery.id, String) + literal("@invalid")
    db.execute(
        update(Delivery)
        .where(or_(Delivery.member_id == member_id, Delivery.to_address == email))
        .values(to_address=placeholder, member_id=None, last_error="", raw_message=b"")
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(AuditEntry)
        .where(AuditEntry.entity == "member", AuditEntry.entity_id == str(member_id))
        .values(before=null(), after=null())
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(AuditEntry)
        .where(AuditEntry.actor == email)
        .values(actor="erased member")
        .execution_options(synchronize_session=False)
    )
    db.delete(member)
    db.flush()
    audit.record(db, actor, "erase", "member", member_id)


def _by_name(municipality: Municipality) -> str:
    return fold(municipality.name)


def _apply(member: Member, spec: MemberSpec, keys: Iterable[str], lookups: Lookups) -> None:
    for key in keys:
        if key == "municipality":
            found = lookups.municipalities.get(spec.municipality) if spec.municipality else None
            member.municipality = found
            member.municipality_id = found.id if found else None
        elif key == "follows":
            member.follows_all = spec.follows.everything
            member.followed_series = [lookups.series[s] for s in sorted(spec.follows.series)]
            member.followed_regions = [lookups.regions[r] for r in sorted(spec.follows.regions)]
        else:
            setattr(member, key, getattr(spec, key))
