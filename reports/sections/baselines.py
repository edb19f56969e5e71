"""The "Baselines and the human ceiling" section: each judge's agreement beside the best trivial baseline, and its
lead coefficient's distance from the reference raters' ceiling in standard errors (the ``baselines`` section of the
audit and its ``agreement_z_vs_ceiling`` rows)."""

from __future__ import annotations

from reports.format import as_float, fmt_estimate
from reports.labels import metric_label
from reports.sections.base import Section, Table, entries
from reports.view import AuditView, section_dict

KEY = "baselines"


def baselines_section(v: AuditView) -> Section:
    """Judges against the best trivial baseline and the human ceiling; empty without a ``baselines`` section."""
    section = Section(key=KEY, title="Baselines and the human ceiling")
    meta = section_dict(v, "baselines")
    names = [str(b) for b in (meta.get("baselines") or [])]
    rows = entries(meta.get("judges"))
    z_rows = {str(z.get("judge")): z for z in entries(meta.get("z_vs_ceiling"))}
    if not names and not z_rows:
        return section
    if names:
        compared = (
            "A judge whose agreement interval is not wholly above the best of them does not beat the baselines."
            if rows or not section_dict(v, "selection")
            else "Agreement was not computed (metric selection), so no judge is compared with them."
        )
        section.lines.append(
            f"Trivial judges audited like judges (every metric in the per-judge tables): {', '.join(names)}. "
            + compared
        )
    for skipped in entries(meta.get("skipped")):
        section.lines.append(f"Left out: {skipped.get('baseline')}: {skipped.get('reason')}.")
    lead = str(meta.get("lead") or "")
    best = str(rows[0].get("best_baseline")) if rows else ""
    table = Table(
        key="baselines",
        title="Judges beside the best baseline and the ceiling",
        columns=["Judge", "Agreement", f"Beats {best}" if best else "Beats the baselines", "z vs ceiling"],
        rows=[],
        metric_columns=["", "agreement", "", "agreement_z_vs_ceiling"],
        note=(
            f"z: ({metric_label(lead) if lead else 'lead coefficient'} of the judge - the ceiling) / "
            "sqrt(SE_judge^2 + SE_ceiling^2), SEs from the 95% intervals; below -2 the judge is clearly under "
            "the ceiling (conservative: the two estimates are positively correlated)."
        ),
    )
    beats = {str(r.get("judge")): r for r in rows}
    for judge in list(dict.fromkeys([*beats, *z_rows])):
        flag = beats.get(judge, {}).get("beats_baselines")
        z = as_float(z_rows.get(judge, {}).get("z"))
        table.rows.append(
            [
                judge,
                fmt_estimate(v.metric("agreement", judge)),
                "—" if flag is None else ("yes" if flag else "NO"),
                "—" if z is None else f"{z:+.1f}",
            ]
        )
        table.row_roles.append("judge")
        if z is not None:
            section.rendered.add(("agreement_z_vs_ceiling", judge, v.reference))
    if table:
        section.tables.append(table)
    return section
