"""Rejection-sampling fine-tuning through TRL's SFTTrainer on the successful steps of real search episodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from practicum.agents.local import LocalModel
from practicum.store import Store
from practicum.trainer.config import LoraSettings, RFTSettings, TrainConfig
from practicum.trainer.datasets import build_datasets
from practicum.trainer.errors import EmptyDatasetError
from practicum.trainer.rft import train_rft


def action_logprobs(model_dir: Path, examples: list) -> list[float]:
    model = LocalModel(model_dir, device="cpu")
    return [model.score(e.prompt, [e.completion]).logprobs[0] for e in examples]


def test_rft_raises_the_logprob_of_the_successful_actions(store: Store, tiny_model_dir: Path, tmp_path: Path) -> None:
    examples = list(build_datasets(store).rft.rows)
    assert examples and all(e.kind == "success" for e in examples)
    config = TrainConfig(rft=RFTSettings(learning_rate=1e-3, max_steps=6, batch_size=4))
    result = train_rft(tiny_model_dir, examples, tmp_path / "rft", config)
    assert result.metrics["train/rft_steps"] == 6
    assert result.metrics["train/rft_loss_last"] < result.metrics["train/rft_loss_first"]
    before, after = action_logprobs(tiny_model_dir, examples), action_logprobs(result.model_dir, examples)
    assert sum(after) > sum(before)
    assert sum(a > b for a, b in zip(after, before, strict=True)) > len(examples) / 2
    assert result.adapter_dir is not None


def test_rft_without_successful_steps_is_a_clear_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(EmptyDatasetError, match=r"no RFT examples.*include_failed_steps=True"):
        train_rft(tiny_model_dir, [], tmp_path / "rft")


def test_rft_with_top_layers_changes_only_the_top_blocks(store: Store, tiny_model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    examples = list(build_datasets(store).rft.rows)
    config = TrainConfig(
        rft=RFTSettings(learning_rate=1e-2, max_steps=2, batch_size=4), lora=LoraSettings(top_layers=1)
    )
    result = train_rft(tiny_model_dir, examples, tmp_path / "rft", config)
    before = load_file(str(tiny_model_dir / "model.safetensors"))
    after = load_file(str(result.model_dir / "model.safetensors"))
    blocks = sorted({int(name.split(".")[2]) for name in before if name.startswith("model.layers.")})
    changed = {int(n.split(".")[2]) for n in before if n.startswith("model.layers.") and not before[n].equal(after[n])}
    assert len(blocks) > 1 and changed == {blocks[-1]}
