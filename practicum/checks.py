"""Checks of configuration values: each raises `ConfigError` with one line that names the key and the fix.

Shared by the search, trainer and loop settings, so that a bad value reads the same wherever it is set.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from practicum.errors import ConfigError


def choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    """`value` must be one of `allowed`."""
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ConfigError(f"{name} must be one of {options}; got {value!r}")


def int_at_least(name: str, value: object, low: int, fix: str) -> None:
    """`value` must be an integer (not a bool) >= `low`; `fix` says what to use instead."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    if value < low:
        raise ConfigError(f"{name} must be >= {low}; got {value}: {fix}")


def number(name: str, value: object, ok: Callable[[float], bool], fix: str) -> None:
    """`value` must be a finite number (not a bool) for which `ok` holds; `fix` says what to use instead."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number; got {value!r}: {fix}")
    if not ok(float(value)):
        raise ConfigError(f"{name} is out of range; got {value}: {fix}")
