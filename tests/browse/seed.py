"""A small store with everything the browse pages show: a run with episodes of several suites, splits, outcomes
and policies; a policy lineage with evals, training rounds and a promotion decision; and one episode whose
texts carry hostile markup."""

from __future__ import annotations

from dataclasses import dataclass

from practicum.store import EvalRecord, EvalTaskResult, Store
from tests.store.factories import make_episode, make_task

# Markup planted in trajectory text: if any of it ran, the page title and window.__pwned would change.
HOSTILE = (
    '<script>window.__pwned = "script"; document.title = "pwned";</script>'
    "<img src=\"x\" onerror=\"window.__pwned = 'img'; document.title = 'pwned'\">"
    "<b>bold?</b>"
)
ALPHA = 0.5


@dataclass(frozen=True)
class Seeded:
    """Ids of the rows `seed_store` wrote."""

    run_id: int
    empty_run_id: int
    base_id: int
    child_id: int
    rejected_id: int
    episode_ids: list[int]
    hostile_episode_id: int
    test_task: str
    flipped_task: str
    validation_task: str


def seed_store(store: Store) -> Seeded:
    """Fill an empty store; see the module docstring."""
    run_id = store.create_run(
        name="demo-run",
        config={"search": {"simulations": 8, "alpha": ALPHA}, "note": "<i>config text</i>"},
        seeds={"run": 7},
        command="practicum practice",
        versions={"practicum": "0.1.0"},
        git_rev="abc123",
    )
    empty_run_id = store.create_run(name="empty-run")
    base = store.register_policy(name="base", base_model="tiny", state="promoted", run_id=run_id)
    child = store.register_policy(name="base-r1", base_model="tiny", parent_id=base, iteration=1, run_id=run_id)
    rejected = store.register_policy(name="base-r2", base_model="tiny", parent_id=child, iteration=2, run_id=run_id)

    info = {"search_config": {"alpha": ALPHA}}
    episode_ids = []
    # 24 episodes: suites x splits x outcomes x policies, written in a fixed order.
    for i in range(24):
        suite = "frozenlake-4x4" if i % 2 == 0 else "taxi"
        split = "test" if i % 3 == 0 else "train"
        outcome = "success" if i % 4 == 0 else "failure"
        failure = None if outcome == "success" else ("agent", "env", "infra")[i % 3]
        policy = (base, child)[i % 2 if i < 20 else 0]
        episode = make_episode(
            run_id,
            task=make_task(suite=suite, seed=100 + (i % 6), split=split),
            outcome=outcome,
            failure_kind=failure,
            policy_id=policy,
            n_nodes=13,
        )
        episode.info = info
        episode_ids.append(store.write_episode(episode))

    hostile = make_episode(run_id, task=make_task(suite="taxi", seed=999, split="train"), policy_id=child, n_nodes=13)
    hostile.info = info
    for node in hostile.nodes:
        node.observation = f"obs {node.idx} {HOSTILE}"
        if node.parent_idx is not None:
            node.prompt = f"prompt {node.idx} {HOSTILE}"
            node.action = f"act {node.idx} <script>window.__pwned = 'action'</script>"
            node.critic_rationale = f"rationale {HOSTILE}"
    for pair in hostile.pairs:
        pair.chosen = f"chosen <script>window.__pwned = 'pair'</script> {pair.chosen_idx}"
    hostile_episode_id = store.write_episode(hostile)

    # Test evals (the curve): the child gains one task and loses another relative to the base.
    test = [make_task(suite="frozenlake-4x4", seed=s, split="test") for s in (100, 103)]
    outcomes = {base: (True, False), child: (False, True), rejected: (False, False)}
    parents = {child: base, rejected: child}
    for round_no, (policy, (first, second)) in enumerate(outcomes.items()):
        store.record_eval(
            EvalRecord(
                policy_id=policy,
                suite="frozenlake-4x4",
                split="test",
                mode="greedy",
                run_id=run_id,
                results=[
                    EvalTaskResult(
                        test[0],
                        first,
                        float(first),
                        None if first else "agent",
                        # base's eval points at the episode it judged (not its newest on the task)
                        episode_id=episode_ids[0] if policy == base else None,
                    ),
                    EvalTaskResult(test[1], second, float(second), None if second else "agent"),
                ],
            )
        )
        if round_no > 0:
            round_id = store.start_training_round(run_id=run_id, recipe="dpo", policy_in_id=parents[policy])
            store.finish_training_round(
                round_id,
                policy_out_id=policy,
                metrics={"train/dpo_loss_first": 0.69, "train/dpo_loss_last": 0.6 - 0.1 * round_no, "other": 1},
            )
    # A validation eval of the base and the child (what a promotion decides on): the child fails the task.
    validation = make_task(suite="frozenlake-4x4", seed=200, split="validation")
    for policy, won in ((base, True), (child, False)):
        result = EvalTaskResult(validation, won, float(won), None if won else "agent")
        store.record_eval(
            EvalRecord(
                policy_id=policy,
                suite="frozenlake-4x4",
                split="validation",
                mode="greedy",
                run_id=run_id,
                results=[result],
            )
        )
    decision = {
        "greedy": {
            "promote": True,
            "reason": "not worse beyond noise",
            "test": "mcnemar-exact-one-sided",
            "p_value": 0.75,
            "alpha": 0.05,
            "n_tasks": 2,
            "parent_successes": 1,
            "candidate_successes": 1,
            "negative_flips": [test[0].task_key],
            "positive_flips": [test[1].task_key],
        }
    }
    store.set_policy_state(child, "promoted", metrics={"promotion": decision})
    store.set_policy_state(rejected, "rejected")
    return Seeded(
        run_id=run_id,
        empty_run_id=empty_run_id,
        base_id=base,
        child_id=child,
        rejected_id=rejected,
        episode_ids=episode_ids,
        hostile_episode_id=hostile_episode_id,
        test_task=test[1].task_key,
        flipped_task=test[0].task_key,
        validation_task=validation.task_key,
    )
