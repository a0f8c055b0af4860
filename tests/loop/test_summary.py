"""The iteration table at the end of a practice run: whole headers and cells at 80 columns, long reasons as notes."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

from rich.console import Console

from practicum.loop.summary import IterationSummary

REASON = "no round: 0 new pairs < 4; 3 new episodes < 8 (schedule.min_new_pairs, schedule.min_new_episodes)"

HISTORY: list[dict[str, Any]] = [
    {"iteration": 0, "policy_id": 1, "test_success": 0.25, "decision": "baseline"},
    {
        "iteration": 1,
        "policy_id": 2,
        "test_success": 0.5,
        "validation_success": 0.5,
        "parent_validation_success": 0.25,
        "train_success": 0.5,
        "train_solved_anywhere": 0.75,
        "train_pass_at_1": 0.25,
        "train_pass_at_k": 0.5,
        "pass_k": 4,
        "distinct_actions_per_node": 2.3333,
        "nodes": 12345,
        "train": "trained",
        "decision": "promoted",
        "newly_failed": 1,
        "newly_solved": 3,
    },
    {"iteration": 2, "policy_id": 2, "test_success": 0.5, "nodes": 999, "train": REASON, "decision": "no candidate"},
]


def render(width: int, history: list[dict[str, Any]] = HISTORY) -> str:
    out = StringIO()
    Console(file=out, width=width, color_system=None).print(IterationSummary(7, history))
    return out.getvalue()


def table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "│" in line or "┃" in line]


def test_at_80_columns_every_header_and_cell_is_whole_and_the_reason_is_a_note() -> None:
    text = render(80)
    assert max(len(line) for line in text.splitlines()) <= 80
    headers = " ".join(line for line in text.splitlines() if "┃" in line)
    for header in ("iter", "test", "val", "parent val", "training", "decision", "lost/won", "train srch"):
        assert re.search(rf"┃ {re.escape(header)} +┃", headers), header
    for header in ("solved any", "pass@1", "pass@4", "acts/node", "nodes"):
        assert f" {header} " in headers
    rows = "\n".join(table_lines(text))
    for cell in ("12,345", "2.33", "promoted", "no candidate", "no round [1]", "1/3", "trained"):
        assert cell in rows
    assert "new pairs" not in rows  # the reason is not in a cell...
    notes = " ".join(text.split("notes:", 1)[1].split())
    assert notes.startswith(f"[1] iteration 2, training: {REASON}")  # ...but below the table, whole


def test_a_wide_console_gets_one_table_and_a_narrow_one_a_block_per_iteration() -> None:
    wide = render(200)
    headers = [line for line in wide.splitlines() if "┃" in line]
    assert len(headers) == 1 and "test" in headers[0] and "nodes" in headers[0]
    narrow = render(40)
    assert max(len(line) for line in narrow.splitlines()) <= 40
    assert not table_lines(narrow)
    assert "iteration 1" in narrow and "  parent val: 25%" in narrow and "  nodes: 12,345" in narrow
    assert "  training: no round [1]" in narrow


def test_a_search_evaluation_adds_its_column_and_a_plain_status_needs_no_note() -> None:
    history = [dict(HISTORY[0], test_search_success=0.75), dict(HISTORY[1])]
    text = render(80, history)
    assert "test srch" in text and "75%" in text
    assert "notes:" not in text
