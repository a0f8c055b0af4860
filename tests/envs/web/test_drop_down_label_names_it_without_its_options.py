"""A drop-down inside its <label> is named by the label's words; its options are listed once, as options."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from practicum.envs.web.browser import BrowserEnv, BrowserTaskSpec, Condition
from practicum.envs.web.chromium import BrowserLease
from practicum.envs.web.server import LocalServer
from tests.envs.web.helpers import act, page_server

pytestmark = pytest.mark.browser

ORDER = """<title>Order</title>
<label>Size <select><option>Small</option><option selected>Medium</option><option>Large</option></select></label>
<label>Colour <span style="display:none">(hidden hint)</span>
  <select multiple><option>red</option><option>blue</option></select></label>
<label>Note <textarea>hi there</textarea></label>
"""


@pytest.fixture(scope="module")
def site(browser_lease: BrowserLease) -> Iterator[LocalServer]:
    server, _ = page_server({"/": ORDER})
    yield server
    server.stop()


def test_a_drop_down_inside_its_label_is_named_by_the_label_alone(site: LocalServer) -> None:
    env = BrowserEnv([BrowserTaskSpec("t", site.base_url + "/", "Order.", Condition(url_contains="/never"))])
    try:
        obs, _ = env.reset(seed=0)
        assert [e.describe() for e in env.elements] == [
            '[1] combobox "Size" value="Medium" options: Small | Medium | Large',
            '[2] listbox "Colour" options: red | blue',
            '[3] textbox "Note" value="hi there"',
        ]
        assert obs.count("Small") == 1 + 1  # once among the options, once in the legal action select[1][Small]
        act(env, "select[1][Large]")
        assert env.elements[0].describe() == '[1] combobox "Size" value="Large" options: Small | Medium | Large'
    finally:
        env.close()
