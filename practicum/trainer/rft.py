"""Rejection-sampling fine-tuning with TRL's `SFTTrainer`: learn the actions that worked.

The examples are prompt/completion rows (the exact prompt of a step, the action taken), so TRL computes the
loss on the action tokens only and appends the end-of-turn token, the same tokens search scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practicum.trainer.checkpoints import load_for_training, lora_config
from practicum.trainer.config import TrainConfig
from practicum.trainer.errors import EmptyDatasetError
from practicum.trainer.mining import RFTExample
from practicum.trainer.stages import StageResult, run_stage, trl_arguments

if TYPE_CHECKING:
    from datasets import Dataset


def examples_to_trl(examples: Sequence[RFTExample]) -> Dataset:
    """A `datasets.Dataset` of standard prompt/completion rows for `SFTTrainer`."""
    import datasets

    return datasets.Dataset.from_list([{"prompt": e.prompt, "completion": e.completion} for e in examples])


def train_rft(
    model_dir: str | Path,
    examples: Sequence[RFTExample],
    output_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    progress: bool = False,
    callbacks: Sequence[Any] = (),
) -> StageResult:
    """Fine-tune the model in `model_dir` on `examples` with TRL's `SFTTrainer`; write it under `output_dir`.

    Returns where the merged model (`output_dir/model`) and the LoRA adapter (LoRA only) went, with the
    metrics. `callbacks` are transformers `TrainerCallback`s. Raises `EmptyDatasetError` without examples and
    `CheckpointError` for an unusable `model_dir`.
    """
    from trl import SFTConfig, SFTTrainer

    config = config or TrainConfig()
    if not examples:
        raise EmptyDatasetError(
            "no RFT examples to train on: no successful episode yet; collect more, or set "
            "TrainConfig.data.include_failed_steps=True to use the steps search judged good"
        )
    out = Path(output_dir)
    model, tokenizer = load_for_training(model_dir, what=f"the model in {model_dir}")
    args = SFTConfig(
        **trl_arguments(config.rft, config, out / "trl", progress=progress),
        completion_only_loss=True,  # learn the action, not the observation
        packing=False,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=examples_to_trl(examples),
        processing_class=tokenizer,
        peft_config=lora_config(config.lora, model) if config.finetune == "lora" else None,
        callbacks=list(callbacks) or None,
    )
    return run_stage("rft", trainer, tokenizer, out, progress=progress, extra={"train/rft_examples": len(examples)})
