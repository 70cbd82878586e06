"""Whether each livestream provider may be called now: ok, quota spent, or credentials revoked.

A broken provider is reported once, when its state changes, not on every job run.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session as Db

from vcs.providers.provider import CredentialsRevoked, LivestreamError, QuotaExceeded
from vcs.states import ProviderState
from vcs.storage.models import ProviderHealth

log = logging.getLogger(__name__)

QUOTA_PAUSE_DEFAULT = dt.timedelta(hours=1)


def blocked(db: Db, provider: str, now: dt.datetime) -> ProviderHealth | None:
    """The health row that says the provider must not be called now, or None."""
    health = db.get(ProviderHealth, provider)
    if health is None or health.state == ProviderState.OK:
        return None
    if health.state == ProviderState.QUOTA and health.until is not None and health.until <= now:
        mark_ok(db, provider)
        return None
    return health


def record_failure(db: Db, provider: str, error: LivestreamError, now: dt.datetime) -> bool:
    """Remember a provider-wide failure; True when it is new (and so worth one log line)."""
    if isinstance(error, CredentialsRevoked):
        state, fix, until = ProviderState.REVOKED, error.fix_command, None
    elif isinstance(error, QuotaExceeded):
        state, fix = ProviderState.QUOTA, ""
        until = now + (error.retry_after or QUOTA_PAUSE_DEFAULT)
    else:
        return False
    health = db.get(ProviderHealth, provider) or ProviderHealth(provider=provider)
    is_new = health.state != state
    health.state, health.message, health.fix_command = state, str(error), fix
    health.until = until
    if is_new:
        health.since = now
        hint = f"; fix it with `{fix}`" if fix else ""
        log.error("livestream provider %s: %s%s", provider, error, hint)
    db.add(health)
    db.flush()
    return is_new


def mark_ok(db: Db, provider: str) -> None:
    """The provider works again (credentials renewed, quota reset)."""
    health = db.get(ProviderHealth, provider)
    if health is not None and health.state != ProviderState.OK:
        log.info("livestream provider %s works again", provider)
        health.state, health.message, health.fix_command = ProviderState.OK, "", ""
        health.since, health.until = None, None
