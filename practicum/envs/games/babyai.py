"""BabyAI levels (the `minigrid` package) described in words, the way BALROG presents them to language models.

The agent sees a 7x7 square in front of it (walls block the view). The description lists what is visible,
each object with where it is relative to the agent ("a red ball 2 steps forward and 1 step left"), the
nearest wall straight ahead, left and right, what is directly in front (what "pick up" or "toggle" would act
on) and what the agent carries. The level's mission ("go to the red ball") is the goal. The actions are
BALROG's names for MiniGrid's first six actions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (importing registers the BabyAI-* ids with gymnasium)

from practicum.envs.core import Split, Task, TextEnv
from practicum.envs.games.gym_text import GymTextEnv, quiet_stdout
from practicum.envs.games.tasks import draw_for_split, game_suite

BABYAI_ACTIONS = ("turn left", "turn right", "go forward", "pick up", "drop", "toggle")  # MiniGrid actions 0-5

_ACTION_HELP = (
    "Actions: turn left / turn right turn on the spot; go forward moves one step; pick up takes the object "
    "in front of you; drop puts what you carry in front of you; toggle opens or closes the door in front of you."
)


@dataclass(frozen=True)
class Level:
    """A BabyAI level offered as a suite."""

    suite: str
    env_id: str
    max_steps: int
    description: str


LEVELS: tuple[Level, ...] = (
    Level("babyai-gotoobj", "BabyAI-GoToObj-v0", 40, "go to the only object in an empty room"),
    Level("babyai-gotolocal", "BabyAI-GoToLocal-v0", 64, "go to an object among distractors in one room"),
    Level("babyai-pickupdist", "BabyAI-PickupDist-v0", 64, "pick up an object among distractors in one room"),
    Level("babyai-openreddoor", "BabyAI-OpenRedDoor-v0", 40, "open the red door of the room"),
)


def describe_view(env: Any, obs: Any = None) -> str:
    """What a MiniGrid agent sees, in words, relative to where it stands and faces."""
    grid, visible = env.gen_obs_grid()
    size = grid.width
    ax, ay = size // 2, size - 1  # the agent stands at the bottom middle of its view, facing up
    things: list[tuple[int, int, str]] = []
    walls: dict[str, int] = {}
    for j in range(size):
        for i in range(size):
            if (i, j) == (ax, ay) or not visible[i, j]:
                continue
            obj = grid.get(i, j)
            if obj is None or obj.type in ("floor", "empty"):
                continue
            forward, right = ay - j, i - ax
            if obj.type == "wall":
                # Listing every wall cell would drown the objects; the nearest wall in each straight line
                # is what tells the agent how far it can walk.
                if right == 0:
                    side, distance = "forward", forward
                elif forward == 0:
                    side, distance = ("left" if right < 0 else "right"), abs(right)
                else:
                    continue
                walls[side] = min(walls.get(side, distance), distance)
                continue
            things.append((forward + abs(right), forward, f"{_name(obj)} {_where(forward, right)}"))
    lines = ["You see:"]
    lines += [f"- {text}" for _, _, text in sorted(things)] or ["- no objects"]
    lines += [f"- a wall {_steps(d)} {side}" for side, d in sorted(walls.items(), key=lambda kv: kv[1])]
    front = grid.get(ax, ay - 1)
    lines.append(f"In front of you: {_name(front) if front is not None else 'an empty cell'}.")
    carrying = env.carrying
    lines.append(f"You carry {_name(carrying) if carrying is not None else 'nothing'}.")
    lines.append(_ACTION_HELP)
    return "\n".join(lines)


def _name(obj: Any) -> str:
    if obj.type == "door":
        state = "open" if obj.is_open else ("locked" if obj.is_locked else "closed")
        return f"an {state} {obj.color} door" if state == "open" else f"a {state} {obj.color} door"
    if obj.type == "wall":
        return "a wall"
    if obj.type == "goal":
        return "the green goal square"
    if obj.type == "lava":
        return "lava"
    return f"a {obj.color} {obj.type}"


def _steps(n: int) -> str:
    return f"{n} step" if n == 1 else f"{n} steps"


def _where(forward: int, right: int) -> str:
    parts = []
    if forward:
        parts.append(f"{_steps(forward)} forward")
    if right:
        parts.append(f"{_steps(abs(right))} {'right' if right > 0 else 'left'}")
    return " and ".join(parts)


@functools.cache
def _scratch(env_id: str) -> Any:  # a MiniGridEnv: its hash() and mission are read
    # Tasks need the mission text, which only level generation produces; a scratch env generates it.
    return gym.make(env_id).unwrapped


def level_task(level: Level) -> Callable[[int, Split], Task]:
    """Task builder: one generated level per seed, its mission as the goal."""

    def draw(sub: int) -> tuple[str, str]:
        env = _scratch(level.env_id)
        with quiet_stdout():
            obs, _ = env.reset(seed=sub)
        return str(obs["mission"]), env.hash()

    def build(seed: int, split: Split) -> Task:
        sub, (mission, _) = draw_for_split(seed, split, draw, lambda m: f"{m[0]}|{m[1]}")
        goal = mission[0].upper() + mission[1:] + "."
        return Task(suite=level.suite, seed=seed, split=split, goal=goal, params={"reset_seed": sub})

    return build


def level_env(make_task: Callable[[int], Task], level: Level) -> Callable[..., TextEnv]:
    """Environment factory for a BabyAI level."""

    def factory(**kwargs: Any) -> TextEnv:
        options: dict[str, Any] = {
            "max_steps": level.max_steps,
            # MiniGrid's own step limit must not end the episode before practicum's does.
            "make_kwargs": {"max_steps": 100_000},
            **kwargs,
        }
        return GymTextEnv(
            level.env_id,
            render=describe_view,
            actions=(*BABYAI_ACTIONS, "done"),  # MiniGrid's seventh action, "done", is unused by BabyAI
            legal_actions=lambda env, obs: BABYAI_ACTIONS,
            suite=level.suite,
            task_factory=make_task,
            **options,
        )

    return factory


def register_suites() -> None:
    """Register the BabyAI suites."""
    for level in LEVELS:
        game_suite(
            level.suite,
            f"BabyAI {level.env_id.split('-')[1]} (minigrid), described in words: {level.description}",
            level_task(level),
            functools.partial(level_env, level=level),
        )
