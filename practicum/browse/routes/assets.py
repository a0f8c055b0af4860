"""The plotly.js files the chart pages load, served from the installed `plotly` package (see `vendor`)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from practicum.browse.deps import PlotlyJsDep
from practicum.browse.vendor import plotly_css

router = APIRouter(include_in_schema=False)
CACHED = {"cache-control": "public, max-age=86400"}


@router.get("/vendor/plotly.min.js")
def plotly_file(plotly_js: PlotlyJsDep) -> FileResponse:
    """plotly.min.js."""
    return FileResponse(plotly_js, media_type="text/javascript", headers=CACHED)


@router.get("/vendor/plotly.css")
def plotly_stylesheet() -> Response:
    """The rules plotly.js would inject itself, as a stylesheet (a strict CSP blocks the injection)."""
    return Response(plotly_css(), media_type="text/css", headers=CACHED)
