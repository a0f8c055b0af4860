"""A benchmark's results file: one JSON object to which each run adds its entry under its label."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def save_entry(path: Path, keys: Sequence[str], entry: Any) -> None:
    """Set `entry` at `keys` (`["suite", "label"]`: nested objects made as needed) in the JSON file at `path`,
    keeping every other entry; the file is made if there is none."""
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = entry
    path.write_text(json.dumps(data, indent=2) + "\n")
