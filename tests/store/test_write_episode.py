"""write_episode: a whole tree with its pairs in one transaction, read back exactly; bad input writes nothing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from practicum.errors import UnknownIdError
from practicum.store import EpisodeRecord, NodeRecord, PairRecord, RecordError, Store, TaskRecord, queries
from practicum.store.models import Episode, NodeRow, Pair, TaskRow
from tests.store.factories import make_episode, make_task


def _counts(store: Store) -> dict[str, int]:
    return store.info().counts


def test_episode_tree_round_trips_every_field(store: Store) -> None:
    run_id = store.create_run(name="r")
    started = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    record = make_episode(run_id, n_nodes=40, outcome="failure", failure_kind="agent", reward=0.25)
    record = dataclasses.replace(record, started_at=started, finished_at=started + timedelta(seconds=9))
    episode_id = store.write_episode(record)

    with store.session() as s:
        episode = queries.get_episode(s, episode_id)
        tree = queries.episode_tree(s, episode_id)
        pairs = queries.episode_pairs(s, episode_id)
        task = s.get(TaskRow, episode.task_id)
    assert (episode.outcome, episode.failure_kind, episode.reward, episode.mode) == ("failure", "agent", 0.25, "search")
    assert episode.started_at == started and episode.finished_at == started + timedelta(seconds=9)
    assert episode.created_at.tzinfo is not None
    assert (episode.node_count, episode.pair_count, episode.max_depth) == (40, len(record.pairs), 3)
    assert (episode.prompt_tokens, episode.completion_tokens, episode.steps, episode.invalid_actions) == (100, 10, 3, 1)
    assert episode.info == {"simulations": 8}
    assert task is not None and (task.key, task.split, task.params) == ("frozenlake-4x4:0", "train", {"size": 4})

    columns = [f.name for f in dataclasses.fields(NodeRecord)]
    assert [{c: getattr(n, c) for c in columns} for n in tree] == [dataclasses.asdict(n) for n in record.nodes]

    stored = [
        (p.kind, p.prompt, p.chosen, p.rejected, p.margin, p.node_idx, p.chosen_idx, p.rejected_idx, p.chosen_logprob)
        for p in pairs
    ]
    given = [
        (p.kind, p.prompt, p.chosen, p.rejected, p.margin, p.node_idx, p.chosen_idx, p.rejected_idx, p.chosen_logprob)
        for p in record.pairs
    ]
    assert stored == given and all(p.episode_id == episode_id and p.round_id is None for p in pairs)


def test_exact_prompt_text_survives_unicode_and_newlines(store: Store) -> None:
    run_id = store.create_run()
    prompt = "Goal: buy a naïve café mug — 漢字\n\tOptions:\n1. click [Buy]\n" + "x" * 5000
    nodes = [
        NodeRecord(idx=0, parent_idx=None, depth=0, observation="start"),
        NodeRecord(idx=1, parent_idx=0, depth=1, action="click [Buy]", prompt=prompt),
    ]
    episode_id = store.write_episode(
        EpisodeRecord(run_id=run_id, task=make_task(), mode="greedy", outcome="success", nodes=nodes)
    )
    with store.session() as s:
        assert queries.episode_tree(s, episode_id)[1].prompt == prompt


def test_same_uid_twice_writes_one_episode(store: Store) -> None:
    run_id = store.create_run()
    first = store.write_episode(make_episode(run_id, uid="loop-step-7"))
    second = store.write_episode(make_episode(run_id, uid="loop-step-7", n_nodes=30))
    assert first == second
    counts = _counts(store)
    assert (counts["episodes"], counts["nodes"]) == (1, 13)


def test_tasks_are_shared_between_episodes_and_keep_their_split(store: Store) -> None:
    run_id = store.create_run()
    store.write_episode(make_episode(run_id, task=make_task(seed=1)))
    store.write_episode(make_episode(run_id, task=make_task(seed=1)))
    assert _counts(store)["tasks"] == 1
    with pytest.raises(RecordError, match=r"stored with split 'train' but given as 'validation'.*disjoint"):
        store.write_episode(make_episode(run_id, task=make_task(seed=1, split="validation")))
    assert _counts(store)["episodes"] == 2


def test_unknown_run_or_policy_raises_and_writes_nothing(store: Store) -> None:
    with pytest.raises(UnknownIdError, match=r"run 999 does not exist"):
        store.write_episode(make_episode(999))
    run_id = store.create_run()
    with pytest.raises(UnknownIdError, match=r"policy 42 does not exist"):
        store.write_episode(make_episode(run_id, policy_id=42))
    counts = _counts(store)
    assert (counts["episodes"], counts["nodes"], counts["tasks"], counts["pairs"]) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"outcome": "won"}, r"episode outcome is 'won'; use one of 'success', 'failure'"),
        ({"mode": "mcts"}, r"episode mode is 'mcts'; use one of 'greedy', 'search'"),
        ({"outcome": "failure"}, r"failure_kind is None; say 'agent', 'env' or 'infra'"),
        ({"failure_kind": "agent"}, r"outcome is 'success' but failure_kind is 'agent'"),
        ({"reward": float("nan")}, r"episode reward is nan; store a finite number"),
        ({"steps": -1}, r"episode steps is -1; it counts something"),
        ({"info": {"when": datetime.now()}}, r"episode info cannot be stored as JSON"),
        (
            {"task": TaskRecord(suite="s", seed=0, split="dev", goal="g")},  # type: ignore[arg-type]
            r"split is 'dev'; use one of 'train', 'validation', 'test'",
        ),
    ],
)
def test_bad_episode_fields_are_refused_before_writing(store: Store, change: dict[str, object], message: str) -> None:
    run_id = store.create_run()
    with pytest.raises(RecordError, match=message):
        store.write_episode(dataclasses.replace(make_episode(run_id), **change))  # type: ignore[arg-type]
    assert _counts(store)["episodes"] == 0


def test_tree_that_is_not_parent_first_is_refused(store: Store) -> None:
    run_id = store.create_run()
    nodes = [
        NodeRecord(idx=0, parent_idx=None, depth=0),
        NodeRecord(idx=1, parent_idx=2, depth=2),
        NodeRecord(idx=2, parent_idx=0, depth=1),
    ]
    record = EpisodeRecord(run_id=run_id, task=make_task(), mode="search", outcome="success", nodes=nodes)
    with pytest.raises(RecordError, match=r"node 1 has parent_idx 2, which is not an earlier node.*parent_idx < idx"):
        store.write_episode(record)
    duplicate = [NodeRecord(idx=0, parent_idx=None, depth=0), NodeRecord(idx=0, parent_idx=None, depth=0)]
    with pytest.raises(RecordError, match=r"node idx 0 appears twice"):
        store.write_episode(dataclasses.replace(record, nodes=duplicate))
    assert _counts(store)["nodes"] == 0


def test_pairs_must_point_at_nodes_of_the_tree(store: Store) -> None:
    run_id = store.create_run()
    record = make_episode(run_id, n_nodes=4)
    bad = PairRecord(kind="step", prompt="p", chosen="a", rejected="b", node_idx=0, chosen_idx=1, rejected_idx=9)
    with pytest.raises(RecordError, match=r"rejected_idx is 9, which is not a node of this episode's tree"):
        store.write_episode(dataclasses.replace(record, pairs=[bad]))
    trajectory = PairRecord(
        kind="trajectory", prompt="p", chosen="a", rejected="b", chosen_episode_id=1, rejected_episode_id=2
    )
    with pytest.raises(
        RecordError, match=r"write_episode takes step pairs only; add trajectory pairs with Store.add_pairs"
    ):
        store.write_episode(dataclasses.replace(record, pairs=[trajectory]))
    assert _counts(store)["episodes"] == 0


def test_episode_from_plain_dicts(store: Store) -> None:
    run_id = store.create_run()
    record = EpisodeRecord.from_dict(
        {
            "run_id": run_id,
            "task": {"suite": "taxi", "seed": 4, "split": "test", "goal": "deliver"},
            "mode": "greedy",
            "outcome": "failure",
            "failure_kind": "infra",
            "error": "browser crashed",
            "nodes": [{"idx": 0, "parent_idx": None, "depth": 0, "observation": "o", "on_path": True}],
        }
    )
    episode_id = store.write_episode(record)
    with store.session() as s:
        assert queries.get_episode(s, episode_id).error == "browser crashed"
        assert [n.observation for n in queries.committed_path(s, episode_id)] == ["o"]
    with pytest.raises(RecordError, match=r"NodeRecord has no field\(s\) parent; known fields: "):
        NodeRecord.from_dict({"idx": 0, "parent": None, "depth": 0})


def test_trajectory_pairs_between_two_stored_episodes(store: Store) -> None:
    run_id = store.create_run()
    good = store.write_episode(make_episode(run_id, outcome="success", with_pairs=False))
    bad = store.write_episode(make_episode(run_id, outcome="failure", failure_kind="agent", with_pairs=False))
    [pair_id] = store.add_pairs(
        [
            PairRecord(
                kind="trajectory",
                prompt="goal",
                chosen="a b c",
                rejected="a x",
                chosen_episode_id=good,
                rejected_episode_id=bad,
            )
        ]
    )
    with store.session() as s:
        assert [p.id for p in queries.episode_pairs(s, bad)] == [pair_id]
    with pytest.raises(UnknownIdError, match=r"episode 777 does not exist"):
        store.add_pairs(
            [
                PairRecord(
                    kind="trajectory",
                    prompt="g",
                    chosen="a",
                    rejected="b",
                    chosen_episode_id=good,
                    rejected_episode_id=777,
                )
            ]
        )
    with pytest.raises(UnknownIdError, match=r"episode 1 has no node 99"):
        store.add_pairs([PairRecord(kind="step", prompt="g", chosen="a", rejected="b", episode_id=good, node_idx=99)])


def test_nodes_are_stored_once_per_episode_and_counted(store: Store) -> None:
    run_id = store.create_run()
    ids = [store.write_episode(make_episode(run_id, n_nodes=n)) for n in (1, 5, 50)]
    with store.session() as s:
        counted = dict(s.execute(select(NodeRow.episode_id, func.count()).group_by(NodeRow.episode_id)).all())
        aggregates = dict(s.execute(select(Episode.id, Episode.node_count)).all())
        assert s.scalar(select(func.count()).select_from(Pair)) == sum(e.pair_count for e in s.scalars(select(Episode)))
    assert counted == aggregates == dict(zip(ids, (1, 5, 50), strict=True))
