"""DPO with TRL's `DPOTrainer`, LoRA by default, and the behaviour log-probs of the tree as reference.

Off-policy DPO needs log pi_ref(completion | prompt) for both sides of every pair. Search already logged the
behaviour policy's log-prob of every action it proposed (`nodes.prior_logprob`: the sum over the action's
tokens and the end-of-turn token, the same tokens TRL scores). With `DPOSettings.reference = "stored"` those
values become TRL's `ref_chosen_logps` / `ref_rejected_logps` columns and no reference model is loaded or run:

- TRL 1.16 reads those columns only with `precompute_ref_log_probs=True`, and then recomputes them anyway
  (and fails on the duplicate columns). `StoredReferenceDPOTrainer._precompute_ref_logps` keeps the given
  values and lets TRL compute only the missing ones (pairs without stored log-probs, e.g. trajectory pairs
  whose two episodes two different policies collected).
- Before training it recomputes a few pairs that the policy being trained collected itself with TRL's own
  code and compares. If they disagree (another tokenisation, another prompt format), every reference value is
  recomputed and the reason is recorded: a wrong reference silently skews DPO, so it is never trusted blind.

Pairs collected by an older policy (replay) keep that policy's log-probs as their reference, which is the
off-policy DPO this module is for.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from practicum.trainer.checkpoints import load_for_training, lora_config, save_trained
from practicum.trainer.config import DPOSettings, TrainConfig
from practicum.trainer.errors import EmptyDatasetError
from practicum.trainer.mining import PreferencePair
from practicum.trainer.stages import (
    StageResult,
    json_safe_history,
    library_bars,
    quiet,
    summarize,
    trl_arguments,
)

REF_COLUMNS: tuple[str, str] = ("ref_chosen_logps", "ref_rejected_logps")
CHECK_COLUMN = "reference_is_behaviour"  # True where the stored values must equal the model's own


@functools.cache
def stored_reference_trainer() -> Any:
    """The `StoredReferenceDPOTrainer` class (a `trl.DPOTrainer`), defined on first use: TRL takes seconds to
    import, and commands that do not train should not pay for it."""
    import torch
    from trl import DPOTrainer

    class StoredReferenceDPOTrainer(DPOTrainer):
        """TRL's `DPOTrainer` that keeps reference log-probs given as dataset columns (NaN = compute it).

        `reference_tolerance` bounds |stored - TRL's value| on the rows marked `reference_is_behaviour`; beyond
        it every row is recomputed. What happened is in `reference_report`.
        """

        def __init__(self, *args: Any, reference_tolerance: float = 0.05, verify_rows: int = 2, **kwargs: Any):
            self.reference_tolerance = reference_tolerance
            self.verify_rows = verify_rows
            self.reference_report: dict[str, Any] = {"source": "model"}
            super().__init__(*args, **kwargs)

        def _precompute_ref_logps(self, dataset: Any, name: str, batch_size: int) -> Any:
            if not all(c in dataset.column_names for c in REF_COLUMNS):
                return super()._precompute_ref_logps(dataset, name, batch_size)
            chosen = [_nan_if_none(v) for v in dataset[REF_COLUMNS[0]]]
            rejected = [_nan_if_none(v) for v in dataset[REF_COLUMNS[1]]]
            missing = [i for i in range(len(dataset)) if math.isnan(chosen[i]) or math.isnan(rejected[i])]
            marked = dataset[CHECK_COLUMN] if CHECK_COLUMN in dataset.column_names else [False] * len(dataset)
            unknown = set(missing)
            check = [i for i in range(len(dataset)) if marked[i] and i not in unknown][: self.verify_rows]
            report: dict[str, Any] = {
                "source": "stored",
                "stored_rows": len(dataset) - len(missing),
                "computed_rows": len(missing),
                "checked_rows": len(check),
                "max_abs_diff": None,
                "recomputed_all": False,
            }
            todo = sorted(set(missing) | set(check))
            if todo:
                got_c, got_r = self._compute(dataset, todo, name, batch_size)
                diffs = [
                    max(abs(chosen[i] - got_c[j]), abs(rejected[i] - got_r[j]))
                    for j, i in enumerate(todo)
                    if i in check
                ]
                if diffs:
                    report["max_abs_diff"] = max(diffs)
                if diffs and max(diffs) > self.reference_tolerance:
                    # The stored values do not cover what TRL scores: trust none of them.
                    report["recomputed_all"] = True
                    report["reason"] = (
                        f"stored behaviour log-probs differ from the model's by up to {max(diffs):.4f} nats "
                        f"(tolerance {self.reference_tolerance}); all reference log-probs were recomputed"
                    )
                    todo = list(range(len(dataset)))
                    report["stored_rows"], report["computed_rows"] = 0, len(todo)
                    got_c, got_r = self._compute(dataset, todo, name, batch_size)
                for j, i in enumerate(todo):
                    chosen[i], rejected[i] = got_c[j], got_r[j]
            self.reference_report = report
            dataset = dataset.remove_columns(list(REF_COLUMNS))
            dataset = dataset.add_column(REF_COLUMNS[0], chosen)
            return dataset.add_column(REF_COLUMNS[1], rejected)

        def _compute(
            self, dataset: Any, rows: list[int], name: str, batch_size: int
        ) -> tuple[list[float], list[float]]:
            """TRL's own reference log-probs for `rows` of `dataset`."""
            subset = dataset.select(rows).remove_columns(list(REF_COLUMNS))
            with torch.no_grad():
                done = super()._precompute_ref_logps(subset, name, batch_size)
            return [float(v) for v in done[REF_COLUMNS[0]]], [float(v) for v in done[REF_COLUMNS[1]]]

    return StoredReferenceDPOTrainer


def _nan_if_none(value: Any) -> float:
    return math.nan if value is None else float(value)


def pairs_to_trl(
    pairs: Sequence[PreferencePair], tokenizer: Any, *, stored_reference: bool, policy_id: int | None = None
) -> Any:
    """A `datasets.Dataset` of standard-format preference rows for `DPOTrainer`.

    Every pair (step or trajectory) is text: the exact prompt the policy saw and two actions, so DPO trains
    on the agent's own actions only. With `stored_reference`, the behaviour log-probs become `ref_chosen_logps` /
    `ref_rejected_logps` (NaN where a pair has none), and `reference_is_behaviour` marks the rows that
    `policy_id` collected itself, whose stored values must match the model being trained.
    """
    import datasets

    rows: list[dict[str, Any]] = []
    for pair in pairs:
        row: dict[str, Any] = {"prompt": pair.prompt, "chosen": pair.chosen, "rejected": pair.rejected}
        if stored_reference:
            have = pair.chosen_logprob is not None and pair.rejected_logprob is not None
            row[REF_COLUMNS[0]] = _nan_if_none(pair.chosen_logprob if have else None)
            row[REF_COLUMNS[1]] = _nan_if_none(pair.rejected_logprob if have else None)
            row[CHECK_COLUMN] = bool(
                have and policy_id is not None and pair.chosen_policy_id == policy_id == pair.rejected_policy_id
            )
        rows.append(row)
    return datasets.Dataset.from_list(rows)


def _precompute_pays(rows: int, settings: DPOSettings) -> bool:
    """Whether one reference pass per pair before training is cheaper than one per pair per step.

    Training scores `max_steps * batch_size` pairs (or `epochs` passes); when that is at least the number of
    pairs, as in a practice round over a few well-visited pairs, each pair would meet the reference more than
    once. Precomputed, the reference (the adapter-free base under LoRA, the untrained copy under full
    fine-tuning) is the same network, so the loss is unchanged.
    """
    scored = settings.max_steps * settings.batch_size if settings.max_steps else settings.epochs * rows
    return rows <= scored


def train_dpo(
    model_dir: str | Path,
    pairs: Sequence[PreferencePair],
    output_dir: str | Path,
    config: TrainConfig | None = None,
    *,
    policy_id: int | None = None,
    progress: bool = False,
    callbacks: Sequence[Any] = (),
) -> StageResult:
    """Train the model in `model_dir` on `pairs` with TRL's `DPOTrainer`; write it under `output_dir`.

    `policy_id` is the store id of the policy whose weights are in `model_dir`: pairs it collected itself are
    the ones whose stored log-probs are checked against the model. Returns where the merged model
    (`output_dir/model`) and the LoRA adapter (`output_dir/adapter`, LoRA only) went, with the metrics.
    `callbacks` are transformers `TrainerCallback`s (progress, timing). Raises `EmptyDatasetError` without
    pairs and `CheckpointError` for an unusable `model_dir`.
    """
    from trl import DPOConfig

    config = config or TrainConfig()
    settings = config.dpo
    if not pairs:
        raise EmptyDatasetError(
            "no preference pairs to train on; collect more episodes, or lower TrainConfig.data.step_margin"
        )
    out = Path(output_dir)
    model, tokenizer = load_for_training(model_dir, what=f"the model in {model_dir}")
    stored = settings.reference == "stored"
    dataset = pairs_to_trl(pairs, tokenizer, stored_reference=stored, policy_id=policy_id)
    args = DPOConfig(
        **trl_arguments(settings, config, out / "trl", progress=progress),
        beta=settings.beta,
        loss_type=[settings.loss_type, "sft"] if settings.sft_weight > 0 else [settings.loss_type],
        loss_weights=[1.0, settings.sft_weight] if settings.sft_weight > 0 else None,
        precompute_ref_log_probs=stored or _precompute_pays(len(dataset), settings),
        # Small models: dropout off so the policy and the reference see the same network (TRL's default too).
        disable_dropout=True,
    )
    with library_bars(progress=progress):  # TRL makes the reference pass while the trainer is built
        trainer = stored_reference_trainer()(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(config.lora) if config.finetune == "lora" else None,
            callbacks=list(callbacks) or None,
            reference_tolerance=settings.reference_tolerance,
            verify_rows=settings.verify_reference_rows,
        )
    quiet(trainer, progress=progress)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    model_out, adapter_out = save_trained(trainer.model, tokenizer, out)
    history = json_safe_history(trainer.state.log_history)
    metrics = summarize("dpo", history, steps=int(trainer.state.global_step), seconds=seconds)
    metrics["train/dpo_pairs"] = len(pairs)
    metrics["train/dpo_reference"] = {**trainer.reference_report, "precomputed": bool(args.precompute_ref_log_probs)}
    return StageResult("dpo", model_out, adapter_out, metrics, history)
