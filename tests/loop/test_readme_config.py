"""The YAML config shown in the README is a valid practice config, with the values it claims."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from practicum.errors import ConfigError
from practicum.loop.config import PracticeConfig, config_from_dict, load_config, overlay, parse_sets

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_yaml_config_loads_with_its_values() -> None:
    block = README.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    config = config_from_dict(yaml.safe_load(block))
    assert config.suite == "frozenlake-4x4" and config.recipe == "agentq"
    assert config.search.simulations == 8 and config.train.dpo.sft_weight == 0.0 and config.pass_k == 4
    assert config.search.alpha == 1.0 and config.search.discount == 0.95 and config.warmup.states == 40
    assert config.train.data.min_visits == 3 and config.promotion.min_net_gain == 0
    assert (config.validation_tasks, config.test_tasks, config.explore_starts, config.train_tasks) == (16, 16, 8, 24)
    assert (config.train.data.rft_targets, config.train.data.max_copies) == ("ties", 1)
    assert (config.search.rollout_policy, config.search.rollouts) == ("heuristic", 4)
    assert (config.train.start_from, config.train.rft.epochs, config.train.data.aggregate) == ("policy", 10, False)


def test_a_partial_section_keeps_the_practice_defaults_of_its_other_keys() -> None:
    # `search: {simulations: 6}` must not fall back to SearchConfig's own defaults (k=3, model rollouts) for
    # the keys it does not name, nor `train: {dpo: {beta: ...}}` to DPOSettings' (lr 5e-5, epochs instead of
    # the practice run's 8 steps).
    defaults = PracticeConfig()
    config = config_from_dict({"suite": "shop", "search": {"simulations": 6}, "train": {"dpo": {"beta": 0.3}}})
    assert config.search == dataclasses.replace(defaults.search, simulations=6)
    assert config.train.dpo == dataclasses.replace(defaults.train.dpo, beta=0.3)
    assert config.train.rft == defaults.train.rft and config.train.data == defaults.train.data
    # ... nor a suite's own `train: {data: ...}` defaults to the practice run's for the keys the user leaves out.
    lake = config_from_dict({"train": {"data": {"min_visits": 2}}})
    assert (lake.train.data.min_visits, lake.train.data.rft_targets, lake.train.data.max_copies) == (2, "ties", 1)


def test_dotted_settings_nest_and_lay_over_the_suites_own_key_by_key() -> None:
    sets = parse_sets(["train.rft.learning_rate=1e-4", "train.data.pair_value=blended", "search.rollouts=16"])
    assert sets == {
        "train": {"rft": {"learning_rate": 1e-4}, "data": {"pair_value": "blended"}},
        "search": {"rollouts": 16},
    }
    suite = {"suite": "tictactoe", "search": {"k": 4, "rollouts": 1}}
    assert overlay(suite, sets)["search"] == {"k": 4, "rollouts": 16}
    assert suite["search"]["rollouts"] == 1  # the suite's own settings are not changed
    with pytest.raises(ValueError, match="dotted key"):
        parse_sets(["train..rft=1"])
    with pytest.raises(ValueError, match="dotted key"):
        parse_sets(["rollouts16"])


def test_a_dotted_setting_reads_its_value_as_yaml_and_names_what_is_wrong() -> None:
    assert parse_sets(["a.b=1e-4", "a.c=[1, 2]", "d=null", "e=yes", "a.b=2"]) == {
        "a": {"b": 2, "c": [1, 2]},
        "d": None,
        "e": True,
    }
    with pytest.raises(ConfigError, match="'search' was given a value and cannot also hold keys"):
        parse_sets(["search=1", "search.k=2"])
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_sets(["search.k=[1"])


def test_flags_lay_over_a_config_file_section_by_key(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("search: {simulations: 5, k: 2}\niterations: 3\n")
    config = load_config(path, {"search": {"k": 6}})
    assert (config.search.simulations, config.search.k, config.iterations) == (5, 6, 3)


def test_a_suites_own_defaults_sit_between_the_practice_defaults_and_the_users_settings() -> None:
    general = PracticeConfig()
    ttt = config_from_dict({"suite": "tictactoe"})
    assert (ttt.search.rollouts, ttt.search.simulations) == (16, 48)
    assert ttt.search.k == general.search.k  # what the suite does not set stays the practice default
    assert config_from_dict({"suite": "tictactoe", "search": {"rollouts": 2}}).search.rollouts == 2
    lake = config_from_dict({"suite": "frozenlake-4x4"})
    assert lake.search == dataclasses.replace(general.search, rollouts=4)
    assert general.search.rollout_policy == "heuristic" and lake.train.data.tie_confidence == 0.0
    assert (lake.test_tasks, ttt.test_tasks) == (30, general.test_tasks)
    # FrozenLake's rounds stack and train longer; elsewhere each round fits the base to all rows (3 passes).
    assert (lake.train.start_from, lake.train.rft.epochs, lake.train.data.aggregate) == ("policy", 10, False)
    assert (ttt.train.start_from, ttt.train.rft.epochs, ttt.train.data.aggregate) == ("base", 3, True)
    assert lake.train.rft.learning_rate == general.train.rft.learning_rate


def test_the_default_run_gets_the_default_suites_own_defaults_with_no_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    # `practicum practice` with no flags must run what `--suite frozenlake-4x4` runs: exploring starts included.
    from practicum import cli
    from practicum.loop import practice as practice_module

    seen: list[PracticeConfig] = []

    def practice(settings: PracticeConfig, **kw: object) -> practice_module.PracticeResult:
        seen.append(settings)
        return practice_module.PracticeResult(1, "finished")

    monkeypatch.setattr(practice_module, "practice", practice)
    assert cli.main(["practice"]) == 0
    assert seen[0] == config_from_dict({"suite": "frozenlake-4x4"})
    assert (seen[0].explore_starts, seen[0].train_tasks, seen[0].train.data.rft_targets) == (8, 24, "ties")
    assert config_from_dict({"explore_starts": 0}).explore_starts == 0
    with pytest.raises(ConfigError, match="explore_starts must be an integer >= 0"):
        config_from_dict({"explore_starts": -1})


def test_dotted_settings_on_the_command_line_reach_the_run_and_flags_win_over_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from practicum import cli
    from practicum.loop import practice as practice_module

    seen: list[PracticeConfig] = []

    def practice(settings: PracticeConfig, **kw: object) -> practice_module.PracticeResult:
        seen.append(settings)
        return practice_module.PracticeResult(1, "finished")

    monkeypatch.setattr(practice_module, "practice", practice)
    argv = ["practice", "--set", "train.rft.learning_rate=2e-4", "--set", "search.k=2", "--set", "search.simulations=3"]
    assert cli.main([*argv, "--simulations", "5", "--set", "iterations=4"]) == 0
    expected = config_from_dict(
        {"train": {"rft": {"learning_rate": 2e-4}}, "search": {"k": 2, "simulations": 5}, "iterations": 4}
    )
    assert seen[-1] == expected and seen[-1].train.rft.learning_rate == 2e-4
    # Over a config file: the file's other search settings stay; --simulations changes the budget alone.
    path = tmp_path / "run.yaml"
    path.write_text("search: {k: 3, max_depth: 2}\n")
    assert cli.main(["practice", "--config", str(path), "--simulations", "6", "--set", "train.dpo.beta=0.2"]) == 0
    assert (seen[-1].search.k, seen[-1].search.max_depth, seen[-1].search.simulations) == (3, 2, 6)
    assert seen[-1].train.dpo.beta == 0.2
