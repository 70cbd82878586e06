"""Settings: config/default.toml, then the file in VCS_CONFIG, then VCS_* environment variables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import os
import socket
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from vcs import dates
from vcs.errors import Problem, VcsError
from vcs.paths import DEFAULT_CONFIG, installation_dir, resolve

ENV_PREFIX = "VCS_"
# Variables with our prefix that are not settings themselves.
ENV_NOT_SETTINGS = frozenset({"VCS_CONFIG"})
# Only ever used when mode = "development" and no secret is set, and never by a server that
# others can reach (check_serving).
DEVELOPMENT_SECRET = "vcs-development-secret-not-for-production"  # noqa: S105
# The command that prints a fresh secret_key.
GENERATE_SECRET = "vcs init --generate-secret"  # noqa: S105


class ConfigError(VcsError):
    """A setting is wrong; the line names the key, where it came from and the problem.

    Settings are read by whoever installs vcs, in English, as are the logs: the line is not
    translated. The code names the setting (`config.mail.url`) or is `config.invalid`.
    """

    def __init__(self, line: str, code: str = "config.invalid") -> None:
        super().__init__([Problem(code, "%(line)s", {"line": line}, ("config",))])


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# What is wrong with a section's settings: (key within the section, problem), in the order
# checked. Each section checks its own values beside its fields; load_settings reports the first
# problem. Checks that need more than the values (reading the DKIM key) live with what uses
# them and run where a process starts (vcs.mail.dkim.check_settings).
Problems = Iterator[tuple[str, str]]


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    echo: bool
    pool_size: int

    def problems(self) -> Problems:
        try:
            url = database_url(self.url)
        except ArgumentError:
            yield "url", f"not an SQLAlchemy URL: {self.url!r}"
            return
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            yield "url", f"only sqlite and postgresql are supported, not {url.drivername!r}"
        if self.pool_size < 1:
            yield "pool_size", "must be at least 1"


@dataclass(frozen=True)
class NetworkSettings:
    file: str
    logo: str
    favicon: str
    postal_address: str
    contact_email: str
    privacy_controller: str

    def problems(self) -> Problems:
        for key in ("logo", "favicon"):
            value = getattr(self, key)
            parts = urlsplit(value)
            if not (value.startswith("/") or parts.scheme == "https"):
                yield (
                    key,
                    f"must be a path on this site (/static/...) or an https:// URL, not {value!r}",
                )
        if not self.postal_address.strip():
            yield (
                "postal_address",
                "must be set: every e-mail names where the sender can be reached",
            )
        if self.contact_email and "@" not in self.contact_email:
            yield "contact_email", f"must be an e-mail address, not {self.contact_email!r}"


@dataclass(frozen=True)
class SessionSettings:
    horizon_days: int
    max_per_series: int

    def problems(self) -> Problems:
        if self.horizon_days < 1:
            yield "horizon_days", "must be at least 1"
        if self.max_per_series < 1:
            yield "max_per_series", "must be at least 1"


@dataclass(frozen=True)
class FeedSettings:
    keep_past_days: int
    refresh_minutes: int

    def problems(self) -> Problems:
        if self.keep_past_days < 0:
            yield "keep_past_days", "must be 0 or more"
        if self.refresh_minutes < 5:
            yield "refresh_minutes", "must be at least 5"


@dataclass(frozen=True)
class LivestreamSettings:
    provision_days: int
    status_poll_minutes: int
    retry_base_seconds: int
    # The YouTube provider's (vcs/providers/youtube.py says which settings it reads).
    youtube_daily_quota: int
    page_poll_seconds: int
    google_client_secrets: str
    google_token_file: str

    def problems(self) -> Problems:
        if self.provision_days < 1:
            yield "provision_days", "must be at least 1"
        if self.status_poll_minutes < 1:
            yield "status_poll_minutes", "must be at least 1"
        if self.page_poll_seconds < 1:
            yield "page_poll_seconds", "must be at least 1"
        if self.youtube_daily_quota < 100:
            yield "youtube_daily_quota", "must be at least 100"


@dataclass(frozen=True)
class MailSettings:
    url: str
    from_address: str
    from_name: str
    reply_to: str
    concurrency: int
    rate_per_second: int
    timeout_seconds: int
    retry_base_seconds: int
    max_attempts: int
    bounce_limit: int
    connect_tries: int
    same_refusal_limit: int
    send_window: str
    daily_cap: int
    # Checked by vcs.mail.dkim.check_settings, which reads the key.
    dkim_key_file: str
    dkim_selector: str
    dkim_domain: str

    def problems(self) -> Problems:
        mail = urlsplit(self.url)
        if mail.scheme not in ("smtp", "smtps", "file"):
            yield "url", f"must start with smtp://, smtps:// or file://, not {self.url!r}"
        if mail.scheme in ("smtp", "smtps"):
            try:
                mail.port  # noqa: B018 - parsing the port is the check
            except ValueError:
                yield "url", f"bad port in {self.url!r}"
            if not mail.hostname:
                yield "url", f"no host in {self.url!r}"
        if mail.scheme == "file" and not (mail.netloc + mail.path):
            yield "url", "a file:// URL needs a folder, e.g. file://var/outbox"
        if "@" not in self.from_address:
            yield "from_address", f"not an e-mail address: {self.from_address!r}"
        if not 1 <= self.concurrency <= 64:
            yield "concurrency", "must be between 1 and 64"
        if self.rate_per_second < 0:
            yield "rate_per_second", "must be 0 (no limit) or more"
        for key in ("timeout_seconds", "retry_base_seconds", "max_attempts", "bounce_limit"):
            if getattr(self, key) < 1:
                yield key, "must be at least 1"
        if self.connect_tries < 1:
            yield "connect_tries", "must be at least 1"
        if self.same_refusal_limit == 1 or self.same_refusal_limit < 0:
            yield "same_refusal_limit", "must be 0 (off) or at least 2"
        if self.send_window and send_window(self.send_window) is None:
            yield "send_window", f'must be empty or like "08:00-20:00", not {self.send_window!r}'
        if self.daily_cap < 0:
            yield "daily_cap", "must be 0 (no cap) or more"


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int
    workers: int
    stamp_recheck_ms: int
    frame_sources: str
    metrics_allow: str
    metrics_token: str
    max_body_kib: int
    max_staff_body_kib: int

    def problems(self) -> Problems:
        if not 0 < self.port < 65536:
            yield "port", f"must be between 1 and 65535, not {self.port}"
        if self.workers < 1:
            yield "workers", "must be at least 1"
        if self.stamp_recheck_ms < 0:
            yield "stamp_recheck_ms", "must be 0 or more"
        for entry in self.metrics_allow.split():
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                yield "metrics_allow", f"not an IP address or network: {entry!r}"
        if self.metrics_token and len(self.metrics_token) < 16:
            yield "metrics_token", "must be empty or at least 16 characters long"
        if self.max_body_kib < 1:
            yield "max_body_kib", "must be at least 1"
        if self.max_staff_body_kib < self.max_body_kib:
            yield "max_staff_body_kib", "must be at least web.max_body_kib"
        for source in self.frame_sources.split():
            parts = urlsplit(source)
            if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
                yield "frame_sources", f"each entry must be an https:// origin, not {source!r}"


@dataclass(frozen=True)
class EmbedSettings:
    allowed_origins: str
    upcoming_limit: int

    def problems(self) -> Problems:
        for origin in self.allowed_origins.split():
            parts = urlsplit(origin)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path
                or parts.query
                or parts.fragment
            ):
                yield (
                    "allowed_origins",
                    f"each entry must be an origin like https://example.lv, not {origin!r}",
                )
        if not 1 <= self.upcoming_limit <= EMBED_MAX_LIMIT:
            yield "upcoming_limit", f"must be between 1 and {EMBED_MAX_LIMIT}"


# The most sessions /embed/upcoming shows, whatever ?limit= asks.
EMBED_MAX_LIMIT = 20


@dataclass(frozen=True)
class SchedulerSettings:
    enabled: bool
    lock_file: str
    lock_poll_seconds: int
    misfire_grace_seconds: int
    keep_job_runs_days: int
    heartbeat_max_age_seconds: int
    required_for_readiness: bool
    metrics_port: int

    def problems(self) -> Problems:
        if self.lock_poll_seconds < 1:
            yield "lock_poll_seconds", "must be at least 1"
        if self.heartbeat_max_age_seconds < 2 * self.lock_poll_seconds:
            yield (
                "heartbeat_max_age_seconds",
                "must be at least twice scheduler.lock_poll_seconds (the heartbeat's interval)",
            )
        if not 0 <= self.metrics_port <= 65535:
            yield "metrics_port", "must be 0 (off) or a port from 1 to 65535"


@dataclass(frozen=True)
class StaffSettings:
    session_hours: int
    login_max_failures: int
    login_max_failures_per_address: int
    login_window_minutes: int
    login_lockout_minutes: int
    max_concurrent_hashes: int

    def problems(self) -> Problems:
        for key in (
            "login_max_failures_per_address",
            "session_hours",
            "login_max_failures",
            "login_window_minutes",
            "login_lockout_minutes",
        ):
            if getattr(self, key) < 1:
                yield key, "must be at least 1"
        if not 1 <= self.max_concurrent_hashes <= 64:
            yield "max_concurrent_hashes", "must be between 1 and 64"


@dataclass(frozen=True)
class SubscriptionSettings:
    max_per_client_per_hour: int

    def problems(self) -> Problems:
        if self.max_per_client_per_hour < 1:
            yield "max_per_client_per_hour", "must be at least 1"


@dataclass(frozen=True)
class DigestSettings:
    weekday: str
    time: str
    days_ahead: int

    def problems(self) -> Problems:
        if self.weekday not in WEEKDAYS:
            yield "weekday", f"must be one of {', '.join(WEEKDAYS)}, not {self.weekday!r}"
        if digest_time(self.time) is None:
            yield "time", f'must be a local time like "08:00", not {self.time!r}'
        if not 1 <= self.days_ahead <= 60:
            yield "days_ahead", "must be between 1 and 60"


@dataclass(frozen=True)
class ContentSettings:
    # Domains links in staff text may lead to without a confirmation (subdomains included),
    # separated by spaces; a TOML list is joined into that. See vcs/markdown.py.
    trusted_domains: str

    def problems(self) -> Problems:
        for entry in self.trusted_domains.replace(",", " ").split():
            if "/" in entry or ":" in entry or "." not in entry.strip("."):
                yield "trusted_domains", f"not a domain name (like example.lv): {entry!r}"


@dataclass(frozen=True)
class AttendanceSettings:
    # The share of a session's length a person must be in the meeting (by the meeting tool's
    # report) to count as having taken part; see docs/attendance.md.
    min_presence: float

    def problems(self) -> Problems:
        if not 0 < self.min_presence <= 1:
            yield (
                "min_presence",
                f"must be a share above 0 and at most 1 (0.75 is 75 %), not {self.min_presence}",
            )


@dataclass(frozen=True)
class AnnouncementSettings:
    days_before: int
    # "request": the .ics is an iTIP invitation (METHOD:REQUEST, CANCEL) that calendars update;
    # "publish": a plain attachment (METHOD:PUBLISH). See vcs/feeds/invitation.py.
    invitations: str

    def problems(self) -> Problems:
        if not 1 <= self.days_before <= 60:
            yield "days_before", "must be between 1 and 60"
        if self.invitations not in ("request", "publish"):
            yield "invitations", f'must be "request" or "publish", not {self.invitations!r}'


@dataclass(frozen=True)
class ReminderSettings:
    # How long before a session its registrants and followers are reminded: ISO 8601
    # durations, as a TOML list (or one string separated by spaces, as the environment gives
    # it); empty: no reminders. See vcs/reminders.py.
    before: str
    # How often the `reminders` job looks for reminders and live-now alerts that are due.
    every_minutes: int

    def problems(self) -> Problems:
        for entry in self.before.replace(",", " ").split():
            if reminder_offset(entry) is None:
                yield (
                    "before",
                    f'{entry!r} is not an ISO 8601 duration like "P1D" or "PT1H" '
                    "(days, hours and minutes, more than zero)",
                )
        if not 1 <= self.every_minutes <= 60:
            yield "every_minutes", "must be between 1 and 60"

    @property
    def offsets(self) -> tuple[tuple[str, dt.timedelta], ...]:
        """Each reminder as (its spelling, how long before the start), longest first."""
        found = {
            entry: offset
            for entry in self.before.replace(",", " ").split()
            if (offset := reminder_offset(entry)) is not None
        }
        return tuple(sorted(found.items(), key=lambda item: item[1], reverse=True))


@dataclass(frozen=True)
class LogSettings:
    level: str
    format: str

    def problems(self) -> Problems:
        if self.level not in ("debug", "info", "warning", "error"):
            yield "level", f"must be debug, info, warning or error, not {self.level!r}"
        if self.format not in ("human", "json"):
            yield "format", f'must be "human" or "json", not {self.format!r}'


@dataclass(frozen=True)
class GoogleCalendarSettings:
    # Google calendar ids per audience; empty: that calendar is not mirrored.
    network: str
    # (region slug, calendar id) pairs: a TOML table `regions = { kurzeme = "..." }`.
    regions: tuple[tuple[str, str], ...]
    token_file: str
    sync_minutes: int
    daily_requests: int
    retry_base_seconds: int

    def problems(self) -> Problems:
        for key, calendar in (("network", self.network), *self.regions):
            if calendar and ("@" not in calendar or any(c.isspace() for c in calendar)):
                where, what = ("network", "") if key == "network" else ("regions", f"{key}: ")
                yield where, f"{what}not a calendar id (x@group.calendar.google.com): {calendar!r}"
        if self.sync_minutes < 1:
            yield "sync_minutes", "must be at least 1"
        if self.daily_requests < 100:
            yield "daily_requests", "must be at least 100"
        if self.retry_base_seconds < 1:
            yield "retry_base_seconds", "must be at least 1"

    @property
    def calendars(self) -> dict[str, str]:
        """Audience ("network", "region:<slug>") to calendar id, for the calendars set."""
        found = {"network": self.network} if self.network else {}
        found.update((f"region:{slug}", calendar) for slug, calendar in self.regions if calendar)
        return found


@dataclass(frozen=True)
class BounceSettings:
    # The IMAP mailbox bounces come to; empty host: no bounce intake.
    host: str
    port: int
    # "ssl" (IMAPS, port 993), "starttls" or "none" (loopback and tests only)
    tls: str
    account: str
    password: str
    folder: str
    # Where read reports are moved; empty: they stay in `folder`, marked seen.
    done_folder: str
    fetch_minutes: int
    # This many soft bounces (mailbox full, ...) in a row count as one hard bounce.
    soft_per_hard: int
    timeout_seconds: int
    # Send each message with its own signed return path (VERP), so every report names its delivery.
    verp: bool

    def problems(self) -> Problems:
        if self.tls not in ("ssl", "starttls", "none"):
            yield "tls", f'must be "ssl", "starttls" or "none", not {self.tls!r}'
        if not 0 < self.port < 65536:
            yield "port", f"must be between 1 and 65535, not {self.port}"
        if self.host and not self.account:
            yield "account", "must be set when bounces.host is"
        if self.host and not self.folder:
            yield "folder", "must be set when bounces.host is"
        for key in ("fetch_minutes", "soft_per_hard", "timeout_seconds"):
            if getattr(self, key) < 1:
                yield key, "must be at least 1"


@dataclass(frozen=True)
class Settings:
    mode: str
    base_url: str
    secret_key: str
    timezone: str
    default_language: str
    database: DatabaseSettings
    network: NetworkSettings
    sessions: SessionSettings
    feeds: FeedSettings
    livestream: LivestreamSettings
    mail: MailSettings
    web: WebSettings
    embed: EmbedSettings
    scheduler: SchedulerSettings
    staff: StaffSettings
    subscriptions: SubscriptionSettings
    digest: DigestSettings
    content: ContentSettings
    announcements: AnnouncementSettings
    reminders: ReminderSettings
    attendance: AttendanceSettings
    log: LogSettings
    google_calendar: GoogleCalendarSettings
    bounces: BounceSettings
    # Where each setting came from ("VCS_WEB_PORT", a file), for messages; not itself a setting.
    sources: Mapping[str, str] = dataclasses.field(
        default_factory=dict, compare=False, repr=False, metadata={"setting": False}
    )

    def problems(self) -> Problems:
        """The top-level settings' problems (each section checks its own)."""
        if self.mode not in ("development", "production"):
            yield "mode", f'must be "development" or "production", not {self.mode!r}'
        base = urlsplit(self.base_url)
        if base.scheme not in ("http", "https") or not base.netloc or self.base_url.endswith("/"):
            yield (
                "base_url",
                f"must be an http(s) address without a trailing slash, not {self.base_url!r}",
            )
        if self.mode == "production":
            if not self.secret_key:
                yield (
                    "secret_key",
                    "must be set in production mode: set VCS_SECRET_KEY to a long random value "
                    f"(`{GENERATE_SECRET}` prints one)",
                )
            if self.secret_key == DEVELOPMENT_SECRET:
                yield "secret_key", "is the development secret; set your own in production mode"
            if len(self.secret_key) < 32:
                yield "secret_key", "must be at least 32 characters long in production mode"
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield (
                "timezone",
                f"unknown time zone {self.timezone!r} (use an IANA name like Europe/Riga)",
            )
        if self.default_language not in ("lv", "en"):
            yield "default_language", f'must be "lv" or "en", not {self.default_language!r}'

    def error(self, key: str, problem: str) -> ConfigError:
        """The error for the setting `key`: `key (where it was set): problem`."""
        return ConfigError(
            f"{key} ({self.sources.get(key, 'settings')}): {problem}", f"config.{key}"
        )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def signing_key(self) -> str:
        return self.secret_key or DEVELOPMENT_SECRET

    @property
    def uses_development_secret(self) -> bool:
        """Whether cookies and links are signed with the constant anyone can read in the source."""
        return self.signing_key == DEVELOPMENT_SECRET

    @property
    def horizon(self) -> dt.timedelta:
        return dt.timedelta(days=self.sessions.horizon_days)

    @property
    def host(self) -> str:
        """The host name of base_url, for UIDs and Message-IDs."""
        return urlsplit(self.base_url).hostname or "localhost"

    @property
    def database_url(self) -> URL:
        return database_url(self.database.url)

    def path(self, value: str) -> Path:
        """A path setting: ~ expanded, relative ones taken from the checkout (installed: the
        working directory, or what vcs ships; see vcs.paths.resolve)."""
        return resolve(value)


def database_url(raw: str) -> URL:
    """The SQLAlchemy URL for a setting, with psycopg 3 for plain postgresql:// URLs."""
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername == "sqlite" and url.database and url.database != ":memory:":
        path = Path(url.database)
        if not path.is_absolute():
            url = url.set(database=str(installation_dir() / path))
    return url


def env_name(key: str) -> str:
    """The environment variable that overrides a dotted key: database.url -> VCS_DATABASE_URL."""
    return ENV_PREFIX + key.replace(".", "_").upper()


def load_settings(
    environ: Mapping[str, str] | None = None, default_file: Path = DEFAULT_CONFIG
) -> Settings:
    """Read, merge and check every setting; raise ConfigError naming the first bad one."""
    environ = os.environ if environ is None else environ
    values: dict[str, tuple[Any, str]] = {}
    _merge_file(values, default_file, allow_new=True)
    override = environ.get("VCS_CONFIG")
    if override:
        _merge_file(values, Path(override), allow_new=False)
    _merge_env(values, environ)
    settings: Settings = _build(Settings, values, prefix="")
    settings = dataclasses.replace(
        settings, sources={key: where for key, (_value, where) in values.items()}
    )
    _check(settings)
    return settings


def check_serving(settings: Settings, host: str) -> None:
    """Refuse to serve on `host` with the development secret where others can reach the server.

    The development secret is in the source, so anyone can sign a staff cookie with it and be
    let in as an admin. It is fine on a loopback address of the developer's own machine, not
    behind an https base_url (a public site) nor on an address other machines reach.
    """
    if not settings.uses_development_secret:
        return
    if urlsplit(settings.base_url).scheme == "https":
        where = f"base_url is https ({settings.base_url})"
    elif not is_loopback(host):
        where = f"the server would listen on {host or 'every address'}, which others can reach"
    else:
        return
    raise ConfigError(
        f"secret_key: the development secret (public in vcs's source) would sign staff cookies "
        f"and links, but {where}: set VCS_SECRET_KEY (or secret_key in the settings file) to a "
        f"long random value (`{GENERATE_SECRET}` prints one)"
    )


def is_loopback(host: str) -> bool:
    """Whether only this machine reaches `host` (an address to listen on, or a name whose
    addresses all are loopback)."""
    name = host.strip().strip("[]")
    if not name:
        return False  # uvicorn and most servers take "" for every address
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    if name.lower() == "localhost" or name.lower().endswith(".localhost"):
        return True  # RFC 6761: always the loopback
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(
        ipaddress.ip_address(str(address).split("%")[0]).is_loopback for address in found
    )


def _known_keys(cls: type, prefix: str = "") -> dict[str, type]:
    hints = typing.get_type_hints(cls)
    keys: dict[str, type] = {}
    for field in _setting_fields(cls):
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind):
            keys.update(_known_keys(typing.cast(type, kind), f"{prefix}{field.name}."))
        else:
            keys[prefix + field.name] = kind
    return keys


def _setting_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.metadata.get("setting", True)]


KNOWN_KEYS = _known_keys(Settings)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and prefix + key not in KNOWN_KEYS:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _merge_file(values: dict[str, tuple[Any, str]], path: Path, allow_new: bool) -> None:
    where = str(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        # tomllib parses nested arrays and tables by recursion: a few hundred levels exhaust it.
        raise ConfigError(f"{where}: not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{where}: {exc.strerror or exc}") from None
    for key, value in _flatten(data).items():
        if key not in KNOWN_KEYS:
            raise ConfigError(f"{key} (in {where}): unknown setting")
        values[key] = (_coerce(key, value, where), where)
    if allow_new:
        missing = sorted(set(KNOWN_KEYS) - set(values))
        if missing:
            raise ConfigError(f"{missing[0]} (in {where}): setting missing from the defaults")


def _merge_env(values: dict[str, tuple[Any, str]], environ: Mapping[str, str]) -> None:
    by_env = {env_name(key): key for key in KNOWN_KEYS}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name in ENV_NOT_SETTINGS:
            continue
        key = by_env.get(name)
        if key is None:
            raise ConfigError(f"{name} (environment): unknown setting")
        values[key] = (_coerce(key, raw, name), name)


def _coerce(key: str, value: Any, where: str) -> Any:
    kind = KNOWN_KEYS[key]
    if isinstance(kind, types.UnionType):
        kind = str
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.lower() in ("0", "false", "no", "off"):
            return False
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
    elif kind is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str and isinstance(value, str):
        return value
    elif kind is str and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)  # a list of words, e.g. content.trusted_domains
    elif typing.get_origin(kind) is tuple:
        # A table of names to text (google_calendar.regions), kept as sorted pairs so Settings
        # stays hashable; from the environment as "kurzeme=id zemgale=id".
        if isinstance(value, str):
            pairs = [item.partition("=") for item in value.replace(",", " ").split()]
            if all(sep and name for name, sep, _rest in pairs):
                value = {name: rest for name, _sep, rest in pairs}
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return tuple(sorted((str(k), v) for k, v in value.items()))
        raise ConfigError(f"{key} ({where}): expected a table of names to text, got {value!r}")
    raise ConfigError(f"{key} ({where}): expected {kind.__name__}, got {value!r}")


def _build(cls: type, values: dict[str, tuple[Any, str]], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for field in _setting_fields(cls):
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind):
            kwargs[field.name] = _build(typing.cast(type, kind), values, f"{prefix}{field.name}.")
        else:
            kwargs[field.name] = values[prefix + field.name][0]
    return cls(**kwargs)


def _check(settings: Settings) -> None:
    """Raise ConfigError for the first problem, the top-level settings first, then by section."""
    sections = [("", settings)] + [
        (f"{f.name}.", getattr(settings, f.name))
        for f in _setting_fields(Settings)
        if dataclasses.is_dataclass(getattr(settings, f.name))
    ]
    for prefix, section in sections:
        for key, problem in section.problems():
            raise settings.error(prefix + key, problem)


def digest_time(value: str) -> dt.time | None:
    """digest.time ("08:00", local time) as a time; None when malformed."""
    try:
        return dt.time.fromisoformat(value.strip())
    except ValueError:
        return None


# "P1D", "PT1H", "P1DT12H": days, hours and minutes, as registration's `closes` says them.
def reminder_offset(value: str) -> dt.timedelta | None:
    """One reminders.before entry ("P1D") as a length of time; None when malformed or zero."""
    return dates.lead_time(value) or None


def send_window(value: str) -> tuple[dt.time, dt.time] | None:
    """mail.send_window ("08:00-20:00", local time) as (start, end); None when malformed."""
    try:
        start, end = (dt.time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        return None
    return (start, end) if start != end else None


def mail_folder(s: Settings) -> Path:
    """The outbox folder of a file:// mail URL (file://var/outbox: relative, see Settings.path)."""
    parts = urlsplit(s.mail.url)
    return s.path(parts.netloc + parts.path)
