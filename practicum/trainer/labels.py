"""Hand labels on pairs (made in `practicum browse --allow-edits`) applied to freshly mined pairs.

The trainer mines pairs from the trees every time it builds a dataset, so a relabel stored on a `pairs` row
would be lost unless it is carried over: a pair someone dropped stays out of training, and a pair someone
swapped trains the other way round. A mined pair matches a stored one by where it came from (episode, node
and the two sibling nodes for a step pair; the two episodes for a trajectory pair), in either orientation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from practicum.store.models import Edit, Pair
from practicum.trainer.mining import PreferencePair

Key = tuple[object, ...]


@dataclasses.dataclass(frozen=True)
class Labels:
    """Edited pairs by source: the orientation a person left them in (chosen side) and whether dropped."""

    chosen_side: dict[Key, object]
    dropped: frozenset[Key]

    @property
    def empty(self) -> bool:
        """No pair was relabelled by hand."""
        return not self.chosen_side

    def apply(self, pairs: Sequence[PreferencePair]) -> list[PreferencePair]:
        """`pairs` without the dropped ones, the swapped ones turned round; others untouched."""
        if self.empty:
            return list(pairs)
        out = []
        for pair in pairs:
            key = _key(
                pair.kind,
                pair.chosen.episode_id,
                pair.rejected.episode_id,
                pair.node_idx,
                pair.chosen.idx,
                pair.rejected.idx,
            )
            if key in self.dropped:
                continue
            wanted = self.chosen_side.get(key)
            mined = pair.chosen.idx if pair.kind == "step" else pair.chosen.episode_id
            out.append(pair if wanted is None or wanted == mined else pair.swapped())
        return out


def load_labels(session: Session) -> Labels:
    """The current state of every pair that has a `pair_label` edit."""
    edited = select(Edit.pair_id).where(Edit.kind == "pair_label", Edit.pair_id.is_not(None))
    rows = session.scalars(select(Pair).where(Pair.id.in_(edited))).all()
    chosen_side: dict[Key, object] = {}
    dropped = set()
    for row in rows:
        key = _key(
            row.kind,
            row.chosen_episode_id or row.episode_id,
            row.rejected_episode_id or row.episode_id,
            row.node_idx,
            row.chosen_idx,
            row.rejected_idx,
        )
        chosen_side[key] = row.chosen_idx if row.kind == "step" else row.chosen_episode_id
        if (row.info or {}).get("excluded"):
            dropped.add(key)
    return Labels(chosen_side, frozenset(dropped))


def _key(
    kind: str, chosen_ep: int | None, rejected_ep: int | None, node: int | None, a: int | None, b: int | None
) -> Key:
    if kind == "step":
        return ("step", chosen_ep, node, frozenset((a, b)))
    return ("trajectory", frozenset((chosen_ep, rejected_ep)))
