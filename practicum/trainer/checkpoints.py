"""Policy checkpoints on disk: checking them, loading them for training, and writing a trained one.

A checkpoint is a plain transformers model directory (config, safetensors weights, tokenizer, generation
config) plus `practicum.json`, which names the base model the lineage started from and that model's
architecture signature. Loading a checkpoint for a policy compares both, so a directory that went missing or
holds another model fails with a `CheckpointError` before any training starts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from practicum.trainer.config import LoraSettings
from practicum.trainer.errors import CheckpointError

if TYPE_CHECKING:
    from peft import LoraConfig

MANIFEST = "practicum.json"

# The config.json fields that identify an architecture: a checkpoint whose values differ cannot have been
# trained from the same base model.
SIGNATURE_KEYS: tuple[str, ...] = (
    "model_type",
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
)


def model_signature(model_dir: str | Path) -> dict[str, Any]:
    """The architecture fields of a model directory's config.json (see `SIGNATURE_KEYS`)."""
    config = _read_json(Path(model_dir) / "config.json", "model config")
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else None
    source = {**config, **(text or {})}
    return {key: source.get(key) for key in SIGNATURE_KEYS}


def read_manifest(model_dir: str | Path) -> dict[str, Any] | None:
    """The checkpoint's `practicum.json`, or None for a directory practicum did not write (a base model)."""
    path = Path(model_dir) / MANIFEST
    if not path.is_file():
        return None
    return _read_json(path, "checkpoint manifest")


def write_manifest(model_dir: str | Path, manifest: Mapping[str, Any]) -> None:
    """Write `practicum.json` into a checkpoint directory."""
    (Path(model_dir) / MANIFEST).write_text(json.dumps(dict(manifest), indent=2, sort_keys=True) + "\n")


def check_checkpoint(
    path: str | Path | None,
    *,
    what: str,
    base_model: str | None = None,
    signature: Mapping[str, Any] | None = None,
) -> Path:
    """The checkpoint directory `path`, after checking that it is complete and belongs to `base_model`.

    `what` names the checkpoint in messages ("policy 3"). With `base_model`, a manifest naming another base
    model is refused; with `signature`, so is a config whose architecture fields differ.
    """
    if path is None or str(path) == "":
        raise CheckpointError(f"{what} has no checkpoint path; train or register it with a model directory first")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        raise CheckpointError(
            f"{what}'s checkpoint {directory} does not exist; restore the directory or re-export the policy"
        )
    if not (directory / "config.json").is_file():
        raise CheckpointError(f"{what}'s checkpoint {directory} has no config.json; it is not a model directory")
    if not any(directory.glob("*.safetensors")) and not any(directory.glob("*.bin")):
        raise CheckpointError(f"{what}'s checkpoint {directory} holds no weights (*.safetensors); it is incomplete")
    manifest = read_manifest(directory)
    if base_model is not None and manifest is not None and manifest.get("base_model") != base_model:
        raise CheckpointError(
            f"{what}'s checkpoint {directory} was trained from base model {manifest.get('base_model')!r}, "
            f"not {base_model!r}; point the policy at a checkpoint of its own lineage"
        )
    if signature is not None:
        found = model_signature(directory)
        diff = {k: (signature.get(k), found.get(k)) for k in SIGNATURE_KEYS if signature.get(k) != found.get(k)}
        if diff:
            shown = ", ".join(f"{k}: expected {a!r}, found {b!r}" for k, (a, b) in diff.items())
            raise CheckpointError(
                f"{what}'s checkpoint {directory} is another model than its base ({shown}); "
                "point the policy at a checkpoint of its own lineage"
            )
    return directory


def load_for_training(model_dir: str | Path, *, what: str = "the model") -> tuple[Any, Any]:
    """`(model, tokenizer)` from a model directory in float32, ready for a TRL trainer.

    The tokenizer gets a pad token (its EOS) when it has none: both TRL trainers need one.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = check_checkpoint(model_dir, what=what)
    try:
        import torch

        tokenizer = AutoTokenizer.from_pretrained(directory)
        model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot load {what} from {directory}: {exc}") from exc
    if tokenizer.eos_token is None:
        raise CheckpointError(f"the tokenizer in {directory} has no eos_token; set one in tokenizer_config.json")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def lora_config(settings: LoraSettings, model: Any) -> LoraConfig:
    """The peft `LoraConfig` for `settings`: a causal LM adapter on `model` (whose block count `top_layers`
    reads)."""
    from peft import LoraConfig

    modules: str | list[str] = (
        "all-linear" if settings.target_modules == ("all-linear",) else list(settings.target_modules)
    )
    layers = None
    if settings.top_layers:
        blocks = getattr(model.config, "num_hidden_layers", None)
        if not isinstance(blocks, int) or blocks < 1:
            raise CheckpointError(
                f"the model's config has no usable num_hidden_layers ({blocks!r}) to pick its top blocks from; "
                "set TrainConfig.lora.top_layers to 0"
            )
        layers = list(range(max(blocks - settings.top_layers, 0), blocks))
        if modules == "all-linear":  # peft picks blocks only from a list of names
            modules = _linear_names(model)
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=modules,
        layers_to_transform=layers,
        task_type="CAUSAL_LM",
    )


def _linear_names(model: Any) -> list[str]:
    """The names of `model`'s linear layers (the last part of each module path), the output head left out."""
    import torch

    return sorted(
        {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)} - {"lm_head"}
    )


def save_trained(model: Any, tokenizer: Any, output_dir: str | Path) -> tuple[Path, Path | None]:
    """Write a trained model as `output_dir/model` (merged, plain transformers) and, for a peft model, the
    adapter alone as `output_dir/adapter`; return both paths (the adapter's is None without peft)."""
    from peft import PeftModel

    out = Path(output_dir)
    model_dir, adapter_dir = out / "model", None
    if isinstance(model, PeftModel):
        adapter_dir = out / "adapter"
        model.save_pretrained(str(adapter_dir))
        tokenizer.save_pretrained(adapter_dir)
        model = model.merge_and_unload()
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    return model_dir, adapter_dir


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} is missing; the {what} is needed to load this checkpoint") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read the {what} {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"the {what} {path} is not a JSON object")
    return data
