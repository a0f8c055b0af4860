"""A policy served over HTTP by any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, hosted APIs).

Two endpoints are used, both standard:
- `POST {base_url}/completions` with `echo: true, logprobs: 1` scores given actions: the server returns the
  log-prob of every prompt token, and the tokens that fall inside an action's characters add up to its
  log-prob. All candidates go in one request (`prompt` as a list); servers with prefix caching (vLLM)
  compute the shared prompt once.
- `POST {base_url}/chat/completions` with `logprobs: true` samples free-text actions, and the critic's Yes or No.

Servers differ in what they support, and the client finds out once per server (per client):
- before the first scoring, a probe checks that echoed log-probs line up with the tokens they name (some
  servers return them shifted by one token, or do not echo at all); where they do not, a candidate's
  log-prob is None and ranking falls back to votes over sampled replies, then list order;
- a server that will not take a list of prompts (llama.cpp and Ollama answer it with an error) is sent
  one prompt per request from then on.
`EndpointClient.capabilities` says in one line what was found. Replies that are not valid JSON or not
shaped like the API are counted as invalid outputs, never raised. Connection errors, timeouts and 5xx
replies are retried with exponential backoff; when the retries run out, `ModelError` says what failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from practicum.agents import prompts
from practicum.agents.backend import NO_REPLIES, Answers, Replies, Scores, end_flags
from practicum.agents.base import UsageCounter
from practicum.agents.policy import FillRule, ModelPolicy
from practicum.errors import ConfigError, ModelError

log = logging.getLogger(__name__)

# Statuses that mean "this server or model is not the one you meant": retrying cannot help.
_FATAL_STATUSES = {401: "the API key was refused", 403: "access is forbidden", 404: "no such route or model"}

# Texts whose greedy next token probes echo alignment (see `EndpointClient.check_scoring`). Each ends where a
# next token starts a word of its own, so that text + token splits into the same tokens plus that one; the
# second is tried when the first one's token merged with the text all the same.
_ECHO_PROBES = (
    "Numbers: one, two, three, four, five, six.\nColours: red, green, blue.\n",
    "Days of the week: Monday, Tuesday, Wednesday. The next day is",
)
# Echoed after the probe's token: a word the model does not expect there, so that its log-prob is far from the
# token's and a log-prob shifted onto the token's place shows. The leading space keeps it a word of its own.
_UNLIKELY_WORD = " zebra"
# How far the same log-prob may differ between two requests: servers compute prompts and generated tokens
# with different kernels (in bf16, a few hundredths apart); plus a share of the value itself.
_ALIGNMENT_TOLERANCE = (0.1, 0.02)


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


# The echo check's answer: whether echoed log-probs can score actions (None: cannot tell from these replies), and why.
_Verdict = tuple[bool | None, str]


@dataclass
class _Cost:
    """What a series of requests cost, added up (the probe and the scoring requests of one `score` call)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    invalid: int = 0

    def scores(self, logprobs: list[float | None]) -> Scores:
        """`logprobs` with this cost."""
        return Scores(logprobs, self.prompt_tokens, self.completion_tokens, self.seconds, self.invalid)


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
        # Found out once per server (see `capabilities`): None until known.
        self.scoring_supported: bool | None = None  # whether echoed log-probs score actions (checked by a probe)
        self.scoring_note = "not checked yet"  # why, in words
        self.batch_prompts: bool | None = None  # whether the completions API takes a list of prompts
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)
        self._tokenizer: Any = None
        if tokenizer is not None:
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(Path(tokenizer).expanduser())
            except (OSError, ValueError) as exc:
                raise ModelError(f"cannot load the tokenizer in {tokenizer}: {exc}") from exc

    @property
    def name(self) -> str:
        """The served model's name (the API's `model` field)."""
        return self.model

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

    @property
    def capabilities(self) -> str:
        """One line on how this server is used: how actions are ranked and why, and prompts per request."""
        if self.scoring_supported is None:
            ranking = f"scoring by echoed log-probs {self.scoring_note}"
        elif self.scoring_supported:
            ranking = f"actions scored by echoed log-probs ({self.scoring_note})"
        else:
            ranking = f"actions ranked by votes of sampled replies ({self.scoring_note})"
        if self.batch_prompts is None:
            return ranking
        return f"{ranking}; {'several prompts' if self.batch_prompts else 'one prompt'} per completions request"

    # ------------------------------------------------------------------ HTTP
    def post(self, path: str, body: dict[str, Any], *, retries: int | None = None) -> Any:
        """POST JSON with retries (`retries`, default `max_retries`); the decoded JSON, or None when the reply
        is not JSON (counted invalid).

        Raises `ModelError` when the endpoint stays unreachable, keeps failing (5xx) or refuses the setup
        (401/403/404); raises `_RequestRefused` for other 4xx replies.
        """
        url = f"{self.base_url}/{path.lstrip('/')}"
        attempts = (self.max_retries if retries is None else retries) + 1
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

    def complete(self, text: str, *, temperature: float, max_new_tokens: int, stop: str | None, seed: int) -> Replies:
        """One plain continuation of `text` (the completions API), or none when the reply is unusable."""
        body: dict[str, Any] = {
            "model": self.model,
            "prompt": text,
            "max_tokens": max_new_tokens,
            "temperature": temperature,
            "seed": seed,
        }
        if stop:
            body["stop"] = [stop]
        data, seconds, _ = self._request("completions", body, "completion request refused")
        choices = _choices(data)
        reply = choices[0].get("text") if choices else None
        prompt_tokens, completion_tokens = _usage(data)
        invalid = int(not isinstance(reply, str))
        self._count(prompt_tokens, completion_tokens, seconds, invalid)
        texts = [reply] if isinstance(reply, str) else []
        return Replies(texts, [None] * len(texts), prompt_tokens, completion_tokens, seconds, invalid)

    def replies(
        self,
        messages: Sequence[prompts.Message],
        prompt: str,
        n: int,
        *,
        temperature: float,
        max_new_tokens: int,
        seed: int,
    ) -> Replies:
        """Up to `n` chat replies with their log-probs where returned (`prompt` is not needed here: the server
        renders `messages` itself). A server that ignores `n` (Ollama, llama.cpp) is asked again, up to n times."""
        got = NO_REPLIES
        for request in range(n):
            reply = self.chat(
                messages, n=n - len(got.texts), temperature=temperature, max_tokens=max_new_tokens, seed=seed + request
            )
            got = got + Replies(
                [c.text for c in reply.choices],
                [c.logprob for c in reply.choices],
                reply.prompt_tokens,
                reply.completion_tokens,
                reply.seconds,
                reply.invalid,
            )
            if len(got.texts) >= n or temperature == 0 or not reply.choices:
                break  # enough, or more requests cannot give more (greedy), or the server gives nothing
        return got

    def answers(
        self, question: prompts.JudgeQuestion, actions: Sequence[str], *, max_new_tokens: int, top_logprobs: int
    ) -> Answers:
        """One greedy chat request per action's judge question: the reply's first-token `top_logprobs` and text."""
        firsts: list[dict[str, float] | None] = []
        texts: list[str | None] = []
        prompt_tokens = completion_tokens = 0
        seconds = 0.0
        for action in actions:
            reply = self.chat(
                question.messages(action),
                n=1,
                temperature=0.0,
                max_tokens=max_new_tokens,
                top_logprobs=top_logprobs,
                seed=0,
            )
            prompt_tokens += reply.prompt_tokens
            completion_tokens += reply.completion_tokens
            seconds += reply.seconds
            if not reply.choices and not reply.invalid:  # well-formed, but no reply (garbage was counted already)
                self.usage.invalid_outputs += 1
            choice = reply.choices[0] if reply.choices else None
            firsts.append(dict(choice.first_top_logprobs) if choice and choice.first_top_logprobs else None)
            texts.append(choice.text if choice else None)
        return Answers(firsts, texts, prompt_tokens, completion_tokens, seconds)

    def score(self, prompt: str, completions: Sequence[str], *, ends: Sequence[bool] | None = None) -> Scores:
        """log p(completion + end-of-turn | prompt) from the completions API's echoed prompt log-probs (no
        end-of-turn where `ends[i]` is False: the start of a reply).

        All completions in one request where the server takes a list of prompts, else one request each. None
        for every completion when the server's echoed log-probs cannot be used (checked once, see
        `check_scoring`; later calls do not ask again), None for one whose reply is unusable. The returned
        cost includes the check's requests when this call made them.
        """
        if not completions or self.scoring_supported is False:
            return Scores([None] * len(completions), 0, 0, 0.0)
        cost = _Cost()
        if self.scoring_supported is None:
            self._check_scoring(cost)
            if not self.scoring_supported:  # False, or None: the probe's replies were unusable
                return cost.scores([None] * len(completions))
        closed = end_flags(ends, len(completions))
        texts = [prompt + c + (self.end_of_turn if end else "") for c, end in zip(completions, closed, strict=True)]
        invalid_before = cost.invalid
        logprobs, refused = self._score_texts(texts, len(prompt), cost)
        garbage = cost.invalid > invalid_before
        if refused or (not garbage and all(lp is None for lp in logprobs)):
            self._set_scoring(False, "the server refused or ignored a scoring request")  # do not ask again
        return cost.scores(logprobs)

    def check_scoring(self) -> Scores:
        """Check whether this server's echoed prompt log-probs can score actions; return what the check cost.

        `score` runs this once before its first request. The probe asks for the model's greedy next token
        after a fixed text, with the text echoed (the token's log-prob comes back with it), then echoes the
        text, that token and an unlikely word: the token's log-prob must come back at the token's own offset,
        the same up to rounding. A server that shifts echoed log-probs by one token answers the unlikely word's
        (or the text's last token's) log-prob there instead.
        Sets `scoring_supported` (left None when the replies were unusable) and `scoring_note`.
        """
        cost = _Cost()
        self._check_scoring(cost)
        return cost.scores([])

    def _check_scoring(self, cost: _Cost) -> None:
        verdict: bool | None = None
        note = ""
        for probe in _ECHO_PROBES:
            verdict, note = self._probe_echo(probe, cost)
            if verdict is not None or cost.invalid:
                break
        if verdict is None and cost.invalid:
            self.scoring_note = f"not checked yet: {note}"  # an unusable reply says nothing: check next time
            return
        if verdict is None:
            verdict, note = False, f"cannot check that echoed log-probs line up: {note}"
        self._set_scoring(verdict, note)

    def _set_scoring(self, supported: bool, note: str) -> None:
        self.scoring_supported, self.scoring_note = supported, note
        level = logging.INFO if supported else logging.WARNING  # votes rank worse: worth a warning
        log.log(level, "model endpoint %s: %s", self.base_url, self.capabilities)

    def _probe_echo(self, text: str, cost: _Cost) -> _Verdict:
        """One alignment probe on `text` (see `check_scoring`): the verdict (None: cannot tell) and why."""
        first = self._echoed(text, cost)
        if isinstance(first, tuple):
            return first
        generated = next((t for t in first if t.start >= len(text)), None)  # the greedy next token
        if generated is None or generated.logprob is None or not generated.text:
            return False, "the server echoes no log-prob for the token it generates"
        second = self._echoed(text + generated.text + _UNLIKELY_WORD, cost)
        if isinstance(second, tuple):
            return second
        again = next((t for t in second if t.start == len(text) and t.text == generated.text), None)
        if again is None or again.logprob is None:
            return None, f"the probe's next token {generated.text!r} did not come back as one token"
        absolute, relative = _ALIGNMENT_TOLERANCE
        if abs(again.logprob - generated.logprob) <= absolute + relative * abs(generated.logprob):
            return True, "checked: echoed log-probs line up with their tokens"
        return False, (
            f"echoed log-probs do not line up with their tokens: token {generated.text!r} came back with "
            f"{again.logprob:.3f}, {generated.logprob:.3f} when generated (shifted by a token?)"
        )

    def _echoed(self, text: str, cost: _Cost) -> list[_Token] | _Verdict:
        """The echoed tokens of one probe request for `text`, or the verdict their absence gives, and why."""
        data, refused = self._echo(text, cost, note="echo refused; ranking falls back to votes")
        if refused:
            return False, "the server refuses echo with log-probs"
        choices = _choices(data)
        if not choices:
            return None, "unusable reply to the echo probe"  # says nothing about the server: ask again later
        tokens = _echoed_tokens(choices[0], text)
        if tokens is None:
            return False, "the server does not echo the prompt's log-probs"
        echoed = str(choices[0].get("text"))
        if any(t.text is not None and not echoed.startswith(t.text, t.start) for t in tokens if t.start < len(text)):
            return False, "the echoed tokens do not match the text at their offsets"
        return tokens

    def _score_texts(self, texts: list[str], start: int, cost: _Cost) -> tuple[list[float | None], bool]:
        """Each text's log-prob from `start` on, and whether the server refused the request."""
        if len(texts) > 1 and self.batch_prompts is not False:
            batched = self._score_list(texts, start, cost)
            if batched is not None:
                return batched
        logprobs: list[float | None] = []
        for i, text in enumerate(texts):
            data, refused = self._echo(text, cost)
            if refused:
                return logprobs + [None] * (len(texts) - i), True
            logprobs += _parse_echo_scores(data, [text], start=start)
        return logprobs, False

    def _score_list(self, texts: list[str], start: int, cost: _Cost) -> tuple[list[float | None], bool] | None:
        """All texts in one request; None when the server did not take the list (it is then never sent one)."""
        if self.batch_prompts:  # known to work: a failure now is the server's, as for any request
            data, refused = self._echo(texts, cost)
            return _parse_echo_scores(data, texts, start=start), refused
        problem = ""
        try:
            # The first list goes without retries: a server that takes one prompt per request may answer it with
            # a 5xx, and retrying would only delay the step before one prompt per request is tried.
            data, refused = self._echo(texts, cost, retries=0, count_garbage=False, note="a list of prompts refused")
        except ModelError as exc:  # keep what the server said, not the advice for a server that is down
            data, refused, problem = None, True, str(exc).split("last: ", 1)[-1].split("; check", 1)[0]
        choices = _choices(data)
        if not refused and choices is not None and len(choices) == len(texts):
            self.batch_prompts = True
            log.info("model endpoint %s: %s", self.base_url, self.capabilities)
            return _parse_echo_scores(data, texts, start=start), False
        self.batch_prompts = False
        answer = problem or ("a refusal" if refused else f"{0 if choices is None else len(choices)} choice(s)")
        log.warning(
            "model endpoint %s answered a list of %d prompts with %s; it is sent one prompt per request from now on",
            self.base_url,
            len(texts),
            answer,
        )
        return None

    def _echo(
        self,
        prompt: str | list[str],
        cost: _Cost,
        *,
        retries: int | None = None,
        count_garbage: bool = True,
        note: str = "scoring by echoed log-probs refused; ranking falls back to votes",
    ) -> tuple[Any, bool]:
        """One echo request (greedy, one generated token); its data and whether it was refused, cost counted."""
        body = {
            "model": self.model,
            "prompt": prompt,
            "max_tokens": 1,  # some servers refuse 0; the generated token lies outside every span
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        data, seconds, refused = self._request("completions", body, note, retries=retries)
        garbage = int(count_garbage and not refused and _choices(data) is None)
        prompt_tokens, completion_tokens = _usage(data)
        self._count(prompt_tokens, completion_tokens, seconds, garbage)
        cost.prompt_tokens += prompt_tokens
        cost.completion_tokens += completion_tokens
        cost.seconds += seconds
        cost.invalid += garbage
        return data, refused

    def _request(
        self, path: str, body: dict[str, Any], refused_note: str, *, retries: int | None = None
    ) -> tuple[Any, float, bool]:
        """POST `body`: the reply's data (None when the server refused the request, logged with `refused_note`),
        the seconds it took, and whether it was refused."""
        started = time.perf_counter()
        try:
            data, refused = self.post(path, body, retries=retries), False
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


@dataclass(frozen=True)
class _Token:
    """One echoed token: its text (None if the server gave none), where it starts, its log-prob (None if none)."""

    text: str | None
    start: int
    logprob: float | None


def _echoed_tokens(choice: dict[str, Any], text: str) -> list[_Token] | None:
    """The tokens of a completions choice that echoed `text`, or None when it did not echo it with log-probs."""
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
    return [
        _Token(
            token if isinstance(token, str) else None,
            offset,
            float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None,
        )
        for token, offset, value in zip(tokens, offsets, values, strict=True)
    ]


def _span_logprob(choice: dict[str, Any], text: str, start: int) -> float | None:
    tokens = _echoed_tokens(choice, text)
    if tokens is None:
        return None
    total, seen = 0.0, 0
    for i, token in enumerate(tokens):
        end = tokens[i + 1].start if i + 1 < len(tokens) else token.start + 1
        # A token counts when it covers part of the completion; one that straddles the boundary (a space
        # that ends the prompt merged into the completion's first word) counts too: it is the closest there is.
        if end <= start or token.start >= len(text):
            continue
        if token.logprob is None:
            return None
        total += token.logprob
        seen += 1
    return total if seen else None


# ---------------------------------------------------------------------- the policy
class EndpointPolicy(ModelPolicy):
    """`ModelPolicy` on an `EndpointClient` (kept as `client`, which a `ModelCritic` can share)."""

    def __init__(
        self,
        client: EndpointClient,
        *,
        max_new_tokens: int = 32,
        seed: int = 0,
        vote_samples: int = 8,
        fill: FillRule = "goal",
    ) -> None:
        super().__init__(client, max_new_tokens=max_new_tokens, seed=seed, vote_samples=vote_samples, fill=fill)
        self.client = client

    @classmethod
    def connect(
        cls, base_url: str, model: str, *, max_new_tokens: int = 32, seed: int = 0, **options: Any
    ) -> EndpointPolicy:
        """A policy on the model `model` served at `base_url` (e.g. `http://127.0.0.1:8000/v1`); `options` go to
        `EndpointClient` (api_key, timeout, max_retries, backoff, tokenizer)."""
        return cls(EndpointClient(base_url, model, **options), max_new_tokens=max_new_tokens, seed=seed)
