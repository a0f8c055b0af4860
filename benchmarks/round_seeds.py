"""Does a round of training move greedy play, and for how many training seeds?

A practice run's curve mixes three sources of chance: which tasks search met, what it found there, and how
training fell out. This benchmark holds the data fixed and varies training alone: it copies a finished run's
store, trains the round that run would train next (its own `train` settings, its own episodes, from the policy
the run's rounds start from) once per training seed, and plays each result greedily on the run's test tasks,
beside the starting policy and the run's last policy. `--set` changes training settings (the `train` section of
the run's config, dotted keys), so that settings are compared on the same rows over the same seeds.

    .venv/bin/python benchmarks/round_seeds.py --store sqlite:///practicum.db --label defaults
    .venv/bin/python benchmarks/round_seeds.py --store sqlite:///practicum.db --label rft-3e-4 \
        --set rft.learning_rate=3e-4 --seeds 0 1 2

Results are merged into `benchmarks/results/round_seeds.json` under `[suite][label]`: the rows and pairs
trained on, per seed the test success and the training loss, their mean, and how many seeds moved greedy play
(changed the test success at all) or improved it. The store given is never written to.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(HERE))
from results_file import save_entry  # noqa: E402

from practicum.loop.config import parse_sets  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "round_seeds.json"


def seed_summary(base: float, per_seed: dict[int, float]) -> dict[str, Any]:
    """Mean test success over seeds, and how many seeds changed (or raised) it from the starting policy's."""
    values = list(per_seed.values())
    return {
        "start_success": base,
        "test_success": {str(s): v for s, v in per_seed.items()},
        "mean_success": sum(values) / len(values) if values else None,
        "seeds_moved": sum(v != base for v in values),
        "seeds_improved": sum(v > base for v in values),
        "seeds": len(values),
    }


def greedy_success(model_dir: str, tasks: list[Any], suite: Any, max_steps: int | None) -> float:
    """Share of `tasks` the model at `model_dir` solves playing greedily (as the loop's evaluation plays)."""
    from practicum.agents.local import LocalPolicy
    from practicum.search.config import SearchConfig
    from practicum.search.mcts import search_episode

    policy = LocalPolicy.load(model_dir)
    env = suite.env(**({} if max_steps is None else {"max_steps": max_steps}))
    try:
        wins = sum(
            bool(search_episode(env, policy, None, SearchConfig(mode="greedy"), task=t, seed=t.seed).success)
            for t in tasks
        )
    finally:
        env.close()
    return wins / len(tasks) if tasks else 0.0


def measure(store_url: str, run_id: int | None, seeds: list[int], sets: dict[str, Any], test_tasks: int | None) -> dict:
    """Train the run's next round once per seed on a copy of its store; play each result on the test tasks."""
    from practicum.envs.registry import get_suite
    from practicum.loop.config import config_from_dict, overlay
    from practicum.store import open_store, parse_url, queries
    from practicum.store.models import Run
    from practicum.trainer.rounds import run_round

    source = parse_url(store_url)
    if source.get_backend_name() != "sqlite" or not source.database:
        raise SystemExit("round_seeds.py copies the store before training: give an SQLite store (sqlite:///PATH)")
    with tempfile.TemporaryDirectory(prefix="round-seeds-") as tmp:
        copy = Path(tmp) / "store.db"
        with sqlite3.connect(source.database) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)  # a consistent copy, with what is still in the write-ahead log
        store = open_store(f"sqlite:///{copy}")
        with store.session() as s:
            run = s.get(Run, run_id) if run_id is not None else s.query(Run).order_by(Run.id.desc()).first()
            if run is None:
                raise SystemExit(f"no run {run_id if run_id is not None else ''} in {store_url}")
            run_id, raw = run.id, dict(run.config)
            last = queries.promoted_policy(s)
            first = queries.lineage(s, last)[-1]
            start_dir, last_dir = first.checkpoint_path, last.checkpoint_path
        config = config_from_dict(overlay(raw, {"train": sets}) if sets else raw)
        suite = get_suite(config.suite)
        tasks = suite.tasks("test", limit=test_tasks or config.test_tasks)
        t0 = time.time()
        base = greedy_success(start_dir, tasks, suite, config.max_steps)
        last_success = greedy_success(last_dir, tasks, suite, config.max_steps)
        print(f"starting policy {base:.0%}, the run's last policy {last_success:.0%} on {len(tasks)} test tasks")
        per_seed: dict[int, float] = {}
        losses: dict[str, dict[str, Any]] = {}
        rows: dict[str, int] = {}
        for seed in seeds:
            train = dataclasses.replace(config.train_config, seed=seed)  # the recipe's method, as the loop trains
            result = run_round(store, train, run_id=run_id, data_run_id=run_id, output_root=Path(tmp) / f"s{seed}")
            if result.checkpoint is None:
                raise SystemExit(f"the round did not train: {result.reason}")
            rows = {d.name: len(d) for d in result.datasets.all()} if result.datasets else {}
            losses[str(seed)] = {k: round(v, 4) for k, v in result.metrics.items() if k.endswith(("_first", "_last"))}
            per_seed[seed] = greedy_success(str(result.checkpoint), tasks, suite, config.max_steps)
            # The candidate stays a candidate: the next seed trains from the same promoted policy on the same rows.
            print(f"seed {seed}: test success {per_seed[seed]:.0%} (start {base:.0%})", flush=True)
        return {
            "suite": config.suite,
            "store": store_url,
            "run_id": run_id,
            "train": sets,
            "rows": rows,
            "test_tasks": len(tasks),
            "last_policy_success": last_success,
            **seed_summary(base, per_seed),
            "losses": losses,
            "minutes": round((time.time() - t0) / 60, 1),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="the finished run's store (sqlite:///PATH)")
    parser.add_argument("--run", type=int, default=None, help="the run (default: the newest)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", dest="sets", action="append", default=[], help="train.KEY=VALUE, dotted")
    parser.add_argument("--test-tasks", type=int, default=30)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = measure(args.store, args.run, args.seeds, parse_sets(args.sets), args.test_tasks)
    save_entry(args.out, [result["suite"], args.label], result)
    print(json.dumps({k: v for k, v in result.items() if k != "losses"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
