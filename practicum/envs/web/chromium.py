"""One Chromium per worker process, driven by Playwright's sync API and kept off the network.

Environments never launch a browser themselves: they take a `BrowserLease` from `acquire_browser()`, open a
fresh context per episode on the shared browser, and release the lease on `close()`. The browser closes
when its last lease is released, and at interpreter exit in any case.

Nothing is left behind when a worker dies:
- each process gets its own work directory under `<tmp>/practicum-web/<pid>-<token>/` with an `owner.json`
  (pid and start time). Playwright's driver is started with `TMPDIR` pointing there, so the browser's
  profile, its temp files and Playwright's artifacts all live inside it;
- a normal exit (or the last `release()`) closes the browser and deletes the directory; an `atexit` hook
  covers interpreters that exit with leases still open;
- a worker killed with SIGKILL leaves its directory behind, and possibly a Chromium whose driver died too.
  `reap_orphans()` (run before every launch) finds directories whose owner is dead, kills every process
  whose command line points into them, and deletes them.

Playwright's sync objects belong to the thread that created them, so the shared browser is per thread.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from practicum.environ import set_env
from practicum.errors import ConfigError, EnvError

CHROMIUM_PATH = "/usr/lib/chromium/chromium"

# Playwright's own defaults already turn off much of Chromium's background traffic; these make the intent
# explicit and add what the defaults miss (measured: Chromium still called component-update and account
# hosts without the resolver rule). The resolver rule is what guarantees "no network": every host name
# fails to resolve except 127.0.0.1, so local servers must be addressed as 127.0.0.1, never localhost.
BASE_ARGS: tuple[str, ...] = (
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--no-pings",
    "--no-first-run",
)
OFFLINE_ARGS: tuple[str, ...] = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)

WORK_ROOT_NAME = "practicum-web"


class BrowserError(EnvError):
    """Chromium could not be found, started or reached."""


class BrowserNotFoundError(BrowserError):
    """The Chromium executable does not exist."""


@dataclass(frozen=True)
class BrowserConfig:
    """How to launch and drive Chromium.

    `executable_path`: the Chromium binary (Debian's real binary by default, not the /usr/bin wrapper, which
    sources /etc/chromium.d and adds API keys and an extension). `offline`: make every host except 127.0.0.1
    unresolvable. `action_timeout_s`: how long a click, fill or page read may take before the page is
    probed for liveness. `navigation_timeout_s`: how long a page load may take. `extra_args`: more flags.
    """

    executable_path: str = CHROMIUM_PATH
    headless: bool = True
    offline: bool = True
    action_timeout_s: float = 5.0
    navigation_timeout_s: float = 15.0
    extra_args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("action_timeout_s", "navigation_timeout_s"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"BrowserConfig.{name} must be a positive number of seconds, got {value!r}")
        if isinstance(self.extra_args, str) or not all(isinstance(a, str) for a in self.extra_args):
            raise ConfigError(
                f"BrowserConfig.extra_args must be a tuple of flag strings, got {self.extra_args!r}; "
                "e.g. extra_args=('--lang=en-US',)"
            )

    @property
    def launch_args(self) -> list[str]:
        """The command-line flags passed to Chromium."""
        return [*BASE_ARGS, *(OFFLINE_ARGS if self.offline else ()), *self.extra_args]

    @property
    def launch_key(self) -> tuple[Any, ...]:
        """Configs with the same key share one browser (timeouts are per page, not per browser)."""
        return (self.executable_path, self.headless, self.offline, tuple(self.extra_args))


def check_executable(path: str) -> None:
    """Raise `BrowserNotFoundError` (naming the fix) unless `path` is an executable file."""
    p = Path(path)
    if not p.is_file() or not os.access(p, os.X_OK):
        raise BrowserNotFoundError(
            f"Chromium was not found at {path}. Install it with `apt-get install chromium` (Debian/Ubuntu), "
            "or pass BrowserConfig(executable_path=...) pointing at a Chromium or Chrome binary."
        )


# ----------------------------------------------------------------------------------------- work directories
def work_root() -> Path:
    """Where per-process work directories live."""
    return Path(tempfile.gettempdir()) / WORK_ROOT_NAME


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _make_workdir() -> Path:
    root = work_root()
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    owner = {"pid": os.getpid(), "create_time": _process_start(os.getpid())}
    (path / "owner.json").write_text(json.dumps(owner))
    return path


def _owner_alive(workdir: Path) -> bool:
    try:
        owner = json.loads((workdir / "owner.json").read_text())
        pid, started = int(owner["pid"]), owner["create_time"]
    except (OSError, ValueError, KeyError, TypeError):
        # No readable owner file: either being created right now or garbage. Only old ones are garbage.
        try:
            return workdir.stat().st_mtime > time.time() - 600
        except OSError:
            return False
    actual = _process_start(pid)
    # A reused pid has a different start time; compare loosely (create_time is a float of jiffies).
    return actual is not None and started is not None and abs(actual - float(started)) < 1.0


def _processes_using(path: Path) -> list[psutil.Process]:
    """Processes whose command line mentions `path` (Chromium's --user-data-dir points into the workdir)."""
    needle = str(path)
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = proc.info["cmdline"] or []
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(needle in arg for arg in cmdline):
            found.append(proc)
    return found


def _kill_tree(procs: list[psutil.Process]) -> list[int]:
    victims: dict[int, psutil.Process] = {}
    for proc in procs:
        victims[proc.pid] = proc
        with contextlib.suppress(psutil.Error):
            for child in proc.children(recursive=True):
                victims[child.pid] = child
    for proc in victims.values():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(list(victims.values()), timeout=3)
    return sorted(victims)


def _kill_busy_renderers(workdir: Path) -> list[int]:
    """Kill the renderers under `workdir` that keep a CPU busy (all of them if none does); their pids."""
    renderers = [p for p in _processes_using(workdir) if "--type=renderer" in " ".join(p.info["cmdline"])]
    for proc in renderers:
        with contextlib.suppress(psutil.Error):
            proc.cpu_percent(None)
    time.sleep(0.3)
    busy = []
    for proc in renderers:
        with contextlib.suppress(psutil.Error):
            if proc.cpu_percent(None) >= 50.0:
                busy.append(proc)
    victims = busy or renderers
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return sorted(p.pid for p in victims)


def reap_orphans(root: Path | None = None) -> list[int]:
    """Kill browsers left by dead worker processes and delete their work directories.

    Returns the pids that were killed. Directories of live processes are never touched, so this is safe to
    run while other workers (in this process or others) are using their browsers.
    """
    root = root or work_root()
    if not root.is_dir():
        return []
    killed: list[int] = []
    for workdir in sorted(root.iterdir()):
        if not workdir.is_dir() or _owner_alive(workdir):
            continue
        killed += _kill_tree(_processes_using(workdir))
        shutil.rmtree(workdir, ignore_errors=True)
    return killed


# ----------------------------------------------------------------------------------------- shared browsers
@dataclass
class _Shared:
    """A browser shared by the leases of one thread, and the Playwright runtime that launched it."""

    key: tuple[Any, ...]
    playwright: Playwright
    browser: Browser
    workdir: Path
    config: BrowserConfig
    leases: int = 0
    owner_pid: int = field(default_factory=os.getpid)
    thread_id: int = field(default_factory=threading.get_ident)


_LOCK = threading.Lock()
_SHARED: dict[tuple[int, tuple[Any, ...]], _Shared] = {}


def _start_playwright(workdir: Path) -> Playwright:
    # Playwright's driver reads its environment once, at start; pointing TMPDIR at our workdir puts the
    # browser profile (which `launch()` refuses to take as an argument) where the reaper can find it. The
    # variable is restored immediately; the lock keeps two starts from interleaving.
    try:
        with set_env("TMPDIR", str(workdir)):
            return sync_playwright().start()
    except PlaywrightError as exc:
        raise BrowserError(
            f"Playwright could not start ({_first_line(exc)}); the sync API cannot run inside an asyncio event "
            "loop: use it from a plain thread"
        ) from exc


def _launch(config: BrowserConfig) -> _Shared:
    check_executable(config.executable_path)
    reap_orphans()
    workdir = _make_workdir()
    try:
        playwright = _start_playwright(workdir)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    try:
        browser = playwright.chromium.launch(
            executable_path=config.executable_path, headless=config.headless, args=config.launch_args
        )
    except PlaywrightError as exc:
        with contextlib.suppress(Exception):
            playwright.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        raise BrowserError(f"Chromium at {config.executable_path} failed to start: {_first_line(exc)}") from exc
    return _Shared(key=config.launch_key, playwright=playwright, browser=browser, workdir=workdir, config=config)


def _shutdown(shared: _Shared) -> None:
    """Close the browser and the driver and delete the workdir, whatever state they are in."""
    same_thread = shared.thread_id == threading.get_ident() and shared.owner_pid == os.getpid()
    if same_thread:
        with contextlib.suppress(Exception):
            shared.browser.close()
        with contextlib.suppress(Exception):
            shared.playwright.stop()
    # Sync Playwright objects cannot be driven from another thread: kill whatever still runs from the
    # workdir instead (also catches a browser that ignored close()).
    if shared.owner_pid == os.getpid():
        _kill_tree(_processes_using(shared.workdir))
        shutil.rmtree(shared.workdir, ignore_errors=True)


class BrowserLease:
    """A share of this thread's browser. Open contexts with `new_context()`; call `release()` when done."""

    def __init__(self, config: BrowserConfig) -> None:
        self.config = config
        self._shared: _Shared | None = _acquire(config)

    @property
    def browser(self) -> Browser:
        """The shared browser, relaunched first if it crashed or was closed."""
        shared = self._require()
        if not shared.browser.is_connected():
            _relaunch(shared)
        return shared.browser

    @property
    def workdir(self) -> Path:
        """The process's work directory holding the browser's profile and temp files."""
        return self._require().workdir

    @property
    def browser_pid(self) -> int | None:
        """The pid of the main Chromium process (None if it is gone)."""
        procs = [p for p in _processes_using(self._require().workdir) if "--type=" not in " ".join(p.cmdline())]
        return procs[0].pid if procs else None

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Kill the renderer that is stuck if the block still runs after `seconds` (a last resort).

        Playwright bounds its own waits, but when `wait_for_function` times out it cancels its in-page poll
        with one more call into the page, and a renderer spinning in a script loop never answers that call:
        the Python call then blocks for good (measured with Playwright 1.65: one in five "hang soon" clicks).
        Killing the renderer makes Playwright fail the call with a crash, which the environment records as an
        `infra` failure. The sync API cannot be driven from another thread, so the watchdog works at the
        process level.
        """
        workdir = self._require().workdir
        timer = threading.Timer(seconds, _kill_busy_renderers, args=(workdir,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    @property
    def released(self) -> bool:
        """Whether `release()` was called."""
        return self._shared is None

    def new_context(self, **kwargs: Any) -> BrowserContext:
        """A fresh, isolated browser context (cookies, storage and cache of its own)."""
        try:
            return self.browser.new_context(**kwargs)
        except PlaywrightError:
            _relaunch(self._require())  # the browser died between the check and the call
            return self._require().browser.new_context(**kwargs)

    def release(self) -> None:
        """Give the share back; the browser closes when the last share is released. Idempotent."""
        shared, self._shared = self._shared, None
        if shared is None:
            return
        with _LOCK:
            shared.leases -= 1
            last = shared.leases <= 0
            if last:
                _SHARED.pop((shared.thread_id, shared.key), None)
        if last:
            _shutdown(shared)

    def _require(self) -> _Shared:
        if self._shared is None:
            raise EnvError("this browser lease was released; acquire a new one with acquire_browser()")
        return self._shared

    def __enter__(self) -> BrowserLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def acquire_browser(config: BrowserConfig | None = None) -> BrowserLease:
    """A lease on this thread's browser for `config`, launching it if none is running."""
    return BrowserLease(config or BrowserConfig())


def _acquire(config: BrowserConfig) -> _Shared:
    slot = (threading.get_ident(), config.launch_key)
    with _LOCK:
        shared = _SHARED.get(slot)
        if shared is not None and shared.owner_pid != os.getpid():
            shared = None  # inherited through fork: the driver belongs to the parent; start our own
        if shared is None:
            shared = _launch(config)
            _SHARED[slot] = shared
        shared.leases += 1
        return shared


def _relaunch(shared: _Shared) -> None:
    """Replace a crashed browser in place (same driver when it still runs, else a new one)."""
    with contextlib.suppress(Exception):
        shared.browser.close()
    try:
        shared.browser = shared.playwright.chromium.launch(
            executable_path=shared.config.executable_path,
            headless=shared.config.headless,
            args=shared.config.launch_args,
        )
    except PlaywrightError:
        with contextlib.suppress(Exception):
            shared.playwright.stop()
        fresh = _launch(shared.config)
        shutil.rmtree(shared.workdir, ignore_errors=True)
        shared.playwright, shared.browser, shared.workdir = fresh.playwright, fresh.browser, fresh.workdir


def close_all_browsers() -> None:
    """Close every browser this process started (runs at interpreter exit)."""
    with _LOCK:
        mine = [s for s in _SHARED.values() if s.owner_pid == os.getpid()]
        _SHARED.clear()
    for shared in mine:
        _shutdown(shared)


def open_browser_count() -> int:
    """How many shared browsers the calling thread holds now (for tests and diagnostics)."""
    me = threading.get_ident()
    with _LOCK:
        return sum(1 for s in _SHARED.values() if s.owner_pid == os.getpid() and s.thread_id == me)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


atexit.register(close_all_browsers)
