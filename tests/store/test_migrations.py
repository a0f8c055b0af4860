"""Schema migrations: new stores at head, older ones upgraded on open, newer ones refused untouched."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from practicum.errors import StoreError
from practicum.store import EvalRecord, EvalTaskResult, make_engine, open_store
from practicum.store.migrate import (
    alembic_config,
    current_revision,
    foreign_keys_off,
    head_revision,
    known_revisions,
)
from practicum.store.models import TABLES, Base, PolicyRow
from tests.store.factories import make_episode, make_task


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_base_schema_is_the_first_revision_and_head_is_known() -> None:
    assert "0001_base_schema" in known_revisions()
    assert head_revision() in known_revisions()


def test_fresh_store_is_at_head_with_every_table(store_url: str) -> None:
    with open_store(store_url) as store:
        info = store.info()
    assert info.revision == info.head == head_revision()
    assert set(TABLES) <= _tables(store_url)


def test_models_and_migrations_agree(store_url: str) -> None:
    # What `alembic revision --autogenerate` would find: nothing.
    with open_store(store_url) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_unversioned_empty_database_is_upgraded_on_open(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # an existing, empty SQLite file
    with open_store(f"sqlite:///{path}") as store:
        assert store.info().revision == head_revision()


def test_downgraded_store_is_upgraded_in_place_on_open(store_url: str) -> None:
    with open_store(store_url) as store:
        run_id = store.create_run(name="before")
        with store.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
            assert current_revision(conn) is None
    assert not set(TABLES) & _tables(store_url)
    with open_store(store_url) as store:
        assert store.info().revision == head_revision()
        # The upgraded store works: a new run gets written.
        assert store.create_run(name="after") >= 1
        assert store.info().counts["runs"] == 1
    del run_id


def test_store_from_a_newer_practicum_is_refused_untouched(store_url: str) -> None:
    with open_store(store_url) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    with pytest.raises(StoreError, match=r"schema revision 9999_from_the_future.*newer practicum; upgrade practicum"):
        open_store(store_url)
    engine = make_engine(store_url)
    with engine.connect() as conn:
        assert current_revision(conn) == "9999_from_the_future"
    engine.dispose()


def test_unknown_revision_in_an_otherwise_empty_database_creates_no_tables(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        conn.execute(text("INSERT INTO alembic_version VALUES ('abc123')"))
    engine.dispose()
    with pytest.raises(StoreError, match="upgrade practicum"):
        open_store(sqlite_url)
    assert _tables(sqlite_url) == {"alembic_version"}


def test_practicum_tables_without_a_revision_are_refused(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    Base.metadata.create_all(engine)  # as if someone bypassed the migrations
    engine.dispose()
    with pytest.raises(StoreError, match=r"has practicum tables \(.*\) but no schema revision.*use a new database"):
        open_store(sqlite_url)


def _open_and_count(url: str) -> str | None:
    with open_store(url) as store:
        return store.info().revision


def test_processes_opening_one_new_store_at_once_create_it_once(store_url: str) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        revisions = pool.map(_open_and_count, [store_url] * 4)
    assert revisions == [head_revision()] * 4


def test_upgrade_to_sample_mode_keeps_every_episode_node_and_pair(store_url: str) -> None:
    # 0004 rebuilds the episodes table on SQLite to change its CHECK; with foreign keys on, dropping the old
    # table would cascade into nodes and pairs unless the migration guards against it.
    with open_store(store_url) as store:
        run_id = store.create_run(name="old")
        store.write_episode(make_episode(run_id, uid="kept"))
        before = store.info().counts
        with store.engine.connect() as conn, foreign_keys_off(conn), conn.begin():
            command.downgrade(alembic_config(conn), "0003_leases")
    with open_store(store_url) as store:
        assert store.info().revision == head_revision()
        assert store.info().counts == before
        store.write_episode(make_episode(run_id, uid="sampled", mode="sample"))  # the new mode is accepted
        assert store.info().counts["episodes"] == before["episodes"] + 1


def test_downgrade_from_sample_mode_drops_only_sampled_episodes(store_url: str) -> None:
    with open_store(store_url) as store:
        run_id = store.create_run(name="mixed")
        store.write_episode(make_episode(run_id, uid="searched"))
        store.write_episode(make_episode(run_id, uid="sampled", mode="sample"))
        with store.engine.connect() as conn, foreign_keys_off(conn), conn.begin():
            command.downgrade(alembic_config(conn), "0003_leases")
            modes = [row[0] for row in conn.execute(text("SELECT mode FROM episodes"))]
            nodes = conn.execute(text("SELECT COUNT(*) FROM nodes")).scalar_one()
    assert modes == ["search"]
    assert nodes == len(make_episode(run_id).nodes)


def _splits(conn: Connection) -> dict[str, list[str]]:
    tables = ("tasks", "evals")
    return {table: [row[0] for row in conn.execute(text(f"SELECT split FROM {table} ORDER BY id"))] for table in tables}


def test_a_held_out_task_and_eval_of_an_older_store_become_test_ones(store_url: str) -> None:
    with open_store(store_url) as store:
        policy = store.register_policy(name="p", base_model="m")
        with store.engine.connect() as conn, foreign_keys_off(conn), conn.begin():
            command.downgrade(alembic_config(conn), "0004_sample_mode")
            # What practicum wrote before the validation split: a held-out task and a greedy eval on it.
            conn.execute(
                text(
                    "INSERT INTO tasks (key, suite, seed, split, goal, params) "
                    "VALUES (:k, :s, 100000, 'heldout', 'g', '{}')"
                ),
                {"k": "frozenlake-4x4:100000", "s": "frozenlake-4x4"},
            )
            conn.execute(
                text(
                    "INSERT INTO evals (policy_id, suite, split, mode, n_tasks, successes, success_rate, mean_reward, "
                    "created_at, info) VALUES (:p, 'frozenlake-4x4', 'heldout', 'greedy', 1, 1, 1.0, 1.0, "
                    "CURRENT_TIMESTAMP, '{}')"
                ),
                {"p": policy},
            )
            conn.execute(
                text("INSERT INTO eval_results (eval_id, task_id, success, reward) VALUES (1, 1, :yes, 1.0)"),
                {"yes": True},
            )
    with open_store(store_url) as store:
        assert store.info().revision == head_revision()
        with store.engine.connect() as conn:
            assert _splits(conn) == {"tasks": ["test"], "evals": ["test"]}
        # The upgraded store takes the old task as a test task, and validation evals beside it.
        task = make_task(seed=100000, split="test")
        result = [EvalTaskResult(task, True, 1.0)]
        store.record_eval(EvalRecord(policy_id=policy, suite=task.suite, split="test", mode="greedy", results=result))
        other = [EvalTaskResult(make_task(seed=200000, split="validation"), False)]
        store.record_eval(
            EvalRecord(policy_id=policy, suite=task.suite, split="validation", mode="greedy", results=other)
        )
        with store.engine.connect() as conn:
            assert _splits(conn) == {"tasks": ["test", "validation"], "evals": ["test", "test", "validation"]}
        with pytest.raises(IntegrityError), store.engine.begin() as conn:  # the new constraint refuses the old name
            conn.execute(text("UPDATE tasks SET split = 'heldout' WHERE id = 1"))


def test_downgrade_from_three_splits_makes_validation_and_test_held_out(store_url: str) -> None:
    with open_store(store_url) as store:
        policy = store.register_policy(name="p", base_model="m")
        for seed, split in ((1, "train"), (100000, "test"), (200000, "validation")):
            result = [EvalTaskResult(make_task(seed=seed, split=split), True)]
            store.record_eval(
                EvalRecord(policy_id=policy, suite="frozenlake-4x4", split=split, mode="greedy", results=result)
            )  # type: ignore[arg-type]
        with store.engine.connect() as conn, foreign_keys_off(conn), conn.begin():
            command.downgrade(alembic_config(conn), "0004_sample_mode")
            assert _splits(conn) == {"tasks": ["train", "heldout", "heldout"], "evals": ["train", "heldout", "heldout"]}


def _stored_paths(conn: Connection) -> dict[str, tuple[str, dict[str, str]]]:
    """Each policy's checkpoint path and metrics as the database holds them (not as the store reads them)."""
    rows = conn.execute(text("SELECT name, checkpoint_path, metrics FROM policies ORDER BY id"))
    return {name: (path, json.loads(metrics)) for name, path, metrics in rows}


def test_an_older_stores_paths_under_its_folder_become_relative_and_follow_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "a"
    folder.mkdir()
    inside = {"adapter_path": str(folder / "ckpt" / "adapter"), "datasets_dir": str(folder / "ckpt" / "datasets")}
    with open_store(f"sqlite:///{folder / 'store.db'}") as store:
        store.register_policy(name="in", base_model="m", checkpoint_path=str(folder / "ckpt" / "model"), metrics=inside)
        store.register_policy(name="out", base_model="m", checkpoint_path="/elsewhere/model", metrics={"loss": 1.0})
        with store.engine.connect() as conn:  # a new store writes them relative at once
            assert _stored_paths(conn)["in"][0] == "ckpt/model"
        with store.engine.connect() as conn, foreign_keys_off(conn), conn.begin():
            command.downgrade(alembic_config(conn), "0005_three_splits")
            # What practicum wrote before this revision: every path absolute.
            assert _stored_paths(conn) == {
                "in": (str(folder / "ckpt" / "model"), inside),
                "out": ("/elsewhere/model", {"loss": 1.0}),
            }
    with open_store(f"sqlite:///{folder / 'store.db'}") as store:
        assert store.info().revision == head_revision()
        with store.engine.connect() as conn:
            assert _stored_paths(conn) == {
                "in": ("ckpt/model", {"adapter_path": "ckpt/adapter", "datasets_dir": "ckpt/datasets"}),
                "out": ("/elsewhere/model", {"loss": 1.0}),
            }
    moved = tmp_path / "b"
    folder.rename(moved)
    with open_store(f"sqlite:///{moved / 'store.db'}") as store, store.session() as s:
        policies = {p.name: p for p in s.scalars(select(PolicyRow))}
    assert policies["in"].checkpoint_path == str(moved / "ckpt" / "model")  # read where the folder is now
    assert policies["in"].metrics == {k: v.replace(str(folder), str(moved)) for k, v in inside.items()}
    assert policies["out"].checkpoint_path == "/elsewhere/model"
