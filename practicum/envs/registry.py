"""One registry of task suites, web and games alike.

A suite is a family of tasks deterministic from a seed, with disjoint train, validation and test seed ranges,
and a factory for the environment that runs them. Suites register themselves when their module is imported;
`load_builtin_suites()` imports the built-in modules that exist.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from practicum.envs.core import SPLITS, Split, Task, TextEnv, describe_splits
from practicum.errors import ConfigError, UnknownIdError

Domain = Literal["web", "game"]

# Modules that register built-in suites when imported. A module that is missing (not built yet) or whose
# optional dependency is absent is skipped, so the registry lists exactly what works here.
BUILTIN_MODULES: tuple[str, ...] = (
    "practicum.envs.games",
    "practicum.envs.web",
)


@dataclass(frozen=True)
class Suite:
    """A named family of tasks and the environment that runs them.

    `splits` maps each split to its seed range; the ranges must be pairwise disjoint so that validation and
    test tasks are never trained on and validation tasks are never test tasks. A range may be empty (a task
    file without validation tasks). `make_task(seed)` must be deterministic and must set `Task.split` to the
    split whose range holds the seed.
    """

    name: str
    domain: Domain
    description: str
    make_task: Callable[[int], Task]
    make_env: Callable[..., TextEnv]
    splits: dict[Split, range]

    def __post_init__(self) -> None:
        missing = [s for s in SPLITS if s not in self.splits]
        if missing:
            raise ConfigError(f"suite {self.name!r} has no seed range for split(s) {missing}; give each split a range")
        for i, first in enumerate(SPLITS):
            for second in SPLITS[i + 1 :]:
                a, b = self.splits[first], self.splits[second]
                if len(a) and len(b) and max(a.start, b.start) < min(a.stop, b.stop):
                    raise ConfigError(
                        f"suite {self.name!r}: {first} seeds {a} and {second} seeds {b} overlap; "
                        "make the ranges disjoint"
                    )

    def split_of(self, seed: int) -> Split:
        """The split whose seed range holds `seed`."""
        for split, seeds in self.splits.items():
            if seed in seeds:
                return split
        raise UnknownIdError(f"seed {seed} is in no split of suite {self.name!r} ({describe_splits(self.splits)})")

    def tasks(self, split: Split, limit: int | None = None) -> list[Task]:
        """The first `limit` tasks of a split (all of them when `limit` is None), in seed order."""
        if split not in SPLITS:
            raise ConfigError(f"unknown split {split!r}; use one of {list(SPLITS)}")
        seeds = self.splits[split]
        if limit is not None:
            seeds = seeds[:limit]
        return [self.make_task(s) for s in seeds]

    def task(self, seed: int) -> Task:
        """The task for one seed (checked to lie in a split)."""
        self.split_of(seed)
        return self.make_task(seed)

    def counts(self) -> dict[Split, int]:
        """Number of tasks per split."""
        return {s: len(r) for s, r in self.splits.items()}

    def env(self, **kwargs: Any) -> TextEnv:
        """A new environment for this suite's tasks."""
        return self.make_env(**kwargs)


_REGISTRY: dict[str, Suite] = {}
_FROM_TASK_FILES: dict[str, str] = {}  # suite name -> the user task file that registered it
_loaded = False


def register(suite: Suite) -> Suite:
    """Add a suite to the registry (re-registering the same name replaces it)."""
    _REGISTRY[suite.name] = suite
    return suite


def register_task_file_suite(suite: Suite, path: str) -> Suite:
    """Register the suite of a user's task file; the name of a built-in suite is refused, not replaced.

    A task file (or suite file) may be loaded again (each worker process loads the run's files), and a suite of
    one file may replace another's; only the built-in suites are protected.
    """
    load_builtin_suites()
    if suite.name in _REGISTRY and suite.name not in _FROM_TASK_FILES:
        raise ConfigError(
            f"{path}: suite {suite.name!r} is the name of a built-in suite, which a task file may not replace; "
            f"name yours differently (e.g. suite: my-{suite.name})"
        )
    _FROM_TASK_FILES[suite.name] = path
    return register(suite)


def load_builtin_suites() -> None:
    """Import the built-in suite modules once, so that they register themselves."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # Only skip when the module itself (or an optional dependency) is absent, not on a broken import
            # inside practicum.
            if exc.name and exc.name.startswith("practicum") and exc.name != module:
                raise


def suites() -> list[Suite]:
    """Every registered suite, sorted by name."""
    load_builtin_suites()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_suite(name: str) -> Suite:
    """The suite called `name`; an unknown name fails with a did-you-mean suggestion."""
    load_builtin_suites()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownIdError(_unknown("suite", name, list(_REGISTRY))) from None


def get_task(task_id: str) -> Task:
    """The task for an id `suite:seed`."""
    suite_name, sep, seed_text = task_id.rpartition(":")
    if not sep or not seed_text.lstrip("-").isdigit():
        raise UnknownIdError(f"task id {task_id!r} is not of the form SUITE:SEED (e.g. 'frozenlake-4x4:3')")
    return get_suite(suite_name).task(int(seed_text))


def make_env(name: str, **kwargs: Any) -> TextEnv:
    """A new environment for the suite called `name`."""
    return get_suite(name).env(**kwargs)


def _unknown(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    listing = " Run `practicum envs` to list them." if kind == "suite" else ""
    return f"unknown {kind} {name!r}.{hint}{listing}"
