"""What search needs from a model: a policy that proposes and scores actions, and a critic that ranks them.

`agents/` reads and writes text only: it knows no environment object, no store and no search. A step's
context (goal, observation, history, legal actions) comes in as plain data; what goes out records the exact
prompt text the model saw, so that the store keeps it and the trainer can train on it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepContext:
    """Everything a model sees at one decision point.

    `observation` is the environment's observation text verbatim (it already holds the goal, the state, the
    numbered legal actions and the last error). `history` holds the actions taken so far in this episode,
    oldest first. `legal_actions` is the closed set of allowed actions when the environment has one (games,
    page elements); None means free text.
    """

    goal: str
    observation: str
    history: tuple[str, ...] = ()
    legal_actions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Candidate:
    """One candidate action and its total log-probability under the policy (None if the backend gives none)."""

    text: str
    logprob: float | None = None


@dataclass(frozen=True)
class Proposal:
    """Candidates for one context, with the exact prompt that produced them and the token counts spent."""

    prompt: str
    candidates: list[Candidate]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    invalid_outputs: int = 0  # model outputs that were not usable actions (recorded, never raised)
    seconds: float = 0.0  # wall-clock time the model spent on this call
    prompt_version: str = ""  # `agents.prompts.PROMPT_VERSION` of the prompt's wording


@dataclass(frozen=True)
class Critique:
    """The critic's verdict on the candidate actions of one node.

    `scores[i]` in [0, 1] is how good `actions[i]` looks for reaching the goal. When the model's output
    cannot be parsed the scores fall back to a neutral 0.5 and `parsed` is False (counted, never raised).
    The critics in `agents.critic` ask about each action alone (p(Yes) to "is this a good move?"), so an
    action's score does not depend on the other candidates or their order. `prompt` is the question's text
    with `{action}` where each candidate goes.
    """

    prompt: str
    actions: list[str]
    scores: list[float]
    rationale: str | None = None
    parsed: bool = True
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # wall-clock time the model spent on this call
    prompt_version: str = ""  # `agents.prompts.PROMPT_VERSION` of the prompt's wording


class Policy(ABC):
    """Proposes candidate actions and scores given ones.

    Backends: a local transformers model (`agents.local`) and an OpenAI-compatible endpoint
    (`agents.endpoint`).
    """

    #: A short, stable name for the store (e.g. the model directory or endpoint model name).
    name: str = "policy"

    @abstractmethod
    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        """Up to `k` distinct candidate actions with their log-probabilities.

        With `context.legal_actions` set, the candidates are the `k` most likely legal actions (scored, not
        sampled); otherwise they are sampled free text.
        """

    @abstractmethod
    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        """The log-probability of each given action as the completion of the context's prompt.

        One batched pass: the shared prompt is computed once and its cache reused for every action.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release model memory, connections or processes."""


class Critic(ABC):
    """Ranks the candidate actions of a node given the goal and the history (Agent Q's self-critique)."""

    @abstractmethod
    def critique(self, context: StepContext, actions: Sequence[str], *, rationale: bool = False) -> Critique:
        """A score in [0, 1] for each action, plus a short rationale when asked."""


@dataclass
class UsageCounter:
    """Running totals a backend keeps; the loop copies them into the store."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    invalid_outputs: int = 0
    seconds: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)
