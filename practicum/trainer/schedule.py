"""When the loop should train: enough new data since the current policy was made, or a clock."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

from practicum.store import Store, queries
from practicum.trainer.config import DataSettings, ScheduleConfig
from practicum.trainer.datasets import build_datasets


@dataclass(frozen=True)
class Due:
    """Whether a round is due, why, and the counts it was decided on."""

    due: bool
    reason: str
    new_episodes: int
    new_pairs: int
    seconds_since_policy: float


def round_due(
    store: Store,
    policy_id: int,
    config: ScheduleConfig | None = None,
    *,
    data: DataSettings | None = None,
    run_id: int | None = None,
    now: datetime | None = None,
) -> Due:
    """Whether `policy_id` should be trained now under `config`.

    New episodes are the training-split successes and agent failures since the policy's cutoff (of run
    `run_id` only, when given: the data a round of that run would train on); new pairs are the step and
    trajectory pairs they yield under `data` (the same mining a round does, without replay).
    """
    config = config or ScheduleConfig()
    settings = data or DataSettings()
    fresh = dataclasses.replace(settings, replay_fraction=0.0)
    with store.session() as s:
        since = queries.training_cutoff(s, policy_id)
    built = build_datasets(store, policy_id=policy_id, settings=fresh, run_id=run_id)
    episodes = int(built.spec["new_episodes"])
    pairs = len(built.pairs)
    elapsed = ((now or datetime.now(UTC)) - since).total_seconds()
    reasons = []
    if config.min_new_pairs and pairs >= config.min_new_pairs:
        reasons.append(f"{pairs} new pairs >= {config.min_new_pairs}")
    if config.min_new_episodes and episodes >= config.min_new_episodes:
        reasons.append(f"{episodes} new episodes >= {config.min_new_episodes}")
    if config.every_seconds is not None and elapsed >= config.every_seconds and episodes > 0:
        reasons.append(f"{elapsed:.0f} s since the policy was made >= {config.every_seconds:.0f} s")
    if reasons:
        return Due(True, "; ".join(reasons), episodes, pairs, elapsed)
    return Due(False, f"not yet: {episodes} new episodes, {pairs} new pairs", episodes, pairs, elapsed)
