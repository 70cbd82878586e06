"""Latvian-first staff area (issue 15)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 12:30:00

A placeholder so that work on several issues can add its tables side by side; the issue that owns
it fills in upgrade() and downgrade().
"""

from collections.abc import Sequence

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
