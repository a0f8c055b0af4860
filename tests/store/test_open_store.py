"""open_store: URLs, SQLite settings, and clear one-line errors that write nothing."""

from __future__ import annotations

import hashlib
import socket
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from practicum.errors import StoreError
from practicum.store import DEFAULT_URL, open_store, parse_url
from practicum.store.migrate import head_revision


def test_default_store_is_practicum_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert DEFAULT_URL == "sqlite:///practicum.db"
    with open_store() as store:
        assert store.info().revision == head_revision()
    assert (tmp_path / "practicum.db").is_file()


def test_sqlite_store_uses_wal_foreign_keys_and_a_busy_timeout(sqlite_url: str) -> None:
    with open_store(sqlite_url, busy_timeout_s=7.5) as store, store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 7500
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


def test_in_memory_sqlite_store_is_shared_by_all_sessions() -> None:
    with open_store("sqlite://") as store:
        run_id = store.create_run(name="mem")
        with store.session() as s:
            assert s.execute(text("SELECT name FROM runs WHERE id = :i"), {"i": run_id}).scalar() == "mem"


def test_plain_postgresql_urls_use_psycopg3() -> None:
    for url in ("postgresql://u:pw@db.example:5432/practicum", "postgres://u:pw@db.example/practicum"):
        parsed = parse_url(url)
        assert parsed.drivername == "postgresql+psycopg"
        assert parsed.password == "pw"
    assert parse_url("postgresql+psycopg://u@h/d").drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("practicum.db", r"store URL 'practicum.db' is malformed .*write it like sqlite:///practicum.db"),
        ("postgresql://u@host:notaport/db", r"malformed .*write it like"),
        ("nosuchdb://user@host/db", r"unknown database dialect 'nosuchdb'; use a SQLAlchemy URL such as sqlite:///"),
    ],
)
def test_bad_url_is_refused_with_a_clear_message(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as info:
        open_store(url)
    assert "\n" not in str(info.value)


def test_malformed_url_with_a_password_does_not_echo_it() -> None:
    with pytest.raises(StoreError) as info:
        open_store("postgresql://user:hunter2@host:notaport/db")
    assert "hunter2" not in str(info.value)


def test_sqlite_path_in_a_missing_directory_is_refused_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    with pytest.raises(StoreError, match=r"directory .*no/such/dir.* does not exist; create it \(mkdir -p"):
        open_store(f"sqlite:///{missing / 'store.db'}")
    assert list(tmp_path.iterdir()) == []


def test_sqlite_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"is a directory; name a file in it"):
        open_store(f"sqlite:///{tmp_path}")


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"is not a usable practicum store \(file is not a database\)"):
        open_store(f"sqlite:///{path}")
    assert path.read_bytes() == before


def test_unreachable_postgresql_fails_fast_with_the_fix() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(StoreError, match=r"cannot open the store at .*check that the server is running") as info:
        open_store(f"postgresql://practicum:secret@127.0.0.1:{port}/practicum")
    assert time.monotonic() - start < 5
    assert "secret" not in str(info.value) and "***" in str(info.value)


def test_a_server_that_never_answers_times_out_after_the_connect_timeout() -> None:
    # A listening socket that never accepts: the TCP handshake completes, the PostgreSQL greeting never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        start = time.monotonic()
        with pytest.raises(StoreError, match=r"cannot open the store"):
            open_store(f"postgresql://practicum@127.0.0.1:{port}/practicum", connect_timeout_s=1)
        elapsed = time.monotonic() - start
    assert 0.5 < elapsed < 10


def test_another_programs_sqlite_file_is_refused_byte_for_byte_untouched(tmp_path: Path) -> None:
    # Even a command that writes must not add practicum's tables (or switch on WAL) in someone else's file.
    path = tmp_path / "shared.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE notes (body TEXT)")
        raw.execute("INSERT INTO notes VALUES ('keep me')")
    raw.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for options in ({}, {"create": False, "upgrade": False}):
        with pytest.raises(
            StoreError, match=r"holds another program's tables \(notes\) and no practicum store"
        ) as info:
            open_store(f"sqlite:///{path}", **options)
        assert "\n" not in str(info.value) and "new file" in str(info.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.db"]


def test_a_store_that_also_holds_other_tables_still_opens(tmp_path: Path) -> None:
    # Tables a user added beside practicum's own are theirs to keep; the store is still a practicum store.
    url = f"sqlite:///{tmp_path / 'p.db'}"
    open_store(url).close()
    with sqlite3.connect(tmp_path / "p.db") as raw:
        raw.execute("CREATE TABLE notes (body TEXT)")
    raw.close()
    with open_store(url, create=False, upgrade=False) as store:
        assert store.info().counts["runs"] == 0


def test_an_empty_file_becomes_a_store_only_when_creating(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StoreError, match=r"holds no practicum store; run `practicum practice --db sqlite:///"):
        open_store(f"sqlite:///{path}", create=False)
    assert path.read_bytes() == b""
    with open_store(f"sqlite:///{path}") as store:
        assert store.info().revision == head_revision()


def test_reading_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no store at .*missing.db.*practicum practice --db"):
        open_store(f"sqlite:///{tmp_path / 'missing.db'}", create=False, upgrade=False)
    assert list(tmp_path.iterdir()) == []
