"""The bad-input sweep: each gives a clear error that names the fix, or a recorded invalid action, and the store
stays consistent. (Other cases live beside their component: configs in tests/loop, unknown suites in
tests/envs, endpoints that time out or return garbage in tests/agents, pages that never load in tests/envs/web.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from practicum.cli import main
from practicum.envs.registry import get_suite
from practicum.envs.web.actions import InvalidAction, parse_action
from practicum.errors import ConfigError
from practicum.loop.config import config_from_dict
from practicum.loop.practice import practice

MEGABYTE = "x" * 1_000_000


def test_a_one_megabyte_action_is_a_recorded_invalid_action_and_the_game_goes_on() -> None:
    suite = get_suite("frozenlake-4x4")
    env = suite.make_env()
    try:
        obs, info = env.reset(options={"task": suite.tasks("train", limit=1)[0]})
        obs, reward, terminated, _, info = env.step(MEGABYTE)
        assert info["invalid_action"] and not terminated and reward == 0.0
        assert len(obs) < 10_000  # the observation quotes the bad action cut short, not the whole megabyte
        _, _, _, _, info = env.step(info["legal_actions"][0])
        assert not info.get("invalid_action")
    finally:
        env.close()


def test_a_one_megabyte_web_action_parses_as_invalid_or_bounded_without_a_crash() -> None:
    parsed = parse_action("click[" + MEGABYTE + "]")
    assert isinstance(parsed, InvalidAction) and len(parsed.message) < 1_000
    typed = parse_action("type[2][" + MEGABYTE + "]")  # well-formed: the page's own input limits decide
    assert not isinstance(typed, InvalidAction)


def test_a_model_directory_that_is_not_a_causal_lm_fails_before_any_work(tmp_path: Path) -> None:
    from transformers import DistilBertConfig, DistilBertModel

    encoder = tmp_path / "encoder"
    DistilBertModel(DistilBertConfig(n_layers=1, dim=16, hidden_dim=32, n_heads=2, vocab_size=50)).save_pretrained(
        encoder
    )
    store = tmp_path / "p.db"
    config = config_from_dict({"policy": {"model": str(encoder)}, "store": f"sqlite:///{store}"})
    with pytest.raises(ConfigError, match="not a causal language model"):
        practice(config)
    assert not store.exists()  # nothing was written
    assert main(["practice", "--model", str(encoder), "--db", f"sqlite:///{store}"]) == 2


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("suite: [unclosed", "not valid YAML"),
        ("- a list\n- not a mapping", "must hold a mapping"),
        ("iterations: -1", "iterations must be an integer >= 1"),
        ("search:\n  simulations: 0", "simulations must be >= 1"),
        ("suite: frozenlak-4x4", "Did you mean 'frozenlake-4x4'"),
        ("train:\n  data:\n    pair_value: critic", "'train.data.pair_value' must be one of 'blended', 'search'"),
        ("explore_starts: -2", "explore_starts must be an integer >= 0"),
        ("suite: miniwob-login-user\nexplore_starts: 2", "suite 'miniwob-login-user' cannot; set explore_starts to 0"),
    ],
)
def test_malformed_configs_name_the_problem_and_write_nothing(
    tmp_path: Path, yaml_text: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text)
    store = tmp_path / "p.db"
    assert main(["practice", "--config", str(path), "--db", f"sqlite:///{store}"]) == 2
    assert message in " ".join(capsys.readouterr().err.split())
    assert not store.exists()
