"""Figures of a saved audit, as matplotlib ``Figure`` objects (restyle them in a notebook as you like).

Every function reads the audit dict only (or the :class:`reports.view.AuditView` of one, as the HTML report passes
it) and returns ``None`` when the audit holds nothing to draw. The figures
are built with the object API on the Agg canvas: nothing here touches pyplot's global state or opens a window.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.colors as mcolors  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from reports.format import as_float  # noqa: E402
from reports.labels import metric_label  # noqa: E402
from reports.view import AuditView, view  # noqa: E402

REFERENCE_COLOR = "#444444"
JUDGE_COLOR = "#1f5fa8"
CEILING_COLOR = "#f2b134"
OUTCOME_COLORS = {"win_rate": "#2e8b57", "tie_rate": "#b8b8b8", "loss_rate": "#c0504d"}
MAX_SCATTER_POINTS = 3000  # above this a hexbin replaces the scatter
MAX_PLOT_POINTS = 500_000  # defensive cap on what one scatter panel draws


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _short(name: str, limit: int = 28) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


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
    fig = _figure(4.2 * len(metrics) + 1.2, 0.45 * len(judges) + 1.6)
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
            if lo is not None and hi is not None:
                ax.hlines(y, lo, hi, color=JUDGE_COLOR, lw=2)
            if value is not None:
                ax.plot([value], [y], "o", color=JUDGE_COLOR, ms=6)
        ax.set_title(metric_label(name))
        ax.set_xlabel(f"agreement with {v.reference} (1 = perfect, 0 = chance)")
        ax.set_yticks(ys, [_short(j) for j in judges])
        ax.grid(axis="x", alpha=0.3)
        if ceiling_value is not None:
            ax.legend(loc="lower right", fontsize="small", frameon=False)
    return fig


def outcome_bars(audit: Mapping[str, Any] | AuditView) -> Figure | None:
    """Stacked win / tie / loss shares per judge, the reference's bar on top."""
    v = view(audit)
    parts = [m for m in ("win_rate", "tie_rate", "loss_rate") if v.present([m])]
    if not parts:
        return None
    rows: list[tuple[str, dict[str, float]]] = []
    own = {m: as_float((v.own(m) or {}).get("value")) for m in parts}
    if any(value is not None for value in own.values()):
        rows.append((f"{v.reference} (reference)", {m: x or 0.0 for m, x in own.items()}))
    for judge in v.judges:
        values = {m: as_float((v.metric(m, judge) or {}).get("value")) for m in parts}
        if any(value is not None for value in values.values()):
            rows.append((judge, {m: x or 0.0 for m, x in values.items()}))
    if not rows:
        return None
    fig = _figure(9.0, 0.5 * len(rows) + 1.6)
    ax = fig.subplots()
    ys = np.arange(len(rows))[::-1]
    names = v.outcome_names()
    for name in parts:
        lefts = [sum(vals[p] for p in parts[: parts.index(name)]) for _, vals in rows]
        widths = [vals[name] for _, vals in rows]
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
    ax.set_yticks(ys, [_short(name) for name, _ in rows])
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False, fontsize="small")
    ax.set_title("Outcome shares per judge")
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
    ncols = min(3, len(entries))
    nrows = -(-len(entries) // ncols)
    size = max(3.2, 0.55 * max(len(e[3]) for e in entries) + 1.6)
    fig = _figure(size * ncols, size * nrows)
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
        ax.set_xticks(range(matrix.shape[1]), [_short(x, 8) for x in labels[: matrix.shape[1]]])
        ax.set_yticks(range(matrix.shape[0]), [_short(x, 8) for x in labels[: matrix.shape[0]]])
        ax.set_xlabel(f"{_short(judge)} label")
        ax.set_ylabel(f"{_short(reference)} label")
        ax.set_title(_short(judge, 36))
    for ax in axes[len(entries) :]:
        ax.set_visible(False)
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
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig = _figure(4.2 * ncols, 3.8 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (judge, reference, x, y, sampled) in zip(axes, panels, strict=False):
        levels_x, levels_y = np.unique(x), np.unique(y)
        if levels_x.size <= 12 and levels_y.size <= 12:
            # both discrete (e.g. likert against likert): one bubble per cell, its area the number of items
            cells, counts = np.unique(np.column_stack([x, y]), axis=0, return_counts=True)
            ax.scatter(
                cells[:, 0], cells[:, 1], s=counts * (900 / counts.max()), color=JUDGE_COLOR, alpha=0.6, lw=0
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
            ax.scatter(x + offsets, y, s=8, alpha=0.45, color=JUDGE_COLOR, lw=0)
        rho = v.metric("spearman", judge)
        rho_text = (
            f"  (Spearman ρ {as_float(rho.get('value')):.2f})" if rho and as_float(rho.get("value")) else ""
        )
        ax.set_title(_short(judge, 36) + rho_text, fontsize="medium")
        ax.set_xlabel(f"{_short(reference)} score")
        ax.set_ylabel(f"{_short(judge)} score")
        ax.grid(alpha=0.3)
        if sampled:
            ax.text(0.01, 0.99, "sampled points", transform=ax.transAxes, va="top", fontsize="x-small")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
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
    scale = 100.0 if metric.endswith("_rate_gap") else 1.0
    fig = _figure(7.5, 0.45 * len(judges) + 1.6)
    ax = fig.subplots()
    ys = np.arange(len(judges))[::-1]
    for y, judge in zip(ys, judges, strict=True):
        row = v.metric(metric, judge) or {}
        value = as_float(row.get("value"))
        lo, hi = as_float(row.get("ci_low")), as_float(row.get("ci_high"))
        if lo is not None and hi is not None:
            ax.hlines(y, lo * scale, hi * scale, color=JUDGE_COLOR, lw=2)
        ax.plot([value * scale], [y], "o", color=JUDGE_COLOR, ms=6)
    ax.axvline(0, color=REFERENCE_COLOR, lw=1)
    ax.set_yticks(ys, [_short(j) for j in judges])
    unit = "percentage points" if scale == 100.0 else "difference"
    label = v.outcome_label(metric)
    ax.set_xlabel(f"{label}: judge minus {v.reference} ({unit})")
    ax.set_title(f"{label} per judge")
    ax.grid(axis="x", alpha=0.3)
    return fig


def figure_to_svg(fig: Figure, salt: str = "auditor") -> str:
    """The figure as an inline ``<svg>`` element: text drawn as paths, no date, ids salted per figure."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


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
