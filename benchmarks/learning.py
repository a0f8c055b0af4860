"""Does practice make the policy better? Test success per iteration, per recipe, over several seeds.

Runs `practicum practice` in-process from the default policy (SmolLM2-135M-Instruct) on one suite, once per
recipe and seed, one run after another (seed by seed, each seed's recipes in turn):
- agentq: MCTS + self-critique, then RFT (successes and the good steps of failures) and step-level DPO;
- rft: the same search, RFT on successful episodes only;
- none: the same collection and evaluation, no training (the noise floor).
A seed (the practice config's `seed`) changes search, sampling and training, not the tasks: every recipe and
seed plays the same train, validation and test tasks (disjoint from each other), and greedy evaluation is
deterministic, so the greedy curve's iteration 0 is the same number for all of them. Promotions are decided on
validation tasks; the test tasks only measure.

A run's curve is the greedy test success of the policy the loop holds after each iteration (a rejected
candidate leaves its parent's number), and with the search curve on (the default) the test success of the same
policy with online search beside it. Per recipe, learning.json keeps every seed's curve, their mean, the
Student t 95% interval of the mean final value and of the mean gain over seeds, and each run's history; a
`verdict` checks the targets. Each run writes its store `benchmarks/results/learning-runs/<suite>-<recipe>-seed<n>.db`
and its policies under `learning-runs/checkpoints/` (not committed; a new run of the same name replaces both),
and is merged into the results file as soon as it ends, so a stopped benchmark keeps its finished runs; the
plot (`learning.png` beside the results file) is redrawn after each. The format warm-up, the same for every
recipe and seed, is trained once before the first run's clock starts and found there by every run.

    .venv/bin/python benchmarks/learning.py --default-run                     # `practicum practice` as is, seeds 0 1 2
    .venv/bin/python benchmarks/learning.py --suite frozenlake-4x4 --recipe all   # 3 recipes x 3 seeds
    .venv/bin/python benchmarks/learning.py --suite tictactoe --recipe agentq --seeds 0 1 2 3 4
    .venv/bin/python benchmarks/learning.py --suite shop --recipe all
    .venv/bin/python benchmarks/learning.py --plot-only
    .venv/bin/python benchmarks/learning.py --search-curve-only --suite frozenlake-4x4 --recipe rft  # after the fact
    .venv/bin/python benchmarks/learning.py --suite tictactoe --recipe rft --critic oracle   # the exact-value critic
    .venv/bin/python benchmarks/learning.py --recipe rft --set train.rft.learning_rate=1e-4  # a variant
    .venv/bin/python benchmarks/learning.py --smoke --recipe none --seeds 0 1 --out /tmp/learning.json  # wiring

Time per run on 2 CPU cores (the warm-up aside, a few minutes once): a FrozenLake default run (`--default-run`,
the `practicum practice` defaults) takes 12-15 minutes, so three seeds about 40 minutes; the suite runs
add a search evaluation of every policy on the curve on the test tasks (the search curve; `--no-search-curve`
leaves it out), so they take longer. Tic-tac-toe and the shop have a 12-minute budget after which no iteration
starts (a tic-tac-toe run ends within about 30 minutes; a shop run fits one iteration, about 25 minutes).
A `--smoke` run (1 train, 2 validation and 2 test tasks, 1 iteration) takes under a minute on idle cores, far
longer beside other work; it is written only where `--out` points.

The default run is also FrozenLake's agentq entry (`default_run_suite`: its config is that recipe's, search
curve aside), so `--recipe rft --no-search-curve` and `--recipe none --no-search-curve` complete FrozenLake's
recipe comparison with the same seeds and minutes. `--search-curve-only` (with `--default-run`, or `--suite` and
`--recipe`, and optionally `--seeds`) adds the search curve to such runs afterwards: it evaluates every policy in
their histories with search on their test tasks, in each run's own store and config, and sums the entries up again
(each run's `search_minutes` keeps the cost).

Runs with the oracle critic or a `--set` go to learning.json's `variants`, keyed by what they changed, in the
same per-suite, per-recipe layout. Measurements of earlier versions of this benchmark are in docs/learning.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import os
import platform
import re
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from yardsticks import gap_shares, move_scored, optimal_and_regret, pair_gap  # noqa: E402

from practicum.envs.games.tictactoe import prompt_move_values  # noqa: E402  (exact values: pure Python, no torch)
from practicum.loop.config import parse_sets  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
OUT = RESULTS / "learning.json"
RUNS = RESULTS / "learning-runs"
CHECKPOINTS = RUNS / "checkpoints"  # every run's policies, and the format warm-up they share
RECIPES = ("agentq", "rft", "none")
DEFAULT_SEEDS = (0, 1, 2)
LAYOUT = 2  # learning.json's layout; a file in another (the single-seed one before it) is started afresh
SMOKE = {"train_tasks": 1, "validation_tasks": 2, "test_tasks": 2, "iterations": 1}

# What each suite's runs lay over the practice defaults (besides the recipe, seed, store and checkpoints).
# FrozenLake runs the defaults as they are: they are what `practicum practice` does, and what is being tuned.
# Tic-tac-toe plays an opponent that is perfect half of the time: cheap episodes, so more tasks, with two
# collection workers (one torch thread each). The shop's pages
# make every model call ~4x dearer (and a search box slot several), so it gets fewer tasks, steps and simulations
# (one proposal per committed step: depth 1, each candidate tried once; no pass@k). Its rollouts follow the
# shopper's rule of thumb (`envs/web/shop/shopper.py`), since random ones never finished a purchase (six steps),
# and search also tries the shopper's next action at every node (`propose_playout`): the default model's own
# proposals never held a search for the product (docs/learning.md), so nothing search found could teach it to.
SUITES: dict[str, dict[str, Any]] = {
    "frozenlake-4x4": {},
    # One round of 24 searched games: its DPO stage trains on all of the round's step pairs (the suite's default),
    # about as many as two rounds of 12 gave, and a second round would train them all again from the start.
    "tictactoe": {
        "max_steps": None,
        "train_tasks": 24,
        "validation_tasks": 40,
        "test_tasks": 40,
        "pass_k": 0,
        "workers": 2,
        "iterations": 1,
    },
    "shop": {
        "max_steps": 8,
        "train_tasks": 4,
        "validation_tasks": 6,
        "test_tasks": 12,
        "search": {
            "simulations": 5,
            "k": 4,
            "max_depth": 1,
            "rollout_depth": 8,
            "rollout_policy": "heuristic",
            "propose_playout": True,
        },
        "pass_k": 0,
        "iterations": 6,
        "time_budget_minutes": 12.0,
    },
}

# The targets the verdict checks, per suite: agentq's (field, at least this). Beside it, for every suite: the
# recipes rank agentq > rft > none with 95% intervals of the final value that do not overlap.
TARGETS: dict[str, tuple[str, float]] = {
    "frozenlake-4x4": ("final_mean", 0.80),
    "tictactoe": ("final_mean", 0.65),
    "shop": ("gain_points_mean", 20.0),
}
DEFAULT_RUN_GAIN = 30.0  # points, with the low end of its 95% interval above 0

# Two-sided 95% Student t quantiles t_{0.975, df} for df 1-9 (2 to 10 seeds), where scipy is not installed.
T975 = {1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469, 7: 2.3646, 8: 2.3060, 9: 2.2622}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=list(SUITES), default=None, help="default: frozenlake-4x4")
    parser.add_argument("--recipe", choices=[*RECIPES, "all"], default=None, help="default: all")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=None,
        help="one run per seed (default: 0 1 2); with --search-curve-only, the stored runs of these seeds (default: "
        "all)",
    )
    parser.add_argument(
        "--default-run",
        action="store_true",
        help="run `practicum practice` with no flags (its defaults as they are) once per seed: the README's figures",
    )
    parser.add_argument("--minutes", type=float, help="time budget: no iteration starts after it (default: suite's)")
    parser.add_argument("--iterations", type=int, help="most iterations after the baseline (default: suite's)")
    parser.add_argument(
        "--eval-with-search",
        dest="search_curve",
        action="store_true",
        default=True,
        help="also record test success with online search each iteration (the default)",
    )
    parser.add_argument("--no-search-curve", dest="search_curve", action="store_false", help="greedy test curve only")
    parser.add_argument(
        "--search-curve-only",
        action="store_true",
        help="no new runs: evaluate with search every policy on the curves of the stored runs of the chosen entries "
        "(--default-run, or --suite and --recipe), each in its run's store with its run's config and test tasks, "
        "and sum the entries up again",
    )
    parser.add_argument("--out", type=Path, default=None, help=f"the results file (default: {OUT.relative_to(ROOT)})")
    parser.add_argument("--plot-only", action="store_true", help="redraw the plot from the results file")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="1 train, 2 validation and 2 test tasks, 1 iteration; written only where --out points",
    )
    parser.add_argument(
        "--critic",
        choices=("self", "oracle"),
        default="self",
        help="self: the policy critiques itself (the recipe); oracle (tictactoe only): a critic that knows the "
        "exact move values, served as an endpoint, with step pairs ranked by Q^ (results go to variants)",
    )
    parser.add_argument(
        "--add-seeds",
        action="store_true",
        help="add these seeds' runs to the runs already in the results file for the same entry and settings, "
        "instead of replacing them (more seeds for a narrower interval)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a practice setting laid over the suite's, dotted (train.rft.learning_rate=1e-4); repeatable; the "
        "runs go to variants",
    )
    args = parser.parse_args(argv)
    suite = args.suite or "frozenlake-4x4"
    if args.seeds is not None and (len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0):
        parser.error(f"--seeds must be distinct integers >= 0; got {' '.join(map(str, args.seeds))}")
    seeds = args.seeds or list(DEFAULT_SEEDS)
    if args.default_run:
        flags = {
            "--suite": args.suite is not None,
            "--recipe": args.recipe is not None,
            "--set": bool(args.set),
            "--minutes": args.minutes is not None,
            "--iterations": args.iterations is not None,
            "--critic oracle": args.critic == "oracle",
        }
        refuse_flags(parser, flags, "--default-run runs the defaults as they are")
    if args.critic == "oracle" and suite != "tictactoe":
        parser.error("--critic oracle knows tic-tac-toe only; use it with --suite tictactoe")
    try:
        overrides = parse_sets(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    tag = "+".join((["oracle_critic"] if args.critic == "oracle" else []) + args.set)
    if args.search_curve_only:
        flags = {
            "--plot-only": args.plot_only,
            "--smoke": args.smoke,
            "--add-seeds": args.add_seeds,
            "--minutes": args.minutes is not None,
            "--iterations": args.iterations is not None,
            # the runs' critic was a server of their own, gone with them
            "--critic oracle": args.critic == "oracle",
        }
        refuse_flags(parser, flags, "--search-curve-only evaluates stored runs")
        chosen = [None] if args.default_run else list(RECIPES if args.recipe in (None, "all") else (args.recipe,))
        return search_curve_only(args.out or OUT, suite, chosen, args.seeds, tag)

    if args.plot_only:
        path = args.out or OUT
        drawn = plot(load_results(path), path.with_suffix(".png"))
        print(f"plot: {drawn}" if drawn else f"no results in the per-seed layout in {path}; nothing to plot")
        return 0
    out = args.out or (None if args.smoke else OUT)  # a smoke run is not merged unless asked where
    with _oracle() if args.critic == "oracle" else contextlib.nullcontext() as oracle:
        if args.default_run:
            jobs: list[tuple[str | None, int, dict[str, Any] | None]] = [(None, seed, None) for seed in seeds]
        else:
            recipes = RECIPES if args.recipe in (None, "all") else (args.recipe,)
            jobs = []
            for seed in seeds:  # seed by seed: a stopped benchmark leaves every recipe with the same seeds
                for recipe in recipes:
                    settings = suite_settings(suite, recipe, args.minutes, args.iterations, args.search_curve)
                    if oracle is not None:
                        settings = _overlay(settings, oracle.settings)
                    jobs.append((recipe, seed, _overlay(settings, overrides)))
        earlier = stored_runs(out, suite, jobs, tag) if args.add_seeds and out is not None else {}
        if any(int(r["seed"]) in seeds for runs in earlier.values() for r in runs):
            parser.error("--add-seeds adds new seeds; the results file already holds a run of one of these")
        entries = run_jobs(suite, jobs, out=out, tag=tag, smoke=args.smoke, oracle=oracle, earlier=earlier)
    if entries is None:
        return 130
    if out is None:
        shown = default_run_entry(entries[None]) if args.default_run else {suite: entries}
        print(json.dumps({"default_run" if args.default_run else "results": shown}, indent=2))
    else:
        print(f"results: {out}; plot: {out.with_suffix('.png')}")
    return 0


def run_jobs(
    suite: str,
    jobs: list[tuple[str | None, int, dict[str, Any] | None]],
    *,
    out: Path | None,
    tag: str,
    smoke: bool,
    oracle: Any = None,
    earlier: dict[str | None, list[dict[str, Any]]] | None = None,
) -> dict[str | None, dict[str, Any]] | None:
    """Run each (recipe, seed, settings) job in turn (recipe None: the default run); after each, sum up its
    recipe's runs so far and merge them into `out` (when given). The summed-up entries; None if a run was
    stopped, and then no later job runs."""
    from rich.markup import escape

    console = _console()
    done: dict[str | None, list[dict[str, Any]]] = {k: list(v) for k, v in (earlier or {}).items()}
    entries: dict[str | None, dict[str, Any]] = {}
    for n, (recipe, seed, settings) in enumerate(jobs, 1):
        label = escape(f"[{n}/{len(jobs)}] seed {seed} · {recipe or 'default run (practicum practice)'}")
        console.print(f"[bold]{label}[/] · started at {datetime.now():%H:%M}")
        name = f"default-seed{seed}" if recipe is None else f"{suite}-{recipe}-seed{seed}"
        if tag:
            name += "-" + re.sub(r"[^A-Za-z0-9.=_-]+", "_", tag)
        asked = oracle.requests if oracle is not None else 0
        run = practice_run("smoke-" + name if smoke else name, settings, seed, smoke=smoke)
        curve = held_curve(run["history"])[0]
        console.print(
            f"[bold]{label}[/] · finished in {run['minutes']:.1f} min · test success {curve[0]:.0%} → "
            f"{curve[-1]:.0%} · {escape(str(run['stop_reason']))}"
        )
        if run["status"] != "finished":
            console.print(f"[yellow]run {run['run_id']} was {run['status']}: not merged, and no further runs")
            return None
        if oracle is not None:
            run["oracle_requests"] = oracle.requests - asked
        done.setdefault(recipe, []).append(run)
        entries[recipe] = entry = aggregate(done[recipe])
        if settings is not None:
            entry["settings"] = settings
        if out is not None:  # after every run: a stopped benchmark keeps the runs that finished
            merge(out, "default_run" if recipe is None else suite, recipe, entry, variant=tag or None)
    return entries


def refuse_flags(parser: argparse.ArgumentParser, flags: dict[str, bool], why: str) -> None:
    """Exit with one line (`why`; drop ...) naming the flags given that the mode cannot take, if any."""
    given = ", ".join(flag for flag, on in flags.items() if on)
    if given:
        parser.error(f"{why}; drop {given}")


def suite_settings(
    suite: str, recipe: str, minutes: float | None, iterations: int | None, search_curve: bool
) -> dict[str, Any]:
    """What a suite run lays over the practice defaults: the suite's settings, the recipe, and the flags given."""
    settings: dict[str, Any] = {"suite": suite, **SUITES[suite], "recipe": recipe}
    if minutes is not None:
        settings["time_budget_minutes"] = minutes
    if iterations is not None:
        settings["iterations"] = iterations
    if search_curve:
        settings["eval_with_search"] = True
    return settings


def _overlay(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    from practicum.loop.config import overlay

    return overlay(base, top)


@contextlib.contextmanager
def _oracle() -> Any:
    """The oracle critic (oracle_critic.py) served for the runs; its `settings` make it the self-critique model,
    with step pairs ranked by Q^, which blends its scores in: what the recipe does when its critic is right."""
    from oracle_critic import OracleCritic

    with OracleCritic() as server:
        server.settings = {
            "critic": {"backend": {"model": server.model_name, "base_url": server.api_root}},
            "train": {"data": {"pair_value": "blended"}},
        }
        yield server


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def practice_run(name: str, settings: dict[str, Any] | None, seed: int, *, smoke: bool = False) -> dict[str, Any]:
    """One practice run from the default policy, in its own store `learning-runs/<name>.db` (replacing the last
    run of that name, policies included); what it measured. `settings` None runs `PracticeConfig()` as
    `practicum practice` with no flags does."""
    from practicum.loop.config import config_from_dict
    from practicum.loop.practice import practice

    RUNS.mkdir(parents=True, exist_ok=True)
    db = RUNS / f"{name}.db"
    forget(db)
    fixed: dict[str, Any] = {"seed": seed, "store": f"sqlite:///{db}", "checkpoint_dir": str(CHECKPOINTS)}
    if smoke:
        fixed.update(SMOKE)
    config = config_from_dict({**(settings or {}), **fixed})  # no settings: what `practicum practice` runs
    console = _console()
    warm_up_once(config, console)  # before the clock starts, so that no run's minutes hold it
    started = time.monotonic()
    result = practice(config, console=console, argv=["benchmarks/learning.py", name])
    minutes = (time.monotonic() - started) / 60
    run: dict[str, Any] = {
        "seed": seed,
        "store": _shown(db),
        "run_id": result.run_id,
        "status": result.status,
        "stop_reason": result.stop_reason,
        "minutes": round(minutes, 2),
        "history": [trim_row(row) for row in result.history],
        "time_split": time_split(str(db), result.run_id),
        "rounds": round_sizes(str(db), result.run_id),
    }
    if config.suite == "tictactoe":
        run["test_move_quality"] = move_quality(str(db), result.run_id, config.suite, curve_policies(result.history))
        run["training_data_quality"] = data_quality(CHECKPOINTS / _run_names(db)[0], config.suite)
    return run


def forget(db: Path) -> None:
    """Delete an earlier run's store and the policies it trained (under the shared checkpoint folder)."""
    if db.exists():
        for run_name in _run_names(db):
            shutil.rmtree(CHECKPOINTS / run_name, ignore_errors=True)
    for path in RUNS.glob(f"{db.name}*"):  # the store and its -wal, -shm
        path.unlink()


def _run_names(db: Path) -> list[str]:
    """The names of the runs in a store (each names its folder of policies)."""
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return [row[0] for row in con.execute("SELECT name FROM runs ORDER BY id")]
    except sqlite3.OperationalError:  # a store the run never got to create its tables in
        return []
    finally:
        con.close()


def warm_up_once(config: Any, console: Any) -> None:
    """Train (or find) the format warm-up that the run would start with, in the shared checkpoint folder, where
    the run then finds it: it is the same for every recipe and seed (`loop.warmup`)."""
    if config.warmup.states == 0 or config.policy.is_endpoint:
        return
    from practicum.agents.config import DEFAULT_MODEL
    from practicum.agents.default import default_model_dir
    from practicum.envs.registry import get_suite
    from practicum.envs.task_files import load_task_files
    from practicum.loop.warmup import warm_up

    load_task_files(config.task_files)
    model = default_model_dir() if config.policy.model == DEFAULT_MODEL else config.policy.model
    warm_up(model, get_suite(config.suite), config.warmup, CHECKPOINTS, lambda text: console.print(f"[cyan]{text}"))


def _shown(path: Path) -> str:
    """A path relative to the repository where it is inside it."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)


def trim_row(row: dict[str, Any]) -> dict[str, Any]:
    """An iteration's history row, its numbers (floats to 4 places) and its decision only."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "decision":
            out[key] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = round(value, 4) if isinstance(value, float) else value
    return out


# ------------------------------------------------------------------------------------------ the search curve, after
def search_curve_only(out: Path, suite: str, recipes: list[str | None], seeds: list[int] | None, tag: str) -> int:
    """`--search-curve-only`: give the stored runs (of `seeds`; None: all) of each recipe's entry (None: the default
    run's) their search curve, then sum the entry up again and merge it as a new run would be, after each run (a
    stopped evaluation keeps the runs done). An entry whose runs are the default run's (`runs_of`) is evaluated
    and written as the default run. 0; 130 if stopped."""
    console = _console()
    data = load_results(out)
    targets: list[str | None] = []
    for asked in recipes:
        linked = stored_entry(data, suite, asked, tag).get("runs_of") == "default_run"
        recipe = None if linked else asked  # one measurement in two places: evaluated once, merge() writes both
        if not stored_entry(data, suite, recipe, tag).get("runs"):
            console.print(f"[yellow]no stored runs of {_entry_name(suite, recipe, tag)} in {out}: skipped")
        elif recipe not in targets:
            targets.append(recipe)
    for recipe in targets:
        entry = stored_entry(data, suite, recipe, tag)
        runs = entry["runs"]
        chosen = [r for r in runs if seeds is None or int(r["seed"]) in seeds]
        missing = sorted(set(seeds or []) - {int(r["seed"]) for r in runs})
        if missing:
            console.print(f"[yellow]{_entry_name(suite, recipe, tag)} has no run of seed(s) {missing}")
        for run in chosen:
            console.print(f"{_entry_name(suite, recipe, tag)} · seed {run['seed']} · started at {datetime.now():%H:%M}")
            try:
                add_search_curve(run, console)
            except KeyboardInterrupt:
                console.print("[yellow]stopped: this run is not merged (the runs before it are)")
                return 130
            summed = aggregate(runs)
            if "settings" in entry:  # what run_jobs() keeps beside the summary, and stored_runs() matches on
                summed["settings"] = entry["settings"]
            merge(out, "default_run" if recipe is None else suite, recipe, summed, variant=tag or None)
            console.print(
                f"search curve {held_curve(run['history'], key='test_search_success')[0]}, "
                f"{run['search_minutes']:.1f} min; the entry's: {summed['search_curve']}"
            )
    return 0


def _entry_name(suite: str, recipe: str | None, tag: str) -> str:
    return "the default run" if recipe is None else f"{suite} {recipe}" + (f" ({tag})" if tag else "")


def add_search_curve(run: dict[str, Any], console: Any = None) -> None:
    """Evaluate with search, on the run's test tasks, every policy the run's history names (a rejected row names
    its candidate; `held_curve` decides what counts), and write each row's `test_search_success` into `run`,
    with the minutes it took as `search_minutes`."""
    policies = sorted({int(row["policy_id"]) for row in run["history"]})
    started = time.monotonic()
    success = search_successes(_stored_path(run["store"]), int(run["run_id"]), policies, console)
    run["history"] = [
        _put_after(row, "test_success", "test_search_success", round(success[int(row["policy_id"])], 4))
        for row in run["history"]
    ]
    run["search_minutes"] = round((time.monotonic() - started) / 60, 2)


def search_successes(db: Path, run_id: int, policies: list[int], console: Any = None) -> dict[int, float]:
    """Each policy's test success with search in run `run_id` of the store `db`, as the loop's curve point
    (`_curve_point` with `eval_with_search`) would have measured it: the run's config (search settings, seed,
    step limit, workers) and test tasks, its episode uids (an episode played already is found, not played again),
    and an eval recorded under the run."""
    from practicum.envs.registry import get_suite
    from practicum.envs.task_files import load_task_files
    from practicum.loop.config import config_from_dict
    from practicum.loop.episodes import EpisodeRunner
    from practicum.loop.graph import LoopContext, _evaluate
    from practicum.loop.practice import runner_spec
    from practicum.store import open_store, queries

    with open_store(f"sqlite:///{db}", create=False) as store:
        with store.session() as s:
            config = config_from_dict(dict(queries.get_run(s, run_id).config))
        load_task_files(config.task_files)
        runner = EpisodeRunner(runner_spec(config, store, run_id), store=store)
        ctx = LoopContext(  # its node clock writes nothing: no node of the loop runs
            config=config, store=store, suite=get_suite(config.suite), runner=runner, checkpoint_dir=str(db.parent)
        )
        try:
            tasks = ctx.test_tasks()
            out: dict[int, float] = {}
            for policy in policies:
                out[policy] = _evaluate(ctx, {"run_id": run_id}, policy, tasks, mode="search").success_rate
                if console is not None:
                    console.print(f"  policy {policy}: {out[policy]:.0%} of {len(tasks)} test tasks with search")
            return out
        finally:
            runner.close()


def _stored_path(shown: str) -> Path:
    """A run's store as the results file names it (relative to the repository where it is inside it)."""
    path = Path(shown)
    return path if path.is_absolute() else ROOT / path


def _put_after(row: dict[str, Any], after: str, key: str, value: Any) -> dict[str, Any]:
    """`row` with `key` set to `value`, just after `after`, where the loop's own rows have it."""
    out = {k: v for k, v in row.items() if k != key}
    if after not in out:
        return {**out, key: value}
    items = list(out.items())
    at = [k for k, _ in items].index(after) + 1
    return dict([*items[:at], (key, value), *items[at:]])


# ------------------------------------------------------------------------------------------ over seeds
def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One recipe's runs, one per seed, summed up: each seed's curve, their mean, and 95% intervals over seeds."""
    seeds = [int(r["seed"]) for r in runs]
    curves = [held_curve(r["history"])[0] for r in runs]
    searched = [held_curve(r["history"], key="test_search_success")[0] for r in runs]
    has_search = all(any("test_search_success" in row for row in r["history"]) for r in runs)
    finals = [c[-1] for c in curves]
    gains = [100 * (c[-1] - c[0]) for c in curves]
    entry: dict[str, Any] = {
        "seeds": seeds,
        "curves": curves,
        "mean_curve": mean_curve(curves),
        "ci95": t_interval(finals),
        "final_mean": round(_mean(finals), 4),
        "gain_points_mean": round(_mean(gains), 2),
        "gain_ci95_points": t_interval(gains, places=2),
        "minutes": round(_mean([float(r["minutes"]) for r in runs]), 2),
        "test_tasks": next((row["test_tasks"] for r in runs for row in r["history"] if "test_tasks" in row), None),
        "search_curve": mean_curve(searched) if has_search else None,
        "search_curves": searched if has_search else None,
        "time_split": mean_split([r.get("time_split", {}) for r in runs]),
    }
    lengths = [len(c) for c in curves]
    if len(set(lengths)) > 1:
        counts = ", ".join(f"seed {s}: {n - 1}" for s, n in zip(seeds, lengths, strict=True))
        entry["note"] = (
            f"the seeds ran different numbers of iterations ({counts}; the time budget stopped them): the mean curve "
            f"carries each seed's last value forward to iteration {max(lengths) - 1}"
        )
    entry["runs"] = runs
    return entry


def held_curve(history: list[dict[str, Any]], key: str = "test_success") -> tuple[list[float], list[float | None]]:
    """`key` (test success) of the policy held after each iteration, and of each iteration's candidate (None:
    none). A rejected candidate leaves its parent held, whose number has not changed."""
    held: list[float] = []
    candidates: list[float | None] = []
    for row in history:
        value = float(row.get(key, 0.0))
        if row.get("decision") == "rejected":
            held.append(held[-1] if held else 0.0)
        else:
            held.append(value)
        candidates.append(value if row.get("decision") in ("promoted", "rejected") else None)
    return [round(x, 4) for x in held], [None if x is None else round(x, 4) for x in candidates]


def carried(curves: list[list[float]]) -> list[list[float]]:
    """The curves at the longest one's length, each seed's last value carried forward (a time budget stops some
    seeds an iteration or more before others)."""
    longest = max((len(c) for c in curves), default=0)
    return [c + [c[-1]] * (longest - len(c)) for c in curves if c]


def mean_curve(curves: list[list[float]]) -> list[float]:
    """Per iteration, the mean over seeds (curves carried forward to the longest)."""
    return [round(_mean(list(column)), 4) for column in zip(*carried(curves), strict=True)]


def t_critical(df: int) -> float:
    """t_{0.975, df}: the two-sided 95% Student t quantile."""
    try:
        from scipy.stats import t
    except ImportError:
        if df in T975:
            return T975[df]
        # Cornish-Fisher expansion around the normal quantile: within 1e-3 of the exact value from df 10 on.
        z = 1.959964
        terms = ((z**3 + z) / 4, (5 * z**5 + 16 * z**3 + 3 * z) / 96, (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384)
        return z + sum(term / df ** (i + 1) for i, term in enumerate(terms))
    return float(t.ppf(0.975, df))


def t_interval(values: list[float], places: int = 4) -> list[float] | None:
    """The 95% interval of the mean over seeds, mean ± t_{0.975, n-1} · sd / sqrt(n); None with fewer than 2."""
    n = len(values)
    if n < 2:
        return None
    mean = _mean(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = t_critical(n - 1) * sd / math.sqrt(n)
    return [round(mean - half, places), round(mean + half, places)]


def mean_split(splits: list[dict[str, float]]) -> dict[str, float]:
    """The mean over runs of each phase's seconds."""
    keys = [k for k in splits[0] if all(k in s for s in splits)] if splits else []
    return {k: round(_mean([s[k] for s in splits]), 1) for k in keys}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def verdict(data: dict[str, Any]) -> dict[str, Any]:
    """Which targets the results meet, per suite and for the default run: True, False, or None where a run (or,
    for intervals, a second seed) is missing."""
    out: dict[str, Any] = {}
    for suite, (key, target) in TARGETS.items():
        entries = data.get(suite, {})
        agentq = entries.get("agentq")
        out[suite] = {
            f"agentq_{key}_at_least_{target:g}": None if agentq is None else agentq[key] >= target,
            "agentq_above_rft_above_none": ranked_apart([entries.get(r) for r in RECIPES]),
        }
    run = data.get("default_run")
    out["default_run"] = {
        f"gain_at_least_{DEFAULT_RUN_GAIN:g}": None if run is None else run["gain_points_mean"] >= DEFAULT_RUN_GAIN,
        "ci95_low_above_0": None if run is None or run.get("ci95_low") is None else run["ci95_low"] > 0,
    }
    return out


def ranked_apart(entries: list[dict[str, Any] | None]) -> bool | None:
    """Whether each entry's 95% interval of the final value lies wholly above the next one's (None: an entry or
    an interval is missing)."""
    intervals = [None if e is None else e.get("ci95") for e in entries]
    if any(ci is None for ci in intervals):
        return None
    return all(hi[0] > lo[1] for hi, lo in itertools.pairwise(intervals))  # type: ignore[index]


def default_run_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """The default run's figures, as the README quotes them: the gain's interval is its `ci95` (points)."""
    from practicum.loop.config import PracticeConfig

    gain_ci = entry["gain_ci95_points"]
    keep = ("seeds", "curves", "mean_curve", "final_mean", "gain_points_mean")
    return {
        "suite": PracticeConfig().suite,
        "command": "practicum practice",
        **{k: entry[k] for k in keep},
        "ci95_low": None if gain_ci is None else gain_ci[0],
        "ci95": gain_ci,
        **{k: entry[k] for k in ("minutes", "test_tasks", "time_split")},
        # left out where not measured: the default run itself is greedy only (`--search-curve-only` adds it)
        **({"search_curve": entry["search_curve"]} if entry.get("search_curve") is not None else {}),
        **({"note": entry["note"]} if "note" in entry else {}),
        "runs": entry["runs"],
    }


def default_run_suite() -> str | None:
    """The suite whose agentq recipe (without the search curve) runs exactly the default run's config, if any.

    FrozenLake's suite settings are the practice defaults themselves, so `--default-run` and `--recipe agentq
    --no-search-curve` differ only in their runs' names; the default run's entry then stands as that suite's
    agentq entry too, and the recipe comparison needs only `--recipe rft` and `--recipe none` (without the
    search curve, for the same minutes).
    """
    from practicum.loop.config import PracticeConfig, config_from_dict

    default = PracticeConfig()
    settings = suite_settings(default.suite, "agentq", None, None, search_curve=False)
    return default.suite if config_from_dict(settings) == config_from_dict({}) else None


# ------------------------------------------------------------------------------------------ the results file
def stored_runs(
    path: Path, suite: str, jobs: list[tuple[str | None, int, dict[str, Any] | None]], tag: str
) -> dict[str | None, list[dict[str, Any]]]:
    """The runs the results file already holds for each recipe of `jobs` (None: the default run), where they
    were made with the same settings; `--add-seeds` sums them up with the new ones."""
    data = load_results(path)
    found: dict[str | None, list[dict[str, Any]]] = {}
    for recipe, _, settings in jobs:
        entry = stored_entry(data, suite, recipe, tag)
        if entry.get("runs") and entry.get("settings") == settings:
            found[recipe] = entry["runs"]
    return found


def stored_entry(data: dict[str, Any], suite: str, recipe: str | None, tag: str) -> dict[str, Any]:
    """The results' entry of a recipe of `suite` (None: the default run; `tag`: the variant's), {} if none."""
    if recipe is None:
        entry = data.get("default_run", {})
    elif tag:
        entry = data.get("variants", {}).get(tag, {}).get(suite, {}).get(recipe, {})
    else:
        entry = data.get(suite, {}).get(recipe, {})
    return dict(entry)


def load_results(path: Path) -> dict[str, Any]:
    """The results file's content; {} when there is none, or it is in an older layout (its numbers are stale)."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return data if data.get("layout") == LAYOUT else {}


def merge(path: Path, where: str, recipe: str | None, entry: dict[str, Any], *, variant: str | None = None) -> None:
    """Write one recipe's entry (or the default run's, `recipe` None) into the results file, keeping the rest;
    redraw the plot beside it."""
    data = load_results(path)
    if recipe is None:
        data["default_run"] = default_run_entry(entry)
        suite = default_run_suite()
        if suite is not None:  # the same runs as that suite's agentq recipe: one measurement, two places
            data.setdefault(suite, {})["agentq"] = {**entry, "runs_of": "default_run"}
    elif variant is not None:
        data.setdefault("variants", {}).setdefault(variant, {}).setdefault(where, {})[recipe] = entry
    else:
        data.setdefault(where, {})[recipe] = entry
    data["layout"] = LAYOUT
    data["verdict"] = verdict(data)
    data["machine"] = machine()
    data["date"] = datetime.now().isoformat(timespec="minutes")
    from practicum.provenance import git_revision

    data["git_revision"] = git_revision(ROOT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_ordered(data), indent=2) + "\n")
    plot(data, path.with_suffix(".png"))


def _ordered(data: dict[str, Any]) -> dict[str, Any]:
    """Suites first, in SUITES' order and each in RECIPES' order; then the rest."""
    suites = {s: {r: data[s][r] for r in RECIPES if r in data[s]} for s in SUITES if s in data}
    return {**suites, **{k: v for k, v in data.items() if k not in SUITES}}


def machine() -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}


# ------------------------------------------------------------------------------------------ one run's store
def time_split(db: str, run_id: int) -> dict[str, float]:
    """Seconds one run spent per phase: searching train tasks, sampling them (pass@k), evaluating (greedy
    validation and test episodes, and test episodes with search), each summed over the collection workers, which
    play side by side; and in training rounds, with their optimizer steps (TRL's train()) inside."""
    import sqlite3

    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT mode, uid LIKE '%/eval/%', COALESCE(SUM(wall_seconds), 0) FROM episodes WHERE run_id = ? GROUP BY 1, 2",
        (run_id,),
    ).fetchall()
    split = {"search": 0.0, "sampling": 0.0, "evaluation": 0.0}
    for mode, is_eval, seconds in rows:
        phase = "evaluation" if is_eval else "sampling" if mode == "sample" else "search"
        split[phase] += float(seconds or 0.0)
    rounds = con.execute(
        "SELECT started_at, finished_at, metrics FROM training_rounds WHERE run_id = ? AND finished_at IS NOT NULL",
        (run_id,),
    ).fetchall()
    con.close()
    split["training"] = sum(
        ((datetime.fromisoformat(str(b)) - datetime.fromisoformat(str(a))).total_seconds() for a, b, _ in rounds),
        0.0,
    )
    for stage in ("rft", "dpo"):
        seconds = [json.loads(m or "{}").get(f"train/{stage}_seconds") for _, _, m in rounds]
        split[f"training_{stage}_steps"] = float(sum(x for x in seconds if isinstance(x, int | float)))
    return {k: round(v, 1) for k, v in split.items()}


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
    mean regret (expected score lost per move). Far less noisy than 40 wins and losses."""
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
            values = prompt_move_values(prompt)
            if action in values:
                scored.append((values[action], max(values.values())))
        share, mean = optimal_and_regret(scored)
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
        scored = [m for m in (move_scored(row["prompt"], row["completion"]) for row in rft) if m is not None]
        if scored:
            entry["rft_examples"] = len(rft)
            entry["rft_optimal_share"], entry["rft_mean_regret"] = optimal_and_regret(scored)
        pairs = _jsonl(round_dir / "datasets" / "step_pairs.jsonl")
        gaps = [g for g in (pair_gap(r["prompt"], r["chosen"], r["rejected"]) for r in pairs) if g is not None]
        if gaps:
            entry["step_pairs"] = len(gaps)
            entry.update({f"step_pairs_{k}": v for k, v in gap_shares(gaps).items()})
        out.append(entry)
    return out


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------ the plot
def plot(data: dict[str, Any], path: Path) -> Path | None:
    """One panel per suite (and the default run): per recipe, the mean test curve over seeds with its 95% t band
    per iteration, each seed's curve as a thin line, and the mean curve with search dashed where recorded."""
    panels = [(s, data[s]) for s in SUITES if data.get(s)]
    if data.get("default_run"):
        panels.append(("default run", {"agentq": data["default_run"]}))
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    counts = sorted({len(e["seeds"]) for _, entries in panels for e in entries.values()})
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (name, entries) in zip(axes[0], panels, strict=True):
        for recipe in RECIPES:
            entry = entries.get(recipe)
            if entry is None:
                continue
            curves = carried(entry["curves"])
            xs = list(range(len(entry["mean_curve"])))
            label = f"{recipe}: {entry['final_mean']:.0%} final, {entry['gain_points_mean']:+.1f} pts"
            (line,) = ax.plot(xs, entry["mean_curve"], marker="o", linewidth=2, label=label)
            colour = line.get_color()
            bands = [t_interval(list(column)) for column in zip(*curves, strict=True)]
            if all(b is not None for b in bands):
                lows, highs = zip(*bands, strict=True)  # type: ignore[misc]
                ax.fill_between(xs, lows, highs, color=colour, alpha=0.18, linewidth=0)
            for curve in entry["curves"]:
                ax.plot(range(len(curve)), curve, color=colour, linewidth=0.7, alpha=0.45)
            if entry.get("search_curve"):
                ax.plot(xs, entry["search_curve"], color=colour, linestyle="--", marker="^", label=f"{recipe}, search")
        tasks = next(iter(entries.values())).get("test_tasks")
        ax.set_title(f"{name} · {tasks} test tasks")
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("test success")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    plural = "" if seeds == "1" else "s"
    fig.suptitle(
        f"Test success (greedy), mean of {seeds} seed{plural} with its 95% t band\n"
        "thin: each seed · dashed: mean with search",
        fontsize="medium",
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
