"""A small real game, and the collection of its episodes into a store the way the practice loop writes them.

`PathGame` is a real `TextEnv`: reach the goal by choosing the right direction twice out of four; a wrong
turn ends the episode as an agent failure. The right path depends on the task seed, so a random tiny model
solves some tasks greedily and misses others, and search with the environment's reward finds the path.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from practicum.agents.critic import ModelCritic
from practicum.agents.local import LocalModel, LocalPolicy
from practicum.envs.core import Outcome, Task, TextEnv
from practicum.loop.convert import episode_record
from practicum.search.config import SearchConfig
from practicum.search.mcts import play_greedy, search_episode
from practicum.search.tree import EpisodeTree
from practicum.store import Store
from practicum.trainer.evaluate import PolicyHandle

DIRECTIONS = ("left", "right", "up", "down")
STEPS = 2
TRAIN_SEEDS = range(0, 100)
TEST_SEEDS = range(100, 200)


def path_task(seed: int) -> Task:
    """The task for `seed`: its secret path is drawn from the seed."""
    rng = random.Random(seed)
    secret = [rng.choice(DIRECTIONS) for _ in range(STEPS)]
    split = "train" if seed in TRAIN_SEEDS else "test"
    return Task(suite="path", seed=seed, split=split, goal="Reach the exit.", params={"secret": secret})


class PathGame(TextEnv):
    """Choose the right direction at each of two crossings; a wrong one ends the episode."""

    def __init__(self) -> None:
        super().__init__(suite="path", task_factory=path_task, max_steps=STEPS + 1)
        self.walked: list[str] = []

    def _start(self, task: Task) -> None:
        self.walked = []

    def _render(self) -> str:
        return f"You are at crossing {len(self.walked) + 1} of {STEPS}. Walked so far: {' '.join(self.walked) or '-'}"

    def _legal_actions(self) -> list[str]:
        return list(DIRECTIONS)

    def _apply(self, action: Any) -> Outcome:
        self.walked.append(action)
        secret = self.task.params["secret"]
        if self.walked != secret[: len(self.walked)]:
            return Outcome(reward=0.0, terminated=True, success=False)
        if len(self.walked) == len(secret):
            return Outcome(reward=1.0, terminated=True, success=True)
        return Outcome(reward=0.0)

    def _get_state(self) -> Any:
        return list(self.walked)

    def _set_state(self, state: Any) -> None:
        self.walked = list(state)


SEARCH = SearchConfig(
    mode="search", simulations=20, max_depth=2, k=4, evaluation="reward", alpha=0.8, commit="q", seed=0
)


def collect(
    store: Store, model_dir: Path, policy_id: int, seeds: list[int], *, run_id: int | None = None
) -> dict[str, list[bool]]:
    """Play each seed's task once with search and once greedily with the policy in `model_dir`; write all the
    episodes; return each task key's outcomes (search first)."""
    model = LocalModel(model_dir, device="cpu")
    policy, critic = LocalPolicy(model), ModelCritic(model)
    run_id = run_id if run_id is not None else store.create_run(config={"test": "collect"})
    outcomes: dict[str, list[bool]] = {}
    for seed in seeds:
        task = path_task(seed)
        for tree in (
            search_episode(PathGame(), policy, critic, SEARCH, task=task),
            play_greedy(PathGame(), policy, task=task),
        ):
            store.write_episode(episode_record(tree, run_id=run_id, task=task, policy_id=policy_id))
            outcomes.setdefault(task.key, []).append(tree.success)
    return outcomes


def greedy_runner() -> Callable[[PolicyHandle, Task], EpisodeTree]:
    """The loop's `run_episode`, for real: load the policy's checkpoint once and play the task greedily."""
    loaded: dict[str, LocalPolicy] = {}

    def run_episode(policy: PolicyHandle, task: Task) -> EpisodeTree:
        path = str(policy.checkpoint_path)
        if path not in loaded:
            loaded[path] = LocalPolicy.load(path, device="cpu")
        return play_greedy(PathGame(), loaded[path], task=task)

    return run_episode
