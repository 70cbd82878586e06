"""Per-member links in every e-mail: unsubscribe and preferences, each with a signed token."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from vcs.config import Settings

# The token is the member's id, signed: it never expires, so a link in an old e-mail still works.
SALT = "vcs.mail.member-links"


def _serializer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.signing_key, salt=SALT)


def member_token(settings: Settings, member_id: int) -> str:
    """The token in a member's unsubscribe and preferences links."""
    return str(_serializer(settings).dumps(member_id))


def member_from_token(settings: Settings, token: str) -> int | None:
    """The member id a token stands for, or None when it was not signed by us."""
    try:
        value = _serializer(settings).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def unsubscribe_url(settings: Settings, member_id: int) -> str:
    """/unsubscribe/{token}: GET shows a confirmation, POST (RFC 8058 one-click) unsubscribes."""
    return f"{settings.base_url}/unsubscribe/{member_token(settings, member_id)}"


def preferences_url(settings: Settings, member_id: int) -> str:
    """/preferences/{token}: which series and regions the member follows, and the language."""
    return f"{settings.base_url}/preferences/{member_token(settings, member_id)}"
