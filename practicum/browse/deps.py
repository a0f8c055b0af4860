"""The browse app's shared objects as FastAPI dependencies, read from `app.state` (set by `create_app`).

The dependencies are `async def` so that FastAPI calls them on the event loop: they only read an attribute, and a
plain `def` would cost each request a hop through the thread pool per dependency.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from practicum.browse.errors import EditsDisabledError
from practicum.browse.pages import DEFAULT_PER_PAGE, PageNo, PageRenderer, PageRequest, PerPage
from practicum.browse.security import CsrfGuard
from practicum.store import Store


@dataclass(frozen=True)
class Editor:
    """What an edit needs: whether this server takes edits, its form token, and the author the edit log records."""

    allow_edits: bool
    guard: CsrfGuard
    author: str | None

    def require(self, request: Request, token: str | None) -> None:
        """Refuse the edit (`EditsDisabledError`, `CsrfError`) unless edits are on and the form is this server's."""
        if not self.allow_edits:
            raise EditsDisabledError(
                "this server is read-only; restart it with `practicum browse --allow-edits` to relabel"
            )
        self.guard.check(request, token)


def page_renderer(request: Request) -> PageRenderer:
    """The app's page renderer (also for exception handlers, which take no dependencies)."""
    renderer: PageRenderer = request.app.state.page
    return renderer


async def get_store(request: Request) -> Store:
    """The open store the app serves."""
    store: Store = request.app.state.store
    return store


async def get_page(request: Request) -> PageRenderer:
    """The page renderer: `page(request, "x.html", **context)`."""
    return page_renderer(request)


async def get_editor(request: Request) -> Editor:
    """The edit rules of this server."""
    editor: Editor = request.app.state.editor
    return editor


async def get_plotly_js(request: Request) -> Path:
    """The plotly.min.js file served under /vendor/."""
    path: Path = request.app.state.plotly_js
    return path


async def get_page_request(page_no: PageNo = 1, per_page: PerPage = DEFAULT_PER_PAGE) -> PageRequest:
    """The `page` and `per_page` query parameters of a paged list."""
    return PageRequest(page_no, per_page)


StoreDep = Annotated[Store, Depends(get_store)]
PageDep = Annotated[PageRenderer, Depends(get_page)]
EditorDep = Annotated[Editor, Depends(get_editor)]
PageRequestDep = Annotated[PageRequest, Depends(get_page_request)]
PlotlyJsDep = Annotated[Path, Depends(get_plotly_js)]
