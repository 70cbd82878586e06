"""The interface every livestream provider implements, the errors it may raise, and how it
describes itself to the registry (vcs/providers/registry.py): `ProviderKind` and `SeriesKey`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from vcs import text
from vcs.errors import Problem
from vcs.i18n import N_

if TYPE_CHECKING:
    from vcs.config import Settings
    from vcs.context import Context

MUST_BE_ONE_OF = N_("must be one of %(choices)s, not %(value)r")
NOT_HTTP = N_("%(url)r is not an http(s) address")


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


# What a series says about its broadcasts, checked: the problem with one value, or None.
Check = Callable[[Any], Problem | None]


def check_url(value: Any) -> Problem | None:
    """An http(s) address as a series gives it (empty: none)."""
    if value and not (isinstance(value, str) and value.startswith(("https://", "http://"))):
        return Problem("series.url.scheme", NOT_HTTP, {"url": value})
    return text.url_problem(value, "") if isinstance(value, str) else None


@dataclass(frozen=True)
class SeriesKey:
    """One key of a series' `livestream` table: what it is called, how the staff form shows it,
    and how a value is checked (in a series file and in the form alike)."""

    name: str
    # The form's label and hint, English source marked with N_ (translated where shown).
    label: str
    # The form's control: "url", "text" or "choice".
    kind: str = "text"
    # A choice's values and their labels (N_).
    choices: tuple[tuple[str, str], ...] = ()
    hint: str = ""
    # What an absent key means; the form leaves a key out of the series when it is this.
    default: str = ""
    # The extra check of a given value; a url is an http(s) address, a choice one of the values.
    check: Check | None = None
    # The form field's name when it is not `name` (form fields of all providers share one form).
    field: str = ""

    @property
    def form_field(self) -> str:
        """The name of the staff form's field for this key."""
        return self.field or self.name

    def problem(self, value: Any) -> Problem | None:
        """What is wrong with `value` given for this key, without its place; None when fine."""
        if self.kind == "url":
            found = check_url(value)
            if found is not None:
                return found
        if self.kind == "choice" and value not in {choice for choice, _label in self.choices}:
            choices = ", ".join(choice for choice, _label in self.choices)
            return Problem(
                f"series.livestream.{self.name}",
                MUST_BE_ONE_OF,
                {"choices": choices, "value": value},
            )
        return self.check(value) if self.check is not None else None


# Builds the provider for one job run; `meter` counts the API units it spends.
Factory = Callable[["Context", QuotaMeter], LivestreamProvider]


@dataclass(frozen=True)
class ProviderKind:
    """Everything vcs knows about one provider, in the provider's own file: the registry reads
    it for the series checks, the staff form, the jobs and `vcs livestream status`."""

    # The name series files and the database use ("youtube").
    name: str
    # The staff form's label of the provider (N_).
    label: str
    # The keys of a series' `livestream` table besides `provider`, in the form's order.
    keys: tuple[SeriesKey, ...]
    factory: Factory
    # The API units it may spend a day, from the settings; None for a provider that counts none.
    daily_quota: Callable[[Settings], int] | None = None
    # The settings it reads (documentation, and a test that each exists).
    settings: tuple[str, ...] = ()

    def key(self, name: str) -> SeriesKey | None:
        """The key `name` of a series' livestream table for this provider, if it has one."""
        return next((key for key in self.keys if key.name == name), None)
