"""Why a run ended: `runs.status_reason` holds the error of a failed run, what stopped an interrupted one, or
the loop's own stop reason ("finished 2 iteration(s)").

Created: 2026-12-07 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0007_run_status_reason"
down_revision: str | None = "0006_relative_paths"


def upgrade() -> None:
    """Apply this revision: add the nullable column (runs recorded before it have no reason)."""
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("status_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    """Undo this revision: drop the column and the reasons in it."""
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("status_reason")
