"""The one policy: every ranking rule, over any `agents.backend.Backend`.

- Legal actions are scored (log p(action + end-of-turn | prompt)) and the top k returned; when the backend
  gives no log-probs (an endpoint without echo), sampled replies vote and ties keep the listed order.
- Free text: k sampled replies, cleaned to their first line and deduplicated, then scored from the same prompt,
  so a candidate's log-prob is exactly what `score` gives for it (the store and the trainer rely on that).
- Template actions (`search[<query>]`) rank by the log-prob of their fixed part (`search[`: every reply that
  starts so), then get their slot filled after the prompt and that fixed part (a run of the goal's words, or
  generated text), and the concrete actions are scored like the others.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Literal

from practicum.agents import prompts, templates
from practicum.agents.backend import Backend, Scores
from practicum.agents.base import Candidate, Policy, Proposal, StepContext, UsageCounter
from practicum.agents.candidates import check_k_temperature, distinct_actions, top_k
from practicum.errors import ConfigError

FillRule = Literal["goal", "generate"]
FILL_RULES: tuple[FillRule, ...] = ("goal", "generate")
GOAL_FILL_WORDS = 4  # the longest run of goal words a slot gets


def _plus(a: Scores, b: Scores) -> Scores:
    """The cost of two model calls together (their log-probs are not kept)."""
    return Scores(
        [],
        a.prompt_tokens + b.prompt_tokens,
        a.completion_tokens + b.completion_tokens,
        a.seconds + b.seconds,
        a.invalid + b.invalid,
    )


def _pick(scored: list[tuple[int, float]], temperature: float, rng: random.Random) -> int:
    """The index with the highest log-prob (the first on ties) at temperature 0, else one drawn from
    softmax(logprob / temperature)."""
    if temperature == 0:
        return max(scored, key=lambda item: (item[1], -item[0]))[0]
    top = max(lp for _, lp in scored)
    weights = [math.exp((lp - top) / temperature) for _, lp in scored]
    return rng.choices([i for i, _ in scored], weights=weights)[0]


class ModelPolicy(Policy):
    """`Policy` over a backend.

    `seed` seeds the sequence of per-call seeds used when `propose` gets none, so a run is reproducible.
    `max_new_tokens` bounds a free-text action or a generated slot; `vote_samples` is how many replies vote
    when the backend gives no log-probs. `fill` is how a template's slot is filled: "goal" (the default) picks a
    run of the goal's words, word by word by the model's log-probs, so a small model searches for what it was
    asked for (free generation by the default 135M model wrote "<query>", "13" or "1" into the shop's search box
    even after a warm-up on filled slots); "generate" lets the model write the text (for models that can).
    With `score_cache` > 0, the scores of up to that many prompts are
    remembered: search meets the same state again through other move orders and in the next move's tree, and
    weights loaded here never change under a policy, so the answer is the same (an endpoint's server may reload
    its model, and caches prompts itself: its policy asks again).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        max_new_tokens: int = 32,
        seed: int = 0,
        vote_samples: int = 8,
        score_cache: int = 0,
        fill: FillRule = "goal",
    ) -> None:
        if max_new_tokens < 1 or vote_samples < 1 or score_cache < 0:
            raise ConfigError(
                "need max_new_tokens >= 1, vote_samples >= 1 and score_cache >= 0, got "
                f"{max_new_tokens}, {vote_samples}, {score_cache}"
            )
        if fill not in FILL_RULES:
            raise ConfigError(f"fill must be one of {FILL_RULES}, got {fill!r}")
        self.backend = backend
        self.fill = fill
        self.max_new_tokens = max_new_tokens
        self.vote_samples = vote_samples
        self.score_cache = score_cache
        self.name = backend.name
        self._seeds = random.Random(seed)
        self._scored: OrderedDict[tuple[str, tuple[str, ...]], Proposal] = OrderedDict()

    @property
    def usage(self) -> UsageCounter:
        """Running totals of the backend (shared with a critic on the same backend)."""
        return self.backend.usage

    def prompt(self, context: StepContext) -> str:
        """The exact text the model reads before its action."""
        return self.backend.render(prompts.policy_messages(context))

    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        """Each action's log-prob as the reply (None where the backend gives none), in the given order.

        A prompt and actions scored before are answered from memory, with no tokens or seconds spent.
        """
        prompt = self.prompt(context)
        key = (prompt, tuple(actions))
        if (known := self._scored.get(key)) is not None:
            self._scored.move_to_end(key)
            return dataclasses.replace(
                known, candidates=list(known.candidates), prompt_tokens=0, completion_tokens=0, seconds=0.0
            )
        # A template is one choice among the legal actions whatever its slot will hold: its score is the mass
        # of every reply that starts with its fixed part (`search[`), comparable to a concrete action's.
        starts = [t.prefix if (t := templates.parse(a)) is not None else "" for a in actions]
        texts = [start or a for a, start in zip(actions, starts, strict=True)]
        ends = [not start for start in starts]
        scores = self.backend.score(prompt, texts, ends=None if all(ends) else ends)
        proposal = self._proposal(prompt, list(actions), scores)
        if self.score_cache and not scores.invalid:  # an unusable reply may read well when asked again
            self._scored[key] = proposal
            if len(self._scored) > self.score_cache:
                self._scored.popitem(last=False)
        return proposal

    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        """The top-k legal actions by log-prob (or by votes), or up to k distinct sampled free-text actions."""
        check_k_temperature(k, temperature)
        call_seed = self._seeds.randrange(2**31) if seed is None else seed
        if context.legal_actions is None:
            return self._free_text(context, k, temperature, call_seed)
        legal = list(dict.fromkeys(context.legal_actions))
        scored = self.score(context, legal)
        if not legal or any(c.logprob is not None for c in scored.candidates):
            ranked = top_k(scored, k)
        else:
            ranked = self._vote(context, legal, k, temperature, call_seed, scored)
        return self._fill_templates(ranked, context.goal, temperature, call_seed)

    def close(self) -> None:
        """Release the backend's memory or connections."""
        self.backend.close()

    # ------------------------------------------------------------------ the rules
    @staticmethod
    def _proposal(prompt: str, actions: list[str], scores: Scores) -> Proposal:
        return Proposal(
            prompt=prompt,
            candidates=[Candidate(a, lp) for a, lp in zip(actions, scores.logprobs, strict=True)],
            prompt_tokens=scores.prompt_tokens,
            completion_tokens=scores.completion_tokens,
            invalid_outputs=scores.invalid,
            seconds=scores.seconds,
            prompt_version=prompts.PROMPT_VERSION,
        )

    def _free_text(self, context: StepContext, k: int, temperature: float, seed: int) -> Proposal:
        """Up to k distinct actions from sampled replies, scored from the same prompt."""
        messages = prompts.policy_messages(context)
        prompt = self.backend.render(messages)
        replies = self.backend.replies(
            messages, prompt, k, temperature=temperature, max_new_tokens=self.max_new_tokens, seed=seed
        )
        texts, empty = distinct_actions(replies.texts)
        self.backend.usage.invalid_outputs += empty
        scores = self.backend.score(prompt, texts)
        # Where the backend cannot score, a reply's own log-prob (an endpoint's chat log-probs) stands in.
        sampled: dict[str, float | None] = {}
        for text, logprob in zip(replies.texts, replies.logprobs, strict=True):
            sampled.setdefault(prompts.clean_action(text), logprob)
        return Proposal(
            prompt=prompt,
            candidates=[
                Candidate(t, lp if lp is not None else sampled.get(t))
                for t, lp in zip(texts, scores.logprobs, strict=True)
            ],
            prompt_tokens=replies.prompt_tokens + scores.prompt_tokens,
            completion_tokens=replies.completion_tokens + scores.completion_tokens,
            invalid_outputs=replies.invalid + empty + scores.invalid,
            seconds=replies.seconds + scores.seconds,
            prompt_version=prompts.PROMPT_VERSION,
        )

    def _vote(
        self, context: StepContext, legal: list[str], k: int, temperature: float, seed: int, scored: Proposal
    ) -> Proposal:
        """Rank legal actions by how many sampled replies name them (the backend gave no log-probs)."""
        n = 1 if temperature == 0 else self.vote_samples
        replies = self.backend.replies(
            prompts.policy_messages(context),
            scored.prompt,
            n,
            temperature=temperature,
            max_new_tokens=self.max_new_tokens,
            seed=seed,
        )
        named = [prompts.match_legal(text, legal) for text in replies.texts]
        votes = Counter(a for a in named if a is not None)
        unmatched = sum(a is None for a in named)  # replies that name no legal action
        self.backend.usage.invalid_outputs += unmatched
        order = sorted(range(len(legal)), key=lambda i: (-votes[legal[i]], i))
        return Proposal(
            prompt=scored.prompt,
            candidates=[Candidate(legal[i]) for i in order[:k]],
            prompt_tokens=scored.prompt_tokens + replies.prompt_tokens,
            completion_tokens=scored.completion_tokens + replies.completion_tokens,
            invalid_outputs=scored.invalid_outputs + replies.invalid + unmatched,
            seconds=scored.seconds + replies.seconds,
            prompt_version=prompts.PROMPT_VERSION,
        )

    def _fill_templates(self, ranked: Proposal, goal: str, temperature: float, seed: int) -> Proposal:
        """Replace template candidates by concrete actions (each slot filled by `fill`, from the prompt followed
        by the template's fixed part), then score the concrete actions from the prompt; an unusable reply leaves
        its slot empty (counted)."""
        slots = templates.slots(ranked.candidates)
        if not slots:
            return ranked
        filled: dict[int, str] = {}
        cost = Scores([], 0, 0, 0.0)
        for n, (i, template) in enumerate(slots):
            if self.fill == "goal":
                text, spent = self._goal_fill(ranked.prompt + template.prefix, template, goal, temperature, seed + n)
            else:
                reply = self.backend.complete(
                    ranked.prompt + template.prefix,
                    temperature=temperature,
                    max_new_tokens=self.max_new_tokens,
                    stop=template.stop,
                    seed=seed + n,
                )
                text = reply.texts[0] if reply.texts else ""
                spent = Scores([], reply.prompt_tokens, reply.completion_tokens, reply.seconds, reply.invalid)
            filled[i] = template.fill(text)
            cost = _plus(cost, spent)
        scores = self.backend.score(ranked.prompt, list(filled.values()))
        return dataclasses.replace(
            ranked,
            candidates=templates.with_fills(ranked.candidates, filled, scores.logprobs),
            completion_tokens=ranked.completion_tokens + cost.completion_tokens + scores.completion_tokens,
            invalid_outputs=ranked.invalid_outputs + cost.invalid + scores.invalid,
            seconds=ranked.seconds + cost.seconds + scores.seconds,
        )

    def _goal_fill(
        self, start: str, template: templates.Template, goal: str, temperature: float, seed: int
    ) -> tuple[str, Scores]:
        """A run of consecutive goal words for a slot, chosen word by word by the model's log-probs after `start`
        (the prompt and the template's fixed part): the first word among all of the goal's, each next one
        among the words that follow the run so far in the goal, or the end of the slot; at most
        `GOAL_FILL_WORDS` words. Greedy at temperature 0, else sampled by softmax(logprob / temperature)."""
        words = templates.words(goal)
        rng = random.Random(seed)
        run: list[str] = []
        cost = Scores([], 0, 0, 0.0)
        options = list(dict.fromkeys(words))
        # The end of the slot is its stop character, scored as the start of what follows; a slot at the end of
        # the action ends with the reply (end-of-turn).
        end, end_open = (template.stop, True) if template.stop else ("", False)
        while options and len(run) < GOAL_FILL_WORDS:
            texts = [(" " if run else "") + w for w in options] + ([end] if run else [])
            ends = [False] * len(options) + ([not end_open] if run else [])
            scores = self.backend.score(start, texts, ends=ends)
            cost = _plus(cost, scores)
            usable = [(i, lp) for i, lp in enumerate(scores.logprobs) if lp is not None]
            if not usable:
                break
            pick = _pick(usable, temperature, rng)
            if pick >= len(options):  # the end of the slot
                break
            run.append(options[pick])
            start += texts[pick]
            size = len(run)
            options = list(
                dict.fromkeys(words[j + size] for j in range(len(words) - size) if words[j : j + size] == run)
            )
        return " ".join(run), cost
