"""A run's episode list: every filter returns exactly the matching episodes (mode and 'used in training' among
them), paging visits each one once."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from practicum.store import Store
from practicum.store.models import Episode, TaskRow
from tests.browse.seed import Practiced, Seeded


def listed_ids(html: str) -> list[int]:
    """Episode ids in the page's episode table, in order."""
    table = re.search(r'<table class="grid" id="episodes">(.*?)</table>', html, re.S)
    return [] if table is None else [int(i) for i in re.findall(r'<a href="/episodes/(\d+)">', table.group(1))]


def expected_ids(store: Store, run_id: int, **where: Any) -> list[int]:
    """The same selection computed straight from the tables."""
    query = select(Episode.id).join(TaskRow, TaskRow.id == Episode.task_id).where(Episode.run_id == run_id)
    for name, value in where.items():
        column = getattr(TaskRow, name) if name in ("suite", "split", "key") else getattr(Episode, name)
        query = query.where(column == value)
    with store.session() as s:
        return list(s.scalars(query.order_by(Episode.id)))


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"suite": "taxi"}, {"suite": "taxi"}),
        ({"split": "test"}, {"split": "test"}),
        ({"outcome": "success"}, {"outcome": "success"}),
        ({"failure_kind": "env"}, {"failure_kind": "env"}),
        ({"task": "frozenlake-4x4:102"}, {"key": "frozenlake-4x4:102"}),
        (
            {"suite": "frozenlake-4x4", "outcome": "failure", "failure_kind": "agent"},
            {"suite": "frozenlake-4x4", "outcome": "failure", "failure_kind": "agent"},
        ),
    ],
)
def test_each_filter_lists_exactly_the_matching_episodes(
    client: TestClient, seeded: tuple[Store, Seeded], params: dict[str, str], where: dict[str, str]
) -> None:
    store, ids = seeded
    response = client.get(f"/runs/{ids.run_id}/episodes", params={**params, "per_page": 500})
    assert response.status_code == 200
    expected = expected_ids(store, ids.run_id, **where)
    assert expected, "the seed data must contain matching episodes for this filter to mean anything"
    assert listed_ids(response.text) == expected
    assert len(expected) < len(expected_ids(store, ids.run_id))  # the filter really removed some


def test_policy_filter_lists_only_that_policys_episodes(client: TestClient, seeded: tuple[Store, Seeded]) -> None:
    store, ids = seeded
    response = client.get(f"/runs/{ids.run_id}/episodes", params={"policy": ids.child_id, "per_page": 500})
    assert listed_ids(response.text) == expected_ids(store, ids.run_id, policy_id=ids.child_id)
    # The drop-down offers the run's policies and keeps the chosen one selected.
    assert f'<option value="{ids.child_id}" selected>base-r1</option>' in response.text


@pytest.mark.parametrize("mode", ["search", "sample", "greedy"])
def test_mode_filter_lists_only_that_modes_episodes(
    practice_client: TestClient, practiced: tuple[Store, Practiced], mode: str
) -> None:
    store, ids = practiced
    response = practice_client.get(f"/runs/{ids.run_id}/episodes", params={"mode": mode, "per_page": 500})
    expected = expected_ids(store, ids.run_id, mode=mode)
    assert expected and len(expected) < len(expected_ids(store, ids.run_id))
    assert listed_ids(response.text) == expected
    assert f'<option value="{mode}" selected>{mode}</option>' in response.text


def test_used_in_training_filter_splits_the_episodes_a_round_was_fed(
    practice_client: TestClient, practiced: tuple[Store, Practiced]
) -> None:
    store, ids = practiced
    url = f"/runs/{ids.run_id}/episodes"
    used = practice_client.get(url, params={"used": "yes", "per_page": 500}).text
    # Task 0's search episode through the step pairs the round trained on, task 1's through its RFT examples;
    # task 2's pairs and the trajectory pair 1 > 3 were mined but not trained on.
    assert listed_ids(used) == ids.used
    assert '<option value="yes" selected>used in training</option>' in used
    assert used.count(f'<td class="training"><a href="/rounds/{ids.round_id}">round {ids.round_id}</a></td>') == 2
    unused = practice_client.get(url, params={"used": "no", "per_page": 500}).text
    assert listed_ids(unused) == [e for e in expected_ids(store, ids.run_id) if e not in ids.used]
    # Combined with the other filters, and kept by the pager.
    searched = practice_client.get(url, params={"used": "no", "mode": "search", "per_page": 1}).text
    assert listed_ids(searched) == [ids.collected[2]]
    following = re.search(r'<a rel="next" href="([^"]+)"', searched)
    assert following is not None and "used=no" in following.group(1) and "mode=search" in following.group(1)


def test_empty_filter_values_mean_any(client: TestClient, seeded: tuple[Store, Seeded]) -> None:
    store, ids = seeded
    blank = {"suite": "", "task": "", "split": "", "outcome": "", "failure_kind": "", "policy": "", "per_page": 500}
    response = client.get(f"/runs/{ids.run_id}/episodes", params=blank)
    assert listed_ids(response.text) == expected_ids(store, ids.run_id)


def test_paging_visits_every_episode_once_and_keeps_the_filters(
    client: TestClient, seeded: tuple[Store, Seeded]
) -> None:
    store, ids = seeded
    expected = expected_ids(store, ids.run_id, split="train")
    seen: list[int] = []
    url = f"/runs/{ids.run_id}/episodes?split=train&per_page=4"
    pages = 0
    while url:
        html = client.get(url).text
        page = listed_ids(html)
        assert 0 < len(page) <= 4
        seen += page
        pages += 1
        following = re.search(r'<a rel="next" href="([^"]+)"', html)
        url = following.group(1).replace("&amp;", "&") if following else ""
        if url:
            assert "split=train" in url and "per_page=4" in url
    assert seen == expected
    assert pages == -(-len(expected) // 4)


def test_a_page_past_the_end_is_empty_not_an_error(client: TestClient, seeded: tuple[Store, Seeded]) -> None:
    response = client.get(f"/runs/{seeded[1].run_id}/episodes", params={"page": 99})
    assert response.status_code == 200
    assert listed_ids(response.text) == []
    assert "No episode matches these filters" in response.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"outcome": "maybe"}, "outcome filter is &#39;maybe&#39;; use one of &#39;success&#39;, &#39;failure&#39;"),
        ({"failure_kind": "cosmic"}, "failure kind filter is &#39;cosmic&#39;"),
        ({"split": "dev"}, "split filter is &#39;dev&#39;"),
        ({"policy": "abc"}, "policy is &#39;abc&#39;; give a number"),
        ({"per_page": "0"}, "per_page: Input should be greater than or equal to 1"),
        ({"page": "x"}, "page: Input should be a valid integer"),
        (
            {"mode": "beam"},
            "mode filter is &#39;beam&#39;; use one of &#39;greedy&#39;, &#39;search&#39;, &#39;sample&#39;",
        ),
        (
            {"used": "maybe"},
            "the &#39;used in training&#39; filter is &#39;maybe&#39;; use one of &#39;yes&#39;, &#39;no&#39;",
        ),
    ],
)
def test_a_bad_filter_is_a_clear_400_page(
    client: TestClient, seeded: tuple[Store, Seeded], params: dict[str, str], message: str
) -> None:
    response = client.get(f"/runs/{seeded[1].run_id}/episodes", params=params)
    assert response.status_code == 400
    assert message in response.text
    assert "Traceback" not in response.text


def test_runs_are_listed_with_episode_counts_and_paged(client: TestClient, ids: Seeded) -> None:
    first = client.get("/", params={"per_page": 1})
    second = client.get("/", params={"per_page": 1, "page": 2})
    # Newest first: the empty run, then the demo run with its 25 episodes.
    assert f'href="/runs/{ids.empty_run_id}">empty-run</a>' in first.text
    assert "demo-run" not in first.text
    assert f'href="/runs/{ids.run_id}">demo-run</a>' in second.text
    assert f'<a href="/runs/{ids.run_id}/episodes">25</a>' in second.text
