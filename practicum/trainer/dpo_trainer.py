"""`StoredReferenceDPOTrainer`: TRL's `DPOTrainer` that trains against reference log-probs given as columns.

TRL 1.16 reads `ref_chosen_logps` / `ref_rejected_logps` only with `precompute_ref_log_probs=True`, and then
recomputes them anyway (and fails on the duplicate columns). This subclass keeps the given values, lets TRL
compute only the missing ones, and checks a few against TRL's own before trusting any (see `practicum.trainer.dpo`).
It also runs each pair's prompt once per step instead of once per side (`practicum.trainer.shared_prompt`).
It overrides TRL's private `_precompute_ref_logps`, which is why pyproject admits only the TRL minor version the
tests run on. Importing this module imports TRL (seconds): `train_dpo` imports it when it trains.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from trl import DPOTrainer

from practicum.trainer.shared_prompt import shared_prompt

REF_COLUMNS: tuple[str, str] = ("ref_chosen_logps", "ref_rejected_logps")
CHECK_COLUMN = "reference_is_behaviour"  # True where the stored values must equal the model's own


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

    def compute_loss(
        self, model: Any, inputs: Any, return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        # Each pair's prompt runs once, not once per side: the same loss for about half a step on long prompts.
        with shared_prompt(_backbone(self.accelerator.unwrap_model(model))):
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )

    def _precompute_ref_logps(self, dataset: Any, name: str, batch_size: int) -> Any:
        if not all(c in dataset.column_names for c in REF_COLUMNS):
            return super()._precompute_ref_logps(dataset, name, batch_size)
        chosen = [nan_if_none(v) for v in dataset[REF_COLUMNS[0]]]
        rejected = [nan_if_none(v) for v in dataset[REF_COLUMNS[1]]]
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
                max(abs(chosen[i] - got_c[j]), abs(rejected[i] - got_r[j])) for j, i in enumerate(todo) if i in check
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

    def _compute(self, dataset: Any, rows: list[int], name: str, batch_size: int) -> tuple[list[float], list[float]]:
        """TRL's own reference log-probs for `rows` of `dataset`."""
        subset = dataset.select(rows).remove_columns(list(REF_COLUMNS))
        with torch.no_grad():
            done = super()._precompute_ref_logps(subset, name, batch_size)
        return [float(v) for v in done[REF_COLUMNS[0]]], [float(v) for v in done[REF_COLUMNS[1]]]


def _backbone(model: Any) -> torch.nn.Module:
    """The decoder under a (peft-wrapped) causal LM: what TRL's fused LM head runs before its head."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.base_model


def nan_if_none(value: Any) -> float:
    """A stored log-prob as a float column value (NaN: none stored, TRL computes it)."""
    return math.nan if value is None else float(value)
