"""The learning benchmark's yardstick for tic-tac-toe moves: exact move values against the suite's opponent."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from practicum.envs.games.tictactoe import board_text, move_values
from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("learning")


def test_training_data_is_scored_against_the_exact_move_values(bench: ModuleType, tmp_path: Path) -> None:
    # X to move on X X . / O O . / . . .: c3 wins, a1 lets O win. One optimal and one poor RFT example; one
    # step pair the right way round and one reversed.
    prompt = board_text("XX.OO....") + "\nYour turn (X).\n\nLegal actions: ..."
    datasets = tmp_path / "run-1" / "round-1" / "datasets"
    datasets.mkdir(parents=True)
    rows = [{"prompt": prompt, "completion": "c3"}, {"prompt": prompt, "completion": "a1"}]
    (datasets / "rft.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pairs = [{"prompt": prompt, "chosen": "c3", "rejected": "a1"}, {"prompt": prompt, "chosen": "a1", "rejected": "c3"}]
    (datasets / "step_pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    (quality,) = bench.data_quality(tmp_path, "tictactoe")
    a1 = move_values("XX.OO....")["a1"]
    assert quality["rft_optimal_share"] == 0.5 and quality["rft_mean_regret"] == round((1.0 - a1) / 2, 4)
    assert (quality["step_pairs_right"], quality["step_pairs_tied"], quality["step_pairs_wrong"]) == (0.5, 0.0, 0.5)
    assert bench.data_quality(tmp_path, "shop") is None


def test_a_rejected_candidate_leaves_the_held_policys_test_success_on_the_curve(bench: ModuleType) -> None:
    history = [
        {"iteration": 0, "policy_id": 1, "test_success": 0.3, "decision": "baseline"},
        {"iteration": 1, "policy_id": 2, "test_success": 0.5, "decision": "promoted"},
        {"iteration": 2, "policy_id": 3, "test_success": 0.2, "decision": "rejected"},
        {"iteration": 3, "policy_id": 2, "test_success": 0.5, "decision": "no candidate"},
    ]
    assert bench.held_curve(history) == ([0.3, 0.5, 0.5, 0.5], [None, 0.5, 0.2, None])
    assert bench.curve_policies(history) == [1, 2, 2, 2]


# ------------------------------------------------------------------------------------------ over seeds
def _history(curve: list[float], search: list[float] | None = None, rejected: tuple[int, ...] = ()) -> list[dict]:
    """A made-up run's history: `curve` the test success of each iteration's policy (a rejected iteration's is
    its candidate's), with 10 test tasks."""
    rows = []
    for i, value in enumerate(curve):
        decision = "baseline" if i == 0 else "rejected" if i in rejected else "promoted"
        row = {"iteration": i, "policy_id": i + 1, "test_success": value, "test_tasks": 10, "decision": decision}
        if search is not None:
            row["test_search_success"] = search[i]
        rows.append(row)
    return rows


def _run(seed: int, curve: list[float], **kwargs: Any) -> dict[str, Any]:
    split = {"search": 60.0 * (seed + 1), "sampling": 30.0, "evaluation": 90.0, "training": 120.0}
    return {"seed": seed, "minutes": 9.0 + seed, "history": _history(curve, **kwargs), "time_split": split}


def test_the_mean_curve_carries_a_seed_stopped_early_at_its_last_value(bench: ModuleType) -> None:
    assert bench.carried([[0.1, 0.3, 0.5], [0.2, 0.4]]) == [[0.1, 0.3, 0.5], [0.2, 0.4, 0.4]]
    assert bench.mean_curve([[0.1, 0.3, 0.5], [0.2, 0.4]]) == [0.15, 0.35, 0.45]
    entry = bench.aggregate([_run(0, [0.1, 0.3, 0.5]), _run(1, [0.2, 0.4])])
    assert entry["mean_curve"] == [0.15, 0.35, 0.45]
    assert entry["curves"] == [[0.1, 0.3, 0.5], [0.2, 0.4]]  # each seed's own, not padded
    assert "seed 1: 1" in entry["note"] and "carries each seed's last value forward" in entry["note"]
    assert "note" not in bench.aggregate([_run(0, [0.1, 0.3]), _run(1, [0.2, 0.4])])


def test_the_t_interval_matches_a_hand_computed_one_with_and_without_scipy(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 0.2, 0.4, 0.6: mean 0.4, sd 0.2, n 3, t(0.975, 2) = 4.3027: half-width 4.3027 * 0.2 / sqrt(3) = 0.4968.
    assert bench.t_interval([0.2, 0.4, 0.6]) == pytest.approx([-0.0968, 0.8968], abs=2e-4)
    assert bench.t_interval([0.5, 0.5]) == [0.5, 0.5]
    assert bench.t_interval([0.7]) is None and bench.t_interval([]) is None
    monkeypatch.setitem(sys.modules, "scipy", None)  # the table and the expansion, as where scipy is missing
    assert bench.t_interval([0.2, 0.4, 0.6]) == pytest.approx([-0.0968, 0.8968], abs=2e-4)
    assert bench.t_critical(1) == pytest.approx(12.706, abs=1e-3)
    assert bench.t_critical(10) == pytest.approx(2.2281, abs=1e-3)
    assert bench.t_critical(30) == pytest.approx(2.0423, abs=1e-3)


def test_the_gain_is_the_mean_over_seeds_of_final_minus_first_in_points(bench: ModuleType) -> None:
    runs = [
        _run(0, [0.2, 0.5, 0.6], search=[0.4, 0.6, 0.7]),
        _run(1, [0.2, 0.3, 0.1], search=[0.4, 0.5, 0.2], rejected=(2,)),  # held stays at 0.3
        _run(2, [0.2, 0.4, 0.5], search=[0.4, 0.5, 0.6]),
    ]
    entry = bench.aggregate(runs)
    assert entry["curves"] == [[0.2, 0.5, 0.6], [0.2, 0.3, 0.3], [0.2, 0.4, 0.5]]
    assert entry["final_mean"] == pytest.approx(0.4667, abs=1e-4)
    assert entry["gain_points_mean"] == pytest.approx(26.67, abs=0.01)  # (40 + 10 + 30) / 3
    # gains 40, 10, 30: sd 15.275, half-width 4.3027 * 15.275 / sqrt(3) = 37.95
    assert entry["gain_ci95_points"] == pytest.approx([26.67 - 37.95, 26.67 + 37.95], abs=0.02)
    assert entry["ci95"] == bench.t_interval([0.6, 0.3, 0.5])
    assert entry["search_curves"][1] == [0.4, 0.5, 0.5]  # the rejected candidate's search number is not held
    assert entry["search_curve"] == pytest.approx([0.4, 0.5333, 0.6], abs=1e-4)
    assert entry["minutes"] == 10.0 and entry["test_tasks"] == 10 and entry["seeds"] == [0, 1, 2]
    assert entry["time_split"] == {"search": 120.0, "sampling": 30.0, "evaluation": 90.0, "training": 120.0}
    assert entry["runs"] == runs
    assert bench.aggregate(runs[:1])["ci95"] is None and bench.aggregate(runs[:1])["gain_ci95_points"] is None
    assert bench.aggregate([_run(0, [0.2, 0.5])])["search_curve"] is None  # no search curve recorded


def _entry(final: float, low: float, high: float, gain: float = 0.0) -> dict[str, Any]:
    return {"final_mean": final, "ci95": [low, high], "gain_points_mean": gain}


def test_the_verdict_is_true_false_or_null_where_a_recipe_is_missing(bench: ModuleType) -> None:
    data = {
        "frozenlake-4x4": {
            "agentq": _entry(0.85, 0.80, 0.90),
            "rft": _entry(0.6, 0.5, 0.7),
            "none": _entry(0.2, 0.1, 0.3),
        },
        "tictactoe": {"agentq": _entry(0.6, 0.5, 0.7), "rft": _entry(0.55, 0.45, 0.65), "none": _entry(0.3, 0.2, 0.4)},
        "shop": {"agentq": _entry(0.3, 0.1, 0.5, gain=25.0), "rft": _entry(0.1, 0.0, 0.2)},
        "default_run": {"gain_points_mean": 35.0, "ci95_low": -2.0},
    }
    v = bench.verdict(data)
    assert v["frozenlake-4x4"] == {"agentq_final_mean_at_least_0.8": True, "agentq_above_rft_above_none": True}
    # agentq above rft on average, but their intervals overlap: not ranked apart
    assert v["tictactoe"] == {"agentq_final_mean_at_least_0.65": False, "agentq_above_rft_above_none": False}
    assert v["shop"] == {"agentq_gain_points_mean_at_least_20": True, "agentq_above_rft_above_none": None}
    assert v["default_run"] == {"gain_at_least_30": True, "ci95_low_above_0": False}
    empty = bench.verdict({})
    assert all(value is None for checks in empty.values() for value in checks.values())
    one_seed = {"agentq": {**_entry(0.9, 0, 0), "ci95": None}, "rft": _entry(0.5, 0.4, 0.6), "none": _entry(0, 0, 0)}
    assert bench.ranked_apart([one_seed[r] for r in bench.RECIPES]) is None


def test_history_rows_keep_their_numbers_and_decision_only(bench: ModuleType) -> None:
    row = {"iteration": 2, "test_success": 0.123456, "train": "trained: 8 steps", "decision": "rejected", "x": True}
    assert bench.trim_row(row) == {"iteration": 2, "test_success": 0.1235, "decision": "rejected"}


def test_results_merge_per_recipe_drop_an_older_layout_and_redraw_the_plot(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "learning.json"
    out.write_text(json.dumps({"game": {"agentq": {"curve": [0.3]}}, "targets": {}}))  # the single-seed layout
    assert bench.load_results(out) == {}
    entry = bench.aggregate([_run(0, [0.2, 0.5]), _run(1, [0.2, 0.7])])
    bench.merge(out, "frozenlake-4x4", "agentq", entry)
    bench.merge(out, "default_run", None, entry)
    run_seeds = json.loads(out.read_text())["default_run"]["seeds"]
    bench.merge(out, "frozenlake-4x4", "rft", entry, variant="train.rft.max_steps=24")
    data = json.loads(out.read_text())
    assert "game" not in data and data["layout"] == bench.LAYOUT
    assert data["frozenlake-4x4"]["agentq"]["mean_curve"] == [0.2, 0.6]
    # FrozenLake's agentq recipe is the default config: the default run's runs stand as its agentq entry
    assert bench.default_run_suite() == "frozenlake-4x4"
    assert data["frozenlake-4x4"]["agentq"]["runs_of"] == "default_run"
    assert data["frozenlake-4x4"]["agentq"]["seeds"] == run_seeds == [0, 1]
    assert data["variants"]["train.rft.max_steps=24"]["frozenlake-4x4"]["rft"]["seeds"] == [0, 1]
    run = data["default_run"]
    assert run["suite"] == "frozenlake-4x4" and run["seeds"] == [0, 1] and run["curves"] == [[0.2, 0.5], [0.2, 0.7]]
    assert run["ci95"] == entry["gain_ci95_points"] and run["ci95_low"] == entry["gain_ci95_points"][0]
    assert {"minutes", "test_tasks", "gain_points_mean"} <= set(run)
    assert data["verdict"]["default_run"]["gain_at_least_30"] is True  # 40 points
    assert data["verdict"]["frozenlake-4x4"]["agentq_above_rft_above_none"] is None  # rft, none not run
    assert {"platform", "cpus", "torch_threads"} <= set(data["machine"]) and data["date"]
    png = tmp_path / "learning.png"
    assert png.stat().st_size > 0
    png.unlink()
    assert bench.main(["--plot-only", "--out", str(out)]) == 0 and png.stat().st_size > 0


def test_added_seeds_join_stored_runs_of_the_same_entry_and_settings_only(bench: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "learning.json"
    settings = {"train": {"rft": {"epochs": 10}}}
    stored = bench.aggregate([_run(0, [0.2, 0.5]), _run(1, [0.2, 0.7])])
    bench.merge(out, "default_run", None, stored)
    bench.merge(out, "frozenlake-4x4", "rft", {**stored, "settings": settings})
    found = bench.stored_runs(out, "frozenlake-4x4", [(None, 2, None), ("rft", 2, settings)], "")
    assert {recipe: [r["seed"] for r in runs] for recipe, runs in found.items()} == {None: [0, 1], "rft": [0, 1]}
    other = {"train": {"rft": {"epochs": 8}}}
    assert bench.stored_runs(out, "frozenlake-4x4", [("rft", 2, other)], "") == {}  # other settings: not summed
    assert bench.stored_runs(out, "frozenlake-4x4", [("none", 2, settings)], "") == {}  # nothing stored
    assert bench.stored_runs(out, "frozenlake-4x4", [("rft", 2, settings)], "a-variant") == {}
    with pytest.raises(SystemExit) as stop:  # a seed already stored is not run again
        bench.main(["--default-run", "--seeds", "1", "2", "--add-seeds", "--out", str(out)])
    assert stop.value.code == 2


def test_suite_runs_lay_only_the_recipe_seed_and_search_curve_over_the_frozenlake_defaults(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from practicum.loop import practice as practice_module
    from practicum.loop.config import PracticeConfig, config_from_dict

    seen = []

    def fake_practice(config: PracticeConfig, **kwargs: Any) -> Any:
        seen.append(config)
        return practice_module.PracticeResult(1, "finished", _history([0.1, 0.4]), "finished 1 iteration(s)")

    monkeypatch.setattr(practice_module, "practice", fake_practice)
    monkeypatch.setattr(bench, "RUNS", tmp_path)
    monkeypatch.setattr(bench, "CHECKPOINTS", tmp_path / "checkpoints")
    monkeypatch.setattr(bench, "warm_up_once", lambda config, console: None)
    monkeypatch.setattr(bench, "time_split", lambda db, run_id: {})
    monkeypatch.setattr(bench, "round_sizes", lambda db, run_id: [])
    run = bench.practice_run("default-seed2", None, 2)
    settings = bench.suite_settings("frozenlake-4x4", "rft", None, None, True)
    bench.practice_run("frozenlake-4x4-rft-seed1", settings, 1)
    checkpoints = str(tmp_path / "checkpoints")
    store = f"sqlite:///{tmp_path / 'default-seed2.db'}"
    # With no settings the run is what `practicum practice` runs: the default suite's own defaults included.
    assert seen[0] == dataclasses.replace(config_from_dict({}), seed=2, store=store, checkpoint_dir=checkpoints)
    store = f"sqlite:///{tmp_path / 'frozenlake-4x4-rft-seed1.db'}"
    expected = dataclasses.replace(
        config_from_dict({}), recipe="rft", seed=1, eval_with_search=True, store=store, checkpoint_dir=checkpoints
    )
    assert seen[1] == expected
    assert run["seed"] == 2 and run["run_id"] == 1 and run["history"][1]["test_success"] == 0.4


def test_bad_command_lines_fail_with_a_message(bench: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--default-run", "--suite", "tictactoe"])
    assert "drop --suite" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--seeds", "0", "0"])
    assert "distinct" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--critic", "oracle", "--suite", "shop"])
    assert "tic-tac-toe only" in capsys.readouterr().err


def test_a_new_run_replaces_the_last_one_of_its_name_store_and_policies(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    monkeypatch.setattr(bench, "RUNS", tmp_path)
    monkeypatch.setattr(bench, "CHECKPOINTS", tmp_path / "checkpoints")
    db = tmp_path / "tictactoe-rft-seed0.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO runs (name) VALUES ('run-20261206-1')")
    con.commit()
    con.close()
    (tmp_path / "tictactoe-rft-seed0.db-wal").write_text("")
    for folder in ("run-20261206-1", "run-20261206-2", "format-tictactoe-abc"):  # its own, another run's, the warm-up
        (tmp_path / "checkpoints" / folder).mkdir(parents=True)
    assert bench._run_names(db) == ["run-20261206-1"]
    bench.forget(db)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["format-tictactoe-abc", "run-20261206-2"]
    bench.forget(tmp_path / "never-ran.db")  # nothing to forget


# ------------------------------------------------------------------------------------------ the search curve, after
def _search_episodes(db: Path, run_id: int) -> list[tuple[str, int, bool]]:
    """The run's test episodes with search: (uid, policy, success)."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = con.execute(
            "SELECT uid, policy_id, outcome = 'success' FROM episodes WHERE uid LIKE ?", (f"r{run_id}/eval/search/%",)
        )
        return sorted((uid, policy, bool(success)) for uid, policy, success in rows)


@pytest.mark.slow
def test_search_curve_only_adds_the_search_curve_to_stored_runs_and_their_entries(
    bench: ModuleType, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One tiny run (the tiny model, 2 test tasks, 1 iteration), greedy-only as the stored runs were made.
    monkeypatch.setattr(bench, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(bench, "CHECKPOINTS", tmp_path / "runs" / "checkpoints")
    settings = {
        "suite": "frozenlake-4x4",
        "recipe": "agentq",
        "policy": {"model": str(tiny_model_dir)},
        "search": {"simulations": 2, "k": 2, "max_depth": 2, "rollout_depth": 2, "alpha": 0.5},
        "iterations": 1,
        "train_tasks": 2,
        "validation_tasks": 2,
        "test_tasks": 2,
        "pass_k": 0,
        "workers": 1,
        # pairs of once-visited siblings ranked by Q^: the tiny model trains a candidate though search found no win
        "train": {
            "dpo": {"max_steps": 1, "batch_size": 2},
            "rft": {"max_steps": 1, "batch_size": 2},
            "data": {"min_visits": 1, "pair_value": "blended"},
        },
        "schedule": {"min_new_pairs": 0, "min_new_episodes": 1},
        "warmup": {"states": 2, "steps": 1, "batch_size": 2},
    }
    out = tmp_path / "learning.json"
    assert bench.run_jobs("frozenlake-4x4", [("agentq", 0, settings)], out=out, tag="", smoke=False) is not None
    (run,) = json.loads(out.read_text())["frozenlake-4x4"]["agentq"]["runs"]
    assert run["seed"] == 0 and all("test_search_success" not in row for row in run["history"])
    db, run_id = Path(run["store"]), run["run_id"]
    policies = {row["policy_id"] for row in run["history"]}
    assert len(policies) == 2  # the start and the candidate trained from it (promoted or rejected: both count)

    assert bench.main(["--search-curve-only", "--suite", "frozenlake-4x4", "--recipe", "all", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    entry = data["frozenlake-4x4"]["agentq"]
    assert set(data["frozenlake-4x4"]) == {"agentq"}  # rft and none have no stored runs: skipped
    assert entry["settings"] == settings and data["verdict"]["frozenlake-4x4"]
    (searched,) = entry["runs"]
    assert [row["iteration"] for row in searched["history"]] == [0, 1]
    assert all(0.0 <= row["test_search_success"] <= 1.0 for row in searched["history"])
    assert searched["search_minutes"] >= 0 and searched["minutes"] == run["minutes"]
    held = bench.held_curve(searched["history"], key="test_search_success")[0]
    assert entry["search_curves"] == [held] and entry["search_curve"] == bench.mean_curve([held])
    assert len(entry["search_curve"]) == len(entry["mean_curve"]) == 2
    # the loop's own search-curve episodes (their uids): one per policy and test task, under the run; the rows'
    # numbers are their success rates, and each policy's are one search eval of the run
    episodes = _search_episodes(db, run_id)
    assert len(episodes) == 2 * len(policies)
    assert all(uid.split("/")[3] == f"p{policy}" for uid, policy, _ in episodes)
    for row in searched["history"]:
        wins = [success for _, policy, success in episodes if policy == row["policy_id"]]
        assert row["test_search_success"] == sum(wins) / 2
    with contextlib.closing(sqlite3.connect(db)) as con:
        evals = con.execute(
            "SELECT policy_id FROM evals WHERE mode = 'search' AND split = 'test' AND run_id = ?", (run_id,)
        )
        assert sorted(row[0] for row in evals) == sorted(policies)

    # The same runs as the default run's: FrozenLake's agentq entry is then the default run's, done once as that.
    greedy = bench.aggregate([run])
    bench.merge(out, "default_run", None, greedy)
    assert json.loads(out.read_text())["default_run"].get("search_curve") is None
    argv = ["--search-curve-only", "--suite", "frozenlake-4x4", "--recipe", "agentq", "--seeds", "0", "--out", str(out)]
    assert bench.main(argv) == 0
    data = json.loads(out.read_text())
    assert data["default_run"]["search_curve"] == entry["search_curve"]
    assert data["frozenlake-4x4"]["agentq"]["runs_of"] == "default_run"
    assert data["frozenlake-4x4"]["agentq"]["search_curves"] == entry["search_curves"]
    assert data["default_run"]["runs"][0]["history"] == searched["history"]  # found, not played again
    assert _search_episodes(db, run_id) == episodes
