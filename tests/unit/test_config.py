"""Settings: defaults, overrides, and one clear line for every wrong value."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from vcs.config import KNOWN_KEYS, ConfigError, env_name, load_settings
from vcs.paths import DEFAULT_CONFIG


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "override.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_defaults_load_without_any_environment() -> None:
    settings = load_settings({})
    assert settings.mode == "development"
    assert settings.timezone == "Europe/Riga"
    assert settings.default_language == "lv"
    assert settings.database_url.get_backend_name() == "sqlite"
    assert settings.database_url.database.endswith("var/vcs.sqlite3")
    assert settings.mail.url.startswith("file://")


def test_every_default_setting_has_a_comment_above_it() -> None:
    lines = DEFAULT_CONFIG.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[a-z_]+ = ", line):
            assert lines[number - 1].startswith("#"), f"line {number + 1} has no comment: {line}"


def test_env_names_do_not_collide_and_cover_the_documented_ones() -> None:
    names = [env_name(key) for key in KNOWN_KEYS]
    assert len(names) == len(set(names))
    for required in ("VCS_DATABASE_URL", "VCS_MAIL_URL", "VCS_BASE_URL", "VCS_SECRET_KEY"):
        assert required in names
    assert "VCS_TIMEZONE" in names


def test_config_file_overrides_defaults_and_environment_overrides_both(tmp_path: Path) -> None:
    override = write(tmp_path, 'timezone = "Europe/Tallinn"\n[web]\nport = 9000\nworkers = 3\n')
    settings = load_settings({"VCS_CONFIG": override, "VCS_WEB_PORT": "9100"})
    assert settings.timezone == "Europe/Tallinn"
    assert settings.web.workers == 3
    assert settings.web.port == 9100


def test_postgresql_urls_use_psycopg_3() -> None:
    settings = load_settings({"VCS_DATABASE_URL": "postgresql://u@db.example:5432/vcs"})
    assert settings.database_url.drivername == "postgresql+psycopg"
    assert settings.database_url.host == "db.example"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"VCS_TIMEZONE": "Europe/Rgia"},
            "timezone (VCS_TIMEZONE): unknown time zone 'Europe/Rgia'",
        ),
        (
            {"VCS_DATABASE_URL": "not a url"},
            "database.url (VCS_DATABASE_URL): not an SQLAlchemy URL",
        ),
        ({"VCS_DATABASE_URL": "mysql://x/y"}, "database.url (VCS_DATABASE_URL): only sqlite and"),
        ({"VCS_MAIL_URL": "http://x"}, "mail.url (VCS_MAIL_URL): must start with smtp://"),
        ({"VCS_MAIL_URL": "smtp://relay:99x"}, "mail.url (VCS_MAIL_URL): bad port"),
        ({"VCS_BASE_URL": "example.lv"}, "base_url (VCS_BASE_URL): must be an http(s) address"),
        ({"VCS_BASE_URL": "https://example.lv/"}, "without a trailing slash"),
        ({"VCS_WEB_PORT": "eighty"}, "web.port (VCS_WEB_PORT): expected int, got 'eighty'"),
        (
            {"VCS_SCHEDULER_ENABLED": "maybe"},
            "scheduler.enabled (VCS_SCHEDULER_ENABLED): expected bool",
        ),
        ({"VCS_DATABSE_URL": "sqlite://"}, "VCS_DATABSE_URL (environment): unknown setting"),
        ({"VCS_MODE": "production"}, "secret_key"),
        ({"VCS_MODE": "production", "VCS_SECRET_KEY": "short"}, "at least 32 characters"),
        (
            {"VCS_DEFAULT_LANGUAGE": "de"},
            'default_language (VCS_DEFAULT_LANGUAGE): must be "lv" or "en"',
        ),
    ],
)
def test_a_wrong_value_names_the_key_and_the_problem(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_key_in_a_config_file_is_named_with_its_file(tmp_path: Path) -> None:
    override = write(tmp_path, "[mail]\nurl = 'file://x'\nsender = 'a@b.lv'\n")
    with pytest.raises(ConfigError, match=r"mail.sender \(in .*override.toml\): unknown setting"):
        load_settings({"VCS_CONFIG": override})


def test_broken_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"VCS_CONFIG": write(tmp_path, "timezone = \n")})
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings({"VCS_CONFIG": str(tmp_path / "missing.toml")})


def test_production_accepts_a_long_secret() -> None:
    secret = "x" * 40
    settings = load_settings({"VCS_MODE": "production", "VCS_SECRET_KEY": secret})
    assert settings.signing_key == secret


def test_the_command_line_shows_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vcs", "init"],
        env={"PATH": "/usr/bin:/bin", "VCS_TIMEZONE": "Riga"},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr == "vcs: config: timezone (VCS_TIMEZONE): unknown time zone 'Riga'"
        " (use an IANA name like Europe/Riga)\n"
    )
    assert "Traceback" not in result.stdout + result.stderr
