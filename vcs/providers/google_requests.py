"""One request to a Google API, as every Google adapter sends it: spend the quota, send, retry
what may pass later (5xx, 429, a dropped connection, a sign-in hiccup) with a growing wait, and
turn the rest into the provider errors the jobs understand."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httplib2  # type: ignore[import-untyped]
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from vcs.clock import Clock, SystemClock
from vcs.providers.provider import CredentialsRevoked, LivestreamError, QuotaMeter, TransientError


@dataclass(frozen=True)
class GoogleApi:
    """What differs between the Google adapters: their name in messages and their fixes."""

    service: str  # "YouTube", "Google Calendar": how messages name the API
    sign_in: str  # "YouTube", "Calendar": how messages name the stored sign-in
    fix_command: str
    # The provider error for an HTTP error of a request (quota, revoked, gone, transient...).
    http_error: Callable[[str, HttpError, dt.datetime], LivestreamError]


class GoogleClient:
    """What every Google adapter holds: the API's service object, the quota meter, the retries
    and the clock; subclasses say which API they are and what each method costs."""

    def __init__(
        self,
        service: Any,
        meter: QuotaMeter,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 3,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.service = service
        self.meter = meter
        self.sleep = sleep
        self.attempts = max(1, attempts)
        self.clock = clock or SystemClock()

    @property
    def api(self) -> GoogleApi:
        raise NotImplementedError

    def cost(self, name: str) -> int:
        """Quota units API method `name` spends."""
        raise NotImplementedError

    def _call(self, name: str, request: Any) -> Any:
        """Spend the units, send the request; retry what may pass later, map the rest."""
        return execute(
            self.api,
            name,
            request,
            attempts=self.attempts,
            spend=lambda: self.meter.spend(self.cost(name)),
            sleep=self.sleep,
            now=self.clock.now,
        )


def execute(
    api: GoogleApi,
    name: str,
    request: Any,
    *,
    attempts: int,
    spend: Callable[[], None],
    sleep: Callable[[float], None],
    now: Callable[[], dt.datetime],
) -> Any:
    """Send `request` (API method `name`), trying up to `attempts` times."""
    error: LivestreamError | None = None
    for attempt in range(1, attempts + 1):
        spend()
        try:
            return request.execute()
        except HttpError as exc:
            error = api.http_error(name, exc, now())
            if not isinstance(error, TransientError):
                raise error from exc
        except RefreshError as exc:
            detail = exc.args[0] if exc.args else type(exc).__name__
            if not exc.retryable:
                message = f"Google refused the stored {api.sign_in} token ({detail})"
                raise CredentialsRevoked(message, api.fix_command) from exc
            error = TransientError(f"Google sign-in failed during {name}: {detail}")
        except (OSError, httplib2.HttpLib2Error, TransportError) as exc:
            # OSError covers TimeoutError (socket.timeout), ConnectionError and TLS errors.
            detail = str(exc) or type(exc).__name__
            error = TransientError(f"{api.service} did not answer {name}: {detail}")
        if attempt < attempts:
            sleep(2 ** (attempt - 1))
    raise TransientError(f"{error}; gave up after {attempts} attempts")


def reasons(content: bytes) -> list[str]:
    """The machine-readable reasons in Google's error body (errors[].reason, details[].reason)."""
    try:
        error = json.loads(content).get("error", {})
    except (ValueError, AttributeError):
        return []
    if not isinstance(error, dict):
        return []
    items = [*error.get("errors", []), *error.get("details", [])]
    return [str(item["reason"]) for item in items if isinstance(item, dict) and item.get("reason")]
