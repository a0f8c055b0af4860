"""Tic-tac-toe's observation names every cell with its content and the lines one mark from complete, and
`board_from_text` reads the board back from it."""

from __future__ import annotations

import pytest

from practicum.envs import registry
from practicum.envs.games.tictactoe import TicTacToeEnv, board_from_text, board_text, lines_text


def test_rows_name_every_cell_with_its_content() -> None:
    assert board_text("X.O.X...O") == (
        "Row 3: a3 X, b3 empty, c3 O\nRow 2: a2 empty, b2 X, c2 empty\nRow 1: a1 empty, b1 empty, c1 O"
    )


def test_lines_with_two_marks_and_an_empty_third_cell_are_named_for_each_player() -> None:
    # X X . / O O . / . . X: X has the top row (c3 empty); O has the middle row (c2 empty); the diagonal
    # a3 b2 c1 is mixed and the column c holds one X only.
    assert lines_text("XX.OO...X", agent=0) == (
        "You (X) have two in a line with c3 empty: a3 b3 c3.\n"
        "The opponent (O) has two in a line with c2 empty: a2 b2 c2."
    )
    assert lines_text("XX.OO...X", agent=1).startswith("You (O) have two in a line with c2 empty: a2 b2 c2.")
    # X . . / . X . / . . .: one line for X, via b2, and none for O.
    assert lines_text("X...X....", agent=1) == (
        "You (O) have no two in a line with the third cell empty.\n"
        "The opponent (X) has two in a line with c1 empty: a3 b2 c1."
    )
    # X X . / X . . / . . .: two lines for X, each named with its empty cell.
    assert "You (X) have two in a line with c3 empty: a3 b3 c3; with a1 empty: a1 a2 a3." in lines_text("XX.X.....", 0)


def test_observation_keeps_the_sides_and_the_turn_and_draws_no_grid() -> None:
    env = registry.make_env("tictactoe")
    assert isinstance(env, TicTacToeEnv)
    obs, _ = env.reset(seed=1)  # the agent plays O; the opponent has moved
    assert board_text(env.game_state) in obs
    assert "You (O) have" in obs and "The opponent (X) has" in obs
    assert "You play O; the opponent plays X." in obs and "Your turn (O)." in obs
    assert "a b c" not in obs


def test_a_finished_game_names_no_lines() -> None:
    env = registry.make_env("tictactoe-perfect")
    obs, info = env.reset(seed=0)  # X against a perfect opponent: play the first empty cell until the game ends
    terminated = False
    while not terminated:
        obs, _, terminated, _, info = env.step(info["legal_actions"][0])
    assert "Game over" in obs and "two in a line" not in obs


@pytest.mark.parametrize("board", [".........", "X........", "XX.OO....", "XOXOXOOXO", "O.X.X.O..", "XXXOO...."])
def test_board_from_text_reads_back_the_rendered_board(board: str) -> None:
    assert board_from_text(board_text(board)) == board
    assert (
        board_from_text(f"Goal: win.\n\n{board_text(board)}\n{lines_text(board, 0)}\n\nLegal actions:\n1. a1") == board
    )


def test_board_from_text_reads_the_last_board_of_a_prompt_and_none_without_one() -> None:
    env = registry.make_env("tictactoe")
    first, info = env.reset(seed=0)
    second, *_ = env.step(info["legal_actions"][0])
    assert board_from_text(first + "\n\n" + second) == env.game_state
    assert board_from_text("Goal: buy socks.\n\nA shop page.") is None
