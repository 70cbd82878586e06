"""The embedded default: fixed links (a Jitsi room, the network's own player), no credentials."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vcs.errors import Problem
from vcs.i18n import N_
from vcs.providers.provider import (
    BroadcastPlan,
    BroadcastState,
    LivestreamProvider,
    ProviderKind,
    QuotaMeter,
    SeriesKey,
)

if TYPE_CHECKING:
    from vcs.context import Context

PLACEHOLDERS = ("date", "slug", "id")
# A brace that is not one of the placeholders: nothing would fill it in.
_OTHER_BRACE = re.compile(r"\{(?!(?:date|slug|id)\})[^}]*\}")


def fill(template: str, plan: BroadcastPlan) -> str:
    """Fill {date}, {slug} and {id} in a URL template; other braces stay as they are."""
    values = {"date": plan.local_date, "slug": plan.series_slug, "id": str(plan.session_id)}
    for name in PLACEHOLDERS:
        template = template.replace("{" + name + "}", values[name])
    return template


class StaticProvider:
    """Links from the series' settings; the clock decides when a session is live."""

    name = "static"

    def _state(self, plan: BroadcastPlan, status: str) -> BroadcastState:
        settings = plan.settings
        return BroadcastState(
            external_id=f"static:{plan.session_id}",
            status=status,
            watch_url=fill(str(settings.get("watch_url", "")), plan),
            embed_url=fill(str(settings.get("embed_url", "")), plan),
            recording_url=fill(str(settings.get("recording_url", "")), plan)
            if status == "complete"
            else "",
        )

    def find(self, plan: BroadcastPlan) -> BroadcastState | None:
        return None

    def create(self, plan: BroadcastPlan) -> BroadcastState:
        return self._state(plan, "created")

    def update(self, external_id: str, plan: BroadcastPlan) -> BroadcastState:
        return self._state(plan, "created")

    def cancel(self, external_id: str) -> None:
        return None

    def statuses(
        self, broadcasts: Sequence[tuple[str, BroadcastPlan]], now: dt.datetime
    ) -> dict[str, BroadcastState]:
        return {external_id: self._status(plan, now) for external_id, plan in broadcasts}

    def _status(self, plan: BroadcastPlan, now: dt.datetime) -> BroadcastState:
        if now < plan.start:
            return self._state(plan, "created")
        if now < plan.end:
            return self._state(plan, "live")
        return self._state(plan, "complete")


def check_template(value: Any) -> Problem | None:
    """A URL template fills only {date}, {slug} and {id} (checked after check_url)."""
    if isinstance(value, str) and _OTHER_BRACE.search(value):
        return Problem(
            "series.url.placeholder", N_("only {date}, {slug} and {id} can be filled in")
        )
    return None


def _provider(context: Context, meter: QuotaMeter) -> LivestreamProvider:
    return StaticProvider()


KIND = ProviderKind(
    name="static",
    label=N_("a fixed link (e.g. Jitsi)"),
    keys=(
        SeriesKey(
            "watch_url",
            N_("Watch link"),
            kind="url",
            hint=N_("{date}, {slug} and {id} are filled in for each session."),
            check=check_template,
        ),
        SeriesKey("embed_url", N_("Player address"), kind="url", check=check_template),
        SeriesKey("recording_url", N_("Recording link"), kind="url", check=check_template),
    ),
    factory=_provider,
)
