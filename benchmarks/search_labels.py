"""How right is what search labels, setting by setting? Exact values, no model: seconds to minutes per setting.

The practice search runs with a fixed prior in place of the model on a suite's first `--tasks` train tasks
(begun from exploring starts where the suite's practice defaults ask for them), one round's RFT rows and step
pairs are mined exactly as a practice round mines them, and every row is scored by exact values:

- FrozenLake 4x4: minus the fewest moves from where a move lands to the goal, around the holes
  (`signal_bench.lake_distances`). Search proposes every legal move (k=4) and UCT reads no prior, so the model
  would change only which of two equally scored moves comes first.
- tic-tac-toe: the expected score after each move against the suite's opponent, a draw worth 0.5
  (`practicum.envs.games.tictactoe.move_values`). Search proposes 4 of up to 9 moves; the prior here is uniform
  with seeded noise, so which 4 differs from the model's, and the figures say how right the values of the moves
  search did try are.

Per setting: `solved` (train tasks search won), `rft_rows` and `rft_optimal_share` (every RFT row: committed
moves, and their ties where the suite's `rft_targets` asks for them), `committed_rows` and
`committed_optimal_share` (`committed_best_tried_share`: the best of the moves search tried), `tie_recall` (where
the committed move is optimal and another proposed move is too, the share of those that became tied rows),
`prior_at_ties` (there, how often search committed to the prior's favourite; about 0.5 with two optimal moves
when the prior does not decide), `step_pairs` and `pairs_right` /
`pairs_tied` / `pairs_reversed`; for tic-tac-toe also `pairs_by_held_position`, the same pairs judged by the
positions the two siblings hold (each after the one opponent reply search drew when it expanded it).

    .venv/bin/python benchmarks/search_labels.py --suite frozenlake-4x4             # every lake setting, both priors
    .venv/bin/python benchmarks/search_labels.py --suite frozenlake-4x4 --tasks 80 --first-task 80 --label check
    .venv/bin/python benchmarks/search_labels.py --suite tictactoe --tasks 40

Results are merged into `benchmarks/results/search_labels.json` under `[suite][label][prior][setting]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(HERE))
from lake_probe import MOVES as LAKE_MOVES  # noqa: E402
from signal_bench import lake_distances  # noqa: E402

from practicum.agents.base import Candidate, Policy, Proposal, StepContext  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "search_labels.json"
CELL = re.compile(r"You are at row (\d+), column (\d+)")
EPS = 1e-9
# Fixed priors: log-probabilities by move name (unnamed moves get -3), plus Gumbel noise of this scale per call.
PRIORS: dict[str, tuple[dict[str, float], float]] = {
    "uniform": ({}, 0.0),
    "right": ({"right": -0.1, "down": -1.0, "left": -2.0, "up": -3.0}, 0.0),  # the default model's on a lake
    "noisy": ({}, 1.0),
}
# Settings laid over the suite's practice defaults: (search settings, data settings).
SETTINGS: dict[str, dict[str, tuple[dict[str, Any], dict[str, Any]]]] = {
    "frozenlake-4x4": {
        "random-1, ties within 1 error": ({"rollout_policy": "random", "rollouts": 1}, {"tie_confidence": 1.0}),
        "random-1, ties within the margin": ({"rollout_policy": "random", "rollouts": 1}, {"tie_confidence": 0.0}),
        "random-8, ties within the margin": ({"rollout_policy": "random", "rollouts": 8}, {"tie_confidence": 0.0}),
        "heuristic-1, ties within the margin": (
            {"rollout_policy": "heuristic", "rollouts": 1},
            {"tie_confidence": 0.0},
        ),
        "heuristic-4, ties within 1 error": ({"rollout_policy": "heuristic", "rollouts": 4}, {"tie_confidence": 1.0}),
        "heuristic-4, ties within the margin": (
            {"rollout_policy": "heuristic", "rollouts": 4},
            {"tie_confidence": 0.0},
        ),
        "heuristic-8, ties within the margin": (
            {"rollout_policy": "heuristic", "rollouts": 8},
            {"tie_confidence": 0.0},
        ),
    },
    "tictactoe": {
        "random-16": ({"rollout_policy": "random"}, {}),
        "heuristic-16": ({"rollout_policy": "heuristic"}, {}),
        "random-16, pairs within 2 errors": ({"rollout_policy": "random"}, {"pair_confidence": 2.0}),
        "heuristic-16, pairs within 2 errors": ({"rollout_policy": "heuristic"}, {"pair_confidence": 2.0}),
    },
}
DEFAULT_PRIORS = {"frozenlake-4x4": ["uniform", "right"], "tictactoe": ["noisy"]}


class FixedPrior(Policy):
    """Proposes the legal moves ranked by fixed log-probabilities, with seeded Gumbel noise when asked."""

    name = "fixed-prior"

    def __init__(self, logprobs: Mapping[str, float], noise: float = 0.0) -> None:
        self.logprobs = dict(logprobs)
        self.noise = noise

    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        rng = random.Random(seed)
        keys = {
            a: self.logprobs.get(a, -3.0) - self.noise * _log(-_log(rng.random())) for a in context.legal_actions or ()
        }
        return self.score(context, sorted(keys, key=lambda a: -keys[a])[:k])

    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        return Proposal(context.observation, [Candidate(a, self.logprobs.get(a, -3.0)) for a in actions])


def _log(x: float) -> float:
    import math

    return math.log(max(x, 1e-300))


def move_values(suite: str, task: Any, prompt: str) -> dict[str, float]:
    """Exact values of the legal moves at the position a prompt shows (higher is better)."""
    if suite == "tictactoe":
        from practicum.envs.games.tictactoe import board_from_text
        from practicum.envs.games.tictactoe import move_values as ttt_values

        return ttt_values(board_from_text(prompt) or "")
    found = CELL.search(prompt)
    if found is None:
        raise ValueError(f"no cell in the prompt {prompt[:80]!r}")
    rows, (row, col) = task.params["make_kwargs"]["desc"], (int(found[1]), int(found[2]))
    dist = lake_distances(rows)
    out = {}
    for move, (dr, dc) in LAKE_MOVES.items():
        if 0 <= row + dr < len(rows) and 0 <= col + dc < len(rows[0]):
            out[move] = -float(dist.get((row + dr, col + dc), 99))
    return out


def _held_value(observation: str | None, side: int) -> float:
    """The exact value, for the agent (`side`), of the tic-tac-toe position an observation shows: the game's
    score if it is over, else the best move's value."""
    from practicum.envs.games.board import DRAW
    from practicum.envs.games.tictactoe import board_from_text, winner
    from practicum.envs.games.tictactoe import move_values as ttt_values

    board = board_from_text(observation or "") or ""
    result = winner(board)
    if result is not None:
        return 0.5 if result == DRAW else float(result == side)
    return max(ttt_values(board).values())


def share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def measure(suite_name: str, setting: str, prior: str, tasks: int, first_task: int) -> dict[str, Any]:
    """One setting's labels on `tasks` train tasks of a suite, scored by exact values."""
    from practicum.envs.registry import get_suite
    from practicum.loop.config import config_from_dict
    from practicum.loop.graph import explore_start
    from practicum.search import search_episode
    from practicum.trainer.mining import EpisodeInfo, rft_examples, step_pairs, tied_examples

    search_sets, data_sets = SETTINGS[suite_name][setting]
    config = config_from_dict({"suite": suite_name})
    search = dataclasses.replace(config.search, **search_sets)
    data = dataclasses.replace(config.train_config.data, **data_sets)
    suite = get_suite(suite_name)
    env = suite.env(max_steps=config.max_steps)
    logprobs, noise = PRIORS[prior]
    policy = FixedPrior(logprobs, noise)
    solved, rows_ok, committed_ok, best_tried, recall, prior_wins, gaps = 0, [], [], [], [], [], []
    sampled_gaps: list[float] = []
    started = time.monotonic()
    try:
        for i, task in enumerate(suite.tasks("train", limit=first_task + tasks)[first_task:]):
            task = explore_start(task, config.explore_starts)
            tree = search_episode(env, policy, None, dataclasses.replace(search, seed=task.seed), task=task)
            solved += tree.success
            failure = None if tree.success else "agent"
            info = EpisodeInfo(id=i, task=task.key, policy_id=None, success=tree.success, failure_kind=failure)
            steps = rft_examples(
                info, tree.nodes, include_failed=data.include_failed_steps, good_value=data.good_step_value
            )
            ties = (
                tied_examples(
                    steps,
                    tree.nodes,
                    margin=data.step_margin,
                    confidence=data.tie_confidence,
                    min_visits=data.min_visits,
                )
                if data.rft_targets == "ties"
                else []
            )
            tied = {(t.prompt, t.completion) for t in ties}
            proposed = {n.idx: n for n in tree.nodes}
            for ex in steps:
                values = move_values(suite_name, task, ex.prompt)
                best = {m for m, v in values.items() if v >= max(values.values()) - EPS}
                committed_ok.append(ex.completion in best)
                rows_ok.append(ex.completion in best)
                parent = proposed[ex.node_idx].parent_idx
                tried = {n.action for n in tree.nodes if n.parent_idx == parent and not n.invalid and n.action}
                best_tried.append(values.get(ex.completion, -1e9) >= max(values[m] for m in tried if m in values) - EPS)
                others = (best & tried) - {ex.completion}
                if ex.completion in best and others:
                    recall += [(ex.prompt, other) in tied for other in others]
                    ranked = sorted(best & tried, key=lambda m: -logprobs.get(m, -3.0))
                    prior_wins.append(ex.completion == ranked[0])
            for t in ties:
                values = move_values(suite_name, task, t.prompt)
                rows_ok.append(values.get(t.completion, -1e9) >= max(values.values()) - EPS)
            pairs = step_pairs(
                info,
                tree.nodes,
                margin=data.step_margin,
                max_per_node=data.max_pairs_per_node,
                min_visits=data.min_visits,
                by=data.pair_value,
                confidence=data.pair_confidence,
            )
            for p in pairs:
                values = move_values(suite_name, task, str(p.prompt))
                gaps.append(values[p.chosen.action] - values[p.rejected.action])
                if suite_name == "tictactoe":
                    side = int(task.params["agent_side"])
                    held = [_held_value(tree.nodes[i].observation, side) for i in (p.chosen.idx, p.rejected.idx)]
                    sampled_gaps.append(held[0] - held[1])
    finally:
        env.close()
    return {
        "tasks": tasks,
        "first_task": first_task,
        "solved": round(solved / tasks, 3),
        "rft_rows": len(rows_ok),
        "rft_optimal_share": share(rows_ok),
        "committed_rows": len(committed_ok),
        "committed_optimal_share": share(committed_ok),
        "committed_best_tried_share": share(best_tried),
        "tie_recall": share(recall) if data.rft_targets == "ties" else None,
        "prior_at_ties": share(prior_wins) if logprobs else None,  # a uniform or noisy prior has no favourite
        "step_pairs": len(gaps),
        "pairs_right": share([g > EPS for g in gaps]),
        "pairs_tied": share([abs(g) <= EPS for g in gaps]),
        "pairs_reversed": share([g < -EPS for g in gaps]),
        # Tic-tac-toe: the same pairs by the exact values of the positions the two siblings hold, each after the
        # one opponent reply search drew when it expanded it (what the sibling's value estimates).
        "pairs_by_held_position": {
            "right": share([g > EPS for g in sampled_gaps]),
            "tied": share([abs(g) <= EPS for g in sampled_gaps]),
            "reversed": share([g < -EPS for g in sampled_gaps]),
        }
        if sampled_gaps
        else None,
        "search": {k: getattr(search, k) for k in ("simulations", "k", "max_depth", "rollouts", "rollout_policy")},
        "tie_confidence": data.tie_confidence,
        "pair_confidence": data.pair_confidence,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=sorted(SETTINGS), default="frozenlake-4x4")
    parser.add_argument("--tasks", type=int, default=80, help="train tasks searched per setting")
    parser.add_argument("--first-task", type=int, default=0, help="search the train tasks from this index on")
    parser.add_argument("--priors", nargs="+", choices=sorted(PRIORS), help="default: the suite's")
    parser.add_argument("--settings", nargs="+", metavar="NAME", help="default: every setting of the suite")
    parser.add_argument("--label", default="latest", help="the results go to search_labels.json[suite][label]")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    settings = args.settings or list(SETTINGS[args.suite])
    unknown = [s for s in settings if s not in SETTINGS[args.suite]]
    if unknown:
        parser.error(f"unknown setting {unknown[0]!r} for {args.suite}; choose from {', '.join(SETTINGS[args.suite])}")
    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    entry = data.setdefault(args.suite, {}).setdefault(args.label, {})
    for prior in args.priors or DEFAULT_PRIORS[args.suite]:
        for setting in settings:
            row = measure(args.suite, setting, prior, args.tasks, args.first_task)
            entry.setdefault(prior, {})[setting] = row
            print(f"{prior:8s} {setting:38s}", {k: row[k] for k in list(row)[2:14]}, flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
