"""The store's tables as SQLAlchemy 2 typed models.

runs -> episodes -> nodes is the main read path. Nodes are keyed `(episode_id, idx)` with `parent_idx`
pointing at a node of the same episode through a composite self-foreign-key, so a whole tree is written
with one `executemany` and no id round trips. Episodes carry aggregate columns (`node_count`,
`pair_count`, `max_depth`) so run summaries never have to touch the nodes table, which holds millions of
rows.

Every change to these models needs a new Alembic revision in `migrations/versions/`; a test checks that
the models and the migrations agree.

A row class is named after its table's thing; the three whose thing is also a class of its own elsewhere
take the suffix Row, so that one name means one class: `TaskRow` stores an `envs.core.Task`, `NodeRow` a
`search.tree.Node`, `PolicyRow` a version of an `agents.base.Policy` (a checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from practicum.store.paths import folder_of, from_stored, to_stored
from practicum.store.records import (
    FAILURE_KINDS,
    MODES,
    OUTCOMES,
    PAIR_KINDS,
    POLICY_STATES,
    ROUND_STATUSES,
    RUN_STATUSES,
    SPLITS,
)

# Named constraints let later migrations alter or drop them by name, on SQLite (batch mode) as on PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and read back as timezone-aware UTC on every database.

    SQLite has no time zones; storing naive UTC everywhere keeps comparisons and ordering identical on
    SQLite and PostgreSQL, and callers always get aware datetimes back.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC; a naive one is taken to be UTC already."""
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to the stored naive value."""
        return value.replace(tzinfo=UTC) if value is not None else None


class StorePath(TypeDecorator[str]):
    """A file path stored relative to the store's folder when it lies under it (`practicum.store.paths`).

    Written: an absolute path under the folder becomes relative to it. Read: a relative path is joined to the
    folder the store is in now, so callers always get a usable path, also after the folder was moved.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """The path to store: relative to the store's folder where it can be."""
        return None if value is None else to_stored(value, folder_of(dialect))

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """The stored path resolved against the store's folder."""
        return None if value is None else from_stored(value, folder_of(dialect))


# The keys of a policy's metrics that hold paths (its adapter and its datasets, written by a training round).
METRIC_PATH_KEYS: tuple[str, ...] = ("adapter_path", "datasets_dir")


class PolicyMetrics(TypeDecorator[dict[str, Any]]):
    """A policy's metrics (JSON), whose path entries (`METRIC_PATH_KEYS`) are stored like `StorePath`s."""

    impl = JSON
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(none_as_null=True)  # a Python None is SQL NULL, not the JSON text 'null'

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> dict[str, Any] | None:
        """The metrics to store, their paths relative to the store's folder where they can be."""
        return _convert_paths(value, lambda p: to_stored(p, folder_of(dialect)))

    def process_result_value(self, value: dict[str, Any] | None, dialect: Dialect) -> dict[str, Any] | None:
        """The stored metrics, their paths resolved against the store's folder."""
        return _convert_paths(value, lambda p: from_stored(p, folder_of(dialect)))


def _convert_paths(metrics: dict[str, Any] | None, convert: Callable[[str], str]) -> dict[str, Any] | None:
    if not isinstance(metrics, dict) or not any(isinstance(metrics.get(k), str) for k in METRIC_PATH_KEYS):
        return metrics
    return {k: convert(v) if k in METRIC_PATH_KEYS and isinstance(v, str) else v for k, v in metrics.items()}


def _one_of(column: str, choices: tuple[str, ...], *, nullable: bool = False) -> str:
    listed = ", ".join(f"'{c}'" for c in choices)
    check = f"{column} IN ({listed})"
    return f"{column} IS NULL OR {check}" if nullable else check


def _json() -> JSON:
    # none_as_null: a Python None is SQL NULL, not the JSON text 'null'.
    return JSON(none_as_null=True)


class Base(DeclarativeBase):
    """The declarative base of every practicum table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Run(Base):
    """One `practicum practice` (or eval) invocation, with everything needed to reproduce it."""

    __tablename__ = "runs"
    __table_args__ = (CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    config: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict)
    seeds: Mapped[Any] = mapped_column(_json(), nullable=True)
    versions: Mapped[dict[str, str]] = mapped_column(_json(), default=dict)
    git_rev: Mapped[str | None] = mapped_column(String(64))
    command: Mapped[str | None] = mapped_column(Text)
    status_reason: Mapped[str | None] = mapped_column(Text)  # why it ended: the error of a failed run, etc.

    episodes: Mapped[list[Episode]] = relationship(back_populates="run", passive_deletes=True)
    training_rounds: Mapped[list[TrainingRound]] = relationship(back_populates="run", passive_deletes=True)


class TaskRow(Base):
    """A task, deterministic from `(suite, seed)`; `key` is unique across suites."""

    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(_one_of("split", SPLITS), name="split"),
        Index("ix_tasks_suite_split", "suite", "split"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    suite: Mapped[str] = mapped_column(String(200))
    seed: Mapped[int] = mapped_column(Integer)
    split: Mapped[str] = mapped_column(String(16))
    goal: Mapped[str] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict)

    episodes: Mapped[list[Episode]] = relationship(back_populates="task")


class PolicyRow(Base):
    """A policy checkpoint with its lineage and promotion state."""

    __tablename__ = "policies"
    __table_args__ = (CheckConstraint(_one_of("state", POLICY_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    checkpoint_path: Mapped[str | None] = mapped_column(StorePath)  # relative to the store's folder when under it
    base_model: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    iteration: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="candidate")
    metrics: Mapped[dict[str, Any]] = mapped_column(PolicyMetrics, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    parent: Mapped[PolicyRow | None] = relationship(back_populates="children", remote_side=[id])
    children: Mapped[list[PolicyRow]] = relationship(back_populates="parent")
    episodes: Mapped[list[Episode]] = relationship(back_populates="policy")
    evals: Mapped[list[Eval]] = relationship(back_populates="policy")


class Episode(Base):
    """One episode of one task by one policy, greedy or with search, and how it ended."""

    __tablename__ = "episodes"
    __table_args__ = (
        CheckConstraint(_one_of("mode", MODES), name="mode"),
        CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(_one_of("failure_kind", FAILURE_KINDS, nullable=True), name="failure_kind"),
        # run -> episodes, newest last, with paging by id; filters by outcome/failure within a run.
        Index("ix_episodes_run_id", "run_id", "id"),
        Index("ix_episodes_run_outcome", "run_id", "outcome", "failure_kind"),
        Index("ix_episodes_task_id", "task_id"),
        Index("ix_episodes_policy_outcome", "policy_id", "outcome"),
        Index("ix_episodes_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str | None] = mapped_column(String(200), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    mode: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(16))
    reward: Mapped[float] = mapped_column(Double, default=0.0)
    failure_kind: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wall_seconds: Mapped[float] = mapped_column(Double, default=0.0)
    model_seconds: Mapped[float] = mapped_column(Double, default=0.0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer, default=0)
    invalid_actions: Mapped[int] = mapped_column(Integer, default=0)
    # Aggregates of the tree, written with it, so summaries read episodes only.
    node_count: Mapped[int] = mapped_column(Integer, default=0)
    pair_count: Mapped[int] = mapped_column(Integer, default=0)
    max_depth: Mapped[int] = mapped_column(Integer, default=0)
    info: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict)

    run: Mapped[Run] = relationship(back_populates="episodes")
    task: Mapped[TaskRow] = relationship(back_populates="episodes")
    policy: Mapped[PolicyRow | None] = relationship(back_populates="episodes")
    nodes: Mapped[list[NodeRow]] = relationship(back_populates="episode", order_by="NodeRow.idx", passive_deletes=True)
    pairs: Mapped[list[Pair]] = relationship(
        back_populates="episode", foreign_keys="Pair.episode_id", passive_deletes=True
    )


class NodeRow(Base):
    """One node of an episode's search tree: the state reached by taking `action` at the parent."""

    __tablename__ = "nodes"
    __table_args__ = (
        # The parent is a node of the same episode; the primary key's (episode_id, idx) prefix serves both
        # this foreign key and the "children of a node" lookup, so no extra index slows tree writes.
        ForeignKeyConstraint(
            ["episode_id", "parent_idx"],
            ["nodes.episode_id", "nodes.idx"],
            ondelete="CASCADE",
            name="fk_nodes_parent",
        ),
    )

    episode_id: Mapped[int] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_idx: Mapped[int | None] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer)
    action: Mapped[str | None] = mapped_column(Text)
    prompt: Mapped[str | None] = mapped_column(Text)  # exactly what the model saw
    observation: Mapped[str | None] = mapped_column(Text)
    prior_logprob: Mapped[float | None] = mapped_column(Double)
    prior: Mapped[float | None] = mapped_column(Double)
    critic_score: Mapped[float | None] = mapped_column(Double)
    critic_rationale: Mapped[str | None] = mapped_column(Text)
    visits: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[float] = mapped_column(Double, default=0.0)
    blended_value: Mapped[float | None] = mapped_column(Double)
    reward: Mapped[float] = mapped_column(Double, default=0.0)
    terminal_reward: Mapped[float | None] = mapped_column(Double)
    is_terminal: Mapped[bool] = mapped_column(Boolean, default=False)
    success: Mapped[bool] = mapped_column(Boolean, default=False)
    invalid: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    expanded: Mapped[bool] = mapped_column(Boolean, default=False)
    on_path: Mapped[bool] = mapped_column(Boolean, default=False)
    info: Mapped[dict[str, Any] | None] = mapped_column(_json())

    episode: Mapped[Episode] = relationship(back_populates="nodes")
    # Trees are written with Core executemany, so the tree relationships are read-only views.
    parent: Mapped[NodeRow | None] = relationship(
        back_populates="children", remote_side=[episode_id, idx], viewonly=True
    )
    children: Mapped[list[NodeRow]] = relationship(back_populates="parent", order_by="NodeRow.idx", viewonly=True)


class Pair(Base):
    """A preference pair for DPO: `chosen` over `rejected` after `prompt`.

    Step pairs point at the parent node `(episode_id, node_idx)` and, where they are tree nodes, at the
    chosen and rejected children; trajectory pairs point at a successful and a failed episode of one task
    (and `chosen_idx` / `rejected_idx` at the node of each where their paths parted, without `episode_id`).
    `round_id` is the training round that used the pair (NULL: not used yet).
    """

    __tablename__ = "pairs"
    __table_args__ = (
        CheckConstraint(_one_of("kind", PAIR_KINDS), name="kind"),
        ForeignKeyConstraint(
            ["episode_id", "node_idx"], ["nodes.episode_id", "nodes.idx"], ondelete="CASCADE", name="fk_pairs_node"
        ),
        ForeignKeyConstraint(
            ["episode_id", "chosen_idx"],
            ["nodes.episode_id", "nodes.idx"],
            ondelete="CASCADE",
            name="fk_pairs_chosen_node",
        ),
        ForeignKeyConstraint(
            ["episode_id", "rejected_idx"],
            ["nodes.episode_id", "nodes.idx"],
            ondelete="CASCADE",
            name="fk_pairs_rejected_node",
        ),
        Index("ix_pairs_episode_node", "episode_id", "node_idx"),
        Index("ix_pairs_round_created", "round_id", "created_at"),
        Index("ix_pairs_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    node_idx: Mapped[int | None] = mapped_column(Integer)
    chosen_idx: Mapped[int | None] = mapped_column(Integer)
    rejected_idx: Mapped[int | None] = mapped_column(Integer)
    chosen_episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"), index=True)
    rejected_episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    chosen: Mapped[str] = mapped_column(Text)
    rejected: Mapped[str] = mapped_column(Text)
    margin: Mapped[float | None] = mapped_column(Double)
    chosen_logprob: Mapped[float | None] = mapped_column(Double)
    rejected_logprob: Mapped[float | None] = mapped_column(Double)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("training_rounds.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    info: Mapped[dict[str, Any] | None] = mapped_column(_json())

    episode: Mapped[Episode | None] = relationship(back_populates="pairs", foreign_keys=[episode_id])
    training_round: Mapped[TrainingRound | None] = relationship(back_populates="pairs")


class TrainingRound(Base):
    """One training step of the loop: policy in, recipe, policy out."""

    __tablename__ = "training_rounds"
    __table_args__ = (CheckConstraint(_one_of("status", ROUND_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    policy_in_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"))
    policy_out_id: Mapped[int | None] = mapped_column(ForeignKey("policies.id"), index=True)
    recipe: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    run: Mapped[Run] = relationship(back_populates="training_rounds")
    policy_in: Mapped[PolicyRow | None] = relationship(foreign_keys=[policy_in_id])
    policy_out: Mapped[PolicyRow | None] = relationship(foreign_keys=[policy_out_id])
    pairs: Mapped[list[Pair]] = relationship(back_populates="training_round")


class Eval(Base):
    """An evaluation of one policy on one suite and split; per-task rows are in `eval_results`."""

    __tablename__ = "evals"
    __table_args__ = (
        CheckConstraint(_one_of("split", SPLITS), name="split"),
        CheckConstraint(_one_of("mode", MODES), name="mode"),
        Index("ix_evals_policy_split", "policy_id", "split"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("policies.id", ondelete="CASCADE"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), index=True)
    round_id: Mapped[int | None] = mapped_column(ForeignKey("training_rounds.id", ondelete="SET NULL"))
    suite: Mapped[str] = mapped_column(String(200))
    split: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str] = mapped_column(String(16))
    n_tasks: Mapped[int] = mapped_column(Integer)
    successes: Mapped[int] = mapped_column(Integer)
    success_rate: Mapped[float] = mapped_column(Double)
    mean_reward: Mapped[float] = mapped_column(Double)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    info: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict)

    policy: Mapped[PolicyRow] = relationship(back_populates="evals")
    results: Mapped[list[EvalResult]] = relationship(back_populates="eval", passive_deletes=True)


class EvalResult(Base):
    """One task's result within an evaluation."""

    __tablename__ = "eval_results"
    __table_args__ = (CheckConstraint(_one_of("failure_kind", FAILURE_KINDS, nullable=True), name="failure_kind"),)

    eval_id: Mapped[int] = mapped_column(ForeignKey("evals.id", ondelete="CASCADE"), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True, index=True)
    success: Mapped[bool] = mapped_column(Boolean)
    reward: Mapped[float] = mapped_column(Double, default=0.0)
    failure_kind: Mapped[str | None] = mapped_column(String(16))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id", ondelete="SET NULL"))

    eval: Mapped[Eval] = relationship(back_populates="results")
    task: Mapped[TaskRow] = relationship()


EDIT_KINDS: tuple[str, ...] = ("critic_score", "pair_label")


class Edit(Base):
    """A hand relabel made in `practicum browse --allow-edits`: what changed, from what, to what, when and why.

    `critic_score` edits name a node `(episode_id, node_idx)`; `pair_label` edits name a pair (and its
    episode). The edited row itself is changed in the same transaction; this row is the audit trail.
    """

    __tablename__ = "edits"
    __table_args__ = (
        CheckConstraint(_one_of("kind", EDIT_KINDS), name="kind"),
        ForeignKeyConstraint(
            ["episode_id", "node_idx"], ["nodes.episode_id", "nodes.idx"], ondelete="CASCADE", name="fk_edits_node"
        ),
        # An episode page lists its edits newest first.
        Index("ix_edits_episode_id", "episode_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    episode_id: Mapped[int | None] = mapped_column(ForeignKey("episodes.id", ondelete="CASCADE"))
    node_idx: Mapped[int | None] = mapped_column(Integer)
    pair_id: Mapped[int | None] = mapped_column(ForeignKey("pairs.id", ondelete="CASCADE"), index=True)
    old_value: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict)
    new_value: Mapped[dict[str, Any]] = mapped_column(_json(), default=dict)
    reason: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


TABLES: tuple[str, ...] = tuple(Base.metadata.tables)


class Lease(Base):
    """Who is playing an episode uid right now: a worker claims it, renews it by heartbeat, releases it.

    A lease whose heartbeat stopped (its `expires_at` passed, or its holder's process is gone from this host)
    can be taken over, so a dead worker's episode is played again by another; `attempts` counts the takers.
    """

    __tablename__ = "leases"

    uid: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
