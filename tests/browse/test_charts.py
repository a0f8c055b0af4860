"""Learning-curve figures: one line per suite and mode, losses per round, names shown literally, none when empty."""

from __future__ import annotations

import json

from practicum.browse import charts
from practicum.browse.charts import trace_count, training_loss_figure
from practicum.browse.queries import CurvePoint, LossPoint


def test_test_curve_has_one_line_per_suite_and_mode_in_iteration_order() -> None:
    points = [
        CurvePoint("taxi", "greedy", 0, 1, "base", 10, 2),
        CurvePoint("shop", "search", 0, 1, "base", 4, 1),
        CurvePoint("taxi", "greedy", 1, 2, "base-r1", 10, 5),
    ]
    figure = json.loads(charts.test_success_figure(points) or "")
    lines = {t["name"]: (t["x"], t["y"]) for t in figure["data"]}
    assert lines == {"shop (search)": ([0], [0.25]), "taxi (greedy)": ([0, 1], [0.2, 0.5])}
    assert figure["layout"]["yaxis"]["range"] == [0, 1.05]


def test_losses_are_drawn_per_round_with_first_and_last_step() -> None:
    points = [LossPoint(7, 1, 1, "dpo", "first", 0.69), LossPoint(7, 1, 1, "dpo", "last", 0.41)]
    figure = training_loss_figure(points)
    assert figure is not None and trace_count(figure) == 2


def test_no_data_means_no_figure() -> None:
    assert charts.test_success_figure([]) is None
    assert training_loss_figure([]) is None


def test_names_from_the_store_are_shown_literally_not_as_plotly_markup() -> None:
    figure = json.loads(
        charts.test_success_figure([CurvePoint("<a href='x'>s</a>", "greedy", 0, 1, "<b>p</b>", 1, 1)]) or ""
    )
    [trace] = figure["data"]
    assert trace["name"] == "&lt;a href='x'&gt;s&lt;/a&gt; (greedy)"
    assert trace["customdata"][0][0] == "&lt;b&gt;p&lt;/b&gt;"
