"""Terminal summary with rich: banner, headline, per-judge tables, exclusions, policy.

Every string from the data goes into ``rich.text.Text`` objects (never into markup), so a judge named
``[red]x[/red]`` prints literally, and through :func:`auditor.escape.terminal_safe` (:func:`_text`), so escape
sequences and control characters in a name or a case text never reach the terminal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table as RichTable
from rich.text import Text

from auditor.escape import terminal_safe
from reports.model import ReportModel, build_model
from reports.sections.base import Table
from reports.sections.position import KEY as POSITION_KEY
from reports.sections.probes import KEY as PROBES_KEY

ROLE_STYLES = {"ceiling": "bold yellow", "reference": "bold", "judge": "", "best": "bold green"}
TERMINAL_SECTIONS = (PROBES_KEY, POSITION_KEY)  # the rest is in report.md / report.html


def _text(text: str, style: str = "") -> Text:
    """Data text as a rich ``Text`` without escape sequences or control characters."""
    return Text(terminal_safe(text), style=style)


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
    return table.keep_columns(keep)


def _rich_table(table: Table, narrow: bool = False) -> RichTable:
    out = RichTable(title=_text(table.title, style="bold"), box=box.SIMPLE_HEAD, title_justify="left")
    for index, column in enumerate(table.columns):
        if index == 0:
            out.add_column(_text(column), justify="left", no_wrap=True)
        else:
            justify = "left" if index < table.text_columns else "right"
            out.add_column(_text(column), justify=justify, overflow="fold")
    for row, role in zip(table.rows, table.row_roles or ["judge"] * len(table.rows), strict=False):
        cells = [row[0]] + [
            _stacked(cell) if narrow and i >= table.text_columns else cell
            for i, cell in enumerate(row[1:], 1)
        ]
        out.add_row(*[_text(cell) for cell in cells], style=ROLE_STYLES.get(role, ""))
    return out


def render(model: ReportModel, console: Console) -> None:
    """Print the model: banner, headline, the per-judge tables (ASCII headers), the probe sections, exclusions,
    warnings, the policy and a pointer to what only report.md / report.html show."""
    if model.simulated:
        console.print(
            Panel(Text("SIMULATED DATA: not real raters", style="bold black on yellow", justify="center")),
        )
    if model.title:
        console.print(_text(model.title, style="bold underline"))
    for sentence in model.findings:
        console.print(Text("• ") + _text(sentence))
    console.print()
    narrow = console.width < 160
    for key in ("agreement", "outcomes", "gaps"):
        table = model.table(key)
        if table is None:
            continue
        table = table.ascii()
        if narrow and table.key == "agreement":
            table = _keep_columns(table, ("agreement",) + model.lead_metrics)
        elif narrow and table.key in TERMINAL_METRICS:
            table = _keep_columns(table, TERMINAL_METRICS[table.key])
        if table:
            console.print(_rich_table(table, narrow))
    for section in model.sections:
        if section.key not in TERMINAL_SECTIONS:
            continue
        console.print(_text(section.title, style="bold underline"))
        for line in section.lines:
            console.print(_text(line, style="dim"))
        for table in section.tables:
            console.print(_rich_table(table.ascii(), narrow))
    for table in (model.exclusions, model.warnings):
        if table:
            console.print(_rich_table(table))
    console.print(Text("Policy: ", style="bold") + _text(model.policy))
    notes = []
    if narrow:
        notes.append("every rate and gap")
    others = [s.title for s in model.sections if s.key not in TERMINAL_SECTIONS]
    if others:
        notes.append(", ".join(others).replace(" (PPI++)", ""))
    slices = [s.name for s in model.slices]
    if slices:
        notes.append(f"sliced metrics ({', '.join(slices)})")
    if notes:
        console.print(_text(f"More in report.md / report.html: {'; '.join(notes)}.", style="dim"))


def render_terminal(audit: Mapping[str, Any] | ReportModel, console: Console | None = None) -> None:
    """Print the headline and the per-judge tables of a saved audit to ``console`` (default: stdout)."""
    render(build_model(audit), console or Console())
