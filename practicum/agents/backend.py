"""What a policy and a critic need from a model, whichever serves it: the backend contract.

A backend renders chat messages to the exact prompt text, scores completions of a prompt, samples replies,
continues a text and answers the critic's questions. `agents.policy.ModelPolicy` builds every ranking rule
(top-k of legal actions, votes when there are no log-probs, free-text candidates, template slots) and
`agents.critic.ModelCritic` every judging rule on these alone, so a rule is written once for both backends:
a local transformers model (`agents.local.LocalModel`) and an OpenAI-compatible endpoint
(`agents.endpoint.EndpointClient`). Nothing here imports torch or an HTTP client.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from practicum.agents.base import UsageCounter
from practicum.agents.prompts import JudgeQuestion, Message
from practicum.errors import ConfigError


@dataclass(frozen=True)
class Scores:
    """log p(completion + end-of-turn | prompt) per completion (None where the backend gave none), and the cost."""

    logprobs: list[float | None]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    invalid: int = 0  # unusable replies (an endpoint's garbage); never raised


@dataclass(frozen=True)
class Replies:
    """Raw generated texts (not yet cleaned into actions) with their log-probs where known, and the cost."""

    texts: list[str]
    logprobs: list[float | None]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    invalid: int = 0  # replies that could not be read at all

    def __add__(self, other: Replies) -> Replies:
        """Both sets of replies, their costs added."""
        return Replies(
            self.texts + other.texts,
            self.logprobs + other.logprobs,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.seconds + other.seconds,
            self.invalid + other.invalid,
        )


NO_REPLIES = Replies([], [], 0, 0, 0.0)


@dataclass(frozen=True)
class Answers:
    """The replies to the critic's questions, one per action, and the cost.

    `first_tokens[i]`: log-probs of alternatives for the first token of the reply to action i's question (the
    answer words' spellings at least), None where the backend gave none. `texts[i]`: that reply's text, None
    where no text was generated (a local model reads the first token only) or the reply was unusable (counted
    by the backend).
    """

    first_tokens: list[dict[str, float] | None]
    texts: list[str | None]
    prompt_tokens: int
    completion_tokens: int
    seconds: float


def end_flags(ends: Sequence[bool] | None, n: int) -> list[bool]:
    """`Backend.score`'s `ends` as n flags (all True when None); a list of another length is refused."""
    if ends is None:
        return [True] * n
    if len(ends) != n:
        raise ConfigError(f"ends has {len(ends)} flags for {n} completions")
    return list(ends)


class Backend(Protocol):
    """A model that renders, scores, samples and continues text, and counts what that cost in `usage`."""

    @property
    def name(self) -> str:
        """A short, stable name for the store (the model directory or the served model's name)."""

    @property
    def usage(self) -> UsageCounter:
        """Running totals of every call (shared by a policy and a critic on the same backend)."""

    def render(self, messages: Sequence[Message]) -> str:
        """The exact prompt text the model reads for `messages`."""

    def score(self, prompt: str, completions: Sequence[str], *, ends: Sequence[bool] | None = None) -> Scores:
        """log p(completion + end-of-turn | prompt) for each completion, in the given order. Where `ends[i]` is
        False, completion i is scored as the start of a reply (no end-of-turn): the mass of every reply that
        begins with it."""

    def replies(
        self, messages: Sequence[Message], prompt: str, n: int, *, temperature: float, max_new_tokens: int, seed: int
    ) -> Replies:
        """Up to `n` sampled replies to `messages` (rendered: `prompt`); temperature 0 is greedy."""

    def complete(self, text: str, *, temperature: float, max_new_tokens: int, stop: str | None, seed: int) -> Replies:
        """One continuation of `text` as is (no chat template added), or none when the reply is unusable."""

    def answers(
        self, question: JudgeQuestion, actions: Sequence[str], *, max_new_tokens: int, top_logprobs: int
    ) -> Answers:
        """The reply to `question` about each action a, each question on its own: a backend that reads text
        reads `question.text(a)`, one that sends chat messages sends `question.messages(a)`.

        `max_new_tokens` bounds a generated reply (a backend may read the first token only and generate
        nothing); `top_logprobs` is how many first-token alternatives to ask for where the backend asks.
        """

    def close(self) -> None:
        """Release the model's memory or connections."""
