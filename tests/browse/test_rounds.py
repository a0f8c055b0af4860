"""A training round's page: its datasets as the round saved them (step pairs with the values of both sides, RFT
examples), the pairs table when the files are gone, and the links that lead to it."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from practicum.store import Store, open_store
from practicum.store.models import NodeRow
from tests.browse.conftest import client_for
from tests.browse.seed import Practiced, seed_practice_run


def section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert match is not None, f"no section {name}"
    return match.group(1)


def rows(part: str) -> list[str]:
    """The body rows of the section's table, as text."""
    body = re.search(r"<tbody>(.*?)</tbody>", part, re.S)
    assert body is not None
    return [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r)).split())
        for r in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


@pytest.fixture(scope="module")
def ids(practiced: tuple[Store, Practiced]) -> Practiced:
    """The practice run's ids (this module's tests read the practice store, not the seeded one)."""
    return practiced[1]


def test_round_page_lists_the_step_pairs_with_both_sides_values_and_the_rft_examples(
    practice_client: TestClient, practiced: tuple[Store, Practiced]
) -> None:
    store, ids = practiced
    page = practice_client.get(f"/rounds/{ids.round_id}").text
    assert f'<code id="datasets-folder">{ids.datasets_dir}</code>' in page
    steps = section(page, "step_pairs")
    assert "(4 rows)" in steps and "trained on by the dpo stage" in steps
    with store.session() as s:
        chosen, rejected = s.get(NodeRow, (ids.collected[0], 1)), s.get(NodeRow, (ids.collected[0], 2))
        assert chosen is not None and rejected is not None
    first = rows(steps)[0]
    # #, task, where from, the prompt (preview and full text), chosen with Q̂ · Q · visits, rejected alike, margin
    assert first.startswith(
        f"1 frozenlake-4x4:0 episode {ids.collected[0]} under node 0 prompt (210 chars) prompt 1: ppp"
    )
    assert first.endswith(
        f"move 1 [1] {chosen.blended_value:.3f} · {chosen.value:.3f} · {chosen.visits} "
        f"move 2 [2] {rejected.blended_value:.3f} · {rejected.value:.3f} · {rejected.visits} 0.250"
    )
    assert f'<a href="/episodes/{ids.collected[0]}#node-1">' in steps
    rft = section(page, "rft")
    assert "(2 rows)" in rft and "trained on by the rft stage" in rft
    assert [r.split(" prompt ")[0] for r in rows(rft)] == [
        f"1 frozenlake-4x4:1 episode {ids.collected[1]} , node 1",
        f"2 frozenlake-4x4:1 episode {ids.collected[1]} , node 4",
    ]
    assert rows(rft)[0].endswith(f"move 1 {chosen.blended_value:.3f} {chosen.value:.3f} · {chosen.visits}")
    assert "No row." in section(page, "trajectory_pairs")


def test_round_page_reads_the_pairs_table_when_the_saved_datasets_are_gone(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        ids = seed_practice_run(store, tmp_path / "checkpoints")
        shutil.rmtree(ids.datasets_dir)
        page = client_for(store).get(f"/rounds/{ids.round_id}").text
    steps = section(page, "step_pairs")
    assert "from the pairs table (the pairs this round trained on): the saved file is missing" in steps
    assert [r.split(" ")[:4] for r in rows(steps)] == [
        [str(n), "–", "episode", str(ids.collected[0])] for n in (1, 2, 3, 4)
    ]
    assert "RFT examples are kept only in that file." in section(page, "rft")


def test_the_run_and_policy_pages_link_to_the_round_and_a_missing_round_is_a_404(
    practice_client: TestClient, ids: Practiced
) -> None:
    run_page = practice_client.get(f"/runs/{ids.run_id}").text
    assert f'<tr id="round-{ids.round_id}"><td><a href="/rounds/{ids.round_id}">' in run_page
    assert f'(<a href="/rounds/{ids.round_id}">round {ids.round_id}</a>)' in run_page  # the iteration that trained it
    policy_page = practice_client.get(f"/policies/{ids.candidate_id}").text
    assert f'<a href="/rounds/{ids.round_id}">round {ids.round_id}</a>' in policy_page
    missing = practice_client.get("/rounds/999")
    assert missing.status_code == 404 and "training round 999 does not exist" in missing.text
