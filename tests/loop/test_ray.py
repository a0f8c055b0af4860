"""Collection on a real local Ray cluster with two actors writing to a real PostgreSQL server.

The test starts Ray's head node on 127.0.0.1 itself (`ray start --head`) and stops it afterwards; the counts and
outcomes must match one process playing the same jobs with the same seeds into SQLite.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from practicum.agents.config import CriticConfig, PolicyConfig
from practicum.envs.registry import get_suite
from practicum.errors import ConfigError
from practicum.loop.episodes import EpisodeRunner, Job, RunnerSpec
from practicum.loop.executors import play_all
from practicum.search.config import SearchConfig
from practicum.store import open_store
from practicum.store.models import Episode
from practicum.trainer.evaluate import PolicyHandle
from practicum.trainer.rounds import register_base_policy

pytestmark = [pytest.mark.ray, pytest.mark.postgres, pytest.mark.slow]
SEARCH = SearchConfig(simulations=3, k=3, max_depth=2, rollout_depth=2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A one-node Ray cluster on 127.0.0.1 with 2 CPUs; its address."""
    ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent))
    if ray_bin is None:
        pytest.skip("Ray is not installed (pip install 'practicum[ray]')")
    port = _free_port()
    temp = tmp_path_factory.mktemp("ray")
    start = [
        ray_bin, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
        "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory=100000000",
        f"--temp-dir={temp}",
    ]  # fmt: skip
    subprocess.run(start, check=True, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        import ray

        ray.shutdown()
        subprocess.run([ray_bin, "stop", "--force"], capture_output=True, timeout=120)


def run_jobs(model_dir: Path, url: str, **play: object) -> list[tuple[str, str, int, int]]:
    with open_store(url) as store:
        run = store.create_run(config={}, seeds={})
        policy = register_base_policy(store, model_dir, run_id=run)
    spec = RunnerSpec(url, run, "tictactoe", PolicyConfig(model=str(model_dir)), CriticConfig(), SEARCH, 0)
    ref = PolicyHandle(policy, str(model_dir))
    jobs = [Job(f"collect/{t.key}", ref, t, "search") for t in get_suite("tictactoe").tasks("train", limit=4)]
    runner = EpisodeRunner(spec)
    try:
        played = play_all(jobs, runner, **play)  # type: ignore[arg-type]
    finally:
        runner.close()
    assert [p.uid for p in played] == [j.uid for j in jobs]
    with open_store(url) as store, store.session() as s:
        rows = s.execute(select(Episode.uid, Episode.outcome, Episode.steps, Episode.node_count)).all()
    return sorted((str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows)


def test_two_ray_actors_writing_to_postgres_match_one_process(
    tiny_model_dir: Path, tmp_path: Path, ray_cluster: str, postgres_url: str
) -> None:
    alone = run_jobs(tiny_model_dir, f"sqlite:///{tmp_path / 'one.db'}")
    on_ray = run_jobs(tiny_model_dir, postgres_url, workers=2, ray_address=ray_cluster)
    assert on_ray == alone and len(alone) == 4


def test_an_address_with_no_cluster_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    import ray

    ray.shutdown()
    with pytest.raises(ConfigError, match="cannot join the Ray cluster"):
        run_jobs(tiny_model_dir, f"sqlite:///{tmp_path / 'x.db'}", workers=2, ray_address=f"127.0.0.1:{_free_port()}")
