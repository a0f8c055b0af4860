"""Three splits: tasks and evaluations are train, validation or test; the old held-out split becomes test.

Created: 2026-11-26 09:00:00
"""

from alembic import op

revision: str = "0005_three_splits"
down_revision: str | None = "0004_sample_mode"

_TABLES = ("tasks", "evals")


def _drop_split_checks() -> None:
    # batch mode: SQLite rebuilds the table to change a CHECK constraint; PostgreSQL alters it in place.
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_split"), type_="check")


def _add_split_checks(allowed: str) -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(op.f(f"ck_{table}_split"), f"split IN ({allowed})")


def _rename_split(old: str, new: str) -> None:
    for table in _TABLES:
        op.execute(f"UPDATE {table} SET split = '{new}' WHERE split = '{old}'")


def upgrade() -> None:
    """Apply this revision: held-out tasks and evaluations become test ones; 'validation' is allowed."""
    # Neither constraint holds both the old and the new values: drop the old one, rename, add the new one.
    _drop_split_checks()
    _rename_split("heldout", "test")
    _add_split_checks("'train', 'validation', 'test'")


def downgrade() -> None:
    """Undo this revision: test and validation tasks and evaluations both become held-out ones again."""
    _drop_split_checks()
    _rename_split("test", "heldout")
    _rename_split("validation", "heldout")
    _add_split_checks("'train', 'heldout'")
