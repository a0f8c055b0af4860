"""The edit log and the two edits (only on a server started with `allow_edits`): relabelling a node's critic score
and a pair. Each answers with a redirect to the episode, at the edited node or pair."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from practicum.browse import edits
from practicum.browse import queries as bq
from practicum.browse.deps import EditorDep, PageDep, PageRequestDep, StoreDep
from practicum.browse.pages import pager

router = APIRouter(prefix="/edits")


@router.get("", name="edits")
def edits_page(request: Request, store: StoreDep, page: PageDep, paged: PageRequestDep) -> Response:
    """Every edit, newest first, paged."""
    with store.session() as s:
        paging, rows = paged.rows(s, bq.count_edits, bq.list_edits)
        return page(request, "edits.html", edit_log=rows, paging=paging, link=pager("/edits", {}))


@router.post("/critic", name="edit_critic")
def edit_critic(
    request: Request,
    store: StoreDep,
    editor: EditorDep,
    episode_id: Annotated[int, Form()],
    node_idx: Annotated[int, Form()],
    score: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Relabel a node's critic score."""
    editor.require(request, csrf_token)
    score_value = edits.parse_score(score)
    edit_id = edits.relabel_critic(store, episode_id, node_idx, score_value, reason, author=editor.author)
    return RedirectResponse(f"/episodes/{episode_id}?edited={edit_id}#node-{node_idx}", status_code=303)


@router.post("/pair", name="edit_pair")
def edit_pair(
    request: Request,
    store: StoreDep,
    editor: EditorDep,
    pair_id: Annotated[int, Form()],
    label: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Relabel a pair: swap its sides, drop it or keep it."""
    editor.require(request, csrf_token)
    edit_id = edits.relabel_pair(store, pair_id, label, reason, author=editor.author)
    with store.session() as s:
        episode_id = bq.pair_episode_id(s, pair_id)
    return RedirectResponse(f"/episodes/{episode_id}?edited={edit_id}#pair-{pair_id}", status_code=303)
