"""Where the project's own files live: config, templates, static assets and message catalogues."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
CONFIG_DIR = PROJECT_DIR / "config"
DEFAULT_CONFIG = CONFIG_DIR / "default.toml"
TEMPLATES_DIR = PROJECT_DIR / "templates"
STATIC_DIR = PROJECT_DIR / "static"
LOCALE_DIR = PACKAGE_DIR / "locale"
MIGRATIONS_DIR = PACKAGE_DIR / "storage" / "migrations"
