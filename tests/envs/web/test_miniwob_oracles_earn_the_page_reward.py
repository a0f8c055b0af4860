"""MiniWoB++ in real Chromium: scripted solvers read the instruction from the page, act through the action
language and earn the page's own reward of 1.0; instances are deterministic from the seed."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler

import pytest

from practicum.envs.registry import get_suite
from practicum.envs.web.chromium import BrowserLease
from practicum.envs.web.miniwob import SPLITS, SUPPORTED, UNSUPPORTED, MiniWoBEnv, html_root, task_names
from practicum.envs.web.server import LocalServer
from practicum.errors import UnknownIdError
from tests.envs.web.helpers import Step, act, element_id, quoted

pytestmark = pytest.mark.browser


def click_button(env: MiniWoBEnv, goal: str) -> Step:
    return act(env, f"click[{element_id(env, 'button', quoted(goal)[0])}]")


def click_dialog_2(env: MiniWoBEnv, goal: str) -> Step:
    label = quoted(goal)[0]
    return act(env, f"click[{element_id(env, 'button', 'Close' if label == 'x' else label)}]")  # x: the close cross


def click_link(env: MiniWoBEnv, goal: str) -> Step:
    return act(env, f"click[{element_id(env, 'clickable', quoted(goal)[0])}]")


def enter_text(env: MiniWoBEnv, goal: str) -> Step:
    box = next(e for e in env.elements if e.role == "textbox")
    act(env, f"type[{box.id}][{quoted(goal)[0]}]")
    return act(env, f"click[{element_id(env, 'button', 'Submit')}]")


def click_checkboxes(env: MiniWoBEnv, goal: str) -> Step:
    listed = re.fullmatch(r"Select (.*) and click Submit\.", goal)
    assert listed is not None, goal
    wanted = set() if listed.group(1) == "nothing" else set(listed.group(1).split(", "))
    for box in [e for e in env.elements if e.role == "checkbox" and e.label in wanted]:
        act(env, f"click[{box.id}]")
    return act(env, f"click[{element_id(env, 'button', 'Submit')}]")


def choose_list(env: MiniWoBEnv, goal: str) -> Step:
    name = re.fullmatch(r"Select (.*) from the list and click Submit\.", goal)
    assert name is not None, goal
    menu = next(e for e in env.elements if e.role == "combobox")
    act(env, f"select[{menu.id}][{name.group(1)}]")
    return act(env, f"click[{element_id(env, 'button', 'Submit')}]")


def login_user(env: MiniWoBEnv, goal: str) -> Step:
    user, password = quoted(goal)
    fields = {e.hint: e.id for e in env.elements if e.role == "textbox"}
    act(env, f"type[{fields['id: username']}][{user}]")
    act(env, f"type[{fields['id: password']}][{password}]")
    return act(env, f"click[{element_id(env, 'button', 'Login')}]")


def click_tab_2(env: MiniWoBEnv, goal: str) -> Step:
    link = quoted(goal)[0]
    tabs = [e.label for e in env.elements if e.role == "tab"]
    for tab in tabs:
        act(env, f"click[{element_id(env, 'tab', tab)}]")
        if any(e.role == "clickable" and e.label == link for e in env.elements):
            return act(env, f"click[{element_id(env, 'clickable', link)}]")
    raise AssertionError(f"link {link!r} in no tab")


def social_media(env: MiniWoBEnv, goal: str) -> Step:
    match = re.fullmatch(r'For the user (@\S+), click on the "(.*)" button\.', goal)
    assert match is not None, goal
    user, button = match.groups()
    elements = list(env.elements)
    start = next(i for i, e in enumerate(elements) if e.label == user)
    icons = {"Reply": "class: reply", "Retweet": "class: retweet", "Like": "class: like"}
    hint = icons.get(button, "class: more")
    icon = next(e for e in elements[start:] if e.hint == hint)
    step = act(env, f"click[{icon.id}]")
    if button in icons:
        return step
    # From the "more" menu, whose Mute and Block entries name the user ("Block @diam").
    labels = (button, f"{button} {user}")
    item = next((e for e in env.elements if e.role == "text" and e.label in labels), None)
    return act(env, f"click[{item.id if item else element_id(env, 'text', button)}]")


MONTHS = ["January", "February", "March", "April", "May", "June"]
MONTHS += ["July", "August", "September", "October", "November", "December"]


def choose_date(env: MiniWoBEnv, goal: str) -> Step:
    month, day, _ = re.search(r"(\d\d)/(\d\d)/(\d{4})", goal).groups()  # type: ignore[union-attr]
    act(env, f"click[{next(e.id for e in env.elements if e.role == 'textbox')}]")  # opens the date picker
    while MONTHS[int(month) - 1] not in (e.label for e in env.elements):
        act(env, f"click[{element_id(env, 'text', 'Prev')}]")
    act(env, f"click[{element_id(env, 'link', str(int(day)))}]")
    return act(env, f"click[{element_id(env, 'button', 'Submit')}]")


def enter_date(env: MiniWoBEnv, goal: str) -> Step:
    month, day, year = re.search(r"(\d\d)/(\d\d)/(\d{4})", goal).groups()  # type: ignore[union-attr]
    field = next(e for e in env.elements if e.role == "textbox")
    assert field.input_type == "date"  # the observation says so, hence the ISO format
    act(env, f"type[{field.id}][{year}-{month}-{day}]")
    return act(env, f"click[{element_id(env, 'button', 'Submit')}]")


def email_important(env: MiniWoBEnv, goal: str) -> Step:
    sender = re.search(r"email by (\w+)", goal).group(1)  # type: ignore[union-attr]
    act(env, f"click[{element_id(env, 'text', sender)}]")  # opens the email
    return act(env, f"click[{next(e.id for e in env.elements if e.hint == 'class: star')}]")


def search_engine(env: MiniWoBEnv, goal: str) -> Step:
    nth = int(re.search(r"(\d+)(?:st|nd|rd|th) search result", goal).group(1))  # type: ignore[union-attr]
    act(env, f"type[{next(e.id for e in env.elements if e.role == 'textbox')}][{quoted(goal)[0]}]")
    act(env, f"click[{element_id(env, 'button', 'Search')}]")
    for _ in range((nth - 1) // 3):  # three results per page
        act(env, f"click[{element_id(env, 'link', '>')}]")
    results = [e for e in env.elements if e.role == "link" and e.label not in ("<", ">") and not e.label.isdigit()]
    return act(env, f"click[{results[(nth - 1) % 3].id}]")


def stock_market(env: MiniWoBEnv, goal: str) -> Step:
    limit = float(re.search(r"less than \$(\d+\.\d+)", goal).group(1))  # type: ignore[union-attr]
    for _ in range(30):  # each step is a second of page time; the price moves
        price = next(float(e.label[1:]) for e in env.elements if e.label.startswith("$"))
        if price < limit:
            return act(env, f"click[{element_id(env, 'button', 'Buy')}]")
        act(env, f"click[{element_id(env, 'text', 'Stock price:')}]")  # look again a second later
    raise AssertionError("the price never fell below the limit")


def use_autocomplete(env: MiniWoBEnv, goal: str) -> Step:
    start, *end = quoted(goal)
    act(env, f"type[{next(e.id for e in env.elements if e.role == 'textbox')}][{start}]")
    pick = next(
        e
        for e in env.elements
        if e.role == "text" and e.label.startswith(start) and e.label.endswith(end[0] if end else "")
    )
    act(env, f"click[{pick.id}]")
    return act(env, f"click[{element_id(env, 'button', 'Submit')}]")


ORACLES: dict[str, Callable[[MiniWoBEnv, str], Step]] = {
    "choose-date": choose_date,
    "enter-date": enter_date,
    "email-inbox-important": email_important,
    "search-engine": search_engine,
    "stock-market": stock_market,
    "use-autocomplete": use_autocomplete,
    "click-button": click_button,
    "click-dialog-2": click_dialog_2,
    "click-link": click_link,
    "enter-text": enter_text,
    "click-checkboxes": click_checkboxes,
    "choose-list": choose_list,
    "login-user": login_user,
    "click-tab-2": click_tab_2,
    "social-media": social_media,
}


@pytest.fixture(scope="module")
def envs(browser_lease: BrowserLease) -> Iterator[dict[str, MiniWoBEnv]]:
    made: dict[str, MiniWoBEnv] = {}
    yield made
    for env in made.values():
        env.close()


def _env(envs: dict[str, MiniWoBEnv], name: str) -> MiniWoBEnv:
    if name not in envs:
        envs[name] = get_suite(f"miniwob-{name}").env()  # type: ignore[assignment]
    return envs[name]


# Every task with a train instance; the simplest ones with a validation and a test instance too.
CASES = [(name, 3) for name in sorted(ORACLES)] + [
    (name, SPLITS[split].start + 5)
    for name in ("click-checkboxes", "login-user", "click-tab-2", "social-media")
    for split in ("validation", "test")
]


@pytest.mark.parametrize(("name", "seed"), CASES)
def test_oracle_earns_the_pages_reward(envs: dict[str, MiniWoBEnv], name: str, seed: int) -> None:
    env = _env(envs, name)
    obs, info = env.reset(seed=seed)
    goal = info["goal"]
    assert not goal.startswith("MiniWoB++")  # the page's instruction replaced the placeholder
    assert obs.startswith(f"Goal: {goal}\n")
    _, reward, terminated, truncated, info = ORACLES[name](env, goal)
    assert info["raw_reward"] == 1.0, (goal, info["reward_reason"], env.render())
    assert (reward, terminated, truncated, info["success"]) == (1.0, True, False, True)


def test_a_wrong_answer_earns_the_pages_penalty(envs: dict[str, MiniWoBEnv]) -> None:
    env = _env(envs, "click-button")
    _, info = env.reset(seed=4)
    wrong = next(e for e in env.elements if e.role == "button" and e.label != quoted(info["goal"])[0])
    _, reward, terminated, _, info = act(env, f"click[{wrong.id}]")
    assert info["raw_reward"] == -1.0
    assert (reward, terminated, info["success"], info["failure"]) == (0.0, True, False, "agent")


def test_same_seed_same_instance_and_validation_and_test_use_the_test_distribution(
    envs: dict[str, MiniWoBEnv],
) -> None:
    env = _env(envs, "click-checkboxes")
    first, _ = env.reset(seed=11)
    env.step("click[1]")
    assert env.reset(seed=11)[0] == first
    assert env.reset(seed=12)[0] != first
    transfer = _env(envs, "click-test-transfer")
    assert transfer.reset(seed=0)[1]["goal"] == "Click button ONE."  # the task's train distribution
    assert transfer.reset(seed=SPLITS["test"].start)[1]["goal"] == "Click button TWO."  # its test one
    assert transfer.reset(seed=SPLITS["validation"].start)[1]["goal"] == "Click button TWO."


def test_time_is_virtual_so_slow_agents_do_not_time_out(envs: dict[str, MiniWoBEnv]) -> None:
    env = _env(envs, "click-button")
    _, info = env.reset(seed=5)
    for _ in range(15):  # 15 s of page time: more than the task's own 10 s limit
        env.step("click[999]")
    _, reward, *_ = click_button(env, info["goal"])
    assert reward == 1.0


def test_page_time_stands_still_between_actions_at_the_fixed_date(envs: dict[str, MiniWoBEnv]) -> None:
    env = _env(envs, "stock-market")  # its price moves every second of page time
    env.reset(seed=3)
    now = "new Date().toISOString()"
    before, price = env.page.evaluate(now), env.page.inner_text("#stock-price")
    time.sleep(1.5)  # a slow machine between reading the page and acting on it
    assert (env.page.evaluate(now), env.page.inner_text("#stock-price")) == (before, price)
    assert before.startswith("2016-11-24T")
    env.step(f"click[{element_id(env, 'text', 'Stock price:')}]")
    assert env.page.evaluate(now) > before  # an action moves it


def test_every_task_is_either_supported_or_excluded_with_a_reason() -> None:
    shipped = set(task_names())
    assert set(SUPPORTED) <= shipped and set(UNSUPPORTED) <= shipped
    assert not set(SUPPORTED) & set(UNSUPPORTED)
    assert shipped == set(SUPPORTED) | set(UNSUPPORTED)
    assert all(reason for reason in UNSUPPORTED.values())
    with pytest.raises(UnknownIdError, match="unknown MiniWoB\\+\\+ task 'click-buton'"):
        MiniWoBEnv("click-buton")


class _SlowImages(SimpleHTTPRequestHandler):
    """Serves MiniWoB++'s files, each image 0.5 s late (as on a busy machine)."""

    def do_GET(self) -> None:
        if self.path.endswith(".png"):
            time.sleep(0.5)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_buttons_drawn_by_css_images_are_read_after_their_files_arrive(browser_lease: BrowserLease) -> None:
    # social-media draws its reply / retweet / like / more buttons with CSS `content: url(...)`: until a file
    # arrives the button has no width, and a page read too early lists none of them.
    env = get_suite("miniwob-social-media").env()
    env._server = LocalServer(functools.partial(_SlowImages, directory=str(html_root()))).start()  # type: ignore[attr-defined]
    try:
        env.reset(seed=3)
        hints = [e.hint for e in env.elements]
        assert hints.count("class: more") == hints.count("class: reply") >= 5, hints
        _, reward, terminated, _, info = social_media(env, env.task.goal)
        assert (reward, terminated, info["success"]) == (1.0, True, True)
    finally:
        env.close()
