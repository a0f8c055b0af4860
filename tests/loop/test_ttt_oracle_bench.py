"""Tic-tac-toe's oracle-at-the-data-stage benchmark: its rows are every optimal move of the positions it played."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from practicum.envs.games.tictactoe import prompt_move_values
from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("ttt_oracle")


def test_optimal_keeps_every_move_tied_for_the_best(bench: ModuleType) -> None:
    assert bench.optimal({"a1": 0.5, "b2": 0.75, "c3": 0.75 - 1e-12}) == ["b2", "c3"]


def test_rows_are_every_optimal_move_once_at_each_position_played(bench: ModuleType) -> None:
    def prompt(info: dict[str, Any], obs: str) -> str:
        return obs  # the board is read back from the text, as signal_bench reads a prompt

    rows, positions = bench.oracle_rows(prompt, games=3, explore=0.5, seed=1)
    assert positions >= 3 * 3  # the agent moves at least three times before a game can end
    assert len({(r.prompt, r.completion) for r in rows}) == len(rows)
    by_prompt: dict[str, set[str]] = {}
    for row in rows:
        by_prompt.setdefault(row.prompt, set()).add(row.completion)
    for text, moves in by_prompt.items():
        values = prompt_move_values(text)
        assert moves == set(bench.optimal(values))  # every optimal move, and only those
