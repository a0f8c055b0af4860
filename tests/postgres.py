"""A real PostgreSQL server for tests: Debian's `initdb` into a temporary directory, `pg_ctl start` on 127.0.0.1.

PostgreSQL refuses to run as root, so as root the commands run as the `postgres` system user. Tests that need
it are skipped (with the reason) only where the binaries or that user are missing. Each test gets its own
database on the shared server; `stop()` and `start()` let a fault test take the server away and bring it back.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest


def _postgres_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    for directory in reversed(candidates):
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """A running throw-away PostgreSQL server; `url(db)` gives a SQLAlchemy URL for one database on it."""

    def __init__(self, port: int, ctl: list[str] | None = None, start_args: list[str] | None = None) -> None:
        self.port = port
        self._ctl = ctl or []
        self._start_args = start_args or []

    def stop(self) -> None:
        """Shut the server down, dropping every client (they see refused connections until `start`).

        A fast shutdown, not an immediate one: this throw-away server runs with synchronous_commit off, so
        an immediate stop would also drop its last commits, which a real outage does not do.
        """
        subprocess.run([*self._ctl, "-m", "fast", "-w", "stop"], check=True, capture_output=True)

    def start(self) -> None:
        """Start the stopped server again on the same port and data directory."""
        subprocess.run([*self._ctl, *self._start_args, "-w", "-t", "60", "start"], check=True, capture_output=True)

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        user = "postgres" if password is None else f"postgres:{password}"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True)

    def create_database(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start PostgreSQL for the test session (skip where the server or its user is not installed)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql)")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:
        # PostgreSQL will not run as root: run it as the package's system user.
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' system user to run the server as")
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root and 'runuser' is missing, so the server cannot drop to user postgres")
        run_as = [runuser, "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="practicum-pg-"))
    if owner is not None:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data, log = root / "data", root / "server.log"
    port = _free_port()
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=50"
    )
    ctl = [*run_as, str(bindir / "pg_ctl"), "-D", str(data)]
    start_args = ["-l", str(log), "-o", options]
    started = subprocess.run([*ctl, *start_args, "-w", "-t", "60", "start"], capture_output=True)
    if started.returncode != 0:
        detail = log.read_text() if log.exists() else started.stderr.decode()
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start:\n{detail}")
    try:
        yield PostgresServer(port, ctl, start_args)
    finally:
        subprocess.run([*ctl, "-m", "immediate", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)
