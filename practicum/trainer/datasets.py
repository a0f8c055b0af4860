"""Training datasets as queries over the store: reproducible, versioned, exportable in TRL's formats.

`build_datasets(store, policy_id=...)` reads the training-split episodes that arrived after the policy was
made (the store's `training_cutoff`), mines their trees (`practicum.trainer.mining`) into step pairs,
trajectory pairs and RFT examples, and mixes in a seeded replay share of older rows; pairs relabelled by hand
in `practicum browse` keep their label (`practicum.trainer.labels`). The episodes it may read stop at
`through_episode_id` (fixed at the first build and kept in `spec`), and with `run_id` to that run's episodes (the
practice loop reads its own run only; the filter is kept in `spec` too), so building again with the same spec
from the same store gives the same rows, in the same order, with the same fingerprint.

Every row remembers its source (episodes, nodes, the policy that collected it). `TrainingSet.to_hf()` and
`to_jsonl()` write TRL's own column layouts: `prompt`/`chosen`/`rejected` for DPO (text: the exact prompt the
policy saw and two actions, for step and trajectory pairs alike) and `prompt`/`completion` for SFT, plus the
source columns, which TRL ignores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from sqlalchemy import func, select

from practicum.store import Store, queries
from practicum.store.models import Episode, NodeRow, TaskRow
from practicum.trainer.config import DataSettings
from practicum.trainer.labels import Labels, load_labels
from practicum.trainer.mining import (
    EpisodeInfo,
    PreferencePair,
    RFTExample,
    balance_by_action,
    rft_examples,
    step_pairs,
    tied_examples,
    trajectory_pairs,
)

if TYPE_CHECKING:
    from datasets import Dataset

R = TypeVar("R", PreferencePair, RFTExample)

# The columns TRL reads; every other column of an exported dataset is provenance.
PREFERENCE_COLUMNS: tuple[str, ...] = ("prompt", "chosen", "rejected")
COMPLETION_COLUMNS: tuple[str, ...] = ("prompt", "completion")
_CHUNK = 500  # ids per IN (...) query: under every database's bound-parameter limit


@dataclass(frozen=True)
class TrainingSet(Generic[R]):
    """One dataset: its rows and how they were selected (`spec`, JSON-safe)."""

    name: str  # "step_pairs", "trajectory_pairs" or "rft"
    rows: tuple[R, ...]
    spec: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def fingerprint(self) -> str:
        """A hash of the rows (content and order): equal fingerprints mean identical training data."""
        payload = json.dumps([dataclasses.asdict(r) for r in self.rows], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(f"{self.name}\n{payload}".encode()).hexdigest()[:16]

    @property
    def episode_ids(self) -> list[int]:
        """Every episode a row came from, ascending."""
        return sorted({e for r in self.rows for e in r.episode_ids})

    @property
    def policy_ids(self) -> list[int]:
        """Every policy that collected a row (episodes without a policy are left out), ascending."""
        found: set[int] = set()
        for r in self.rows:
            ids = (r.chosen.policy_id, r.rejected.policy_id) if isinstance(r, PreferencePair) else (r.policy_id,)
            found.update(i for i in ids if i is not None)
        return sorted(found)

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts, TRL's columns first, then the provenance columns."""
        out = []
        for row in self.rows:
            if isinstance(row, PreferencePair):
                out.append(row.record())
                continue
            data = dataclasses.asdict(row)
            out.append({**{k: data.pop(k) for k in COMPLETION_COLUMNS}, **data})
        return out

    def to_hf(self) -> Dataset:
        """A Hugging Face `datasets.Dataset` that TRL's `DPOTrainer` / `SFTTrainer` load as is."""
        import datasets

        return datasets.Dataset.from_list(self.records())

    def to_jsonl(self, path: str | Path) -> Path:
        """Write one JSON object per row; `datasets.load_dataset("json", data_files=path)` reads it back."""
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as f:
            for record in self.records():
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return out

    def summary(self) -> dict[str, Any]:
        """Size, fingerprint and sources, for the store and the model card."""
        return {
            "rows": len(self.rows),
            "fingerprint": self.fingerprint,
            "episodes": len(self.episode_ids),
            "policies": self.policy_ids,
        }


@dataclass(frozen=True)
class Datasets:
    """Everything one build produced; `spec` is what `build_datasets(**spec-derived args)` needs to rebuild it."""

    step_pairs: TrainingSet[PreferencePair]
    trajectory_pairs: TrainingSet[PreferencePair]
    rft: TrainingSet[RFTExample]
    spec: dict[str, Any]

    @property
    def pairs(self) -> tuple[PreferencePair, ...]:
        """Step and trajectory pairs together, in that order (what a DPO stage trains on)."""
        return self.step_pairs.rows + self.trajectory_pairs.rows

    def all(self) -> tuple[TrainingSet[Any], ...]:
        """The three datasets."""
        return (self.step_pairs, self.trajectory_pairs, self.rft)

    def save(self, directory: str | Path) -> dict[str, str]:
        """Write each dataset as `<name>.jsonl` plus `datasets.json` (spec and summaries); return the paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {s.name: str(s.to_jsonl(out / f"{s.name}.jsonl")) for s in self.all()}
        meta = {"spec": self.spec, "datasets": {s.name: s.summary() for s in self.all()}}
        (out / "datasets.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        paths["meta"] = str(out / "datasets.json")
        return paths


@dataclass(frozen=True)
class _Loaded:
    info: EpisodeInfo
    created_at: datetime
    nodes: list[NodeRow]


def build_datasets(
    store: Store,
    *,
    policy_id: int | None = None,
    settings: DataSettings | None = None,
    seed: int = 0,
    run_id: int | None = None,
    since: datetime | None = None,
    through_episode_id: int | None = None,
) -> Datasets:
    """Mine the store's training-split episodes into step pairs, trajectory pairs and RFT examples.

    New data is what arrived after `since` (default: `policy_id`'s training cutoff, or nothing with
    `settings.aggregate`; with neither, everything is new). With `settings.replay_fraction = f > 0`, each
    dataset also gets older rows making up a share `f` of it, sampled with `seed`. Only episodes with id <=
    `through_episode_id` (default: the newest now) and,
    with `run_id`, of that run are read. Held-out tasks are never read.
    """
    settings = settings or DataSettings()
    with store.session() as session:
        if since is None and policy_id is not None and not settings.aggregate:
            since = queries.training_cutoff(session, policy_id)
        if through_episode_id is None:
            through_episode_id = int(session.scalar(select(func.max(Episode.id))) or 0)
        episodes = _load_episodes(session, run_id=run_id, through=through_episode_id, since=since, settings=settings)
        labels = load_labels(session)  # hand relabels from `practicum browse` win over the mined orientation
    new = [e for e in episodes if since is None or e.created_at > since]
    old = [e for e in episodes if since is not None and e.created_at <= since]
    new_ids = {e.info.id for e in new}

    traj_new: list[PreferencePair] = []
    traj_old: list[PreferencePair] = []
    if settings.trajectory_pairs:
        all_traj = labels.apply(
            trajectory_pairs([(e.info, e.nodes) for e in episodes], max_per_task=settings.max_trajectory_pairs_per_task)
        )
        for pair in all_traj:
            (traj_new if set(pair.episode_ids) & new_ids else traj_old).append(pair)

    spec = {
        "policy_id": policy_id,
        "since": since.isoformat() if since is not None else None,
        "through_episode_id": through_episode_id,
        "run_id": run_id,
        "seed": seed,
        "settings": dataclasses.asdict(settings),
        "new_episodes": len(new),
        "older_episodes": len(old),
    }
    f = settings.replay_fraction
    return Datasets(
        step_pairs=TrainingSet(
            "step_pairs",
            tuple(_with_replay(_steps(new, settings, labels), _steps(old, settings, labels), f, seed)),
            spec,
        ),
        trajectory_pairs=TrainingSet("trajectory_pairs", tuple(_with_replay(traj_new, traj_old, f, seed)), spec),
        rft=TrainingSet("rft", tuple(_with_replay(_rft(new, settings), _rft(old, settings), f, seed)), spec),
        spec=spec,
    )


def _steps(group: list[_Loaded], settings: DataSettings, labels: Labels) -> list[PreferencePair]:
    """The step pairs of `group`'s episodes, hand relabels applied (balanced per action if asked)."""
    pairs = labels.apply(
        [
            p
            for e in group
            for p in step_pairs(
                e.info,
                e.nodes,
                margin=settings.step_margin,
                max_per_node=settings.max_pairs_per_node,
                min_visits=settings.min_visits,
                by=settings.pair_value,
                confidence=settings.pair_confidence,
            )
        ]
    )
    return balance_by_action(pairs) if settings.balance_pairs else pairs


def _rft(group: list[_Loaded], settings: DataSettings) -> list[RFTExample]:
    """The RFT examples of `group`'s episodes (ties too if asked), capped and repeated as `settings` say."""
    rows = []
    for e in group:
        steps = rft_examples(
            e.info, e.nodes, include_failed=settings.include_failed_steps, good_value=settings.good_step_value
        )
        if settings.rft_targets == "ties":
            steps += tied_examples(
                steps,
                e.nodes,
                margin=settings.step_margin,
                confidence=settings.tie_confidence,
                min_visits=settings.min_visits,
            )
        rows += steps
    rows = _capped(rows, settings.max_copies)
    return [x for x in rows for _ in range(settings.overruled_repeat if x.overruled else 1)]


def rebuild_datasets(store: Store, spec: dict[str, Any]) -> Datasets:
    """Build again from a `Datasets.spec` (e.g. one stored with a training round): the same rows if the store
    still holds the same episodes."""
    since = spec.get("since")
    return build_datasets(
        store,
        policy_id=spec.get("policy_id"),
        settings=DataSettings(**spec.get("settings", {})),
        seed=int(spec.get("seed", 0)),
        run_id=spec.get("run_id"),
        since=datetime.fromisoformat(since) if since else None,
        through_episode_id=spec.get("through_episode_id"),
    )


def _capped(rows: list[RFTExample], most: int | None) -> list[RFTExample]:
    """`rows` keeping the first `most` of each distinct (prompt, completion), in order (all with None)."""
    if most is None:
        return rows
    seen: Counter[tuple[str, str]] = Counter()
    kept = []
    for row in rows:
        key = (row.prompt, row.completion.strip())
        seen[key] += 1
        if seen[key] <= most:
            kept.append(row)
    return kept


def _with_replay(new: list[R], old: list[R], fraction: float, seed: int) -> list[R]:
    """`new` plus a seeded sample of `old` sized so that it makes up `fraction` of the result."""
    if fraction <= 0 or not old or not new:
        return list(new)
    wanted = min(len(old), round(len(new) * fraction / (1.0 - fraction)))
    picked = sorted(random.Random(seed).sample(range(len(old)), wanted))  # keep store order for readability
    return list(new) + [old[i] for i in picked]


def _load_episodes(
    session: Any, *, run_id: int | None, through: int, since: datetime | None, settings: DataSettings
) -> list[_Loaded]:
    """Training-split episodes up to `through` with their trees, in a canonical order (see below).

    Older episodes (created at or before `since`) are only needed for replay and as the partner of a new
    episode in a trajectory pair; without replay only their committed paths are read.
    """
    query = (
        select(
            Episode.id,
            TaskRow.key,
            Episode.policy_id,
            Episode.outcome,
            Episode.failure_kind,
            Episode.reward,
            Episode.created_at,
            Episode.uid,
        )
        .join(TaskRow, TaskRow.id == Episode.task_id)
        .where(TaskRow.split == "train", Episode.id <= through)
        .order_by(Episode.id)
    )
    if run_id is not None:
        query = query.where(Episode.run_id == run_id)
    if not settings.sampled_episodes:
        query = query.where(Episode.mode != "sample")
    # Ids follow the order in which episodes were written, which with several workers is a race; the loop's
    # uids (run, iteration, phase, policy, task) are not. Training order (TRL shuffles with a seed, so the
    # order in matters) and tie-breaks then repeat from run to run under the same seeds.
    rows = sorted(session.execute(query).all(), key=lambda r: (r.uid is None, _natural(r.uid or ""), r.id))
    infos = [
        (
            EpisodeInfo(
                id=int(r.id),
                task=str(r.key),
                policy_id=r.policy_id,
                success=r.outcome == "success",
                failure_kind=r.failure_kind,
                reward=float(r.reward or 0.0),
            ),
            r.created_at,
        )
        for r in rows
    ]
    infos = [(i, t) for i, t in infos if i.usable]  # env/infra failures never become training data
    is_new = {i.id: since is None or t > since for i, t in infos}
    full = [i.id for i, _ in infos if is_new[i.id] or settings.replay_fraction > 0]
    new_tasks = {i.task for i, _ in infos if is_new[i.id]}
    paths_only = [i.id for i, _ in infos if not is_new[i.id] and settings.replay_fraction == 0 and i.task in new_tasks]
    if not settings.trajectory_pairs:
        paths_only = []
    nodes = _load_nodes(session, full, path_only=False)
    nodes.update(_load_nodes(session, paths_only, path_only=True))
    return [_Loaded(i, t, nodes[i.id]) for i, t in infos if i.id in nodes]


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that puts `r1/i2` before `r1/i10`."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part)


def _load_nodes(session: Any, episode_ids: Sequence[int], *, path_only: bool) -> dict[int, list[NodeRow]]:
    trees: dict[int, list[NodeRow]] = defaultdict(list)
    for chunk in _chunks(episode_ids, _CHUNK):
        query = select(NodeRow).where(NodeRow.episode_id.in_(chunk))
        if path_only:
            query = query.where(NodeRow.on_path.is_(True))
        for node in session.scalars(query.order_by(NodeRow.episode_id, NodeRow.idx)):
            trees[node.episode_id].append(node)
    return {e: trees.get(e, []) for e in episode_ids}


def _chunks(ids: Sequence[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])
