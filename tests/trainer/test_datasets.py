"""Datasets mined from real search trees in a real SQLite store: reproducible, sourced, exportable to TRL."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from pathlib import Path

import datasets
import pytest
from sqlalchemy import select
from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

from practicum.errors import ConfigError
from practicum.store import EpisodeRecord, NodeRecord, Store, TaskRecord, open_store, queries
from practicum.store.models import Episode
from practicum.trainer.config import DataSettings
from practicum.trainer.datasets import build_datasets, rebuild_datasets
from practicum.trainer.mining import PreferencePair
from practicum.trainer.rounds import register_base_policy
from tests.trainer.conftest import TEST_TASK, Collected
from tests.trainer.helpers import path_task


def test_building_twice_from_the_same_store_gives_the_same_rows(store: Store) -> None:
    first, second = build_datasets(store), build_datasets(store)
    assert len(first.step_pairs) > 0 and len(first.rft) > 0 and len(first.trajectory_pairs) > 0
    for a, b in zip(first.all(), second.all(), strict=True):
        assert a.rows == b.rows and a.fingerprint == b.fingerprint
    again = rebuild_datasets(store, json.loads(json.dumps(first.spec)))  # the spec survives a JSON column
    assert [d.fingerprint for d in again.all()] == [d.fingerprint for d in first.all()]


def test_the_rows_do_not_depend_on_the_order_the_episodes_were_written_in(
    collected: Collected, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # With several workers, episodes reach the store in a racing order; the loop's uids name them stably.
    with open_store(f"sqlite:///{collected.db}") as source, source.session() as s:
        copies = []
        for number, episode in enumerate(s.scalars(select(Episode).order_by(Episode.id))):
            task = episode.task
            copies.append(
                EpisodeRecord(
                    run_id=1,
                    task=TaskRecord(
                        suite=task.suite, seed=task.seed, split=task.split, goal=task.goal, params=task.params
                    ),
                    mode=episode.mode,  # type: ignore[arg-type]
                    outcome=episode.outcome,  # type: ignore[arg-type]
                    reward=episode.reward,
                    failure_kind=episode.failure_kind,  # type: ignore[arg-type]
                    policy_id=episode.policy_id,
                    nodes=_node_records(queries.episode_tree(s, episode.id)),
                    uid=f"r1/i1/{episode.mode}/{task.key}/{number}",
                )
            )

    def rows_when_written(order: list[EpisodeRecord], name: str) -> list[list[tuple]]:
        with open_store(f"sqlite:///{tmp_path / name}") as store:
            store.create_run(config={})
            register_base_policy(store, tiny_model_dir)
            for record in order:
                store.write_episode(record)
            data = build_datasets(store)
        return [[_without_ids(r) for r in d.rows] for d in data.all()]

    forward, backward = rows_when_written(copies, "forward.db"), rows_when_written(copies[::-1], "backward.db")
    assert all(forward) and forward == backward


def test_step_pairs_hold_the_exact_prompt_and_actions_of_their_source_nodes(store: Store) -> None:
    margin = 0.1
    data = build_datasets(store, settings=DataSettings(step_margin=margin))
    with store.session() as s:
        for pair in data.step_pairs.rows:
            tree = {n.idx: n for n in queries.episode_tree(s, pair.chosen.episode_id)}
            chosen, rejected = tree[pair.chosen.idx], tree[pair.rejected.idx]  # type: ignore[index]
            assert chosen.parent_idx == rejected.parent_idx == pair.node_idx
            assert pair.prompt == chosen.prompt == rejected.prompt  # what the model saw at that node
            assert (pair.chosen.action, pair.rejected.action) == (chosen.action, rejected.action)
            assert chosen.blended_value - rejected.blended_value > margin  # type: ignore[operator]
            assert (pair.chosen.logprob, pair.rejected.logprob) == (chosen.prior_logprob, rejected.prior_logprob)
            episode = queries.get_episode(s, pair.chosen.episode_id)
            assert pair.chosen.policy_id == episode.policy_id


def test_rft_examples_are_the_committed_steps_of_successful_episodes(store: Store) -> None:
    data = build_datasets(store)
    with store.session() as s:
        for example in data.rft.rows:
            assert queries.get_episode(s, example.episode_id).outcome == "success"
            node = {n.idx: n for n in queries.committed_path(s, example.episode_id)}[example.node_idx]
            assert (example.prompt, example.completion) == (node.prompt, node.action)


def test_steps_where_search_overruled_the_policy_can_weigh_more(store: Store) -> None:
    once = build_datasets(store).rft.rows
    overruled = [x for x in once if x.overruled]
    assert overruled  # the tiny model's search overrules its first choice
    thrice = build_datasets(store, settings=DataSettings(overruled_repeat=3)).rft.rows
    assert len(thrice) == len(once) + 2 * len(overruled)
    assert all(thrice.count(x) == (3 if x.overruled else 1) for x in once)
    # Every other move in these trees ended the game at once with nothing (an exact 0): at the practice rule none
    # ties a committed move, which search valued far above it from many visits ...
    strict = DataSettings(rft_targets="ties", min_visits=3, tie_confidence=1.0)
    assert build_datasets(store, settings=strict).rft.rows == once
    # ... while a rule that allows five standard errors of a committed value from few visits lets some tie.
    loose = DataSettings(rft_targets="ties", min_visits=1, tie_confidence=5.0, step_margin=0.5)
    tied = build_datasets(store, settings=loose).rft.rows
    extra = [x for x in tied if x not in once]
    committed = {(x.episode_id, x.prompt): x.completion for x in once}
    assert extra and len(tied) == len(once) + len(extra)
    assert all(committed[(x.episode_id, x.prompt)] != x.completion for x in extra)
    # Ties have their own confidence: the step pairs' does not loosen them.
    pairs_loose = DataSettings(rft_targets="ties", min_visits=1, pair_confidence=3.0, step_margin=0.5)
    assert (
        build_datasets(store, settings=pairs_loose).rft.rows
        == build_datasets(store, settings=DataSettings(rft_targets="ties", min_visits=1, step_margin=0.5)).rft.rows
    )


def test_repeated_rft_rows_can_be_capped_to_a_number_of_copies(store: Store) -> None:
    every = build_datasets(store).rft.rows
    copies = Counter((x.prompt, x.completion) for x in every)
    assert max(copies.values()) > 1  # episodes of one task pass the same states
    once = build_datasets(store, settings=DataSettings(max_copies=1)).rft.rows
    assert [(x.prompt, x.completion) for x in once] == list(copies)  # each distinct row once, first seen first
    assert all(x in every for x in once)
    twice = build_datasets(store, settings=DataSettings(max_copies=2)).rft.rows
    assert Counter((x.prompt, x.completion) for x in twice) == {k: min(n, 2) for k, n in copies.items()}
    with pytest.raises(ConfigError, match="max_copies"):
        DataSettings(max_copies=0)


def test_held_out_tasks_and_env_or_infra_failures_never_become_training_data(store: Store) -> None:
    with store.session() as s:
        test_ids = {e.id for e in queries.run_episodes(s, 1, task=path_task(TEST_TASK).key)}
        source = queries.episode_tree(s, 1)
    assert test_ids
    crashed = []
    for kind in ("env", "infra"):
        record = _copy_episode(source, run_id=1, outcome="failure", failure_kind=kind)
        crashed.append(store.write_episode(record))
    data = build_datasets(store)
    used = {e for d in data.all() for e in d.episode_ids}
    assert used and not used & test_ids and not used & set(crashed)
    assert all(not row.task.endswith(f":{TEST_TASK}") for d in data.all() for row in d.rows)


def test_sampled_episodes_train_only_when_asked(store: Store) -> None:
    # A pass@k sample (mode "sample") that won is measurement, not training data, unless the settings say so.
    with store.session() as s:
        source = queries.episode_tree(s, 1)
    sampled = store.write_episode(_copy_episode(source, run_id=1, outcome="success", mode="sample"))
    default = build_datasets(store)
    assert sampled not in {e for d in default.all() for e in d.episode_ids}
    asked = build_datasets(store, settings=DataSettings(sampled_episodes=True))
    assert sampled in asked.rft.episode_ids
    assert len(asked.rft) > len(default.rft)


def test_new_data_is_what_arrived_after_the_policy_and_replay_adds_older_rows(
    store: Store, collected: Collected, tiny_model_dir: Path
) -> None:
    time.sleep(0.01)  # the child must be created strictly after the collected episodes
    child = store.register_policy(name="child", base_model="m", parent_id=collected.base_policy_id, iteration=1)
    assert len(build_datasets(store, policy_id=child).pairs) == 0  # nothing arrived since the child was made
    with store.session() as s:
        source = queries.episode_tree(s, 1)  # a successful search episode with step pairs
        assert queries.get_episode(s, 1).outcome == "success"
    time.sleep(0.01)
    new_id = store.write_episode(_copy_episode(source, run_id=1, outcome="success", policy_id=child))
    fresh = build_datasets(store, policy_id=child)
    assert fresh.step_pairs.episode_ids == [new_id] and fresh.spec["new_episodes"] == 1
    replayed = build_datasets(store, policy_id=child, settings=DataSettings(replay_fraction=0.5), seed=3)
    new_rows = [p for p in replayed.step_pairs.rows if p.chosen.episode_id == new_id]
    old_rows = [p for p in replayed.step_pairs.rows if p.chosen.episode_id != new_id]
    assert len(new_rows) == len(fresh.step_pairs) and len(old_rows) == len(new_rows)  # half of the set is replay
    assert (
        replayed.step_pairs.rows
        == build_datasets(store, policy_id=child, settings=DataSettings(replay_fraction=0.5), seed=3).step_pairs.rows
    )


def test_aggregated_rounds_learn_from_every_episode_so_far(store: Store, collected: Collected) -> None:
    time.sleep(0.01)  # the child must be created strictly after the collected episodes
    child = store.register_policy(name="child", base_model="m", parent_id=collected.base_policy_id, iteration=1)
    everything = build_datasets(store)
    aggregated = build_datasets(store, policy_id=child, settings=DataSettings(aggregate=True))
    assert len(build_datasets(store, policy_id=child).rft) == 0  # nothing new since the child was made
    assert len(aggregated.rft) > 0 and aggregated.spec["since"] is None
    for a, b in zip(aggregated.all(), everything.all(), strict=True):
        assert a.rows == b.rows
    assert rebuild_datasets(store, json.loads(json.dumps(aggregated.spec))).rft.rows == aggregated.rft.rows


def test_exported_datasets_load_in_trl_without_conversion(store: Store, tiny_model_dir: Path, tmp_path: Path) -> None:
    data = build_datasets(store)
    paths = data.save(tmp_path / "export")
    meta = json.loads(Path(paths["meta"]).read_text())
    assert meta["datasets"]["step_pairs"]["rows"] == len(data.step_pairs)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    common = {
        "output_dir": str(tmp_path / "trl"),
        "bf16": False,
        "use_cpu": True,
        "report_to": "none",
        "activation_checkpointing": False,
    }
    for name in ("step_pairs", "trajectory_pairs"):
        rows = datasets.load_dataset("json", data_files=paths[name], split="train", cache_dir=str(tmp_path / "c"))
        assert rows.column_names[:3] == ["prompt", "chosen", "rejected"]
        trainer = DPOTrainer(
            model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
            args=DPOConfig(**common),
            train_dataset=rows,
            processing_class=tokenizer,
        )
        assert len(trainer.train_dataset) == len(rows)
        assert {"prompt_ids", "chosen_ids", "rejected_ids"} <= set(trainer.train_dataset.column_names)
    sft_rows = datasets.load_dataset("json", data_files=paths["rft"], split="train", cache_dir=str(tmp_path / "c"))
    assert sft_rows.column_names[:2] == ["prompt", "completion"]
    sft = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
        args=SFTConfig(**common),
        train_dataset=sft_rows,
        processing_class=tokenizer,
    )
    assert len(sft.train_dataset) == len(data.rft)
    hf = data.step_pairs.to_hf()  # the in-memory Hugging Face dataset has the same rows
    assert hf.num_rows == len(data.step_pairs) and hf[0]["prompt"] == data.step_pairs.rows[0].prompt


def test_a_store_without_episodes_gives_empty_datasets(empty_store: Store, tiny_model_dir: Path) -> None:
    policy = register_base_policy(empty_store, tiny_model_dir)
    data = build_datasets(empty_store, policy_id=policy)
    assert [len(d) for d in data.all()] == [0, 0, 0] and data.spec["new_episodes"] == 0


def _node_records(source: list) -> list[NodeRecord]:
    fields = [f for f in NodeRecord.__dataclass_fields__ if f != "info"]
    return [NodeRecord(**{f: getattr(n, f) for f in fields}) for n in source]


def _without_ids(row: object) -> tuple:
    """A row's content without the episode ids, which differ between two stores."""
    ids = {"episode_id", "chosen_episode_id", "rejected_episode_id"}
    flat = row.record() if isinstance(row, PreferencePair) else dataclasses.asdict(row)  # type: ignore[call-overload]
    return tuple(v for k, v in flat.items() if k not in ids)


def _copy_episode(
    source: list,
    *,
    run_id: int,
    outcome: str,
    failure_kind: str | None = None,
    policy_id: int | None = None,
    mode: str = "search",
) -> EpisodeRecord:
    """A new episode with the same tree as `source` (store rows), on the same training task."""
    nodes = _node_records(source)
    task = path_task(0)
    return EpisodeRecord(
        run_id=run_id,
        task=TaskRecord(suite=task.suite, seed=task.seed, split=task.split, goal=task.goal, params=task.params),
        mode=mode,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
        failure_kind=failure_kind,  # type: ignore[arg-type]
        policy_id=policy_id,
        nodes=nodes,
    )


@pytest.fixture(autouse=True)
def _quiet_datasets() -> None:
    datasets.disable_progress_bars()
