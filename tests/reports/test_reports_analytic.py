"""Reports show the analytic interval after the bootstrap's in the table of all agreement coefficients, and the
ceiling note says which columns are multi-rater and which leave one rater out (a real audit of Gwet's raw_g1g2)."""

from __future__ import annotations

import pytest

import reports
from reports.format import fmt_interval
from tests.auditor.stats.test_analytic_audit import JUDGE
from tests.auditor.stats.test_gwet_family import RAW
from tests.auditor.stats.test_human_ceiling_coefficients import run, study


@pytest.fixture(scope="module")
def model():
    result = run(
        study(RAW["raw_g1g2"], judge=JUDGE), task="categorical", labels={"categories": list("abcde")}
    )
    return result, reports.build_model(result.to_dict())


def test_full_agreement_table_shows_the_analytic_interval_after_the_bootstraps(model):
    result, m = model
    table = m.full_agreement
    assert table.title.endswith("(after /: analytic interval, independent items)")
    row = result.metric("gwet_ac1", "llm")
    column = table.metric_columns.index("gwet_ac1")
    cell = next(r for r in table.rows if r[0] == "llm")[column]
    bootstrap = fmt_interval(row["ci_low"], row["ci_high"])
    analytic = fmt_interval(row["ci_low_analytic"], row["ci_high_analytic"])
    assert cell.endswith(f"{bootstrap} / {analytic}")
    agreement = next(r for r in table.rows if r[0] == "llm")[table.metric_columns.index("agreement")]
    assert " / " not in agreement  # raw agreement has no analytic interval
    markdown = reports.render_markdown(result.to_dict()).replace("\u00a0", " ")  # no-break spaces in numbers
    assert " / [" in markdown and " / \\[" not in markdown  # a number cell, not escaped as text


def test_ceiling_note_names_multi_rater_and_leave_one_out_columns(model):
    _, m = model
    note = next(t for t in m.tables if t.key == "agreement").note
    assert "Krippendorff's α over all reference raters at once" in note
    assert "Agreement, Cohen's κ each rater against the majority of the others (leave one out)" in note
