"""Moving one environment between the states of a search tree.

Search keeps a single live environment and needs to go back to any expanded node. Where the environment
can save its state, every expanded node keeps a snapshot and going back is one `restore()`. Otherwise the
cursor replays the node's action prefix from `reset` (or from the node the environment is at, when that is
an ancestor) and checks that every replayed observation equals the one recorded when the node was first
reached: a mismatch is a `Divergence`, which the search reports as an `env` failure, never an agent one.

Search may also let the environment draw a step's chance events from a seed of its own (`reseed_chance`):
such a step's waypoint carries that seed, and replay applies it again before the step, so a replayed state is
the one search expanded, not the one the episode's own generator would have led to.

Exceptions raised by the environment itself (a browser that died, a socket that closed) become `EnvCrash`,
reported as an `infra` failure with the error text. `PracticumError`s still propagate: they mean a misuse
or a bad configuration that the user must fix.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from practicum.envs.core import Task, TextEnv
from practicum.errors import PracticumError, SnapshotUnsupportedError

T = TypeVar("T")


class Divergence(Exception):
    """Replaying a recorded action prefix did not reproduce the recorded observation."""


class EnvCrash(Exception):
    """The environment raised while search was using it (infrastructure, not the agent)."""


@dataclass(frozen=True)
class Waypoint:
    """One step of a route from the root: the node reached, the action that reached it, its observation, and
    the seed its chance events were drawn from when search expanded it (None: the episode's own generator)."""

    idx: int
    action: str
    observation: str
    chance_seed: int | None = None


@dataclass(frozen=True)
class StepResult:
    """What one `env.step()` returned."""

    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]

    @property
    def done(self) -> bool:
        """The episode ended (terminated or truncated)."""
        return self.terminated or self.truncated


class EnvCursor:
    """A live environment plus the means to put it back at any expanded tree node."""

    def __init__(self, env: TextEnv, *, task: Task | None, seed: int | None, clock: Callable[[], float]) -> None:
        """Drive `env`; every reset uses the same `task` / `seed` so replays start from the same state."""
        self.env = env
        self._task = task
        self._seed = seed
        self._clock = clock
        self.use_snapshots = bool(env.supports_snapshot)
        self._snapshots: dict[int, bytes] = {}
        self._at: int | None = None  # the tree node the environment is exactly at, if any
        self.seconds = 0.0  # time spent inside the environment
        self.replayed_steps = 0

    # ----------------------------------------------------------------- primitives
    def reset(self) -> tuple[str, dict[str, Any]]:
        """Start the episode; the environment is then at the root (node 0)."""
        options = {"task": self._task} if self._task is not None else None
        obs, info = self._call(lambda: self.env.reset(seed=self._seed, options=options))
        self._at = None
        return obs, info

    def step(self, action: str) -> StepResult:
        """Take one action from wherever the environment is; the caller says which node that made (`mark`)."""
        obs, reward, terminated, truncated, info = self._call(lambda: self.env.step(action))
        self._at = None
        return StepResult(obs, float(reward), bool(terminated), bool(truncated), info)

    def reseed_chance(self, seed: int) -> bool:
        """Let the environment draw its coming chance events from `seed` (search's, not the episode's own);
        the next `goto` restores or replays the recorded state, generator included. Returns whether the
        environment has chance events to reseed."""
        if self._call(lambda: self.env.reseed_chance(seed)):
            self._at = None  # no longer exactly at a recorded node: its future differs
            return True
        return False

    def playout_action(self, rng: random.Random) -> str | None:
        """The environment's own rollout move from where it is now (`TextEnv.playout_action`), or None."""
        return self._call(lambda: self.env.playout_action(rng))

    def mark(self, index: int, *, keep: bool) -> None:
        """Record that the environment is now exactly at node `index`; snapshot it if `keep` and possible."""
        self._at = index
        if keep and self.use_snapshots:
            try:
                self._snapshots[index] = self._call(self.env.snapshot)
            except SnapshotUnsupportedError:
                # The class claims snapshot support but this state cannot be saved: replay from now on.
                self.use_snapshots = False
                self._snapshots.clear()

    def forget(self, index: int) -> None:
        """Drop what was recorded for node `index` (a node search decided not to keep)."""
        self._snapshots.pop(index, None)
        if self._at == index:
            self._at = None

    # ----------------------------------------------------------------- going back
    def goto(self, root_observation: str, route: Sequence[Waypoint]) -> None:
        """Put the environment at the last node of `route` (the root when `route` is empty).

        `route` lists the nodes from the root's child down to the target, with their recorded observations.
        """
        target = route[-1].idx if route else 0
        if self._at == target:
            return
        if self.use_snapshots and target in self._snapshots:
            obs, _ = self._call(lambda: self.env.restore(self._snapshots[target]))
            expected = route[-1].observation if route else root_observation
            self._check(obs, expected, target, how="restored")
            self._at = target
            return
        self._replay(root_observation, route)

    def _replay(self, root_observation: str, route: Sequence[Waypoint]) -> None:
        # Start from the deepest node of the route the environment is already at, else from reset.
        ids = [w.idx for w in route]
        if self._at is not None and self._at in ids:
            start = ids.index(self._at) + 1
        elif self._at == 0:
            start = 0
        else:
            obs, _ = self.reset()
            self._check(obs, root_observation, 0, how="replayed")
            start = 0
        for waypoint in route[start:]:
            if waypoint.chance_seed is not None:
                self.reseed_chance(waypoint.chance_seed)  # the chance search drew when it expanded this node
            result = self.step(waypoint.action)
            self.replayed_steps += 1
            self._check(result.observation, waypoint.observation, waypoint.idx, how="replayed")
        self._at = route[-1].idx if route else 0

    @staticmethod
    def _check(got: str, expected: str, index: int, *, how: str) -> None:
        if got != expected:
            at = next(
                (i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b), min(len(got), len(expected))
            )
            raise Divergence(
                f"the environment diverged at node {index}: the {how} observation differs from the recorded one "
                f"at character {at} (expected {_preview(expected[at:])}, got {_preview(got[at:])}); the "
                "environment is not deterministic under replay: give it snapshot()/restore() support or make "
                "reset(seed) and step() reproducible"
            )

    def _call(self, fn: Callable[[], T]) -> T:
        start = self._clock()
        try:
            return fn()
        except PracticumError:
            raise
        except Exception as exc:  # any crash of the environment's machinery is infrastructure
            raise EnvCrash(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self.seconds += self._clock() - start


def _preview(text: str, n: int = 80) -> str:
    flat = text.replace("\n", " | ")
    return repr(flat if len(flat) <= n else flat[:n] + "...")
