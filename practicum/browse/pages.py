"""What every browse page shares: the Jinja2 environment and its filters, rendering a page or an error (HTML, or
JSON under /api/), paging, and the optional text parameters of the list filters."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

import jinja2
from fastapi import Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from practicum import __version__
from practicum.errors import PracticumError
from practicum.store.records import FAILURE_KINDS, MODES, OUTCOMES, SPLITS

HERE = Path(__file__).parent
_Row = TypeVar("_Row")
MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 50
#: The episode list's 'used in training' filter: the parameter's values and their labels.
USED_CHOICES: dict[str, str] = {"yes": "used in training", "no": "not used in training"}

#: The `page` and `per_page` query parameters of a paged list.
PageNo = Annotated[int, Query(alias="page", ge=1)]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE)]


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


def environment() -> jinja2.Environment:
    """The templates' environment: autoescaped, strict about undefined names, with the filters and globals."""
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


class PageRenderer:
    """Renders a template with what every page needs (whether edits are allowed, the form token)."""

    def __init__(self, templates: Jinja2Templates, *, allow_edits: bool, csrf_token: str) -> None:
        """Render with `templates`; every page learns `allow_edits` and `csrf_token`."""
        self.templates = templates
        self.allow_edits = allow_edits
        self.csrf_token = csrf_token

    def __call__(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        """The page `name` filled from `context`."""
        context.update(allow_edits=self.allow_edits, csrf_token=self.csrf_token)
        return self.templates.TemplateResponse(request, name, context, status_code=status_code)

    def error(self, request: Request, status: int, title: str, message: str) -> Response:
        """A clear error page, or a JSON error under /api/."""
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message, "status": status}, status_code=status)
        return self(request, "error.html", status_code=status, title=title, message=message, status=status)


# -- parameters and paging -----------------------------------------------------------------------------------


def opt(value: str | None) -> str | None:
    """An optional text parameter: empty (a form's 'any') means absent."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def opt_int(name: str, value: str | None) -> int | None:
    """An optional id parameter: absent, empty or a number; anything else is a `PracticumError`."""
    value = opt(value)
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


@dataclass(frozen=True)
class PageRequest:
    """The page of a list that a request asks for (its `page` and `per_page` parameters)."""

    page_no: int
    per_page: int

    def paging(self, total: int) -> Paging:
        """This page of a list of `total` rows."""
        return Paging(self.page_no, self.per_page, total)

    def rows(
        self, session: Session, count: Callable[[Session], int], rows: Callable[..., list[_Row]]
    ) -> tuple[Paging, list[_Row]]:
        """This page of a list that `count(session)` sizes and `rows(session, limit=..., offset=...)` reads."""
        paging = self.paging(count(session))
        return paging, rows(session, limit=paging.per_page, offset=paging.offset)


def pager(
    path: str, params: dict[str, Any], *, page_param: str = "page", anchor: str | None = None
) -> Callable[[int], str]:
    """A function page number -> link that keeps the list's other parameters."""

    def link(page_no: int) -> str:
        return f"{path}?{urlencode({**params, page_param: page_no})}" + (f"#{anchor}" if anchor else "")

    return link
