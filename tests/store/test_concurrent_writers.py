"""Several processes writing one store at once lose no row, and kill -9 mid-write never leaves half an episode."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select, text

from practicum.store import open_store, queries
from practicum.store.models import Episode, NodeRow, Pair
from tests.store.factories import make_episode, make_task, write_episodes_worker

REPO = Path(__file__).resolve().parents[2]


def test_four_processes_writing_one_store_lose_no_row(store_url: str) -> None:
    workers, per_worker, n_nodes = 4, 15, 40
    with open_store(store_url) as store:
        run_id = store.create_run(name="concurrent")
    ctx = multiprocessing.get_context("spawn")
    processes = [
        ctx.Process(target=write_episodes_worker, args=(store_url, run_id, w, per_worker, n_nodes, 3))
        for w in range(workers)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * workers

    with open_store(store_url) as store:
        counts = store.info().counts
        with store.session() as s:
            per_episode = set(
                s.execute(select(func.count()).select_from(NodeRow).group_by(NodeRow.episode_id)).scalars()
            )
            uids = set(s.scalars(select(Episode.uid)))
    assert counts["episodes"] == workers * per_worker
    assert counts["nodes"] == workers * per_worker * n_nodes
    assert per_episode == {n_nodes}
    assert uids == {f"w{w}-e{i}" for w in range(workers) for i in range(per_worker)}
    assert counts["tasks"] == 3  # the same three tasks, inserted once despite the races


def test_threads_of_one_process_share_a_store(store_url: str) -> None:
    with open_store(store_url) as store:
        run_id = store.create_run(name="threads")
        errors: list[BaseException] = []

        def work(t: int) -> None:
            try:
                for i in range(5):
                    store.write_episode(make_episode(run_id, task=make_task(seed=i), uid=f"t{t}-{i}"))
                    with store.session() as s:
                        assert queries.count_episodes(s, run_id) >= i + 1
            except BaseException as e:  # collected and re-raised in the main thread
                errors.append(e)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.info().counts["episodes"] == 20


def test_kill_9_mid_write_never_leaves_half_an_episode(store_url: str) -> None:
    n_nodes = 300  # ~1 KB per node: each write takes long enough to be caught in the middle
    with open_store(store_url) as store:
        run_id = store.create_run(name="killed")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    kills = 0
    for delay in (0.013, 0.031, 0.057):
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.store.factories", store_url, str(run_id), str(n_nodes)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "1"  # at least one episode committed
        time.sleep(delay)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        kills += writer.returncode == -signal.SIGKILL

    assert kills == 3
    with open_store(store_url) as store:
        with store.session() as s:
            episodes = s.execute(select(Episode.id, Episode.node_count, Episode.pair_count)).all()
            nodes = dict(s.execute(select(NodeRow.episode_id, func.count()).group_by(NodeRow.episode_id)).all())
            pairs = dict(s.execute(select(Pair.episode_id, func.count()).group_by(Pair.episode_id)).all())
            if store.engine.dialect.name == "sqlite":
                assert s.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                assert s.execute(text("PRAGMA foreign_key_check")).all() == []
        # Every episode that exists is whole; no nodes or pairs without their episode.
        assert len(episodes) >= 3
        assert all(node_count == n_nodes == nodes[eid] for eid, node_count, _ in episodes)
        assert all(pairs[eid] == pair_count for eid, _, pair_count in episodes)
        assert set(nodes) == set(pairs) == {eid for eid, _, _ in episodes}
        # And the store still takes writes after the crashes.
        store.write_episode(make_episode(run_id))
