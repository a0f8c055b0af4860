"""The `Store`: an open trajectory store with its write operations.

Get one from `practicum.store.open_store(url)`. Every write method is one transaction: it checks its input
first (a bad record or a missing id raises and writes nothing), then writes all its rows and commits, so a
crash at any point leaves either the whole episode or nothing. Reads go through `store.session()` and the
helpers in `practicum.store.queries`.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from types import TracebackType
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, exc, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from practicum.errors import StoreError, UnknownIdError
from practicum.store.bulk import BulkInsert
from practicum.store.errors import RecordError
from practicum.store.migrate import current_revision, head_revision
from practicum.store.models import (
    TABLES,
    Episode,
    Eval,
    EvalResult,
    NodeRow,
    Pair,
    PolicyRow,
    Run,
    TaskRow,
    TrainingRound,
    utcnow,
)
from practicum.store.records import (
    POLICY_STATES,
    ROUND_STATUSES,
    RUN_STATUSES,
    EpisodeRecord,
    EvalRecord,
    NodeRecord,
    PairRecord,
    TaskRecord,
    check_choice,
    check_json,
)

_NODES: Table = NodeRow.__table__  # type: ignore[assignment]
_PAIRS: Table = Pair.__table__  # type: ignore[assignment]
_EPISODES: Table = Episode.__table__  # type: ignore[assignment]
_TASKS: Table = TaskRow.__table__  # type: ignore[assignment]


log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class StoreInfo:
    """What `practicum store info` shows: where the store is, its schema revision and its size."""

    url: str  # password masked
    dialect: str
    revision: str | None
    head: str
    counts: dict[str, int]  # rows per table


class Store:
    """An open trajectory store. Use it as a context manager or call `close()`; open one per process."""

    def __init__(self, engine: Engine, *, write_engine: Engine | None = None, retry_for_s: float = 60.0) -> None:
        """Wrap an engine whose schema is at head (use `open_store`, which checks and upgrades it).

        `retry_for_s`: how long an episode write keeps retrying, with backoff, while the database is
        unreachable (a restarting server, a network blip) before it gives up with `StoreError`.
        """
        self.engine = engine
        self.retry_for_s = retry_for_s
        self._write_engine = write_engine or engine
        self._sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self._pid = os.getpid()
        # Ids known to exist, filled only after a commit (a rolled-back insert must not be remembered).
        self._task_ids: dict[str, tuple[int, str]] = {}
        self._run_ids: set[int] = set()
        self._policy_ids: set[int] = set()
        self._insert_nodes = BulkInsert(_NODES, (*_NODE_FIELDS, "episode_id"), engine.dialect)
        self._insert_pairs = BulkInsert(_PAIRS, (*_PAIR_FIELDS, "episode_id", "created_at"), engine.dialect)

    # -- lifecycle -----------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The store's URL with the password masked."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _after_fork(self) -> None:
        # A forked child must not use its parent's pooled connections (SQLAlchemy's advice: dispose the
        # pool without closing them, so the parent's connections stay intact).
        if os.getpid() != self._pid:
            self.engine.dispose(close=False)
            self._pid = os.getpid()

    def session(self) -> Session:
        """A new ORM session for reading (`with store.session() as s:`); objects stay usable after it closes."""
        self._after_fork()
        return self._sessions()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (SQLite: holding the write lock from the start); commits on success."""
        self._after_fork()
        try:
            with self._write_engine.begin() as connection:
                yield connection
        except exc.OperationalError as e:
            raise StoreError(
                f"the write to {self.url!r} failed: {str(e.orig).strip() or e}; if another process holds the "
                "store locked, wait for it or raise busy_timeout_s in open_store"
            ) from None

    def retrying(self, write: Callable[[Connection], T], *, what: str = "write") -> T:
        """Run `write` in one transaction, again with backoff while the database is unreachable.

        Only connection failures are retried (the server went away, refused or reset the connection; SQLite
        stayed locked past its busy timeout); a failed statement is raised at once. `write` must be safe to
        run again: a transaction that failed did not commit, and one whose commit was lost in transit must
        find its own rows (episode writes look their uid up first).
        """
        self._after_fork()
        delay, deadline = 0.25, time.monotonic() + self.retry_for_s
        while True:
            try:
                with self._write_engine.begin() as connection:
                    return write(connection)
            except exc.DBAPIError as e:
                if not _unreachable(e, self.engine.dialect.name) or time.monotonic() + delay > deadline:
                    if isinstance(e, exc.OperationalError | exc.InterfaceError):
                        raise StoreError(
                            f"the {what} to {self.url!r} failed: {_first_line(e)}; check that the database is "
                            f"up and not locked by another process (retried for up to {self.retry_for_s:g} s)"
                        ) from None
                    raise
                log.warning("%s to %s failed (%s); retrying in %.1f s", what, self.url, _first_line(e), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- runs, tasks, policies -----------------------------------------------------------------------------

    def create_run(
        self,
        *,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        seeds: Any = None,
        command: str | None = None,
        versions: dict[str, str] | None = None,
        git_rev: str | None = None,
    ) -> int:
        """Record a new run (status 'running') with what is needed to reproduce it; return its id.

        `name` must be unique; by default it is `run-YYYYmmdd-HHMMSS-xxxx` (UTC).
        """
        now = utcnow()
        name = name or f"run-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        config = config or {}
        versions = versions or {}
        for what, value in (("run config", config), ("run seeds", seeds), ("run versions", versions)):
            check_json(what, value)
        with self.transaction() as conn:
            if conn.scalar(select(Run.id).where(Run.name == name)) is not None:
                raise StoreError(f"a run named {name!r} already exists; choose another name or leave it out")
            run_id = conn.execute(
                insert(Run).values(
                    name=name,
                    status="running",
                    created_at=now,
                    config=config,
                    seeds=seeds,
                    versions=versions,
                    git_rev=git_rev,
                    command=command,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        self._run_ids.add(run_id)
        return int(run_id)

    def finish_run(self, run_id: int, *, status: str = "finished", reason: str | None = None) -> None:
        """Set a run's final status ('finished', 'failed' or 'interrupted'), its finish time and why it ended
        (`reason`, kept to its first line; setting 'running' again clears it)."""
        check_choice("run status", status, RUN_STATUSES)
        line = reason.strip().splitlines()[0][:500] if reason and reason.strip() else None
        with self.transaction() as conn:
            self._require(conn, Run, run_id)
            finished = None if status == "running" else utcnow()
            values = {"status": status, "finished_at": finished, "status_reason": line}
            conn.execute(update(Run).where(Run.id == run_id).values(**values))

    def ensure_task(self, task: TaskRecord) -> int:
        """Return the id of `task`, adding it if the store does not have it yet."""
        task.validate()
        with self.transaction() as conn:
            task_id = self._task_id(conn, task)
        self._task_ids[task.task_key] = (task_id, task.split)
        return task_id

    def register_policy(
        self,
        *,
        name: str,
        base_model: str,
        checkpoint_path: str | None = None,
        parent_id: int | None = None,
        iteration: int = 0,
        state: str = "candidate",
        metrics: dict[str, Any] | None = None,
        run_id: int | None = None,
    ) -> int:
        """Record a policy checkpoint (unique `name`) with its lineage; return its id."""
        check_choice("policy state", state, POLICY_STATES)
        metrics = metrics or {}
        check_json("policy metrics", metrics)
        with self.transaction() as conn:
            if parent_id is not None:
                self._require(conn, PolicyRow, parent_id)
            if run_id is not None:
                self._require(conn, Run, run_id)
            if conn.scalar(select(PolicyRow.id).where(PolicyRow.name == name)) is not None:
                raise StoreError(f"a policy named {name!r} already exists; choose another name")
            policy_id = conn.execute(
                insert(PolicyRow).values(
                    name=name,
                    base_model=base_model,
                    checkpoint_path=checkpoint_path,
                    parent_id=parent_id,
                    run_id=run_id,
                    iteration=iteration,
                    state=state,
                    metrics=metrics,
                    created_at=utcnow(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        self._policy_ids.add(policy_id)
        return int(policy_id)

    def set_policy_state(self, policy_id: int, state: str, *, metrics: dict[str, Any] | None = None) -> None:
        """Change a policy's promotion state; `metrics` are merged into the stored ones."""
        check_choice("policy state", state, POLICY_STATES)
        if metrics is not None:
            check_json("policy metrics", metrics)
        with self.transaction() as conn:
            self._require(conn, PolicyRow, policy_id)
            values: dict[str, Any] = {"state": state}
            if metrics:
                stored = conn.scalar(select(PolicyRow.metrics).where(PolicyRow.id == policy_id)) or {}
                values["metrics"] = {**stored, **metrics}
            conn.execute(update(PolicyRow).where(PolicyRow.id == policy_id).values(**values))

    def promote_policy(self, policy_id: int) -> None:
        """Make `policy_id` the promoted policy; the previously promoted one becomes 'retired'."""
        with self.transaction() as conn:
            self._require(conn, PolicyRow, policy_id)
            conn.execute(
                update(PolicyRow)
                .where(PolicyRow.state == "promoted", PolicyRow.id != policy_id)
                .values(state="retired")
            )
            conn.execute(update(PolicyRow).where(PolicyRow.id == policy_id).values(state="promoted"))

    # -- episodes and pairs --------------------------------------------------------------------------------

    def write_episode(self, episode: EpisodeRecord) -> int:
        """Write one finished episode with its whole tree and step pairs in one transaction; return its id.

        With `episode.uid` set, a second write of the same uid returns the first episode's id and writes
        nothing. Raises `RecordError` for a malformed record and `UnknownIdError` for a missing run or
        policy, in both cases before writing anything.
        """
        episode.validate()
        task = episode.task
        now = utcnow()
        # Rows are prepared before the transaction so the write lock is held only for the inserts.
        node_rows = [_node_values(n) for n in episode.nodes]
        pair_rows = [_pair_values(p) for p in episode.pairs]

        def write(conn: Connection) -> tuple[int, int | None]:
            if episode.uid is not None:
                existing = conn.scalar(select(Episode.id).where(Episode.uid == episode.uid))
                if existing is not None:
                    return int(existing), None
            self._require(conn, Run, episode.run_id)
            if episode.policy_id is not None:
                self._require(conn, PolicyRow, episode.policy_id)
            task_id = self._task_id(conn, task)
            episode_id = conn.execute(
                _INSERT_EPISODE,
                {
                    "uid": episode.uid,
                    "run_id": episode.run_id,
                    "task_id": task_id,
                    "policy_id": episode.policy_id,
                    "mode": episode.mode,
                    "outcome": episode.outcome,
                    "reward": episode.reward,
                    "failure_kind": episode.failure_kind,
                    "error": episode.error,
                    "created_at": now,
                    "started_at": episode.started_at,
                    "finished_at": episode.finished_at,
                    "wall_seconds": episode.wall_seconds,
                    "model_seconds": episode.model_seconds,
                    "prompt_tokens": episode.prompt_tokens,
                    "completion_tokens": episode.completion_tokens,
                    "steps": episode.steps,
                    "invalid_actions": episode.invalid_actions,
                    "node_count": len(episode.nodes),
                    "pair_count": len(episode.pairs),
                    "max_depth": episode.max_depth,
                    "info": episode.info,
                },
            ).inserted_primary_key[0]  # type: ignore[index]
            # The whole tree in one executemany: rows carry their parent's idx, so no ids come back.
            self._insert_nodes.execute(conn, [(*row, episode_id) for row in node_rows])
            self._insert_pairs.execute(conn, [(*row, episode_id, now) for row in pair_rows])
            return int(episode_id), task_id

        episode_id, task_id = self.retrying(write, what="episode write")
        if task_id is not None:  # remembered only once committed (a rolled-back insert must not be)
            self._task_ids[task.task_key] = (task_id, task.split)
        return episode_id

    def add_pairs(self, pairs: Sequence[PairRecord]) -> list[int]:
        """Add pairs about episodes already in the store (trajectory pairs, mined step pairs); return their ids.

        Step pairs need `episode_id` and node indices of that episode's tree; trajectory pairs need
        `chosen_episode_id` and `rejected_episode_id`.
        """
        for pair in pairs:
            pair.validate()
            if pair.kind == "step" and pair.episode_id is None:
                raise RecordError("a step pair given to add_pairs needs episode_id (the episode whose tree holds it)")
        now = utcnow()
        with self.transaction() as conn:
            for pair in pairs:
                for episode_id in (pair.episode_id, pair.chosen_episode_id, pair.rejected_episode_id):
                    if episode_id is not None:
                        self._require(conn, Episode, episode_id)
                for name in ("node_idx", "chosen_idx", "rejected_idx"):
                    idx = getattr(pair, name)
                    if idx is not None and pair.episode_id is not None:
                        found = conn.scalar(
                            select(NodeRow.idx).where(NodeRow.episode_id == pair.episode_id, NodeRow.idx == idx)
                        )
                        if found is None:
                            raise UnknownIdError(
                                f"episode {pair.episode_id} has no node {idx} (the pair's {name}); "
                                "use an index from that episode's tree"
                            )
            ids = [
                int(conn.execute(insert(_PAIRS).values(_pair_row(p, now))).inserted_primary_key[0])  # type: ignore[index]
                for p in pairs
            ]
        return ids

    def mark_pairs_used(self, round_id: int, pair_ids: Iterable[int]) -> int:
        """Record that training round `round_id` used these pairs (pairs already used by a round keep the
        first one); return how many were marked."""
        ids = list(pair_ids)
        with self.transaction() as conn:
            self._require(conn, TrainingRound, round_id)
            marked = 0
            for start in range(0, len(ids), 500):  # stay under every database's bound-parameter limit
                chunk = ids[start : start + 500]
                result = conn.execute(
                    update(Pair).where(Pair.id.in_(chunk), Pair.round_id.is_(None)).values(round_id=round_id)
                )
                marked += result.rowcount
        return marked

    # -- training rounds and evals -------------------------------------------------------------------------

    def start_training_round(
        self,
        *,
        run_id: int,
        recipe: str,
        policy_in_id: int | None = None,
        config: dict[str, Any] | None = None,
    ) -> int:
        """Record the start of a training round (status 'running'); return its id."""
        config = config or {}
        check_json("training round config", config)
        if not recipe:
            raise RecordError("training round recipe is empty; name it (e.g. 'dpo', 'rft')")
        with self.transaction() as conn:
            self._require(conn, Run, run_id)
            if policy_in_id is not None:
                self._require(conn, PolicyRow, policy_in_id)
            round_id = conn.execute(
                insert(TrainingRound).values(
                    run_id=run_id,
                    policy_in_id=policy_in_id,
                    recipe=recipe,
                    config=config,
                    metrics={},
                    status="running",
                    started_at=utcnow(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return int(round_id)

    def restart_training_round(self, round_id: int, *, config: dict[str, Any]) -> int:
        """Begin again, under the same id, a round whose training never finished (a kill left it 'running', or a
        Ctrl-C ended it): status 'running' with `config`, started now. Returns how many times it has been
        restarted, this time included (`run_round` keeps the count in its metrics however it ends)."""
        check_json("training round config", config)
        with self.transaction() as conn:
            self._require(conn, TrainingRound, round_id)
            before = conn.execute(select(TrainingRound.metrics).where(TrainingRound.id == round_id)).scalar()
            restarts = int((before or {}).get("restarts", 0)) + 1
            conn.execute(
                update(TrainingRound)
                .where(TrainingRound.id == round_id)
                .values(
                    status="running",
                    config=config,
                    metrics={"restarts": restarts},
                    policy_out_id=None,
                    started_at=utcnow(),
                    finished_at=None,
                )
            )
        return restarts

    def finish_training_round(
        self,
        round_id: int,
        *,
        status: str = "finished",
        policy_out_id: int | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> None:
        """Record how a training round ended: its status, the policy it produced and its metrics."""
        check_choice("training round status", status, ROUND_STATUSES)
        metrics = metrics or {}
        check_json("training round metrics", metrics)
        with self.transaction() as conn:
            self._require(conn, TrainingRound, round_id)
            if policy_out_id is not None:
                self._require(conn, PolicyRow, policy_out_id)
            conn.execute(
                update(TrainingRound)
                .where(TrainingRound.id == round_id)
                .values(status=status, policy_out_id=policy_out_id, metrics=metrics, finished_at=utcnow())
            )

    def record_eval(self, record: EvalRecord) -> int:
        """Record an evaluation and its per-task results in one transaction; return the eval's id."""
        record.validate()
        n = len(record.results)
        successes = sum(1 for r in record.results if r.success)
        with self.transaction() as conn:
            self._require(conn, PolicyRow, record.policy_id)
            if record.run_id is not None:
                self._require(conn, Run, record.run_id)
            if record.round_id is not None:
                self._require(conn, TrainingRound, record.round_id)
            task_ids = [self._task_id(conn, r.task) for r in record.results]
            for r in record.results:
                if r.episode_id is not None:
                    self._require(conn, Episode, r.episode_id)
            eval_id = conn.execute(
                insert(Eval).values(
                    policy_id=record.policy_id,
                    run_id=record.run_id,
                    round_id=record.round_id,
                    suite=record.suite,
                    split=record.split,
                    mode=record.mode,
                    n_tasks=n,
                    successes=successes,
                    success_rate=successes / n,
                    mean_reward=sum(r.reward for r in record.results) / n,
                    created_at=utcnow(),
                    info=record.info,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            conn.execute(
                insert(EvalResult),
                [
                    {
                        "eval_id": eval_id,
                        "task_id": task_id,
                        "success": r.success,
                        "reward": r.reward,
                        "failure_kind": r.failure_kind,
                        "episode_id": r.episode_id,
                    }
                    for r, task_id in zip(record.results, task_ids, strict=True)
                ],
            )
        for r, task_id in zip(record.results, task_ids, strict=True):
            self._task_ids[r.task.task_key] = (task_id, r.task.split)
        return int(eval_id)

    # -- info ----------------------------------------------------------------------------------------------

    def info(self) -> StoreInfo:
        """The store's masked URL, dialect, schema revision and row count per table."""
        self._after_fork()
        with self.engine.connect() as conn:
            revision = current_revision(conn)
            counts = {}
            for name in TABLES:
                table = Episode.metadata.tables[name]
                counts[name] = int(conn.scalar(select(func.count()).select_from(table)) or 0)
        return StoreInfo(
            url=self.url, dialect=self.engine.dialect.name, revision=revision, head=head_revision(), counts=counts
        )

    # -- helpers -------------------------------------------------------------------------------------------

    def _require(self, conn: Connection, model: type[Run | PolicyRow | Episode | TrainingRound], row_id: int) -> None:
        cache = self._run_ids if model is Run else self._policy_ids if model is PolicyRow else None
        if cache is not None and row_id in cache:
            return
        if conn.scalar(select(model.id).where(model.id == row_id)) is None:
            what = {Run: "run", PolicyRow: "policy", Episode: "episode", TrainingRound: "training round"}[model]
            raise UnknownIdError(f"{what} {row_id} does not exist in {self.url}; use the id of an existing {what}")
        if cache is not None:
            cache.add(row_id)

    def _task_id(self, conn: Connection, task: TaskRecord) -> int:
        key = task.task_key
        cached = self._task_ids.get(key)
        if cached is None:
            values = {
                "key": key,
                "suite": task.suite,
                "seed": task.seed,
                "split": task.split,
                "goal": task.goal,
                "params": task.params,
            }
            # Insert-if-absent, so concurrent writers of the same new task neither fail nor duplicate it.
            upsert = _INSERT_TASK_IF_ABSENT.get(conn.dialect.name)
            if upsert is not None:
                conn.execute(upsert, values)
            elif conn.execute(_SELECT_TASK, {"key": key}).first() is None:
                conn.execute(insert(_TASKS), values)
            row = conn.execute(_SELECT_TASK, {"key": key}).one()
            cached = (int(row.id), row.split)
        if cached[1] != task.split:
            raise RecordError(
                f"task {key!r} is stored with split {cached[1]!r} but given as {task.split!r}; "
                "train, validation and test tasks must stay disjoint"
            )
        return cached[0]


# Record fields are named exactly like their columns, so a row is the record's fields in order.
_NODE_FIELDS = tuple(f.name for f in fields(NodeRecord))
_PAIR_FIELDS = tuple(f.name for f in fields(PairRecord) if f.name != "episode_id")
_node_values = attrgetter(*_NODE_FIELDS)
_pair_values = attrgetter(*_PAIR_FIELDS)
_INSERT_EPISODE = insert(_EPISODES)
_SELECT_TASK = select(TaskRow.id, TaskRow.split).where(TaskRow.key == bindparam("key"))
_INSERT_TASK_IF_ABSENT = {
    "sqlite": sqlite.insert(_TASKS).on_conflict_do_nothing(index_elements=["key"]),
    "postgresql": postgresql.insert(_TASKS).on_conflict_do_nothing(index_elements=["key"]),
}


def _pair_row(pair: PairRecord, now: datetime) -> dict[str, Any]:
    row = {name: getattr(pair, name) for name in _PAIR_FIELDS}
    row["episode_id"] = pair.episode_id
    row["created_at"] = now
    return row


def _first_line(error: exc.DBAPIError) -> str:
    text = str(error.orig) if error.orig is not None else str(error)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def _unreachable(error: exc.DBAPIError, dialect: str) -> bool:
    """Whether a failed write may succeed when tried again: the connection, not the statement, failed."""
    if error.connection_invalidated:
        return True
    if dialect == "sqlite":
        return isinstance(error, exc.OperationalError) and "locked" in str(error.orig).lower()
    return isinstance(error, exc.OperationalError | exc.InterfaceError)
