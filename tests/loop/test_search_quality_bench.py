"""The search-quality benchmark's scoring: mined RFT examples and step pairs judged by exact tic-tac-toe values."""

from __future__ import annotations

from types import ModuleType

import pytest

from practicum.envs.games.tictactoe import board_text
from practicum.search.tree import Node
from practicum.trainer.config import DataSettings
from practicum.trainer.mining import EpisodeInfo
from tests.benchmarks import load_benchmark

# X to move on X X . / O O . / . . .: c3 wins at once, a1 lets O win whenever it plays its perfect half.
PROMPT = board_text("XX.OO....") + "\nYour turn (X).\n\nLegal actions: ..."


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("search_quality")


class _Tree:
    def __init__(self, nodes: list[Node]) -> None:
        self.nodes = nodes


def _tree(chosen_value: float, other_value: float, *, c3_ends: bool) -> _Tree:
    root = Node(idx=0, parent_idx=None, depth=0, observation=PROMPT, on_path=True, visits=6)
    c3 = Node(idx=1, parent_idx=0, depth=1, action="c3", prompt=PROMPT, visits=3, value=chosen_value, on_path=True)
    a1 = Node(idx=2, parent_idx=0, depth=1, action="a1", prompt=PROMPT, visits=3, value=other_value)
    c3.is_terminal = c3_ends
    for node in (c3, a1):
        node.blended_value = node.value
    return _Tree([root, c3, a1])


def test_a_won_game_whose_search_preferred_the_winning_move_scores_right(bench: ModuleType) -> None:
    info = EpisodeInfo(id=1, task="tictactoe:1", policy_id=None, success=True, failure_kind=None)
    data = DataSettings(pair_value="search", min_visits=3)
    out = bench.score([(info, _tree(1.0, 0.2, c3_ends=True))], data)
    assert out["rft"] == {"examples": 1, "optimal_share": 1.0, "mean_regret": 0.0}
    one_right = {"pairs": 1, "right": 1.0, "tied": 0.0, "wrong": 0.0}
    assert out["step_pairs"]["margin_0.1"] == {**one_right, "terminal_side": one_right}  # c3 ends the game
    assert out["step_pairs"]["margin_0.5"]["pairs"] == 1 and out["step_pairs"]["margin_0.5"]["right"] == 1.0


def test_search_values_that_rank_the_losing_move_first_make_a_wrong_pair(bench: ModuleType) -> None:
    info = EpisodeInfo(id=1, task="tictactoe:1", policy_id=None, success=False, failure_kind="agent")
    data = DataSettings(pair_value="search", min_visits=3)
    out = bench.score([(info, _tree(0.3, 0.6, c3_ends=False))], data)  # a1 valued above c3: the pair is a1 over c3
    none = {"pairs": 0, "right": None, "tied": None, "wrong": None}
    assert out["step_pairs"]["margin_0.1"] == {
        "pairs": 1,
        "right": 0.0,
        "tied": 0.0,
        "wrong": 1.0,
        "terminal_side": none,
    }
    assert out["step_pairs"]["margin_0.5"] == {**none, "terminal_side": none}
    assert out["rft"]["examples"] == 0  # a lost game gives no RFT example without include_failed_steps


def test_variants_parse_to_typed_overrides_and_a_bad_one_names_the_format(bench: ModuleType) -> None:
    assert bench.parse_variant("rollouts=16, alpha=0.8,commit=q") == {"rollouts": 16, "alpha": 0.8, "commit": "q"}
    with pytest.raises(SystemExit, match="key=value"):
        bench.parse_variant("rollouts16")
