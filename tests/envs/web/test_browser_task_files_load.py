"""Generic browser tasks: YAML and Python task files, the allow-list and declarative conditions."""

from __future__ import annotations

from pathlib import Path

import pytest

from practicum.envs.registry import get_suite
from practicum.envs.web.browser import (
    BrowserTaskSpec,
    Condition,
    default_allow_list,
    domain_allowed,
    load_browser_tasks,
    read_browser_tasks,
)
from practicum.errors import ConfigError, UnknownIdError

YAML = """
suite: my-shop-tasks
tasks:
  - id: kitchen
    start_url: "{shop}/"
    goal: Open the Kitchen department.
    success: {url_contains: /category/kitchen}
  - id: price
    start_url: http://127.0.0.1:8000/
    goal: What costs $5?
    success: {answer_contains: "5"}
    allowed_domains: ["127.0.0.1", "*.example.org"]
    split: test
  - id: shoes
    start_url: "{shop}/"
    goal: Open the Shoes department.
    success: {url_contains: /category/shoes}
    split: validation
  - id: train-2
    start_url: http://127.0.0.1:8000/a
    goal: Go to b.
    success: {url_matches: "/b$", text_contains: "Page  B"}
"""

PYTHON = """
from practicum.envs.web.browser import BrowserTaskSpec, Condition

SUITE = "py-tasks"

def on_b(page, answer):
    return page.url.endswith("/b")

TASKS = [
    BrowserTaskSpec(id="a", start_url="http://127.0.0.1:9/", goal="Go to b.", success=on_b),
    BrowserTaskSpec(id="b", start_url="http://127.0.0.1:9/", goal="Say hi.", success=Condition(answer_equals="hi"),
                    split="test"),
]
"""


def test_yaml_file_registers_a_suite_with_train_then_validation_then_test_tasks(tmp_path: Path) -> None:
    path = tmp_path / "tasks.yaml"
    path.write_text(YAML)
    suite = load_browser_tasks(path)
    assert suite.name == "my-shop-tasks" and get_suite("my-shop-tasks") is suite
    assert suite.counts() == {"train": 2, "validation": 1, "test": 1}
    assert [(t.seed, t.params["id"]) for t in suite.tasks("train")] == [(0, "kitchen"), (1, "train-2")]
    assert [(t.seed, t.params["id"], t.split) for t in suite.tasks("validation")] == [(2, "shoes", "validation")]
    test = suite.tasks("test")[0]
    assert (test.seed, test.goal, test.split) == (3, "What costs $5?", "test")
    assert test.params["allowed_domains"] == ["127.0.0.1", "*.example.org"]
    with pytest.raises(UnknownIdError, match="in no split"):
        suite.task(4)


def test_split_heldout_of_older_task_files_loads_as_test(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    path.write_text(YAML.replace("split: test", "split: heldout"))
    suite = load_browser_tasks(path, name="old-tasks")
    assert suite.counts() == {"train": 2, "validation": 1, "test": 1}
    assert [(t.params["id"], t.split) for t in suite.tasks("test")] == [("price", "test")]
    spec = BrowserTaskSpec("p", "http://x/", "g", Condition(url_contains="x"), split="heldout")  # type: ignore[arg-type]
    assert spec.split == "test"


def test_python_file_keeps_callable_checks_and_may_have_no_validation_tasks(tmp_path: Path) -> None:
    path = tmp_path / "tasks.py"
    path.write_text(PYTHON)
    name, specs = read_browser_tasks(path)
    assert name == "py-tasks"
    assert callable(specs[0].success) and isinstance(specs[1].success, Condition)
    suite = load_browser_tasks(path, name="renamed")
    assert suite.name == "renamed" and suite.counts() == {"train": 1, "validation": 0, "test": 1}
    assert suite.tasks("validation") == [] and suite.task(1).split == "test"


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("tasks: []", ".yaml", "non-empty list of tasks"),
        ("tasks: [{id: a, start_url: 'http://x/', goal: g}]", ".yaml", "missing \\['success'\\]"),
        ("tasks: [{id: a, start_url: 'http://x/', goal: g, success: {}, colour: red}]", ".yaml", "unknown key"),
        ("tasks: [{id: a, start_url: 'http://x/', goal: g, success: {url_has: x}}]", ".yaml", "success must be"),
        ("tasks: [{id: a, start_url: 'ftp://x/', goal: g, success: {url_contains: x}}]", ".yaml", "http\\(s\\)"),
        ("tasks: [{id: a, start_url: 'http://x/', goal: g, success: {url_matches: '('}}]", ".yaml", "not a regex"),
        ("tasks: [{id: 'a b', start_url: 'http://x/', goal: g, success: {url_contains: x}}]", ".yaml", "task id"),
        (
            "tasks: [{id: a, start_url: 'http://x/', goal: g, success: {url_contains: x}, split: dev}]",
            ".yaml",
            r"split 'dev' must be one of \['train', 'validation', 'test'\]",
        ),
        (
            "tasks:\n- {id: a, start_url: 'http://x/', goal: g, success: {url_contains: x}}\n"
            "- {id: a, start_url: 'http://x/', goal: h, success: {url_contains: y}}",
            ".yaml",
            "two tasks have the id 'a'",
        ),
        ("tasks: [unclosed", ".yaml", "not valid YAML"),
        (
            "tasks: [{id: a, start_url: 'http://x/', goal: g, success: {url_contains: x}, allowed_domains: x.org}]",
            ".yaml",
            r"task 1: allowed_domains must be a list of host names, got 'x.org'; write it as "
            r"allowed_domains: \['x.org'\]",
        ),
        ("tasks: [{id: a, start_url: 'http://x/', goal: , success: {url_contains: x}}]", ".yaml", "goal must be text"),
        (
            "tasks: [{id: a, start_url: 'http://x/', goal: g, success: {url_contains: }}]",
            ".yaml",
            "success.url_contains must be text, got None",
        ),
        (
            "tasks: [{id: a, start_url: 'http://x/', goal: g, success: {url_contains: x}, split: [test]}]",
            ".yaml",
            r"split \['test'\] must be one of",
        ),
        (
            "tasks: [{id: a, start_url: 'http://x/', goal: g, success: {url_contains: x}, split: validation}]",
            ".yaml",
            "every task is a validation or test task; practice needs train tasks",
        ),
        ("X = 1", ".py", "defines no TASKS"),
        ("raise RuntimeError('boom')", ".py", "failed to run: RuntimeError: boom"),
        ("tasks: []", ".txt", "must end in .yaml"),
    ],
)
def test_bad_task_files_name_the_problem(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"tasks{suffix}"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_browser_tasks(path)


def test_a_task_file_may_not_replace_a_built_in_suite_but_may_load_twice(tmp_path: Path) -> None:
    shop = get_suite("shop")
    path = tmp_path / "tasks.yaml"
    path.write_text("suite: shop\n" + YAML.split("\n", 2)[2])
    with pytest.raises(ConfigError, match=r"suite 'shop' is the name of a built-in suite.*e\.g\. suite: my-shop"):
        load_browser_tasks(path)
    with pytest.raises(ConfigError, match="built-in suite"):
        load_browser_tasks(tmp_path / "tasks.yaml", name="frozenlake-4x4")
    assert get_suite("shop") is shop
    path.write_text(YAML.replace("my-shop-tasks", "reloaded-tasks"))
    assert load_browser_tasks(path).name == load_browser_tasks(path).name == "reloaded-tasks"  # workers reload


def test_missing_file_and_empty_condition_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_browser_tasks(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="at least one of"):
        Condition()
    with pytest.raises(ConfigError, match="allowed_domains must be a list"):
        BrowserTaskSpec("a", "http://x/", "g", Condition(url_contains="x"), allowed_domains="x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "allowed", "ok"),
    [
        ("http://127.0.0.1:8000/a", ["127.0.0.1"], True),
        ("http://127.0.0.1:8000/a", ["127.0.0.1:8000"], True),
        ("http://127.0.0.1:8001/a", ["127.0.0.1:8000"], False),
        ("https://shop.example.org/", ["*.example.org"], True),
        ("https://example.org/", ["*.example.org"], True),
        ("https://badexample.org/", ["*.example.org"], False),
        ("http://evil.com/", ["127.0.0.1"], False),
        ("https://example.org/", ["example.org:443"], True),
        ("data:text/html,hi", [], True),
        ("file:///etc/passwd", ["127.0.0.1"], False),
    ],
)
def test_allow_list_patterns(url: str, allowed: list[str], ok: bool) -> None:
    assert domain_allowed(url, allowed) is ok


def test_default_allow_list_is_the_start_host_and_port() -> None:
    assert default_allow_list("http://127.0.0.1:8123/x") == ("127.0.0.1:8123",)
    assert default_allow_list("https://example.org/") == ("example.org:443",)


def test_conditions_check_url_text_and_answer() -> None:
    on_b = Condition(url_matches="/b$", text_contains="page  b")
    assert on_b.holds("http://h/b", "Welcome to PAGE B", None)
    assert not on_b.holds("http://h/b?x", "Welcome to page b", None)
    assert not on_b.holds("http://h/b", "Welcome", None)
    answer = Condition(answer_equals=" Hi ")
    assert answer.needs_answer and not answer.holds("u", "t", None)
    assert answer.holds("u", "t", "hi") and not answer.holds("u", "t", "hi there")
    assert Condition(url_contains="{shop}/x").replace_placeholder("{shop}", "http://h:1").url_contains == "http://h:1/x"
