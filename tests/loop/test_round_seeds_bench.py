"""The round-replay benchmark's bookkeeping: what counts as a seed that moved or improved greedy play."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("round_seeds")


def test_seeds_that_moved_and_improved_are_counted_against_the_starting_policy(bench: ModuleType) -> None:
    summary = bench.seed_summary(0.3, {0: 0.6, 1: 0.3, 2: 0.2})
    assert summary["seeds_moved"] == 2 and summary["seeds_improved"] == 1 and summary["seeds"] == 3
    assert summary["mean_success"] == pytest.approx((0.6 + 0.3 + 0.2) / 3)
    assert summary["test_success"] == {"0": 0.6, "1": 0.3, "2": 0.2}
    assert bench.seed_summary(0.5, {})["mean_success"] is None


def test_a_store_that_is_not_an_sqlite_file_is_refused_before_anything_is_trained(bench: ModuleType) -> None:
    with pytest.raises(SystemExit, match="give an SQLite store"):
        bench.measure("postgresql://u@127.0.0.1:9/db", None, [0], {}, 1)
