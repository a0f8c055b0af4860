"""In real Chromium: a scripted shopper solves sampled shop tasks with reward 1.0; wrong purchases earn the
right partial reward; invalid actions are recorded and the episode goes on."""

from __future__ import annotations

import pytest

from practicum.envs.web.shop import ShopEnv, ShopGoal, make_task, purchase_reward
from practicum.envs.web.shop.catalog import default_catalog
from practicum.envs.web.shop.tasks import SPLITS
from tests.envs.web.helpers import act, element_id, shop_oracle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def env(shop_env: ShopEnv) -> ShopEnv:
    return shop_env


@pytest.mark.parametrize("seed", [3, 1234, SPLITS["validation"].start + 17, SPLITS["test"].start + 17])
def test_oracle_solves_sampled_tasks_with_reward_one(env: ShopEnv, seed: int) -> None:
    task = make_task(seed)
    _, reward, terminated, truncated, info = shop_oracle(env, task)
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["success"] and info["failure"] is None
    assert info["legal_actions"] == []
    assert "Thank you! Your order has been placed." in env.render()


def test_wrong_colour_earns_the_webshop_partial_reward(env: ShopEnv) -> None:
    task = make_task(3)
    goal = ShopGoal.from_params(task.params)
    target = default_catalog().by_id[goal.target]
    wrong = next(c for c in target.colors if c != task.params["options"]["color"])
    _, reward, terminated, _, info = shop_oracle(env, task, color=wrong)
    expected = purchase_reward(goal, target, {"color": wrong, "size": task.params["options"]["size"]}).reward
    n = len(goal.attributes)
    assert expected == pytest.approx((n + 2) / (n + 3))  # all but one option met
    assert terminated and reward == pytest.approx(expected)
    assert not info["success"] and info["failure"] == "agent"


def test_adding_without_options_shows_an_error_page_and_stop_gives_up(env: ShopEnv) -> None:
    task = make_task(10)
    target = default_catalog().by_id[task.params["target"]]
    env.reset(options={"task": task})
    act(env, f"search[{target.title}]")
    act(env, f"click[{element_id(env, 'link', target.title)}]")
    obs, reward, terminated, _, _ = act(env, f"click[{element_id(env, 'button', 'Add to cart')}]")
    assert "Choose a color and a size before adding to the cart." in obs
    assert (reward, terminated) == (0.0, False)
    _, reward, terminated, _, info = act(env, "stop[I give up]")
    assert (reward, terminated, info["success"], info["failure"]) == (0.0, True, False, "agent")


def test_invalid_actions_are_recorded_and_the_episode_goes_on(env: ShopEnv) -> None:
    obs, info = env.reset(seed=1)
    assert info["invalid_actions"] == 0
    bad = ["buy the red one", "click[999]", "type[1][hello]", "select[2][XL]", "back"]
    for n, action in enumerate(bad, 1):
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["invalid_action"] and info["invalid_actions"] == n
        assert (reward, terminated, truncated) == (0.0, False, False)
        assert f"Last action error: {info['last_action_error']}" in obs
        assert info["steps"] == n
    assert "unknown action" in env.step("buy it")[4]["last_action_error"]
    # The page is unchanged and a valid action still works.
    obs, _, _, _, info = act(env, "search[wool socks]")
    assert not info["invalid_action"] and info["last_action_error"] is None
    assert 'Results for "wool socks"' in obs
    assert info["invalid_actions"] == len(bad) + 1


def test_back_returns_to_the_previous_page(env: ShopEnv) -> None:
    home, info = env.reset(seed=2)
    assert "back" not in info["legal_actions"]
    results, *_, info = act(env, "search[mug]")
    assert "back" in info["legal_actions"]
    page_two, *_ = act(env, f"click[{element_id(env, 'link', 'Next >')}]")
    assert "Page 2 of" in page_two
    obs, *_, info = act(env, "back")
    assert obs == results
    obs, *_, info = act(env, "back")
    assert obs == home and "back" not in info["legal_actions"]
