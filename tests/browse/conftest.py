"""Browse fixtures: a seeded SQLite store (shared by read-only tests, fresh for edit tests), a practice run's store,
and HTTP clients."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from practicum.browse import create_app
from practicum.store import Store, open_store
from tests.browse.seed import Practiced, Seeded, seed_practice_run, seed_store


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Seeded]]:
    """One seeded store for a test module that only reads."""
    path = tmp_path_factory.mktemp("browse") / "store.db"
    with open_store(f"sqlite:///{path}") as store:
        yield store, seed_store(store)


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Store, Seeded]]:
    """A seeded store of its own, for a test that edits."""
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        yield store, seed_store(store)


def client_for(store: Store, *, allow_edits: bool = False) -> TestClient:
    """An HTTP client for the app, addressed as the loopback server it normally is."""
    return TestClient(create_app(store, allow_edits=allow_edits), base_url="http://127.0.0.1:8765")


@pytest.fixture(scope="module")
def client(seeded: tuple[Store, Seeded]) -> TestClient:
    """A read-only client over the shared seeded store."""
    return client_for(seeded[0])


@pytest.fixture(scope="module")
def practiced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Practiced]]:
    """A store holding one practice run as the loop leaves it (see `seed_practice_run`), for tests that read."""
    folder = tmp_path_factory.mktemp("practice")
    with open_store(f"sqlite:///{folder / 'store.db'}") as store:
        yield store, seed_practice_run(store, folder / "checkpoints")


@pytest.fixture(scope="module")
def practice_client(practiced: tuple[Store, Practiced]) -> TestClient:
    """A read-only client over the practice run's store."""
    return client_for(practiced[0])


@pytest.fixture(scope="module")
def ids(seeded: tuple[Store, Seeded]) -> Seeded:
    """The ids of what the shared seeded store holds."""
    return seeded[1]
