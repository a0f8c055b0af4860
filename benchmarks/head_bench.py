"""What scoring only the completion through the LM head saves in an RFT and a DPO pass, side by side.

TRL's fused LM head projects every position of a sequence through the head wherever Triton is missing, and
masks the prompt's positions afterwards; `practicum.trainer.stages.completion_positions_only` makes it project
the labelled positions only (TRL's GPU path). This benchmark trains one pass of RFT and one of DPO on the same
FrozenLake rows (the kept rows of a default run, `results/round_fit_rows.jsonl`: 126-token prompts, 1-2-token
moves) from the default model, both ways, each configuration in its own process, and reports the stage's
seconds and its losses (which should agree to rounding: the same log-probs, the same steps).

    .venv/bin/python benchmarks/head_bench.py      # writes benchmarks/results/head.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "benchmarks"))
from train_bench import bench_pairs, run_in_own_process  # noqa: E402

ROWS = ROOT / "benchmarks" / "results" / "round_fit_rows.jsonl"
RESULTS = ROOT / "benchmarks" / "results" / "head.json"
CONFIGS = ("rft-all", "rft-labelled", "dpo-all", "dpo-labelled")


def make_data(model_dir: Path, rows_file: Path, out: Path) -> None:
    """RFT rows and DPO pairs from the kept rows: chosen = the row's move, rejected = another legal move, with
    the behaviour log-probs the policy's scorer gives them (what search stores)."""
    from practicum.agents.local import LocalModel

    rows = [json.loads(line) for line in rows_file.read_text().splitlines() if line.strip()]
    model = LocalModel(model_dir, device="cpu")
    pairs = []
    for row in rows:
        listed = re.findall(r"^\d+\. (\w+)$", row["prompt"], flags=re.MULTILINE)
        rejected = next(a for a in listed if a != row["completion"])
        logprobs = model.score(row["prompt"], [row["completion"], rejected]).logprobs
        pairs.append(
            {
                "prompt": row["prompt"],
                "chosen": row["completion"],
                "rejected": rejected,
                "chosen_logprob": logprobs[0],
                "rejected_logprob": logprobs[1],
            }
        )
    prompt_tokens = sum(len(model.encode(r["prompt"])) for r in rows) / len(rows)
    out.write_text(json.dumps({"rows": rows, "pairs": pairs, "mean_prompt_tokens": prompt_tokens}))


def run_config(name: str, model_dir: Path, data_file: Path, out_file: Path) -> None:
    """Train one pass of one stage, one way, in this process; write its seconds and losses."""
    import practicum.trainer.dpo as dpo
    import practicum.trainer.rft as rft
    import practicum.trainer.stages as stages
    from practicum.trainer.config import DPOSettings, RFTSettings, TrainConfig
    from practicum.trainer.mining import RFTExample

    if name.endswith("-all"):  # TRL's own CPU path: every position through the head
        for module in (stages, dpo):  # the training steps, and DPO's reference pass
            module.completion_positions_only = contextlib.nullcontext  # type: ignore[assignment]
    data = json.loads(data_file.read_text())
    config = TrainConfig(rft=RFTSettings(epochs=1), dpo=DPOSettings(epochs=1, reference="stored"))
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        if name.startswith("rft"):
            examples = [
                RFTExample("success", r["task"], r["prompt"], r["completion"], 0, 0, None, None) for r in data["rows"]
            ]
            result = rft.train_rft(model_dir, examples, work, config)
            count = len(examples)
        else:
            pairs = bench_pairs(data["pairs"])
            result = dpo.train_dpo(model_dir, pairs, work, config, policy_id=1)
            count = len(pairs)
        stage = "rft" if name.startswith("rft") else "dpo"
        out_file.write_text(
            json.dumps(
                {
                    "rows": count,
                    "stage_seconds": round(time.perf_counter() - started, 2),
                    "train_seconds": round(result.metrics[f"train/{stage}_seconds"], 2),
                    "loss_first": result.metrics.get(f"train/{stage}_loss_first"),
                    "loss_last": result.metrics.get(f"train/{stage}_loss_last"),
                }
            )
        )


def measure() -> dict[str, Any]:
    """Every configuration on the same rows, each in its own process; the report."""
    import torch

    from practicum.agents.default import default_model_dir

    model_dir = default_model_dir()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.json"
        make_data(model_dir, ROWS, data)
        for name in CONFIGS:
            config_args = ["--model-dir", str(model_dir), "--data", str(data)]
            results[name] = run_in_own_process(__file__, name, config_args, Path(tmp) / f"{name}.json", quiet=True)
            print(name, results[name], flush=True)
        prompt_tokens = json.loads(data.read_text())["mean_prompt_tokens"]
    return {
        "benchmark": "one RFT pass and one DPO pass, LM head over every position vs the labelled positions only",
        "model": "smollm2-135m-instruct",
        "rows": str(ROWS.relative_to(ROOT)),
        "mean_prompt_tokens": round(prompt_tokens, 1),
        "machine": {"cpus": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d"),
        "configurations": results,
        "speedup_train_seconds": {
            stage: round(results[f"{stage}-all"]["train_seconds"] / results[f"{stage}-labelled"]["train_seconds"], 2)
            for stage in ("rft", "dpo")
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=CONFIGS, help="(internal) run one configuration in this process")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.config:
        run_config(args.config, args.model_dir, args.data, args.out)
    else:
        report = measure()
        args.out.write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps(report["speedup_train_seconds"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
