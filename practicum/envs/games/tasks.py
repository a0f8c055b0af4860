"""Seeds, splits and task generation shared by the game suites.

Every game suite maps a seed to a task deterministically and keeps train, validation and test seeds in disjoint
ranges. Where tasks are generated content (a lake map, a BabyAI room, a taxi start), seed ranges alone are not
enough: two seeds can draw the same 4x4 lake, and then a test task was trained on. So the content itself is
split too: a stable hash of the content puts it in exactly one of the three splits (`core.content_split`), and a
seed redraws (deterministically) until it gets content of its own split. Validation and test content is then
never seen in training, and no validation content is test content.

Suites without generated content (the board games) differ between splits only in their seeds: a tic-tac-toe
test game starts from the same empty board as a train game, against an opponent seeded differently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from practicum.envs.core import Split, Task, TextEnv, content_split, describe_splits
from practicum.envs.registry import Suite, register
from practicum.errors import EnvError, UnknownIdError

T = TypeVar("T")

#: Seed ranges used by the game suites unless a suite says otherwise.
DEFAULT_SPLITS: dict[Split, range] = {
    "train": range(0, 100_000),
    "validation": range(200_000, 201_000),
    "test": range(100_000, 101_000),
}

_MAX_DRAWS = 1_000


def split_of(splits: dict[Split, range], seed: int, suite: str) -> Split:
    """The split whose seed range holds `seed`; a seed outside every range is an `UnknownIdError`."""
    for split, seeds in splits.items():
        if seed in seeds:
            return split
    raise UnknownIdError(
        f"seed {seed} is in no split of suite {suite!r} ({describe_splits(splits)}); pick a seed in one of them"
    )


def sub_seed(seed: int, attempt: int) -> int:
    """A well-mixed 32-bit seed derived from a task seed and a draw attempt (no two pairs collide in practice)."""
    return int(np.random.SeedSequence([seed, attempt]).generate_state(1, dtype=np.uint32)[0])


def draw_for_split(
    seed: int,
    split: Split,
    draw: Callable[[int], T],
    content: Callable[[T], str],
) -> tuple[int, T]:
    """Draw content for task `seed` that belongs to `split`; returns `(sub_seed, content)`.

    `draw(sub_seed)` generates content deterministically; `content(x)` is its canonical text. Draws are
    repeated with derived sub-seeds until one lands in `split`, so the result depends on `seed` alone.
    """
    for attempt in range(_MAX_DRAWS):
        s = sub_seed(seed, attempt)
        value = draw(s)
        if content_split(content(value)) == split:
            return s, value
    raise EnvError(
        f"no content of split {split!r} found for seed {seed} in {_MAX_DRAWS} draws; the content space is too "
        "small for three splits"
    )


def game_suite(
    name: str,
    description: str,
    build_task: Callable[[int, Split], Task],
    make_env: Callable[[Callable[[int], Task]], Callable[..., TextEnv]],
    splits: dict[Split, range] | None = None,
) -> Suite:
    """Register a game suite.

    `build_task(seed, split)` makes the task for a seed; `make_env(make_task)` returns the suite's environment
    factory (keyword arguments pass through, e.g. `max_steps`) given the suite's task factory.
    """
    ranges = dict(splits or DEFAULT_SPLITS)

    def make_task(seed: int) -> Task:
        return build_task(seed, split_of(ranges, seed, name))

    return register(
        Suite(
            name=name,
            domain="game",
            description=description,
            make_task=make_task,
            make_env=make_env(make_task),
            splits=ranges,
        )
    )
