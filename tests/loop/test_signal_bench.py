"""The signal benchmark's yardsticks: exact FrozenLake move values, the shares it reports, and its command line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType

import pytest

from practicum.envs.core import Task
from practicum.envs.games.tictactoe import board_text
from practicum.search.tree import Node
from practicum.trainer.config import DataSettings
from practicum.trainer.mining import EpisodeInfo
from tests.benchmarks import load_benchmark

# S at the top left, G at the bottom right; the holes force a path round by the middle.
LAKE = ["SFFF", "FHFH", "FFFH", "HFFG"]
MOVES = {"left": 0, "down": 1, "right": 2, "up": 3}


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("signal_bench")


def test_lake_distances_count_moves_to_the_goal_around_the_holes(bench: ModuleType) -> None:
    dist = bench.lake_distances(LAKE)
    assert dist[(3, 3)] == 0 and dist[(3, 2)] == 1 and dist[(2, 2)] == 2
    assert dist[(0, 0)] == 6  # right, right, down, down, right... any shortest way round (1, 1)
    assert dist[(0, 3)] == 5  # (1, 3) is a hole: back left, then down the middle
    assert not {(1, 1), (1, 3), (2, 3), (3, 0)} & dist.keys()  # holes are never on a path


def test_a_move_into_a_hole_is_worst_and_a_move_into_the_edge_loses_a_step(bench: ModuleType) -> None:
    # (2, 1): up is the hole (1, 1), left goes away from the goal, down and right are both one step nearer.
    values = bench.lake_move_values(LAKE, (2, 1), MOVES)
    assert values == {"left": -4.0, "down": -2.0, "right": -2.0, "up": -math.inf}
    assert bench.optimal_actions(values) == {"down", "right"}
    # At the start, left and up run into the edge and stay put: six moves left instead of five.
    start = bench.lake_move_values(LAKE, (0, 0), MOVES)
    assert start == {"left": -6.0, "down": -5.0, "right": -5.0, "up": -6.0}
    assert bench.informative(start) and bench.random_share(start) == 0.5


def test_a_lake_whose_goal_is_walled_off_by_holes_has_no_informative_position(bench: ModuleType) -> None:
    walled = ["SFH", "FFH", "HHG"]
    assert bench.lake_distances(walled) == {(2, 2): 0}
    values = bench.lake_move_values(walled, (0, 0), MOVES)
    assert set(values.values()) == {-math.inf} and not bench.informative(values)


def test_the_top_choice_is_the_first_of_equal_scores_and_a_missing_score_counts_least(bench: ModuleType) -> None:
    values = {"left": -4.0, "down": -2.0, "right": -2.0}
    assert bench.top_is_optimal(["left", "down", "right"], [0.5, 0.5, 0.1], values) is False  # left, listed first
    assert bench.top_is_optimal(["down", "left", "right"], [0.5, 0.5, 0.1], values) is True
    assert bench.top_is_optimal(["left", "down", "right"], [None, -3.0, -2.5], values) is True


def test_the_order_gap_is_the_largest_change_of_one_actions_score_across_orders(bench: ModuleType) -> None:
    actions = ["a", "b", "c"]
    assert bench.reorderings(actions) == [["c", "b", "a"], ["b", "c", "a"]]
    same = [(["c", "b", "a"], [0.3, 0.5, 0.2])]
    assert bench.order_gap(actions, [0.2, 0.5, 0.3], same) == 0.0
    shifted = [*same, (["b", "c", "a"], [0.6, 0.3, 0.1])]  # b +0.1, a -0.1: what a critic that reads places does
    assert bench.order_gap(actions, [0.2, 0.5, 0.3], shifted) == pytest.approx(0.1)


def test_legal_mass_adds_the_probabilities_the_policy_gives_the_legal_actions(bench: ModuleType) -> None:
    assert bench.legal_mass([math.log(0.5), math.log(0.25), None]) == pytest.approx(0.75)
    assert bench.share([True, False, False, True]) == 0.5 and bench.share([]) is None
    assert bench.mean([0.25, 0.5]) == 0.375 and bench.mean([]) is None


def test_pairs_between_two_holes_tie_and_a_pair_off_the_legal_moves_is_not_scored(bench: ModuleType) -> None:
    values = {"left": -4.0, "down": -2.0, "up": -math.inf, "right": -math.inf}
    gaps = [
        bench.value_gap(values, "down", "left"),  # right
        bench.value_gap(values, "left", "down"),  # reversed
        bench.value_gap(values, "up", "right"),  # two holes: tied
        bench.value_gap(values, "left", "up"),  # right, by an infinite margin
    ]
    assert gaps == [2.0, -2.0, 0.0, math.inf]
    assert bench.value_gap(values, "jump", "left") is None
    assert bench.pair_shares(gaps) == {"step_pairs": 4, "pairs_right": 0.5, "pairs_tied": 0.25, "pairs_reversed": 0.25}
    assert bench.pair_shares([])["pairs_right"] is None


def _node(idx: int, parent: int | None, action: str | None, prompt: str | None, **fields: object) -> Node:
    node = Node(idx=idx, parent_idx=parent, depth=0 if parent is None else 1, action=action, prompt=prompt)
    for name, value in fields.items():
        setattr(node, name, value)
    node.blended_value = node.value
    return node


def nodes_tree(nodes: list[Node]) -> object:
    """What scoring reads of a search's `EpisodeTree`: its nodes."""
    return type("Tree", (), {"nodes": nodes})()


def _lake_tree(hole_valued_higher: bool) -> list[Node]:
    # root (0, 0) -> right (0, 1) -> {down: the hole (1, 1), right: (0, 2), four moves from the goal}
    return [
        _node(0, None, None, None, on_path=True, visits=6),
        _node(1, 0, "right", "p0", visits=3, value=0.8, on_path=True),
        _node(2, 0, "down", "p0", visits=3, value=0.3),
        _node(3, 1, "down", "p1", visits=3, value=0.9 if hole_valued_higher else 0.0),
        _node(4, 1, "right", "p1", visits=3, value=0.5, on_path=True),
    ]


def test_lake_rows_are_scored_at_the_position_replayed_from_the_task(bench: ModuleType) -> None:
    task = Task(
        suite="frozenlake-4x4",
        seed=7,
        split="train",
        goal="Reach the goal.",
        params={"reset_seed": 7, "make_kwargs": {"desc": LAKE, "is_slippery": False}},
    )
    info = EpisodeInfo(id=1, task=task.key, policy_id=None, success=True, failure_kind=None)
    data = DataSettings(include_failed_steps=True, pair_value="search", min_visits=3)
    values = bench.NodeValues("frozenlake-4x4", 12)
    try:
        nodes = _lake_tree(hole_valued_higher=False)
        assert bench.route(nodes, 4) == ["right", "right"]
        at_01 = values.at(task, nodes, 1, "p1")
        assert at_01["down"] == -math.inf and at_01["right"] == -4.0 and at_01["left"] == -6.0
        out = bench.score_round([(task, info, nodes_tree(nodes))], data, values)
        # Both steps taken were optimal; at the root right and down tie (five moves each), at (0, 1) search
        # rightly put right above the hole.
        assert (out["rft_rows"], out["rft_optimal_share"], out["search_train_success"]) == (2, 1.0, 1.0)
        assert (out["step_pairs"], out["pairs_right"], out["pairs_tied"], out["pairs_reversed"]) == (2, 0.5, 0.5, 0.0)
        wrong = bench.score_round([(task, info, nodes_tree(_lake_tree(hole_valued_higher=True)))], data, values)
        assert (wrong["pairs_right"], wrong["pairs_tied"], wrong["pairs_reversed"]) == (0.0, 0.5, 0.5)
    finally:
        values.close()


def test_tictactoe_rows_are_scored_from_the_board_in_their_prompt(bench: ModuleType) -> None:
    # X to move on X X . / O O . / . . .: c3 wins at once, a1 lets O win whenever it plays its perfect half.
    prompt = board_text("XX.OO....") + "\nYour turn (X).\n\nLegal actions: ..."
    nodes = [
        _node(0, None, None, None, on_path=True, visits=6),
        _node(1, 0, "c3", prompt, visits=3, value=1.0, on_path=True, is_terminal=True),
        _node(2, 0, "a1", prompt, visits=3, value=0.2),
    ]
    info = EpisodeInfo(id=1, task="tictactoe:0", policy_id=None, success=True, failure_kind=None)
    data = DataSettings(include_failed_steps=True, pair_value="search", min_visits=3)
    out = bench.score_round([(None, info, nodes_tree(nodes))], data, bench.NodeValues("tictactoe", None))
    assert (out["rft_rows"], out["rft_optimal_share"], out["rft_mean_regret"]) == (1, 1.0, 0.0)
    assert (out["step_pairs"], out["pairs_right"]) == (1, 1.0)


def test_positions_come_from_the_environment_state_and_say_something(bench: ModuleType) -> None:
    for name in ("frozenlake-4x4", "tictactoe"):
        found, counts = bench.collect_positions(bench.GAMES[name], 8, max_steps=12)
        assert len(found) == 8 and len({p.key for p in found}) == 8
        assert all(bench.informative(p.values) for p in found)
        assert all(list(p.values) == list(p.context.legal_actions) for p in found)
        seen = counts["positions_seen"]
        assert seen == 8 + counts["positions_uninformative"] + counts["positions_repeated"]


def test_merging_keeps_the_other_labels_and_records_why_the_shop_is_left_out(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "signal.json"
    bench.merge(out, {"tictactoe": {"positions": 3}}, "before")
    data = bench.merge(out, {"tictactoe": {"positions": 5}, "frozenlake-4x4": {"positions": 2}}, "after")
    assert data["tictactoe"] == {"before": {"positions": 3}, "after": {"positions": 5}}
    assert "no exact" in data["left_out"]["shop"]
    assert json.loads(out.read_text()) == data
    assert bench.table(data, ["tictactoe"]).row_count == len(bench.FIGURES)


def test_quick_run_on_a_tiny_model_fills_every_figure_beside_an_earlier_label(
    bench: ModuleType, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "signal.json"
    out.write_text(json.dumps({"tictactoe": {"before": {"positions": 60}}}))
    argv = ["--quick", "--model", str(tiny_model_dir), "--out", str(out), "--label", "after", "--suites"]
    assert bench.main([*argv, "frozenlake-4x4", "tictactoe", "shop"]) == 0
    data = json.loads(out.read_text())
    assert data["tictactoe"]["before"] == {"positions": 60}
    for name in ("frozenlake-4x4", "tictactoe"):
        entry = data[name]["after"]
        assert set(bench.FIGURES) <= entry.keys()
        assert entry["positions"] == bench.QUICK["positions"] and entry["games"] == bench.QUICK["games"]
        assert 0.0 <= entry["random_top_optimal"] < 1.0 and entry["torch_threads"] == 1
        assert entry["critic"] == "self" and entry["critic_order_gap"] is not None
    assert "shop" not in data and "shop" in data["left_out"]
    with pytest.raises(SystemExit):
        bench.main([*argv, "chess"])


def test_without_a_critic_the_critic_figures_are_empty(bench: ModuleType, tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "signal.json"
    argv = ["--quick", "--model", str(tiny_model_dir), "--out", str(out), "--critic", "none", "--suites", "tictactoe"]
    assert bench.main(argv) == 0
    entry = json.loads(out.read_text())["tictactoe"]["latest"]
    assert entry["critic_top_optimal"] is None and entry["critic_order_gap"] is None
    assert entry["search"]["alpha"] == 1.0 and entry["policy_top_optimal"] is not None


def test_set_lays_practice_settings_over_the_suites_and_scores_every_pair_rule(
    bench: ModuleType, tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "signal.json"
    argv = ["--quick", "--model", str(tiny_model_dir), "--out", str(out), "--suites", "tictactoe"]
    assert bench.main([*argv, "--set", "search.k=9", "--set", "train.data.pair_confidence=1"]) == 0
    entry = json.loads(out.read_text())["tictactoe"]["latest"]
    assert entry["search"]["k"] == 9 and entry["sets"] == {
        "search": {"k": 9},
        "train": {"data": {"pair_confidence": 1}},
    }
    assert entry["pair_confidence"] == 1
    rules = entry["pairs_by_confidence"]
    assert set(rules) == {"0.0", "1.0", "2.0"}
    assert rules["1.0"]["step_pairs"] == entry["step_pairs"] >= rules["2.0"]["step_pairs"]
    assert rules["0.0"]["step_pairs"] >= rules["1.0"]["step_pairs"]
    with pytest.raises(SystemExit):
        bench.main([*argv, "--set", "search.k"])


@pytest.mark.slow
def test_quick_run_on_the_default_model_reads_every_critique(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "signal.json"
    assert bench.main(["--quick", "--out", str(out), "--suites", "tictactoe"]) == 0
    entry = json.loads(out.read_text())["tictactoe"]["latest"]
    assert entry["critic_unparsed"] == 0 and 0.0 < entry["legal_mass"] <= 1.0
