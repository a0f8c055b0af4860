"""Read queries the browse pages need beyond `practicum.store.queries`.

Everything here is bounded by an indexed prefix: a run's episodes (`ix_episodes_run_id`), one episode's nodes
(the primary key `(episode_id, idx)`), one node's pairs (`ix_pairs_episode_node`), one policy's evals
(`ix_evals_policy_split`). Tree levels select the small columns only; the long texts of a node (prompt,
observation, rationale) are read one node at a time.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, func, or_, select, union
from sqlalchemy.orm import Session

from practicum.errors import UnknownIdError
from practicum.store import queries
from practicum.store.models import (
    Edit,
    Episode,
    Eval,
    EvalResult,
    NodeRow,
    Pair,
    PolicyRow,
    Run,
    TaskRow,
    TrainingRound,
)

# -- runs ----------------------------------------------------------------------------------------------------


def count_runs(session: Session) -> int:
    """How many runs the store holds."""
    return int(session.scalar(select(func.count(Run.id))) or 0)


# -- episodes list -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilterOptions:
    """The values a run's episode filters can take: suites and policies that occur in the run."""

    suites: list[str]
    policies: list[tuple[int, str]]  # (id, name)


def filter_options(session: Session, run_id: int) -> FilterOptions:
    """Distinct suites and policies among a run's episodes (for the filter drop-downs)."""
    suites = session.scalars(
        select(TaskRow.suite).where(TaskRow.id.in_(select(Episode.task_id).where(Episode.run_id == run_id))).distinct()
    )
    policies = session.execute(
        select(PolicyRow.id, PolicyRow.name)
        .where(PolicyRow.id.in_(select(Episode.policy_id).where(Episode.run_id == run_id)))
        .order_by(PolicyRow.id)
    )
    return FilterOptions(sorted(suites), [(int(pid), str(name)) for pid, name in policies])


_CHUNK = 500  # ids per IN (...): under every database's bound-parameter limit


def _chunks(ids: Collection[int]) -> Iterator[list[int]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def pair_counts(session: Session, episode_ids: Collection[int]) -> dict[int, int]:
    """Episode id -> rows of the pairs table it is part of: the step pairs mined from its tree and the trajectory
    pairs it is a side of (the pairs its page lists). Not `Episode.pair_count`, which counts only the pairs written
    with the episode: the loop mines its pairs later, when a round builds its datasets."""
    counts: Counter[int] = Counter()
    sides = (
        (Pair.episode_id, Pair.episode_id.is_not(None)),
        (Pair.chosen_episode_id, Pair.episode_id.is_(None)),
        (Pair.rejected_episode_id, Pair.episode_id.is_(None)),
    )
    for chunk in _chunks(episode_ids):
        for column, kind in sides:
            rows = session.execute(select(column, func.count()).where(column.in_(chunk), kind).group_by(column))
            counts.update({int(episode): int(n) for episode, n in rows if episode is not None})
    return {e: counts.get(e, 0) for e in episode_ids}


def used_pairs_clause() -> ColumnElement[bool]:
    """A condition on `Episode`: a training round trained on a pair from it (the pair's `round_id` is set)."""
    used = Pair.round_id.is_not(None)
    return or_(
        exists().where(Pair.episode_id == Episode.id, used),
        exists().where(Pair.chosen_episode_id == Episode.id, Pair.episode_id.is_(None), used),
        exists().where(Pair.rejected_episode_id == Episode.id, Pair.episode_id.is_(None), used),
    )


def used_in_training_clause(rft_episode_ids: Collection[int]) -> ColumnElement[bool]:
    """A condition on `Episode`: it fed a training round, through a pair a round trained on or an example of a
    round's RFT set (`rft_episode_ids`, read from the rounds' saved datasets)."""
    rft: ColumnElement[bool] = Episode.id.in_(sorted(rft_episode_ids)) if rft_episode_ids else false()
    return or_(used_pairs_clause(), rft)


def rounds_using_pairs(session: Session, episode_ids: Collection[int]) -> dict[int, set[int]]:
    """Episode id -> the rounds that trained on a pair from it (only episodes with such a pair)."""
    found: dict[int, set[int]] = defaultdict(set)
    sides = (
        (Pair.episode_id, Pair.episode_id.is_not(None)),
        (Pair.chosen_episode_id, Pair.episode_id.is_(None)),
        (Pair.rejected_episode_id, Pair.episode_id.is_(None)),
    )
    for chunk in _chunks(episode_ids):
        for column, kind in sides:
            rows = session.execute(
                select(column, Pair.round_id).where(column.in_(chunk), kind, Pair.round_id.is_not(None)).distinct()
            )
            for episode, round_id in rows:
                if episode is not None and round_id is not None:
                    found[int(episode)].add(int(round_id))
    return dict(found)


def task_keys(session: Session, task_ids: set[int]) -> dict[int, tuple[str, str]]:
    """Task id -> (key, split) for the given ids."""
    if not task_ids:
        return {}
    rows = session.execute(select(TaskRow.id, TaskRow.key, TaskRow.split).where(TaskRow.id.in_(task_ids)))
    return {int(i): (str(k), str(s)) for i, k, s in rows}


def policy_names(session: Session, policy_ids: set[int]) -> dict[int, str]:
    """Policy id -> name for the given ids."""
    if not policy_ids:
        return {}
    return {
        int(i): str(n)
        for i, n in session.execute(select(PolicyRow.id, PolicyRow.name).where(PolicyRow.id.in_(policy_ids)))
    }


# -- trees ---------------------------------------------------------------------------------------------------

_LIGHT_COLUMNS = (
    NodeRow.idx,
    NodeRow.parent_idx,
    NodeRow.depth,
    NodeRow.action,
    NodeRow.prior,
    NodeRow.critic_score,
    NodeRow.visits,
    NodeRow.value,
    NodeRow.blended_value,
    NodeRow.reward,
    NodeRow.is_terminal,
    NodeRow.success,
    NodeRow.invalid,
    NodeRow.on_path,
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
    parent = NodeRow.parent_idx.is_(None) if parent_idx is None else NodeRow.parent_idx == parent_idx
    query = select(*_LIGHT_COLUMNS).where(NodeRow.episode_id == episode_id, parent)
    # Sorted here, not by ORDER BY idx: that would steer the planner to walk the episode's primary key instead
    # of an index on (episode_id, parent_idx) where one exists; a level holds only a few rows.
    rows = sorted(session.execute(query).all(), key=lambda r: r.idx)
    if not rows:
        if parent_idx is None:
            queries.get_episode(session, episode_id)
        elif session.get(NodeRow, (episode_id, parent_idx)) is None:
            raise _missing_node(session, episode_id, parent_idx)
        return []
    idxs = [int(r.idx) for r in rows]
    children = dict(
        session.execute(
            select(NodeRow.parent_idx, func.count())
            .where(NodeRow.episode_id == episode_id, NodeRow.parent_idx.in_(idxs))
            .group_by(NodeRow.parent_idx)
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


def get_node(session: Session, episode_id: int, idx: int) -> NodeRow:
    """One node with all its text; `UnknownIdError` names a missing episode or node."""
    node = session.get(NodeRow, (episode_id, idx))
    if node is None:
        raise _missing_node(session, episode_id, idx)
    return node


def node_pairs(session: Session, episode_id: int, idx: int) -> list[Pair]:
    """Step pairs in which node `idx` is the chosen or the rejected side."""
    query = select(Pair).where(
        Pair.episode_id == episode_id, or_(Pair.chosen_idx == idx, Pair.rejected_idx == idx)
    )  # an episode's pairs via ix_pairs_episode_node's prefix, then filtered
    return list(session.scalars(query.order_by(Pair.id)))


def pairs_of_episode(session: Session, episode_id: int, *, limit: int) -> list[Pair]:
    """The first `limit` pairs, by id, that an episode is part of: its step pairs and the trajectory pairs it is a
    side of (`practicum.store.queries.episode_pairs`, bounded)."""
    sides = or_(
        Pair.episode_id == episode_id, Pair.chosen_episode_id == episode_id, Pair.rejected_episode_id == episode_id
    )
    return list(session.scalars(select(Pair).where(sides).order_by(Pair.id).limit(limit)))


def pair_episode_id(session: Session, pair_id: int) -> int | None:
    """The episode a pair belongs to: the tree it was mined from, else (a trajectory pair) its chosen side's."""
    pair = session.get(Pair, pair_id)
    return None if pair is None else (pair.episode_id or pair.chosen_episode_id)


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


def _run_evals(run_id: int, splits: Sequence[str], *columns: Any) -> Select[Any]:
    """The evals on `splits` recorded in run `run_id` or of its policies, with their tasks and successes summed
    per `columns` (which come first in each row)."""
    return (
        select(*columns, func.sum(Eval.n_tasks), func.sum(Eval.successes))
        .join(PolicyRow, PolicyRow.id == Eval.policy_id)
        .where(Eval.split.in_(splits), or_(Eval.run_id == run_id, PolicyRow.run_id == run_id))
        .group_by(*columns)
    )


def test_curve(session: Session, run_id: int) -> list[CurvePoint]:
    """Test success per policy iteration for a run: test evals recorded in the run or of the run's policies."""
    query = _run_evals(
        run_id, ("test",), Eval.suite, Eval.mode, PolicyRow.iteration, PolicyRow.id, PolicyRow.name
    ).order_by(PolicyRow.iteration, PolicyRow.id)
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
        select(TrainingRound.id, TrainingRound.metrics, PolicyRow.iteration)
        .outerjoin(PolicyRow, PolicyRow.id == TrainingRound.policy_out_id)
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


def get_round(session: Session, round_id: int) -> TrainingRound:
    """A training round by id; `UnknownIdError` if there is none."""
    round_row = session.get(TrainingRound, round_id)
    if round_row is None:
        raise UnknownIdError(f"training round {round_id} does not exist; pick a round from a run's page")
    return round_row


def run_rounds(session: Session, run_id: int) -> list[TrainingRound]:
    """A run's training rounds, oldest first."""
    return list(session.scalars(select(TrainingRound).where(TrainingRound.run_id == run_id).order_by(TrainingRound.id)))


# -- practice iterations -------------------------------------------------------------------------------------

# The uids the practice loop gives its episodes (practicum/loop/graph.py): collection `r<run>/i<it>/collect/p<policy>/
# <task>`, pass@k samples `r<run>/i<it>/sample<j>/p<policy>/<task>`, validation `r<run>/i<it>/eval/<mode>/p<policy>/
# <task>`. The loop's own iteration table lives in its checkpoint, beside the store; the store has these.
_LOOP_UID = re.compile(
    r"^r(?P<run>\d+)/i(?P<it>\d+)/(?:(?P<collect>collect)|sample(?P<sample>\d+)|eval/(?P<mode>\w+))/p(?P<policy>\d+)/"
)


def _share(hits: int, n: int) -> float | None:
    return hits / n if n else None


@dataclass
class Iteration:
    """One practice iteration as the end-of-run table shows it, recomputed from the episodes the loop stored:
    exploration on the train tasks (search and pass@k samples) and the validation scores its decision used."""

    iteration: int
    policy_id: int | None = None  # the policy that collected (it acted in this iteration)
    searched: int = 0  # search episodes on train tasks
    search_successes: int = 0
    solved_anywhere: int = 0  # search episodes whose tree reached success somewhere
    actions_per_node: list[float] = field(default_factory=list)  # one per search episode
    sampled: int = 0  # pass@k sample episodes
    sample_successes: int = 0
    samples_per_task: int = 0  # k
    tasks_solved_by_a_sample: int = 0
    sampled_tasks: int = 0
    nodes: int = 0  # tree nodes of every collection episode
    infra_failures: int = 0
    candidate_id: int | None = None  # the policy trained in this iteration, played on validation tasks
    validation: tuple[int, int] | None = None  # the candidate's (successes, episodes)
    parent_validation: tuple[int, int] | None = None
    decision: str = "–"
    flips: tuple[int, int] | None = None  # validation tasks newly failed, newly solved
    test_policy_id: int | None = None  # whose test success the row reports (the candidate, if any)
    test_success: float | None = None
    round_id: int | None = None  # the round that trained the candidate

    @property
    def train_success(self) -> float | None:
        """Share of search episodes on train tasks that succeeded."""
        return _share(self.search_successes, self.searched)

    @property
    def solved_anywhere_rate(self) -> float | None:
        """Share of search episodes whose tree reached success anywhere."""
        return _share(self.solved_anywhere, self.searched)

    @property
    def distinct_actions_per_node(self) -> float | None:
        """Mean over search episodes of the distinct actions tried per expanded node."""
        return sum(self.actions_per_node) / len(self.actions_per_node) if self.actions_per_node else None

    @property
    def pass_at_1(self) -> float | None:
        """Share of sampled episodes that succeeded."""
        return _share(self.sample_successes, self.sampled)

    @property
    def pass_at_k(self) -> float | None:
        """Share of sampled train tasks that one of their k samples solved."""
        return _share(self.tasks_solved_by_a_sample, self.sampled_tasks)

    @property
    def validation_success(self) -> float | None:
        """The candidate's validation success in this iteration."""
        return None if self.validation is None else _share(*self.validation)

    @property
    def parent_validation_success(self) -> float | None:
        """Its parent's, replayed on the same tasks."""
        return None if self.parent_validation is None else _share(*self.parent_validation)


def practice_iterations(session: Session, run_id: int) -> list[Iteration]:
    """The run's practice iterations, from the uids of its collection and validation episodes (see `_LOOP_UID`),
    with an iteration-0 row for the starting policy's test success; empty for a run that is not a practice run."""
    rows = session.execute(
        select(Episode.uid, Episode.outcome, Episode.failure_kind, Episode.node_count, Episode.info, Episode.task_id)
        .where(Episode.run_id == run_id, Episode.uid.like(f"r{run_id}/i%"))
        .order_by(Episode.id)
    ).all()
    found: dict[int, Iteration] = {}
    sample_wins: dict[int, dict[int, bool]] = defaultdict(dict)  # iteration -> task -> solved by a sample
    validation: dict[int, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))  # it -> policy -> wins
    for uid, outcome, failure, nodes, info, task_id in rows:
        match = _LOOP_UID.match(uid or "")
        if match is None or int(match["run"]) != run_id:
            continue
        it = found.setdefault(int(match["it"]), Iteration(int(match["it"])))
        policy, won = int(match["policy"]), outcome == "success"
        if match["mode"] is not None:
            validation[it.iteration][policy].append(won)
            continue
        it.nodes += int(nodes or 0)
        it.infra_failures += failure == "infra"
        if match["collect"]:
            info = info if isinstance(info, dict) else {}
            it.policy_id = policy
            it.searched += 1
            it.search_successes += won
            it.solved_anywhere += bool(info.get("solved_anywhere", won))
            it.actions_per_node.append(float(info.get("distinct_actions_per_node", 0.0)))
        else:
            it.sampled += 1
            it.sample_successes += won
            it.samples_per_task = max(it.samples_per_task, int(match["sample"]) + 1)
            sample_wins[it.iteration][task_id] = sample_wins[it.iteration].get(task_id, False) or won
    if not found:
        return []
    for number, it in found.items():
        wins = sample_wins.get(number, {})
        it.sampled_tasks, it.tasks_solved_by_a_sample = len(wins), sum(wins.values())
        played = validation.get(number, {})
        candidates = [p for p in played if p != it.policy_id]
        if candidates:
            it.candidate_id = candidates[-1]
            it.validation = (sum(played[it.candidate_id]), len(played[it.candidate_id]))
            if it.policy_id in played:
                parent = played[it.policy_id]
                it.parent_validation = (sum(parent), len(parent))
    ordered = [found[n] for n in sorted(found)]
    first = ordered[0]
    if 0 not in found and first.policy_id is not None:  # the baseline: the starting policy on the test tasks
        ordered.insert(0, Iteration(0, policy_id=first.policy_id, decision="baseline"))
    _add_decisions(session, ordered)
    return ordered


def _add_decisions(session: Session, iterations: list[Iteration]) -> None:
    """Each iteration's decision on its candidate, the round that trained it and the test success reported."""
    ids = {i for it in iterations for i in (it.policy_id, it.candidate_id) if i is not None}
    policies = {p.id: p for p in session.scalars(select(PolicyRow).where(PolicyRow.id.in_(ids)))} if ids else {}
    rates = {
        int(pid): (int(s or 0), int(n or 0))
        for pid, s, n in session.execute(
            select(Eval.policy_id, func.sum(Eval.successes), func.sum(Eval.n_tasks))
            .where(Eval.policy_id.in_(ids), Eval.split == "test", Eval.mode == "greedy")
            .group_by(Eval.policy_id)
        )
    }
    for it in iterations:
        candidate = policies.get(it.candidate_id) if it.candidate_id is not None else None
        if candidate is not None:
            promotion = (candidate.metrics or {}).get("promotion")
            decisions = [d for d in promotion.values() if isinstance(d, dict)] if isinstance(promotion, dict) else []
            if decisions:
                it.decision = "promoted" if all(d.get("promote") for d in decisions) else "rejected"
                it.flips = (
                    sum(len(d.get("negative_flips") or []) for d in decisions),
                    sum(len(d.get("positive_flips") or []) for d in decisions),
                )
            else:
                it.decision = candidate.state
            made_by = producing_round(session, candidate.id)
            it.round_id = made_by.id if made_by is not None else None
        elif it.iteration > 0:
            it.decision = "no candidate"
        it.test_policy_id = it.candidate_id if it.candidate_id is not None else it.policy_id
        if it.test_policy_id in rates:
            it.test_success = _share(*rates[it.test_policy_id])


# -- held-out success per policy -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldOutRate:
    """One policy's success on one held-out split in one mode, pooled over its evals in a run."""

    policy_id: int
    policy_name: str
    iteration: int
    state: str
    split: str
    mode: str
    n_tasks: int
    successes: int

    @property
    def success_rate(self) -> float:
        """successes / n_tasks."""
        return self.successes / self.n_tasks if self.n_tasks else 0.0


def held_out_rates(session: Session, run_id: int) -> list[HeldOutRate]:
    """Validation and test success of every policy evaluated in a run (or belonging to it), by split and mode."""
    columns = (PolicyRow.id, PolicyRow.name, PolicyRow.iteration, PolicyRow.state, Eval.split, Eval.mode)
    query = _run_evals(run_id, HELD_OUT_SPLITS, *columns).order_by(PolicyRow.id, Eval.split, Eval.mode)
    return [
        HeldOutRate(int(pid), str(name), int(it), str(state), str(split), str(mode), int(n or 0), int(s or 0))
        for pid, name, it, state, split, mode, n, s in session.execute(query)
    ]


@dataclass(frozen=True)
class HeldOutRow:
    """A policy's held-out success, one cell per (split, mode)."""

    policy_id: int
    policy_name: str
    iteration: int
    state: str
    cells: dict[tuple[str, str], HeldOutRate]


def held_out_table(rates: Sequence[HeldOutRate]) -> tuple[list[tuple[str, str]], list[HeldOutRow]]:
    """The (split, mode) columns that occur, validation first, and one row per policy."""
    columns = sorted({(r.split, r.mode) for r in rates}, key=lambda c: (HELD_OUT_SPLITS.index(c[0]), c[1]))
    rows: dict[int, HeldOutRow] = {}
    for r in rates:
        row = rows.setdefault(r.policy_id, HeldOutRow(r.policy_id, r.policy_name, r.iteration, r.state, {}))
        row.cells[(r.split, r.mode)] = r
    return columns, list(rows.values())


# -- policies ------------------------------------------------------------------------------------------------


@dataclass
class LineageNode:
    """A policy with its children, for the lineage tree."""

    policy: PolicyRow
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


def child_policies(session: Session, policy_id: int) -> list[PolicyRow]:
    """Policies trained from `policy_id`."""
    return list(session.scalars(select(PolicyRow).where(PolicyRow.parent_id == policy_id).order_by(PolicyRow.id)))


# -- comparing two policies ----------------------------------------------------------------------------------


#: The splits two policies are compared on: validation and test tasks (train tasks were practised on).
HELD_OUT_SPLITS = ("validation", "test")


def held_out_tasks_of(session: Session, policy_id: int, *, limit: int = 2000) -> set[str]:
    """Keys of validation and test tasks a policy has an episode or an eval result on."""
    by_episode = (
        select(TaskRow.key)
        .join(Episode, Episode.task_id == TaskRow.id)
        .where(Episode.policy_id == policy_id, TaskRow.split.in_(HELD_OUT_SPLITS))
    )
    by_eval = (
        select(TaskRow.key)
        .join(EvalResult, EvalResult.task_id == TaskRow.id)
        .join(Eval, Eval.id == EvalResult.eval_id)
        .where(Eval.policy_id == policy_id, TaskRow.split.in_(HELD_OUT_SPLITS))
    )
    return set(session.scalars(select(union(by_episode, by_eval).subquery()).limit(limit)))


def get_task(session: Session, key: str) -> TaskRow:
    """A task by key; `UnknownIdError` if the store has none."""
    task = session.scalar(select(TaskRow).where(TaskRow.key == key))
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

    policy: PolicyRow
    results: list[TaskResult]
    episode: Episode | None
    path: list[NodeRow]
    episodes: int  # how many episodes it has on the task


def policy_on_task(session: Session, policy: PolicyRow, task: TaskRow) -> PolicyOnTask:
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
