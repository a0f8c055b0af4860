"""The base of every web environment: a text environment over one page in real Chromium.

The observation is the goal, the page (a header, its text lines and its numbered interactive elements, cut
to `page_char_budget` characters), the legal actions and the last action's error. Actions are the web
action language of actions.py. Failures are classified:
- an action that cannot be parsed or does not fit the page (no element 7, typing into a button) is an
  invalid action: recorded, shown to the model, the episode goes on;
- an action the page refuses (a covered button) is a valid action with an error, the episode goes on;
- a page that crashes, or stops answering for longer than the configured timeouts, ends the episode as an
  `infra` failure; the next `reset()` starts from a fresh context.

Subclasses say how a task opens (`_open`), when it is over (`_judge`, `_stop`), and optionally how to
snapshot (`_get_state` / `_set_state`).
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from typing import Any, ClassVar

from playwright.sync_api import BrowserContext, Page
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from practicum.envs.core import FailureKind, Outcome, Parsed, StateT, Task, TextEnv
from practicum.envs.web.actions import InvalidAction, WebAction, check_action, legal_actions, match_option, parse_action
from practicum.envs.web.chromium import BrowserConfig, BrowserError, BrowserLease, acquire_browser
from practicum.envs.web.page import Element, PageView, RenderedPage, read_page, render_page, run_bounded
from practicum.errors import ConfigError, EnvError

# Set on every document: `beforeunload` fires when a navigation starts (a link, a form, a script), before the
# request goes out, so the page reader can wait for the new document instead of reading the old one.
_LEAVING_SCRIPT = "addEventListener('beforeunload', () => { window.__practicumLeaving = Date.now(); }, true);"

# Where a click on the element would land: 'gone', 'ok', or 'covered by <what>'. Playwright would find a covered
# element too, but only after retrying for the whole action timeout; this answers at once.
_HIT_TEST = """(selector) => {
  const el = document.querySelector(selector);
  if (!el) return 'gone';
  if (el.scrollIntoViewIfNeeded) el.scrollIntoViewIfNeeded(true); else el.scrollIntoView({block: 'center'});
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0) return 'ok';  // let Playwright judge odd boxes
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  if (!hit || el.contains(hit) || Array.from(el.labels || []).some((l) => l.contains(hit))) return 'ok';
  const text = (hit.innerText || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
  const cls = typeof hit.className === 'string' && hit.className ? '.' + hit.className.split(' ')[0] : '';
  return 'covered by <' + hit.tagName.toLowerCase() + cls + '>' + (text ? ' "' + text + '"' : '');
}"""

# Playwright error texts that mean the page or browser is gone rather than that an action failed.
_DEAD_MARKERS = ("crash", "target closed", "has been closed", "browser closed", "connection closed", "disconnected")

DEFAULT_PAGE_CHAR_BUDGET = 6_000


class WebEnv(TextEnv[WebAction, StateT]):
    """A text environment over one Chromium page (see the module docstring).

    `browser` configures Chromium (one per worker process, shared by all environments there); each episode
    gets a fresh browser context. `page_char_budget` bounds the page part of the observation; how much was
    cut is in `info["page_cut_chars"]` and `info["page_cut_elements"]`.
    """

    #: What part of the page to read, which element ids to leave out, and whether text leaves are numbered.
    read_root: ClassVar[str | None] = None
    read_skip: ClassVar[tuple[str, ...]] = ()
    read_leaves: ClassVar[bool] = False
    #: A new browser context for every episode (cookies, storage and renderer of its own).
    fresh_context_per_episode: ClassVar[bool] = True

    def __init__(
        self,
        *,
        suite: str,
        task_factory: Any,
        max_steps: int = 30,
        browser: BrowserConfig | None = None,
        page_char_budget: int = DEFAULT_PAGE_CHAR_BUDGET,
    ) -> None:
        """See the class docstring; `task_factory(seed) -> Task` is the suite's task maker."""
        super().__init__(suite=suite, task_factory=task_factory, max_steps=max_steps)
        if not isinstance(page_char_budget, int) or not 200 <= page_char_budget <= self.max_observation_chars // 2:
            raise ConfigError(
                f"page_char_budget must be an integer from 200 to {self.max_observation_chars // 2}, "
                f"got {page_char_budget!r}"
            )
        if browser is not None and not isinstance(browser, BrowserConfig):
            raise ConfigError(f"browser must be a BrowserConfig, got {type(browser).__name__}")
        self.browser_config = browser or BrowserConfig()
        self.page_char_budget = page_char_budget
        self._lease: BrowserLease | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._view: PageView | None = None
        self._rendered: RenderedPage | None = None
        self._legal: list[str] = []
        self._dialogs: list[str] = []
        # The URLs this episode has shown, oldest first. `back` loads the one before the current page rather than
        # the browser's history, which starts at about:blank and would take the agent off the task's site.
        self._pages: list[str] = []
        self._closed = False

    # ----------------------------------------------------------------- hooks for subclasses
    @abstractmethod
    def _open(self, task: Task) -> None:
        """Load the task's first page into `self.page` (a fresh page in a fresh context)."""

    def _judge(self, view: PageView) -> Outcome | None:
        """After an action: the episode's final outcome if the page shows it is over, else None."""
        return None

    def _stop(self, answer: str | None) -> Outcome:
        """`stop[answer]`: by default the agent gives up (an agent failure with reward 0)."""
        return Outcome(reward=0.0, terminated=True, success=False, failure=FailureKind.AGENT)

    def _configure_context(self, context: BrowserContext) -> None:
        """Set up a new context before its page opens (routes, init scripts)."""

    def _after_action(self, page: Page) -> None:
        """Runs after every browser action, before the page is read (MiniWoB++ advances its clock here)."""

    def _observed(self, view: PageView) -> None:
        """Called with every page read, before the legal actions are worked out (history, page flags)."""

    def _header(self, view: PageView) -> str:
        """The first line of the page text."""
        return f"Page: {view.title}" if view.title else "Page:"

    def _can_go_back(self) -> bool:
        """Whether `back` is legal now: this episode showed a page before the current one."""
        return len(self._pages) > 1

    def _go_back(self, page: Page) -> str | None:
        """Do `back` (load the episode's previous page); return an error for the model, or None."""
        if len(self._pages) < 2:
            return "there is no previous page to go back to"
        self._pages.pop()
        page.goto(self._pages[-1], wait_until="domcontentloaded")
        return None

    # ----------------------------------------------------------------- public helpers
    @property
    def page(self) -> Page:
        """The live Playwright page of the current episode (for success checks and scripted agents)."""
        if self._page is None:
            raise EnvError("there is no page: call reset() first (or the episode ended in a browser failure)")
        return self._page

    @property
    def elements(self) -> tuple[Element, ...]:
        """The numbered elements shown in the current observation."""
        return self._rendered.elements if self._rendered else ()

    def element(self, role: str | None = None, label: str | None = None) -> Element | None:
        """The first shown element with this role and (case-insensitive, substring) label, if any."""
        for e in self.elements:
            if role is not None and e.role != role:
                continue
            if label is not None and label.casefold() not in e.label.casefold():
                continue
            return e
        return None

    @property
    def closed(self) -> bool:
        """Whether `close()` was called."""
        return self._closed

    # ----------------------------------------------------------------- TextEnv hooks
    def _require_open(self) -> None:
        if self._closed:
            raise EnvError("this environment was closed; create a new one")

    def _start(self, task: Task) -> None:
        self._require_open()
        for attempt in range(2):
            try:
                if self._page is None or self.fresh_context_per_episode:
                    self._new_context()
                with self._deadline():
                    self._dialogs.clear()
                    self._pages.clear()
                    self._open(task)
                    self._refresh()
                return
            except PlaywrightError as exc:
                self._discard_context()
                if attempt == 1:
                    raise BrowserError(f"could not open task {task.key} in Chromium: {_first_line(exc)}") from exc

    def _render(self) -> str:
        if self._rendered is None:
            return "(no page)"
        return self._rendered.text

    def _legal_actions(self) -> list[str]:
        return self._legal

    def _parse(self, text: str) -> Parsed[WebAction]:
        parsed = parse_action(text)
        if isinstance(parsed, InvalidAction):
            return None, parsed.message
        problem = check_action(
            parsed, self.elements, can_search=self._search_box() is not None, can_go_back=self._can_go_back()
        )
        return (None, problem) if problem else (parsed, None)

    def _apply(self, action: WebAction) -> Outcome:
        if action.kind == "stop":
            return self._stop(action.text)
        page = self.page
        self._dialogs.clear()
        with self._deadline():
            try:
                error = self._perform(page, action)
                self._after_action(page)
                view = self._refresh()
            except PlaywrightTimeoutError as exc:
                return self._after_timeout(action, exc)
            except PlaywrightError as exc:
                if _is_dead(exc):
                    return self._infra(f"the page crashed or closed ({_first_line(exc)})")
                error = f"{action} failed: {_first_line(exc)}"
                try:
                    view = self._refresh()
                except PlaywrightError as again:
                    return self._infra(f"the page stopped answering ({_first_line(again)})")
        if self._dialogs:
            note = "; ".join(f"the page showed a dialog {m!r} (dismissed)" for m in self._dialogs)
            error = f"{error}; {note}" if error else note
        judged = self._judge(view)
        if judged is not None:
            return Outcome(
                reward=judged.reward,
                terminated=judged.terminated,
                success=judged.success,
                failure=judged.failure,
                error=judged.error or error,
            )
        return Outcome(error=error)

    def _info(self, *, invalid: bool) -> dict[str, Any]:
        info = super()._info(invalid=invalid)
        rendered = self._rendered
        info["url"] = self._view.url if self._view else None
        info["page_cut_chars"] = rendered.cut_chars if rendered else 0
        info["page_cut_elements"] = rendered.cut_elements if rendered else 0
        return info

    def close(self) -> None:
        """Close the episode's context and give the browser share back (idempotent)."""
        self._discard_context()
        if self._lease is not None:
            self._lease.release()
            self._lease = None
        self._closed = True

    # ----------------------------------------------------------------- browser plumbing
    def _new_context(self) -> None:
        self._discard_context()
        if self._lease is None:
            self._lease = acquire_browser(self.browser_config)
        context = self._lease.new_context(viewport={"width": 1024, "height": 768}, locale="en-US")
        context.set_default_timeout(self.browser_config.action_timeout_s * 1000)
        context.set_default_navigation_timeout(self.browser_config.navigation_timeout_s * 1000)
        context.add_init_script(_LEAVING_SCRIPT)
        self._context = context
        self._configure_context(context)
        page = context.new_page()
        page.on("dialog", self._on_dialog)
        self._page = page

    def _on_dialog(self, dialog: Any) -> None:
        self._dialogs.append(str(dialog.message))
        with contextlib.suppress(PlaywrightError):
            dialog.dismiss()

    def _discard_context(self) -> None:
        context, self._context, self._page = self._context, None, None
        if context is not None:
            with contextlib.suppress(PlaywrightError):
                context.close()

    def _refresh(self) -> PageView:
        """Read the page after it settled and rebuild the observation and the legal actions."""
        page = self._follow_popup()
        view = read_page(
            page,
            timeout_s=self.browser_config.navigation_timeout_s,
            root=self.read_root,
            skip=self.read_skip,
            leaves=self.read_leaves,
        )
        self._view = view
        self._observed(view)
        if not self._pages or self._pages[-1] != view.url:  # a page that did not change is not a new one
            self._pages.append(view.url)
        self._rendered = render_page(view, self.page_char_budget, header=self._header(view))
        shown = self._rendered.elements
        self._legal = legal_actions(shown, can_search=any(e.search for e in shown), can_go_back=self._can_go_back())
        return view

    def _follow_popup(self) -> Page:
        """A link that opened a new tab moves the episode to that tab."""
        page = self.page
        if self._context is not None:
            pages = [p for p in self._context.pages if not p.is_closed()]
            if pages and pages[-1] is not page:
                page = pages[-1]
                page.on("dialog", self._on_dialog)
                self._page = page
        return page

    def _search_box(self) -> Element | None:
        return next((e for e in self.elements if e.search), None)

    def _perform(self, page: Page, action: WebAction) -> str | None:
        """Do one browser action; return an error for the model, or None."""
        if action.kind == "back":
            return self._go_back(page)
        if action.kind == "search":
            box = self._search_box()
            if box is None:  # checked by _parse; the page cannot change in between
                return "this page has no search box"
            target = page.locator(box.selector)
            target.fill(action.text or "")
            target.press("Enter")
            return None
        element = next(e for e in self.elements if e.id == action.element)
        target = page.locator(element.selector)
        where = run_bounded(page, _HIT_TEST, element.selector, self.browser_config.action_timeout_s)
        if where == "gone":
            return f"element [{element.id}] is no longer on the page (it changed after it was read); look again"
        if action.kind == "click" and where != "ok":
            return f"cannot click [{element.id}]: it is {where}"
        if action.kind == "click":
            # Hover first, as a person's pointer would: pages that restyle an element on :hover (a bigger icon,
            # another image) would otherwise move it between mousedown and mouseup, and the click would land
            # on its parent (seen in MiniWoB++'s social-media).
            target.hover()
            target.click()
        elif action.kind == "type":
            target.fill(action.text or "")
        elif action.kind == "select":
            option = match_option(element, action.text or "") or ""
            if element.selected is None:
                target.select_option(label=option)
            else:  # a multi-select list: the action toggles one option and keeps the others
                chosen = [o for o in element.selected if o != option]
                target.select_option(label=chosen if option in element.selected else [*chosen, option])
        return None

    def _after_timeout(self, action: WebAction, exc: PlaywrightTimeoutError) -> Outcome:
        """An action or read timed out: a live page means the action was impossible, a dead one is infra."""
        if self._page is None or not self._alive(self._page):
            limit = self.browser_config.action_timeout_s
            return self._infra(f"the page stopped responding (no answer within {limit:g} s)")
        try:
            self._refresh()
        except PlaywrightError as again:
            return self._infra(f"the page stopped answering ({_first_line(again)})")
        return Outcome(
            error=f"{action} did not complete in {self.browser_config.action_timeout_s:g} s: the element is hidden, "
            "covered by another element or not ready"
        )

    def _deadline(self) -> contextlib.AbstractContextManager[None]:
        """A watchdog over one step's browser work: longer than every timeout it can run into, in sequence."""
        if self._lease is None:
            return contextlib.nullcontext()
        config = self.browser_config
        return self._lease.deadline(3 * config.action_timeout_s + 3 * config.navigation_timeout_s + 5.0)

    def _alive(self, page: Page) -> bool:
        try:
            run_bounded(page, "() => true", None, self.browser_config.action_timeout_s)
            return True
        except PlaywrightError:
            return False

    def _infra(self, message: str) -> Outcome:
        self._discard_context()  # a hung renderer keeps burning CPU until its context goes
        return Outcome(reward=0.0, terminated=True, failure=FailureKind.INFRA, error=f"browser failure: {message}")


def _is_dead(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(marker in text for marker in _DEAD_MARKERS)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
