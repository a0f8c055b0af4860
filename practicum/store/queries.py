"""Read helpers over the store, shared by the CLI, the practice loop, the trainer and the browse app.

Each takes an open `Session` (`with store.session() as s:`) and returns ORM rows from
`practicum.store.models` (their columns stay readable after the session closes; load related rows with
another helper rather than through relationships) or small frozen dataclasses for aggregates. A missing run,
episode or policy id raises `UnknownIdError`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict, TypeVar, Unpack

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session

from practicum.errors import UnknownIdError
from practicum.store.models import Episode, Eval, EvalResult, NodeRow, Pair, PolicyRow, Run, TaskRow, TrainingRound
from practicum.store.records import FAILURE_KINDS, OUTCOMES, SPLITS, check_choice

_M = TypeVar("_M", Run, Episode, PolicyRow, TrainingRound, Eval)
_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")


def _get(session: Session, model: type[_M], row_id: int, what: str) -> _M:
    row = session.get(model, row_id)
    if row is None:
        raise UnknownIdError(f"{what} {row_id} does not exist; use the id of an existing {what}")
    return row


def _given(query: _Q, *filters: tuple[Any, object]) -> _Q:
    """`query` narrowed to `column == value` for each `(column, value)` filter whose value is given (not None)."""
    return query.where(*(column == value for column, value in filters if value is not None))


# -- runs ----------------------------------------------------------------------------------------------------


def list_runs(session: Session, *, limit: int | None = None, offset: int = 0) -> list[Run]:
    """Runs, newest first."""
    return list(session.scalars(select(Run).order_by(Run.id.desc()).limit(limit).offset(offset)))


def get_run(session: Session, run: int | str) -> Run:
    """A run by id (int, or a string of digits) or by name; `UnknownIdError` names the nearest names."""
    if isinstance(run, int):
        return _get(session, Run, run, "run")
    found = session.get(Run, int(run)) if run.isdigit() else None
    if found is None:
        found = session.scalar(select(Run).where(Run.name == run))
    if found is None:
        names = list(session.scalars(select(Run.name).order_by(Run.id.desc()).limit(5)))
        hint = f"recent runs: {', '.join(names)}" if names else "the store has no runs yet"
        raise UnknownIdError(f"no run named {run!r}; {hint}")
    return found


def get_episode(session: Session, episode_id: int) -> Episode:
    """One episode by id."""
    return _get(session, Episode, episode_id, "episode")


def lineage(session: Session, policy: PolicyRow) -> list[PolicyRow]:
    """`policy` and its ancestors, newest first (the last is the lineage's first policy)."""
    chain = [policy]
    seen = {policy.id}
    while chain[-1].parent_id is not None and chain[-1].parent_id not in seen:
        parent = get_policy(session, chain[-1].parent_id)
        chain.append(parent)
        seen.add(parent.id)
    return chain


def get_policy(session: Session, policy: int | str) -> PolicyRow:
    """A policy by id or by name."""
    if isinstance(policy, int):
        return _get(session, PolicyRow, policy, "policy")
    found = session.scalar(select(PolicyRow).where(PolicyRow.name == policy))
    if found is None:
        raise UnknownIdError(f"no policy named {policy!r}; list policies to see their names")
    return found


def list_policies(session: Session, *, run_id: int | None = None, state: str | None = None) -> list[PolicyRow]:
    """Policies, oldest first, optionally of one run and/or in one promotion state."""
    query = _given(select(PolicyRow).order_by(PolicyRow.id), (PolicyRow.run_id, run_id), (PolicyRow.state, state))
    return list(session.scalars(query))


def promoted_policy(session: Session) -> PolicyRow | None:
    """The most recently created policy in state 'promoted', if any."""
    return session.scalar(select(PolicyRow).where(PolicyRow.state == "promoted").order_by(PolicyRow.id.desc()).limit(1))


# -- episodes ------------------------------------------------------------------------------------------------


class EpisodeFilters(TypedDict, total=False):
    """Which episodes to keep (`run_episodes`, `count_episodes`); a filter left out or None keeps all."""

    suite: str | None
    task: str | None  # a task key, `suite:seed`
    split: str | None
    outcome: str | None
    failure_kind: str | None
    policy_id: int | None
    mode: str | None
    where: Sequence[ColumnElement[bool]]  # conditions on `Episode` of the caller's own


def _episode_filter(query: _Q, run_id: int | None, filters: EpisodeFilters) -> _Q:
    unknown = set(filters) - set(EpisodeFilters.__annotations__)
    if unknown:  # what a keyword-only signature would have refused
        raise TypeError(f"unknown episode filter(s): {', '.join(sorted(unknown))}")
    suite, task, split = filters.get("suite"), filters.get("task"), filters.get("split")
    outcome, failure_kind = filters.get("outcome"), filters.get("failure_kind")
    if split is not None:
        check_choice("split filter", split, SPLITS)
    if outcome is not None:
        check_choice("outcome filter", outcome, OUTCOMES)
    if failure_kind is not None:
        check_choice("failure kind filter", failure_kind, FAILURE_KINDS)
    if suite is not None or task is not None or split is not None:
        query = query.join(TaskRow, TaskRow.id == Episode.task_id)
        query = _given(query, (TaskRow.suite, suite), (TaskRow.key, task), (TaskRow.split, split))
    query = _given(
        query,
        (Episode.run_id, run_id),
        (Episode.outcome, outcome),
        (Episode.failure_kind, failure_kind),
        (Episode.policy_id, filters.get("policy_id")),
        (Episode.mode, filters.get("mode")),
    )
    return query.where(*filters.get("where", ()))


def run_episodes(
    session: Session, run_id: int, *, limit: int | None = 100, offset: int = 0, **filters: Unpack[EpisodeFilters]
) -> list[Episode]:
    """A run's episodes in the order they were written, filtered and paged (`limit=None` returns them all).
    Count them with `count_episodes`."""
    _get(session, Run, run_id, "run")
    query = _episode_filter(select(Episode), run_id, filters)
    return list(session.scalars(query.order_by(Episode.id).limit(limit).offset(offset)))


def count_episodes(session: Session, run_id: int | None = None, **filters: Unpack[EpisodeFilters]) -> int:
    """How many episodes match the filters (of one run, or of the whole store with `run_id=None`)."""
    return int(session.scalar(_episode_filter(select(func.count(Episode.id)), run_id, filters)) or 0)


# -- trees ---------------------------------------------------------------------------------------------------


def episode_tree(session: Session, episode_id: int) -> list[NodeRow]:
    """Every node of an episode's tree, by index (parents before children)."""
    nodes = list(session.scalars(select(NodeRow).where(NodeRow.episode_id == episode_id).order_by(NodeRow.idx)))
    if not nodes:
        _get(session, Episode, episode_id, "episode")
    return nodes


def node_children(session: Session, episode_id: int, parent_idx: int | None = None) -> list[NodeRow]:
    """One level of the tree for lazy loading: the children of node `parent_idx` (None: the roots)."""
    query = select(NodeRow).where(NodeRow.episode_id == episode_id)
    query = query.where(NodeRow.parent_idx.is_(None) if parent_idx is None else NodeRow.parent_idx == parent_idx)
    nodes = list(session.scalars(query.order_by(NodeRow.idx)))
    if not nodes:
        _get(session, Episode, episode_id, "episode")
    return nodes


def child_counts(session: Session, episode_id: int) -> dict[int, int]:
    """How many children each node of an episode has (nodes without children are absent)."""
    rows = session.execute(
        select(NodeRow.parent_idx, func.count())
        .where(NodeRow.episode_id == episode_id, NodeRow.parent_idx.is_not(None))
        .group_by(NodeRow.parent_idx)
    )
    return {int(parent): int(n) for parent, n in rows if parent is not None}


def committed_path(session: Session, episode_id: int) -> list[NodeRow]:
    """The nodes the agent actually went through, root first."""
    nodes = list(
        session.scalars(
            select(NodeRow)
            .where(NodeRow.episode_id == episode_id, NodeRow.on_path.is_(True))
            .order_by(NodeRow.depth, NodeRow.idx)
        )
    )
    if not nodes:
        _get(session, Episode, episode_id, "episode")
    return nodes


def episode_pairs(session: Session, episode_id: int) -> list[Pair]:
    """The step pairs written with an episode, plus trajectory pairs it is a side of."""
    _get(session, Episode, episode_id, "episode")
    query = select(Pair).where(
        or_(Pair.episode_id == episode_id, Pair.chosen_episode_id == episode_id, Pair.rejected_episode_id == episode_id)
    )
    return list(session.scalars(query.order_by(Pair.id)))


# -- rates and summaries -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Successes out of `n` for one policy on one split (`policy_id` None: episodes without a policy)."""

    policy_id: int | None
    policy_name: str | None
    split: str
    n: int
    successes: int
    mean_reward: float

    @property
    def success_rate(self) -> float:
        """successes / n (0.0 when n is 0)."""
        return self.successes / self.n if self.n else 0.0


def success_rates(session: Session, *, run_id: int | None = None, mode: str | None = None) -> list[Rate]:
    """Success rate per policy and split, computed from episodes (optionally of one run or one mode)."""
    success = func.sum(case((Episode.outcome == "success", 1), else_=0))
    query = (
        select(Episode.policy_id, PolicyRow.name, TaskRow.split, func.count(), success, func.avg(Episode.reward))
        .join(TaskRow, TaskRow.id == Episode.task_id)
        .outerjoin(PolicyRow, PolicyRow.id == Episode.policy_id)
        .group_by(Episode.policy_id, PolicyRow.name, TaskRow.split)
        .order_by(Episode.policy_id, TaskRow.split)
    )
    query = _given(query, (Episode.run_id, run_id), (Episode.mode, mode))
    return [
        Rate(policy_id=pid, policy_name=name, split=split, n=int(n), successes=int(s or 0), mean_reward=float(r or 0))
        for pid, name, split, n, s, r in session.execute(query)
    ]


def eval_success_rates(session: Session, *, policy_id: int | None = None, suite: str | None = None) -> list[Rate]:
    """Success rate per policy and split from recorded evals (all evals of a policy and split pooled)."""
    query = (
        select(
            Eval.policy_id,
            PolicyRow.name,
            Eval.split,
            func.sum(Eval.n_tasks),
            func.sum(Eval.successes),
            func.sum(Eval.mean_reward * Eval.n_tasks),
        )
        .join(PolicyRow, PolicyRow.id == Eval.policy_id)
        .group_by(Eval.policy_id, PolicyRow.name, Eval.split)
        .order_by(Eval.policy_id, Eval.split)
    )
    query = _given(query, (Eval.policy_id, policy_id), (Eval.suite, suite))
    rates = []
    for pid, name, split, n, s, reward_sum in session.execute(query):
        n = int(n or 0)
        rates.append(
            Rate(
                policy_id=pid,
                policy_name=name,
                split=split,
                n=n,
                successes=int(s or 0),
                mean_reward=float(reward_sum or 0) / n if n else 0.0,
            )
        )
    return rates


def list_evals(session: Session, *, policy_id: int | None = None, run_id: int | None = None) -> list[Eval]:
    """Evals, oldest first, optionally of one policy or one run."""
    query = _given(select(Eval).order_by(Eval.id), (Eval.policy_id, policy_id), (Eval.run_id, run_id))
    return list(session.scalars(query))


def eval_results(session: Session, eval_id: int) -> list[tuple[str, EvalResult]]:
    """An eval's per-task results as (task key, result), by task key."""
    _get(session, Eval, eval_id, "eval")
    rows = session.execute(
        select(TaskRow.key, EvalResult)
        .join(TaskRow, TaskRow.id == EvalResult.task_id)
        .where(EvalResult.eval_id == eval_id)
    )
    return sorted(((key, result) for key, result in rows), key=lambda kr: kr[0])


def newly_failed_tasks(session: Session, candidate_eval_id: int, baseline_eval_id: int) -> list[str]:
    """Task keys the baseline eval solved and the candidate eval failed (the promotion check)."""
    baseline = {key for key, r in eval_results(session, baseline_eval_id) if r.success}
    return [key for key, r in eval_results(session, candidate_eval_id) if key in baseline and not r.success]


@dataclass(frozen=True)
class GroupStats:
    """Counts for one slice of a run (a split, a suite, or the whole run)."""

    episodes: int = 0
    successes: int = 0
    reward_sum: float = 0.0
    nodes: int = 0
    pairs: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # failure kind -> episodes

    @property
    def success_rate(self) -> float:
        """successes / episodes (0.0 without episodes)."""
        return self.successes / self.episodes if self.episodes else 0.0

    @property
    def mean_reward(self) -> float:
        """Mean episode reward (0.0 without episodes)."""
        return self.reward_sum / self.episodes if self.episodes else 0.0

    def plus(self, n: int, successes: int, reward: float, nodes: int, pairs: int, failure: str | None) -> GroupStats:
        """These counts with one more group of `n` episodes added."""
        failures = dict(self.failures)
        if failure is not None:
            failures[failure] = failures.get(failure, 0) + n
        return GroupStats(
            episodes=self.episodes + n,
            successes=self.successes + successes,
            reward_sum=self.reward_sum + reward,
            nodes=self.nodes + nodes,
            pairs=self.pairs + pairs,
            failures=failures,
        )


@dataclass(frozen=True)
class RunSummary:
    """A run at a glance: totals, per split and per suite, plus time and tokens spent."""

    run: Run
    total: GroupStats
    by_split: dict[str, GroupStats]
    by_suite: dict[str, GroupStats]
    wall_seconds: float
    model_seconds: float
    prompt_tokens: int
    completion_tokens: int

    @property
    def episodes(self) -> int:
        """Episodes written in the run."""
        return self.total.episodes

    @property
    def success_rate(self) -> float:
        """Fraction of the run's episodes that succeeded."""
        return self.total.success_rate

    @property
    def nodes(self) -> int:
        """Tree nodes written in the run."""
        return self.total.nodes


def run_summary(session: Session, run: int | str) -> RunSummary:
    """Episode count, success rate, nodes and pairs of a run, in total, per split and per suite.

    One grouped query over the run's episodes (their `node_count` column), never the nodes. Pairs are the rows of
    the pairs table (see `run_pair_counts`), not the episodes' `pair_count`: that counts only the pairs written
    with an episode, and the loop mines its pairs later, when a round builds its datasets.
    """
    run_row = get_run(session, run)
    query = (
        select(
            TaskRow.split,
            TaskRow.suite,
            Episode.outcome,
            Episode.failure_kind,
            func.count(),
            func.sum(Episode.reward),
            func.sum(Episode.node_count),
            func.sum(Episode.wall_seconds),
            func.sum(Episode.model_seconds),
            func.sum(Episode.prompt_tokens),
            func.sum(Episode.completion_tokens),
        )
        .join(TaskRow, TaskRow.id == Episode.task_id)
        .where(Episode.run_id == run_row.id)
        .group_by(TaskRow.split, TaskRow.suite, Episode.outcome, Episode.failure_kind)
    )
    total = GroupStats()
    by_split: dict[str, GroupStats] = {}
    by_suite: dict[str, GroupStats] = {}
    wall = model = 0.0
    prompt_tokens = completion_tokens = 0
    for split, suite, outcome, failure, n, reward, nodes, w, m, pt, ct in session.execute(query):
        args = (int(n), int(n) if outcome == "success" else 0, float(reward or 0), int(nodes or 0), 0)
        total = total.plus(*args, failure)
        by_split[split] = by_split.get(split, GroupStats()).plus(*args, failure)
        by_suite[suite] = by_suite.get(suite, GroupStats()).plus(*args, failure)
        wall += float(w or 0)
        model += float(m or 0)
        prompt_tokens += int(pt or 0)
        completion_tokens += int(ct or 0)
    for (split, suite), pairs in run_pair_counts(session, run_row.id).items():
        total = dataclasses.replace(total, pairs=total.pairs + pairs)
        by_split[split] = dataclasses.replace(by_split[split], pairs=by_split[split].pairs + pairs)
        by_suite[suite] = dataclasses.replace(by_suite[suite], pairs=by_suite[suite].pairs + pairs)
    return RunSummary(
        run=run_row,
        total=total,
        by_split=by_split,
        by_suite=by_suite,
        wall_seconds=wall,
        model_seconds=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
    )


def run_pair_counts(session: Session, run_id: int) -> dict[tuple[str, str], int]:
    """Rows of the pairs table that belong to a run's episodes, per (split, suite) of their task.

    A step pair belongs to the episode whose tree holds it, a trajectory pair to its chosen (successful) episode,
    so each pair is counted once. Two grouped queries that start from the run's episodes (`ix_episodes_run_id`)
    and reach their pairs through an index on each pair column.
    """
    counts: dict[tuple[str, str], int] = {}
    owners = ((Pair.episode_id, Pair.episode_id.is_not(None)), (Pair.chosen_episode_id, Pair.episode_id.is_(None)))
    for owner, kind in owners:
        query = (
            select(TaskRow.split, TaskRow.suite, func.count(Pair.id))
            .select_from(Episode)
            .join(TaskRow, TaskRow.id == Episode.task_id)
            .join(Pair, owner == Episode.id)
            .where(Episode.run_id == run_id, kind)
            .group_by(TaskRow.split, TaskRow.suite)
        )
        for split, suite, n in session.execute(query):
            counts[(split, suite)] = counts.get((split, suite), 0) + int(n)
    return counts


# -- data for training ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewData:
    """What arrived after a policy was trained: episodes and not-yet-used pairs created after `since`."""

    policy_id: int
    since: datetime
    episodes: int
    agent_failures: int
    successes: int
    pairs: int


def training_cutoff(session: Session, policy_id: int) -> datetime:
    """When the data a policy could have seen stops: the start of the round that produced it, else its creation."""
    policy = _get(session, PolicyRow, policy_id, "policy")
    started = session.scalar(
        select(TrainingRound.started_at)
        .where(TrainingRound.policy_out_id == policy_id)
        .order_by(TrainingRound.started_at)
        .limit(1)
    )
    return started if started is not None else policy.created_at


def new_data_since(session: Session, policy_id: int, *, run_id: int | None = None) -> NewData:
    """Counts of episodes and unused pairs created after `policy_id`'s training cutoff (see `training_cutoff`)."""
    since = training_cutoff(session, policy_id)
    success = func.sum(case((Episode.outcome == "success", 1), else_=0))
    agent = func.sum(case((Episode.failure_kind == "agent", 1), else_=0))
    query = _given(select(func.count(), success, agent).where(Episode.created_at > since), (Episode.run_id, run_id))
    n, successes, agent_failures = session.execute(query).one()
    pairs = session.scalar(_unused_pairs_query(since, None, run_id, [func.count(Pair.id)]))
    return NewData(
        policy_id=policy_id,
        since=since,
        episodes=int(n or 0),
        agent_failures=int(agent_failures or 0),
        successes=int(successes or 0),
        pairs=int(pairs or 0),
    )


def _unused_pairs_query(
    since: datetime | None, kind: str | None, run_id: int | None, columns: Sequence[Any]
) -> Select[Any]:
    query = select(*columns).where(Pair.round_id.is_(None))
    if since is not None:
        query = query.where(Pair.created_at > since)
    query = _given(query, (Pair.kind, kind))
    if run_id is not None:
        # A pair belongs to a run through its episode (step pairs) or its chosen episode (trajectory pairs).
        owner = func.coalesce(Pair.episode_id, Pair.chosen_episode_id)
        query = query.join(Episode, Episode.id == owner).where(Episode.run_id == run_id)
    return query


def unused_pair_ids(
    session: Session, *, since: datetime | None = None, kind: str | None = None, run_id: int | None = None
) -> list[int]:
    """Ids of pairs no training round has used yet, optionally created after `since`, of one kind or run."""
    return list(session.scalars(_unused_pairs_query(since, kind, run_id, [Pair.id]).order_by(Pair.id)))


def unused_pairs(
    session: Session,
    *,
    since: datetime | None = None,
    kind: str | None = None,
    run_id: int | None = None,
    limit: int | None = None,
) -> list[Pair]:
    """Pairs no training round has used yet (oldest first), with the same filters as `unused_pair_ids`."""
    query = _unused_pairs_query(since, kind, run_id, [Pair]).order_by(Pair.id).limit(limit)
    return list(session.scalars(query))
