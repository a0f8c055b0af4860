"""How right is the training data that search mines? Tic-tac-toe, scored by the exact values of the game.

The default policy (SmolLM2-135M-Instruct) searches the same tic-tac-toe train games once per search variant
(`practicum practice`'s search defaults with a few keys changed); the trees are mined exactly as a practice
round mines them (the practice data defaults: RFT on the committed steps of won games plus the good steps of
lost ones, step pairs ranked by search value between siblings visited 3+ times), and every row is scored by
the exact win probabilities against this opponent (expectimax over its perfect and random halves, the
yardstick of `benchmarks/learning.py`):

- `rft`: examples, share of optimal moves, mean regret (win probability given away per move);
- `step_pairs`: pairs, and the shares whose chosen move is worth more than the rejected one (right), the same
  (tied) or less (wrong); also at larger margins, to see whether a stricter filter would sort them out;
- `train_wins`, `seconds` (wall time of the variant's process) and `model_seconds` (inside the model).

Variants run side by side, one process each (`--parallel`, one torch thread per process), on the same games
with the same seeds. Written to `benchmarks/results/search_quality.json`.

    .venv/bin/python benchmarks/search_quality.py                       # rollouts=1 vs rollouts=16, 24 games
    .venv/bin/python benchmarks/search_quality.py --games 8 --variants rollouts=1 simulations=16,rollouts=16
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the exact-value yardsticks (yardsticks.py)
from yardsticks import gap_shares, move_scored, optimal_and_regret, pair_gap

from practicum.loop.config import parse_sets

OUT = Path(__file__).resolve().parent / "results" / "search_quality.json"
SUITE = "tictactoe"
MARGINS = (0.1, 0.3, 0.5)


def parse_variant(text: str) -> dict[str, Any]:
    """`"rollouts=16,simulations=12"` -> `{"rollouts": 16, "simulations": 12}` (values read as in `--set`)."""
    try:
        return parse_sets([part.strip() for part in text.split(",") if part.strip()])
    except ValueError:
        raise SystemExit(f"bad variant {text!r}: write key=value pairs separated by commas, e.g. rollouts=16") from None


def measure(overrides: dict[str, Any], games: int) -> dict[str, Any]:
    """Search the first `games` train games with the practice search defaults plus `overrides`; score the data."""
    import torch

    torch.set_num_threads(1)
    from practicum.agents.critic import critic_for
    from practicum.agents.default import default_policy
    from practicum.envs.registry import get_suite
    from practicum.loop.config import PracticeConfig
    from practicum.search.mcts import search_episode
    from practicum.trainer.mining import EpisodeInfo

    defaults = PracticeConfig()
    search = dataclasses.replace(defaults.search, **overrides)
    data = defaults.train.data
    policy = default_policy()
    critic = critic_for(policy)
    suite = get_suite(SUITE)
    started = time.monotonic()
    episodes = []
    for i, task in enumerate(suite.tasks("train", limit=games)):
        env = suite.env()
        try:
            tree = search_episode(env, policy, critic, dataclasses.replace(search, seed=task.seed), task=task)
        finally:
            env.close()
        failure = None if tree.success else (tree.failure_kind.value if tree.failure_kind else "agent")
        info = EpisodeInfo(id=i, task=task.key, policy_id=None, success=tree.success, failure_kind=failure)
        episodes.append((info, tree))
    seconds = time.monotonic() - started
    return {
        "search": {k: getattr(search, k) for k in ("simulations", "k", "max_depth", "rollouts", "rollout_depth")},
        "games": len(episodes),
        "train_wins": sum(info.success for info, _ in episodes),
        "seconds": round(seconds, 1),
        "model_seconds": round(sum(tree.model_seconds for _, tree in episodes), 1),
        **score(episodes, data),
    }


def score(episodes: list[tuple[Any, Any]], data: Any) -> dict[str, Any]:
    """The mined RFT examples and step pairs of `episodes`, scored by the exact move values."""
    from practicum.trainer.mining import rft_examples, step_pairs

    scored = []
    for info, tree in episodes:
        mined_rft = rft_examples(
            info, tree.nodes, include_failed=data.include_failed_steps, good_value=data.good_step_value
        )
        scored += [m for m in (move_scored(ex.prompt, ex.completion) for ex in mined_rft) if m is not None]
    share, regret = optimal_and_regret(scored)
    pairs: dict[str, Any] = {}
    for margin in MARGINS:
        # All pairs, and those with a side whose value is exact: a terminal node (the game ended there).
        gaps: list[float] = []
        terminal_gaps: list[float] = []
        for info, tree in episodes:
            mined = step_pairs(
                info,
                tree.nodes,
                margin=margin,
                max_per_node=data.max_pairs_per_node,
                min_visits=data.min_visits,
                by=data.pair_value,
            )
            for pair in mined:
                gap = pair_gap(str(pair.prompt), pair.chosen.action, pair.rejected.action)
                if gap is None:
                    continue
                gaps.append(gap)
                if tree.nodes[pair.chosen.idx].is_terminal or tree.nodes[pair.rejected.idx].is_terminal:
                    terminal_gaps.append(gap)
        pairs[f"margin_{margin:g}"] = {**_shares(gaps), "terminal_side": _shares(terminal_gaps)}
    return {"rft": {"examples": len(scored), "optimal_share": share, "mean_regret": regret}, "step_pairs": pairs}


def _shares(gaps: list[float]) -> dict[str, Any]:
    if not gaps:
        return {"pairs": 0, "right": None, "tied": None, "wrong": None}
    return {"pairs": len(gaps), **gap_shares(gaps)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=24, help="train games searched per variant")
    parser.add_argument("--variants", nargs="+", default=["rollouts=1", "rollouts=16"], help="key=value,... each")
    parser.add_argument("--parallel", type=int, default=2, help="variants measured at once (one process each)")
    args = parser.parse_args(argv)
    variants = {name: parse_variant(name) for name in args.variants}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes=max(1, min(args.parallel, len(variants)))) as pool:
        jobs = {name: pool.apply_async(measure, (overrides, args.games)) for name, overrides in variants.items()}
        results = {name: job.get() for name, job in jobs.items()}
    out = {
        "suite": SUITE,
        "games": args.games,
        "variants": results,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "parallel": args.parallel},
        "measured": time.strftime("%Y-%m-%d"),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
