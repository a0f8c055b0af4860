"""Collection on a Ray cluster: one actor per worker, each with its own environment, browser and model.

`play_on_ray` hands jobs to actors one at a time (whoever is free takes the next), so a slow episode does
not hold up the others. Each actor writes its episodes to the shared store itself (PostgreSQL by URL across
machines) under the same leases and uids as local workers, so results match a single process with the same
seeds. An actor that dies (its node lost, OOM-killed) is replaced and its episode played again from the start.
Ray is imported only here: without `--ray-address` it is neither needed nor loaded.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from practicum.errors import ConfigError
from practicum.loop.episodes import EpisodeRunner, Job, Played, RunnerSpec, WorkersFailed

log = logging.getLogger(__name__)
ACTOR_RESTARTS = 3


@dataclass(frozen=True)
class RayActors:
    """The executor (`practicum.loop.executors`) that plays a phase's jobs on `workers` actors at `address`."""

    workers: int
    address: str

    def play(
        self,
        jobs: Sequence[Job],
        runner: EpisodeRunner,
        *,
        should_stop: Callable[[], bool],
        on_done: Callable[[Played], None],
    ) -> None:
        """Play `jobs` on the cluster, each actor with a runner built from `runner.spec`."""
        play_on_ray(
            jobs, runner.spec, workers=self.workers, address=self.address, should_stop=should_stop, on_done=on_done
        )


class _Worker:
    """The actor: an `EpisodeRunner` that lives as long as the actor does."""

    def __init__(self, spec: RunnerSpec) -> None:
        self.runner = EpisodeRunner(spec)

    def play(self, job: Job) -> Played:
        return self.runner.play_when_free(job)

    def close(self) -> None:
        self.runner.close()


def connect(address: str) -> ModuleType:
    """Join the Ray cluster at `address` ("auto" or HOST:PORT); a clear error when there is none."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray-address needs Ray: pip install 'practicum[ray]' (or pip install ray)") from None
    if not ray.is_initialized():
        _check_reachable(address)  # ray.init would retry an unreachable address for minutes
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"cannot join the Ray cluster at {address!r}: {str(exc).splitlines()[0]}; start one with "
                "`ray start --head` or pass its HOST:PORT"
            ) from None
    return ray


def _check_reachable(address: str) -> None:
    """A quick TCP connect to HOST:PORT, so that a wrong address fails in seconds with a clear message."""
    if address == "auto" or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"--ray-address must be 'auto' or HOST:PORT (e.g. 10.0.0.5:6379); got {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot join the Ray cluster at {address!r}: nothing answers there ({exc.strerror or exc}); start one "
            "with `ray start --head` or pass its HOST:PORT"
        ) from None


def play_on_ray(
    jobs: Sequence[Job],
    spec: RunnerSpec,
    *,
    workers: int,
    address: str,
    should_stop: Callable[[], bool] = lambda: False,
    on_done: Callable[[Played], None] = lambda played: None,
) -> list[Played]:
    """Play `jobs` on `workers` Ray actors; results as they finish (the caller orders them)."""
    ray = connect(address)
    actor_class = ray.remote(num_cpus=1, max_restarts=0)(_Worker)
    actors = [actor_class.remote(spec) for _ in range(workers)]
    queue = list(jobs)
    running: dict[Any, tuple[Any, Job]] = {}
    idle = list(actors)
    done: list[Played] = []
    restarts = 0
    try:
        while queue or running:
            while queue and idle and not should_stop():
                actor, job = idle.pop(), queue.pop(0)
                running[actor.play.remote(job)] = (actor, job)
            if not running:
                break  # stop requested: the rest play when the run resumes
            [ref], _ = ray.wait(list(running), num_returns=1)
            actor, job = running.pop(ref)
            try:
                played = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                restarts += 1
                if restarts > ACTOR_RESTARTS * workers:
                    raise WorkersFailed(
                        f"Ray workers died {restarts} times ({str(exc).splitlines()[0]}); resume the run when the "
                        "cluster is healthy"
                    ) from None
                log.warning("a Ray worker died during %s; replacing it and playing the episode again", job.uid)
                queue.insert(0, job)
                idle.append(actor_class.remote(spec))
                continue
            done.append(played)
            on_done(played)
            idle.append(actor)
    finally:
        for actor in actors + idle:
            try:
                ray.kill(actor)
            except Exception:  # already gone
                continue
    return done
