"""Read queries the browse pages need beyond `practicum.store.queries`.

Everything here is bounded by an indexed prefix: a run's episodes (`ix_episodes_run_id`), one episode's nodes
(the primary key `(episode_id, idx)`), one node's pairs (`ix_pairs_episode_node`), one policy's evals
(`ix_evals_policy_split`). Tree levels select the small columns only; the long texts of a node (prompt,
observation, rationale) are read one node at a time.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session

from practicum.errors import UnknownIdError
from practicum.store import queries
from practicum.store.models import Edit, Episode, Eval, EvalResult, Node, Pair, Policy, Task, TrainingRound

# -- episodes list -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterOptions:
    """The values a run's episode filters can take: suites and policies that occur in the run."""

    suites: list[str]
    policies: list[tuple[int, str]]  # (id, name)


def filter_options(session: Session, run_id: int) -> FilterOptions:
    """Distinct suites and policies among a run's episodes (for the filter drop-downs)."""
    suites = session.scalars(
        select(Task.suite).where(Task.id.in_(select(Episode.task_id).where(Episode.run_id == run_id))).distinct()
    )
    policies = session.execute(
        select(Policy.id, Policy.name)
        .where(Policy.id.in_(select(Episode.policy_id).where(Episode.run_id == run_id)))
        .order_by(Policy.id)
    )
    return FilterOptions(sorted(suites), [(int(pid), str(name)) for pid, name in policies])


def task_keys(session: Session, task_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Task id -> (key, split) for the given ids."""
    if not task_ids:
        return {}
    rows = session.execute(select(Task.id, Task.key, Task.split).where(Task.id.in_(task_ids)))
    return {int(i): (str(k), str(s)) for i, k, s in rows}


def policy_names(session: Session, policy_ids: set[int]) -> dict[int, str]:
    """Policy id -> name for the given ids."""
    if not policy_ids:
        return {}
    return {int(i): str(n) for i, n in session.execute(select(Policy.id, Policy.name).where(Policy.id.in_(policy_ids)))}


# -- trees ---------------------------------------------------------------------------------------------------

_LIGHT_COLUMNS = (
    Node.idx,
    Node.parent_idx,
    Node.depth,
    Node.action,
    Node.prior,
    Node.critic_score,
    Node.visits,
    Node.value,
    Node.blended_value,
    Node.reward,
    Node.is_terminal,
    Node.success,
    Node.invalid,
    Node.on_path,
)


@dataclass(frozen=True)
class PairMark:
    """A node's side in a step pair mined under its parent."""

    pair_id: int
    role: str  # "chosen" or "rejected"


@dataclass(frozen=True)
class TreeNode:
    """One node of a tree level: its numbers, how many children it has, and its part in pairs."""

    idx: int
    parent_idx: int | None
    depth: int
    action: str | None
    prior: float | None
    critic_score: float | None
    visits: int
    value: float
    blended_value: float | None
    reward: float
    is_terminal: bool
    success: bool
    invalid: bool
    on_path: bool
    children: int
    pairs_here: int  # step pairs mined among this node's children
    marks: list[PairMark] = field(default_factory=list)
    edited: bool = False

    def as_json(self) -> dict[str, Any]:
        """A JSON-safe dict for the tree endpoint."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "marks"}
        data["marks"] = [{"pair_id": m.pair_id, "role": m.role} for m in self.marks]
        return data


def _missing_node(session: Session, episode_id: int, idx: int) -> UnknownIdError:
    queries.get_episode(session, episode_id)  # a missing episode says so first
    return UnknownIdError(f"episode {episode_id} has no node {idx}; use a node index from its tree")


def tree_level(session: Session, episode_id: int, parent_idx: int | None) -> list[TreeNode]:
    """The children of node `parent_idx` (None: the roots), each with its child count and pair marks."""
    parent = Node.parent_idx.is_(None) if parent_idx is None else Node.parent_idx == parent_idx
    query = select(*_LIGHT_COLUMNS).where(Node.episode_id == episode_id, parent)
    # Sorted here, not by ORDER BY idx: that would steer the planner to walk the episode's primary key instead
    # of an index on (episode_id, parent_idx) where one exists; a level holds only a few rows.
    rows = sorted(session.execute(query).all(), key=lambda r: r.idx)
    if not rows:
        if parent_idx is None:
            queries.get_episode(session, episode_id)
        elif session.get(Node, (episode_id, parent_idx)) is None:
            raise _missing_node(session, episode_id, parent_idx)
        return []
    idxs = [int(r.idx) for r in rows]
    children = dict(
        session.execute(
            select(Node.parent_idx, func.count())
            .where(Node.episode_id == episode_id, Node.parent_idx.in_(idxs))
            .group_by(Node.parent_idx)
        ).all()
    )
    pairs_here = dict(
        session.execute(
            select(Pair.node_idx, func.count())
            .where(Pair.episode_id == episode_id, Pair.node_idx.in_(idxs))
            .group_by(Pair.node_idx)
        ).all()
    )
    marks: dict[int, list[PairMark]] = defaultdict(list)
    if parent_idx is not None:
        for pair_id, chosen, rejected in session.execute(
            select(Pair.id, Pair.chosen_idx, Pair.rejected_idx)
            .where(Pair.episode_id == episode_id, Pair.node_idx == parent_idx)
            .order_by(Pair.id)
        ):
            if chosen is not None:
                marks[int(chosen)].append(PairMark(int(pair_id), "chosen"))
            if rejected is not None:
                marks[int(rejected)].append(PairMark(int(pair_id), "rejected"))
    edited = set(
        session.scalars(
            select(Edit.node_idx).where(
                Edit.episode_id == episode_id, Edit.node_idx.in_(idxs), Edit.kind == "critic_score"
            )
        )
    )
    return [
        TreeNode(
            idx=int(r.idx),
            parent_idx=r.parent_idx,
            depth=int(r.depth),
            action=r.action,
            prior=r.prior,
            critic_score=r.critic_score,
            visits=int(r.visits),
            value=float(r.value),
            blended_value=r.blended_value,
            reward=float(r.reward),
            is_terminal=bool(r.is_terminal),
            success=bool(r.success),
            invalid=bool(r.invalid),
            on_path=bool(r.on_path),
            children=int(children.get(r.idx, 0)),
            pairs_here=int(pairs_here.get(r.idx, 0)),
            marks=marks.get(int(r.idx), []),
            edited=int(r.idx) in edited,
        )
        for r in rows
    ]


def get_node(session: Session, episode_id: int, idx: int) -> Node:
    """One node with all its text; `UnknownIdError` names a missing episode or node."""
    node = session.get(Node, (episode_id, idx))
    if node is None:
        raise _missing_node(session, episode_id, idx)
    return node


def node_pairs(session: Session, episode_id: int, idx: int) -> list[Pair]:
    """Step pairs in which node `idx` is the chosen or the rejected side."""
    query = select(Pair).where(
        Pair.episode_id == episode_id, or_(Pair.chosen_idx == idx, Pair.rejected_idx == idx)
    )  # an episode's pairs via ix_pairs_episode_node's prefix, then filtered
    return list(session.scalars(query.order_by(Pair.id)))


def episode_edits(session: Session, episode_id: int) -> list[Edit]:
    """Edits made to an episode's nodes and pairs, newest first."""
    return list(session.scalars(select(Edit).where(Edit.episode_id == episode_id).order_by(Edit.id.desc())))


def list_edits(session: Session, *, limit: int = 100, offset: int = 0) -> list[Edit]:
    """All edits, newest first, paged."""
    return list(session.scalars(select(Edit).order_by(Edit.id.desc()).limit(limit).offset(offset)))


def count_edits(session: Session) -> int:
    """How many edits the store holds."""
    return int(session.scalar(select(func.count(Edit.id))) or 0)


# -- learning curves -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurvePoint:
    """Test success of one policy (at its iteration) on one suite and mode, pooled over its evals."""

    suite: str
    mode: str
    iteration: int
    policy_id: int
    policy_name: str
    n_tasks: int
    successes: int

    @property
    def success_rate(self) -> float:
        """successes / n_tasks."""
        return self.successes / self.n_tasks if self.n_tasks else 0.0


def test_curve(session: Session, run_id: int) -> list[CurvePoint]:
    """Test success per policy iteration for a run: test evals recorded in the run or of the run's policies."""
    query = (
        select(
            Eval.suite,
            Eval.mode,
            Policy.iteration,
            Policy.id,
            Policy.name,
            func.sum(Eval.n_tasks),
            func.sum(Eval.successes),
        )
        .join(Policy, Policy.id == Eval.policy_id)
        .where(Eval.split == "test", or_(Eval.run_id == run_id, Policy.run_id == run_id))
        .group_by(Eval.suite, Eval.mode, Policy.iteration, Policy.id, Policy.name)
        .order_by(Policy.iteration, Policy.id)
    )
    return [
        CurvePoint(str(suite), str(mode), int(it), int(pid), str(name), int(n or 0), int(s or 0))
        for suite, mode, it, pid, name, n, s in session.execute(query)
    ]


_LOSS_KEY = re.compile(r"^train/(?P<stage>[A-Za-z0-9_]+?)_loss_(?P<which>first|last)$")


@dataclass(frozen=True)
class LossPoint:
    """A training loss reported by one round: `train/<stage>_loss_<first|last>`."""

    round_id: int
    round_number: int  # 1-based within the run
    iteration: int | None  # the iteration of the policy the round produced
    stage: str
    which: str  # "first" or "last"
    loss: float


def training_losses(session: Session, run_id: int) -> list[LossPoint]:
    """The first and last logged loss of every stage of every finished training round of a run."""
    rounds = session.execute(
        select(TrainingRound.id, TrainingRound.metrics, Policy.iteration)
        .outerjoin(Policy, Policy.id == TrainingRound.policy_out_id)
        .where(TrainingRound.run_id == run_id)
        .order_by(TrainingRound.id)
    ).all()
    points = []
    for number, (round_id, metrics, iteration) in enumerate(rounds, start=1):
        for key, value in sorted((metrics or {}).items()):
            match = _LOSS_KEY.match(key)
            if match and isinstance(value, int | float) and not isinstance(value, bool):
                points.append(LossPoint(int(round_id), number, iteration, match["stage"], match["which"], float(value)))
    return points


def run_rounds(session: Session, run_id: int) -> list[TrainingRound]:
    """A run's training rounds, oldest first."""
    return list(session.scalars(select(TrainingRound).where(TrainingRound.run_id == run_id).order_by(TrainingRound.id)))


# -- policies ------------------------------------------------------------------------------------------------


@dataclass
class LineageNode:
    """A policy with its children, for the lineage tree."""

    policy: Policy
    children: list[LineageNode] = field(default_factory=list)


def lineage(session: Session) -> list[LineageNode]:
    """Every policy arranged parent -> child; policies without a (known) parent are roots."""
    policies = queries.list_policies(session)
    nodes = {p.id: LineageNode(p) for p in policies}
    roots: list[LineageNode] = []
    for p in policies:
        parent = nodes.get(p.parent_id) if p.parent_id is not None else None
        (parent.children if parent is not None else roots).append(nodes[p.id])
    return roots


def producing_round(session: Session, policy_id: int) -> TrainingRound | None:
    """The training round whose output is `policy_id`, if any."""
    return session.scalar(
        select(TrainingRound).where(TrainingRound.policy_out_id == policy_id).order_by(TrainingRound.id).limit(1)
    )


def child_policies(session: Session, policy_id: int) -> list[Policy]:
    """Policies trained from `policy_id`."""
    return list(session.scalars(select(Policy).where(Policy.parent_id == policy_id).order_by(Policy.id)))


# -- comparing two policies ----------------------------------------------------------------------------------


#: The splits two policies are compared on: validation and test tasks (train tasks were practised on).
HELD_OUT_SPLITS = ("validation", "test")


def held_out_tasks_of(session: Session, policy_id: int, *, limit: int = 2000) -> set[str]:
    """Keys of validation and test tasks a policy has an episode or an eval result on."""
    by_episode = (
        select(Task.key)
        .join(Episode, Episode.task_id == Task.id)
        .where(Episode.policy_id == policy_id, Task.split.in_(HELD_OUT_SPLITS))
    )
    by_eval = (
        select(Task.key)
        .join(EvalResult, EvalResult.task_id == Task.id)
        .join(Eval, Eval.id == EvalResult.eval_id)
        .where(Eval.policy_id == policy_id, Task.split.in_(HELD_OUT_SPLITS))
    )
    return set(session.scalars(select(union(by_episode, by_eval).subquery()).limit(limit)))


def get_task(session: Session, key: str) -> Task:
    """A task by key; `UnknownIdError` if the store has none."""
    task = session.scalar(select(Task).where(Task.key == key))
    if task is None:
        raise UnknownIdError(f"no task with key {key!r}; use a key like 'suite:seed' from an episode or eval")
    return task


@dataclass(frozen=True)
class TaskResult:
    """One eval's verdict for one policy on one task."""

    eval_id: int
    mode: str
    success: bool
    reward: float
    failure_kind: str | None
    episode_id: int | None


@dataclass
class PolicyOnTask:
    """What one policy did on one task: its eval verdicts and one episode (the one its newest eval judged, else
    its newest) with the committed path."""

    policy: Policy
    results: list[TaskResult]
    episode: Episode | None
    path: list[Node]
    episodes: int  # how many episodes it has on the task


def policy_on_task(session: Session, policy: Policy, task: Task) -> PolicyOnTask:
    """The eval results of `policy` on `task` and the episode to show (see `PolicyOnTask`)."""
    results = [
        TaskResult(int(e_id), str(mode), bool(ok), float(reward), failure, ep)
        for e_id, mode, ok, reward, failure, ep in session.execute(
            select(
                Eval.id,
                Eval.mode,
                EvalResult.success,
                EvalResult.reward,
                EvalResult.failure_kind,
                EvalResult.episode_id,
            )
            .join(Eval, Eval.id == EvalResult.eval_id)
            .where(EvalResult.task_id == task.id, Eval.policy_id == policy.id)
            .order_by(Eval.id)
        )
    ]
    where = (Episode.task_id == task.id, Episode.policy_id == policy.id)
    # The episode the newest eval judged, where it recorded one; else the policy's newest on the task.
    judged = [r.episode_id for r in results if r.episode_id is not None]
    episode = session.get(Episode, judged[-1]) if judged else None
    if episode is None:
        episode = session.scalar(select(Episode).where(*where).order_by(Episode.id.desc()).limit(1))
    count = int(session.scalar(select(func.count(Episode.id)).where(*where)) or 0)
    path = queries.committed_path(session, episode.id) if episode is not None else []
    return PolicyOnTask(policy, results, episode, path, count)
