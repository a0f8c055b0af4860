"""The learning benchmark's oracle critic: practicum's own endpoint critic, talking to it over HTTP, ranks
tic-tac-toe candidates by their exact values."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from practicum.agents.base import StepContext
from practicum.agents.config import CriticConfig, PolicyConfig, load_critic
from practicum.envs.games.tictactoe import board_text
from tests.benchmarks import load_benchmark

# X to move on X X . / O O . / . . .: c3 wins at once; a1 and b1 let O win with c2 on its perfect half.
BOARD = board_text("XX.OO....") + "\nYour turn (X)."


@pytest.fixture(scope="module")
def oracle() -> Iterator[Any]:
    module: ModuleType = load_benchmark("oracle_critic")
    with module.OracleCritic() as server:
        yield server


def test_the_served_oracle_scores_the_winning_move_highest(oracle: Any) -> None:
    backend = PolicyConfig(model=oracle.model_name, base_url=oracle.api_root)
    critic = load_critic(CriticConfig(backend=backend), policy=None)  # type: ignore[arg-type]
    context = StepContext(goal="Win the game.", observation=BOARD, legal_actions=("a1", "b1", "c1", "c2", "c3"))
    critique = critic.critique(context, ["a1", "c3", "b1"])
    a1, c3, b1 = critique.scores
    assert c3 > 0.99 and a1 < 0.01 and b1 < 0.01
    assert oracle.requests >= 1


def test_a_prompt_that_is_no_tic_tac_toe_board_gets_a_reply_without_scores(oracle: Any) -> None:
    backend = PolicyConfig(model=oracle.model_name, base_url=oracle.api_root)
    critic = load_critic(CriticConfig(backend=backend), policy=None)  # type: ignore[arg-type]
    context = StepContext(goal="Buy socks.", observation="A shop page.", legal_actions=None)
    critique = critic.critique(context, ["click[1]", "click[2]"])
    assert critique.scores == [0.5, 0.5]  # neutral: the critic counted the reply as invalid, it did not crash
