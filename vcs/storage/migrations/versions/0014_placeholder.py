"""reach (issue 19): Google Calendar mirror, bounce intake

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 12:30:00

A placeholder so that work on several issues can add its tables side by side; the issue that owns
it fills in upgrade() and downgrade().
"""

from collections.abc import Sequence

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
