"""Plain data the store writes: what callers hand to `Store.write_episode`, `Store.record_eval` and friends.

The store must not import search, agents or envs, so an episode arrives as these dataclasses (or dicts with
the same keys, through `from_dict`). Each record checks itself in `validate()` before anything touches the
database, so a bad record raises `RecordError` and writes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal, TypeVar

from practicum.store.errors import RecordError

# Equal to `practicum.envs.core.Split` (the store does not import envs; a test checks they agree).
Split = Literal["train", "validation", "test"]
Mode = Literal["greedy", "search", "sample"]
Outcome = Literal["success", "failure"]
FailureKind = Literal["agent", "env", "infra"]
PairKind = Literal["step", "trajectory"]
PolicyState = Literal["candidate", "promoted", "rejected", "retired"]
RunStatus = Literal["running", "finished", "failed", "interrupted"]
RoundStatus = Literal["running", "finished", "failed"]

SPLITS: tuple[str, ...] = ("train", "validation", "test")
MODES: tuple[str, ...] = ("greedy", "search", "sample")
OUTCOMES: tuple[str, ...] = ("success", "failure")
FAILURE_KINDS: tuple[str, ...] = ("agent", "env", "infra")
PAIR_KINDS: tuple[str, ...] = ("step", "trajectory")
POLICY_STATES: tuple[str, ...] = ("candidate", "promoted", "rejected", "retired")
RUN_STATUSES: tuple[str, ...] = ("running", "finished", "failed", "interrupted")
ROUND_STATUSES: tuple[str, ...] = ("running", "finished", "failed")


def check_choice(what: str, value: object, choices: Sequence[str]) -> None:
    """Raise `RecordError` unless `value` is one of `choices`."""
    if value not in choices:
        raise RecordError(f"{what} is {value!r}; use one of {', '.join(repr(c) for c in choices)}")


def check_json(what: str, value: object) -> None:
    """Raise `RecordError` unless `value` can be stored in a JSON column."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise RecordError(
            f"{what} cannot be stored as JSON ({e}); pass only str, numbers, bools, lists and dicts"
        ) from None


def _check_finite(what: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise RecordError(f"{what} is {value!r}; store a finite number or None")


def _check_nonneg(what: str, value: float | None) -> None:
    if value is not None and value < 0:
        raise RecordError(f"{what} is {value!r}; it counts something and must be >= 0")


_R = TypeVar("_R")


def _from_mapping(cls: type[_R], data: Mapping[str, Any]) -> _R:
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        known = ", ".join(sorted(names))
        raise RecordError(f"{cls.__name__} has no field(s) {', '.join(unknown)}; known fields: {known}")
    return cls(**data)


@dataclass(frozen=True)
class TaskRecord:
    """A task as the store keeps it: `key` is unique across suites (`suite:seed` unless given)."""

    suite: str
    seed: int
    split: Split
    goal: str
    params: dict[str, Any] = field(default_factory=dict)
    key: str | None = None

    @property
    def task_key(self) -> str:
        """The unique key: `key` if given, else `suite:seed`."""
        return self.key if self.key is not None else f"{self.suite}:{self.seed}"

    def validate(self) -> None:
        """Raise `RecordError` if a field is out of range."""
        if not self.suite:
            raise RecordError("task suite is empty; name the suite the task comes from (e.g. 'frozenlake-4x4')")
        check_choice(f"task {self.task_key!r} split", self.split, SPLITS)
        check_json(f"task {self.task_key!r} params", self.params)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskRecord:
        """Build from a dict with the field names as keys."""
        return _from_mapping(cls, data)


@dataclass
class NodeRecord:
    """One node of an episode's search tree, keyed by `idx` within its episode.

    `parent_idx` is the parent's `idx` (None for a root) and must be smaller than `idx`: nodes are created
    parent first, which lets the whole tree go to the database in one batch without id round trips.
    `prompt` is the exact text the model saw when it proposed `action`; `on_path` marks the committed path.
    """

    idx: int
    parent_idx: int | None
    depth: int
    action: str | None = None
    prompt: str | None = None
    observation: str | None = None
    prior_logprob: float | None = None
    prior: float | None = None
    critic_score: float | None = None
    critic_rationale: str | None = None
    visits: int = 0
    value: float = 0.0  # Q from MCTS backups
    blended_value: float | None = None  # alpha*Q + (1-alpha)*critic score
    reward: float = 0.0  # the environment's reward for the step into this node
    terminal_reward: float | None = None
    is_terminal: bool = False
    success: bool = False
    invalid: bool = False  # the environment rejected `action`
    error: str | None = None
    expanded: bool = False
    on_path: bool = False
    info: dict[str, Any] | None = None

    def validate(self) -> None:
        """Raise `RecordError` if a field is out of range (tree structure is checked by the episode)."""
        if self.idx < 0:
            raise RecordError(f"node idx is {self.idx}; node indices start at 0")
        if self.depth < 0:
            raise RecordError(f"node {self.idx} depth is {self.depth}; depth is >= 0 (the root is 0)")
        _check_nonneg(f"node {self.idx} visits", self.visits)
        for name in _NODE_FLOATS:  # inlined: this runs for every node of every episode
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise RecordError(f"node {self.idx} {name} is {value!r}; store a finite number or None")
        if self.info is not None:
            check_json(f"node {self.idx} info", self.info)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeRecord:
        """Build from a dict with the field names as keys."""
        return _from_mapping(cls, data)


_NODE_FLOATS = ("prior_logprob", "prior", "critic_score", "value", "blended_value", "reward", "terminal_reward")


@dataclass
class PairRecord:
    """A preference pair: `chosen` is preferred over `rejected` after the same `prompt`.

    Step pairs (`kind="step"`) are sibling actions under node `node_idx` of one episode; `chosen_idx` and
    `rejected_idx` name the sibling nodes when they are in the tree. Trajectory pairs (`kind="trajectory"`)
    are a success and a failure on one task: `chosen_episode_id` and `rejected_episode_id`, and where given
    `chosen_idx` / `rejected_idx` name the node of each episode where their paths parted.
    `episode_id` is filled by `write_episode`; give it yourself only for `Store.add_pairs`.
    """

    kind: PairKind
    prompt: str
    chosen: str
    rejected: str
    margin: float | None = None
    episode_id: int | None = None
    node_idx: int | None = None
    chosen_idx: int | None = None
    rejected_idx: int | None = None
    chosen_episode_id: int | None = None
    rejected_episode_id: int | None = None
    chosen_logprob: float | None = None
    rejected_logprob: float | None = None
    info: dict[str, Any] | None = None

    def validate(self) -> None:
        """Raise `RecordError` if the pair is inconsistent."""
        check_choice("pair kind", self.kind, PAIR_KINDS)
        for name in ("margin", "chosen_logprob", "rejected_logprob"):
            _check_finite(f"pair {name}", getattr(self, name))
        if self.kind == "step" and self.node_idx is None:
            raise RecordError("a step pair has no node_idx; set it to the index of the node whose children differ")
        if self.kind == "trajectory" and (self.chosen_episode_id is None or self.rejected_episode_id is None):
            raise RecordError(
                "a trajectory pair needs chosen_episode_id and rejected_episode_id; write both episodes first"
            )
        if self.info is not None:
            check_json("pair info", self.info)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairRecord:
        """Build from a dict with the field names as keys."""
        return _from_mapping(cls, data)


@dataclass
class EpisodeRecord:
    """One finished episode with its whole tree and its step pairs, written in one transaction.

    `uid`, when given, makes the write idempotent: writing a second episode with the same uid returns the
    first one's id and writes nothing (a resumed loop cannot duplicate an episode).
    """

    run_id: int
    task: TaskRecord
    mode: Mode
    outcome: Outcome
    reward: float = 0.0
    policy_id: int | None = None
    failure_kind: FailureKind | None = None
    error: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    wall_seconds: float = 0.0
    model_seconds: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    steps: int = 0
    invalid_actions: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    nodes: list[NodeRecord] = field(default_factory=list)
    pairs: list[PairRecord] = field(default_factory=list)
    uid: str | None = None

    def validate(self) -> None:
        """Raise `RecordError` if any field, node or pair is wrong; the tree must be parent-first."""
        self.task.validate()
        check_choice("episode mode", self.mode, MODES)
        check_choice("episode outcome", self.outcome, OUTCOMES)
        if self.failure_kind is not None:
            check_choice("episode failure_kind", self.failure_kind, FAILURE_KINDS)
        if self.outcome == "success" and self.failure_kind is not None:
            raise RecordError(
                f"episode outcome is 'success' but failure_kind is {self.failure_kind!r}; set failure_kind=None"
            )
        if self.outcome == "failure" and self.failure_kind is None:
            raise RecordError("episode outcome is 'failure' but failure_kind is None; say 'agent', 'env' or 'infra'")
        _check_finite("episode reward", self.reward)
        for name in ("wall_seconds", "model_seconds", "prompt_tokens", "completion_tokens", "steps", "invalid_actions"):
            _check_finite(f"episode {name}", getattr(self, name))
            _check_nonneg(f"episode {name}", getattr(self, name))
        check_json("episode info", self.info)
        seen: set[int] = set()
        for node in self.nodes:
            node.validate()
            if node.idx in seen:
                raise RecordError(f"node idx {node.idx} appears twice in the tree; each node needs its own idx")
            if node.parent_idx is not None and (node.parent_idx >= node.idx or node.parent_idx not in seen):
                raise RecordError(
                    f"node {node.idx} has parent_idx {node.parent_idx}, which is not an earlier node of the tree; "
                    "list nodes parent first with parent_idx < idx"
                )
            seen.add(node.idx)
        for pair in self.pairs:
            pair.validate()
            if pair.kind != "step":
                raise RecordError("write_episode takes step pairs only; add trajectory pairs with Store.add_pairs")
            for name in ("node_idx", "chosen_idx", "rejected_idx"):
                ref = getattr(pair, name)
                if ref is not None and ref not in seen:
                    raise RecordError(f"a pair's {name} is {ref}, which is not a node of this episode's tree")

    @property
    def max_depth(self) -> int:
        """The deepest node's depth (0 for an empty tree)."""
        return max((n.depth for n in self.nodes), default=0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EpisodeRecord:
        """Build from a dict; `task`, `nodes` and `pairs` may be dicts too."""
        data = dict(data)
        if isinstance(data.get("task"), Mapping):
            data["task"] = TaskRecord.from_dict(data["task"])
        data["nodes"] = [n if isinstance(n, NodeRecord) else NodeRecord.from_dict(n) for n in data.get("nodes", [])]
        data["pairs"] = [p if isinstance(p, PairRecord) else PairRecord.from_dict(p) for p in data.get("pairs", [])]
        return _from_mapping(cls, data)


@dataclass(frozen=True)
class EvalTaskResult:
    """One task's result in an evaluation."""

    task: TaskRecord
    success: bool
    reward: float = 0.0
    failure_kind: FailureKind | None = None
    episode_id: int | None = None


@dataclass
class EvalRecord:
    """An evaluation of one policy on a set of tasks; counts and rates are computed from `results`."""

    policy_id: int
    suite: str
    split: Split
    mode: Mode
    results: list[EvalTaskResult]
    run_id: int | None = None
    round_id: int | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise `RecordError` if a field is wrong or a task appears twice."""
        check_choice("eval split", self.split, SPLITS)
        check_choice("eval mode", self.mode, MODES)
        check_json("eval info", self.info)
        if not self.results:
            raise RecordError("an eval has no results; evaluate at least one task before recording it")
        keys: set[str] = set()
        for r in self.results:
            r.task.validate()
            _check_finite(f"eval reward of {r.task.task_key!r}", r.reward)
            if r.failure_kind is not None:
                check_choice("eval result failure_kind", r.failure_kind, FAILURE_KINDS)
            if r.task.task_key in keys:
                raise RecordError(f"task {r.task.task_key!r} appears twice in one eval; record one result per task")
            keys.add(r.task.task_key)
