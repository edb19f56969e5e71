"""Terminal summary with rich: banner, headline, per-judge tables, exclusions, policy.

Every string from the data goes into ``rich.text.Text`` objects (never into markup), so a judge named
``[red]x[/red]`` prints literally.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table as RichTable
from rich.text import Text

from reports._view import policy_text, view
from reports.headline import headline
from reports.tables import Table, agreement_table, exclusions_table, gap_table, outcome_table, warnings_table

ROLE_STYLES = {"ceiling": "bold yellow", "reference": "bold", "judge": ""}


def _stacked(cell: str) -> str:
    """``0.377 [0.279, 0.458], p_adj = 0.02`` on three short lines, for narrow terminals."""
    return cell.replace(" [", "\n[", 1).replace(", p", "\np", 1)


def _rich_table(table: Table, narrow: bool = False) -> RichTable:
    out = RichTable(title=Text(table.title, style="bold"), box=box.SIMPLE_HEAD, title_justify="left")
    for index, column in enumerate(table.columns):
        if index == 0:
            out.add_column(Text(column), justify="left", no_wrap=True)
        else:
            justify = "left" if index < table.text_columns else "right"
            out.add_column(Text(column), justify=justify, overflow="fold")
    for row, role in zip(table.rows, table.row_roles or ["judge"] * len(table.rows), strict=False):
        cells = [row[0]] + [
            _stacked(cell) if narrow and i >= table.text_columns else cell
            for i, cell in enumerate(row[1:], 1)
        ]
        out.add_row(*[Text(cell) for cell in cells], style=ROLE_STYLES.get(role, ""))
    return out


def render_terminal(audit: Mapping[str, Any], console: Console | None = None) -> None:
    """Print the headline and the per-judge tables of a saved audit to ``console`` (default: stdout)."""
    console = console or Console()
    v = view(audit)
    if v.simulated:
        console.print(
            Panel(Text("SIMULATED DATA: not real raters", style="bold black on yellow", justify="center")),
        )
    if v.title:
        console.print(Text(v.title, style="bold underline"))
    for sentence in headline(audit):
        if sentence.startswith("SIMULATED DATA"):
            continue
        console.print(Text("• ") + Text(sentence))
    console.print()
    narrow = console.width < 160
    for table in (
        agreement_table(v, ascii_only=True, compact=True),
        outcome_table(v, ascii_only=True),
        gap_table(v, ascii_only=True),
    ):
        if table:
            console.print(_rich_table(table, narrow))
    for table in (exclusions_table(v), warnings_table(v)):
        if table:
            console.print(_rich_table(table))
    console.print(Text("Policy: ", style="bold") + Text(policy_text(v)))
    if v.slices:
        console.print(Text(f"Sliced metrics ({', '.join(v.slices)}) are in the Markdown and HTML reports."))
