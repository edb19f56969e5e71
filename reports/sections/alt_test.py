"""The "Alternative annotator test" section, from the ``alt_test`` section of the audit and its ``alt_test_*`` rows."""

from __future__ import annotations

from reports.format import as_float, as_int, fmt_number
from reports.sections.base import Section, Table, entries
from reports.view import AuditView, section_dict

KEY = "alt-test"
ALIGNMENT_WORDS = {
    "accuracy": "accuracy",
    "neg_rmse": "minus the RMSE",
    "neg_rmse_rank": "minus the RMSE of percentile ranks",
}


def alt_test_section(v: AuditView) -> Section:
    """The alternative annotator test per judge, from the ``alt_test`` section and the ``alt_test_*`` rows."""
    section = Section(key=KEY, title="Alternative annotator test")
    meta = section_dict(v, "alt_test")
    judges = entries(meta.get("judges"))
    if not meta:
        return section
    epsilon = as_float(meta.get("epsilon"))
    level = as_float(meta.get("level"))
    alignment = str(meta.get("alignment") or "")
    eps_text = f"ε = {epsilon:g}" if epsilon is not None else "a margin ε"
    level_text = f" at {level:g}" if level is not None else ""
    if not judges:
        note = meta.get("note")
        if note:
            section.lines.append(f"Alternative annotator test not run: {note}.")
        return section
    n_raters = max((len(entries(e.get("raters"))) for e in judges), default=0)
    raters_text = f"the {n_raters} {v.reference} raters" if n_raters else f"the {v.reference} raters"
    section.lines.append(
        f"May the judge replace a {v.reference} rater? (Calderon, Reichart & Dror 2025.) Each of {raters_text} is "
        f"left out in turn; the judge beats that rater when its alignment with the remaining raters, measured as "
        f"{ALIGNMENT_WORDS.get(alignment, alignment or 'agreement')}, is at least the rater's minus {eps_text} "
        f"(one-sided test, cluster-robust, Benjamini-Yekutieli{level_text}). It passes when it beats at least half "
        "the raters (ω ≥ 50%)."
    )
    table = Table(
        key="alt-test",
        title="Alternative annotator test per judge",
        columns=["Judge", "n", "Raters beaten", "Winning rate ω", "Passes", "Advantage probability ρ"],
        rows=[],
        metric_columns=[
            "",
            "",
            "",
            "alt_test_winning_rate",
            "alt_test_pass",
            "alt_test_advantage_probability",
        ],
        note=(
            "ρ: share of items where the judge aligns with the remaining raters at least as well as the left-out "
            "rater, averaged over raters (compares judges; no interval)."
        ),
    )
    passed = []
    for entry in judges:
        judge = str(entry.get("judge", ""))
        raters = entries(entry.get("raters"))
        omega = as_float(entry.get("winning_rate"))
        rho = as_float(entry.get("advantage_probability"))
        if not raters and omega is None:
            continue
        beaten = sum(1 for r in raters if r.get("judge_wins"))
        ok = entry.get("passed")
        n_row = v.metric("alt_test_winning_rate", judge)
        for name in ("alt_test_winning_rate", "alt_test_pass", "alt_test_advantage_probability"):
            if v.metric(name, judge) is not None:
                section.rendered.add((name, judge, v.reference))
        n = as_int((n_row or {}).get("n"))
        if n is None and raters:
            n = max((as_int(r.get("n")) or 0) for r in raters) or None
        table.rows.append(
            [
                judge,
                "—" if n is None else f"{n:,}",
                f"{beaten} of {len(raters)}" if raters else "—",
                fmt_number(omega, "rate", digits=0),
                "—" if ok is None else ("yes" if ok else "no"),
                fmt_number(rho, "number"),
            ]
        )
        table.row_roles.append("judge")
        if ok:
            passed.append(judge)
    if table:
        section.tables.append(table)
        if passed:
            section.lines.append(f"Passed: {', '.join(passed)}.")
        else:
            section.lines.append(f"No judge passed: none may replace a {v.reference} rater at this margin.")
    return section
