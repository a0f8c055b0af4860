"""Tic-tac-toe with an oracle at the data stage: does the policy learn to play from RFT rows that are all right?

A practice round's tic-tac-toe data is right (signal.json `prompt-v3`: 86% of its RFT rows are optimal moves, 97%
of its step pairs the right way round) and yet training on it left the greedy policy where it was or lower. This
benchmark replaces search with the exact solver: the agent's positions along games on the train tasks (the agent
plays an optimal move, or with probability `--explore` a random one, so that positions off the best line appear
too; the suite's opponent replies), each labelled with every optimal move (`move_values`, the expected score
against this opponent), one row per (prompt, move). Then practice's RFT settings from the warmed-up default model
(as a practice round starts from it), and greedy play on the first `--test` test games, before and after, beside
the share of held-out positions where the policy's top move is optimal.

If the policy reaches the target from right rows of this number, the practice round's data (its size or its
positions) is what falls short; if not, training on rows of this size does not make a player.

    .venv/bin/python benchmarks/ttt_oracle.py --games 40 --epochs 5 --seed 0

Results are merged into `benchmarks/results/ttt_oracle.json`, keyed by the settings.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing
OUT = HERE / "results" / "ttt_oracle.json"
CHECKPOINTS = HERE / "results" / "learning-runs" / "checkpoints"  # where learning.py keeps the warm-up
SUITE = "tictactoe"


def optimal(values: dict[str, float]) -> list[str]:
    """Every move within 1e-9 of the best expected score."""
    best = max(values.values())
    return [m for m, v in values.items() if v >= best - 1e-9]


def oracle_rows(policy_prompt: Any, games: int, explore: float, seed: int) -> tuple[list[Any], int]:
    """RFT rows from `games` train games: (prompt, every optimal move) at each of the agent's turns."""
    from practicum.envs.games.tictactoe import move_values
    from practicum.envs.registry import get_suite
    from practicum.trainer.mining import RFTExample

    suite = get_suite(SUITE)
    env = suite.env()
    rng = random.Random(seed)
    rows: dict[tuple[str, str], Any] = {}
    positions = 0
    try:
        for task in suite.tasks("train", limit=games):
            obs, info = env.reset(options={"task": task})
            done = False
            while not done:
                values = move_values(env.game_state)
                legal = list(info["legal_actions"])
                if sorted(values) != sorted(legal):
                    raise RuntimeError(f"solver moves {sorted(values)} are not the env's legal actions {legal}")
                prompt = policy_prompt(info, obs)
                positions += 1
                best = optimal(values)
                for move in best:
                    rows.setdefault((prompt, move), RFTExample("success", task.key, prompt, move, 0, 0, None, None))
                move = rng.choice(legal) if rng.random() < explore else rng.choice(best)
                obs, _, terminated, truncated, info = env.step(move)
                done = terminated or truncated
    finally:
        env.close()
    return list(rows.values()), positions


def play(model_dir: Path, policy_prompt: Any, games: int) -> dict[str, Any]:
    """Greedy play on the first `games` test games: wins, and the share of positions whose top move is optimal."""
    from practicum.agents.base import StepContext
    from practicum.agents.candidates import top_k
    from practicum.agents.local import LocalPolicy
    from practicum.envs.games.tictactoe import move_values
    from practicum.envs.registry import get_suite

    policy = LocalPolicy.load(model_dir)
    suite = get_suite(SUITE)
    env = suite.env()
    wins = top_optimal = positions = 0
    try:
        for task in suite.tasks("test", limit=games):
            obs, info = env.reset(options={"task": task})
            done = False
            while not done:
                context = StepContext(str(info["goal"]), obs, (), tuple(info["legal_actions"]))
                move = top_k(policy.score(context, list(context.legal_actions or ())), 1).candidates[0].text
                values = move_values(env.game_state)
                top_optimal += move in optimal(values)
                positions += 1
                obs, _, terminated, truncated, info = env.step(move)
                done = terminated or truncated
            wins += bool(info["success"])
    finally:
        env.close()
    share = round(top_optimal / positions, 4)
    return {"test_games": games, "test_success": round(wins / games, 4), "top_optimal": share}


def run(games: int, epochs: int, explore: float, seed: int, test: int, work: Path) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from practicum.agents import prompts
    from practicum.agents.base import StepContext
    from practicum.agents.default import default_model_dir
    from practicum.envs.registry import get_suite
    from practicum.loop.config import config_from_dict
    from practicum.loop.warmup import warm_up
    from practicum.trainer.rft import train_rft

    config = config_from_dict({"suite": SUITE})
    warm = warm_up(default_model_dir(), get_suite(SUITE), config.warmup, CHECKPOINTS, print)
    tokenizer = AutoTokenizer.from_pretrained(warm)

    def policy_prompt(info: dict[str, Any], obs: str) -> str:
        context = StepContext(str(info["goal"]), obs, (), tuple(info["legal_actions"]))
        return prompts.render(tokenizer, prompts.policy_messages(context))

    rows, positions = oracle_rows(policy_prompt, games, explore, seed)
    random.Random(seed).shuffle(rows)
    settings = dataclasses.replace(config.train.rft, epochs=epochs)
    train_config = dataclasses.replace(config.train, method="rft", seed=seed, rft=settings)
    entry: dict[str, Any] = {
        "train_games": games,
        "explore": explore,
        "epochs": epochs,
        "learning_rate": settings.learning_rate,
        "seed": seed,
        "positions": positions,
        "rows": len(rows),
        "before": play(warm, policy_prompt, test),
    }
    clock = time.monotonic()
    result = train_rft(warm, rows, work / f"g{games}-e{epochs}-x{explore}-s{seed}", train_config)
    entry["train_seconds"] = round(time.monotonic() - clock, 1)
    entry["rft_loss_last"] = result.metrics.get("train/rft_loss_last")
    entry["after"] = play(result.model_dir, policy_prompt, test)
    return entry


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=40, help="train games the rows come from")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--explore", type=float, default=0.3, help="share of the agent's moves played at random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--test", type=int, default=40, help="test games played greedily before and after")
    parser.add_argument("--work", type=Path, default=Path("/tmp/ttt_oracle"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    entry = run(args.games, args.epochs, args.explore, args.seed, args.test, args.work)
    key = f"games={args.games},epochs={args.epochs},explore={args.explore},seed={args.seed}"
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results[key] = entry
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(entry, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
