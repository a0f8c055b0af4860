"""The practice loop end to end on a tiny real model: iterations, resume after SIGKILL, bad config."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from practicum.cli import main
from practicum.envs.registry import get_suite
from practicum.errors import ConfigError, ModelError, UnknownIdError
from practicum.loop.config import PracticeConfig, config_from_dict
from practicum.loop.practice import PracticeResult, practice
from practicum.store import open_store, queries
from practicum.store.models import Episode, Eval, NodeRow, Pair, PolicyRow, Run, TaskRow, TrainingRound


def small_config(model_dir: Path, store: str, **extra: Any) -> PracticeConfig:
    """Two iterations on FrozenLake with budgets small enough for a test."""
    data: dict[str, Any] = {
        "suite": "frozenlake-4x4",
        "policy": {"model": str(model_dir)},
        "store": store,
        "iterations": 2,
        "train_tasks": 2,
        "validation_tasks": 2,
        "test_tasks": 2,
        "search": {"simulations": 2, "k": 2, "max_depth": 2, "rollout_depth": 2, "alpha": 0.5},
        "pass_k": 2,
        # Two simulations visit no sibling three times: pair once-visited siblings, ranked by Q^ (the tiny
        # model's critic scores count), so the test has pairs even where search found no reward.
        "train": {
            "dpo": {"max_steps": 1, "batch_size": 2},
            "rft": {"max_steps": 1, "batch_size": 2},
            "data": {"min_visits": 1, "pair_value": "blended"},
        },
        "schedule": {"min_new_pairs": 0, "min_new_episodes": 1},
        "warmup": {"states": 2, "steps": 1, "batch_size": 2},
    }
    data.update(extra)
    return config_from_dict(data)


def counts(url: str, run_id: int) -> dict[str, int]:
    """How many rows of each kind a run left in the store."""
    with open_store(url) as store, store.session() as s:
        episodes = select(Episode.id).where(Episode.run_id == run_id)
        return {
            "episodes": s.scalar(select(func.count()).select_from(episodes.subquery())) or 0,
            "search_episodes": s.scalar(select(func.count()).where(Episode.run_id == run_id, Episode.mode == "search"))
            or 0,
            "sample_episodes": s.scalar(select(func.count()).where(Episode.run_id == run_id, Episode.mode == "sample"))
            or 0,
            "nodes": s.scalar(select(func.count()).where(NodeRow.episode_id.in_(episodes))) or 0,
            "rounds": s.scalar(select(func.count()).where(TrainingRound.run_id == run_id)) or 0,
            "finished_rounds": s.scalar(
                select(func.count()).where(TrainingRound.run_id == run_id, TrainingRound.status == "finished")
            )
            or 0,
            "evals": s.scalar(select(func.count()).where(Eval.run_id == run_id)) or 0,
        }


@pytest.fixture(scope="module")
def two_iterations(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, PracticeResult]:
    """One two-iteration run, shared by the tests that read what it left (a run takes a while on CPU)."""
    folder = tmp_path_factory.mktemp("two-iterations")
    url = f"sqlite:///{folder / 'p.db'}"
    return url, practice(small_config(tiny_model_dir, url), argv=["practicum", "practice"])


def test_two_iterations_leave_episodes_trees_pairs_and_a_decided_policy(
    tiny_model_dir: Path, two_iterations: tuple[str, PracticeResult]
) -> None:
    url, result = two_iterations
    assert result.status == "finished" and [r["iteration"] for r in result.history] == [0, 1, 2]
    assert (
        result.plot is not None and result.plot.exists() and result.plot.parent == Path(url[len("sqlite:///") :]).parent
    )
    got = counts(url, result.run_id)
    # per iteration 2 searched train tasks; evaluations are greedy
    assert got["search_episodes"] == 4 and got["nodes"] > got["episodes"]
    assert got["finished_rounds"] >= 1
    with open_store(url) as store, store.session() as s:
        run = s.get(Run, result.run_id)
        assert run is not None and run.status == "finished"
        assert run.config["suite"] == "frozenlake-4x4" and run.versions["torch"]
        assert run.seeds == {"run": 0, "search": 0}
        base = [p for p in s.scalars(select(PolicyRow)).all() if p.iteration == 0]
        # Practice starts from the format warm-up of the base model, written beside the run's checkpoints.
        assert [p.base_model for p in base] == [f"{tiny_model_dir.name}+format-frozenlake-4x4"]
        assert Path(base[0].checkpoint_path).parent.name.startswith("format-frozenlake-4x4-")
        decided = [p for p in s.scalars(select(PolicyRow)).all() if p.iteration > 0]
        assert decided and all(p.state in ("promoted", "rejected", "retired") for p in decided)
        assert s.scalar(select(func.count(Pair.id))) >= 1
        summary = queries.run_summary(s, result.run_id)
        assert summary.by_split["train"].episodes == 4 + 8  # searched + 2 samples of each train task
        sampled = s.scalars(select(Episode).where(Episode.mode == "sample", Episode.uid.like("%/i1/%"))).all()
        wins = {e.task.key: [] for e in sampled}
        for e in sampled:
            wins[e.task.key].append(e.outcome == "success")
    row = result.history[1]
    for key in ("train_success", "train_solved_anywhere", "distinct_actions_per_node", "test_success"):
        assert key in row
    assert got["sample_episodes"] == 8 and len(sampled) == 4 and row["pass_k"] == 2
    assert row["train_pass_at_1"] == sum(sum(w) for w in wins.values()) / 4
    assert row["train_pass_at_k"] == sum(any(w) for w in wins.values()) / 2


def _validation_eval_of_iteration(s: Any, policy_id: int, iteration: int) -> Eval:
    """The policy's validation eval whose episodes were played in `iteration` (their uids carry it)."""
    for e in queries.list_evals(s, policy_id=policy_id):
        episodes = [s.get(Episode, r.episode_id) for _, r in queries.eval_results(s, e.id)]
        if e.split == "validation" and all(f"/i{iteration}/eval/greedy/" in ep.uid for ep in episodes):
            return e
    raise AssertionError(f"policy {policy_id} has no validation eval played in iteration {iteration}")


def test_promotion_replays_the_parent_on_validation_and_the_curve_is_test_only(
    two_iterations: tuple[str, PracticeResult],
) -> None:
    url, result = two_iterations
    decided = [row for row in result.history if row["decision"] in ("promoted", "rejected")]
    assert decided, "the run trained no candidate; the decision cannot be checked"
    held = result.history[0]["policy_id"]
    expected_validation_evals: Counter[int] = Counter()  # the baseline plays no validation task
    decided_on: list[set[str]] = []
    with open_store(url) as store, store.session() as s:
        for row in result.history[1:]:
            if row["decision"] == "no candidate":
                continue
            it, candidate = row["iteration"], queries.get_policy(s, row["policy_id"])
            assert candidate.parent_id == held
            expected_validation_evals.update([held, candidate.id])
            # The parent played the validation tasks again in this very iteration: fresh episodes, not the score
            # it was promoted on; the decision compares those with the candidate's.
            parent_eval = _validation_eval_of_iteration(s, held, it)
            candidate_eval = _validation_eval_of_iteration(s, candidate.id, it)
            decision = candidate.metrics["promotion"]["greedy"]
            assert decision["n_tasks"] == 2
            tasks = {key for key, _ in queries.eval_results(s, parent_eval.id)}
            assert tasks == {key for key, _ in queries.eval_results(s, candidate_eval.id)}
            decided_on.append(tasks)
            assert decision["parent_successes"] == parent_eval.successes
            assert decision["candidate_successes"] == candidate_eval.successes
            assert (row["parent_validation_success"], row["validation_success"]) == (
                parent_eval.success_rate,
                candidate_eval.success_rate,
            )
            # No decision reads a test task.
            flipped = decision["negative_flips"] + decision["positive_flips"] + decision["excluded"]
            assert all(s.scalar(select(TaskRow.split).where(TaskRow.key == key)) == "validation" for key in flipped)
            # The curve is the candidate's test success.
            test_eval = next(e for e in queries.list_evals(s, policy_id=candidate.id) if e.split == "test")
            assert (row["test_success"], row["test_tasks"]) == (test_eval.success_rate, 2)
            if row["decision"] == "promoted":
                held = candidate.id
        validation_evals = Counter(
            e.policy_id for e in queries.list_evals(s, run_id=result.run_id) if e.split == "validation"
        )
        assert validation_evals == expected_validation_evals
        test_tasks = {t.key for t in get_suite("frozenlake-4x4").tasks("test", limit=2)}
        curve = [e for e in queries.list_evals(s, run_id=result.run_id) if e.split == "test"]
        assert curve and all({k for k, _ in queries.eval_results(s, e.id)} == test_tasks for e in curve)
    assert all("test_success" in r for r in result.history)
    # Each decision is made on validation tasks of its own: no later decision inherits an earlier one's luck.
    assert all(not (a & b) for i, a in enumerate(decided_on) for b in decided_on[i + 1 :])


def test_a_fresh_store_beside_another_stores_checkpoints_starts_afresh_and_keeps_them(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    shared = str(tmp_path / "checkpoints")  # both stores number their first run 1
    first = practice(
        small_config(tiny_model_dir, f"sqlite:///{tmp_path / 'a.db'}", iterations=1, checkpoint_dir=shared)
    )
    kept = sorted(p.relative_to(shared) for p in Path(shared).rglob("*") if p.is_file())
    second = practice(
        small_config(tiny_model_dir, f"sqlite:///{tmp_path / 'b.db'}", iterations=1, checkpoint_dir=shared)
    )
    assert first.run_id == second.run_id == 1
    assert [r["iteration"] for r in second.history] == [0, 1]  # not the first store's graph resumed
    assert counts(f"sqlite:///{tmp_path / 'b.db'}", second.run_id)["search_episodes"] == 2
    still = {p.relative_to(shared) for p in Path(shared).rglob("*") if p.is_file()}
    assert kept and set(kept) <= still  # the first store's policies and graph are all still there
    folders = {p.parts[0] for p in still}
    warmups = {f for f in folders if f.startswith("format-")}
    assert len(warmups) == 1  # the format warm-up was done once and reused by the second store's run
    assert len(folders - warmups) == 2  # one folder per run


def _search_episodes_written(db: Path) -> int:
    """A cheap read-only count for polling (opening a store checks its schema, which takes a write lock)."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
            return int(con.execute("SELECT COUNT(*) FROM episodes WHERE mode = 'search'").fetchone()[0])
    except sqlite3.Error:  # not created yet, or locked for a moment
        return 0


def _killed_at(phase: str, folder: Path, since: float) -> bool:
    """Whether the run in `folder` is inside `phase` (a sign of it newer than `since`, the process's start)."""
    if phase == "collection":
        return _search_episodes_written(folder / "killed.db") >= 1
    if phase == "evaluation":
        return _validation_episodes_written(folder / "killed.db") >= 1
    stage = [p for p in folder.glob(f"practicum-checkpoints/run-*/round-*/{phase}") if p.stat().st_mtime >= since]
    return bool(stage)


def _validation_episodes_written(db: Path) -> int:
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
            query = "SELECT COUNT(*) FROM episodes JOIN tasks ON tasks.id = episodes.task_id WHERE split = 'validation'"
            return int(con.execute(query).fetchone()[0])
    except sqlite3.Error:
        return 0


def _what_a_run_left(url: str) -> dict[str, Any]:
    """Counts, round numbers and states, policy names and held-out results of run 1, and doctor's verdict."""
    from practicum.doctor import check_store

    with open_store(url) as store, store.session() as s:
        rounds = [(r.id, r.status) for r in s.scalars(select(TrainingRound).order_by(TrainingRound.id))]
        policies = [p.name for p in s.scalars(select(PolicyRow).order_by(PolicyRow.id))]
        evals = [(e.policy_id, e.split, e.successes) for e in s.scalars(select(Eval).order_by(Eval.id))]
    failed_checks = [c.name for c in check_store(url) if not c.ok]
    return {"counts": counts(url, 1), "rounds": rounds, "policies": policies, "evals": evals, "doctor": failed_checks}


# agentq trains RFT, then DPO; the tiny model rarely wins, so every committed step search valued best counts as a
# good step of a failed episode and the RFT stage has rows. One worker: episodes are played in the loop's own
# process, so each of the test's six processes starts no others.
BOTH_STAGES = {
    "dpo": {"max_steps": 1, "batch_size": 2},
    "rft": {"max_steps": 1, "batch_size": 2},
    "data": {"min_visits": 1, "pair_value": "blended", "good_step_value": -1.0},
}


@pytest.mark.slow
def test_kill_9_in_each_phase_then_resume_leaves_what_an_uninterrupted_run_leaves(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # One run killed in every phase in turn (search, the RFT stage, the DPO stage, validation), each time resumed
    # as the README says: the store must end as an uninterrupted run's does, round numbers and names included.
    config = small_config(tiny_model_dir, "", iterations=1, train=BOTH_STAGES, workers=1)
    whole_url = f"sqlite:///{tmp_path / 'whole' / 'whole.db'}"
    (tmp_path / "whole").mkdir()
    practice(config, store_url=whole_url)
    expected = _what_a_run_left(whole_url)
    assert expected["rounds"] == [(1, "finished")] and not expected["doctor"]

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
            from tests.loop.test_practice import BOTH_STAGES, small_config
            from practicum.cli import main
            from practicum.loop.practice import practice
            if __name__ == "__main__":  # collection workers are spawned and import this file again
                if sys.argv[1] == "new":
                    config = small_config({str(tiny_model_dir)!r}, "", iterations=1, train=BOTH_STAGES, workers=1)
                    practice(config, store_url={url!r})
                else:  # the README's resume command
                    sys.exit(main(["practice", "--resume", "1", "--db", {url!r}]))
            """
        )
    )
    for n, phase in enumerate(("collection", "rft", "dpo", "evaluation")):
        since = time.time() - 1  # file times may be rounded down
        proc = subprocess.Popen(
            [sys.executable, str(script), "new" if n == 0 else "resume"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and proc.poll() is None and not _killed_at(phase, tmp_path, since):
                time.sleep(0.01)
            assert proc.poll() is None, f"the run ended before it could be killed in {phase}"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
    resumed = subprocess.run(
        [sys.executable, str(script), "resume"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert _what_a_run_left(url) == expected


def test_stop_request_interrupts_cleanly_and_resume_finishes(tiny_model_dir: Path, tmp_path: Path) -> None:
    import threading

    url = f"sqlite:///{tmp_path / 'p.db'}"
    stop = threading.Event()
    stop.set()  # as if Ctrl-C came during the baseline: stop after the current episode
    first = practice(small_config(tiny_model_dir, url, recipe="none", iterations=1), stop=stop)
    assert first.status == "interrupted" and "resume" not in (first.stop_reason or "").lower()
    with open_store(url) as store, store.session() as s:
        assert s.get(Run, first.run_id).status == "interrupted"  # type: ignore[union-attr]
    done = practice(None, resume=str(first.run_id), store_url=url)
    assert done.status == "finished" and [r["iteration"] for r in done.history] == [0, 1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--suite", "frozenlak-4x4"], "Did you mean 'frozenlake-4x4'"),
        (["--iterations", "-1"], "iterations must be an integer >= 1"),
        (["--pass-k", "-2"], "pass_k must be an integer >= 0"),
        (["--validation-tasks", "0"], "validation_tasks must be an integer >= 1"),
        (["--test-tasks", "0"], "test_tasks must be an integer >= 1"),
        (["--model", "/no/such/model"], "does not exist"),
        (["--endpoint", "http://127.0.0.1:9/v1"], "needs --endpoint-model"),
        (["--resume", "7", "--suite", "taxi"], "pass only --resume"),
    ],
)
def test_bad_practice_flags_fail_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    db = tmp_path / "p.db"
    assert main(["practice", *args, "--db", f"sqlite:///{db}"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not db.exists()


def test_a_suite_without_validation_tasks_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(
        "suite: no-validation\n"
        "tasks:\n"
        "  - {id: a, start_url: 'http://127.0.0.1:1/', goal: Go., success: {url_contains: /a}}\n"
        "  - {id: b, start_url: 'http://127.0.0.1:1/', goal: Go., success: {url_contains: /b}, split: test}\n"
    )
    db = tmp_path / "p.db"
    assert main(["practice", "--tasks", str(tasks), "--suite", "no-validation", "--db", f"sqlite:///{db}"]) == 2
    assert "suite 'no-validation' has no validation tasks" in " ".join(capsys.readouterr().err.split())
    assert not db.exists()


def test_sampling_without_a_temperature_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"sample_temperature must be a positive number, e\.g\. 1\.0; got 0"):
        config_from_dict({"sample_temperature": 0})


def test_unreachable_endpoint_fails_before_a_run_is_created(tmp_path: Path) -> None:
    endpoint = {"model": "m", "base_url": "http://127.0.0.1:9/v1", "max_retries": 0}
    config = config_from_dict({"policy": endpoint, "recipe": "none", "store": f"sqlite:///{tmp_path / 'p.db'}"})
    with pytest.raises(ModelError, match="check that the server is running"):
        practice(config)
    assert not (tmp_path / "p.db").exists()


def test_resume_of_an_unknown_run_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    open_store(url).close()
    with pytest.raises(UnknownIdError):
        practice(None, resume="99", store_url=url)


def test_yaml_config_with_flag_overrides(tmp_path: Path) -> None:
    from practicum.loop.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text("suite: taxi\niterations: 3\nsearch:\n  simulations: 5\n")
    config = load_config(path, {"iterations": 4})
    assert (config.suite, config.iterations, config.search.simulations) == ("taxi", 4, 5)
    path.write_text("search:\n  simulatons: 5\n")
    with pytest.raises(ConfigError, match="did you mean 'simulations'"):
        load_config(path)
    path.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(path)


def episode_rows(url: str, run_id: int) -> list[tuple[str, str, int, int]]:
    """Every episode of a run by uid: outcome, steps and tree size (ids and timings left out)."""
    with open_store(url) as store, store.session() as s:
        rows = s.execute(
            select(Episode.uid, Episode.outcome, Episode.steps, Episode.node_count).where(Episode.run_id == run_id)
        ).all()
    return sorted((str(r[0]).split("/", 1)[1], str(r[1]), int(r[2]), int(r[3])) for r in rows)


@pytest.mark.slow
def test_two_worker_processes_play_the_same_episodes_as_one(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = small_config(tiny_model_dir, "", recipe="none", iterations=1, train_tasks=3)
    results = {}
    for workers in (1, 2):
        url = f"sqlite:///{tmp_path / f'w{workers}.db'}"
        run = (
            practice(config, store_url=url)
            if workers == 1
            else practice(config_from_dict({**config.to_dict(), "workers": 2}), store_url=url)
        )
        results[workers] = (counts(url, run.run_id), episode_rows(url, run.run_id))
    assert results[2][0] == results[1][0]
    assert results[2][1] == results[1][1]  # the same episodes, played to the same ends, in whichever process
    assert results[1][0]["search_episodes"] == 3
