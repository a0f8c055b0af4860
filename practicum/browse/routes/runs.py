"""The runs list and one run's page: its curves, practice iterations, rounds and held-out success."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from practicum.browse import charts
from practicum.browse import queries as bq
from practicum.browse.deps import PageDep, PageRequestDep, StoreDep
from practicum.browse.pages import pager
from practicum.browse.vendor import plotly_style_ids
from practicum.store import queries

router = APIRouter()


@router.get("/", name="runs")
def runs_page(request: Request, store: StoreDep, page: PageDep, paged: PageRequestDep) -> Response:
    """Runs, newest first, with their episode counts."""
    with store.session() as s:
        paging, runs = paged.rows(s, bq.count_runs, queries.list_runs)
        counts = {r.id: queries.count_episodes(s, r.id) for r in runs}
        return page(request, "runs.html", runs=runs, counts=counts, paging=paging, link=pager("/", {}))


@router.get("/runs/{run}", name="run")
def run_page(request: Request, run: str, store: StoreDep, page: PageDep) -> Response:
    """One run (by id or name)."""
    with store.session() as s:
        summary = queries.run_summary(s, run)
        run_row = summary.run
        policies = queries.list_policies(s, run_id=run_row.id)
        rounds = bq.run_rounds(s, run_row.id)
        curve = bq.test_curve(s, run_row.id)
        losses = bq.training_losses(s, run_row.id)
        iterations = bq.practice_iterations(s, run_row.id)
        held_out = bq.held_out_rates(s, run_row.id)
        held_out_columns, held_out_rows = bq.held_out_table(held_out)
        named = {p for r in rounds for p in (r.policy_in_id, r.policy_out_id) if p is not None}
        named |= {p for it in iterations for p in (it.policy_id, it.candidate_id) if p is not None}
        return page(
            request,
            "run.html",
            run=run_row,
            summary=summary,
            policies=policies,
            rounds=rounds,
            curve=curve,
            iterations=iterations,
            pass_k=max((it.samples_per_task for it in iterations), default=0),
            held_out_columns=held_out_columns,
            held_out_rows=held_out_rows,
            plotly_style_ids=plotly_style_ids(),
            curve_figure=charts.test_success_figure(curve),
            loss_figure=charts.training_loss_figure(losses),
            explore_figure=charts.exploration_figure(iterations),
            held_out_figure=charts.held_out_figure(held_out),
            policy_names=bq.policy_names(s, named),
        )
