"""The "Jury" section: juries (``jury:<rule>`` judges) beside their best member, and how independent they are."""

from __future__ import annotations

from reports.format import as_float, as_int, fmt_estimate, fmt_number
from reports.labels import metric_label
from reports.sections.base import Section, Table, n_text, row_value
from reports.view import AuditView, section_dict

KEY = "jury"


def jury_section(v: AuditView) -> Section:
    """Juries (``jury:<rule>`` judges) beside their best member, and the effective number of independent judges."""
    section = Section(key=KEY, title="Jury")
    meta = section_dict(v, "jury")
    if not meta:
        return section
    members = [str(m) for m in (meta.get("members") or []) if m is not None]
    juries = [j for j in v.judges if j.startswith("jury:")]
    if not juries and as_float(meta.get("effective_judges")) is None:
        note = meta.get("note")
        if note:
            section.lines.append(f"No jury: {note}.")
        return section
    lead = v.primary_agreement()
    binary = v.task == "binary"
    outcome = "win_rate" if binary else "no_better_rate"
    k = len(members)
    effective = v.metric("jury_effective_judges", "jury")
    if effective is not None:
        section.rendered.add(("jury_effective_judges", "jury", v.reference))
    eff_text = fmt_estimate(effective) if effective else fmt_number(meta.get("effective_judges"))
    if eff_text != "—":
        items = as_int(meta.get("n_items"))
        on = f", on the {items:,} items every member labelled" if items is not None else ""
        section.lines.append(
            f"The jury's {k} members err like {eff_text} independent judges (1 = they make the same errors, {k} = "
            f"independent errors){on}: a jury of judges that make the same errors is no better than one judge."
        )
    matrix = meta.get("error_correlation")
    if isinstance(matrix, list) and k > 1 and len(matrix) == k:
        pairs = []
        for i in range(k):
            row = matrix[i] if isinstance(matrix[i], list) else []
            for j in range(i + 1, min(k, len(row))):
                r = as_float(row[j])
                if r is not None:
                    pairs.append((r, members[i], members[j]))
        if len(pairs) == 1:
            section.lines.append(f"Correlation of the members' errors {pairs[0][0]:.2f}.")
        elif pairs:
            mean = sum(p[0] for p in pairs) / len(pairs)
            high = max(pairs)
            section.lines.append(
                f"Mean correlation of the members' errors {mean:.2f}; highest {high[0]:.2f} ({high[1]} and {high[2]})."
            )
    columns = ["Jury", "Members", "n"]
    ascii_columns = list(columns)
    metric_columns = ["", "", ""]
    if lead:
        columns.append(metric_label(lead))
        ascii_columns.append(metric_label(lead, ascii_only=True))
        metric_columns.append(lead)
    has_outcome = any(row_value(v.metric(outcome, name)) is not None for name in juries + members)
    if has_outcome:
        columns.append("Positive (1)" if binary else metric_label(outcome))
        ascii_columns.append("Positive (1)" if binary else metric_label(outcome, ascii_only=True))
        metric_columns.append(outcome)
    has_undecided = any(row_value(v.metric("undecided_rate", name)) for name in juries)
    if has_undecided:
        columns.append(metric_label("undecided_rate"))
        ascii_columns.append(metric_label("undecided_rate", ascii_only=True))
        metric_columns.append("undecided_rate")
    table = Table(
        key="jury",
        title="Juries beside their best member",
        columns=columns,
        ascii_columns=ascii_columns,
        rows=[],
        metric_columns=metric_columns,
        text_columns=2,
        note=(
            "jury:majority: the members' most frequent verdict; jury:mean: the mean of their values (likert, score). "
            "Each jury is audited like a judge (all its metrics are in the per-judge tables), on every item its "
            "members voted on: an item without a majority is undecided and counts as a disagreement."
        ),
    )

    def cells(name: str, members_text: str) -> list[str]:
        agreement = v.metric(lead, name) if lead else None
        out_row = v.metric(outcome, name)
        row = [name, members_text, n_text(agreement or out_row)]
        if lead:
            row.append(fmt_estimate(agreement))
        if has_outcome:
            row.append(fmt_estimate(out_row, kind="rate", signed=False))
        if has_undecided:
            row.append(fmt_estimate(v.metric("undecided_rate", name), kind="rate", signed=False))
            if v.metric("undecided_rate", name):
                section.rendered.add(("undecided_rate", name, v.reference))
        return row

    for jury in juries:
        table.rows.append(cells(jury, f"{k}"))
        table.row_roles.append("judge")
    if lead:
        scored = [(m, row_value(v.metric(lead, m))) for m in members]
        scored = [(m, s) for m, s in scored if s is not None]
        if scored:
            best = max(scored, key=lambda pair: pair[1])[0]
            table.rows.append(cells(best, "best member"))
            table.row_roles.append("reference")
    if table:
        section.tables.append(table)
    return section
