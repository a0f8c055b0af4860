"""One step of the loop by hand: `practicum train` (one round over a store), `practicum eval` (one policy),
and `practicum run --db` (one episode played by hand, kept in a store)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from practicum.agents.config import CriticConfig, PolicyConfig
from practicum.envs.core import SPLITS, Task
from practicum.envs.registry import get_suite
from practicum.errors import ConfigError, end_of
from practicum.loop.convert import episode_record
from practicum.loop.episodes import EpisodeRunner, Job, Played, RunnerSpec
from practicum.provenance import record_run
from practicum.search.config import SearchConfig
from practicum.search.tree import EpisodeTree
from practicum.store import Store, queries
from practicum.trainer.config import TrainConfig
from practicum.trainer.evaluate import EvalReport, PolicyHandle, evaluate_policy
from practicum.trainer.rounds import RoundResult, run_round


def train_once(
    store: Store,
    *,
    policy: str | None,
    method: str,
    output_root: Path,
    max_steps: int,
    argv: list[str],
    data_run: str | None = None,
) -> RoundResult:
    """Train one round from `policy` (default: the promoted one) on the data that arrived since it was made:
    the episodes of run `data_run` (id or name) only, or of every run in the store without it."""
    config = TrainConfig(method=method)  # type: ignore[arg-type]
    config = replace(config, dpo=replace(config.dpo, max_steps=max_steps), rft=replace(config.rft, max_steps=max_steps))
    policy_id = data_run_id = None
    with store.session() as s:
        if policy is not None:
            policy_id = queries.get_policy(s, int(policy) if policy.isdigit() else policy).id
        if data_run is not None:
            data_run_id = queries.get_run(s, data_run).id
    settings = {"command": "train", "method": method, "max_steps": max_steps, "data_run": data_run_id}
    run_id = record_run(store, settings, {"train": config.seed}, argv)
    try:
        result = run_round(
            store,
            config,
            policy_id=policy_id,
            run_id=run_id,
            data_run_id=data_run_id,
            output_root=output_root,
            progress=True,
        )
    except BaseException as exc:
        status, reason = end_of(exc)
        store.finish_run(run_id, status=status, reason=reason)
        raise
    store.finish_run(run_id)
    return result


def evaluate_once(
    store: Store,
    *,
    policy: str,
    suite: str,
    split: str,
    limit: int,
    search: bool,
    simulations: int,
    max_steps: int | None,
    seed: int,
    argv: list[str],
    task_files: Sequence[str] = (),
) -> EvalReport:
    """Evaluate one stored policy on the first `limit` tasks of a split, greedily or with search.

    `task_files` are the user's task files whose suites `suite` may name (registered here and in the runner).
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use --split train, --split validation or --split test")
    if limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {limit}")
    chosen = get_suite(suite).tasks(split, limit=limit)
    with store.session() as s:
        row = queries.get_policy(s, int(policy) if policy.isdigit() else policy)
        handle = PolicyHandle.of(row)
    if handle.checkpoint_path is None:
        raise ConfigError(
            f"policy {handle.name!r} has no checkpoint on this machine (an endpoint policy); evaluate it with "
            "`practicum practice --endpoint ... --recipe none`"
        )
    mode = "search" if search else "greedy"
    config = {
        "command": "eval",
        "policy": handle.id,
        "suite": suite,
        "split": split,
        "limit": limit,
        "mode": mode,
        "task_files": list(task_files),
    }
    run_id = record_run(store, config, {"eval": seed}, argv)
    spec = RunnerSpec(
        store.engine.url.render_as_string(hide_password=False),
        run_id,
        suite,
        PolicyConfig(),
        CriticConfig(),
        SearchConfig(simulations=simulations),
        seed,
        max_steps,
        task_files=tuple(task_files),
    )
    runner = EpisodeRunner(spec, store=store)

    def run_episode(policy: PolicyHandle, task: object) -> Played:
        return runner.play(Job(f"r{run_id}/eval/{mode}/p{policy.id}/{task.key}", policy, task, mode))  # type: ignore[attr-defined, arg-type]

    try:
        report = evaluate_policy(store, handle.id, chosen, run_episode, mode=mode, run_id=run_id)
    except BaseException as exc:
        status, reason = end_of(exc)
        store.finish_run(run_id, status=status, reason=reason)
        raise
    finally:
        runner.close()
    store.finish_run(run_id)
    return report


def store_episode(
    store: Store,
    tree: EpisodeTree,
    *,
    task: Task,
    settings: dict[str, Any],
    seed: int,
    argv: list[str],
    info: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """Keep one episode played by hand (`practicum run --db`) as a run of its own, with the run's settings,
    versions and git revision like any run; return (run id, episode id). `info` goes into the episode's info."""
    run_id = record_run(store, {"command": "run", **settings}, {"run": seed}, argv)
    try:
        episode_id = store.write_episode(episode_record(tree, run_id=run_id, task=task, policy_id=None, info=info))
    except BaseException as exc:
        status, reason = end_of(exc)
        store.finish_run(run_id, status=status, reason=reason)
        raise
    store.finish_run(run_id)
    return run_id, episode_id
