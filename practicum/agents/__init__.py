"""Models that act and judge: policies propose and score actions, critics rank them (Agent Q's self-critique).

- `base`: the interfaces search codes against (`Policy`, `Critic`, `StepContext`, `Proposal`, `Critique`).
- `backend`: what a policy and a critic need from a model (`Backend`: render, score, replies, complete, answers).
- `policy`: `ModelPolicy`, every ranking rule over a backend; `critic`: `ModelCritic`, every judging rule.
- `local`: a transformers causal LM on this machine (`LocalModel`, a backend; `LocalPolicy`), prompt-cached.
- `endpoint`: any OpenAI-compatible server (`EndpointClient`, a backend; `EndpointPolicy`).
- `prompts`: every prompt's wording, versioned.
- `default`: the built-in SmolLM2-135M-Instruct (`default_model_dir()`, `default_policy()`).
- `config`: `PolicyConfig` / `CriticConfig` and `load_policy` / `load_critic`.

Submodules are imported on demand: importing this package loads no model library.
"""
