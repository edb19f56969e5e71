"""Headlines that cannot mislead (issue 16): the tie-heavy case names the tie gap and the split votes, a p-value at
the resampling floor is a bound in every renderer, binary stages speak their own words, and rows on few clusters
are marked; on the 30-item case of :mod:`tests.auditor.engine.tie_heavy` and on the demo."""

from __future__ import annotations

import io
import json

import pytest
from mdtables import parse_tables
from rich.console import Console

import auditor
import reports
from reports.model import build_model
from reports.render.html import _plots as _html_plots
from reports.sections.base import FEW_CLUSTERS_NOTE, MARK
from tests.auditor.engine.tie_heavy import tie_heavy_items, tie_heavy_labels


@pytest.fixture(scope="module")
def tie_heavy() -> dict:
    """One item per cluster, as the issue tells it: the gaps' p-values are McNemar's exact test."""
    return auditor.audit(tie_heavy_labels(), tie_heavy_items(), task="pairwise", resamples=200).to_dict()


@pytest.fixture(scope="module")
def clustered() -> dict:
    """Two items per user: the gaps' p-values come from the bootstrap, the tie gap's at its floor 1/201."""
    return auditor.audit(tie_heavy_labels(), tie_heavy_items(2), task="pairwise", resamples=200).to_dict()


def _table(markdown: str, title: str):
    return next(t for t in parse_tables(markdown) if t.heading.startswith(title))


def test_tie_heavy_headline_names_the_tie_gap_and_the_split_votes(tie_heavy):
    lines = reports.headline(tie_heavy)
    judge = next(line for line in lines if line.startswith("judge found it no better"))
    assert "it overstates how often response b is better by 33.3 points" in judge
    assert "main difference: it says tie 63.3 points less often than humans (-63.3 [" in judge
    assert judge.endswith("b better +33.3, a better +30.0.")
    split = next(line for line in lines if "split votes" in line)
    assert split.startswith(
        "13 of the 19 human ties (43.3% of the 30 items with a human verdict) are split votes"
    )
    assert split.endswith("(aggregate: majority, tie-break `tie`).")
    assert "13 of the 19 human ties" in build_model(tie_heavy).policy  # stated with the policy too
    without = next(line for line in lines if line.startswith("Agreement with human without ties"))
    assert "judge 81.8% [" in without and "on 11 items" in without and "(with ties 30.0% [" in without
    assert "(only 11 clusters: unreliable below 30)" in without


def test_rows_with_and_without_ties_side_by_side_in_the_report(tie_heavy):
    markdown = reports.render_markdown(tie_heavy)
    assert "### Slice: ties=excluded" in markdown
    whole = _table(markdown, "Agreement with human")
    assert whole.row("judge")["Agreement"].startswith("30.0% [")
    without = markdown.split("### Slice: ties=excluded", 1)[1]
    table = _table(without, "Agreement with human")
    assert table.row("judge")["Agreement"].startswith("81.8% [")
    assert table.row("judge")["n"] == f"11 {MARK}"  # 11 clusters: marked, and the note says why
    assert (
        FEW_CLUSTERS_NOTE.replace("(", "\\(").replace(")", "\\)")
        in markdown.split("<summary>By slice</summary>", 1)[1]
    )


def _renders(audit: dict) -> dict[str, str]:
    buffer = io.StringIO()
    reports.render_terminal(audit, Console(file=buffer, width=120, color_system=None))
    saved = dict(reports.plots.ALL_PLOTS)
    reports.plots.ALL_PLOTS.clear()
    try:
        html = reports.render_html(audit)
    finally:
        reports.plots.ALL_PLOTS.update(saved)
    return {"terminal": buffer.getvalue(), "markdown": reports.render_markdown(audit), "html": html}


def test_a_floor_p_value_is_a_bound_in_every_renderer(clustered):
    row = next(r for r in clustered["metrics"] if r["metric"] == "tie_rate_gap" and r["slice"] is None)
    assert row["p_value"] == pytest.approx(1 / 201) and row["p_at_floor"] and row["p_adjusted_at_floor"]
    for name, text in _renders(clustered).items():
        text = " ".join(text.replace("&lt;", "<").split())  # the terminal wraps lines
        assert "p_adj < 0.005" in text, name  # 1/201 rounded up, as a bound
        assert "p_adj = 0.005" not in text, name  # never as an estimate
    saved = json.loads(reports.render_json(clustered))
    kept = next(r for r in saved["metrics"] if r["metric"] == "tie_rate_gap" and r["slice"] is None)
    assert kept["p_adjusted_at_floor"] is True and kept["p_at_floor"] is True


def test_demo_headline_prints_no_floor_as_an_estimate(demo_json):
    audit = json.loads((demo_json / "audit.json").read_text())
    lines = reports.headline(audit)
    floors = 0
    for row in audit["metrics"]:
        if row["metric"] != "no_better_rate_gap" or row["slice"] is not None or row["judge"] == "human":
            continue
        line = next((x for x in lines if x.startswith(f"{row['judge']} found it no better")), None)
        if line is None or not row["p_adjusted_at_floor"]:
            continue
        floors += 1
        bound = reports.format.fmt_p(row["p_adjusted"], bound=True)
        assert f"p_adj {bound}" in line and f"p_adj = {row['p_adjusted']:.3f}" not in line
    assert floors >= 3  # the simulated judges' large gaps rest on the bootstrap's floor
    assert any(
        x.startswith("Synthetic minus real items (source=synthetic - source=real): humans'") for x in lines
    )
    split = next(x for x in lines if "human ties" in x and "split votes" in x)
    # the share is of the 550 human-rated items, not of the 20,000 judged ones
    assert "of the 550 items with a human verdict) are split votes" in split
    assert any(x.startswith("Agreement with human without ties") for x in lines)
    # a likert "tie" is the neutral rating, and the breakdown says so
    assert not any("it says tie" in x for x in lines)
    assert any("main difference: it gives the neutral rating" in x for x in lines)
    assert any("main difference:" in x and "; neutral " in x for x in lines)


def test_binary_stage_speaks_its_own_words(demo_json):
    audit = json.loads((demo_json / "relevance" / "audit.json").read_text())
    lines = reports.headline(audit)
    assert any(x.startswith("Humans marked ") and " of items relevant (n = " in x for x in lines)
    assert any(x.startswith("gpt-4o marked ") and "relevant: " in x for x in lines)
    markdown = reports.render_markdown(audit)
    assert _table(markdown, "Outcome rates").header == ["Judge", "n", "Marked relevant"]
    assert _table(markdown, "Gaps to human").header == ["Judge", "n", "Marked relevant: gap"]
    assert "Win (b better)" not in markdown and "personalized response better" not in markdown
    assert build_model(audit).view.outcome_names() == {
        "win_rate": "Marked relevant",
        "loss_rate": "Not relevant",
    }
    extraction = reports.headline(json.loads((demo_json / "extraction" / "audit.json").read_text()))
    assert any(x.startswith("Humans flagged ") and " of items problematic" in x for x in extraction)
    # the gap plot shows the stage's own rate, titled and captioned in its words
    plots = {plot.key: plot for plot in _html_plots(build_model(audit).view)}
    assert plots["gaps"].title == "Marked relevant: gap per judge"
    assert (
        "the judge marked more items relevant" in plots["gaps"].caption
        and "b better" not in plots["gaps"].caption
    )
    assert reports.plots.gap_plot(audit).axes[0].get_title() == "Marked relevant: gap per judge"


def test_other_metrics_use_the_registry_and_warn_below_30_clusters(demo_json):
    audit = json.loads((demo_json / "extraction" / "audit.json").read_text())
    markdown = reports.render_markdown(audit)
    other = _table(markdown, "Other metrics")
    assert "Problematic rate" in other.column("Metric") and "problematic_rate" not in other.column("Metric")
    assert (
        other.row("Problematic rate")["Value [95% CI]"].endswith("]")
        and "%" in other.row("Problematic rate")["Value [95% CI]"]
    )
    # the per-source slices hold fewer than 30 users each: their rows are marked
    by_source = markdown.split("### Slice: source=real", 1)[1]
    few = [r for r in audit["metrics"] if r["slice"] == "source=real" and (r["n_clusters"] or 99) < 30]
    assert few and f" {MARK} |" in by_source
