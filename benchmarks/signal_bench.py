"""Is there anything to learn from? The critic, the policy and one round of search data, scored by exact values.

Per suite, on positions whose every legal move has an exact value:

- FrozenLake 4x4: the fewest moves from the cell a move lands on to the goal (a breadth-first search over the
  lake's cells from the goal, around the holes; reaching the goal is 0, a hole never reaches it). A move is
  optimal when it lands on a cell nearest the goal.
- tic-tac-toe: the expected score after each move against this suite's opponent (expectimax over its perfect
  and random halves; a win 1, a draw 0.5, a loss 0, as the environment rewards them), by
  `practicum.envs.games.tictactoe.move_values`. The round's data is also scored by the chance of winning (a
  draw worth 0), under `by_win_chance`: the yardstick of the measurements before 2026-12-07.

Positions are the first position of train tasks and positions reached along walks from them (FrozenLake:
optimal and random walks, one task each in turn; tic-tac-toe: random play), read from the environment's own
state, never from its observation text. Positions where every legal move is equally good say nothing and are
skipped (counted). On them:

- `critic_top_optimal`: share of positions where the critic's top-scored action, given ALL legal actions in
  the environment's order, is optimal;
- `critic_order_gap`: the largest change of an action's critic score when the same actions come reversed or
  rotated by one, averaged over positions (a critic that reads each action alone gives ~0);
- `policy_top_optimal`: the same for the policy's most likely legal action (`policy.score`);
- `random_top_optimal`: what a uniformly random legal action gets (mean of #optimal / #legal);
- `legal_mass`: the probability the policy gives the legal actions together (sum of exp(log-prob)).

Then one round of data: the practice search defaults (`PracticeConfig` for the suite, as `practicum practice`
runs them) on the first `--games` train tasks, mined exactly as a practice round mines them (its RFT examples
and its step pairs at the round's margin), each row scored by the exact values of the position it was taken
at: `search_train_success`, `rft_rows`, `rft_optimal_share`, `step_pairs` and the shares `pairs_right`
(chosen move strictly better), `pairs_tied` and `pairs_reversed`. FrozenLake positions of tree nodes come from
replaying the node's actions from the task in a fresh environment (robust to any rewording of the
observation); tic-tac-toe's from the board in the node's prompt (the opponent's replies are random, so a
replay would not reach the same board).

The shop is left out: no exact value exists for a shop page's actions. Results are merged into
`benchmarks/results/signal.json` under `[suite][label]`, so "before" and "after" measurements sit side by side.

    .venv/bin/python benchmarks/signal_bench.py --label before              # both suites, ~10 CPU minutes each
    .venv/bin/python benchmarks/signal_bench.py --suites tictactoe --positions 30 --games 6 --label quick-look
    .venv/bin/python benchmarks/signal_bench.py --critic none --label no-critic
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(HERE))  # the exact-value yardsticks (yardsticks.py)
from yardsticks import gap_shares, optimal_and_regret  # noqa: E402

from practicum.loop.config import parse_sets  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "signal.json"
PAIR_CONFIDENCES = (0.0, 1.0, 2.0)  # step-pair rules scored side by side on one round's trees
CACHE = Path.home() / ".cache" / "practicum" / "warmup"  # warmed-up models, reused across runs
SUITES = ("frozenlake-4x4", "tictactoe")
LEFT_OUT = {
    "shop": "no exact reference: a shop page's actions have no exact value (the graded reward is known only at "
    "the end of an episode, for the product bought), so no position can be scored"
}
EPS = 1e-9
WALK_POSITIONS_PER_TASK = 2  # positions sampled from each walk besides the task's first position
# About 10 minutes of CPU a suite on one thread. Measured 2026-12-06 on 2 cores shared with other work: the lake
# 503 CPU s (799 s wall; its 10 searches 570 s of it, up to 12 steps of 8 simulations each), tic-tac-toe 556 CPU
# s (593 s wall; 20 searches 366 s); 60 positions ~230 s wall each, three critiques and one score apiece.
DEFAULTS = {"frozenlake-4x4": {"positions": 60, "games": 10}, "tictactoe": {"positions": 60, "games": 20}}
QUICK = {"positions": 4, "games": 1}

# The figures, in the order the table prints them.
FIGURES = (
    "positions",
    "critic_top_optimal",
    "critic_order_gap",
    "policy_top_optimal",
    "random_top_optimal",
    "legal_mass",
    "search_train_success",
    "rft_rows",
    "rft_optimal_share",
    "step_pairs",
    "pairs_right",
    "pairs_tied",
    "pairs_reversed",
    "seconds",
)


# ================================================================================= exact values: FrozenLake
# gymnasium's FrozenLake actions 0 left, 1 down, 2 right, 3 up, as (row, column) steps.
LAKE_STEPS = ((0, -1), (1, 0), (0, 1), (-1, 0))


def lake_distances(rows: Sequence[str]) -> dict[tuple[int, int], int]:
    """The fewest moves from each cell to the goal G without crossing a hole (breadth-first from G).

    Holes and cells cut off from the goal are absent. Moves are symmetric, so the search runs from the goal.
    """
    nrow, ncol = len(rows), len(rows[0])
    goal = next((r, c) for r in range(nrow) for c in range(ncol) if rows[r][c] == "G")
    dist = {goal: 0}
    queue = deque([goal])
    while queue:
        r, c = queue.popleft()
        for dr, dc in LAKE_STEPS:
            nr, nc = r + dr, c + dc
            if 0 <= nr < nrow and 0 <= nc < ncol and rows[nr][nc] != "H" and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return dist


def lake_landing(rows: Sequence[str], cell: tuple[int, int], move: int) -> tuple[int, int]:
    """Where gymnasium action `move` takes the player on a lake that is not slippery (the edge stops it)."""
    dr, dc = LAKE_STEPS[move]
    return min(max(cell[0] + dr, 0), len(rows) - 1), min(max(cell[1] + dc, 0), len(rows[0]) - 1)


def lake_move_values(rows: Sequence[str], cell: tuple[int, int], moves: Mapping[str, int]) -> dict[str, float]:
    """Each named move's value at `cell`: minus the fewest moves left to the goal from where it lands (0 on
    the goal), -inf when it lands in a hole or on a cell cut off from the goal. `moves` maps an action name to
    its gymnasium action number."""
    dist = lake_distances(rows)
    return {name: -float(dist.get(lake_landing(rows, cell, move), math.inf)) for name, move in moves.items()}


# ======================================================================================= scoring: pure helpers
def optimal_actions(values: Mapping[str, float]) -> set[str]:
    """The actions whose value is the best one's."""
    best = max(values.values())
    return {a for a, v in values.items() if v >= best - EPS}


def informative(values: Mapping[str, float]) -> bool:
    """Whether some legal move is worse than another (a position where every move is optimal says nothing)."""
    return len(optimal_actions(values)) < len(values)


def top_is_optimal(actions: Sequence[str], scores: Sequence[float | None], values: Mapping[str, float]) -> bool:
    """Whether the highest-scored action (the first of equals, in the given order) is optimal."""
    keyed = [-math.inf if s is None else s for s in scores]
    top = max(range(len(actions)), key=lambda i: (keyed[i], -i))
    return actions[top] in optimal_actions(values)


def random_share(values: Mapping[str, float]) -> float:
    """The chance that a uniformly random legal action is optimal."""
    return len(optimal_actions(values)) / len(values)


def order_gap(
    actions: Sequence[str], scores: Sequence[float], reordered: Sequence[tuple[Sequence[str], Sequence[float]]]
) -> float:
    """The largest change of any action's score between `scores` (for `actions`) and each reordering's scores."""
    base = dict(zip(actions, scores, strict=True))
    return max(
        (abs(s - base[a]) for order, order_scores in reordered for a, s in zip(order, order_scores, strict=True)),
        default=0.0,
    )


def reorderings(actions: Sequence[str]) -> list[list[str]]:
    """The same actions reversed and rotated by one."""
    return [list(actions)[::-1], [*actions[1:], *actions[:1]]]


def legal_mass(logprobs: Sequence[float | None]) -> float:
    """The probability the policy gives these actions together (a missing log-prob counts 0)."""
    return sum(math.exp(lp) for lp in logprobs if lp is not None)


def value_gap(values: Mapping[str, float], chosen: str, rejected: str) -> float | None:
    """How much better `chosen` is than `rejected` (0 for equal values, infinite ones too); None if either is
    not a legal move there."""
    if chosen not in values or rejected not in values:
        return None
    a, b = values[chosen], values[rejected]
    return 0.0 if a == b else a - b


def share(flags: Sequence[bool]) -> float | None:
    """The share of true flags, rounded (None for none)."""
    return round(sum(flags) / len(flags), 3) if flags else None


def mean(xs: Sequence[float]) -> float | None:
    """The mean, rounded (None for none)."""
    return round(sum(xs) / len(xs), 4) if xs else None


def route(nodes: Sequence[Any], idx: int) -> list[str]:
    """The actions from the root of a search tree down to node `idx`, root first."""
    actions: list[str] = []
    node = nodes[idx]
    while node.parent_idx is not None:
        actions.append(str(node.action))
        node = nodes[node.parent_idx]
    return actions[::-1]


def pair_shares(gaps: Sequence[float]) -> dict[str, Any]:
    """Step pairs by exact value: how many, and the shares right (chosen better), tied and reversed."""
    if not gaps:
        return {"step_pairs": 0, "pairs_right": None, "pairs_tied": None, "pairs_reversed": None}
    shares = gap_shares(list(gaps))
    return {
        "step_pairs": len(gaps),
        "pairs_right": shares["right"],
        "pairs_tied": shares["tied"],
        "pairs_reversed": shares["wrong"],
    }


# ============================================================================ the games: state -> exact values
# (Named tuples, not dataclasses: the tests load this file as a module that is not in `sys.modules`.)
class Position(NamedTuple):
    """A decision point with the exact value of every legal action."""

    task: str
    key: str  # what makes two positions the same: the lake and the cell, or the board
    context: Any  # the `StepContext` the model sees
    values: dict[str, float]  # legal action -> exact value, in the environment's order


class Game(NamedTuple):
    """How to read exact values from a suite's live environment, and how to walk it."""

    suite: str
    values: Callable[[Any, Any, Sequence[str]], dict[str, float]]  # (env, task, legal actions) -> values
    key: Callable[[Any, Any], str]  # (env, task) -> position key
    walks: tuple[str, ...]  # "optimal" and/or "random", one per task in turn


def _lake_rows(task: Any) -> list[str]:
    return list(task.params["make_kwargs"]["desc"])


def _lake_cell(env: Any, task: Any) -> tuple[int, int]:
    r, c = divmod(int(env.gym_env.s), len(_lake_rows(task)[0]))
    return r, c


def _lake_values(env: Any, task: Any, legal: Sequence[str]) -> dict[str, float]:
    number = {name: i for i, name in enumerate(env.action_names)}  # the names in gymnasium's action order
    return lake_move_values(_lake_rows(task), _lake_cell(env, task), {a: number[a] for a in legal})


def _lake_key(env: Any, task: Any) -> str:
    return f"{'/'.join(_lake_rows(task))}@{_lake_cell(env, task)}"


def _ttt_values(env: Any, task: Any, legal: Sequence[str]) -> dict[str, float]:
    from practicum.envs.games.tictactoe import move_values

    values = move_values(env.game_state)
    return {a: values[a] for a in legal}


GAMES = {
    "frozenlake-4x4": Game("frozenlake-4x4", _lake_values, _lake_key, ("optimal", "random")),
    "tictactoe": Game("tictactoe", _ttt_values, lambda env, task: str(env.game_state), ("random",)),
}


def walk(env: Any, task: Any, game: Game, kind: str, rng: random.Random) -> list[Position]:
    """The positions of one walk from the task's start (the start first), until the episode ends."""
    from practicum.agents.base import StepContext

    obs, info = env.reset(options={"task": task})
    history: list[str] = []
    out: list[Position] = []
    while True:
        legal = [str(a) for a in info.get("legal_actions") or []]
        if not legal:
            return out
        values = game.values(env, task, legal)
        context = StepContext(str(info.get("goal", task.goal)), obs, tuple(history), tuple(legal))
        out.append(Position(task.key, game.key(env, task), context, values))
        moves = sorted(optimal_actions(values), key=legal.index) if kind == "optimal" else legal
        action = rng.choice(moves)
        obs, _, terminated, truncated, info = env.step(action)
        history.append(action)
        if terminated or truncated:
            return out


def collect_positions(game: Game, n: int, *, max_steps: int | None, seed: int = 0) -> tuple[list[Position], dict]:
    """Up to `n` distinct informative positions: each train task's first position and up to
    `WALK_POSITIONS_PER_TASK` more from a walk, tasks in seed order; with counts of what was skipped."""
    from practicum.envs.registry import get_suite

    suite = get_suite(game.suite)
    env = suite.env(**({} if max_steps is None else {"max_steps": max_steps}))
    rng = random.Random(seed)
    kept: list[Position] = []
    keys: set[str] = set()
    counts = {"positions_seen": 0, "positions_uninformative": 0, "positions_repeated": 0, "tasks": 0}
    try:
        for i, task in enumerate(suite.tasks("train", limit=4 * n + 8)):
            if len(kept) >= n:
                break
            counts["tasks"] += 1
            seen = walk(env, task, game, game.walks[i % len(game.walks)], rng)
            picks = seen[:1] + rng.sample(seen[1:], min(WALK_POSITIONS_PER_TASK, len(seen[1:])))
            for pos in picks[: n - len(kept)]:  # no more than are still wanted
                counts["positions_seen"] += 1
                if pos.key in keys:
                    counts["positions_repeated"] += 1
                elif not informative(pos.values):
                    counts["positions_uninformative"] += 1
                else:
                    keys.add(pos.key)
                    kept.append(pos)
    finally:
        env.close()
    return kept, counts


# ===================================================================================== the model's judgements
def judge_positions(positions: Sequence[Position], policy: Any, critic: Any | None) -> dict[str, Any]:
    """The critic's and the policy's top choices on `positions`, beside a random choice's."""
    critic_top: list[bool] = []
    gaps: list[float] = []
    unparsed = 0
    policy_top: list[bool] = []
    masses: list[float] = []
    for pos in positions:
        actions = list(pos.values)
        logprobs = [c.logprob for c in policy.score(pos.context, actions).candidates]
        policy_top.append(top_is_optimal(actions, logprobs, pos.values))
        masses.append(legal_mass(logprobs))
        if critic is None:
            continue
        base = critic.critique(pos.context, actions)
        unparsed += not base.parsed
        critic_top.append(top_is_optimal(actions, base.scores, pos.values))
        others = [(order, critic.critique(pos.context, order).scores) for order in reorderings(actions)]
        gaps.append(order_gap(actions, base.scores, others))
    return {
        "critic_top_optimal": share(critic_top),
        "critic_order_gap": mean(gaps),
        "critic_unparsed": unparsed if critic is not None else None,
        "policy_top_optimal": share(policy_top),
        "random_top_optimal": mean([random_share(p.values) for p in positions]),
        "legal_mass": mean(masses),
    }


# ================================================================================= one round of search data
def search_round(
    suite_name: str,
    games: int,
    policy: Any,
    critic: Any | None,
    sets: Mapping[str, Any] | None = None,
    first_task: int = 0,
) -> tuple[list, dict[str, Any]]:
    """Search the first `games` train tasks with the practice defaults; the (task, info, tree) of each."""
    from practicum.envs.registry import get_suite
    from practicum.search import search_episode
    from practicum.trainer.mining import EpisodeInfo

    config = practice_config(suite_name, sets)
    search = config.search if critic is not None else dataclasses.replace(config.search, alpha=1.0)
    if not search.consults_critic:
        critic = None  # as in the loop: a critic search does not trust is not asked
    suite = get_suite(suite_name)
    env = suite.env(**({} if config.max_steps is None else {"max_steps": config.max_steps}))
    episodes = []
    try:
        for i, task in enumerate(suite.tasks("train", limit=first_task + games)[first_task:]):
            tree = search_episode(env, policy, critic, dataclasses.replace(search, seed=task.seed), task=task)
            failure = None if tree.success else (tree.failure_kind.value if tree.failure_kind else "agent")
            info = EpisodeInfo(id=i, task=task.key, policy_id=None, success=tree.success, failure_kind=failure)
            episodes.append((task, info, tree))
    finally:
        env.close()
    settings = {k: getattr(search, k) for k in ("simulations", "k", "max_depth", "rollouts", "rollout_policy", "alpha")}
    return episodes, {"search": settings, "max_steps": config.max_steps}


class NodeValues:
    """Exact action values at a tree node's position: replayed from the task (FrozenLake) or read from the
    board in the node's prompt (tic-tac-toe)."""

    def __init__(self, suite_name: str, max_steps: int | None, *, draw: float = 0.5) -> None:
        """`draw`: what a drawn tic-tac-toe game scores (0.5, the environment's reward; 0 scores the win chance)."""
        self.suite_name = suite_name
        self.max_steps = max_steps
        self.draw = draw
        self._env: Any = None
        self._cache: dict[tuple[str, tuple[str, ...]], dict[str, float] | None] = {}

    def at(self, task: Any, nodes: Sequence[Any], parent_idx: int, prompt: str | None) -> dict[str, float] | None:
        """The values of the legal moves at node `parent_idx`, or None where there is no position to score."""
        if self.suite_name == "tictactoe":
            from practicum.envs.games.tictactoe import board_from_text, move_values

            return move_values(board_from_text(prompt or "") or "", draw=self.draw) or None
        key = (task.key, tuple(route(nodes, parent_idx)))
        if key not in self._cache:
            self._cache[key] = self._replay(task, key[1])
        return self._cache[key]

    def _replay(self, task: Any, actions: Sequence[str]) -> dict[str, float] | None:
        if self._env is None:
            from practicum.envs.registry import get_suite

            kwargs = {} if self.max_steps is None else {"max_steps": self.max_steps}
            self._env = get_suite(self.suite_name).env(**kwargs)
        _, info = self._env.reset(options={"task": task})
        for action in actions:
            _, _, terminated, truncated, info = self._env.step(action)
            if terminated or truncated:
                return None
        legal = [str(a) for a in info.get("legal_actions") or []]
        return GAMES[self.suite_name].values(self._env, task, legal) if legal else None

    def close(self) -> None:
        if self._env is not None:
            self._env.close()


def score_round(episodes: Sequence[tuple[Any, Any, Any]], data: Any, values: NodeValues) -> dict[str, Any]:
    """The round's RFT examples and step pairs (mined as a practice round mines them), by exact value."""
    from practicum.trainer.mining import rft_examples, step_pairs

    scored: list[tuple[float, float]] = []
    unscored = 0
    gaps: list[float] = []
    by_rule: dict[float, list[float]] = {z: [] for z in PAIR_CONFIDENCES}  # the same trees, stricter rules
    own = getattr(data, "pair_confidence", 0.0)  # the round's own rule (absent before the setting existed)
    for task, info, tree in episodes:
        nodes = tree.nodes
        for ex in rft_examples(info, nodes, include_failed=data.include_failed_steps, good_value=data.good_step_value):
            parent = nodes[ex.node_idx].parent_idx
            at = values.at(task, nodes, parent, ex.prompt) if parent is not None else None
            if at is None or ex.completion not in at:
                unscored += 1
                continue
            scored.append((at[ex.completion], max(at.values())))
        for z in sorted({own, *PAIR_CONFIDENCES}):
            mined = step_pairs(
                info,
                nodes,
                margin=data.step_margin,
                max_per_node=data.max_pairs_per_node,
                min_visits=data.min_visits,
                by=data.pair_value,
                **({"confidence": z} if z else {}),
            )
            for pair in mined:
                at = values.at(task, nodes, int(pair.node_idx), str(pair.prompt))
                gap = value_gap(at, pair.chosen.action, pair.rejected.action) if at else None
                if gap is not None:
                    if z == own:
                        gaps.append(gap)
                    if z in by_rule:
                        by_rule[z].append(gap)
    out: dict[str, Any] = {
        "search_train_success": share([info.success for _, info, _ in episodes]),
        "rft_rows": len(scored) + unscored,
        "rft_optimal_share": share([v >= best - EPS for v, best in scored]),
        "rft_unscored": unscored,
        **pair_shares(gaps),
        "pair_confidence": own,
        # The step pairs the same trees give under stricter rules (`train.data.pair_confidence`): the gap must
        # exceed the margin plus z standard errors of the two siblings' values.
        "pairs_by_confidence": {str(z): pair_shares(g) for z, g in by_rule.items()},
    }
    if values.suite_name == "tictactoe":
        out["rft_mean_regret"] = optimal_and_regret(scored)[1]
    return out


# ========================================================================================================= run
def practice_config(suite_name: str, sets: Mapping[str, Any] | None = None) -> Any:
    """The practice loop's config for a suite, with `--set` keys laid over it."""
    from practicum.loop.config import config_from_dict, overlay

    return config_from_dict(overlay({"suite": suite_name}, dict(sets or {})))


def measure_suite(
    suite_name: str,
    policy: Any,
    critic: Any | None,
    positions: int,
    games: int,
    sets: Mapping[str, Any] | None = None,
    first_task: int = 0,
) -> dict[str, Any]:
    """Every figure of one suite."""

    config = practice_config(suite_name, sets)
    started, cpu_started = time.monotonic(), time.process_time()
    found, counts = collect_positions(GAMES[suite_name], positions, max_steps=config.max_steps)
    judged = judge_positions(found, policy, critic)
    positions_s = time.monotonic() - started
    episodes, settings = search_round(suite_name, games, policy, critic, sets, first_task)
    search_s = time.monotonic() - started - positions_s
    values = NodeValues(suite_name, settings["max_steps"])
    try:
        data = score_round(episodes, config.train_config.data, values)
    finally:
        values.close()
    if suite_name == "tictactoe":
        # The same data by the chance of winning (a draw worth 0): the yardstick before 2026-12-07, kept side by
        # side. Search maximises the environment's reward, in which a draw is worth 0.5, so a sure draw chosen
        # over a riskier win counts as wrong here and right above.
        by_wins = score_round(episodes, config.train_config.data, NodeValues(suite_name, None, draw=0.0))
        data["by_win_chance"] = {
            k: by_wins[k] for k in ("rft_optimal_share", "pairs_right", "pairs_tied", "pairs_reversed")
        }
    wall = time.monotonic() - started
    return {
        "positions": len(found),
        **counts,
        **judged,
        "games": len(episodes),
        **data,
        **settings,
        "data_settings": {
            k: getattr(config.train_config.data, k)
            for k in ("include_failed_steps", "good_step_value", "step_margin", "min_visits", "pair_value")
        },
        "model_seconds": round(sum(tree.model_seconds for _, _, tree in episodes), 1),
        "seconds": round(wall, 1),
        "cpu_seconds": round(time.process_time() - cpu_started, 1),  # below `seconds` when the cores are shared
        "positions_seconds": round(positions_s, 1),
        "search_seconds": round(search_s, 1),
    }


def merge(path: Path, results: Mapping[str, dict[str, Any]], label: str) -> dict[str, Any]:
    """Write each suite's entry under `[suite][label]`, keeping every other suite's and label's."""
    data = json.loads(path.read_text()) if path.exists() else {}
    for suite_name, entry in results.items():
        data.setdefault(suite_name, {})[label] = entry
    data["left_out"] = dict(LEFT_OUT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return data


def table(data: Mapping[str, Any], suites: Sequence[str]) -> Any:
    """Every label stored for `suites`, side by side, one column each."""
    from rich.table import Table

    out = Table(title="signal: critic, policy and one round of search data, by exact values")
    out.add_column("figure")
    columns = [(s, label) for s in suites for label in data.get(s, {})]
    for s, label in columns:
        out.add_column(f"{s}\n{label}", justify="right")
    for figure in FIGURES:
        cells = [data[s][label].get(figure) for s, label in columns]
        out.add_row(figure, *("-" if c is None else f"{c:g}" if isinstance(c, float) else str(c) for c in cells))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", nargs="+", default=list(SUITES), help=f"of {', '.join(SUITES)} (shop: left out)")
    parser.add_argument("--positions", type=int, help="positions with exact values (default: 60)")
    parser.add_argument("--games", type=int, help="train tasks searched for the round (default: 10 lakes, 20 games)")
    parser.add_argument("--label", default="latest", help="the results go to signal.json[suite][label]")
    parser.add_argument("--quick", action="store_true", help=f"tiny sizes for tests ({QUICK})")
    parser.add_argument("--critic", choices=("self", "none"), default="self", help="the policy's own, or none")
    parser.add_argument("--model", help="a local model directory (default: the built-in SmolLM2-135M-Instruct)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--warmup",
        action="store_true",
        help="measure the model after the practice loop's format warm-up for each suite (cached under --cache)",
    )
    parser.add_argument("--cache", type=Path, default=CACHE, help="where warmed-up models are kept")
    parser.add_argument("--out", type=Path, default=OUT, help="the JSON file to merge into")
    parser.add_argument(
        "--first-task",
        type=int,
        default=0,
        help="search the train tasks from this index on (a decision made on tasks 0.. is checked on others)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a practice setting for the search round and its data, e.g. search.k=9 (repeatable)",
    )
    args = parser.parse_args(argv)
    try:
        sets = parse_sets(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    unknown = [s for s in args.suites if s not in SUITES and s not in LEFT_OUT]
    if unknown:
        parser.error(f"unknown suite {unknown[0]!r}; choose from {', '.join(SUITES)}")
    for s in args.suites:
        if s in LEFT_OUT:
            print(f"{s}: left out ({LEFT_OUT[s]})")
    suites = [s for s in args.suites if s in SUITES]
    if not suites:
        merge(args.out, {}, args.label)
        return 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    from rich.console import Console

    from practicum.agents.critic import critic_for
    from practicum.agents.default import default_model_dir
    from practicum.agents.local import LocalPolicy
    from practicum.envs.registry import get_suite
    from practicum.provenance import git_revision

    model_dir = Path(args.model) if args.model else default_model_dir()
    console = Console()
    results = {}
    for suite_name in suites:
        measured = model_dir
        if args.warmup:
            from practicum.loop.warmup import WarmupConfig, warm_up

            measured = warm_up(model_dir, get_suite(suite_name), WarmupConfig(), args.cache, console.print)
        policy = LocalPolicy.load(measured)
        critic = critic_for(policy) if args.critic == "self" else None
        try:
            sizes = QUICK if args.quick else DEFAULTS[suite_name]
            positions = args.positions if args.positions is not None else sizes["positions"]
            games = args.games if args.games is not None else sizes["games"]
            console.print(f"[bold]{suite_name}[/]: {positions} positions, {games} searched games")
            entry = measure_suite(suite_name, policy, critic, positions, games, sets, args.first_task)
            entry.update(
                {
                    "critic": args.critic,
                    "model": str(model_dir) if args.model else "default (SmolLM2-135M-Instruct)",
                    "sets": sets,
                    "first_task": args.first_task,
                    "warmup": asdict(WarmupConfig()) if args.warmup else None,
                    "quick": args.quick,
                    "git": git_revision(ROOT),
                    "torch_threads": torch.get_num_threads(),
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "date": time.strftime("%Y-%m-%d"),
                }
            )
            results[suite_name] = entry
            console.print(f"  {suite_name}: {entry['seconds']} s")
        finally:
            policy.close()
    data = merge(args.out, results, args.label)
    console.print(table(data, suites))
    console.print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
