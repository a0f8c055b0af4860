"""Leases: which worker is playing which episode uid, renewed by heartbeat, taken over when it stops.

Created: 2026-11-25 00:55:00
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0003_leases"
down_revision: str | None = "0002_edits"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "leases",
        sa.Column("uid", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("uid", name=op.f("pk_leases")),
    )
    op.create_index(op.f("ix_leases_expires_at"), "leases", ["expires_at"])


def downgrade() -> None:
    """Undo this revision: drop the leases table."""
    op.drop_table("leases")
