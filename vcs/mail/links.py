"""Per-member links in every e-mail: unsubscribe and preferences, each with a signed token.

A token is the member's id and the member's `link_secret`, signed with the installation's key.
It never expires, so a link in an old e-mail keeps working, but only while that member exists
with that secret: erasing the member deletes the secret, and ids are never given again, so an
old e-mail of an erased member opens nothing (docs/subscriptions.md#the-links). The signature
lets a bad link be refused without a database read; the secret is what a leaked or default
signing key cannot forge.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from vcs.config import Settings
from vcs.storage.models import Member

SALT = "vcs.mail.member-links"


@dataclass(frozen=True)
class MemberToken:
    """What a member token says: whose it is and the secret it was made with."""

    member_id: int
    secret: str

    def opens(self, member: Member | None) -> bool:
        """Whether the token is this member's, as the member is now."""
        return (
            member is not None
            and member.id == self.member_id
            and hmac.compare_digest(member.link_secret.encode(), self.secret.encode())
        )


class OutdatedToken(Exception):
    """A token made before links were bound to the member (only the id, signed)."""


def _serializer(settings: Settings) -> URLSafeSerializer:
    return _serializer_for(settings.signing_key)


@functools.lru_cache(maxsize=8)
def _serializer_for(signing_key: str) -> URLSafeSerializer:
    # Made once per key: a mailing signs a token for each of thousands of members. The
    # serializer keeps no state between calls, so one is shared.
    return URLSafeSerializer(signing_key, salt=SALT)


def member_token(settings: Settings, member: Member) -> str:
    """The token in a member's unsubscribe and preferences links."""
    return str(_serializer(settings).dumps([member.id, member.link_secret]))


def read_member_token(settings: Settings, token: str) -> MemberToken | None:
    """What a token says, or None when we did not sign it; OutdatedToken for an old link."""
    try:
        value = _serializer(settings).loads(token)
    except BadSignature:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        raise OutdatedToken(token)
    match value:
        case [int(member_id), str(secret)] if not isinstance(member_id, bool):
            return MemberToken(member_id, secret)
    return None


def member_urls(settings: Settings, member: Member) -> tuple[str, str]:
    """The member's unsubscribe and preferences links, with one token signed for both."""
    token = member_token(settings, member)
    return f"{settings.base_url}/unsubscribe/{token}", f"{settings.base_url}/preferences/{token}"


def unsubscribe_url(settings: Settings, member: Member) -> str:
    """/unsubscribe/{token}: GET shows a confirmation, POST (RFC 8058 one-click) unsubscribes."""
    return f"{settings.base_url}/unsubscribe/{member_token(settings, member)}"


def preferences_url(settings: Settings, member: Member) -> str:
    """/preferences/{token}: which series and regions the member follows, and the language."""
    return f"{settings.base_url}/preferences/{member_token(settings, member)}"
