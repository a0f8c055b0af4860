"""The local transformers policy on a tiny random model built in the test session."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from practicum.agents.base import StepContext
from practicum.agents.local import LocalModel, LocalPolicy, resolve_dtype
from practicum.agents.prompts import PROMPT_VERSION
from practicum.errors import ConfigError, ModelError

LEGAL = ("left", "right", "up", "down", "click[buy now]", "type[search box][red running shoes size 9]")
BOARD = "SFFF\nFHFH\nFFFH\nHFFG"


def lake(legal: tuple[str, ...] | None = LEGAL) -> StepContext:
    listed = "" if legal is None else "\n\nLegal actions:\n" + "\n".join(f"{i}. {a}" for i, a in enumerate(legal, 1))
    return StepContext(
        goal="Reach G without falling into a hole.",
        observation=f"Goal: Reach G without falling into a hole.\n\n{BOARD}{listed}",
        history=("right", "down"),
        legal_actions=legal,
    )


@pytest.mark.parametrize("batch_size", [16, 4, 1])
def test_batched_prefix_cached_scores_equal_one_pass_per_candidate(tiny_model_dir: Path, batch_size: int) -> None:
    model = LocalModel(tiny_model_dir, score_batch_size=batch_size)
    policy = LocalPolicy(model)
    prompt = policy.prompt(lake())
    lengths = {len(model.completion_ids(a)) for a in LEGAL}
    assert len(lengths) >= 3  # candidates of different token lengths: the padding path is exercised
    batched = model.score(prompt, LEGAL).logprobs
    naive = model.score_naive(prompt, LEGAL).logprobs
    assert batched == pytest.approx(naive, abs=1e-4)
    assert len(set(batched)) == len(LEGAL)  # distinct actions get distinct scores on this model


def test_scores_are_log_probabilities_of_the_whole_reply(tiny_model: LocalModel) -> None:
    prompt = LocalPolicy(tiny_model).prompt(lake())
    [score] = tiny_model.score(prompt, ["left"]).logprobs
    # By hand: the chain rule over the reply's tokens plus the end-of-turn token, one token at a time.
    ids = tiny_model.encode(prompt)
    total = 0.0
    for token in tiny_model.completion_ids("left"):
        with torch.inference_mode():
            logits = tiny_model.model(input_ids=torch.tensor([ids])).logits[0, -1]
        total += float(torch.log_softmax(logits.float(), -1)[token])
        ids.append(token)
    assert score == pytest.approx(total, abs=1e-4)
    assert score < 0


@pytest.mark.parametrize("batch_size", [4, 1])
def test_next_logprobs_equal_one_full_pass_per_continuation(tiny_model_dir: Path, batch_size: int) -> None:
    model = LocalModel(tiny_model_dir, score_batch_size=batch_size)
    prompt = LocalPolicy(model).prompt(lake())
    conts = ["left", "type[search box][red running shoes size 9]", "down\n\nIs it safe?", "up", "click[buy now]"]
    assert len({len(model.encode(c)) for c in conts}) >= 4  # right padding within a batch is exercised
    got, prompt_len, cont_tokens = model.next_logprobs(prompt, conts)
    assert got.shape == (len(conts), len(model.tokenizer))
    assert (prompt_len, cont_tokens) == (len(model.encode(prompt)), sum(len(model.encode(c)) for c in conts))
    for row, cont in zip(got, conts, strict=True):
        # By hand: one full forward pass over the prompt's and the continuation's tokens, no cache, no batch.
        ids = model.encode(prompt) + model.encode(cont)
        with torch.inference_mode():
            logits = model.model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        assert float((row - torch.log_softmax(logits, -1)).abs().max()) < 1e-4
    with pytest.raises(ConfigError, match="at least one continuation, and none of them empty"):
        model.next_logprobs(prompt, ["left", ""])
    with pytest.raises(ConfigError, match="at least one continuation"):
        model.next_logprobs(prompt, [])


def test_score_keeps_the_given_order_and_prompt(tiny_model: LocalModel) -> None:
    policy = LocalPolicy(tiny_model)
    actions = ["up", "left", "down"]
    proposal = policy.score(lake(), actions)
    assert [c.text for c in proposal.candidates] == actions
    assert proposal.prompt == policy.prompt(lake())
    assert proposal.prompt_version == PROMPT_VERSION
    expected = tiny_model.score_naive(proposal.prompt, actions).logprobs
    assert [c.logprob for c in proposal.candidates] == pytest.approx(expected, abs=1e-4)


def test_propose_with_legal_actions_returns_the_top_k_ranked_by_score(tiny_model: LocalModel) -> None:
    policy = LocalPolicy(tiny_model)
    everything = {c.text: c.logprob for c in policy.score(lake(), LEGAL).candidates}
    proposal = policy.propose(lake(), 3)
    expected = sorted(LEGAL, key=lambda a: -(everything[a] or 0.0))[:3]
    assert [c.text for c in proposal.candidates] == expected
    assert [c.logprob for c in proposal.candidates] == pytest.approx([everything[a] for a in expected], abs=1e-5)
    assert proposal.invalid_outputs == 0
    assert len(policy.propose(lake(), 50).candidates) == len(LEGAL)  # k larger than the legal set: all of them


def test_propose_with_no_legal_actions_left_returns_no_candidates(tiny_model: LocalModel) -> None:
    assert LocalPolicy(tiny_model).propose(lake(legal=()), 3).candidates == []


def test_free_text_sampling_is_deterministic_under_a_seed(tiny_model: LocalModel) -> None:
    policy = LocalPolicy(tiny_model, max_new_tokens=8)
    free = lake(legal=None)
    first = policy.propose(free, 4, seed=7)
    again = policy.propose(free, 4, seed=7)
    other = policy.propose(free, 4, seed=8)
    assert first.candidates == again.candidates
    assert [c.text for c in first.candidates] != [c.text for c in other.candidates]
    # Without an explicit seed, two policies built with the same seed make the same sequence of proposals.
    a, b = LocalPolicy(tiny_model, max_new_tokens=8, seed=3), LocalPolicy(tiny_model, max_new_tokens=8, seed=3)
    assert [a.propose(free, 2).candidates for _ in range(2)] == [b.propose(free, 2).candidates for _ in range(2)]


def test_free_text_candidates_are_distinct_and_carry_their_score(tiny_model: LocalModel) -> None:
    policy = LocalPolicy(tiny_model, max_new_tokens=6)
    proposal = policy.propose(lake(legal=None), 5, seed=1)
    texts = [c.text for c in proposal.candidates]
    assert 1 <= len(texts) <= 5
    assert len(set(texts)) == len(texts)
    assert all(t == t.strip() and "\n" not in t for t in texts)
    rescored = policy.score(lake(legal=None), texts)
    assert [c.logprob for c in proposal.candidates] == pytest.approx([c.logprob for c in rescored.candidates], abs=1e-4)
    assert proposal.completion_tokens > 0 and proposal.prompt_tokens > 0


def test_greedy_sampling_gives_one_candidate(tiny_model: LocalModel) -> None:
    proposal = LocalPolicy(tiny_model, max_new_tokens=6).propose(lake(legal=None), 4, temperature=0.0)
    assert len(proposal.candidates) + proposal.invalid_outputs >= 1
    assert len(proposal.candidates) <= 1


def test_lora_adapter_loads_and_changes_outputs(tiny_model_dir: Path, lora_adapter_dir: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = LocalModel(tiny_model_dir)
    tuned = LocalModel(tiny_model_dir, adapter=lora_adapter_dir)
    assert isinstance(tuned.model, PeftModel)
    assert tuned.name == f"{tiny_model_dir.name}+{lora_adapter_dir.name}"
    prompt = LocalPolicy(base).prompt(lake())
    before = base.score(prompt, LEGAL).logprobs
    after = tuned.score(prompt, LEGAL).logprobs
    assert max(abs(x - y) for x, y in zip(before, after, strict=True)) > 1e-2
    # The batched path through the peft wrapper gives what peft's own model computes in full passes.
    reference = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), lora_adapter_dir)
    ids = tuned.encode(prompt)
    for action, got in zip(LEGAL, after, strict=True):
        cand = tuned.completion_ids(action)
        with torch.inference_mode():
            logp = torch.log_softmax(reference(input_ids=torch.tensor([ids + cand])).logits[0].float(), -1)
        want = sum(float(logp[len(ids) - 1 + j, t]) for j, t in enumerate(cand))
        assert got == pytest.approx(want, abs=1e-4)


def test_bfloat16_scores_stay_close_to_float32(tiny_model_dir: Path, tiny_model: LocalModel) -> None:
    half = LocalModel(tiny_model_dir, dtype="bfloat16")
    assert next(half.model.parameters()).dtype == torch.bfloat16
    prompt = LocalPolicy(tiny_model).prompt(lake())
    full = tiny_model.score(prompt, LEGAL[:4]).logprobs
    approx = half.score(prompt, LEGAL[:4]).logprobs
    assert all(math.isfinite(x) for x in approx)
    assert approx == pytest.approx(full, rel=0.1)


def test_auto_dtype_uses_bfloat16_only_where_the_cpu_has_it() -> None:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    expected = torch.bfloat16 if ("avx512_bf16" in flags or "amx_bf16" in flags) else torch.float32
    assert resolve_dtype("auto", torch.device("cpu")) == expected
    assert resolve_dtype("float32", torch.device("cpu")) == torch.float32


def test_usage_counts_calls_tokens_and_seconds(tiny_model_dir: Path) -> None:
    model = LocalModel(tiny_model_dir)
    policy = LocalPolicy(model)
    proposal = policy.score(lake(), ["left", "right"])
    assert proposal.prompt_tokens == len(model.encode(proposal.prompt))
    assert proposal.completion_tokens == len(model.completion_ids("left")) + len(model.completion_ids("right"))
    assert proposal.seconds > 0
    sampled = policy.propose(lake(legal=None), 2, seed=0)
    # Sampling the replies, then scoring them from the same prompt's cache: the prompt is computed once.
    assert sampled.prompt_tokens == len(model.encode(policy.prompt(lake(legal=None))))
    assert model.usage.calls == 3
    assert model.usage.prompt_tokens == proposal.prompt_tokens + sampled.prompt_tokens
    assert model.usage.completion_tokens == proposal.completion_tokens + sampled.completion_tokens
    assert model.usage.seconds >= proposal.seconds


def test_a_prompt_scored_again_is_answered_from_memory(tiny_model_dir: Path) -> None:
    model = LocalModel(tiny_model_dir)
    policy = LocalPolicy(model)
    first = policy.score(lake(), ["left", "right"])
    again = policy.score(lake(), ["left", "right"])
    assert model.usage.calls == 1  # the second answer cost no forward pass
    assert [(c.text, c.logprob) for c in again.candidates] == [(c.text, c.logprob) for c in first.candidates]
    assert again.prompt_tokens == 0 and again.seconds == 0.0 and first.prompt_tokens > 0
    other = policy.score(lake(), ["right", "left"])  # another order is another question
    assert model.usage.calls == 2
    assert [c.text for c in other.candidates] == ["right", "left"]
    again.candidates.clear()  # a caller's list is its own
    assert len(policy.score(lake(), ["left", "right"]).candidates) == 2


def test_a_directory_without_a_model_raises_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a model directory"):
        LocalModel(tmp_path)


def test_a_directory_without_an_adapter_raises_model_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a LoRA adapter directory"):
        LocalModel(tiny_model_dir, adapter=tmp_path)


def test_bad_arguments_raise_config_errors_that_name_the_value(tiny_model: LocalModel, tiny_model_dir: Path) -> None:
    policy = LocalPolicy(tiny_model)
    with pytest.raises(ConfigError, match=r"k \(candidates per node\) must be >= 1, got 0"):
        policy.propose(lake(), 0)
    with pytest.raises(ConfigError, match="temperature must be >= 0"):
        policy.propose(lake(legal=None), 2, temperature=-1.0)
    with pytest.raises(ConfigError, match="dtype must be"):
        LocalModel(tiny_model_dir, dtype="float16")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="score_batch_size must be >= 1"):
        LocalModel(tiny_model_dir, score_batch_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            LocalModel(tiny_model_dir, device="cuda")


def test_a_prompt_sharing_whole_blocks_with_the_last_one_computes_only_the_rest(tiny_model_dir: Path) -> None:
    model = LocalModel(tiny_model_dir, prefix_block=8)
    policy = LocalPolicy(model)
    first, second = policy.prompt(lake()), policy.prompt(lake(legal=LEGAL[:3]))
    model.score(first, ["left"])
    assert "reused_prompt_tokens" not in model.usage.extra
    shared = next(i for i, (a, b) in enumerate(zip(model.encode(first), model.encode(second), strict=False)) if a != b)
    got = model.score(second, LEGAL).logprobs
    assert model.usage.extra["reused_prompt_tokens"] == shared // 8 * 8 > 0
    assert got == pytest.approx(model.score_naive(second, LEGAL).logprobs, abs=1e-4)
    # The same prompt again reuses all of it; a prompt that is a prefix of the last one works too.
    assert model.score(second, LEGAL).logprobs == got
    assert model.usage.extra["reused_prompt_tokens"] == shared // 8 * 8 + len(model.encode(second))
    prefix = second[: len(second) // 2]
    assert model.score(prefix, ["up"]).logprobs == pytest.approx(model.score_naive(prefix, ["up"]).logprobs, abs=1e-4)


def test_scores_do_not_depend_on_which_prompt_came_before(tiny_model_dir: Path) -> None:
    fresh, used = LocalModel(tiny_model_dir, prefix_block=8), LocalModel(tiny_model_dir, prefix_block=8)
    prompt = LocalPolicy(fresh).prompt(lake())
    used.score(LocalPolicy(used).prompt(lake(legal=LEGAL[:2])), ["up"])  # leaves a cache sharing a prefix
    assert used.score(prompt, LEGAL).logprobs == fresh.score(prompt, LEGAL).logprobs  # bit for bit
    assert used.usage.extra["reused_prompt_tokens"] > 0


def test_prefix_reuse_can_be_switched_off(tiny_model_dir: Path) -> None:
    model = LocalModel(tiny_model_dir, reuse_prefix=False)
    prompt = LocalPolicy(model).prompt(lake())
    model.score(prompt, ["left"])
    model.score(prompt, ["left"])
    assert "reused_prompt_tokens" not in model.usage.extra
