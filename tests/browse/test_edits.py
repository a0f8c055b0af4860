"""Relabelling from the browser: refused without --allow-edits or without the form token, and with them
applied to the row and recorded with when and why."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from practicum.browse.edits import relabel_critic, relabel_pair
from practicum.browse.errors import EditError
from practicum.errors import UnknownIdError
from practicum.store import Store
from practicum.store.models import Edit, Episode, NodeRow, Pair
from tests.browse.conftest import client_for
from tests.browse.seed import ALPHA, Seeded


def token_of(page: str) -> str:
    """The CSRF token embedded in a page's edit forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None, "the page has no edit form"
    return match.group(1)


def node_row(store: Store, episode_id: int, idx: int) -> NodeRow:
    with store.session() as s:
        node = s.get(NodeRow, (episode_id, idx))
        assert node is not None
        return node


def edit_count(store: Store) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count(Edit.id))) or 0)


def test_edits_are_refused_with_403_on_a_read_only_server(fresh: tuple[Store, Seeded]) -> None:
    store, ids = fresh
    client = client_for(store)
    episode_id = ids.episode_ids[0]
    before = node_row(store, episode_id, 4).critic_score
    page = client.get(f"/episodes/{episode_id}").text
    assert 'action="/edits/' not in page  # no forms offered
    critic = client.post(
        "/edits/critic",
        data={"episode_id": episode_id, "node_idx": 4, "score": "0.1", "reason": "x", "csrf_token": "t"},
    )
    pair = client.post("/edits/pair", data={"pair_id": 1, "label": "swap", "reason": "x", "csrf_token": "t"})
    for response in (critic, pair):
        assert response.status_code == 403
        assert "restart it with `practicum browse --allow-edits`" in response.text
    assert node_row(store, episode_id, 4).critic_score == before
    assert edit_count(store) == 0


def test_a_critic_relabel_changes_the_score_and_blended_value_and_is_logged_with_when_and_why(
    fresh: tuple[Store, Seeded],
) -> None:
    store, ids = fresh
    client = client_for(store, allow_edits=True)
    episode_id = ids.episode_ids[0]
    old = node_row(store, episode_id, 4)
    page = client.get(f"/episodes/{episode_id}").text
    assert "relabel score" in page
    started = datetime.now(UTC)
    response = client.post(
        "/edits/critic",
        data={
            "episode_id": episode_id,
            "node_idx": 4,
            "score": "0.05",
            "reason": "the action walks into a hole",
            "csrf_token": token_of(page),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert re.fullmatch(rf"/episodes/{episode_id}\?edited=\d+#node-4", response.headers["location"])
    new = node_row(store, episode_id, 4)
    assert new.critic_score == 0.05
    # Q^ = alpha * Q + (1 - alpha) * critic, with the episode's alpha: this is what pair mining reads.
    assert new.blended_value == pytest.approx(ALPHA * old.value + (1 - ALPHA) * 0.05)
    with store.session() as s:
        [edit] = s.scalars(select(Edit))
    assert (edit.kind, edit.episode_id, edit.node_idx) == ("critic_score", episode_id, 4)
    assert edit.reason == "the action walks into a hole"
    assert edit.old_value == {"critic_score": old.critic_score, "blended_value": old.blended_value}
    assert edit.new_value["critic_score"] == 0.05 and edit.new_value["alpha"] == ALPHA
    assert started - timedelta(seconds=1) <= edit.created_at <= datetime.now(UTC)
    # The episode page and the edit log show it.
    shown = client.get(response.headers["location"]).text
    assert "Edit 1 recorded" in shown and "the action walks into a hole" in shown
    assert "the action walks into a hole" in client.get("/edits").text
    # The tree marks the node as edited.
    level = client.get(f"/api/episodes/{episode_id}/tree", params={"parent": 1}).json()["nodes"]
    assert [n["idx"] for n in level if n["edited"]] == [4]


def test_a_pair_swap_and_drop_are_applied_and_logged(fresh: tuple[Store, Seeded]) -> None:
    store, ids = fresh
    client = client_for(store, allow_edits=True)
    episode_id = ids.episode_ids[0]
    with store.session() as s:
        pair = s.scalars(select(Pair).where(Pair.episode_id == episode_id, Pair.node_idx == 1)).one()
    token = token_of(client.get(f"/episodes/{episode_id}").text)
    swap = client.post(
        "/edits/pair",
        data={"pair_id": pair.id, "label": "swap", "reason": "the rejected move was better", "csrf_token": token},
        follow_redirects=False,
    )
    assert swap.status_code == 303 and swap.headers["location"].endswith(f"#pair-{pair.id}")
    with store.session() as s:
        swapped = s.get(Pair, pair.id)
    assert swapped is not None
    assert (swapped.chosen, swapped.rejected) == (pair.rejected, pair.chosen)
    assert (swapped.chosen_idx, swapped.rejected_idx) == (pair.rejected_idx, pair.chosen_idx)
    assert (swapped.chosen_logprob, swapped.rejected_logprob) == (pair.rejected_logprob, pair.chosen_logprob)
    # The tree now marks the sides the other way round.
    level = {n["idx"]: n for n in client.get(f"/api/episodes/{episode_id}/tree?parent=1").json()["nodes"]}
    assert level[pair.chosen_idx]["marks"][0]["role"] == "rejected"  # type: ignore[index]
    drop = client.post(
        "/edits/pair",
        data={"pair_id": pair.id, "label": "drop", "reason": "both moves are equivalent", "csrf_token": token},
    )
    assert drop.status_code == 200  # followed the redirect to the episode page
    assert f'<tr id="pair-{pair.id}" class="excluded">' in drop.text
    with store.session() as s:
        dropped = s.get(Pair, pair.id)
        edits = list(s.scalars(select(Edit).order_by(Edit.id)))
    assert dropped is not None and dropped.info == {"excluded": True}
    assert [(e.kind, e.pair_id, e.new_value["label"], e.reason) for e in edits] == [
        ("pair_label", pair.id, "swap", "the rejected move was better"),
        ("pair_label", pair.id, "drop", "both moves are equivalent"),
    ]


@pytest.mark.parametrize(
    ("headers", "token", "message"),
    [
        ({}, None, "security token is missing or stale"),
        ({}, "forged", "security token is missing or stale"),
        ({"origin": "http://evil.example"}, "GOOD", "accepted only from http://127.0.0.1:8765, not from http://evil"),
        ({"sec-fetch-site": "cross-site"}, "GOOD", "not from a cross-site page"),
    ],
)
def test_an_edit_without_the_token_or_from_another_site_is_refused(
    fresh: tuple[Store, Seeded], headers: dict[str, str], token: str | None, message: str
) -> None:
    store, ids = fresh
    client = client_for(store, allow_edits=True)
    episode_id = ids.episode_ids[0]
    good = token_of(client.get(f"/episodes/{episode_id}").text)
    data = {"episode_id": episode_id, "node_idx": 4, "score": "0.2", "reason": "why"}
    if token is not None:
        data["csrf_token"] = good if token == "GOOD" else token
    response = client.post("/edits/critic", data=data, headers=headers)
    assert response.status_code == 403
    assert message in response.text
    assert edit_count(store) == 0


def test_a_same_origin_post_with_the_token_is_accepted(fresh: tuple[Store, Seeded]) -> None:
    store, ids = fresh
    client = client_for(store, allow_edits=True)
    episode_id = ids.episode_ids[0]
    token = token_of(client.get(f"/episodes/{episode_id}").text)
    response = client.post(
        "/edits/critic",
        data={"episode_id": episode_id, "node_idx": 4, "score": "1", "reason": "why", "csrf_token": token},
        headers={"origin": "http://127.0.0.1:8765", "sec-fetch-site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and edit_count(store) == 1


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"score": "1.5"}, 400, "critic score 1.5 is out of range; critic scores lie between 0 and 1"),
        ({"score": "nan"}, 400, "critic score nan is out of range"),
        ({"score": "high"}, 400, "critic score &#39;high&#39; is not a number"),
        ({"reason": "   "}, 400, "an edit needs a reason"),
        ({"node_idx": "999"}, 404, "has no node 999"),
        ({"episode_id": "424242"}, 404, "episode 424242 does not exist"),
    ],
)
def test_a_bad_critic_edit_changes_nothing_and_says_why(
    fresh: tuple[Store, Seeded], form: dict[str, str], status: int, message: str
) -> None:
    store, ids = fresh
    client = client_for(store, allow_edits=True)
    episode_id = ids.episode_ids[0]
    token = token_of(client.get(f"/episodes/{episode_id}").text)
    data = {"episode_id": str(episode_id), "node_idx": "4", "score": "0.3", "reason": "why", "csrf_token": token}
    response = client.post("/edits/critic", data={**data, **form})
    assert response.status_code == status
    assert message in response.text
    assert edit_count(store) == 0


def test_a_bad_pair_edit_changes_nothing_and_says_why(fresh: tuple[Store, Seeded]) -> None:
    store, _ = fresh
    with pytest.raises(EditError, match="pair label 'flip' is unknown; use one of swap, drop, keep"):
        relabel_pair(store, 1, "flip", "why")
    with pytest.raises(UnknownIdError, match="pair 424242 does not exist"):
        relabel_pair(store, 424242, "swap", "why")
    with pytest.raises(EditError, match="an edit needs a reason"):
        relabel_critic(store, 1, 4, 0.5, "")
    assert edit_count(store) == 0


def test_a_critic_relabel_without_a_stored_alpha_keeps_the_blended_value(fresh: tuple[Store, Seeded]) -> None:
    store, ids = fresh
    episode_id = ids.episode_ids[0]
    with store.transaction() as conn:  # an episode written without its search config
        conn.execute(Episode.__table__.update().where(Episode.id == episode_id).values(info={}))
    before = node_row(store, episode_id, 4)
    relabel_critic(store, episode_id, 4, 0.9, "no alpha known")
    after = node_row(store, episode_id, 4)
    assert after.critic_score == 0.9 and after.blended_value == before.blended_value
