"""The search-labels benchmark: exact move values for both suites, and one setting's labels scored end to end."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from practicum.envs.core import Task
from tests.benchmarks import load_benchmark

LAKE = ["SFFF", "FHFH", "FFFH", "HFFG"]  # gymnasium's classic 4x4 map


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("search_labels")


def test_lake_moves_are_valued_by_the_distance_left_to_the_goal(bench: ModuleType) -> None:
    task = Task(suite="frozenlake-4x4", seed=0, split="train", goal="", params={"make_kwargs": {"desc": LAKE}})
    values = bench.move_values("frozenlake-4x4", task, "You are at row 1, column 0. The goal is ...")
    # From (1, 0): down is 4 moves from the goal, up 6 (back to the start), right is the hole at (1, 1).
    assert values == {"down": -4.0, "up": -6.0, "right": -99.0}
    ttt = bench.move_values(
        "tictactoe",
        None,
        "Row 3: a3 X, b3 X, c3 empty\nRow 2: a2 O, b2 O, c2 empty\nRow 1: a1 empty, b1 empty, c1 empty",
    )
    assert ttt["c3"] == 1.0 and max(ttt, key=ttt.__getitem__) == "c3"


def test_a_setting_is_searched_mined_and_scored_and_merged_into_the_results(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "labels.json"
    setting = "heuristic-4, ties within the margin"
    assert (
        bench.main(
            [
                "--suite",
                "frozenlake-4x4",
                "--tasks",
                "3",
                "--priors",
                "right",
                "--settings",
                setting,
                "--label",
                "t",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    row = json.loads(out.read_text())["frozenlake-4x4"]["t"]["right"][setting]
    assert row["tasks"] == 3 and row["search"]["rollout_policy"] == "heuristic" and row["search"]["rollouts"] == 4
    assert row["rft_rows"] >= row["committed_rows"] > 0 and 0.0 <= row["rft_optimal_share"] <= 1.0
    assert row["tie_confidence"] == 0.0
    assert row["prior_at_ties"] is None or 0.0 <= row["prior_at_ties"] <= 1.0
    with pytest.raises(SystemExit):
        bench.main(["--suite", "tictactoe", "--settings", "no such setting", "--out", str(out)])
