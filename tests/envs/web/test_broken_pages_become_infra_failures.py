"""A page that hangs or crashes ends the episode as an `infra` failure after a timeout; the next reset works."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext
from playwright.sync_api import Error as PlaywrightError

from practicum.envs.web.browser import BrowserEnv, BrowserTaskSpec, Condition
from practicum.envs.web.chromium import BrowserConfig, BrowserLease
from practicum.envs.web.server import LocalServer
from tests.envs.web.helpers import act, element_id, page_server

pytestmark = pytest.mark.browser

PAGE = """<title>Trouble</title>
<button onclick="while (true) {}">Hang now</button>
<button onclick="setTimeout(() => { while (true) {} }, 0)">Hang soon</button>
<div style="position:relative"><button id="under">Covered</button>
<div style="position:absolute; inset:0; background:white">cover</div></div>
<a href="/next">Next</a>"""


@pytest.fixture(scope="module")
def site(browser_lease: BrowserLease) -> Iterator[LocalServer]:
    server, _ = page_server({"/": PAGE, "/next": "<title>Next</title><p>fine</p>"})
    yield server
    server.stop()


@pytest.fixture
def env(site: LocalServer) -> Iterator[BrowserEnv]:
    spec = BrowserTaskSpec("trouble", site.base_url + "/", "Survive.", Condition(url_contains="/never"))
    quick = BrowserConfig(action_timeout_s=1.0, navigation_timeout_s=2.0)
    environment = BrowserEnv([spec], browser=quick)
    yield environment
    environment.close()


@pytest.mark.parametrize("button", ["Hang now", "Hang soon"])
def test_a_hung_page_is_an_infra_failure_after_the_timeout(env: BrowserEnv, button: str) -> None:
    env.reset(seed=0)
    started = time.monotonic()
    _, reward, terminated, truncated, info = env.step(f"click[{element_id(env, 'button', button)}]")
    if not terminated:  # "Hang soon" may answer the read before its timer fires: the next action finds it hung
        assert button == "Hang soon"
        _, reward, terminated, truncated, info = env.step(f"click[{element_id(env, 'link', 'Next')}]")
    assert time.monotonic() - started < 20
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert info["failure"] == "infra" and not info["success"]
    assert info["last_action_error"].startswith("browser failure:")
    obs, info = env.reset(seed=0)  # a fresh context: the hung renderer is gone
    assert "Hang now" in obs and info["failure"] is None


def test_a_crashed_page_is_an_infra_failure(env: BrowserEnv) -> None:
    env.reset(seed=0)
    with pytest.raises(Exception, match="ERR_ABORTED"):
        env.page.goto("chrome://crash")
    _, _, terminated, _, info = env.step(f"click[{element_id(env, 'link', 'Next')}]")
    assert terminated and info["failure"] == "infra"
    assert "crashed" in info["last_action_error"]
    obs, _ = env.reset(seed=0)
    assert "Hang now" in obs


def test_a_covered_element_is_the_agents_problem_not_infra(env: BrowserEnv) -> None:
    env.reset(seed=0)
    started = time.monotonic()
    _, _, terminated, _, info = env.step(f"click[{element_id(env, 'button', 'Covered')}]")
    assert time.monotonic() - started < 0.9  # said at once, without waiting for the action timeout (1 s)
    assert not terminated and info["failure"] is None and not info["invalid_action"]
    assert info["last_action_error"].endswith('is covered by <div> "cover"')
    _, _, terminated, _, info = act(env, f"click[{element_id(env, 'link', 'Next')}]")
    assert info["url"].endswith("/next") and not terminated


def test_chromium_killed_under_a_running_episode_is_infra_and_the_next_episode_runs(site: LocalServer) -> None:
    import os
    import signal

    import psutil

    spec = BrowserTaskSpec("killed", site.base_url + "/", "Survive.", Condition(url_contains="/next"))
    environment = BrowserEnv([spec], browser=BrowserConfig(action_timeout_s=2.0, navigation_timeout_s=4.0))
    try:
        environment.reset()
        lease = environment._lease
        assert lease is not None and lease.browser_pid is not None
        browser = psutil.Process(lease.browser_pid)
        for process in [*browser.children(recursive=True), browser]:
            os.kill(process.pid, signal.SIGKILL)  # the whole browser, mid-episode
        _, _, terminated, _, info = environment.step(f"click[{element_id(environment, 'link', 'Next')}]")
        assert terminated and info["failure"] == "infra" and not info["success"]
        environment.reset()  # a fresh browser takes over
        *_, info = act(environment, f"click[{element_id(environment, 'link', 'Next')}]")
        assert info["success"] is True
    finally:
        environment.close()


@pytest.fixture
def context(browser_lease: BrowserLease) -> Iterator[BrowserContext]:
    """A fresh context on the shared browser, closed after the test."""
    fresh = browser_lease.new_context()
    yield fresh
    fresh.close()


def test_the_deadline_kills_a_spinning_renderer_that_blocks_an_unbounded_call(
    browser_lease: BrowserLease, context: BrowserContext
) -> None:
    # page.evaluate has no timeout: behind a script loop it would wait forever. The lease's deadline is the
    # last resort the environment wraps every step in.
    page = context.new_page()
    page.evaluate("() => { setTimeout(() => { while (true) {} }, 0); }")
    started = time.monotonic()
    with pytest.raises(PlaywrightError, match=r"(?i)crash|closed"), browser_lease.deadline(2.0):
        page.evaluate("() => 1")
    assert time.monotonic() - started < 10
    fresh = context.new_page()  # the context outlives its renderer
    assert fresh.evaluate("() => 1 + 1") == 2


def test_a_deadline_that_is_not_reached_kills_nothing(browser_lease: BrowserLease, context: BrowserContext) -> None:
    page = context.new_page()
    with browser_lease.deadline(0.5):
        assert page.evaluate("() => 40 + 2") == 42
    time.sleep(1.0)  # past the deadline: the timer was cancelled when the block ended
    assert page.evaluate("() => 1") == 1
