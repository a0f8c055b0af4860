"""Tic-tac-toe against an exact solver (negamax over all 5,478 positions), with a depth limit as its strength
and a random-move share.

Cells are named like chess squares, column letter and row number: a1 is bottom-left, c3 top-right. X moves
first; the agent plays X on even seeds and O on odd ones.

The observation names every cell with its content, row by row ("Row 3: a3 X, b3 empty, c3 O"), so a small
model never maps a grid position to a cell name, and says which lines hold two of one player's marks with the
third cell empty. `board_from_text` reads such a text back into the solver's board string.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from practicum.envs.core import Split, Task, TextEnv
from practicum.envs.games.board import DRAW, TwoPlayerEnv, adhoc_tasks, two_player_task_builder
from practicum.envs.games.tasks import game_suite
from practicum.errors import ConfigError

EMPTY = "."
MARKS = ("X", "O")
# Index i = 3 * row + col with row 0 at the top; the name counts rows from the bottom, as on a chess board.
CELLS = tuple(f"{'abc'[i % 3]}{3 - i // 3}" for i in range(9))
_LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
_INDEX = {name: i for i, name in enumerate(CELLS)}
_WORDS = {"X": "X", "O": "O", EMPTY: "empty"}  # a cell's content as the observation writes it
# The three row lines `board_text` writes, top row first; each group is one cell's content.
_BOARD_PATTERN = re.compile("\n".join(f"Row {n}: " + ", ".join(f"{c}{n} (X|O|empty)" for c in "abc") for n in "321"))


def to_move(board: str) -> int:
    """0 if X moves next, 1 if O does."""
    return 0 if board.count("X") == board.count("O") else 1


def winner(board: str) -> int | None:
    """0 (X) or 1 (O) for three in a row, `DRAW` for a full board, None while the game goes on."""
    for a, b, c in _LINES:
        if board[a] != EMPTY and board[a] == board[b] == board[c]:
            return MARKS.index(board[a])
    return DRAW if EMPTY not in board else None


def play(board: str, cell: str) -> str:
    """The board after the side to move marks `cell` (a name such as "b2", assumed empty)."""
    i = _INDEX[cell]
    return board[:i] + MARKS[to_move(board)] + board[i + 1 :]


def legal_cells(board: str) -> list[str]:
    """The empty cells, in reading order (top row first)."""
    return [CELLS[i] for i, ch in enumerate(board) if ch == EMPTY]


@functools.cache
def negamax(board: str, depth: int) -> int:
    """The value of `board` for the side to move, looking `depth` plies ahead (9 is exact).

    A win is worth 1 + the empty cells left at its end (so quicker wins score higher), a loss the negative,
    a draw or the search horizon 0.
    """
    result = winner(board)
    if result == DRAW:
        return 0
    if result is not None:  # the side that just moved has won
        return -(1 + board.count(EMPTY))
    if depth == 0:
        return 0
    return max(-negamax(play(board, cell), depth - 1) for cell in legal_cells(board))


def best_moves(board: str, depth: int = 9) -> list[str]:
    """Every move that is optimal within `depth` plies (all optimal moves when depth is 9)."""
    scores = {cell: -negamax(play(board, cell), depth - 1) for cell in legal_cells(board)}
    top = max(scores.values())
    return [cell for cell, score in scores.items() if score == top]


def move_values(board: str, *, random_move_share: float = 0.5, draw: float = 0.5) -> dict[str, float]:
    """The exact expected score of each legal move for the side to move, playing perfectly afterwards, against
    this module's opponent: a perfect player (`best_moves`, ties drawn uniformly) that plays a uniformly random
    empty cell `random_move_share` of the time. A win scores 1, a loss 0 and a draw `draw`: 0.5 is the
    environment's reward, so these are the values search estimates; 0 gives the probability of winning."""
    me = to_move(board)
    return {cell: _expected_score(play(board, cell), me, random_move_share, draw) for cell in legal_cells(board)}


@functools.cache
def _expected_score(board: str, me: int, random_move_share: float, draw: float) -> float:
    """Expectimax over the rest of the game: `me` picks its best move, the opponent is a chance node."""
    result = winner(board)
    if result is not None:
        return draw if result == DRAW else float(result == me)
    cells = legal_cells(board)
    after = [_expected_score(play(board, c), me, random_move_share, draw) for c in cells]
    if to_move(board) == me:
        return max(after)
    best = set(best_moves(board))
    perfect = [v for c, v in zip(cells, after, strict=True) if c in best]
    return random_move_share * sum(after) / len(after) + (1 - random_move_share) * sum(perfect) / len(perfect)


def board_text(board: str) -> str:
    """The cells named with their contents, one line per row from the top: "Row 3: a3 X, b3 empty, c3 O"."""
    lines = []
    for row in range(3):
        cells = (f"{CELLS[i]} {_WORDS[board[i]]}" for i in range(3 * row, 3 * row + 3))
        lines.append(f"Row {3 - row}: " + ", ".join(cells))
    return "\n".join(lines)


def two_in_a_line(board: str, mark: str) -> list[tuple[str, list[str]]]:
    """(the empty cell, the line's cells) for every line holding two `mark`s and one empty cell."""
    found = []
    for line in _LINES:
        marks = [board[i] for i in line]
        if marks.count(mark) == 2 and marks.count(EMPTY) == 1:
            empty = CELLS[line[marks.index(EMPTY)]]
            found.append((empty, sorted(CELLS[i] for i in line)))
    return found


def lines_text(board: str, agent: int) -> str:
    """Two sentences, the agent's (side `agent`) then the opponent's, naming every line where that player has
    two marks and the third cell is empty: "You (X) have two in a line with c1 empty: a1 b1 c1."."""
    me, them = MARKS[agent], MARKS[1 - agent]
    sentences = []
    for mark, who in ((me, f"You ({me}) have"), (them, f"The opponent ({them}) has")):
        found = [f"with {empty} empty: {' '.join(cells)}" for empty, cells in two_in_a_line(board, mark)]
        if found:
            sentences.append(f"{who} two in a line {'; '.join(found)}.")
        else:
            sentences.append(f"{who} no two in a line with the third cell empty.")
    return "\n".join(sentences)


def board_from_text(text: str) -> str | None:
    """The board (9 characters, index 3 * row + col, row 0 at the top, "." empty) of the last board written by
    `board_text` in `text` (an observation or a whole prompt); None if it holds none."""
    boards = _BOARD_PATTERN.findall(text)
    if not boards:
        return None
    return "".join(EMPTY if word == "empty" else word for word in boards[-1])


def prompt_move_values(text: str | None) -> dict[str, float]:
    """`move_values` of the board last written in `text` (an observation or a whole prompt); {} if it holds none."""
    board = board_from_text(text or "")
    return move_values(board) if board is not None else {}


class TicTacToeEnv(TwoPlayerEnv[str]):
    """Tic-tac-toe against the solver; get three in a row to win."""

    sides = MARKS

    def __init__(
        self,
        *,
        suite: str = "tictactoe",
        task_factory: Callable[[int], Task] | None = None,
        depth: int = 9,
        random_move_share: float = 0.5,
        max_steps: int = 15,
    ) -> None:
        """`depth` (1-9) is how many plies the opponent looks ahead (9 plays perfectly); `random_move_share`
        is the chance that it plays a random empty cell instead."""
        if not 1 <= depth <= 9:
            raise ConfigError(f"tic-tac-toe depth must be 1..9 (9 is perfect play), got {depth}")
        super().__init__(
            suite=suite,
            task_factory=task_factory or _adhoc_tasks(suite),
            max_steps=max_steps,
            random_move_share=random_move_share,
        )
        self.depth = depth

    def _new_game(self, task: Task) -> str:
        return EMPTY * 9

    def _moves(self, state: str) -> list[str]:
        return legal_cells(state)

    def _play(self, state: str, move: str) -> str:
        return play(state, move)

    def _to_move(self, state: str) -> int:
        return to_move(state)

    def _winner(self, state: str) -> int | None:
        return winner(state)

    def _strong_move(self, state: str) -> str:
        moves = best_moves(state, self.depth)
        return moves[int(self._rng.integers(len(moves)))]  # ties broken by the seeded generator

    def _board_text(self, state: str) -> str:
        if winner(state) is not None:  # the game is over: no line is worth pointing at
            return board_text(state)
        return board_text(state) + "\n" + lines_text(state, self.agent_side)


def build_task(name: str, opponent: str) -> Callable[[int, Split], Task]:
    """Task builder: the agent's side alternates with the seed; the opponent's generator is seeded by it."""
    return two_player_task_builder(name, opponent, game="tic-tac-toe", line="three", salt=3)


def _adhoc_tasks(name: str) -> Callable[[int], Task]:
    return adhoc_tasks(build_task(name, "the opponent"))


def register_suites() -> None:
    """Register the tic-tac-toe suites."""
    for name, share, who in (
        ("tictactoe", 0.5, "a perfect player that moves at random half of the time"),
        ("tictactoe-perfect", 0.0, "a perfect player"),
    ):

        def make_env(
            make_task: Callable[[int], Task], name: str = name, share: float = share
        ) -> Callable[..., TextEnv]:
            def factory(**kwargs: Any) -> TextEnv:
                options: dict[str, Any] = {"random_move_share": share, **kwargs}
                return TicTacToeEnv(suite=name, task_factory=make_task, **options)

            return factory

        game_suite(name, f"Tic-tac-toe against {who}", build_task(name, who), make_env)
