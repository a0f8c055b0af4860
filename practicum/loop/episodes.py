"""Playing episodes for the loop: one policy on one task, greedy or with search, written to the store once.

Every episode the loop plays has a uid (run, phase, policy, task). Before playing, the runner looks the uid up:
an episode that is already in the store is returned as it was recorded, never played or written twice. That
is what makes a killed run resumable without losing or duplicating an episode.

A runner may play beside others (`practicum.loop.executors` spreads a phase over processes or Ray actors):
each builds its own environment and loads its own model, and writes its episodes to the store itself, holding a
lease on the uid it plays (`practicum.store.leases`); a runner that dies mid-episode leaves nothing of it in the
store, and the episode is played again from the start with the same seed.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import select

from practicum.agents.base import Critic, Policy
from practicum.agents.config import CriticConfig, PolicyConfig, load_critic, load_policy
from practicum.envs.core import Task, TextEnv
from practicum.envs.registry import get_suite
from practicum.envs.task_files import load_task_files
from practicum.errors import PracticumError
from practicum.loop.convert import episode_record
from practicum.search.config import SearchConfig
from practicum.search.mcts import search_episode
from practicum.search.tree import EpisodeTree
from practicum.store import Store, leases, open_store
from practicum.store.models import Episode
from practicum.trainer.evaluate import PolicyHandle

Mode = Literal["search", "greedy", "sample"]


class EpisodeBusy(Exception):
    """Another live worker holds the lease on this episode's uid (it is being played elsewhere)."""


class WorkersFailed(PracticumError):
    """Collection workers kept dying; the episodes they did write are kept, the rest play on resume."""


@dataclass(frozen=True)
class Job:
    """One episode to play."""

    uid: str
    policy: PolicyHandle
    task: Task
    mode: Mode


@dataclass(frozen=True)
class Played:
    """What the loop needs to know about a finished episode (a fresh one or one found in the store)."""

    uid: str
    task: str
    episode_id: int
    success: bool
    reward: float
    failure_kind: str | None
    steps: int
    nodes: int
    solved_anywhere: bool  # some node of the tree reached success (search found the goal at least once)
    distinct_actions_per_node: float  # mean distinct expanded actions under each expanded inner node
    fresh: bool  # played now (False: found in the store)


@dataclass(frozen=True)
class RunnerSpec:
    """Everything a worker process needs to build its own runner."""

    store_url: str
    run_id: int
    suite: str
    policy: PolicyConfig
    critic: CriticConfig
    search: SearchConfig
    seed: int
    max_steps: int | None = None
    task_files: tuple[str, ...] = ()
    lease_ttl_s: float = leases.DEFAULT_TTL_S
    sample_temperature: float = 1.0  # for jobs in mode "sample"


class Players:
    """Live policies and critics by policy id, loaded from their checkpoints on first use.

    Only the most recently used policy stays loaded: the loop plays one policy at a time, and a second copy of
    a model is memory the trainer needs.
    """

    def __init__(self, base: PolicyConfig, critic: CriticConfig) -> None:
        self.base = base
        self.critic_config = critic
        self._current: tuple[int, Policy, Critic | None] | None = None

    def get(self, ref: PolicyHandle, *, with_critic: bool) -> tuple[Policy, Critic | None]:
        """The policy for `ref` (and its critic when asked), loading it if it is not the current one."""
        if self._current is None or self._current[0] != ref.id:
            self.close()
            config = self.base if ref.checkpoint_path is None else replace(self.base, model=ref.checkpoint_path)
            self._current = (ref.id, load_policy(config), None)
        policy_id, policy, critic = self._current
        if with_critic and critic is None:
            critic = load_critic(self.critic_config, policy)
            self._current = (policy_id, policy, critic)
        return policy, critic

    def close(self) -> None:
        """Release the loaded model."""
        if self._current is not None:
            self._current[1].close()
            self._current = None


class EpisodeRunner:
    """Plays jobs on one suite and writes each finished episode with its tree in one transaction."""

    def __init__(self, spec: RunnerSpec, *, store: Store | None = None) -> None:
        self.spec = spec
        load_task_files(spec.task_files)  # a worker process registers the user's suites itself
        self.store = store or open_store(spec.store_url)
        self._owns_store = store is None
        self.players = Players(spec.policy, spec.critic)
        self._env: TextEnv | None = None
        self.holder = leases.holder_id()

    @property
    def env(self) -> TextEnv:
        """The suite's environment, created on first use and reused across episodes."""
        if self._env is None:
            kwargs = {} if self.spec.max_steps is None else {"max_steps": self.spec.max_steps}
            self._env = get_suite(self.spec.suite).env(**kwargs)
        return self._env

    def play(self, job: Job) -> Played:
        """Play `job` unless its episode is already stored; either way return its outcome.

        Raises `EpisodeBusy` while another live worker holds the episode's lease.
        """
        found = stored_episode(self.store, job.uid)
        if found is not None:
            return found
        ttl = self.spec.lease_ttl_s
        if not leases.claim(self.store, job.uid, self.holder, ttl_s=ttl):
            raise EpisodeBusy(job.uid)
        try:
            found = stored_episode(self.store, job.uid)  # written by the last holder just before we claimed
            if found is not None:
                return found
            with leases.Heartbeat(self.store, job.uid, self.holder, ttl_s=ttl):
                return self._play_and_write(job)
        finally:
            leases.release(self.store, job.uid, self.holder)

    def play_when_free(self, job: Job, *, poll_s: float = 1.0) -> Played:
        """`play`, waiting while another worker holds the episode (it is then returned as that one wrote it)."""
        while True:
            try:
                return self.play(job)
            except EpisodeBusy:
                time.sleep(poll_s)

    def _play_and_write(self, job: Job) -> Played:
        seed = episode_seed(self.spec.seed, job.uid)
        temperature = self.spec.sample_temperature if job.mode == "sample" else self.spec.search.temperature
        config = replace(self.spec.search, seed=seed, mode=job.mode, temperature=temperature)
        # A critic search does not read (alpha 1, values from rollouts) would cost a model pass per node for
        # nothing: it is loaded only where its scores count.
        policy, critic = self.players.get(job.policy, with_critic=config.consults_critic)
        tree = search_episode(self.env, policy, critic, config, task=job.task, seed=job.task.seed)
        record = episode_record(
            tree,
            run_id=self.spec.run_id,
            task=job.task,
            policy_id=job.policy.id,
            uid=job.uid,
            info=exploration_stats(tree),
        )
        episode_id = self.store.write_episode(record)
        return _played(job.uid, job.task.key, episode_id, tree, fresh=True)

    def close(self) -> None:
        """Close the environment, the model and (if this runner opened it) the store."""
        if self._env is not None:
            self._env.close()
            self._env = None
        self.players.close()
        if self._owns_store:
            self.store.close()


def stored_episode(store: Store, uid: str) -> Played | None:
    """The outcome of the episode stored under `uid`, or None if there is none yet."""
    with store.session() as s:
        row = s.scalars(select(Episode).where(Episode.uid == uid)).first()
        if row is None:
            return None
        info = row.info or {}
        return Played(
            uid=uid,
            task=row.task.key,
            episode_id=row.id,
            success=row.outcome == "success",
            reward=row.reward,
            failure_kind=row.failure_kind,
            steps=row.steps,
            nodes=row.node_count,
            solved_anywhere=bool(info.get("solved_anywhere", row.outcome == "success")),
            distinct_actions_per_node=float(info.get("distinct_actions_per_node", 0.0)),
            fresh=False,
        )


def episode_seed(run_seed: int, uid: str) -> int:
    """A per-episode seed that depends only on the run's seed and the episode's uid."""
    return zlib.crc32(f"{run_seed}/{uid}".encode()) & 0x7FFFFFFF


def exploration_stats(tree: EpisodeTree) -> dict[str, Any]:
    """Whether search reached the goal anywhere in the tree, and how many distinct actions it tried per node."""
    solved = any(n.success for n in tree.nodes)
    inner = [n for n in tree.nodes if n.expanded and n.children]
    per_node = [len({tree.nodes[c].action for c in n.children if tree.nodes[c].expanded}) for n in inner]
    return {
        "solved_anywhere": solved,
        "distinct_actions_per_node": sum(per_node) / len(per_node) if per_node else 0.0,
    }


def _played(uid: str, task: str, episode_id: int, tree: EpisodeTree, *, fresh: bool) -> Played:
    stats = exploration_stats(tree)
    return Played(
        uid=uid,
        task=task,
        episode_id=episode_id,
        success=tree.success,
        reward=tree.reward,
        failure_kind=None if tree.success else (tree.failure_kind.value if tree.failure_kind else "agent"),
        steps=tree.steps,
        nodes=len(tree.nodes),
        solved_anywhere=stats["solved_anywhere"],
        distinct_actions_per_node=stats["distinct_actions_per_node"],
        fresh=fresh,
    )
