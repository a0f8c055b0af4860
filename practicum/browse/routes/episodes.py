"""A run's episode list (filtered, paged), one episode's page, and the JSON endpoints its search tree is filled
from level by level (the children of a node, one node's details)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from practicum.browse import queries as bq
from practicum.browse import rounds
from practicum.browse.deps import PageDep, PageRequestDep, StoreDep
from practicum.browse.pages import USED_CHOICES, opt, opt_int, pager
from practicum.store import queries
from practicum.store.models import PolicyRow, Run, TaskRow
from practicum.store.records import MODES, check_choice

router = APIRouter()
MAX_PAIRS_SHOWN = 200
#: What the node endpoint tells of a node (besides its pairs).
NODE_FIELDS = (
    *("idx", "parent_idx", "depth", "action", "prompt", "observation", "prior_logprob", "prior", "critic_score"),
    *("critic_rationale", "visits", "value", "blended_value", "reward", "terminal_reward", "is_terminal"),
    *("success", "invalid", "error", "on_path", "info"),
)
NO_STORE = {"cache-control": "no-store"}


@dataclass(frozen=True)
class EpisodeQuery:
    """The episode list's filter parameters as given; empty means any."""

    suite: str | None
    task: str | None
    split: str | None
    outcome: str | None
    failure_kind: str | None
    policy: str | None
    mode: str | None
    used: str | None

    def parse(self) -> tuple[dict[str, Any], str | None]:
        """The filters of `queries.run_episodes`, and the 'used in training' one ('yes', 'no' or None);
        `PracticumError` for a value none can take."""
        used_filter = opt(self.used)
        if used_filter is not None:
            check_choice("the 'used in training' filter", used_filter, tuple(USED_CHOICES))
        if opt(self.mode) is not None:
            check_choice("mode filter", opt(self.mode), MODES)
        filters: dict[str, Any] = {
            "suite": opt(self.suite),
            "task": opt(self.task),
            "split": opt(self.split),
            "outcome": opt(self.outcome),
            "failure_kind": opt(self.failure_kind),
            "policy_id": opt_int("policy", self.policy),
            "mode": opt(self.mode),
        }
        return filters, used_filter


def link_params(filters: dict[str, Any], used_filter: str | None) -> dict[str, Any]:
    """The filters in use as the list's query parameters (kept by its page links)."""
    params = {k: v for k, v in filters.items() if v is not None}
    if "policy_id" in params:
        params["policy"] = params.pop("policy_id")
    if used_filter is not None:
        params["used"] = used_filter
    return params


async def episode_query(
    suite: str | None = None,
    task: str | None = None,
    split: str | None = None,
    outcome: str | None = None,
    failure_kind: str | None = None,
    policy: str | None = None,
    mode: str | None = None,
    used: str | None = None,
) -> EpisodeQuery:
    """The episode list's filter parameters, checked by `EpisodeQuery.parse` in the page (after FastAPI has
    validated the page's other parameters)."""
    return EpisodeQuery(suite, task, split, outcome, failure_kind, policy, mode, used)


@router.get("/runs/{run}/episodes", name="episodes")
def episodes_page(
    request: Request,
    run: str,
    store: StoreDep,
    page: PageDep,
    query: Annotated[EpisodeQuery, Depends(episode_query)],
    paged: PageRequestDep,
) -> Response:
    """A run's episodes, filtered and paged, each with its pairs and the rounds it fed."""
    filters, used_filter = query.parse()
    with store.session() as s:
        run_row = queries.get_run(s, run)
        rft_use = rounds.rft_use(s, run_row.id)
        where = []
        if used_filter is not None:
            clause = bq.used_in_training_clause(rft_use)
            where.append(clause if used_filter == "yes" else ~clause)
        total = queries.count_episodes(s, run_row.id, **filters, where=where)
        paging = paged.paging(total)
        episodes = queries.run_episodes(
            s, run_row.id, **filters, where=where, limit=paging.per_page, offset=paging.offset
        )
        ids = [e.id for e in episodes]
        trained_by = bq.rounds_using_pairs(s, ids)
        for episode_id in ids:
            trained_by.setdefault(episode_id, set()).update(rft_use.get(episode_id, ()))
        return page(
            request,
            "episodes.html",
            run=run_row,
            episodes=episodes,
            pair_counts=bq.pair_counts(s, ids),
            trained_by={e: sorted(r) for e, r in trained_by.items()},
            used=used_filter,
            filters=filters,
            options=bq.filter_options(s, run_row.id),
            tasks=bq.task_keys(s, {e.task_id for e in episodes}),
            policy_names=bq.policy_names(s, {e.policy_id for e in episodes if e.policy_id is not None}),
            paging=paging,
            link=pager(
                f"/runs/{run_row.id}/episodes", {**link_params(filters, used_filter), "per_page": paging.per_page}
            ),
        )


@router.get("/episodes/{episode_id}", name="episode")
def episode_page(
    request: Request, episode_id: int, store: StoreDep, page: PageDep, edited: int | None = None
) -> Response:
    """One episode: its task, policy, committed path, pairs and edits (the tree is filled from the API)."""
    with store.session() as s:
        episode = queries.get_episode(s, episode_id)
        task = s.get(TaskRow, episode.task_id)
        policy = s.get(PolicyRow, episode.policy_id) if episode.policy_id is not None else None
        path = queries.committed_path(s, episode_id)
        pairs = bq.pairs_of_episode(s, episode_id, limit=MAX_PAIRS_SHOWN + 1)
        return page(
            request,
            "episode.html",
            episode=episode,
            task=task,
            policy=policy,
            run=s.get(Run, episode.run_id),
            path=path,
            pairs=pairs[:MAX_PAIRS_SHOWN],
            pair_count=bq.pair_counts(s, [episode_id])[episode_id],
            more_pairs=len(pairs) > MAX_PAIRS_SHOWN,
            edit_log=bq.episode_edits(s, episode_id),
            edited=edited,
        )


@router.get("/api/episodes/{episode_id}/tree", name="tree_level")
def tree_level(episode_id: int, store: StoreDep, parent: str | None = None) -> JSONResponse:
    """The children of node `parent` (none: the roots) with their child counts and pair marks."""
    parent_idx = opt_int("parent", parent)
    with store.session() as s:
        level = bq.tree_level(s, episode_id, parent_idx)
    return JSONResponse(
        {"episode_id": episode_id, "parent": parent_idx, "nodes": [n.as_json() for n in level]}, headers=NO_STORE
    )


@router.get("/api/episodes/{episode_id}/nodes/{idx}", name="node")
def node_detail(episode_id: int, idx: int, store: StoreDep) -> JSONResponse:
    """One node with all its text and the step pairs it is a side of."""
    with store.session() as s:
        node = bq.get_node(s, episode_id, idx)
        pairs = bq.node_pairs(s, episode_id, idx)
        data = {name: getattr(node, name) for name in NODE_FIELDS}
        data["pairs"] = [
            {
                "id": p.id,
                "role": "chosen" if p.chosen_idx == idx else "rejected",
                "margin": p.margin,
                "chosen": p.chosen,
                "rejected": p.rejected,
            }
            for p in pairs
        ]
    return JSONResponse({"episode_id": episode_id, "node": data}, headers=NO_STORE)
