"""The practice loop as a LangGraph graph: baseline -> (collect -> train -> evaluate -> advance)* -> end.

The graph's state holds ids and small values only (run, iteration, current policy, per-iteration rows); live
models, environments and the store are in `LoopContext`, passed in when the graph is built. LangGraph's SQLite
checkpointer saves the state after every node, so a killed run resumes at the node it was in. Each node is
safe to run again after a kill part-way through it:
- collect and evaluate play episodes by uid, so stored episodes are reused, never replayed or duplicated;
- train adopts a round that finished after the last checkpoint instead of training again.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from sqlalchemy import select

from practicum.envs.core import Task
from practicum.envs.registry import Suite
from practicum.loop.config import PracticeConfig
from practicum.loop.episodes import EpisodeRunner, Job, Played, PolicyRef, play_all
from practicum.store import Store, queries
from practicum.store.models import TrainingRound
from practicum.trainer.errors import TrainingError
from practicum.trainer.evaluate import PolicyHandle, evaluate_policy, promote_if_not_worse
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

    def heldout_tasks(self) -> list[Task]:
        """The held-out tasks every policy is evaluated on (the same ones, every iteration)."""
        return self.suite.tasks("heldout", limit=self.config.heldout_tasks)

    def train_tasks(self, iteration: int) -> list[Task]:
        """Fresh train tasks for `iteration` (1-based): the next `train_tasks` seeds of the train split."""
        n = self.config.train_tasks
        seeds = self.suite.splits["train"][(iteration - 1) * n : iteration * n]
        return [self.suite.make_task(s) for s in seeds]

    def ref(self, policy_id: int) -> PolicyRef:
        """Where a stored policy's weights are; the base policy of an endpoint run has none."""
        with self.store.session() as s:
            row = queries.get_policy(s, policy_id)
        if self.config.policy.is_endpoint and row.iteration == 0:
            return PolicyRef(policy_id, None)
        return PolicyRef(policy_id, row.checkpoint_path)


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
            start = time.monotonic()
            update = node(ctx, state)
            update["elapsed_s"] = state.get("elapsed_s", 0.0) + (time.monotonic() - start)
            return update

        run.__name__ = node.__name__
        return run

    return wrap


# ----------------------------------------------------------------------------------------------- nodes
def baseline(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
    """Iteration 0: evaluate the starting policy on the held-out tasks, greedily."""
    report = _evaluate(ctx, state, state["policy_id"], mode="greedy")
    row = {
        "iteration": 0,
        "policy_id": state["policy_id"],
        "heldout_success": report.success_rate,
        "heldout_tasks": len(report.results),
        "decision": "baseline",
    }
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
    # Only this run's episodes: another run in the same store (another suite, another model) is not its data.
    due = round_due(
        ctx.store, state["policy_id"], config.schedule, data=config.train_config.data, run_id=state["run_id"]
    )
    if not due.due:
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
        )
    except TrainingError as exc:  # recorded as a failed round by the trainer; the loop keeps its policy
        ctx.reporter.note(f"training failed: {exc}")
        return {"candidate_id": None, "round_id": None, "train_note": f"failed: {exc}"}
    note = result.status if result.reason is None else f"{result.status}: {result.reason}"
    return {"candidate_id": result.policy_out_id, "round_id": result.round_id, "train_note": note}


def evaluate(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
    """Evaluate the candidate on the held-out tasks; promote it if it is not worse than its parent."""
    it = state["iteration"]
    row: dict[str, Any] = {"iteration": it, **state.get("collect", {}), "train": state.get("train_note", "")}
    row.update(_round_metrics(ctx, state.get("round_id")))
    candidate = state.get("candidate_id")
    policy_id = state["policy_id"]
    if candidate is None:
        report = _evaluate(ctx, state, policy_id, mode="greedy")
        row.update(policy_id=policy_id, heldout_success=report.success_rate, decision="no candidate")
    else:
        modes = ["greedy", "search"] if ctx.config.eval_with_search else ["greedy"]
        for mode in modes:  # play every held-out episode first (in parallel where asked), then decide
            _play_eval(ctx, state, candidate, mode)
        runners = {mode: _stored_runner(ctx, state, mode) for mode in modes}
        decision = promote_if_not_worse(
            ctx.store,
            candidate,
            ctx.heldout_tasks(),
            runners,
            config=ctx.config.promotion,
            run_id=state["run_id"],
            round_id=state.get("round_id"),
        )
        if decision.promote:
            policy_id = candidate
        row.update(
            policy_id=candidate,
            heldout_success=decision.candidate_success_rate,
            parent_success=decision.parent_success_rate,
            decision="promoted" if decision.promote else "rejected",
            newly_failed=len(decision.negative_flips),
            newly_solved=len(decision.positive_flips),
        )
    row["heldout_tasks"] = len(ctx.heldout_tasks())
    ctx.reporter.row(row)
    return {"history": [row], "policy_id": policy_id}


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
    return f"r{state['run_id']}/eval/{mode}/p{policy_id}/{task.key}"


def _play_eval(ctx: LoopContext, state: LoopState, policy_id: int, mode: str) -> list[Played]:
    ref = ctx.ref(policy_id)
    tasks = ctx.heldout_tasks()
    jobs = [Job(_eval_uid(state, policy_id, mode, t), ref, t, mode) for t in tasks]  # type: ignore[arg-type]
    ctx.reporter.phase(f"iteration {state.get('iteration', 0)} · {mode} eval of policy {policy_id}", len(jobs))
    return _play(ctx, jobs, "evaluation")


def _play(ctx: LoopContext, jobs: list[Job], phase: str) -> list[Played]:
    """Play every job with the configured workers; a stop request part-way raises `Interrupted`."""
    played = play_all(
        jobs,
        ctx.runner,
        workers=ctx.config.workers,
        ray_address=ctx.config.ray_address,
        on_result=ctx.reporter.episode,
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


def _evaluate(ctx: LoopContext, state: LoopState, policy_id: int, *, mode: str) -> Any:
    _play_eval(ctx, state, policy_id, mode)
    return evaluate_policy(
        ctx.store,
        policy_id,
        ctx.heldout_tasks(),
        _stored_runner(ctx, state, mode),
        mode=mode,
        run_id=state["run_id"],
    )


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
