"""The browse app's errors: a clear page (or JSON under /api/), never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from practicum.browse.deps import page_renderer
from practicum.browse.errors import CsrfError, EditsDisabledError
from practicum.browse.security import SECURITY_HEADERS
from practicum.errors import PracticumError, UnknownIdError

log = logging.getLogger("practicum.browse.app")  # the name the app's log lines have always had


def _error(request: Request, status: int, title: str, message: str) -> Response:
    return page_renderer(request).error(request, status, title, message)


def _not_found(request: Request, exc: UnknownIdError) -> Response:
    return _error(request, 404, "Not found", str(exc))


def _forbidden(request: Request, exc: PracticumError) -> Response:
    return _error(request, 403, "Edit refused", str(exc))


def _bad_request(request: Request, exc: PracticumError) -> Response:
    return _error(request, 400, "Bad request", str(exc))


def _invalid(request: Request, exc: RequestValidationError) -> Response:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'input'}: {e.get('msg', 'invalid')}" for e in exc.errors()
    )
    return _error(request, 400, "Bad request", f"{problems}; fix the address or the form and try again")


def _http(request: Request, exc: StarletteHTTPException) -> Response:
    message = "no page at this address" if exc.status_code == 404 else str(exc.detail)
    return _error(request, exc.status_code, "Not found" if exc.status_code == 404 else "Error", message)


def _crash(request: Request, exc: Exception) -> Response:
    log.error("error while serving %s", request.url.path, exc_info=exc)
    response = _error(request, 500, "Internal error", "the page could not be built; the server log has the details")
    # Unhandled errors are answered outside the middleware stack, so the headers are added here.
    response.headers.update({name.decode(): value.decode() for name, value in SECURITY_HEADERS})
    return response


def add_exception_handlers(app: FastAPI) -> None:
    """Answer every error with `PageRenderer.error`: 404 unknown ids, 403 refused edits, 400 bad input, 500 the rest."""
    app.exception_handler(UnknownIdError)(_not_found)
    app.exception_handler(CsrfError)(_forbidden)
    app.exception_handler(EditsDisabledError)(_forbidden)
    app.exception_handler(PracticumError)(_bad_request)
    app.exception_handler(RequestValidationError)(_invalid)
    app.exception_handler(StarletteHTTPException)(_http)
    app.exception_handler(Exception)(_crash)
