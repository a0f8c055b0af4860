"""`practicum practice`: run the practice loop, show its progress, and leave a table and a learning curve.

A run starts from a config (built-in defaults, a YAML file, flags), records itself in the store (config, seeds,
versions, git revision), evaluates the starting policy on validation and test tasks, then iterates: search train
tasks, train when due, promote or reject on fresh validation episodes of the candidate and its parent, and
evaluate on test tasks for the curve. `resume` continues a killed or interrupted run from its last
checkpoint with the config it was started with.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from langgraph.checkpoint.sqlite import SqliteSaver
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from sqlalchemy import select

from practicum.agents.config import DEFAULT_MODEL, PolicyConfig
from practicum.envs.registry import get_suite
from practicum.envs.task_files import load_task_files
from practicum.errors import ConfigError, UnknownIdError, end_of
from practicum.loop.config import PracticeConfig, config_from_dict
from practicum.loop.episodes import EpisodeRunner, Played, RunnerSpec
from practicum.loop.graph import Interrupted, LoopContext, Reporter, build_graph
from practicum.loop.summary import IterationSummary
from practicum.loop.warmup import warm_up
from practicum.provenance import record_run
from practicum.store import Store, open_store, parse_url, queries
from practicum.store.models import PolicyRow, Run
from practicum.trainer.rounds import register_base_policy


@dataclass
class PracticeResult:
    """How a run ended: its id, status, one row per iteration, and where its curve was drawn."""

    run_id: int
    status: str  # finished | interrupted
    history: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None
    plot: Path | None = None


def practice(
    config: PracticeConfig | None = None,
    *,
    resume: str | None = None,
    store_url: str | None = None,
    console: Console | None = None,
    argv: list[str] | None = None,
    stop: threading.Event | None = None,
) -> PracticeResult:
    """Run (or with `resume`, continue) a practice run; return how it ended.

    `stop`, when set, makes the loop stop at the next safe point (after the current episode), exactly as
    SIGINT does; the run is then `interrupted` and can be resumed. A second SIGINT stops at once, with the
    same result. A run that ends on an exception (bad input found only after it started, a crash) is marked
    `failed`; it too resumes from its last checkpoint once the cause is fixed. Bad input found before the run
    is recorded raises a `PracticumError` with nothing written.
    """
    console = console or Console()
    stop = stop or threading.Event()
    _quiet_library_progress_bars()
    settings = config or config_from_dict({})  # the default suite's own defaults included
    if resume is None:
        _check_before_work(settings)  # before the store is touched: bad input writes nothing
        store = open_store(store_url or settings.store)
    else:
        store = _open_for_resume(store_url, resume)
    try:
        if resume is not None:
            run_id, settings = _load_run(store, resume)
            _check_before_work(settings)  # what changed since (a model moved, a server down) fails before any work
            store.finish_run(run_id, status="running")
        else:
            run_id = _start_run(store, settings, argv)
        try:
            return _run(store, settings, run_id, resume is not None, console, stop)
        except KeyboardInterrupt:  # a Ctrl-C outside the graph (which stops itself): the run still resumes
            _end_if_running(store, run_id, "interrupted", "stopped by Ctrl-C")
            console.print(f"[yellow]interrupted.[/] Resume with: [bold]{resume_command(run_id, store)}", soft_wrap=True)
            return PracticeResult(run_id, "interrupted", stop_reason="stopped at once")
        except BaseException as exc:
            # Bad input found only now, or a crash: the run is not running any more. `--resume` still continues
            # it from its last checkpoint once the cause is fixed.
            _end_if_running(store, run_id, *end_of(exc))
            raise
    finally:
        store.close()


def _end_if_running(store: Store, run_id: int, status: str, reason: str) -> None:
    """Mark a run that stopped on an exception, with why, unless it had ended already (a Ctrl-C while its curve
    is drawn)."""
    with store.session() as s:
        row = s.get(Run, run_id)
        running = row is not None and row.status == "running"
    if running:
        store.finish_run(run_id, status=status, reason=reason)


def resume_command(run_id: int, store: Store) -> str:
    """The command that continues run `run_id` of `store`."""
    return f"practicum practice --resume {run_id} --db {store.url}"


def _open_for_resume(store_url: str | None, run: str) -> Store:
    """The store a resumed run was recorded in; a SQLite file that does not exist is an error, not a new store."""
    url = parse_url(store_url)
    database = url.database if url.get_backend_name() == "sqlite" else None
    if database not in (None, "", ":memory:") and not Path(str(database)).expanduser().exists():
        raise UnknownIdError(
            f"no run {run!r} to resume: there is no store at {database!r}; pass --db with the URL of the store "
            "the run was recorded in"
        )
    return open_store(url)


def _run(
    store: Store, config: PracticeConfig, run_id: int, resuming: bool, console: Console, stop: threading.Event
) -> PracticeResult:
    load_task_files(config.task_files)
    suite = get_suite(config.suite)
    # The run's unique name, not its id, names its folder and graph thread: a fresh store numbers runs from 1
    # again, and a folder left by another store's run 1 must neither resume its graph nor lose its policies.
    with store.session() as s:
        run_name = s.get(Run, run_id).name  # type: ignore[union-attr]
    checkpoint_dir = checkpoint_root(config, store) / run_name
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    runner = EpisodeRunner(runner_spec(config, store, run_id), store=store)
    view = _ProgressView(console)
    ctx = LoopContext(
        config=config,
        store=store,
        suite=suite,
        runner=runner,
        checkpoint_dir=str(checkpoint_dir),
        reporter=view.reporter(),
        stop_requested=stop.is_set,
        show_training=console.is_terminal,
    )
    thread = {"configurable": {"thread_id": run_name}, "recursion_limit": 10 + 5 * config.iterations}
    status, reason = "finished", None
    with _checkpointer(checkpoint_dir / "graph.sqlite") as saver, _sigint_sets(stop, console), view:
        graph = build_graph(ctx, saver)
        snapshot = graph.get_state(thread)
        # A run stopped before its first checkpoint (in the warm-up, say) has no saved state: it starts afresh.
        if resuming and not snapshot.next and snapshot.values:
            reason = "the run had already finished"
            values = snapshot.values
        else:
            try:
                start = None if resuming and snapshot.next else _initial_state(ctx, run_id)
                values = graph.invoke(start, thread)
                reason = values.get("stop_reason")
            except Interrupted as exc:
                status, reason = "interrupted", str(exc)
                values = graph.get_state(thread).values
            except KeyboardInterrupt:  # a second Ctrl-C: stop now; the last checkpoint still resumes
                status, reason = "interrupted", "stopped at once"
                values = graph.get_state(thread).values
            finally:
                runner.close()
    store.finish_run(run_id, status=status, reason=reason)
    history = list(values.get("history", []))
    curve = checkpoint_dir.parent.parent / f"practicum-run{run_id}-curve.png"  # beside the store
    plot = draw_curve(history, curve, title=f"run {run_id} · {config.suite}")
    console.print(IterationSummary(run_id, history))
    if status == "interrupted":
        console.print(f"[yellow]{reason}.[/] Resume with: [bold]{resume_command(run_id, store)}", soft_wrap=True)
    else:
        console.print(f"run {run_id}: {reason}. Learning curve: {plot}")
    return PracticeResult(run_id, status, history, reason, plot)


def _quiet_library_progress_bars() -> None:
    """datasets and transformers draw a bar per map and per load; the loop shows its own progress instead (and
    drops a library deprecation warning that would repeat every round)."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    # Raised inside TRL/PEFT's own calls on every training round; nothing a practicum user can change.
    warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)


def runner_spec(config: PracticeConfig, store: Store, run_id: int) -> RunnerSpec:
    """What every episode of run `run_id` is played with: its store, suite, models, search, seed and limits."""
    return RunnerSpec(
        _full_url(store),
        run_id,
        config.suite,
        config.policy,
        config.critic,
        config.search,
        config.seed,
        config.max_steps,
        config.task_files,
        sample_temperature=config.sample_temperature,
    )


def _full_url(store: Store) -> str:
    """The store's URL with its password: worker processes need to connect too."""
    return store.engine.url.render_as_string(hide_password=False)


def _initial_state(ctx: LoopContext, run_id: int) -> dict[str, Any]:
    return {"run_id": run_id, "policy_id": _base_policy(ctx), "iteration": 0, "history": [], "elapsed_s": 0.0}


def _base_policy(ctx: LoopContext) -> int:
    policy = ctx.config.policy
    if policy.is_endpoint:
        served = f"{policy.model}@{policy.base_url}-run{ctx.runner.spec.run_id}"
        with ctx.store.session() as s:  # registered already by a try stopped before its first checkpoint
            existing = s.scalar(select(PolicyRow.id).where(PolicyRow.name == served))
        if existing is not None:
            return int(existing)
        return ctx.store.register_policy(
            name=served,
            base_model=policy.model,
            iteration=0,
            state="promoted",
            run_id=ctx.runner.spec.run_id,
        )
    model_dir = policy.model
    if model_dir == DEFAULT_MODEL:
        from practicum.agents.default import default_model_dir

        model_dir = str(default_model_dir())
    if ctx.config.warmup.states == 0:
        return register_base_policy(ctx.store, model_dir, run_id=ctx.runner.spec.run_id)
    root = Path(ctx.checkpoint_dir).parent  # shared by the runs beside this store: the warm-up is done once
    warmed = warm_up(model_dir, ctx.suite, ctx.config.warmup, root, ctx.reporter.note)
    name = f"{Path(model_dir).name}+format-{ctx.suite.name}" if warmed != Path(model_dir).resolve() else None
    return register_base_policy(ctx.store, warmed, name=name, run_id=ctx.runner.spec.run_id)


def _start_run(store: Store, config: PracticeConfig, argv: list[str] | None) -> int:
    return record_run(store, config.to_dict(), {"run": config.seed, "search": config.search.seed}, argv)


def _load_run(store: Store, run: str) -> tuple[int, PracticeConfig]:
    with store.session() as s:
        row = queries.get_run(s, int(run) if run.isdigit() else run)
        return row.id, config_from_dict(dict(row.config))


def _check_before_work(config: PracticeConfig) -> None:
    """Fail fast, before a run is created, on what would only fail later: suite, model, endpoint."""
    load_task_files(config.task_files)
    suite = get_suite(config.suite)  # unknown suite: did-you-mean
    for split in ("validation", "test"):
        if not suite.splits[split]:
            raise ConfigError(
                f"suite {suite.name!r} has no {split} tasks; practice decides promotions on validation tasks and "
                f"reports its curve on test tasks: mark some tasks `split: {split}` in its task file"
            )
    if config.explore_starts:
        env = suite.env()
        try:
            if not env.supports_snapshot:
                raise ConfigError(
                    f"explore_starts needs an environment that can save its state, and suite {suite.name!r} "
                    "cannot; set explore_starts to 0"
                )
        finally:
            env.close()
    backends = [config.policy] + ([config.critic.backend] if config.critic.backend is not None else [])
    for backend in backends:
        if backend.is_endpoint:
            _check_endpoint(backend)
        else:
            _check_local_model(backend)


def _check_local_model(policy: PolicyConfig) -> None:
    """A local model that would only fail once loaded in a worker: a missing directory, an encoder, a tokenizer
    with no end-of-turn token, a GPU that is not there."""
    from practicum.agents.local import check_causal_lm, resolve_device

    resolve_device(policy.device)  # device="cuda" on a machine without one
    if policy.model == DEFAULT_MODEL:
        return
    path = Path(policy.model).expanduser()
    if not path.is_dir():
        raise ConfigError(f"model directory {policy.model!r} does not exist; pass a local Hugging Face model directory")
    if not (path / "config.json").exists():
        raise ConfigError(
            f"{policy.model!r} is not a Hugging Face model directory (no config.json); pass the directory that "
            "save_pretrained wrote"
        )
    check_causal_lm(path)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot load the tokenizer in {str(path)!r}: {first}") from None
    if tokenizer.eos_token_id is None:
        raise ConfigError(
            f"the tokenizer in {str(path)!r} has no eos_token, so a reply would never end; set eos_token in its "
            "tokenizer_config.json"
        )


def _check_endpoint(backend: PolicyConfig) -> None:
    """One tiny request: a server that is down or misconfigured fails here, not in every episode."""
    from practicum.agents.config import load_policy, probe

    policy = load_policy(backend)
    try:
        probe(policy)
    finally:
        policy.close()


def checkpoint_root(config: PracticeConfig, store: Store) -> Path:
    """Where trained policies go: the configured directory, else beside a SQLite store, else ./."""
    if config.checkpoint_dir:
        return Path(config.checkpoint_dir)
    url = parse_url(_full_url(store))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).resolve().parent / "practicum-checkpoints"
    return Path("practicum-checkpoints").resolve()


@contextmanager
def _checkpointer(path: Path) -> Iterator[SqliteSaver]:
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()


@contextmanager
def _sigint_sets(stop: threading.Event, console: Console) -> Iterator[None]:
    """First Ctrl-C: stop after the current episode. Second: stop now (the run still resumes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        console.print("[yellow]stopping after the current episode (Ctrl-C again to stop now)...")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _ProgressView:
    """Live progress: the current phase's episodes with success so far and ETA, notes, iteration rows."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("success {task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: Any = None
        self._done = 0
        self._wins = 0
        self._start = time.monotonic()

    def __enter__(self) -> _ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def reporter(self) -> Reporter:
        return Reporter(phase=self.phase, episode=self.episode, note=self.note, row=self.row)

    def phase(self, name: str, total: int) -> None:
        if self._task is not None:
            self.progress.update(self._task, visible=False)
        self._done = self._wins = 0
        self._task = self.progress.add_task(name, total=total, rate="-")

    def episode(self, played: Played) -> None:
        self._done += 1
        self._wins += played.success
        self.progress.update(self._task, advance=1, rate=f"{self._wins / self._done:.0%}")

    def note(self, text: str) -> None:
        self.progress.console.print(f"[cyan]{text}")

    def row(self, row: dict[str, Any]) -> None:
        minutes = (time.monotonic() - self._start) / 60
        parts = [f"iteration {row['iteration']}: test success {row.get('test_success', 0):.0%}"]
        if "validation_success" in row:
            parts.append(f"validation success {row['validation_success']:.0%}")
        if "train_success" in row:
            parts.append(f"train success {row['train_success']:.0%}")
        if row.get("decision"):
            parts.append(str(row["decision"]))
        losses = {k: v for k, v in row.items() if "loss" in k}
        parts += [f"{k} {v:.3f}" for k, v in sorted(losses.items())]
        self.progress.console.print(f"[green]{' · '.join(parts)}[/] ({minutes:.1f} min)")


def draw_curve(history: list[dict[str, Any]], path: Path, *, title: str) -> Path | None:
    """Test success, greedy (and with search where evaluated), and train success under search per iteration, as
    a PNG at `path`."""
    if not history:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    iterations = [r["iteration"] for r in history]
    ax.plot(iterations, [r.get("test_success", 0.0) for r in history], marker="o", label="test (greedy)")
    searched = [(r["iteration"], r["test_search_success"]) for r in history if "test_search_success" in r]
    if searched:
        ax.plot(*zip(*searched, strict=True), marker="^", label="test (search)")
    train = [(r["iteration"], r["train_success"]) for r in history if "train_success" in r]
    if train:
        ax.plot(*zip(*train, strict=True), marker="s", linestyle="--", label="train (search)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("success rate")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(iterations)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
