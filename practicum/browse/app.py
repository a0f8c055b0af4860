"""The `practicum browse` web app: FastAPI routes over the store, Jinja2 templates, plotly.js charts.

`create_app(store)` builds the app for an open store; `practicum.browse.server.serve` runs it. Pages are
server-rendered; the search tree is filled level by level from a JSON endpoint (children of a node on click),
so an episode page costs the same whatever the size of its tree or of the store.

The routes live in `practicum.browse.routes`, one `APIRouter` per area; they get the store, the page renderer
and the edit rules as FastAPI dependencies (`practicum.browse.deps`) from `app.state`, which `create_app` sets.
Read-only unless created with `allow_edits=True`; see `practicum.browse.security` for what keeps the
trajectory text (untrusted web content) inert.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from practicum import __version__
from practicum.browse.deps import Editor
from practicum.browse.handlers import add_exception_handlers
from practicum.browse.pages import HERE, PageRenderer, environment
from practicum.browse.routes import ROUTERS
from practicum.browse.security import CsrfGuard, SecurityHeaders
from practicum.browse.vendor import plotly_js_path
from practicum.store import Store


def _author() -> str | None:
    """The user name the edit log records."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return None


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
    guard = CsrfGuard(csrf_token)
    app.state.store = store
    app.state.allow_edits = allow_edits
    app.state.csrf = guard
    app.state.page = PageRenderer(Jinja2Templates(env=environment()), allow_edits=allow_edits, csrf_token=guard.token)
    app.state.editor = Editor(allow_edits, guard, _author())
    app.state.plotly_js = plotly_js_path()
    # The last added wraps the others: the security headers go on every response, host-check rejections too.
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(SecurityHeaders)
    add_exception_handlers(app)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    return app
