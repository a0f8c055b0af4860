"""Does a FrozenLake round's training learn its own rows? Data and training measured apart, on the same rows.

A practice round writes the rows it trained on (`<checkpoints>/<run>/round-N/datasets/rft.jsonl`). This
benchmark reads them three ways:

- `table`: the test success of a lookup table that plays, per observation in the rows, the move the rows give
  most often (unseen observations: right where legal, else down). No model: what the data alone supports.
- `fit`: the share of the rows' distinct prompts where the trained model's top legal move is one of that
  prompt's labels (a label set holds every tied move). 1.0 means training learned every row it was given.
- the lake probe (`lake_probe.py`): greedy success, optimal top moves and holes avoided on the first test lakes.

It trains RFT on the rows from the format warm-up's model with the practice round's settings, changed with
`--set` (the `train` section, dotted), so that settings are compared on the same rows:

    .venv/bin/python benchmarks/round_fit.py ROUND/datasets/rft.jsonl --label epochs-8 --set rft.epochs=8
    .venv/bin/python benchmarks/round_fit.py ROUND/datasets/rft.jsonl --label rows --table-only

Results are merged into `benchmarks/results/round_fit.json` under the label.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(HERE))
from lake_oracle import MOVES, lakes, legal, votes_success  # noqa: E402
from lake_probe import probe  # noqa: E402
from results_file import save_entry  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "round_fit.json"
_TILES = {"frozen ice": "F", "a hole": "H", "the goal": "G"}
Key = tuple[Any, ...]


def prompt_key(prompt: str) -> Key:
    """The observation a FrozenLake policy prompt holds: its cell and the tile each legal move reaches."""
    found = re.search(r"You are at row (\d+), column (\d+)", prompt)
    near = re.search(r"Next to you: (.*)\.\n", prompt)
    if not found or not near:
        raise ValueError("not a FrozenLake 4x4 policy prompt: it names no cell and no neighbours")
    cell = (int(found.group(1)), int(found.group(2)))
    tiles = re.findall(r"(left|down|right|up) is (frozen ice|a hole|the goal)", near.group(1))
    return (cell, *((move, _TILES[tile]) for move, tile in tiles))


def lake_key(desc: Sequence[str], cell: tuple[int, int]) -> Key:
    """`prompt_key` of the observation at `cell` of the lake `desc` (the start reads as frozen ice)."""
    near = ((m, desc[cell[0] + MOVES[m][0]][cell[1] + MOVES[m][1]].replace("S", "F")) for m in legal(cell, len(desc)))
    return (cell, *near)


def table_success(rows: Sequence[dict[str, Any]], tests: Sequence[Sequence[str]]) -> float:
    """Greedy success on `tests` of the table that plays each observation's most frequent row label."""
    votes: dict[Key, Counter[str]] = defaultdict(Counter)
    for row in rows:
        votes[prompt_key(row["prompt"])][row["completion"]] += 1
    return votes_success(votes, tests, lake_key)


def fit(model_dir: str, rows: Sequence[dict[str, Any]]) -> float:
    """The share of the rows' distinct prompts whose top legal move (by the model) is one of their labels."""
    from practicum.agents.local import LocalModel

    labels: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        labels[row["prompt"]].add(row["completion"])
    model = LocalModel(model_dir)
    hits = 0
    for prompt, wanted in labels.items():
        moves = re.findall(r"^\d+\. (\w+)$", prompt, re.M)  # the prompt's numbered legal actions
        scores = dict(zip(moves, model.score(prompt, moves).logprobs, strict=True))
        hits += max(scores, key=scores.__getitem__) in wanted
    model.close()
    return hits / len(labels)


def train(rows: Sequence[dict[str, Any]], sets: Sequence[str], seed: int, work: Path) -> dict[str, Any]:
    """RFT on `rows` from the warmed-up default model with the practice round's settings and `sets`."""
    from practicum.agents.default import default_model_dir
    from practicum.envs.registry import get_suite
    from practicum.loop.config import config_from_dict, parse_sets
    from practicum.loop.warmup import warm_up
    from practicum.trainer.mining import RFTExample
    from practicum.trainer.rft import train_rft

    config = config_from_dict({"suite": "frozenlake-4x4", "train": parse_sets(sets)})
    warm = warm_up(default_model_dir(), get_suite("frozenlake-4x4"), config.warmup, work / "warmup", print)
    examples = [RFTExample("success", r["task"], r["prompt"], r["completion"], 0, 0, None, None) for r in rows]
    started = time.monotonic()
    result = train_rft(warm, examples, work / f"rft-s{seed}", dataclasses.replace(config.train, seed=seed))
    return {
        "train_seconds": round(time.monotonic() - started, 1),
        "steps": result.metrics.get("train/rft_steps"),
        "loss_first": result.metrics.get("train/rft_loss_first"),
        "loss_last": result.metrics.get("train/rft_loss_last"),
        "fit": round(fit(str(result.model_dir), rows), 3),
        **{k: v for k, v in probe(str(result.model_dir), 30).items() if k != "model"},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=Path, help="a round's datasets/rft.jsonl")
    parser.add_argument("--label", required=True)
    parser.add_argument("--set", dest="sets", action="append", default=[], help="train.KEY=VALUE without 'train.'")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table-only", action="store_true", help="the rows and their table; no training")
    parser.add_argument("--work", type=Path, default=Path("round-fit-work"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.rows.read_text().splitlines() if line.strip()]
    entry: dict[str, Any] = {
        "rows_file": str(args.rows),
        "rows": len(rows),
        "prompts": len({r["prompt"] for r in rows}),
        "moves": dict(Counter(r["completion"] for r in rows)),
        "table_test_30": round(table_success(rows, lakes("test", 30)), 3),
        "table_test_200": round(table_success(rows, lakes("test", 200)), 3),
    }
    if not args.table_only:
        entry |= {"sets": args.sets, "seed": args.seed, **train(rows, args.sets, args.seed, args.work)}
    save_entry(args.out, [args.label], entry)
    print(json.dumps(entry, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
