"""A training round's datasets, as the round page lists them.

A round that trained saved what it trained on in its datasets folder (`practicum.trainer.datasets.Datasets.save`:
`step_pairs.jsonl`, `trajectory_pairs.jsonl`, `rft.jsonl`), named by its policy's `datasets_dir` metric. Those
files are the exact rows, RFT examples included, which exist nowhere else. Where the folder is gone (a store
copied without its checkpoints), the pairs the round trained on are still in the pairs table (their `round_id`);
the RFT rows are not.

Each page of rows is read by streaming the file, and the values of the nodes a row names (Q, Q̂, visits) are
looked up for that page only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from practicum.store.models import NodeRow, Pair, PolicyRow, TrainingRound

#: The datasets a round saves, in the order the page shows them: (name, the stage that trains on it, title).
DATASETS: tuple[tuple[str, str, str], ...] = (
    ("step_pairs", "dpo", "Step pairs"),
    ("trajectory_pairs", "dpo", "Trajectory pairs"),
    ("rft", "rft", "RFT examples"),
)
_PAIR_KIND = {"step_pairs": "step", "trajectory_pairs": "trajectory"}


@dataclass(frozen=True)
class NodeValues:
    """The search's numbers for one node a dataset row names."""

    value: float
    blended_value: float | None
    visits: int


@dataclass
class DatasetPage:
    """One page of one of a round's datasets."""

    name: str
    title: str
    stage: str  # the stage that trains on it ("dpo" or "rft")
    source: str  # "file", "pairs table" or "missing"
    path: str | None  # the file it was read from
    total: int
    offset: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    values: dict[tuple[int, int], NodeValues] = field(default_factory=dict)  # (episode, node) -> values

    def node(self, episode_id: Any, idx: Any) -> NodeValues | None:
        """The values of node `idx` of `episode_id`, if the row names one and it is in the store."""
        if not isinstance(episode_id, int) or not isinstance(idx, int):
            return None
        return self.values.get((episode_id, idx))


def datasets_dir(session: Session, round_row: TrainingRound) -> Path | None:
    """Where a round saved its datasets: the `datasets_dir` metric of the policy it produced (None: not recorded)."""
    if round_row.policy_out_id is None:
        return None
    policy = session.get(PolicyRow, round_row.policy_out_id)
    found = (policy.metrics or {}).get("datasets_dir") if policy is not None else None
    return Path(found) if isinstance(found, str) and found else None


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield line


def _read_page(path: Path, offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Rows `offset` to `offset + limit` of a JSONL file, and how many rows it has."""
    rows: list[dict[str, Any]] = []
    total = 0
    for line in _lines(path):
        if offset <= total < offset + limit:
            row = json.loads(line)
            rows.append(row if isinstance(row, dict) else {"value": row})
        total += 1
    return rows, total


def _pair_row(p: Pair) -> dict[str, Any]:
    """A pairs-table row in the layout of a saved pair row."""
    step = p.kind == "step"
    return {
        "kind": p.kind,
        "task": (p.info or {}).get("task"),
        "prompt": p.prompt,
        "chosen": p.chosen,
        "rejected": p.rejected,
        "margin": p.margin,
        "node_idx": p.node_idx,
        "chosen_idx": p.chosen_idx,
        "rejected_idx": p.rejected_idx,
        "chosen_episode_id": p.episode_id if step else p.chosen_episode_id,
        "rejected_episode_id": p.episode_id if step else p.rejected_episode_id,
        "pair_id": p.id,
    }


def _node_values(session: Session, keys: Collection[tuple[int, int]]) -> dict[tuple[int, int], NodeValues]:
    if not keys:
        return {}
    rows = session.execute(
        select(NodeRow.episode_id, NodeRow.idx, NodeRow.value, NodeRow.blended_value, NodeRow.visits).where(
            tuple_(NodeRow.episode_id, NodeRow.idx).in_(sorted(keys))
        )
    )
    return {(int(e), int(i)): NodeValues(float(v), b, int(n)) for e, i, v, b, n in rows}


def _row_nodes(name: str, row: dict[str, Any]) -> list[tuple[Any, Any]]:
    if name == "rft":
        return [(row.get("episode_id"), row.get("node_idx"))]
    return [
        (row.get("chosen_episode_id"), row.get("chosen_idx")),
        (row.get("rejected_episode_id"), row.get("rejected_idx")),
    ]


def dataset_page(
    session: Session, round_row: TrainingRound, name: str, title: str, stage: str, *, offset: int, limit: int
) -> DatasetPage:
    """One page of one dataset of a round: from its saved file, else (pairs) from the pairs table."""
    folder = datasets_dir(session, round_row)
    path = folder / f"{name}.jsonl" if folder is not None else None
    if path is not None and path.is_file():
        rows, total = _read_page(path, offset, limit)
        page = DatasetPage(name, title, stage, "file", str(path), total, offset, rows)
    elif name in _PAIR_KIND:
        where = (Pair.round_id == round_row.id, Pair.kind == _PAIR_KIND[name])
        total = int(session.scalar(select(func.count(Pair.id)).where(*where)) or 0)
        pairs = session.scalars(select(Pair).where(*where).order_by(Pair.id).offset(offset).limit(limit))
        page = DatasetPage(name, title, stage, "pairs table", None, total, offset, [_pair_row(p) for p in pairs])
    else:
        page = DatasetPage(name, title, stage, "missing", str(path) if path is not None else None, 0, offset)
    keys = {(e, i) for row in page.rows for e, i in _row_nodes(name, row) if isinstance(e, int) and isinstance(i, int)}
    page.values = _node_values(session, keys)
    return page


@lru_cache(maxsize=256)
def _rft_episodes(path: str, size: int, mtime_ns: int) -> frozenset[int]:
    """The episodes an RFT file's rows came from (cached per file version: size and modification time)."""
    del size, mtime_ns  # part of the cache key only
    found = set()
    for line in _lines(Path(path)):
        episode = json.loads(line).get("episode_id")
        if isinstance(episode, int):
            found.add(episode)
    return frozenset(found)


def rft_use(session: Session, run_id: int) -> dict[int, set[int]]:
    """Episode id -> the rounds whose RFT stage trained on an example from it, for rounds that could read the
    run's episodes (their data spec names this run or no run), from the rounds' saved `rft.jsonl`."""
    used: dict[int, set[int]] = defaultdict(set)
    rounds = session.scalars(
        select(TrainingRound).where(TrainingRound.policy_out_id.is_not(None), TrainingRound.status == "finished")
    )
    for round_row in rounds:
        config = round_row.config or {}
        if "rft" not in (config.get("stages") or ()):
            continue
        data_run = (config.get("data") or {}).get("run_id")
        if data_run is not None and data_run != run_id:
            continue
        folder = datasets_dir(session, round_row)
        path = folder / "rft.jsonl" if folder is not None else None
        if path is None or not path.is_file():
            continue
        stat = path.stat()
        for episode in _rft_episodes(str(path), stat.st_size, stat.st_mtime_ns):
            used[episode].add(round_row.id)
    return dict(used)
