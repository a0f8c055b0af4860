"""The iteration table printed at the end of `practicum practice`, readable at any width and when piped.

A run's history has a dozen numbers per iteration, more than 80 columns hold side by side with readable
headers, and a piped console is 80 columns wide. So the table picks its layout from the width it is given:
one table with short headers where it fits; else two narrower tables (the test curve, training and decisions,
then exploration); else, on very narrow consoles, one block of lines per iteration. Long text never
goes into a cell (rich would fold it into a column of three-letter pieces): the training column shows the
round's status word, and the reason ("no round: 0 new pairs < 4") is a numbered note below the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

_SHORT = 12  # a training status longer than this goes to the notes whole


@dataclass(frozen=True)
class _Column:
    header: str  # short, so that the table fits 80 columns
    meaning: str  # for the legend below the table
    key: str | None  # the history row's key; None: computed (`_cell`)
    fmt: str = "{}"
    group: str = "curve"  # "curve" (test curve, training and decisions) or "explore" (exploration)


def _columns(history: list[dict[str, Any]]) -> list[_Column]:
    k = next((row["pass_k"] for row in history if "pass_k" in row), "k")
    columns = [
        _Column("iter", "", "iteration", group="both"),
        _Column("test", "test success, greedy", "test_success", "{:.0%}"),
        _Column("val", "validation success of the candidate", "validation_success", "{:.0%}"),
        _Column("parent val", "its parent's, replayed on the same tasks", "parent_validation_success", "{:.0%}"),
        _Column("training", "the round's outcome (why: in the notes)", "train"),
        _Column("decision", "", "decision"),
        _Column("lost/won", "validation tasks newly failed / newly solved", None),
        _Column("train srch", "train success with search", "train_success", "{:.0%}", "explore"),
        _Column("solved any", "train tasks solved at least once", "train_solved_anywhere", "{:.0%}", "explore"),
        _Column(
            "pass@1",
            f"pass@{k}: train tasks solved by 1 / {k} sampled episodes",
            "train_pass_at_1",
            "{:.0%}",
            "explore",
        ),
        _Column(f"pass@{k}", "", "train_pass_at_k", "{:.0%}", "explore"),
        _Column("acts/node", "distinct actions per search node", "distinct_actions_per_node", "{:.2f}", "explore"),
        _Column("nodes", "", "nodes", "{:,}", "explore"),
    ]
    if any("test_search_success" in row for row in history):
        columns.insert(2, _Column("test srch", "test success with search", "test_search_success", "{:.0%}"))
    return columns


class IterationSummary:
    """One row per iteration: the test curve, the validation scores a promotion decided on, exploration beside
    exploitation, and training; a rich renderable that lays itself out for the console's width."""

    def __init__(self, run_id: int, history: list[dict[str, Any]]) -> None:
        self.run_id = run_id
        self.history = history
        self.columns = _columns(history)
        self.notes: list[str] = []
        self.rows = [self._cells(row) for row in history]

    def _cells(self, row: dict[str, Any]) -> dict[str, str]:
        cells = {}
        for column in self.columns:
            if column.key is None:
                cells[column.header] = f"{row['newly_failed']}/{row['newly_solved']}" if "newly_failed" in row else "-"
            elif column.key == "train":
                cells[column.header] = self._training(row)
            else:
                value = row.get(column.key)
                cells[column.header] = "-" if value is None or value == "" else column.fmt.format(value)
        return cells

    def _training(self, row: dict[str, Any]) -> str:
        """The status word of the iteration's training ("trained", "skipped", "no round"); the rest to a note."""
        note = str(row.get("train") or "")
        if not note:
            return "-"
        status, _, reason = note.partition(":")
        if not reason.strip() and len(status) <= _SHORT:
            return status
        self.notes.append(f"[{len(self.notes) + 1}] iteration {row.get('iteration')}, training: {note}")
        word = status if len(status) <= _SHORT else "see"
        return f"{word} [{len(self.notes)}]"

    def _table(self, groups: tuple[str, ...], title: str) -> Table:
        table = Table(title=title, title_justify="left")
        shown = [c for c in self.columns if c.group in groups]
        for column in shown:
            numeric = column.fmt != "{}" or column.key is None
            table.add_column(column.header, no_wrap=True, justify="right" if numeric else "left")
        for cells in self.rows:
            table.add_row(*(cells[c.header] for c in shown))
        return table

    def _fits(self, console: Console, options: ConsoleOptions, table: Table) -> bool:
        natural = Measurement.get(console, options.update_width(10_000), table).maximum
        return natural <= options.max_width

    def _legend(self) -> Text:
        meanings = [f"{c.header}: {c.meaning}" for c in self.columns if c.meaning]
        return Text("; ".join(meanings), style="dim")

    def _blocks(self) -> Iterator[Text]:
        """The narrowest layout: one line per iteration, then one indented line per value."""
        for cells in self.rows:
            yield Text(f"iteration {cells['iter']}", style="bold")
            for column in self.columns[1:]:
                yield Text(f"  {column.header}: {cells[column.header]}")

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        title = f"practice run {self.run_id}"
        wide = self._table(("both", "curve", "explore"), title)
        curve = self._table(("both", "curve"), f"{title}: test curve, training, decisions")
        explore = self._table(("both", "explore"), f"{title}: exploration")
        if self._fits(console, options, wide):
            yield wide
        elif self._fits(console, options, curve) and self._fits(console, options, explore):
            yield curve
            yield explore
        else:
            yield Text(title, style="bold")
            yield from self._blocks()
        yield self._legend()
        if self.notes:
            yield Text("notes:")
            yield from (Text(note) for note in self.notes)
