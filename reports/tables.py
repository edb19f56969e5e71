"""The report's tables as plain data (title, columns, rows of text), shared by terminal, Markdown and HTML.

Cells are already formatted (``54.6% [50.1, 59.0]``) but not escaped: each renderer escapes for its own medium.
Only metrics that have a value somewhere get a column, so a likert audit shows correlations and a pairwise one
does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reports._view import (
    AGREEMENT_METRICS,
    CORRELATION_METRICS,
    GAP_METRICS,
    OUTCOME_METRICS,
    PRIMARY_CORRELATION,
    AuditView,
    as_float,
    as_int,
    fmt_estimate,
    fmt_number,
    metric_kind,
    metric_label,
    p_text,
)


@dataclass
class Table:
    """A titled table; ``row_roles`` tags each row (``ceiling``, ``reference``, ``judge``) for styling."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    row_roles: list[str] = field(default_factory=list)
    note: str = ""
    metric_columns: list[str] = field(default_factory=list)  # metric name behind each column ('' if none)
    text_columns: int = 1  # how many leading columns hold text (left-aligned); the rest hold numbers

    def __bool__(self) -> bool:
        return bool(self.rows)


def _n_of(v: AuditView, judge: str, reference: str, metrics: list[str], slice_: str | None) -> str:
    for name in metrics:
        row = v.metric(name, judge, reference, slice_)
        if row is not None and as_int(row.get("n")) is not None:
            return str(as_int(row.get("n")))
    return "—"


def _ceiling_label(v: AuditView, slice_: str | None = None) -> str:
    raters = "human raters" if v.reference == "human" else f"{v.reference} raters"
    if slice_ is not None and slice_.startswith("raters="):
        return f"{raters} ({slice_.split('=', 1)[1]})"  # one pair of raters, not the leave-one-out ceiling
    return f"{raters} (ceiling)"


def agreement_table(
    v: AuditView, slice_: str | None = None, ascii_only: bool = False, compact: bool = False
) -> Table:
    """Each judge's agreement and correlation with the reference, under the reference raters' own ceiling.

    ``compact`` keeps raw agreement, Cohen's kappa, the task's lead coefficient, Krippendorff's alpha and one
    correlation.
    """
    metrics = v.present(AGREEMENT_METRICS + CORRELATION_METRICS, slice_)
    if compact:
        keep = {
            "agreement",
            "cohen_kappa",
            "krippendorff_alpha",
            v.primary_agreement(),
            v.first_present(PRIMARY_CORRELATION, slice_),
        }
        metrics = [m for m in metrics if m in keep]
    table = Table(
        key="agreement",
        title=f"Agreement with {v.reference}",
        columns=["Judge", "n"] + [metric_label(m, ascii_only) for m in metrics],
        rows=[],
        metric_columns=["", ""] + metrics,
        note=(
            "Ceiling: each reference rater against the majority of the others (leave one out), averaged. "
            "Intervals: cluster bootstrap."
        ),
    )
    if not metrics:
        return table
    if any(v.own(m, slice_) for m in metrics):
        table.rows.append(
            [_ceiling_label(v, slice_), _n_of(v, v.reference, v.reference, metrics, slice_)]
            + [fmt_estimate(v.own(m, slice_)) for m in metrics]
        )
        table.row_roles.append("ceiling")
    _append_judge_rows(table, v, metrics, slice_)
    return table


def _append_judge_rows(table: Table, v: AuditView, metrics: list[str], slice_: str | None) -> None:
    """One row per judge with at least one of ``metrics``: name, n, then each metric with its interval."""
    for judge in v.judges:
        cells = [fmt_estimate(v.metric(m, judge, None, slice_)) for m in metrics]
        if all(cell == "—" for cell in cells):
            continue
        table.rows.append([judge, _n_of(v, judge, v.reference, metrics, slice_)] + cells)
        table.row_roles.append("judge")


def outcome_table(v: AuditView, slice_: str | None = None, ascii_only: bool = False) -> Table:
    """Win / tie / loss / no-better rates and mean score, the reference's own first."""
    metrics = v.present(OUTCOME_METRICS, slice_)
    table = Table(
        key="outcomes",
        title="Outcome rates",
        columns=["Judge", "n"] + [metric_label(m, ascii_only) for m in metrics],
        rows=[],
        metric_columns=["", ""] + metrics,
        note="Each judge's own verdicts on the items it labelled; the reference row is the reference's.",
    )
    if not metrics:
        return table
    if any(v.own(m, slice_) for m in metrics):
        table.rows.append(
            [f"{v.reference} (reference)", _n_of(v, v.reference, v.reference, metrics, slice_)]
            + [fmt_estimate(v.own(m, slice_)) for m in metrics]
        )
        table.row_roles.append("reference")
    _append_judge_rows(table, v, metrics, slice_)
    return table


def _gap_cell(row: dict[str, Any] | None) -> str:
    text = fmt_estimate(row)
    p = p_text(row)
    return f"{text}, {p}" if p and text != "—" else text


def gap_table(v: AuditView, slice_: str | None = None, ascii_only: bool = False) -> Table:
    """Judge minus reference on the same items, with the paired test's (adjusted) p-value."""
    metrics = v.present(GAP_METRICS, slice_)
    table = Table(
        key="gaps",
        title=f"Gaps to {v.reference} (judge minus {v.reference}, same items)",
        columns=["Judge", "n"] + [metric_label(m, ascii_only) for m in metrics],
        rows=[],
        metric_columns=["", ""] + metrics,
        note="Rate gaps in percentage points; p from the paired test, p_adj corrected across judges.",
    )
    for judge in v.judges:
        cells = [_gap_cell(v.metric(m, judge, None, slice_)) for m in metrics]
        if not metrics or all(cell == "—" for cell in cells):
            continue
        table.rows.append([judge, _n_of(v, judge, v.reference, metrics, slice_)] + cells)
        table.row_roles.append("judge")
    return table


def other_metrics_table(
    v: AuditView, slice_: str | None = None, skip: set[tuple[str, str, str]] | None = None
) -> Table:
    """Metrics this renderer has no dedicated column for, in long form; ``skip`` holds the rows (metric, judge,
    reference) that a dedicated section already shows (:func:`reports.sections.rendered_keys`)."""
    skip = skip or set()
    table = Table(
        key="other",
        title="Other metrics",
        columns=["Metric", "Judge", "Reference", "Value [95% CI]", "n", "p"],
        rows=[],
        text_columns=3,
    )
    for name in v.unknown_metrics(slice_):
        for row in v.rows_for(name, slice_):
            if slice_ is None and (name, str(row.get("judge", "")), str(row.get("reference", ""))) in skip:
                continue
            table.rows.append(
                [
                    name,
                    str(row.get("judge", "")),
                    str(row.get("reference", "")),
                    fmt_estimate(row),
                    str(as_int(row.get("n"))) if as_int(row.get("n")) is not None else "—",
                    p_text(row),
                ]
            )
            table.row_roles.append("judge")
    return table


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


def full_agreement_table(v: AuditView, slice_: str | None = None, ascii_only: bool = False) -> Table | None:
    """Every agreement coefficient, when the compact table leaves some out (else ``None``)."""
    full = agreement_table(v, slice_, ascii_only)
    compact = agreement_table(v, slice_, ascii_only, compact=True)
    if not full or len(full.columns) == len(compact.columns):
        return None
    full.key = "agreement-all"
    full.title = f"All agreement coefficients with {v.reference}"
    return full


def metric_tables(v: AuditView, slice_: str | None = None, ascii_only: bool = False) -> list[Table]:
    """The per-judge tables for one slice (``None`` = all items), leaving out empty ones."""
    from reports.sections import rendered_keys  # sections builds on this module's Table

    tables = [
        agreement_table(v, slice_, ascii_only, compact=True),
        outcome_table(v, slice_, ascii_only),
        gap_table(v, slice_, ascii_only),
        other_metrics_table(v, slice_, rendered_keys(v) if slice_ is None else None),
    ]
    return [t for t in tables if t]


def method_lines(v: AuditView) -> list[str]:
    """Plain-words facts about how the audit was computed (sample, bootstrap, versions)."""
    lines = []
    size = []
    if v.n_items is not None:
        size.append(f"{v.n_items:,} items")
    if v.n_clusters is not None:
        size.append(f"{v.n_clusters:,} clusters")
    if size:
        lines.append("Sample: " + ", ".join(size) + ".")
    if v.task:
        scale = ""
        if v.scale:
            parts = [f"{k} {v.scale[k]}" for k in ("min", "max", "neutral") if v.scale.get(k) is not None]
            scale = f" (scale: {', '.join(parts)})" if parts else ""
        lines.append(f"Task: {v.task}{scale}; reference: {v.reference}.")
    boot = v.bootstrap
    if boot:
        level = as_float(boot.get("level"))
        parts = []
        if level is not None:
            parts.append(f"{fmt_number(level, 'rate', digits=0)} intervals")
        if boot.get("method"):
            parts.append(f"{boot['method']} method")
        if boot.get("resamples") is not None:
            parts.append(f"{boot['resamples']} bootstrap resamples")
        if boot.get("cluster"):
            parts.append(f"clusters resampled by {boot['cluster']}")
        if boot.get("seed") is not None:
            parts.append(f"seed {boot['seed']}")
        if parts:
            lines.append("Uncertainty: " + ", ".join(parts) + ".")
    aggregation = v.raw.get("aggregation")
    if isinstance(aggregation, dict) and aggregation.get("rule"):
        tie = f", ties broken toward {aggregation['tie_break']}" if aggregation.get("tie_break") else ""
        lines.append(f"Several labels of one item are combined by {aggregation['rule']}{tie}.")
    correction = v.raw.get("p_value_correction")
    if correction:
        lines.append(f"p-values across judges adjusted by {correction} (p_adj).")
    with_reference = as_int(v.raw.get("n_items_with_reference"))
    if with_reference is not None and v.n_items is not None and with_reference != v.n_items:
        lines.append(f"{with_reference:,} of the {v.n_items:,} items have a reference label.")
    version = v.raw.get("auditor_version")
    schema = v.raw.get("schema_version")
    if version is not None or schema is not None:
        bits = []
        if version is not None:
            bits.append(f"auditor {version}")
        if schema is not None:
            bits.append(f"schema {schema}")
        lines.append("Produced by " + ", ".join(bits) + ".")
    return lines


def metric_kind_of_column(table: Table, index: int) -> str:
    name = table.metric_columns[index] if index < len(table.metric_columns) else ""
    return metric_kind(name) if name else ""
