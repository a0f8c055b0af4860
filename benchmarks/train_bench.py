"""DPO step cost on the default model: full fine-tuning with a reference model vs LoRA, two ways.

Three configurations of `practicum.trainer.dpo.train_dpo` on SmolLM2-135M-Instruct, the same pairs for all:
- `full_ref`: full fine-tuning with a frozen reference model (TRL's default);
- `lora_adapter_ref`: LoRA, the reference is the base model with the adapter disabled (one extra forward);
- `lora_stored_ref`: LoRA, the reference log-probs are the behaviour log-probs search stored (no reference pass).

Each configuration runs in its own subprocess, so its peak memory is its own. Seconds per step are the mean
over the optimizer steps after the first (warm-up); peak RSS is sampled during training (and the process's
lifetime peak is reported too). The behaviour log-probs are computed once up front with the policy's own
scorer, as search would have logged them; that cost is collection's, not training's.

Since `train_dpo` makes the reference pass once before the steps whenever each pair would meet the reference
more than once (true here: 24 pairs, 6 steps of 4), the steps of all three configurations carry no reference
forward, and the reference cost shows in `stage_seconds` (the whole `train_dpo` call) instead.

    .venv/bin/python benchmarks/train_bench.py            # writes benchmarks/results/train.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "train.json"
CONFIGS = ("full_ref", "lora_adapter_ref", "lora_stored_ref")
STEPS = 6
BATCH = 4  # pairs per optimizer step...
MICRO_BATCH = 1  # ...fed one pair at a time (gradient accumulation): TRL's CPU log-prob tiles scale with tokens
TARGET_SPEEDUP = 1.5
TARGET_MEMORY_RATIO = 0.6

PRODUCTS = [
    "trail running shoes",
    "waterproof hiking boots",
    "cotton crew socks",
    "wool beanie",
    "rain jacket",
    "fleece pullover",
    "leather belt",
    "canvas backpack",
    "steel water bottle",
    "sun hat",
    "yoga mat",
    "cycling gloves",
    "ski goggles",
    "linen shirt",
    "denim jeans",
    "travel pillow",
]
COLORS = ["red", "blue", "black", "green", "grey", "white", "navy", "olive"]


def make_pairs(model_dir: Path, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` preference pairs with ~150-token prompts (a shop results page, through the policy's chat prompt)
    and ~10-token actions, with the behaviour log-probs the policy's scorer gives them."""
    from practicum.agents import prompts
    from practicum.agents.base import StepContext
    from practicum.agents.local import LocalModel
    from practicum.envs.core import format_observation

    rng = random.Random(seed)
    model = LocalModel(model_dir, device="cpu")
    pairs = []
    for _ in range(n):
        items = rng.sample(PRODUCTS, 3)
        colors = [rng.choice(COLORS) for _ in items]
        prices = [rng.randint(9, 180) for _ in items]
        body = "Search results:\n" + "\n".join(
            f"- {c} {p}, ${price}.00, rated {rng.randint(3, 5)} stars"
            for c, p, price in zip(colors, items, prices, strict=True)
        )
        actions = [f"click[{c} {p}]" for c, p in zip(colors, items, strict=True)] + ["click[next page]"]
        goal = f"Buy {colors[0]} {items[0]} under ${prices[0] + 10}."
        observation = format_observation(goal=goal, body=body, legal_actions=actions, error=None)
        context = StepContext(goal=goal, observation=observation, history=("search[" + items[0] + "]",))
        prompt = model.render(prompts.policy_messages(context))
        chosen, rejected = actions[0], actions[rng.randint(1, len(actions) - 1)]
        chosen_lp, rejected_lp = model.score(prompt, [chosen, rejected]).logprobs
        pairs.append(
            {
                "prompt": prompt,
                "chosen": chosen,
                "rejected": rejected,
                "chosen_logprob": chosen_lp,
                "rejected_logprob": rejected_lp,
                "prompt_tokens": len(model.encode(prompt)),
                "completion_tokens": (len(model.encode(chosen)) + len(model.encode(rejected))) / 2 + 1,
            }
        )
    return pairs


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def bench_pairs(rows: list[dict[str, Any]]) -> list[Any]:
    """`PreferencePair`s of `make_pairs` rows (step pairs, each its own episode, collected by policy 1)."""
    from practicum.trainer.mining import PreferencePair, Side

    return [
        PreferencePair(
            kind="step",
            task=f"bench:{i}",
            prompt=r["prompt"],
            chosen=Side(r["chosen"], i, 1, logprob=r["chosen_logprob"]),
            rejected=Side(r["rejected"], i, 1, logprob=r["rejected_logprob"]),
            margin=1.0,
        )
        for i, r in enumerate(rows)
    ]


def run_config(name: str, model_dir: Path, pairs_file: Path, out_file: Path) -> None:
    """Train one configuration for STEPS steps and write its timings and peak memory (in a fresh process)."""
    from transformers import TrainerCallback

    from practicum.trainer.config import DPOSettings, TrainConfig
    from practicum.trainer.dpo import train_dpo

    pairs = bench_pairs(json.loads(pairs_file.read_text()))
    config = TrainConfig(
        finetune="full" if name == "full_ref" else "lora",
        dpo=DPOSettings(
            learning_rate=1e-5 if name == "full_ref" else 5e-5,
            max_steps=STEPS,
            batch_size=BATCH,
            micro_batch_size=MICRO_BATCH,
            reference="stored" if name == "lora_stored_ref" else "model",
        ),
    )

    class Meter(TrainerCallback):  # type: ignore[misc]
        """Step wall times, and RSS sampled every 20 ms from the start of training to its end."""

        def __init__(self) -> None:
            self.step_seconds: list[float] = []
            self.step_cpu_seconds: list[float] = []
            self.peak_mb = 0.0
            self._started = 0.0
            self._cpu = 0.0
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)

        def _sample(self) -> None:
            while not self._stop.is_set():
                self.peak_mb = max(self.peak_mb, current_rss_mb())
                time.sleep(0.02)

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.peak_mb = current_rss_mb()
            self._thread.start()

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._stop.set()
            self._thread.join()

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._started, self._cpu = time.perf_counter(), time.process_time()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.step_seconds.append(time.perf_counter() - self._started)
            self.step_cpu_seconds.append(time.process_time() - self._cpu)

    meter = Meter()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        stage_started = time.perf_counter()
        result = train_dpo(model_dir, pairs, Path(tmp) / name, config, policy_id=1, callbacks=[meter])
        stage_seconds = time.perf_counter() - stage_started
    timed = meter.step_seconds[1:]  # the first step warms up allocators and kernels
    out_file.write_text(
        json.dumps(
            {
                # The whole stage: loading, the reference pass (made once before the steps when each pair
                # would meet the reference more than once, as here), the steps, merging and saving.
                "stage_seconds": stage_seconds,
                "seconds_per_step": statistics.mean(timed),
                "seconds_per_step_stdev": statistics.stdev(timed) if len(timed) > 1 else 0.0,
                "step_seconds": meter.step_seconds,
                "cpu_seconds_per_step": statistics.mean(meter.step_cpu_seconds[1:]),
                "step_cpu_seconds": meter.step_cpu_seconds,
                "load_average_1min": [load_before, os.getloadavg()[0]],
                "peak_rss_mb_during_training": meter.peak_mb,
                "peak_rss_mb_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "loss_first": result.metrics.get("train/dpo_loss_first"),
                "loss_last": result.metrics.get("train/dpo_loss_last"),
                "reference": result.metrics.get("train/dpo_reference"),
            }
        )
    )


def run_in_own_process(script: str, name: str, args: list[str], out: Path, *, quiet: bool = False) -> dict[str, Any]:
    """Run `script --config NAME ARGS --out OUT` in a fresh Python, so that its memory and warm-up are its own;
    what it wrote to `out`, with the process's wall time (`process_seconds`)."""
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, script, "--config", name, *args, "--out", str(out)], check=True, capture_output=quiet
    )
    result: dict[str, Any] = json.loads(out.read_text())
    result["process_seconds"] = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the three configurations side by side and write benchmarks/results/train.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", choices=CONFIGS, help="(internal) run one configuration in this process")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--pairs", type=Path)
    parser.add_argument("--out", type=Path, help="where to write the results (default benchmarks/results/train.json)")
    parser.add_argument("--threads", type=int, help="torch threads per configuration (default: torch's own choice)")
    args = parser.parse_args(argv)
    if args.config:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        run_config(args.config, args.model_dir, args.pairs, args.out)
        return 0

    import torch

    from practicum.agents.default import default_model_dir

    model_dir = default_model_dir()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pairs_file = Path(tmp) / "pairs.json"
        pairs = make_pairs(model_dir, STEPS * BATCH)
        pairs_file.write_text(json.dumps(pairs))
        for name in CONFIGS:
            threads = ["--threads", str(args.threads)] if args.threads else []
            config_args = ["--model-dir", str(model_dir), "--pairs", str(pairs_file), *threads]
            results[name] = run_in_own_process(__file__, name, config_args, Path(tmp) / f"{name}.json")
            print(
                f"{name}: {results[name]['seconds_per_step']:.2f} s/step, "
                f"{results[name]['peak_rss_mb_during_training']:.0f} MB peak RSS",
                flush=True,
            )
    full, stored = results["full_ref"], results["lora_stored_ref"]
    speedup = full["seconds_per_step"] / stored["seconds_per_step"]
    cpu_speedup = full["cpu_seconds_per_step"] / stored["cpu_seconds_per_step"]
    memory = stored["peak_rss_mb_during_training"] / full["peak_rss_mb_during_training"]
    report = {
        "benchmark": "DPO step cost: full fine-tuning + reference model vs LoRA (adapter-disabled / stored reference)",
        "model": str(model_dir.name),
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": args.threads or torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
        },
        "settings": {
            "steps": STEPS,
            "timed_steps": STEPS - 1,
            "batch_pairs": BATCH,
            "micro_batch_pairs": MICRO_BATCH,
            "dtype": "float32",
            "gradient_checkpointing": False,
            "mean_prompt_tokens": statistics.mean(p["prompt_tokens"] for p in pairs),
            "mean_completion_tokens_with_eos": statistics.mean(p["completion_tokens"] for p in pairs),
        },
        "configurations": results,
        "seconds_per_step": {k: v["seconds_per_step"] for k, v in results.items()},
        "peak_rss_mb": {k: v["peak_rss_mb_during_training"] for k, v in results.items()},
        "speedup_lora_stored_ref_vs_full_ref": speedup,
        "memory_ratio_lora_stored_ref_vs_full_ref": memory,
        "cpu_seconds_speedup_lora_stored_ref_vs_full_ref": cpu_speedup,
        "speedup_lora_adapter_ref_vs_full_ref": full["seconds_per_step"]
        / results["lora_adapter_ref"]["seconds_per_step"],
        "stage_seconds": {k: v["stage_seconds"] for k, v in results.items()},
        "stage_speedup_lora_stored_ref_vs_full_ref": full["stage_seconds"] / stored["stage_seconds"],
        "stage_speedup_lora_stored_ref_vs_lora_adapter_ref": results["lora_adapter_ref"]["stage_seconds"]
        / stored["stage_seconds"],
        "targets": {"speedup_at_least": TARGET_SPEEDUP, "memory_ratio_at_most": TARGET_MEMORY_RATIO},
        "targets_met": speedup >= TARGET_SPEEDUP and memory <= TARGET_MEMORY_RATIO,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    target = args.out or RESULTS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"stage time: full+ref {full['stage_seconds']:.0f} s, LoRA+adapter ref "
        f"{results['lora_adapter_ref']['stage_seconds']:.0f} s, LoRA+stored ref {stored['stage_seconds']:.0f} s"
    )
    print(
        f"speedup {speedup:.2f}x (target >= {TARGET_SPEEDUP}), memory ratio {memory:.2f} "
        f"(target <= {TARGET_MEMORY_RATIO}) -> {target}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
