"""Candidate lists, the same for every policy backend: the top k of a scored list, the distinct actions in raw
replies, and the checks on k and the temperature."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from practicum.agents import prompts
from practicum.agents.base import Proposal
from practicum.errors import ConfigError


def check_k_temperature(k: int, temperature: float) -> None:
    """Raise `ConfigError` unless k >= 1 and the temperature >= 0 (0 is greedy)."""
    if k < 1:
        raise ConfigError(f"k (candidates per node) must be >= 1, got {k}")
    if temperature < 0:
        raise ConfigError(f"temperature must be >= 0 (0 is greedy), got {temperature}")


def top_k(scored: Proposal, k: int) -> Proposal:
    """`scored` with only its k best candidates, best first (ties and missing log-probs keep list order)."""
    order = sorted(
        range(len(scored.candidates)),
        key=lambda i: (scored.candidates[i].logprob is None, -(scored.candidates[i].logprob or 0.0), i),
    )
    return replace(scored, candidates=[scored.candidates[i] for i in order[:k]])


def distinct_actions(raw: Any) -> tuple[list[str], int]:
    """The distinct non-empty actions in raw model replies (first line, trimmed), and how many were empty."""
    texts: list[str] = []
    invalid = 0
    for text in raw:
        action = prompts.clean_action(text)
        if not action:
            invalid += 1
        elif action not in texts:
            texts.append(action)
    return texts, invalid
