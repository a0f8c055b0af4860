"""Collection throughput with 1 and 2 workers, as local processes and as Ray actors, side by side in one run.

For each suite the same episodes (same uids, so the same seeds) are played four ways into a fresh SQLite store
each: 1 local process, 2 local processes, 1 Ray actor, 2 Ray actors (a one-node Ray cluster this script starts
on 127.0.0.1 and stops). Episodes per minute count the wall time of `play_all` (worker start-up and model loading
included, as a practice iteration pays them); the per-episode time inside the workers is reported beside it,
so start-up and contention show separately. Torch runs one thread per worker, so two workers can use two cores.

- game: tic-tac-toe, searched with the default practice search settings;
- shop: the built-in shop in Chromium, greedy episodes of at most 8 steps (searching the shop is ~100 s an episode).

    .venv/bin/python benchmarks/scale_bench.py [--episodes 8] [--suites game shop]
    # writes benchmarks/results/scale.json: game.local_2_vs_1, game.ray_2_vs_1, shop.local_2_vs_1, shop.ray_2_vs_1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # one torch thread per worker process

RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
SUITES = {"game": ("tictactoe", "search", None), "shop": ("shop", "greedy", 8)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=8, help="episodes per configuration")
    parser.add_argument("--suites", nargs="+", choices=sorted(SUITES), default=["game", "shop"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="practicum-scale-"))
    address = start_ray(work)
    results: dict[str, Any] = {}
    try:
        for key in args.suites:
            rates = {}
            for name, workers, ray in (
                ("local_1", 1, None),
                ("local_2", 2, None),
                ("ray_1", 1, address),
                ("ray_2", 2, address),
            ):
                rates[name] = measure(key, workers, ray, args.episodes, work / f"{key}-{name}.db")
                print(key, name, json.dumps(rates[name]), flush=True)
            results[key] = {
                "suite": SUITES[key][0],
                "mode": SUITES[key][1],
                "local_2_vs_1": round(rates["local_2"]["episodes_per_min"] / rates["local_1"]["episodes_per_min"], 2),
                "ray_2_vs_1": round(rates["ray_2"]["episodes_per_min"] / rates["ray_1"]["episodes_per_min"], 2),
                "rates": rates,
            }
    finally:
        stop_ray()
        shutil.rmtree(work, ignore_errors=True)
    out = {
        **{f"{k}.{r}": v[r] for k, v in results.items() for r in ("local_2_vs_1", "ray_2_vs_1")},
        **results,
        "episodes_per_configuration": args.episodes,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_average_end": os.getloadavg()[0]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if "." in k}, indent=2))
    return 0


def measure(key: str, workers: int, ray_address: str | None, episodes: int, db: Path) -> dict[str, Any]:
    """Play `episodes` episodes of the suite with `workers` workers; rates and where the time went."""
    from practicum.agents.config import CriticConfig, PolicyConfig
    from practicum.agents.default import default_model_dir
    from practicum.envs.registry import get_suite
    from practicum.loop.config import PracticeConfig
    from practicum.loop.episodes import EpisodeRunner, Job, RunnerSpec
    from practicum.loop.executors import play_all
    from practicum.store import open_store
    from practicum.trainer.evaluate import PolicyHandle
    from practicum.trainer.rounds import register_base_policy

    suite_name, mode, max_steps = SUITES[key]
    url = f"sqlite:///{db}"
    model_dir = default_model_dir()
    with open_store(url) as store:
        run = store.create_run(config={}, seeds={})
        policy = register_base_policy(store, model_dir, run_id=run)
    spec = RunnerSpec(
        url, run, suite_name, PolicyConfig(model=str(model_dir)), CriticConfig(), PracticeConfig().search, 0, max_steps
    )
    ref = PolicyHandle(policy, str(model_dir))
    jobs = [Job(f"scale/{t.key}", ref, t, mode) for t in get_suite(suite_name).tasks("train", limit=episodes)]  # type: ignore[arg-type]
    runner = EpisodeRunner(spec)
    started = time.perf_counter()
    try:
        played = play_all(jobs, runner, workers=workers, ray_address=ray_address)
    finally:
        runner.close()
    wall = time.perf_counter() - started
    with open_store(url) as store, store.session() as s:
        from sqlalchemy import func, select

        from practicum.store.models import Episode

        inside = float(s.scalar(select(func.sum(Episode.wall_seconds))) or 0.0)
        model = float(s.scalar(select(func.sum(Episode.model_seconds))) or 0.0)
    return {
        "workers": workers,
        "backend": "ray" if ray_address else "local",
        "episodes": len(played),
        "wall_s": round(wall, 1),
        "episodes_per_min": round(60 * len(played) / wall, 2),
        "episode_seconds_sum": round(inside, 1),
        "model_seconds_sum": round(model, 1),
        "startup_and_overhead_s": round(wall - inside / workers, 1),
    }


def start_ray(work: Path) -> str:
    """A one-node Ray cluster on 127.0.0.1 with two CPUs; its address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
    subprocess.run(
        [ray, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory=100000000",
         f"--temp-dir={work / 'ray'}"],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    return f"127.0.0.1:{port}"


def stop_ray() -> None:
    """Leave the cluster and stop it."""
    try:
        import ray

        ray.shutdown()
    finally:
        ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, timeout=180)


if __name__ == "__main__":
    raise SystemExit(main())
