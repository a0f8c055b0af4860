"""Faults during collection: a worker process killed mid-episode is replaced and its episode played again."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from practicum.agents.config import CriticConfig, PolicyConfig
from practicum.envs.registry import get_suite
from practicum.loop.episodes import EpisodeRunner, Job, PolicyRef, RunnerSpec, play_all
from practicum.search.config import SearchConfig
from practicum.store import open_store
from practicum.store.models import Episode, Lease, Node
from practicum.trainer.rounds import register_base_policy

SEARCH = SearchConfig(simulations=4, k=3, max_depth=2, rollout_depth=3)


def setup(model_dir: Path, url: str) -> tuple[EpisodeRunner, list[Job]]:
    with open_store(url) as store:
        run = store.create_run(config={}, seeds={})
        policy = register_base_policy(store, model_dir, run_id=run)
    spec = RunnerSpec(url, run, "tictactoe", PolicyConfig(model=str(model_dir)), CriticConfig(), SEARCH, 0)
    suite = get_suite("tictactoe")
    ref = PolicyRef(policy, str(model_dir))
    jobs = [Job(f"collect/{t.key}", ref, t, "search") for t in suite.tasks("train", limit=4)]
    return EpisodeRunner(spec), jobs


def outcomes(url: str) -> list[tuple[str, str, int, int, int]]:
    with open_store(url) as store, store.session() as s:
        rows = s.execute(select(Episode.uid, Episode.outcome, Episode.steps, Episode.node_count, Episode.id)).all()
        whole = {
            r[4]: s.scalar(select(func.count()).where(Node.episode_id == r[4])) == r[3] for r in rows
        }  # no half-written tree
        assert all(whole.values())
        return sorted((str(r[0]), str(r[1]), int(r[2]), int(r[3]), 0) for r in rows)


@pytest.mark.slow
def test_a_worker_killed_mid_episode_is_replaced_and_the_episode_played_again(
    tiny_model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reference_url = f"sqlite:///{tmp_path / 'one.db'}"
    runner, jobs = setup(tiny_model_dir, reference_url)
    try:
        play_all(jobs, runner)
    finally:
        runner.close()

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    runner, jobs = setup(tiny_model_dir, url)
    killed: list[int] = []
    done = threading.Event()

    def kill_first_worker_that_claims() -> None:
        with open_store(url) as store:
            while not done.is_set() and not killed:
                with store.session() as s:
                    holders = s.scalars(select(Lease.holder)).all()
                for holder in holders:
                    pid = int(holder.split(":")[1])
                    if pid != os.getpid():
                        os.kill(pid, signal.SIGKILL)  # mid-episode: it holds the lease, its write is not done
                        killed.append(pid)
                        break
                done.wait(0.01)

    watcher = threading.Thread(target=kill_first_worker_that_claims)
    watcher.start()
    try:
        with caplog.at_level(logging.WARNING, logger="practicum.loop.episodes"):
            played = play_all(jobs, runner, workers=2)
    finally:
        done.set()
        watcher.join()
        runner.close()
    assert killed, "the watcher never saw a worker's lease"
    assert "a collection worker died" in caplog.text
    assert [p.uid for p in played] == [j.uid for j in jobs]  # every episode, in order
    assert outcomes(url) == outcomes(reference_url)  # each once, whole, as one process plays them
