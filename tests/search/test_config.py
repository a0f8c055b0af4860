"""`SearchConfig` rejects bad values with a message naming the field, the value and the fix."""

from __future__ import annotations

import pytest

from practicum.errors import ConfigError, PracticumError
from practicum.search import SearchConfig


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mode", "beam", r"SearchConfig.mode must be one of 'search', 'greedy', 'sample'; got 'beam'"),
        ("selection", "ucb", r"SearchConfig.selection must be one of 'puct', 'uct'; got 'ucb'"),
        ("evaluation", "oracle", r"SearchConfig.evaluation must be one of 'rollout', 'reward', 'critic'"),
        ("commit", "best", r"SearchConfig.commit must be one of 'visits', 'q'; got 'best'"),
        ("simulations", 0, r"SearchConfig.simulations must be >= 1; got 0: run at least one simulation"),
        ("simulations", 2.5, r"SearchConfig.simulations must be an integer; got 2.5 \(float\)"),
        ("simulations", True, r"SearchConfig.simulations must be an integer; got True"),
        ("max_depth", 0, r"SearchConfig.max_depth must be >= 1; got 0"),
        ("k", -1, r"SearchConfig.k must be >= 1; got -1: propose at least one candidate"),
        ("rollout_depth", -2, r"SearchConfig.rollout_depth must be >= 0; got -2: use 0 for no rollout"),
        ("rollouts", 0, r"SearchConfig.rollouts must be >= 1; got 0: average at least one rollout per leaf"),
        ("seed", -1, r"SearchConfig.seed must be >= 0; got -1"),
        ("exploration", -0.1, r"SearchConfig.exploration is out of range; got -0.1: use a value >= 0"),
        ("alpha", 1.5, r"SearchConfig.alpha is out of range; got 1.5: use a weight between 0 and 1"),
        ("alpha", float("nan"), r"SearchConfig.alpha must be a finite number; got nan"),
        ("discount", 0.0, r"SearchConfig.discount is out of range; got 0.0: use a discount in \(0, 1\]"),
        ("temperature", -1.0, r"SearchConfig.temperature is out of range; got -1.0"),
        ("wall_clock_s", 0, r"SearchConfig.wall_clock_s is out of range; got 0: use a positive number of seconds"),
        ("wall_clock_s", "10", r"SearchConfig.wall_clock_s must be a finite number; got '10'"),
    ],
)
def test_bad_value_names_field_value_and_fix(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        SearchConfig(**{field: value})  # type: ignore[arg-type]
    assert isinstance(info.value, PracticumError)


def test_defaults_are_valid_and_greedy_mode_does_not_search() -> None:
    assert SearchConfig().searches
    assert not SearchConfig(mode="greedy").searches
    assert SearchConfig(wall_clock_s=0.5, alpha=0, discount=1, exploration=0).wall_clock_s == 0.5


@pytest.mark.parametrize(
    "settings,consults",
    [
        ({"alpha": 0.5}, True),
        ({"alpha": 1.0}, False),
        ({"alpha": 1.0, "evaluation": "critic"}, True),
        ({"alpha": 0.5, "mode": "greedy"}, False),
    ],
)
def test_a_search_consults_its_critic_only_where_the_scores_count(settings: dict, consults: bool) -> None:
    assert SearchConfig(**settings).consults_critic is consults
