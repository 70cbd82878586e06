"""What every part of vcs is handed: settings, the database and the clock."""

from __future__ import annotations

from dataclasses import dataclass, field

from vcs.clock import Clock, SystemClock
from vcs.config import Settings
from vcs.storage.db import Database, make_engine


@dataclass
class Context:
    settings: Settings
    database: Database
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Context:
        engine = make_engine(
            settings.database_url,
            echo=settings.database.echo,
            pool_size=settings.database.pool_size,
        )
        return cls(settings, Database(engine), clock or SystemClock())

    def close(self) -> None:
        self.database.dispose()
