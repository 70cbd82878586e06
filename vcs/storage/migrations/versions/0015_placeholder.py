"""speed (issue 18): cached event text

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 12:30:00

A placeholder so that work on several issues can add its tables side by side; the issue that owns
it fills in upgrade() and downgrade().
"""

from collections.abc import Sequence

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
