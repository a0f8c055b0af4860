"""A policy served over HTTP by any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, hosted APIs).

Two endpoints are used, both standard:
- `POST {base_url}/completions` with `echo: true, logprobs: 1` scores given actions: the server returns the
  log-prob of every prompt token, and the tokens that fall inside an action's characters add up to its
  log-prob. All candidates go in one request (`prompt` as a list); servers with prefix caching (vLLM)
  compute the shared prompt once.
- `POST {base_url}/chat/completions` with `logprobs: true` samples free-text actions, and the critic's Yes or No.

Servers differ in what they support. Where one returns no log-probs, a candidate's log-prob is None and
ranking falls back to votes over sampled replies, then list order. Replies that are not valid JSON or not
shaped like the API are counted as invalid outputs, never raised. Connection errors, timeouts and 5xx
replies are retried with exponential backoff; when the retries run out, `ModelError` says what failed.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from practicum.agents import prompts, templates
from practicum.agents.base import Candidate, Policy, Proposal, StepContext, UsageCounter
from practicum.agents.local import distinct_actions, top_k
from practicum.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

# Statuses that mean "this server or model is not the one you meant": retrying cannot help.
_FATAL_STATUSES = {401: "the API key was refused", 403: "access is forbidden", 404: "no such route or model"}


@dataclass(frozen=True)
class ChatChoice:
    """One reply of a chat completion: its text, the sum of its tokens' log-probs, and the first token's
    `top_logprobs` as (token text, log-prob) pairs; the last two are None when the server returned none."""

    text: str
    logprob: float | None
    first_top_logprobs: list[tuple[str, float]] | None


@dataclass(frozen=True)
class ChatReply:
    """The usable replies of one chat request and what it cost; `invalid` counts unusable ones."""

    choices: list[ChatChoice]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    invalid: int


@dataclass(frozen=True)
class EndpointScores:
    """Log-probs of completions from the completions API (None where the server gave none)."""

    logprobs: list[float | None]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    invalid: int = 0  # 1 when the reply was unusable (not JSON, no choices)


class _RequestRefused(Exception):
    """A 4xx reply that is about this request (unsupported parameter, prompt too long), not the setup."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status


class EndpointClient:
    """The HTTP side: requests with retries, reply parsing, and usage totals.

    `base_url` is the API root including the version, e.g. `http://127.0.0.1:8000/v1`. `tokenizer` is an
    optional local tokenizer directory of the served model: with it prompts are rendered with the model's own
    chat template (the text the server will build from the messages) and scored actions end with its
    end-of-turn token, like local scoring; without it a plain template is used for the completions API.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        tokenizer: str | Path | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if not model:
            raise ConfigError("model must name the served model (the 'model' field of the API), got ''")
        if timeout <= 0 or max_retries < 0 or backoff < 0:
            raise ConfigError(
                f"need timeout > 0, max_retries >= 0, backoff >= 0; got {timeout}, {max_retries}, {backoff}"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.backoff = backoff
        self.usage = UsageCounter()
        self.scoring_supported: bool | None = None  # unknown until the first scoring request
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)
        self._tokenizer: Any = None
        if tokenizer is not None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(Path(tokenizer).expanduser())
            except (OSError, ValueError) as exc:
                raise ModelError(f"cannot load the tokenizer in {tokenizer}: {exc}") from exc

    # ------------------------------------------------------------------ prompts
    def render(self, messages: Sequence[prompts.Message]) -> str:
        """The prompt text for `messages`: the local tokenizer's chat template if given, else plain."""
        if self._tokenizer is not None:
            return prompts.render(self._tokenizer, messages)
        return prompts.render_plain(messages)

    @property
    def end_of_turn(self) -> str:
        """The text that ends a reply in the completions API (the tokenizer's eos), or '' if unknown."""
        eos = getattr(self._tokenizer, "eos_token", None)
        return eos if isinstance(eos, str) else ""

    # ------------------------------------------------------------------ HTTP
    def post(self, path: str, body: dict[str, Any]) -> Any:
        """POST JSON with retries; the decoded JSON, or None when the reply is not JSON (counted invalid).

        Raises `ModelError` when the endpoint stays unreachable, keeps failing (5xx) or refuses the setup
        (401/403/404); raises `_RequestRefused` for other 4xx replies.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        attempts = self.max_retries + 1
        problem = ""
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._http.post(url, json=body)
            except httpx.TimeoutException as exc:
                problem = f"timed out ({type(exc).__name__})"
                continue
            except httpx.TransportError as exc:
                problem = f"connection failed ({type(exc).__name__}: {exc})"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            if response.status_code in _FATAL_STATUSES:
                status = response.status_code
                raise ModelError(
                    f"model endpoint {url} answered HTTP {status} ({_FATAL_STATUSES[status]}): "
                    f"{response.text[:200]}; check base_url (it should end in /v1), the model name "
                    f"{self.model!r} and the API key"
                )
            if response.status_code >= 400:
                raise _RequestRefused(response.status_code, response.text[:300])
            try:
                return response.json()
            except ValueError:
                log.warning("model endpoint %s returned a reply that is not JSON: %r", url, response.text[:200])
                return None
        raise ModelError(
            f"model endpoint {url} failed {attempts} time(s), last: {problem}; check that the server is "
            f"running and serves model {self.model!r}, or raise timeout/max_retries"
        )

    def chat(
        self,
        messages: Sequence[prompts.Message],
        *,
        n: int,
        temperature: float,
        max_tokens: int,
        top_logprobs: int | None = None,
        seed: int | None = None,
    ) -> ChatReply:
        """`n` chat replies (fewer if the server ignores `n`) with their log-probs when returned."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "n": n,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "logprobs": True,
        }
        if top_logprobs:
            body["top_logprobs"] = top_logprobs
        if seed is not None:
            body["seed"] = seed
        data, seconds, _ = self._request("chat/completions", body, "chat request refused")
        choices, invalid = _parse_chat(data)
        prompt_tokens, completion_tokens = _usage(data)
        self._count(prompt_tokens, completion_tokens, seconds, invalid)
        return ChatReply(choices, prompt_tokens, completion_tokens, seconds, invalid)

    def complete(
        self, prompt: str, *, max_tokens: int, temperature: float, stop: str | None, seed: int | None = None
    ) -> ChatChoice | None:
        """One plain completion of `prompt` (the completions API), or None when the reply is unusable."""
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if stop:
            body["stop"] = [stop]
        if seed is not None:
            body["seed"] = seed
        data, seconds, _ = self._request("completions", body, "completion request refused")
        choices = _choices(data)
        text = choices[0].get("text") if choices else None
        prompt_tokens, completion_tokens = _usage(data)
        invalid = int(not isinstance(text, str))
        self._count(prompt_tokens, completion_tokens, seconds, invalid)
        return ChatChoice(text, None, None) if isinstance(text, str) else None

    def score(self, prompt: str, completions: Sequence[str]) -> EndpointScores:
        """log p(completion + end-of-turn | prompt) from the completions API's echoed prompt log-probs.

        One request for all completions. None for every completion when the server does not support it
        (remembered: later calls do not ask again), None for one whose reply is unusable.
        """
        if not completions or self.scoring_supported is False:
            return EndpointScores([None] * len(completions), 0, 0, 0.0)
        texts = [prompt + c + self.end_of_turn for c in completions]
        body = {
            "model": self.model,
            "prompt": texts,
            "max_tokens": 1,  # some servers refuse 0; the generated token lies outside every span
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        data, seconds, refused = self._request(
            "completions", body, "scoring by echoed log-probs refused; ranking falls back to votes"
        )
        logprobs = _parse_echo_scores(data, texts, start=len(prompt))
        garbage = not refused and _choices(data) is None
        if refused or (not garbage and all(lp is None for lp in logprobs)):
            self.scoring_supported = False  # the server ignores echo/logprobs: do not ask again
        elif any(lp is not None for lp in logprobs):
            self.scoring_supported = True
        prompt_tokens, completion_tokens = _usage(data)
        self._count(prompt_tokens, completion_tokens, seconds, int(garbage))
        return EndpointScores(logprobs, prompt_tokens, completion_tokens, seconds, int(garbage))

    def _request(self, path: str, body: dict[str, Any], refused_note: str) -> tuple[Any, float, bool]:
        """POST `body`: the reply's data (None when the server refused the request, logged with `refused_note`),
        the seconds it took, and whether it was refused."""
        started = time.perf_counter()
        try:
            data, refused = self.post(path, body), False
        except _RequestRefused as exc:
            log.warning("%s: %s", refused_note, exc)
            data, refused = None, True
        return data, time.perf_counter() - started, refused

    def _count(self, prompt_tokens: int, completion_tokens: int, seconds: float, invalid: int) -> None:
        self.usage.calls += 1
        self.usage.prompt_tokens += prompt_tokens
        self.usage.completion_tokens += completion_tokens
        self.usage.seconds += seconds
        self.usage.invalid_outputs += invalid

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()


# ---------------------------------------------------------------------- reply parsing (pure helpers)
def _usage(data: Any) -> tuple[int, int]:
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (prompt if isinstance(prompt, int) else 0), (completion if isinstance(completion, int) else 0)


def _choices(data: Any) -> list[dict[str, Any]] | None:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list):
        return None
    good = [c for c in choices if isinstance(c, dict)]
    # Servers may return choices out of order; their `index` says which prompt or sample each answers.
    return sorted(good, key=lambda c: c["index"] if isinstance(c.get("index"), int) else 0)


def _parse_chat(data: Any) -> tuple[list[ChatChoice], int]:
    """Usable chat replies, and the count of unusable ones (a reply without `choices` counts once)."""
    choices = _choices(data)
    if choices is None:
        return [], 1
    parsed: list[ChatChoice] = []
    invalid = 0
    for choice in choices:
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
        if not isinstance(text, str):
            invalid += 1
            continue
        parsed.append(ChatChoice(text, *_chat_logprobs(choice.get("logprobs"))))
    return parsed, invalid


def _chat_logprobs(logprobs: Any) -> tuple[float | None, list[tuple[str, float]] | None]:
    """(sum of the reply tokens' log-probs, first token's top_logprobs) from a chat choice's `logprobs`."""
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list) or not content:
        return None, None
    total: float | None = 0.0
    for item in content:
        lp = item.get("logprob") if isinstance(item, dict) else None
        if not isinstance(lp, int | float) or total is None:
            total = None
        else:
            total += float(lp)
    top: list[tuple[str, float]] | None = None
    first = content[0].get("top_logprobs") if isinstance(content[0], dict) else None
    if isinstance(first, list):
        top = [
            (t["token"], float(t["logprob"]))
            for t in first
            if isinstance(t, dict) and isinstance(t.get("token"), str) and isinstance(t.get("logprob"), int | float)
        ]
    return total, top or None


def _parse_echo_scores(data: Any, texts: Sequence[str], *, start: int) -> list[float | None]:
    """For each text, the sum of the echoed log-probs of the tokens that cover text[start:]."""
    choices = _choices(data)
    if choices is None or len(choices) != len(texts):
        return [None] * len(texts)
    return [_span_logprob(choice, text, start) for choice, text in zip(choices, texts, strict=True)]


def _span_logprob(choice: dict[str, Any], text: str, start: int) -> float | None:
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    tokens, values = logprobs.get("tokens"), logprobs.get("token_logprobs")
    if not isinstance(tokens, list) or not isinstance(values, list) or len(tokens) != len(values):
        return None
    echoed = choice.get("text")
    if isinstance(echoed, str) and not echoed.startswith(text):
        return None  # the server did not echo the prompt: these log-probs are of generated tokens only
    offsets = logprobs.get("text_offset")
    if not isinstance(offsets, list) or len(offsets) != len(tokens) or not all(isinstance(o, int) for o in offsets):
        # Without offsets, rebuild them from the token strings (exact for servers that return plain text).
        offsets, position = [], 0
        for token in tokens:
            offsets.append(position)
            position += len(token) if isinstance(token, str) else 0
    total, seen = 0.0, 0
    for i, (offset, value) in enumerate(zip(offsets, values, strict=True)):
        end = offsets[i + 1] if i + 1 < len(offsets) else offset + 1
        # A token counts when it covers part of the completion; one that straddles the boundary (a space
        # that ends the prompt merged into the completion's first word) counts too: it is the closest there is.
        if end <= start or offset >= len(text):
            continue
        if not isinstance(value, int | float):
            return None
        total += float(value)
        seen += 1
    return total if seen else None


# ---------------------------------------------------------------------- the policy
class EndpointPolicy(Policy):
    """`Policy` over an `EndpointClient`.

    With legal actions: all are scored in one completions request and the top-k returned; if the server
    gives no log-probs, `vote_samples` chat replies vote and ties keep the listed order (log-probs None).
    Free text: k chat samples (the server may ignore `n`; then one request per sample), deduplicated.
    """

    def __init__(
        self, client: EndpointClient, *, max_new_tokens: int = 32, seed: int = 0, vote_samples: int = 8
    ) -> None:
        if max_new_tokens < 1 or vote_samples < 1:
            raise ConfigError(f"need max_new_tokens >= 1 and vote_samples >= 1, got {max_new_tokens}, {vote_samples}")
        self.client = client
        self.max_new_tokens = max_new_tokens
        self.vote_samples = vote_samples
        self.name = client.model
        self._seeds = random.Random(seed)

    @classmethod
    def connect(
        cls,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        tokenizer: str | Path | None = None,
        max_new_tokens: int = 32,
        seed: int = 0,
    ) -> EndpointPolicy:
        """A policy on the model `model` served at `base_url` (e.g. `http://127.0.0.1:8000/v1`)."""
        client = EndpointClient(
            base_url,
            model,
            api_key=api_key,
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            tokenizer=tokenizer,
        )
        return cls(client, max_new_tokens=max_new_tokens, seed=seed)

    @property
    def usage(self) -> UsageCounter:
        """Running totals of the client (shared with a critic on the same client)."""
        return self.client.usage

    def prompt(self, context: StepContext) -> str:
        """The prompt text for this context (see `EndpointClient.render`)."""
        return self.client.render(prompts.policy_messages(context))

    def score(self, context: StepContext, actions: Sequence[str]) -> Proposal:
        """Each action's log-prob as the reply (None where the server returns none), in the given order."""
        prompt = self.prompt(context)
        scored = self.client.score(prompt, list(actions))
        return Proposal(
            prompt=prompt,
            candidates=[Candidate(a, lp) for a, lp in zip(actions, scored.logprobs, strict=True)],
            prompt_tokens=scored.prompt_tokens,
            completion_tokens=scored.completion_tokens,
            invalid_outputs=scored.invalid,
            seconds=scored.seconds,
            prompt_version=prompts.PROMPT_VERSION,
        )

    def propose(self, context: StepContext, k: int, *, temperature: float = 1.0, seed: int | None = None) -> Proposal:
        """Top-k legal actions by log-prob (or by votes), or up to k distinct sampled free-text actions."""
        if k < 1:
            raise ConfigError(f"k (candidates per node) must be >= 1, got {k}")
        if temperature < 0:
            raise ConfigError(f"temperature must be >= 0 (0 is greedy), got {temperature}")
        call_seed = self._seeds.randrange(2**31) if seed is None else seed
        if context.legal_actions is not None:
            legal = list(dict.fromkeys(context.legal_actions))
            scored = self.score(context, legal)
            if not legal or any(c.logprob is not None for c in scored.candidates):
                ranked = top_k(scored, k)
            else:
                ranked = self._vote(context, legal, k, temperature, call_seed, scored)
            return self._fill_templates(ranked, temperature, call_seed)
        return self._sample(context, k, temperature, call_seed)

    def _fill_templates(self, ranked: Proposal, temperature: float, seed: int) -> Proposal:
        """Replace template candidates (`search[<query>]`) by concrete actions: each slot is completed from
        the prompt followed by the template's fixed part; an unusable reply leaves the slot empty (counted)."""
        slots = templates.slots(ranked.candidates)
        if not slots:
            return ranked
        filled: dict[int, str] = {}
        invalid = 0
        for n, (i, template) in enumerate(slots):
            reply = self.client.complete(
                ranked.prompt + template.prefix,
                max_tokens=self.max_new_tokens,
                temperature=temperature,
                stop=template.stop,
                seed=seed + n,
            )
            invalid += reply is None
            filled[i] = template.fill(reply.text if reply is not None else "")
        scores = self.client.score(ranked.prompt, list(filled.values()))
        candidates = templates.with_fills(ranked.candidates, filled, scores.logprobs)
        return dataclasses.replace(
            ranked,
            candidates=candidates,
            invalid_outputs=ranked.invalid_outputs + invalid + scores.invalid,
        )

    def _vote(
        self, context: StepContext, legal: list[str], k: int, temperature: float, seed: int, scored: Proposal
    ) -> Proposal:
        """Rank legal actions by how many sampled replies name them (no log-probs available)."""
        n = 1 if temperature == 0 else self.vote_samples
        reply = self.client.chat(
            prompts.policy_messages(context), n=n, temperature=temperature, max_tokens=self.max_new_tokens, seed=seed
        )
        named = [prompts.match_legal(c.text, legal) for c in reply.choices]
        votes = Counter(a for a in named if a is not None)
        unmatched = sum(a is None for a in named)  # replies that name no legal action
        self.client.usage.invalid_outputs += unmatched
        invalid = scored.invalid_outputs + reply.invalid + unmatched
        order = sorted(range(len(legal)), key=lambda i: (-votes[legal[i]], i))
        return Proposal(
            prompt=scored.prompt,
            candidates=[Candidate(legal[i]) for i in order[:k]],
            prompt_tokens=scored.prompt_tokens + reply.prompt_tokens,
            completion_tokens=scored.completion_tokens + reply.completion_tokens,
            invalid_outputs=invalid,
            seconds=scored.seconds + reply.seconds,
            prompt_version=prompts.PROMPT_VERSION,
        )

    def _sample(self, context: StepContext, k: int, temperature: float, seed: int) -> Proposal:
        """Up to k distinct free-text actions from chat samples."""
        messages = prompts.policy_messages(context)
        prompt = self.client.render(messages)
        choices: list[ChatChoice] = []
        prompt_tokens = completion_tokens = invalid = 0
        seconds = 0.0
        # Servers that ignore `n` (Ollama, llama.cpp) return one reply per request: ask again, up to k times.
        for request in range(k):
            reply = self.client.chat(
                messages,
                n=k - len(choices),
                temperature=temperature,
                max_tokens=self.max_new_tokens,
                seed=seed + request,
            )
            choices += reply.choices
            invalid += reply.invalid
            prompt_tokens += reply.prompt_tokens
            completion_tokens += reply.completion_tokens
            seconds += reply.seconds
            if len(choices) >= k or temperature == 0 or not reply.choices:
                break  # enough, or more requests cannot give more (greedy), or the server gives nothing
        texts, empty = distinct_actions(c.text for c in choices)
        self.client.usage.invalid_outputs += empty
        # Prefer the completions API's score (the same number `score()` gives); else the chat log-probs.
        scores = self.client.score(prompt, texts)
        invalid += empty + scores.invalid
        chat_lp: dict[str, float | None] = {}
        for c in choices:
            chat_lp.setdefault(prompts.clean_action(c.text), c.logprob)
        candidates = [
            Candidate(t, lp if lp is not None else chat_lp.get(t)) for t, lp in zip(texts, scores.logprobs, strict=True)
        ]
        return Proposal(
            prompt=prompt,
            candidates=candidates,
            prompt_tokens=prompt_tokens + scores.prompt_tokens,
            completion_tokens=completion_tokens + scores.completion_tokens,
            invalid_outputs=invalid,
            seconds=seconds + scores.seconds,
            prompt_version=prompts.PROMPT_VERSION,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()
