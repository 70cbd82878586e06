"""The channel owner's Google OAuth credential for YouTube Live: obtained once, kept private."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable, Sequence
from pathlib import Path

from google.oauth2.credentials import Credentials

from vcs.paths import IN_CHECKOUT, PROJECT_DIR
from vcs.providers.provider import CredentialsRevoked

# liveBroadcasts.insert/update/bind/delete and liveStreams.insert accept only `youtube` or
# `youtube.force-ssl`; `youtube.readonly` cannot write and `force-ssl` also grants deleting videos,
# comments and captions. So `youtube` is the narrowest scope that can run a live broadcast.
SCOPES = ["https://www.googleapis.com/auth/youtube"]
FIX_COMMAND = "vcs google auth"
# The Calendar mirror's own token: `calendar.events` reads and writes events of calendars the
# account can edit, and nothing else (not the calendars' settings or sharing, not other data).
CALENDAR_SCOPES = ["https://www.googleapis.com/auth/calendar.events"]
CALENDAR_FIX_COMMAND = "vcs google auth --calendar"

RunFlow = Callable[[Path, Sequence[str], bool], Credentials]


class AuthorizationError(Exception):
    """Signing in failed, or the token cannot be stored where the settings say."""


def run_installed_app_flow(
    client_secrets: Path, scopes: Sequence[str], open_browser: bool
) -> Credentials:
    """Google's installed-app flow: sign in in a browser, answer on a local port."""
    from google_auth_oauthlib.flow import InstalledAppFlow
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error  # type: ignore[import-untyped]

    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=list(scopes))
        # prompt=consent: Google hands out a refresh token only on consent, so signing in again
        # (after a revocation) must ask again to get a new one.
        credentials: Credentials = flow.run_local_server(
            port=0, open_browser=open_browser, access_type="offline", prompt="consent"
        )
    except ValueError as exc:  # not JSON, or not a "Desktop app" client
        raise AuthorizationError(
            f"{client_secrets}: not a usable OAuth client file: {exc}"
        ) from exc
    except (OAuth2Error, OSError) as exc:
        raise AuthorizationError(f"Google sign-in failed: {exc}") from exc
    return credentials


def authorize(
    client_secrets: Path,
    token_file: Path,
    *,
    open_browser: bool = True,
    run_flow: RunFlow | None = None,
    scopes: Sequence[str] = SCOPES,
) -> Credentials:
    """Run the sign-in flow once and store the refreshable token in token_file (mode 0600)."""
    _refuse_inside_project(token_file)
    credentials = (run_flow or run_installed_app_flow)(client_secrets, scopes, open_browser)
    if not credentials.refresh_token:
        raise AuthorizationError("Google returned no refresh token; sign in again")
    save_token(credentials, token_file)
    return credentials


def save_token(credentials: Credentials, token_file: Path) -> None:
    """Write the token atomically, never readable by anyone but the owner, outside the project."""
    _refuse_inside_project(token_file)
    folder = token_file.parent
    temporary = folder / f".{token_file.name}.{secrets.token_hex(6)}.tmp"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Created 0600 by open() itself: a chmod afterwards would leave a moment of umask mode.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise AuthorizationError(f"cannot write the Google token to {token_file}: {exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(credentials.to_json())  # type: ignore[no-untyped-call]
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, token_file)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def load_credentials(
    token_file: Path,
    scopes: Sequence[str] = SCOPES,
    fix_command: str = FIX_COMMAND,
    what: str = "YouTube",
) -> Credentials:
    """The stored user credential; CredentialsRevoked (naming the file) when it cannot be used."""
    try:
        mode = token_file.stat().st_mode
    except FileNotFoundError:
        raise CredentialsRevoked(
            f"no Google token at {token_file}: {what} was never authorised", fix_command
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsRevoked(
            f"the Google token {token_file} is open to other users "
            f"(mode {stat.filemode(mode)}); it must be private",
            f"chmod 600 {token_file}",
        )
    try:
        credentials: Credentials = Credentials.from_authorized_user_file(  # type: ignore[no-untyped-call]
            str(token_file), list(scopes)
        )
    except (OSError, ValueError) as exc:  # ValueError: not JSON, or fields missing
        raise CredentialsRevoked(
            f"the Google token {token_file} cannot be used: {exc}", fix_command
        ) from None
    if not credentials.refresh_token:
        raise CredentialsRevoked(f"the Google token {token_file} has no refresh token", fix_command)
    return credentials


def _refuse_inside_project(token_file: Path) -> None:
    # A token in the checkout is one `git add .` away from being published.
    if IN_CHECKOUT and token_file.resolve().is_relative_to(PROJECT_DIR.resolve()):
        raise AuthorizationError(
            f"{token_file} is inside the project folder {PROJECT_DIR}; "
            "keep the Google token outside it (livestream.google_token_file)"
        )
