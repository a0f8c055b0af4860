"""`GymTextEnv` / `gym_suite`: a gymnasium id, a renderer and action names make a working practicum env."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from gymnasium.utils.env_checker import check_env

from practicum.envs import registry
from practicum.envs.core import TextEnv
from practicum.envs.games import GymTextEnv, gym_suite
from practicum.errors import ConfigError


def render_hand(env: Any, obs: Any) -> str:
    player, dealer, usable_ace = obs
    ace = " (with an ace counted as 11)" if usable_ace else ""
    return f"Your cards add up to {player}{ace}. The dealer shows {dealer}."


@pytest.fixture
def blackjack(monkeypatch: pytest.MonkeyPatch) -> Iterator[registry.Suite]:
    # The README's example, registered into a copy of the registry so other tests never see it.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    yield gym_suite(
        "blackjack",
        "Blackjack-v1",
        render=render_hand,
        actions=["stick", "hit"],
        goal="Beat the dealer at blackjack: get closer to 21 than the dealer without going over.",
        max_steps=10,
    )


def test_the_readme_example_registers_a_working_suite(blackjack: registry.Suite) -> None:
    env = registry.make_env("blackjack")
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=3)
    assert obs.startswith("Goal: Beat the dealer") and "Your cards add up to" in obs
    assert info["legal_actions"] == ["stick", "hit"] and info["task"] == "blackjack:3"
    assert registry.get_task("blackjack:100500").split == "test"
    assert registry.get_task("blackjack:200500").split == "validation"


def test_blackjack_outcomes_follow_the_gymnasium_rules(blackjack: registry.Suite) -> None:
    from gymnasium.envs.toy_text.blackjack import is_natural, score

    env = registry.make_env("blackjack")
    assert isinstance(env, GymTextEnv)
    seen = set()
    for seed in range(60):
        env.reset(seed=seed)
        _, reward, terminated, _, info = env.step("stick")
        assert terminated  # sticking ends the hand
        player, dealer = env.gym_env.player, env.gym_env.dealer
        # gymnasium's rules: a bust scores 0; Blackjack-v1 plays Sutton & Barto's, where a natural always wins.
        # The env's own reward is kept: +1 a win, 0 a draw, -1 a loss; only a win is a success.
        won = score(player) > score(dealer) or (is_natural(player) and not is_natural(dealer))
        drew = not won and score(player) == score(dealer) and is_natural(player) == is_natural(dealer)
        assert (reward, info["success"]) == ((1.0, True) if won else (0.0 if drew else -1.0, False))
        seen.add(won)
    assert seen == {True, False}


def test_snapshots_of_an_env_without_state_attrs_copy_all_of_it(blackjack: registry.Suite) -> None:
    a, b = registry.make_env("blackjack"), registry.make_env("blackjack")

    def hits(env: TextEnv) -> list[Any]:
        out = []
        for _ in range(3):
            out.append(env.step("hit"))
            if out[-1][2]:
                break
        return out

    for seed in range(10):
        a.reset(seed=seed)
        blob = a.snapshot()
        expected = hits(a)
        b.reset(seed=seed + 50)
        b.restore(blob)
        assert hits(b) == expected  # the same cards come: the generator and the hands were restored


def test_without_names_a_discrete_space_gets_numbered_actions() -> None:
    env = GymTextEnv("FrozenLake-v1", render=lambda env, obs: f"state {obs}", make_kwargs={"is_slippery": False})
    obs, info = env.reset(seed=0)
    assert info["legal_actions"] == ["0", "1", "2", "3"] and "state 0" in obs
    assert env.task.split == "train" and env.suite == "gym:FrozenLake-v1"
    obs, *_ = env.step("2")  # right
    assert "state 1" in obs


def test_env_factories_and_the_step_limit_of_the_game_are_respected() -> None:
    from gymnasium.envs.toy_text.frozen_lake import FrozenLakeEnv

    env: TextEnv = GymTextEnv(
        FrozenLakeEnv,
        render=lambda env, obs: f"state {obs}",
        actions=["left", "down", "right", "up"],
        make_kwargs={"map_name": "4x4", "is_slippery": False},
        max_steps=2,
    )
    env.reset(seed=0)
    env.step("left")
    _, _, terminated, truncated, info = env.step("left")
    assert (terminated, truncated, info["failure"]) == (False, True, "agent")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"env_id": "NoSuchGame-v0"}, "cannot make gymnasium env 'NoSuchGame-v0'"),
        ({"actions": ["left", "right"]}, r"2 action names given for a Discrete\(4\) action space"),
        ({"actions": ["go", "GO ", "x", "y"]}, "distinct ignoring case"),
        ({"env_id": "CartPole-v1", "actions": None}, None),
        ({"env_id": "MountainCarContinuous-v0"}, "is not Discrete: pass actions as a mapping"),
    ],
)
def test_bad_wrapper_configuration_is_a_config_error(kwargs: dict[str, Any], message: str | None) -> None:
    options: dict[str, Any] = {"env_id": "FrozenLake-v1", "render": lambda env, obs: str(obs), **kwargs}
    if message is None:
        GymTextEnv(**options)  # a valid configuration: no error
        return
    with pytest.raises(ConfigError, match=message):
        GymTextEnv(**options)


def test_a_mapping_names_actions_of_any_space() -> None:
    import numpy as np

    env = GymTextEnv(
        "MountainCarContinuous-v0",
        render=lambda env, obs: f"position {obs[0]:.3f}",
        actions={"push left": np.array([-1.0], dtype=np.float32), "push right": np.array([1.0], dtype=np.float32)},
    )
    obs, info = env.reset(seed=0)
    assert info["legal_actions"] == ["push left", "push right"]
    obs2, *_ = env.step("push right")
    assert obs2 != obs


def test_the_readme_section_code_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    from pathlib import Path

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    section = (Path(__file__).resolve().parents[3] / "docs" / "environments.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    namespace: dict[str, Any] = {}
    exec(compile(blocks[0], "docs/environments.md", "exec"), namespace)  # our own documentation, not model output
    assert namespace["info"]["steps"] == 1 and namespace["info"]["task"] == "blackjack:3"
    assert "Your cards add up to" in namespace["obs"]
