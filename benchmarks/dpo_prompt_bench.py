"""What running each DPO pair's prompt once (not once per side) saves, side by side, on two games' pairs.

TRL's DPO step runs a pair's chosen and rejected sequences as two rows, each the whole prompt then the move;
`practicum.trainer.shared_prompt` runs the prompt once and both moves after it through the key/value cache. This
benchmark trains one DPO pass on the same pairs from the default model both ways, each in its own process, and
reports the stage's seconds and its losses (which should agree to rounding):
- `frozenlake`: the FrozenLake pairs head_bench.py makes from a default run's kept rows;
- `tictactoe`: the first `--pairs` step pairs of a stored tic-tac-toe practice run (learning.py's seed 0), the
  prompts practice trains on (~230 tokens), from the warmed-up model that collected them (their stored
  log-probs are its own).

    .venv/bin/python benchmarks/dpo_prompt_bench.py      # writes benchmarks/results/dpo_prompt.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(ROOT / "benchmarks"))
from head_bench import ROWS, make_data  # noqa: E402
from train_bench import bench_pairs, run_in_own_process  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "dpo_prompt.json"
TTT_STORE = ROOT / "benchmarks" / "results" / "learning-runs" / "tictactoe-agentq-seed0.db"
WAYS = ("twice", "once")


def tictactoe_pairs(store_path: Path, most: int) -> list[dict[str, Any]]:
    """The first `most` step pairs practice mines from a stored tic-tac-toe run, with their stored log-probs."""
    from practicum.loop.config import config_from_dict
    from practicum.store import open_store
    from practicum.trainer.datasets import build_datasets

    settings = config_from_dict({"suite": "tictactoe"}).train.data
    with open_store(f"sqlite:///{store_path}", create=False, upgrade=False) as store:
        pairs = build_datasets(store, settings=settings, run_id=1).step_pairs.rows[:most]
    return [
        {
            "prompt": p.prompt,
            "chosen": p.chosen.action,
            "rejected": p.rejected.action,
            "chosen_logprob": p.chosen.logprob,
            "rejected_logprob": p.rejected.logprob,
        }
        for p in pairs
    ]


def tictactoe_warm_up(model_dir: Path) -> Path:
    """The tic-tac-toe format warm-up practice starts from (found where learning.py keeps it, else trained)."""
    from learning import CHECKPOINTS

    from practicum.envs.registry import get_suite
    from practicum.loop.config import config_from_dict
    from practicum.loop.warmup import warm_up

    config = config_from_dict({"suite": "tictactoe"})
    return Path(warm_up(model_dir, get_suite("tictactoe"), config.warmup, CHECKPOINTS, print))


def run_config(way: str, model_dir: Path, data_file: Path, out_file: Path) -> None:
    """Train one DPO pass over the pairs in `data_file`, the prompt run `way`; write its seconds and losses."""
    import practicum.trainer.dpo_trainer as dpo_trainer
    from practicum.trainer.config import DPOSettings, TrainConfig
    from practicum.trainer.dpo import train_dpo

    if way == "twice":  # TRL's own step: each side's row holds the whole prompt
        dpo_trainer.shared_prompt = lambda backbone: contextlib.nullcontext()  # type: ignore[assignment]
    pairs = bench_pairs(json.loads(data_file.read_text()))
    config = TrainConfig(dpo=DPOSettings(epochs=1, reference="stored"))
    with tempfile.TemporaryDirectory() as work:
        started = time.perf_counter()
        result = train_dpo(model_dir, pairs, work, config, policy_id=1)
        out_file.write_text(
            json.dumps(
                {
                    "pairs": len(pairs),
                    "stage_seconds": round(time.perf_counter() - started, 2),
                    "train_seconds": round(result.metrics["train/dpo_seconds"], 2),
                    "loss_first": result.metrics.get("train/dpo_loss_first"),
                    "loss_last": result.metrics.get("train/dpo_loss_last"),
                }
            )
        )


def measure(most: int) -> dict[str, Any]:
    """Both ways on both games' pairs, each in its own process; the report."""
    import torch
    from transformers import AutoTokenizer

    from practicum.agents.default import default_model_dir

    model_dir = default_model_dir()
    models = {"frozenlake": model_dir, "tictactoe": tictactoe_warm_up(model_dir)}
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake.json"
        make_data(model_dir, ROWS, lake)
        games = {
            "frozenlake": json.loads(lake.read_text())["pairs"],
            "tictactoe": tictactoe_pairs(TTT_STORE, most),
        }
        for game, pairs in games.items():
            data = Path(tmp) / f"{game}-pairs.json"
            data.write_text(json.dumps(pairs))
            runs = {}
            for way in WAYS:
                args = ["--model-dir", str(models[game]), "--data", str(data)]
                runs[way] = run_in_own_process(__file__, way, args, Path(tmp) / f"{game}-{way}.json", quiet=True)
                print(game, way, runs[way], flush=True)
            tokens = [len(tokenizer(p["prompt"], add_special_tokens=False)["input_ids"]) for p in pairs]
            report[game] = {
                "mean_prompt_tokens": round(sum(tokens) / len(tokens), 1),
                **runs,
                "speedup_train_seconds": round(runs["twice"]["train_seconds"] / runs["once"]["train_seconds"], 2),
            }
    return {
        "benchmark": "one DPO pass, each pair's prompt run twice (TRL) vs once (shared_prompt)",
        "model": "smollm2-135m-instruct",
        "machine": {"cpus": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__},
        "date": time.strftime("%Y-%m-%d"),
        "games": report,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=WAYS, help="(internal) run one way in this process")
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--data", type=Path)
    parser.add_argument("--pairs", type=int, default=48, help="tic-tac-toe pairs to train on")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.config:
        run_config(args.config, args.model_dir, args.data, args.out)
    else:
        report = measure(args.pairs)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
        print(json.dumps({g: r["speedup_train_seconds"] for g, r in report["games"].items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
