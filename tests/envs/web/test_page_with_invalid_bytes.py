"""A page whose bytes are not valid UTF-8 reads as text with replacement characters; the episode goes on."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from practicum.envs.web.browser import BrowserEnv, BrowserTaskSpec, Condition
from practicum.envs.web.chromium import BrowserLease
from practicum.envs.web.server import LocalServer
from tests.envs.web.helpers import act, element_id

pytestmark = pytest.mark.browser

PAGES = {
    "/": b"<title>Bytes</title><p>price \xff\xfe\xc3 42</p><a href='/b'>next \x80 page</a>",
    "/b": b"<title>B</title><p>reached</p>",
}


class RawBytes(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = PAGES.get(self.path, b"not found")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")  # a lie, as real servers tell it
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_invalid_utf8_becomes_replacement_characters_and_actions_still_work(browser_lease: BrowserLease) -> None:
    server = LocalServer(RawBytes).start()
    env = BrowserEnv(
        [BrowserTaskSpec(id="t", start_url=server.base_url + "/", goal="Go on.", success=Condition(url_contains="/b"))]
    )
    try:
        obs, _ = env.reset()
        assert "price" in obs and "42" in obs and "\ufffd" in obs
        obs.encode("utf-8")  # the observation itself is valid text
        link = element_id(env, "link", "next", exact=False)
        *_, info = act(env, f"click[{link}]")
        assert info.get("success") is True
    finally:
        env.close()
        server.stop()
