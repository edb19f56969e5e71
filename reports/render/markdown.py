"""GitHub-flavoured Markdown: a pull-request comment or a ``$GITHUB_STEP_SUMMARY`` page.

Text from the data is escaped for Markdown (``md_escape``, which is :func:`auditor.escape.markdown_safe`): HTML-special
characters become entities, Markdown punctuation is backslash-escaped, pipes cannot split a table cell, newlines
cannot end a table row, ``@mentions`` notify no one and terminal control characters are removed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from auditor.escape import markdown_safe as md_escape
from reports.model import ReportModel, build_model
from reports.sections.base import FEW_CLUSTERS_NOTE, MARK, Section, Table

PR_COMMENT_LIMIT = 65_536  # GitHub refuses longer comments
_SOFT_LIMIT = 60_000

# a number cell: digits, intervals, p-values (``p_adj = 3.0e-06``, ``< 0.0005``) and the few-clusters mark
_NUMERIC_CELL = re.compile(r"[0-9\s.,%\[\]\u2212+\-\u2014<=padjtse_\u2020/]*")


def _cell(text: str) -> str:
    """A number cell (``54.6% [50.1, 59.0]``) stays readable; anything else is escaped as data."""
    if _NUMERIC_CELL.fullmatch(text):
        return text.replace("<", "&lt;")
    return md_escape(text)


def md_table(table: Table) -> str:
    """A GFM pipe table; the first column left-aligned, the numbers right-aligned."""
    header = "| " + " | ".join(md_escape(c) for c in table.columns) + " |"
    align = (
        "| "
        + " | ".join(":--" if i < table.text_columns else "--:" for i in range(len(table.columns)))
        + " |"
    )
    lines = [header, align]
    for row, role in zip(table.rows, table.row_roles or [""] * len(table.rows), strict=False):
        cells = [md_escape(c) for c in row[: table.text_columns]] + [
            _cell(c) for c in row[table.text_columns :]
        ]
        if role in ("ceiling", "reference", "best") and cells:
            cells[0] = f"**{cells[0]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _section(title: str, body: str, level: int = 2) -> str:
    return f"{'#' * level} {title}\n\n{body}\n"


def _tables(tables: list[Table], level: int, notes: bool = True) -> list[str]:
    parts = []
    for table in tables:
        note = f"\n\n<sub>{md_escape(table.note)}</sub>" if table.note and notes else ""
        parts.append(_section(md_escape(table.title), md_table(table) + note, level))
    return parts


def _extension_section(section: Section) -> str:
    """A dedicated section: its plain-words lines, then its tables (each under a level-3 heading with its note)."""
    body = [md_escape(line) for line in section.lines]
    for table in section.tables:
        note = f"\n\n<sub>{md_escape(table.note)}</sub>" if table.note else ""
        body.append(f"### {md_escape(table.title)}\n\n{md_table(table)}{note}")
    return _section(md_escape(section.title), "\n\n".join(body))


def _cases_text(model: ReportModel) -> str:
    """How many disagreement cases there are, and the first few where a judge says b is better."""
    summary = model.case_summary
    if not summary:
        return ""
    lines = [f"{summary.count:,} disagreement cases; browse them in `report.html` (the case browser)."]
    examples = []
    for case in summary.examples:
        judges = [f"{md_escape(judge)} ({md_escape(label)})" for judge, label in case.judges]
        label = case.reference_label
        ref = (
            f"; {md_escape(model.view.reference)} label {md_escape(label)}" if label not in (None, "") else ""
        )
        examples.append(f"- {md_escape(case.item_id)}: {', '.join(judges)}{ref}")
    if examples:
        lines.append(
            f"\nFirst items where a judge says b is better and {md_escape(model.view.reference)} says no better:\n"
        )
        lines.extend(examples)
    return "\n".join(lines)


def _render(model: ReportModel, full: bool) -> str:
    parts: list[str] = []
    title = md_escape(model.title) if model.title else "Judge audit"
    parts.append(f"# {title}\n")
    if model.simulated:
        parts.append(
            "> [!WARNING]\n> **SIMULATED DATA**: these numbers come from a simulated study, not real raters.\n"
        )
    if model.description:
        parts.append(md_escape(model.description) + "\n")
    parts.append("\n".join(f"- {md_escape(s)}" for s in model.findings) + "\n")
    parts.extend(_tables(model.tables, 2))
    all_agreement = model.full_agreement
    if all_agreement is not None:
        parts.append(
            f"<details><summary>{md_escape(all_agreement.title)}</summary>\n\n"
            f"{md_table(all_agreement)}\n\n</details>\n"
        )
    for section in model.sections:
        parts.append(_extension_section(section))
    excl = model.exclusions
    if excl:
        parts.append(_section("Exclusions", md_table(excl) + f"\n\n<sub>{md_escape(excl.note)}</sub>"))
    else:
        parts.append(_section("Exclusions", "No verdict was excluded."))
    warns = model.warnings
    if warns:
        parts.append(_section("Warnings", md_table(warns)))
    parts.append(_section("Tie / no-better policy", md_escape(model.policy)))
    if model.slices:
        if full:
            sliced = []
            for slice_ in model.slices:
                sliced.append(f"### Slice: {md_escape(slice_.name)}\n")
                sliced.extend(_tables(slice_.tables, 4, notes=False))
            marked = any(
                MARK in cell for s in model.slices for t in s.tables for row in t.rows for cell in row
            )
            note = (
                f"<sub>{md_escape(FEW_CLUSTERS_NOTE)}</sub>\n\n" if marked else ""
            )  # the tables' notes are left out
            parts.append("## By slice\n\n" + note + "\n".join(sliced))
        else:
            parts.append(_section("By slice", "Left out to fit a pull-request comment; see `report.html`."))
    cases_text = _cases_text(model)
    if cases_text:
        parts.append(_section("Cases", cases_text))
    if model.method:
        parts.append(_section("Method", "\n".join(f"- {md_escape(line)}" for line in model.method)))
    return "\n".join(parts)


def render(model: ReportModel) -> str:
    """The model as GitHub-flavoured Markdown, kept under GitHub's comment limit (slices dropped first)."""
    text = _render(model, full=True)
    if len(text) > _SOFT_LIMIT:
        text = _render(model, full=False)
    if len(text) > _SOFT_LIMIT:
        cut = text.rfind("\n", 0, _SOFT_LIMIT)
        text = text[:cut] + "\n\n_Report truncated to fit a pull-request comment; see `report.html`._\n"
    return text


def render_markdown(audit: Mapping[str, Any] | ReportModel) -> str:
    """The audit as GitHub-flavoured Markdown, kept under GitHub's comment limit (slices dropped first)."""
    return render(build_model(audit))
