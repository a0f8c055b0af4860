"""Self-critique (Agent Q's AI feedback): the model judges each candidate action of a node.

The critic asks the model one question per candidate, "is this proposed action a good move towards the
goal?", and reads the first token of its reply: the score is p(Yes) / (p(Yes) + p(No)), in [0, 1]. Each
question holds the situation and that one action, so a candidate's score cannot depend on the other
candidates or on the order search lists them in. (The earlier design listed the candidates as options A, B,
C and read the letter probabilities; the default model gave option A ~0.7 whatever it held, so the critic
echoed the policy's own ranking.) Where the backend gives no first-token log-probs (an endpoint without them),
the reply's Yes or No decides (1 or 0); a reply that is neither gives that candidate a neutral score, and a
node none of whose answers could be read is `parsed=False`. A short rationale is generated only when asked.

`ModelCritic` holds these rules over any `agents.backend.Backend`. On a local model the situation is computed
once per node and shared by the policy's prompt and every question, and the candidates go through one batched
forward pass; an endpoint gets one chat request per candidate, read from its `top_logprobs`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from practicum.agents import prompts
from practicum.agents.backend import Backend
from practicum.agents.base import Critic, Critique, Policy, StepContext
from practicum.agents.policy import ModelPolicy
from practicum.errors import ConfigError

NEUTRAL_SCORE = 0.5  # what an unreadable answer gives its action (the `Critique` contract)
ACTION_SLOT = "{action}"  # where each candidate goes in the prompt template a `Critique` records


def yes_share(answer_logprobs: Mapping[str, float]) -> float | None:
    """p(Yes) / (p(Yes) + p(No)) from the log-probs of the answer words (any case, spaces stripped, spellings
    summed); None when neither word is there."""
    merged: dict[str, float] = {}
    for token, lp in answer_logprobs.items():
        word = token.strip().lower()
        if word in ("yes", "no"):
            merged[word] = _logaddexp(merged.get(word), lp)
    if not merged:
        return None
    yes, no = merged.get("yes", -math.inf), merged.get("no", -math.inf)
    if not (math.isfinite(yes) or math.isfinite(no)):
        return None
    # The logistic of yes - no, written so that exp never overflows (OpenAI sends -9999 for negligible tokens).
    if yes >= no:
        return 1.0 / (1.0 + math.exp(no - yes))
    return math.exp(yes - no) / (1.0 + math.exp(yes - no))


# A reply that starts with Yes or No ("Yes", "no.", "**Yes**, because..."), but not a word that merely begins
# with those letters ("Nothing", "Yesterday").
_LEADING_ANSWER = re.compile(r"^[\s\"'*\[(]*(yes|no)\b", flags=re.IGNORECASE)


def answer_in_reply(reply: str) -> float | None:
    """1.0 for a reply that starts with Yes, 0.0 for No, None for anything else."""
    match = _LEADING_ANSWER.match(reply)
    if match is None:
        return None
    return 1.0 if match.group(1).lower() == "yes" else 0.0


def _logaddexp(a: float | None, b: float) -> float:
    if a is None:
        return b
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _neutral(prompt: str, actions: Sequence[str], *, tokens: tuple[int, int], seconds: float) -> Critique:
    """The critique of a node whose scores could not be read: every action neutral, `parsed=False`."""
    return Critique(
        prompt=prompt,
        actions=list(actions),
        scores=[NEUTRAL_SCORE] * len(actions),
        parsed=False,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        seconds=seconds,
        prompt_version=prompts.PROMPT_VERSION,
    )


class ModelCritic(Critic):
    """A critic on a backend; pass the policy's backend to share its weights or its connection.

    `top_logprobs` is how many alternatives of the reply's first token to ask an endpoint for (OpenAI allows up
    to 20; vLLM more): an answer word outside them counts as probability 0.
    """

    def __init__(self, backend: Backend, *, max_rationale_tokens: int = 40, top_logprobs: int = 20) -> None:
        if max_rationale_tokens < 1 or top_logprobs < 1:
            raise ConfigError(
                f"need max_rationale_tokens >= 1 and top_logprobs >= 1, got {max_rationale_tokens}, {top_logprobs}"
            )
        self.backend = backend
        self.max_rationale_tokens = max_rationale_tokens
        self.top_logprobs = top_logprobs

    def critique(self, context: StepContext, actions: Sequence[str], *, rationale: bool = False) -> Critique:
        """Each action's score from its own question's answer: first-token log-probs, else the reply's Yes or No."""
        actions = list(actions)
        if not actions:
            raise ConfigError("the critic needs at least one candidate action; pass a non-empty list")
        question = prompts.judge_question(self.backend.render, context)
        prompt = question.text(ACTION_SLOT)  # what a `Critique` records: the action's place marked
        answers = self.backend.answers(
            question,
            actions,
            max_new_tokens=self.max_rationale_tokens if rationale else 1,
            top_logprobs=self.top_logprobs,
        )
        read = [_read(first, text) for first, text in zip(answers.first_tokens, answers.texts, strict=True)]
        # A reply with text that says neither Yes nor No is an invalid output (one with no text was unusable, and
        # the backend counted it).
        unread = sum(r is None and t is not None for r, t in zip(read, answers.texts, strict=True))
        self.backend.usage.invalid_outputs += unread
        scores = [NEUTRAL_SCORE if r is None else r for r in read]
        tokens = (answers.prompt_tokens, answers.completion_tokens)
        if all(r is None for r in read):
            return _neutral(prompt, actions, tokens=tokens, seconds=answers.seconds)
        explanation, cost = None, (0, 0, 0.0)
        if rationale:
            best = max(range(len(actions)), key=lambda i: scores[i])
            explanation, cost = self._rationale(question.text(actions[best]), answers.texts[best], scores[best])
        return Critique(
            prompt=prompt,
            actions=actions,
            scores=scores,
            rationale=explanation,
            prompt_tokens=tokens[0] + cost[0],
            completion_tokens=tokens[1] + cost[1],
            seconds=answers.seconds + cost[2],
            prompt_version=prompts.PROMPT_VERSION,
        )

    def _rationale(self, question: str, reply: str | None, score: float) -> tuple[str | None, tuple[int, int, float]]:
        """The reason for the answer about the best action, and its cost: the reply itself where the backend
        generated one, else the reply continued after Yes (or No)."""
        if reply is not None:
            return reply.strip() or None, (0, 0, 0.0)
        answer = prompts.JUDGE_ANSWERS[0 if score >= 0.5 else 1]
        more = self.backend.complete(
            question + answer, temperature=0.0, max_new_tokens=self.max_rationale_tokens, stop=None, seed=0
        )
        text = f"{answer}{more.texts[0] if more.texts else ''}".strip()
        return text, (more.prompt_tokens, more.completion_tokens + 1, more.seconds)


def _read(first: Mapping[str, float] | None, text: str | None) -> float | None:
    """The score one answer gives, None when it cannot be read."""
    score = yes_share(first) if first else None
    return answer_in_reply(text) if score is None and text is not None else score


def critic_for(policy: Policy) -> Critic:
    """The default critic for a policy: the same model (its loaded weights or its endpoint), shared."""
    if isinstance(policy, ModelPolicy):
        return ModelCritic(policy.backend)
    raise ConfigError(f"no default critic for {type(policy).__name__}; build a ModelCritic on a backend explicitly")
