"""The "Position bias" section: verdicts of the judges that saw pairs in both presentation orders."""

from __future__ import annotations

from collections.abc import Mapping

from reports.format import as_float, as_int, fmt_estimate
from reports.sections.base import Section, Table, n_text, row_value
from reports.view import AuditView, section_dict

KEY = "probes-position"
POSITION_METRICS: tuple[tuple[str, str, bool], ...] = (  # metric, column, against the reference (else itself)
    ("agreement_original_order", "Agreement, order ab", True),
    ("agreement_swapped_order", "Agreement, order ba", True),
    ("agreement_both_orders", "Agreement, both orders", True),
    ("position_consistency", "Same verdict both orders", False),
    ("first_position_rate", "Prefers first shown", False),
)


def position_section(v: AuditView) -> Section:
    """Position bias per judge that saw pairs in both orders (shown when the audit ran the position probe)."""
    section = Section(key=KEY, title="Position bias")
    names = [m for m, _, _ in POSITION_METRICS]
    present = v.present(names)
    probes = section_dict(v, "probes")
    meta = probes.get("position")
    meta = dict(meta) if isinstance(meta, Mapping) else {}
    if not present or (not meta and len(present) < 2):
        return section  # a lone position metric without the probe's section stays in "Other metrics"
    columns = [(m, c, ref) for m, c, ref in POSITION_METRICS if m in present]
    table = Table(
        key="position",
        title="Verdicts in both presentation orders",
        columns=["Judge", "n"] + [c for _, c, _ in columns],
        rows=[],
        metric_columns=["", ""] + [m for m, _, _ in columns],
        note=(
            f"Agreement with {v.reference} in the original order (ab), the swapped order (ba), and in both (an item "
            "counts only when both verdicts match). Same verdict both orders: position consistency. Prefers first "
            "shown: share of decisive verdicts that favour the response shown first (50% = no position preference)."
        ),
    )
    for judge in v.judges:
        rows = [(m, v.metric(m, judge, None if against_ref else judge)) for m, _, against_ref in columns]
        if all(row_value(row) is None for _, row in rows):
            continue
        n_row = next((row for _, row in rows if row is not None and as_int(row.get("n")) is not None), None)
        table.rows.append(
            [judge, n_text(n_row)] + [fmt_estimate(row, kind="rate", signed=False) for _, row in rows]
        )
        table.row_roles.append("judge")
        for (metric, _, against_ref), (_, row) in zip(columns, rows, strict=True):
            if row is not None:
                section.rendered.add((metric, judge, v.reference if against_ref else judge))
    if table:
        section.tables.append(table)
        for judge in v.judges:
            row = v.metric("first_position_rate", judge, judge)
            if row is None:
                continue
            lo, hi = as_float(row.get("ci_low")), as_float(row.get("ci_high"))
            if lo is not None and hi is not None and (lo > 0.5 or hi < 0.5):
                side = "first" if lo > 0.5 else "second"
                section.lines.append(
                    f"{judge} prefers the response shown {side} in "
                    f"{fmt_estimate(row, kind='rate', signed=False)} of its decisive verdicts: its verdict "
                    "depends on the order of presentation; judge both orders and combine them."
                )
    return section
