"""Schema migrations: Alembic revisions shipped in `migrations/versions/`, run from code (no alembic.ini).

`ensure_schema` brings a store to the newest revision inside one write transaction: a new database gets the
whole schema, an older store is upgraded in place, and a store stamped with a revision this practicum does
not know (written by a newer version) is refused untouched. On SQLite the transaction holds the write lock
and on PostgreSQL an advisory lock, so processes opening one new store at the same moment upgrade it once.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from practicum import __version__
from practicum.errors import StoreError
from practicum.store.models import TABLES

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises concurrent upgrades of one database.
_PG_LOCK_KEY = 0x70726163_74696375


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic `Config` for practicum's migrations; `connection` is the one they run on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest schema revision this practicum knows."""
    head = _scripts().get_current_head()
    if head is None:  # pragma: no cover - the package always ships its base revision
        raise StoreError("practicum's migrations are missing from the package; reinstall practicum")
    return head


def known_revisions() -> set[str]:
    """Every schema revision this practicum knows."""
    return {script.revision for script in _scripts().walk_revisions()}


def current_revision(connection: Connection) -> str | None:
    """The revision the database is stamped with (None for an empty or unversioned database)."""
    return MigrationContext.configure(connection).get_current_revision()


def ensure_schema(engine: Engine, *, shown: str = "this database") -> str:
    """Create or upgrade the schema to the head revision in one transaction; return the head.

    Raises `StoreError` without changing anything if the database carries a revision this practicum does
    not know, holds practicum tables without a revision stamp, or holds another program's tables and no
    practicum store (practicum never adds its tables beside another program's). `shown` names the database
    in those messages.
    """
    head = head_revision()
    with engine.connect() as connection, foreign_keys_off(connection), connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        tables = set(inspect(connection).get_table_names())
        heads = MigrationContext.configure(connection).get_current_heads()
        _refuse_foreign(tables, shown, fix="use a new file or an empty database for the store")
        for revision in heads:
            check_known(revision)
        if heads == (head,):
            return head
        _refuse_unstamped(tables, heads, shown)
        try:
            command.upgrade(alembic_config(connection), "head")
        except CommandError as e:  # pragma: no cover - guarded by the unknown-revision check above
            raise StoreError(f"cannot upgrade the store: {e}; upgrade practicum") from None
        check_foreign_keys(connection)
    return head


def stored_revision(connection: Connection, shown: str) -> str | None:
    """Reading only: the schema revision of the practicum store in this database (None: it holds none yet).

    Raises `StoreError` when the database holds another program's tables and no practicum store, or
    practicum tables without a revision stamp. `shown` names the database in the message.
    """
    tables = set(inspect(connection).get_table_names())
    _refuse_foreign(tables, shown, fix="pass --db with the URL of a practicum store, or of a new file")
    heads = MigrationContext.configure(connection).get_current_heads() if tables else ()
    _refuse_unstamped(tables, heads, shown)
    return ", ".join(heads) or None


def check_known(revision: str) -> None:
    """Raise `StoreError` for a revision this practicum does not know (the store was written by a newer one)."""
    if revision not in known_revisions():
        raise StoreError(
            f"this store has schema revision {revision}, which practicum {__version__} does not know: "
            "it was written by a newer practicum; upgrade practicum (pip install -U practicum) to open it"
        )


def _refuse_foreign(tables: set[str], shown: str, *, fix: str) -> None:
    # Tables but none of practicum's: another program's database. A lone alembic_version is left to the
    # revision checks (empty after a downgrade to base; an unknown revision is refused there).
    others = tables - {"alembic_version"}
    if others and not others & set(TABLES):
        listed = ", ".join(sorted(others)[:5]) + (", ..." if len(others) > 5 else "")
        raise StoreError(
            f"{shown} holds another program's tables ({listed}) and no practicum store; practicum leaves it "
            f"untouched: {fix}"
        )


def _refuse_unstamped(tables: set[str], heads: tuple[str, ...], shown: str) -> None:
    present = sorted(tables & set(TABLES))
    if present and not heads:
        raise StoreError(
            f"{shown} has practicum tables ({', '.join(present)}) but no schema revision, so it cannot be "
            "upgraded safely; use a new database or file for the store"
        )


@contextlib.contextmanager
def foreign_keys_off(connection: Connection) -> Iterator[None]:
    """On SQLite, switch foreign-key enforcement off for `connection` while migrations run; elsewhere nothing.

    Alembic's batch mode changes a SQLite table by copying it and dropping the original; with foreign keys on,
    that DROP first deletes the original's rows, and ON DELETE CASCADE takes every row that references them
    (a store's nodes and pairs) with it. SQLite ignores this pragma inside a transaction, so enter this before
    `connection.begin()`, and call `check_foreign_keys` before committing.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    if connection.in_transaction():
        raise RuntimeError("foreign_keys_off must be entered before the connection's transaction begins")
    raw = connection.connection.driver_connection  # the driver's connection: no SQLAlchemy autobegin
    if raw is None:  # pragma: no cover - a live connection always has one
        raise RuntimeError("the connection has no driver connection")
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys = ON")


def check_foreign_keys(connection: Connection) -> None:
    """Raise `StoreError` (the caller's transaction then rolls back) if a migration left a dangling reference."""
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL enforces foreign keys during the migration itself
    dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if dangling:
        tables = sorted({row[0] for row in dangling})
        raise StoreError(
            f"upgrading the store would leave rows in {', '.join(tables)} pointing at nothing; nothing was "
            "changed. Report this with the store's revision (practicum doctor)"
        )
