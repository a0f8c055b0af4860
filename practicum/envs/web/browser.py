"""The generic browser environment: any start URL, a goal, and a success check the user writes.

A task is a `BrowserTaskSpec`: a start URL, a goal in words, a success check and a domain allow-list. The
check is either declarative (`Condition`: URL and page-text conditions, or conditions on the answer given
with `stop[answer]`) or a Python callable `check(page, answer) -> bool | float` over the live Playwright page.
URL and text conditions (and callables) are checked after every action, so reaching the right page ends the
episode; answer conditions are checked when the agent stops.

Requests to hosts outside the allow-list are blocked with Playwright routing and recorded
(`info["blocked_requests"]`); a blocked navigation leaves the page where it was and tells the model why.
The allow-list defaults to the start URL's host and port. `{shop}` in a start URL or condition stands for
the built-in shop, which the environment then serves itself (see docs/environments.md for an example).

Users write tasks in YAML or Python and load them with `load_browser_tasks(path)`:

    suite: my-tasks                       # optional; default "browser-<file name>"; not a built-in's name
    tasks:
      - id: kitchen
        start_url: "{shop}/"
        goal: Open the Kitchen department.
        success: {url_contains: /category/kitchen}
        allowed_domains: ["127.0.0.1"]    # optional
        split: train                      # train, validation or test; default train

`split` says what a task is for: train tasks are practised on, validation tasks decide promotions and test
tasks give the reported curve. `heldout`, the name older task files use, is read as `test`. Seeds number the
train tasks first, then the validation tasks, then the test tasks, each in file order; a file without
validation tasks loads (its validation range is empty), one without train tasks does not.

A Python file defines `TASKS` (a list of `BrowserTaskSpec`) and optionally `SUITE` (the suite name).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from playwright.sync_api import BrowserContext, Page, Request, Route
from playwright.sync_api import Error as PlaywrightError

from practicum.envs.core import SPLITS, FailureKind, Outcome, Split, Task
from practicum.envs.registry import Suite, register, register_task_file_suite
from practicum.envs.web.actions import WebAction
from practicum.envs.web.chromium import BrowserConfig
from practicum.envs.web.env import DEFAULT_PAGE_CHAR_BUDGET, WebEnv
from practicum.envs.web.page import PageView, run_bounded
from practicum.envs.web.shop.catalog import default_catalog
from practicum.envs.web.shop.server import ShopServer
from practicum.errors import ConfigError, EnvError, UnknownIdError

SHOP_PLACEHOLDER = "{shop}"
SUITE = "browser"

SuccessFn = Callable[[Page, str | None], bool | float]

_CONDITION_FIELDS = ("url_contains", "url_matches", "text_contains", "answer_contains", "answer_equals")
_TASK_FIELDS = ("id", "start_url", "goal", "success", "allowed_domains", "split")
# Task files written before the validation split named their test tasks "heldout"; they keep loading.
_SPLIT_SYNONYMS = {"heldout": "test"}


@dataclass(frozen=True)
class Condition:
    """A declarative success check; every field that is given must hold.

    `url_contains`: a substring of the page URL. `url_matches`: a regular expression searched in the URL.
    `text_contains`: a substring of the page's visible text (case and spacing ignored). `answer_contains` /
    `answer_equals`: the answer given with `stop[answer]` (case and outer spacing ignored).
    """

    url_contains: str | None = None
    url_matches: str | None = None
    text_contains: str | None = None
    answer_contains: str | None = None
    answer_equals: str | None = None

    def __post_init__(self) -> None:
        given = {f: getattr(self, f) for f in _CONDITION_FIELDS if getattr(self, f) is not None}
        if not given:
            raise ConfigError(f"a success condition needs at least one of {', '.join(_CONDITION_FIELDS)}")
        for name, value in given.items():
            if not isinstance(value, str):
                raise ConfigError(f"success condition {name} must be a string, got {value!r}")
        if self.url_matches is not None:
            try:
                re.compile(self.url_matches)
            except re.error as exc:
                raise ConfigError(f"success condition url_matches {self.url_matches!r} is not a regex: {exc}") from None

    @property
    def needs_answer(self) -> bool:
        """Whether the condition can only hold once the agent answered with `stop[answer]`."""
        return self.answer_contains is not None or self.answer_equals is not None

    def holds(self, url: str, text: str, answer: str | None) -> bool:
        """Whether the condition holds for a page at `url` showing `text`, with `answer` (None before stop)."""
        if self.url_contains is not None and self.url_contains not in url:
            return False
        if self.url_matches is not None and re.search(self.url_matches, url) is None:
            return False
        if self.text_contains is not None and _fold(self.text_contains) not in _fold(text):
            return False
        if self.needs_answer:
            if answer is None:
                return False
            if self.answer_contains is not None and _fold(self.answer_contains) not in _fold(answer):
                return False
            if self.answer_equals is not None and _fold(self.answer_equals) != _fold(answer):
                return False
        return True

    def replace_placeholder(self, old: str, new: str) -> Condition:
        """The condition with `old` replaced by `new` in every field."""
        values = {f: getattr(self, f) for f in _CONDITION_FIELDS}
        return Condition(**{f: v.replace(old, new) if v else v for f, v in values.items()})


@dataclass(frozen=True)
class BrowserTaskSpec:
    """A user-defined browser task (see the module docstring)."""

    id: str
    start_url: str
    goal: str
    success: Condition | SuccessFn
    allowed_domains: tuple[str, ...] = ()
    split: Split = "train"

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", self.id):
            raise ConfigError(f"task id {self.id!r} must be letters, digits, '.', '_' or '-'")
        if not isinstance(self.goal, str) or not self.goal.strip():
            raise ConfigError(f"task {self.id!r}: goal must be a non-empty string")
        url = self.start_url.replace(SHOP_PLACEHOLDER, "http://127.0.0.1") if isinstance(self.start_url, str) else ""
        if urlsplit(url).scheme not in ("http", "https", "file"):
            raise ConfigError(
                f"task {self.id!r}: start_url {self.start_url!r} must be an http(s) or file URL, or start with {{shop}}"
            )
        if not (isinstance(self.success, Condition) or callable(self.success)):
            raise ConfigError(f"task {self.id!r}: success must be a Condition or a callable check(page, answer)")
        if isinstance(self.allowed_domains, str) or not all(isinstance(d, str) and d for d in self.allowed_domains):
            raise ConfigError(
                f"task {self.id!r}: allowed_domains must be a list of host names, e.g. ['127.0.0.1'], "
                f"got {self.allowed_domains!r}"
            )
        if isinstance(self.split, str) and self.split in _SPLIT_SYNONYMS:
            object.__setattr__(self, "split", _SPLIT_SYNONYMS[self.split])
        if self.split not in SPLITS:
            raise ConfigError(
                f"task {self.id!r}: split {self.split!r} must be one of {list(SPLITS)} ('heldout' is read as 'test')"
            )


# ----------------------------------------------------------------------------------------- allow-list
def domain_allowed(url: str, allowed: Sequence[str]) -> bool:
    """Whether a request to `url` is allowed by `allowed` host patterns.

    Patterns: `host` (any port), `host:port`, `*.example.com` (the domain and its subdomains). Requests that
    leave the machine for no host (data:, blob:, about:) are always allowed.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return parts.scheme != "file" or any(a == "file" for a in allowed)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
    except ValueError:
        return False
    for pattern in allowed:
        pattern = pattern.lower().strip()
        if pattern.startswith("*."):
            base = pattern[2:]
            if host == base or host.endswith("." + base):
                return True
            continue
        name, _, want_port = pattern.rpartition(":") if _has_port(pattern) else (pattern, "", "")
        if host == name and (not want_port or int(want_port) == port):
            return True
    return False


def _has_port(pattern: str) -> bool:
    head, sep, tail = pattern.rpartition(":")
    return bool(sep and head and tail.isdigit())


def default_allow_list(start_url: str) -> tuple[str, ...]:
    """The start URL's `host:port` (or `file` for file URLs)."""
    parts = urlsplit(start_url)
    if parts.scheme == "file":
        return ("file",)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return (f"{parts.hostname}:{port}",)


# ----------------------------------------------------------------------------------------- suites and loading
def _ordered(specs: Sequence[BrowserTaskSpec]) -> list[BrowserTaskSpec]:
    """Train tasks first, then validation, then test ones, each in file order: seeds are positions in this list."""
    return [s for split in SPLITS for s in specs if s.split == split]


def _check_unique(specs: Sequence[BrowserTaskSpec]) -> None:
    seen: set[str] = set()
    for spec in specs:
        if spec.id in seen:
            raise ConfigError(f"two tasks have the id {spec.id!r}; task ids must be unique")
        seen.add(spec.id)


class _TaskMaker:
    """`make_task(seed)` for a list of specs (picklable, unlike a closure)."""

    def __init__(self, suite: str, specs: Sequence[BrowserTaskSpec]) -> None:
        self.suite = suite
        self.specs = _ordered(specs)

    @property
    def splits(self) -> dict[Split, range]:
        ranges: dict[Split, range] = {}
        start = 0
        for split in SPLITS:
            stop = start + sum(1 for s in self.specs if s.split == split)
            ranges[split] = range(start, stop)
            start = stop
        return ranges

    def __call__(self, seed: int) -> Task:
        if not 0 <= seed < len(self.specs):
            raise UnknownIdError(f"suite {self.suite!r} has tasks 0..{len(self.specs) - 1}; there is no task {seed}")
        spec = self.specs[seed]
        params = {"id": spec.id, "start_url": spec.start_url, "allowed_domains": list(spec.allowed_domains)}
        return Task(suite=self.suite, seed=seed, split=spec.split, goal=spec.goal, params=params)


def browser_suite(name: str, specs: Sequence[BrowserTaskSpec], description: str = "") -> Suite:
    """A suite for `specs` (not registered): seeds number the train tasks first, then validation, then test."""
    specs = list(specs)
    if not specs:
        raise ConfigError(f"suite {name!r} has no tasks; define at least one")
    _check_unique(specs)
    maker = _TaskMaker(name, specs)

    def make_env(**kwargs: Any) -> BrowserEnv:
        return BrowserEnv(specs, suite=name, **kwargs)

    return Suite(
        name=name,
        domain="web",
        description=description or f"browser tasks ({len(specs)}): start URL, goal and success check",
        make_task=maker,
        make_env=make_env,
        splits=maker.splits,
    )


def read_browser_tasks(path: str | Path) -> tuple[str | None, list[BrowserTaskSpec]]:
    """The suite name (None if the file names none) and the tasks defined in a YAML or Python file.

    Every field is checked here, as the file loads, so a mistake is reported with the file, the field and
    the fix rather than failing later at `reset()`. A file needs at least one train task.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"task file {path} does not exist; pass the path of a .yaml, .yml or .py file")
    if path.suffix in (".yaml", ".yml"):
        suite, specs = _read_yaml(path)
    elif path.suffix == ".py":
        suite, specs = _read_python(path)
    else:
        raise ConfigError(f"task file {path} must end in .yaml, .yml or .py")
    if not any(spec.split == "train" for spec in specs):
        raise ConfigError(
            f"{path}: every task is a validation or test task; practice needs train tasks: mark at least one "
            "`split: train` (or leave split out, train is the default)"
        )
    return suite, specs


def load_browser_tasks(path: str | Path, *, name: str | None = None) -> Suite:
    """Read a task file and register its suite (named `name`, the file's `suite`, or `browser-<stem>`).

    A name that a built-in suite has is refused: a task file adds suites, it never replaces one.
    """
    file_name, specs = read_browser_tasks(path)
    suite_name = name or file_name or f"browser-{Path(path).stem}"
    suite = browser_suite(suite_name, specs, description=f"browser tasks from {Path(path).name}")
    return register_task_file_suite(suite, str(path))


def _read_yaml(path: Path) -> tuple[str | None, list[BrowserTaskSpec]]:
    data = _load_yaml(path)
    suite = None
    if isinstance(data, dict):
        unknown = set(data) - {"suite", "tasks"}
        if unknown:
            raise ConfigError(f"{path}: unknown top-level key(s) {sorted(unknown)}; use 'suite' and 'tasks'")
        suite, data = data.get("suite"), data.get("tasks")
        if suite is not None and not (isinstance(suite, str) and suite.strip()):
            raise ConfigError(f"{path}: 'suite' must be a name such as my-tasks, got {suite!r}")
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected a non-empty list of tasks under 'tasks'")
    specs = [_spec_from_yaml(entry, f"{path}: task {i}") for i, entry in enumerate(data, 1)]
    _check_unique(specs)
    return suite, specs


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"task file {path} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start : exc.start + 1]!r}); "
            "save it as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read task file {path}: {exc.strerror or exc}; check its permissions") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None


def _spec_from_yaml(entry: Any, where: str) -> BrowserTaskSpec:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a mapping with id, start_url, goal and success")
    unknown = set(entry) - set(_TASK_FIELDS)
    missing = [k for k in ("id", "start_url", "goal", "success") if k not in entry]
    if unknown or missing:
        problem = f"unknown key(s) {sorted(unknown)}" if unknown else f"missing {missing}"
        raise ConfigError(f"{where}: {problem}; the keys are {', '.join(_TASK_FIELDS)}")
    success = entry["success"]
    if not isinstance(success, dict) or set(success) - set(_CONDITION_FIELDS):
        raise ConfigError(f"{where}: success must be a mapping of {', '.join(_CONDITION_FIELDS)}")
    try:
        return BrowserTaskSpec(
            id=_text(entry, "id"),
            start_url=_text(entry, "start_url"),
            goal=_text(entry, "goal"),
            success=Condition(**{k: _text(success, k, field=f"success.{k}") for k in success}),
            allowed_domains=_domains(entry.get("allowed_domains")),
            split=entry.get("split", "train"),
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _text(mapping: dict[str, Any], key: str, *, field: str | None = None) -> str:
    # YAML reads `goal:` with nothing after it as null and `goal: [a]` as a list; str() would hide both.
    value = mapping[key]
    if value is None or isinstance(value, dict | list | bool):
        raise ConfigError(f'{field or key} must be text, got {value!r}; write it as {key}: "..."')
    return str(value)


def _domains(value: Any) -> tuple[str, ...]:
    # A bare string would otherwise be split into its characters and fail only at reset().
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(d, str) and d.strip() for d in value):
        return tuple(value)
    example = [value] if isinstance(value, str) and value.strip() else ["127.0.0.1"]
    raise ConfigError(
        f"allowed_domains must be a list of host names, got {value!r}; write it as allowed_domains: {example!r}"
    )


def _read_python(path: Path) -> tuple[str | None, list[BrowserTaskSpec]]:
    # The user's own task file, like a conftest.py: executing it is the point (it defines callables).
    _check_python_text(path)
    module_name = f"practicum_user_tasks_{abs(hash(path.resolve()))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ConfigError(f"{path} failed to run: {type(exc).__name__}: {first_line}") from exc
    tasks = getattr(module, "TASKS", None)
    if tasks is None:
        raise ConfigError(f"{path} defines no TASKS; set TASKS = [BrowserTaskSpec(...), ...]")
    specs = list(tasks)
    bad = [t for t in specs if not isinstance(t, BrowserTaskSpec)]
    if bad or not specs:
        raise ConfigError(f"{path}: TASKS must be a non-empty list of BrowserTaskSpec, found {bad[:1] or 'nothing'}")
    _check_unique(specs)
    suite = getattr(module, "SUITE", None)
    return (str(suite) if suite else None), specs


def _check_python_text(path: Path) -> None:
    # Python's own rule: UTF-8 unless a coding line says otherwise; a file that breaks it is a text problem,
    # which the SyntaxError from running it would not say.
    try:
        with path.open("rb") as source:
            encoding, _ = tokenize.detect_encoding(source.readline)
        path.read_bytes().decode(encoding)
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"task file {path} is not {encoding} text (byte {exc.start} is {exc.object[exc.start : exc.start + 1]!r}); "
            "save it as UTF-8"
        ) from None
    except SyntaxError as exc:  # undecodable first lines, or a coding line naming no known encoding
        raise ConfigError(f"task file {path} is not UTF-8 text ({exc.msg}); save it as UTF-8") from None


# ----------------------------------------------------------------------------------------- the environment
class BrowserEnv(WebEnv):
    """Runs `BrowserTaskSpec`s; `reset(seed=s)` starts the suite's task `s` (train tasks first; seeds past
    the last task wrap around)."""

    def __init__(
        self,
        tasks: Sequence[BrowserTaskSpec],
        *,
        suite: str = SUITE,
        max_steps: int = 30,
        browser: BrowserConfig | None = None,
        page_char_budget: int = DEFAULT_PAGE_CHAR_BUDGET,
    ) -> None:
        """`tasks` are the specs this environment can run; `suite` names them in task ids."""
        tasks = list(tasks)
        if not tasks:
            raise ConfigError("BrowserEnv needs at least one BrowserTaskSpec")
        _check_unique(tasks)
        self._maker = _TaskMaker(suite, tasks)
        super().__init__(
            suite=suite,
            task_factory=self._task_for_seed,
            max_steps=max_steps,
            browser=browser,
            page_char_budget=page_char_budget,
        )
        self._specs = {t.id: t for t in tasks}
        self._spec: BrowserTaskSpec | None = None
        self._shop: ShopServer | None = None
        self._allowed: tuple[str, ...] = ()
        self._blocked: list[str] = []
        self._blocked_navigations: list[str] = []
        self._navigations_before = 0

    def _task_for_seed(self, seed: int) -> Task:
        # `reset(seed=s)` for any s (gymnasium's checker uses 123): seeds wrap around the task list. Task ids
        # stay exact: `suite.task(123)` of a five-task suite is still an error.
        return self._maker(seed % len(self._maker.specs))

    @property
    def blocked_requests(self) -> list[str]:
        """URLs of the requests blocked in this episode (not in the allow-list)."""
        return list(self._blocked)

    @property
    def allowed_domains(self) -> tuple[str, ...]:
        """The allow-list in force for the current episode."""
        return self._allowed

    # ----------------------------------------------------------------- WebEnv hooks
    def _configure_context(self, context: BrowserContext) -> None:
        context.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        request = route.request
        if domain_allowed(request.url, self._allowed):
            route.continue_()
            return
        self._blocked.append(request.url)
        if request.is_navigation_request() and _in_main_frame(request):
            # "aborted" cancels the navigation and leaves the page as it was; other error codes would commit
            # Chromium's error page in its place.
            self._blocked_navigations.append(request.url)
            route.abort("aborted")
        else:
            route.abort("blockedbyclient")

    def _open(self, task: Task) -> None:
        spec = self._specs.get(str(task.params.get("id")))
        if spec is None:
            raise EnvError(f"task {task.key} ({task.params.get('id')!r}) is not one of this environment's tasks")
        self._spec = self._resolve(spec)
        self._allowed = self._spec.allowed_domains or default_allow_list(self._spec.start_url)
        if not domain_allowed(self._spec.start_url, self._allowed):
            raise ConfigError(
                f"task {spec.id!r}: start_url {self._spec.start_url} is outside its own allow-list "
                f"{list(self._allowed)}; add its host to allowed_domains"
            )
        self._blocked, self._blocked_navigations = [], []
        if self._shop is not None:
            self._shop.reset_sessions()  # every episode shops as session "s1": the same task, the same URLs
        self.page.goto(self._spec.start_url, wait_until="domcontentloaded")

    def _resolve(self, spec: BrowserTaskSpec) -> BrowserTaskSpec:
        """The spec with `{shop}` replaced by the URL of this environment's shop server."""
        success = spec.success
        texts = [spec.start_url, *spec.allowed_domains]
        if isinstance(success, Condition):
            texts += [getattr(success, f) or "" for f in _CONDITION_FIELDS]
        if not any(SHOP_PLACEHOLDER in t for t in texts):
            return spec
        if self._shop is None:
            self._shop = ShopServer().start()
        base = self._shop.base_url
        if isinstance(success, Condition):
            success = success.replace_placeholder(SHOP_PLACEHOLDER, base)
        host = base.split("//", 1)[1]
        return dataclasses.replace(
            spec,
            start_url=spec.start_url.replace(SHOP_PLACEHOLDER, base),
            success=success,
            allowed_domains=tuple(d.replace(SHOP_PLACEHOLDER, host) for d in spec.allowed_domains),
        )

    def _header(self, view: PageView) -> str:
        return f"URL: {view.url}\nPage: {view.title}"

    def _after_action(self, page: Page) -> None:
        if len(self._blocked_navigations) > self._navigations_before:
            # The page announced that it was leaving (beforeunload) but stays: say so, or the page reader
            # would wait for a new document that never comes.
            run_bounded(page, "() => { window.__practicumLeaving = 0; return true; }", None, 5.0)

    def _apply(self, action: WebAction) -> Outcome:
        before = self._navigations_before = len(self._blocked_navigations)
        outcome = super()._apply(action)
        blocked = self._blocked_navigations[before:]
        if blocked:
            note = f"navigation to {blocked[-1]} was blocked: its host is not in the allow-list {list(self._allowed)}"
            outcome = dataclasses.replace(outcome, error=f"{outcome.error}; {note}" if outcome.error else note)
        return outcome

    def _judge(self, view: PageView) -> Outcome | None:
        return self._check(view, answer=None)

    def _stop(self, answer: str | None) -> Outcome:
        if self._view is None:
            return super()._stop(answer)
        judged = self._check(self._view, answer=answer if answer is not None else "")
        if judged is not None:
            return judged
        return Outcome(reward=0.0, terminated=True, success=False, failure=FailureKind.AGENT)

    def _check(self, view: PageView, answer: str | None) -> Outcome | None:
        """Run the task's success check; a terminal outcome when it passes (or when the agent stopped)."""
        spec = self._spec
        if spec is None:
            return None
        stopping = answer is not None
        try:
            if isinstance(spec.success, Condition):
                if spec.success.needs_answer and not stopping:
                    return None
                score = 1.0 if spec.success.holds(view.url, _page_text(view), answer) else 0.0
            else:
                raw = spec.success(self.page, answer)
                score = float(raw)
        except Exception as exc:  # the user's check is not the agent's fault
            return Outcome(
                terminated=True,
                failure=FailureKind.ENV,
                error=f"the task's success check raised {type(exc).__name__}: {exc}",
            )
        score = min(1.0, max(0.0, score))
        if score >= 1.0:
            return Outcome(reward=1.0, terminated=True, success=True)
        if stopping:
            return Outcome(reward=score, terminated=True, success=False, failure=FailureKind.AGENT)
        return None

    def _info(self, *, invalid: bool) -> dict[str, Any]:
        info = super()._info(invalid=invalid)
        info["blocked_requests"] = list(self._blocked)
        return info

    def close(self) -> None:
        """Close the browser context and stop the shop server if one was started (idempotent)."""
        super().close()
        if self._shop is not None:
            self._shop.stop()
            self._shop = None


def _in_main_frame(request: Request) -> bool:
    try:
        return request.frame.parent_frame is None
    except PlaywrightError:  # a service worker's request has no frame
        return False


def _page_text(view: PageView) -> str:
    return "\n".join(item if isinstance(item, str) else view.elements[item].label for item in view.items)


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


# ----------------------------------------------------------------------------------------- built-in tasks
def _answers_cheapest_bag(page: Page, answer: str | None) -> bool:
    """Success when the answer names the price of the cheapest product in the Bags department."""
    cheapest = min(p.price for p in default_catalog().in_category("bags"))
    numbers = re.findall(r"\d+(?:\.\d+)?", (answer or "").replace(",", ""))
    return any(abs(float(n) - cheapest) < 0.005 for n in numbers)


def _on_leather_backpack(page: Page, answer: str | None) -> bool:
    """Success when the page shows a leather backpack's product page."""
    match = re.search(r"/item/(P\d+)", page.url)
    product = default_catalog().by_id.get(match.group(1)) if match else None
    return product is not None and product.product_type == "backpack" and product.material == "leather"


DEMO_TASKS: tuple[BrowserTaskSpec, ...] = (
    BrowserTaskSpec(
        id="open-kitchen",
        start_url="{shop}/",
        goal="Open the Kitchen department of the shop.",
        success=Condition(url_contains="/category/kitchen"),
    ),
    BrowserTaskSpec(
        id="search-wool-socks",
        start_url="{shop}/",
        goal="Search the shop for: wool socks",
        success=Condition(url_contains="/search?q=wool+socks"),
    ),
    BrowserTaskSpec(
        id="open-bags",
        start_url="{shop}/",
        goal="Open the Bags department of the shop.",
        success=Condition(url_contains="/category/bags"),
        split="validation",
    ),
    BrowserTaskSpec(
        id="cart-a-mug",
        start_url="{shop}/",
        goal="Put any mug (any colour and size) in the shopping cart.",
        success=Condition(url_contains="/cart", text_contains="mug"),
    ),
    BrowserTaskSpec(
        id="cheapest-bag",
        start_url="{shop}/",
        goal="What is the price of the cheapest product in the Bags department? Answer with stop[price].",
        success=_answers_cheapest_bag,
        split="test",
    ),
    BrowserTaskSpec(
        id="leather-backpack",
        start_url="{shop}/",
        goal="Open the product page of a leather backpack.",
        success=_on_leather_backpack,
        split="test",
    ),
)


def register_suites() -> Suite:
    """Register the built-in `browser` suite: demo tasks against the built-in shop."""
    return register(browser_suite(SUITE, DEMO_TASKS, description="generic browser tasks (demo: the built-in shop)"))
