"""Terminal summary with rich: banner, headline, per-judge tables, exclusions, policy.

Laid out for the console's width (a CI log or a pipe: 80 columns).  Below :data:`COMPACT_BELOW` columns the
layout is compact: judge names longer than :data:`COMPACT_NAME` characters are cut in the middle (the end that tells
variants apart is kept) and listed in full under the table, a gap's p-value goes on a second line, and the
columns that do not fit are left out (the lead rate, its gap and the lead coefficients are kept first) and named.
At any width a number cell keeps its estimate and interval on one line, a header or text cell wraps only between
words, sentences wrap only between words and never inside an interval (``[50.2, 60.0]``) or a p-value, and no
line is longer than the width.

Every string from the data goes into ``rich.text.Text`` objects (never into markup), so a judge named
``[red]x[/red]`` prints literally, and through :func:`auditor.escape.terminal_safe` (:func:`_text`), so escape
sequences and control characters in a name or a case text never reach the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.panel import Panel
from rich.table import Table as RichTable
from rich.text import Text

from auditor.escape import terminal_safe
from reports.format import short_names
from reports.model import ReportModel, build_model
from reports.sections.base import Table
from reports.sections.position import KEY as POSITION_KEY
from reports.sections.probes import KEY as PROBES_KEY

ROLE_STYLES = {"ceiling": "bold yellow", "reference": "bold", "judge": "", "best": "bold green"}
TERMINAL_SECTIONS = (PROBES_KEY, POSITION_KEY)  # the rest is in report.md / report.html
COMPACT_BELOW = 100  # columns: narrower consoles (and every CI log, 80 by default) get the compact layout
COMPACT_NAME = 20  # longest judge name shown whole in the compact layout
WIDE_NAME = 36  # ... and in the full one

# The metrics a narrow table keeps first, after the audit's lead rate, its gap and its lead coefficients.
PREFERRED_METRICS = (
    "agreement",
    "win_rate",
    "no_better_rate",
    "mean_score",
    "no_better_rate_gap",
    "mean_score_gap",
)

# A token that must not be broken across lines: an estimate with its interval (``55.3% [50.2, 60.0]``, ``13.5
# points [7.6, 19.7]``), a bare interval, a p-value (``p_adj < 0.04``), or any other run of non-spaces.
_TOKEN = re.compile(
    r"(?:\(?[-+\u2212]?\d[\d.,]*(?:%| pts| points)? )?\[[^\]\s]*(?: [^\]\s]*)*\][^\s]*"
    r"|\(?p(?:_adj)? [<=] [^\s]+"
    r"|\S+"
)


def _text(text: str, style: str = "") -> Text:
    """Data text as a rich ``Text`` without escape sequences or control characters."""
    return Text(terminal_safe(text), style=style)


def wrap(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """``text`` in lines of at most ``width`` cells, broken only between tokens (see ``_TOKEN``); ``first`` and
    ``rest`` prefix the first and the following lines.  A token wider than a line is cut (the only break inside a
    token)."""
    lines: list[str] = []
    line = first
    bare = True  # nothing but the prefix on the line yet
    for token in _TOKEN.findall(" ".join(terminal_safe(text).split())):
        gap = "" if bare else " "
        if cell_len(line + gap + token) <= width:
            line, bare = line + gap + token, False
            continue
        if not bare:
            lines.append(line)
            line, bare = rest, True
        while cell_len(line + token) > width:  # longer than a whole line: cut it
            room = max(width - cell_len(line), 1)
            while room > 1 and cell_len(line + token[:room]) > width:  # wide (2-cell) characters
                room -= 1
            lines.append(line + token[:room])
            line, token = rest, token[room:]
        line, bare = line + token, False
    if not bare or not lines:
        lines.append(line)
    return lines


def _print_wrapped(console: Console, text: str, style: str = "", first: str = "", rest: str = "") -> None:
    for line in wrap(text, console.width, first, rest):
        console.print(Text(line, style=style), no_wrap=True, overflow="ignore", crop=False)


def _two_lines(cell: str) -> str:
    """``-13.5 pts [-19.7, -7.6], p_adj < 0.04`` with the p-value on a second line: the estimate and its interval
    stay on the first."""
    return cell.replace(", p", "\np", 1)


@dataclass
class _Fitted:
    """A table laid out for a width: the rich table, the columns left out and the judge names shortened."""

    table: RichTable
    left_out: list[str]
    shortened: dict[str, str]


def _words_width(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)


def _lines_width(text: str) -> int:
    return max((cell_len(line) for line in text.split("\n")), default=0)


def _column_widths(table: Table, natural: bool = False) -> list[int]:
    """The narrowest width of each column that splits no word and, in a number column, no line of a cell
    (``natural``: the width that wraps nothing at all)."""
    widths = []
    for index, column in enumerate(table.columns):
        cells = [row[index] for row in table.rows if index < len(row)]
        whole = natural or index == 0 or index >= table.text_columns
        measure = _lines_width if whole else _words_width
        header = _lines_width(column) if natural else _words_width(column)
        widths.append(max([header] + [measure(c) for c in cells]))
    return widths


def _table_width(widths: list[int]) -> int:
    """The width of a ``box.SIMPLE_HEAD`` table: one cell of padding each side of a column, one between columns,
    one at each edge."""
    return sum(widths) + 3 * len(widths) + 1 if widths else 0


def _spread(table: Table, width: int) -> list[int]:
    """Column widths for ``width``: each column's narrowest, then the room left given to the columns from the
    left until each reaches its natural width (so rich has no column to squeeze)."""
    widths, natural = _column_widths(table), _column_widths(table, natural=True)
    room = width - _table_width(widths)
    for index, (low, high) in enumerate(zip(widths, natural, strict=True)):
        extra = max(min(high - low, room), 0)
        widths[index] += extra
        room -= extra
    return widths


def _priority(table: Table, lead: tuple[str, ...]) -> list[int]:
    """The order in which a table's columns are kept on a narrow console: the text columns and ``n``, then the
    lead metrics and the preferred ones, then the rest in table order."""
    order = lead + PREFERRED_METRICS
    names = table.metric_columns or [""] * len(table.columns)

    def rank(index: int) -> tuple[int, int]:
        if index < max(table.text_columns, 1) or table.columns[index] == "n":
            return (0, index)
        name = names[index] if index < len(names) else ""
        return (1 + order.index(name), index) if name in order else (1 + len(order), index)

    return sorted(range(len(table.columns)), key=rank)


def _fit(table: Table, width: int, lead: tuple[str, ...]) -> _Fitted:
    """``table`` laid out in ``width`` columns (see the module's note)."""
    compact = width < COMPACT_BELOW
    roles = table.row_roles or ["judge"] * len(table.rows)
    names = [row[0] for row, role in zip(table.rows, roles, strict=False) if role in ("judge", "best")]
    if not table.columns or table.columns[0] != "Judge":
        names = []  # only judge names are shortened (a code or a reference row's label stays whole)
    shortened = {
        full: short
        for full, short in short_names(names, COMPACT_NAME if compact else WIDE_NAME).items()
        if full != short
    }
    table = replace(table, rows=[[shortened.get(row[0], row[0])] + list(row[1:]) for row in table.rows])
    if compact or _table_width(_column_widths(table)) > width:
        split = [
            [c if i < table.text_columns else _two_lines(c) for i, c in enumerate(r)] for r in table.rows
        ]
        table = replace(table, rows=split)
    widths = _column_widths(table)
    order = _priority(table, lead)
    first_number = next((i for i in order if i >= table.text_columns and table.columns[i] != "n"), None)
    keep = sorted(i for i in order if i < table.text_columns or table.columns[i] == "n" or i == first_number)
    for index in order:
        trial = sorted(set(keep + [index]))
        if _table_width([widths[i] for i in trial]) <= width:
            keep = trial
    left_out = [table.columns[i] for i in range(len(table.columns)) if i not in keep]
    shown = table.keep_columns(keep) if left_out else table
    return _Fitted(_rich_table(shown, _spread(shown, width)), left_out, shortened)


def _rich_table(table: Table, widths: list[int]) -> RichTable:
    out = RichTable(title=_text(table.title, style="bold"), box=box.SIMPLE_HEAD, title_justify="left")
    for index, (column, width) in enumerate(zip(table.columns, widths, strict=True)):
        number = index >= table.text_columns
        out.add_column(
            _text(column),
            justify="right" if number else "left",
            width=width,
            overflow="fold",  # the widths hold every cell line and header word: nothing folds
        )
    for row, role in zip(table.rows, table.row_roles or ["judge"] * len(table.rows), strict=False):
        out.add_row(*[_text(cell) for cell in row], style=ROLE_STYLES.get(role, ""))
    return out


def _print_table(console: Console, table: Table, lead: tuple[str, ...], named: set[str]) -> None:
    """A table fitted to the console, then the names it shortened (those no table above listed: ``named``) and
    the columns it left out."""
    fitted = _fit(table.ascii(), console.width, lead)
    console.print(fitted.table)
    listed = [(full, short) for full, short in fitted.shortened.items() if full not in named]
    for full, short in listed:
        _print_wrapped(console, f"{short} = {full}", "dim", "  ", "    ")
        named.add(full)
    if fitted.left_out:
        columns = ", ".join(fitted.left_out)
        note = f"Left out at {console.width} columns: {columns} (in report.md / report.html)."
        _print_wrapped(console, note, "dim", "  ", "  ")
    if listed or fitted.left_out:
        console.print()


def render(model: ReportModel, console: Console) -> None:
    """Print the model: banner, headline, the per-judge tables (ASCII headers), the probe sections, exclusions,
    warnings, the policy and a pointer to what only report.md / report.html show."""
    if model.simulated:
        console.print(
            Panel(Text("SIMULATED DATA: not real raters", style="bold black on yellow", justify="center")),
        )
    if model.title:
        _print_wrapped(console, model.title, "bold underline")
    for sentence in model.findings:
        _print_wrapped(console, sentence, "", "• ", "  ")
    console.print()
    lead = (model.view.lead_gap.removesuffix("_gap"), model.view.lead_gap) + model.lead_metrics
    named: set[str] = set()  # the shortened names already listed in full
    for key in ("agreement", "outcomes", "gaps"):
        table = model.table(key)
        if table:
            _print_table(console, table, lead, named)
    for section in model.sections:
        if section.key not in TERMINAL_SECTIONS:
            continue
        _print_wrapped(console, section.title, "bold underline")
        for line in section.lines:
            _print_wrapped(console, line, "dim")
        for table in section.tables:
            _print_table(console, table, (), named)
    for table in (model.exclusions, model.warnings):
        if table:
            _print_table(console, table, (), named)
    _print_wrapped(console, f"Policy: {model.policy}")
    notes = []
    if any(t.key not in ("agreement", "outcomes", "gaps") for t in model.tables):
        notes.append("other metrics")
    others = [s.title for s in model.sections if s.key not in TERMINAL_SECTIONS]
    if others:
        notes.append(", ".join(others).replace(" (PPI++)", ""))
    slices = [s.name for s in model.slices]
    if slices:
        notes.append(f"sliced metrics ({', '.join(slices)})")
    if notes:
        _print_wrapped(console, f"More in report.md / report.html: {'; '.join(notes)}.", "dim")


def render_terminal(audit: Mapping[str, Any] | ReportModel, console: Console | None = None) -> None:
    """Print the headline and the per-judge tables of a saved audit to ``console`` (default: stdout)."""
    render(build_model(audit), console or Console())
