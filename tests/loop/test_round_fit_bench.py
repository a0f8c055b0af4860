"""The round-fit benchmark: it reads the observation out of real FrozenLake prompts, and its table of a round's
rows agrees with the oracle benchmark's table built from the same lakes, cells and moves."""

from __future__ import annotations

from types import ModuleType

import pytest

from practicum.agents import prompts
from practicum.agents.base import StepContext
from practicum.envs.registry import get_suite
from tests.benchmarks import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("round_fit")


def _rows(bench: ModuleType, oracle: ModuleType, probe: ModuleType, lakes: int) -> list[dict[str, str]]:
    """Every optimal move at every safe cell of the first train lakes, as a round's rows (the real prompt)."""
    suite = get_suite("frozenlake-4x4")
    env = suite.env(max_steps=100)
    rows = []
    try:
        for task in suite.tasks("train", limit=lakes):
            desc = list(task.params["make_kwargs"]["desc"])
            reached = probe.distances(desc, (0, 0), through=oracle.GOAL)
            for cell in reached:
                if cell == oracle.GOAL or not oracle.optimal_moves(desc, cell):
                    continue
                obs, info = env.reset(options={"task": task})
                for move in probe.path_to(reached, cell):
                    obs, _, _, _, info = env.step(move)
                context = StepContext(task.goal, obs, (), tuple(info["legal_actions"]))
                prompt = prompts.render_plain(prompts.policy_messages(context))
                assert bench.prompt_key(prompt) == bench.lake_key(desc, cell)
                rows += [{"prompt": prompt, "completion": m} for m in oracle.optimal_moves(desc, cell)]
    finally:
        env.close()
    return rows


def test_the_table_of_a_rounds_rows_matches_the_oracle_table_of_the_same_rows(bench: ModuleType) -> None:
    oracle, probe = load_benchmark("lake_oracle"), load_benchmark("lake_probe")
    rows = _rows(bench, oracle, probe, lakes=6)
    tests = oracle.lakes("test", 40)
    expected = oracle.table_success(oracle.labelled(oracle.lakes("train", 6), "uniform", "all"), tests)
    assert bench.table_success(rows, tests) == expected["test_success"]
    # Rows that say nothing leave the untrained route (right, else down): what that route solves.
    assert bench.table_success(rows[:1], tests) < expected["test_success"]


def test_a_prompt_that_is_not_a_lake_prompt_is_named(bench: ModuleType) -> None:
    with pytest.raises(ValueError, match="not a FrozenLake 4x4 policy prompt"):
        bench.prompt_key("Board:\nX . O")
