"""The channel owner's Google token: stored privately outside the project, loaded or refused."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from google.oauth2.credentials import Credentials

from tests.conftest import isolated_environ, make_settings
from vcs.cli import cli
from vcs.context import Context
from vcs.paths import PROJECT_DIR
from vcs.providers import google_auth
from vcs.providers.google_auth import (
    SCOPES,
    AuthorizationError,
    authorize,
    load_credentials,
    save_token,
)
from vcs.providers.provider import CredentialsRevoked
from vcs.storage.models import ProviderHealth

# -- factories ---------------------------------------------------------------------------------


def credentials(with_refresh_token: bool = True) -> Credentials:
    """What Google's installed-app flow hands back after the owner signs in."""
    return Credentials(
        token="access",
        refresh_token="refresh-me" if with_refresh_token else None,
        token_uri="https://oauth2.googleapis.com/token",
        client_id="client-id.apps.googleusercontent.com",
        client_secret="client-secret",
        scopes=SCOPES,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def vcs(tmp_path: Path, *args: str, **environ: str) -> Result:
    """Run `vcs ARGS` in this process on the installation under tmp_path."""
    return CliRunner().invoke(cli, list(args), env=isolated_environ(tmp_path, **environ))


def google_files(tmp_path: Path) -> dict[str, str]:
    return {
        "VCS_LIVESTREAM_GOOGLE_CLIENT_SECRETS": str(tmp_path / "google" / "client.json"),
        "VCS_LIVESTREAM_GOOGLE_TOKEN_FILE": str(tmp_path / "google" / "token.json"),
    }


# -- save and load -----------------------------------------------------------------------------


def test_the_token_is_written_0600_in_a_0700_folder(tmp_path: Path) -> None:
    token_file = tmp_path / "config" / "vcs" / "token.json"

    save_token(credentials(), token_file)

    assert mode(token_file) == 0o600
    assert mode(token_file.parent) == 0o700
    assert os.listdir(token_file.parent) == ["token.json"]


def test_a_new_token_replaces_a_world_readable_one_with_a_private_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token.json"
    token_file.write_text("{}", encoding="utf-8")
    token_file.chmod(0o644)

    save_token(credentials(), token_file)

    assert mode(token_file) == 0o600
    assert json.loads(token_file.read_text(encoding="utf-8"))["refresh_token"] == "refresh-me"


def test_a_saved_token_loads_back(tmp_path: Path) -> None:
    token_file = tmp_path / "token.json"
    save_token(credentials(), token_file)

    loaded = load_credentials(token_file)

    assert loaded.refresh_token == "refresh-me"
    assert loaded.client_id == "client-id.apps.googleusercontent.com"
    assert loaded.scopes == SCOPES


def test_a_token_inside_the_project_is_refused(tmp_path: Path) -> None:
    token_file = PROJECT_DIR / "google-token.json"

    with pytest.raises(AuthorizationError, match="inside the project folder"):
        save_token(credentials(), token_file)

    assert not token_file.exists()


def test_a_missing_token_asks_for_vcs_google_auth_and_names_the_file(tmp_path: Path) -> None:
    token_file = tmp_path / "nav.json"

    with pytest.raises(CredentialsRevoked) as caught:
        load_credentials(token_file)

    assert str(token_file) in str(caught.value)
    assert caught.value.fix_command == "vcs google auth"


def test_a_token_without_a_refresh_token_asks_for_vcs_google_auth(tmp_path: Path) -> None:
    token_file = tmp_path / "token.json"
    save_token(credentials(with_refresh_token=False), token_file)

    with pytest.raises(CredentialsRevoked) as caught:
        load_credentials(token_file)

    assert str(token_file) in str(caught.value)
    assert caught.value.fix_command == "vcs google auth"


def test_a_token_others_can_read_is_refused_with_the_chmod_that_fixes_it(tmp_path: Path) -> None:
    token_file = tmp_path / "token.json"
    save_token(credentials(), token_file)
    token_file.chmod(0o644)

    with pytest.raises(CredentialsRevoked, match="open to other users") as caught:
        load_credentials(token_file)

    assert caught.value.fix_command == f"chmod 600 {token_file}"


# -- authorize ---------------------------------------------------------------------------------


def test_authorize_runs_the_flow_with_the_youtube_scope_and_stores_the_token(
    tmp_path: Path,
) -> None:
    calls = []

    def flow(client_secrets: Path, scopes: Sequence[str], open_browser: bool) -> Credentials:
        calls.append((client_secrets, list(scopes), open_browser))
        return credentials()

    token_file = tmp_path / "vcs" / "token.json"
    authorize(tmp_path / "client.json", token_file, open_browser=False, run_flow=flow)

    assert calls == [(tmp_path / "client.json", ["https://www.googleapis.com/auth/youtube"], False)]
    assert load_credentials(token_file).refresh_token == "refresh-me"


def test_authorize_without_a_refresh_token_stores_nothing(tmp_path: Path) -> None:
    token_file = tmp_path / "token.json"

    with pytest.raises(AuthorizationError, match="no refresh token"):
        authorize(
            tmp_path / "client.json",
            token_file,
            run_flow=lambda *args: credentials(with_refresh_token=False),
        )

    assert not token_file.exists()


# -- vcs google auth ---------------------------------------------------------------------------


def test_vcs_google_auth_without_a_client_file_is_one_line(tmp_path: Path) -> None:
    files = google_files(tmp_path)
    assert vcs(tmp_path, "init", **files).exit_code == 0

    result = vcs(tmp_path, "google", "auth", "--no-browser", **files)

    assert result.exit_code == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"vcs: no Google OAuth client file at {files['VCS_LIVESTREAM_GOOGLE_CLIENT_SECRETS']}: "
    )
    assert '"Desktop app"' in line
    assert "YouTube Data API v3" in line


def test_vcs_google_auth_stores_the_token_and_clears_the_revoked_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = google_files(tmp_path)
    client_file = Path(files["VCS_LIVESTREAM_GOOGLE_CLIENT_SECRETS"])
    client_file.parent.mkdir()
    client_file.write_text('{"installed": {}}', encoding="utf-8")
    assert vcs(tmp_path, "init", **files).exit_code == 0
    context = Context.from_settings(make_settings(tmp_path, **files))
    with context.database.session() as db:
        db.add(
            ProviderHealth(
                provider="youtube",
                state="revoked",
                message="invalid_grant",
                fix_command="vcs google auth",
                since=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
            )
        )
    # The browser sign-in itself is Google's; everything around it is ours.
    monkeypatch.setattr(
        google_auth, "run_installed_app_flow", lambda secrets, scopes, browser: credentials()
    )

    result = vcs(tmp_path, "google", "auth", "--no-browser", **files)

    assert result.exit_code == 0, result.output
    token_file = Path(files["VCS_LIVESTREAM_GOOGLE_TOKEN_FILE"])
    assert result.stdout.startswith(f"Google token stored in {token_file} (mode 0600)")
    assert mode(token_file) == 0o600
    with context.database.session() as db:
        health = db.get(ProviderHealth, "youtube")
        assert health is not None
        assert (health.state, health.fix_command) == ("ok", "")
    context.close()
