"""`completion_positions_only`: TRL's fused LM head scores only labelled positions, with the same log-probs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from practicum.trainer.stages import completion_positions_only


def _fused_model(model_dir: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl.trainer.utils import add_fused_lm_head

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    ids = tokenizer(["the prompt is long and the answer short", "a prompt"], padding=True, return_tensors="pt")
    labels = torch.full_like(ids["input_ids"], -100)
    labels[0, -2:] = ids["input_ids"][0, -2:]  # only the completion's tokens carry a label
    labels[1, 1:2] = ids["input_ids"][1, 1:2]
    return model, {**ids, "labels": labels}


def _projected_rows(model: Any, batch: dict[str, torch.Tensor]) -> tuple[list[int], Any]:
    """How many hidden rows reach the head's projection (one tile spans the tiny vocabulary), and the output."""
    vocab = int(model.config.vocab_size)
    rows: list[int] = []
    original = torch.mm

    def counting_mm(a: torch.Tensor, b: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        if b.shape[-1] == vocab:
            rows.append(int(a.shape[0]))
        return original(a, b, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch, "mm", counting_mm)
        out = model(**batch, fused_lm_head=True)
    return rows, out


def test_same_log_probs_and_loss_from_labelled_positions_only(tiny_model_dir: Path) -> None:
    model, batch = _fused_model(tiny_model_dir)
    labelled = int((batch["labels"][:, 1:] != -100).sum())
    with torch.no_grad():
        everywhere_rows, everywhere = _projected_rows(model, batch)
        with completion_positions_only():
            compact_rows, compact = _projected_rows(model, batch)
    assert sum(everywhere_rows) == batch["input_ids"].numel() - batch["input_ids"].shape[0]  # every position
    assert sum(compact_rows) == labelled  # the labelled ones only
    torch.testing.assert_close(compact.log_probs, everywhere.log_probs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(compact.loss, everywhere.loss, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(compact.entropy, everywhere.entropy, rtol=1e-5, atol=1e-5)
    assert torch.equal(compact.is_top1, everywhere.is_top1)


def test_gradients_match(tiny_model_dir: Path) -> None:
    grads = []
    for compact in (False, True):
        model, batch = _fused_model(tiny_model_dir)
        if compact:
            with completion_positions_only():
                model(**batch, fused_lm_head=True).loss.backward()
        else:
            model(**batch, fused_lm_head=True).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and grads[0]
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6)


def test_the_choice_is_restored_after_the_block() -> None:
    import trl.trainer.utils as trl_utils

    before = trl_utils._use_triton
    with pytest.raises(RuntimeError), completion_positions_only():
        assert trl_utils._use_triton(torch.device("cpu")) is True
        raise RuntimeError("training failed")
    assert trl_utils._use_triton is before
    assert trl_utils._use_triton(torch.device("cpu")) is False
