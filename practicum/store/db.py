"""Opening a store: URL checks, the engine with its SQLite settings, and the schema upgrade.

`open_store(url)` is the one entry point. It accepts any SQLAlchemy URL (default `sqlite:///practicum.db`
in the working directory); `postgresql://` and `postgres://` mean PostgreSQL through psycopg 3. Every
problem a user can cause (a malformed URL, an unknown dialect, a missing directory, an unreachable server,
a store written by a newer practicum, a database holding another program's tables) is a `StoreError` whose
one line names the problem and the fix, raised before anything is written. Read-only commands open with
`create=False, upgrade=False`: a read never creates a store or migrates one.

SQLite is set up so that several processes can write one store at once: WAL journal, `foreign_keys=ON`,
a busy timeout, and `BEGIN IMMEDIATE` for write transactions (a deferred transaction that later needs the
write lock fails at once instead of waiting, so writers take the lock up front).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, StaticPool

from practicum.errors import StoreError
from practicum.store.migrate import check_known, ensure_schema, head_revision, stored_revision
from practicum.store.paths import attach_folder, store_folder
from practicum.store.store import Store

DEFAULT_URL = "sqlite:///practicum.db"
EXAMPLES = "sqlite:///practicum.db or postgresql://user:password@host:5432/dbname"
WRITE_OPTION = "practicum_write"  # execution option marking connections that will write (SQLite: BEGIN IMMEDIATE)


def mask(url: URL | str) -> str:
    """The URL as text with any password replaced by ***."""
    try:
        return (url if isinstance(url, URL) else make_url(url)).render_as_string(hide_password=True)
    except (exc.ArgumentError, ValueError):
        return "<unparseable URL>"


def parse_url(url: str | URL | None = None) -> URL:
    """Parse and normalise a store URL without connecting; raise `StoreError` for anything unusable.

    `postgresql://` and `postgres://` become `postgresql+psycopg://`. A SQLite file URL must name a file in a
    directory that exists (nothing is created elsewhere).
    """
    if url is None:
        url = DEFAULT_URL
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (exc.ArgumentError, ValueError) as e:
        shown = url if isinstance(url, str) and "@" not in url else "<the URL>"
        raise StoreError(f"store URL {shown!r} is malformed ({e}); write it like {EXAMPLES}") from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        parsed.get_dialect()
    except exc.NoSuchModuleError:
        raise StoreError(
            f"store URL {mask(parsed)!r} names an unknown database dialect {parsed.drivername!r}; "
            f"use a SQLAlchemy URL such as {EXAMPLES}"
        ) from None
    except ImportError as e:
        raise StoreError(
            f"the database driver for {parsed.drivername!r} is not installed ({e}); install it or use {EXAMPLES}"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_path(parsed)
    return parsed


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def _check_sqlite_path(url: URL) -> None:
    if _is_memory(url) or url.query.get("uri"):
        return
    path = Path(str(url.database)).expanduser()
    if path.is_dir():
        raise StoreError(
            f"SQLite store path {str(path)!r} is a directory; name a file in it, e.g. {path / 'practicum.db'}"
        )
    parent = path.absolute().parent
    if not parent.is_dir():
        raise StoreError(
            f"the directory {str(parent)!r} for the SQLite store does not exist; create it (mkdir -p {parent}) "
            "or choose another path"
        )


def make_engine(
    url: str | URL | None = None, *, busy_timeout_s: float = 60.0, connect_timeout_s: float = 5.0
) -> Engine:
    """Create the engine for a store URL with practicum's connection settings; does not connect yet."""
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {}
    connect_args: dict[str, Any] = {}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        connect_args["timeout"] = busy_timeout_s
        if _is_memory(parsed):
            # One shared connection: every session must see the same in-memory database.
            kwargs["poolclass"] = StaticPool
            connect_args["check_same_thread"] = False
    elif parsed.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, round(connect_timeout_s))
        connect_args["application_name"] = "practicum"
        kwargs["pool_pre_ping"] = True
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    attach_folder(engine, store_folder(parsed))  # checkpoint paths are kept relative to a SQLite store's folder
    if sqlite:
        _configure_sqlite(engine, busy_timeout_s=busy_timeout_s, memory=_is_memory(parsed))
    return engine


def _configure_sqlite(engine: Engine, *, busy_timeout_s: float, memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # The sqlite3 driver's own transaction handling issues no BEGIN before DDL or SELECT; switch it off
        # and let the "begin" hook below emit BEGIN itself (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                # In WAL mode NORMAL never corrupts and never loses a committed transaction to a process
                # crash (only to power loss), and saves an fsync per commit.
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A writer takes the write lock up front so it waits (busy timeout) instead of failing on upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def open_store(
    url: str | URL | None = None,
    *,
    create: bool = True,
    upgrade: bool = True,
    busy_timeout_s: float = 60.0,
    connect_timeout_s: float = 5.0,
    retry_for_s: float = 60.0,
) -> Store:
    """Open (creating or upgrading if allowed) the trajectory store at `url` and return it.

    `url` is any SQLAlchemy URL; None means `sqlite:///practicum.db` in the working directory. A missing file
    or an empty database gets a new store at the newest schema (with `create=False` it is refused instead),
    an older store is upgraded in place (with `upgrade=False` it is refused instead), and one written by a
    newer practicum is refused. A database holding another program's tables is always refused: practicum
    never adds its tables beside them. A refusal is a `StoreError` raised before anything is written: the
    database is first inspected through a connection that only reads. With `create=False, upgrade=False`
    opening writes nothing at all, which is what read-only commands use.

    Close the store (or use it as a context manager) when done; open one per process. Episode writes retry
    with backoff for up to `retry_for_s` seconds while the database is unreachable.
    """
    parsed = parse_url(url)
    revision = _probe_revision(parsed, busy_timeout_s=busy_timeout_s, connect_timeout_s=connect_timeout_s)
    _check_openable(parsed, revision, create=create, upgrade=upgrade)
    engine = make_engine(parsed, busy_timeout_s=busy_timeout_s, connect_timeout_s=connect_timeout_s)
    if revision != head_revision():  # a new store to create or an older one to upgrade
        with _store_errors(engine):
            ensure_schema(engine.execution_options(**{WRITE_OPTION: True}), shown=mask(parsed))
    return Store(engine, write_engine=engine.execution_options(**{WRITE_OPTION: True}), retry_for_s=retry_for_s)


def read_revision(url: str | URL | None = None, *, connect_timeout_s: float = 5.0) -> str:
    """Reading only, the schema revision of the practicum store at `url` (known to this practicum or not).

    Raises `StoreError`, with nothing created or written, when there is no practicum store there: a SQLite
    file that does not exist, an empty database, another program's tables, a file that is not a database,
    an unreachable server.
    """
    parsed = parse_url(url)
    revision = _probe_revision(parsed, busy_timeout_s=5.0, connect_timeout_s=connect_timeout_s)
    if revision is None:
        raise StoreError(_no_store(parsed))
    return revision


def _check_openable(parsed: URL, revision: str | None, *, create: bool, upgrade: bool) -> None:
    if revision is None:
        if not create:
            raise StoreError(_no_store(parsed))
        return
    check_known(revision)
    if revision != head_revision() and not upgrade:
        shown = mask(parsed)
        raise StoreError(
            f"{shown} has schema revision {revision}, older than this practicum's {head_revision()}; "
            f"upgrade it with `practicum store upgrade --db {shown}` (back it up first)"
        )


def _probe_revision(parsed: URL, *, busy_timeout_s: float, connect_timeout_s: float) -> str | None:
    # Inspect the database before practicum's own engine touches it: that engine switches a SQLite file to
    # WAL on connect, which rewrites the header of a file that may belong to another program.
    if _is_missing_or_memory(parsed):
        return None  # nothing there yet (a new in-memory database is always empty)
    if parsed.get_backend_name() == "sqlite":
        # The driver's defaults and no pragmas: reading the table list writes nothing, even to a 0-byte file.
        engine = create_engine(parsed, poolclass=NullPool, connect_args={"timeout": busy_timeout_s})
    else:
        engine = make_engine(parsed, busy_timeout_s=busy_timeout_s, connect_timeout_s=connect_timeout_s)
    try:
        with _store_errors(engine), engine.connect() as connection:
            return stored_revision(connection, mask(parsed))
    finally:
        engine.dispose()


def _is_missing_or_memory(url: URL) -> bool:
    """Whether `url` names a SQLite database with nothing in it yet: in memory, or a file that does not exist."""
    if url.get_backend_name() != "sqlite":
        return False
    if _is_memory(url):
        return True
    # A file: URI (?uri=true) is the driver's to resolve; it is inspected like any database.
    return not url.query.get("uri") and not Path(str(url.database)).expanduser().exists()


def _no_store(url: URL) -> str:
    shown = mask(url)
    if url.get_backend_name() == "sqlite" and _is_memory(url):
        where = "a new in-memory database holds no practicum store"
    elif _is_missing_or_memory(url):
        where = f"no store at {url.database!r}"
    else:
        where = f"{shown} holds no practicum store"
    return (
        f"{where}; run `practicum practice --db {shown}` to create one, or pass --db with the URL of an existing store"
    )


@contextlib.contextmanager
def _store_errors(engine: Engine) -> Iterator[None]:
    """Turn the driver's errors while opening into one-line `StoreError`s that say how to fix them.

    On any error the engine's connections are closed.
    """
    try:
        yield
    except exc.OperationalError as e:
        engine.dispose()
        problem = _first_line(e)
        raise StoreError(f"cannot open the store at {mask(engine.url)!r}: {problem}; {_fix_for(engine)}") from None
    except exc.DatabaseError as e:
        engine.dispose()
        raise StoreError(
            f"{mask(engine.url)!r} is not a usable practicum store ({_first_line(e)}); "
            "point the URL at a practicum store or at a new file"
        ) from None
    except BaseException:
        engine.dispose()
        raise


def _first_line(error: exc.DBAPIError) -> str:
    text = str(error.orig) if error.orig is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error.orig).__name__


def _fix_for(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return "check that the file is readable and writable and not locked by a crashed process"
    return "check that the server is running and reachable and that the URL's host, port, user and password are right"
