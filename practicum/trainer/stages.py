"""What DPO and RFT share: the TRL arguments practicum sets, the result of a stage, and its metric summary."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from practicum.environ import set_env
from practicum.trainer.checkpoints import save_trained
from practicum.trainer.config import DPOSettings, RFTSettings, TrainConfig


@dataclass(frozen=True)
class StageResult:
    """One trained stage: where the merged model and the adapter went, and what training logged.

    `metrics` are namespaced (`train/dpo_loss_first`, `train/dpo_margin_last`...) and JSON-safe;
    `log_history` is TRL's per-step log.
    """

    stage: str  # "dpo" or "rft"
    model_dir: Path
    adapter_dir: Path | None
    metrics: dict[str, Any]
    log_history: list[dict[str, Any]] = field(default_factory=list)


def trl_arguments(
    settings: DPOSettings | RFTSettings, config: TrainConfig, output_dir: Path, *, progress: bool
) -> dict[str, Any]:
    """Keyword arguments for `DPOConfig` / `SFTConfig` from practicum's settings.

    TRL's defaults do not suit a CPU machine: bf16 is on (it fails without a GPU unless `use_cpu`), gradient
    checkpointing is on (it slows small models down) and checkpoints are saved every few steps. Nothing is
    saved here: the caller writes the final model itself.
    """
    import torch

    on_gpu = torch.cuda.is_available()
    return {
        "output_dir": str(output_dir),
        "learning_rate": settings.learning_rate,
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps if settings.max_steps > 0 else -1,
        "per_device_train_batch_size": min(settings.micro_batch_size, settings.batch_size),
        "gradient_accumulation_steps": settings.batch_size // min(settings.micro_batch_size, settings.batch_size),
        "max_length": settings.max_length,
        "warmup_steps": float(settings.warmup_ratio),  # a float below 1 is a share of the steps
        "bf16": config.bf16,
        "use_cpu": not on_gpu,
        "activation_checkpointing": config.gradient_checkpointing,  # transformers 5 name; TRL mirrors it
        "seed": config.seed,
        "data_seed": config.seed,
        "logging_steps": config.logging_steps,
        "save_strategy": "no",
        "report_to": list(config.report_to) or "none",
        "disable_tqdm": not progress,
        "dataloader_num_workers": 0,
    }


def summarize(stage: str, log_history: Sequence[Mapping[str, Any]], *, steps: int, seconds: float) -> dict[str, Any]:
    """Per-step metrics at the start and the end of training, plus steps and time, as `train/<stage>_...` keys.

    `_first` is the first step's value (the model before training moved it). `_last` is the mean over the last
    pass through the data (the steps logged within one epoch of the end), not the last step alone: that step
    may hold a remainder of two examples, and its loss once read 0.05 while the model's loss on all of its
    rows was 0.28.
    """
    logged = [h for h in log_history if "loss" in h]
    end = max((float(h["epoch"]) for h in logged if _finite(h.get("epoch"))), default=None)
    last_pass = [h for h in logged if end is None or not _finite(h.get("epoch")) or float(h["epoch"]) > end - 1]
    keys = {
        "loss": "loss",
        "margin": "rewards/margins",
        "reward_accuracy": "rewards/accuracies",
        "logps_chosen": "logps/chosen",
        "logps_rejected": "logps/rejected",
        "token_accuracy": "mean_token_accuracy",
    }
    out: dict[str, Any] = {
        f"train/{stage}_steps": steps,
        f"train/{stage}_seconds": round(seconds, 3),
        f"train/{stage}_seconds_per_step": round(seconds / steps, 4) if steps else None,
    }
    for short, key in keys.items():
        values = [float(h[key]) for h in logged if key in h and _finite(h[key])]
        if values:
            out[f"train/{stage}_{short}_first"] = values[0]
            at_end = [float(h[key]) for h in last_pass if key in h and _finite(h[key])] or values[-1:]
            out[f"train/{stage}_{short}_last"] = sum(at_end) / len(at_end)
    return out


def json_safe_history(log_history: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """TRL's log history with non-finite numbers dropped, so it can go into a JSON column."""
    return [{k: v for k, v in h.items() if not isinstance(v, float) or math.isfinite(v)} for h in log_history]


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(float(value))


def run_stage(
    stage: str, trainer: Any, tokenizer: Any, out: Path, *, progress: bool, extra: Mapping[str, Any]
) -> StageResult:
    """Train a built TRL `trainer` (the LM head over the labelled positions only), save the model it trained (and
    its adapter) under `out`, and sum its log up; `extra` metrics are added as they are."""
    quiet(trainer, progress=progress)
    started = time.perf_counter()
    with completion_positions_only():
        trainer.train()
    seconds = time.perf_counter() - started
    model_out, adapter_out = save_trained(trainer.model, tokenizer, out)
    history = json_safe_history(trainer.state.log_history)
    metrics = {**summarize(stage, history, steps=int(trainer.state.global_step), seconds=seconds), **extra}
    return StageResult(stage, model_out, adapter_out, metrics, history)


def quiet(trainer: Any, *, progress: bool) -> None:
    """Without `progress`, stop transformers from printing every log line (it does when tqdm is off)."""
    if not progress:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)


@contextlib.contextmanager
def library_bars(*, progress: bool) -> Iterator[None]:
    """Without `progress`, keep tqdm bars that only the `TQDM_DISABLE` variable turns off (TRL's reference
    pass draws one) out of the output while the block runs; the variable is restored afterwards."""
    if progress:
        yield
        return
    with set_env("TQDM_DISABLE", "1"):
        yield


@contextlib.contextmanager
def completion_positions_only() -> Iterator[None]:
    """Inside the block, TRL's fused LM head projects only the positions that carry a label.

    TRL 1.16 scores the whole sequence through the head wherever Triton is missing (a fixed tile shape keeps
    graph compilers such as Neuron's from recompiling) and masks the prompt afterwards. On a CPU that makes the
    head over the prompt about half of an RFT or DPO step, for log-probs that are then thrown away. The compact
    path TRL takes on GPUs gives the same log-probs (tests/trainer/test_stages.py checks it) and runs eagerly
    on any device. It is chosen by `trl.trainer.utils._use_triton`, a name that module binds for this choice
    alone (the kernels keep their own), so the block rebinds it and restores it on the way out.
    """
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if original is None:  # another TRL layout: leave its choice alone
        yield
        return
    trl_utils._use_triton = lambda device: True
    try:
        yield
    finally:
        trl_utils._use_triton = original
