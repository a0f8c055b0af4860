"""The exceptions practicum raises on purpose.

Every error a user can cause (a bad config, an unknown task id, an unreachable database) is a
`PracticumError`: its message names the problem and the fix, and the CLI prints it as one line and exits
with code 2. Bad *model* output is never an exception: environments record it as an invalid action.
"""


class PracticumError(Exception):
    """Base class: a problem the user can fix; the message says how."""


class ConfigError(PracticumError, ValueError):
    """A configuration value is missing, malformed or out of range."""


class UnknownIdError(PracticumError, KeyError):
    """An id (suite, task, run, policy) that does not exist."""

    def __str__(self) -> str:  # KeyError would repr() the message and add quotes
        return str(self.args[0]) if self.args else ""


class StoreError(PracticumError):
    """The trajectory store cannot be opened, is unreachable, or has the wrong schema."""


class EnvError(PracticumError):
    """An environment was used wrongly (e.g. `step()` before `reset()`)."""


class SnapshotUnsupportedError(EnvError):
    """The environment cannot snapshot its state; search falls back to replaying the action prefix."""


class ModelError(PracticumError):
    """A model directory or endpoint cannot be loaded or reached."""


def end_of(exc: BaseException) -> tuple[str, str]:
    """The status and the one-line reason a run stopped by `exc` is recorded with: 'interrupted' for Ctrl-C,
    'failed' with the error's type and first line for anything else."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "stopped by Ctrl-C"
    text = str(exc).strip().splitlines()
    return "failed", f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
