"""Where the project's own files live: config, templates, static assets and message catalogues.

Run from a checkout (an editable install, `make run`), they are the checkout's top-level
`config/`, `templates/` and `static/`. An installed wheel carries copies of them inside the
package (`vcs/_data/`, see [tool.hatch.build.targets.wheel.force-include] in pyproject.toml).
Relative paths in the settings (`var/vcs.sqlite3`, `var/outbox`) are taken from the checkout, or,
installed, from the working directory; see `installation_dir()`.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_CHECKOUT = PACKAGE_DIR.parent
# A checkout has the package beside pyproject.toml and the top-level folders; an installed
# package sits in site-packages, which has neither.
IN_CHECKOUT = (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "templates").is_dir()
# The folder that holds config/, templates/ and static/.
PROJECT_DIR = _CHECKOUT if IN_CHECKOUT else PACKAGE_DIR / "_data"
CONFIG_DIR = PROJECT_DIR / "config"
DEFAULT_CONFIG = CONFIG_DIR / "default.toml"
TEMPLATES_DIR = PROJECT_DIR / "templates"
STATIC_DIR = PROJECT_DIR / "static"
LOCALE_DIR = PACKAGE_DIR / "locale"
MIGRATIONS_DIR = PACKAGE_DIR / "storage" / "migrations"


def installation_dir() -> Path:
    """Where relative paths in the settings start: the checkout, else the working directory."""
    return PROJECT_DIR if IN_CHECKOUT else Path.cwd()


def resolve(value: str) -> Path:
    """A path setting: ~ expanded, a relative one taken from installation_dir().

    Installed, a relative path that names none of the working directory's files but one that
    vcs ships (the default `config/network.toml`) is the shipped file.
    """
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    local = installation_dir() / path
    if not IN_CHECKOUT and not local.exists() and (PROJECT_DIR / path).exists():
        return PROJECT_DIR / path
    return local
