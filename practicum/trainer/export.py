"""Exporting a policy: a merged model anyone can load, the LoRA adapter alone, and its training data.

`export_policy(store, policy_id, out_dir)` writes
- `out_dir/model/`: a plain transformers directory (safetensors, config, tokenizer, generation config) that
  `AutoModelForCausalLM.from_pretrained` loads without practicum or peft, with a model card `README.md`
  listing its evaluations, its lineage and the training rounds that made it;
- `out_dir/adapter/`: the LoRA adapter of the last round alone (when it was LoRA-trained), relative to the
  parent policy's weights;
- `out_dir/datasets/`: the datasets the last round trained on (JSONL in TRL's formats + their spec).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from practicum.errors import ConfigError
from practicum.store import Store, queries
from practicum.store.models import Eval, Policy, TrainingRound
from practicum.trainer.checkpoints import check_checkpoint
from practicum.trainer.promotion import wilson_interval

CARD = "README.md"


@dataclass(frozen=True)
class ExportResult:
    """Where an export went; `adapter_dir` / `datasets_dir` are None when the policy has none."""

    model_dir: Path
    adapter_dir: Path | None
    datasets_dir: Path | None
    card: Path


def export_policy(
    store: Store, policy_id: int | str, out_dir: str | Path, *, include_datasets: bool = True, overwrite: bool = False
) -> ExportResult:
    """Export a stored policy to `out_dir` (see the module docstring); return the paths written.

    Refuses a non-empty `out_dir` unless `overwrite`, and a policy whose checkpoint is missing or belongs to
    another base model (`CheckpointError`).
    """
    out = Path(out_dir).expanduser()
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise ConfigError(f"{out} is not empty; choose a new directory or pass overwrite=True")
        shutil.rmtree(out)
    with store.session() as s:
        policy = queries.get_policy(s, policy_id)
        lineage = queries.lineage(s, policy)
        rounds = list(
            s.scalars(
                select(TrainingRound)
                .where(TrainingRound.policy_out_id.in_([p.id for p in lineage]))
                .order_by(TrainingRound.id)
            )
        )
        evals = list(s.scalars(select(Eval).where(Eval.policy_id == policy.id).order_by(Eval.id)))
    root = lineage[-1]
    checkpoint = check_checkpoint(
        policy.checkpoint_path,
        what=f"policy {policy.id} ({policy.name})",
        base_model=policy.base_model,
        signature=(root.metrics or {}).get("signature") or (policy.metrics or {}).get("signature"),
    )
    model_dir = out / "model"
    shutil.copytree(checkpoint, model_dir)
    metrics = policy.metrics or {}
    adapter_dir = _copy_if_dir(metrics.get("adapter_path"), out / "adapter")
    datasets_dir = _copy_if_dir(metrics.get("datasets_dir"), out / "datasets") if include_datasets else None
    card = model_dir / CARD
    card.write_text(model_card(policy, lineage, rounds, evals, has_adapter=adapter_dir is not None))
    return ExportResult(model_dir, adapter_dir, datasets_dir, card)


def _copy_if_dir(source: str | None, target: Path) -> Path | None:
    if not source or not Path(source).is_dir():
        return None
    shutil.copytree(source, target)
    return target


def model_card(
    policy: Policy, lineage: list[Policy], rounds: list[TrainingRound], evals: list[Eval], *, has_adapter: bool
) -> str:
    """The model card: front matter for the Hugging Face Hub, then evals, lineage and training rounds."""
    recipes = sorted({r.recipe for r in rounds})
    tags = ["practicum", "agent", "mcts", *(["trl"] if rounds else []), *recipes]
    lines = [
        "---",
        f"base_model: {json.dumps(policy.base_model)}",
        "library_name: transformers",
        "tags:",
        *[f"- {t}" for t in dict.fromkeys(tags)],
        "---",
        "",
        f"# {policy.name}",
        "",
        f"A practicum policy (id {policy.id}, iteration {policy.iteration}, state `{policy.state}`), trained from "
        f"base model `{policy.base_model}` by practising tasks with Monte Carlo tree search and self-critique, "
        "then learning from the search trees with TRL.",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        'model = AutoModelForCausalLM.from_pretrained("path/to/model")',
        'tokenizer = AutoTokenizer.from_pretrained("path/to/model")',
        "```",
        "",
        "## Evaluations",
        "",
    ]
    if evals:
        lines += [
            "| suite | split | mode | tasks | solved | success rate | 95% Wilson interval |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in evals:
            low, high = wilson_interval(e.successes, e.n_tasks)
            lines.append(
                f"| {e.suite} | {e.split} | {e.mode} | {e.n_tasks} | {e.successes} | {e.success_rate:.3f} | "
                f"[{low:.3f}, {high:.3f}] |"
            )
    else:
        lines.append("No evaluation recorded for this policy.")
    promotion = (policy.metrics or {}).get("promotion")
    if promotion:
        lines += ["", "### Promotion decision", ""]
        for mode, d in promotion.items():
            lines.append(
                f"- {mode}: {'promoted' if d.get('promote') else 'not promoted'}: {d.get('reason')}; newly failed: "
                f"{', '.join(d.get('negative_flips') or []) or 'none'}; newly solved: "
                f"{', '.join(d.get('positive_flips') or []) or 'none'}"
            )
    lines += ["", "## Lineage", "", "| policy | id | iteration | state | parent |", "|---|---|---|---|---|"]
    for p in lineage:
        lines.append(f"| {p.name} | {p.id} | {p.iteration} | {p.state} | {p.parent_id if p.parent_id else '-'} |")
    lines += ["", "## Training rounds", ""]
    if rounds:
        lines += ["| round | recipe | policy in -> out | status | data | result |", "|---|---|---|---|---|---|"]
        for r in rounds:
            sizes = ", ".join(f"{k}: {v.get('rows', 0)}" for k, v in (r.config or {}).get("datasets", {}).items())
            lines.append(
                f"| {r.id} | {r.recipe} | {r.policy_in_id} -> {r.policy_out_id} | {r.status} | {sizes} | "
                f"{_round_result(r.metrics or {})} |"
            )
    else:
        lines.append("None: this is a base policy.")
    lines += [
        "",
        "## Files",
        "",
        "- this directory: the merged model (safetensors, tokenizer, generation config);",
        "- `../adapter/`: the LoRA adapter of the last round alone, relative to the parent policy's weights;"
        if has_adapter
        else "- no adapter: the last round fine-tuned every weight, or this is a base policy;",
        "- `../datasets/`: the datasets of the last round (JSONL in TRL's formats, with their sources).",
        "",
    ]
    return "\n".join(lines)


def _round_result(metrics: dict[str, Any]) -> str:
    if metrics.get("skipped"):
        return f"skipped: {metrics.get('reason')}"
    if "error" in metrics:
        return f"failed: {metrics['error']}"
    parts = []
    for stage in ("rft", "dpo"):
        first, last = metrics.get(f"train/{stage}_loss_first"), metrics.get(f"train/{stage}_loss_last")
        if first is not None and last is not None:
            parts.append(f"{stage} loss {first:.3f} -> {last:.3f}")
        margin = metrics.get(f"train/{stage}_margin_last")
        if margin is not None:
            parts.append(f"{stage} margin {margin:.3f}")
    return "; ".join(parts) or "-"
