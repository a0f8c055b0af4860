"""The contract every practicum environment keeps.

A text environment is a `gymnasium.Env` whose observation is exactly the text the model sees (the goal, the
rendered page or board, the numbered legal actions and the last action's error) and whose action is text.
Bad model output never raises: an action outside `info["legal_actions"]` is recorded as invalid, the error
goes into the next observation, and the episode goes on (it still costs a step, so a looping agent runs out
of steps instead of forever).

Subclasses implement a handful of hooks (`_start`, `_render`, `_legal_actions`, `_apply`, and optionally
`_parse`, `_get_state`, `_set_state`); this base class owns the bookkeeping that must be identical
everywhere: step counting, invalid-action counting, truncation, the observation layout, the `info` keys and
snapshots.
"""

from __future__ import annotations

import enum
import pickle
import random
import string
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeAlias, TypeVar, cast

import gymnasium as gym
from gymnasium import spaces

from practicum.errors import EnvError, SnapshotUnsupportedError

#: Every suite has three disjoint splits: train tasks to practise on, validation tasks for the promotion
#: decisions, and test tasks for the reported curve, never used for a decision.
Split = Literal["train", "validation", "test"]
SPLITS: tuple[Split, ...] = ("train", "validation", "test")

#: A task parameter: begin the episode this many random legal moves away from the start (see
#: `TextEnv._walk_from_start`); train tasks only.
START_MOVES = "start_moves"

#: Shares of generated content (by hash, not by probability mass) reserved for test and for validation tasks.
TEST_SHARE = 0.1
VALIDATION_SHARE = 0.1


class FailureKind(enum.StrEnum):
    """Who is to blame for an episode that did not succeed.

    Only `agent` failures become negative training signal; `env` and `infra` failures say nothing about
    the policy.
    """

    AGENT = "agent"  # wrong or invalid actions, gave up, out of steps
    ENV = "env"  # page error, replay divergence, a task that cannot be judged
    INFRA = "infra"  # browser crash, timeout, worker death


# Observations and actions are text over one wide character set: printable ASCII, newline and tab, and the
# rest of the Basic Multilingual Plane (so "naïve" or CJK page text survives). Control characters,
# surrogates and astral-plane symbols (emoji) are replaced by `sanitize_text`. gymnasium's default Text
# charset is 62 alphanumerics, which rejects ordinary sentences.
_EXCLUDED = set(range(0xD800, 0xE000)) | set(range(0x7F, 0xA0))
TEXT_CHARSET: frozenset[str] = frozenset(
    set(string.printable) - set("\x0b\x0c\r") | {chr(c) for c in range(0xA0, 0x10000) if c not in _EXCLUDED}
)
_CHARSET_STRING = "".join(sorted(TEXT_CHARSET))
REPLACEMENT = "\ufffd"
MAX_ACTION_CHARS = 4096


def content_split(content: str) -> Split:
    """The one split a piece of generated content (a lake map, a shop request) belongs to, from a stable hash
    of its text: the lowest `TEST_SHARE` of hash values is test content, the next `VALIDATION_SHARE` validation
    content, the rest train content. A suite that draws content redraws until it lands in the task's split, so
    validation and test content is never trained on and validation content is never test content."""
    position = zlib.crc32(content.encode()) / 2**32
    if position < TEST_SHARE:
        return "test"
    return "validation" if position < TEST_SHARE + VALIDATION_SHARE else "train"


def describe_splits(splits: dict[Split, range]) -> str:
    """The seed ranges of a suite's splits in words, e.g. "train 0..99, validation none, test 100..119"."""
    ranges = {split: splits.get(split, range(0)) for split in SPLITS}
    return ", ".join(f"{s} {r.start}..{r.stop - 1}" if len(r) else f"{s} none" for s, r in ranges.items())


def sanitize_text(text: str) -> str:
    """Map `text` into `TEXT_CHARSET`: carriage returns become newlines, anything else outside becomes U+FFFD."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if all(c in TEXT_CHARSET for c in text):
        return text
    return "".join(c if c in TEXT_CHARSET else REPLACEMENT for c in text)


@dataclass(frozen=True)
class Task:
    """A goal and what is needed to judge it, deterministic from `(suite, seed)`.

    Suites subclass this (or fill `params`) with whatever their environment needs to set the task up and
    to judge success: a target product, a map, an opponent's strength. Tasks are plain data so they can be
    stored, compared and pickled.
    """

    suite: str
    seed: int
    split: Split
    goal: str
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """The task's id, unique across suites: `suite:seed`."""
        return f"{self.suite}:{self.seed}"


@dataclass(frozen=True)
class Outcome:
    """What one applied (valid) action did to the environment."""

    reward: float = 0.0
    terminated: bool = False
    success: bool = False
    failure: FailureKind | None = None
    error: str | None = None  # a problem the agent should see next turn (e.g. "that button is disabled")


@dataclass
class _Progress:
    """The bookkeeping the base class keeps per episode; part of every snapshot."""

    task: Task
    steps: int = 0
    invalid_actions: int = 0
    last_error: str | None = None
    done: bool = False
    total_reward: float = 0.0
    success: bool = False
    failure: FailureKind | None = None


ActionT = TypeVar("ActionT")  # a parsed action: what `_parse` makes of model text and `_apply` carries out
StateT = TypeVar("StateT")  # what an environment's `_get_state` returns and `_set_state` takes
# What `_parse` returns: the action and no error, or no action and the error (one line for the agent).
Parsed: TypeAlias = tuple[ActionT, None] | tuple[None, str]


class TextEnv(gym.Env[str, str], ABC, Generic[ActionT, StateT]):
    """A gymnasium environment with text observations and text actions.

    `reset(seed=s)` starts the suite's task for seed `s`; `reset(options={"task": task})` starts a given
    task. The returned `info` always holds `task`, `goal`, `legal_actions`, `steps`, `invalid_actions`,
    `invalid_action`, `last_action_error`, `success` and `failure` (a `FailureKind` value or None).
    """

    metadata = {"render_modes": ["ansi"]}  # noqa: RUF012 - gymnasium declares it a plain attribute
    max_observation_chars: ClassVar[int] = 32_768
    #: The observation alone says everything a decision needs (a board, a position and what lies around it),
    #: so the agent's prompt leaves the action history out: a history of moves in front of a small model
    #: invites it to repeat them. False (pages, partial views): the recent actions are shown.
    observation_is_state: bool = False

    def __init__(self, *, suite: str, task_factory: Any, max_steps: int = 50) -> None:
        """`task_factory(seed) -> Task` builds the suite's task for a seed; `max_steps` truncates episodes."""
        if max_steps < 1:
            raise EnvError(f"max_steps must be >= 1, got {max_steps}; pass a positive step limit")
        self.suite = suite
        self.max_steps = max_steps
        self._task_factory = task_factory
        self._progress: _Progress | None = None
        self.observation_space = spaces.Text(
            max_length=self.max_observation_chars, min_length=1, charset=_CHARSET_STRING
        )
        self.action_space = spaces.Text(max_length=MAX_ACTION_CHARS, min_length=0, charset=_CHARSET_STRING)
        self.render_mode = "ansi"

    # ----------------------------------------------------------------- hooks for subclasses
    @abstractmethod
    def _start(self, task: Task) -> None:
        """Set up the environment's own state for `task` (a fresh board, a fresh browser context...)."""

    @abstractmethod
    def _render(self) -> str:
        """The current state as text (board, page elements), without goal, actions or error."""

    @abstractmethod
    def _legal_actions(self) -> list[str]:
        """The actions allowed now, as the exact strings an agent should emit."""

    @abstractmethod
    def _apply(self, action: ActionT) -> Outcome:
        """Apply a parsed, legal action and report what happened."""

    def _parse(self, text: str) -> Parsed[ActionT]:
        """Parse model text into an action; return `(action, None)` or `(None, error message)`.

        The default matches the legal actions exactly after trimming whitespace and case; environments with
        parameterised actions (`type[3][hello]`) override this.
        """
        wanted = text.strip().lower()
        for legal in self._legal_actions():
            if legal.lower() == wanted:
                return cast(ActionT, legal), None  # the default is for environments whose actions are their names
        return None, f"invalid action {_preview(text)}: choose one of the legal actions listed"

    def _get_state(self) -> StateT:
        """The environment's own state, picklable; override to support `snapshot()`."""
        raise SnapshotUnsupportedError(
            f"{type(self).__name__} cannot snapshot its state; search replays the action prefix instead"
        )

    def _set_state(self, state: StateT) -> None:
        """Restore what `_get_state()` returned."""
        raise SnapshotUnsupportedError(f"{type(self).__name__} cannot restore a snapshot")

    # ----------------------------------------------------------------- gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start a task: `options["task"]` if given, else the suite's task for `seed` (0 when None)."""
        super().reset(seed=seed)
        task = (options or {}).get("task")
        if task is None:
            task = self._task_factory(0 if seed is None else seed)
        if not isinstance(task, Task):
            raise EnvError(f"options['task'] must be a practicum Task, got {type(task).__name__}")
        self._progress = _Progress(task=task)
        self._start(task)
        moves = task.params.get(START_MOVES, 0)
        if moves:
            self._walk_from_start(moves, random.Random(f"{task.key}/start"))
        return self._observation(), self._info(invalid=False)

    def _walk_from_start(self, moves: int, rng: random.Random) -> None:
        """Begin the episode `moves` uniformly random legal moves away from the task's start, never taking one
        that ends it (exploring starts: practice sees the states a policy reaches after its own mistakes and
        detours, not only the first steps of the one route it already favours). The walk is part of the task:
        the same task always begins in the same state, and the walk costs no steps."""
        if not self.supports_snapshot:
            raise EnvError(
                f"{type(self).__name__} cannot snapshot its state, so its tasks cannot begin away from their start; "
                f"set explore_starts to 0 for suite {self.suite!r}"
            )
        for _ in range(moves):
            candidates = list(self._legal_actions())  # a copy: an environment may hand out its own cached list
            rng.shuffle(candidates)
            for action in candidates:
                saved = self._saved_for_walk()  # _apply mutates in place
                parsed = self._parse(action)
                if parsed[1] is None and not self._apply(parsed[0]).terminated:
                    break
                self._set_state(pickle.loads(saved))
            else:
                return  # every move from here ends the episode: begin here

    def _saved_for_walk(self) -> bytes:
        try:
            return pickle.dumps(self._get_state(), protocol=pickle.HIGHEST_PROTOCOL)
        except (SnapshotUnsupportedError, pickle.PicklingError, TypeError, AttributeError) as exc:
            raise EnvError(
                f"suite {self.suite!r} cannot begin its tasks away from their start, because its state cannot be "
                f"copied ({exc}); set explore_starts to 0"
            ) from exc

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one text action; never raises for bad model output."""
        p = self._require_progress()
        if p.done:
            raise EnvError("step() called after the episode ended; call reset() to start a new one")
        p.steps += 1
        parsed = self._parse_safely(action)
        reward, terminated = 0.0, False
        if parsed[1] is not None:
            p.invalid_actions += 1
            p.last_error = parsed[1]
        else:
            outcome = self._apply(parsed[0])
            p.last_error = outcome.error
            reward, terminated = float(outcome.reward), outcome.terminated
            p.total_reward += reward
            if terminated:
                p.success = outcome.success
                p.failure = None if outcome.success else (outcome.failure or FailureKind.AGENT)
        truncated = not terminated and p.steps >= self.max_steps
        if truncated:
            p.failure = FailureKind.AGENT  # out of steps
        p.done = terminated or truncated
        return self._observation(), reward, terminated, truncated, self._info(invalid=parsed[1] is not None)

    def render(self) -> str:
        """The current observation (render mode "ansi")."""
        return self._observation()

    # ----------------------------------------------------------------- snapshots
    def snapshot(self) -> bytes:
        """The whole episode state as bytes, for `restore()` in this process or a trusted peer.

        Raises `SnapshotUnsupportedError` where the environment cannot save its state; callers then replay.
        The bytes are a pickle: never restore a snapshot from an untrusted source.
        """
        p = self._require_progress()
        state = self._get_state()
        try:
            return pickle.dumps((p, state), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
            # A state that cannot be copied (a generator, a C handle) is no crash: search replays instead.
            raise SnapshotUnsupportedError(
                f"{type(self).__name__} cannot snapshot this state ({type(exc).__name__}: {exc}); "
                "search replays the action prefix instead"
            ) from exc

    def restore(self, blob: bytes) -> tuple[str, dict[str, Any]]:
        """Return to a state saved by `snapshot()`; gives the observation and info at that state."""
        progress, state = pickle.loads(blob)
        self._set_state(state)
        self._progress = progress
        return self._observation(), self._info(invalid=False)

    def reseed_chance(self, seed: int) -> bool:
        """Draw the chance events that follow (an opponent's dice, a slippery floor) from `seed` from now on.

        Search calls this before a rollout, so that the rollout meets what could happen rather than what the
        saved generator says will happen in this very episode: a value learnt from it says how good a position
        is, not how lucky this game is. Restoring a snapshot (or replaying from `reset`) brings the episode's
        own generator back. Returns False where nothing in the environment is random (the default).
        """
        return False

    def playout_action(self, rng: random.Random) -> str | None:
        """A cheap move for search's rollouts (`SearchConfig.rollout_policy="heuristic"`): a rule of thumb better
        than chance that costs no model call, e.g. a board game's "win when you can, never leave a win to the
        opponent". None (the default, and wherever the episode is over) leaves it to a uniformly random legal
        action. Draw any randomness from `rng`, so that search stays reproducible from its seed."""
        return None

    @property
    def supports_snapshot(self) -> bool:
        """Whether `snapshot()` works for this environment class."""
        return type(self)._get_state is not TextEnv._get_state

    # ----------------------------------------------------------------- helpers
    @property
    def task(self) -> Task:
        """The current episode's task."""
        return self._require_progress().task

    def _require_progress(self) -> _Progress:
        if self._progress is None:
            raise EnvError("call reset() before step(), snapshot() or render()")
        return self._progress

    def _parse_safely(self, action: object) -> Parsed[ActionT]:
        if not isinstance(action, str):
            return None, f"actions are text, got {type(action).__name__}"
        if len(action) > MAX_ACTION_CHARS:
            return None, f"action too long ({len(action)} characters; the limit is {MAX_ACTION_CHARS})"
        if not action.strip():
            return None, "empty action: choose one of the legal actions listed"
        return self._parse(action)

    def _observation(self) -> str:
        p = self._require_progress()
        text = format_observation(
            goal=p.task.goal,
            body=self._render(),
            legal_actions=[] if p.done else self._legal_actions(),
            error=p.last_error,
        )
        return truncate(sanitize_text(text), self.max_observation_chars)

    def _info(self, *, invalid: bool) -> dict[str, Any]:
        p = self._require_progress()
        return {
            "task": p.task.key,
            "goal": p.task.goal,
            "legal_actions": [] if p.done else list(self._legal_actions()),
            "steps": p.steps,
            "invalid_action": invalid,
            "invalid_actions": p.invalid_actions,
            "last_action_error": p.last_error,
            "success": p.success,
            "failure": p.failure.value if p.failure else None,
        }


def format_observation(*, goal: str, body: str, legal_actions: list[str], error: str | None) -> str:
    """The one observation layout every environment uses."""
    parts = [f"Goal: {goal}", "", body.rstrip()]
    if legal_actions:
        parts += ["", "Legal actions:"] + [f"{i}. {a}" for i, a in enumerate(legal_actions, 1)]
    if error:
        parts += ["", f"Last action error: {error}"]
    return "\n".join(parts)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to at most `limit` characters, saying how many of the original characters were cut."""
    if len(text) <= limit:
        return text
    # The note's own length depends on the number it prints; reserve room for the longest possible number.
    reserve = len(f"\n[... {len(text)} characters cut]")
    kept = max(0, limit - reserve)
    return text[:kept] + f"\n[... {len(text) - kept} characters cut]"


def _preview(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "...")
