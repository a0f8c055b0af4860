"""The lake probe's reading of a cell -> move map, checked on hand-made lakes and on real test lakes."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("lake_probe")


LAKE = ["SFFF", "FHFH", "FFFH", "HFFG"]  # gymnasium's classic 4x4 map


def test_a_map_that_walks_around_the_holes_solves_the_lake(bench: ModuleType) -> None:
    route = {(0, 0): "down", (1, 0): "down", (2, 0): "right", (2, 1): "down", (3, 1): "right", (3, 2): "right"}
    read = bench.read_map(LAKE, route)
    assert read["solved"] and read["cells"] == 6 and read["optimal"] == 6
    assert read["near_hole"] == 4 and read["avoided"] == 4  # (0, 0) and (3, 2) border no hole


def test_a_map_into_a_hole_or_round_in_circles_solves_nothing(bench: ModuleType) -> None:
    into_hole = bench.read_map(LAKE, {(0, 0): "right", (0, 1): "down"})
    assert not into_hole["solved"] and into_hole["near_hole"] == 1 and into_hole["avoided"] == 0
    circles = bench.read_map(LAKE, {(0, 0): "right", (0, 1): "left"})
    assert not circles["solved"] and circles["optimal"] == 1  # right from the start is a shortest way; back is not


def test_distances_stop_at_the_goal_and_path_to_walks_back_the_moves(bench: ModuleType) -> None:
    reached = bench.distances(LAKE, (0, 0), through=(3, 3))
    assert (1, 1) not in reached and reached[(3, 3)][0] == 6
    assert bench.path_to(reached, (2, 1)) in (["down", "down", "right"], ["right", "down", "down"])


def test_a_policy_reading_the_cells_beats_one_that_walks_the_route_on_real_test_lakes(bench: ModuleType) -> None:
    def route(context: object) -> str:
        legal = context.legal_actions  # type: ignore[attr-defined]
        return "right" if "right" in legal else "down"

    def careful(context: object) -> str:
        near = dict(re.findall(r"(\w+) is (frozen ice|a hole|the goal)", context.observation))  # type: ignore[attr-defined]
        safe = [m for m in ("right", "down", "left", "up") if m in near and near[m] != "a hole"]
        return safe[0] if safe else route(context)

    walked = bench.lake_maps(route, 30)
    read = bench.lake_maps(careful, 30)
    assert walked["lakes"] == read["lakes"] == 30
    assert walked["greedy_success"] == pytest.approx(7 / 30)  # right x3, down x3: the default policy's 23%
    assert read["hole_avoid"] == 1.0 and read["greedy_success"] > walked["greedy_success"] + 0.3
