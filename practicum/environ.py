"""Setting an environment variable for the length of a block, for libraries that read it at that moment."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def set_env(name: str, value: str) -> Iterator[None]:
    """Set `name` to `value` while the block runs, then put back what was there (or nothing)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
