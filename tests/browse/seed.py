"""A small store with everything the browse pages show: a run with episodes of several suites, splits, outcomes
and policies; a policy lineage with evals, training rounds and a promotion decision; and one episode whose
texts carry hostile markup (`seed_store`). And a run shaped like `practicum practice` leaves it (`seed_practice_run`):
episodes under the loop's uids, pairs mined after collection, a round with its saved datasets, validation and
test evals, and one episode with a very long critic rationale."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from practicum.store import EvalRecord, EvalTaskResult, PairRecord, Store
from practicum.store.records import TaskRecord
from practicum.trainer.datasets import Datasets, TrainingSet
from practicum.trainer.mining import PreferencePair, RFTExample, Side
from tests.store.factories import make_episode, make_pairs, make_task

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


# -- a practice run --------------------------------------------------------------------------------------------

LONG_RATIONALE_CHARS = 200_000


@dataclass(frozen=True)
class Practiced:
    """Ids of the rows `seed_practice_run` wrote."""

    run_id: int
    base_id: int
    candidate_id: int
    round_id: int
    collected: list[int]  # iteration 1's search episodes on train tasks 0-3
    samples: list[int]  # iteration 1's pass@k samples (two per task)
    used: list[int]  # episodes a round trained on: collected[0] (its step pairs), collected[1] (RFT examples)
    pairs: dict[int, int]  # episode id -> pairs it is part of (all mined after collection)
    long_episode_id: int  # its committed step 1 has a 200 KB critic rationale, step 2 none
    datasets_dir: Path


def seed_practice_run(store: Store, folder: Path) -> Practiced:
    """A practice run of two iterations, as the loop stores it; the round's datasets are saved under `folder`.

    Iteration 1: the base searches train tasks 0-3 (tasks 0 and 1 solved, task 3 never reached in the tree; 2, 3,
    1 and 2 distinct actions per node) and samples each twice (task 0's first and task 1's second sample win:
    pass@1 2/8, pass@2 2/4); a round trains candidate r1 on task 0's step pairs and RFT examples from task 1's
    episode; r1 solves 2/2 validation tasks, the base 1/2; r1 is promoted. Iteration 2: r1 searches and samples
    tasks 4-5, all solved; no round. Test: the base 1/2, r1 2/2. No pair is written with its episode.
    """
    run = store.create_run(name="practice-run", config={"suite": "frozenlake-4x4", "pass_k": 2})
    base = store.register_policy(name="p-base", base_model="tiny", state="promoted", run_id=run)

    def play(uid: str, task: TaskRecord, policy: int, mode: str, won: bool, info: dict | None = None) -> int:
        episode = make_episode(
            run,
            task=task,
            outcome="success" if won else "failure",
            failure_kind=None if won else "agent",
            policy_id=policy,
            mode=mode,
            uid=uid,
            n_nodes=13 if mode == "search" else 4,
            with_pairs=False,
        )
        episode.info = info or {}
        return store.write_episode(episode)

    train = [make_task(seed=s) for s in range(6)]
    collected = [
        play(
            f"r{run}/i1/collect/p{base}/{t.task_key}",
            t,
            base,
            "search",
            i < 2,
            {"solved_anywhere": i != 3, "distinct_actions_per_node": (2.0, 3.0, 1.0, 2.0)[i]},
        )
        for i, t in enumerate(train[:4])
    ]
    samples = [
        play(f"r{run}/i1/sample{j}/p{base}/{t.task_key}", t, base, "sample", (i, j) in ((0, 0), (1, 1)))
        for i, t in enumerate(train[:4])
        for j in range(2)
    ]
    # Mined later, when the round built its datasets: step pairs of tasks 0 and 2, a trajectory pair 1 > 3.
    nodes = make_episode(run).nodes  # the same tree make_episode gave every search episode
    step = {e: make_pairs(nodes) for e in (collected[0], collected[2])}
    for episode, pairs in step.items():
        for pair in pairs:
            pair.episode_id = episode
    trajectory = PairRecord(
        kind="trajectory",
        prompt=nodes[1].prompt or "",
        chosen="move 1",
        rejected="move 2",
        margin=1.0,
        chosen_idx=1,
        rejected_idx=1,
        chosen_episode_id=collected[1],
        rejected_episode_id=collected[3],
        info={"task": train[1].task_key},
    )
    ids = store.add_pairs([*step[collected[0]], *step[collected[2]], trajectory])
    used_pair_ids = ids[: len(step[collected[0]])]

    # The round: DPO on task 0's step pairs, RFT on task 1's committed steps, saved as the trainer saves them.
    preference = tuple(
        PreferencePair(
            kind="step",
            task=train[0].task_key,
            prompt=p.prompt,
            chosen=Side(p.chosen, collected[0], base, p.chosen_idx),
            rejected=Side(p.rejected, collected[0], base, p.rejected_idx),
            margin=p.margin or 0.0,
            node_idx=p.node_idx,
        )
        for p in step[collected[0]]
    )
    rft = tuple(
        RFTExample(
            kind="success",
            task=train[1].task_key,
            prompt=n.prompt or "",
            completion=n.action or "",
            episode_id=collected[1],
            node_idx=n.idx,
            policy_id=base,
            value=n.blended_value,
        )
        for n in nodes
        if n.on_path and n.parent_idx is not None
    )
    spec = {"run_id": run, "new_episodes": 4, "older_episodes": 0, "through_episode_id": samples[-1]}
    data = Datasets(
        TrainingSet("step_pairs", preference, spec),
        TrainingSet("trajectory_pairs", (), spec),
        TrainingSet("rft", rft, spec),
        spec,
    )
    datasets_dir = folder / "round-00001" / "datasets"
    data.save(datasets_dir)
    round_id = store.start_training_round(
        run_id=run,
        recipe="rft+dpo",
        policy_in_id=base,
        config={
            "stages": ["rft", "dpo"],
            "skipped_stages": {},
            "data": spec,
            "datasets": {d.name: d.summary() for d in data.all()},
        },
    )
    candidate = store.register_policy(
        name="p-base-r1",
        base_model="tiny",
        parent_id=base,
        iteration=1,
        run_id=run,
        metrics={"round_id": round_id, "datasets_dir": str(datasets_dir)},
    )
    store.mark_pairs_used(round_id, used_pair_ids)
    store.finish_training_round(
        round_id, policy_out_id=candidate, metrics={"train/dpo_loss_first": 0.69, "train/dpo_loss_last": 0.5}
    )

    def evaluate(policy: int, split: str, tasks: list[TaskRecord], wins: tuple[bool, ...], prefix: str) -> None:
        results = []
        for task, won in zip(tasks, wins, strict=True):
            episode = play(f"{prefix}/eval/greedy/p{policy}/{task.task_key}", task, policy, "greedy", won)
            results.append(EvalTaskResult(task, won, float(won), None if won else "agent", episode_id=episode))
        store.record_eval(EvalRecord(policy, "frozenlake-4x4", split, "greedy", results, run_id=run))

    # Validation in iteration 1: the candidate and its parent on the same two tasks.
    validation = [make_task(seed=s, split="validation") for s in (200, 201)]
    for policy, wins in ((candidate, (True, True)), (base, (True, False))):
        evaluate(policy, "validation", validation, wins, f"r{run}/i1")
    decision = {"greedy": {"promote": True, "negative_flips": [], "positive_flips": [validation[1].task_key]}}
    store.set_policy_state(candidate, "promoted", metrics={"promotion": decision})
    store.set_policy_state(base, "retired")

    # Test: played once per policy.
    test = [make_task(seed=s, split="test") for s in (300, 301)]
    for policy, wins in ((base, (True, False)), (candidate, (True, True))):
        evaluate(policy, "test", test, wins, f"r{run}")

    # Iteration 2: the promoted candidate collects; no round.
    for t in train[4:]:
        play(
            f"r{run}/i2/collect/p{candidate}/{t.task_key}",
            t,
            candidate,
            "search",
            True,
            {"solved_anywhere": True, "distinct_actions_per_node": 1.0},
        )
        for j in range(2):
            play(f"r{run}/i2/sample{j}/p{candidate}/{t.task_key}", t, candidate, "sample", True)

    # Outside the loop: one episode whose critic wrote a novel on its first step and nothing on its second.
    long = make_episode(run, task=make_task(seed=50), policy_id=candidate, with_pairs=False)
    for node in long.nodes:
        if node.idx == 1:
            node.critic_rationale = "LONG-RATIONALE " + "x" * LONG_RATIONALE_CHARS
        elif node.idx == 4:
            node.critic_rationale = ""
    long_episode_id = store.write_episode(long)

    pairs = {collected[0]: 4, collected[1]: 1, collected[2]: 4, collected[3]: 1}
    return Practiced(
        run_id=run,
        base_id=base,
        candidate_id=candidate,
        round_id=round_id,
        collected=collected,
        samples=samples,
        used=[collected[0], collected[1]],
        pairs=pairs,
        long_episode_id=long_episode_id,
        datasets_dir=datasets_dir,
    )
