"""Any gymnasium environment as a practicum text environment.

Give a gymnasium env id (or a constructor), a renderer `(env, obs) -> text` and names for the actions, and
`GymTextEnv` does the rest: the observation is the goal, the rendered state and the numbered legal action
names; the model's text is matched against those names and mapped to the gymnasium action; anything else is
recorded as an invalid action and the episode goes on. `gym_suite` turns the same ingredients into a
registered suite with train, validation and test seeds (`suite_file.py` does the same from a YAML file).

What is legal may change with the state, and the env may say so itself: the names in `info["legal_actions"]`
(a text game's commands, passed to the env as they are unless `actions` names them), or an
`info["action_mask"]` over a `Discrete` space with names. A `legal_actions=` function overrides both.

Snapshots copy the gymnasium env's own attributes (all of them, or the ones named in `state_attrs`) with its
random generator, so a restored episode continues exactly as the original would have, stochastic
transitions included. An env whose state cannot be pickled (it holds a generator, a file, a C handle) says so
once in the log and search replays the action prefix from `reset` instead.

What the env prints from Python while it resets or steps is swallowed, so it cannot interleave with the CLI's
own output; with `quiet` (the default for suite files) so is what a C library prints (`quiet_output`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
import os
import pickle
import random
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from practicum.envs.core import FailureKind, Outcome, Split, Task, TextEnv
from practicum.envs.games.tasks import DEFAULT_SPLITS, game_suite
from practicum.envs.registry import Suite
from practicum.errors import ConfigError, EnvError, SnapshotUnsupportedError

log = logging.getLogger(__name__)

Renderer = Callable[[Any, Any], str]
"""`render(env, obs) -> text`: the unwrapped gymnasium env and its latest observation, as text for the model."""

LegalActions = Callable[[Any, Any], Sequence[str]]
"""`legal(env, obs) -> names`: the action names allowed now (a subset of the names, in their order)."""

Playout = Callable[[Any, Any, Sequence[str], random.Random], str | None]
"""`playout(env, obs, legal, rng) -> name | None`: a rollout move by rule of thumb (`TextEnv.playout_action`)."""


@dataclass(frozen=True)
class GymStep:
    """One gymnasium transition, as a judge sees it."""

    env: Any  # the unwrapped gymnasium env, after the step
    action: str
    obs: Any
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any] = field(default_factory=dict)
    episode_return: float = 0.0  # the sum of the env's rewards so far in the episode, this step's included


Judge = Callable[[GymStep], Outcome]
"""`judge(step) -> Outcome`: turns a gymnasium transition into practicum's reward, success and end."""


def judge_by_reward(step: GymStep) -> Outcome:
    """The toy-text convention: an episode that terminates with a positive reward is a success (reward 1).

    Termination without reward is a failure (reward 0); the gymnasium env's own truncation ends the episode
    as an agent failure (out of time).
    """
    if step.terminated:
        success = step.reward > 0
        return Outcome(reward=1.0 if success else 0.0, terminated=True, success=success)
    if step.truncated:
        return Outcome(terminated=True, failure=FailureKind.AGENT, error="the game's own time limit ran out")
    return Outcome()


@dataclass(frozen=True)
class SuccessRule:
    """How an episode judged by its return succeeds; exactly one field is set.

    `reward_at_least`: the episode's return (the sum of the env's rewards) reaches this when the game ends.
    `terminated_with_positive_reward`: the game terminates with a positive last reward (the toy-text rule).
    `info_true`: the env's `info[key]` is true when the game ends (TextWorld's "won").
    """

    reward_at_least: float | None = None
    terminated_with_positive_reward: bool = False
    info_true: str | None = None

    def __post_init__(self) -> None:
        given = (self.reward_at_least is not None) + self.terminated_with_positive_reward + (self.info_true is not None)
        if given != 1:
            raise ConfigError(
                "a success rule needs exactly one of reward_at_least, terminated_with_positive_reward, info_true; "
                "e.g. success: {reward_at_least: 1.0}"
            )

    def holds(self, step: GymStep) -> bool:
        """Whether the episode that ended with `step` succeeded."""
        if self.reward_at_least is not None:
            return step.episode_return >= self.reward_at_least
        if self.info_true is not None:
            return bool(step.info.get(self.info_true))
        return step.terminated and step.reward > 0


def judge_by_return(rule: SuccessRule) -> Judge:
    """A judge that keeps the env's own rewards, every step's (an episode's return is their sum), and decides
    success by `rule` when the game ends (terminated, or truncated by the game's own time limit)."""

    def judge(step: GymStep) -> Outcome:
        if not (step.terminated or step.truncated):
            return Outcome(reward=step.reward)
        success = rule.holds(step)
        error = "the game's own time limit ran out" if step.truncated and not step.terminated else None
        return Outcome(reward=step.reward, terminated=True, success=success, error=None if success else error)

    return judge


# A snapshot: the env's constructor arguments, its attributes pickled apart from the env object, and this
# wrapper's last observation, legality info and return (pickled).
GymState = tuple[dict[str, Any], bytes, bytes]


class GymTextEnv(TextEnv[str, GymState]):
    """A gymnasium env with a text renderer and named actions.

    Tasks may carry in `params`: `reset_seed` (the gymnasium reset seed; default: the task seed),
    `make_kwargs` (constructor arguments, e.g. a FrozenLake map or a game file; the env is rebuilt when they
    change) and `reset_options`.
    """

    def __init__(
        self,
        env_id: str | Callable[..., gym.Env[Any, Any]],
        *,
        render: Renderer,
        actions: Sequence[str] | Mapping[str, Any] | None = None,
        legal_actions: LegalActions | None = None,
        judge: Judge = judge_by_reward,
        on_reset: Callable[[Any, Task, Any], Any] | None = None,
        state_attrs: Sequence[str] | None = None,
        make_kwargs: Mapping[str, Any] | None = None,
        suite: str | None = None,
        goal: str = "Finish the game successfully.",
        task_factory: Callable[[int], Task] | None = None,
        max_steps: int = 100,
        observation_is_state: bool = False,
        quiet: bool = False,
        playout: Playout | None = None,
    ) -> None:
        """Wrap `env_id` (a registered id such as "FrozenLake-v1", or a callable returning a gymnasium env).

        `actions` names the gymnasium actions: a sequence of names for a `Discrete` space (name i is action
        i), or a mapping from name to action value for any space; None names a `Discrete(n)` space "0".."n-1"
        and leaves a `Text` action space to the names the env lists in `info["legal_actions"]`.
        `legal_actions(env, obs)` lists the names allowed now; without it the env's `info["legal_actions"]`
        or `info["action_mask"]` decide, else every name is legal.
        `on_reset(env, task, obs) -> obs` may adjust the env after each reset (e.g. a start cell).
        `state_attrs` lists the env attributes that make up its state (faster snapshots, and the way to leave
        out a member that cannot be pickled); None copies them all.
        Without `task_factory`, seed s is the task "`goal`, gymnasium reset seed s" in the train split.
        `observation_is_state`: the renderer's text holds the whole state (see `TextEnv.observation_is_state`).
        What the env prints from Python while it resets and steps is swallowed; `quiet` swallows what a C
        library prints too (file descriptors 1 and 2: process-wide while a step runs, so it is off by default and
        on for suite files, whose envs may wrap C code).
        `playout(env, obs, legal, rng)` gives search's heuristic rollouts their move (`TextEnv.playout_action`):
        one of `legal`, or None for a uniformly random one.
        """
        name = suite or f"gym:{env_id if isinstance(env_id, str) else getattr(env_id, '__name__', 'env')}"
        super().__init__(suite=name, task_factory=task_factory or _plain_tasks(name, goal), max_steps=max_steps)
        self._env_id = env_id
        self.observation_is_state = observation_is_state
        self._render_fn = render
        self._legal_fn = legal_actions
        self._playout_fn = playout
        self._judge = judge
        self._on_reset = on_reset
        self._state_attrs = _with_rng(tuple(state_attrs)) if state_attrs is not None else None
        self._base_kwargs = dict(make_kwargs or {})
        self._env: Any = None
        self._env_kwargs: dict[str, Any] | None = None
        self._actions: dict[str, Any] = {}
        self._names: list[str] = []
        self._action_spec = actions
        self._obs: Any = None
        self._env_info: dict[str, Any] = {}  # the env's latest info (its own legal actions or action mask)
        self._return = 0.0  # the sum of the env's rewards in this episode
        self._quiet = quiet
        self._cannot_snapshot: str | None = None  # why the env's state could not be pickled, once it failed
        self._ensure_env(self._base_kwargs)  # fail now on a bad id or bad action names, not at the first reset

    # ----------------------------------------------------------------- hooks
    def _start(self, task: Task) -> None:
        env = self._ensure_env({**self._base_kwargs, **task.params.get("make_kwargs", {})})
        with self._quieted():
            obs, info = env.reset(
                seed=int(task.params.get("reset_seed", task.seed)), options=task.params.get("reset_options")
            )
        if self._on_reset is not None:
            obs = self._on_reset(env, task, obs)
        self._obs, self._env_info, self._return = obs, dict(info or {}), 0.0
        if self._legal_fn is None and not self._names and "legal_actions" not in self._env_info:
            raise ConfigError(
                f"{self.suite}: the env's action space {env.action_space} has no action names and its reset() info "
                "has no 'legal_actions'; list the commands allowed now in info['legal_actions'] (every reset and "
                "step), or pass actions as a mapping from name to action value"
            )

    def _render(self) -> str:
        return self._render_fn(self._env, self._obs)

    def _legal_actions(self) -> list[str]:
        if self._legal_fn is not None:
            return list(self._legal_fn(self._env, self._obs))
        listed = self._env_info.get("legal_actions")
        if listed is not None:  # the env's own list, in its order (a text game's commands)
            return [str(a) for a in listed]
        mask = self._env_info.get("action_mask")
        if mask is not None and len(mask) == len(self._names):
            return [name for name, allowed in zip(self._names, mask, strict=True) if allowed]
        return list(self._names)

    def playout_action(self, rng: random.Random) -> str | None:
        """The suite's playout rule (`playout`) for search's heuristic rollouts; None without one."""
        if self._playout_fn is None or self._progress is None or self._progress.done:
            return None
        return self._playout_fn(self._env, self._obs, self._legal_actions(), rng)

    def _apply(self, action: str) -> Outcome:
        listed = self._env_info.get("legal_actions", ()) if self._legal_fn is None else ()
        if action in self._actions:
            value = self._actions[action]
        elif any(str(a) == action for a in listed):
            value = next(a for a in listed if str(a) == action)  # a command the env listed: it gets it back as given
        else:  # a bug in a `legal_actions` function, not bad model output
            raise ConfigError(f"legal_actions listed {action!r}, which is not an action name; names: {self._names}")
        with self._quieted():
            obs, reward, terminated, truncated, info = self._env.step(value)
        self._obs, self._env_info = obs, dict(info or {})
        self._return += float(reward)
        step = GymStep(self._env, action, obs, float(reward), bool(terminated), bool(truncated), info, self._return)
        return self._judge(step)

    def _get_state(self) -> GymState:
        env = self._env
        names = self._state_attrs if self._state_attrs is not None else tuple(vars(env))
        payload = {n: getattr(env, n) for n in names}
        # What legality depends on (the env's own list or mask); the rest of `info` need not pickle.
        listed = {k: self._env_info[k] for k in ("legal_actions", "action_mask") if k in self._env_info}
        try:
            blob = _dumps_detached(payload, env)
            extra = pickle.dumps((self._obs, listed, self._return), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
            self._snapshot_failed(names, payload, exc)
        return (dict(self._env_kwargs or {}), blob, extra)

    def _set_state(self, state: GymState) -> None:
        kwargs, blob, extra = state
        env = self._ensure_env(kwargs)
        for name, value in _loads_attached(blob, env).items():
            setattr(env, name, value)
        self._obs, self._env_info, self._return = pickle.loads(extra)

    @property
    def supports_snapshot(self) -> bool:
        """True until the env's state turned out not to pickle; search then replays instead."""
        return self._cannot_snapshot is None

    def _snapshot_failed(self, names: tuple[str, ...], payload: dict[str, Any], exc: Exception) -> NoReturn:
        culprits = [n for n in names if not _picklable(payload[n], self._env)]
        what = f"attribute(s) {culprits}" if culprits else "state"
        example = [n for n in names if n not in culprits and not n.startswith("_")][:3] or ["..."]
        self._cannot_snapshot = (
            f"suite {self.suite!r}: the env's {what} cannot be copied ({type(exc).__name__}: {exc}); search replays "
            "the action prefix from reset instead, which is slower. To snapshot, list the attributes that make "
            f"up the game's state in state_attrs (e.g. state_attrs: [{', '.join(example)}])"
        )
        if self.suite not in _WARNED:
            _WARNED.add(self.suite)
            log.warning(self._cannot_snapshot)
        raise SnapshotUnsupportedError(self._cannot_snapshot) from exc

    def _quieted(self) -> contextlib.AbstractContextManager[None]:
        # Python's prints are always swallowed; the descriptors only when asked, as that is process-wide.
        return quiet_output() if self._quiet else quiet_stdout()

    def reseed_chance(self, seed: int) -> bool:
        """The wrapped env's generator (a slippery lake's slides) draws from `seed` from now on."""
        if self._env is None:
            return False
        self._env.unwrapped.np_random = np.random.default_rng(seed)
        return True

    # ----------------------------------------------------------------- public
    @property
    def gym_env(self) -> gym.Env[Any, Any] | None:
        """The unwrapped gymnasium env being driven (for oracles and tests; do not step it directly)."""
        return self._env

    @property
    def action_names(self) -> list[str]:
        """Every action name, in the gymnasium action order."""
        return list(self._names)

    def close(self) -> None:
        """Close the gymnasium env."""
        if self._env is not None:
            self._env.close()
            self._env = None
            self._env_kwargs = None
        super().close()

    # ----------------------------------------------------------------- helpers
    def _ensure_env(self, kwargs: dict[str, Any]) -> gym.Env[Any, Any]:
        if self._env is not None and kwargs == self._env_kwargs:
            return self._env
        if self._env is not None:
            self._env.close()
        self._env = _make(self._env_id, kwargs)
        self._env_kwargs = dict(kwargs)
        self._actions = _action_table(self._action_spec, self._env.action_space)
        self._names = list(self._actions)
        return self._env


def gym_suite(
    name: str,
    env_id: str | Callable[..., gym.Env[Any, Any]],
    *,
    render: Renderer,
    goal: str,
    actions: Sequence[str] | Mapping[str, Any] | None = None,
    legal_actions: LegalActions | None = None,
    judge: Judge | None = None,
    description: str = "",
    splits: dict[Split, range] | None = None,
    max_steps: int = 100,
    make_kwargs: Mapping[str, Any] | None = None,
    state_attrs: Sequence[str] | None = None,
    quiet: bool = False,
) -> Suite:
    """Register a suite for a gymnasium env: seed s is the task "`goal`, gymnasium reset seed s".

    Train, validation and test seeds come from `splits` (default: train 0..99999, validation 200000..200999,
    test 100000..100999). Without `judge`, every step's reward is kept (the return is their sum) and an episode
    that terminates with a positive last reward succeeds (`judge_by_return`).
    """
    if judge is None:
        judge = judge_by_return(SuccessRule(terminated_with_positive_reward=True))

    def build_task(seed: int, split: Split) -> Task:
        return Task(suite=name, seed=seed, split=split, goal=goal, params={"reset_seed": seed})

    def make_env(make_task: Callable[[int], Task]) -> Callable[..., TextEnv]:
        def factory(**kwargs: Any) -> TextEnv:
            options: dict[str, Any] = {
                "render": render,
                "actions": actions,
                "legal_actions": legal_actions,
                "judge": judge,
                "make_kwargs": make_kwargs,
                "state_attrs": state_attrs,
                "max_steps": max_steps,
                "quiet": quiet,
            }
            options.update(kwargs)
            return GymTextEnv(env_id, suite=name, task_factory=make_task, **options)

        return factory

    return game_suite(name, description or f"{env_id} as text", build_task, make_env, splits or DEFAULT_SPLITS)


def _plain_tasks(suite: str, goal: str) -> Callable[[int], Task]:
    def make_task(seed: int) -> Task:
        return Task(suite=suite, seed=seed, split="train", goal=goal, params={"reset_seed": seed})

    return make_task


def _make(env_id: str | Callable[..., gym.Env[Any, Any]], kwargs: dict[str, Any]) -> gym.Env[Any, Any]:
    """Build the gymnasium env without gymnasium's wrappers: practicum counts steps and checks the API itself."""
    if isinstance(env_id, str):
        try:
            return gym.make(env_id, **kwargs).unwrapped
        except gym.error.Error as exc:  # unknown id, bad version, missing dependency
            raise ConfigError(f"cannot make gymnasium env {env_id!r}: {exc}") from exc
    try:
        return env_id(**kwargs).unwrapped
    except Exception as exc:  # a factory that cannot build with these arguments: the user's to fix
        name = getattr(env_id, "__qualname__", repr(env_id))
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(
            f"{name}(**{kwargs!r}) failed: {type(exc).__name__}: {first}; check the env's arguments"
        ) from exc


def _action_table(spec: Sequence[str] | Mapping[str, Any] | None, space: Any) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        table = dict(spec)
    elif isinstance(space, spaces.Discrete):
        n, start = int(space.n), int(space.start)
        names = [str(i) for i in range(n)] if spec is None else list(spec)
        if len(names) != n:
            raise ConfigError(
                f"{len(names)} action names given for a Discrete({n}) action space; name each action once"
            )
        table = {name: start + i for i, name in enumerate(names)}
    elif isinstance(space, spaces.Text):
        return {}  # a text game: the env lists its commands in info["legal_actions"]
    else:
        raise ConfigError(
            f"the action space {space} is not Discrete: pass actions as a mapping from name to action value "
            "(a text game: give it a gymnasium Text action space and list its commands in info['legal_actions'])"
        )
    if len({n.strip().lower() for n in table}) != len(table) or any(not n.strip() for n in table):
        raise ConfigError(f"action names must be non-empty and distinct ignoring case, got {list(table)}")
    return table


def _with_rng(attrs: tuple[str, ...]) -> tuple[str, ...]:
    # The random generator is state too: without it a restored slippery lake would slide differently.
    return attrs if "_np_random" in attrs else (*attrs, "_np_random")


class _DetachingPickler(pickle.Pickler):
    """Pickles env attributes, writing references back to the env itself as a token (BabyAI's verifier keeps
    one), so that a snapshot holds the state, not a second copy of the whole env."""

    def __init__(self, file: io.BytesIO, env: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._env = env

    def persistent_id(self, obj: Any) -> Any:
        return "env" if obj is self._env else None


class _AttachingUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, env: Any) -> None:
        super().__init__(file)
        self._env = env

    def persistent_load(self, pid: Any) -> Any:
        if pid != "env":
            raise EnvError(f"corrupt game snapshot (unknown reference {pid!r})")
        return self._env


def _dumps_detached(payload: dict[str, Any], env: Any) -> bytes:
    buf = io.BytesIO()
    _DetachingPickler(buf, env).dump(payload)
    return buf.getvalue()


def _loads_attached(blob: bytes, env: Any) -> dict[str, Any]:
    result: dict[str, Any] = _AttachingUnpickler(io.BytesIO(blob), env).load()
    return result


def _picklable(value: Any, env: Any) -> bool:
    try:
        _dumps_detached({"value": value}, env)
    except Exception:
        return False
    return True


_WARNED: set[str] = set()  # suites whose env already said it cannot snapshot (once per process)
_devnull_fd: int | None = None


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Swallow what the wrapped Python code prints to `sys.stdout`."""
    # Some gymnasium envs print while generating levels (BabyAI prints every rejected sample); that would
    # interleave with the CLI's progress output.
    with contextlib.redirect_stdout(io.StringIO()):
        yield


@contextlib.contextmanager
def quiet_output() -> Iterator[None]:
    """Swallow what the wrapped code prints, from Python or from a C library (file descriptors 1 and 2).

    The descriptors are the process's: for the moment the block runs, another thread's output is lost too.
    Where the descriptors cannot be redirected (no fd 1, a sandbox), only Python's `sys.stdout` is.
    """
    global _devnull_fd
    with quiet_stdout():
        saved: list[tuple[int, int]] = []
        try:
            if _devnull_fd is None:
                _devnull_fd = os.open(os.devnull, os.O_WRONLY)
            for stream, fd in ((sys.__stdout__, 1), (sys.__stderr__, 2)):
                if stream is not None:
                    stream.flush()  # what was printed before the block still goes out
                saved.append((fd, os.dup(fd)))
                os.dup2(_devnull_fd, fd)
        except (OSError, ValueError):
            pass  # no such descriptor (or a closed stream): what Python prints is still swallowed
        try:
            yield
        finally:
            if saved:
                _flush_c_stdio()  # C's buffered output goes to /dev/null now, not to the terminal later
            for fd, copy in reversed(saved):
                os.dup2(copy, fd)
                os.close(copy)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None  # not a POSIX system


def _flush_c_stdio() -> None:
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError):
            libc.fflush(None)
