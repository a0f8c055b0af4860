"""Learning-curve figures, built with plotly's figure objects and drawn in the page by plotly.js.

A figure is handed to the page as JSON in a data attribute (`static/charts.js` draws every `.chart`), so no
inline script is needed. A chart with no data is not built at all: the page shows an empty-state line.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from typing import Any

import plotly.graph_objects as go

from practicum.browse.queries import CurvePoint, HeldOutRate, Iteration, LossPoint

_LAYOUT: dict[str, Any] = {
    "template": "simple_white",
    "height": 320,
    "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
    "legend": {"orientation": "h", "y": -0.25},
    "hovermode": "closest",
}


def _plain(text: str) -> str:
    # plotly reads a few HTML-like tags (<br>, <a href>) in trace names and hover text; names come from the
    # store, so escape them and let plotly show them literally.
    return html.escape(text, quote=False)


def _as_json(figure: go.Figure) -> str:
    # plotly's encoder turns numpy values and dates into JSON; the page parses this text.
    return str(figure.to_json())


def test_success_figure(points: list[CurvePoint]) -> str | None:
    """Test success rate per policy iteration, one line per suite and mode; None without test evals."""
    if not points:
        return None
    lines: dict[tuple[str, str], list[CurvePoint]] = defaultdict(list)
    for p in points:
        lines[(p.suite, p.mode)].append(p)
    figure = go.Figure()
    for (suite, mode), pts in sorted(lines.items()):
        figure.add_trace(
            go.Scatter(
                x=[p.iteration for p in pts],
                y=[p.success_rate for p in pts],
                mode="lines+markers",
                name=_plain(f"{suite} ({mode})"),
                customdata=[[_plain(p.policy_name), p.successes, p.n_tasks] for p in pts],
                hovertemplate="iteration %{x}<br>%{customdata[0]}<br>%{customdata[1]}/%{customdata[2]} solved"
                "<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title="Test success per iteration",
        xaxis={"title": "policy iteration", "dtick": 1},
        yaxis={"title": "success rate", "range": [0, 1.05], "tickformat": ".0%"},
        **_LAYOUT,
    )
    return _as_json(figure)


def training_loss_figure(points: list[LossPoint]) -> str | None:
    """First and last logged loss of each training stage per round; None without rounds that logged losses."""
    if not points:
        return None
    lines: dict[tuple[str, str], list[LossPoint]] = defaultdict(list)
    for p in points:
        lines[(p.stage, p.which)].append(p)
    figure = go.Figure()
    for (stage, which), pts in sorted(lines.items()):
        figure.add_trace(
            go.Scatter(
                x=[p.round_number for p in pts],
                y=[p.loss for p in pts],
                mode="lines+markers",
                name=_plain(f"{stage} loss ({which} step)"),
                line={"dash": "dot" if which == "first" else "solid"},
                customdata=[[p.round_id] for p in pts],
                hovertemplate="round %{x} (id %{customdata[0]})<br>loss %{y:.4f}<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title="Training loss per round",
        xaxis={"title": "training round", "dtick": 1},
        yaxis={"title": "loss"},
        **_LAYOUT,
    )
    return _as_json(figure)


def exploration_figure(iterations: list[Iteration]) -> str | None:
    """Per practice iteration, on the train tasks: success under search, solved anywhere in the tree, pass@1 and
    pass@k of the policy alone, and (right axis) distinct actions per node; None without collection."""
    rows = [it for it in iterations if it.searched or it.sampled]
    if not rows:
        return None
    k = max(it.samples_per_task for it in rows)
    lines = [
        ("train success (search)", lambda it: it.train_success, "y"),
        ("solved anywhere in the tree", lambda it: it.solved_anywhere_rate, "y"),
        ("pass@1 (sampled)", lambda it: it.pass_at_1, "y"),
        (f"pass@{k} (sampled)", lambda it: it.pass_at_k, "y"),
        ("distinct actions per node", lambda it: it.distinct_actions_per_node, "y2"),
    ]
    figure = go.Figure()
    for name, value, axis in lines:
        points = [(it.iteration, value(it)) for it in rows if value(it) is not None]
        if not points:
            continue
        figure.add_trace(
            go.Scatter(
                x=[x for x, _ in points],
                y=[y for _, y in points],
                yaxis=axis,
                mode="lines+markers",
                name=_plain(name),
                line={"dash": "dot"} if axis == "y2" else {},
                hovertemplate=("iteration %{x}<br>%{y:.2f}" if axis == "y2" else "iteration %{x}<br>%{y:.0%}")
                + "<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title="Exploration per iteration (train tasks)",
        xaxis={"title": "practice iteration", "dtick": 1},
        yaxis={"title": "share", "range": [0, 1.05], "tickformat": ".0%"},
        yaxis2={"title": "actions per node", "overlaying": "y", "side": "right", "rangemode": "tozero"},
        **{**_LAYOUT, "margin": {**_LAYOUT["margin"], "r": 60}},
    )
    return _as_json(figure)


def held_out_figure(rates: list[HeldOutRate]) -> str | None:
    """Validation and test success of each policy (one bar group per policy, one bar per split and mode);
    None without held-out evals."""
    if not rates:
        return None
    order = sorted({(r.policy_id, r.policy_name) for r in rates})
    bars: dict[tuple[str, str], dict[int, HeldOutRate]] = defaultdict(dict)
    for r in rates:
        bars[(r.split, r.mode)][r.policy_id] = r
    figure = go.Figure()
    for (split, mode), by_policy in sorted(bars.items()):
        shown = [(pid, name) for pid, name in order if pid in by_policy]
        figure.add_trace(
            go.Bar(
                x=[_plain(name) for _, name in shown],
                y=[by_policy[pid].success_rate for pid, _ in shown],
                name=_plain(f"{split} ({mode})"),
                customdata=[
                    [by_policy[pid].successes, by_policy[pid].n_tasks, by_policy[pid].iteration] for pid, _ in shown
                ],
                hovertemplate="%{x} (iteration %{customdata[2]})<br>%{customdata[0]}/%{customdata[1]} solved"
                "<extra>%{fullData.name}</extra>",
            )
        )
    figure.update_layout(
        title="Held-out success per policy",
        barmode="group",
        xaxis={
            "title": "policy",
            "type": "category",
            "categoryorder": "array",
            "categoryarray": [_plain(n) for _, n in order],
        },
        yaxis={"title": "success rate", "range": [0, 1.05], "tickformat": ".0%"},
        **_LAYOUT,
    )
    return _as_json(figure)


def trace_count(figure_json: str) -> int:
    """How many traces a figure JSON holds (for tests and the page's summary line)."""
    return len(json.loads(figure_json).get("data", []))
