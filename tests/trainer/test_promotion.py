"""The promotion decision: one-sided exact McNemar test over paired per-task outcomes."""

from __future__ import annotations

import math

import pytest

from practicum.trainer.config import PromotionConfig
from practicum.trainer.promotion import TaskOutcome, decide_promotion, mcnemar_worse_p_value, wilson_interval

WIN, LOSS = TaskOutcome(True, 1.0), TaskOutcome(False, 0.0, "agent")


def outcomes(pattern: str) -> dict[str, TaskOutcome]:
    """'1' solved, '0' failed by the agent, 'i' an infra failure; task keys t0, t1, ..."""
    table = {"1": WIN, "0": LOSS, "i": TaskOutcome(False, 0.0, "infra"), "e": TaskOutcome(False, 0.0, "env")}
    return {f"t{i}": table[c] for i, c in enumerate(pattern)}


def test_p_value_is_the_binomial_tail_of_the_negative_flips() -> None:
    assert mcnemar_worse_p_value(0, 0) == 1.0
    assert mcnemar_worse_p_value(5, 0) == pytest.approx(1 / 32)
    assert mcnemar_worse_p_value(4, 0) == pytest.approx(1 / 16)
    assert mcnemar_worse_p_value(3, 1) == pytest.approx((math.comb(4, 3) + 1) / 16)
    assert mcnemar_worse_p_value(0, 7) == 1.0


def test_a_candidate_that_is_not_worse_is_promoted_with_its_flips_listed() -> None:
    decision = decide_promotion(outcomes("1100"), outcomes("1010"))
    assert decision.promote
    assert decision.negative_flips == ("t1",) and decision.positive_flips == ("t2",)
    assert decision.parent_success_rate == decision.candidate_success_rate == 0.5
    assert decision.test == "mcnemar-exact-one-sided" and decision.p_value == pytest.approx(0.75)
    assert "not worse beyond noise" in decision.reason


def test_without_the_gate_a_few_losses_are_noise_but_many_more_losses_than_gains_reject() -> None:
    noise_only = PromotionConfig(min_net_gain=None)
    assert decide_promotion(outcomes("1111" + "0" * 6), outcomes("0000" + "0" * 6), noise_only).promote  # p = 1/16
    worse = decide_promotion(outcomes("11111" + "0" * 5), outcomes("00000" + "0" * 5), noise_only)
    assert not worse.promote and worse.p_value == pytest.approx(1 / 32)
    assert worse.negative_flips == ("t0", "t1", "t2", "t3", "t4")
    assert "worse beyond noise: 5 task(s) newly failed vs 0 newly solved" in worse.reason


def test_by_default_a_candidate_that_solves_fewer_tasks_is_rejected_even_within_noise() -> None:
    decision = decide_promotion(outcomes("1110"), outcomes("1101"))  # 1 newly failed, 1 newly solved: equal
    assert decision.promote
    decision = decide_promotion(outcomes("1100" + "0" * 6), outcomes("0100" + "0" * 6))  # one loss, p = 0.5
    assert not decision.promote and decision.p_value == pytest.approx(0.5)
    assert (
        "solves 1/10 vs the parent's 2/10" in decision.reason and "below the required net gain of 0" in decision.reason
    )
    strictly_better = PromotionConfig(min_net_gain=1)
    assert not decide_promotion(outcomes("10"), outcomes("10"), strictly_better).promote
    assert decide_promotion(outcomes("10"), outcomes("11"), strictly_better).promote


def test_env_and_infra_failures_are_left_out_of_the_comparison() -> None:
    decision = decide_promotion(outcomes("11111" + "1"), outcomes("iiiie" + "1"))
    assert decision.promote and decision.n_tasks == 1
    assert decision.excluded == ("t0", "t1", "t2", "t3", "t4")


def test_too_few_comparable_tasks_keeps_the_parent() -> None:
    decision = decide_promotion(outcomes("1"), outcomes("1"), PromotionConfig(min_tasks=3))
    assert not decision.promote and "only 1 task(s) could be compared (need 3)" in decision.reason
    assert not decide_promotion({}, {}).promote


def test_an_optional_cap_on_newly_failed_tasks() -> None:
    config = PromotionConfig(max_negative_flips=1)
    decision = decide_promotion(outcomes("1100"), outcomes("0011"), config)
    assert not decision.promote and "2 task(s) newly failed, more than the cap of 1" in decision.reason


def test_wilson_interval_matches_the_textbook_value() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert decide_promotion(outcomes("10"), outcomes("10")).as_dict()["parent_interval"] == list(wilson_interval(1, 2))


def test_a_fractional_net_gain_is_refused_with_the_fix() -> None:
    from practicum.errors import ConfigError

    with pytest.raises(ConfigError, match=r"min_net_gain must be a whole number of tasks or None; got 0\.5"):
        PromotionConfig(min_net_gain=0.5)  # type: ignore[arg-type]
