"""Connect Four (7 columns, 6 rows) against an alpha-beta search with a threat-counting evaluation.

The opponent's strength is its search depth in plies; a random-move share weakens it further. Positions are
two bitboards (one per side) in the usual layout: column c occupies bits 7c..7c+5 from the bottom up, with
bit 7c+6 kept empty as a separator, so that lines of four are found with shifts.
Moves are column numbers "1".."7"; "column 4" and "col 4" are understood too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

from practicum.envs.core import Parsed, Split, Task, TextEnv
from practicum.envs.games.board import DRAW, TwoPlayerEnv, adhoc_tasks, two_player_task_builder
from practicum.envs.games.tasks import game_suite
from practicum.errors import ConfigError

COLS, ROWS = 7, 6
MARKS = ("X", "O")
_H = ROWS + 1
_BOTTOM = [1 << (_H * c) for c in range(COLS)]
_COLUMN = [((1 << ROWS) - 1) << (_H * c) for c in range(COLS)]
_TOP = [1 << (_H * c + ROWS - 1) for c in range(COLS)]
_BOARD = sum(_COLUMN)
_ORDER = (3, 2, 4, 1, 5, 0, 6)  # centre first: better moves first means more alpha-beta cut-offs
_WIN = 10_000


def _cell_weights() -> list[tuple[int, int]]:
    """(weight, mask) pairs: a cell's weight is the number of lines of four through it (centre cells count
    most), grouped into one mask per weight so the evaluation is a few popcounts."""
    counts: dict[int, int] = {}
    for c in range(COLS):
        for r in range(ROWS):
            n = 0
            for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1)):
                for k in range(4):
                    c0, r0 = c - k * dc, r - k * dr
                    if all(0 <= c0 + i * dc < COLS and 0 <= r0 + i * dr < ROWS for i in range(4)):
                        n += 1
            counts[1 << (_H * c + r)] = n
    by_weight: dict[int, int] = {}
    for bit, n in counts.items():
        by_weight[n] = by_weight.get(n, 0) | bit
    return sorted(by_weight.items())


_WEIGHTS = _cell_weights()


class Position(NamedTuple):
    """Stones of the first (X) and second (O) player, and the number of moves played."""

    first: int = 0
    second: int = 0
    moves: int = 0

    @property
    def mask(self) -> int:
        """All stones."""
        return self.first | self.second

    def to_move(self) -> int:
        """0 if X moves next, 1 if O does."""
        return self.moves % 2

    def stones(self, side: int) -> int:
        """The bitboard of one side."""
        return self.first if side == 0 else self.second

    def can_play(self, col: int) -> bool:
        """Whether column `col` (0-based) has room."""
        return not self.mask & _TOP[col]

    def play(self, col: int) -> Position:
        """The position after the side to move drops a stone in column `col` (0-based, assumed playable)."""
        bit = ((self.mask & _COLUMN[col]) + _BOTTOM[col]) & _COLUMN[col]
        if self.moves % 2 == 0:
            return Position(self.first | bit, self.second, self.moves + 1)
        return Position(self.first, self.second | bit, self.moves + 1)


def has_four(b: int) -> bool:
    """Whether a bitboard holds four in a row in any direction."""
    for shift in (1, _H, _H - 1, _H + 1):  # vertical, horizontal, two diagonals
        m = b & (b >> shift)
        if m & (m >> (2 * shift)):
            return True
    return False


def winning_cells(b: int, mask: int) -> int:
    """Empty cells where a stone would complete four for the side with stones `b` (its threats)."""
    r = (b << 1) & (b << 2) & (b << 3)  # vertical: three below
    for s in (_H, _H - 1, _H + 1):
        p = (b << s) & (b << 2 * s)
        r |= p & (b << 3 * s)
        r |= p & (b >> s)
        p = (b >> s) & (b >> 2 * s)
        r |= p & (b << s)
        r |= p & (b >> 3 * s)
    return r & (_BOARD ^ mask)


def winner(pos: Position) -> int | None:
    """0 or 1 for four in a row, `DRAW` for a full board, None while the game goes on."""
    if has_four(pos.first):
        return 0
    if has_four(pos.second):
        return 1
    return DRAW if pos.moves == COLS * ROWS else None


def evaluate(pos: Position) -> int:
    """Heuristic value for the side to move: threats count most, then stones on cells with many lines."""
    me, them = pos.stones(pos.to_move()), pos.stones(1 - pos.to_move())
    mask = pos.mask
    score = 16 * (winning_cells(me, mask).bit_count() - winning_cells(them, mask).bit_count())
    for weight, cells in _WEIGHTS:
        score += weight * ((me & cells).bit_count() - (them & cells).bit_count())
    return score


def negamax(pos: Position, depth: int, alpha: int, beta: int) -> int:
    """Alpha-beta value of `pos` for the side to move, `depth` plies deep. A loss found sooner scores lower."""
    if has_four(pos.stones(1 - pos.to_move())):  # the side that just moved has won
        return -(_WIN + depth)
    if pos.moves == COLS * ROWS:
        return 0
    if depth == 0:
        return evaluate(pos)
    best = -(_WIN + 100)
    for col in _ORDER:
        if not pos.can_play(col):
            continue
        best = max(best, -negamax(pos.play(col), depth - 1, -beta, -alpha))
        alpha = max(alpha, best)
        if alpha >= beta:
            break
    return best


def best_columns(pos: Position, depth: int) -> list[int]:
    """Every column (0-based) whose `depth`-ply value is the best; each root move gets a full window so ties
    are exact."""
    scores = {c: -negamax(pos.play(c), depth - 1, -(_WIN + 100), _WIN + 100) for c in _ORDER if pos.can_play(c)}
    top = max(scores.values())
    return sorted(c for c, s in scores.items() if s == top)


def board_text(pos: Position) -> str:
    """The grid, top row first, with column numbers."""
    lines = [" ".join(str(c + 1) for c in range(COLS))]
    for r in reversed(range(ROWS)):
        row = []
        for c in range(COLS):
            bit = 1 << (_H * c + r)
            row.append(MARKS[0] if pos.first & bit else MARKS[1] if pos.second & bit else ".")
        lines.append(" ".join(row))
    lines.append("A move names a column (1-7); the piece falls to the lowest empty cell. . is empty.")
    return "\n".join(lines)


_COLUMN_TEXT = re.compile(r"^\s*(?:col(?:umn)?\s*)?([1-7])\s*$", re.IGNORECASE)


class ConnectFourEnv(TwoPlayerEnv[Position]):
    """Connect Four against a depth-limited search; four in a row (any direction) wins."""

    sides = MARKS

    def __init__(
        self,
        *,
        suite: str = "connect4",
        task_factory: Callable[[int], Task] | None = None,
        depth: int = 3,
        random_move_share: float = 0.2,
        max_steps: int = 40,
    ) -> None:
        """`depth` (1-8 plies) is the opponent's search depth; `random_move_share` the chance of a random move."""
        if not 1 <= depth <= 8:
            raise ConfigError(f"Connect Four depth must be 1..8 plies (deeper is too slow in Python), got {depth}")
        super().__init__(
            suite=suite,
            task_factory=task_factory or _adhoc_tasks(suite),
            max_steps=max_steps,
            random_move_share=random_move_share,
        )
        self.depth = depth

    def _parse(self, text: str) -> Parsed[str]:
        match = _COLUMN_TEXT.match(text)
        if match is None:
            return None, f"invalid move {text[:40]!r}: answer with a column number from the legal actions"
        if match.group(1) not in self._legal_actions():
            return None, f"column {match.group(1)} is full: choose another column from the legal actions"
        return match.group(1), None

    def _move_text(self, move: str) -> str:
        return f"column {move}"

    def _new_game(self, task: Task) -> Position:
        return Position()

    def _moves(self, state: Position) -> list[str]:
        return [str(c + 1) for c in range(COLS) if state.can_play(c)]

    def _play(self, state: Position, move: str) -> Position:
        return state.play(int(move) - 1)

    def _to_move(self, state: Position) -> int:
        return int(state.to_move())

    def _winner(self, state: Position) -> int | None:
        return winner(state)

    def _strong_move(self, state: Position) -> str:
        cols = best_columns(state, self.depth)
        return str(cols[int(self._rng.integers(len(cols)))] + 1)

    def _board_text(self, state: Position) -> str:
        return board_text(state)


def build_task(name: str, opponent: str) -> Callable[[int, Split], Task]:
    """Task builder: the agent's side alternates with the seed; the opponent's generator is seeded by it."""
    return two_player_task_builder(name, opponent, game="Connect Four", line="four", salt=4)


def _adhoc_tasks(name: str) -> Callable[[int], Task]:
    return adhoc_tasks(build_task(name, "the opponent"))


def register_suites() -> None:
    """Register the Connect Four suites."""
    for name, depth, share, who in (
        ("connect4", 2, 0.2, "a 2-ply search that moves at random 20% of the time"),
        ("connect4-strong", 5, 0.0, "a 5-ply alpha-beta search"),
    ):

        def make_env(
            make_task: Callable[[int], Task], name: str = name, depth: int = depth, share: float = share
        ) -> Callable[..., TextEnv]:
            def factory(**kwargs: Any) -> TextEnv:
                options: dict[str, Any] = {"depth": depth, "random_move_share": share, **kwargs}
                return ConnectFourEnv(suite=name, task_factory=make_task, **options)

            return factory

        game_suite(name, f"Connect Four against {who}", build_task(name, who), make_env)
