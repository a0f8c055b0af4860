"""The `practicum` command.

`main(argv) -> int` is the entry point tests call; `run()` is the console script. User errors
(`PracticumError`) print one line naming the problem and the fix and exit with code 2; usage errors exit
with 2 as well, as click does. A command stopped by Ctrl-C exits with 130 (128 + SIGINT, as shells do) after
one line that says how to resume where it can be resumed. `EXIT_CODES` lists them for `--help`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from practicum import __version__
from practicum.errors import PracticumError

if TYPE_CHECKING:
    from practicum.store import Store

INTERRUPTED = 130  # the shells' code for a command stopped by SIGINT (128 + 2)

EXIT_CODES = (
    "Exit codes: 0 done; 1 `doctor` found a problem, or a crash; 2 bad input (a flag, a config, a model, a "
    "suite, a store, an endpoint that cannot be reached), with one line naming the fix; 130 interrupted "
    "(Ctrl-C), with the command that resumes a practice run."
)

app = typer.Typer(
    name="practicum",
    help="Language-model agents that get better by practising: MCTS with self-critique, a SQL trajectory "
    "store, and DPO / rejection-sampling training.",
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def _on_ctrl_c(what: str) -> Callable[[F], F]:
    """Stop a command on Ctrl-C with code 130 and one line, "interrupted; <what>", formatted with the command's
    arguments, instead of click's bare "Aborted!" and code 1 (which reads as a crash)."""

    def wrap(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except KeyboardInterrupt:
                err_console.print(f"interrupted; {what.format(**kwargs)}", soft_wrap=True, highlight=False)
                raise typer.Exit(INTERRUPTED) from None

        return run  # type: ignore[return-value]

    return wrap


def _version(value: bool) -> None:
    if value:
        console.print(f"practicum {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Language-model agents that get better by practising."""


@app.command("envs")
@_on_ctrl_c("nothing was written")
def envs_command(
    domain: Annotated[str | None, typer.Option(help="Only suites of this domain: 'web' or 'game'.")] = None,
    tasks: TasksOption = None,
) -> None:
    """List every task suite with its task counts per split and an example goal."""
    from practicum.envs import registry, task_files
    from practicum.envs.core import SPLITS

    task_files.load_task_files(tasks or [])
    if domain not in (None, "web", "game"):
        raise PracticumError(f"unknown domain {domain!r}; use --domain web or --domain game")
    table = Table(title="practicum task suites")
    # At 80 columns or piped the table must shrink. Rich takes width from wrappable columns, widest first, then
    # from all columns alike: so names and counts (what people type and compare) are the ones that do not give
    # way. The example goal gives way first, each one cut to a line; a long suite name folds, never cut.
    table.add_column("suite", overflow="fold")
    table.add_column("domain", no_wrap=True)
    for column in ("train", "validation", "test"):
        table.add_column(column, no_wrap=True, justify="right")
    table.add_column("example goal", max_width=70)
    for suite in registry.suites():
        if domain and suite.domain != domain:
            continue
        counts = suite.counts()
        # A suite may have no train tasks (a task file of test tasks only): show the first task it has.
        example = next((suite.tasks(split, limit=1)[0].goal for split in SPLITS if counts[split]), "-")
        goal = Text(example, no_wrap=True, overflow="ellipsis")
        table.add_row(suite.name, suite.domain, *(str(counts[s]) for s in ("train", "validation", "test")), goal)
    console.print(table)


TasksOption = Annotated[
    list[str] | None,
    typer.Option(
        "--tasks",
        help="A file whose suite to register: a suite file (YAML naming a gymnasium env, see "
        "docs/environments.md) or a browser task file (YAML or Python); repeatable.",
        metavar="FILE",
    ),
]


def _suite_of_files(given: str | None, tasks: list[str] | None, flag: str) -> str:
    """The suite named by `flag`, or else the one suite the --tasks files registered (loading them)."""
    from practicum.envs.task_files import load_task_files

    loaded = load_task_files(tasks or [])
    if given is not None:
        return given
    if len(loaded) == 1:
        return loaded[0].name
    found = f"; the --tasks files register {', '.join(s.name for s in loaded)}" if loaded else ""
    raise PracticumError(f"which suite? pass {flag} SUITE (see `practicum envs`){found}")


def _db_url(value: str | None) -> str | None:
    """A --db value as a store URL: a plain file path means a SQLite file there (`practicum.store.store_url`)."""
    from practicum.store.paths import store_url

    return None if value is None else store_url(value)


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Store: a SQLite file path, or any SQLAlchemy URL. Default: sqlite:///practicum.db in this directory.",
        callback=_db_url,
    ),
]

store_app = typer.Typer(help="Inspect or upgrade a trajectory store.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("info")
@_on_ctrl_c("nothing was written")
def store_info_command(db: DbOption = None) -> None:
    """Schema revision and row counts of a store. Read-only: an older store is refused, not upgraded."""
    with _open_for_reading(db) as store:
        info = store.info()
    table = Table(title=f"store {info.url}", show_header=False)
    table.add_row("dialect", info.dialect)
    table.add_row("schema revision", f"{info.revision} (this practicum's head: {info.head})")
    for name, count in info.counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)


@store_app.command("upgrade")
@_on_ctrl_c("run `practicum store upgrade` again: it goes on from the revision the store is at")
def store_upgrade_command(db: DbOption = None) -> None:
    """Upgrade an existing store to this practicum's schema (back it up first; older practicums cannot read it)."""
    from practicum.store import open_store
    from practicum.store.db import read_revision
    from practicum.store.migrate import head_revision

    before = read_revision(db)  # a missing, empty or foreign database is refused, untouched
    open_store(db, create=False).close()
    head = head_revision()
    console.print(f"already at revision {head}" if before == head else f"upgraded from {before} to {head}")


@app.command("doctor")
@_on_ctrl_c("the checks were not finished; nothing was written")
def doctor_command(
    db: Annotated[
        str | None,
        typer.Option(
            help="Store to check: a file path or URL (default: ./practicum.db when it exists).",
            metavar="<path|url>",
            callback=_db_url,
        ),
    ] = None,
    browser: Annotated[bool, typer.Option(help="Check that Chromium starts and renders a page.")] = True,
    model: Annotated[bool, typer.Option(help="Check that the default model loads and runs.")] = True,
    stockfish: Annotated[bool, typer.Option(help="Check that Stockfish answers.")] = True,
) -> None:
    """Check the installation (Chromium, Stockfish, the default model) and a store, with a fix for each problem.

    Nothing is written to the store. Exit code 0: every check passed. 1: a check found a problem (see its fix).

    2: bad input, nothing checked: --db is malformed or unreachable, or holds no practicum store.
    """
    from practicum.doctor import check_installation, check_store

    table = Table(title="practicum doctor")
    for column in ("check", "", "what was seen", "fix"):
        table.add_column(column, overflow="fold")
    failed = 0
    url = db if db is not None else ("sqlite:///practicum.db" if Path("practicum.db").exists() else None)
    store_checks = check_store(url) if url is not None else []  # bad input fails before the slow checks
    checks = [*check_installation(browser=browser, model=model, stockfish=stockfish), *store_checks]
    for check in checks:
        failed += not check.ok
        mark = "[green]ok[/]" if check.ok else "[bold red]FAIL[/]"
        table.add_row(check.name, mark, escape(check.detail), escape(check.fix))
    console.print(table)
    if url is None:
        console.print("no store checked: pass --db URL (no practicum.db here)")
    if failed:
        console.print(f"[bold red]{failed} problem(s) found[/]; each row says how to fix it")
        raise typer.Exit(1)
    console.print("[green]all checks passed")


@app.command("runs")
@_on_ctrl_c("nothing was written")
def runs_command(
    run: Annotated[str | None, typer.Argument(help="A run id or name: show its details instead of the list.")] = None,
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many runs, newest first.")] = 20,
) -> None:
    """List the runs in a store, or show one run: config, seeds, versions, git revision and results."""
    from practicum.store import queries

    with _open_for_reading(db) as store, store.session() as s:
        if run is None:
            table = Table(title="runs")
            for column in ("id", "name", "status", "created", "episodes", "success", "git"):
                table.add_column(column)
            for r in queries.list_runs(s, limit=limit):
                summary = queries.run_summary(s, r.id)
                table.add_row(
                    str(r.id),
                    r.name,
                    r.status if r.status != "failed" or not r.status_reason else f"failed: {r.status_reason}",
                    f"{r.created_at:%Y-%m-%d %H:%M}",
                    str(summary.episodes),
                    f"{summary.success_rate:.0%}" if summary.episodes else "-",
                    (r.git_rev or "-")[:12],
                )
            console.print(table)
            return
        summary = queries.run_summary(s, int(run) if run.isdigit() else run)
    _print_run(summary)


# `practicum practice`'s options, one alias each, so that the command's signature reads as a list of settings.
_Config = Annotated[Path | None, typer.Option("--config", "-c", help="A YAML file of settings (flags override it).")]
_Suite = Annotated[
    str | None,
    typer.Option(help="Task suite to practise on (see `practicum envs`); default: the one --tasks file's suite."),
]
_Model = Annotated[
    str | None, typer.Option(help="Local Hugging Face model directory (default: SmolLM2-135M-Instruct).")
]
_Endpoint = Annotated[str | None, typer.Option(help="OpenAI-compatible base URL to act with instead of a local model.")]
_EndpointModel = Annotated[str | None, typer.Option(help="Model name to request from --endpoint.")]
_Recipe = Annotated[str | None, typer.Option(help="agentq (MCTS + critique + RFT + DPO), rft, or none.")]
_Iterations = Annotated[int | None, typer.Option(help="Practice iterations after the baseline evaluation.")]
_TimeBudget = Annotated[
    float | None, typer.Option("--time-budget", help="Minutes after which no new iteration starts.")
]
_TrainTasks = Annotated[int | None, typer.Option(help="Train tasks searched per iteration.")]
_ValidationTasks = Annotated[
    int | None, typer.Option(help="Validation tasks a candidate and its parent play for each promotion decision.")
]
_TestTasks = Annotated[int | None, typer.Option(help="Test tasks of the reported curve (never used for a decision).")]
_Simulations = Annotated[int | None, typer.Option(help="MCTS simulations per committed step.")]
_MaxSteps = Annotated[int | None, typer.Option(help="Step limit per episode (default 12).")]
_PassK = Annotated[
    int | None, typer.Option(help="Episodes sampled per train task each iteration for pass@k (0: none).")
]
_Workers = Annotated[int | None, typer.Option(help="Collection processes on this machine (or Ray actors).")]
_RayAddress = Annotated[
    str | None, typer.Option(help="Collect on the Ray cluster at 'auto' or HOST:PORT.", metavar="<address>")
]
_Seed = Annotated[int | None, typer.Option(help="The run's seed.")]
_EvalWithSearch = Annotated[
    bool | None, typer.Option("--eval-with-search/--no-eval-with-search", help="Also evaluate with search.")
]
_Resume = Annotated[
    str | None, typer.Option(help="Continue run RUN (id or name) from its last checkpoint, with its config.")
]
_Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Any setting of the config, dotted, e.g. --set train.rft.learning_rate=2e-4 (repeatable; the flags "
        "above win over it).",
        metavar="KEY=VALUE",
    ),
]


@app.command("practice")
def practice_command(
    config: _Config = None,
    suite: _Suite = None,
    model: _Model = None,
    endpoint: _Endpoint = None,
    endpoint_model: _EndpointModel = None,
    db: DbOption = None,
    recipe: _Recipe = None,
    iterations: _Iterations = None,
    time_budget: _TimeBudget = None,
    train_tasks: _TrainTasks = None,
    validation_tasks: _ValidationTasks = None,
    test_tasks: _TestTasks = None,
    simulations: _Simulations = None,
    max_steps: _MaxSteps = None,
    pass_k: _PassK = None,
    workers: _Workers = None,
    ray_address: _RayAddress = None,
    seed: _Seed = None,
    eval_with_search: _EvalWithSearch = None,
    resume: _Resume = None,
    tasks: TasksOption = None,
    sets: _Sets = None,
) -> None:
    """Practise: search train tasks, train on the trees, promote on validation tasks, report test tasks, repeat.

    With no options it runs the built-in defaults (frozenlake-4x4, SmolLM2-135M-Instruct, an SQLite store
    here) and ends with a table of every iteration and a learning-curve plot beside the store.
    """
    from practicum.loop.config import overlay, parse_sets

    if resume is not None:
        # --db says where the run is; any other setting would differ from the config the run was started with.
        settings: list[object] = [config, suite, model, endpoint, endpoint_model, recipe, iterations, time_budget]
        settings += [train_tasks, validation_tasks, test_tasks, simulations, max_steps, pass_k, workers, ray_address]
        if any(v is not None for v in (*settings, seed, eval_with_search)) or tasks or sets:
            raise PracticumError("--resume continues a run with its stored config; pass only --resume and --db")
        _resume(resume, db)
        return
    flags: dict[str, Any] = {
        "suite": suite,
        "recipe": recipe,
        "iterations": iterations,
        "time_budget_minutes": time_budget,
        "train_tasks": train_tasks,
        "validation_tasks": validation_tasks,
        "test_tasks": test_tasks,
        "workers": workers,
        "ray_address": ray_address,
        "seed": seed,
        "eval_with_search": eval_with_search,
        "max_steps": max_steps,
        "pass_k": pass_k,
        "store": db,
        "task_files": [str(Path(t).resolve()) for t in tasks] if tasks else None,
        # Only the budget: the other search settings stay as the file, the suite or the defaults have them.
        "search": {"simulations": simulations} if simulations is not None else None,
    }
    if tasks and suite is None and config is None:
        from practicum.envs.task_files import load_task_files

        loaded = load_task_files(tasks)
        if len(loaded) == 1:  # practise on the file's suite
            flags["suite"] = loaded[0].name
    if model is not None or endpoint is not None:
        flags["policy"] = {"model": model or endpoint_model or "", "base_url": endpoint}
        if endpoint is not None and not endpoint_model:
            raise PracticumError("--endpoint needs --endpoint-model: the model name the server serves")
    _practice_with(config, overlay(parse_sets(sets or []), {k: v for k, v in flags.items() if v is not None}))


def _practice_with(config: Path | None, overrides: dict[str, Any]) -> None:
    """A new practice run: the config file (if any), the suite's own defaults and `overrides` laid over it."""
    from practicum.loop.config import config_from_dict, load_config
    from practicum.loop.practice import practice

    # With no flags too, through config_from_dict: the suite's own defaults (SUITE_DEFAULTS) apply.
    settings = load_config(config, overrides) if config is not None else config_from_dict(overrides)
    try:
        result = practice(settings, console=console, argv=["practicum", *sys.argv[1:]])
    except KeyboardInterrupt:
        err_console.print("interrupted before the run was recorded; nothing was written", soft_wrap=True)
        raise typer.Exit(INTERRUPTED) from None
    if result.status == "interrupted":  # the loop printed how to resume
        raise typer.Exit(INTERRUPTED)


def _resume(resume: str, db: str | None) -> None:
    """Continue run `resume` of the store at `db` with its stored config."""
    from practicum.loop.practice import practice

    try:
        result = practice(None, resume=resume, store_url=db, console=console)
    except KeyboardInterrupt:
        err_console.print(
            f"interrupted before run {escape(resume)} continued; it is as it was: resume it again", soft_wrap=True
        )
        raise typer.Exit(INTERRUPTED) from None
    if result.status == "interrupted":  # the loop printed how to resume
        raise typer.Exit(INTERRUPTED)


@app.command("run")
@_on_ctrl_c("the episode was not finished and `practicum run` keeps nothing to resume")
def run_command(
    env: Annotated[
        str | None, typer.Option("--env", help="Suite to play (see `practicum envs`); default: the --tasks file's.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Task seed within the suite.")] = 0,
    model: Annotated[
        str, typer.Option("--policy", help="'default' (SmolLM2-135M-Instruct), a model directory, or a served name.")
    ] = "default",
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible base URL serving --policy.")] = None,
    search: Annotated[bool, typer.Option("--search/--greedy", help="Search with MCTS, or play greedily.")] = False,
    simulations: Annotated[int, typer.Option(min=1, help="MCTS simulations per step.")] = 6,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Override the suite's step limit.")] = None,
    show_observations: Annotated[bool, typer.Option(help="Print every observation the model saw.")] = False,
    tasks: TasksOption = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Keep the episode in this store (a SQLite file path or any SQLAlchemy URL) as a run of its own.",
            callback=_db_url,
        ),
    ] = None,
) -> None:
    """Play one episode of a task and print the trajectory: try an environment and a model by hand.

    Nothing is kept unless --db names a store: then the episode is written there like a practice run's.
    """
    from practicum.agents.config import PolicyConfig, load_policy, probe
    from practicum.envs.registry import get_suite

    env = _suite_of_files(env, tasks, "--env")
    from practicum.search.config import SearchConfig
    from practicum.search.run import run_episode

    task = get_suite(env).task(seed)  # unknown suite or seed: fail before loading a model
    store = _open_store(db) if db is not None else None  # so does a store that cannot be used
    policy = load_policy(PolicyConfig(model=model, base_url=endpoint))
    try:
        if endpoint is not None:  # a server that is down: one line and exit 2, as `practice` does
            probe(policy)
        tree = run_episode(
            env,
            policy,
            search=search,
            config=SearchConfig(simulations=simulations),
            seed=seed,
            env_kwargs={"max_steps": max_steps} if max_steps else None,
            console=console,
            show_observations=show_observations,
        )
        client = getattr(policy, "client", None)  # an endpoint policy: say how its server was used
        if client is not None:
            console.print(f"endpoint {escape(client.base_url)}: {escape(client.capabilities)}", soft_wrap=True)
        if store is not None:
            settings = {"env": env, "seed": seed, "policy": model, "endpoint": endpoint, "search": search}
            settings |= {"simulations": simulations, "max_steps": max_steps, "task_files": _resolved(tasks)}
            _keep_episode(store, tree, task, settings, {"endpoint": client.capabilities} if client else None)
    finally:
        policy.close()
        if store is not None:
            store.close()


@app.command("train")
@_on_ctrl_c(
    "the round was not finished: it is marked failed, with where its partial output is, and its run interrupted "
    "(`practicum runs`); no policy was added"
)
def train_command(
    db: DbOption = None,
    policy: Annotated[str | None, typer.Option(help="Policy id or name to train (default: the promoted one).")] = None,
    method: Annotated[str, typer.Option(help="dpo, rft, or rft+dpo.")] = "rft+dpo",
    max_steps: Annotated[int, typer.Option(min=1, help="Optimizer steps per stage.")] = 8,
    out: Annotated[Path, typer.Option(help="Where the new checkpoint goes.")] = Path("practicum-checkpoints/manual"),
    run: Annotated[
        str | None, typer.Option(help="Train on this run's episodes only (id or name; default: every run's).")
    ] = None,
) -> None:
    """Run one training round by hand over an existing store: data since the policy was made -> a candidate."""
    from practicum.loop.manual import train_once

    with _open_existing(db) as store:
        result = train_once(
            store,
            policy=policy,
            method=method,
            output_root=out,
            max_steps=max_steps,
            argv=["practicum", *sys.argv[1:]],
            data_run=run,
        )
    console.print(
        f"round {result.round_id}: {result.status}"
        + (f" ({escape(result.reason)})" if result.reason else "")
        + (f"; candidate policy {result.policy_out_id} at {result.checkpoint}" if result.policy_out_id else "")
    )


@app.command("eval")
@_on_ctrl_c("the evaluation was not finished: its run is marked interrupted and keeps the episodes played so far")
def eval_command(
    policy: Annotated[str, typer.Option(help="Policy id or name to evaluate.")],
    suite: Annotated[
        str | None, typer.Option(help="Task suite (see `practicum envs`); default: the --tasks file's.")
    ] = None,
    db: DbOption = None,
    split: Annotated[str, typer.Option(help="train, validation or test.")] = "test",
    limit: Annotated[int, typer.Option(min=1, help="Evaluate on the first N tasks of the split.")] = 10,
    search: Annotated[bool, typer.Option("--search/--greedy", help="Evaluate with MCTS, or greedily.")] = False,
    simulations: Annotated[int, typer.Option(min=1, help="MCTS simulations per step with --search.")] = 3,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Step limit per episode.")] = None,
    seed: Annotated[int, typer.Option(help="Seed for search and sampling.")] = 0,
    tasks: TasksOption = None,
) -> None:
    """Evaluate a stored policy on a split of a suite, with or without search; the eval is recorded."""
    from practicum.loop.manual import evaluate_once

    suite = _suite_of_files(suite, tasks, "--suite")
    with _open_existing(db) as store:
        report = evaluate_once(
            store,
            policy=policy,
            suite=suite,
            split=split,
            limit=limit,
            search=search,
            simulations=simulations,
            max_steps=max_steps,
            seed=seed,
            argv=["practicum", *sys.argv[1:]],
            task_files=_resolved(tasks),
        )
    console.print(
        f"policy {report.policy_id} on {report.suite} {report.split} ({report.mode}): "
        f"{report.successes}/{len(report.results)} solved ({report.success_rate:.0%}); eval {report.eval_id}"
    )


@app.command("export")
@_on_ctrl_c("the export in {out} is not complete; run the export again with --overwrite")
def export_command(
    policy: Annotated[str, typer.Argument(help="Policy id or name (see `practicum browse` or `practicum runs`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write (must be new or empty).")],
    db: DbOption = None,
    datasets: Annotated[bool, typer.Option(help="Also export the datasets the policy was trained on.")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty --out directory.")] = False,
) -> None:
    """Export a policy to a folder that loads without practicum: the merged model with a model card, the LoRA
    adapter with the weights it applies to (base/), and every round's datasets of its lineage (data/)."""
    from practicum.trainer.export import export_policy

    with _open_for_reading(db) as store:
        result = export_policy(
            store, int(policy) if policy.isdigit() else policy, out, include_datasets=datasets, overwrite=overwrite
        )
    console.print(f"model: {result.model_dir}\nmodel card: {result.card}")
    if result.adapter_dir:
        console.print(f"LoRA adapter: {result.adapter_dir} (on the weights in {result.base_dir})")
    if result.datasets_dir:
        console.print(f"datasets: {result.datasets_dir}")


@app.command("browse")
def browse_command(
    db: DbOption = None,
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8765,
    host: Annotated[
        str,
        typer.Option(
            help="Address to listen on; anything but 127.0.0.1 lets other machines read the store (a warning "
            "is printed)."
        ),
    ] = "127.0.0.1",
    allow_edits: Annotated[
        bool,
        typer.Option(
            "--allow-edits", help="Allow relabelling critic scores and pairs; each edit is logged with when and why."
        ),
    ] = False,
) -> None:
    """Serve a local web page over a store: runs, learning curves, episodes, search trees, pairs, policies."""
    from practicum.browse import serve

    serve(db, host=host, port=port, allow_edits=allow_edits, echo=lambda line: err_console.print(escape(line)))


def _open_store(db: str) -> Store:
    """Open the store at `db` to write to, creating it when there is none (as `practice` does)."""
    from practicum.store import open_store

    return open_store(db)


def _resolved(paths: list[str] | None) -> list[str]:
    """Task file paths made absolute, as a run records them (worker processes may start elsewhere)."""
    return [str(Path(p).resolve()) for p in paths or []]


def _keep_episode(store: Any, tree: Any, task: Any, settings: dict[str, Any], info: dict[str, Any] | None) -> None:
    """Write an episode played by `practicum run --db` and say where it went."""
    from practicum.loop.manual import store_episode

    argv = ["practicum", *sys.argv[1:]]
    run_id, episode_id = store_episode(store, tree, task=task, settings=settings, seed=task.seed, argv=argv, info=info)
    console.print(f"kept as episode {episode_id} of run {run_id} in {escape(store.url)}", soft_wrap=True)


def _open_existing(db: str | None) -> Store:
    """Open an existing store to write to (an older one is upgraded); no store there is an error, not a new one."""
    from practicum.store import open_store

    return open_store(db, create=False)


def _open_for_reading(db: str | None) -> Store:
    """Open an existing store at this practicum's schema: a read never creates a store or migrates one."""
    from practicum.store import open_store

    return open_store(db, create=False, upgrade=False)


def _print_run(summary: Any) -> None:
    import json

    r = summary.run
    table = Table(title=f"run {r.id} · {r.name} · {r.status}", show_header=False)
    table.add_row("created", f"{r.created_at:%Y-%m-%d %H:%M:%S} UTC")
    if r.status_reason:
        table.add_row("ended", r.status_reason)
    table.add_row("command", r.command or "-")
    table.add_row("git revision", r.git_rev or "- (not run from a git checkout)")
    table.add_row("seeds", json.dumps(r.seeds))
    table.add_row("config", json.dumps(r.config, indent=1, sort_keys=True))
    table.add_row("versions", ", ".join(f"{k} {v}" for k, v in sorted(r.versions.items())))
    table.add_row("episodes", f"{summary.episodes} ({summary.success_rate:.0%} success, {summary.nodes:,} nodes)")
    for split, stats in sorted(summary.by_split.items()):
        table.add_row(f"  {split}", f"{stats.episodes} episodes, {stats.success_rate:.0%} success")
    for suite, stats in sorted(summary.by_suite.items()):
        table.add_row(f"  {suite}", f"{stats.episodes} episodes, {stats.success_rate:.0%} success")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with `argv` (default: `sys.argv[1:]`) and return the exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        # Standalone mode lets click print usage errors and --help itself; it ends with SystemExit.
        app(args=args, prog_name="practicum", standalone_mode=True)
    except PracticumError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
