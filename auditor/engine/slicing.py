"""Slices: every metric per value of an item column, and the paired difference between values (later minus
earlier in sorted order, e.g. ``source=synthetic - source=real``) on the same bootstrap resamples.

Also the per-cluster sums the analyses feed to the shared bootstrap (:func:`cluster_sums`, :func:`ratio`)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations
from typing import Any

import numpy as np

from auditor.engine.agreement import judge_metrics, reference_rates
from auditor.engine.context import AuditContext
from auditor.errors import ConfigError
from auditor.stats.bootstrap import Estimate

MAX_SLICES = 20  # values of one column; more are not sliced
MAX_DIFFERENCE_LEVELS = 4  # values of one column between which paired differences are added

Key = tuple[str, str, str]  # (metric, judge, reference)


def slice_values(ctx: AuditContext, column: str) -> np.ndarray:
    """The item column as strings per item, ``(missing)`` for a missing value."""
    raw = ctx.t.items[column]
    return raw.astype(object).where(raw.notna(), "(missing)").astype(str).to_numpy()


def core_slices(ctx: AuditContext, column: str, agreement: bool = True) -> list[dict[str, Any]]:
    """The reference's rates and every judge's metrics per value of ``column`` and their paired differences (the
    outcome rates and gaps only when ``agreement`` is false); returns the warnings (too many values)."""
    items = ctx.t.items
    if column not in items.columns:
        raise ConfigError(
            f"cannot slice by {column!r}: the items table has no such column (columns: "
            f"{', '.join(c for c in items.columns if not c.startswith('__'))})",
            file=ctx.cfg.source,
            column="slice_by",
        )
    values = slice_values(ctx, column)
    levels = sorted(set(values.tolist()))
    if len(levels) > MAX_SLICES:
        return [
            {
                "code": "too_many_slices",
                "message": f"{column!r} has {len(levels)} values; "
                f"slices are computed for at most {MAX_SLICES}",
                "count": len(levels),
            }
        ]
    ref = ctx.ref
    found: dict[str, dict[tuple[str, str], Estimate]] = {}
    for level in levels:
        mask = values == level
        label = f"{column}={level}"
        got = {(name, ctx.cfg.reference): est for name, est in reference_rates(ctx, ref, mask, label).items()}
        for judge, side in ctx.sides.items():
            _, estimates = judge_metrics(ctx, judge, ref, side, mask, label, agreement=agreement)
            got.update({(name, judge): est for name, est in estimates.items()})
        found[level] = got
    if len(levels) > MAX_DIFFERENCE_LEVELS:
        return []
    for earlier, later in combinations(levels, 2):
        label = f"{column}={later} - {column}={earlier}"
        for key in sorted(found[later].keys() & found[earlier].keys()):
            diff = found[later][key] - found[earlier][key]
            ctx.add(key[0], key[1], ctx.cfg.reference, diff, slice=label, **ctx.test(diff))
    return []


# -- slices of an analysis's own metrics ----------------------------------------------------------------------------
def add_estimates(
    ctx: AuditContext, found: dict[Key, Estimate], slice: str | None, tested: frozenset[str] = frozenset()
) -> None:
    """Add every estimate as a row; metrics in ``tested`` get a bootstrap p-value for ``value == 0``."""
    for (metric, judge, reference), est in found.items():
        test = ctx.test(est) if metric in tested else {}
        ctx.add(metric, judge, reference, est, slice=slice, **test)


def slice_columns(ctx: AuditContext, auto: tuple[str, ...] = ("source",)) -> list[str]:
    """The config's ``slice_by`` columns and the ``auto`` columns that hold two or more values."""
    columns = list(ctx.cfg.slice_by or ())
    for column in auto:
        if column not in columns and column in ctx.t.items.columns and ctx.t.items[column].nunique() > 1:
            columns.append(column)
    return [c for c in columns if c in ctx.t.items.columns]


def over_slices(
    ctx: AuditContext,
    compute: Callable[[np.ndarray], dict[Key, Estimate]],
    tested: frozenset[str] = frozenset(),
    auto: tuple[str, ...] = ("source",),
) -> None:
    """Run ``compute(item_mask)`` on all items, per value of each slice column, and add the paired difference
    between values (later minus earlier in sorted order) for up to :data:`MAX_DIFFERENCE_LEVELS` values."""
    everything = np.ones(ctx.n_items, dtype=bool)
    add_estimates(ctx, compute(everything), None, tested)
    for column in slice_columns(ctx, auto):
        values = slice_values(ctx, column)
        levels = sorted(set(values.tolist()))
        if len(levels) > MAX_SLICES:
            continue
        found = {}
        for level in levels:
            found[level] = compute(values == level)
            add_estimates(ctx, found[level], f"{column}={level}", tested)
        if len(levels) > MAX_DIFFERENCE_LEVELS:
            continue
        for earlier, later in combinations(levels, 2):
            label = f"{column}={later} - {column}={earlier}"
            for key in [k for k in found[later] if k in found[earlier]]:
                diff = paired_difference(found[later][key], found[earlier][key])
                ctx.add(key[0], key[1], key[2], diff, slice=label, **ctx.test(diff))


def paired_difference(later: Estimate, earlier: Estimate) -> Estimate:
    """``later - earlier`` on the same resamples; a cluster that holds no data of one side leaves that side
    unchanged in the jackknife (its value, not NaN), so that slices over disjoint clusters (e.g. users with real
    vs synthetic conversations) keep a jackknife and their BCa acceleration."""
    diff = later - earlier
    if later.jack is None or earlier.jack is None:
        return diff
    in_later, in_earlier = np.isfinite(later.jack), np.isfinite(earlier.jack)
    jack = np.where(in_later, later.jack, later.value) - np.where(in_earlier, earlier.jack, earlier.value)
    occupied = in_later | in_earlier
    jack[~occupied] = np.nan
    return Estimate(diff.value, diff.boot, jack, diff.n, int(occupied.sum()))


def cluster_sums(ctx: AuditContext, idx: np.ndarray, columns: list[np.ndarray]) -> np.ndarray:
    """``(G, len(columns))`` per-cluster sums of the columns over the items ``idx``."""
    cluster = ctx.cluster[idx]
    return np.stack(
        [np.bincount(cluster, weights=np.asarray(c, float), minlength=ctx.n_clusters) for c in columns],
        axis=1,
    )


def ratio(s: np.ndarray, num: int, den: int) -> np.ndarray:
    """``s[..., num] / s[..., den]`` (NaN where the denominator is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return s[..., num] / s[..., den]
