"""How right is what search labels on FrozenLake, setting by setting? No model: seconds per setting.

On FrozenLake 4x4 the practice search proposes every legal move (k=4) and selects by UCT, which reads no prior,
so the model changes only which of two equally scored moves comes first. This benchmark runs the practice
search with a fixed prior instead of the model (`--prior uniform`, or `right`: right > down > left > up, the
default model's preference on an open lake) on the first `--lakes` train lakes (begun from exploring starts, as
practice does), mines one round's RFT rows and step pairs exactly as a practice round does, and scores every
row by exact shortest paths (`signal_bench.lake_distances`):

- `solved`: train lakes search solved;
- `rft_rows`, `rft_optimal_share`: every RFT row (committed moves and their ties) and the share that are optimal;
- `committed_rows`, `committed_optimal_share`: the committed moves alone;
- `tie_recall`: where the committed move is optimal and another move is optimal too, the share of those other
  moves that became tied rows (each optimal move as a target keeps a tie from sharpening the prior);
- `prior_at_ties`: at those positions, the share where search committed to the prior's favourite among the
  optimal moves (0.5 with two optimal moves: the prior does not decide);
- `step_pairs`, `pairs_right` / `pairs_tied` / `pairs_reversed`: step pairs by exact distance to the goal.

    .venv/bin/python benchmarks/lake_labels.py                       # every setting below, both priors
    .venv/bin/python benchmarks/lake_labels.py --lakes 80 --first-task 80 --label check

Results are merged into `benchmarks/results/lake_labels.json` under `[label][prior][setting]`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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
from signal_bench import lake_distances  # noqa: E402

from practicum.agents.base import Candidate, Policy, Proposal, StepContext  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "lake_labels.json"
MOVES = {"left": (0, -1), "down": (1, 0), "right": (0, 1), "up": (-1, 0)}
PRIORS = {"uniform": {}, "right": {"right": -0.1, "down": -1.0, "left": -2.0, "up": -3.0}}
CELL = re.compile(r"You are at row (\d+), column (\d+)")
# Settings laid over the practice defaults: (search settings, data settings).
SETTINGS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "random-1, ties within 1 error": ({"rollout_policy": "random", "rollouts": 1}, {"tie_confidence": 1.0}),
    "random-1, ties within the margin": ({"rollout_policy": "random", "rollouts": 1}, {"tie_confidence": 0.0}),
    "random-8, ties within the margin": ({"rollout_policy": "random", "rollouts": 8}, {"tie_confidence": 0.0}),
    "heuristic-1, ties within the margin": ({"rollout_policy": "heuristic", "rollouts": 1}, {"tie_confidence": 0.0}),
    "heuristic-4, ties within 1 error": ({"rollout_policy": "heuristic", "rollouts": 4}, {"tie_confidence": 1.0}),
    "heuristic-4, ties within the margin": ({"rollout_policy": "heuristic", "rollouts": 4}, {"tie_confidence": 0.0}),
    "heuristic-8, ties within the margin": ({"rollout_policy": "heuristic", "rollouts": 8}, {"tie_confidence": 0.0}),
}


class FixedPrior(Policy):
    """Proposes every legal move with fixed log-probabilities (moves it does not name get -3)."""

    name = "fixed-prior"

    def __init__(self, logprobs: Mapping[str, float]) -> None:
        self.logprobs = dict(logprobs)

    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        ranked = sorted(context.legal_actions or (), key=lambda a: -self.logprobs.get(a, -3.0))
        return self.score(context, ranked[:k])

    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        return Proposal(context.observation, [Candidate(a, self.logprobs.get(a, -3.0)) for a in actions])


def optimal(rows: Sequence[str], cell: tuple[int, int]) -> set[str]:
    """The moves onto a cell one step nearer the goal (empty where the goal cannot be reached)."""
    dist = lake_distances(rows)
    here = dist.get(cell)
    return {
        m for m, (dr, dc) in MOVES.items() if here is not None and dist.get((cell[0] + dr, cell[1] + dc)) == here - 1
    }


def distance_after(rows: Sequence[str], cell: tuple[int, int], move: str) -> int:
    """Moves left to the goal after `move` (99 for a hole or a cell cut off from it)."""
    dr, dc = MOVES[move]
    return lake_distances(rows).get((cell[0] + dr, cell[1] + dc), 99)


def cell_of(prompt: str) -> tuple[int, int]:
    found = CELL.search(prompt)
    if found is None:
        raise ValueError(f"no cell in the prompt {prompt[:80]!r}")
    return int(found[1]), int(found[2])


def share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def measure(setting: str, prior: str, lakes: int, first_task: int) -> dict[str, Any]:
    """One setting's labels on `lakes` train lakes, scored by exact shortest paths."""
    from practicum.envs.registry import get_suite
    from practicum.loop.config import config_from_dict
    from practicum.loop.graph import explore_start
    from practicum.search import search_episode
    from practicum.trainer.mining import EpisodeInfo, rft_examples, step_pairs, tied_examples

    search_sets, data_sets = SETTINGS[setting]
    config = config_from_dict({"suite": "frozenlake-4x4"})
    search = dataclasses.replace(config.search, **search_sets)
    data = dataclasses.replace(config.train_config.data, **data_sets)
    suite = get_suite("frozenlake-4x4")
    env = suite.env(max_steps=config.max_steps)
    policy, order = FixedPrior(PRIORS[prior]), sorted(MOVES, key=lambda m: -PRIORS[prior].get(m, -3.0))
    solved, rows_ok, committed_ok, recall, prior_wins, gaps = 0, [], [], [], [], []
    started = time.monotonic()
    try:
        for i, task in enumerate(suite.tasks("train", limit=first_task + lakes)[first_task:]):
            task = explore_start(task, config.explore_starts)
            tree = search_episode(env, policy, None, dataclasses.replace(search, seed=task.seed), task=task)
            solved += tree.success
            info = EpisodeInfo(
                id=i,
                task=task.key,
                policy_id=None,
                success=tree.success,
                failure_kind=None if tree.success else "agent",
            )
            desc = task.params["make_kwargs"]["desc"]
            steps = rft_examples(
                info, tree.nodes, include_failed=data.include_failed_steps, good_value=data.good_step_value
            )
            ties = tied_examples(
                steps, tree.nodes, margin=data.step_margin, confidence=data.tie_confidence, min_visits=data.min_visits
            )
            tied = {(t.prompt, t.completion) for t in ties}
            for ex in steps:
                best = optimal(desc, cell_of(ex.prompt))
                committed_ok.append(ex.completion in best)
                if ex.completion in best and len(best) > 1:
                    recall += [(ex.prompt, other) in tied for other in best - {ex.completion}]
                    prior_wins.append(ex.completion == min(best, key=order.index))
            rows_ok += committed_ok[len(committed_ok) - len(steps) :]
            rows_ok += [t.completion in optimal(desc, cell_of(t.prompt)) for t in ties]
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
                cell = cell_of(str(p.prompt))
                gaps.append(distance_after(desc, cell, str(p.rejected)) - distance_after(desc, cell, str(p.chosen)))
    finally:
        env.close()
    return {
        "lakes": lakes,
        "first_task": first_task,
        "solved": share([True] * solved + [False] * (lakes - solved)),
        "rft_rows": len(rows_ok),
        "rft_optimal_share": share(rows_ok),
        "committed_rows": len(committed_ok),
        "committed_optimal_share": share(committed_ok),
        "tie_recall": share(recall),
        "prior_at_ties": share(prior_wins),
        "step_pairs": len(gaps),
        "pairs_right": share([g > 0 for g in gaps]),
        "pairs_tied": share([g == 0 for g in gaps]),
        "pairs_reversed": share([g < 0 for g in gaps]),
        "search": {k: getattr(search, k) for k in ("simulations", "k", "max_depth", "rollouts", "rollout_policy")},
        "tie_confidence": data.tie_confidence,
        "seconds": round(time.monotonic() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lakes", type=int, default=80, help="train lakes searched per setting")
    parser.add_argument("--first-task", type=int, default=0, help="search the train lakes from this index on")
    parser.add_argument("--priors", nargs="+", choices=sorted(PRIORS), default=sorted(PRIORS))
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS), metavar="NAME")
    parser.add_argument("--label", default="latest", help="the results go to lake_labels.json[label]")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    entry = data.setdefault(args.label, {})
    for prior in args.priors:
        for setting in args.settings:
            row = measure(setting, prior, args.lakes, args.first_task)
            entry.setdefault(prior, {})[setting] = row
            print(f"{prior:8s} {setting:38s}", {k: row[k] for k in list(row)[2:13]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
