"""The environment contract, checked on a tiny env written here (a number line walk with a target)."""

from __future__ import annotations

import typing
from collections import Counter
from typing import Any

import pytest
from gymnasium.utils.env_checker import check_env

from practicum.envs.core import (
    MAX_ACTION_CHARS,
    REPLACEMENT,
    SPLITS,
    START_MOVES,
    TEST_SHARE,
    TEXT_CHARSET,
    VALIDATION_SHARE,
    FailureKind,
    Outcome,
    Split,
    Task,
    TextEnv,
    content_split,
    format_observation,
    sanitize_text,
    truncate,
)
from practicum.errors import EnvError, SnapshotUnsupportedError


def walk_task(seed: int) -> Task:
    target = 2 + seed % 3
    return Task(suite="walk", seed=seed, split="train", goal=f"Reach position {target}.", params={"target": target})


class Walk(TextEnv):
    """Start at 0; 'right' / 'left' move; reaching the target succeeds, falling below -2 fails."""

    def __init__(self, max_steps: int = 10) -> None:
        super().__init__(suite="walk", task_factory=walk_task, max_steps=max_steps)
        self.pos = 0

    def _start(self, task: Task) -> None:
        self.pos = 0

    def _render(self) -> str:
        return f"You are at position {self.pos}."

    def _legal_actions(self) -> list[str]:
        return ["left", "right"]

    def _apply(self, action: Any) -> Outcome:
        self.pos += 1 if action == "right" else -1
        if self.pos == self.task.params["target"]:
            return Outcome(reward=1.0, terminated=True, success=True)
        if self.pos < -2:
            return Outcome(terminated=True, failure=FailureKind.AGENT, error="fell off the line")
        return Outcome()

    def _get_state(self) -> Any:
        return self.pos

    def _set_state(self, state: Any) -> None:
        self.pos = state


class WalkNoSnapshot(Walk):
    _get_state = TextEnv._get_state
    _set_state = TextEnv._set_state


def test_check_env_passes_on_a_text_env() -> None:
    check_env(Walk(), skip_render_check=True)


def test_invalid_action_is_recorded_and_the_episode_goes_on() -> None:
    env = Walk()
    env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step("jump")
    assert (reward, terminated, truncated) == (0.0, False, False)
    assert info["invalid_action"] is True and info["invalid_actions"] == 1
    assert "invalid action 'jump'" in obs and "Last action error" in obs
    obs, _, _, _, info = env.step("RIGHT ")  # case and whitespace are forgiven
    assert info["invalid_action"] is False and info["invalid_actions"] == 1
    assert "position 1" in obs and "Last action error" not in obs


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("x" * (MAX_ACTION_CHARS + 1), "action too long"),
        ("   ", "empty action"),
        (None, "actions are text"),
    ],
)
def test_garbage_actions_never_raise(action: Any, message: str) -> None:
    env = Walk()
    env.reset(seed=0)
    _, _, _, _, info = env.step(action)
    assert info["invalid_action"] and message in info["last_action_error"]


def test_success_ends_the_episode_with_no_failure_kind() -> None:
    env = Walk()
    env.reset(seed=0)  # target 2
    env.step("right")
    obs, reward, terminated, _, info = env.step("right")
    assert reward == 1.0 and terminated and info["success"] and info["failure"] is None
    assert info["legal_actions"] == [] and "Legal actions" not in obs
    with pytest.raises(EnvError, match="after the episode ended"):
        env.step("left")


def test_running_out_of_steps_is_an_agent_failure() -> None:
    env = Walk(max_steps=3)
    env.reset(seed=0)
    for _ in range(2):
        assert not env.step("bogus")[3]
    _, _, terminated, truncated, info = env.step("bogus")
    assert truncated and not terminated
    assert info["failure"] == FailureKind.AGENT.value and not info["success"]


def test_step_before_reset_is_a_clear_error() -> None:
    with pytest.raises(EnvError, match=r"call reset\(\) before step"):
        Walk().step("left")


def test_snapshot_restore_reproduces_the_trajectory() -> None:
    env = Walk(max_steps=20)
    env.reset(seed=1)  # target 3
    env.step("left")
    blob = env.snapshot()
    first = [env.step(a) for a in ("right", "nope", "right", "right")]
    restored_obs, info = env.restore(blob)
    assert "position -1" in restored_obs and info["steps"] == 1
    second = [env.step(a) for a in ("right", "nope", "right", "right")]
    assert first == second


def test_env_without_state_hooks_refuses_snapshots() -> None:
    env = WalkNoSnapshot()
    assert not env.supports_snapshot and Walk().supports_snapshot
    env.reset(seed=0)
    with pytest.raises(SnapshotUnsupportedError, match="replays the action prefix"):
        env.snapshot()


def test_reset_with_an_explicit_task_and_a_wrong_option() -> None:
    env = Walk()
    obs, info = env.reset(options={"task": walk_task(2)})
    assert info["task"] == "walk:2" and "Reach position 4" in obs
    with pytest.raises(EnvError, match="must be a practicum Task"):
        env.reset(options={"task": "walk:2"})


def test_sanitize_keeps_accents_and_replaces_control_and_astral_characters() -> None:
    assert sanitize_text("naïve café 東京") == "naïve café 東京"
    assert sanitize_text("a\r\nb\x00c🙂") == f"a\nb{REPLACEMENT}c{REPLACEMENT}"
    assert all(c in TEXT_CHARSET for c in sanitize_text("".join(map(chr, range(0, 0x3000, 7)))))


def test_truncate_says_how_much_was_cut() -> None:
    text = "x" * 1000
    cut = truncate(text, 100)
    kept = cut.index("\n[...")
    assert len(cut) <= 100 and cut.endswith(f"[... {1000 - kept} characters cut]")
    assert truncate("short", 100) == "short"


def test_observation_layout_numbers_the_legal_actions() -> None:
    obs = format_observation(goal="G", body="B", legal_actions=["a", "b"], error="oops")
    assert obs == "Goal: G\n\nB\n\nLegal actions:\n1. a\n2. b\n\nLast action error: oops"


def test_an_environment_without_chance_says_reseeding_changes_nothing() -> None:
    env = Walk()
    env.reset(seed=0)
    assert env.reseed_chance(3) is False


def test_the_store_names_the_same_three_splits_as_the_environments() -> None:
    # The store may not import envs, so it keeps its own copy of the split names.
    from practicum.store import records

    assert SPLITS == ("train", "validation", "test")
    assert records.SPLITS == SPLITS
    assert typing.get_args(records.Split) == typing.get_args(Split) == SPLITS


def test_content_hashes_into_one_of_three_splits_in_the_configured_shares() -> None:
    splits = Counter(content_split(f"content {i}") for i in range(20_000))
    assert set(splits) == set(SPLITS)
    assert splits["test"] / 20_000 == pytest.approx(TEST_SHARE, abs=0.01)
    assert splits["validation"] / 20_000 == pytest.approx(VALIDATION_SHARE, abs=0.01)
    assert all(content_split(f"content {i}") == content_split(f"content {i}") for i in range(100))


def _walked(seed: int, moves: int) -> Task:
    task = walk_task(seed)
    return Task(task.suite, task.seed, task.split, task.goal, {**task.params, START_MOVES: moves})


def test_a_task_can_begin_random_moves_from_its_start_the_same_way_every_time() -> None:
    env = Walk()
    positions = set()
    for seed in range(12):
        task = _walked(seed, 3)
        first, info = env.reset(options={"task": task})
        assert info["steps"] == 0 and env.pos % 2 == 1  # three moves of +-1 from 0, none of them counted
        positions.add(env.pos)
        assert env.reset(options={"task": task})[0] == first
    assert len(positions) > 1  # the walk depends on the task


def test_the_start_walk_never_takes_a_move_that_ends_the_episode() -> None:
    env = Walk()
    for seed in range(30):  # targets 2..4: a walk of 4 could reach 2 or 4, or fall below -2
        _, info = env.reset(options={"task": _walked(seed, 4)})
        assert -2 <= env.pos != env.task.params["target"] and info["failure"] is None
        assert env.pos % 2 == 0  # all four moves were taken: one that ends the episode always has another


def test_an_environment_that_cannot_snapshot_refuses_a_start_walk_with_the_fix() -> None:
    with pytest.raises(EnvError, match="set explore_starts to 0"):
        WalkNoSnapshot().reset(options={"task": _walked(0, 2)})
    WalkNoSnapshot().reset(options={"task": _walked(0, 0)})  # no walk asked: nothing to refuse


def test_the_start_walk_leaves_an_environments_own_list_of_legal_actions_alone() -> None:
    class Cached(Walk):
        def __init__(self) -> None:
            super().__init__()
            self.moves = ["left", "right"]

        def _legal_actions(self) -> list[str]:
            return self.moves  # the environment's own list, as a cache would hand it out

    env = Cached()
    for seed in range(8):
        obs, _ = env.reset(options={"task": _walked(seed, 3)})
        assert env.moves == ["left", "right"] and obs.index("1. left") < obs.index("2. right")
