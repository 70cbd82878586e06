"""Which provider object serves a series: built once per job run, on first use."""

from __future__ import annotations

from collections.abc import Callable

from vcs.context import Context
from vcs.livestream.provider import LivestreamProvider, QuotaMeter
from vcs.livestream.quota import DatabaseMeter
from vcs.livestream.static import StaticProvider

ProviderFactory = Callable[[Context, QuotaMeter], LivestreamProvider]


def _static(context: Context, meter: QuotaMeter) -> LivestreamProvider:
    return StaticProvider()


def _youtube(context: Context, meter: QuotaMeter) -> LivestreamProvider:
    from vcs.livestream.youtube import youtube_from_settings

    return youtube_from_settings(context.settings, meter)


DEFAULT_FACTORIES: dict[str, ProviderFactory] = {"static": _static, "youtube": _youtube}


def daily_quota(name: str, context: Context) -> int | None:
    """Units a provider may spend a day; None for a provider that spends none."""
    if name == "youtube":
        return context.settings.livestream.youtube_daily_quota
    return None


class Providers:
    """Providers by name for one job run. Building one may raise (no credentials yet)."""

    def __init__(
        self, context: Context, factories: dict[str, ProviderFactory] | None = None
    ) -> None:
        self.context = context
        self.factories = {**DEFAULT_FACTORIES, **(factories or {})}
        self.meters: dict[str, DatabaseMeter] = {}
        self._built: dict[str, LivestreamProvider] = {}

    def get(self, name: str) -> LivestreamProvider:
        if name not in self._built:
            if name not in self.factories:
                raise KeyError(f"no livestream provider called {name!r}")
            self._built[name] = self.factories[name](self.context, self.meter(name))
        return self._built[name]

    def meter(self, name: str) -> DatabaseMeter:
        if name not in self.meters:
            limit = daily_quota(name, self.context)
            self.meters[name] = DatabaseMeter(
                self.context.database, self.context.clock, name, limit or 10**9
            )
        return self.meters[name]

    def spent(self) -> str:
        """Units spent in this run per provider that counts them, for the job summary."""
        parts = [
            f"{name} {meter.spent_here} units (today {meter.used_today()})"
            for name, meter in sorted(self.meters.items())
            if daily_quota(name, self.context) is not None
        ]
        return "; ".join(parts)
