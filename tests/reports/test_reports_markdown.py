"""The Markdown report: GFM tables that a parser reads back, escaped data, size within a PR comment."""

from __future__ import annotations

import re

from mdtables import markdown_parser, parse_tables
from report_fixtures import XSS_SCRIPT, build_big_audit, build_likert_audit, build_pairwise_audit, xss_audit

import reports
from reports.render.markdown import PR_COMMENT_LIMIT, md_escape

INTERVAL = re.compile(r"^-?\d+\.\d% \[-?\d+\.\d, -?\d+\.\d\]$")


def _table(tables, heading_start):
    found = [t for t in tables if t.heading.startswith(heading_start)]
    assert found, [t.heading for t in tables]
    return found[0]


def test_pairwise_markdown_tables_parse_with_values_and_intervals():
    tables = parse_tables(reports.render_markdown(build_pairwise_audit()))
    agreement = _table(tables, "Agreement with human")
    assert agreement.header[:2] == ["Judge", "n"]
    assert {"Agreement", "Cohen's κ", "Krippendorff's α"} <= set(agreement.header)
    assert agreement.column("Judge") == ["human raters (ceiling)", "gpt-3.5-turbo", "pandalm-7b"]
    gpt = agreement.row("gpt-3.5-turbo")
    assert gpt["n"] == "974"
    assert gpt["Agreement"] == "71.6% [70.1, 73.1]"
    assert gpt["Cohen's κ"] == "0.493 [0.463, 0.523]"
    assert agreement.row("human raters (ceiling)")["Cohen's κ"] == "0.864 [0.844, 0.884]"
    # a judge without alpha shows a dash, not an empty or shifted cell
    assert agreement.row("pandalm-7b")["Krippendorff's α"] == "—"

    exclusions = _table(tables, "Exclusions")
    assert exclusions.header == ["Judge", "Reason", "Count"]
    assert exclusions.rows == [["gpt-3.5-turbo", "unusable label 'garbage'", "25"]]


def test_likert_markdown_has_outcomes_gaps_other_metrics_and_slices():
    text = reports.render_markdown(build_likert_audit())
    tables = parse_tables(text)
    outcomes = _table(tables, "Outcome rates")
    assert outcomes.rows[0][0] == "human (reference)"
    assert outcomes.row("human (reference)")["No better"] == "54.6% [50.1, 59.1]"
    assert all(INTERVAL.match(cell) for cell in outcomes.column("No better"))
    gaps = _table(tables, "Gaps to human")
    cell = gaps.row("gpt-4o")["No-better gap"]
    assert cell.startswith("-33.6 pts [-38.3, -28.9]") and "p_adj = 3.0e-06" in cell
    other = _table(tables, "Other metrics")
    assert set(other.column("Metric")) == {"Position consistency", "PPI++ no better"}  # registry labels
    assert other.row("PPI++ no better")["Value [95% CI]"] == "54.1% [51.1, 57.1]"
    sliced = [t for t in tables if t.heading.startswith("Outcome rates")]
    assert len(sliced) == 2  # the whole sample and the slice source=synthetic
    assert "Slice: source=synthetic" in text
    assert "SIMULATED DATA" in text
    assert "**Tie / no-better policy**" in text and "at or below 3" in text


def test_every_row_has_as_many_cells_as_the_header():
    for audit in (build_likert_audit(), build_pairwise_audit(), xss_audit()):
        for table in parse_tables(reports.render_markdown(audit)):
            assert all(len(row) == len(table.header) for row in table.rows), table.heading


def test_data_in_markdown_cannot_inject_html_links_or_cells():
    text = reports.render_markdown(xss_audit())
    rendered = markdown_parser().render(text)
    assert "<script" not in rendered and "<img" not in rendered
    assert re.findall(r"<a [^>]*>", rendered) == ['<a href="report.html">']  # the link to the HTML report only
    assert "<b>" not in rendered
    tables = parse_tables(text)
    judges = _table(tables, "Outcome rates").column("Judge")
    assert "<script>window.__pwned=4</script>evil|judge" in judges  # the pipe stayed inside its cell
    assert XSS_SCRIPT in _table(tables, "Warnings").rows[1][1]


def test_md_escape_neutralises_markdown_and_newlines():
    assert md_escape("a|b") == "a\\|b"
    assert md_escape("[x](javascript:alert(1))") == "\\[x\\]\\(javascript:alert\\(1\\)\\)"
    assert md_escape("line1\nline2\r\nline3") == "line1 line2 line3"
    assert md_escape("<i>&") == "&lt;i&gt;&amp;"
    assert md_escape(None) == ""


def test_markdown_of_a_big_audit_fits_a_pull_request_comment():
    audit = build_big_audit()
    for judge in audit["judges"]:  # many slices push the full text over the limit
        for k in range(600):
            audit["metrics"].append(
                {
                    "metric": "no_better_rate",
                    "judge": judge,
                    "reference": "human",
                    "value": 0.3,
                    "ci_low": 0.2,
                    "ci_high": 0.4,
                    "n": 10,
                    "slice": f"stage=s{k}",
                }
            )
    text = reports.render_markdown(audit)
    assert len(text) < PR_COMMENT_LIMIT
    assert "Left out to fit a pull-request comment" in text
    assert parse_tables(text)


def test_markdown_without_simulated_flag_has_no_banner():
    text = reports.render_markdown(build_pairwise_audit())
    assert "SIMULATED" not in text


def test_markdown_lists_the_first_key_disagreements_escaped():
    text = reports.render_markdown(xss_audit())
    section = text.split("<summary>Cases</summary>", 1)[1].split("<summary>Method</summary>", 1)[0]
    assert "First items where a judge says b is better and human says no better:" in section
    examples = [line for line in section.splitlines() if line.startswith("- ")]
    assert 1 <= len(examples) <= 5
    rendered = markdown_parser().render(section)
    assert "<img" not in rendered and "<script" not in rendered


def test_renderers_accept_an_object_with_to_dict():
    class Result:
        def to_dict(self):
            return build_pairwise_audit()

    assert reports.render_markdown(Result()) == reports.render_markdown(build_pairwise_audit())
    assert reports.headline(Result()) == reports.headline(build_pairwise_audit())
