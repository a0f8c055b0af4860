"""The YAML config shown in the README is a valid practice config, with the values it claims."""

from __future__ import annotations

from pathlib import Path

import yaml

from practicum.loop.config import config_from_dict

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_yaml_config_loads_with_its_values() -> None:
    block = README.read_text().split("```yaml\n", 1)[1].split("```", 1)[0]
    config = config_from_dict(yaml.safe_load(block))
    assert config.suite == "frozenlake-4x4" and config.recipe == "agentq"
    assert config.search.simulations == 6 and config.train.dpo.sft_weight == 0.0 and config.pass_k == 4
    assert config.train.data.min_visits == 3 and config.promotion.min_net_gain == 0
