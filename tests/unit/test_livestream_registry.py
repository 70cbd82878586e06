"""The livestream registry: each provider's own description is what the series checks, the staff
form and the jobs read, so a new provider is one file and one registry line."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import make_settings
from vcs.config import KNOWN_KEYS
from vcs.errors import Problem
from vcs.providers import static, youtube
from vcs.providers.provider import ProviderKind, QuotaMeter, SeriesKey
from vcs.providers.registry import REGISTRY, Registry


def _no_room(value: Any) -> Problem | None:
    if isinstance(value, str) and value.isalnum():
        return None
    return Problem("series.livestream.room", "must be letters and digits")


# What a Jitsi provider's file would hold besides its provider class.
JITSI = ProviderKind(
    name="jitsi",
    label="Jitsi Meet",
    keys=(
        SeriesKey("server", "Server", kind="url", default="https://meet.jit.si"),
        SeriesKey("room", "Room", check=_no_room),
        SeriesKey("lobby", "Lobby", kind="choice", choices=(("off", "off"), ("on", "on"))),
    ),
    factory=lambda context, meter: static.StaticProvider(),
)
WITH_JITSI = Registry(static.KIND, youtube.KIND, JITSI)


def lines(problems: list[Problem]) -> list[str]:
    return [problem.line() for problem in problems]


def test_provider_names_and_form_fields_are_each_used_once() -> None:
    assert len(set(REGISTRY.names)) == len(REGISTRY.kinds)
    fields = REGISTRY.form_fields()
    assert len(set(fields)) == len(fields), fields
    assert "livestream_provider" not in fields


def test_every_setting_a_provider_reads_exists() -> None:
    for kind in REGISTRY.kinds:
        assert set(kind.settings) <= set(KNOWN_KEYS), kind.name


def test_only_youtube_counts_quota_and_reads_it_from_the_settings(tmp_path: Any) -> None:
    settings = make_settings(tmp_path, VCS_LIVESTREAM_YOUTUBE_DAILY_QUOTA="5000")
    assert REGISTRY.daily_quota("youtube", settings) == 5000
    assert REGISTRY.daily_quota("static", settings) is None
    assert REGISTRY.daily_quota("jitsi", settings) is None


def test_a_series_without_a_livestream_table_gets_the_default_provider() -> None:
    table = REGISTRY.check_series_table(None)
    assert (table.provider, table.settings, table.problems) == ("static", {}, [])


def test_each_provider_checks_only_its_own_keys() -> None:
    youtube_table = {"provider": "youtube", "privacy": "secret", "watch_url": "ftp://x"}
    assert lines(REGISTRY.check_series_table(youtube_table).problems) == [
        "livestream.watch_url: not a setting of the youtube provider",
        "livestream.privacy: must be one of public, unlisted, private, not 'secret'",
    ]
    static_table = {"provider": "static", "watch_url": "https://meet.jit.si/{room}"}
    assert lines(REGISTRY.check_series_table(static_table).problems) == [
        "livestream.watch_url: only {date}, {slug} and {id} can be filled in"
    ]


def test_a_problem_names_the_form_field_it_belongs_to() -> None:
    table = {"provider": "youtube", "stream_id": 7, "privacy": "public"}
    (problem,) = REGISTRY.check_series_table(table).problems
    assert (problem.code, problem.field) == ("series.livestream.stream-id", "stream_id")
    (unknown,) = REGISTRY.check_series_table({"provider": "vimeo"}).problems
    assert unknown.field == "livestream_provider"
    assert unknown.line() == "livestream.provider: must be one of static, youtube, not 'vimeo'"


@pytest.mark.parametrize("table", [["static"], "static", {"provider": ["static"]}])
def test_a_livestream_table_of_the_wrong_shape_is_a_problem_not_a_crash(table: Any) -> None:
    assert REGISTRY.check_series_table(table).problems


def test_the_form_shows_and_writes_back_what_a_series_file_says() -> None:
    settings = {"privacy": "unlisted", "stream_id": "abc"}
    values = {"livestream_provider": "youtube", **REGISTRY.form_values(settings)}
    assert values["privacy"] == "unlisted" and values["watch_url"] == ""
    assert REGISTRY.series_table("youtube", values) == {"provider": "youtube", **settings}
    # A default is left out, as a series file would leave it out.
    blank = REGISTRY.form_values({})
    assert blank["privacy"] == "public"
    assert REGISTRY.series_table("youtube", blank) == {"provider": "youtube"}
    assert REGISTRY.series_table("", blank) == {"provider": "static"}


def test_a_new_provider_is_checked_offered_and_built_from_its_description_alone() -> None:
    assert WITH_JITSI.names == ("static", "youtube", "jitsi")
    assert {"server", "room", "lobby"} <= set(WITH_JITSI.form_fields())
    assert WITH_JITSI.field_of_key["livestream.room"] == "room"
    table = {"provider": "jitsi", "server": "meet", "room": "a b", "lobby": "maybe", "rom": "x"}
    assert lines(WITH_JITSI.check_series_table(table).problems) == [
        "livestream.rom: unknown key (did you mean 'room'?)",
        "livestream.server: 'meet' is not an http(s) address",
        "livestream.room: must be letters and digits",
        "livestream.lobby: must be one of off, on, not 'maybe'",
    ]
    good = {"provider": "jitsi", "room": "tikls", "lobby": "on"}
    assert WITH_JITSI.check_series_table(good).settings == {"room": "tikls", "lobby": "on"}
    values = WITH_JITSI.form_values({"room": "tikls"})
    assert values["server"] == "https://meet.jit.si"
    assert WITH_JITSI.series_table("jitsi", values) == {"provider": "jitsi", "room": "tikls"}
    meter: QuotaMeter = object()  # type: ignore[assignment]
    built = WITH_JITSI.factories["jitsi"](None, meter)  # type: ignore[arg-type]
    assert isinstance(built, static.StaticProvider)
