"""`practicum eval` and `practicum train` by hand over a store, on a tiny real model."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from practicum.cli import main
from practicum.store import open_store, queries
from practicum.store.models import Episode, TrainingRound
from practicum.trainer.rounds import register_base_policy


@pytest.fixture
def store_with_policy(tiny_model_dir: Path, tmp_path: Path) -> tuple[str, int]:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with open_store(url) as store:
        policy_id = register_base_policy(store, tiny_model_dir)
    return url, policy_id


@pytest.fixture
def url(store_with_policy: tuple[str, int]) -> str:
    """The store's URL, for tests that need no policy id."""
    return store_with_policy[0]


def test_eval_plays_the_tasks_and_records_the_eval(
    store_with_policy: tuple[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    url, policy_id = store_with_policy
    args = ["eval", "--policy", str(policy_id), "--suite", "frozenlake-4x4", "--limit", "2", "--max-steps", "3"]
    assert main([*args, "--db", url]) == 0
    assert f"policy {policy_id} on frozenlake-4x4 test (greedy):" in capsys.readouterr().out  # test by default
    with open_store(url) as store, store.session() as s:
        (row,) = queries.list_evals(s, policy_id=policy_id)
        assert (row.n_tasks, row.split, row.mode) == (2, "test", "greedy")
        runs = queries.list_runs(s)
        assert len(runs) == 1 and runs[0].status == "finished" and runs[0].config["command"] == "eval"
        assert queries.count_episodes(s, runs[0].id) == 2


def test_eval_of_an_unknown_split_or_policy_is_a_clear_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--policy", "99", "--suite", "frozenlake-4x4", "--db", url]) == 2
    assert main(["eval", "--policy", "1", "--suite", "frozenlake-4x4", "--split", "dev", "--db", url]) == 2
    err = capsys.readouterr().err
    assert "99" in err and "unknown split 'dev'; use --split train, --split validation or --split test" in err


def test_train_without_new_data_records_a_skipped_round(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--db", url, "--out", str(tmp_path / "ckpt")]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "no new training episodes" in out


def test_train_on_one_runs_episodes_records_the_filter_in_the_rounds_data_spec(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_store(url) as store:
        collected = store.create_run(config={"command": "practice"})
    assert main(["train", "--db", url, "--run", str(collected), "--out", str(tmp_path / "ckpt")]) == 0
    assert "skipped" in capsys.readouterr().out
    with open_store(url) as store, store.session() as s:
        (round_,) = s.scalars(select(TrainingRound)).all()
        assert round_.config["data"]["run_id"] == collected and round_.run_id != collected
    assert main(["train", "--db", url, "--run", "99", "--out", str(tmp_path / "ckpt")]) == 2
    assert "no run named '99'" in capsys.readouterr().err


def test_run_with_db_keeps_its_episode_as_a_run_of_its_own(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    args = ["run", "--env", "frozenlake-4x4", "--seed", "3", "--policy", str(tiny_model_dir), "--max-steps", "2"]
    assert main([*args, "--db", url]) == 0
    assert "kept as episode 1 of run 1" in capsys.readouterr().out
    with open_store(url) as store, store.session() as s:
        (run,) = queries.list_runs(s)
        assert run.status == "finished" and run.config["command"] == "run" and run.config["env"] == "frozenlake-4x4"
        assert run.config["seed"] == 3 and run.seeds == {"run": 3} and run.versions
        (episode,) = s.scalars(select(Episode).where(Episode.run_id == run.id)).all()
        assert episode.steps <= 2 and episode.info["policy"]
    assert main(args) == 0  # without --db nothing is kept, as before
    with open_store(url) as store, store.session() as s:
        assert len(queries.list_runs(s)) == 1


def test_run_with_a_store_it_cannot_use_fails_in_one_line_before_playing(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "--env", "frozenlake-4x4", "--policy", str(tiny_model_dir)]
    assert main([*args, "--db", f"sqlite:///{tmp_path / 'no-such-dir' / 'p.db'}"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1
    assert "trajectory" not in captured.out  # nothing was played


@pytest.mark.browser
def test_eval_tasks_is_a_task_file_and_limit_the_count(
    store_with_policy: tuple[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, policy_id = store_with_policy
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "suite: my-shop\n"
        "tasks:\n"
        "  - {id: kitchen, start_url: '{shop}/', goal: Open Kitchen., success: {url_contains: kitchen}}\n"
        "  - {id: bags, start_url: '{shop}/', goal: Open Bags., success: {url_contains: bags}, split: test}\n"
    )
    args = ["eval", "--policy", str(policy_id), "--suite", "my-shop", "--limit", "1", "--max-steps", "1"]
    assert main([*args, "--tasks", str(tasks), "--db", url]) == 0
    assert f"policy {policy_id} on my-shop test (greedy): " in capsys.readouterr().out
    with open_store(url) as store, store.session() as s:
        (row,) = queries.list_evals(s, policy_id=policy_id)
        assert (row.suite, row.n_tasks) == ("my-shop", 1)
    assert main(["eval", "--policy", str(policy_id), "--suite", "frozenlake-4x4", "--tasks", "2", "--db", url]) == 2
    assert "task file 2 does not exist" in capsys.readouterr().err  # a count there is no longer a count
