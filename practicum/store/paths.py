"""File paths in the store, kept relative to the store's folder so that a store moved with its folder still works.

A SQLite store usually sits beside the checkpoints it records (`practicum-checkpoints/` next to
`practicum.db`). Policies store those paths relative to the folder of the database file: a path under that
folder is written as `practicum-checkpoints/run/round-00003/dpo/model`, any other path (the default model in
the user's cache, a model directory elsewhere) stays absolute, and reading joins a relative path to the folder
the store is in now. A store without a folder (PostgreSQL, in memory) keeps paths as they are given.

The folder is attached to the engine's dialect (`attach_folder`, called by `make_engine`), where the column
types of `practicum.store.models` find it when they convert values, so every read and write goes through it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy.engine import URL, Dialect, Engine

_FOLDER = "practicum_store_folder"  # the attribute of an engine's dialect that holds the store's folder

# A URL starts with a scheme ("sqlite://", "postgresql+psycopg://"); anything else given as --db is a file path.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def store_url(text: str) -> str:
    """`text` as a store URL: a URL with a scheme as it is, anything else a path to a SQLite file.

    `runs/p.db`, `~/p.db` and `/data/p.db` become `sqlite:////abs/path/p.db` (absolute, so the URL a run records
    still names the same file from another directory).
    """
    if _SCHEME.match(text):
        return text
    return f"sqlite:///{Path(os.path.abspath(Path(text).expanduser()))}"


def store_folder(url: URL) -> Path | None:
    """The folder of a SQLite store file (symlinks resolved); None for other databases and in-memory ones."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query.get("uri"):
        return None
    return Path(str(url.database)).expanduser().resolve().parent


def attach_folder(engine: Engine, folder: Path | None) -> None:
    """Make the column types convert paths against `folder` on this engine (see the module docstring)."""
    setattr(engine.dialect, _FOLDER, folder)


def folder_of(dialect: Dialect) -> Path | None:
    """The store folder attached to `dialect`, if any."""
    folder = getattr(dialect, _FOLDER, None)
    return folder if isinstance(folder, Path) else None


def to_stored(path: str, folder: Path | None) -> str:
    """What to store for `path`: relative to `folder` when it lies under it, else absolute.

    A relative `path` means relative to the working directory, as everywhere else; it is made absolute first.
    """
    if folder is None:
        return path
    absolute = Path(os.path.abspath(Path(path).expanduser()))
    for candidate in (absolute, absolute.resolve()):
        if candidate.is_relative_to(folder):
            return candidate.relative_to(folder).as_posix()
    return str(absolute)


def from_stored(path: str, folder: Path | None) -> str:
    """The path a stored value names: a relative one joined to `folder`, an absolute one as it is."""
    if folder is None or Path(path).is_absolute():
        return path
    return str(folder / path)
