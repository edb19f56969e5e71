"""The per-judge tables of one slice (``None`` = all items): agreement beside the ceiling, outcome rates, gaps to
the reference and the metrics no other table has a column for.

Only metrics that have a value somewhere get a column, so a likert audit shows correlations and a pairwise one
does not.
"""

from __future__ import annotations

from typing import Any

from auditor.metrics import MULTI_RATER_CEILING
from reports.format import as_int, fmt_estimate, p_text
from reports.labels import (
    AGREEMENT_METRICS,
    BINARY_OUTCOMES,
    CORRELATION_METRICS,
    GAP_METRICS,
    OUTCOME_METRICS,
    PRIMARY_CORRELATION,
    metric_label,
    metric_meaning,
    metric_name_with_unit,
)
from reports.sections.base import FEW_CLUSTERS_NOTE, MARK, Table, few_clusters, n_cell
from reports.view import AuditView


def _headers(metrics: list[str], ascii_only: bool = False, v: AuditView | None = None) -> list[str]:
    """``Judge``, ``n`` and each metric's label (in the audit's own words when ``v`` is given)."""
    label = v.outcome_label if v is not None else metric_label
    return ["Judge", "n"] + [label(m, ascii_only) for m in metrics]


def _outcome_metrics(v: AuditView, names: tuple[str, ...], slice_: str | None) -> list[str]:
    """The outcome metrics present; a binary audit keeps only its positive rate (and gap): the others repeat it."""
    metrics = v.present(names, slice_)
    return [m for m in metrics if m in BINARY_OUTCOMES] if v.task == "binary" else metrics


def _n_of(v: AuditView, judge: str, reference: str, metrics: list[str], slice_: str | None) -> str:
    for name in metrics:
        row = v.metric(name, judge, reference, slice_)
        if row is not None and as_int(row.get("n")) is not None:
            return str(as_int(row.get("n"))) + (f" {MARK}" if few_clusters(row) else "")
    return "—"


def _mark_few_clusters(table: Table) -> Table:
    """Add the few-clusters note to a per-judge table whose ``n`` column carries the mark."""
    if any(MARK in row[1] for row in table.rows if len(row) > 1):
        table.note = f"{table.note} {FEW_CLUSTERS_NOTE}".strip()
    return table


def _ceiling_label(v: AuditView, slice_: str | None = None) -> str:
    raters = "human raters" if v.reference == "human" else f"{v.reference} raters"
    if slice_ is not None and slice_.startswith("raters="):
        return f"{raters} ({slice_.split('=', 1)[1]})"  # one pair of raters, not the leave-one-out ceiling
    return f"{raters} (ceiling)"


def _ceiling_note(metrics: list[str]) -> str:
    """What the ceiling row of each column is: multi-rater (:data:`auditor.metrics.MULTI_RATER_CEILING`) or the
    leave-one-rater-out mean."""
    multi = [metric_label(m) for m in metrics if m in MULTI_RATER_CEILING]
    loo = [metric_label(m) for m in metrics if m not in MULTI_RATER_CEILING]
    if not multi:
        return "Ceiling: each reference rater against the majority of the others (leave one out), averaged. "
    parts = [", ".join(multi) + " over all reference raters at once"]
    if loo:
        parts.append(
            ", ".join(loo) + " each rater against the majority of the others (leave one out), averaged"
        )
    return "Ceiling: " + "; ".join(parts) + ". "


def agreement_table(
    v: AuditView, slice_: str | None = None, compact: bool = False, analytic: bool = False
) -> Table:
    """Each judge's agreement and correlation with the reference, under the reference raters' own ceiling.

    ``compact`` keeps raw agreement, Cohen's kappa, the task's lead coefficient, Krippendorff's alpha, one
    correlation and the category-wise kappa (its own slices); ``analytic`` adds the analytic interval beside the
    bootstrap's.
    """
    metrics = v.present(AGREEMENT_METRICS + CORRELATION_METRICS, slice_)
    if compact:
        keep = {
            "agreement",
            "cohen_kappa",
            "krippendorff_alpha",
            v.primary_agreement(),
            v.first_present(PRIMARY_CORRELATION, slice_),
            "category_kappa",
        }
        metrics = [m for m in metrics if m in keep]
    table = Table(
        key="agreement",
        title=f"Agreement with {v.reference}",
        columns=_headers(metrics),
        ascii_columns=_headers(metrics, ascii_only=True),
        rows=[],
        metric_columns=["", ""] + metrics,
        note=_ceiling_note(metrics)
        + "Intervals: cluster bootstrap."
        + (ANALYTIC_NOTE if analytic and _has_analytic(v, metrics, slice_) else ""),
    )
    if not metrics:
        return table
    if any(v.own(m, slice_) for m in metrics):
        table.rows.append(
            [_ceiling_label(v, slice_), _n_of(v, v.reference, v.reference, metrics, slice_)]
            + [fmt_estimate(v.own(m, slice_), analytic=analytic) for m in metrics]
        )
        table.row_roles.append("ceiling")
    _append_judge_rows(table, v, metrics, slice_, analytic)
    return table


#: The note of a table whose cells show the analytic interval after the bootstrap's.
ANALYTIC_NOTE = (
    " After /: the analytic interval (Gwet 2014; Fleiss, Cohen and Everitt 1969 for Cohen's κ), which assumes"
    " independent items."
)


def _has_analytic(v: AuditView, metrics: list[str], slice_: str | None) -> bool:
    return any(row.get("ci_low_analytic") is not None for m in metrics for row in v.rows_for(m, slice_))


def _append_judge_rows(
    table: Table, v: AuditView, metrics: list[str], slice_: str | None, analytic: bool = False
) -> None:
    """One row per judge with at least one of ``metrics``: name, n, then each metric with its interval (and the
    analytic one after it, with ``analytic``)."""
    for judge in v.judges:
        cells = [fmt_estimate(v.metric(m, judge, None, slice_), analytic=analytic) for m in metrics]
        if all(cell == "—" for cell in cells):
            continue
        table.rows.append([judge, _n_of(v, judge, v.reference, metrics, slice_)] + cells)
        table.row_roles.append("judge")


def outcome_table(v: AuditView, slice_: str | None = None) -> Table:
    """Win / tie / loss / no-better rates and mean score, the reference's own first."""
    metrics = _outcome_metrics(v, OUTCOME_METRICS, slice_)
    table = Table(
        key="outcomes",
        title="Outcome rates",
        columns=_headers(metrics, v=v),
        ascii_columns=_headers(metrics, ascii_only=True, v=v),
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


def gap_table(v: AuditView, slice_: str | None = None) -> Table:
    """Judge minus reference on the same items, with the paired test's (adjusted) p-value."""
    metrics = _outcome_metrics(v, GAP_METRICS, slice_)
    table = Table(
        key="gaps",
        title=f"Gaps to {v.reference} (judge minus {v.reference}, same items)",
        columns=_headers(metrics, v=v),
        ascii_columns=_headers(metrics, ascii_only=True, v=v),
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
    """Metrics no other table has a column for, in long form, by their registry label (with the unit where it is
    not % or points) and with their meaning in the note; ``skip`` holds the rows (metric, judge, reference) that a
    dedicated section already shows (:attr:`reports.sections.base.Section.rendered`).  A row computed on fewer
    than :data:`~reports.sections.base.MIN_CLUSTERS` clusters is marked."""
    skip = skip or set()
    table = Table(
        key="other",
        title="Other metrics",
        columns=["Metric", "Judge", "Reference", "Value [95% CI]", "n", "p"],
        ascii_columns=["Metric", "Judge", "Reference", "Value [95% CI]", "n", "p"],
        rows=[],
        text_columns=3,
    )
    meanings = []
    for name in v.unknown_metrics(slice_):
        shown = False
        for row in v.rows_for(name, slice_):
            if slice_ is None and (name, str(row.get("judge", "")), str(row.get("reference", ""))) in skip:
                continue
            table.rows.append(
                [
                    metric_name_with_unit(name),
                    str(row.get("judge", "")),
                    str(row.get("reference", "")),
                    fmt_estimate(row),
                    n_cell(row),
                    p_text(row),
                ]
            )
            table.row_roles.append("judge")
            shown = True
        if shown and metric_meaning(name):
            meanings.append(f"{metric_label(name)}: {metric_meaning(name)}.")
    table.note = " ".join(meanings + ([FEW_CLUSTERS_NOTE] if any(MARK in r[4] for r in table.rows) else []))
    return table


def full_agreement_table(v: AuditView, slice_: str | None = None) -> Table | None:
    """Every agreement coefficient with the analytic interval beside the bootstrap's, when the compact table leaves
    some out or an analytic interval is there to show (else ``None``)."""
    full = agreement_table(v, slice_, analytic=True)
    compact = agreement_table(v, slice_, compact=True)
    if not full or (len(full.columns) == len(compact.columns) and not full.note.endswith(ANALYTIC_NOTE)):
        return None
    full.key = "agreement-all"
    full.title = f"All agreement coefficients with {v.reference}"
    if full.note.endswith(ANALYTIC_NOTE):
        full.title += " (after /: analytic interval, independent items)"
    return full


def metric_tables(
    v: AuditView, slice_: str | None = None, shown_elsewhere: set[tuple[str, str, str]] | None = None
) -> list[Table]:
    """The per-judge tables for one slice (``None`` = all items), leaving out empty ones.

    ``shown_elsewhere``: the whole-sample metric rows (metric, judge, reference) a dedicated section shows; they
    stay out of "Other metrics".
    """
    tables = [
        agreement_table(v, slice_, compact=True),
        outcome_table(v, slice_),
        gap_table(v, slice_),
    ]
    tables = [_mark_few_clusters(t) for t in tables]
    tables.append(other_metrics_table(v, slice_, shown_elsewhere if slice_ is None else None))
    return [t for t in tables if t]
