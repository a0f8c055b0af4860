"""Edits: the audit trail of hand relabels (critic scores, pair labels) made in `practicum browse --allow-edits`.

Created: 2026-11-24 21:10:00
"""

import sqlalchemy as sa
from alembic import op

revision: str = "0002_edits"
down_revision: str | None = "0001_base_schema"


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "edits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("episode_id", sa.Integer(), nullable=True),
        sa.Column("node_idx", sa.Integer(), nullable=True),
        sa.Column("pair_id", sa.Integer(), nullable=True),
        sa.Column("old_value", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("new_value", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('critic_score', 'pair_label')", name=op.f("ck_edits_kind")),
        sa.ForeignKeyConstraint(
            ["episode_id", "node_idx"], ["nodes.episode_id", "nodes.idx"], name="fk_edits_node", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["episode_id"], ["episodes.id"], name=op.f("fk_edits_episode_id_episodes"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["pair_id"], ["pairs.id"], name=op.f("fk_edits_pair_id_pairs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_edits")),
    )
    op.create_index("ix_edits_episode_id", "edits", ["episode_id", "id"])
    op.create_index("ix_edits_pair_id", "edits", ["pair_id"])


def downgrade() -> None:
    """Undo this revision: drop the edits table (its indexes go with it)."""
    op.drop_table("edits")
