"""Run records, policy lineage and promotion, training rounds, evals, and the store's info."""

from __future__ import annotations

import pytest

from practicum.errors import StoreError, UnknownIdError
from practicum.store import EvalRecord, EvalTaskResult, RecordError, Store, open_store, queries
from practicum.store.migrate import head_revision
from practicum.store.models import TrainingRound
from tests.postgres import PostgresServer
from tests.store.factories import make_episode, make_task


def test_run_keeps_what_reproduces_it(store: Store) -> None:
    run_id = store.create_run(
        config={"search": {"simulations": 8}},
        seeds={"python": 1, "torch": 2},
        command="practicum practice --suite frozenlake",
        versions={"torch": "2.13.0", "trl": "1.16.0"},
        git_rev="0123abcd",
    )
    with store.session() as s:
        run = queries.get_run(s, run_id)
    assert run.name.startswith("run-") and run.status == "running" and run.finished_at is None
    assert run.config == {"search": {"simulations": 8}} and run.seeds == {"python": 1, "torch": 2}
    assert run.versions["trl"] == "1.16.0" and run.git_rev == "0123abcd"
    assert run.command == "practicum practice --suite frozenlake"
    store.finish_run(run_id, status="interrupted")
    with store.session() as s:
        run = queries.get_run(s, run_id)
    assert run.status == "interrupted" and run.finished_at is not None and run.finished_at >= run.created_at


def test_run_names_are_unique_and_statuses_checked(store: Store) -> None:
    store.create_run(name="nightly")
    with pytest.raises(StoreError, match=r"a run named 'nightly' already exists; choose another name"):
        store.create_run(name="nightly")
    with pytest.raises(RecordError, match=r"run status is 'done'; use one of 'running', 'finished'"):
        store.finish_run(1, status="done")
    with pytest.raises(UnknownIdError, match=r"run 5 does not exist"):
        store.finish_run(5)
    with pytest.raises(RecordError, match=r"run config cannot be stored as JSON"):
        store.create_run(config={"f": object()})


def test_policy_lineage_and_promotion(store: Store) -> None:
    run_id = store.create_run()
    base = store.register_policy(name="base", base_model="SmolLM2-135M-Instruct", state="promoted")
    child = store.register_policy(
        name="r1",
        base_model="SmolLM2-135M-Instruct",
        parent_id=base,
        iteration=1,
        checkpoint_path="/ckpt/r1",
        run_id=run_id,
    )
    store.set_policy_state(child, "candidate", metrics={"eval/success_rate": 0.5})
    store.set_policy_state(child, "candidate", metrics={"eval/newly_failed": 0})
    store.promote_policy(child)
    with store.session() as s:
        promoted = queries.promoted_policy(s)
        assert promoted is not None and promoted.id == child
        assert promoted.metrics == {"eval/success_rate": 0.5, "eval/newly_failed": 0}
        assert queries.get_policy(s, "base").state == "retired"
        assert queries.get_policy(s, child).parent_id == base
        assert [p.name for p in queries.list_policies(s, run_id=run_id)] == ["r1"]
        assert [p.name for p in queries.list_policies(s, state="retired")] == ["base"]
    with pytest.raises(UnknownIdError, match=r"policy 99 does not exist"):
        store.register_policy(name="orphan", base_model="m", parent_id=99)
    with pytest.raises(StoreError, match=r"a policy named 'r1' already exists"):
        store.register_policy(name="r1", base_model="m")
    with pytest.raises(RecordError, match=r"policy state is 'best'; use one of 'candidate', 'promoted'"):
        store.set_policy_state(child, "best")


def test_training_round_records_policy_in_and_out(store: Store) -> None:
    run_id = store.create_run()
    base = store.register_policy(name="base", base_model="m")
    round_id = store.start_training_round(run_id=run_id, recipe="dpo", policy_in_id=base, config={"beta": 0.1})
    out = store.register_policy(name="r1", base_model="m", parent_id=base, iteration=1)
    store.finish_training_round(round_id, policy_out_id=out, metrics={"train/dpo_loss": 0.46})
    with store.session() as s:
        tr = s.get(TrainingRound, round_id)
    assert tr is not None
    assert (tr.status, tr.policy_in_id, tr.policy_out_id, tr.recipe) == ("finished", base, out, "dpo")
    assert tr.config == {"beta": 0.1} and tr.metrics == {"train/dpo_loss": 0.46} and tr.finished_at is not None
    with pytest.raises(UnknownIdError, match=r"training round 42 does not exist"):
        store.finish_training_round(42)
    with pytest.raises(RecordError, match=r"training round recipe is empty"):
        store.start_training_round(run_id=run_id, recipe="")


def test_eval_is_refused_when_empty_duplicated_or_for_an_unknown_policy(store: Store) -> None:
    policy = store.register_policy(name="p", base_model="m")
    t = make_task(split="test")
    with pytest.raises(RecordError, match=r"an eval has no results"):
        store.record_eval(EvalRecord(policy_id=policy, suite="s", split="test", mode="greedy", results=[]))
    with pytest.raises(RecordError, match=r"appears twice in one eval"):
        store.record_eval(
            EvalRecord(
                policy_id=policy,
                suite="s",
                split="test",
                mode="greedy",
                results=[EvalTaskResult(t, True), EvalTaskResult(t, False)],
            )
        )
    with pytest.raises(UnknownIdError, match=r"policy 9 does not exist"):
        store.record_eval(
            EvalRecord(policy_id=9, suite="s", split="test", mode="greedy", results=[EvalTaskResult(t, True)])
        )
    assert store.info().counts["evals"] == 0 and store.info().counts["tasks"] == 0


def test_eval_results_link_to_their_episodes(store: Store) -> None:
    run_id = store.create_run()
    policy = store.register_policy(name="p", base_model="m")
    task = make_task(seed=3, split="test")
    episode_id = store.write_episode(make_episode(run_id, task=task, policy_id=policy, mode="greedy"))
    eval_id = store.record_eval(
        EvalRecord(
            policy_id=policy,
            suite=task.suite,
            split="test",
            mode="greedy",
            results=[EvalTaskResult(task, True, 1.0, episode_id=episode_id)],
        )
    )
    with store.session() as s:
        [(key, result)] = queries.eval_results(s, eval_id)
    assert key == task.task_key and result.episode_id == episode_id and result.success is True


def test_info_shows_revision_counts_and_masks_the_password(store: Store) -> None:
    run_id = store.create_run()
    store.write_episode(make_episode(run_id, n_nodes=7))
    info = store.info()
    assert info.revision == info.head == head_revision()
    assert info.dialect in ("sqlite", "postgresql")
    assert info.counts["runs"] == 1 and info.counts["episodes"] == 1 and info.counts["nodes"] == 7
    assert set(info.counts) == {
        "runs",
        "tasks",
        "policies",
        "episodes",
        "nodes",
        "pairs",
        "training_rounds",
        "evals",
        "eval_results",
        "edits",
    }


@pytest.mark.postgres
def test_postgres_info_masks_the_password(postgres_server: PostgresServer) -> None:
    name = postgres_server.create_database()
    try:
        # The test server trusts local connections, so any password gets in; it must never be shown.
        with open_store(postgres_server.url(name, password="s3cret")) as store:
            info = store.info()
            assert "s3cret" not in info.url and "***" in info.url
            assert "s3cret" not in repr(store)
            assert info.url.startswith("postgresql+psycopg://postgres:***@127.0.0.1:")
    finally:
        postgres_server.drop_database(name)


def test_a_run_keeps_why_it_ended_and_resuming_clears_it(store: Store) -> None:
    from practicum.errors import end_of

    run_id = store.create_run(config={})
    status, reason = end_of(RuntimeError("disk full\nsecond line"))
    store.finish_run(run_id, status=status, reason=reason)
    with store.session() as s:
        run = queries.get_run(s, run_id)
        assert (run.status, run.status_reason) == ("failed", "RuntimeError: disk full")
    store.finish_run(run_id, status="running")
    with store.session() as s:
        assert queries.get_run(s, run_id).status_reason is None
    assert end_of(KeyboardInterrupt()) == ("interrupted", "stopped by Ctrl-C")
