"""Store speed: tree writes through the store API against raw sqlite3, and read times at 10^4 and 10^6 nodes.

Synthetic episodes have trees of 50 nodes with ~1 KB of text per node (prompt, observation, rationale) and a
step pair under every node with two children. In one run, the script measures:

- `store_nodes_per_s` vs `executemany_nodes_per_s`: the same episodes written into two SQLite files with the
  same schema, through `Store.write_episode` and through plain `sqlite3` (`BEGIN IMMEDIATE`, the episode row,
  `executemany` of its node rows and pair rows, `COMMIT`: the floor), alternating in chunks so both see the
  same machine load; `write_ratio_vs_executemany` is their ratio (target >= 0.5);
- `tree_load_ms_*`: median time to load one episode's whole tree with `queries.episode_tree` (target < 20 ms);
- `run_summary_ms_*`: median time of `queries.run_summary` over the run holding all episodes (target < 200 ms)

in stores of 10^4 and 10^6 nodes (10^6 nodes is ~1 GB on disk, built in a temporary directory and deleted).
`--quick` uses 10^4 and 10^5 nodes and a smaller write comparison, and writes no results unless `--out`.

    .venv/bin/python benchmarks/store_bench.py [--quick] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from practicum.store import EpisodeRecord, NodeRecord, PairRecord, Store, TaskRecord, open_store, queries

RESULTS = Path(__file__).resolve().parent / "results" / "store.json"
NODES_PER_EPISODE = 50
BRANCHING = 3
SUITES = ("frozenlake-4x4", "taxi", "shop", "miniwob-click-test")

console = Console()


def _text(rng: random.Random, n: int) -> str:
    words = ("click", "search", "buy", "item", "price", "[3]", "move", "left", "goal", "board", "the", "red")
    out: list[str] = []
    size = 0
    while size < n:
        word = rng.choice(words)
        out.append(word)
        size += len(word) + 1
    return " ".join(out)[:n]


def synthetic_episode(run_id: int, i: int, policies: list[int], rng: random.Random) -> EpisodeRecord:
    """Episode `i`: 50 nodes of ~1 KB text each, its step pairs, spread over suites, splits and policies."""
    suite = SUITES[i % len(SUITES)]
    seed = (i // len(SUITES)) % 500
    task = TaskRecord(suite=suite, seed=seed, split="test" if seed % 5 == 0 else "train", goal=f"goal {seed}")
    nodes: list[NodeRecord] = []
    on_path = {0}
    for idx in range(NODES_PER_EPISODE):
        parent = None if idx == 0 else (idx - 1) // BRANCHING
        if parent in on_path and idx == parent * BRANCHING + 1:
            on_path.add(idx)
        nodes.append(
            NodeRecord(
                idx=idx,
                parent_idx=parent,
                depth=0 if parent is None else nodes[parent].depth + 1,
                action=None if parent is None else f"click [{idx % 9}]",
                prompt=_text(rng, 700),  # ~1 KB of text per node in all
                observation=_text(rng, 250),
                prior_logprob=-rng.random() * 4,
                prior=rng.random(),
                critic_score=rng.random(),
                critic_rationale=_text(rng, 60),
                visits=rng.randint(0, 30),
                value=rng.random(),
                blended_value=rng.random(),
                reward=0.0,
                is_terminal=idx >= 40 and idx % 5 == 0,
                expanded=True,
                on_path=idx in on_path,
            )
        )
    pairs = [
        PairRecord(
            kind="step",
            prompt=nodes[p * BRANCHING + 1].prompt or "",
            chosen=nodes[p * BRANCHING + 1].action or "",
            rejected=nodes[p * BRANCHING + 2].action or "",
            margin=0.3,
            node_idx=p,
            chosen_idx=p * BRANCHING + 1,
            rejected_idx=p * BRANCHING + 2,
        )
        for p in range(NODES_PER_EPISODE)
        if p * BRANCHING + 2 < NODES_PER_EPISODE
    ]
    success = rng.random() < 0.4
    return EpisodeRecord(
        run_id=run_id,
        task=task,
        mode="search",
        outcome="success" if success else "failure",
        failure_kind=None if success else rng.choice(("agent", "agent", "agent", "env", "infra")),
        reward=1.0 if success else 0.0,
        policy_id=policies[i % len(policies)],
        wall_seconds=rng.random() * 60,
        model_seconds=rng.random() * 40,
        prompt_tokens=rng.randint(1000, 9000),
        completion_tokens=rng.randint(50, 500),
        steps=len(on_path) - 1,
        info={"simulations": 8},
        nodes=nodes,
        pairs=pairs,
    )


# -- the raw floor -------------------------------------------------------------------------------------------

_NODE_COLUMNS = [
    "episode_id",
    "idx",
    "parent_idx",
    "depth",
    "action",
    "prompt",
    "observation",
    "prior_logprob",
    "prior",
    "critic_score",
    "critic_rationale",
    "visits",
    "value",
    "blended_value",
    "reward",
    "terminal_reward",
    "is_terminal",
    "success",
    "invalid",
    "error",
    "expanded",
    "on_path",
    "info",
]
_PAIR_COLUMNS = [
    "kind",
    "episode_id",
    "node_idx",
    "chosen_idx",
    "rejected_idx",
    "prompt",
    "chosen",
    "rejected",
    "margin",
    "created_at",
]


class RawWriter:
    """Writes the same rows with plain sqlite3 into a store file made by practicum (same schema and pragmas)."""

    def __init__(self, path: Path, run_id: int) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.run_id = run_id
        self.node_sql = f"INSERT INTO nodes ({', '.join(_NODE_COLUMNS)}) VALUES ({', '.join('?' * len(_NODE_COLUMNS))})"
        self.pair_sql = f"INSERT INTO pairs ({', '.join(_PAIR_COLUMNS)}) VALUES ({', '.join('?' * len(_PAIR_COLUMNS))})"

    def write(self, episode: EpisodeRecord) -> None:
        """One transaction: the episode row, then executemany of its nodes and of its pairs."""
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
        task = episode.task
        self.conn.execute("BEGIN IMMEDIATE")
        # The same task rows as the store: insert if absent, then look the id up.
        self.conn.execute(
            "INSERT INTO tasks (key, suite, seed, split, goal, params) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (key) DO NOTHING",
            (task.task_key, task.suite, task.seed, task.split, task.goal, json.dumps(task.params)),
        )
        task_id = self.conn.execute("SELECT id FROM tasks WHERE key = ?", (task.task_key,)).fetchone()[0]
        episode_id = self.conn.execute(
            "INSERT INTO episodes (run_id, task_id, policy_id, mode, outcome, reward, failure_kind, created_at,"
            " wall_seconds, model_seconds, prompt_tokens, completion_tokens, steps, invalid_actions, node_count,"
            " pair_count, max_depth, info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.run_id,
                task_id,
                episode.policy_id,
                episode.mode,
                episode.outcome,
                episode.reward,
                episode.failure_kind,
                now,
                episode.wall_seconds,
                episode.model_seconds,
                episode.prompt_tokens,
                episode.completion_tokens,
                episode.steps,
                episode.invalid_actions,
                len(episode.nodes),
                len(episode.pairs),
                episode.max_depth,
                json.dumps(episode.info),
            ),
        ).lastrowid
        self.conn.executemany(
            self.node_sql,
            [
                (
                    episode_id,
                    *(getattr(n, c) for c in _NODE_COLUMNS[1:-1]),
                    None if n.info is None else json.dumps(n.info),
                )
                for n in episode.nodes
            ],
        )
        self.conn.executemany(
            self.pair_sql,
            [
                (
                    p.kind,
                    episode_id,
                    p.node_idx,
                    p.chosen_idx,
                    p.rejected_idx,
                    p.prompt,
                    p.chosen,
                    p.rejected,
                    p.margin,
                    now,
                )
                for p in episode.pairs
            ],
        )
        self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


# -- measurements --------------------------------------------------------------------------------------------


def compare_writes(workdir: Path, n_episodes: int, chunk: int, progress: Progress) -> dict[str, float]:
    """Write the same episodes through the store and through raw sqlite3, alternating chunks; return rates."""
    rng = random.Random(1)
    api_store = open_store(f"sqlite:///{workdir / 'api.db'}")
    raw_store = open_store(f"sqlite:///{workdir / 'raw.db'}")
    api_run = api_store.create_run(name="bench")
    raw_run = raw_store.create_run(name="bench")
    policies = [api_store.register_policy(name=f"p{i}", base_model="bench") for i in range(2)]
    raw_store.close()
    raw = RawWriter(workdir / "raw.db", raw_run)
    for i in range(len(policies)):  # the same policy ids, so the episode rows are identical
        raw.conn.execute(
            "INSERT INTO policies (name, base_model, iteration, state, metrics, created_at) "
            f"VALUES ('p{i}', 'bench', 0, 'candidate', '{{}}', '2026-01-01')"
        )
    job = progress.add_task("write: store API vs raw executemany", total=2 * n_episodes)
    api_seconds = raw_seconds = 0.0
    written = 0
    while written < n_episodes:
        batch = [
            synthetic_episode(api_run, written + k, policies, rng) for k in range(min(chunk, n_episodes - written))
        ]
        start = time.perf_counter()
        for episode in batch:
            raw.write(episode)
        raw_seconds += time.perf_counter() - start
        progress.advance(job, len(batch))
        start = time.perf_counter()
        for episode in batch:
            api_store.write_episode(episode)
        api_seconds += time.perf_counter() - start
        progress.advance(job, len(batch))
        written += len(batch)
    raw.close()
    counts = api_store.info().counts
    api_store.close()
    nodes = n_episodes * NODES_PER_EPISODE
    if counts["nodes"] != nodes:
        raise RuntimeError(f"the store holds {counts['nodes']} nodes, expected {nodes}")
    return {
        "write_episodes": n_episodes,
        "store_nodes_per_s": nodes / api_seconds,
        "executemany_nodes_per_s": nodes / raw_seconds,
        "write_ratio_vs_executemany": raw_seconds / api_seconds,
    }


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def build_and_read(workdir: Path, n_nodes: int, label: str, progress: Progress) -> dict[str, float]:
    """Fill one run with `n_nodes` nodes through the store API, then time tree loads and the run summary."""
    n_episodes = n_nodes // NODES_PER_EPISODE
    path = workdir / f"store-{label}.db"
    rng = random.Random(2)
    store: Store = open_store(f"sqlite:///{path}")
    run_id = store.create_run(name=f"bench-{label}")
    policies = [store.register_policy(name=f"p{i}", base_model="bench") for i in range(3)]
    job = progress.add_task(f"build {label}: {n_nodes:,} nodes", total=n_episodes)
    start = time.perf_counter()
    generate_seconds = 0.0
    episode_ids = []
    for i in range(n_episodes):
        t0 = time.perf_counter()
        episode = synthetic_episode(run_id, i, policies, rng)
        generate_seconds += time.perf_counter() - t0
        episode_ids.append(store.write_episode(episode))
        progress.advance(job)
    build_seconds = time.perf_counter() - start - generate_seconds
    counts = store.info().counts
    if counts["nodes"] != n_nodes:
        raise RuntimeError(f"the store holds {counts['nodes']} nodes, expected {n_nodes}")
    store.close()

    # Read through a freshly opened store, as the browse app would.
    store = open_store(f"sqlite:///{path}")
    sample = random.Random(3).sample(episode_ids, min(200, len(episode_ids)))
    read_job = progress.add_task(f"read {label}", total=len(sample) + 20)
    tree_times = []
    with store.session() as s:
        first_summary_ms = _median_ms(lambda: queries.run_summary(s, run_id), 1)
        for episode_id in sample:
            start = time.perf_counter()
            tree = queries.episode_tree(s, episode_id)
            tree_times.append((time.perf_counter() - start) * 1000)
            if len(tree) != NODES_PER_EPISODE:
                raise RuntimeError(f"episode {episode_id} has {len(tree)} nodes")
            s.expunge_all()  # each load really reads its rows, not the identity map
            progress.advance(read_job)
        summaries = []
        for _ in range(20):
            start = time.perf_counter()
            summary = queries.run_summary(s, run_id)
            summaries.append((time.perf_counter() - start) * 1000)
            progress.advance(read_job)
        if summary.nodes != n_nodes:
            raise RuntimeError(f"the run summary counts {summary.nodes} nodes, expected {n_nodes}")
        page_ms = _median_ms(
            lambda: queries.run_episodes(s, run_id, split="test", outcome="failure", limit=50, offset=500), 20
        )
    store.close()
    size = sum(f.stat().st_size for f in workdir.glob(f"store-{label}.db*"))
    for f in workdir.glob(f"store-{label}.db*"):
        f.unlink()
    return {
        f"tree_load_ms_{label}": statistics.median(tree_times),
        f"tree_load_p95_ms_{label}": sorted(tree_times)[int(0.95 * len(tree_times)) - 1],
        f"run_summary_ms_{label}": statistics.median(summaries),
        f"run_summary_first_call_ms_{label}": first_summary_ms,
        f"episode_page_ms_{label}": page_ms,
        f"build_nodes_per_s_{label}": n_nodes / build_seconds,
        f"db_bytes_{label}": size,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table and write the results; returns the exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run: 1e4 and 1e5 nodes, no results file")
    parser.add_argument("--out", type=Path, default=None, help=f"results file (default {RESULTS} for a full run)")
    args = parser.parse_args(argv)

    sizes = {"1e4": 10_000, "1e5": 100_000} if args.quick else {"1e4": 10_000, "1e6": 1_000_000}
    compare_episodes = 200 if args.quick else 1000
    out: Path | None = args.out if args.out is not None else (None if args.quick else RESULTS)

    workdir = Path(tempfile.mkdtemp(prefix="practicum-store-bench-"))
    results: dict[str, Any] = {}
    try:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            results.update(compare_writes(workdir, compare_episodes, 50, progress))
            for label, n_nodes in sizes.items():
                results.update(build_and_read(workdir, n_nodes, label, progress))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    results.update(
        {
            "nodes_per_episode": NODES_PER_EPISODE,
            "text_bytes_per_node": 700 + 250 + 60,
            "cpu_count": os.cpu_count(),
            "sqlite_version": sqlite3.sqlite_version,
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    big = "1e5" if args.quick else "1e6"
    checks = {
        "write_ratio_vs_executemany >= 0.5": results["write_ratio_vs_executemany"] >= 0.5,
        f"tree_load_ms_{big} < 20": results[f"tree_load_ms_{big}"] < 20,
        f"run_summary_ms_{big} < 200": results[f"run_summary_ms_{big}"] < 200,
    }
    table = Table(title="store benchmark")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in results.items():
        table.add_row(key, f"{value:,.2f}" if isinstance(value, float) else str(value))
    console.print(table)
    for check, ok in checks.items():
        console.print(f"[{'green' if ok else 'red'}]{'PASS' if ok else 'FAIL'}[/] {check}")
    if out is not None:
        rounded = {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rounded, indent=2) + "\n")
        console.print(f"wrote {out}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
