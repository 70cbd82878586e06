"""The interface every livestream provider implements, and the errors it may raise."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class BroadcastPlan:
    """What the broadcast of one session should look like at the provider."""

    session_id: int
    uid: str
    title: str
    description: str
    start: dt.datetime
    end: dt.datetime
    page_url: str
    # The series' livestream settings (privacy, stream id, URL templates, ...).
    settings: dict[str, Any] = field(default_factory=dict)
    # The session's local date, for URL templates.
    local_date: str = ""
    series_slug: str = ""


@dataclass(frozen=True)
class BroadcastState:
    """What the provider says about a broadcast."""

    external_id: str
    # created (scheduled, not started), live, complete
    status: str
    watch_url: str = ""
    embed_url: str = ""
    recording_url: str = ""
    actual_start: dt.datetime | None = None
    actual_end: dt.datetime | None = None
    # Fields someone changed at the provider (by hand) that no longer match the plan.
    drift: tuple[str, ...] = ()
    # Provider-specific facts worth keeping (e.g. the YouTube stream the broadcast is bound to).
    details: dict[str, Any] = field(default_factory=dict)


class LivestreamError(Exception):
    """A provider call failed. `retryable` says whether trying later may help."""

    retryable = True

    def __init__(self, message: str, *, retry_after: dt.timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(LivestreamError):
    """5xx, a timeout or a dropped connection: try again with backoff."""


class QuotaExceeded(LivestreamError):
    """The provider's daily quota is spent (or would be): stop until it resets."""


class CredentialsRevoked(LivestreamError):
    """The stored credential no longer works; a person must run `fix_command`."""

    retryable = False

    def __init__(self, message: str, fix_command: str) -> None:
        super().__init__(message)
        self.fix_command = fix_command


class BroadcastGone(LivestreamError):
    """The broadcast was deleted at the provider (by hand, or long ago)."""

    retryable = False


class RequestRejected(LivestreamError):
    """The provider refused the request as invalid (a 4xx other than quota or auth)."""

    retryable = False


class QuotaMeter(Protocol):
    """Counts the API units a provider spends, and refuses a call that would overspend."""

    def spend(self, units: int) -> None:
        """Count `units` about to be spent; raise QuotaExceeded when the budget cannot take them."""
        ...


class LivestreamProvider(Protocol):
    """A few methods per provider; the jobs in vcs/livestream/jobs.py call nothing else."""

    name: str

    def find(self, plan: BroadcastPlan) -> BroadcastState | None:
        """The broadcast made earlier for this session, if any (so a retry never makes two)."""
        ...

    def create(self, plan: BroadcastPlan) -> BroadcastState:
        """Make the broadcast for a session."""
        ...

    def update(self, external_id: str, plan: BroadcastPlan) -> BroadcastState:
        """Bring the broadcast in line with the session (moved, retitled, hand-edited)."""
        ...

    def cancel(self, external_id: str) -> None:
        """The session was cancelled: remove (or end) its broadcast. Gone already is fine."""
        ...

    def statuses(
        self, broadcasts: Sequence[tuple[str, BroadcastPlan]], now: dt.datetime
    ) -> dict[str, BroadcastState]:
        """Where each (external id, plan) broadcast is in its life, in as few calls as possible.

        A broadcast missing from the answer is gone at the provider.
        """
        ...
