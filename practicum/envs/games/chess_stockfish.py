"""Chess against Stockfish, through the `chess` package (python-chess) and Debian's stockfish binary.

The agent's moves and the legal move list are in SAN ("e4", "Nf3", "O-O"); UCI ("e2e4") and SAN without
check marks are understood too. The board is drawn as text with coordinates, with its FEN below.

Reproducibility: Stockfish's own "Skill Level" below 20 picks moves with a clock-seeded random generator,
so a restored game would continue differently. The built-in suites therefore weaken the engine with a
search depth limit and a random-move share drawn from the task's seeded generator, and clear the engine's
hash before each search: the same position and generator state always give the same reply. `skill_level`
is still available for play that need not be reproducible.

One engine process per environment, started at the first reset and ended by `close()`, or by a weakref
finalizer when the environment is garbage-collected or the interpreter exits.
"""

from __future__ import annotations

import os
import random
import shutil
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import chess
import chess.engine

from practicum.envs.core import Parsed, Split, Task, TextEnv
from practicum.envs.games.board import DRAW, OpponentError, TwoPlayerEnv
from practicum.envs.games.tasks import game_suite
from practicum.errors import ConfigError, EnvError

DEBIAN_STOCKFISH = "/usr/games/stockfish"  # Debian installs games outside the default PATH


class StockfishNotFoundError(EnvError):
    """The Stockfish binary is not installed or not where it was said to be."""


def find_stockfish(path: str | None = None) -> str | None:
    """The Stockfish executable: `path` if given, else `stockfish` on PATH, else Debian's /usr/games/stockfish."""
    if path is not None:
        return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
    found = shutil.which("stockfish")
    if found:
        return found
    return DEBIAN_STOCKFISH if os.access(DEBIAN_STOCKFISH, os.X_OK) else None


@dataclass(frozen=True)
class ChessLevel:
    """An opponent strength for the built-in suites."""

    level: int
    depth: int
    random_move_share: float


LEVELS: tuple[ChessLevel, ...] = (
    ChessLevel(1, depth=1, random_move_share=0.5),
    ChessLevel(2, depth=2, random_move_share=0.25),
    ChessLevel(3, depth=4, random_move_share=0.1),
)

_PIECES = "Uppercase letters are White, lowercase Black: K king, Q queen, R rook, B bishop, N knight, P pawn; . empty."


def board_text(board: chess.Board) -> str:
    """The board, White at the bottom, with file letters and rank numbers, a legend, the FEN and the move."""
    lines = ["  a b c d e f g h"]
    for rank in range(7, -1, -1):
        row = []
        for file in range(8):
            piece = board.piece_at(chess.square(file, rank))
            row.append(piece.symbol() if piece else ".")
        lines.append(f"{rank + 1} " + " ".join(row))
    lines.append(_PIECES)
    lines.append(f"FEN: {board.fen()}")
    status = f"Move {board.fullmove_number}, {'White' if board.turn == chess.WHITE else 'Black'} to move."
    if board.is_check():
        status += " Check!"
    lines.append(status)
    return "\n".join(lines)


class ChessEnv(TwoPlayerEnv[chess.Board]):
    """Chess against Stockfish; checkmate wins, a draw (stalemate, repetition, 50 moves...) scores 0.5.

    Besides `agent_side` and `opponent_seed`, a task may carry `fen`: the position to start from.
    """

    sides = ("White", "Black")
    opponent_name = "Stockfish"

    def __init__(
        self,
        *,
        suite: str = "chess-stockfish",
        task_factory: Callable[[int], Task] | None = None,
        depth: int = 1,
        random_move_share: float = 0.5,
        skill_level: int | None = None,
        engine_path: str | None = None,
        max_steps: int = 150,
    ) -> None:
        """`depth` limits Stockfish's search (plies); `random_move_share` is the chance of a random legal move.

        `skill_level` (0-20) sets Stockfish's own "Skill Level" option: below 20 its moves are random in a way
        that cannot be seeded, so snapshots no longer replay identically. `engine_path` overrides the search
        for the binary.
        """
        path = find_stockfish(engine_path)
        if path is None:
            where = engine_path or f"PATH or {DEBIAN_STOCKFISH}"
            raise StockfishNotFoundError(
                f"Stockfish was not found at {where}; install it (Debian: `apt-get install stockfish`) "
                "or pass engine_path= pointing at the executable"
            )
        if depth < 1:
            raise ConfigError(f"chess depth must be >= 1 ply, got {depth}")
        if skill_level is not None and not 0 <= skill_level <= 20:
            raise ConfigError(f"skill_level must be in 0..20 (Stockfish's range) or None, got {skill_level}")
        super().__init__(
            suite=suite,
            task_factory=task_factory or _adhoc_tasks(suite),
            max_steps=max_steps,
            random_move_share=random_move_share,
        )
        self.engine_path = path
        self.depth = depth
        self.skill_level = skill_level
        self._engine: chess.engine.SimpleEngine | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    # ----------------------------------------------------------------- engine lifecycle
    def _engine_handle(self) -> chess.engine.SimpleEngine:
        if self._engine is None:
            try:
                engine = chess.engine.SimpleEngine.popen_uci(self.engine_path)
            except (OSError, chess.engine.EngineError) as exc:
                raise OpponentError(f"cannot start Stockfish at {self.engine_path}: {exc}") from exc
            # The finalizer holds the engine, not the env, so it does not keep the env alive.
            self._finalizer = weakref.finalize(self, _shutdown, engine)
            self._engine = engine
            options: dict[str, Any] = {"Threads": 1, "Hash": 16}
            if self.skill_level is not None:
                options["Skill Level"] = self.skill_level
            engine.configure(options)
        return self._engine

    @property
    def engine_pid(self) -> int | None:
        """The process id of this env's Stockfish, or None before the first reset and after `close()`."""
        return None if self._engine is None else int(self._engine.transport.get_pid())

    def close(self) -> None:
        """Stop the engine process (safe to call more than once)."""
        if self._finalizer is not None:
            self._finalizer()
        self._engine = None
        self._finalizer = None
        super().close()

    # ----------------------------------------------------------------- game hooks
    def _new_game(self, task: Task) -> chess.Board:
        self._engine_handle()  # start it now: a missing or broken engine should fail the reset, not a move
        return chess.Board(task.params.get("fen", chess.STARTING_FEN))

    def _moves(self, state: chess.Board) -> list[str]:
        return [state.san(move) for move in state.legal_moves]

    def playout_action(self, rng: random.Random) -> str | None:
        """None: chess rollouts stay uniformly random. The board games' rule looks two plies ahead (every move,
        then every reply: about 900 copied boards per rollout step in a middlegame), and a mate in one is too
        rare to repay it."""
        return None

    def _play(self, state: chess.Board, move: str) -> chess.Board:
        state.push_san(move)
        return state

    def _to_move(self, state: chess.Board) -> int:
        return 0 if state.turn == chess.WHITE else 1

    def _winner(self, state: chess.Board) -> int | None:
        outcome = state.outcome(claim_draw=True)  # threefold repetition and the 50-move rule end the game
        if outcome is None:
            return None
        if outcome.winner is None:
            return DRAW
        return 0 if outcome.winner == chess.WHITE else 1

    def _strong_move(self, state: chess.Board) -> str:
        engine = self._engine_handle()
        try:
            # A fresh `game` object makes python-chess send "ucinewgame", which clears the hash table: the
            # reply then depends on the position alone, so a restored game continues the same way.
            result = engine.play(state, chess.engine.Limit(depth=self.depth), game=object())
        except (chess.engine.EngineError, chess.engine.EngineTerminatedError, TimeoutError) as exc:
            self.close()  # the process is dead or wedged; the next reset starts a fresh one
            raise OpponentError(f"Stockfish failed: {exc}") from exc
        if result.move is None:
            raise OpponentError("Stockfish returned no move")
        return str(state.san(result.move))

    def _board_text(self, state: chess.Board) -> str:
        return board_text(state)

    def _parse(self, text: str) -> Parsed[str]:
        wanted = text.strip()
        legal = self._legal_actions()
        if wanted in legal:
            return wanted, None
        board: chess.Board = self._state
        move: chess.Move | None = None
        try:
            move = board.parse_san(wanted)  # forgives missing "+", "#", and other SAN variants
        except ValueError:
            try:
                candidate = chess.Move.from_uci(wanted.lower())
                move = candidate if candidate in board.legal_moves else None
            except ValueError:
                move = None
        if move is None:
            example = ", ".join(legal[:3])
            return None, f"illegal or unreadable move {wanted[:40]!r}: answer with a legal move in SAN (e.g. {example})"
        return board.san(move), None


def _shutdown(engine: chess.engine.SimpleEngine) -> None:
    try:
        engine.quit()
    except Exception:  # already dead or wedged: closing the transport below still ends it
        pass
    finally:
        engine.close()


def build_task(name: str, opponent: str) -> Callable[[int, Split], Task]:
    """Task builder: the agent plays White on even seeds and Black on odd ones, from the starting position."""

    def build(seed: int, split: Split) -> Task:
        side = seed % 2
        colour, king = ("White", "black") if side == 0 else ("Black", "white")
        goal = f"Win this chess game as {colour} against {opponent}: checkmate the {king} king. A draw scores 0.5."
        params = {"agent_side": side, "opponent_seed": seed}
        return Task(suite=name, seed=seed, split=split, goal=goal, params=params)

    return build


def _adhoc_tasks(name: str) -> Callable[[int], Task]:
    build = build_task(name, "Stockfish")
    return lambda seed: build(seed, "train")


def register_suites() -> None:
    """Register one chess suite per level (the env fails with a clear message where Stockfish is missing)."""
    for lvl in LEVELS:
        name = f"chess-stockfish-{lvl.level}"
        who = f"Stockfish level {lvl.level} ({lvl.depth}-ply search, {lvl.random_move_share:.0%} random moves)"

        def make_env(
            make_task: Callable[[int], Task], name: str = name, lvl: ChessLevel = lvl
        ) -> Callable[..., TextEnv]:
            def factory(**kwargs: Any) -> TextEnv:
                options: dict[str, Any] = {"depth": lvl.depth, "random_move_share": lvl.random_move_share, **kwargs}
                return ChessEnv(suite=name, task_factory=make_task, **options)

            return factory

        game_suite(name, f"Chess against {who}", build_task(name, who), make_env)
