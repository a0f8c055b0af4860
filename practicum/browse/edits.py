"""Hand relabels from the browser: a node's critic score, a pair's label. Each is one transaction that changes
the row and appends an `edits` row saying what it was, what it became, when, why and who.

A critic score feeds training through the node's blended value Q^ = alpha·Q_mcts + (1 - alpha)·critic, which
is what step-pair mining compares; so relabelling a score recomputes Q^ with the episode's own `alpha` (from
the search config stored with the episode). A pair is relabelled by swapping its chosen and rejected sides,
or by dropping it from training (`info["excluded"] = true`) and keeping it again.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from practicum.browse.errors import EditError
from practicum.errors import UnknownIdError
from practicum.search.scoring import blend
from practicum.store import Store
from practicum.store.models import Edit, Episode, NodeRow, Pair, utcnow

PAIR_LABELS: tuple[str, ...] = ("swap", "drop", "keep")
MAX_REASON_CHARS = 2000
# The sides of a pair that a swap exchanges, as (chosen column, rejected column).
_SIDES = (
    ("chosen", "rejected"),
    ("chosen_idx", "rejected_idx"),
    ("chosen_logprob", "rejected_logprob"),
    ("chosen_episode_id", "rejected_episode_id"),
)


def check_reason(reason: str) -> str:
    """The reason, stripped; `EditError` if it is empty or too long."""
    reason = reason.strip()
    if not reason:
        raise EditError("an edit needs a reason; say why the old label is wrong (it is kept with the edit)")
    if len(reason) > MAX_REASON_CHARS:
        raise EditError(f"the reason has {len(reason)} characters; keep it under {MAX_REASON_CHARS}")
    return reason


def parse_score(text: str) -> float:
    """A critic score typed in a form: a number in [0, 1]; `EditError` otherwise."""
    try:
        score = float(text)
    except ValueError:
        raise EditError(f"critic score {text!r} is not a number; enter a number between 0 and 1") from None
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise EditError(f"critic score {score!r} is out of range; critic scores lie between 0 and 1")
    return score


def _alpha(info: dict[str, Any] | None) -> float | None:
    config = (info or {}).get("search_config")
    alpha = config.get("alpha") if isinstance(config, dict) else None
    if isinstance(alpha, int | float) and not isinstance(alpha, bool) and 0.0 <= alpha <= 1.0:
        return float(alpha)
    return None


def _record(conn: Connection, **values: Any) -> int:
    edit_id = conn.execute(insert(Edit).values(created_at=utcnow(), **values)).inserted_primary_key[0]  # type: ignore[index]
    return int(edit_id)


def relabel_critic(
    store: Store, episode_id: int, node_idx: int, score: float, reason: str, *, author: str | None = None
) -> int:
    """Set a node's critic score (and its blended value) and record the edit; return the edit's id.

    `UnknownIdError` for a missing episode or node, `EditError` for a bad score or reason; nothing changes then.
    """
    reason = check_reason(reason)
    if not math.isfinite(score) or not 0.0 <= score <= 1.0:
        raise EditError(f"critic score {score!r} is out of range; critic scores lie between 0 and 1")
    with store.transaction() as conn:
        info = conn.execute(select(Episode.info).where(Episode.id == episode_id)).first()
        if info is None:
            raise UnknownIdError(f"episode {episode_id} does not exist; use the id of an existing episode")
        node = conn.execute(
            select(NodeRow.critic_score, NodeRow.blended_value, NodeRow.value, NodeRow.visits).where(
                NodeRow.episode_id == episode_id, NodeRow.idx == node_idx
            )
        ).first()
        if node is None:
            raise UnknownIdError(f"episode {episode_id} has no node {node_idx}; use a node index from its tree")
        alpha = _alpha(info[0])
        # An unvisited node has no search value yet: its Q^ is the critic score alone (as in the search).
        blended = node.blended_value
        if alpha is not None:
            blended = blend(float(node.value) if node.visits > 0 else None, score, alpha)
        conn.execute(
            update(NodeRow)
            .where(NodeRow.episode_id == episode_id, NodeRow.idx == node_idx)
            .values(critic_score=score, blended_value=blended)
        )
        return _record(
            conn,
            kind="critic_score",
            episode_id=episode_id,
            node_idx=node_idx,
            old_value={"critic_score": node.critic_score, "blended_value": node.blended_value},
            new_value={"critic_score": score, "blended_value": blended, "alpha": alpha},
            reason=reason,
            author=author,
        )


def relabel_pair(store: Store, pair_id: int, label: str, reason: str, *, author: str | None = None) -> int:
    """Swap a pair's sides (`"swap"`), drop it from training (`"drop"`) or keep it again (`"keep"`); record the
    edit and return its id. `UnknownIdError` for a missing pair, `EditError` for a bad label or reason."""
    reason = check_reason(reason)
    if label not in PAIR_LABELS:
        raise EditError(f"pair label {label!r} is unknown; use one of {', '.join(PAIR_LABELS)}")
    columns = [Pair.episode_id, Pair.info] + [getattr(Pair, name) for side in _SIDES for name in side]
    with store.transaction() as conn:
        row = conn.execute(select(*columns).where(Pair.id == pair_id)).first()
        if row is None:
            raise UnknownIdError(f"pair {pair_id} does not exist; use the id of a pair listed on an episode page")
        current = row._asdict()
        info = dict(current["info"] or {})
        excluded = bool(info.get("excluded", False))
        if label == "swap":
            values = {a: current[b] for a, b in _SIDES} | {b: current[a] for a, b in _SIDES}
            old = {name: current[name] for side in _SIDES for name in side}
            new = dict(values)
        else:
            info["excluded"] = label == "drop"
            values = {"info": info}
            old, new = {"excluded": excluded}, {"excluded": label == "drop"}
        conn.execute(update(Pair).where(Pair.id == pair_id).values(**values))
        return _record(
            conn,
            kind="pair_label",
            episode_id=current["episode_id"] if current["episode_id"] is not None else current["chosen_episode_id"],
            pair_id=pair_id,
            old_value={"label": "excluded" if excluded else "as mined", **old},
            new_value={"label": label, **new},
            reason=reason,
            author=author,
        )
