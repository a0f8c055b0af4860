"""Self-critique (Agent Q's AI feedback): the model judges each candidate action of a node.

The critic asks the model one question per candidate, "is this proposed action a good move towards the
goal?", and reads the first token of its reply: the score is p(Yes) / (p(Yes) + p(No)), in [0, 1]. Each
question holds the situation and that one action, so a candidate's score cannot depend on the other
candidates or on the order search lists them in. (The earlier design listed the candidates as options A, B,
C and read the letter probabilities; the default model gave option A ~0.7 whatever it held, so the critic
echoed the policy's own ranking.) On a local model the situation is computed once per node and shared by
the policy's prompt and every question; the candidates then go through one batched forward pass. A short
rationale is generated only when asked.

Endpoints answer the same questions, one chat request per candidate, from the reply's first-token
`top_logprobs`; without log-probs the reply's Yes or No decides (1 or 0), and a reply that is neither gives
that candidate a neutral score; a node none of whose answers could be read is `parsed=False`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence

import torch

from practicum.agents import prompts
from practicum.agents.base import Critic, Critique, Policy, StepContext
from practicum.agents.endpoint import EndpointClient, EndpointPolicy
from practicum.agents.local import LocalModel, LocalPolicy
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


def _template(prefix: str, suffix: str) -> str:
    """The judge prompt with the action's place marked: what a `Critique` records as its prompt."""
    return f"{prefix}{ACTION_SLOT}{suffix}"


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


class LocalCritic(Critic):
    """A critic on a local model; pass the policy's `LocalModel` (or the policy) to share its weights."""

    def __init__(self, model: LocalModel | LocalPolicy, *, max_rationale_tokens: int = 40) -> None:
        self.model = model.model if isinstance(model, LocalPolicy) else model
        if max_rationale_tokens < 1:
            raise ConfigError(f"max_rationale_tokens must be >= 1, got {max_rationale_tokens}")
        self.max_rationale_tokens = max_rationale_tokens
        # Each answer may be spelt "Yes", " Yes", "yes" or " yes" as the reply's first token; all count.
        self._answer_ids: dict[str, list[int]] = {}
        for word in prompts.JUDGE_ANSWERS:
            spellings = [self.model.encode(t) for t in (word, " " + word, word.lower(), " " + word.lower())]
            ids = list(dict.fromkeys(s[0] for s in spellings if len(s) == 1))
            if ids:
                self._answer_ids[word.lower()] = ids

    def critique(self, context: StepContext, actions: Sequence[str], *, rationale: bool = False) -> Critique:
        """Each action's p(Yes) / (p(Yes) + p(No)) as the answer to its own question, in one batched pass."""
        started = time.perf_counter()
        actions = list(actions)
        if not actions:
            raise ConfigError("the critic needs at least one candidate action; pass a non-empty list")
        prefix, suffix = prompts.judge_parts(self.model.render, context)
        prompt = _template(prefix, suffix)
        if set(self._answer_ids) != {"yes", "no"}:
            # This vocabulary has no single token for Yes or No: nothing reliable to read.
            seconds = time.perf_counter() - started
            self.model.count_usage(0, 0, seconds)
            self.model.usage.invalid_outputs += 1
            return _neutral(prompt, actions, tokens=(0, 0), seconds=seconds)
        logp, prompt_len, cont_tokens = self.model.next_logprobs(prefix, [a + suffix for a in actions])
        yes = torch.logsumexp(logp[:, self._answer_ids["yes"]], dim=1)
        no = torch.logsumexp(logp[:, self._answer_ids["no"]], dim=1)
        scores = torch.sigmoid(yes - no).tolist()  # p(Yes) / (p(Yes) + p(No)), per action
        text, generated = None, 0
        if rationale:
            best = max(range(len(actions)), key=lambda i: scores[i])
            text, generated = self._rationale(prefix + actions[best] + suffix, scores[best] >= 0.5)
        seconds = time.perf_counter() - started
        self.model.count_usage(prompt_len + cont_tokens, generated, seconds)
        return Critique(
            prompt=prompt,
            actions=actions,
            scores=[float(x) for x in scores],
            rationale=text,
            prompt_tokens=prompt_len + cont_tokens,
            completion_tokens=generated,
            seconds=seconds,
            prompt_version=prompts.PROMPT_VERSION,
        )

    def _rationale(self, prompt: str, yes: bool) -> tuple[str, int]:
        """The model's reason for its answer about the best action: the reply continued after Yes (or No)."""
        answer = prompts.JUDGE_ANSWERS[0 if yes else 1]
        cache, _, _ = self.model.prefill(prompt)
        with torch.inference_mode():
            answer_ids = torch.tensor([[self._answer_ids[answer.lower()][0]]], device=self.model.device)
            out = self.model.model(input_ids=answer_ids, cache=cache, use_cache=True)
        sample = self.model.decode_from(
            out.cache, out.logits[0, -1].float(), 1, temperature=0.0, max_new_tokens=self.max_rationale_tokens, seed=0
        )[0]
        return f"{answer}{sample.text}".strip(), sample.tokens + 1


class EndpointCritic(Critic):
    """A critic on an OpenAI-compatible endpoint: one chat request per candidate, read from `top_logprobs`.

    `top_logprobs` is how many alternatives of the reply's first token to ask for (OpenAI allows up to 20;
    vLLM more): an answer word outside them counts as probability 0.
    """

    def __init__(
        self, client: EndpointClient | EndpointPolicy, *, max_rationale_tokens: int = 40, top_logprobs: int = 20
    ) -> None:
        self.client = client.client if isinstance(client, EndpointPolicy) else client
        if max_rationale_tokens < 1 or top_logprobs < 1:
            raise ConfigError(
                f"need max_rationale_tokens >= 1 and top_logprobs >= 1, got {max_rationale_tokens}, {top_logprobs}"
            )
        self.max_rationale_tokens = max_rationale_tokens
        self.top_logprobs = top_logprobs

    def critique(self, context: StepContext, actions: Sequence[str], *, rationale: bool = False) -> Critique:
        """Each action's score from its own question's answer: log-probs, else the reply's Yes or No."""
        actions = list(actions)
        if not actions:
            raise ConfigError("the critic needs at least one candidate action; pass a non-empty list")
        prefix, suffix = prompts.judge_parts(self.client.render, context)
        prompt = _template(prefix, suffix)
        scores: list[float] = []
        read = 0
        prompt_tokens = completion_tokens = 0
        seconds = 0.0
        reasons: list[str] = []
        for action in actions:
            reply = self.client.chat(
                prompts.judge_messages(context, action),
                n=1,
                temperature=0.0,
                max_tokens=self.max_rationale_tokens if rationale else 1,
                top_logprobs=self.top_logprobs,
                seed=0,
            )
            prompt_tokens += reply.prompt_tokens
            completion_tokens += reply.completion_tokens
            seconds += reply.seconds
            score = None
            if reply.choices:
                choice = reply.choices[0]
                if choice.first_top_logprobs:
                    score = yes_share(dict(choice.first_top_logprobs))
                if score is None:
                    score = answer_in_reply(choice.text)
            elif not reply.invalid:  # a well-formed reply with no choices; garbage was counted by the client
                self.client.usage.invalid_outputs += 1
            if score is None:
                self.client.usage.invalid_outputs += bool(reply.choices)
                score = NEUTRAL_SCORE
            else:
                read += 1
            scores.append(score)
            reasons.append(reply.choices[0].text.strip() if reply.choices else "")
        if not read:
            return _neutral(prompt, actions, tokens=(prompt_tokens, completion_tokens), seconds=seconds)
        best = max(range(len(actions)), key=lambda i: scores[i])
        return Critique(
            prompt=prompt,
            actions=actions,
            scores=scores,
            rationale=(reasons[best] or None) if rationale else None,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            seconds=seconds,
            prompt_version=prompts.PROMPT_VERSION,
        )


def critic_for(policy: Policy) -> Critic:
    """The default critic for a policy: the same model (its loaded weights or its endpoint), shared."""
    if isinstance(policy, LocalPolicy):
        return LocalCritic(policy.model)
    if isinstance(policy, EndpointPolicy):
        return EndpointCritic(policy.client)
    raise ConfigError(
        f"no default critic for {type(policy).__name__}; build a LocalCritic or EndpointCritic explicitly"
    )
