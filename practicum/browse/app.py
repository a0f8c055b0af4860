"""The `practicum browse` web app: FastAPI routes over the store, Jinja2 templates, plotly.js charts.

`create_app(store)` builds the app for an open store; `practicum.browse.server.serve` runs it. Pages are
server-rendered; the search tree is filled level by level from a JSON endpoint (children of a node on click),
so an episode page costs the same whatever the size of its tree or of the store.

Read-only unless created with `allow_edits=True`; see `practicum.browse.security` for what keeps the
trajectory text (untrusted web content) inert.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, or_, select
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from practicum import __version__
from practicum.browse import charts, edits, rounds
from practicum.browse import queries as bq
from practicum.browse.errors import CsrfError, EditsDisabledError
from practicum.browse.security import SECURITY_HEADERS, CsrfGuard, SecurityHeaders
from practicum.browse.vendor import plotly_css, plotly_js_path, plotly_style_ids
from practicum.errors import PracticumError, UnknownIdError
from practicum.store import Store, queries
from practicum.store.models import Pair, Policy, Run, Task, TrainingRound
from practicum.store.records import FAILURE_KINDS, MODES, OUTCOMES, SPLITS, check_choice

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 50
MAX_PAIRS_SHOWN = 200
DATASET_ROWS_PER_PAGE = 50
#: The episode list's 'used in training' filter: the parameter's values and their labels.
USED_CHOICES: dict[str, str] = {"yes": "used in training", "no": "not used in training"}


# -- template helpers ----------------------------------------------------------------------------------------


def _num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _when(value: datetime | None) -> str:
    return "–" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is HTML-escaped unless a template says otherwise (none does)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, pct=_pct, when=_when, pretty=_pretty)
    env.globals.update(
        version=__version__,
        splits=SPLITS,
        outcomes=OUTCOMES,
        failure_kinds=FAILURE_KINDS,
        modes=MODES,
        used_choices=USED_CHOICES,
    )
    return env


def _opt(value: str | None) -> str | None:
    """An optional text parameter: empty (a form's 'any') means absent."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def _opt_int(name: str, value: str | None) -> int | None:
    value = _opt(value)
    if value is None:
        return None
    if not value.isdigit():
        raise PracticumError(f"{name} is {value!r}; give a number (an id), or leave it empty for any")
    return int(value)


@dataclass(frozen=True)
class Paging:
    """Page numbers for a list of `total` rows."""

    page: int
    per_page: int
    total: int

    @property
    def offset(self) -> int:
        """Rows skipped before this page."""
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int:
        """How many pages there are (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def first_row(self) -> int:
        """1-based number of this page's first row (0 when empty)."""
        return min(self.total, self.offset + 1)

    @property
    def last_row(self) -> int:
        """1-based number of this page's last row."""
        return min(self.total, self.offset + self.per_page)


# -- the app -------------------------------------------------------------------------------------------------


def create_app(
    store: Store,
    *,
    allow_edits: bool = False,
    allowed_hosts: Sequence[str] | None = ("127.0.0.1", "localhost"),
    csrf_token: str | None = None,
) -> FastAPI:
    """The browse app over an open store.

    `allow_edits` turns on relabelling (critic scores, pairs); without it every edit is refused with 403.
    `allowed_hosts` are the Host header values accepted (guards a loopback server against DNS rebinding);
    None accepts any. The store stays open for the app's lifetime; the caller closes it.
    """
    app = FastAPI(title="practicum browse", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(env=_environment())
    guard = CsrfGuard(csrf_token)
    try:
        author: str | None = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        author = None
    app.state.store = store
    app.state.allow_edits = allow_edits
    app.state.csrf = guard
    # The last added wraps the others: the security headers go on every response, host-check rejections too.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    plotly_js = plotly_js_path()

    def page(request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        context.update(allow_edits=allow_edits, csrf_token=guard.token)
        return templates.TemplateResponse(request, name, context, status_code=status_code)

    # -- errors: a clear page (or JSON under /api/), never a stack trace --------------------------------------

    def error(request: Request, status: int, title: str, message: str) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return page(request, "error.html", status_code=status, title=title, message=message, status=status)

    @app.exception_handler(UnknownIdError)
    def _not_found(request: Request, exc: UnknownIdError) -> Response:
        return error(request, 404, "Not found", str(exc))

    @app.exception_handler(EditsDisabledError)
    @app.exception_handler(CsrfError)
    def _forbidden(request: Request, exc: PracticumError) -> Response:
        return error(request, 403, "Edit refused", str(exc))

    @app.exception_handler(PracticumError)
    def _bad_request(request: Request, exc: PracticumError) -> Response:
        return error(request, 400, "Bad request", str(exc))

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'input'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return error(request, 400, "Bad request", f"{problems}; fix the address or the form and try again")

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = "no page at this address" if exc.status_code == 404 else str(exc.detail)
        return error(request, exc.status_code, "Not found" if exc.status_code == 404 else "Error", message)

    @app.exception_handler(Exception)
    def _crash(request: Request, exc: Exception) -> Response:
        log.error("error while serving %s", request.url.path, exc_info=exc)
        response = error(request, 500, "Internal error", "the page could not be built; the server log has the details")
        # Unhandled errors are answered outside the middleware stack, so the headers are added here.
        response.headers.update({name.decode(): value.decode() for name, value in SECURITY_HEADERS})
        return response

    # -- static ------------------------------------------------------------------------------------------------

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_file() -> FileResponse:
        return FileResponse(plotly_js, media_type="text/javascript", headers={"cache-control": "public, max-age=86400"})

    @app.get("/vendor/plotly.css", include_in_schema=False)
    def plotly_stylesheet() -> Response:
        return Response(plotly_css(), media_type="text/css", headers={"cache-control": "public, max-age=86400"})

    # -- runs --------------------------------------------------------------------------------------------------

    @app.get("/", name="runs")
    def runs_page(
        request: Request,
        page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE,
    ) -> Response:
        with store.session() as s:
            paging = Paging(page_no, per_page, int(s.scalar(select(func.count(Run.id))) or 0))
            runs = queries.list_runs(s, limit=per_page, offset=paging.offset)
            counts = {r.id: queries.count_episodes(s, r.id) for r in runs}
            return page(request, "runs.html", runs=runs, counts=counts, paging=paging, link=_pager("/", {}))

    @app.get("/runs/{run}", name="run")
    def run_page(request: Request, run: str) -> Response:
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

    @app.get("/runs/{run}/episodes", name="episodes")
    def episodes_page(
        request: Request,
        run: str,
        suite: str | None = None,
        task: str | None = None,
        split: str | None = None,
        outcome: str | None = None,
        failure_kind: str | None = None,
        policy: str | None = None,
        mode: str | None = None,
        used: str | None = None,
        page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE,
    ) -> Response:
        used_filter = _opt(used)
        if used_filter is not None:
            check_choice("the 'used in training' filter", used_filter, tuple(USED_CHOICES))
        if _opt(mode) is not None:
            check_choice("mode filter", _opt(mode), MODES)
        filters: dict[str, Any] = {
            "suite": _opt(suite),
            "task": _opt(task),
            "split": _opt(split),
            "outcome": _opt(outcome),
            "failure_kind": _opt(failure_kind),
            "policy_id": _opt_int("policy", policy),
            "mode": _opt(mode),
        }
        with store.session() as s:
            run_row = queries.get_run(s, run)
            rft_use = rounds.rft_use(s, run_row.id)
            where = []
            if used_filter is not None:
                clause = bq.used_in_training_clause(rft_use)
                where.append(clause if used_filter == "yes" else ~clause)
            total = queries.count_episodes(s, run_row.id, **filters, where=where)
            paging = Paging(page_no, per_page, total)
            episodes = queries.run_episodes(s, run_row.id, **filters, where=where, limit=per_page, offset=paging.offset)
            ids = [e.id for e in episodes]
            trained_by = bq.rounds_using_pairs(s, ids)
            for episode_id in ids:
                trained_by.setdefault(episode_id, set()).update(rft_use.get(episode_id, ()))
            shown = {k: v for k, v in filters.items() if v is not None}
            if "policy_id" in shown:
                shown["policy"] = shown.pop("policy_id")
            if used_filter is not None:
                shown["used"] = used_filter
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
                link=_pager(f"/runs/{run_row.id}/episodes", {**shown, "per_page": per_page}),
            )

    # -- one episode ---------------------------------------------------------------------------------------

    @app.get("/episodes/{episode_id}", name="episode")
    def episode_page(request: Request, episode_id: int, edited: int | None = None) -> Response:
        with store.session() as s:
            episode = queries.get_episode(s, episode_id)
            task = s.get(Task, episode.task_id)
            policy = s.get(Policy, episode.policy_id) if episode.policy_id is not None else None
            path = queries.committed_path(s, episode_id)
            pairs = list(
                s.scalars(
                    select(Pair)
                    .where(
                        or_(
                            Pair.episode_id == episode_id,
                            Pair.chosen_episode_id == episode_id,
                            Pair.rejected_episode_id == episode_id,
                        )
                    )
                    .order_by(Pair.id)
                    .limit(MAX_PAIRS_SHOWN + 1)
                )
            )
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

    @app.get("/api/episodes/{episode_id}/tree", name="tree_level")
    def tree_level(episode_id: int, parent: str | None = None) -> JSONResponse:
        parent_idx = _opt_int("parent", parent)
        with store.session() as s:
            level = bq.tree_level(s, episode_id, parent_idx)
        return JSONResponse(
            {"episode_id": episode_id, "parent": parent_idx, "nodes": [n.as_json() for n in level]},
            headers={"cache-control": "no-store"},
        )

    @app.get("/api/episodes/{episode_id}/nodes/{idx}", name="node")
    def node_detail(episode_id: int, idx: int) -> JSONResponse:
        with store.session() as s:
            node = bq.get_node(s, episode_id, idx)
            pairs = bq.node_pairs(s, episode_id, idx)
            data = {
                name: getattr(node, name)
                for name in (
                    "idx",
                    "parent_idx",
                    "depth",
                    "action",
                    "prompt",
                    "observation",
                    "prior_logprob",
                    "prior",
                    "critic_score",
                    "critic_rationale",
                    "visits",
                    "value",
                    "blended_value",
                    "reward",
                    "terminal_reward",
                    "is_terminal",
                    "success",
                    "invalid",
                    "error",
                    "on_path",
                    "info",
                )
            }
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
        return JSONResponse({"episode_id": episode_id, "node": data}, headers={"cache-control": "no-store"})

    # -- training rounds ---------------------------------------------------------------------------------------

    @app.get("/rounds/{round_id}", name="round")
    def round_page(
        request: Request,
        round_id: int,
        step_pairs_page: Annotated[int, Query(ge=1)] = 1,
        trajectory_pairs_page: Annotated[int, Query(ge=1)] = 1,
        rft_page: Annotated[int, Query(ge=1)] = 1,
    ) -> Response:
        wanted = {"step_pairs": step_pairs_page, "trajectory_pairs": trajectory_pairs_page, "rft": rft_page}
        pages = {name: Paging(wanted[name], DATASET_ROWS_PER_PAGE, 0) for name, _, _ in rounds.DATASETS}
        with store.session() as s:
            round_row = s.get(TrainingRound, round_id)
            if round_row is None:
                raise UnknownIdError(f"training round {round_id} does not exist; pick a round from a run's page")
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
                    name: _pager(
                        f"/rounds/{round_id}",
                        {f"{other}_page": p.page for other, p in pages.items() if other != name},
                        page_param=f"{name}_page",
                        anchor=name,
                    )
                    for name in pages
                },
            )

    # -- policies ------------------------------------------------------------------------------------------

    @app.get("/policies", name="policies")
    def policies_page(request: Request) -> Response:
        with store.session() as s:
            return page(request, "policies.html", roots=bq.lineage(s))

    @app.get("/policies/{policy_id}", name="policy")
    def policy_page(request: Request, policy_id: int) -> Response:
        with store.session() as s:
            policy = queries.get_policy(s, policy_id)
            parent = s.get(Policy, policy.parent_id) if policy.parent_id is not None else None
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

    @app.get("/compare", name="compare")
    def compare_page(request: Request, a: str | None = None, b: str | None = None, task: str | None = None) -> Response:
        a_id, b_id, task_key = _opt_int("policy a", a), _opt_int("policy b", b), _opt(task)
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

    # -- edits ---------------------------------------------------------------------------------------------

    @app.get("/edits", name="edits")
    def edits_page(
        request: Request,
        page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = DEFAULT_PER_PAGE,
    ) -> Response:
        with store.session() as s:
            paging = Paging(page_no, per_page, bq.count_edits(s))
            rows = bq.list_edits(s, limit=per_page, offset=paging.offset)
            return page(request, "edits.html", edit_log=rows, paging=paging, link=_pager("/edits", {}))

    def require_edits(request: Request, token: str | None) -> None:
        if not allow_edits:
            raise EditsDisabledError(
                "this server is read-only; restart it with `practicum browse --allow-edits` to relabel"
            )
        guard.check(request, token)

    @app.post("/edits/critic", name="edit_critic")
    def edit_critic(
        request: Request,
        episode_id: Annotated[int, Form()],
        node_idx: Annotated[int, Form()],
        score: Annotated[str, Form()],
        reason: Annotated[str, Form()] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        require_edits(request, csrf_token)
        edit_id = edits.relabel_critic(store, episode_id, node_idx, edits.parse_score(score), reason, author=author)
        return RedirectResponse(f"/episodes/{episode_id}?edited={edit_id}#node-{node_idx}", status_code=303)

    @app.post("/edits/pair", name="edit_pair")
    def edit_pair(
        request: Request,
        pair_id: Annotated[int, Form()],
        label: Annotated[str, Form()],
        reason: Annotated[str, Form()] = "",
        csrf_token: Annotated[str | None, Form()] = None,
    ) -> Response:
        require_edits(request, csrf_token)
        edit_id = edits.relabel_pair(store, pair_id, label, reason, author=author)
        with store.session() as s:
            pair = s.get(Pair, pair_id)
            episode_id = None if pair is None else (pair.episode_id or pair.chosen_episode_id)
        return RedirectResponse(f"/episodes/{episode_id}?edited={edit_id}#pair-{pair_id}", status_code=303)

    return app


def _pager(path: str, params: dict[str, Any], *, page_param: str = "page", anchor: str | None = None) -> Any:
    """A function page number -> link that keeps the list's other parameters."""

    def link(page_no: int) -> str:
        return f"{path}?{urlencode({**params, page_param: page_no})}" + (f"#{anchor}" if anchor else "")

    return link
