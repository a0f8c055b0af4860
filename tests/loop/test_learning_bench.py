"""The learning benchmark's yardstick for tic-tac-toe moves: exact win chances against the suite's opponent."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("learning")


def test_a_winning_move_is_worth_a_sure_win_and_a_missed_block_loses_half_the_time(bench: ModuleType) -> None:
    # X to move (X X . / O O . / . . .): c3 wins at once; anything else lets O win with c2 whenever the
    # opponent plays its perfect half (and sometimes on its random half).
    values = bench._ttt_move_values("XX.OO....")
    assert values["c3"] == 1.0
    assert all(v < 0.75 for cell, v in values.items() if cell != "c3")


def test_the_opening_values_match_the_known_figures_against_this_opponent(bench: ModuleType) -> None:
    # A perfect X wins 79.5% from a corner or the centre and 77.8% from an edge against a perfect player
    # that moves at random half of the time.
    values = bench._ttt_move_values("." * 9)
    assert {round(v, 3) for v in values.values()} == {0.795, 0.778}
    assert round(values["b2"], 3) == round(values["a1"], 3) == 0.795 and round(values["b1"], 3) == 0.778
