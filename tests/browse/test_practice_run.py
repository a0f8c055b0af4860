"""A practice run as the loop leaves it in the store, over HTTP: pairs counted from the pairs table, the per-iteration
exploration table and chart, and held-out success per policy."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from practicum.store import Store
from practicum.store.models import Episode
from tests.browse.seed import Practiced, Seeded
from tests.browse.test_pages import figure


def cells(page: str, row_id: str) -> list[str]:
    """The text of each cell of the table row with id `row_id`, tags and runs of spaces removed."""
    match = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S)
    assert match is not None, f"no row {row_id} in the page"
    found = re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in found]


def test_pair_counts_are_the_rows_of_the_pairs_table_not_the_count_written_at_collection(
    practice_client: TestClient, practiced: tuple[Store, Practiced]
) -> None:
    store, ids = practiced
    with store.session() as s:  # the loop writes no pair with an episode: the column says 0 for every one
        assert set(s.scalars(select(Episode.pair_count).where(Episode.run_id == ids.run_id))) == {0}
    for episode, n in ids.pairs.items():
        page = practice_client.get(f"/episodes/{episode}").text
        assert f'<span id="pair-count">{n}</span> pairs' in page
    listing = practice_client.get(f"/runs/{ids.run_id}/episodes", params={"per_page": 500}).text
    listed = dict(re.findall(r'<a href="/episodes/(\d+)">\d+</a>.*?<td class="pairs">(\d+)</td>', listing, re.S))
    assert {int(e): int(n) for e, n in listed.items() if n != "0"} == ids.pairs
    run_page = practice_client.get(f"/runs/{ids.run_id}").text
    # slice, episodes, success, mean reward, nodes, pairs: 8 step pairs (tasks 0 and 2) and 1 trajectory pair.
    totals = re.search(
        r"<td>all</td><td>[\d,]+</td><td>[^<]*</td>\s*<td>[^<]*</td><td>[\d,]+</td><td>(\d+)</td>", run_page
    )
    train = re.search(
        r"<td>train</td><td>[\d,]+</td><td>[^<]*</td>\s*<td>[^<]*</td><td>[\d,]+</td><td>(\d+)</td>", run_page
    )
    assert totals is not None and train is not None
    assert (totals.group(1), train.group(1)) == ("9", "9")


def test_run_page_shows_each_iterations_exploration_beside_its_validation_decision(
    practice_client: TestClient, practiced: tuple[Store, Practiced]
) -> None:
    page = practice_client.get(f"/runs/{practiced[1].run_id}").text
    header = re.search(r'<table class="grid" id="iteration-table">\s*<thead>(.*?)</thead>', page, re.S)
    assert header is not None and "<th>pass@1</th><th>pass@2</th><th>acts/node</th>" in header.group(1)
    # iter, policy, train srch, solved any, pass@1, pass@2, acts/node, nodes, infra, candidate, val, parent val,
    # decision, lost/won, test
    assert cells(page, "iteration-0") == [
        "0", "p-base", "–", "–", "–", "–", "–", "0", "0", "–", "–", "–", "baseline", "–", "50%",
    ]  # fmt: skip
    assert cells(page, "iteration-1") == [
        "1", "p-base", "50% of 4", "75%", "25%", "50%", "2.00", "84", "0", "p-base-r1 ( round 1 )",
        "100% 2/2", "50% 1/2", "promoted", "0/1", "100%",
    ]  # fmt: skip
    assert cells(page, "iteration-2")[:9] == ["2", "p-base-r1", "100% of 2", "100%", "100%", "100%", "1.00", "42", "0"]
    assert cells(page, "iteration-2")[12:] == ["no candidate", "–", "100%"]
    lines = {t["name"]: (t["x"], t["y"]) for t in figure(page, "chart-explore")["data"]}
    assert lines == {
        "train success (search)": ([1, 2], [0.5, 1.0]),
        "solved anywhere in the tree": ([1, 2], [0.75, 1.0]),
        "pass@1 (sampled)": ([1, 2], [0.25, 1.0]),
        "pass@2 (sampled)": ([1, 2], [0.5, 1.0]),
        "distinct actions per node": ([1, 2], [2.0, 1.0]),
    }


def test_run_page_shows_held_out_success_per_policy_as_a_table_and_a_chart(
    practice_client: TestClient, practiced: tuple[Store, Practiced]
) -> None:
    _, ids = practiced
    page = practice_client.get(f"/runs/{ids.run_id}").text
    header = re.search(r'<table class="grid" id="held-out-table">\s*<thead>(.*?)</thead>', page, re.S)
    assert header is not None
    assert re.findall(r"<th>([^<]*)</th>", header.group(1)) == [
        "policy",
        "iteration",
        "state",
        "validation (greedy)",
        "test (greedy)",
    ]
    assert cells(page, f"held-out-{ids.base_id}") == ["p-base", "0", "retired", "50% 1/2", "50% 1/2"]
    assert cells(page, f"held-out-{ids.candidate_id}") == ["p-base-r1", "1", "promoted", "100% 2/2", "100% 2/2"]
    bars = {t["name"]: (t["type"], t["x"], t["y"]) for t in figure(page, "chart-held-out")["data"]}
    assert bars == {
        "validation (greedy)": ("bar", ["p-base", "p-base-r1"], [0.5, 1.0]),
        "test (greedy)": ("bar", ["p-base", "p-base-r1"], [0.5, 1.0]),
    }


def test_a_run_not_collected_by_the_loop_says_it_has_no_iterations(
    client: TestClient, seeded: tuple[Store, Seeded]
) -> None:
    page = client.get(f"/runs/{seeded[1].run_id}").text
    assert 'id="iterations-empty"' in page and 'id="chart-explore"' not in page
    # Its evals are held-out results all the same: three policies on test, two on validation.
    assert 'id="held-out-table"' in page and len(re.findall(r'<tr id="held-out-\d+">', page)) == 3
