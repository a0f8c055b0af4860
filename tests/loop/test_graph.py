"""The loop's graph nodes on their own, over a real store (no episodes played, no model loaded)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from practicum.envs.core import START_MOVES
from practicum.envs.registry import get_suite
from practicum.loop.config import config_from_dict
from practicum.loop.graph import Interrupted, LoopContext, LoopState, _timed, explore_start, train
from practicum.store import EpisodeRecord, NodeRecord, Store, TaskRecord, open_store
from practicum.store.models import Episode, PolicyRow, TrainingRound
from practicum.trainer.datasets import build_datasets, rebuild_datasets
from practicum.trainer.rounds import register_base_policy


def searched_episode(run_id: int, seed: int, *, won: bool) -> EpisodeRecord:
    """A searched FrozenLake episode: two valued siblings under the root (a step pair); a win committed to the
    first ("right"), a loss to the second ("left")."""
    nodes = [NodeRecord(idx=0, parent_idx=None, depth=0, observation=f"map {seed}", on_path=True, visits=6)]
    for idx, (action, value) in enumerate((("right", 0.9), ("left", 0.1)), start=1):
        nodes.append(
            NodeRecord(
                idx=idx,
                parent_idx=0,
                depth=1,
                action=action,
                prompt=f"PROMPT[map {seed}]",
                observation=f"moved {action}",
                prior_logprob=-float(idx),
                visits=3,  # the loop pairs siblings that search visited 3+ times
                value=value,
                blended_value=value,
                reward=1.0 if won and idx == 1 else 0.0,
                is_terminal=True,
                success=won and idx == 1,
                on_path=idx == (1 if won else 2),
                expanded=True,
            )
        )
    return EpisodeRecord(
        run_id=run_id,
        task=TaskRecord(suite="frozenlake-4x4", seed=seed, split="train", goal="reach the goal"),
        mode="search",
        outcome="success" if won else "failure",
        failure_kind=None if won else "agent",
        reward=1.0 if won else 0.0,
        nodes=nodes,
        uid=f"r{run_id}/i1/search/{seed}",
    )


def context(store: Store, model_dir: Path, tmp_path: Path, **schedule: Any) -> LoopContext:
    # Thresholds no round can reach: the round is recorded as skipped with its datasets' spec, nothing trains.
    config = config_from_dict(
        {
            "suite": "frozenlake-4x4",
            "policy": {"model": str(model_dir)},
            "store": str(store.engine.url),
            "train": {"data": {"min_pairs": 10_000, "min_rft_examples": 10_000}},
            "schedule": {"min_new_pairs": 0, "min_new_episodes": 1, **schedule},
        }
    )
    return LoopContext(config, store, None, None, str(tmp_path / "checkpoints"))  # type: ignore[arg-type]


def test_a_round_of_the_loop_builds_its_datasets_from_its_own_runs_episodes_only(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    with open_store(f"sqlite:///{tmp_path / 'shared.db'}") as store:
        policy = register_base_policy(store, tiny_model_dir)
        other, own = store.create_run(config={"suite": "other"}), store.create_run(config={"suite": "own"})
        for seed in range(3):  # another run's data in the same store, on other tasks and on the loop's own task
            store.write_episode(searched_episode(other, seed, won=False))
        store.write_episode(searched_episode(own, 0, won=True))
        with store.session() as s:
            own_ids = set(s.scalars(select(Episode.id).where(Episode.run_id == own)))
        everything = build_datasets(store, policy_id=policy)  # the whole store, as `practicum train` reads it
        assert not set(everything.step_pairs.episode_ids) <= own_ids and len(everything.trajectory_pairs) == 1

        state: LoopState = {"run_id": own, "iteration": 1, "policy_id": policy, "history": []}
        # One new episode of its own: a round that wants two is not due, whatever the other run collected.
        assert train(context(store, tiny_model_dir, tmp_path, min_new_episodes=2), state) == {
            "train_note": "no round: not yet: 1 new episodes, 1 new pairs"
        }
        out = train(context(store, tiny_model_dir, tmp_path), state)
        assert out["train_note"].startswith("skipped")
        with store.session() as s:
            spec = s.get(TrainingRound, out["round_id"]).config["data"]  # type: ignore[union-attr]
        assert spec["run_id"] == own and spec["new_episodes"] == 1
        again = rebuild_datasets(store, spec)  # the spec records the filter
        assert again.step_pairs.episode_ids == sorted(own_ids) and len(again.step_pairs) == 1
        assert len(again.trajectory_pairs) == 0  # the other run's failure on the same task is not a partner
        assert again.rft.episode_ids == sorted(own_ids)


@pytest.mark.parametrize("stopped_by", ["kill -9", "Ctrl-C"])
def test_a_round_stopped_part_way_is_trained_again_under_its_own_number(
    stopped_by: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # A resumed run must number its rounds and name its policies as an uninterrupted run does, and not keep the
    # killed attempt's partial checkpoint (hundreds of MB for the default model) beside the new one.
    with open_store(f"sqlite:///{tmp_path / 'p.db'}") as store:
        policy = register_base_policy(store, tiny_model_dir)
        run = store.create_run(config={})
        store.write_episode(searched_episode(run, 0, won=True))
        killed = store.start_training_round(run_id=run, recipe="rft", policy_in_id=policy, config={})
        if stopped_by == "Ctrl-C":  # what run_round records when a KeyboardInterrupt reaches it
            store.finish_training_round(killed, status="failed", metrics={"error": "...", "interrupted": True})
        config = config_from_dict(
            {
                "policy": {"model": str(tiny_model_dir)},
                "recipe": "rft",
                "train": {"rft": {"max_steps": 1}},
                "schedule": {"min_new_pairs": 0, "min_new_episodes": 1},
            }
        )
        ctx = LoopContext(config, store, None, None, str(tmp_path / "checkpoints"))  # type: ignore[arg-type]
        partial = tmp_path / "checkpoints" / f"round-{killed:05d}"
        (partial / "rft").mkdir(parents=True)
        (partial / "rft" / "half-written.safetensors").write_bytes(b"x" * 100)  # what the killed round had written
        out = train(ctx, {"run_id": run, "iteration": 1, "policy_id": policy, "history": []})
        with store.session() as s:
            rows = s.scalars(select(TrainingRound).where(TrainingRound.run_id == run)).all()
            (row,) = rows  # the same round, not a second one
            made = s.get(PolicyRow, row.policy_out_id)
            assert made is not None and made.name.endswith(f"-r{killed}")
        assert out["round_id"] == killed and row.status == "finished" and row.metrics["restarts"] == 1
        assert not (partial / "rft" / "half-written.safetensors").exists()
        assert Path(made.checkpoint_path).is_relative_to(partial)


def test_exploring_starts_begin_train_tasks_off_their_start_and_leave_other_splits_alone(tmp_path: Path) -> None:
    suite = get_suite("frozenlake-4x4")
    config = config_from_dict({"explore_starts": 4, "train_tasks": 20})
    ctx = LoopContext(config, None, suite, None, str(tmp_path))  # type: ignore[arg-type]
    tasks = ctx.train_tasks(1)
    moves = [t.params.get(START_MOVES, 0) for t in tasks]
    assert set(moves) <= set(range(5)) and len(set(moves)) >= 3
    assert [t.params.get(START_MOVES, 0) for t in ctx.train_tasks(1)] == moves  # fixed per task
    env = suite.env(max_steps=12)
    starts = {env.reset(options={"task": t})[0].split("You are at ")[1][:16] for t in tasks}
    assert len(starts) > 1 and "row 0, column 0." in starts
    for task in ctx.validation_tasks(1) + ctx.test_tasks():
        assert START_MOVES not in task.params
        assert "You are at row 0, column 0." in env.reset(options={"task": task})[0]
    assert explore_start(tasks[0], 0) is tasks[0]
    plain = LoopContext(config_from_dict({"train_tasks": 20, "explore_starts": 0}), None, suite, None, str(tmp_path))  # type: ignore[arg-type]
    assert all(START_MOVES not in t.params for t in plain.train_tasks(1))


# A node that ran for a while, then was stopped part-way: a later attempt at it (a resume) must count that time.
STATE: LoopState = {"run_id": 1, "iteration": 1, "history": [{"iteration": 0}], "elapsed_s": 10.0}


def test_time_a_node_spent_before_ctrl_c_counts_toward_the_run_after_resume(tmp_path: Path) -> None:
    def collect(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
        if not ctx.stop_requested():
            return {}  # the resumed attempt: its episodes are in the store already
        time.sleep(0.3)
        raise Interrupted("stopped during collection (1 of 2 episodes)")

    def context(stop: bool) -> LoopContext:  # a new one per attempt, as a new process would have
        ctx = LoopContext(config_from_dict({}), None, None, None, str(tmp_path))  # type: ignore[arg-type]
        ctx.stop_requested = lambda: stop
        return ctx

    with pytest.raises(Interrupted):
        _timed(context(True))(collect)(STATE)
    update = _timed(context(False))(collect)(STATE)
    assert update["elapsed_s"] >= 10.3  # not just the resumed attempt's instant
    other = _timed(context(False))(collect)({**STATE, "history": STATE["history"] * 2})
    assert other["elapsed_s"] < 10.3  # the next node carries nothing over


def _resumed_after_kill_9(tmp_path: Path, *, before: str, body: str) -> float:
    """Run a node in a child process that `body` ends with SIGKILL (no chance to save anything after it); return
    the run time a resumed attempt at the same node reports."""
    script = "\n".join(
        [
            "import os, signal, time",
            "from practicum.loop.config import config_from_dict",
            "from practicum.loop.graph import LoopContext, NodeClock, _timed",
            before,
            "def node(ctx, state):",
            *(f"    {line}" for line in body.splitlines()),
            "    os.kill(os.getpid(), signal.SIGKILL)",
            f"_timed(LoopContext(config_from_dict({{}}), None, None, None, {str(tmp_path)!r}))(node)({STATE!r})",
        ]
    )
    child = subprocess.run([sys.executable, "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert child.returncode == -signal.SIGKILL

    def node(ctx: LoopContext, state: LoopState) -> dict[str, Any]:
        return {}  # the resumed attempt at the same node

    ctx = LoopContext(config_from_dict({}), None, None, None, str(tmp_path))  # type: ignore[arg-type]
    return float(_timed(ctx)(node)(STATE)["elapsed_s"])


def test_time_a_node_spent_before_kill_9_counts_toward_the_run_after_resume(tmp_path: Path) -> None:
    # The killed attempt saves its time as `_play` does after an episode, then dies.
    assert _resumed_after_kill_9(tmp_path, before="", body="time.sleep(0.3)\nctx.clock.save()") >= 10.3


def test_time_a_node_spent_before_kill_9_counts_even_when_it_saved_nothing_itself(tmp_path: Path) -> None:
    # A training round plays no episodes, so nothing in it saves the clock; the node's ticker must: at least 0.3
    # of the 0.5 s must have ticked into the file.
    assert _resumed_after_kill_9(tmp_path, before="NodeClock.TICK_S = 0.1", body="time.sleep(0.5)") >= 10.3
