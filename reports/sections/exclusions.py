"""The "Exclusions" and "Warnings" tables: every verdict left out, counted per judge and reason, and the audit's
integrity warnings."""

from __future__ import annotations

from reports.format import as_int
from reports.sections.base import Table
from reports.view import AuditView


def exclusions_table(v: AuditView) -> Table:
    table = Table(
        key="exclusions",
        title="Exclusions",
        columns=["Judge", "Reason", "Count"],
        rows=[],
        text_columns=2,
        note="Verdicts left out of every computation, counted per judge and reason.",
    )
    for row in v.exclusions:
        count = as_int(row.get("count"))
        table.rows.append(
            [str(row.get("judge", "")), str(row.get("reason", "")), "—" if count is None else str(count)]
        )
        table.row_roles.append("judge")
    return table


def warnings_table(v: AuditView) -> Table:
    table = Table(
        key="warnings", title="Warnings", columns=["Code", "Message", "Count"], rows=[], text_columns=2
    )
    for row in v.warnings:
        count = as_int(row.get("count"))
        table.rows.append(
            [str(row.get("code", "")), str(row.get("message", "")), "" if count is None else str(count)]
        )
        table.row_roles.append("judge")
    return table
