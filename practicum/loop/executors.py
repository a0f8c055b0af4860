"""How a phase's episodes are spread: in this process, over worker processes, or over Ray actors.

`play_all` returns the episodes already in the store as they were recorded and hands the rest to one
`Executor`. Every executor plays jobs with `EpisodeRunner`s (one per process or actor, each with its own
environment and model, each writing its own episodes under a lease), reports each episode as it finishes, and
starts no new one once `should_stop` turns true. A process pool whose worker died is rebuilt and the episodes
that were not written are played again from the start with the same seed (Ray replaces a dead actor likewise).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Protocol

from practicum.loop.episodes import EpisodeRunner, Job, Played, RunnerSpec, WorkersFailed, stored_episode

log = logging.getLogger(__name__)
WORKER_RESTARTS = 3  # times a phase rebuilds its pool after a worker died before giving up

OnDone = Callable[[Played], None]
ShouldStop = Callable[[], bool]


class Executor(Protocol):
    """Plays jobs that are not in the store yet, reporting each episode to `on_done` as it finishes."""

    def play(self, jobs: Sequence[Job], runner: EpisodeRunner, *, should_stop: ShouldStop, on_done: OnDone) -> None:
        """Play `jobs` (in any order); return when all are played or `should_stop` stopped new ones."""


def play_all(
    jobs: Sequence[Job],
    runner: EpisodeRunner,
    *,
    workers: int = 1,
    on_result: OnDone | None = None,
    should_stop: ShouldStop = lambda: False,
    ray_address: str | None = None,
) -> list[Played]:
    """Play every job (in this process, spread over `workers` processes, or over `workers` actors of the Ray
    cluster at `ray_address`); results in job order.

    `should_stop` is checked between episodes: when it turns true, no new episode starts and the results so
    far are returned (the caller resumes later; the uids make the rest play then).
    """
    results: dict[str, Played] = {}

    def record(played: Played) -> None:
        results[played.uid] = played
        if on_result:
            on_result(played)

    pending = []
    for job in jobs:  # stored episodes first: a resumed phase shows its progress at once
        found = stored_episode(runner.store, job.uid)
        if found is None:
            pending.append(job)
        else:
            record(found)
    if pending:
        executor_for(workers, ray_address, len(pending)).play(pending, runner, should_stop=should_stop, on_done=record)
    return [results[j.uid] for j in jobs if j.uid in results]


def executor_for(workers: int, ray_address: str | None, jobs: int) -> Executor:
    """Ray actors when a cluster address is given; else worker processes when more than one job can share them."""
    if ray_address is not None:
        from practicum.loop.ray_workers import RayActors  # Ray is imported only when asked for

        return RayActors(workers, ray_address)
    if workers <= 1 or jobs <= 1:
        return InProcess()
    return Processes(workers)


class InProcess:
    """One job after another with the caller's own runner."""

    def play(self, jobs: Sequence[Job], runner: EpisodeRunner, *, should_stop: ShouldStop, on_done: OnDone) -> None:
        """Play `jobs` in order in this process."""
        for job in jobs:
            if should_stop():
                break
            on_done(runner.play_when_free(job))


@dataclass(frozen=True)
class Processes:
    """Jobs handed out one at a time to `workers` spawned processes, each with its own runner."""

    workers: int

    def play(self, jobs: Sequence[Job], runner: EpisodeRunner, *, should_stop: ShouldStop, on_done: OnDone) -> None:
        """Play `jobs` over the pool; a dead worker's pool is rebuilt and its unfinished episodes (never
        half-written: one transaction each) are played again."""
        reported: set[str] = set()

        def report(played: Played) -> None:
            reported.add(played.uid)
            on_done(played)

        remaining = list(jobs)
        for _ in range(WORKER_RESTARTS + 1):
            try:
                _drain(remaining, runner.spec, self.workers, should_stop, report)
                return
            except BrokenProcessPool:
                for job in remaining:  # written by a worker before the pool broke, not yet reported
                    if job.uid not in reported and (found := stored_episode(runner.store, job.uid)):
                        report(found)
                remaining = [j for j in remaining if j.uid not in reported]
                log.warning("a collection worker died; %d episode(s) left, restarting the pool", len(remaining))
                if not remaining:
                    return
        raise WorkersFailed(
            f"collection workers died {WORKER_RESTARTS + 1} times; {len(remaining)} episode(s) were not played. "
            "Check memory (each worker loads its own model) or run with fewer --workers, then resume the run "
            '(a script that calls practice() must do so under `if __name__ == "__main__":`; workers import it again)'
        )


def _drain(
    jobs: Sequence[Job],
    spec: RunnerSpec,
    workers: int,
    should_stop: ShouldStop,
    on_done: OnDone,
) -> None:
    # "spawn" because forking a process that holds torch threads and a SQLite connection is unsafe.
    context = multiprocessing.get_context("spawn")
    queue = list(jobs)
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_init, initargs=(spec, worker_threads(workers))
    ) as pool:
        running: set[Future[Played]] = set()
        while queue or running:
            while queue and len(running) < workers and not should_stop():
                running.add(pool.submit(_worker_play, queue.pop(0)))
            if not running:
                break  # stop requested: the rest play when the run resumes
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                on_done(future.result())


_WORKER: EpisodeRunner | None = None


def worker_threads(workers: int, cpus: int | None = None) -> int:
    """Torch threads for each of `workers` collection processes: the machine's cores shared out, at least one.

    Each process would otherwise start one thread per core, and N processes on the same cores spin N times
    too many threads against each other."""
    return max(1, (cpus or os.cpu_count() or 1) // max(1, workers))


def _worker_init(spec: RunnerSpec, threads: int) -> None:
    global _WORKER
    import torch
    import transformers

    torch.set_num_threads(threads)
    # A spawned worker starts with the libraries' defaults: its "Loading weights" bars would cut through the
    # parent's progress display.
    transformers.utils.logging.disable_progress_bar()
    _WORKER = EpisodeRunner(spec)


def _worker_play(job: Job) -> Played:
    assert _WORKER is not None, "the pool's initializer builds the runner"
    return _WORKER.play_when_free(job)
