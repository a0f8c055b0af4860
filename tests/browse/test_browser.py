"""The browse app in real Chromium: a real uvicorn server on 127.0.0.1 over a seeded SQLite store.

Chromium runs headless and offline (every host name but 127.0.0.1 fails to resolve), so the page can only
use what the server itself sends: plotly.js from the installed package, the app's own scripts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from practicum.browse import make_server
from practicum.browse.security import CONTENT_SECURITY_POLICY
from practicum.envs.web.chromium import BASE_ARGS, CHROMIUM_PATH, OFFLINE_ARGS
from practicum.store import Store, open_store
from tests.browse.seed import LONG_RATIONALE_CHARS, Practiced, Seeded, seed_practice_run, seed_store

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(store: Store, *, allow_edits: bool) -> Iterator[str]:
    """The app over `store` on a free loopback port, in a thread of this process; yields its base URL."""
    port = _free_port()
    server = make_server(store, "127.0.0.1", port, allow_edits=allow_edits)
    thread = threading.Thread(target=server.run, name="browse-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the browse server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store, Seeded]]:
    """A seeded store served with edits allowed."""
    path: Path = tmp_path_factory.mktemp("browse-site") / "store.db"
    store = open_store(f"sqlite:///{path}")
    seeded = seed_store(store)
    with serving(store, allow_edits=True) as url:
        yield url, store, seeded
    store.close()


@pytest.fixture(scope="module")
def practice_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Practiced]]:
    """A practice run's store (`seed_practice_run`), served read-only."""
    folder: Path = tmp_path_factory.mktemp("browse-practice")
    with open_store(f"sqlite:///{folder / 'store.db'}") as store:
        practiced = seed_practice_run(store, folder / "checkpoints")
        with serving(store, allow_edits=False) as url:
            yield url, practiced


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, with no network beyond 127.0.0.1."""
    if not Path(CHROMIUM_PATH).exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM_PATH} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=[*BASE_ARGS, *OFFLINE_ARGS]
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page that records console errors and uncaught exceptions in `page.problems`."""
    context = browser.new_context()
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    tab.problems = problems  # type: ignore[attr-defined]
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def test_run_page_draws_its_learning_curve_with_plotly_under_the_strict_csp(
    site: tuple[str, Store, Seeded], page: Page
) -> None:
    url, _, ids = site
    response = page.goto(f"{url}/runs/{ids.run_id}")
    assert response is not None and response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    chart = page.locator("#chart-test[data-rendered]")
    chart.wait_for()
    assert chart.get_attribute("data-rendered") == "1"
    # plotly drew an SVG line with one marker per iteration.
    assert page.locator("#chart-test .scatterlayer .trace").count() == 1
    assert page.locator("#chart-test .scatterlayer .point").count() == 3
    page.locator("#chart-loss[data-rendered]").wait_for()
    assert page.locator("#chart-loss .scatterlayer .trace").count() == 2
    assert page.evaluate("typeof window.Plotly") == "object"
    # No CSP violation, no script error: plotly works without inline scripts, eval or inline styles.
    assert page.problems == []  # type: ignore[attr-defined]


def test_episode_tree_expands_on_click_and_highlights_the_mined_pair(
    site: tuple[str, Store, Seeded], page: Page
) -> None:
    url, _, ids = site
    page.goto(f"{url}/episodes/{ids.episode_ids[0]}")
    page.locator("#tree[data-ready=yes]").wait_for()
    # The start node's level is open: its children 1, 2, 3, with the pair mined there marked on 1 and 2.
    node1, node2 = page.locator("#tree-node-1"), page.locator("#tree-node-2")
    assert "pair-chosen" in (node1.get_attribute("class") or "")
    assert "pair-rejected" in (node2.get_attribute("class") or "")
    assert page.locator("#tree-node-4").count() == 0  # deeper levels are not loaded yet
    toggle = page.get_by_role("button", name="expand node 1")
    toggle.click()
    page.locator("#tree-node-4").wait_for()
    children = page.locator("#tree-node-1 > ul > li")
    assert children.count() == 3
    assert page.locator("#tree-node-1").get_attribute("aria-expanded") == "true"
    chosen_badge = page.locator("#tree-node-4 > .row > .badge.pair-chosen")
    rejected_badge = page.locator("#tree-node-5 > .row > .badge.pair-rejected")
    assert chosen_badge.is_visible() and rejected_badge.is_visible()
    assert chosen_badge.inner_text().startswith("chosen · pair ")
    # The highlight is visible: the chosen node's row has the chosen background.
    background = page.locator("#tree-node-4 > .row").evaluate("row => getComputedStyle(row).backgroundColor")
    assert background == "rgb(220, 250, 230)"
    # Collapse hides the level again without reloading it.
    page.get_by_role("button", name="collapse node 1").click()
    assert not page.locator("#tree-node-4").is_visible()
    # A node's full text opens beside the tree.
    page.get_by_role("button", name="expand node 1").click()
    page.locator("#tree-node-4 > .row > .action").click()
    detail = page.locator("#node-detail")
    detail.get_by_text("prompt 4: ppp", exact=False).wait_for()
    assert "because 4" in detail.inner_text()
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_script_planted_in_an_observation_shows_as_text_and_never_runs(
    site: tuple[str, Store, Seeded], page: Page
) -> None:
    url, _, ids = site
    response = page.goto(f"{url}/episodes/{ids.hostile_episode_id}")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    page.locator("#tree[data-ready=yes]").wait_for()
    # Put hostile text into the page through every path: server templates, tree rows, the detail panel.
    page.get_by_role("button", name="expand node 1").click()
    page.locator("#tree-node-4").wait_for()
    page.locator("#tree-node-4 > .row > .action").click()
    page.locator("#node-detail dl.facts").wait_for()
    for details in page.locator("details").all():
        details.evaluate("d => { d.open = true; }")
    assert page.evaluate("window.__pwned") is None
    assert page.title() == f"Episode {ids.hostile_episode_id} · practicum browse"
    text = page.locator("main").inner_text()
    assert '<script>window.__pwned = "script"; document.title = "pwned";</script>' in text
    assert '<img src="x" onerror=' in text
    assert "act 4 <script>window.__pwned = 'action'</script>" in page.locator("#tree-node-4 > .row").inner_text()
    assert page.locator("main img").count() == 0 and page.locator("main b").count() == 0
    # The only script elements are the app's own.
    sources = page.locator("script").evaluate_all("scripts => scripts.map(s => s.getAttribute('src'))")
    assert sources == ["/static/tree.js"]
    assert page.problems == []  # type: ignore[attr-defined]


def test_an_edit_submitted_from_the_page_is_accepted_and_recorded(site: tuple[str, Store, Seeded], page: Page) -> None:
    url, _, ids = site
    episode_id = ids.episode_ids[1]
    page.goto(f"{url}/episodes/{episode_id}")
    form = page.locator("#node-4 form.edit")
    form.locator("input[name=score]").fill("0.125")
    form.locator("input[name=reason]").fill("checked by hand in the browser")
    form.get_by_role("button", name="relabel score").click()
    page.locator("#edit-notice").wait_for()
    assert page.url.startswith(f"{url}/episodes/{episode_id}?edited=")
    assert page.locator("#node-4 .critic-score").inner_text() == "0.125"
    assert "checked by hand in the browser" in page.locator("#edit-log").inner_text()
    assert page.problems == []  # type: ignore[attr-defined]


def test_practice_run_page_draws_exploration_and_held_out_charts_under_the_strict_csp(
    practice_site: tuple[str, Practiced], page: Page
) -> None:
    url, ids = practice_site
    page.goto(f"{url}/runs/{ids.run_id}")
    page.locator("#chart-explore[data-rendered]").wait_for()
    # Four shares and actions per node, over iterations 1 and 2.
    assert page.locator("#chart-explore .scatterlayer .trace").count() == 5
    assert page.locator("#chart-explore .scatterlayer .point").count() == 10
    page.locator("#chart-held-out[data-rendered]").wait_for()
    # Validation and test bars for the base and its candidate.
    assert page.locator("#chart-held-out .barlayer .point").count() == 4
    assert page.locator("#iteration-1 .pass-k").inner_text() == "50%"
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_long_critic_rationale_is_a_one_line_preview_and_an_empty_one_is_left_out(
    practice_site: tuple[str, Practiced], page: Page
) -> None:
    url, ids = practice_site
    page.goto(f"{url}/episodes/{ids.long_episode_id}")
    rationale = page.locator("#node-1 .rationale")
    assert rationale.evaluate("e => e.tagName") == "DETAILS" and rationale.get_attribute("open") is None
    summary = rationale.locator("summary")
    assert f"({LONG_RATIONALE_CHARS + 15:,} chars)" in summary.inner_text()
    assert "LONG-RATIONALE xxx" in summary.inner_text()
    box = rationale.bounding_box()
    assert box is not None and box["height"] < 40  # one line, not 200 KB of text
    summary.click()
    assert rationale.locator("pre").is_visible()
    assert len(rationale.locator("pre").inner_text()) == LONG_RATIONALE_CHARS + 15
    # Step 2 (node 4) has an empty rationale: no line for it at all; a short one stays inline.
    assert page.locator("#node-4 .rationale").count() == 0
    tree_detail = page.locator("#node-detail")
    page.locator("#tree[data-ready=yes]").wait_for()
    page.locator("#tree-node-1 > .row > .action").click()
    tree_detail.locator(".rationale summary").wait_for()
    assert tree_detail.locator(".rationale").get_attribute("open") is None
    page.get_by_role("button", name="expand node 1").click()
    page.locator("#tree-node-5 > .row > .action").click()
    tree_detail.get_by_text("critic rationale: because 5").wait_for()
    assert page.problems == []  # type: ignore[attr-defined]


def test_the_committed_path_shows_every_steps_observation_without_a_click(
    site: tuple[str, Store, Seeded], page: Page
) -> None:
    url, _, ids = site
    page.goto(f"{url}/episodes/{ids.episode_ids[0]}")
    steps = page.locator("#path li.step")
    assert steps.count() == 3  # the start and two steps
    for i in range(steps.count()):
        observation = steps.nth(i).locator(".observation pre")
        assert observation.is_visible()
        assert observation.inner_text().startswith("observation ")
    # The prompt, longer and the same every step but for the board, stays one click away.
    assert not page.locator("#node-4 details.text:not(.observation *) pre").first.is_visible()
    assert page.problems == []  # type: ignore[attr-defined]
