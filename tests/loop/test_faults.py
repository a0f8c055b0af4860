"""Faults: a worker process killed mid-episode is replaced and its episode played again; Ctrl-C stops a command
with exit code 130 and, for practice, a resume command that works as printed."""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from practicum.agents.config import CriticConfig, PolicyConfig
from practicum.envs.registry import get_suite
from practicum.loop.episodes import EpisodeRunner, Job, RunnerSpec
from practicum.loop.executors import play_all
from practicum.search.config import SearchConfig
from practicum.store import open_store
from practicum.store.models import Episode, Lease, NodeRow
from practicum.trainer.evaluate import PolicyHandle
from practicum.trainer.rounds import register_base_policy

SEARCH = SearchConfig(simulations=4, k=3, max_depth=2, rollout_depth=3)


def setup(model_dir: Path, url: str) -> tuple[EpisodeRunner, list[Job]]:
    with open_store(url) as store:
        run = store.create_run(config={}, seeds={})
        policy = register_base_policy(store, model_dir, run_id=run)
    spec = RunnerSpec(url, run, "tictactoe", PolicyConfig(model=str(model_dir)), CriticConfig(), SEARCH, 0)
    suite = get_suite("tictactoe")
    ref = PolicyHandle(policy, str(model_dir))
    jobs = [Job(f"collect/{t.key}", ref, t, "search") for t in suite.tasks("train", limit=4)]
    return EpisodeRunner(spec), jobs


def outcomes(url: str) -> list[tuple[str, str, int, int, int]]:
    with open_store(url) as store, store.session() as s:
        rows = s.execute(select(Episode.uid, Episode.outcome, Episode.steps, Episode.node_count, Episode.id)).all()
        whole = {
            r[4]: s.scalar(select(func.count()).where(NodeRow.episode_id == r[4])) == r[3] for r in rows
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


# ------------------------------------------------------------------------------------------------ Ctrl-C
def command(*args: str) -> list[str]:
    """`practicum ARGS` as this interpreter runs it, in a child process."""
    return [sys.executable, "-m", "practicum.cli", *args]


def child_env() -> dict[str, str]:
    # Wide lines: the resume command must come out on one line, as a user would copy it.
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "250", "PYTHONPATH": str(Path(__file__).parents[2])}


def episodes_written(db: Path) -> int:
    """A read-only count for polling while the child writes (0 until its store exists)."""
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
            return int(con.execute("SELECT COUNT(*) FROM episodes").fetchone()[0])
    except sqlite3.Error:
        return 0


def runs(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return [(int(i), str(s)) for i, s in con.execute("SELECT id, status FROM runs ORDER BY id")]


@pytest.mark.slow
def test_ctrl_c_stops_practice_with_code_130_and_the_printed_resume_command_finishes_the_run(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        f"policy: {{model: '{tiny_model_dir}'}}\nrecipe: none\niterations: 1\ntrain_tasks: 2\n"
        "validation_tasks: 1\ntest_tasks: 6\npass_k: 0\nwarmup: {states: 0}\n"
        "search: {simulations: 2, k: 2, max_depth: 2, rollout_depth: 2}\n"
    )
    # The store as the README names it: relative to the folder the command runs in.
    proc = subprocess.Popen(
        command("practice", "--config", str(config), "--db", "sqlite:///k9.db"),
        cwd=tmp_path,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 300
        while episodes_written(tmp_path / "k9.db") == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)  # Ctrl-C once the loop is playing: stop after the current episode
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    printed = re.search(r"Resume with: (practicum practice --resume 1 --db sqlite:///k9\.db)$", out, re.MULTILINE)
    assert printed, out
    assert runs(tmp_path / "k9.db") == [(1, "interrupted")]
    played = episodes_written(tmp_path / "k9.db")

    resumed = subprocess.run(
        command(*shlex.split(printed.group(1))[1:]), cwd=tmp_path, env=child_env(), capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "pass only --resume" not in resumed.stderr
    assert runs(tmp_path / "k9.db") == [(1, "finished")]  # the same run, not a new one
    assert episodes_written(tmp_path / "k9.db") > played


@pytest.mark.slow
def test_ctrl_c_stops_run_with_code_130_and_one_line_saying_nothing_is_kept(tiny_model_dir: Path) -> None:
    # Search with a budget no test waits for: the episode is still being played when Ctrl-C comes.
    args = ["run", "--env", "frozenlake-4x4", "--policy", str(tiny_model_dir), "--search", "--simulations", "100000"]
    ready = "import sys; from practicum.cli import main; print('ready', flush=True); sys.exit(main(sys.argv[1:]))"
    # Ctrl-C as a terminal delivers it: the child starts with SIGINT at its default, whatever the test runner's
    # process was left with (a child that inherits SIGINT ignored never raises KeyboardInterrupt).
    proc = subprocess.Popen(
        [sys.executable, "-c", ready, *args],
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(2.0)  # into the model load or the episode: both are inside the command
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert err.strip() == "interrupted; the episode was not finished and `practicum run` keeps nothing to resume"
