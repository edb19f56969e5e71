"""Plot functions: matplotlib Figures from the audit alone, None when there is nothing to draw."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure
from report_fixtures import build_likert_audit, build_pairwise_audit, xss_audit

from reports import plots

PLOTS = [plots.forest_plot, plots.outcome_bars, plots.confusion_matrices, plots.score_scatter, plots.gap_plot]


@pytest.mark.parametrize("make", PLOTS, ids=lambda f: f.__name__)
def test_each_plot_returns_a_figure_for_a_full_audit(make):
    fig = make(build_likert_audit())
    assert isinstance(fig, Figure)
    assert fig.axes


@pytest.mark.parametrize("make", PLOTS, ids=lambda f: f.__name__)
def test_each_plot_returns_none_when_there_is_nothing_to_draw(make):
    assert make({}) is None
    assert make({"metrics": [], "confusion": [], "score_pairs": []}) is None


def test_figures_stay_out_of_pyplot_state():
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    for make in PLOTS:
        make(build_likert_audit())
    assert plt.get_fignums() == before  # object API: nothing to close, nothing shown
    assert matplotlib.get_backend().lower() == "agg"


def test_forest_plot_draws_the_ceiling_band_and_one_row_per_judge():
    fig = plots.forest_plot(build_pairwise_audit())
    ax = fig.axes[0]
    assert ax.get_title() == "Cohen's κ"
    # judges top to bottom in the audit's order
    rows = sorted(
        zip(ax.get_yticks(), [t.get_text() for t in ax.get_yticklabels()], strict=True), reverse=True
    )
    assert [name for _, name in rows] == ["gpt-3.5-turbo", "pandalm-7b"]
    bands = [p for p in ax.patches if p.get_label().startswith("human ceiling")]
    assert bands, "the human ceiling interval is drawn as a band"
    band = bands[0]
    assert round(band.get_x(), 3) == 0.844 and round(band.get_x() + band.get_width(), 3) == 0.884


def test_confusion_matrices_one_panel_per_judge_with_counts():
    fig = plots.confusion_matrices(build_pairwise_audit())
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 1
    texts = {t.get_text() for t in visible[0].texts}
    assert {"300", "334", "60"} <= texts
    assert [t.get_text() for t in visible[0].get_xticklabels()] == ["a", "tie", "b"]


def test_score_plot_uses_hexbin_for_many_continuous_points():
    audit = build_pairwise_audit()
    rng = np.random.default_rng(0)
    x = rng.normal(size=50_000)
    audit["score_pairs"] = [
        {
            "judge": "rm",
            "reference": "human",
            "x": x.tolist(),
            "y": (x + rng.normal(size=x.size)).tolist(),
            "sampled": True,
        }
    ]
    fig = plots.score_scatter(audit)
    ax = fig.axes[0]
    assert any(type(c).__name__ == "PolyCollection" for c in ax.collections)  # hexbin
    assert any(t.get_text() == "sampled points" for t in ax.texts)


def test_score_plot_ignores_malformed_pairs():
    audit = {
        "score_pairs": [
            {"judge": "a", "x": [1, 2], "y": [1]},
            {"judge": "b", "x": "oops", "y": None},
            {"judge": "c", "x": [float("nan")], "y": [1.0]},
        ]
    }
    assert plots.score_scatter(audit) is None


def test_svg_export_has_no_script_and_no_raw_data_text():
    svg = plots.figure_to_svg(plots.forest_plot(xss_audit()))
    assert svg.startswith("<svg") and "<script" not in svg.lower()
    # text is drawn as paths; matplotlib repeats it in escaped XML comments only
    assert "<script>window" not in svg
    assert "<image" not in svg  # vector only: no embedded raster, so no data: URL in the page


def test_confusion_svg_is_vector():
    svg = plots.figure_to_svg(plots.confusion_matrices(build_likert_audit()))
    assert "<image" not in svg and "data:" not in svg
