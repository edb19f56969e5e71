"""The Markdown report: GFM tables that a parser reads back, escaped data, size within a PR comment."""

from __future__ import annotations

import json
import re

import pytest
from mdtables import markdown_parser, parse_tables
from report_fixtures import (
    XSS_SCRIPT,
    build_big_audit,
    build_likert_audit,
    build_pairwise_audit,
    metric,
    xss_audit,
)

import reports
from auditor.gates import evaluate_gates
from reports.render.markdown import PR_COMMENT_LIMIT, REPORT_URL_ENV, SUMMARY_LIMIT, md_escape, report_link

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
    assert re.findall(r"<a [^>]*>", rendered) == [
        '<a href="report.html">'
    ]  # the link to the HTML report only
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


def _summary_part(text: str) -> str:
    """What a reviewer sees without a click: everything above the first collapsed block."""
    return text.split("<details>", 1)[0]


def _assert_fits_a_comment(text: str) -> None:
    assert len(text) < PR_COMMENT_LIMIT
    assert len(_summary_part(text).encode("utf-8")) <= SUMMARY_LIMIT <= 8 * 1024
    assert text.count("<details>") == text.count("</details>")  # no block cut in the middle
    assert all(len(row) == len(t.header) for t in parse_tables(text) for row in t.rows)


@pytest.mark.parametrize("study", ["", "probes", "relevance", "extraction"])
def test_demo_markdown_has_a_short_summary_and_fits_a_comment(demo_json, study):
    audit = json.loads((demo_json / study / "audit.json").read_text(encoding="utf-8"))
    text = reports.render_markdown(audit)
    _assert_fits_a_comment(text)
    summary = _summary_part(text)
    assert "## Judges at a glance" in summary and "Tie / no-better policy" in summary
    assert "[report.html](report.html)" in summary
    glance = _table(parse_tables(summary), "Judges at a glance")
    assert glance.header[:2] == ["Judge", "n"] and len(glance.rows) >= 2
    # every detail table is collapsed: nothing but the summary table sits outside a <details> block
    outside = re.sub(r"<details>.*?</details>", "", text, flags=re.S)
    assert [t.heading for t in parse_tables(outside)] == ["Judges at a glance"]


def test_100000_item_audit_markdown_fits_a_comment(big_audit):
    text = reports.render_markdown(big_audit)
    _assert_fits_a_comment(text)
    assert "100,000 disagreement cases" in text


def test_summary_table_repeats_the_full_tables_cells_with_unbreakable_intervals():
    text = reports.render_markdown(build_likert_audit())
    tables = parse_tables(text)
    glance, outcomes, gaps = (_table(tables, h) for h in ("Judges at a glance", "Outcome rates", "Gaps to"))
    agreement = _table(tables, "Agreement with human")
    assert glance.header == ["Judge", "n", "No better", "No-better gap", "p", "κ (quadratic)"]
    for judge in ("gpt-4o", "claude-3.5", "rm-skywork"):
        row = glance.row(judge)
        assert row["No better"] == outcomes.row(judge)["No better"]
        assert gaps.row(judge)["No-better gap"] == f"{row['No-better gap']}, {row['p']}"
        assert row["κ (quadratic)"] == agreement.row(judge)["κ (quadratic)"]
    reference = glance.row("human (reference)")
    assert reference["κ (quadratic)"] == agreement.row("human raters (ceiling)")["κ (quadratic)"]
    assert reference["No-better gap"] == ""  # the reference has no gap to itself
    # in the Markdown source an estimate and its interval are joined by no-break spaces: a cell wraps only before p
    assert "| -33.6\u00a0pts\u00a0[-38.3,\u00a0-28.9] | p_adj = 3.0e-06 |" in text
    assert "[-38.3,\u00a0-28.9], p_adj =" in text  # the full gap table's cell


def test_summary_states_the_built_in_checks_and_the_gates():
    audit = build_pairwise_audit()
    rules = [{"metric": "cohen_kappa", "op": ">=", "threshold": 0.6}]
    text = reports.render_markdown(audit, gates=evaluate_gates(audit, rules))
    summary = _summary_part(text)
    assert "**Gates: ❌ 2 of 2 gate checks fail.**" in summary
    assert "- cohen\\_kappa ci\\_low = 0.463 for gpt-3.5-turbo" in summary
    passing = reports.render_markdown(
        audit, gates=evaluate_gates(audit, [{"metric": "cohen_kappa", "op": ">=", "threshold": 0.1}])
    )
    assert "**Gates: ✅ all 2 gate checks pass.**" in _summary_part(passing)
    demo = xss_audit()
    glance = _table(parse_tables(reports.render_markdown(demo)), "Judges at a glance")
    assert "<script>window.__pwned=4</script>evil|judge" in glance.column("Judge")  # escaped, one cell


def test_the_link_to_the_html_report_comes_from_the_option_or_the_environment(monkeypatch):
    audit = build_pairwise_audit()
    monkeypatch.delenv(REPORT_URL_ENV, raising=False)
    assert "[report.html](report.html)" in reports.render_markdown(audit)
    url = "https://github.com/o/r/actions/runs/1/artifacts/2"
    monkeypatch.setenv(REPORT_URL_ENV, url)
    assert f"[report.html]({url})" in reports.render_markdown(audit)
    link = report_link("https://x.test/a b(c)<d>")
    assert link == "[report.html](https://x.test/a%20b%28c%29%3Cd%3E)"  # nothing can end the link early
    with pytest.raises(ValueError, match="AUDITOR_REPORT_URL: .*http"):
        monkeypatch.setenv(REPORT_URL_ENV, "javascript:alert(1)")
        reports.render_markdown(audit)


def test_an_audit_too_big_for_a_comment_leaves_out_whole_blocks_and_links_the_html_report():
    audit = build_likert_audit()
    for k in range(1_200):  # 1,200 metrics the registry does not know: a long "Other metrics" table
        audit["metrics"].append(
            {"metric": f"custom_{k}", "judge": "gpt-4o", "reference": "human", "value": 0.5}
        )
    for judge in audit["judges"]:  # and many slices
        for k in range(200):
            audit["metrics"].append(
                {
                    "metric": "no_better_rate",
                    "judge": judge,
                    "reference": "human",
                    "value": 0.3,
                    "slice": f"s={k}",
                }
            )
    text = reports.render_markdown(audit, report_url="https://ci.test/artifact")
    _assert_fits_a_comment(text)
    closing = text.rstrip().splitlines()[-1]
    assert closing.startswith("_Left out to fit a pull-request comment: By slice, Method, Cases")
    assert "Other metrics" in closing and closing.endswith("see [report.html](https://ci.test/artifact)._")
    assert "<summary>Outcome rates</summary>" in text  # the key tables stay


def test_a_summary_with_hundreds_of_judges_keeps_its_first_rows_and_says_how_many_follow():
    audit = build_likert_audit()
    for k in range(400):
        judge = f"judge-{k:03d}-{'x' * 30}"
        audit["judges"].append(judge)
        audit["metrics"] += [
            metric("no_better_rate", judge, 0.4),
            metric("cohen_kappa_quadratic", judge, 0.4),
        ]
    text = reports.render_markdown(audit)
    _assert_fits_a_comment(text)
    glance = _table(parse_tables(_summary_part(text)), "Judges at a glance")
    shown = len(glance.rows) - 1  # the reference's row first
    assert glance.column("Judge")[:4] == ["human (reference)", "gpt-4o", "claude-3.5", "rm-skywork"]
    assert 10 < shown < 403
    assert f"{403 - shown} more judges in the full tables below." in _summary_part(text)


def test_the_summary_stays_within_8_kb_whatever_the_data_say(monkeypatch):
    audit = build_pairwise_audit()
    audit["title"] = "t" * 50_000
    audit["policy"] = {"text": "p" * 50_000}
    rules = [{"metric": "cohen_kappa", "op": ">=", "threshold": 0.9, "name": "n" * 5_000}] * 20
    monkeypatch.setenv(REPORT_URL_ENV, "https://ci.test/" + "u" * 900)
    text = reports.render_markdown(audit, gates=evaluate_gates(audit, rules))
    _assert_fits_a_comment(text)
    assert "… and 35 more failed checks" in _summary_part(text)
    monkeypatch.setenv(REPORT_URL_ENV, "https://ci.test/" + "u" * 1_000)
    with pytest.raises(ValueError, match="longer than 1,000 characters"):
        reports.render_markdown(audit)


def test_the_command_line_says_a_bad_report_url_in_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from auditor.cli.root import (
        main,
    )  # in process: the same front door as `python -m auditor`, without a start-up

    audit_json = tmp_path / "audit.json"
    audit_json.write_text(reports.render_json(build_pairwise_audit()), encoding="utf-8")
    out = tmp_path / "out"
    monkeypatch.setenv(REPORT_URL_ENV, "javascript:alert(1)")
    assert main(["report", str(audit_json), "--format", "md", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "AUDITOR_REPORT_URL" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    url = "https://github.com/o/r/actions/runs/7"
    monkeypatch.setenv(REPORT_URL_ENV, url)
    assert main(["report", str(audit_json), "--format", "md", "--out", str(out), "--quiet"]) == 0
    assert f"[report.html]({url})" in (out / "report.md").read_text(encoding="utf-8")
