"""`back` in browser tasks: offered only when the episode has a page to go back to, and never leaves the site."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from practicum.envs.web.browser import BrowserEnv, BrowserTaskSpec, Condition
from practicum.envs.web.chromium import BrowserLease
from practicum.envs.web.server import LocalServer
from tests.envs.web.helpers import act, element_id, page_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(browser_lease: BrowserLease) -> Iterator[LocalServer]:
    pages = {
        "/": "<title>Home</title><h1>Welcome</h1><a href='/b'>To B</a>",
        "/b": "<title>B</title><p>Page B</p><a href='/c'>To C</a>",
        "/c": "<title>C</title><p>Page C</p>",
    }
    server, _ = page_server(pages)
    yield server
    server.stop()


def _env(site: LocalServer) -> BrowserEnv:
    spec = BrowserTaskSpec(
        id="t", start_url=site.base_url + "/", goal="Find page D.", success=Condition(url_contains="/d")
    )
    return BrowserEnv([spec])


def test_back_on_the_start_page_is_not_offered_and_stays_there(site: LocalServer) -> None:
    env = _env(site)
    try:
        _, info = env.reset(seed=0)
        assert "back" not in info["legal_actions"]
        obs, reward, terminated, _, info = env.step("back")
        assert info["invalid_action"] and info["last_action_error"] == "there is no previous page to go back to"
        assert (reward, terminated) == (0.0, False)
        assert info["url"] == site.base_url + "/" and "Welcome" in obs  # not about:blank
        assert "click[1]" in info["legal_actions"]  # the page's link is still there to use
    finally:
        env.close()


def test_back_returns_through_the_episodes_pages_to_the_start_and_no_further(site: LocalServer) -> None:
    env = _env(site)
    try:
        env.reset(seed=0)
        act(env, f"click[{element_id(env, 'link', 'To B')}]")
        _, _, _, _, info = act(env, f"click[{element_id(env, 'link', 'To C')}]")
        assert info["url"] == site.base_url + "/c" and "back" in info["legal_actions"]
        _, _, _, _, info = act(env, "back")
        assert info["url"] == site.base_url + "/b" and "back" in info["legal_actions"]
        obs, _, _, _, info = act(env, "back")
        assert info["url"] == site.base_url + "/" and "Welcome" in obs
        assert "back" not in info["legal_actions"]
        # A new episode starts with no page behind it, whatever the last one visited.
        act(env, f"click[{element_id(env, 'link', 'To B')}]")
        _, info = env.reset(seed=0)
        assert "back" not in info["legal_actions"]
    finally:
        env.close()
