"""Starting the server: loopback by default, other addresses warned about, a missing store or a busy port
refused with a clear message; and the plotly assets it serves come from the installed package."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from practicum.browse.server import allowed_hosts_for, check_bind, is_loopback, open_existing_store, reserve_port
from practicum.browse.vendor import bundled_style_ids, css_from_js, plotly_css, plotly_js_path, plotly_style_ids
from practicum.errors import ConfigError, StoreError
from practicum.store import open_store
from tests.browse.seed import seed_store

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_on_loopback_and_says_where(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url) as store:
        seed_store(store)
    port = _free_port()
    code = f"from practicum.browse import serve; serve({url!r}, '127.0.0.1', {port}, False)"
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/runs/1", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    detail = process.stderr.read() if process.stderr else ""
                    raise AssertionError(f"the server did not come up: {detail}") from None
                time.sleep(0.1)
        assert response.status_code == 200 and "demo-run" in response.text
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert httpx.get(f"http://127.0.0.1:{port}/", headers={"host": "evil.example"}).status_code == 400
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    assert f"practicum browse: http://127.0.0.1:{port}/" in err and "read-only" in err
    assert "WARNING" not in err


def test_a_missing_sqlite_store_is_refused_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here.db"
    with pytest.raises(StoreError, match=r"no store at .*nothing-here\.db.*run `practicum practice --db .*` to create"):
        open_existing_store(f"sqlite:///{missing}")
    assert not missing.exists()


def test_another_programs_database_is_browsed_not_written(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE users (name TEXT)")
    raw.close()
    before = other.read_bytes()
    with pytest.raises(StoreError, match=r"holds another program's tables \(users\) and no practicum store"):
        open_existing_store(f"sqlite:///{other}")
    assert other.read_bytes() == before


def test_binding_beyond_loopback_is_allowed_with_a_warning() -> None:
    assert check_bind("127.0.0.1", 8765) == []
    assert check_bind("localhost", 8765) == []
    [warning] = check_bind("0.0.0.0", 8765)
    assert warning.startswith("WARNING: serving on 0.0.0.0") and "anyone who can reach port 8765" in warning
    assert check_bind("192.168.1.20", 80)


@pytest.mark.parametrize(
    ("host", "port", "message"), [("127.0.0.1", 70000, "port 70000 is out of range"), ("", 1, "host is empty")]
)
def test_a_bad_address_is_a_config_error(host: str, port: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        check_bind(host, port)


def test_a_busy_port_is_refused_with_the_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"cannot listen on 127.0.0.1:{port} .*pass another --port"):
            reserve_port("127.0.0.1", port)
    assert reserve_port("127.0.0.1", 0) > 0  # 0 picks a free port


def test_host_checks_follow_the_bind_address() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("example.org")
    assert allowed_hosts_for("127.0.0.1") == ["127.0.0.1", "localhost"]
    assert allowed_hosts_for("0.0.0.0") is None  # a wildcard bind cannot know its names
    assert allowed_hosts_for("10.0.0.5") == ["10.0.0.5", "127.0.0.1", "localhost"]


def test_plotly_stylesheet_is_read_from_the_installed_plotly_js() -> None:
    css = plotly_css()
    assert ".js-plotly-plot .plotly .main-svg {position:absolute;top:0;left:0;pointer-events:none;}" in css
    assert "X " not in css and ".plotly-notifier" in css
    assert plotly_js_path().name == "plotly.min.js"
    assert len(plotly_style_ids()) >= 1


def test_css_extraction_reads_both_quote_styles_and_finds_guarded_styles() -> None:
    source = (
        'var a=1;var r={"X,X div":\'font-family:"Open Sans";\',"X .main-svg":"top:0;","Y .n":"color:#fff;"};'
        'if(!document.getElementById("abc123")){var e=document.createElement("style");e.textContent="x"}'
    )
    assert css_from_js(source) == (
        '.js-plotly-plot .plotly,.js-plotly-plot .plotly div {font-family:"Open Sans";}\n'
        ".js-plotly-plot .plotly .main-svg {top:0;}\n"
        ".plotly-notifier .n {color:#fff;}\n"
    )
    assert bundled_style_ids(source) == ["abc123"]
    assert css_from_js("no rules here") == ""
