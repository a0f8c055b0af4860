"""The shop's rule of thumb for search's rollouts (`ShopEnv.playout_action`): it buys what the instruction asks
for from the start page in the fewest steps, recovers from a wrong product page, and stops with the episode."""

from __future__ import annotations

import random

import pytest

from practicum.envs.web.shop import ShopEnv, make_task
from practicum.envs.web.shop.tasks import SPLITS, ShopGoal, thing
from tests.envs.web.helpers import act, element_id

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def env(shop_env: ShopEnv) -> ShopEnv:
    return shop_env


def play_out(env: ShopEnv, rng: random.Random) -> tuple[list[str], dict[str, object]]:
    actions: list[str] = []
    while (action := env.playout_action(rng)) is not None:
        actions.append(action)
        *_, info = env.step(action)
    return actions, info


@pytest.mark.parametrize("seed", [SPLITS["train"][0], SPLITS["train"][7], SPLITS["test"][3]])
def test_the_rule_of_thumb_buys_the_request_in_six_steps(env: ShopEnv, seed: int) -> None:
    task = make_task(seed)
    env.reset(options={"task": task})
    actions, info = play_out(env, random.Random(0))
    assert info["success"] and env.playout_action(random.Random(0)) is None  # nothing after the episode ends
    assert actions[0] == f"search[{thing(ShopGoal.from_params(task.params))}]" and len(actions) == 6, actions
    assert [a.split("[")[0] for a in actions] == ["search", "click", "select", "select", "click", "click"]


def test_the_rule_of_thumb_leaves_a_product_that_lacks_the_requested_option(env: ShopEnv) -> None:
    task = make_task(SPLITS["train"][1])
    env.reset(options={"task": task})
    wanted = task.params["options"]["color"]
    act(env, f"search[{task.params['product_type']}]")
    titles = [e.label for e in env.elements if e.role == "link" and e.label in env.server.catalog.by_title]
    wrong = next(t for t in titles if wanted not in env.server.catalog.by_title[t].colors)
    act(env, f"click[{element_id(env, 'link', wrong)}]")
    assert env.playout_action(random.Random(0)) == "back"
    actions, info = play_out(env, random.Random(0))
    assert info["success"] and actions[0] == "back", actions
