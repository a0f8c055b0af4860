"""`shared_prompt`: a DPO batch's prompts run once per pair, with the log-probs and gradients of running them twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from practicum.trainer.dpo_trainer import _backbone
from practicum.trainer.shared_prompt import common_prefix, shared_prompt

# Prompts of different lengths, two sides that share their first completion token, one side longer than the other.
PAIRS = [
    ("the board is empty and it is your move, pick a cell", " b2", " a1"),
    ("a short prompt", " left", " right turn"),
    ("another prompt that is a little longer than the short one", " c3", " c1"),
]


def _batch(model_dir: Path, *, lora: bool = False) -> tuple[Any, dict[str, torch.Tensor]]:
    """The tiny model with TRL's fused head (under a peft LoRA adapter if asked, as DPO trains it), and a batch
    as TRL's DPO collator lays it out."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.dpo_trainer import DataCollatorForPreference
    from trl.trainer.utils import add_fused_lm_head

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    if lora:  # peft calls the backbone with inputs_embeds=None, output_attentions=False, return_dict=True, ...
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(0)  # the same adapter each time it is built
        model = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False))
    ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for pair in PAIRS for text in pair]
    examples = [
        {"prompt_ids": ids[i], "chosen_ids": ids[i + 1], "rejected_ids": ids[i + 2]} for i in range(0, len(ids), 3)
    ]
    batch = DataCollatorForPreference(pad_token_id=int(tokenizer.pad_token_id or 0))(examples)
    labels = batch["input_ids"].masked_fill(batch["completion_mask"] == 0, -100)
    return model, {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"], "labels": labels}


def _scored(model: Any, batch: dict[str, torch.Tensor], *, share: bool) -> tuple[Any, list[int]]:
    """The fused forward's output, and how many token positions each backbone call embedded."""
    embedded: list[int] = []
    embeddings = model.get_input_embeddings()
    hook = embeddings.register_forward_hook(lambda _m, args, _out: embedded.append(int(args[0].numel())))
    try:
        if share:
            with shared_prompt(_backbone(model)):
                out = model(**batch, fused_lm_head=True)
        else:
            out = model(**batch, fused_lm_head=True)
    finally:
        hook.remove()
    return out, embedded


@pytest.mark.parametrize("lora", [False, True], ids=["plain", "lora"])
def test_log_probs_match_with_each_prompt_run_once(tiny_model_dir: Path, lora: bool) -> None:
    model, batch = _batch(tiny_model_dir, lora=lora)
    with torch.no_grad():
        twice, whole = _scored(model, batch, share=False)
        once, parts = _scored(model, batch, share=True)
    rows, width = batch["input_ids"].shape
    prefix = common_prefix(batch["input_ids"], batch["attention_mask"])
    assert prefix == min(len(_tokens(model_dir=tiny_model_dir, text=p)) for p, _, _ in PAIRS)
    assert whole == [rows * width]
    assert parts == [rows // 2 * prefix, rows * (width - prefix)]  # the common prefix once per pair
    torch.testing.assert_close(once.log_probs, twice.log_probs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(once.entropy, twice.entropy, rtol=1e-5, atol=1e-5)
    assert torch.equal(once.is_top1, twice.is_top1)
    assert (once.log_probs != 0).sum() == (batch["labels"][:, 1:] != -100).sum()  # every completion token scored


@pytest.mark.parametrize("lora", [False, True], ids=["plain", "lora"])
def test_gradients_match(tiny_model_dir: Path, lora: bool) -> None:
    grads = []
    for share in (False, True):
        model, batch = _batch(tiny_model_dir, lora=lora)
        out, _ = _scored(model, batch, share=share)
        chosen, rejected = out.log_probs.sum(dim=1).chunk(2)
        (-torch.nn.functional.logsigmoid(chosen - rejected).mean()).backward()  # a DPO-shaped loss
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6)


def test_a_batch_of_another_shape_runs_as_it_is(tiny_model_dir: Path) -> None:
    model, batch = _batch(tiny_model_dir)
    odd = {k: v[:3] for k, v in batch.items()}  # three rows: not [chosen; rejected]
    with torch.no_grad():
        plain, _ = _scored(model, odd, share=False)
        shared, embedded = _scored(model, odd, share=True)
    assert embedded == [odd["input_ids"].numel()]
    torch.testing.assert_close(shared.log_probs, plain.log_probs)


def test_the_backbone_is_restored_after_the_block(tiny_model_dir: Path) -> None:
    model, batch = _batch(tiny_model_dir)
    try:
        with shared_prompt(model.model):
            raise RuntimeError("training failed")
    except RuntimeError:
        pass
    assert "forward" not in model.model.__dict__
    with torch.no_grad():
        _, embedded = _scored(model, batch, share=False)
    assert embedded == [batch["input_ids"].numel()]


def _tokens(*, model_dir: Path, text: str) -> list[int]:
    from transformers import AutoTokenizer

    return list(AutoTokenizer.from_pretrained(model_dir)(text, add_special_tokens=False)["input_ids"])
