"""sessions as run (issue 14): series-file overrides and extra dates

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 12:30:00

A placeholder so that work on several issues can add its tables side by side; the issue that owns
it fills in upgrade() and downgrade().
"""

from collections.abc import Sequence

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
