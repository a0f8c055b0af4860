"""Scripted players driving the environments through their text interface reach the results the rules say."""

from __future__ import annotations

from typing import Any

import pytest

from practicum.envs import registry
from practicum.envs.core import TextEnv
from practicum.envs.games import ConnectFourEnv, GymTextEnv, TicTacToeEnv, connect4, tictactoe
from tests.envs.games.oracles import babyai_plan, cliff_plan, lake_plan, taxi_plan


def play(env: TextEnv, actions: list[str]) -> tuple[float, bool, dict[str, Any]]:
    """Step through `actions`, checking each is listed as legal; returns (last reward, terminated, info)."""
    reward, terminated = 0.0, False
    info: dict[str, Any] = {}
    for action in actions:
        assert not terminated, "the episode ended before the plan did"
        assert action in env._legal_actions()
        _, reward, terminated, _, info = env.step(action)
    return reward, terminated, info


def tasks_of_every_split(name: str, train: int, others: int) -> tuple[GymTextEnv, list[Any]]:
    """The suite's environment and its first `train` train tasks, then `others` of validation and of test."""
    suite = registry.get_suite(name)
    env = suite.env()
    assert isinstance(env, GymTextEnv)
    tasks = suite.tasks("train", limit=train) + suite.tasks("validation", limit=others)
    return env, tasks + suite.tasks("test", limit=others)


@pytest.mark.parametrize("name", ["frozenlake-4x4", "frozenlake-8x8"])
def test_breadth_first_search_crosses_every_lake(name: str) -> None:
    env, tasks = tasks_of_every_split(name, 15, 5)
    for task in tasks:
        env.reset(options={"task": task})
        reward, terminated, info = play(env, lake_plan(env.gym_env))
        assert (reward, terminated, info["success"], info["failure"]) == (1.0, True, True, None)
        assert "You reached the goal" in env.render()


def test_walking_into_a_hole_ends_the_episode_as_an_agent_failure() -> None:
    env = registry.make_env("frozenlake-4x4")
    assert isinstance(env, GymTextEnv)
    for seed in range(50):
        env.reset(seed=seed)
        desc = env.gym_env.desc
        if desc[1, 0] == b"H":  # a hole right below the start
            break
    else:
        pytest.fail("no lake among 50 with a hole below the start")
    obs, reward, terminated, truncated, info = env.step("down")
    assert (reward, terminated, truncated, info["success"], info["failure"]) == (0.0, True, False, False, "agent")
    assert "You fell into the hole at row 1, column 0" in obs
    assert "Legal actions" not in obs


def test_taxi_oracle_delivers_the_passenger_using_only_listed_actions() -> None:
    env, tasks = tasks_of_every_split("taxi", 10, 3)
    for task in tasks:
        env.reset(options={"task": task})
        plan = taxi_plan(env.gym_env)
        assert len(plan) <= env.max_steps
        reward, terminated, info = play(env, plan)
        assert (reward, terminated, info["success"]) == (1.0, True, True)
        assert "delivered" in env.render()


def test_cliff_oracle_reaches_the_goal_and_a_fall_is_reported() -> None:
    env, tasks = tasks_of_every_split("cliffwalking", 5, 3)
    for task in tasks:
        env.reset(options={"task": task})
        reward, terminated, info = play(env, cliff_plan(env.gym_env))
        assert (reward, terminated, info["success"]) == (1.0, True, True)
    # Step onto the cliff from the bottom-left corner: reported, back at S, the episode goes on.
    starts = registry.get_suite("cliffwalking").tasks("train", limit=500)
    corner = next(t for t in starts if t.params["start"] == [3, 0])
    env.reset(options={"task": corner})
    obs, reward, terminated, _, info = env.step("right")
    assert (reward, terminated) == (0.0, False)
    assert "fell" in info["last_action_error"] and "You are at row 3, column 0" in obs


@pytest.mark.parametrize(
    ("name", "final"),
    [
        ("babyai-gotoobj", None),
        ("babyai-gotolocal", None),
        ("babyai-pickupdist", "pick up"),
        ("babyai-openreddoor", "toggle"),
    ],
)
def test_babyai_planner_completes_the_mission(name: str, final: str | None) -> None:
    env, tasks = tasks_of_every_split(name, 4, 2)
    for task in tasks:
        env.reset(options={"task": task})
        plan, target = babyai_plan(env.gym_env)
        # A GoTo mission is met by any action taken while facing the object; "drop" with empty hands is a no-op.
        plan += [final] if final else ([] if plan else ["drop"])
        reward, terminated, info = play(env, plan)
        assert (reward, terminated, info["success"]) == (1.0, True, True), task.goal
        assert f"In front of you: {_article(env, target)}" in env.render()


def _article(env: GymTextEnv, cell: tuple[int, int]) -> str:
    obj = env.gym_env.grid.get(*cell)
    if obj is None:  # the picked-up object left the grid
        return "an empty cell"
    return "an open" if getattr(obj, "is_open", False) else f"a {obj.color}"


def _solver_game(env: TicTacToeEnv, seed: int) -> dict[str, Any]:
    env.reset(seed=seed)
    info: dict[str, Any] = {}
    terminated = truncated = False
    while not (terminated or truncated):
        move = tictactoe.best_moves(env.game_state)[0]
        _, _, terminated, truncated, info = env.step(move)
    assert terminated
    return info


def test_exact_solver_never_loses_to_a_random_player_and_mostly_wins() -> None:
    env = TicTacToeEnv(random_move_share=1.0)
    rewards = []
    for seed in range(40):  # even seeds: the solver plays X; odd: O
        _solver_game(env, seed)
        rewards.append(env._require_progress().total_reward)
    assert 0.0 not in rewards
    assert rewards.count(1.0) >= 32, rewards


def test_exact_solver_draws_against_the_perfect_opponent() -> None:
    env = registry.make_env("tictactoe-perfect")
    assert isinstance(env, TicTacToeEnv)
    for seed in range(6):
        info = _solver_game(env, seed)
        assert env._require_progress().total_reward == 0.5
        assert (info["success"], info["failure"]) == (False, "agent")
        assert "Game over: a draw." in env.render()


def test_tictactoe_solver_values() -> None:
    assert tictactoe.negamax("." * 9, 9) == 0  # perfect play draws
    # X to move with two in a row on the top line: completing it is the only optimal move.
    assert tictactoe.best_moves("XX.OO....") == ["c3"]
    # O to move must block X's top line.
    assert tictactoe.best_moves("XX..O....") == ["c3"]
    # A depth-1 player sees immediate wins but not threats.
    assert tictactoe.best_moves("XX.OO....", depth=1) == ["c3"]
    assert len(tictactoe.best_moves("XX..O....", depth=1)) > 1


def test_connect4_search_wins_against_a_random_player() -> None:
    env = ConnectFourEnv(random_move_share=1.0, max_steps=30)
    wins = 0
    for seed in range(6):
        env.reset(seed=seed)
        terminated = truncated = False
        info: dict[str, Any] = {}
        while not (terminated or truncated):
            cols = connect4.best_columns(env.game_state, depth=3)
            _, _, terminated, truncated, info = env.step(str(cols[0] + 1))
        wins += info["success"]
    assert wins == 6


def _drop(cols: str) -> connect4.Position:
    pos = connect4.Position()
    for c in cols:
        pos = pos.play(int(c) - 1)
    return pos


def test_connect4_rules_find_fours_in_every_direction() -> None:
    assert connect4.winner(_drop("1212121")) == 0  # vertical
    assert connect4.winner(_drop("1122334")) == 0  # horizontal
    assert connect4.winner(_drop("12233434454")) == 0  # diagonal up-right
    assert connect4.winner(_drop("76655454434")) == 0  # diagonal up-left
    assert connect4.winner(_drop("12121232")) == 1  # O wins too
    assert connect4.winner(_drop("121212")) is None
    # A full board without four in a row (found once by random play) is a draw.
    assert connect4.winner(_drop("562544631751167467766154327371213353254242")) == connect4.DRAW


def test_connect4_search_takes_a_win_and_blocks_a_threat() -> None:
    x_to_move = _drop("121212")  # X has three in column 1 and moves
    assert connect4.best_columns(x_to_move, depth=2) == [0]
    o_to_move = _drop("12121")  # X has three in column 1, O moves
    assert connect4.best_columns(o_to_move, depth=2) == [0]
    assert connect4.winning_cells(o_to_move.first, o_to_move.mask).bit_count() == 1
    # X holds columns 2 and 3 of the bottom row and moves: column 4 makes an open three (both ends free), a
    # forced win that the search finds.
    two = _drop("2636")
    assert connect4.best_columns(two, depth=3) == [3]
    open_three = two.play(3)
    assert connect4.winning_cells(open_three.first, open_three.mask).bit_count() == 2
