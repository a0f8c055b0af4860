"""FrozenLake with an oracle at the data stage: what can a policy that sees what ours sees learn, and from what?

The policy's observation on FrozenLake 4x4 is its cell and the four cells next to it (`render_lake`); two lakes
alike there look alike to it. This benchmark answers two questions with exact shortest paths instead of search:

- `ceiling`: the best a lookup table from observation to move reaches on the test lakes, when each observation
  takes the move that was optimal most often on N train lakes. States are either every safe cell of the lake
  (`uniform`) or the cells a practice episode visits (`route`: up to 4 random moves from the start, then a
  shortest path that prefers right, down, left, up, as a policy with a "right" prior commits to). Labels are either
  every optimal move (`all`) or the one the prior prefers among them (`committed`). No model: seconds.
- `train`: the same rows as RFT examples for the language model (the format warm-up's output, the practice
  round's RFT settings), then `lake_probe`'s reading of the trained policy on the first 30 test lakes. It says
  whether training moves the policy when the data is right, and which data.

    .venv/bin/python benchmarks/lake_oracle.py ceiling
    .venv/bin/python benchmarks/lake_oracle.py routes          # each fixed route's success: no model, a second
    .venv/bin/python benchmarks/lake_oracle.py train --states uniform --labels all --lakes 12 --seed 0

Results are merged into `benchmarks/results/lake_oracle.json` (`ceiling`, and `train` entries keyed by setting).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(HERE))
from lake_probe import MOVES, distances, path_to, probe, read_map  # noqa: E402
from signal_bench import lake_distances  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "lake_oracle.json"
PRIOR = ("right", "down", "left", "up")  # the default policy's order of preference on an open lake
Cell = tuple[int, int]
GOAL = (3, 3)


def legal(cell: Cell, size: int = 4) -> list[str]:
    """The moves that stay on the lake, as `lake_legal` lists them."""
    return [m for m, (dr, dc) in MOVES.items() if 0 <= cell[0] + dr < size and 0 <= cell[1] + dc < size]


def observation_key(desc: Sequence[str], cell: Cell) -> tuple[Any, ...]:
    """What the policy's observation holds: its cell (and so the goal's direction) and each neighbour's tile."""
    return (cell, *((m, desc[cell[0] + MOVES[m][0]][cell[1] + MOVES[m][1]]) for m in legal(cell, len(desc))))


def optimal_moves(desc: Sequence[str], cell: Cell) -> list[str]:
    """The legal moves on a shortest safe path to the goal, in `PRIOR` order (empty where none reaches it)."""
    to_goal = lake_distances(desc)
    if cell not in to_goal:
        return []
    ahead = {m: (cell[0] + MOVES[m][0], cell[1] + MOVES[m][1]) for m in legal(cell, len(desc))}
    return [m for m in PRIOR if m in ahead and to_goal.get(ahead[m]) == to_goal[cell] - 1]


def visited_cells(desc: Sequence[str], states: str, rng: random.Random) -> list[Cell]:
    """The cells of one lake that give training rows: every safe cell reachable from the start (`uniform`), or
    a practice episode's cells (`route`: 0-4 random safe moves, then the prior's shortest path)."""
    if states == "uniform":
        return [c for c in distances(desc, (0, 0), through=GOAL) if c != GOAL]
    cell = (0, 0)
    for _ in range(rng.randint(0, 4)):
        safe = [m for m in legal(cell) if desc[cell[0] + MOVES[m][0]][cell[1] + MOVES[m][1]] not in "HG"]
        if not safe:
            break
        move = rng.choice(safe)
        cell = (cell[0] + MOVES[move][0], cell[1] + MOVES[move][1])
    cells: list[Cell] = []
    while cell != GOAL and len(cells) < 16 and (moves := optimal_moves(desc, cell)):
        cells.append(cell)
        cell = (cell[0] + MOVES[moves[0]][0], cell[1] + MOVES[moves[0]][1])
    return cells


def labelled(descs: Sequence[Sequence[str]], states: str, labels: str, seed: int = 0) -> list[tuple[Any, Cell, str]]:
    """(lake, cell, move) training rows: every optimal move (`all`) or the prior's first (`committed`)."""
    rng = random.Random(seed)
    rows = []
    for desc in descs:
        for cell in visited_cells(desc, states, rng):
            moves = optimal_moves(desc, cell)
            rows += [(desc, cell, m) for m in (moves if labels == "all" else moves[:1])]
    return rows


def table_success(rows: Sequence[tuple[Any, Cell, str]], tests: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Greedy success on `tests` of the lookup table that takes, per observation, its most frequent row label
    (unseen observations: right where legal, else down, the untrained policy's route)."""
    votes: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
    for desc, cell, move in rows:
        votes[observation_key(desc, cell)][move] += 1
    solved = votes_success(votes, tests, observation_key)
    return {"rows": len(rows), "observations": len(votes), "test_success": solved}


def votes_success(
    votes: dict[Any, Counter[str]], tests: Sequence[Sequence[str]], key: Callable[[Sequence[str], Cell], Any]
) -> float:
    """Greedy success on `tests` of the table playing each observation's most voted move, `key(desc, cell)`
    naming a cell's observation (unseen ones: right where legal, else down)."""
    solved = 0
    for desc in tests:
        choice = {}
        for cell in distances(desc, (0, 0), through=GOAL):
            if cell != GOAL:
                seen = votes.get(key(desc, cell))
                choice[cell] = seen.most_common(1)[0][0] if seen else ("right" if "right" in legal(cell) else "down")
        solved += read_map(desc, choice)["solved"]
    return solved / len(tests)


def lakes(split: str, n: int) -> list[list[str]]:
    """The first `n` lakes of a split of the frozenlake-4x4 suite."""
    from practicum.envs.registry import get_suite

    return [list(t.params["make_kwargs"]["desc"]) for t in get_suite("frozenlake-4x4").tasks(split, limit=n)]


def ceiling(train_sizes: Sequence[int], tests: int) -> list[dict[str, Any]]:
    """`table_success` for every state kind, label kind and number of train lakes."""
    train, test = lakes("train", max(train_sizes)), lakes("test", tests)
    out = []
    for states in ("uniform", "route"):
        for labels in ("all", "committed"):
            for n in train_sizes:
                out.append(
                    {"states": states, "labels": labels, "train_lakes": n, "test_lakes": tests}
                    | table_success(labelled(train[:n], states, labels), test)
                )
    return out


def routes(counts: Sequence[int]) -> dict[str, Any]:
    """How a policy that walks one fixed route on every lake fares: each of the 20 shortest routes (3 moves
    right and 3 down, in some order), on the first N test and validation lakes. A route fails where it enters
    a hole. A policy that ignores what lies next to it and moves by its position alone is one of these."""
    orders = sorted({"".join(p) for p in itertools.permutations("RRRDDD")})

    def safe(rows: Sequence[str], order: str) -> bool:
        cell = (0, 0)
        for move in order:
            cell = (cell[0] + 1, cell[1]) if move == "D" else (cell[0], cell[1] + 1)
            if rows[cell[0]][cell[1]] == "H":
                return False
        return True

    out: dict[str, Any] = {}
    for split in ("test", "validation"):
        for n in counts:
            maps = lakes(split, n)
            shares = {o: round(sum(safe(m, o) for m in maps) / len(maps), 3) for o in orders}
            best = max(shares, key=shares.__getitem__)
            out[f"{split}-{n}"] = {"routes": shares, "best": best, "best_share": shares[best]}
    return out


def train(states: str, labels: str, n_lakes: int, seed: int, work: Path) -> dict[str, Any]:
    """RFT on the oracle rows from the warmed-up default model (practice's RFT settings), then the lake probe."""
    from transformers import AutoTokenizer

    from practicum.agents import prompts
    from practicum.agents.base import StepContext
    from practicum.agents.default import default_model_dir
    from practicum.envs.registry import get_suite
    from practicum.loop.config import config_from_dict
    from practicum.loop.warmup import warm_up
    from practicum.trainer.mining import RFTExample
    from practicum.trainer.rft import train_rft

    config = config_from_dict({"suite": "frozenlake-4x4"})
    suite = get_suite("frozenlake-4x4")
    warm = warm_up(default_model_dir(), suite, config.warmup, work / "warmup", print)
    tokenizer = AutoTokenizer.from_pretrained(warm)
    tasks = suite.tasks("train", limit=n_lakes)
    env = suite.env(max_steps=100)
    examples = []
    rng = random.Random(seed)
    try:
        for task in tasks:
            desc = list(task.params["make_kwargs"]["desc"])
            reached = distances(desc, (0, 0), through=GOAL)
            for cell in visited_cells(desc, states, rng):
                obs, info = env.reset(options={"task": task})
                for move in path_to(reached, cell):
                    obs, _, _, _, info = env.step(move)
                context = StepContext(str(info.get("goal", task.goal)), obs, (), tuple(info["legal_actions"]))
                prompt = prompts.render(tokenizer, prompts.policy_messages(context))
                moves = optimal_moves(desc, cell)
                for move in moves if labels == "all" else moves[:1]:
                    examples.append(RFTExample("success", task.key, prompt, move, 0, 0, None, None))
    finally:
        env.close()
    random.Random(seed).shuffle(examples)
    train_config = dataclasses.replace(config.train, method="rft", seed=seed)
    started = time.monotonic()
    result = train_rft(warm, examples, work / f"{states}-{labels}-{n_lakes}-s{seed}", train_config)
    seconds = time.monotonic() - started
    return {
        "states": states,
        "labels": labels,
        "train_lakes": n_lakes,
        "seed": seed,
        "rows": len(examples),
        "moves": dict(Counter(e.completion for e in examples)),
        "train_seconds": round(seconds, 1),
        "rft_loss_last": result.metrics.get("train/rft_loss_last"),
        **probe(str(result.model_dir), 30),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    top = sub.add_parser("ceiling", help="lookup-table policies from oracle rows (no model, seconds)")
    top.add_argument("--train-lakes", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    top.add_argument("--test-lakes", type=int, default=200)
    fixed = sub.add_parser("routes", help="what each fixed route (right x3 and down x3, some order) solves")
    fixed.add_argument("--lakes", type=int, nargs="+", default=[10, 30, 200])
    lm = sub.add_parser("train", help="the default model trained on oracle rows, then probed (minutes)")
    lm.add_argument("--states", choices=("uniform", "route"), required=True)
    lm.add_argument("--labels", choices=("all", "committed"), required=True)
    lm.add_argument("--lakes", type=int, required=True)
    lm.add_argument("--seed", type=int, default=0)
    lm.add_argument("--work", type=Path, default=Path("lake-oracle-work"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.command == "routes":
        data["routes"] = routes(args.lakes)
        for key, row in data["routes"].items():
            print(
                key,
                {o: row["routes"][o] for o in ("RRRDDD", "DDDRRR", "DRRRDD", "RDDDRR")},
                "best",
                row["best"],
                row["best_share"],
            )
    elif args.command == "ceiling":
        data["ceiling"] = ceiling(args.train_lakes, args.test_lakes)
        for row in data["ceiling"]:
            print(row)
    else:
        row = train(args.states, args.labels, args.lakes, args.seed, args.work)
        data.setdefault("train", {})[f"{args.states}-{args.labels}-{args.lakes}-s{args.seed}"] = row
        print(json.dumps(row, indent=2))
    args.out.write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
