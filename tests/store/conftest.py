"""Store fixtures: a real SQLite file per test and a real PostgreSQL server per session (`tests/postgres.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from practicum.store import Store, open_store


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A new SQLite store file for one test."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, empty store on each backend."""
    with open_store(store_url) as s:
        yield s
