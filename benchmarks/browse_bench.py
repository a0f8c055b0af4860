"""Browse speed: page and tree-endpoint times of `practicum browse` over a store of 10^6 nodes.

Builds (or reuses, with `--store PATH`) a SQLite store of ~10^6 nodes through `Store.write_episode` (the
store's bulk tree writer) with the same synthetic episodes as `store_bench.py` (50 nodes of ~1 KB text each,
with their step pairs), plus one large episode whose tree has `--large-tree` nodes. Then it starts
`practicum.browse.serve` in a subprocess on 127.0.0.1 and times real HTTP GETs (keep-alive client):

- `browse_episode_ms_1e6`: the episode page (`/episodes/<id>`) of random 50-node episodes (median; p95 too);
- `browse_tree_children_ms_1e6`: the tree endpoint (`/api/episodes/<id>/tree?parent=<idx>`) for random
  inner nodes of those episodes;
- `browse_episode_ms_large_tree` / `browse_tree_children_ms_large_tree`: the same for the large episode;
- `browse_episodes_list_ms_1e6`: a filtered, deep page of the run's episode list;
- `browse_run_page_ms_1e6`: the run page (summary, iterations, curves).

Target (set here, not by the issue): a median episode page under 200 ms and a tree level under 50 ms at 10^6
nodes. Results are merged into `benchmarks/results/store.json` (other keys kept). `--quick` uses 10^5 nodes and
writes nothing unless `--out` is given.

    .venv/bin/python benchmarks/browse_bench.py [--quick] [--store PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run from a checkout without installing; store_bench.py (its synthetic episodes) sits beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select
from store_bench import NODES_PER_EPISODE, synthetic_episode

from practicum.store import EpisodeRecord, NodeRecord, PairRecord, TaskRecord, open_store
from practicum.store.models import Episode, NodeRow, Run

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "store.json"
RUN_NAME = "browse-bench"
console = Console()


def large_episode(run_id: int, n_nodes: int, rng: random.Random) -> EpisodeRecord:
    """One episode whose tree has `n_nodes` nodes (branching 4), ~1 KB of text each, with its step pairs."""
    branching = 4
    nodes: list[NodeRecord] = []
    for idx in range(n_nodes):
        parent = None if idx == 0 else (idx - 1) // branching
        nodes.append(
            NodeRecord(
                idx=idx,
                parent_idx=parent,
                depth=0 if parent is None else nodes[parent].depth + 1,
                action=None if parent is None else f"click [{idx % 9}]",
                prompt="p" * 700,
                observation="o" * 250,
                prior=rng.random(),
                critic_score=rng.random(),
                critic_rationale="r" * 60,
                visits=rng.randint(0, 30),
                value=rng.random(),
                blended_value=rng.random(),
                expanded=True,
                on_path=idx == 0 or (parent is not None and nodes[parent].on_path and idx == parent * branching + 1),
            )
        )
    pairs = [
        PairRecord(
            kind="step",
            prompt="p",
            chosen="a",
            rejected="b",
            node_idx=p,
            chosen_idx=p * branching + 1,
            rejected_idx=p * branching + 2,
        )
        for p in range(n_nodes)
        if p * branching + 2 < n_nodes
    ]
    task = TaskRecord(suite="large", seed=0, split="train", goal="a large tree")
    return EpisodeRecord(
        run_id=run_id,
        task=task,
        mode="search",
        outcome="success",
        reward=1.0,
        nodes=nodes,
        pairs=pairs,
        steps=max(n.depth for n in nodes if n.on_path),
        info={"search_config": {"alpha": 0.5}},
    )


def build(path: Path, n_nodes: int, large_tree: int, progress: Progress) -> None:
    """Write ~`n_nodes` nodes of 50-node episodes plus one large episode into a new store at `path`."""
    rng = random.Random(5)
    with open_store(f"sqlite:///{path}") as store:
        run_id = store.create_run(name=RUN_NAME, config={"bench": True})
        policies = [store.register_policy(name=f"p{i}", base_model="bench", iteration=i) for i in range(3)]
        n_episodes = n_nodes // NODES_PER_EPISODE
        job = progress.add_task(f"build {n_nodes:,} nodes", total=n_episodes + 1)
        for i in range(n_episodes):
            store.write_episode(synthetic_episode(run_id, i, policies, rng))
            progress.advance(job)
            if i == n_episodes // 2:  # the large tree sits in the middle of the run, not at an end
                store.write_episode(large_episode(run_id, large_tree, rng))
                progress.advance(job)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _timed(client: httpx.Client, urls: list[str]) -> list[float]:
    times = []
    for url in urls:
        start = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
        times.append(elapsed)
    return times


def _p95(times: list[float]) -> float:
    return sorted(times)[max(0, int(0.95 * len(times)) - 1)]


def measure(path: Path, label: str, samples: int, progress: Progress) -> dict[str, Any]:
    """Serve the store from a subprocess and time the pages; returns the results."""
    with open_store(f"sqlite:///{path}") as store, store.session() as s:
        run_id = s.scalar(select(Run.id).where(Run.name == RUN_NAME))
        if run_id is None:
            raise RuntimeError(f"{path} has no run named {RUN_NAME!r}; build it with this script")
        episodes = list(s.scalars(select(Episode.id).where(Episode.run_id == run_id, Episode.node_count <= 100)))
        large = s.execute(
            select(Episode.id, Episode.node_count).where(Episode.run_id == run_id).order_by(Episode.node_count.desc())
        ).first()
        total_nodes = int(s.scalar(select(func.count()).select_from(NodeRow)) or 0)
    if large is None:
        raise RuntimeError("the store has no episodes")
    large_id, large_nodes = int(large[0]), int(large[1])
    rng = random.Random(11)
    sample = rng.sample(episodes, min(samples, len(episodes)))
    # Inner nodes of the 50-node trees (branching 3): 0..16 have children.
    children_urls = [f"/api/episodes/{e}/tree?parent={rng.randint(0, 16)}" for e in sample]
    large_children = [f"/api/episodes/{large_id}/tree?parent={rng.randint(0, large_nodes // 4 - 1)}" for _ in range(50)]

    port = _free_port()
    code = f"from practicum.browse import serve; serve({f'sqlite:///{path}'!r}, '127.0.0.1', {port}, False)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    results: dict[str, Any] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    client.get("/")
                    break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        detail = server.stderr.read() if server.stderr else ""
                        raise RuntimeError(f"the browse server did not start: {detail}") from None
                    time.sleep(0.2)
            job = progress.add_task(f"time pages ({label})", total=6)
            # Warm-up: templates compiled, connections pooled, as for any page after the first.
            _timed(client, [f"/episodes/{sample[0]}", children_urls[0], f"/runs/{run_id}"])
            progress.advance(job)
            run_page = _timed(client, [f"/runs/{run_id}"] * 10)
            progress.advance(job)
            list_url = f"/runs/{run_id}/episodes?split=test&outcome=failure&per_page=50&page=10"
            list_page = _timed(client, [list_url] * 20)
            progress.advance(job)
            episode_page = _timed(client, [f"/episodes/{e}" for e in sample])
            progress.advance(job)
            children = _timed(client, children_urls)
            progress.advance(job)
            large_page = _timed(client, [f"/episodes/{large_id}"] * 10)
            large_level = _timed(client, large_children)
            progress.advance(job)
    finally:
        server.terminate()
        server.wait(timeout=30)
    results.update(
        {
            f"browse_episode_ms_{label}": statistics.median(episode_page),
            f"browse_episode_p95_ms_{label}": _p95(episode_page),
            f"browse_tree_children_ms_{label}": statistics.median(children),
            f"browse_tree_children_p95_ms_{label}": _p95(children),
            f"browse_episodes_list_ms_{label}": statistics.median(list_page),
            f"browse_run_page_ms_{label}": statistics.median(run_page),
            "browse_episode_ms_large_tree": statistics.median(large_page),
            "browse_tree_children_ms_large_tree": statistics.median(large_level),
            "browse_large_tree_nodes": large_nodes,
            f"browse_store_nodes_{label}": total_nodes,
            "browse_samples": len(sample),
        }
    )
    return results


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the store, time the pages, print and merge the results; returns the exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10^5 nodes; no results file unless --out")
    parser.add_argument("--store", type=Path, default=None, help="store file to reuse (built there if missing)")
    parser.add_argument("--large-tree", type=int, default=20_000, help="nodes in the one large episode")
    parser.add_argument("--samples", type=int, default=200, help="episodes to time")
    parser.add_argument("--out", type=Path, default=None, help=f"results file to merge into (default {RESULTS})")
    args = parser.parse_args(argv)

    n_nodes, label = (100_000, "1e5") if args.quick else (1_000_000, "1e6")
    out: Path | None = args.out if args.out is not None else (None if args.quick else RESULTS)
    workdir = None
    if args.store is None:
        workdir = Path(tempfile.mkdtemp(prefix="practicum-browse-bench-"))
        path = workdir / "store.db"
    else:
        path = args.store.resolve()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console) as progress:
            if not path.exists():
                build(path, n_nodes, args.large_tree, progress)
            results = measure(path, label, args.samples, progress)
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    results["browse_measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")

    table = Table(title="browse benchmark")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in results.items():
        table.add_row(key, f"{value:,.2f}" if isinstance(value, float) else str(value))
    console.print(table)
    target = results[f"browse_episode_ms_{label}"] < 200 and results[f"browse_tree_children_ms_{label}"] < 50
    console.print(
        f"[{'green' if target else 'red'}]{'PASS' if target else 'FAIL'}[/] episode page < 200 ms, tree level < 50 ms"
    )
    if out is not None:
        merged: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
        merged.update({k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()})
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(merged, indent=2) + "\n")
        console.print(f"merged into {out}")
    return 0 if target else 1


if __name__ == "__main__":
    sys.exit(main())
