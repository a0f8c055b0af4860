"""Which model acts and which one judges, as plain validated dataclasses (for the CLI and run records).

`load_policy(PolicyConfig())` is the built-in SmolLM2 on this machine; `PolicyConfig(model="my-model",
base_url="http://127.0.0.1:8000/v1")` is a served one. `load_critic(CriticConfig(), policy)` judges with the
policy's own model, sharing its weights or connection; give `CriticConfig.backend` to judge with another.
API keys are never stored in a config: `api_key_env` names the environment variable that holds one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import get_args

from practicum.agents.backend import Backend
from practicum.agents.base import Critic, Policy, StepContext
from practicum.agents.critic import ModelCritic
from practicum.agents.endpoint import EndpointClient, EndpointPolicy
from practicum.agents.local import DTypeName, LocalModel, LocalPolicy
from practicum.agents.policy import FILL_RULES, FillRule, ModelPolicy
from practicum.errors import ConfigError

DEFAULT_MODEL = "default"


@dataclass(frozen=True)
class PolicyConfig:
    """A model to run: local (a directory, or "default" for the built-in SmolLM2) or at an endpoint."""

    model: str = DEFAULT_MODEL  # "default", a local model directory, or the served model's name with base_url
    base_url: str | None = None  # an OpenAI-compatible API root such as http://127.0.0.1:8000/v1
    adapter: str | None = None  # a LoRA adapter directory for a local model
    tokenizer: str | None = None  # a local tokenizer of the served model: exact chat template for endpoints
    dtype: DTypeName = "float32"  # local only: "float32", "bfloat16", or "auto" (bf16 where it is fast)
    device: str | None = None  # local only: None picks the GPU when there is one, else the CPU
    max_new_tokens: int = 32  # the longest free-text action
    fill: FillRule = "goal"  # a template's slot: "goal" (a run of the goal's words) or "generate" (free text)
    seed: int = 0  # seeds the sequence of sampling seeds
    api_key_env: str | None = None  # endpoint only: the environment variable holding the API key
    timeout_s: float = 60.0  # endpoint only: per request
    max_retries: int = 3  # endpoint only: retries on connection errors, timeouts and 5xx replies

    def __post_init__(self) -> None:
        if not self.model:
            raise ConfigError("model is empty; use 'default', a model directory, or the served model's name")
        if self.dtype not in get_args(DTypeName):
            raise ConfigError(f"dtype must be one of {get_args(DTypeName)}, got {self.dtype!r}")
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.fill not in FILL_RULES:
            raise ConfigError(f"fill must be one of {FILL_RULES}, got {self.fill!r}")
        if self.timeout_s <= 0 or self.max_retries < 0:
            raise ConfigError(f"need timeout_s > 0 and max_retries >= 0, got {self.timeout_s}, {self.max_retries}")
        if self.base_url is None:
            if self.api_key_env or self.tokenizer:
                raise ConfigError("api_key_env and tokenizer apply to endpoints only; set base_url or drop them")
            return
        if self.model == DEFAULT_MODEL:
            raise ConfigError("with base_url set, model must be the name the server serves (its 'model' field)")
        if self.adapter is not None:
            raise ConfigError("adapter applies to local models only; a server loads its own adapters")

    @property
    def is_endpoint(self) -> bool:
        """Whether this model is reached over HTTP."""
        return self.base_url is not None


@dataclass(frozen=True)
class CriticConfig:
    """The critic: the policy's own model by default (shared), or another `backend`."""

    backend: PolicyConfig | None = None  # None: judge with the policy's model, loaded once
    max_rationale_tokens: int = 40  # the longest rationale, generated only when asked
    top_logprobs: int = 20  # endpoint only: alternatives of the reply's first token to read labels from

    def __post_init__(self) -> None:
        if self.max_rationale_tokens < 1 or self.top_logprobs < 1:
            raise ConfigError(
                f"need max_rationale_tokens >= 1 and top_logprobs >= 1, got {self.max_rationale_tokens}, "
                f"{self.top_logprobs}"
            )


def load_policy(config: PolicyConfig) -> Policy:
    """The policy `config` describes: loads the local model or opens the endpoint client."""
    if config.is_endpoint:
        return EndpointPolicy(_client(config), max_new_tokens=config.max_new_tokens, seed=config.seed, fill=config.fill)
    return LocalPolicy(_local_model(config), max_new_tokens=config.max_new_tokens, seed=config.seed, fill=config.fill)


def probe(policy: Policy) -> None:
    """Ask `policy` one tiny question: an endpoint that is unreachable or misconfigured raises `ModelError` here,
    before any work, instead of turning every episode into an infrastructure failure."""
    policy.score(StepContext(goal="check", observation="Say ok.", legal_actions=("ok",)), ["ok"])


def load_critic(config: CriticConfig, policy: Policy) -> Critic:
    """The critic `config` describes; with no backend it shares `policy`'s model or connection."""
    backend: Backend
    if config.backend is not None:
        backend = _client(config.backend) if config.backend.is_endpoint else _local_model(config.backend)
    elif isinstance(policy, ModelPolicy):
        backend = policy.backend
    else:
        raise ConfigError(f"no model to judge with for {type(policy).__name__}; give the critic a backend")
    return ModelCritic(backend, max_rationale_tokens=config.max_rationale_tokens, top_logprobs=config.top_logprobs)


def _local_model(config: PolicyConfig) -> LocalModel:
    if config.model == DEFAULT_MODEL:
        from practicum.agents.default import default_model_dir

        model_dir = str(default_model_dir())
    else:
        model_dir = config.model
    return LocalModel(model_dir, adapter=config.adapter, device=config.device, dtype=config.dtype)


def _client(config: PolicyConfig) -> EndpointClient:
    api_key = None
    if config.api_key_env:
        api_key = os.environ.get(config.api_key_env)
        if not api_key:
            raise ConfigError(f"api_key_env names ${config.api_key_env}, which is not set; export it or drop it")
    return EndpointClient(
        config.base_url or "",
        config.model,
        api_key=api_key,
        timeout=config.timeout_s,
        max_retries=config.max_retries,
        tokenizer=config.tokenizer,
    )
