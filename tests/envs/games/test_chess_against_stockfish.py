"""Chess against the real Stockfish: games end and are scored, moves are parsed, the engine process never leaks."""

from __future__ import annotations

import gc
import os
import random
import signal
import time

import pytest

from practicum.envs import registry
from practicum.envs.core import Task
from practicum.envs.games import ChessEnv, StockfishNotFoundError
from tests.envs.games.helpers import needs_stockfish

pytestmark = needs_stockfish

MATE_IN_ONE = "k7/8/1K6/8/8/8/8/2Q5 w - - 0 1"  # Qc8#
STALEMATE_IN_ONE = "k7/8/1K6/2Q5/8/8/8/8 w - - 0 1"  # Qc7 leaves Black no move and no check


def position_task(fen: str) -> Task:
    return Task(
        suite="chess-test", seed=0, split="train", goal="Win.", params={"agent_side": 0, "opponent_seed": 0, "fen": fen}
    )


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()  # a zombie has exited
    except FileNotFoundError:
        return False


def wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_a_game_against_stockfish_runs_to_its_end_and_is_scored_as_a_loss() -> None:
    env = ChessEnv(depth=1, random_move_share=0.0, max_steps=300)  # full-strength replies, random agent
    rng = random.Random(0)
    try:
        obs, info = env.reset(seed=0)
        terminated = truncated = False
        reward = 0.0
        while not (terminated or truncated):
            obs, reward, terminated, truncated, info = env.step(rng.choice(info["legal_actions"]))
    finally:
        env.close()
    assert terminated and not truncated, "Stockfish mates a random player well within 300 moves"
    assert (reward, info["success"], info["failure"], info["legal_actions"]) == (0.0, False, "agent", [])
    assert "Game over: you lost." in obs
    assert "#" in obs  # the mating move is shown as the opponent's last move


def test_checkmate_wins_and_stalemate_draws() -> None:
    env = ChessEnv()
    try:
        env.reset(options={"task": position_task(MATE_IN_ONE)})
        # Chess leaves rollouts to chance: the board games' two-ply rule would copy ~900 boards per step.
        assert env.playout_action(random.Random(0)) is None
        obs, reward, terminated, _, info = env.step("Qc8")  # without "#": SAN check marks are optional
        assert (reward, terminated, info["success"]) == (1.0, True, True)
        assert "Your last move: Qc8#." in obs and "Game over: you won." in obs

        env.reset(options={"task": position_task(STALEMATE_IN_ONE)})
        obs, reward, terminated, _, info = env.step("c5c7")  # UCI is understood too
        assert (reward, terminated, info["success"]) == (0.5, True, False)
        assert "Game over: a draw." in obs
    finally:
        env.close()


def test_illegal_and_unreadable_moves_are_recorded_and_the_game_goes_on() -> None:
    env = registry.make_env("chess-stockfish-1")
    try:
        obs, info = env.reset(seed=0)  # the agent plays White
        assert "FEN: rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1" in obs
        assert {"e4", "Nf3", "a3"} <= set(info["legal_actions"])
        for bad in ("e5", "Ke2", "castle please"):
            obs, reward, terminated, truncated, info = env.step(bad)
            assert (reward, terminated, truncated, info["invalid_action"]) == (0.0, False, False, True)
            assert "Last action error: illegal or unreadable move" in obs
        assert info["invalid_actions"] == 3
        obs, _, _, _, info = env.step("e4")
        assert info["invalid_action"] is False and "Last action error" not in obs
        assert "Your last move: e4." in obs and "Opponent's last move:" in obs
    finally:
        env.close()


def test_each_env_has_its_own_engine_and_close_ends_it() -> None:
    a, b = ChessEnv(), ChessEnv()
    assert a.engine_pid is None  # started lazily, at the first reset
    a.reset(seed=0)
    b.reset(seed=0)
    pid_a, pid_b = a.engine_pid, b.engine_pid
    assert pid_a is not None and pid_b is not None and pid_a != pid_b
    a.close()
    a.close()  # twice is fine
    assert wait_gone(pid_a) and alive(pid_b)
    b.close()
    assert wait_gone(pid_b)


def test_a_garbage_collected_env_ends_its_engine() -> None:
    env = ChessEnv()
    env.reset(seed=1)
    pid = env.engine_pid
    assert pid is not None and alive(pid)
    del env
    gc.collect()
    assert wait_gone(pid)


def test_a_dead_engine_is_an_infra_failure_and_the_next_reset_starts_a_fresh_one() -> None:
    env = ChessEnv(random_move_share=0.0)
    try:
        env.reset(seed=0)
        pid = env.engine_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        assert wait_gone(pid)
        _, reward, terminated, _, info = env.step("e4")
        assert (reward, terminated, info["success"], info["failure"]) == (0.0, True, False, "infra")
        assert "the opponent failed" in info["last_action_error"]
        env.reset(seed=0)
        assert env.engine_pid not in (None, pid)
        _, _, terminated, _, info = env.step("e4")
        assert not terminated and info["invalid_action"] is False
    finally:
        env.close()


def test_a_missing_engine_fails_with_a_message_that_says_how_to_fix_it() -> None:
    with pytest.raises(StockfishNotFoundError, match=r"not found at /nowhere/stockfish.*apt-get install stockfish"):
        ChessEnv(engine_path="/nowhere/stockfish")
