"""The oracle-at-the-data-stage benchmark: exact labels on hand-made and real lakes, and its lookup-table ceiling."""

from __future__ import annotations

import itertools
import random
from types import ModuleType

import pytest

from tests.benchmarks import load_benchmark

LAKE = ["SFFF", "FHFH", "FFFH", "HFFG"]  # gymnasium's classic 4x4 map


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("lake_oracle")


def test_optimal_moves_are_every_first_step_of_a_shortest_safe_path(bench: ModuleType) -> None:
    assert bench.optimal_moves(LAKE, (0, 0)) == ["right", "down"]  # both ways take six moves
    assert bench.optimal_moves(LAKE, (2, 1)) == ["right", "down"]
    assert bench.optimal_moves(LAKE, (1, 0)) == ["down"]  # right is a hole, up goes back
    assert bench.optimal_moves(LAKE, (3, 2)) == ["right"]


def test_the_observation_key_is_the_cell_and_its_neighbours_tiles(bench: ModuleType) -> None:
    assert bench.observation_key(LAKE, (0, 1)) == ((0, 1), ("left", "S"), ("down", "H"), ("right", "F"))


def test_route_states_follow_the_priors_shortest_path_after_a_safe_walk(bench: ModuleType) -> None:
    for seed in range(5):
        cells = bench.visited_cells(LAKE, "route", random.Random(seed))
        assert cells and all(LAKE[r][c] in "SF" for r, c in cells)
        for a, b in itertools.pairwise(cells):  # each next cell is the prior's optimal step
            move = bench.optimal_moves(LAKE, a)[0]
            assert (a[0] + bench.MOVES[move][0], a[1] + bench.MOVES[move][1]) == b
    assert len(bench.visited_cells(LAKE, "uniform", random.Random(0))) == 11  # every safe cell but the goal


def test_every_optimal_move_as_a_label_beats_the_priors_choice_on_real_lakes(bench: ModuleType) -> None:
    train, test = bench.lakes("train", 32), bench.lakes("test", 60)
    every = bench.table_success(bench.labelled(train, "uniform", "all"), test)
    prior = bench.table_success(bench.labelled(train, "uniform", "committed"), test)
    route = bench.table_success([], test)  # no rows: right, then down, on every lake
    assert every["test_success"] > prior["test_success"] > route["test_success"]
    assert every["observations"] == prior["observations"] and every["rows"] > prior["rows"]


def test_fixed_routes_are_scored_by_whether_they_enter_a_hole(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The classic lake: right x3 then down x3 meets the hole at row 1, column 3; down x3 then right x3 the one at
    # row 3, column 0; down, down, right, right, down, right (around both) reaches the goal.
    open_lake = ["SFFF", "FFFF", "FFFF", "FFFG"]
    monkeypatch.setattr(bench, "lakes", lambda split, n: [LAKE, open_lake][:n])
    out = bench.routes([2])
    for split in ("test", "validation"):
        shares = out[f"{split}-2"]["routes"]
        assert len(shares) == 20
        assert shares["RRRDDD"] == shares["DDDRRR"] == 0.5  # only the open lake
        assert shares["DDRRDR"] == 1.0 and out[f"{split}-2"]["best_share"] == 1.0
