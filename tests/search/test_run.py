"""`run_episode`: one episode of a registered suite, greedy or searched, printed as a trajectory."""

from __future__ import annotations

import pytest
from rich.console import Console

from practicum.envs import registry
from practicum.envs.core import FailureKind
from practicum.errors import ConfigError, UnknownIdError
from practicum.search import EpisodeTree, SearchConfig
from practicum.search.run import print_episode, run_episode
from tests.search.toys import SECRET, ChoiceGame, TableCritic, TablePolicy, choice_task

MISLEADING = {"a": -0.1, "b": -2.5, "c": -3.0}


@pytest.fixture
def choice_suite(monkeypatch: pytest.MonkeyPatch) -> str:
    # Register into a copy of the (fully loaded) registry, which monkeypatch puts back afterwards: no suite
    # leaks out, and no built-in suite is lost.
    registry.load_builtin_suites()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    name = "choice-test"
    registry.register(
        registry.Suite(
            name=name,
            domain="game",
            description="the secret-sequence game of the search tests",
            make_task=choice_task,
            make_env=lambda **kwargs: ChoiceGame(**kwargs),
            splits={"train": range(0, 10), "validation": range(20, 30), "test": range(10, 20)},
        )
    )
    return name


def console() -> Console:
    return Console(record=True, width=160, force_terminal=False)


def test_greedy_run_prints_every_committed_step_and_the_outcome(choice_suite: str) -> None:
    out = console()
    tree = run_episode(choice_suite, TablePolicy(MISLEADING), seed=3, console=out)
    text = out.export_text()
    assert tree.mode == "greedy" and tree.task == "choice:3" and tree.actions == ["a", "a", "a"]
    assert "trajectory" in text and "failure (agent)" in text and "steps 3" in text
    assert text.count("Picked so far") >= 2  # first and last observation
    assert "Picked so far: a a a" in text


def test_search_run_finds_the_secret_and_says_so(choice_suite: str) -> None:
    out = console()
    config = SearchConfig(simulations=40, evaluation="reward", mode="greedy")  # `search=True` wins over mode
    tree = run_episode(
        choice_suite, TablePolicy(MISLEADING), TableCritic(), search=True, config=config, console=out, seed=1
    )
    text = out.export_text()
    assert tree.mode == "search" and tree.actions == list(SECRET)
    assert "success" in text and "simulations 120" in text and "solved" in text


def test_env_kwargs_reach_the_environment_and_observations_can_be_shown(choice_suite: str) -> None:
    out = console()
    policy = TablePolicy({"dance": 0.0}, extra=["dance"])
    tree = run_episode(choice_suite, policy, env_kwargs={"max_steps": 2}, console=out, show_observations=True)
    text = out.export_text()
    assert tree.steps == 2 and tree.invalid_actions == 2
    assert "invalid action 'dance'" in text and "Last action error" in text


def test_search_without_a_critic_uses_the_policy_model_or_says_how_to_get_one(choice_suite: str) -> None:
    with pytest.raises(ConfigError, match="no default critic for TablePolicy"):
        run_episode(choice_suite, TablePolicy({}), search=True, console=console())
    config = SearchConfig(alpha=1.0, simulations=40, evaluation="reward")  # no critic needed
    assert run_episode(choice_suite, TablePolicy({}), search=True, config=config, console=console()).success


def test_unknown_suite_or_seed_is_a_user_error(choice_suite: str) -> None:
    with pytest.raises(UnknownIdError, match="Did you mean 'choice-test'"):
        run_episode("choice-tset", TablePolicy({}), console=console())
    with pytest.raises(UnknownIdError, match="seed 99 is in no split"):
        run_episode(choice_suite, TablePolicy({}), seed=99, console=console())


def test_an_episode_that_never_started_still_prints_its_failure() -> None:
    out = console()
    print_episode(
        EpisodeTree(task="x:0", goal="", mode="greedy", policy="p", failure_kind=FailureKind.INFRA, error="boom"), out
    )
    assert "failure (infra): boom" in out.export_text()
