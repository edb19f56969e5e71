"""Figures of a saved audit, as matplotlib ``Figure`` objects (restyle them in a notebook as you like).

Every function reads the audit dict only (or the :class:`reports.view.AuditView` of one, as the HTML report passes
it) and returns ``None`` when the audit holds nothing to draw. The figures
are built with the object API on the Agg canvas: nothing here touches pyplot's global state or opens a window.

Conventions that hold in every figure: a judge has one colour in every plot of a report (:func:`judge_colors`,
built once per list of judges); legends sit outside the data (above the axes); a judge or label name longer than
:data:`NAME_LIMIT` characters is cut in the middle (``gpt-4o…outputs@start``: the end that tells variants apart is
kept) and :func:`figure_to_svg` gives it its full name on hover (an SVG ``<title>``); tick labels are never cut
otherwise; and every figure carries a one-line caption at its foot saying what a good judge looks like on it
(:data:`CAPTIONS`, :func:`caption`).
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from reports.format import abbreviate_middle, as_float, short_names  # noqa: E402
from reports.labels import metric_label  # noqa: E402
from reports.view import AuditView, view  # noqa: E402

REFERENCE_COLOR = "#444444"
JUDGE_COLOR = (
    "#1f5fa8"  # the colour of a judge the report does not list (a score pair's or a confusion's own)
)
CEILING_COLOR = "#f2b134"
BASELINE_COLOR = "#9a9a9a"  # the trivial baselines: grey, they are context, not judges
OUTCOME_COLORS = {"win_rate": "#2e8b57", "tie_rate": "#b8b8b8", "loss_rate": "#c0504d"}
# Judges' colours, in the order of the audit's judges: distinct hues, none close to the ceiling's amber or to the
# baselines' grey; after 18 judges the list starts again.
JUDGE_PALETTE = (
    "#1f5fa8", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f00", "#393b79",
    "#637939", "#843c39", "#7b4173", "#3182bd", "#31a354", "#756bb1", "#a55194", "#0b6e4f", "#5c3c92",
)  # fmt: skip
MAX_SCATTER_POINTS = 3000  # above this a hexbin replaces the scatter
MAX_PLOT_POINTS = 500_000  # defensive cap on what one scatter panel draws
NAME_LIMIT = 30  # a tick label longer than this is cut in the middle (full name on hover in the SVG)
LABEL_LIMIT = 16  # ... and a confusion matrix's category label
HOVER_PREFIX = "auditor-name-"  # gid of a shortened label; figure_to_svg gives it a <title>

#: What a good judge looks like on each plot, one line under the figure (the gap plot's words follow the audit).
CAPTIONS = {
    "forest": "A good judge: its point inside the shaded band (humans' agreement with each other), far right of 0 "
    "(chance).",
    "gaps": "A good judge: its point on 0 and its interval across 0 ({what}).",
    "outcomes": "A good judge: its bar splits like the reference's bar on top.",
    "confusion": "A good judge: its counts on the diagonal (it gives the label the reference gives).",
    "scores": "A good judge: its points along a rising diagonal (it ranks the items as the reference does; "
    "Spearman ρ near 1).",
}


def caption(key: str, audit: Mapping[str, Any] | AuditView | None = None) -> str:
    """The one-line caption of plot ``key`` (a key of :data:`ALL_PLOTS`), in the audit's words when given."""
    text = CAPTIONS[key]
    if key != "gaps":
        return text
    v = view(audit or {})
    if v.positive_rate is None:
        what = f"it finds {v.arm_b} no better as often as {v.reference_plural} do"
    else:
        verb, positive, _ = v.positive_words
        what = f"as many items {verb} {positive} as by {v.reference_plural}"
    return text.format(what=what)


def judge_colors(audit: Mapping[str, Any] | AuditView) -> Mapping[str, str]:
    """Each judge's colour, the same in every plot of a report: the report's judges in order take the colours of
    :data:`JUDGE_PALETTE`; the trivial baselines are grey, the reference dark grey.  Built once per list of judges
    (the map is cached and read-only)."""
    v = view(audit)
    baselines = v.raw.get("baselines")
    names = baselines.get("baselines") if isinstance(baselines, Mapping) else None
    return _palette(v.reference, tuple(v.judges), tuple(str(n) for n in names or ()))


@lru_cache(maxsize=64)
def _palette(reference: str, judges: tuple[str, ...], baselines: tuple[str, ...]) -> Mapping[str, str]:
    colors: dict[str, str] = {reference: REFERENCE_COLOR}
    k = 0
    for judge in judges:
        if judge in colors:
            continue
        if judge in baselines or judge.startswith("baseline:"):
            colors[judge] = BASELINE_COLOR
            continue
        colors[judge] = JUDGE_PALETTE[k % len(JUDGE_PALETTE)]
        k += 1
    return MappingProxyType(colors)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    fig._auditor_hover = {}  # gid of a shortened label -> the full name (see figure_to_svg)
    return fig


def _short(name: str, limit: int = NAME_LIMIT) -> str:
    return abbreviate_middle(name, limit)


def _hover(fig: Figure, labels: Sequence[Any], full: Sequence[str]) -> None:
    """Give each shortened label (a matplotlib ``Text``) its full name on hover in the SVG."""
    hover = fig._auditor_hover
    for label, name in zip(labels, full, strict=False):
        if label.get_text() != name:
            gid = f"{HOVER_PREFIX}{len(hover)}"
            label.set_gid(gid)
            hover[gid] = name


def _name_ticks(ax: Any, axis: str, ticks: Any, names: Sequence[str], limit: int = NAME_LIMIT) -> list[Any]:
    """Tick labels of names: distinct, shortened in the middle beyond ``limit`` characters, full names on hover."""
    short = short_names(list(names), limit)
    (ax.set_yticks if axis == "y" else ax.set_xticks)(ticks, [short[n] for n in names])
    labels = ax.get_yticklabels() if axis == "y" else ax.get_xticklabels()
    _hover(ax.figure, labels, names)
    return labels


def _color_labels(labels: Sequence[Any], names: Sequence[str], colors: Mapping[str, str]) -> None:
    for label, name in zip(labels, names, strict=False):
        label.set_color(colors.get(name, REFERENCE_COLOR))


def _caption(fig: Figure, key: str, v: AuditView) -> None:
    """The one-line caption under the figure (constrained layout keeps room for it)."""
    fig.supxlabel(caption(key, v), fontsize="small", style="italic", color="#333333")


def _legend_outside(fig: Figure, ncol: int) -> None:
    """The figure's legend above the axes, outside the data (the caption has the foot)."""
    handles, labels = [], []
    for ax in fig.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        fig.legend(handles, labels, loc="outside upper center", ncol=ncol, frameon=False, fontsize="small")


def _forest_metrics(v: AuditView) -> list[str]:
    lead = v.primary_agreement()
    names = [lead] if lead else []
    if "krippendorff_alpha" not in names and v.present(["krippendorff_alpha"]):
        names.append("krippendorff_alpha")
    return names


def forest_plot(audit: Mapping[str, Any] | AuditView) -> Figure | None:
    """Chance-corrected agreement (κ, α) of each judge with its interval; the human ceiling as a shaded band."""
    v = view(audit)
    metrics = _forest_metrics(v)
    judges = [j for j in v.judges if any(v.metric(m, j) for m in metrics)]
    if not metrics or not judges:
        return None
    colors = judge_colors(v)
    fig = _figure(4.2 * len(metrics) + 2.0, 0.42 * len(judges) + 2.2)
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    ys = np.arange(len(judges))[::-1]
    for ax, name in zip(axes, metrics, strict=True):
        ceiling = v.own(name)
        ceiling_value = as_float(ceiling.get("value")) if ceiling else None
        if ceiling:
            lo, hi = as_float(ceiling.get("ci_low")), as_float(ceiling.get("ci_high"))
            if lo is not None and hi is not None:
                ax.axvspan(
                    lo, hi, color=CEILING_COLOR, alpha=0.3, lw=0, label=f"{v.reference} ceiling (95% CI)"
                )
            if ceiling_value is not None:
                ax.axvline(ceiling_value, color=CEILING_COLOR, lw=2, label=f"{v.reference} ceiling")
        ax.axvline(0, color="#999999", lw=0.8, ls=":")
        for y, judge in zip(ys, judges, strict=True):
            row = v.metric(name, judge)
            if not row:
                continue
            value = as_float(row.get("value"))
            lo, hi = as_float(row.get("ci_low")), as_float(row.get("ci_high"))
            color = colors.get(judge, JUDGE_COLOR)
            if lo is not None and hi is not None:
                ax.hlines(y, lo, hi, color=color, lw=2)
            if value is not None:
                ax.plot([value], [y], "o", color=color, ms=6)
        ax.set_title(metric_label(name))
        ax.set_xlabel(f"agreement with {v.reference} (1 = perfect, 0 = chance)")
        ax.set_ylim(-0.7, len(judges) - 0.3)
        _color_labels(_name_ticks(ax, "y", ys, judges), judges, colors)
        ax.grid(axis="x", alpha=0.3)
    _legend_outside(fig, ncol=2)
    _caption(fig, "forest", v)
    return fig


def outcome_bars(audit: Mapping[str, Any] | AuditView) -> Figure | None:
    """Stacked win / tie / loss shares per judge, the reference's bar on top."""
    v = view(audit)
    parts = [m for m in ("win_rate", "tie_rate", "loss_rate") if v.present([m])]
    if not parts:
        return None
    rows: list[tuple[str, str, dict[str, float]]] = []  # (name, label, shares)
    own = {m: as_float((v.own(m) or {}).get("value")) for m in parts}
    if any(value is not None for value in own.values()):
        rows.append((v.reference, f"{v.reference} (reference)", {m: x or 0.0 for m, x in own.items()}))
    for judge in v.judges:
        values = {m: as_float((v.metric(m, judge) or {}).get("value")) for m in parts}
        if any(value is not None for value in values.values()):
            rows.append((judge, judge, {m: x or 0.0 for m, x in values.items()}))
    if not rows:
        return None
    fig = _figure(9.0, 0.45 * len(rows) + 2.2)
    ax = fig.subplots()
    ys = np.arange(len(rows))[::-1]
    names = v.outcome_names()
    for name in parts:
        lefts = [sum(vals[p] for p in parts[: parts.index(name)]) for _, _, vals in rows]
        widths = [vals[name] for _, _, vals in rows]
        bars = ax.barh(ys, widths, left=lefts, color=OUTCOME_COLORS[name], label=names[name], height=0.7)
        for bar, width in zip(bars, widths, strict=True):
            if width >= 0.06:
                ax.text(
                    bar.get_x() + width / 2,
                    bar.get_y() + bar.get_height() / 2,
                    f"{width * 100:.0f}%",
                    ha="center",
                    va="center",
                    fontsize="small",
                    color="white" if name != "tie_rate" else "black",
                )
    colors = judge_colors(v)
    labels = [label for _, label, _ in rows]
    by_label = {label: colors.get(name, REFERENCE_COLOR) for name, label, _ in rows}
    _color_labels(_name_ticks(ax, "y", ys, labels), labels, by_label)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title("Outcome shares per judge")
    _legend_outside(fig, ncol=3)
    _caption(fig, "outcomes", v)
    return fig


def confusion_matrices(audit: Mapping[str, Any] | AuditView) -> Figure | None:
    """One heat map per judge: rows = reference label, columns = judge label, cells = item counts."""
    v = view(audit)
    entries = []
    for entry in v.confusion:
        counts = entry.get("counts")
        try:
            matrix = np.asarray(counts, dtype=float)
        except (TypeError, ValueError):
            continue
        if matrix.ndim != 2 or matrix.size == 0:
            continue
        categories = entry.get("categories") or v.raw.get("categories")
        labels = [str(c) for c in categories] if isinstance(categories, (list, tuple)) else []
        if len(labels) != matrix.shape[0] or len(labels) != matrix.shape[1]:
            labels = [str(i) for i in range(max(matrix.shape))]
        entries.append(
            (str(entry.get("judge", "")), str(entry.get("reference", v.reference)), matrix, labels)
        )
    if not entries:
        return None
    colors = judge_colors(v)
    ncols = min(3, len(entries))
    nrows = -(-len(entries) // ncols)
    longest = max(len(_short(x, LABEL_LIMIT)) for e in entries for x in e[3])
    size = max(3.4, 0.55 * max(len(e[3]) for e in entries) + 1.6 + 0.07 * longest)
    fig = _figure(size * ncols, size * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (judge, reference, matrix, labels) in zip(axes, entries, strict=False):
        # pcolormesh, not imshow: vector cells, so the SVG embeds no raster image.
        ax.pcolormesh(
            np.arange(matrix.shape[1] + 1) - 0.5,
            np.arange(matrix.shape[0] + 1) - 0.5,
            matrix,
            cmap="Blues",
            norm=mcolors.Normalize(vmin=0, vmax=max(matrix.max(), 1)),
            rasterized=matrix.size
            > 900,  # beyond 30 x 30 cells an embedded image is far smaller than vectors
        )
        ax.set_aspect("equal")
        ax.invert_yaxis()
        top = matrix.max() if matrix.size else 0
        if matrix.shape[0] <= 12:
            for (i, j), count in np.ndenumerate(matrix):
                ax.text(
                    j,
                    i,
                    f"{count:.0f}",
                    ha="center",
                    va="center",
                    fontsize="small",
                    color="white" if top and count > top * 0.6 else "black",
                )
        xlabels = _name_ticks(ax, "x", range(matrix.shape[1]), labels[: matrix.shape[1]], LABEL_LIMIT)
        _name_ticks(ax, "y", range(matrix.shape[0]), labels[: matrix.shape[0]], LABEL_LIMIT)
        if max((len(t.get_text()) for t in xlabels), default=0) > 4:  # long labels: slanted, never cut
            for label in xlabels:
                label.set_rotation(35)
                label.set_horizontalalignment("right")
                label.set_rotation_mode("anchor")
        ax.set_xlabel(f"{_short(judge)} label")
        ax.set_ylabel(f"{_short(reference)} label")
        title = ax.set_title(_short(judge, 36), color=colors.get(judge, JUDGE_COLOR))
        _hover(fig, [title], [judge])
    for ax in axes[len(entries) :]:
        ax.set_visible(False)
    _caption(fig, "confusion", v)
    return fig


def score_scatter(audit: Mapping[str, Any] | AuditView) -> Figure | None:
    """Each score judge against the reference score.

    Discrete against discrete: bubbles whose area is the number of items; otherwise a scatter, or a hexbin above
    ``MAX_SCATTER_POINTS`` points.
    """
    v = view(audit)
    panels = []
    for entry in v.score_pairs:
        try:
            x = np.asarray(entry.get("x") or [], dtype=float)
            y = np.asarray(entry.get("y") or [], dtype=float)
        except (TypeError, ValueError):
            continue
        if x.ndim != 1 or x.shape != y.shape:
            continue
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
        if x.size == 0:
            continue
        if x.size > MAX_PLOT_POINTS:  # defensive: an evenly spaced subset, said in the title
            step = -(-x.size // MAX_PLOT_POINTS)
            x, y = x[::step], y[::step]
        sampled = bool(entry.get("sampled")) or not keep.all()
        panels.append((str(entry.get("judge", "")), str(entry.get("reference", v.reference)), x, y, sampled))
    if not panels:
        return None
    colors = judge_colors(v)
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = _figure(4.2 * ncols, 3.8 * nrows + 0.4)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (judge, reference, x, y, sampled) in zip(axes, panels, strict=False):
        color = colors.get(judge, JUDGE_COLOR)
        levels_x, levels_y = np.unique(x), np.unique(y)
        if levels_x.size <= 12 and levels_y.size <= 12:
            # both discrete (e.g. likert against likert): one bubble per cell, its area the number of items
            cells, counts = np.unique(np.column_stack([x, y]), axis=0, return_counts=True)
            ax.scatter(
                cells[:, 0], cells[:, 1], s=counts * (900 / counts.max()), color=color, alpha=0.6, lw=0
            )
            ax.set_xticks(levels_x)
            ax.set_yticks(levels_y)
        elif x.size > MAX_SCATTER_POINTS:
            ax.hexbin(x, y, gridsize=35, cmap="Blues", mincnt=1, bins="log")
        else:
            jitter = 0.0
            if levels_x.size <= 12:  # likert-like reference: spread the columns a little
                jitter = 0.08 * (np.ptp(x) / max(levels_x.size - 1, 1) if np.ptp(x) else 1)
            offsets = np.random.default_rng(0).uniform(-jitter, jitter, x.size) if jitter else 0.0
            ax.scatter(x + offsets, y, s=8, alpha=0.45, color=color, lw=0)
        rho = v.metric("spearman", judge)
        rho_text = (
            f"  (Spearman ρ {as_float(rho.get('value')):.2f})" if rho and as_float(rho.get("value")) else ""
        )
        title = ax.set_title(_short(judge, 36) + rho_text, fontsize="medium", color=color)
        _hover(fig, [title], [judge + rho_text])
        ax.set_xlabel(f"{_short(reference)} score")
        ax.set_ylabel(f"{_short(judge)} score")
        ax.grid(alpha=0.3)
        if sampled:
            ax.text(0.01, 0.99, "sampled points", transform=ax.transAxes, va="top", fontsize="x-small")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    _caption(fig, "scores", v)
    return fig


def gap_plot(audit: Mapping[str, Any] | AuditView, metric: str | None = None) -> Figure | None:
    """Each judge's gap to the reference (judge minus reference, points) with its interval; 0 = no gap.  Default
    ``metric``: the gap the audit leads with (:attr:`AuditView.lead_gap`: the no-better rate's, or a binary
    stage's positive rate's, e.g. "Marked relevant: gap")."""
    v = view(audit)
    metric = metric or v.lead_gap
    judges = [
        j for j in v.judges if v.metric(metric, j) and as_float(v.metric(metric, j).get("value")) is not None
    ]
    if not judges:
        return None
    colors = judge_colors(v)
    scale = 100.0 if metric.endswith("_rate_gap") else 1.0
    fig = _figure(8.0, 0.42 * len(judges) + 2.0)
    ax = fig.subplots()
    ys = np.arange(len(judges))[::-1]
    for y, judge in zip(ys, judges, strict=True):
        row = v.metric(metric, judge) or {}
        value = as_float(row.get("value"))
        lo, hi = as_float(row.get("ci_low")), as_float(row.get("ci_high"))
        color = colors.get(judge, JUDGE_COLOR)
        if lo is not None and hi is not None:
            ax.hlines(y, lo * scale, hi * scale, color=color, lw=2)
        ax.plot([value * scale], [y], "o", color=color, ms=6)
    ax.axvline(0, color=REFERENCE_COLOR, lw=1)
    ax.set_ylim(-0.7, len(judges) - 0.3)
    _color_labels(_name_ticks(ax, "y", ys, judges), judges, colors)
    unit = "percentage points" if scale == 100.0 else "difference"
    label = v.outcome_label(metric)
    ax.set_xlabel(f"{label}: judge minus {v.reference} ({unit})")
    ax.set_title(f"{label} per judge")
    ax.grid(axis="x", alpha=0.3)
    _caption(fig, "gaps", v)
    return fig


def figure_to_svg(fig: Figure, salt: str = "auditor") -> str:
    """The figure as an inline ``<svg>`` element: text drawn as paths, no date, ids salted per figure, and each
    shortened name's full text as an SVG ``<title>`` (shown on hover), XML-escaped."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    hover = getattr(fig, "_auditor_hover", {})
    if hover:

        def titled(match: re.Match[str]) -> str:
            full = html.escape(hover[match.group(1)], quote=True)
            return f'<g id="{salt}-{match.group(1)}"><title>{full}</title>'

        text = re.sub(rf'<g id="({re.escape(HOVER_PREFIX)}\d+)">', titled, text)
    return text


def figure_to_png(fig: Figure, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


ALL_PLOTS = {
    "forest": forest_plot,
    "gaps": gap_plot,
    "outcomes": outcome_bars,
    "confusion": confusion_matrices,
    "scores": score_scatter,
}
