"""Plot functions: matplotlib Figures from the audit alone, None when there is nothing to draw."""

from __future__ import annotations

import re

import matplotlib
import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.figure import Figure
from report_fixtures import (
    build_extensions_audit,
    build_likert_audit,
    build_pairwise_audit,
    metric,
    xss_audit,
)

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


KEYS = dict(zip(PLOTS, ["forest", "outcomes", "confusion", "scores", "gaps"], strict=True))


def _drawn_tick_labels(ax):
    """The tick labels matplotlib draws: those of ticks inside the axes' view."""
    out = []
    for axis in (ax.xaxis, ax.yaxis):
        low, high = sorted(axis.get_view_interval())
        out += [
            t.label1 for t in axis.get_major_ticks() if low <= t.get_loc() <= high and t.label1.get_visible()
        ]
    return out


def _drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


@pytest.fixture(scope="module")
def extensions_figures():
    """Every plot of an audit with long variant names (probes), a jury and a position probe, drawn once."""
    audit = build_extensions_audit()
    return audit, {make: make(audit) for make in PLOTS}


def test_every_plot_has_a_one_line_caption_saying_what_a_good_judge_looks_like(extensions_figures):
    audit, figures = extensions_figures
    for make, fig in figures.items():
        if fig is None:
            continue
        text = fig._supxlabel.get_text()
        assert text == plots.caption(KEYS[make], audit) and text.startswith("A good judge: ")
        assert "\n" not in text
    pairwise = plots.caption("gaps", build_pairwise_audit())
    assert pairwise.endswith("(it finds response b no better as often as humans do).")
    relevance = {"task": "binary", "personalization": {"stage": "relevance"}}
    assert plots.caption("gaps", relevance).endswith("(as many items marked relevant as by humans).")


def test_legends_and_tick_labels_stay_inside_the_figure_and_off_the_data(extensions_figures):
    _, figures = extensions_figures
    for make, fig in figures.items():
        if fig is None:
            continue
        renderer = _drawn(fig)
        box = fig.bbox
        for ax in fig.axes:
            if not ax.get_visible():
                continue
            for label in _drawn_tick_labels(ax):
                if label.get_text():
                    extent = label.get_window_extent(renderer)
                    assert extent.x0 >= box.x0 - 1 and extent.x1 <= box.x1 + 1, (
                        make.__name__,
                        label.get_text(),
                    )
                    assert extent.y0 >= box.y0 - 1 and extent.y1 <= box.y1 + 1, (
                        make.__name__,
                        label.get_text(),
                    )
            assert ax.get_legend() is None  # no legend drawn over an axes' data
        for legend in fig.legends:
            extent = legend.get_window_extent(renderer)
            for ax in fig.axes:
                assert not extent.overlaps(ax.get_window_extent(renderer)), make.__name__


def test_long_variant_names_keep_their_distinguishing_end_and_the_full_name_on_hover(extensions_figures):
    _, figures = extensions_figures
    fig = figures[plots.forest_plot]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "gpt-4o…view=outputs@start" in labels and "gpt-4o|profile_view=full@start" in labels
    assert len(set(labels)) == len(labels) and all(len(label) <= plots.NAME_LIMIT for label in labels)
    svg = plots.figure_to_svg(fig, salt="forest")
    titles = re.findall(r'<g id="forest-auditor-name-\d+"><title>([^<]*)</title>', svg)
    assert "gpt-4o|profile_view=outputs@start" in titles


def test_hover_titles_are_escaped():
    audit = build_pairwise_audit()
    evil = "<script>alert(1)</script>" + "x" * 40
    audit["judges"].append(evil)
    audit["metrics"].append(metric("cohen_kappa", evil, 0.3))
    svg = plots.figure_to_svg(plots.forest_plot(audit))
    assert "<script" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;xxx" in svg


def test_a_judge_keeps_one_colour_in_every_plot_of_a_report():
    audit = build_likert_audit()
    colors = plots.judge_colors(audit)
    assert plots.judge_colors(audit) is colors  # built once per report's judges
    assert len({colors[j] for j in audit["judges"]}) == len(audit["judges"])
    judge = (
        "rm-skywork"  # in every plot: the forest, gap and outcome rows, a score panel and a confusion matrix
    )
    expected = mcolors.to_rgba(colors[judge])
    forest, gaps, scores, outcomes, confusion = (
        plots.forest_plot(audit),
        plots.gap_plot(audit),
        plots.score_scatter(audit),
        plots.outcome_bars(audit),
        plots.confusion_matrices(audit),
    )
    for fig in (forest, gaps, outcomes):  # the judge's name on the axis, and its marks
        ax = fig.axes[0]
        label = next(t for t in ax.get_yticklabels() if t.get_text() == judge)
        assert mcolors.to_rgba(label.get_color()) == expected
    for fig in (forest, gaps):
        y = next(
            t
            for t, label in zip(fig.axes[0].get_yticks(), fig.axes[0].get_yticklabels(), strict=True)
            if label.get_text() == judge
        )
        marks = [line for line in fig.axes[0].lines if list(line.get_ydata()) == [y]]
        assert marks and all(mcolors.to_rgba(m.get_color()) == expected for m in marks)
    for fig in (scores, confusion):
        title = next(ax.title for ax in fig.axes if ax.get_title().startswith(judge))
        assert mcolors.to_rgba(title.get_color()) == expected


def test_confusion_labels_are_whole_and_slanted_when_long():
    audit = build_pairwise_audit()
    audit["confusion"][0]["categories"] = ["accept", "uncertain", "reject"]
    ax = plots.confusion_matrices(audit).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["accept", "uncertain", "reject"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["accept", "uncertain", "reject"]
    assert all(t.get_rotation() == 35 for t in ax.get_xticklabels())
