"""snapshot() / restore() returns to exactly the same point: the same observation, and the same observations,
rewards and infos for the same actions afterwards, even in a different env instance and with chance involved
(slippery ice, random opponent moves, Stockfish replies)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from practicum.envs import registry
from practicum.envs.core import TextEnv
from tests.envs.games.helpers import GAME_SUITES, suite_param

# Each choice picks the (i mod n)-th legal action; -1 sends text that is no action at all.
choices = st.lists(st.integers(min_value=-1, max_value=40), min_size=1, max_size=14)

Step = tuple[str, float, bool, bool, dict[str, Any]]


@pytest.fixture(scope="module")
def env_pairs() -> Iterator[dict[str, tuple[TextEnv, TextEnv]]]:
    envs: dict[str, tuple[TextEnv, TextEnv]] = {}
    yield envs
    for a, b in envs.values():
        a.close()
        b.close()


def pair(envs: dict[str, tuple[TextEnv, TextEnv]], name: str) -> tuple[TextEnv, TextEnv]:
    if name not in envs:
        envs[name] = (registry.make_env(name), registry.make_env(name))
    return envs[name]


def run(env: TextEnv, picks: list[int]) -> list[Step]:
    """Apply the picks from the current state until the episode ends or they run out."""
    out: list[Step] = []
    for pick in picks:
        legal = env._legal_actions()
        if not legal:
            break
        action = "not an action" if pick < 0 else legal[pick % len(legal)]
        result = env.step(action)
        out.append(result)
        if result[2] or result[3]:
            break
    return out


@pytest.mark.parametrize("name", [suite_param(n) for n in GAME_SUITES if n != "connect4-strong"])
@settings(max_examples=6, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 500), before=choices, after=choices)
def test_restore_replays_identically(
    env_pairs: dict[str, tuple[TextEnv, TextEnv]], name: str, seed: int, before: list[int], after: list[int]
) -> None:
    original, other = pair(env_pairs, name)
    obs, _ = original.reset(seed=seed)
    steps = run(original, before)
    here = steps[-1][0] if steps else obs
    if steps and (steps[-1][2] or steps[-1][3]):
        return  # the episode ended: nothing to continue
    blob = original.snapshot()
    expected = run(original, after)

    other.reset(seed=seed + 1)  # a different episode in flight: restore must replace all of it
    restored_obs, _ = other.restore(blob)
    assert restored_obs == here
    assert run(other, after) == expected

    again_obs, _ = original.restore(blob)  # and back in the env that went on
    assert again_obs == here
    assert run(original, after) == expected


def test_connect4_strong_restores_mid_game() -> None:
    # The 5-ply opponent is too slow for the property test; one fixed line checks the same thing.
    a, b = registry.make_env("connect4-strong"), registry.make_env("connect4-strong")
    a.reset(seed=3)
    run(a, [3, 2])
    blob = a.snapshot()
    expected = run(a, [1, 5, 0])
    b.restore(blob)
    assert run(b, [1, 5, 0]) == expected


@pytest.mark.parametrize(("name", "action"), [("tictactoe", "b2"), ("frozenlake-4x4-slippery", "down")])
def test_reseeded_chance_changes_what_follows_and_a_restore_brings_its_own_back(name: str, action: str) -> None:
    # Tic-tac-toe's opponent moves at random half of the time, and a slippery lake slides: from one state, the
    # same action meets different outcomes under different chance seeds, and restoring the snapshot brings
    # back the episode's own outcome.
    env = registry.make_env(name)
    env.reset(seed=0)
    saved = env.snapshot()
    own = env.step(action)[0]
    outcomes = set()
    for seed in range(12):
        env.restore(saved)
        assert env.reseed_chance(seed) is True
        outcomes.add(env.step(action)[0])
    env.restore(saved)
    assert env.step(action)[0] == own
    assert len(outcomes) > 1
    env.close()
