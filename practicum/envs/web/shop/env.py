"""The shop environment: a WebShop-style store served by its own local server, in real Chromium.

The episode ends when an order is placed (graded reward, see tasks.py), when the agent sends `stop[...]`
(gives up, reward 0) or when it runs out of steps. `snapshot()` saves the URL, the browsing history and the
server-side session (chosen options, cart); `restore()` puts the session back and loads the URL, which is
much faster than replaying the actions from `reset()`.
"""

from __future__ import annotations

import random
from typing import Any, TypedDict
from urllib.parse import urlsplit

from playwright.sync_api import Page

from practicum.envs.core import FailureKind, Outcome, Task
from practicum.envs.web.chromium import BrowserConfig
from practicum.envs.web.env import DEFAULT_PAGE_CHAR_BUDGET, WebEnv
from practicum.envs.web.page import PageView
from practicum.envs.web.shop.catalog import OPTION_NAMES
from practicum.envs.web.shop.server import ShopServer
from practicum.envs.web.shop.shopper import shopper_action
from practicum.envs.web.shop.tasks import SUCCESS_REWARD, SUITE, ShopGoal, make_task, order_reward
from practicum.errors import EnvError


class ShopState(TypedDict):
    """A snapshot: the shop server's session (id and state) and the URLs the episode visited."""

    sid: str
    history: list[str]
    session: dict[str, Any]


class ShopEnv(WebEnv[ShopState]):
    """The built-in store (suite `shop`); `reset(seed=s)` starts shop task `s`."""

    def __init__(
        self,
        *,
        max_steps: int = 30,
        browser: BrowserConfig | None = None,
        page_char_budget: int = DEFAULT_PAGE_CHAR_BUDGET,
    ) -> None:
        """`max_steps` truncates episodes; see `WebEnv` for `browser` and `page_char_budget`."""
        super().__init__(
            suite=SUITE, task_factory=make_task, max_steps=max_steps, browser=browser, page_char_budget=page_char_budget
        )
        self._server: ShopServer | None = None
        self._sid: str | None = None
        # The episode's own page history (paths). `back` loads the previous path instead of using the browser's
        # history, so that a restored state can go back exactly as the original could.
        self._history: list[str] = []

    @property
    def server(self) -> ShopServer:
        """The environment's shop server (started on first use)."""
        if self._server is None:
            self._server = ShopServer().start()
        return self._server

    @property
    def session_id(self) -> str | None:
        """The current episode's shop session id."""
        return self._sid

    # ----------------------------------------------------------------- WebEnv hooks
    def _open(self, task: Task) -> None:
        ShopGoal.from_params(task.params)  # fail early on a task that is not a shop task
        # One live episode per environment: its session is always "s1", so the same task gives the same URLs.
        self.server.reset_sessions()
        self._sid = self.server.new_session()
        self._history = []
        self.page.goto(self.server.base_url + self.server.home_path(self._sid), wait_until="domcontentloaded")

    def _observed(self, view: PageView) -> None:
        url = urlsplit(view.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        if not self._history or self._history[-1] != path:
            self._history.append(path)

    def _can_go_back(self) -> bool:
        return len(self._history) > 1

    def _go_back(self, page: Page) -> str | None:
        if len(self._history) < 2:
            return "there is no previous page to go back to"
        self._history.pop()
        page.goto(self.server.base_url + self._history[-1], wait_until="domcontentloaded")
        return None

    def _judge(self, view: PageView) -> Outcome | None:
        if self._sid is None:
            return None
        order = self.server.session_state(self._sid)["order"]
        if not order:
            return None
        goal = ShopGoal.from_params(self.task.params)
        catalog = self.server.catalog
        items = [(catalog.by_id[i["product"]], {n: i[n] for n in OPTION_NAMES}) for i in order]
        reward = order_reward(goal, items)
        success = reward >= SUCCESS_REWARD
        return Outcome(reward=reward, terminated=True, success=success, failure=None if success else FailureKind.AGENT)

    def playout_action(self, rng: random.Random) -> str | None:
        """The shopper's rule of thumb (`shopper.shopper_action`): search's rollouts buy something from here
        instead of clicking at random. None once the episode is over."""
        if self._progress is None or self._progress.done:
            return None
        goal = ShopGoal.from_params(self.task.params)
        return shopper_action(goal, self.elements, self.server.catalog, rng)

    def _get_state(self) -> ShopState:
        if self._sid is None or not self._history:
            raise EnvError("nothing to snapshot: call reset() first")
        return {
            "sid": self._sid,
            "history": list(self._history),
            "session": self.server.session_state(self._sid),
        }

    def _set_state(self, state: ShopState) -> None:
        self._require_open()
        if self._page is None:
            self._new_context()
        self._sid = state["sid"]
        self.server.set_session_state(state["sid"], state["session"])
        self._history = list(state["history"])
        self.page.goto(self.server.base_url + self._history[-1], wait_until="domcontentloaded")
        self._refresh()

    def close(self) -> None:
        """Close the browser context and stop the shop server (idempotent)."""
        super().close()
        if self._server is not None:
            self._server.stop()
            self._server = None
