"""Trainer fixtures: a real SQLite store holding real search trees of the tiny model (`tiny_model_dir`,
from tests/conftest.py).

The trees come from a real search run (`practicum.search` with the tiny model as policy and critic on
`helpers.PathGame`), written through the store's own `write_episode`, so datasets are mined from real rows.
The store is built once per session and copied for every test that needs it, since tests write to it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from practicum.store import Store, open_store
from practicum.trainer.rounds import register_base_policy
from tests.trainer.helpers import collect, path_task

TRAIN_TASKS = [0, 1, 2, 3]
TEST_TASK = 100


@dataclass(frozen=True)
class Collected:
    """A store file with the base policy and the episodes of one collection run."""

    db: Path
    base_policy_id: int
    outcomes: dict[str, list[bool]]  # task key -> [search succeeded, greedy succeeded]


@pytest.fixture(scope="session")
def collected(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Collected:
    """Search and greedy episodes of the tiny model on four training tasks and one test task."""
    db = tmp_path_factory.mktemp("collected") / "store.db"
    with open_store(f"sqlite:///{db}") as store:
        base = register_base_policy(store, tiny_model_dir)
        outcomes = collect(store, tiny_model_dir, base, [*TRAIN_TASKS, TEST_TASK])
    assert path_task(TEST_TASK).split == "test"
    train = [outcomes[path_task(s).key] for s in TRAIN_TASKS]
    # The datasets tests need both kinds of episode on one task; the seeds above give them deterministically.
    assert any(search and not greedy for search, greedy in train), f"collection gave no success/failure pair: {train}"
    return Collected(db, base, outcomes)


@pytest.fixture
def store(collected: Collected, tmp_path: Path) -> Iterator[Store]:
    """A private copy of the collected store, open."""
    db = tmp_path / "store.db"
    shutil.copy(collected.db, db)
    with open_store(f"sqlite:///{db}") as s:
        yield s


@pytest.fixture
def empty_store(tmp_path: Path) -> Iterator[Store]:
    """A new, empty SQLite store."""
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}") as s:
        yield s
