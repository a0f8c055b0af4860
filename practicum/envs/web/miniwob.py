"""MiniWoB++ tasks (the `miniwob` package's HTML/JS) driven offline by the same Playwright layer.

The package's html/ folder is served on 127.0.0.1. An episode loads the task page, seeds the page's random
number generator (`Math.seedrandom(seed)`), sets the data mode (`train` for train seeds, `test` for validation
and test ones, which some tasks use to draw from different distributions) and starts the episode with
`core.startEpisodeReal()`. The instruction is `core.getUtterance()`; the reward and done flag are the page's
own `WOB_RAW_REWARD_GLOBAL` (in [-1, 1]) and `WOB_DONE_GLOBAL`.

Time is virtual: Playwright's clock is installed before the page loads and advances a fixed `step_ms` after
every action. Animations and delayed widgets finish between steps, a model that thinks for a minute on CPU
does not run into the task's timer, and an episode is a deterministic function of its seed and actions
(so search can replay it). The task's own time limit is lifted (`core.EPISODE_MAX_TIME`); `max_steps` bounds
episodes instead.

The page is read as MiniWoB++'s DOM agents see it: every visible element that holds only text is numbered
(clickable), besides buttons, links and fields; the instruction (`#query`) and MiniWoB++'s reward display
are left out.

Only tasks that can be done with these actions and without vision are registered: see SUPPORTED and
UNSUPPORTED (with the reason for each) and docs/environments.md.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import importlib.util
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from practicum.envs.core import SPLITS as SPLIT_NAMES
from practicum.envs.core import FailureKind, Outcome, Split, Task, describe_splits
from practicum.envs.registry import Suite, register
from practicum.envs.web.chromium import BrowserConfig
from practicum.envs.web.env import DEFAULT_PAGE_CHAR_BUDGET, WebEnv
from practicum.envs.web.page import PageView, run_bounded
from practicum.envs.web.server import LocalServer, static_server
from practicum.errors import ConfigError, EnvError, UnknownIdError

SPLITS: dict[Split, range] = {
    "train": range(0, 10_000),
    "validation": range(2_000_000, 2_001_000),
    "test": range(1_000_000, 1_001_000),
}
# MiniWoB++'s own data modes: validation and test instances both draw from its "test" distribution.
DATA_MODES: dict[Split, str] = {"train": "train", "validation": "test", "test": "test"}
SUITE_PREFIX = "miniwob-"
# Virtual time: a fixed date (so date widgets are deterministic) and how far the clock moves per action.
# A datetime, not a number: Playwright's Python API reads a number as seconds, so milliseconds put the page
# in the year 48869.
EPOCH = datetime.datetime(2016, 11, 24, 15, 6, 40, tzinfo=datetime.UTC)  # in MiniWoB++'s date tasks' range
DEFAULT_STEP_MS = 1_000
_NO_TIME_LIMIT_MS = 2_000_000_000  # below 2**31: browsers fire larger timeouts at once

# Tasks solved by clicking, typing and choosing, reading the page's text. Grouped by what they exercise.
SUPPORTED: tuple[str, ...] = (
    # click a named thing
    "click-button",
    "click-button-sequence",
    "click-link",
    "click-test",
    "click-test-2",
    "click-test-transfer",
    "click-dialog",
    "click-dialog-2",
    "click-widget",
    "click-option",
    "click-tab",
    "click-tab-2",
    "click-tab-2-easy",
    "click-tab-2-medium",
    "click-tab-2-hard",
    "click-collapsible",
    "click-collapsible-nodelay",
    "click-collapsible-2",
    "click-collapsible-2-nodelay",
    "click-menu-2",
    "click-scroll-list",
    "unicode-test",
    # checkboxes and lists
    "click-checkboxes",
    "click-checkboxes-large",
    "click-checkboxes-soft",
    "click-checkboxes-transfer",
    "choose-list",
    # forms
    "enter-text",
    "enter-text-2",
    "enter-text-dynamic",
    "enter-password",
    "enter-date",
    "enter-time",
    "login-user",
    "login-user-popup",
    "focus-text",
    "focus-text-2",
    "form-sequence-2",
    "form-sequence-3",
    "multi-layouts",
    "multi-orderings",
    "use-spinner",
    "use-autocomplete",
    "use-autocomplete-nodelay",
    "read-table",
    "read-table-2",
    "text-transform",
    "copy-paste",
    "copy-paste-2",
    "find-word",
    "scroll-text",
    "simple-arithmetic",
    "simple-algebra",
    "odd-or-even",
    "guess-number",
    "generate-number",
    "find-greatest",
    "choose-date",
    "choose-date-easy",
    "choose-date-medium",
    "choose-date-nodelay",
    # multi-page widgets
    "navigate-tree",
    "search-engine",
    "phone-book",
    "social-media",
    "social-media-all",
    "social-media-some",
    "email-inbox",
    "email-inbox-delete",
    "email-inbox-forward",
    "email-inbox-forward-nl",
    "email-inbox-forward-nl-turk",
    "email-inbox-important",
    "email-inbox-nl-turk",
    "email-inbox-noscroll",
    "email-inbox-reply",
    "email-inbox-star-reply",
    "book-flight",
    "book-flight-nodelay",
    "buy-ticket",
    "order-food",
    "stock-market",
)

UNSUPPORTED: dict[str, str] = {
    **dict.fromkeys(
        (
            "drag-box",
            "drag-circle",
            "drag-cube",
            "drag-items",
            "drag-items-grid",
            "drag-shapes",
            "drag-shapes-2",
            "drag-single-shape",
            "drag-sort-numbers",
            "draw-circle",
            "draw-line",
            "resize-textarea",
            "use-slider",
            "use-slider-2",
            "use-colorwheel",
            "use-colorwheel-2",
            "form-sequence",
            "daily-calendar",
        ),
        "needs mouse dragging, which the action language has no verb for",
    ),
    **dict.fromkeys(
        (
            "bisect-angle",
            "circle-center",
            "find-midpoint",
            "right-angle",
            "click-shape",
            "count-shape",
            "count-sides",
            "identify-shape",
            "visual-addition",
            "click-color",
            "click-shades",
            "click-pie",
            "click-pie-nodelay",
            "grid-coordinate",
            "ascending-numbers",
            "hover-shape",
            "chase-circle",
            "moving-items",
            "hot-cold",
            "tic-tac-toe",
            "number-checkboxes",
        ),
        "the task is drawn (SVG, canvas or colours) or asks for a point on the screen: it needs vision or "
        "coordinates, not the page's text",
    ),
    **dict.fromkeys(
        ("highlight-text", "highlight-text-2", "text-editor"),
        "needs a text selection (mouse drag or keyboard shortcuts)",
    ),
    **dict.fromkeys(
        ("scroll-text-2", "sign-agreement", "simon-says", "button-delay"),
        "judges scrolling, waiting or a sequence shown over time, which the action language cannot express",
    ),
    "click-menu": "needs hovering: submenus open on hover, and a click on an item (a parent too) selects it",
    "terminal": "needs the Enter key in a plain text field (the action language types text but presses no keys)",
}


def html_root() -> Path:
    """The `miniwob` package's html folder (located without importing the package)."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise EnvError("the `miniwob` package is not installed; install it with `pip install miniwob`")
    root = Path(next(iter(spec.submodule_search_locations))) / "html"
    if not (root / "miniwob").is_dir():
        raise EnvError(f"the `miniwob` package at {root.parent} has no html/miniwob folder; reinstall it")
    return root


def task_names() -> list[str]:
    """Every MiniWoB++ task page the installed package ships."""
    return sorted(p.stem for p in (html_root() / "miniwob").glob("*.html"))


def split_of(seed: int, suite: str) -> Split:
    """The split of a MiniWoB++ instance seed."""
    for split in SPLIT_NAMES:
        if seed in SPLITS[split]:
            return split
    raise UnknownIdError(f"seed {seed} is in no split of suite {suite!r} ({describe_splits(SPLITS)})")


def make_task(name: str, seed: int) -> Task:
    """Instance `seed` of MiniWoB++ task `name`. The goal is a placeholder until the page states it at reset."""
    suite = SUITE_PREFIX + name
    split = split_of(seed, suite)
    goal = f"MiniWoB++ {name}, instance {seed} (the page states the instruction when the episode starts)"
    return Task(suite=suite, seed=seed, split=split, goal=goal, params={"task": name, "data_mode": DATA_MODES[split]})


_START = """(o) => {
  core.EPISODE_MAX_TIME = o.maxTime;
  if (core.EP_TIMER !== null) core.endEpisode(0);
  Math.seedrandom(o.seed);
  core.setDataMode(o.mode);
  core.startEpisodeReal();
  const u = core.getUtterance();
  return typeof u === 'string' ? u : (u && u.utterance) || String(u);
}"""


# Resolves (a truthy count) once every image the page shows has arrived, CSS `content: url(...)` and
# backgrounds included. Some tasks draw their buttons that way (social-media's reply / like / more icons):
# until the file arrives such an element has no width, so the page reads without it. Seen on the first
# episode of a fresh page on a busy machine: 40 elements instead of 72, and no "more" button to click.
_IMAGES_ARRIVED = """() => {
  if (!window.__practicumImages) {
    const urls = new Set();
    for (const el of document.querySelectorAll('body *')) {
      const style = getComputedStyle(el);
      for (const value of [style.content, style.backgroundImage]) {
        for (const m of (value || '').matchAll(/url\\(["']?([^"')]+)["']?\\)/g)) urls.add(m[1]);
      }
    }
    for (const img of document.images) if (img.src) urls.add(img.src);
    window.__practicumImages = [...urls].map((u) => { const i = new Image(); i.src = u; return i; });
  }
  const images = window.__practicumImages;
  if (!images.every((i) => i.complete)) return false;
  delete window.__practicumImages;
  return images.length + 1;
}"""


class MiniWoBEnv(WebEnv):
    """One MiniWoB++ task; `reset(seed=s)` starts instance `s` (see the module docstring)."""

    # The whole body (dialogs are appended outside #wrap), without the instruction and MiniWoB++'s own HUD.
    read_skip = ("query", "reward-display", "click-canvas", "sync-task-cover")
    read_leaves = True
    # A task page keeps nothing outside its JavaScript heap (no cookies, no storage), and every episode reloads
    # it, which discards that heap; keeping the context saves starting a renderer per episode (measured: a
    # reset takes ~0.13 s instead of ~0.9 s on 2 busy cores). A browser failure still gets a fresh context.
    fresh_context_per_episode = False

    def __init__(
        self,
        task: str,
        *,
        max_steps: int = 20,
        browser: BrowserConfig | None = None,
        page_char_budget: int = DEFAULT_PAGE_CHAR_BUDGET,
        step_ms: int = DEFAULT_STEP_MS,
    ) -> None:
        """`task` is a MiniWoB++ task name (e.g. "click-button"); `step_ms` is the virtual time per action."""
        if task not in task_names():
            raise UnknownIdError(f"unknown MiniWoB++ task {task!r}; the package ships {len(task_names())} tasks")
        if not isinstance(step_ms, int) or step_ms < 0:
            raise ConfigError(f"step_ms must be a non-negative integer of milliseconds, got {step_ms!r}")
        super().__init__(
            suite=SUITE_PREFIX + task,
            task_factory=functools.partial(make_task, task),
            max_steps=max_steps,
            browser=browser,
            page_char_budget=page_char_budget,
        )
        self.task_name = task
        self.step_ms = step_ms
        self._server: LocalServer | None = None
        self._wob: dict[str, Any] | None = None
        self._clock_page: Page | None = None

    # ----------------------------------------------------------------- WebEnv hooks
    def _open(self, task: Task) -> None:
        name = task.params.get("task")
        if name != self.task_name:
            raise EnvError(f"task {task.key} is not a {self.task_name} task; use the suite {SUITE_PREFIX}{name}")
        if self._server is None:
            self._server = static_server(html_root()).start()
        page = self.page
        if self._clock_page is not page:  # the clock belongs to the context: install it once per context
            page.clock.install(time=EPOCH - datetime.timedelta(minutes=1))
            # An installed clock still follows the wall clock; paused, page time moves only in `_advance`, so a
            # slow machine cannot let a timer fire between reading the page and acting on it.
            page.clock.pause_at(EPOCH)
            self._clock_page = page
        page.clock.set_system_time(EPOCH)  # every episode starts at the same virtual instant
        page.goto(f"{self._server.base_url}/miniwob/{self.task_name}.html", wait_until="load")
        start = {"seed": task.seed, "mode": task.params["data_mode"], "maxTime": _NO_TIME_LIMIT_MS}
        utterance = str(run_bounded(page, _START, start, self.browser_config.navigation_timeout_s))
        self._advance(page)
        p = self._require_progress()
        p.task = dataclasses.replace(p.task, goal=utterance)  # the page, not the seed alone, knows the words

    def _after_action(self, page: Page) -> None:
        self._advance(page)

    def _advance(self, page: Page) -> None:
        if self.step_ms:
            page.clock.run_for(self.step_ms)
        # Images the action revealed (a hover swaps an icon's file) must arrive before the page is read.
        run_bounded(page, _IMAGES_ARRIVED, None, self.browser_config.navigation_timeout_s)

    def _header(self, view: PageView) -> str:
        return "Task page:"

    def _can_go_back(self) -> bool:
        return False  # a task is one page

    def _judge(self, view: PageView) -> Outcome | None:
        self._wob = view.wob
        if not view.wob or not view.wob.get("done"):
            return None
        raw = float(view.wob.get("raw") or 0.0)
        success = raw > 0  # MiniWoB++'s success criterion: a positive raw reward
        return Outcome(
            reward=min(1.0, max(0.0, (raw + 1.0) / 2.0)),
            terminated=True,
            success=success,
            failure=None if success else FailureKind.AGENT,
        )

    def _observed(self, view: PageView) -> None:
        self._wob = view.wob

    def _info(self, *, invalid: bool) -> dict[str, Any]:
        info = super()._info(invalid=invalid)
        wob = self._wob or {}
        info["raw_reward"] = float(wob.get("raw") or 0.0) if wob.get("done") else None
        info["reward_reason"] = wob.get("reason")
        return info

    def close(self) -> None:
        """Close the browser context and stop the page server (idempotent)."""
        super().close()
        if self._server is not None:
            self._server.stop()
            self._server = None


def register_suites() -> list[Suite]:
    """Register one suite per supported MiniWoB++ task (`miniwob-<task>`); tasks missing here are skipped."""
    try:
        available = set(task_names())
    except EnvError:
        return []
    suites = []
    for name in SUPPORTED:
        if name not in available:
            continue
        suites.append(
            register(
                Suite(
                    name=SUITE_PREFIX + name,
                    domain="web",
                    description=f"MiniWoB++ {name} (the page's own reward)",
                    make_task=functools.partial(make_task, name),
                    make_env=functools.partial(MiniWoBEnv, name),
                    splits=SPLITS,
                )
            )
        )
    return suites
