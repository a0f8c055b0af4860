"""The practice loop as a LangGraph graph: baseline -> (collect -> train -> evaluate -> advance)* -> end.

Three splits keep the numbers honest: the loop searches train tasks, decides promotions on validation tasks (a
candidate and its parent both play them afresh in the same iteration, greedily), and reports its curve on test
tasks, which no decision ever reads.

The graph's state holds ids and small values only (run, iteration, current policy, per-iteration rows); live
models, environments and the store are in `LoopContext`, passed in when the graph is built. LangGraph's SQLite
checkpointer saves the state after every node, so a killed run resumes at the node it was in. Each node is
safe to run again after a kill part-way through it:
- collect and evaluate play episodes by uid, so stored episodes are reused, never replayed or duplicated;
- train adopts a round that finished after the last checkpoint instead of training again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import operator
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from sqlalchemy import select

from practicum.envs.core import START_MOVES, Task
from practicum.envs.registry import Suite
from practicum.loop.config import PracticeConfig
from practicum.loop.episodes import EpisodeRunner, Job, Played
from practicum.loop.executors import play_all
from practicum.store import Store, queries
from practicum.store.models import TrainingRound
from practicum.trainer.errors import TrainingError
from practicum.trainer.evaluate import EvalReport, PolicyHandle, evaluate_policy, promote_if_not_worse
from practicum.trainer.promotion import PromotionDecision
from practicum.trainer.rounds import run_round
from practicum.trainer.schedule import round_due


class Interrupted(Exception):
    """The user asked the loop to stop (SIGINT); the run can be resumed."""


class LoopState(TypedDict, total=False):
    """What the checkpointer saves: ids and small values only."""

    run_id: int
    iteration: int  # the iteration being worked on; 0 is the baseline evaluation
    policy_id: int  # the promoted policy the loop acts with
    candidate_id: int | None  # the policy trained in this iteration, if any
    round_id: int | None  # this iteration's training round, if any
    train_note: str  # why the round trained or was skipped
    collect: dict[str, Any]  # this iteration's collection stats
    history: Annotated[list[dict[str, Any]], operator.add]  # one row per finished iteration
    elapsed_s: float  # active time spent, summed over resumes (the time budget counts this)
    stop_reason: str | None


@dataclass
class Reporter:
    """Hooks the loop calls to show progress; the default does nothing (tests, workers)."""

    phase: Callable[[str, int], None] = lambda name, total: None
    episode: Callable[[Played], None] = lambda played: None
    note: Callable[[str], None] = lambda text: None
    row: Callable[[dict[str, Any]], None] = lambda row: None


class NodeClock:
    """The time the node now running has spent, over every attempt at it.

    LangGraph saves a node's update (and `elapsed_s` with it) only when the node returns, so a node stopped part-way
    (Ctrl-C, `kill -9`) would lose its time, and a resumed run would get more time budget than was asked for.
    The clock writes the node's time so far to a small file beside the graph's checkpoint: when the node raises,
    after its episodes (at most once a second) and, while `ticking`, every `TICK_S` seconds from a background
    thread (a training round has no episodes to save after, and a kill in its minutes would lose them); the next
    attempt at the same node (the same name, iteration and history length: the state it was checkpointed with)
    starts from there. Downtime between a kill and a resume is not counted.
    """

    SAVE_EVERY_S = 1.0
    TICK_S = 5.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self.key = ""
        self.carried = 0.0  # spent by earlier attempts at this node
        self.started = self.saved_at = time.monotonic()
        self._writing = threading.Lock()  # the ticker and the node's own thread both save

    def start(self, key: str) -> None:
        """A node begins: carry over what earlier, unsaved attempts at it spent."""
        self.key, self.carried = key, 0.0
        self.started = self.saved_at = time.monotonic()
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return  # no earlier attempt (or a torn file: lose its seconds, not the run)
        if isinstance(saved, dict) and saved.get("node") == key:
            self.carried = float(saved.get("seconds", 0.0))

    def spent(self) -> float:
        """Seconds this node has spent, earlier attempts included."""
        return self.carried + time.monotonic() - self.started

    @contextlib.contextmanager
    def ticking(self, every_s: float | None = None) -> Iterator[None]:
        """Save the node's time every `every_s` seconds (default `TICK_S`) until the block ends, so that a kill
        anywhere in it (mid-training included) loses at most that much of the run's time."""
        stop = threading.Event()
        period = self.TICK_S if every_s is None else every_s

        def tick() -> None:
            while not stop.wait(period):
                self.save()

        thread = threading.Thread(target=tick, name="practicum-node-clock", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def save(self, *, at_most_every_s: float = 0.0) -> None:
        """Write the time spent so far, so that a kill after this point loses at most what follows."""
        with self._writing:
            now = time.monotonic()
            if not self.key or now - self.saved_at < at_most_every_s:
                return
            self.saved_at = now
            partial = self.path.with_name(self.path.name + ".part")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                partial.write_text(json.dumps({"node": self.key, "seconds": self.spent()}))
                os.replace(partial, self.path)  # whole or not at all
            except OSError:
                pass  # a full or read-only disk costs the time budget these seconds, never the run or its error


@dataclass
class LoopContext:
    """The live objects the graph's nodes use (never saved in the checkpoint)."""

    config: PracticeConfig
    store: Store
    suite: Suite
    runner: EpisodeRunner
    checkpoint_dir: str
    reporter: Reporter = field(default_factory=Reporter)
    stop_requested: Callable[[], bool] = lambda: False
    show_training: bool = False
    clock: NodeClock = field(init=False)

    def __post_init__(self) -> None:
        self.clock = NodeClock(Path(self.checkpoint_dir) / "unsaved-time.json")

    def validation_tasks(self, iteration: int) -> list[Task]:
        """The validation tasks that decide iteration `iteration`'s promotion (1-based): the next
        `validation_tasks` seeds of the validation split, wrapping around at its end. Fresh tasks each time: a
        parent was promoted on the tasks it did well on, and greedy play repeats itself, so replaying those
        tasks would carry that luck into every later decision."""
        seeds = self.suite.splits["validation"]
        n = min(self.config.validation_tasks, len(seeds))
        start = (iteration - 1) * n % len(seeds) if len(seeds) else 0
        picked = [seeds[(start + i) % len(seeds)] for i in range(n)]
        return [self.suite.task(seed) for seed in picked]

    def test_tasks(self) -> list[Task]:
        """The test tasks of the reported curve (the same ones, every iteration); no decision reads them."""
        return self.suite.tasks("test", limit=self.config.test_tasks)

    def train_tasks(self, iteration: int) -> list[Task]:
        """Fresh train tasks for `iteration` (1-based): the next `train_tasks` seeds of the train split, each
        begun a few random moves from its start where `explore_starts` asks for it."""
        n = self.config.train_tasks
        seeds = self.suite.splits["train"][(iteration - 1) * n : iteration * n]
        return [explore_start(self.suite.make_task(s), self.config.explore_starts) for s in seeds]

    def ref(self, policy_id: int) -> PolicyHandle:
        """Where a stored policy's weights are; the base policy of an endpoint run has none."""
        with self.store.session() as s:
            row = queries.get_policy(s, policy_id)
        handle = PolicyHandle.of(row)
        if self.config.policy.is_endpoint and row.iteration == 0:
            return dataclasses.replace(handle, checkpoint_path=None)
        return handle


def explore_start(task: Task, most: int) -> Task:
    """`task` begun 0..`most` random legal moves from its start, the number drawn from the task's key (so a task
    begins in the same state whichever iteration, worker or resume plays it)."""
    if most <= 0:
        return task
    moves = random.Random(f"{task.key}/explore").randint(0, most)
    return dataclasses.replace(task, params={**task.params, START_MOVES: moves}) if moves else task


def build_graph(ctx: LoopContext, checkpointer: Any) -> Any:
    """The compiled practice graph over `ctx`, saving its state with `checkpointer`."""
    timed = _timed(ctx)
    graph = StateGraph(LoopState)
    graph.add_node("baseline", timed(baseline))
    graph.add_node("collect", timed(collect))
    graph.add_node("train", timed(train))
    graph.add_node("evaluate", timed(evaluate))
    graph.add_node("advance", timed(advance))
    graph.add_edge(START, "baseline")
    graph.add_edge("baseline", "advance")
    graph.add_edge("collect", "train")
    graph.add_edge("train", "evaluate")
    graph.add_edge("evaluate", "advance")
    graph.add_conditional_edges("advance", lambda s: END if s.get("stop_reason") else "collect")
    return graph.compile(checkpointer=checkpointer)


def _timed(ctx: LoopContext) -> Callable[[Callable[[LoopContext, LoopState], dict[str, Any]]], Any]:
    def wrap(node: Callable[[LoopContext, LoopState], dict[str, Any]]) -> Callable[[LoopState], dict[str, Any]]:
        def run(state: LoopState) -> dict[str, Any]:
            ctx.clock.start(f"{node.__name__}/{state.get('iteration', 0)}/{len(state.get('history', []))}")
            try:
                with ctx.clock.ticking():
                    update = node(ctx, state)
            except BaseException:  # stopped part-way: the next attempt at this node counts this time too
                ctx.clock.save()
                raise
            update["elapsed_s"] = state.get("elapsed_s", 0.0) + ctx.clock.spent()
            return update

        run.__name__ = node.__name__
        return run

    return wrap


# ----------------------------------------------------------------------------------------------- nodes
def baseline(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
    """Iteration 0: evaluate the starting policy greedily on the test tasks (the curve's first point)."""
    policy_id = state["policy_id"]
    row = {"iteration": 0, "policy_id": policy_id, **_curve_point(ctx, state, policy_id), "decision": "baseline"}
    ctx.reporter.row(row)
    return {"history": [row], "iteration": 0}


def collect(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
    """Search fresh train tasks with the current policy; every episode and tree goes to the store."""
    it = state["iteration"]
    ref = ctx.ref(state["policy_id"])
    tasks = ctx.train_tasks(it)
    prefix = f"r{state['run_id']}/i{it}"
    jobs = [Job(uid=f"{prefix}/collect/p{ref.id}/{t.key}", policy=ref, task=t, mode="search") for t in tasks]
    k = ctx.config.pass_k
    samples = [
        Job(uid=f"{prefix}/sample{j}/p{ref.id}/{t.key}", policy=ref, task=t, mode="sample")
        for t in tasks
        for j in range(k)
    ]
    extra = f" + {k} samples each" if k else ""
    ctx.reporter.phase(f"iteration {it} · search on {len(jobs)} train tasks{extra}", len(jobs) + len(samples))
    played = _play(ctx, jobs + samples, f"collection (iteration {it})")
    searched, sampled = played[: len(jobs)], played[len(jobs) :]
    n = len(searched)
    stats = {
        "episodes": len(played),
        "train_success": sum(p.success for p in searched) / n,
        "train_solved_anywhere": sum(p.solved_anywhere for p in searched) / n,
        "distinct_actions_per_node": sum(p.distinct_actions_per_node for p in searched) / n,
        "nodes": sum(p.nodes for p in played),
        "infra_failures": sum(p.failure_kind == "infra" for p in played),
        **pass_at_k(sampled, k),
    }
    return {"collect": stats, "candidate_id": None, "round_id": None}


def pass_at_k(sampled: list[Played], k: int) -> dict[str, Any]:
    """pass@1 (the share of sampled episodes that succeeded) and pass@k (the share of tasks that at least one
    of their k samples solved) over the train tasks; nothing when no samples were asked for."""
    if k == 0 or not sampled:
        return {}
    by_task: dict[str, list[bool]] = {}
    for p in sampled:
        by_task.setdefault(p.task, []).append(p.success)
    return {
        "pass_k": k,
        "train_pass_at_1": sum(p.success for p in sampled) / len(sampled),
        "train_pass_at_k": sum(any(wins) for wins in by_task.values()) / len(by_task),
    }


def train(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
    """Train a candidate from the current policy when the recipe trains and a round is due."""
    config = ctx.config
    if config.recipe == "none":
        return {"train_note": "recipe 'none': no training"}
    adopted = _finished_round_since(ctx, state)
    if adopted is not None:  # the round finished before a kill, after the last checkpoint: don't train twice
        return adopted
    killed = _killed_round(ctx, state["run_id"])
    # Only this run's episodes: another run in the same store (another suite, another model) is not its data.
    due = round_due(
        ctx.store, state["policy_id"], config.schedule, data=config.train_config.data, run_id=state["run_id"]
    )
    if not due.due:
        if killed is not None:
            ctx.store.finish_training_round(killed, status="failed", metrics={"error": "killed while training"})
        return {"train_note": f"no round: {due.reason}"}
    ctx.reporter.note(f"iteration {state['iteration']} · training ({due.reason})")
    try:
        result = run_round(
            ctx.store,
            config.train_config,
            policy_id=state["policy_id"],
            run_id=state["run_id"],
            data_run_id=state["run_id"],
            output_root=ctx.checkpoint_dir,
            progress=ctx.show_training,
            restart=killed,
        )
    except TrainingError as exc:  # recorded as a failed round by the trainer; the loop keeps its policy
        ctx.reporter.note(f"training failed: {exc}")
        return {"candidate_id": None, "round_id": None, "train_note": f"failed: {exc}"}
    note = result.status if result.reason is None else f"{result.status}: {result.reason}"
    return {"candidate_id": result.policy_out_id, "round_id": result.round_id, "train_note": note}


def evaluate(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
    """Promote the candidate or reject it on fresh validation episodes of it and its parent; evaluate it on the
    test tasks for the curve (without a candidate, the policy the loop acts with)."""
    it = state["iteration"]
    row: dict[str, Any] = {"iteration": it, **state.get("collect", {}), "train": state.get("train_note", "")}
    row.update(_round_metrics(ctx, state.get("round_id")))
    candidate = state.get("candidate_id")
    policy_id = state["policy_id"]
    if candidate is None:
        row.update(policy_id=policy_id, **_curve_point(ctx, state, policy_id), decision="no candidate")
    else:
        decision, ours, parents = promote_or_reject(ctx, state, candidate, parent_id=policy_id)
        if decision.promote:
            policy_id = candidate
        row.update(
            policy_id=candidate,
            **_curve_point(ctx, state, candidate),
            validation_success=ours.success_rate,
            parent_validation_success=parents.success_rate,
            validation_tasks=len(ours.results),
            decision="promoted" if decision.promote else "rejected",
            newly_failed=len(decision.negative_flips),
            newly_solved=len(decision.positive_flips),
        )
    ctx.reporter.row(row)
    return {"history": [row], "policy_id": policy_id}


def promote_or_reject(
    ctx: LoopContext, state: LoopState, candidate_id: int, *, parent_id: int
) -> tuple[PromotionDecision, EvalReport, EvalReport]:
    """Play the candidate and its parent greedily on this iteration's validation tasks, both afresh (in
    parallel where the run has workers), then let the trainer's gate (`promote_if_not_worse`) decide; return
    the decision and both evaluations."""
    tasks = ctx.validation_tasks(state["iteration"])
    for policy_id in (candidate_id, parent_id):
        _play_evaluation(ctx, state, policy_id, tasks, "greedy")
    gate = promote_if_not_worse(
        ctx.store,
        candidate_id,
        tasks,
        {"greedy": _stored_runner(ctx, state, "greedy")},
        parent_id=parent_id,
        config=ctx.config.promotion,
        run_id=state["run_id"],
        round_id=state.get("round_id"),
    )
    return gate.decision, gate.candidate["greedy"], gate.parent["greedy"]


def advance(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
    """Move to the next iteration, or stop: iterations done, time budget spent, or a stop request."""
    done = state.get("iteration", 0)
    budget = ctx.config.time_budget_minutes
    if done >= ctx.config.iterations:
        return {"stop_reason": f"finished {done} iteration(s)"}
    if budget is not None and state.get("elapsed_s", 0.0) >= budget * 60:
        return {"stop_reason": f"time budget of {budget:g} min spent after {done} iteration(s)"}
    if ctx.stop_requested():
        raise Interrupted(f"stopped after iteration {done}")
    return {"iteration": done + 1, "stop_reason": None}


# ----------------------------------------------------------------------------------------------- helpers
def _eval_uid(state: LoopState, policy_id: int, mode: str, task: Task) -> str:
    """The uid of a policy's evaluation episode on a task. A test episode is played once per policy (a policy's
    curve point is the same in every iteration); a validation episode is played afresh in every iteration, so
    that a parent's score in a promotion decision is never the one it was promoted on."""
    episode = f"eval/{mode}/p{policy_id}/{task.key}"
    if task.split == "test":
        return f"r{state['run_id']}/{episode}"
    return f"r{state['run_id']}/i{state.get('iteration', 0)}/{episode}"


def _curve_point(ctx: LoopContext, state: LoopState, policy_id: int) -> dict[str, Any]:
    """A policy's test success, greedy (and with search where `eval_with_search` asks): the reported curve."""
    tasks = ctx.test_tasks()
    point: dict[str, Any] = {"test_success": _evaluate(ctx, state, policy_id, tasks).success_rate}
    if ctx.config.eval_with_search:
        point["test_search_success"] = _evaluate(ctx, state, policy_id, tasks, mode="search").success_rate
    point["test_tasks"] = len(tasks)
    return point


def _evaluate(
    ctx: LoopContext,
    state: LoopState,
    policy_id: int,
    tasks: list[Task],
    *,
    mode: str = "greedy",
) -> EvalReport:
    """Play a policy's episodes on `tasks` (in parallel where asked), then record them as one evaluation."""
    _play_evaluation(ctx, state, policy_id, tasks, mode)
    return evaluate_policy(
        ctx.store,
        policy_id,
        tasks,
        _stored_runner(ctx, state, mode),
        mode=mode,
        run_id=state["run_id"],
    )


def _play_evaluation(ctx: LoopContext, state: LoopState, policy_id: int, tasks: list[Task], mode: str) -> None:
    """Play a policy's evaluation episodes on `tasks` with the run's workers (stored under their uids)."""
    ref = ctx.ref(policy_id)
    jobs = [Job(_eval_uid(state, policy_id, mode, t), ref, t, mode) for t in tasks]  # type: ignore[arg-type]
    split = tasks[0].split if tasks else "?"
    ctx.reporter.phase(f"iteration {state.get('iteration', 0)} · {mode} {split} eval of policy {policy_id}", len(jobs))
    _play(ctx, jobs, "evaluation")


def _play(ctx: LoopContext, jobs: list[Job], phase: str) -> list[Played]:
    """Play every job with the configured workers; a stop request part-way raises `Interrupted`."""

    def on_result(played: Played) -> None:
        ctx.clock.save(at_most_every_s=NodeClock.SAVE_EVERY_S)  # a kill loses only the time since an episode ended
        ctx.reporter.episode(played)

    played = play_all(
        jobs,
        ctx.runner,
        workers=ctx.config.workers,
        ray_address=ctx.config.ray_address,
        on_result=on_result,
        should_stop=ctx.stop_requested,
    )
    if len(played) < len(jobs):
        raise Interrupted(f"stopped during {phase} ({len(played)} of {len(jobs)} episodes)")
    return played


def _stored_runner(ctx: LoopContext, state: LoopState, mode: str) -> Callable[[PolicyHandle, Task], Played]:
    """A `run_episode` for the trainer's evaluation: plays (or finds) the episode under its uid."""

    def run_episode(policy: PolicyHandle, task: Task) -> Played:
        ref = ctx.ref(policy.id)
        return ctx.runner.play(Job(_eval_uid(state, policy.id, mode, task), ref, task, mode))  # type: ignore[arg-type]

    return run_episode


def _killed_round(ctx: LoopContext, run_id: int) -> int | None:
    """This run's round that was stopped part-way, to train again under its own id: one a kill left 'running'
    (kill -9, a power cut: only one process trains a run's rounds, so a round still running when the train node
    starts was killed) or one a Ctrl-C ended (failed, marked interrupted). Only the newest one counts; older
    ones still running (a store from before rounds were restarted) are marked failed.
    """
    with ctx.store.session() as s:
        rows = s.scalars(select(TrainingRound).where(TrainingRound.run_id == run_id).order_by(TrainingRound.id)).all()
        running = [r.id for r in rows if r.status == "running"]
        last = rows[-1] if rows else None
        interrupted = last is not None and last.status == "failed" and (last.metrics or {}).get("interrupted") is True
        newest = last.id if last is not None else None
    for round_id in running:
        if round_id != newest:
            ctx.store.finish_training_round(round_id, status="failed", metrics={"error": "killed while training"})
    if newest is None or not (newest in running or interrupted):
        return None
    ctx.reporter.note(f"training round {newest} was stopped before it finished; training it again")
    return newest


def _finished_round_since(ctx: LoopContext, state: LoopState) -> dict[str, Any] | None:
    """A round of this run from the current policy that ended after this iteration's collection began."""
    with ctx.store.session() as s:
        rows = s.scalars(
            select(TrainingRound)
            .where(TrainingRound.run_id == state["run_id"], TrainingRound.policy_in_id == state["policy_id"])
            .order_by(TrainingRound.id)
        ).all()
        seen = {row.get("round_id") for row in state.get("history", [])}
        for r in reversed(rows):
            if r.id in seen or r.status != "finished":
                continue
            note = f"{r.status} (adopted after a restart)"
            return {"candidate_id": r.policy_out_id, "round_id": r.id, "train_note": note}
    return None


def _round_metrics(ctx: LoopContext, round_id: int | None) -> dict[str, Any]:
    if round_id is None:
        return {"round_id": None}
    with ctx.store.session() as s:
        row = s.get(TrainingRound, round_id)
        metrics = dict(row.metrics or {}) if row is not None else {}
    picked: dict[str, Any] = {"round_id": round_id}
    for key, value in metrics.items():
        if isinstance(value, int | float) and ("loss" in key or "margin" in key):
            picked[key] = value
    return picked
