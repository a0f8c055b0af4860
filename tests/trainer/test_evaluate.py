"""Evaluation on test tasks through a caller-supplied `run_episode`, and promotion against the parent."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from practicum.errors import ConfigError, ModelError
from practicum.store import Store, queries
from practicum.trainer.evaluate import PolicyHandle, evaluate_policy, promote_if_not_worse
from practicum.trainer.promotion import TaskOutcome
from practicum.trainer.rounds import register_base_policy
from tests.trainer.helpers import greedy_runner, path_task

TEST_TASKS = [path_task(seed) for seed in range(100, 106)]


def scripted(solved: dict[int, set[int]], calls: Counter[int] | None = None) -> object:
    """A run_episode whose outcome is scripted per policy id and task seed (tests the decision's control flow)."""

    def run_episode(policy: PolicyHandle, task: object) -> TaskOutcome:
        if calls is not None:
            calls[policy.id] += 1
        seed = task.seed  # type: ignore[attr-defined]
        win = seed in solved[policy.id]
        return TaskOutcome(success=win, reward=float(win), failure_kind=None if win else "agent")

    return run_episode


def lineage(store: Store, model_dir: Path) -> tuple[int, int]:
    base = register_base_policy(store, model_dir)
    child = store.register_policy(
        name="child", base_model="tiny", checkpoint_path=str(model_dir), parent_id=base, iteration=1
    )
    return base, child


def test_evaluation_plays_every_task_and_records_the_eval(empty_store: Store, tiny_model_dir: Path) -> None:
    base = register_base_policy(empty_store, tiny_model_dir)
    run_episode = greedy_runner()
    report = evaluate_policy(empty_store, base, TEST_TASKS, run_episode, mode="greedy")  # type: ignore[arg-type]
    assert len(report.results) == len(TEST_TASKS) and report.eval_id is not None
    with empty_store.session() as s:
        (row,) = queries.list_evals(s, policy_id=base)
        stored = dict(queries.eval_results(s, row.id))
    assert (row.suite, row.split, row.mode, row.n_tasks) == ("path", "test", "greedy", len(TEST_TASKS))
    assert row.successes == report.successes
    assert {k: r.success for k, r in stored.items()} == {r.task: r.outcome.success for r in report.results}
    assert all(r.failure_kind in (None, "agent") for r in stored.values())


def test_a_crashing_episode_is_infra_failure_but_a_user_error_stops(empty_store: Store, tiny_model_dir: Path) -> None:
    base = register_base_policy(empty_store, tiny_model_dir)

    def crashes_on_101(policy: PolicyHandle, task: object) -> TaskOutcome:
        if task.seed == 101:  # type: ignore[attr-defined]
            raise RuntimeError("browser process died")
        return TaskOutcome(True, 1.0)

    report = evaluate_policy(empty_store, base, TEST_TASKS, crashes_on_101)
    crashed = {r.task: r for r in report.results}["path:101"]
    assert crashed.outcome == TaskOutcome(False, 0.0, "infra") and "browser process died" in str(crashed.error)
    assert report.successes == len(TEST_TASKS) - 1

    def misconfigured(policy: PolicyHandle, task: object) -> TaskOutcome:
        raise ModelError("cannot reach http://127.0.0.1:9/v1; start the server")

    with pytest.raises(ModelError, match="start the server"):
        evaluate_policy(empty_store, base, TEST_TASKS, misconfigured)
    with pytest.raises(ConfigError, match="one suite and one split"):
        evaluate_policy(empty_store, base, [*TEST_TASKS, path_task(0)], crashes_on_101)


def test_a_candidate_that_is_not_worse_is_promoted_and_the_parent_retired(
    empty_store: Store, tiny_model_dir: Path
) -> None:
    base, child = lineage(empty_store, tiny_model_dir)
    run = scripted({base: {100, 101, 102}, child: {100, 101, 103, 104}})
    gate = promote_if_not_worse(empty_store, child, TEST_TASKS, {"greedy": run})  # type: ignore[dict-item]
    decision = gate.decision
    assert gate.promote and gate.parent["greedy"].success_rate == pytest.approx(3 / 6)
    assert decision.negative_flips == ("path:102",) and decision.positive_flips == ("path:103", "path:104")
    with empty_store.session() as s:
        parent, candidate = queries.get_policy(s, base), queries.get_policy(s, child)
        evals = queries.list_evals(s)
    assert (parent.state, candidate.state) == ("retired", "promoted")
    assert candidate.metrics["promotion"]["greedy"]["negative_flips"] == ["path:102"]
    assert candidate.metrics["eval/path/test/greedy/success_rate"] == pytest.approx(4 / 6)
    assert sorted(e.policy_id for e in evals) == [base, child]


def test_a_candidate_worse_beyond_noise_is_rejected_and_the_parent_kept(
    empty_store: Store, tiny_model_dir: Path
) -> None:
    base, child = lineage(empty_store, tiny_model_dir)
    run = scripted({base: {100, 101, 102, 103, 104, 105}, child: set()})
    decision = promote_if_not_worse(empty_store, child, TEST_TASKS, {"greedy": run}).decision  # type: ignore[dict-item]
    assert not decision.promote and len(decision.negative_flips) == 6
    with empty_store.session() as s:
        assert queries.get_policy(s, base).state == "promoted"
        rejected = queries.get_policy(s, child)
    assert rejected.state == "rejected" and "worse beyond noise" in rejected.metrics["promotion"]["greedy"]["reason"]


def test_the_parent_is_played_afresh_even_with_a_stored_eval_and_every_mode_must_hold(
    empty_store: Store, tiny_model_dir: Path
) -> None:
    base, child = lineage(empty_store, tiny_model_dir)
    calls: Counter[int] = Counter()
    lucky = scripted({base: {100, 101, 102, 103, 104, 105}, child: set()}, calls)
    evaluate_policy(empty_store, base, TEST_TASKS, lucky)  # type: ignore[arg-type]  # a high score, kept
    calls.clear()
    greedy = scripted({base: {100}, child: {100}}, calls)
    everything = {base: {100, 101, 102, 103, 104, 105}, child: set()}
    gate = promote_if_not_worse(
        empty_store,
        child,
        TEST_TASKS,
        {"greedy": greedy, "search": scripted(everything, calls)},  # type: ignore[dict-item]
    )
    # Both modes played both policies: the parent's stored 6/6 did not count against the candidate greedily.
    assert calls[base] == 2 * len(TEST_TASKS) and calls[child] == 2 * len(TEST_TASKS)
    assert gate.decision.reason and gate.parent["greedy"].successes == 1
    assert not gate.promote and "worse beyond noise" in gate.decision.reason  # not worse greedily, worse with search
    with empty_store.session() as s:
        assert queries.get_policy(s, child).state == "rejected"
