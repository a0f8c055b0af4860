"""Sample mode: episodes and evaluations may be played by sampling actions from the policy (pass@k).

Created: 2026-11-25 06:20:00
"""

from alembic import op

revision: str = "0004_sample_mode"
down_revision: str | None = "0003_leases"

_TABLES = ("episodes", "evals")


def _replace_mode_check(allowed: str) -> None:
    # batch mode: SQLite rebuilds the table to change a CHECK constraint; PostgreSQL alters it in place.
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_mode"), type_="check")
            batch.create_check_constraint(op.f(f"ck_{table}_mode"), f"mode IN ({allowed})")


def upgrade() -> None:
    """Apply this revision: allow mode 'sample'."""
    _replace_mode_check("'greedy', 'search', 'sample'")


def downgrade() -> None:
    """Undo this revision: sampled episodes and evaluations are deleted first (their mode would be refused)."""
    # Explicit deletes in dependency order: on SQLite migrations run with foreign keys off, so no cascade.
    sampled = "SELECT id FROM episodes WHERE mode = 'sample'"
    pairs = (
        f"SELECT id FROM pairs WHERE episode_id IN ({sampled}) OR chosen_episode_id IN ({sampled}) "
        f"OR rejected_episode_id IN ({sampled})"
    )
    op.execute(f"DELETE FROM edits WHERE episode_id IN ({sampled}) OR pair_id IN ({pairs})")
    op.execute(f"DELETE FROM pairs WHERE id IN ({pairs})")
    op.execute(f"DELETE FROM nodes WHERE episode_id IN ({sampled})")
    op.execute(f"UPDATE eval_results SET episode_id = NULL WHERE episode_id IN ({sampled})")
    op.execute("DELETE FROM eval_results WHERE eval_id IN (SELECT id FROM evals WHERE mode = 'sample')")
    op.execute("DELETE FROM evals WHERE mode = 'sample'")
    op.execute("DELETE FROM episodes WHERE mode = 'sample'")
    _replace_mode_check("'greedy', 'search'")
