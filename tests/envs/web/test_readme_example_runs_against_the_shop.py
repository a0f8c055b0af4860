"""The browser-task example of docs/environments.md runs as written against the built-in shop."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from practicum.envs.web import BrowserEnv, load_browser_tasks
from practicum.envs.web.browser import read_browser_tasks
from practicum.envs.web.chromium import BrowserLease
from tests.envs.web.helpers import act, element_id

pytestmark = pytest.mark.browser

README = Path(__file__).resolve().parents[3] / "docs" / "environments.md"


def _block(language: str, starts_with: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)
    return next(b for b in blocks if b.startswith(starts_with))


def test_yaml_example_solves_its_tasks(tmp_path: Path, browser_lease: BrowserLease) -> None:
    path = tmp_path / "shop_tasks.yaml"
    path.write_text(_block("yaml", "# shop_tasks.yaml"))
    suite = load_browser_tasks(path)
    assert suite.name == "my-shop-tasks" and suite.counts() == {"train": 2, "validation": 1, "test": 1}
    env = suite.env()
    assert isinstance(env, BrowserEnv)
    try:
        env.reset(seed=0)
        _, reward, _, _, info = act(env, "click[8]")  # as the README says: [8] is the Kitchen link
        assert (reward, info["success"]) == (1.0, True)

        env.reset(seed=1)
        act(env, "search[wool socks]")
        act(env, f"click[{next(e.id for e in env.elements if e.role == 'link' and 'Socks' in e.label)}]")
        product = env.elements
        color = next(e for e in product if e.label == "Color").options[1]
        act(env, f"select[{element_id(env, 'combobox', 'Color')}][{color}]")
        size = next(e for e in env.elements if e.label == "Size").options[1]
        act(env, f"select[{element_id(env, 'combobox', 'Size')}][{size}]")
        _, reward, terminated, _, info = act(env, f"click[{element_id(env, 'button', 'Add to cart')}]")
        assert (reward, terminated, info["success"]) == (1.0, True, True)

        env.reset(seed=2)  # the validation task
        _, reward, _, _, info = act(env, f"click[{element_id(env, 'link', 'Shoes')}]")
        assert (reward, info["success"]) == (1.0, True)

        env.reset(seed=3)  # the test task
        _, reward, _, _, info = act(env, "stop[100]")
        assert (reward, info["success"]) == (1.0, True)
    finally:
        env.close()


def test_python_example_loads(tmp_path: Path) -> None:
    path = tmp_path / "my_tasks.py"
    path.write_text(_block("python", "# my_tasks.py"))
    name, specs = read_browser_tasks(path)
    assert name is None and [s.id for s in specs] == ["mug", "docs"]
    assert callable(specs[0].success)
