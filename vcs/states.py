"""Every state a stored thing can be in, one enum per thing.

The values are what the database holds (a `StrEnum` compares equal to its value), so a column
read back as a plain string still matches `SessionStatus.CANCELLED`; the enums exist so that a
misspelt state is a name error rather than a silently false comparison.
"""

from __future__ import annotations

from enum import StrEnum


class SessionStatus(StrEnum):
    """Whether a session takes place; a cancelled one stays in feeds as STATUS:CANCELLED."""

    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class LiveStatus(StrEnum):
    """Where a session's broadcast stands, as the provider last said it."""

    UPCOMING = "upcoming"
    LIVE = "live"
    ENDED = "ended"


class LivestreamStatus(StrEnum):
    """A session's livestream at its provider: vcs intends one, it exists, it runs, it is over."""

    INTENDED = "intended"
    CREATED = "created"
    LIVE = "live"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    ERROR = "error"


class ProviderState(StrEnum):
    """A provider's health: usable, out of quota until a time, or its credentials revoked."""

    OK = "ok"
    QUOTA = "quota"
    REVOKED = "revoked"


class MemberStatus(StrEnum):
    """A member's place in double opt-in and afterwards."""

    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"


class DeliveryStatus(StrEnum):
    """One message to one recipient in the outbox."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED_TEMPORARY = "failed-temporary"
    FAILED_PERMANENT = "failed-permanent"
    CANCELLED = "cancelled"


class DigestStatus(StrEnum):
    """A weekly info-letter: written, approved by a second person, sent."""

    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"


# Members in these states get nothing more.
OPTED_OUT = (MemberStatus.UNSUBSCRIBED, MemberStatus.BOUNCED)
