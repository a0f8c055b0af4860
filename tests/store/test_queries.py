"""Read helpers: a run's episodes with filters and paging, trees, paths, rates, summaries, new data."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from practicum.errors import UnknownIdError
from practicum.store import EvalRecord, EvalTaskResult, PairRecord, RecordError, Store, queries
from practicum.store.models import TrainingRound
from tests.store.factories import make_episode, make_task


@dataclass
class World:
    run_id: int
    other_run_id: int
    policy_a: int
    policy_b: int
    episode_ids: list[int]


@pytest.fixture
def world(store: Store) -> World:
    """Two runs; run 1 has 8 episodes over two suites, two splits, two policies and every outcome."""
    run_id = store.create_run(name="main", config={"k": 3}, seeds=[1], command="practicum practice", git_rev="abc")
    other = store.create_run(name="other")
    a = store.register_policy(name="smollm2-base", base_model="SmolLM2-135M-Instruct")
    b = store.register_policy(name="smollm2-r1", base_model="SmolLM2-135M-Instruct", parent_id=a, iteration=1)
    lake_train, lake_held = make_task("frozenlake-4x4", 1, "train"), make_task("frozenlake-4x4", 2, "test")
    shop_train = make_task("shop", 7, "train")
    specs = [
        (lake_train, a, "success", None, 5),
        (lake_train, a, "failure", "agent", 5),
        (lake_held, a, "failure", "env", 1),
        (shop_train, a, "success", None, 13),
        (shop_train, b, "success", None, 13),
        (lake_held, b, "success", None, 4),
        (lake_held, b, "failure", "agent", 4),
        (shop_train, b, "failure", "infra", 1),
    ]
    ids = [
        store.write_episode(make_episode(run_id, task=task, policy_id=pol, outcome=out, failure_kind=fk, n_nodes=n))
        for task, pol, out, fk, n in specs
    ]
    store.write_episode(make_episode(other, task=lake_train, policy_id=a))
    return World(run_id, other, a, b, ids)


def test_run_episodes_filters_and_pages(store: Store, world: World) -> None:
    with store.session() as s:

        def ids(**filters: object) -> list[int]:
            return [e.id for e in queries.run_episodes(s, world.run_id, **filters)]  # type: ignore[arg-type]

        e = world.episode_ids
        assert ids() == e
        assert ids(suite="shop") == [e[3], e[4], e[7]]
        assert ids(task="frozenlake-4x4:2") == [e[2], e[5], e[6]]
        assert ids(split="test") == [e[2], e[5], e[6]]
        assert ids(outcome="failure") == [e[1], e[2], e[6], e[7]]
        assert ids(failure_kind="agent") == [e[1], e[6]]
        assert ids(policy_id=world.policy_b, outcome="success") == [e[4], e[5]]
        assert ids(suite="frozenlake-4x4", split="train", policy_id=world.policy_a) == [e[0], e[1]]
        assert ids(limit=3) == e[:3] and ids(limit=3, offset=3) == e[3:6] and ids(limit=3, offset=6) == e[6:]
        assert ids(limit=None) == e
        assert queries.count_episodes(s, world.run_id, outcome="failure") == 4
        assert queries.count_episodes(s) == 9
        with pytest.raises(UnknownIdError, match="run 999 does not exist"):
            queries.run_episodes(s, 999)
        with pytest.raises(RecordError, match=r"outcome filter is 'lost'"):
            queries.run_episodes(s, world.run_id, outcome="lost")


def test_tree_children_and_committed_path(store: Store, world: World) -> None:
    episode_id = world.episode_ids[3]  # 13 nodes: a complete ternary tree of depth 2
    with store.session() as s:
        tree = queries.episode_tree(s, episode_id)
        assert [n.idx for n in tree] == list(range(13))
        assert [n.idx for n in queries.node_children(s, episode_id)] == [0]
        assert [n.idx for n in queries.node_children(s, episode_id, 0)] == [1, 2, 3]
        assert [n.idx for n in queries.node_children(s, episode_id, 2)] == [7, 8, 9]
        assert queries.node_children(s, episode_id, 12) == []
        assert queries.child_counts(s, episode_id) == {0: 3, 1: 3, 2: 3, 3: 3}
        # The ORM relationships follow the composite (episode_id, parent_idx) key within the session.
        assert [c.idx for c in tree[0].children] == [1, 2, 3]
        assert tree[5].parent is not None and tree[5].parent.idx == 1 and tree[0].parent is None
        path = queries.committed_path(s, episode_id)
        assert [(n.idx, n.depth) for n in path] == [(0, 0), (1, 1), (4, 2)]
        with pytest.raises(UnknownIdError, match="episode 12345 does not exist"):
            queries.episode_tree(s, 12345)
        with pytest.raises(UnknownIdError, match="episode 12345 does not exist"):
            queries.committed_path(s, 12345)


def test_success_rate_per_policy_and_split_from_episodes(store: Store, world: World) -> None:
    with store.session() as s:
        rates = {(r.policy_name, r.split): (r.n, r.successes) for r in queries.success_rates(s, run_id=world.run_id)}
        assert rates == {
            ("smollm2-base", "train"): (3, 2),
            ("smollm2-base", "test"): (1, 0),
            ("smollm2-r1", "train"): (2, 1),
            ("smollm2-r1", "test"): (2, 1),
        }
        everywhere = {(r.policy_name, r.split): r.success_rate for r in queries.success_rates(s)}
        assert everywhere[("smollm2-base", "train")] == pytest.approx(3 / 4)


def test_success_rate_per_policy_and_split_from_evals(store: Store, world: World) -> None:
    t = [make_task("frozenlake-4x4", seed, "test") for seed in (20, 21, 22, 23)]
    base = store.record_eval(
        EvalRecord(
            world.policy_a,
            "frozenlake-4x4",
            "test",
            "greedy",
            [EvalTaskResult(t[0], True, 1.0), EvalTaskResult(t[1], True, 1.0), EvalTaskResult(t[2], False, 0.0)],
        )
    )
    results = [
        EvalTaskResult(t[0], True, 1.0),
        EvalTaskResult(t[1], False, 0.0, failure_kind="agent"),
        EvalTaskResult(t[2], True, 0.5),
        EvalTaskResult(t[3], True, 1.0),
    ]
    candidate = store.record_eval(
        EvalRecord(world.policy_b, "frozenlake-4x4", "test", "greedy", results, run_id=world.run_id)
    )
    with store.session() as s:
        rates = {
            (r.policy_id, r.split): (r.n, r.successes, round(r.mean_reward, 4)) for r in queries.eval_success_rates(s)
        }
        assert rates == {(world.policy_a, "test"): (3, 2, 0.6667), (world.policy_b, "test"): (4, 3, 0.625)}
        assert queries.newly_failed_tasks(s, candidate, base) == ["frozenlake-4x4:21"]
        stored = queries.list_evals(s, policy_id=world.policy_b)[0]
        assert (stored.n_tasks, stored.successes, stored.success_rate) == (4, 3, 0.75)
        assert [k for k, _ in queries.eval_results(s, candidate)] == [task.task_key for task in t]


def test_run_summary_counts_episodes_nodes_and_breakdowns(store: Store, world: World) -> None:
    with store.session() as s:
        summary = queries.run_summary(s, world.run_id)
        by_name = queries.run_summary(s, "main")
    assert by_name.total == summary.total
    assert summary.run.name == "main" and summary.run.config == {"k": 3} and summary.run.git_rev == "abc"
    assert summary.episodes == 8
    assert summary.success_rate == pytest.approx(4 / 8)
    assert summary.nodes == 5 + 5 + 1 + 13 + 13 + 4 + 4 + 1
    assert summary.total.failures == {"agent": 2, "env": 1, "infra": 1}
    assert {k: (g.episodes, g.successes) for k, g in summary.by_split.items()} == {"train": (5, 3), "test": (3, 1)}
    assert {k: (g.episodes, g.successes) for k, g in summary.by_suite.items()} == {
        "frozenlake-4x4": (5, 2),
        "shop": (3, 2),
    }
    assert summary.by_suite["shop"].nodes == 27
    assert summary.total.pairs > 0
    assert summary.prompt_tokens == 800 and summary.wall_seconds == pytest.approx(12.0)


def test_list_and_get_runs(store: Store, world: World) -> None:
    with store.session() as s:
        assert [r.name for r in queries.list_runs(s)] == ["other", "main"]
        assert queries.get_run(s, world.run_id).name == "main"
        assert queries.get_run(s, str(world.run_id)).name == "main"
        assert queries.get_run(s, "other").id == world.other_run_id
        with pytest.raises(UnknownIdError, match=r"no run named 'mian'; recent runs: other, main"):
            queries.get_run(s, "mian")
        with pytest.raises(UnknownIdError, match=r"run 77 does not exist"):
            queries.get_run(s, 77)


def test_new_data_since_a_policy_counts_later_episodes_and_unused_pairs(store: Store, world: World) -> None:
    round_id = store.start_training_round(run_id=world.run_id, recipe="dpo", policy_in_id=world.policy_b)
    with store.session() as s:
        old_pairs = queries.unused_pair_ids(s, kind="step")
    assert old_pairs
    store.mark_pairs_used(round_id, old_pairs)
    new_policy = store.register_policy(
        name="smollm2-r2", base_model="SmolLM2-135M-Instruct", parent_id=world.policy_b, iteration=2
    )
    store.finish_training_round(round_id, policy_out_id=new_policy, metrics={"train/dpo_loss": 0.41})
    # Data that arrives after the round started is new for the policy it produced.
    fresh = [
        store.write_episode(
            make_episode(world.run_id, task=make_task(seed=50), outcome="failure", failure_kind="agent")
        ),
        store.write_episode(make_episode(world.run_id, task=make_task(seed=51), outcome="success")),
    ]
    with store.session() as s:
        new = queries.new_data_since(s, new_policy)
        round_start = s.get(TrainingRound, round_id)
        assert round_start is not None and new.since == round_start.started_at
        assert (new.episodes, new.successes, new.agent_failures) == (2, 1, 1)
        fresh_pairs = sum(queries.get_episode(s, e).pair_count for e in fresh)
        assert new.pairs == fresh_pairs > 0
        unused = queries.unused_pairs(s, since=new.since)
        assert {p.episode_id for p in unused} == set(fresh)
        assert queries.unused_pair_ids(s, run_id=world.other_run_id) == []
        # Before any round, a policy's cutoff is its creation time.
        assert queries.training_cutoff(s, world.policy_a) == queries.get_policy(s, world.policy_a).created_at
    # A pair keeps the first round that used it.
    second = store.start_training_round(run_id=world.run_id, recipe="rft")
    assert store.mark_pairs_used(second, old_pairs[:2]) == 0


def test_step_pairs_can_be_mined_later_from_a_stored_tree(store: Store, world: World) -> None:
    episode_id = world.episode_ids[0]
    pair = PairRecord(
        kind="step", prompt="p", chosen="a", rejected="b", episode_id=episode_id, node_idx=1, chosen_idx=4
    )
    [pair_id] = store.add_pairs([pair])
    with store.session() as s:
        assert pair_id in [p.id for p in queries.episode_pairs(s, episode_id)]
