"""Game environments: any gymnasium env as text, toy-text grids, BabyAI in words, and board games against a
fixed opponent (tic-tac-toe, Connect Four, chess against Stockfish).

Importing this package registers every game suite (`practicum.envs.registry` imports it).
"""

from __future__ import annotations

from practicum.envs.games import babyai, chess_stockfish, connect4, tictactoe, toy_text
from practicum.envs.games.board import DRAW, OpponentError, TwoPlayerEnv
from practicum.envs.games.chess_stockfish import ChessEnv, StockfishNotFoundError, find_stockfish
from practicum.envs.games.connect4 import ConnectFourEnv
from practicum.envs.games.gym_text import (
    GymStep,
    GymTextEnv,
    SuccessRule,
    gym_suite,
    judge_by_return,
    judge_by_reward,
    quiet_output,
)
from practicum.envs.games.suite_file import load_suite_file
from practicum.envs.games.tasks import DEFAULT_SPLITS, content_split, draw_for_split, game_suite
from practicum.envs.games.tictactoe import TicTacToeEnv

__all__ = [
    "DEFAULT_SPLITS",
    "DRAW",
    "ChessEnv",
    "ConnectFourEnv",
    "GymStep",
    "GymTextEnv",
    "OpponentError",
    "StockfishNotFoundError",
    "SuccessRule",
    "TicTacToeEnv",
    "TwoPlayerEnv",
    "content_split",
    "draw_for_split",
    "find_stockfish",
    "game_suite",
    "gym_suite",
    "judge_by_return",
    "judge_by_reward",
    "load_suite_file",
    "quiet_output",
]

toy_text.register_suites()
babyai.register_suites()
tictactoe.register_suites()
connect4.register_suites()
chess_stockfish.register_suites()
