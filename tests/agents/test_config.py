"""Choosing the policy and critic backends from validated configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from practicum.agents.config import CriticConfig, PolicyConfig, load_critic, load_policy
from practicum.agents.critic import ModelCritic
from practicum.agents.endpoint import EndpointPolicy
from practicum.agents.local import LocalPolicy
from practicum.errors import ConfigError
from tests.agents.openai_server import OpenAIServer


def test_a_local_config_loads_a_local_policy_and_a_critic_sharing_it(tiny_model_dir: Path) -> None:
    policy = load_policy(PolicyConfig(model=str(tiny_model_dir), max_new_tokens=5, seed=3))
    assert isinstance(policy, LocalPolicy) and policy.max_new_tokens == 5
    critic = load_critic(CriticConfig(max_rationale_tokens=7), policy)
    assert isinstance(critic, ModelCritic)
    assert critic.backend is policy.model and critic.max_rationale_tokens == 7


def test_a_critic_backend_loads_a_separate_model(tiny_model_dir: Path) -> None:
    policy = load_policy(PolicyConfig(model=str(tiny_model_dir)))
    critic = load_critic(CriticConfig(backend=PolicyConfig(model=str(tiny_model_dir))), policy)
    assert isinstance(critic, ModelCritic) and isinstance(policy, LocalPolicy)
    assert critic.backend is not policy.model


def test_an_endpoint_config_connects_with_the_key_from_the_environment(
    openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SERVER_KEY", "sk-test")
    config = PolicyConfig(model="tiny", base_url=openai_server.base_url, api_key_env="TEST_SERVER_KEY")
    policy = load_policy(config)
    assert isinstance(policy, EndpointPolicy)
    assert policy.client._http.headers["Authorization"] == "Bearer sk-test"
    critic = load_critic(CriticConfig(top_logprobs=5), policy)
    assert isinstance(critic, ModelCritic) and critic.backend is policy.client and critic.top_logprobs == 5
    monkeypatch.delenv("TEST_SERVER_KEY")
    with pytest.raises(ConfigError, match=r"\$TEST_SERVER_KEY, which is not set"):
        load_policy(config)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": ""}, "model is empty"),
        ({"dtype": "float16"}, "dtype must be one of"),
        ({"max_new_tokens": 0}, "max_new_tokens must be >= 1, got 0"),
        ({"timeout_s": 0}, "need timeout_s > 0"),
        ({"base_url": "http://127.0.0.1:1/v1"}, "model must be the name the server serves"),
        ({"base_url": "http://127.0.0.1:1/v1", "model": "m", "adapter": "/x"}, "adapter applies to local models"),
        ({"api_key_env": "KEY"}, "apply to endpoints only"),
    ],
)
def test_bad_policy_configs_name_the_field(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PolicyConfig(**kwargs)  # type: ignore[arg-type]


def test_bad_critic_configs_name_the_field() -> None:
    with pytest.raises(ConfigError, match="max_rationale_tokens >= 1"):
        CriticConfig(max_rationale_tokens=0)
