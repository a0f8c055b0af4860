"""Train, validation and test tasks never overlap (seeds, and for generated games the content too), and a seed
always gives the same task and the same first observation."""

from __future__ import annotations

import itertools

import pytest

from practicum.envs import registry
from practicum.envs.core import SPLITS, content_split
from practicum.envs.games import GymTextEnv
from practicum.envs.games.tasks import draw_for_split, split_of
from practicum.errors import UnknownIdError
from tests.envs.games.helpers import GAME_SUITES, suite_param


@pytest.mark.parametrize("name", [suite_param(n) for n in GAME_SUITES])
def test_same_seed_gives_the_same_task_and_first_observation(name: str) -> None:
    suite = registry.get_suite(name)
    for first, second in itertools.combinations(SPLITS, 2):
        assert not set(suite.splits[first]) & set(suite.splits[second]), (first, second)
    a, b = suite.env(), suite.env()
    try:
        for split in SPLITS:
            seeds = suite.splits[split]
            assert len(seeds) >= 1000
            for seed in (seeds.start, seeds.start + 5, seeds.stop - 1):
                task = suite.task(seed)
                assert task.split == suite.split_of(seed) == split
                again = suite.task(seed)
                assert (again, again.params) == (task, task.params)
                assert a.reset(seed=seed)[0] == b.reset(seed=seed)[0] == b.reset(options={"task": task})[0]
    finally:
        a.close()
        b.close()


def test_seeds_outside_every_split_are_refused_with_the_ranges() -> None:
    suite = registry.get_suite("taxi")
    ranges = r"\(train 0..99999, validation 200000..200999, test 100000..100999\)"
    with pytest.raises(UnknownIdError, match=rf"seed 5000000 is in no split of suite 'taxi' {ranges}"):
        suite.make_task(5_000_000)
    with pytest.raises(UnknownIdError, match="no split"):
        split_of({"train": range(0, 3), "validation": range(3, 4), "test": range(4, 5)}, -1, "x")


def _lake(task: object) -> str:
    return "".join(task.params["make_kwargs"]["desc"])  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "content", "n_train", "n_held_out"),
    [
        ("frozenlake-4x4", _lake, 400, 150),
        ("frozenlake-8x8", _lake, 200, 100),
        ("frozenlake-4x4-slippery", _lake, 200, 100),
        ("frozenlake-8x8-slippery", _lake, 200, 100),
        ("taxi", None, 400, 150),
        ("cliffwalking", lambda t: str(t.params["start"]), 300, 100),
        ("babyai-gotoobj", None, 60, 30),
        ("babyai-gotolocal", None, 40, 20),
        ("babyai-pickupdist", None, 40, 20),
        ("babyai-openreddoor", None, 40, 20),
    ],
)
def test_generated_content_belongs_to_exactly_one_split(name: str, content, n_train: int, n_held_out: int) -> None:
    suite = registry.get_suite(name)
    env = suite.env()
    assert isinstance(env, GymTextEnv)

    def key(task: object) -> str:
        if content is not None:
            return str(content(task))
        # No task field holds the whole content: start the task and fingerprint the real game state.
        env.reset(options={"task": task})
        gym_env = env.gym_env
        return gym_env.hash() if hasattr(gym_env, "hash") else str(gym_env.s)

    limits = {"train": n_train, "validation": n_held_out, "test": n_held_out}
    seen = {split: {key(t) for t in suite.tasks(split, limit=limits[split])} for split in SPLITS}
    for first, second in itertools.combinations(SPLITS, 2):
        assert not seen[first] & seen[second], f"{first} and {second} share content"
    assert len(seen["validation"]) > 1 and len(seen["test"]) > 1  # held-out tasks are not all one task


def test_board_games_differ_between_splits_in_the_opponents_seed() -> None:
    # Tic-tac-toe has no generated content: every game starts from the empty board, so what keeps validation and
    # test games apart from train games is the opponent's seed (docs/environments.md says so).
    suite = registry.get_suite("tictactoe")
    opponents = {split: {t.params["opponent_seed"] for t in suite.tasks(split, limit=200)} for split in SPLITS}
    for first, second in itertools.combinations(SPLITS, 2):
        assert not opponents[first] & opponents[second]


def test_draw_for_split_is_deterministic_and_respects_the_split() -> None:
    def draw(s: int) -> str:
        return f"content-{s % 50}"

    for seed in range(20):
        for split in SPLITS:
            sub, value = draw_for_split(seed, split, draw, str)
            assert content_split(value) == split
            assert draw_for_split(seed, split, draw, str) == (sub, value)
