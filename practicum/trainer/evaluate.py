"""Evaluating a policy on held-out tasks, and promoting a trained policy when it is not worse than its parent
(both played afresh on the same tasks).

The trainer never drives an environment or a search itself: the caller (the practice loop, the CLI) passes
`run_episode(policy, task) -> outcome`, which loads the policy's checkpoint, plays the task greedily or with
search, writes the episode if it wants to, and returns an object with `success`, `reward` and `failure`
(a `FailureKind`, as `search.tree.EpisodeTree` has) or `failure_kind`, and optionally `episode_id`.
An exception from `run_episode` other than a `PracticumError` is recorded as that task's `infra` failure, so
one crashed episode never loses an evaluation.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from practicum.errors import ConfigError, PracticumError
from practicum.store import EvalRecord, EvalTaskResult, Store, TaskRecord, queries
from practicum.store.models import PolicyRow
from practicum.store.records import MODES
from practicum.trainer.config import PromotionConfig
from practicum.trainer.promotion import PromotionDecision, TaskOutcome, decide_promotion

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolicyHandle:
    """A stored policy as plain data (so it crosses processes): which one, where its weights are (None: the
    configured base policy, e.g. an endpoint's model), and what names it in results."""

    id: int
    checkpoint_path: str | None
    name: str = ""
    base_model: str = ""
    parent_id: int | None = None
    iteration: int = 0
    adapter_path: str | None = None

    @classmethod
    def of(cls, row: PolicyRow) -> PolicyHandle:
        """The handle of a `store.models.PolicyRow`."""
        return cls(
            id=row.id,
            checkpoint_path=row.checkpoint_path,
            name=row.name,
            base_model=row.base_model,
            parent_id=row.parent_id,
            iteration=row.iteration,
            adapter_path=(row.metrics or {}).get("adapter_path"),
        )


RunEpisode = Callable[[PolicyHandle, Any], Any]


@dataclass(frozen=True)
class TaskResult:
    """One task's outcome in an evaluation, with the episode it came from (if the caller stored one)."""

    task: str
    outcome: TaskOutcome
    episode_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class EvalReport:
    """An evaluation of one policy on one suite, split and mode; `eval_id` is its row in the store."""

    policy_id: int
    suite: str
    split: str
    mode: str
    results: tuple[TaskResult, ...]
    eval_id: int | None = None

    @property
    def successes(self) -> int:
        """Tasks solved."""
        return sum(r.outcome.success for r in self.results)

    @property
    def success_rate(self) -> float:
        """Fraction of tasks solved."""
        return self.successes / len(self.results) if self.results else 0.0

    def outcomes(self) -> dict[str, TaskOutcome]:
        """Task key -> outcome, what `decide_promotion` compares."""
        return {r.task: r.outcome for r in self.results}


def outcome_of(result: Any) -> tuple[TaskOutcome, int | None]:
    """Read `(outcome, episode_id)` from what `run_episode` returned (see the module docstring)."""
    if isinstance(result, TaskOutcome):
        return result, None
    success = bool(getattr(result, "success"))  # noqa: B009 - a clear AttributeError names the missing field
    failure = getattr(result, "failure_kind", None) or getattr(result, "failure", None)
    kind = None if success else str(getattr(failure, "value", failure) or "agent")
    reward = float(getattr(result, "reward", 0.0) or 0.0)
    episode_id = getattr(result, "episode_id", None)
    return TaskOutcome(success=success, reward=reward, failure_kind=kind), episode_id


def run_evaluation(policy: PolicyHandle, tasks: Sequence[Any], run_episode: RunEpisode) -> list[TaskResult]:
    """Play every task once with `run_episode`; nothing is written to the store."""
    results = []
    for task in tasks:
        try:
            outcome, episode_id = outcome_of(run_episode(policy, task))
            results.append(TaskResult(task.key, outcome, episode_id))
        except PracticumError:
            raise  # a user error (bad config, missing model) is the same for every task: stop and say so
        except Exception as exc:
            log.warning("evaluation of policy %s on %s crashed: %s", policy.id, task.key, exc)
            outcome = TaskOutcome(success=False, reward=0.0, failure_kind="infra")
            results.append(TaskResult(task.key, outcome, None, f"{type(exc).__name__}: {exc}"))
    return results


def evaluate_policy(
    store: Store,
    policy_id: int,
    tasks: Sequence[Any],
    run_episode: RunEpisode,
    *,
    mode: str = "greedy",
    run_id: int | None = None,
    round_id: int | None = None,
) -> EvalReport:
    """Evaluate a stored policy on `tasks` (one suite, one split) and record the eval; return the report.

    `mode` is "greedy" (no search) or "search", and only labels the eval: `run_episode` decides how it plays.
    """
    suite, split = _suite_and_split(tasks)
    if mode not in MODES:
        raise ConfigError(f"evaluation mode {mode!r} is unknown; use one of {', '.join(MODES)}")
    with store.session() as s:
        handle = PolicyHandle.of(queries.get_policy(s, policy_id))
    results = run_evaluation(handle, tasks, run_episode)
    by_key = {t.key: t for t in tasks}
    record = EvalRecord(
        policy_id=policy_id,
        suite=suite,
        split=split,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        results=[
            EvalTaskResult(
                task=_task_record(by_key[r.task]),
                success=r.outcome.success,
                reward=r.outcome.reward,
                failure_kind=r.outcome.failure_kind,  # type: ignore[arg-type]
                episode_id=r.episode_id,
            )
            for r in results
        ],
        run_id=run_id,
        round_id=round_id,
        info={"errors": {r.task: r.error for r in results if r.error}},
    )
    eval_id = store.record_eval(record)
    return EvalReport(policy_id, suite, split, mode, tuple(results), eval_id)


@dataclass(frozen=True)
class Promotion:
    """A promotion gate's result: the decision that counted and both policies' evaluations per mode."""

    decision: PromotionDecision
    """The first mode's decision that rejected the candidate, else the first mode's."""
    candidate: dict[str, EvalReport]
    parent: dict[str, EvalReport]

    @property
    def promote(self) -> bool:
        """Whether the candidate was promoted."""
        return self.decision.promote


def promote_if_not_worse(
    store: Store,
    candidate_id: int,
    tasks: Sequence[Any],
    runners: Mapping[str, RunEpisode],
    *,
    parent_id: int | None = None,
    config: PromotionConfig | None = None,
    run_id: int | None = None,
    round_id: int | None = None,
) -> Promotion:
    """Evaluate a candidate and its parent (`parent_id`, else the candidate's recorded parent) afresh on the
    same `tasks` in every mode of `runners` ("greedy" and optionally "search"); promote the candidate if it is
    not worse in any mode (`decide_promotion`), else reject it and keep the parent. The decisions, with the
    newly failed and newly solved tasks, go into the candidate's metrics.

    The parent is played again rather than read from a stored evaluation: it was promoted because it scored
    well on its own decision's tasks, so a kept score leans high and its luck would count against every
    candidate. Pass tasks no earlier decision used (validation tasks, a new block each time).
    """
    if not runners:
        raise ConfigError("promote_if_not_worse needs at least one runner, e.g. {'greedy': run_episode}")
    config = config or PromotionConfig()
    if parent_id is None:
        with store.session() as s:
            parent_id = queries.get_policy(s, candidate_id).parent_id
    suite, split = _suite_and_split(tasks)
    decisions: dict[str, PromotionDecision] = {}
    ours: dict[str, EvalReport] = {}
    theirs: dict[str, EvalReport] = {}
    for mode, run_episode in runners.items():
        ours[mode] = evaluate_policy(
            store, candidate_id, tasks, run_episode, mode=mode, run_id=run_id, round_id=round_id
        )
        # A policy without a parent is compared with itself: nothing to lose.
        theirs[mode] = (
            ours[mode]
            if parent_id is None
            else evaluate_policy(store, parent_id, tasks, run_episode, mode=mode, run_id=run_id)
        )
        decisions[mode] = decide_promotion(theirs[mode].outcomes(), ours[mode].outcomes(), config)
    promote = all(d.promote for d in decisions.values())
    metrics: dict[str, Any] = {"promotion": {mode: d.as_dict() for mode, d in decisions.items()}}
    for mode, d in decisions.items():
        metrics[f"eval/{suite}/{split}/{mode}/success_rate"] = d.candidate_success_rate
    if promote:
        store.promote_policy(candidate_id)
    store.set_policy_state(candidate_id, "promoted" if promote else "rejected", metrics=metrics)
    failed = [d for d in decisions.values() if not d.promote]
    return Promotion(failed[0] if failed else next(iter(decisions.values())), ours, theirs)


def _suite_and_split(tasks: Sequence[Any]) -> tuple[str, str]:
    if not tasks:
        raise ConfigError("no tasks to evaluate on; pass at least one held-out task")
    suites = sorted({t.suite for t in tasks})
    splits = sorted({t.split for t in tasks})
    if len(suites) != 1 or len(splits) != 1:
        raise ConfigError(
            f"an evaluation covers one suite and one split, got suites {suites} and splits {splits}; "
            "evaluate each suite separately"
        )
    return suites[0], splits[0]


def _task_record(task: Any) -> TaskRecord:
    params = dict(getattr(task, "params", {}) or {})
    try:
        json.dumps(params)
    except (TypeError, ValueError):
        params = {}  # the store keeps JSON only; the task is still identified by its suite and seed
    return TaskRecord(suite=task.suite, seed=task.seed, split=task.split, goal=task.goal, params=params, key=task.key)
