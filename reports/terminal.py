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

from reports._view import PRIMARY_CORRELATION, as_audit_dict, policy_text, view
from reports.headline import headline
from reports.sections import extension_sections, report_slices
from reports.tables import Table, agreement_table, exclusions_table, gap_table, outcome_table, warnings_table

ROLE_STYLES = {"ceiling": "bold yellow", "reference": "bold", "judge": "", "best": "bold green"}
TERMINAL_SECTIONS = ("probes-persona", "probes-position")  # the rest is in report.md / report.html


def _stacked(cell: str) -> str:
    """``0.377 [0.279, 0.458], p_adj = 0.02`` on three short lines, for narrow terminals."""
    return cell.replace(" [", "\n[", 1).replace(", p", "\np", 1)


TERMINAL_METRICS = {
    "outcomes": ("win_rate", "no_better_rate", "mean_score"),
    "gaps": ("no_better_rate_gap", "mean_score_gap"),
}


def _keep_columns(table: Table, metrics: tuple[str, ...]) -> Table:
    """The table with only its text columns and the given metrics' columns (for narrow terminals)."""
    keep = [i for i, name in enumerate(table.metric_columns) if i < 2 or name in metrics]
    if len(keep) <= 2:
        return table
    return Table(
        key=table.key,
        title=table.title,
        columns=[table.columns[i] for i in keep],
        rows=[[row[i] for i in keep] for row in table.rows],
        row_roles=table.row_roles,
        note=table.note,
        metric_columns=[table.metric_columns[i] for i in keep],
        text_columns=table.text_columns,
    )


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
    audit = as_audit_dict(audit)
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
        if narrow and table.key == "agreement":
            lead = (v.primary_agreement(), v.first_present(PRIMARY_CORRELATION))
            table = _keep_columns(table, ("agreement",) + tuple(m for m in lead if m))
        elif narrow and table.key in TERMINAL_METRICS:
            table = _keep_columns(table, TERMINAL_METRICS[table.key])
        if table:
            console.print(_rich_table(table, narrow))
    sections = extension_sections(v, ascii_only=True)
    for section in sections:
        if section.key not in TERMINAL_SECTIONS:
            continue
        console.print(Text(section.title, style="bold underline"))
        for line in section.lines:
            console.print(Text(line, style="dim"))
        for table in section.tables:
            console.print(_rich_table(table, narrow))
    for table in (exclusions_table(v), warnings_table(v)):
        if table:
            console.print(_rich_table(table))
    console.print(Text("Policy: ", style="bold") + Text(policy_text(v)))
    notes = []
    if narrow:
        notes.append("every rate and gap")
    others = [s.title for s in sections if s.key not in TERMINAL_SECTIONS]
    if others:
        notes.append(", ".join(others).replace(" (PPI++)", ""))
    slices = report_slices(v)
    if slices:
        notes.append(f"sliced metrics ({', '.join(slices)})")
    if notes:
        console.print(Text(f"More in report.md / report.html: {'; '.join(notes)}.", style="dim"))
