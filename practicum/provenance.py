"""What every run records about itself, so that a result can be traced and reproduced.

A run stores its full config, its seeds, the versions of the packages that shape its results, the git revision
of the practicum source (when it runs from a checkout) and the command line.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

# The packages whose versions can change a result: models, training, search inputs, environments, storage.
TRACKED_PACKAGES: tuple[str, ...] = (
    "practicum",
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "gguf",
    "gymnasium",
    "minigrid",
    "chess",
    "miniwob",
    "playwright",
    "langgraph",
    "sqlalchemy",
    "alembic",
    "numpy",
)


def package_versions(packages: tuple[str, ...] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of `packages` plus Python's; a package that is not installed maps to "absent"."""
    found = {"python": platform.python_version()}
    for name in packages:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "absent"
    return found


def git_revision(path: Path | None = None) -> str | None:
    """The commit of the practicum source tree, with `+dirty` when it has uncommitted changes.

    None when practicum is installed from a wheel (no git checkout) or git is unavailable.
    """
    root = path or Path(__file__).resolve().parent.parent
    try:
        rev = _git(root, "rev-parse", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return None
    return f"{rev}+dirty" if dirty else rev


def _git(root: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True, timeout=10)
    return out.stdout.strip()


def run_record(config: dict[str, Any], seeds: dict[str, int], argv: list[str] | None = None) -> dict[str, Any]:
    """Everything a run stores about itself: config, seeds, versions, git revision, command, host."""
    return {
        "config": config,
        "seeds": seeds,
        "versions": package_versions(),
        "git_revision": git_revision(),
        "command": " ".join(argv if argv is not None else sys.argv),
        "host": {"platform": platform.platform(), "machine": platform.machine(), "cpus": _cpu_count()},
    }


def record_run(store: Any, config: dict[str, Any], seeds: dict[str, int], argv: list[str] | None = None) -> int:
    """Create a run in `store` (a `practicum.store.Store`) with its `run_record`; return the run's id."""
    record = run_record(config, seeds, argv)
    return int(
        store.create_run(
            config=record["config"],
            seeds=record["seeds"],
            command=record["command"],
            versions=record["versions"],
            git_rev=record["git_revision"],
        )
    )


def _cpu_count() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
