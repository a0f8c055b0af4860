"""Shop tasks: at least 1,000 train and 200 each of validation and test, deterministic from the seed, the three
splits disjoint in seeds and in content."""

from __future__ import annotations

import itertools

import pytest

from practicum.envs.core import SPLITS as SPLIT_NAMES
from practicum.envs.registry import get_suite, get_task
from practicum.envs.web.shop.catalog import default_catalog
from practicum.envs.web.shop.tasks import SPLITS, ShopGoal, make_task, purchase_reward
from practicum.errors import EnvError, UnknownIdError


def test_split_sizes_and_registration() -> None:
    suite = get_suite("shop")
    counts = suite.counts()
    assert counts["train"] >= 1000 and counts["validation"] >= 200 and counts["test"] >= 200
    assert suite.splits == SPLITS
    assert suite.domain == "web"
    assert get_task("shop:5") == make_task(5)


def test_tasks_are_deterministic_and_know_their_split() -> None:
    for split in SPLIT_NAMES:
        for seed in (SPLITS[split].start, SPLITS[split].start + 1, SPLITS[split].stop - 1):
            a, b = make_task(seed), make_task(seed)
            assert a == b and a.params == b.params
            assert a.split == split
    with pytest.raises(UnknownIdError, match=r"in no split of suite 'shop' \(train 0..1999, validation 2000000"):
        make_task(SPLITS["train"].stop)


def test_requests_of_one_split_never_appear_in_another() -> None:
    tasks = {split: [make_task(s) for s in SPLITS[split]] for split in SPLIT_NAMES}
    for first, second in itertools.combinations(SPLIT_NAMES, 2):
        assert not set(SPLITS[first]) & set(SPLITS[second])
        content = {ShopGoal.from_params(t.params).content for t in tasks[first]}
        assert not content & {ShopGoal.from_params(t.params).content for t in tasks[second]}, (first, second)
        assert not {t.goal for t in tasks[first]} & {t.goal for t in tasks[second]}
    for split, some in tasks.items():
        assert len({t.goal for t in some}) > 0.95 * len(some), split  # instructions are varied


def test_every_instruction_names_its_requirements_and_its_target_meets_them() -> None:
    catalog = default_catalog()
    for seed in list(range(0, 2000, 13)) + list(SPLITS["validation"][::11]) + list(SPLITS["test"][::11]):
        task = make_task(seed)
        goal = ShopGoal.from_params(task.params)
        options = dict(goal.options)
        text = task.goal
        assert options["color"] in text and options["size"] in text and f"${goal.price_limit:g}" in text
        assert goal.product_type in text
        assert all(a in text for a in goal.attributes)
        target = catalog.by_id[goal.target]
        assert purchase_reward(goal, target, options).reward == 1.0


def test_a_task_of_another_suite_is_refused_by_the_goal_parser() -> None:
    with pytest.raises(EnvError, match="not a shop task"):
        ShopGoal.from_params({"task": "click-button"})
