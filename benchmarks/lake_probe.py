"""What a FrozenLake policy does at every cell of the test lakes: a measure finer than 10 or 30 games won.

FrozenLake's observation is its state, so a greedy policy is a map from cell to move. This benchmark scores
the policy once at every cell reachable from the start of each of the first N test lakes (4x4, not slippery)
and reads three things off that map, by exact shortest paths:

- `greedy_success`: the lakes that following the map from the start solves (what greedy play would win);
- `optimal_share`: the cells whose top move is on a shortest safe path to the goal;
- `hole_avoid`: of the cells next to a hole, those whose top move does not step into it.

A training round that changes none of these changed no move that matters, whatever its loss says.

    .venv/bin/python benchmarks/lake_probe.py PATH/TO/MODEL [PATH/TO/OTHER ...] --lakes 30 --label L

Results are merged into `benchmarks/results/lake_probe.json` under the label, one entry per model.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
sys.path.insert(0, str(HERE))
from results_file import save_entry  # noqa: E402
from signal_bench import lake_distances  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "lake_probe.json"
MOVES = {"left": (0, -1), "down": (1, 0), "right": (0, 1), "up": (-1, 0)}
Cell = tuple[int, int]


def distances(desc: Sequence[str], source: Cell, *, through: Cell | None = None) -> dict[Cell, tuple[int, str]]:
    """Breadth-first over the safe cells of `desc` from `source`: each reached cell's step count and the move
    that entered it ("" for the source), so that `path_to` can walk the environment there. `through`, when
    given, is a cell the walk may enter but not leave (the goal: an episode ends there)."""
    size = len(desc)
    seen: dict[Cell, tuple[int, str]] = {source: (0, "")}
    queue = deque([source])
    while queue:
        cell = queue.popleft()
        if cell == through and cell != source:
            continue
        for move, (dr, dc) in MOVES.items():
            nxt = (cell[0] + dr, cell[1] + dc)
            if 0 <= nxt[0] < size and 0 <= nxt[1] < size and desc[nxt[0]][nxt[1]] != "H" and nxt not in seen:
                seen[nxt] = (seen[cell][0] + 1, move)
                queue.append(nxt)
    return seen


def path_to(reached: dict[Cell, tuple[int, str]], cell: Cell) -> list[str]:
    """The moves from the search's source to `cell`, read back from `distances`' entering moves."""
    moves: list[str] = []
    while reached[cell][1]:
        move = reached[cell][1]
        moves.append(move)
        cell = (cell[0] - MOVES[move][0], cell[1] - MOVES[move][1])
    return moves[::-1]


def read_map(desc: Sequence[str], choice: dict[Cell, str]) -> dict[str, Any]:
    """Score one lake's cell -> top-move map: whether following it from (0, 0) reaches the goal, and per cell
    whether its move is optimal and, next to a hole, whether it avoids it."""
    size = len(desc)
    to_goal = lake_distances(desc)  # the fewest moves to the goal from every cell that can reach it
    optimal = avoided = near_hole = 0
    for (row, col), move in choice.items():
        nxt = (row + MOVES[move][0], col + MOVES[move][1])
        optimal += (row, col) in to_goal and nxt in to_goal and to_goal[nxt] == to_goal[(row, col)] - 1
        holes = [
            m
            for m, (dr, dc) in MOVES.items()
            if 0 <= row + dr < size and 0 <= col + dc < size and desc[row + dr][col + dc] == "H"
        ]
        near_hole += bool(holes)
        avoided += bool(holes) and move not in holes
    cell, solved = (0, 0), False
    for _ in range(4 * size * size):  # a map that loops never reaches the goal
        move = choice.get(cell)
        if move is None:
            break
        cell = (cell[0] + MOVES[move][0], cell[1] + MOVES[move][1])
        if desc[cell[0]][cell[1]] in "HG":
            solved = desc[cell[0]][cell[1]] == "G"
            break
    return {"solved": solved, "cells": len(choice), "optimal": optimal, "near_hole": near_hole, "avoided": avoided}


def lake_maps(top_move: Callable[[Any], str], lakes: int) -> dict[str, Any]:
    """Ask `top_move(context)` (a `StepContext`) at every reachable cell of the first `lakes` test lakes; sum
    what `read_map` finds. The environment is walked to each cell along a shortest path, so the observation is
    the real one."""
    from practicum.agents.base import StepContext
    from practicum.envs.registry import get_suite

    suite = get_suite("frozenlake-4x4")
    env = suite.env(max_steps=100)
    totals = {"solved": 0, "cells": 0, "optimal": 0, "near_hole": 0, "avoided": 0}
    tasks = suite.tasks("test", limit=lakes)
    try:
        for task in tasks:
            desc = task.params["make_kwargs"]["desc"]
            goal = (len(desc) - 1, len(desc) - 1)
            reached = distances(desc, (0, 0), through=goal)
            choice = {}
            for cell in reached:
                if cell == goal:
                    continue
                obs, info = env.reset(options={"task": task})
                for move in path_to(reached, cell):
                    obs, _, _, _, info = env.step(move)
                legal = tuple(str(a) for a in info["legal_actions"])
                choice[cell] = top_move(StepContext(str(info.get("goal", task.goal)), obs, (), legal))
            for key, value in read_map(desc, choice).items():
                totals[key] += int(value)
    finally:
        env.close()
    return {
        "lakes": len(tasks),
        "greedy_success": totals["solved"] / len(tasks),
        "optimal_share": totals["optimal"] / totals["cells"],
        "hole_avoid": totals["avoided"] / totals["near_hole"] if totals["near_hole"] else None,
        "cells": totals["cells"],
        "cells_near_a_hole": totals["near_hole"],
    }


def probe(model_dir: str, lakes: int) -> dict[str, Any]:
    """`lake_maps` for the local model in `model_dir`, its top move being the legal action it scores highest."""
    from practicum.agents.candidates import top_k
    from practicum.agents.local import LocalPolicy

    policy = LocalPolicy.load(model_dir)

    def top_move(context: Any) -> str:
        return top_k(policy.score(context, list(context.legal_actions)), 1).candidates[0].text

    return {"model": model_dir, **lake_maps(top_move, lakes)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="local model directories (a round's `model` folder)")
    parser.add_argument("--lakes", type=int, default=30)
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    results = [probe(m, args.lakes) for m in args.models]
    save_entry(args.out, [args.label], results)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
