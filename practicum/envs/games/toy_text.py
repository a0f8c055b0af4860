"""gymnasium's toy-text games as text: FrozenLake, Taxi and CliffWalking.

Each is the real gymnasium env driven through `GymTextEnv`, with a renderer that names positions by row and
column (row 0 is the top), so that a small model reads the state without decoding integers. FrozenLake is
described in words (where the goal lies from the player, what lies one step away in each direction), as
BALROG does, instead of a grid the model would have to index; Taxi and CliffWalking draw their grid with a
legend. On FrozenLake and CliffWalking a move off the edge of the grid is not a legal action. Tasks:

- FrozenLake: a random lake per seed (gymnasium's own generator, always solvable), 4x4 or 8x8, optionally
  slippery; start top-left, goal bottom-right.
- Taxi: gymnasium's start distribution (taxi cell, passenger stop, destination) drawn per seed.
- CliffWalking: the classic 4x12 cliff with a start cell drawn per seed (a fall returns you to the classic
  start, bottom-left).

Generated content is split by hash (see `tasks.py`), so validation and test lakes and starts never appear in
training.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.toy_text.frozen_lake import generate_random_map

from practicum.envs.core import Outcome, Split, Task, TextEnv
from practicum.envs.games.gym_text import GymStep, GymTextEnv
from practicum.envs.games.tasks import draw_for_split, game_suite

LAKE_ACTIONS = ("left", "down", "right", "up")  # gymnasium's order: 0 left, 1 down, 2 right, 3 up
TAXI_ACTIONS = ("down", "up", "right", "left", "pickup", "dropoff")  # 0 south, 1 north, 2 east, 3 west, ...
CLIFF_ACTIONS = ("up", "right", "down", "left")  # 0 up, 1 right, 2 down, 3 left
# (row, column) change of each move; row 0 is the top.
LAKE_MOVES = dict(zip(LAKE_ACTIONS, ((0, -1), (1, 0), (0, 1), (-1, 0)), strict=True))
CLIFF_MOVES = dict(zip(CLIFF_ACTIONS, ((-1, 0), (0, 1), (1, 0), (0, -1)), strict=True))

# A toy-text env's whole state is its current cell, the last action and its random generator.
_TOY_STATE = ("s", "lastaction")


def grid_text(cells: list[list[str]]) -> str:
    """A grid with column numbers on top and row numbers on the left, cells padded to one width."""
    ncol = len(cells[0])
    width = len(str(max(ncol, len(cells)) - 1)) + 1
    lines = [" " * width + "".join(f"{c:>{width}}" for c in range(ncol))]
    for r, row in enumerate(cells):
        lines.append(f"{r:>{width}}" + "".join(f"{ch:>{width}}" for ch in row))
    return "\n".join(lines)


def moves_inside(moves: dict[str, tuple[int, int]], row: int, col: int, nrow: int, ncol: int) -> list[str]:
    """The moves (in `moves`' order) that stay on an `nrow` x `ncol` grid from (`row`, `col`)."""
    return [name for name, (dr, dc) in moves.items() if 0 <= row + dr < nrow and 0 <= col + dc < ncol]


# ----------------------------------------------------------------------------------------------------- FrozenLake
_TILE_WORDS = {"S": "frozen ice", "F": "frozen ice", "H": "a hole", "G": "the goal"}


def render_lake(env: Any, obs: Any) -> str:
    """FrozenLake in words: the player's cell, where the goal lies from it, and what lies one step away in each
    legal direction (a tiny model reads this more reliably than it indexes a grid)."""
    desc = env.desc
    row, col = divmod(int(env.s), desc.shape[1])
    tile = desc[row, col].decode()
    if tile == "H":
        return f"You fell into the hole at row {row}, column {col}. Game over."
    if tile == "G":
        return f"You reached the goal at row {row}, column {col}."
    goal_row, goal_col = (int(v) for v in np.argwhere(desc == b"G")[0])
    near = []
    for name in lake_legal(env, obs):
        d_row, d_col = LAKE_MOVES[name]
        near.append(f"{name} is {_TILE_WORDS[desc[row + d_row, col + d_col].decode()]}")
    slippery = " The ice is slippery: you may slide sideways." if _is_slippery(env) else ""
    return (
        f"You are at row {row}, column {col}. {_goal_direction(goal_row - row, goal_col - col)}\n"
        f"Next to you: {', '.join(near)}.{slippery}"
    )


def _goal_direction(d_row: int, d_col: int) -> str:
    """Where the goal lies, from its row and column offsets: "The goal is 2 rows down and 1 column right."."""
    parts = []
    if d_row:
        parts.append(f"{abs(d_row)} row{'s' if abs(d_row) > 1 else ''} {'down' if d_row > 0 else 'up'}")
    if d_col:
        parts.append(f"{abs(d_col)} column{'s' if abs(d_col) > 1 else ''} {'right' if d_col > 0 else 'left'}")
    return f"The goal is {' and '.join(parts)}."


def lake_legal(env: Any, obs: Any) -> list[str]:
    """The moves that stay on the lake, in gymnasium's order. A move into the edge leaves the player where they
    are and search would waste simulations on it; on slippery ice it could still slide them sideways, but it is
    left out there too, so that every listed move is a direction the player can go."""
    nrow, ncol = env.desc.shape
    row, col = divmod(int(env.s), ncol)
    return moves_inside(LAKE_MOVES, row, col, nrow, ncol)


def lake_playout(env: Any, obs: Any, legal: Sequence[str], rng: random.Random) -> str | None:
    """A rollout move on the lake: onto the goal if a move reaches it; else one that does not step into a hole;
    else any. Random rollouts from a cell beside two holes mostly fall in, whatever the cell is worth; these
    rollouts fall in only where every way leads into a hole (or the ice slides them there)."""
    ncol = env.desc.shape[1]
    row, col = divmod(int(env.s), ncol)
    landing = {name: env.desc[row + LAKE_MOVES[name][0], col + LAKE_MOVES[name][1]] for name in legal}
    goal = [name for name, tile in landing.items() if tile == b"G"]
    if goal:
        return rng.choice(goal)
    dry = [name for name, tile in landing.items() if tile != b"H"]
    return rng.choice(dry or list(legal)) if legal else None


def _is_slippery(env: Any) -> bool:
    # FrozenLakeEnv keeps no flag; a slippery lake has three outcomes per move.
    return len(env.P[0][0]) > 1


def lake_task(name: str, size: int, slippery: bool) -> Callable[[int, Split], Task]:
    """Task builder: a random solvable `size`x`size` lake per seed (FrozenLake's own generator)."""

    def build(seed: int, split: Split) -> Task:
        sub, rows = draw_for_split(seed, split, lambda s: generate_random_map(size, 0.8, seed=s), "".join)
        # Short on purpose: the goal is in every prompt, and the observation already says where the goal lies
        # and whether the ice is slippery.
        goal = "Reach the goal without falling into a hole."
        params = {"reset_seed": sub, "make_kwargs": {"desc": rows, "is_slippery": slippery}}
        return Task(suite=name, seed=seed, split=split, goal=goal, params=params)

    return build


def lake_env(make_task: Callable[[int], Task], name: str, max_steps: int) -> Callable[..., TextEnv]:
    """Environment factory for a FrozenLake suite."""

    def factory(**kwargs: Any) -> TextEnv:
        options: dict[str, Any] = {"max_steps": max_steps, **kwargs}
        return GymTextEnv(
            "FrozenLake-v1",
            render=render_lake,
            actions=LAKE_ACTIONS,
            legal_actions=lake_legal,
            playout=lake_playout,
            state_attrs=_TOY_STATE,
            suite=name,
            task_factory=make_task,
            observation_is_state=True,
            **options,
        )

    return factory


# ----------------------------------------------------------------------------------------------------------- Taxi
_STOP_NAMES = ("R", "G", "Y", "B")


def render_taxi(env: Any, obs: Any) -> str:
    """Taxi's 5x5 map with walls, the taxi as T, and the passenger and destination named in words."""
    taxi_row, taxi_col, pass_idx, dest_idx = env.decode(int(env.s))
    rows = ["".join(ch.decode() for ch in row) for row in env.desc]
    line = list(rows[taxi_row + 1])
    line[2 * taxi_col + 1] = "T"
    rows[taxi_row + 1] = "".join(line)
    dest = _stop(env, dest_idx)
    if pass_idx == 4:
        passenger = "in the taxi"
    elif pass_idx == dest_idx:
        passenger = f"delivered at {dest}"
    else:
        passenger = f"waiting at {_stop(env, pass_idx)}"
    legend = (
        "Legend: T your taxi, R G Y B the four stops, | a wall (you cannot drive left/right through it), "
        ": no wall. Row 0 is the top, column 0 the left."
    )
    status = f"Taxi at row {taxi_row}, column {taxi_col}. Passenger: {passenger}. Destination: {dest}."
    return "Map:\n" + "\n".join(rows) + f"\n{legend}\n{status}"


def _stop(env: Any, idx: int) -> str:
    r, c = env.locs[idx]
    return f"{_STOP_NAMES[idx]} (row {r}, column {c})"


def taxi_legal(env: Any, obs: Any) -> list[str]:
    """Only the actions that change the state (gymnasium's action mask): no driving into walls, no pointless
    pickups or drop-offs."""
    mask = env.action_mask(int(env.s))
    return [name for name, ok in zip(TAXI_ACTIONS, mask, strict=True) if ok]


@functools.cache
def _scratch_taxi() -> Any:  # a TaxiEnv: its decode() is read
    return gym.make("Taxi-v4").unwrapped


def taxi_task(name: str) -> Callable[[int, Split], Task]:
    """Task builder: gymnasium's start distribution, one start (taxi, passenger, destination) per seed."""

    def draw(sub: int) -> int:
        start, _ = _scratch_taxi().reset(seed=sub)
        return int(start)

    def build(seed: int, split: Split) -> Task:
        sub, start = draw_for_split(seed, split, draw, str)
        env = _scratch_taxi()
        _, _, pass_idx, dest_idx = env.decode(start)
        goal = (
            f"Drive the taxi to the passenger at stop {_STOP_NAMES[pass_idx]}, pick them up, "
            f"and drop them off at stop {_STOP_NAMES[dest_idx]}."
        )
        return Task(suite=name, seed=seed, split=split, goal=goal, params={"reset_seed": sub})

    return build


def taxi_env(make_task: Callable[[int], Task], name: str, max_steps: int) -> Callable[..., TextEnv]:
    """Environment factory for the Taxi suite."""

    def factory(**kwargs: Any) -> TextEnv:
        options: dict[str, Any] = {"max_steps": max_steps, **kwargs}
        return GymTextEnv(
            "Taxi-v4",
            render=render_taxi,
            actions=TAXI_ACTIONS,
            legal_actions=taxi_legal,
            state_attrs=(*_TOY_STATE, "fickle_step", "taxi_orientation"),
            suite=name,
            task_factory=make_task,
            observation_is_state=True,
            **options,
        )

    return factory


# --------------------------------------------------------------------------------------------------- CliffWalking
_CLIFF_SHAPE = (4, 12)
# Any cell off the cliff and off the goal can be a start: rows 0-2 and the bottom-left corner.
_CLIFF_STARTS = [(r, c) for r in range(3) for c in range(12)] + [(3, 0)]


def render_cliff(env: Any, obs: Any) -> str:
    """CliffWalking's 4x12 grid with the cliff, the goal and the player, and the position in words."""
    nrow, ncol = env.shape
    row, col = divmod(int(env.s), ncol)
    cells = [["C" if env._cliff[r, c] else "." for c in range(ncol)] for r in range(nrow)]
    cells[nrow - 1][0] = "S"
    cells[nrow - 1][ncol - 1] = "G"
    at_goal = (row, col) == (nrow - 1, ncol - 1)
    cells[row][col] = "@"
    legend = (
        "Legend: @ you, . safe ground, C cliff, G goal, S where you restart after falling off the cliff. "
        "Row 0 is the top, column 0 the left."
    )
    status = f"You reached the goal at row {row}, column {col}." if at_goal else f"You are at row {row}, column {col}."
    return f"Cliff:\n{grid_text(cells)}\n{legend}\n{status}"


def cliff_legal(env: Any, obs: Any) -> list[str]:
    """The moves that stay on the grid (a move into the edge changes nothing), in gymnasium's order."""
    nrow, ncol = env.shape
    row, col = divmod(int(env.s), ncol)
    return moves_inside(CLIFF_MOVES, row, col, nrow, ncol)


def judge_cliff(step: GymStep) -> Outcome:
    """Reaching the goal succeeds; a fall is reported (gymnasium sends the player back to S and goes on)."""
    if step.terminated:
        return Outcome(reward=1.0, terminated=True, success=True)
    if step.reward <= -100:
        return Outcome(error="you stepped onto the cliff and fell; you are back at S (row 3, column 0)")
    return Outcome()


def _place_cliff_start(env: Any, task: Task, obs: Any) -> Any:
    env.s = int(np.ravel_multi_index(tuple(task.params["start"]), _CLIFF_SHAPE))
    return int(env.s)


def cliff_task(name: str) -> Callable[[int, Split], Task]:
    """Task builder: a start cell per seed, drawn from the cells off the cliff."""

    def draw(sub: int) -> tuple[int, int]:
        return _CLIFF_STARTS[int(np.random.default_rng(sub).integers(len(_CLIFF_STARTS)))]

    def cell(start: tuple[int, int]) -> str:
        # The content hashed for the split: "row R, column C" puts at least two of the 37 start cells in each of
        # validation and test (a bare "(R, C)" left test a single cell).
        return f"row {start[0]}, column {start[1]}"

    def build(seed: int, split: Split) -> Task:
        sub, (row, col) = draw_for_split(seed, split, draw, cell)
        goal = (
            f"Walk from row {row}, column {col} to the goal G at row 3, column 11 "
            "without stepping onto the cliff C (row 3, columns 1 to 10)."
        )
        return Task(suite=name, seed=seed, split=split, goal=goal, params={"reset_seed": sub, "start": [row, col]})

    return build


def cliff_env(make_task: Callable[[int], Task], name: str, max_steps: int) -> Callable[..., TextEnv]:
    """Environment factory for the CliffWalking suite."""

    def factory(**kwargs: Any) -> TextEnv:
        options: dict[str, Any] = {"max_steps": max_steps, **kwargs}
        return GymTextEnv(
            "CliffWalking-v1",
            render=render_cliff,
            actions=CLIFF_ACTIONS,
            legal_actions=cliff_legal,
            judge=judge_cliff,
            on_reset=_place_cliff_start,
            state_attrs=_TOY_STATE,
            suite=name,
            task_factory=make_task,
            observation_is_state=True,
            **options,
        )

    return factory


# --------------------------------------------------------------------------------------------------------- suites
def register_suites() -> None:
    """Register the toy-text suites."""
    for size, slippery, steps in ((4, False, 30), (8, False, 100), (4, True, 60), (8, True, 200)):
        name = f"frozenlake-{size}x{size}" + ("-slippery" if slippery else "")
        kind = "slippery " if slippery else ""
        game_suite(
            name,
            f"FrozenLake {size}x{size} {kind}(gymnasium): cross a random solvable lake without falling into a hole",
            lake_task(name, size, slippery),
            functools.partial(lake_env, name=name, max_steps=steps),
        )
    game_suite(
        "taxi",
        "Taxi (gymnasium): pick up a passenger and drop them at their destination on a 5x5 map",
        taxi_task("taxi"),
        functools.partial(taxi_env, name="taxi", max_steps=60),
    )
    game_suite(
        "cliffwalking",
        "CliffWalking (gymnasium): reach the goal along a cliff from a start cell drawn per seed",
        cliff_task("cliffwalking"),
        functools.partial(cliff_env, name="cliffwalking", max_steps=60),
    )
