"""Relative checkpoint paths: a policy's paths under the store's folder are stored relative to that folder.

A SQLite store moved or copied with its folder (the database beside `practicum-checkpoints/`) then still finds
its checkpoints, adapters and datasets. Paths outside the folder stay absolute; stores without a folder
(PostgreSQL) are left as they are. The schema does not change: `checkpoint_path` and the `adapter_path` /
`datasets_dir` entries of `metrics` only change how they are written (`practicum.store.paths`).

Created: 2026-12-02 10:00:00
"""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0006_relative_paths"
down_revision: str | None = "0005_three_splits"

# Written out here rather than imported, so that this revision keeps doing what it did when later code changes.
_METRIC_PATH_KEYS = ("adapter_path", "datasets_dir")


def _folder() -> Path | None:
    url = op.get_bind().engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("uri"):
        return None
    return Path(str(url.database)).expanduser().resolve().parent


def _relative(path: str, folder: Path) -> str:
    if not Path(path).is_absolute():
        return path  # already relative (to the working directory a run had: the best guess is the store's folder)
    absolute = Path(os.path.abspath(path))
    for candidate in (absolute, absolute.resolve()):
        if candidate.is_relative_to(folder):
            return candidate.relative_to(folder).as_posix()
    return path


def _absolute(path: str, folder: Path) -> str:
    return path if Path(path).is_absolute() else str(folder / path)


def _rewrite(convert: Callable[[str, Path], str]) -> None:
    folder = _folder()
    if folder is None:
        return
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, checkpoint_path, metrics FROM policies")).fetchall()
    for policy_id, checkpoint, metrics_text in rows:
        metrics: Any = json.loads(metrics_text) if isinstance(metrics_text, str) else metrics_text
        new_checkpoint = convert(checkpoint, folder) if checkpoint else checkpoint
        new_metrics = metrics
        if isinstance(metrics, dict):
            new_metrics = {
                k: convert(v, folder) if k in _METRIC_PATH_KEYS and isinstance(v, str) else v
                for k, v in metrics.items()
            }
        if new_checkpoint != checkpoint or new_metrics != metrics:
            bind.execute(
                sa.text("UPDATE policies SET checkpoint_path = :c, metrics = :m WHERE id = :i"),
                {"c": new_checkpoint, "m": None if new_metrics is None else json.dumps(new_metrics), "i": policy_id},
            )


def upgrade() -> None:
    """Apply this revision: absolute paths under the store's folder become relative to it."""
    _rewrite(_relative)


def downgrade() -> None:
    """Undo this revision: relative paths become absolute again, under the folder the store is in now."""
    _rewrite(_absolute)
