"""GitHub-flavoured Markdown: a pull-request comment or a ``$GITHUB_STEP_SUMMARY`` page.

Text from the data is escaped for Markdown (``md_escape``): HTML-special characters become entities, Markdown
punctuation is backslash-escaped, pipes cannot split a table cell and newlines cannot end a table row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reports._view import KEY_DISAGREEMENT, AuditView, as_audit_dict, as_int, policy_text, view
from reports.headline import headline
from reports.sections import Section, extension_sections, report_slices
from reports.tables import (
    Table,
    exclusions_table,
    full_agreement_table,
    method_lines,
    metric_tables,
    warnings_table,
)

PR_COMMENT_LIMIT = 65_536  # GitHub refuses longer comments
_SOFT_LIMIT = 60_000
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md_escape(text: Any) -> str:
    """Data text made inert in Markdown: entities for ``& < >``, backslashes before Markdown punctuation."""
    value = "" if text is None else str(text)
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return re.sub(r"\s*[\r\n\u2028\u2029]+\s*", " ", value)


_NUMERIC_CELL = re.compile(r"[0-9\s.,%\[\]\u2212+\-\u2014<=padjts_]*")


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


def _tables(v: AuditView, slice_: str | None, level: int) -> list[str]:
    parts = []
    for table in metric_tables(v, slice_):
        note = f"\n\n<sub>{md_escape(table.note)}</sub>" if table.note and slice_ is None else ""
        parts.append(_section(md_escape(table.title), md_table(table) + note, level))
    return parts


def _extension_section(section: Section) -> str:
    """A dedicated section: its plain-words lines, then its tables (each under a level-3 heading with its note)."""
    body = [md_escape(line) for line in section.lines]
    for table in section.tables:
        note = f"\n\n<sub>{md_escape(table.note)}</sub>" if table.note else ""
        body.append(f"### {md_escape(table.title)}\n\n{md_table(table)}{note}")
    return _section(md_escape(section.title), "\n\n".join(body))


MARKDOWN_EXAMPLE_CASES = 5


def _cases_text(v: AuditView) -> str:
    """How many disagreement cases there are, and the first few where a judge says b is better."""
    total = as_int(v.cases.get("total"))
    items = v.cases.get("items") if isinstance(v.cases.get("items"), list) else []
    if not total and not items:
        return ""
    lines = [
        f"{total if total is not None else len(items):,} disagreement cases; browse them in `report.html` "
        "(the case browser)."
    ]
    examples = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        rows = item.get("disagreements") if isinstance(item.get("disagreements"), list) else []
        judges = [
            f"{md_escape(d.get('judge'))} ({md_escape(d.get('judge_label'))})"
            for d in rows
            if isinstance(d, Mapping) and d.get("type") == KEY_DISAGREEMENT
        ]
        if judges:
            label = item.get("reference_label")
            ref = f"; {md_escape(v.reference)} label {md_escape(label)}" if label not in (None, "") else ""
            examples.append(f"- {md_escape(item.get('item_id'))}: {', '.join(judges)}{ref}")
        if len(examples) >= MARKDOWN_EXAMPLE_CASES:
            break
    if examples:
        lines.append(
            f"\nFirst items where a judge says b is better and {md_escape(v.reference)} says no better:\n"
        )
        lines.extend(examples)
    return "\n".join(lines)


def _render(v: AuditView, audit: Mapping[str, Any], full: bool) -> str:
    parts: list[str] = []
    title = md_escape(v.title) if v.title else "Judge audit"
    parts.append(f"# {title}\n")
    if v.simulated:
        parts.append(
            "> [!WARNING]\n> **SIMULATED DATA**: these numbers come from a simulated study, not real raters.\n"
        )
    if v.description:
        parts.append(md_escape(v.description) + "\n")
    sentences = [s for s in headline(audit) if not s.startswith("SIMULATED DATA")]
    parts.append("\n".join(f"- {md_escape(s)}" for s in sentences) + "\n")
    parts.extend(_tables(v, None, 2))
    all_agreement = full_agreement_table(v)
    if all_agreement is not None:
        parts.append(
            f"<details><summary>{md_escape(all_agreement.title)}</summary>\n\n"
            f"{md_table(all_agreement)}\n\n</details>\n"
        )
    for section in extension_sections(v):
        parts.append(_extension_section(section))
    excl = exclusions_table(v)
    if excl:
        parts.append(_section("Exclusions", md_table(excl) + f"\n\n<sub>{md_escape(excl.note)}</sub>"))
    else:
        parts.append(_section("Exclusions", "No verdict was excluded."))
    warns = warnings_table(v)
    if warns:
        parts.append(_section("Warnings", md_table(warns)))
    parts.append(_section("Tie / no-better policy", md_escape(policy_text(v))))
    slices = report_slices(v)
    if slices:
        if full:
            sliced = []
            for slice_ in slices:
                sliced.append(f"### Slice: {md_escape(slice_)}\n")
                sliced.extend(_tables(v, slice_, 4))
            parts.append("## By slice\n\n" + "\n".join(sliced))
        else:
            parts.append(_section("By slice", "Left out to fit a pull-request comment; see `report.html`."))
    cases_text = _cases_text(v)
    if cases_text:
        parts.append(_section("Cases", cases_text))
    method = method_lines(v)
    if method:
        parts.append(_section("Method", "\n".join(f"- {md_escape(line)}" for line in method)))
    return "\n".join(parts)


def render_markdown(audit: Mapping[str, Any]) -> str:
    """The audit as GitHub-flavoured Markdown, kept under GitHub's comment limit (slices dropped first)."""
    audit = as_audit_dict(audit)
    v = view(audit)
    text = _render(v, audit, full=True)
    if len(text) > _SOFT_LIMIT:
        text = _render(v, audit, full=False)
    if len(text) > _SOFT_LIMIT:
        cut = text.rfind("\n", 0, _SOFT_LIMIT)
        text = text[:cut] + "\n\n_Report truncated to fit a pull-request comment; see `report.html`._\n"
    return text
