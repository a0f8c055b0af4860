"""Helpers of practicum/loop/executors.py that need no model."""

from __future__ import annotations

import pytest

from practicum.loop.executors import worker_threads


@pytest.mark.parametrize(
    ("workers", "cpus", "threads"), [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 16, 8), (4, 16, 4), (5, 16, 3)]
)
def test_collection_workers_share_the_cores_out(workers: int, cpus: int, threads: int) -> None:
    assert worker_threads(workers, cpus) == threads
