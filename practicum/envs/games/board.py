"""Turn-based two-player games against a fixed opponent: the part tic-tac-toe, Connect Four and chess share.

The agent plays one side; after each agent move the opponent answers at once, so every observation is the
agent's turn. The opponent is a strong move chooser (a solver, a search, an engine) diluted by a
random-move share, both driven by a generator seeded from the task, so a game is reproducible from its task
and its snapshot. A win scores 1 (success), a draw 0.5, a loss 0.
"""

from __future__ import annotations

import copy
import random
from abc import abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar

import numpy as np

from practicum.envs.core import FailureKind, Outcome, Split, Task, TextEnv
from practicum.errors import ConfigError, EnvError

DRAW = -1  # `_winner` value for a drawn game; 0 and 1 are the players, in move order
PositionT = TypeVar("PositionT")  # a game's position: a board string, a `Position`, a `chess.Board`
# A snapshot: the position, the agent's player, the opponent's random generator, each player's last move.
BoardState = tuple[PositionT, int, np.random.Generator, dict[int, str]]


class OpponentError(EnvError):
    """The opponent could not move (e.g. the chess engine died): an infrastructure failure, not the agent's."""


class TwoPlayerEnv(TextEnv[str, BoardState[PositionT]], Generic[PositionT]):
    """A two-player game on a board; subclasses give the rules, the opponent's strong move and the text.

    Tasks carry `agent_side` (0: the agent moves first, 1: second) and `opponent_seed` in `params`.
    """

    _state: PositionT  # the current position, set by every reset

    #: Names of the two sides, in move order (e.g. ("X", "O"), ("White", "Black")).
    sides: tuple[str, str] = ("first player", "second player")
    #: How the opponent is called in the observation.
    opponent_name: str = "the opponent"
    observation_is_state = True  # the board and whose turn it is

    def __init__(
        self,
        *,
        suite: str,
        task_factory: Callable[[int], Task],
        max_steps: int,
        random_move_share: float,
    ) -> None:
        """`random_move_share` in [0, 1] is the chance that the opponent plays a uniformly random legal move."""
        if not 0.0 <= random_move_share <= 1.0:
            raise ConfigError(f"random_move_share must be in [0, 1], got {random_move_share}; e.g. 0.2")
        super().__init__(suite=suite, task_factory=task_factory, max_steps=max_steps)
        self.random_move_share = random_move_share
        self._agent = 0
        self._rng = np.random.default_rng(0)
        self._last: dict[int, str] = {}
        self._legal: list[str] | None = None  # cache: the legal moves are asked for several times per step

    # ----------------------------------------------------------------- hooks for subclasses
    @abstractmethod
    def _new_game(self, task: Task) -> PositionT:
        """The starting position."""

    @abstractmethod
    def _moves(self, state: PositionT) -> list[str]:
        """Legal moves of the side to move, as the names an agent types."""

    @abstractmethod
    def _play(self, state: PositionT, move: str) -> PositionT:
        """The position after `move` (a legal move name); may mutate and return `state`."""

    @abstractmethod
    def _to_move(self, state: PositionT) -> int:
        """Which side moves next (0 or 1)."""

    @abstractmethod
    def _winner(self, state: PositionT) -> int | None:
        """0 or 1 if that side has won, `DRAW`, or None while the game goes on."""

    @abstractmethod
    def _strong_move(self, state: PositionT) -> str:
        """The opponent's considered move (solver, search or engine); random moves are the base class's job."""

    @abstractmethod
    def _board_text(self, state: PositionT) -> str:
        """The board as text with its coordinates and a legend."""

    def _move_text(self, move: str) -> str:
        """How a move is written in the observation's "last move" lines."""
        return move

    # ----------------------------------------------------------------- TextEnv hooks
    def _start(self, task: Task) -> None:
        self._agent = int(task.params["agent_side"])
        self._rng = np.random.default_rng(int(task.params["opponent_seed"]))
        self._state = self._new_game(task)
        self._last = {}
        self._legal = None
        if self._to_move(self._state) != self._agent:
            self._opponent_turn()

    def _legal_actions(self) -> list[str]:
        if self._legal is None:
            self._legal = [] if self._winner(self._state) is not None else self._moves(self._state)
        return self._legal

    def _apply(self, action: str) -> Outcome:
        self._move(action, self._agent)
        outcome = self._outcome()
        if outcome is not None:
            return outcome
        try:
            self._opponent_turn()
        except OpponentError as exc:
            return Outcome(terminated=True, failure=FailureKind.INFRA, error=f"the opponent failed: {exc}")
        return self._outcome() or Outcome()

    def _render(self) -> str:
        me, them = self.sides[self._agent], self.sides[1 - self._agent]
        lines = [self._board_text(self._state), f"You play {me}; {self.opponent_name} plays {them}."]
        if self._agent in self._last:
            lines.append(f"Your last move: {self._move_text(self._last[self._agent])}.")
        if 1 - self._agent in self._last:
            lines.append(f"Opponent's last move: {self._move_text(self._last[1 - self._agent])}.")
        winner = self._winner(self._state)
        if winner is None:
            lines.append(f"Your turn ({me}).")
        else:
            lines.append(
                "Game over: " + ("a draw." if winner == DRAW else "you won." if winner == self._agent else "you lost.")
            )
        return "\n".join(lines)

    def _get_state(self) -> BoardState[PositionT]:
        return (self._state, self._agent, self._rng, dict(self._last))

    def reseed_chance(self, seed: int) -> bool:
        """The opponent's random-move coin and its tie-breaks are drawn from `seed` from now on."""
        self._rng = np.random.default_rng(seed)
        return True

    def playout_action(self, rng: random.Random) -> str | None:
        """A heavy playout move: one that wins at once if any does; else one after which the opponent has no
        winning reply; else any legal move, uniformly. Random rollouts value a move by how it fares when both of
        the agent's later moves are coin flips, so a move that sets up a win the rollout then misses looks no
        better than one that loses; these two plies of look-ahead remove most of that bias in tic-tac-toe
        (docs/learning.md). Costs moves x replies positions per rollout step."""
        if self._winner(self._state) is not None:
            return None
        moves = self._moves(self._state)
        wins = [m for m in moves if self._winner(self._after(self._state, m)) == self._agent]
        if wins:
            return rng.choice(wins)
        safe = [m for m in moves if not self._opponent_wins_at_once(self._after(self._state, m))]
        return rng.choice(safe or moves)

    def _after(self, state: PositionT, move: str) -> PositionT:
        """The position after `move`, leaving `state` as it was (`_play` may mutate its argument)."""
        return self._play(copy.deepcopy(state), move)

    def _opponent_wins_at_once(self, state: PositionT) -> bool:
        if self._winner(state) is not None:
            return False
        return any(self._winner(self._after(state, reply)) == 1 - self._agent for reply in self._moves(state))

    def _set_state(self, state: BoardState[PositionT]) -> None:
        self._state, self._agent, self._rng, self._last = state
        self._legal = None

    # ----------------------------------------------------------------- helpers
    @property
    def game_state(self) -> PositionT:
        """The current position (for oracles and tests; do not mutate it)."""
        return self._state

    @property
    def agent_side(self) -> int:
        """0 if the agent moves first in this episode, else 1."""
        return self._agent

    def _move(self, move: str, side: int) -> None:
        self._state = self._play(self._state, move)
        self._last[side] = move
        self._legal = None

    def _opponent_turn(self) -> None:
        moves = self._moves(self._state)
        # Draw the coin every turn, whichever way it falls, so the generator advances the same way each game.
        if self._rng.random() < self.random_move_share:
            move = moves[int(self._rng.integers(len(moves)))]
        else:
            move = self._strong_move(self._state)
        self._move(move, 1 - self._agent)

    def _outcome(self) -> Outcome | None:
        winner = self._winner(self._state)
        if winner is None:
            return None
        if winner == DRAW:
            return Outcome(reward=0.5, terminated=True)
        won = winner == self._agent
        return Outcome(reward=1.0 if won else 0.0, terminated=True, success=won)


def two_player_task_builder(
    name: str, opponent: str, *, game: str, line: str, salt: int
) -> Callable[[int, Split], Task]:
    """Task builder for a board game against an opponent: the agent's side (X first, O second) alternates with
    the seed, and the opponent's random generator is seeded by the seed and the game's `salt`."""

    def build(seed: int, split: Split) -> Task:
        side = seed % 2
        mark = ("X", "O")[side]
        order = "you move first" if side == 0 else "the opponent moves first"
        goal = (
            f"Win this game of {game} as {mark} against {opponent} ({order}): get {line} {mark}s in a row, "
            "column or diagonal. A draw scores 0.5."
        )
        opponent_seed = int(np.random.SeedSequence([seed, salt]).generate_state(1)[0])
        return Task(
            suite=name, seed=seed, split=split, goal=goal, params={"agent_side": side, "opponent_seed": opponent_seed}
        )

    return build


def adhoc_tasks(build: Callable[[int, Split], Task]) -> Callable[[int], Task]:
    """Tasks without a suite: every seed is a training task."""
    return lambda seed: build(seed, "train")
