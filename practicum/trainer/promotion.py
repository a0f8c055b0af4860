"""Whether a trained policy replaces its parent: a pure decision over per-task outcomes.

Both policies play the same held-out tasks, so the outcomes are paired. The tasks that differ are the
discordant pairs: `negative flips` (the parent solved it, the candidate fails it) and `positive flips` (newly
solved). McNemar's exact test asks whether the negative flips outnumber the positive ones by more than chance:
under "no difference" each discordant task is a fair coin, so with b negative and c positive flips the
one-sided p-value is P(X >= b) for X ~ Binomial(b + c, 1/2). The candidate is promoted unless it solves fewer
tasks than the parent (c - b below `min_net_gain`, 0 by default), that p-value is below `alpha` ("worse beyond
noise"), or it breaks an optional cap on negative flips.

Tasks where either run failed for `env` or `infra` reasons say nothing about the policies and are left out of
the comparison (and listed). Wilson score intervals of both success rates are reported alongside.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from practicum.trainer.config import PromotionConfig

TEST_NAME = "mcnemar-exact-one-sided"


@dataclass(frozen=True)
class TaskOutcome:
    """How one episode on one task ended."""

    success: bool
    reward: float = 0.0
    failure_kind: str | None = None  # "agent", "env", "infra"; None on success

    @property
    def judged(self) -> bool:
        """Whether the outcome says something about the policy (a success or an agent failure)."""
        return self.success or self.failure_kind in (None, "agent")


@dataclass(frozen=True)
class PromotionDecision:
    """The verdict and everything it was based on (JSON-safe through `as_dict`)."""

    promote: bool
    reason: str
    test: str
    p_value: float
    alpha: float
    n_tasks: int  # paired tasks compared
    parent_successes: int
    candidate_successes: int
    negative_flips: tuple[str, ...]  # solved by the parent, failed by the candidate
    positive_flips: tuple[str, ...]  # failed by the parent, solved by the candidate
    excluded: tuple[str, ...]  # tasks left out: env/infra failures, or evaluated for one policy only
    parent_interval: tuple[float, float]
    candidate_interval: tuple[float, float]

    @property
    def parent_success_rate(self) -> float:
        """The parent's success rate on the compared tasks."""
        return self.parent_successes / self.n_tasks if self.n_tasks else 0.0

    @property
    def candidate_success_rate(self) -> float:
        """The candidate's success rate on the compared tasks."""
        return self.candidate_successes / self.n_tasks if self.n_tasks else 0.0

    def as_dict(self) -> dict[str, object]:
        """A JSON-safe dict for the store (policy metrics, round metrics)."""
        return {
            "promote": self.promote,
            "reason": self.reason,
            "test": self.test,
            "p_value": self.p_value,
            "alpha": self.alpha,
            "n_tasks": self.n_tasks,
            "parent_successes": self.parent_successes,
            "candidate_successes": self.candidate_successes,
            "parent_success_rate": self.parent_success_rate,
            "candidate_success_rate": self.candidate_success_rate,
            "negative_flips": list(self.negative_flips),
            "positive_flips": list(self.positive_flips),
            "excluded": list(self.excluded),
            "parent_interval": list(self.parent_interval),
            "candidate_interval": list(self.candidate_interval),
        }


def mcnemar_worse_p_value(negative: int, positive: int) -> float:
    """One-sided exact McNemar p-value for "the candidate is worse": P(X >= negative), X ~ Bin(n, 1/2)."""
    if negative < 0 or positive < 0:
        raise ValueError(f"flip counts must be >= 0, got {negative} and {positive}")
    n = negative + positive
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(negative, n + 1))
    return min(1.0, tail / 2**n)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a success rate (95% by default); (0, 1) without trials."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def decide_promotion(
    parent: Mapping[str, TaskOutcome],
    candidate: Mapping[str, TaskOutcome],
    config: PromotionConfig | None = None,
) -> PromotionDecision:
    """Promote `candidate` over `parent` unless it solves fewer tasks or is worse beyond noise (module docstring).

    Both map task keys to outcomes. Only tasks present in both with judged outcomes are compared; with fewer
    than `config.min_tasks` of them the candidate is not promoted (nothing shows it is not worse).
    """
    config = config or PromotionConfig()
    shared = sorted(set(parent) & set(candidate))
    compared = [t for t in shared if parent[t].judged and candidate[t].judged]
    excluded = tuple(sorted((set(parent) | set(candidate)) - set(compared)))
    negative = tuple(t for t in compared if parent[t].success and not candidate[t].success)
    positive = tuple(t for t in compared if candidate[t].success and not parent[t].success)
    parent_wins = sum(parent[t].success for t in compared)
    candidate_wins = sum(candidate[t].success for t in compared)
    p_value = mcnemar_worse_p_value(len(negative), len(positive))
    if len(compared) < config.min_tasks:
        promote = False
        reason = (
            f"only {len(compared)} task(s) could be compared (need {config.min_tasks}); evaluate both policies on "
            "the same held-out tasks"
        )
    elif p_value < config.alpha:
        promote = False
        reason = (
            f"worse beyond noise: {len(negative)} task(s) newly failed vs {len(positive)} newly solved "
            f"(one-sided exact McNemar p = {p_value:.4f} < {config.alpha})"
        )
    elif config.min_net_gain is not None and len(positive) - len(negative) < config.min_net_gain:
        promote = False
        reason = (
            f"solves {candidate_wins}/{len(compared)} vs the parent's {parent_wins}/{len(compared)}: "
            f"{len(positive)} newly solved - {len(negative)} newly failed = {len(positive) - len(negative)}, "
            f"below the required net gain of {config.min_net_gain}"
        )
    elif config.max_negative_flips is not None and len(negative) > config.max_negative_flips:
        promote = False
        reason = f"{len(negative)} task(s) newly failed, more than the cap of {config.max_negative_flips}"
    else:
        promote = True
        reason = (
            f"not worse beyond noise: {candidate_wins}/{len(compared)} vs {parent_wins}/{len(compared)} solved, "
            f"{len(negative)} newly failed, {len(positive)} newly solved (p = {p_value:.4f} >= {config.alpha})"
        )
    return PromotionDecision(
        promote=promote,
        reason=reason,
        test=TEST_NAME,
        p_value=p_value,
        alpha=config.alpha,
        n_tasks=len(compared),
        parent_successes=parent_wins,
        candidate_successes=candidate_wins,
        negative_flips=negative,
        positive_flips=positive,
        excluded=excluded,
        parent_interval=wilson_interval(parent_wins, len(compared)),
        candidate_interval=wilson_interval(candidate_wins, len(compared)),
    )
