"""The livestream providers vcs knows: the one list of them, and what is read from it.

Each provider describes itself in its own file as a `ProviderKind` (vcs/providers/provider.py):
its name, the keys a series' `livestream` table gives it with their checks and form labels, the
factory that builds it for a job run, and its daily quota. The series checks, the staff series
form, the jobs and `vcs livestream status` all read that description from here, so adding a
provider (a Jitsi, Zoom or BigBlueButton meeting, say) is one new file and one line in REGISTRY
(docs/livestreams.md).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from vcs.config import Settings
from vcs.context import Context
from vcs.errors import Problem
from vcs.i18n import N_
from vcs.providers import static, youtube
from vcs.providers.provider import MUST_BE_ONE_OF, Factory, LivestreamProvider, ProviderKind
from vcs.providers.quota import DatabaseMeter

NOT_A_TABLE = N_('must be a table like { provider = "static", watch_url = "…" }')
OTHER_PROVIDER = N_("not a setting of the %(provider)s provider")
UNKNOWN_KEY = N_("unknown key")
UNKNOWN_KEY_HINT = N_("unknown key (did you mean %(hint)r?)")


@dataclass(frozen=True)
class SeriesTable:
    """A series' `livestream` table, checked against its provider."""

    provider: str
    # The table without `provider`: what the provider reads when it makes a broadcast.
    settings: dict[str, Any]
    # Each placed under its key ("livestream.watch_url") and the form field it belongs to.
    problems: list[Problem]


class Registry:
    """Providers by name, in the staff form's order; the first serves a series that names none."""

    def __init__(self, *kinds: ProviderKind) -> None:
        self.kinds = kinds
        self.default = kinds[0]
        self.by_name = {kind.name: kind for kind in kinds}
        self.names = tuple(self.by_name)
        self.factories: dict[str, Factory] = {kind.name: kind.factory for kind in kinds}
        # The staff form's field that a problem with a key of the table belongs to.
        self.field_of_key = {
            "livestream": "livestream_provider",
            "livestream.provider": "livestream_provider",
            **{f"livestream.{key.name}": key.form_field for kind in kinds for key in kind.keys},
        }

    # -- a series' livestream table, from a series file or the staff form ----------------------

    def check_series_table(self, table: Any) -> SeriesTable:
        """The `livestream` table of a series (None: absent), checked key by key."""
        problems: list[Problem] = []

        def bad(key: str, problem: Problem) -> None:
            field = self.field_of_key.get(key, "")
            problems.append(replace(problem, where=(key,), field=field))

        if table is None:
            table = {"provider": self.default.name}
        if not isinstance(table, dict):
            bad("livestream", Problem("series.livestream.not-a-table", NOT_A_TABLE))
            table = {}
        provider = table.get("provider", self.default.name)
        kind = self.by_name.get(provider) if isinstance(provider, str) else None
        if kind is None:
            params = {"choices": ", ".join(self.names), "value": provider}
            bad(
                "livestream.provider", Problem("series.livestream.provider", MUST_BE_ONE_OF, params)
            )
        keys = kind.keys if kind else ()
        known = {"provider", *(key.name for key in keys)}
        for unknown in sorted(set(table) - known):
            if any(other.key(unknown) for other in self.kinds):
                params = {"provider": provider}
                problem = Problem("series.livestream.other-provider", OTHER_PROVIDER, params)
            else:
                hint = difflib.get_close_matches(unknown, known, n=1)
                problem = (
                    Problem("series.unknown-key", UNKNOWN_KEY_HINT, {"hint": hint[0]})
                    if hint
                    else Problem("series.unknown-key", UNKNOWN_KEY)
                )
            bad(f"livestream.{unknown}", problem)
        for key in keys:
            found = key.problem(table[key.name]) if key.name in table else None
            if found is not None:
                bad(f"livestream.{key.name}", found)
        settings = {name: value for name, value in table.items() if name != "provider"}
        return SeriesTable(str(provider), settings, problems)

    # -- the staff series form -------------------------------------------------------------------

    def form_fields(self) -> tuple[str, ...]:
        """The form's fields for every provider's keys."""
        return tuple(key.form_field for kind in self.kinds for key in kind.keys)

    def form_values(self, settings: Mapping[str, Any]) -> dict[str, str]:
        """A series' livestream settings as the form's fields show them, defaults filled in."""
        return {
            key.form_field: str(settings.get(key.name, key.default))
            for kind in self.kinds
            for key in kind.keys
        }

    def series_table(self, provider: str, values: Mapping[str, str]) -> dict[str, Any]:
        """The form's fields as a series' `livestream` table, as a series file would say it: the
        chosen provider's keys that are filled in and differ from their defaults."""
        table: dict[str, Any] = {"provider": provider or self.default.name}
        kind = self.by_name.get(table["provider"])
        for key in kind.keys if kind else ():
            value = values.get(key.form_field, "")
            if value and value != key.default:
                table[key.name] = value
        return table

    # -- the jobs --------------------------------------------------------------------------------

    def daily_quota(self, name: str, settings: Settings) -> int | None:
        """Units the provider `name` may spend a day; None for one that counts none."""
        kind = self.by_name.get(name)
        if kind is None or kind.daily_quota is None:
            return None
        return kind.daily_quota(settings)


# Adding a provider: its file, and its KIND here.
REGISTRY = Registry(static.KIND, youtube.KIND)

DEFAULT_FACTORIES = REGISTRY.factories


def daily_quota(name: str, context: Context) -> int | None:
    """Units a provider may spend a day; None for a provider that spends none."""
    return REGISTRY.daily_quota(name, context.settings)


class Providers:
    """Providers by name for one job run. Building one may raise (no credentials yet)."""

    def __init__(self, context: Context, factories: dict[str, Factory] | None = None) -> None:
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
