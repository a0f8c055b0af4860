"""Training rounds (their saved datasets, paged), the policy lineage, one policy, and two policies side by side on
a held-out task."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from practicum.browse import queries as bq
from practicum.browse import rounds
from practicum.browse.deps import PageDep, StoreDep
from practicum.browse.pages import Paging, opt, opt_int, pager
from practicum.errors import PracticumError
from practicum.store import queries
from practicum.store.models import PolicyRow, Run

router = APIRouter()
DATASET_ROWS_PER_PAGE = 50
DatasetPage = Annotated[int, Query(ge=1)]


@router.get("/rounds/{round_id}", name="round")
def round_page(
    request: Request,
    round_id: int,
    store: StoreDep,
    page: PageDep,
    step_pairs_page: DatasetPage = 1,
    trajectory_pairs_page: DatasetPage = 1,
    rft_page: DatasetPage = 1,
) -> Response:
    """One training round: its stages, data spec and its datasets, each paged on its own."""
    wanted = {"step_pairs": step_pairs_page, "trajectory_pairs": trajectory_pairs_page, "rft": rft_page}
    pages = {name: Paging(wanted[name], DATASET_ROWS_PER_PAGE, 0) for name, _, _ in rounds.DATASETS}
    with store.session() as s:
        round_row = bq.get_round(s, round_id)
        datasets = []
        for name, stage, title in rounds.DATASETS:
            found = rounds.dataset_page(
                s, round_row, name, title, stage, offset=pages[name].offset, limit=DATASET_ROWS_PER_PAGE
            )
            pages[name] = Paging(pages[name].page, DATASET_ROWS_PER_PAGE, found.total)
            datasets.append(found)
        config = round_row.config or {}
        return page(
            request,
            "round.html",
            round=round_row,
            run=s.get(Run, round_row.run_id),
            policy_names=bq.policy_names(
                s, {p for p in (round_row.policy_in_id, round_row.policy_out_id) if p is not None}
            ),
            stages=config.get("stages"),
            skipped=config.get("skipped_stages") or {},
            spec=config.get("data") or {},
            summaries=config.get("datasets") or {},
            folder=rounds.datasets_dir(s, round_row),
            datasets=datasets,
            pages=pages,
            links={
                name: pager(
                    f"/rounds/{round_id}",
                    {f"{other}_page": p.page for other, p in pages.items() if other != name},
                    page_param=f"{name}_page",
                    anchor=name,
                )
                for name in pages
            },
        )


@router.get("/policies", name="policies")
def policies_page(request: Request, store: StoreDep, page: PageDep) -> Response:
    """Every policy, parent -> child."""
    with store.session() as s:
        return page(request, "policies.html", roots=bq.lineage(s))


@router.get("/policies/{policy_id}", name="policy")
def policy_page(request: Request, policy_id: int, store: StoreDep, page: PageDep) -> Response:
    """One policy: its parent and children, evals, promotion decision and the round that trained it."""
    with store.session() as s:
        policy = queries.get_policy(s, policy_id)
        parent = s.get(PolicyRow, policy.parent_id) if policy.parent_id is not None else None
        evals = queries.list_evals(s, policy_id=policy_id)
        promotion = (policy.metrics or {}).get("promotion")
        return page(
            request,
            "policy.html",
            policy=policy,
            parent=parent,
            children=bq.child_policies(s, policy_id),
            evals=evals,
            promotion=promotion if isinstance(promotion, dict) else {},
            round=bq.producing_round(s, policy_id),
            episodes=queries.count_episodes(s, policy_id=policy_id),
            metrics={k: v for k, v in (policy.metrics or {}).items() if k != "promotion"},
        )


@router.get("/compare", name="compare")
def compare_page(
    request: Request,
    store: StoreDep,
    page: PageDep,
    a: str | None = None,
    b: str | None = None,
    task: str | None = None,
) -> Response:
    """Policies `a` and `b` on one held-out task: their eval verdicts and committed paths."""
    a_id, b_id, task_key = opt_int("policy a", a), opt_int("policy b", b), opt(task)
    with store.session() as s:
        policies = queries.list_policies(s)
        pa = queries.get_policy(s, a_id) if a_id is not None else None
        pb = queries.get_policy(s, b_id) if b_id is not None else None
        common: list[str] = []
        if pa is not None and pb is not None:
            common = sorted(bq.held_out_tasks_of(s, pa.id) & bq.held_out_tasks_of(s, pb.id))
        sides = []
        task_row = None
        if task_key is not None:
            task_row = bq.get_task(s, task_key)
            if task_row.split not in bq.HELD_OUT_SPLITS:
                raise PracticumError(
                    f"task {task_key!r} is a {task_row.split} task; compare policies on a validation or test task"
                )
            if pa is None or pb is None:
                raise PracticumError("choose both policies (a and b) to compare them on a task")
            sides = [bq.policy_on_task(s, p, task_row) for p in (pa, pb)]
        return page(
            request,
            "compare.html",
            policies=policies,
            a=pa,
            b=pb,
            task=task_row,
            task_key=task_key,
            common=common,
            sides=sides,
        )
