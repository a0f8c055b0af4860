"""DPO with TRL's `DPOTrainer`, LoRA by default, and the behaviour log-probs of the tree as reference.

Off-policy DPO needs log pi_ref(completion | prompt) for both sides of every pair. Search already logged the
behaviour policy's log-prob of every action it proposed (`nodes.prior_logprob`: the sum over the action's
tokens and the end-of-turn token, the same tokens TRL scores). With `DPOSettings.reference = "stored"` those
values become TRL's `ref_chosen_logps` / `ref_rejected_logps` columns and no reference model is loaded or run:

- TRL 1.16 reads those columns only with `precompute_ref_log_probs=True`, and then recomputes them anyway
  (and fails on the duplicate columns). `dpo_trainer.StoredReferenceDPOTrainer` keeps the given
  values and lets TRL compute only the missing ones (pairs without stored log-probs, e.g. trajectory pairs
  whose two episodes two different policies collected).
- Before training it recomputes a few pairs that the policy being trained collected itself with TRL's own
  code and compares. If they disagree (another tokenisation, another prompt format), every reference value is
  recomputed and the reason is recorded: a wrong reference silently skews DPO, so it is never trusted blind.

Pairs collected by an older policy (replay) keep that policy's log-probs as their reference, which is the
off-policy DPO this module is for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practicum.trainer.checkpoints import load_for_training, lora_config
from practicum.trainer.config import DPOSettings, TrainConfig
from practicum.trainer.errors import EmptyDatasetError
from practicum.trainer.mining import PreferencePair
from practicum.trainer.stages import StageResult, completion_positions_only, library_bars, run_stage, trl_arguments

if TYPE_CHECKING:
    from datasets import Dataset


def pairs_to_trl(
    pairs: Sequence[PreferencePair], tokenizer: Any, *, stored_reference: bool, policy_id: int | None = None
) -> Dataset:
    """A `datasets.Dataset` of standard-format preference rows for `DPOTrainer`.

    Every pair (step or trajectory) is text: the exact prompt the policy saw and two actions, so DPO trains
    on the agent's own actions only. With `stored_reference`, the behaviour log-probs become `ref_chosen_logps` /
    `ref_rejected_logps` (NaN where a pair has none), and `reference_is_behaviour` marks the rows that
    `policy_id` collected itself, whose stored values must match the model being trained.
    """
    import datasets

    from practicum.trainer.dpo_trainer import CHECK_COLUMN, REF_COLUMNS, nan_if_none

    rows: list[dict[str, Any]] = []
    for pair in pairs:
        row: dict[str, Any] = {"prompt": pair.prompt, "chosen": pair.chosen.action, "rejected": pair.rejected.action}
        if stored_reference:
            have = pair.chosen.logprob is not None and pair.rejected.logprob is not None
            row[REF_COLUMNS[0]] = nan_if_none(pair.chosen.logprob if have else None)
            row[REF_COLUMNS[1]] = nan_if_none(pair.rejected.logprob if have else None)
            row[CHECK_COLUMN] = bool(
                have and policy_id is not None and pair.chosen.policy_id == policy_id == pair.rejected.policy_id
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

    from practicum.trainer.dpo_trainer import StoredReferenceDPOTrainer

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
    # TRL makes the reference pass while the trainer is built
    with library_bars(progress=progress), completion_positions_only():
        trainer = StoredReferenceDPOTrainer(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=lora_config(config.lora, model) if config.finetune == "lora" else None,
            callbacks=list(callbacks) or None,
            reference_tolerance=settings.reference_tolerance,
            verify_rows=settings.verify_reference_rows,
        )
    reference = {**trainer.reference_report, "precomputed": bool(args.precompute_ref_log_probs)}
    extra = {"train/dpo_pairs": len(pairs), "train/dpo_reference": reference}
    return run_stage("dpo", trainer, tokenizer, out, progress=progress, extra=extra)
