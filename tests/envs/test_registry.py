"""The suite registry: splits, determinism, did-you-mean errors."""

from __future__ import annotations

import pytest

from practicum.envs import registry
from practicum.envs.core import Task
from practicum.errors import ConfigError, UnknownIdError
from tests.envs.test_core import Walk


def _task(seed: int) -> Task:
    split = "train" if seed < 100 else "test" if seed < 120 else "validation"
    return Task(
        suite="walk-test",
        seed=seed,
        split=split,
        goal=f"Reach position {2 + seed % 3}.",
        params={"target": 2 + seed % 3},
    )


@pytest.fixture
def walk_suite() -> registry.Suite:
    suite = registry.Suite(
        name="walk-test",
        domain="game",
        description="a test walk",
        make_task=_task,
        make_env=Walk,
        splits={"train": range(0, 100), "validation": range(120, 130), "test": range(100, 120)},
    )
    registry.register(suite)
    yield suite
    registry._REGISTRY.pop("walk-test", None)


def test_splits_are_counted_and_tasks_are_deterministic(walk_suite: registry.Suite) -> None:
    assert walk_suite.counts() == {"train": 100, "validation": 10, "test": 20}
    assert [t.seed for t in walk_suite.tasks("test", limit=3)] == [100, 101, 102]
    assert [t.seed for t in walk_suite.tasks("validation", limit=2)] == [120, 121]
    assert walk_suite.task(5) == _task(5)
    assert registry.get_task("walk-test:101").split == "test"
    assert registry.get_task("walk-test:125").split == "validation"


@pytest.mark.parametrize(
    ("splits", "message"),
    [
        ({"train": range(0, 10), "validation": range(10, 15), "test": range(5, 20)}, "train seeds .* and test seeds"),
        ({"train": range(0, 10), "validation": range(20, 30), "test": range(25, 40)}, "validation seeds .* and test"),
        ({"train": range(0, 10), "validation": range(9, 12), "test": range(20, 30)}, "train seeds .* and validation"),
    ],
)
def test_overlapping_splits_are_refused(splits: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=f"{message}.*overlap; make the ranges disjoint"):
        registry.Suite("bad", "game", "", _task, Walk, splits)


def test_a_suite_without_a_split_is_refused_and_an_empty_range_is_allowed() -> None:
    with pytest.raises(ConfigError, match=r"no seed range for split\(s\) \['validation'\]"):
        registry.Suite("bad", "game", "", _task, Walk, {"train": range(0, 10), "test": range(10, 20)})
    suite = registry.Suite(
        "ok", "game", "", _task, Walk, {"train": range(0, 10), "validation": range(10, 10), "test": range(10, 20)}
    )
    assert suite.counts() == {"train": 10, "validation": 0, "test": 10}
    with pytest.raises(
        UnknownIdError, match=r"seed 30 is in no split of suite 'ok' \(train 0..9, validation none, test 10..19\)"
    ):
        suite.task(30)


def test_unknown_suite_suggests_the_close_name(walk_suite: registry.Suite) -> None:
    with pytest.raises(UnknownIdError, match="Did you mean 'walk-test'"):
        registry.get_suite("walk-tset")


@pytest.mark.parametrize(
    ("task_id", "message"),
    [
        ("walk-test", "not of the form SUITE:SEED"),
        (
            "walk-test:500",
            r"seed 500 is in no split of suite 'walk-test' \(train 0..99, validation 120..129, test 100..119\)",
        ),
        ("nope:1", "unknown suite"),
    ],
)
def test_bad_task_ids_name_the_problem(walk_suite: registry.Suite, task_id: str, message: str) -> None:
    with pytest.raises(UnknownIdError, match=message):
        registry.get_task(task_id)


def test_make_env_runs_a_registered_suite(walk_suite: registry.Suite) -> None:
    env = registry.make_env("walk-test")
    obs, info = env.reset(options={"task": walk_suite.task(101)})
    assert info["task"] == "walk-test:101" and "Reach position 4" in obs
