"""The learning benchmark's yardstick for tic-tac-toe moves: exact win chances against the suite's opponent."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from practicum.envs.games.tictactoe import board_text
from practicum.loop.config import overlay
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


def test_training_data_is_scored_against_the_exact_move_values(bench: ModuleType, tmp_path: Path) -> None:
    # X to move on X X . / O O . / . . .: c3 wins, a1 lets O win. One optimal and one poor RFT example; one
    # step pair the right way round and one reversed.
    prompt = board_text("XX.OO....") + "\nYour turn (X).\n\nLegal actions: ..."
    datasets = tmp_path / "run-1" / "round-1" / "datasets"
    datasets.mkdir(parents=True)
    rows = [{"prompt": prompt, "completion": "c3"}, {"prompt": prompt, "completion": "a1"}]
    (datasets / "rft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = [{"prompt": prompt, "chosen": "c3", "rejected": "a1"}, {"prompt": prompt, "chosen": "a1", "rejected": "c3"}]
    (datasets / "step_pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    (quality,) = bench.data_quality(tmp_path, "tictactoe")
    a1 = bench._ttt_move_values("XX.OO....")["a1"]
    assert quality["rft_optimal_share"] == 0.5 and quality["rft_mean_regret"] == round((1.0 - a1) / 2, 4)
    assert (quality["step_pairs_right"], quality["step_pairs_tied"], quality["step_pairs_wrong"]) == (0.5, 0.0, 0.5)
    assert bench.data_quality(tmp_path, "shop") is None


def test_dotted_settings_nest_and_lay_over_the_suites_own_key_by_key(bench: ModuleType) -> None:
    sets = bench.parse_sets(["train.rft.learning_rate=1e-4", "train.data.pair_value=blended", "search.rollouts=16"])
    assert sets == {
        "train": {"rft": {"learning_rate": 1e-4}, "data": {"pair_value": "blended"}},
        "search": {"rollouts": 16},
    }
    suite = {"suite": "tictactoe", "search": {"k": 4, "rollouts": 1}}
    assert overlay(suite, sets)["search"] == {"k": 4, "rollouts": 16}
    assert suite["search"]["rollouts"] == 1  # the suite's own settings are not changed
    with pytest.raises(ValueError, match="dotted key"):
        bench.parse_sets(["train..rft=1"])
    with pytest.raises(ValueError, match="dotted key"):
        bench.parse_sets(["rollouts16"])


def test_a_rejected_candidate_leaves_the_held_policys_test_success_on_the_curve(bench: ModuleType) -> None:
    history = [
        {"iteration": 0, "policy_id": 1, "test_success": 0.3, "decision": "baseline"},
        {"iteration": 1, "policy_id": 2, "test_success": 0.5, "decision": "promoted"},
        {"iteration": 2, "policy_id": 3, "test_success": 0.2, "decision": "rejected"},
        {"iteration": 3, "policy_id": 2, "test_success": 0.5, "decision": "no candidate"},
    ]
    assert bench.held_curve(history) == ([0.3, 0.5, 0.5, 0.5], [None, 0.5, 0.2, None])
    assert bench.curve_policies(history) == [1, 2, 2, 2]
