"""The toy-text observations describe the real game state in words, and a move off the grid is not legal."""

from __future__ import annotations

import pytest

from practicum.envs import registry
from practicum.envs.games import GymTextEnv
from practicum.envs.games.toy_text import LAKE_ACTIONS, lake_legal, render_lake
from tests.envs.games.oracles import taxi_plan

LAKE = ["SFFF", "FHFH", "FFFH", "HFFG"]  # gymnasium's classic 4x4 map


def classic_lake() -> GymTextEnv:
    return GymTextEnv(
        "FrozenLake-v1",
        render=render_lake,
        actions=LAKE_ACTIONS,
        legal_actions=lake_legal,
        make_kwargs={"desc": LAKE, "is_slippery": False},
    )


@pytest.mark.parametrize(
    "name", ["frozenlake-4x4", "frozenlake-8x8", "frozenlake-4x4-slippery", "frozenlake-8x8-slippery"]
)
def test_lake_start_lists_only_the_moves_that_stay_on_the_lake(name: str) -> None:
    env = registry.make_env(name)
    _, info = env.reset(seed=4)
    assert info["legal_actions"] == ["down", "right"]  # top-left: left and up would leave the lake


def test_lake_move_into_the_edge_is_an_invalid_action() -> None:
    env = registry.make_env("frozenlake-4x4")
    obs0, _ = env.reset(seed=4)
    obs, reward, terminated, _, info = env.step("left")
    assert info["invalid_action"] is True and info["invalid_actions"] == 1 and (reward, terminated) == (0.0, False)
    assert "You are at row 0, column 0." in obs and obs.startswith(obs0)


def test_lake_legal_moves_keep_gymnasiums_order() -> None:
    env = classic_lake()
    env.reset(seed=0)
    _, _, _, _, info = env.step("down")  # (1, 0)
    assert info["legal_actions"] == ["down", "right", "up"]
    env.step("down")
    _, _, _, _, info = env.step("right")  # (2, 1): inside the lake
    assert info["legal_actions"] == list(LAKE_ACTIONS)


def test_lake_says_where_the_goal_is_and_what_lies_one_step_away() -> None:
    env = classic_lake()
    obs, _ = env.reset(seed=0)
    assert "You are at row 0, column 0. The goal is 3 rows down and 3 columns right.\n" in obs
    assert "Next to you: down is frozen ice, right is frozen ice." in obs
    assert "Legend" not in obs and "SFFF" not in obs  # no grid to index
    obs, *_ = env.step("right")
    assert "The goal is 3 rows down and 2 columns right." in obs
    assert "Next to you: left is frozen ice, down is a hole, right is frozen ice." in obs
    for action in ("left", "down", "down", "right", "right", "down"):
        obs, *_ = env.step(action)
    assert "You are at row 3, column 2. The goal is 1 column right." in obs
    assert "Next to you: left is frozen ice, right is the goal, up is frozen ice." in obs
    obs, reward, terminated, _, _ = env.step("right")
    assert "You reached the goal at row 3, column 3." in obs and (reward, terminated) == (1.0, True)


def test_lake_says_so_when_the_player_falls_into_a_hole() -> None:
    env = classic_lake()
    env.reset(seed=0)
    env.step("right")
    obs, reward, terminated, _, _ = env.step("down")
    assert "You fell into the hole at row 1, column 1. Game over." in obs and (reward, terminated) == (0.0, True)


def test_slippery_lake_says_the_ice_is_slippery() -> None:
    obs, _ = registry.make_env("frozenlake-4x4-slippery").reset(seed=4)
    assert "The ice is slippery: you may slide sideways." in obs.split("\n\n")[1]


def test_lake_prompt_is_short() -> None:
    obs, _ = registry.make_env("frozenlake-8x8").reset(seed=4)
    assert len(obs) < 300  # with the lettered 8x8 grid and its legend it was 430 characters


@pytest.mark.parametrize("name", ["frozenlake-4x4", "taxi", "cliffwalking"])
def test_toy_text_does_not_echo_the_last_move(name: str) -> None:
    env = registry.make_env(name)
    _, info = env.reset(seed=0)
    obs, *_ = env.step(info["legal_actions"][0])
    assert "last move" not in obs.lower()


def test_cliff_moves_off_the_grid_are_not_legal() -> None:
    env = registry.make_env("cliffwalking")
    obs, info = env.reset(seed=4)
    assert "You are at row 0, column 0." in obs  # this seed starts in the top-left corner
    assert info["legal_actions"] == ["right", "down"]
    _, _, _, _, info = env.step("up")
    assert info["invalid_action"] is True and int(env.gym_env.s) == 0
    _, _, _, _, info = env.step("right")
    assert info["legal_actions"] == ["right", "down", "left"]


def test_taxi_status_follows_the_passenger() -> None:
    env = registry.make_env("taxi")
    assert isinstance(env, GymTextEnv)
    obs, _ = env.reset(seed=2)
    assert "Passenger: waiting at" in obs
    row, col, _, _ = env.gym_env.decode(int(env.gym_env.s))
    assert f"Taxi at row {row}, column {col}." in obs
    assert obs.split("Map:\n")[1].splitlines()[row + 1][2 * col + 1] == "T"
    plan = taxi_plan(env.gym_env)
    for action in plan[: plan.index("pickup") + 1]:
        obs, *_ = env.step(action)
    assert "Passenger: in the taxi." in obs


def test_lake_playout_steps_onto_the_goal_when_it_can_and_never_into_a_hole_when_it_need_not() -> None:
    import random

    from practicum.envs.games.toy_text import lake_playout

    env = GymTextEnv(
        "FrozenLake-v1",
        render=render_lake,
        actions=LAKE_ACTIONS,
        legal_actions=lake_legal,
        playout=lake_playout,
        make_kwargs={"desc": LAKE, "is_slippery": False},
    )
    rng = random.Random(0)
    env.reset(seed=0)
    # (0, 0): down and right are both ice; either may come.
    assert {env.playout_action(rng) for _ in range(30)} == {"down", "right"}
    env.step("right")  # (0, 1): down is the hole at (1, 1); left and right are ice
    assert {env.playout_action(rng) for _ in range(30)} == {"left", "right"}
    for move in ("right", "down", "down"):  # to (2, 2): right is the hole at (2, 3), down is ice, up is ice
        env.step(move)
    assert "row 2, column 2" in env.render()
    assert "right" not in {env.playout_action(rng) for _ in range(30)}
    env.step("down")  # (3, 2): right is the goal
    assert {env.playout_action(rng) for _ in range(10)} == {"right"}
    env.step("right")
    assert env.playout_action(rng) is None  # the episode is over


def test_the_lake_suites_come_with_the_playout_and_other_gym_envs_leave_it_to_chance() -> None:
    import random

    lake = registry.make_env("frozenlake-4x4")
    _, info = lake.reset(seed=4)
    assert lake.playout_action(random.Random(0)) in info["legal_actions"]
    taxi = registry.make_env("taxi")
    taxi.reset(seed=0)
    assert taxi.playout_action(random.Random(0)) is None
