"""The generic browser environment: allow-list blocking, user success checks, and the built-in shop demo."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from practicum.envs.registry import get_suite
from practicum.envs.web.browser import BrowserEnv, BrowserTaskSpec, Condition
from practicum.envs.web.chromium import BrowserLease
from practicum.envs.web.server import LocalServer
from practicum.errors import ConfigError
from tests.envs.web.helpers import act, element_id, page_server

pytestmark = pytest.mark.browser


Sites = tuple[LocalServer, list[str], LocalServer, list[str]]


@pytest.fixture(scope="module")
def sites(browser_lease: BrowserLease) -> Iterator[Sites]:
    outside, outside_log = page_server({"/": "<title>Outside</title><p>You left.</p>"})
    home_pages = {
        "/": f"""<title>Home</title><h1>Welcome</h1>
            <a href="/b">Inside link</a>
            <a href="{outside.base_url}/">Outside link</a>
            <img src="{outside.base_url}/pixel.png" alt="">""",
        "/b": "<title>B</title><p>Page B reached</p><a href='/'>home</a>",
    }
    home, home_log = page_server(home_pages)
    yield home, home_log, outside, outside_log
    home.stop()
    outside.stop()


def _env(home: LocalServer, **spec: object) -> BrowserEnv:
    defaults: dict[str, object] = {
        "id": "t",
        "start_url": home.base_url + "/",
        "goal": "Reach page B.",
        "success": Condition(url_contains="/b", text_contains="page b reached"),
    }
    defaults.update(spec)
    return BrowserEnv([BrowserTaskSpec(**defaults)])  # type: ignore[arg-type]


def test_navigation_outside_the_allow_list_is_blocked_and_recorded(sites: Sites) -> None:
    home, _, outside, outside_log = sites
    env = _env(home)
    try:
        obs, info = env.reset(seed=0)
        assert env.allowed_domains == (f"127.0.0.1:{home.port}",)
        assert f"{outside.base_url}/pixel.png" in info["blocked_requests"]  # a sub-resource, blocked silently
        obs, reward, terminated, _, info = act(env, f"click[{element_id(env, 'link', 'Outside link')}]")
        assert not terminated and reward == 0.0
        assert f"navigation to {outside.base_url}/ was blocked" in info["last_action_error"]
        assert f"{outside.base_url}/" in info["blocked_requests"]
        assert info["url"] == home.base_url + "/" and "Welcome" in obs  # still on the page
        assert outside_log == []  # the other server never saw a request
        # The episode goes on: the allowed link works and the declarative check ends it.
        _, reward, terminated, _, info = act(env, f"click[{element_id(env, 'link', 'Inside link')}]")
        assert (reward, terminated, info["success"]) == (1.0, True, True)
    finally:
        env.close()


def test_an_explicit_allow_list_replaces_the_default(sites: Sites) -> None:
    home, _, _, outside_log = sites
    env = _env(home, allowed_domains=("127.0.0.1",), success=Condition(text_contains="You left."))
    try:
        env.reset(seed=0)
        _, reward, terminated, _, info = act(env, f"click[{element_id(env, 'link', 'Outside link')}]")
        assert info["blocked_requests"] == []
        assert "/pixel.png" in outside_log and "/" in outside_log
        assert (reward, terminated, info["success"]) == (1.0, True, True)
    finally:
        env.close()


def test_a_start_url_outside_its_allow_list_is_a_config_error(sites: Sites) -> None:
    home, *_ = sites
    env = _env(home, allowed_domains=("example.org",))
    try:
        with pytest.raises(ConfigError, match="outside its own allow-list"):
            env.reset(seed=0)
    finally:
        env.close()


def test_callable_and_answer_checks(sites: Sites) -> None:
    home, *_ = sites
    seen: list[str | None] = []

    def on_b(page: Page, answer: str | None) -> float:
        seen.append(answer)
        return 1.0 if page.url.endswith("/b") else 0.25

    env = BrowserEnv(
        [
            BrowserTaskSpec("callable", home.base_url + "/", "Reach B.", on_b),
            BrowserTaskSpec("answer", home.base_url + "/", "Say hello.", Condition(answer_contains="hello")),
            BrowserTaskSpec("broken", home.base_url + "/", "Anything.", lambda page, answer: 1 / 0),
        ]
    )
    try:
        env.reset(seed=0)
        _, reward, terminated, *_ = act(env, "stop[]")  # a partial score when the agent stops early
        assert (reward, terminated) == (0.25, True) and seen == [""]
        env.reset(seed=0)
        _, reward, terminated, *_ = act(env, f"click[{element_id(env, 'link', 'Inside link')}]")
        assert (reward, terminated) == (1.0, True) and seen == ["", None]  # checked after every action

        env.reset(seed=1)
        _, reward, terminated, *_ = act(env, f"click[{element_id(env, 'link', 'Inside link')}]")
        assert (reward, terminated) == (0.0, False)  # answer conditions wait for stop
        _, reward, terminated, _, info = act(env, "stop[Hello there]")
        assert (reward, terminated, info["success"]) == (1.0, True, True)
        env.reset(seed=1)
        _, reward, terminated, _, info = act(env, "stop[bye]")
        assert (reward, terminated, info["failure"]) == (0.0, True, "agent")

        env.reset(seed=2)
        _, reward, terminated, _, info = env.step(f"click[{element_id(env, 'link', 'Inside link')}]")
        assert terminated and info["failure"] == "env"  # a broken check is not the agent's fault
        assert "ZeroDivisionError" in info["last_action_error"]
    finally:
        env.close()


def test_builtin_browser_suite_runs_against_the_shop(browser_lease: BrowserLease) -> None:
    suite = get_suite("browser")
    env = suite.env()
    assert isinstance(env, BrowserEnv)
    try:
        obs, info = env.reset(seed=0)
        assert info["goal"] == "Open the Kitchen department of the shop."
        assert "URL: http://127.0.0.1:" in obs and "Practicum Shop" in obs
        _, reward, terminated, _, info = act(env, f"click[{element_id(env, 'link', 'Kitchen')}]")
        assert (reward, terminated, info["success"]) == (1.0, True, True)

        env.reset(seed=1)
        _, reward, terminated, *_ = act(env, "search[wool socks]")
        assert (reward, terminated) == (1.0, True)

        assert [t.params["id"] for t in suite.tasks("validation")] == ["open-bags"]
        test = suite.tasks("test")
        assert [t.params["id"] for t in test] == ["cheapest-bag", "leather-backpack"]
        env.reset(options={"task": test[0]})
        act(env, f"click[{element_id(env, 'link', 'Bags')}]")
        _, reward, *_ = act(env, "stop[$1,000.00]")
        assert reward == 0.0
    finally:
        env.close()
