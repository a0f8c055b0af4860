"""Any gymnasium environment as a practicum text environment.

Give a gymnasium env id (or a constructor), a renderer `(env, obs) -> text` and names for the actions, and
`GymTextEnv` does the rest: the observation is the goal, the rendered state and the numbered legal action
names; the model's text is matched against those names and mapped to the gymnasium action; anything else is
recorded as an invalid action and the episode goes on. `gym_suite` turns the same ingredients into a
registered suite with train, validation and test seeds.

Snapshots copy the gymnasium env's own attributes (all of them, or the ones named in `state_attrs`) with its
random generator, so a restored episode continues exactly as the original would have, stochastic
transitions included.
"""

from __future__ import annotations

import contextlib
import io
import pickle
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from practicum.envs.core import FailureKind, Outcome, Split, Task, TextEnv
from practicum.envs.games.tasks import DEFAULT_SPLITS, game_suite
from practicum.envs.registry import Suite
from practicum.errors import ConfigError, EnvError

Renderer = Callable[[Any, Any], str]
"""`render(env, obs) -> text`: the unwrapped gymnasium env and its latest observation, as text for the model."""

LegalActions = Callable[[Any, Any], Sequence[str]]
"""`legal(env, obs) -> names`: the action names allowed now (a subset of the names, in their order)."""


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


class GymTextEnv(TextEnv):
    """A gymnasium env with a text renderer and named actions.

    Tasks may carry in `params`: `reset_seed` (the gymnasium reset seed; default: the task seed),
    `make_kwargs` (constructor arguments, e.g. a FrozenLake map; the env is rebuilt when they change) and
    `reset_options`.
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
    ) -> None:
        """Wrap `env_id` (a registered id such as "FrozenLake-v1", or a callable returning a gymnasium env).

        `actions` names the gymnasium actions: a sequence of names for a `Discrete` space (name i is action
        i), or a mapping from name to action value for any space; None names a `Discrete(n)` space "0".."n-1".
        `on_reset(env, task, obs) -> obs` may adjust the env after each reset (e.g. a start cell).
        `state_attrs` lists the env attributes that make up its state (faster snapshots); None copies them all.
        Without `task_factory`, seed s is the task "`goal`, gymnasium reset seed s" in the train split.
        `observation_is_state`: the renderer's text holds the whole state (see `TextEnv.observation_is_state`).
        """
        name = suite or f"gym:{env_id if isinstance(env_id, str) else getattr(env_id, '__name__', 'env')}"
        super().__init__(suite=name, task_factory=task_factory or _plain_tasks(name, goal), max_steps=max_steps)
        self._env_id = env_id
        self.observation_is_state = observation_is_state
        self._render_fn = render
        self._legal_fn = legal_actions
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
        self._ensure_env(self._base_kwargs)  # fail now on a bad id or bad action names, not at the first reset

    # ----------------------------------------------------------------- hooks
    def _start(self, task: Task) -> None:
        env = self._ensure_env({**self._base_kwargs, **task.params.get("make_kwargs", {})})
        with quiet_stdout():
            obs, _ = env.reset(
                seed=int(task.params.get("reset_seed", task.seed)), options=task.params.get("reset_options")
            )
        if self._on_reset is not None:
            obs = self._on_reset(env, task, obs)
        self._obs = obs

    def _render(self) -> str:
        return self._render_fn(self._env, self._obs)

    def _legal_actions(self) -> list[str]:
        if self._legal_fn is None:
            return list(self._names)
        return list(self._legal_fn(self._env, self._obs))

    def _apply(self, action: Any) -> Outcome:
        if action not in self._actions:  # a bug in a `legal_actions` function, not bad model output
            raise ConfigError(f"legal_actions listed {action!r}, which is not an action name; names: {self._names}")
        obs, reward, terminated, truncated, info = self._env.step(self._actions[action])
        self._obs = obs
        return self._judge(GymStep(self._env, action, obs, float(reward), bool(terminated), bool(truncated), info))

    def _get_state(self) -> Any:
        env = self._env
        names = self._state_attrs if self._state_attrs is not None else tuple(vars(env))
        payload = {n: getattr(env, n) for n in names}
        return (dict(self._env_kwargs or {}), _dumps_detached(payload, env), self._obs)

    def _set_state(self, state: Any) -> None:
        kwargs, blob, obs = state
        env = self._ensure_env(kwargs)
        for name, value in _loads_attached(blob, env).items():
            setattr(env, name, value)
        self._obs = obs

    def reseed_chance(self, seed: int) -> bool:
        """The wrapped env's generator (a slippery lake's slides) draws from `seed` from now on."""
        if self._env is None:
            return False
        self._env.unwrapped.np_random = np.random.default_rng(seed)
        return True

    # ----------------------------------------------------------------- public
    @property
    def gym_env(self) -> Any:
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
    def _ensure_env(self, kwargs: dict[str, Any]) -> Any:
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
    judge: Judge = judge_by_reward,
    description: str = "",
    splits: dict[Split, range] | None = None,
    max_steps: int = 100,
    make_kwargs: Mapping[str, Any] | None = None,
    state_attrs: Sequence[str] | None = None,
) -> Suite:
    """Register a suite for a gymnasium env: seed s is the task "`goal`, gymnasium reset seed s".

    Train, validation and test seeds come from `splits` (default: train 0..99999, validation 200000..200999,
    test 100000..100999).
    """

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
            }
            options.update(kwargs)
            return GymTextEnv(env_id, suite=name, task_factory=make_task, **options)

        return factory

    return game_suite(name, description or f"{env_id} as text", build_task, make_env, splits or DEFAULT_SPLITS)


def _plain_tasks(suite: str, goal: str) -> Callable[[int], Task]:
    def make_task(seed: int) -> Task:
        return Task(suite=suite, seed=seed, split="train", goal=goal, params={"reset_seed": seed})

    return make_task


def _make(env_id: str | Callable[..., gym.Env[Any, Any]], kwargs: dict[str, Any]) -> Any:
    """Build the gymnasium env without gymnasium's wrappers: practicum counts steps and checks the API itself."""
    if isinstance(env_id, str):
        try:
            return gym.make(env_id, **kwargs).unwrapped
        except gym.error.Error as exc:  # unknown id, bad version, missing dependency
            raise ConfigError(f"cannot make gymnasium env {env_id!r}: {exc}") from exc
    return env_id(**kwargs).unwrapped


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
    else:
        raise ConfigError(
            f"the action space {space} is not Discrete: pass actions as a mapping from name to action value"
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


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Swallow what the wrapped code prints."""
    # Some gymnasium envs print while generating levels (BabyAI prints every rejected sample); that would
    # interleave with the CLI's progress output.
    with contextlib.redirect_stdout(io.StringIO()):
        yield
