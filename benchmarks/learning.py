"""Does practice make the policy better? Test greedy success per iteration, per recipe, side by side.

Runs `practicum practice` from the default policy (SmolLM2-135M-Instruct) on one suite with one recipe:
- agentq: MCTS + self-critique, then RFT (successes and the good steps of failures) and step-level DPO;
- rft: the same search, RFT on successful episodes only;
- none: the same collection and evaluation, no training (the noise floor).
Every recipe of a suite uses the same seed, so the same train, validation and test tasks (disjoint from each
other); greedy evaluation is deterministic, so iteration 0 is the same number for all three. Promotions are
decided on the validation tasks; the test tasks only measure.

The curve is the test success of the policy the loop holds after each iteration (a rejected candidate leaves
the parent's number); the candidates' own numbers are kept beside it. Each run writes its store under
`benchmarks/results/learning-runs/` (not committed) and merges its numbers into
`benchmarks/results/learning.json`; the plot `benchmarks/results/learning.png` is redrawn from the merged file.

    .venv/bin/python benchmarks/learning.py --suite game --recipe agentq     # one run, ~15 min on 2 cores
    .venv/bin/python benchmarks/learning.py --suite game --recipe all        # three runs, one after another
    .venv/bin/python benchmarks/learning.py --plot-only
    .venv/bin/python benchmarks/learning.py --suite game --recipe rft --critic oracle   # the exact-value critic
    .venv/bin/python benchmarks/learning.py --recipe rft --set train.rft.learning_rate=1e-4   # a variant

Runs with the oracle critic or a `--set` go to learning.json's `variants`, named by what they changed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import platform
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "learning.json"
PLOT = RESULTS / "learning.png"
RUNS = RESULTS / "learning-runs"
RECIPES = ("agentq", "rft", "none")
TARGET_GAIN = {"game": 30.0, "shop": 20.0}

# The game runs are tic-tac-toe against an opponent that plays perfectly half of the time: cheap episodes, a
# starting policy that wins 32.5% of test games greedily (a perfect player would win ~72%, a random one
# ~20%), and a search that wins most train games. They use the `practicum practice` search and training
# defaults, with two collection workers (one torch thread each) and pass@2, so that two iterations fit.
# Measured and not kept (2026-12-04, one agentq run each, 2 iterations): every legal move a candidate (k=9),
# 12 simulations, 16 random rollouts per leaf, alpha=0.8 and one-visit step pairs: search won as many train
# games as with the defaults (16 of 24) and gave 146 step pairs a round instead of 16, but the candidates won
# 30% and 22.5% of test games, both rejected: labels far from the policy's own top moves, learnt in 8 steps, moved
# its greedy choices erratically.
# (FrozenLake, measured first: the default model walks "right" into the wall from every cell, 0% on test lakes,
# and a few rounds of RFT/DPO moved it to another single direction, not to a policy that reads the map.)
# The shop's pages make every model call ~4x dearer, so it gets fewer tasks, fewer steps and simulations.
SUITES: dict[str, dict[str, Any]] = {
    "game": {
        "suite": "tictactoe",
        "max_steps": None,
        "train_tasks": 12,
        "validation_tasks": 40,
        "test_tasks": 40,
        "pass_k": 2,
        "workers": 2,
    },
    "shop": {
        "suite": "shop",
        "max_steps": 8,
        "train_tasks": 3,
        "validation_tasks": 12,
        "test_tasks": 12,
        "search": {"simulations": 4, "k": 4, "max_depth": 2, "rollout_depth": 4, "rollout_policy": "random"},
        "pass_k": 2,
    },
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=sorted(SUITES), default="game")
    parser.add_argument("--recipe", choices=[*RECIPES, "all"], default="all")
    parser.add_argument("--minutes", type=float, default=12.0, help="time budget: no iteration starts after it")
    parser.add_argument("--iterations", type=int, default=6, help="most iterations after the baseline")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from learning.json")
    parser.add_argument("--smoke", action="store_true", help="1 train, 2 validation and 2 test tasks, not merged")
    parser.add_argument(
        "--critic",
        choices=("self", "oracle"),
        default="self",
        help="self: the policy critiques itself (the recipe); oracle (game only): a critic that knows the exact "
        "move values, served as an endpoint, with step pairs ranked by Q^ (results go to variants)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a practice setting laid over the suite's, dotted (train.rft.learning_rate=1e-4); repeatable; the "
        "run goes to variants",
    )
    args = parser.parse_args(argv)
    if args.critic == "oracle" and args.suite != "game":
        parser.error("--critic oracle knows tic-tac-toe only; use it with --suite game")
    try:
        overrides = parse_sets(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    tag = "+".join((["oracle_critic"] if args.critic == "oracle" else []) + args.set)
    # Each variant keeps its own store and checkpoints beside the headline runs'.
    kwargs: dict[str, Any] = {
        "minutes": args.minutes,
        "iterations": args.iterations,
        "smoke": args.smoke,
        "name_suffix": "-" + re.sub(r"[^A-Za-z0-9.=_-]+", "_", tag) if tag else "",
    }
    if not args.plot_only:
        for recipe in RECIPES if args.recipe == "all" else (args.recipe,):
            if args.critic == "oracle":
                entry = run_with_oracle(args.suite, recipe, extra=overrides, **kwargs)
            else:
                entry = run_one(args.suite, recipe, extra=overrides, **kwargs)
            if args.set:
                entry["settings_changed"] = args.set
            if not args.smoke:
                if tag:
                    merge_variant(f"{args.suite}.{recipe}.{tag}", entry)
                else:
                    merge(args.suite, recipe, entry)
            print(json.dumps({args.suite: {recipe: entry}}, indent=2))
    plot(json.loads(OUT.read_text()) if OUT.exists() else {})
    return 0


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`["train.rft.learning_rate=1e-4"]` -> `{"train": {"rft": {"learning_rate": 1e-4}}}` (values read as YAML)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ValueError(f"--set {item!r}: write a dotted key, '=' and a value, e.g. train.rft.max_steps=16")
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str):  # YAML 1.1 reads 1e-4 (no dot) as text
            with contextlib.suppress(ValueError):
                parsed = float(parsed)
        node[last] = parsed
    return out


def run_with_oracle(suite_key: str, recipe: str, extra: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """`run_one` with the oracle critic (oracle_critic.py) as the self-critique model, and step pairs ranked by
    Q^, which blends its scores in: what the recipe does when its critic is right."""
    from oracle_critic import OracleCritic

    from practicum.loop.config import overlay

    with OracleCritic() as oracle:
        oracle_settings = {
            "critic": {"backend": {"model": oracle.model_name, "base_url": oracle.api_root}},
            "train": {"data": {"pair_value": "blended"}},
        }
        merged = overlay(oracle_settings, extra or {})
        entry = run_one(suite_key, recipe, extra=merged, **kwargs)
        entry["oracle_requests"] = oracle.requests
    entry["variant"] = (
        "critic: the exact move values served as an OpenAI-compatible endpoint (benchmarks/oracle_critic.py), "
        "step pairs ranked by Q^; otherwise the game run's settings"
    )
    return entry


def run_one(
    suite_key: str,
    recipe: str,
    *,
    minutes: float,
    iterations: int,
    smoke: bool = False,
    extra: dict[str, Any] | None = None,
    name_suffix: str = "",
) -> dict[str, Any]:
    """One practice run from the default policy; its curve, gain, confidence intervals and time split.
    `extra` settings are laid over the suite's (variant runs); `name_suffix` names their store and checkpoints."""
    from rich.console import Console

    from practicum.loop.config import config_from_dict, overlay
    from practicum.loop.practice import practice

    RUNS.mkdir(parents=True, exist_ok=True)
    name = f"{suite_key}-{recipe}{name_suffix}"
    db = RUNS / f"{name}.db"
    for stale in RUNS.glob(f"{name}.db*"):
        stale.unlink()
    shutil.rmtree(RUNS / f"{name}-checkpoints", ignore_errors=True)  # the old run's policies
    settings = {
        **overlay(SUITES[suite_key], extra or {}),
        "recipe": recipe,
        "iterations": iterations,
        "time_budget_minutes": minutes,
        "store": f"sqlite:///{db}",
        "checkpoint_dir": str(RUNS / f"{name}-checkpoints"),
    }
    if smoke:
        settings.update(train_tasks=1, validation_tasks=2, test_tasks=2)
    config = config_from_dict(settings)
    load_before = os.getloadavg()
    started = time.monotonic()
    result = practice(config, console=Console(stderr=True), argv=["benchmarks/learning.py", suite_key, recipe])
    wall_min = (time.monotonic() - started) / 60
    curve, candidates = held_curve(result.history)
    outcomes = eval_outcomes(str(db), result.run_id)
    first, last = result.history[0]["policy_id"], held_policy(result.history)
    base, final = outcomes.get(first, {}), outcomes.get(last, {})
    n = len(base)
    return {
        "suite": config.suite,
        "curve": curve,
        "candidate_curve": candidates,
        "final_success": curve[-1],
        "gain_points": round(100 * (curve[-1] - curve[0]), 1),
        "gain_ci95_points": paired_gain_ci(base, final),
        "final_ci95": wilson(round(curve[-1] * n), n),
        "minutes": round(wall_min, 2),
        "iterations": len(curve) - 1,
        "test_tasks": n,
        "validation_tasks": config.validation_tasks,
        "train_tasks_per_iteration": config.train_tasks,
        "decisions": [row.get("decision") for row in result.history],
        "train_success_under_search": [row.get("train_success") for row in result.history[1:]],
        "train_solved_at_least_once": [row.get("train_solved_anywhere") for row in result.history[1:]],
        "train_pass_at_1": [row.get("train_pass_at_1") for row in result.history[1:]],
        f"train_pass_at_{config.pass_k}": [row.get("train_pass_at_k") for row in result.history[1:]],
        "test_move_quality": move_quality(str(db), result.run_id, config.suite, curve_policies(result.history)),
        "time_split_min": time_split(str(db), result.run_id),
        "rounds": round_sizes(str(db), result.run_id),
        "training_data_quality": data_quality(Path(settings["checkpoint_dir"]), config.suite),
        "load_average_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "stop_reason": result.stop_reason,
    }


def held_curve(history: list[dict[str, Any]]) -> tuple[list[float], list[float | None]]:
    """Test success of the policy held after each iteration, and of each iteration's candidate (None: none)."""
    held: list[float] = []
    candidates: list[float | None] = []
    for row in history:
        success = float(row.get("test_success", 0.0))
        if row.get("decision") == "rejected":  # the parent is held, and its test success has not changed
            held.append(held[-1] if held else 0.0)
        else:
            held.append(success)
        candidates.append(success if row.get("decision") in ("promoted", "rejected") else None)
    return [round(x, 4) for x in held], [None if x is None else round(x, 4) for x in candidates]


def curve_policies(history: list[dict[str, Any]]) -> list[int]:
    """The policy held after each iteration (the one whose test success the curve shows)."""
    held, out = int(history[0]["policy_id"]), []
    for row in history:
        if row.get("decision") in ("promoted", "no candidate"):
            held = int(row["policy_id"])
        out.append(held)
    return out


def move_quality(db: str, run_id: int, suite: str, policies: list[int]) -> dict[str, list[float | None]] | None:
    """Tic-tac-toe only: how good each held policy's greedy test moves are by the exact values of the game
    against this opponent (expectimax over its perfect and random halves): the share of optimal moves and the
    mean regret (win probability lost per move). Far less noisy than 40 wins and losses."""
    if suite != "tictactoe":
        return None
    import sqlite3

    con = sqlite3.connect(db)
    optimal: list[float | None] = []
    regret: list[float | None] = []
    for policy in policies:
        rows = con.execute(
            "SELECT n.prompt, n.action FROM nodes n JOIN episodes e ON e.id = n.episode_id WHERE e.run_id = ? "
            "AND e.policy_id = ? AND e.uid LIKE ? AND n.on_path AND n.parent_idx IS NOT NULL",
            (run_id, policy, f"r{run_id}/eval/greedy/%"),
        ).fetchall()
        scored = []
        for prompt, action in rows:
            values = _ttt_move_values(_ttt_board(prompt))
            if action in values:
                scored.append((values[action], max(values.values())))
        share, mean = _optimal_and_regret(scored)
        optimal.append(share)
        regret.append(mean)
    con.close()
    return {"optimal_share": optimal, "mean_regret": regret}


def data_quality(checkpoint_dir: Path, suite: str) -> list[dict[str, Any]] | None:
    """Tic-tac-toe only: how right each training round's data was, by the exact move values. For the RFT
    examples, the share of optimal moves and the mean regret; for the step pairs (DPO), the share whose chosen
    move is worth strictly more than the rejected one, the same, or less. Read from the datasets each round
    saved (`<run>/round-<id>/datasets/*.jsonl`)."""
    if suite != "tictactoe":
        return None
    out = []
    rounds = [d for d in checkpoint_dir.rglob("round-*") if (d / "datasets").is_dir()]  # under the run's folder
    for round_dir in sorted(rounds, key=lambda d: int(d.name.split("-")[1])):
        entry: dict[str, Any] = {"round": round_dir.name}
        rft = _jsonl(round_dir / "datasets" / "rft.jsonl")
        scored = [m for m in (_move_scored(row["prompt"], row["completion"]) for row in rft) if m is not None]
        if scored:
            entry["rft_examples"] = len(rft)
            entry["rft_optimal_share"], entry["rft_mean_regret"] = _optimal_and_regret(scored)
        pairs = _jsonl(round_dir / "datasets" / "step_pairs.jsonl")
        gaps = [g for g in (_pair_gap(r["prompt"], r["chosen"], r["rejected"]) for r in pairs) if g is not None]
        if gaps:
            entry["step_pairs"] = len(gaps)
            entry.update({f"step_pairs_{k}": v for k, v in _gap_shares(gaps).items()})
        out.append(entry)
    return out


def _move_scored(prompt: str, move: str) -> tuple[float, float] | None:
    """(value of `move`, value of the best move) on the tic-tac-toe board of `prompt`; None if `move` is not a
    legal cell there."""
    values = _ttt_move_values(_ttt_board(prompt))
    return (values[move], max(values.values())) if move in values else None


def _pair_gap(prompt: str, chosen: str, rejected: str) -> float | None:
    """How much more the chosen move is worth than the rejected one (exact values); None if either is illegal."""
    values = _ttt_move_values(_ttt_board(prompt))
    return values[chosen] - values[rejected] if chosen in values and rejected in values else None


def _gap_shares(gaps: list[float]) -> dict[str, float]:
    """The shares of pairs whose chosen move is worth more (right), the same (tied) or less (wrong)."""
    n = len(gaps)
    return {
        "right": round(sum(g > 1e-9 for g in gaps) / n, 3),
        "tied": round(sum(abs(g) <= 1e-9 for g in gaps) / n, 3),
        "wrong": round(sum(g < -1e-9 for g in gaps) / n, 3),
    }


def _optimal_and_regret(scored: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """From (value of the move played, value of the best move) pairs: the share of optimal moves, the mean regret."""
    if not scored:
        return None, None
    share = sum(v >= best - 1e-9 for v, best in scored) / len(scored)
    return round(share, 3), round(sum(best - v for v, best in scored) / len(scored), 4)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _ttt_board(prompt: str | None) -> str:
    """The board of a tic-tac-toe prompt as 9 characters (the top row, 3, first), from the last board written in
    it; "" (no legal moves, so no values) if it holds none."""
    from practicum.envs.games.tictactoe import board_from_text

    return board_from_text(prompt or "") or ""


def _ttt_move_values(board: str) -> dict[str, float]:
    """The win probability after each legal move, for the side to move, with best play afterwards."""
    from practicum.envs.games.tictactoe import legal_cells, play, to_move

    me = to_move(board)
    return {cell: _ttt_win_chance(play(board, cell), me) for cell in legal_cells(board)}


@functools.cache
def _ttt_win_chance(board: str, me: int) -> float:
    from practicum.envs.games.tictactoe import best_moves, legal_cells, play, to_move, winner

    won = winner(board)
    if won is not None:
        return 1.0 if won == me else 0.0
    cells = legal_cells(board)
    if to_move(board) == me:
        return max(_ttt_win_chance(play(board, c), me) for c in cells)
    best = best_moves(board)  # the opponent: a random cell half of the time, else one of its best, uniformly
    random_half = sum(_ttt_win_chance(play(board, c), me) for c in cells) / len(cells)
    perfect_half = sum(_ttt_win_chance(play(board, c), me) for c in best) / len(best)
    return 0.5 * random_half + 0.5 * perfect_half


def held_policy(history: list[dict[str, Any]]) -> int:
    """The policy the loop holds at the end (the last promoted one)."""
    policy = history[0]["policy_id"]
    for row in history[1:]:
        if row.get("decision") in ("promoted", "no candidate"):
            policy = row["policy_id"]
    return int(policy)


def eval_outcomes(db: str, run_id: int) -> dict[int, dict[str, bool]]:
    """Per policy, per test task: did the greedy evaluation episode succeed (validation episodes, played afresh
    every iteration, have the iteration in their uid and are left out)."""
    import sqlite3

    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT policy_id, uid, outcome FROM episodes WHERE run_id = ? AND uid LIKE ?",
        (run_id, f"r{run_id}/eval/greedy/%"),
    ).fetchall()
    con.close()
    out: dict[int, dict[str, bool]] = {}
    for policy_id, uid, outcome in rows:
        task = uid.split("/", 4)[-1]
        out.setdefault(int(policy_id), {})[task] = outcome == "success"
    return out


def time_split(db: str, run_id: int) -> dict[str, float]:
    """Minutes spent in search, sampled (pass@k) and greedy evaluation episodes (summed over the workers, which
    play side by side), and in training rounds."""
    import sqlite3

    con = sqlite3.connect(db)
    split = {
        f"{mode}_episodes": (
            con.execute(
                "SELECT COALESCE(SUM(wall_seconds), 0) FROM episodes WHERE run_id = ? AND mode = ?", (run_id, mode)
            ).fetchone()[0]
            or 0.0
        )
        / 60
        for mode in ("search", "sample", "greedy")
    }
    rounds = con.execute(
        "SELECT started_at, finished_at, metrics FROM training_rounds WHERE run_id = ? AND finished_at IS NOT NULL",
        (run_id,),
    ).fetchall()
    con.close()
    from datetime import datetime

    split["training"] = (
        sum((datetime.fromisoformat(str(b)) - datetime.fromisoformat(str(a))).total_seconds() for a, b, _ in rounds)
        / 60
    )
    # Inside training: the optimizer steps of each stage (TRL's train()); the rest is loading, merging, saving.
    for stage in ("rft", "dpo"):
        seconds = [json.loads(m or "{}").get(f"train/{stage}_seconds") for _, _, m in rounds]
        split[f"training_{stage}_steps"] = sum(x for x in seconds if isinstance(x, int | float)) / 60
    return {k: round(v, 2) for k, v in split.items()}


def round_sizes(db: str, run_id: int) -> list[dict[str, Any]]:
    """What each training round of the run trained on (RFT examples, DPO pairs) and how long its stages took."""
    import sqlite3

    con = sqlite3.connect(db)
    rows = con.execute("SELECT status, metrics FROM training_rounds WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
    con.close()
    keys = ("rft_examples", "dpo_pairs", "rft_seconds", "dpo_seconds", "rft_loss_last", "dpo_loss_last")
    out = []
    for status, metrics in rows:
        m = json.loads(metrics or "{}")
        out.append({"status": status, **{k: m.get(f"train/{k}") for k in keys if f"train/{k}" in m}})
    return out


def wilson(successes: int, n: int, z: float = 1.96) -> list[float] | None:
    """The Wilson score 95% interval of a success rate."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def paired_gain_ci(base: dict[str, bool], final: dict[str, bool], z: float = 1.96) -> list[float] | None:
    """A 95% interval for the gain in points, from the paired per-task differences (same test tasks)."""
    tasks = sorted(set(base) & set(final))
    if not tasks:
        return None
    diffs = [int(final[t]) - int(base[t]) for t in tasks]
    n = len(diffs)
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / max(n - 1, 1)
    half = z * math.sqrt(var / n)
    return [round(100 * (mean - half), 1), round(100 * (mean + half), 1)]


def merge(suite_key: str, recipe: str, entry: dict[str, Any]) -> None:
    """Write one run's numbers into learning.json, keeping the other runs' numbers."""
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data.setdefault(suite_key, {})[recipe] = entry
    data["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    data["targets"] = {
        "gain_points": TARGET_GAIN,
        "agentq_above_rft": True,
        "minutes_per_run": 15,
    }
    data["verdict"] = verdict(data)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")


def merge_variant(key: str, entry: dict[str, Any]) -> None:
    """Write one run's numbers into learning.json's `variants` (runs that are not the recipe's headline)."""
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data.setdefault("variants", {})[key] = entry
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")


def verdict(data: dict[str, Any]) -> dict[str, Any]:
    """Which targets the merged runs meet (None where a run is missing)."""
    out: dict[str, Any] = {}
    for key, target in TARGET_GAIN.items():
        runs = data.get(key, {})
        agentq, rft = runs.get("agentq"), runs.get("rft")
        out[f"{key}.gain_target_met"] = None if agentq is None else agentq["gain_points"] >= target
        out[f"{key}.agentq_above_rft"] = (
            None if agentq is None or rft is None else agentq["final_success"] > rft["final_success"]
        )
        out[f"{key}.runs_within_15_min"] = {r: v["minutes"] <= 15 for r, v in runs.items()} or None
    return out


def plot(data: dict[str, Any]) -> None:
    """One panel per suite, one curve per recipe (test greedy success per iteration, 95% bars at the end);
    a recipe's run with the oracle critic, where there is one, dashed beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    suites = [s for s in SUITES if data.get(s)]
    if not suites:
        return
    fig, axes = plt.subplots(1, len(suites), figsize=(5.5 * len(suites), 3.8), squeeze=False)
    for ax, key in zip(axes[0], suites, strict=True):
        for recipe in RECIPES:
            entry = data[key].get(recipe)
            if entry is None:
                continue
            xs = list(range(len(entry["curve"])))
            (line,) = ax.plot(xs, entry["curve"], marker="o", label=f"{recipe} ({entry['gain_points']:+g} pts)")
            ci = entry.get("final_ci95")
            if ci:
                y = entry["curve"][-1]
                ax.errorbar([xs[-1]], [y], yerr=[[y - ci[0]], [ci[1] - y]], color=line.get_color(), capsize=4)
            oracle = data.get("variants", {}).get(f"{key}.{recipe}.oracle_critic")
            if oracle is not None:  # the same recipe with a critic that knows the game: dashed, same colour
                label = f"{recipe}, oracle critic ({oracle['gain_points']:+g} pts)"
                ax.plot(oracle["curve"], marker="s", linestyle="--", color=line.get_color(), label=label)
        first = next(iter(data[key].values()))
        ax.set_title(f"{key}: {first['suite']} · {first['test_tasks']} test tasks")
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("test greedy success")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
