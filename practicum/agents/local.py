"""A local transformers causal LM as policy: any Hugging Face model directory, CPU by default, GPU if present.

`LocalModel` holds the loaded weights and tokenizer and does the three things search needs, all built on one
trick: the prompt is run once (`prefill`) and its key/value cache is reused.
- `score`: the log-probability of each candidate completion. The prompt's cache is repeated once per
  candidate (`cache.batch_repeat_interleave`) and all candidates go through ONE forward pass, right-padded.
  This is ~6x faster than one full pass per candidate on CPU and gives the same numbers (FACTS.md).
- `sample` (and `replies`, the same as the backend contract gives it): k free-text completions from one
  shared prefill, with a seeded generator; `complete` one continuation of a text as is.
- `prefill` alone: the distribution of the reply's first token; `next_logprobs` the same after each of several
  continuations of one prompt (the critic reads Yes and No there, one continuation per candidate).

`LocalModel` is an `agents.backend.Backend` (`answers` reads the critic's Yes and No from `next_logprobs`):
`LocalPolicy` is the one `ModelPolicy` on it, and an `agents.critic.ModelCritic` on the same `LocalModel` shares
its weights, so a policy and its critic load them once.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from practicum.agents import prompts
from practicum.agents.backend import Answers, Replies, Scores, end_flags
from practicum.agents.base import UsageCounter
from practicum.agents.policy import FillRule, ModelPolicy
from practicum.errors import ConfigError, ModelError

DTypeName = Literal["float32", "bfloat16", "auto"]


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 matrix instructions (avx512_bf16 or AMX), where bf16 is ~4x faster."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: be conservative
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_device(device: str | None) -> torch.device:
    """`device`, or the first CUDA GPU when there is one, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"device {device!r} is not a torch device; use 'cpu', 'cuda' or 'cuda:N'") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but torch sees no CUDA GPU; use device='cpu'")
    return resolved


def resolve_dtype(dtype: DTypeName, device: torch.device) -> torch.dtype:
    """The torch dtype for a dtype name; "auto" is bf16 where the hardware runs it fast, else fp32."""
    if dtype == "float32":
        return torch.float32
    if dtype == "bfloat16":
        return torch.bfloat16
    if dtype == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        return torch.bfloat16 if cpu_has_bf16() else torch.float32
    raise ConfigError(f"dtype must be 'float32', 'bfloat16' or 'auto', got {dtype!r}")


# The class names of text generators; the few that end otherwise are in transformers' causal-LM mapping. An
# encoder ("BertModel", "BertForMaskedLM") or a seq2seq model ("T5ForConditionalGeneration") is neither.
_CAUSAL_LM_SUFFIXES = ("ForCausalLM", "LMHeadModel")


def check_causal_lm(model_dir: str | Path) -> None:
    """Refuse a model directory whose saved architecture cannot generate text (an encoder, a classifier).

    The config's `architectures` (the class `save_pretrained` was called on) decides: the model type alone does
    not, since transformers maps encoder types such as "bert" to a causal-LM head too, so a saved `BertModel`
    would pass and fail only later, at its tokenizer or its first generation. Reads config.json only.
    """
    import json

    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    path = Path(model_dir).expanduser()
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"cannot read the model config {str(path / 'config.json')!r} ({reason}); pass the directory that "
            "save_pretrained wrote"
        ) from None
    if not isinstance(config, dict):
        raise ConfigError(f"{str(path / 'config.json')!r} does not hold a JSON object; it is not a model config")
    architectures = config.get("architectures") or []
    known = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    if architectures:
        if any(isinstance(a, str) and (a in known or a.endswith(_CAUSAL_LM_SUFFIXES)) for a in architectures):
            return
        saved = ", ".join(str(a) for a in architectures)
    else:  # a config saved on its own names no class: the model type is all there is to go on
        model_type = config.get("model_type")
        if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
            return
        saved = f"a {model_type!r} model" if model_type else "a model of no known type"
    raise ConfigError(
        f"{str(path)!r} holds {saved}, which is not a causal language model; pass a decoder saved with its "
        "language-model head (e.g. a LlamaForCausalLM, Qwen2ForCausalLM or GPT2LMHeadModel directory)"
    )


@dataclass(frozen=True)
class Sample:
    """One sampled completion: its text (special tokens removed), its token count, and whether it ended."""

    text: str
    tokens: int
    finished: bool  # produced the end-of-turn token within the token budget


class LocalModel:
    """A causal LM and its tokenizer, loaded once and shared by a policy and a critic.

    `model_dir` is any local Hugging Face model directory; `adapter` an optional LoRA adapter directory
    (peft). `dtype` "float32" (default), "bfloat16", or "auto" (bf16 on GPUs and on CPUs with
    avx512_bf16/AMX). `score_batch_size` caps how many candidates share one forward pass, which bounds
    memory when a page has hundreds of elements (the prompt cache is repeated once per candidate).
    `reuse_prefix` keeps the last prompt's cache to skip the whole `prefix_block`-token blocks a following
    prompt shares with it (see `prefill`).
    Not thread-safe: give each thread or process its own `LocalModel`.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        adapter: str | Path | None = None,
        device: str | None = None,
        dtype: DTypeName = "float32",
        score_batch_size: int = 16,
        reuse_prefix: bool = True,
        prefix_block: int = 64,
    ) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_dir).expanduser()
        # The fix names the CLI's spelling: most who get this typed a path after --policy or --model.
        builtin = "or 'default' for the built-in SmolLM2 (practicum run --policy default)"
        if not path.exists():
            raise ModelError(
                f"model directory {str(path)!r} does not exist; pass a Hugging Face model directory, {builtin}"
            )
        if not (path / "config.json").is_file():
            raise ModelError(
                f"{str(path)!r} is not a model directory (no config.json); pass the directory that save_pretrained "
                f"wrote, {builtin}"
            )
        check_causal_lm(path)
        if score_batch_size < 1:
            raise ConfigError(f"score_batch_size must be >= 1, got {score_batch_size}")
        if prefix_block < 1:
            raise ConfigError(f"prefix_block must be >= 1, got {prefix_block}")
        self.path = path
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.score_batch_size = score_batch_size
        self.reuse_prefix = reuse_prefix
        self.prefix_block = prefix_block
        self._last: tuple[list[int], Any, torch.Tensor] | None = None  # the last prefill: ids, cache, logits
        self._repeated = False  # the last prefill was the prompt before it again: nothing was computed
        self.usage = UsageCounter()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype)
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load the model in {path}: {exc}") from exc
        if adapter is not None:
            model = _with_adapter(model, Path(adapter).expanduser())
        self.model: Any = model
        self.model.to(self.device).eval()
        self.adapter = None if adapter is None else Path(adapter).expanduser()
        eos = self.tokenizer.eos_token_id
        if eos is None:
            raise ModelError(f"the tokenizer in {path} has no eos_token; set one in its tokenizer_config.json")
        self.eos_id: int = int(eos)
        pad = self.tokenizer.pad_token_id
        self.pad_id: int = self.eos_id if pad is None else int(pad)

    @property
    def name(self) -> str:
        """A short, stable name: the model directory's name, plus the adapter's when there is one."""
        return self.path.name if self.adapter is None else f"{self.path.name}+{self.adapter.name}"

    # ------------------------------------------------------------------ text <-> tokens
    def render(self, messages: Sequence[prompts.Message]) -> str:
        """The exact prompt text for chat messages, through this tokenizer's chat template."""
        return prompts.render(self.tokenizer, messages)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` as is: special-token text is recognised, nothing is added around it."""
        ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids

    def completion_ids(self, completion: str) -> list[int]:
        """The tokens scored for a completion: its own, then the end-of-turn token."""
        # The end-of-turn token closes every completion: it makes "left" and "left up" distinct complete
        # answers, and it is what TRL appends when it scores a completion, so the numbers line up.
        return [*self.encode(completion), self.eos_id]

    # ------------------------------------------------------------------ forward passes
    @torch.inference_mode()
    def prefill(self, prompt: str) -> tuple[Any, torch.Tensor, int]:
        """Run the prompt once: its cache, the raw logits of the next token (shape [vocab]), its length.

        With `reuse_prefix`, the prompt runs in blocks of `prefix_block` tokens and the last prompt's cache is
        kept: whole blocks that a new prompt shares with it (the policy and critic prompts of one node share
        the system message and the observation) are not computed again. Because block boundaries depend on
        the prompt alone, the numbers are the same whether or not a block was reused, so a run's results do
        not depend on the order of calls. `usage.extra["reused_prompt_tokens"]` counts the tokens saved.
        """
        ids = self.encode(prompt)
        if not ids:
            raise ConfigError("the prompt is empty; a model needs at least one prompt token to score")
        self._repeated = False
        if not self.reuse_prefix:
            out = self.model(input_ids=torch.tensor([ids], device=self.device), use_cache=True, logits_to_keep=1)
            return out.cache, out.logits[0, -1].float(), len(ids)
        block = self.prefix_block
        cache, logits, start = None, None, 0
        if self._last is not None:
            last_ids, last_cache, last_logits = self._last
            common = _common_prefix(ids, last_ids)
            if common == len(ids) == len(last_ids):
                cache, logits, start = copy.deepcopy(last_cache), last_logits, len(ids)
                self._repeated = True
            else:
                # Whole shared blocks only, and at least one token left to run for the next-token logits.
                start = (min(common, len(ids) - 1) // block) * block
                if start:
                    cache = copy.deepcopy(last_cache)
                    cache.crop(start - len(last_ids))  # a negative count removes that many tokens from the end
        if logits is None:
            for begin in range(start, len(ids), block):
                chunk = torch.tensor([ids[begin : begin + block]], device=self.device)
                # Only the last position's logits are read: skipping the vocabulary projection of the others
                # saves ~10% of a prefill on a small model with a large vocabulary.
                out = self.model(input_ids=chunk, cache=cache, use_cache=True, logits_to_keep=1)
                cache = out.cache
            logits = out.logits[0, -1].float()
        if _croppable(cache):
            self._last = (ids, copy.deepcopy(cache), logits)  # a copy: callers extend or repeat what they get
        if start:
            self.usage.extra["reused_prompt_tokens"] = self.usage.extra.get("reused_prompt_tokens", 0) + start
        return cache, logits, len(ids)

    @torch.inference_mode()
    def score_ids(self, cache: Any, first_logits: torch.Tensor, prompt_len: int, cands: list[list[int]]) -> list[float]:
        """Sum of log-probs of each candidate's tokens after a prefilled prompt; `cache` is left untouched."""
        first = torch.log_softmax(first_logits, dim=-1)  # distribution of every candidate's first token
        results: list[float] = []
        for start in range(0, len(cands), self.score_batch_size):
            ids, mask = self._padded(cands[start : start + self.score_batch_size])
            batch, width = ids.shape
            # Token j of a candidate is predicted at position j-1; token 0 by the prompt's last position.
            token_lp = torch.empty((batch, width), device=self.device)
            token_lp[:, 0] = first[ids[:, 0]]
            if width > 1:
                # The last token of each candidate is only predicted, never read: feed the others.
                logits = self._after_prompt(cache, prompt_len, ids[:, :-1], mask[:, :-1])
                logp = torch.log_softmax(logits.float(), dim=-1)  # [batch, width - 1, vocab]
                token_lp[:, 1:] = logp.gather(-1, ids[:, 1:, None]).squeeze(-1)
            results.extend((token_lp * mask).sum(dim=1).tolist())
        return results

    @torch.inference_mode()
    def next_logprobs(self, prompt: str, continuations: Sequence[str]) -> tuple[torch.Tensor, int, int]:
        """The next-token log-probs after `prompt + c` for each continuation c: shape [len(continuations), vocab].

        One prefill of the shared `prompt`, then all continuations in batched forward passes over its repeated
        cache (right-padded; each row is read at its own last token). Each row depends on its own text only,
        not on the other continuations or their order. Also returns the prompt's and the continuations' token
        counts. Continuations must be non-empty.
        """
        conts = [self.encode(c) for c in continuations]
        if not conts or any(not c for c in conts):
            raise ConfigError("next_logprobs needs at least one continuation, and none of them empty")
        cache, _, prompt_len = self.prefill(prompt)
        rows: list[torch.Tensor] = []
        for start in range(0, len(conts), self.score_batch_size):
            ids, mask = self._padded(conts[start : start + self.score_batch_size])
            logits = self._after_prompt(cache, prompt_len, ids, mask)  # [batch, width, vocab]
            last = mask.sum(dim=1) - 1  # each row's own last token
            rows.append(torch.log_softmax(logits[torch.arange(len(ids), device=self.device), last].float(), dim=-1))
        return torch.cat(rows), prompt_len, sum(map(len, conts))

    def _padded(self, seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token sequences right-padded into one batch: ids and attention mask, shape [batch, longest]."""
        width = max(len(x) for x in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long, device=self.device)
        mask = torch.zeros((len(seqs), width), dtype=torch.long, device=self.device)
        for row, seq in enumerate(seqs):
            ids[row, : len(seq)] = torch.tensor(seq, device=self.device)
            mask[row, : len(seq)] = 1
        return ids, mask

    def _after_prompt(self, cache: Any, prompt_len: int, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The logits of a right-padded batch run after a prefilled prompt: shape [batch, width, vocab]."""
        batch, width = ids.shape
        # Repeat the prompt's cache once per row (copy first: repeating rebinds the cache's tensors, the forward
        # pass appends to them, and the caller may reuse the prefill).
        repeated = copy.deepcopy(cache)
        repeated.batch_repeat_interleave(batch)
        # Right padding: real tokens sit at positions prompt_len.. and never attend to the pads after them.
        ones = torch.ones((batch, prompt_len), dtype=torch.long, device=self.device)
        positions = torch.arange(prompt_len, prompt_len + width, device=self.device).expand(batch, -1)
        out = self.model(
            input_ids=ids,
            attention_mask=torch.cat([ones, mask], 1),
            position_ids=positions,
            cache=repeated,
            use_cache=True,
        )
        return out.logits

    def score(self, prompt: str, completions: Sequence[str], *, ends: Sequence[bool] | None = None) -> Scores:
        """log p(completion + end-of-turn | prompt) for each completion (no end-of-turn where `ends[i]` is False:
        the start of a reply): one prefill, batched candidates."""
        started = time.perf_counter()
        closed = end_flags(ends, len(completions))
        cands = [self.completion_ids(c) if end else self.encode(c) for c, end in zip(completions, closed, strict=True)]
        if not all(cands):
            raise ConfigError("cannot score an empty start of a reply; give at least one character")
        if not cands:
            return Scores([], 0, 0, 0.0)
        cache, first_logits, prompt_len = self.prefill(prompt)
        logprobs: list[float | None] = list(self.score_ids(cache, first_logits, prompt_len, cands))
        # The same prompt again (free-text replies are scored right after they were sampled) computed nothing.
        prompt_tokens = 0 if self._repeated else prompt_len
        result = Scores(logprobs, prompt_tokens, sum(map(len, cands)), time.perf_counter() - started)
        self.count_usage(result.prompt_tokens, result.completion_tokens, result.seconds)
        return result

    @torch.inference_mode()
    def score_naive(self, prompt: str, completions: Sequence[str]) -> Scores:
        """The same numbers as `score`, one full forward pass per completion: the reference it is tested
        and benchmarked against. Slow; do not use it in search."""
        started = time.perf_counter()
        prompt_ids = self.encode(prompt)
        logprobs: list[float | None] = []
        total = 0
        for completion in completions:
            cand = self.completion_ids(completion)
            total += len(cand)
            ids = torch.tensor([prompt_ids + cand], device=self.device)
            logp = torch.log_softmax(self.model(input_ids=ids).logits[0].float(), dim=-1)
            # The completion's tokens are at positions len(prompt)..; each is predicted one position earlier.
            rows = torch.arange(len(prompt_ids) - 1, len(prompt_ids) - 1 + len(cand), device=self.device)
            logprobs.append(float(logp[rows, ids[0, len(prompt_ids) :]].sum()))
        result = Scores(logprobs, len(prompt_ids), total, time.perf_counter() - started)
        self.count_usage(result.prompt_tokens, result.completion_tokens, result.seconds)
        return result

    @torch.inference_mode()
    def decode_from(
        self, cache: Any, next_logits: torch.Tensor, n: int, *, temperature: float, max_new_tokens: int, seed: int
    ) -> list[Sample]:
        """Sample `n` continuations from a prefilled cache (consumed); temperature 0 is greedy."""
        cache.batch_repeat_interleave(n)
        logits = next_logits.expand(n, -1)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        tokens: list[list[int]] = [[] for _ in range(n)]
        finished = torch.zeros(n, dtype=torch.bool, device=self.device)
        for step in range(max_new_tokens):
            if temperature <= 0:
                nxt = logits.argmax(dim=-1)
            else:
                probs = torch.softmax(logits.float() / temperature, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            nxt = torch.where(finished, torch.full_like(nxt, self.pad_id), nxt)
            for row, (token, done) in enumerate(zip(nxt.tolist(), finished.tolist(), strict=True)):
                if not done:
                    tokens[row].append(token)
            finished |= nxt == self.eos_id
            if bool(finished.all()) or step == max_new_tokens - 1:
                break  # no forward pass for tokens nobody will read
            # Rows are independent and equally long, so no mask is needed; finished rows feed pads we ignore.
            out = self.model(input_ids=nxt[:, None], cache=cache, use_cache=True)
            cache, logits = out.cache, out.logits[:, -1].float()
        return [
            Sample(
                text=str(self.tokenizer.decode(t, skip_special_tokens=True)),
                tokens=len(t),
                finished=bool(t) and t[-1] == self.eos_id,
            )
            for t in tokens
        ]

    def sample(
        self, prompt: str, n: int, *, temperature: float = 1.0, max_new_tokens: int = 32, seed: int = 0
    ) -> list[Sample]:
        """`n` completions of `prompt` from one shared prefill; the same seed gives the same samples."""
        return self._sampled(prompt, n, temperature, max_new_tokens, seed)[0]

    def _sampled(
        self, prompt: str, n: int, temperature: float, max_new_tokens: int, seed: int
    ) -> tuple[list[Sample], int, float]:
        """`sample`'s samples, the prompt's length and the seconds spent (counted in `usage`)."""
        started = time.perf_counter()
        cache, logits, prompt_len = self.prefill(prompt)
        samples = self.decode_from(cache, logits, n, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed)
        seconds = time.perf_counter() - started
        self.count_usage(prompt_len, sum(s.tokens for s in samples), seconds)
        return samples, prompt_len, seconds

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
        """`n` sampled replies to the rendered `prompt` (the backend contract; `messages` is not needed here)."""
        samples, prompt_len, seconds = self._sampled(prompt, n, temperature, max_new_tokens, seed)
        return Replies([s.text for s in samples], [None] * n, prompt_len, sum(s.tokens for s in samples), seconds)

    def complete(self, text: str, *, temperature: float, max_new_tokens: int, stop: str | None, seed: int) -> Replies:
        """One continuation of `text` (`stop` is left to the caller to cut at: generation runs to its end)."""
        started = time.perf_counter()
        cache, logits, _ = self.prefill(text)
        (sample,) = self.decode_from(
            cache, logits, 1, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed
        )
        seconds = time.perf_counter() - started
        # Counted as generated tokens only: the text is the prompt the caller already counted plus a few tokens.
        self.count_usage(0, sample.tokens, seconds)
        return Replies([sample.text], [None], 0, sample.tokens, seconds)

    @functools.cached_property
    def answer_spellings(self) -> dict[str, list[tuple[str, int]]]:
        """The single-token spellings of each judge answer word ("Yes", " Yes", "yes", " yes") and their ids, by
        word in lower case; a word with none is left out."""
        found: dict[str, list[tuple[str, int]]] = {}
        for word in prompts.JUDGE_ANSWERS:
            by_id: dict[int, str] = {}
            for spelling in (word, " " + word, word.lower(), " " + word.lower()):
                ids = self.encode(spelling)
                if len(ids) == 1:
                    by_id.setdefault(ids[0], spelling)
            if by_id:
                found[word.lower()] = [(spelling, i) for i, spelling in by_id.items()]
        return found

    def answers(
        self, question: prompts.JudgeQuestion, actions: Sequence[str], *, max_new_tokens: int, top_logprobs: int
    ) -> Answers:
        """The first token of the reply to each action's judge question, in one batched pass after one prefill
        of the shared part; no text is generated (`max_new_tokens` and `top_logprobs` are not needed here)."""
        started = time.perf_counter()
        words = self.answer_spellings
        if len(words) < len(prompts.JUDGE_ANSWERS):
            # This vocabulary has no single token for an answer word: nothing reliable to read.
            seconds = time.perf_counter() - started
            self.count_usage(0, 0, seconds)
            self.usage.invalid_outputs += 1
            return Answers([None] * len(actions), [None] * len(actions), 0, 0, seconds)
        logp, prompt_len, cont_tokens = self.next_logprobs(question.prefix, [a + question.suffix for a in actions])
        spellings = [pair for pairs in words.values() for pair in pairs]
        rows = logp[:, [i for _, i in spellings]].tolist()
        firsts: list[dict[str, float] | None] = [
            {spelling: lp for (spelling, _), lp in zip(spellings, row, strict=True)} for row in rows
        ]
        seconds = time.perf_counter() - started
        self.count_usage(prompt_len + cont_tokens, 0, seconds)
        return Answers(firsts, [None] * len(actions), prompt_len + cont_tokens, 0, seconds)

    def clear_prefix_cache(self) -> None:
        """Forget the last prompt's cache (the next prefill computes its whole prompt)."""
        self._last = None

    def count_usage(self, prompt_tokens: int, completion_tokens: int, seconds: float) -> None:
        """Add one call's tokens and time to `usage` (for code that drives the forward passes itself)."""
        self.usage.calls += 1
        self.usage.prompt_tokens += prompt_tokens
        self.usage.completion_tokens += completion_tokens
        self.usage.seconds += seconds

    def close(self) -> None:
        """Drop the weights so their memory can be freed."""
        self.model = None
        self._last = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens `a` and `b` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _croppable(cache: Any) -> bool:
    """Whether `cache` can be cut back to a prefix: full-attention layers only (a sliding window or a
    recurrent state forgets what it would need)."""
    from transformers.cache_utils import DynamicCache, DynamicLayer

    return type(cache) is DynamicCache and all(type(layer) is DynamicLayer for layer in cache.layers)


def _with_adapter(model: Any, adapter: Path) -> Any:
    """`model` with the LoRA adapter in `adapter` applied (peft), for inference."""
    from peft import PeftModel

    if not (adapter / "adapter_config.json").is_file():
        raise ModelError(
            f"{adapter} is not a LoRA adapter directory (no adapter_config.json); pass the folder that "
            "peft's save_pretrained wrote"
        )
    try:
        return PeftModel.from_pretrained(model, adapter)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot apply the adapter in {adapter} to this model: {exc}") from exc


class LocalPolicy(ModelPolicy):
    """`ModelPolicy` on a `LocalModel` (kept as `model`, which a `ModelCritic` can share), remembering the scores
    of `SCORE_CACHE` prompts."""

    SCORE_CACHE = 4096

    def __init__(self, model: LocalModel, *, max_new_tokens: int = 32, seed: int = 0, fill: FillRule = "goal") -> None:
        super().__init__(model, max_new_tokens=max_new_tokens, seed=seed, score_cache=self.SCORE_CACHE, fill=fill)
        self.model = model

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        *,
        adapter: str | Path | None = None,
        device: str | None = None,
        dtype: DTypeName = "float32",
        max_new_tokens: int = 32,
        seed: int = 0,
    ) -> LocalPolicy:
        """Load `model_dir` (and an optional LoRA `adapter`) and wrap it as a policy."""
        return cls(
            LocalModel(model_dir, adapter=adapter, device=device, dtype=dtype), max_new_tokens=max_new_tokens, seed=seed
        )
