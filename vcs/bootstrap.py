"""Bring a database to the newest schema and load the network into it (`vcs init`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from vcs.context import Context
from vcs.network import load_network, read_network
from vcs.storage import migrate
from vcs.storage.models import Municipality, Region


@dataclass(frozen=True)
class InitReport:
    revision_before: str | None
    revision: str
    regions: int
    municipalities: int
    network_changes: int


def initialise(context: Context) -> InitReport:
    """Migrate and load config/network.toml; running it again changes nothing."""
    settings = context.settings
    network = read_network(settings.path(settings.network.file))
    engine = context.database.engine
    before = migrate.current_revision(engine)
    migrate.upgrade(engine)
    with context.database.session() as db:
        changes = load_network(db, network)
        regions = db.scalar(select(func.count()).select_from(Region)) or 0
        municipalities = db.scalar(select(func.count()).select_from(Municipality)) or 0
    return InitReport(before, migrate.head_revision(), regions, municipalities, changes)
