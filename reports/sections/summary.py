"""The judges at a glance: one row per judge with the audit's lead rate, its gap to the reference (with the paired
test's p-value), the lead chance-corrected agreement coefficient and, where the audit ran them, the built-in checks
(beats the trivial baselines; passes the alternative annotator test).

It is the table a pull-request comment leads with (:mod:`reports.render.markdown`); every number in it is also in
the full tables, read from the same rows.
"""

from __future__ import annotations

from reports.format import as_float, fmt_estimate, fmt_number, p_text
from reports.sections.base import Table, entries, n_cell
from reports.view import AuditView, section_dict

KEY = "summary"


def _lead_rate(v: AuditView) -> str:
    """The rate the audit leads with (``no_better_rate``, a binary stage's positive rate): its gap's name less
    ``_gap``."""
    return v.lead_gap.removesuffix("_gap")


def _level(v: AuditView) -> str:
    """The intervals' confidence level as the audit saved it (``95%``; ``95%`` when missing)."""
    level = as_float(v.bootstrap.get("level"))
    return fmt_number(level, "rate", digits=0) if level is not None and 0 < level < 1 else "95%"


def _checks(v: AuditView) -> dict[str, dict[str, str]]:
    """Per judge, the built-in checks the audit ran: ``Beats baselines`` and ``Passes alt-test`` (``yes`` / ``no``)."""
    out: dict[str, dict[str, str]] = {}
    for row in entries(section_dict(v, "baselines").get("judges")):
        flag = row.get("beats_baselines")
        if isinstance(flag, bool):
            out.setdefault(str(row.get("judge", "")), {})["Beats baselines"] = "yes" if flag else "no"
    for row in entries(section_dict(v, "alt_test").get("judges")):
        flag = row.get("passed")
        if isinstance(flag, bool):
            out.setdefault(str(row.get("judge", "")), {})["Passes alt-test"] = "yes" if flag else "no"
    return out


def summary_table(v: AuditView) -> Table:
    """Judge, n, the lead rate, its gap to the reference, the gap's (adjusted) p-value and the lead agreement
    coefficient, the reference's own row (its rate; the human-human ceiling of the coefficient) first."""
    rate, gap, kappa = _lead_rate(v), v.lead_gap, v.primary_agreement()
    metrics = [m for m in (rate, gap) if v.present([m])] + ([kappa] if kappa else [])
    checks = _checks(v)
    check_columns = [
        c for c in ("Beats baselines", "Passes alt-test") if any(c in x for x in checks.values())
    ]
    columns, metric_columns = ["Judge", "n"], ["", ""]
    for m in metrics:
        columns.append(v.outcome_label(m))
        metric_columns.append(m)
        if m == gap:  # the gap's p-value in a column of its own, so the estimate and interval stay together
            columns.append("p")
            metric_columns.append("")
    table = Table(
        key=KEY,
        title="Judges at a glance",
        columns=columns + check_columns,
        rows=[],
        metric_columns=metric_columns + [""] * len(check_columns),
        note=(
            f"Estimates with {_level(v)} intervals; gaps are judge minus {v.reference} on the same items (rates: "
            "percentage points), p from the paired test (p_adj: corrected across judges); the reference's "
            "coefficient is its raters' agreement with each other (the ceiling)."
        ),
    )
    if not metrics:
        return table

    def cells(judge: str) -> list[str]:
        own = judge == v.reference
        out = []
        for m in metrics:
            row = v.own(m) if own else v.metric(m, judge)
            if m == gap:
                estimate = fmt_estimate(row)
                out += ["", ""] if own else [estimate, p_text(row) if estimate != "—" else ""]
            else:
                out.append(fmt_estimate(row))
        return out

    own_rows = [v.own(m) for m in metrics if v.own(m)]
    if own_rows:
        table.rows.append([f"{v.reference} (reference)", n_cell(own_rows[0])] + cells(v.reference))
        table.rows[-1] += [""] * len(check_columns)
        table.row_roles.append("reference")
    listed = section_dict(v, "baselines").get("baselines")
    baselines = {str(b) for b in listed} if isinstance(listed, (list, tuple)) else set()
    if baselines & set(v.judges):
        table.note += " The trivial baselines are in the full tables."
    for judge in v.judges:
        if judge in baselines:
            continue
        values = cells(judge)
        if all(c in ("—", "") for c in values):
            continue
        first = next(v.metric(m, judge) for m in metrics if v.metric(m, judge))
        checked = checks.get(judge, {})
        table.rows.append([judge, n_cell(first)] + values + [checked.get(c, "—") for c in check_columns])
        table.row_roles.append("judge")
    return table
