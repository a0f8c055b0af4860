"""Yardsticks for moves by exact values (tic-tac-toe's solver), shared by the learning, signal and search
benchmarks: how good the moves of RFT rows are, and which way step pairs point."""

from __future__ import annotations

from practicum.envs.games.tictactoe import prompt_move_values


def move_scored(prompt: str, move: str) -> tuple[float, float] | None:
    """(value of `move`, value of the best move) on the tic-tac-toe board of `prompt`; None if `move` is not a
    legal cell there."""
    values = prompt_move_values(prompt)
    return (values[move], max(values.values())) if move in values else None


def pair_gap(prompt: str, chosen: str, rejected: str) -> float | None:
    """How much more the chosen move is worth than the rejected one (exact values); None if either is illegal."""
    values = prompt_move_values(prompt)
    return values[chosen] - values[rejected] if chosen in values and rejected in values else None


def gap_shares(gaps: list[float]) -> dict[str, float]:
    """The shares of pairs whose chosen move is worth more (right), the same (tied) or less (wrong)."""
    n = len(gaps)
    return {
        "right": round(sum(g > 1e-9 for g in gaps) / n, 3),
        "tied": round(sum(abs(g) <= 1e-9 for g in gaps) / n, 3),
        "wrong": round(sum(g < -1e-9 for g in gaps) / n, 3),
    }


def optimal_and_regret(scored: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """From (value of the move played, value of the best move) pairs: the share of optimal moves, the mean regret."""
    if not scored:
        return None, None
    share = sum(v >= best - 1e-9 for v, best in scored) / len(scored)
    return round(share, 3), round(sum(best - v for v, best in scored) / len(scored), 4)
