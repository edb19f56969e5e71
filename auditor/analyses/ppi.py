"""The PPI++ step: prediction-powered estimates of the reference's rates (Angelopoulos, Duchi & Zrnic 2023).

``ppi_win_rate``, ``ppi_no_better_rate``, ``ppi_mean_score`` (judge = the judge used as predictor, reference = the
reference): the *reference's* rates from the judge's verdicts on every item it labelled plus the reference labels
on the items that have them (:mod:`auditor.stats.ppi`), intervals from the audit's cluster bootstrap with the power
parameter re-tuned in every resample.  Added only when the judge labelled items that the reference did not
(otherwise the estimate *is* the human one).  The ``ppi`` section lists per judge and metric the tuned ``lam``, the
labelled / unlabelled counts, the human-only and the judge-only (the judge's own rate on every item it judged)
estimates with their intervals, both interval widths and "the judge was worth N extra human labels"
(``extra_labels = n * (width_human / width_ppi)^2 - n``).  Valid when the labelled items are a random sample of
the judged ones.

Beside them, per rate:

- ``stratified_ppi_*`` (Fisch et al. 2024): PPI++ within each stratum with its own ``lam``, weighted by the strata's
  shares of the judged items, Wald interval (:func:`auditor.stats.ppi.stratified_ppi_mean`), when the config names
  the strata: the item column ``config.ppi.strata`` (the user column, a persona column, ...; none by default).
  Within a stratum the sampling unit is the item when the strata are the users, else the user (the cluster).
  Strata with fewer than ten labelled items are pooled, and inside the pool the user is the unit.  The shares are
  taken as known: with users as strata the estimate is for these users.
- ``rogan_gladen_win_rate`` / ``rogan_gladen_no_better_rate`` (Rogan & Gladen 1978; Lee et al. 2025): the judge's
  rate on the judged items *without* a reference label, corrected by its sensitivity and specificity on the items
  *with* one (:mod:`auditor.stats.misclassification`); the row's interval is the audit's cluster bootstrap, and the
  section gives Lee et al.'s analytic interval (independent items) beside it.
- ``confidence_driven_*`` (Gligoric et al. 2025), when the items carry an ``inclusion_probability`` column (as
  ``auditor plan --select-out`` writes it for the items it chose): the labelled items were drawn with those
  probabilities, so the estimate weights their errors by ``1 / pi``
  (:func:`auditor.stats.confidence_driven.confidence_driven_mean`, Wald interval over the selection); the
  ``ppi_*`` rows, which assume a uniformly random labelled sample, are then flagged in the section.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.engine.context import AuditContext, direct_row
from auditor.engine.step import StepOutput
from auditor.errors import ConfigError, InputError
from auditor.io import json_safe
from auditor.metrics import PPI_RATES, ROGAN_GLADEN_RATES
from auditor.stats import confidence_driven, misclassification, ppi
from auditor.stats.bootstrap import Estimate, interval

DESIGN = (
    "labelled = items with a reference label (and the judge's); unlabelled = every item the judge labelled"
)


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    if not config.ppi.enabled:
        return StepOutput()
    return StepOutput(sections={"ppi": json_safe(ppi_rows(ctx, config.ppi.strata))})


def _width(est: Estimate, ctx: AuditContext) -> float:
    if not ctx.cfg.resamples:
        return float("nan")
    lo, hi = interval(est, ctx.cfg.level, ctx.cfg.method)
    return float(hi - lo)


def _bounds(est: Estimate, ctx: AuditContext) -> list[float]:
    if not ctx.cfg.resamples:
        return [float("nan"), float("nan")]
    return [float(x) for x in interval(est, ctx.cfg.level, ctx.cfg.method)]


def strata_of(ctx: AuditContext, column: str | None) -> tuple[str | None, np.ndarray | None, np.ndarray]:
    """The strata column's name, its value per item (None: no strata) and the sampling unit per item inside a
    stratum (the item when the strata are the users, else the cluster; the pooled small strata always by cluster)."""
    items = ctx.t.items
    if column is None:
        return None, None, ctx.cluster
    if column not in items.columns:
        raise ConfigError(
            f"stratified PPI: the items have no column {column!r}", file=ctx.cfg.source, column="ppi.strata"
        )
    values = items[column].astype(object).where(items[column].notna(), "(missing)").astype(str).to_numpy()
    return column, values, np.arange(ctx.n_items) if column == ctx.cfg.cluster else ctx.cluster


def stratified_entry(
    ctx: AuditContext, name: str, judge: str, strata: tuple[str | None, np.ndarray | None, np.ndarray], arrays
) -> dict[str, Any] | None:
    """The stratified PPI++ row and its section entry (None when there is at most one stratum)."""
    column, values, unit = strata
    y, yhat, yhat_u, labelled, judged = arrays
    if values is None:
        return None
    r = ppi.stratified_ppi_mean(
        y,
        yhat,
        yhat_u,
        values[labelled],
        values[judged],
        cluster=unit[labelled],
        cluster_unlabelled=unit[judged],
        pooled_cluster=ctx.cluster[labelled],
        pooled_cluster_unlabelled=ctx.cluster[judged],
        level=ctx.cfg.level,
    )
    if r.n_strata < 2:
        return {
            "by": column,
            "n_strata": r.n_strata,
            "note": "fewer than 2 strata with 10 or more labelled items (the others are pooled)",
        }
    _add_interval_row(ctx, f"stratified_ppi_{name}", judge, r, judged.size)
    return {
        "by": column,
        "value": r.value,
        "ci": [r.ci_low, r.ci_high],
        "se": r.se,
        "n_strata": r.n_strata,
        "n_pooled": r.n_pooled,
        "interval": "Wald, strata shares as known",
    }


def rogan_gladen_entry(ctx: AuditContext, name: str, judge: str, y, yhat, yhat_test, labelled, test) -> dict:
    """The Rogan-Gladen row (cluster bootstrap) and its section entry with Lee et al.'s analytic interval."""
    y, yhat, yhat_test = (np.asarray(a, bool) for a in (y, yhat, yhat_test))
    r = misclassification.rogan_gladen(yhat_test, y, yhat, level=ctx.cfg.level)
    entry = {
        "value": r.value,
        "analytic_ci": [r.ci_low, r.ci_high],
        "judge_rate": r.judge_rate,
        "sensitivity": r.sensitivity,
        "specificity": r.specificity,
        "n_test": r.n_test,
        "n_calibration_positive": r.n_calibration_positive,
        "n_calibration_negative": r.n_calibration_negative,
    }
    if not r.identified or min(r.n_calibration_positive, r.n_calibration_negative) == 0:
        entry["note"] = (
            "sensitivity + specificity <= 1 (or a class missing from the labelled items): no correction"
        )
        return entry
    g = ctx.n_clusters
    c_l, c_t = ctx.cluster[labelled], ctx.cluster[test]
    per_cluster = np.column_stack(
        [
            np.bincount(c_t, minlength=g),
            np.bincount(c_t, weights=yhat_test, minlength=g),
            np.bincount(c_l, weights=y, minlength=g),
            np.bincount(c_l, weights=y & yhat, minlength=g),
            np.bincount(c_l, weights=~y, minlength=g),
            np.bincount(c_l, weights=~y & ~yhat, minlength=g),
        ]
    ).astype(float)

    def corrected(s: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return misclassification.rogan_gladen_point(
                s[..., 1] / s[..., 0], s[..., 5] / s[..., 4], s[..., 3] / s[..., 2]
            )

    est = ctx.rs.sums(per_cluster, corrected, int(test.size))
    ctx.add(f"rogan_gladen_{name}", judge, ctx.cfg.reference, est)
    entry["ci"] = _bounds(est, ctx)
    return entry


INCLUSION = "inclusion_probability"


def inclusion_probabilities(ctx: AuditContext) -> np.ndarray | None:
    """Per item, the probability it was chosen for a reference label (the items' ``inclusion_probability`` column;
    None without one).  A labelled item needs one in (0, 1]: checked where it is used."""
    items = ctx.t.items
    if INCLUSION not in items.columns:
        return None
    return pd.to_numeric(items[INCLUSION], errors="coerce").to_numpy(float)


def confidence_driven_entry(
    ctx: AuditContext, name: str, judge: str, pi: np.ndarray, y, yhat_u, labelled, judged
) -> dict[str, Any]:
    """The inverse-probability-weighted row and its section entry."""
    bad = ~((pi[labelled] > 0) & (pi[labelled] <= 1))
    if bad.any():
        item = ctx.item_pos[labelled[np.flatnonzero(bad)[0]]]
        raise InputError(
            f"item {item!r} has a reference label but no inclusion probability in (0, 1]", column=INCLUSION
        )
    position = np.searchsorted(judged, labelled)
    chosen = np.zeros(judged.size, bool)
    chosen[position] = True
    y_all = np.full(judged.size, np.nan)
    y_all[position] = np.asarray(y, float)
    r = confidence_driven.confidence_driven_mean(
        np.asarray(yhat_u, float), y_all, chosen, np.where(chosen, pi[judged], 1.0), level=ctx.cfg.level
    )
    _add_interval_row(ctx, f"confidence_driven_{name}", judge, r, judged.size)
    return {"value": r.value, "ci": [r.ci_low, r.ci_high], "se": r.se, "n_labelled": r.n_labelled}


def ppi_rows(ctx: AuditContext, strata_column: str | None = None) -> dict[str, Any]:
    """Add ``ppi_*``, ``stratified_ppi_*`` and ``rogan_gladen_*`` rows for every judge that labelled items without a
    reference label; returns the section."""
    ref, ref_name = ctx.ref, ctx.cfg.reference
    ref_ok = ctx.usable(ref)
    strata = strata_of(ctx, strata_column)
    pi = inclusion_probabilities(ctx)
    section: dict[str, Any] = {"design": DESIGN, "strata": strata[0], "judges": []}
    if pi is not None:
        section["selection"] = (
            "the labelled items were chosen with the items' inclusion_probability: read confidence_driven_*; "
            "the ppi_*, stratified_ppi_* and rogan_gladen_* rows assume a uniformly random labelled sample"
        )
    for judge, side in ctx.sides.items():
        usable = ctx.usable(side)
        judged = np.flatnonzero(usable)
        labelled = np.flatnonzero(usable & ref_ok)
        entry = judge_entry(
            judge, ref_name, int(labelled.size), int(judged.size), int(np.sum(ref_ok & ~usable))
        )
        if "note" in entry:
            section["judges"].append(entry)
            continue
        y_ind = ctx.indicators(ref, labelled) or {}
        yhat_ind = ctx.indicators(side, labelled) or {}
        u_ind = ctx.indicators(side, judged) or {}
        targets: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name in PPI_RATES:
            if name in y_ind:
                targets[name] = (y_ind[name], yhat_ind[name], u_ind[name])
        if ctx.task in ("likert", "score", "pairwise", "binary"):
            targets["mean_score"] = (ref.value[labelled], side.value[labelled], side.value[judged])
        metrics = []
        unlabelled = ~ref_ok[judged]  # of the judged items, those without a reference label
        test = judged[unlabelled]
        for name, (y, yhat, yhat_u) in targets.items():
            sums = ppi.cluster_sums(
                y, yhat, ctx.cluster[labelled], yhat_u, ctx.cluster[judged], ctx.n_clusters
            )
            metrics.append(ppi_metric(ctx, name, judge, sums, int(judged.size), int(labelled.size)))
            stratified = stratified_entry(ctx, name, judge, strata, (y, yhat, yhat_u, labelled, judged))
            if stratified is not None:
                metrics[-1]["stratified"] = stratified
            if pi is not None:
                metrics[-1]["confidence_driven"] = confidence_driven_entry(
                    ctx, name, judge, pi, y, yhat_u, labelled, judged
                )
            if name in ROGAN_GLADEN_RATES:
                metrics[-1]["rogan_gladen"] = rogan_gladen_entry(
                    ctx, name, judge, y, yhat, u_ind[name][unlabelled], labelled, test
                )
        entry["metrics"] = metrics
        section["judges"].append(entry)
    return section


def judge_entry(
    judge: str, reference: str, n_labelled: int, n_judged: int, n_reference_without_judge: int
) -> dict[str, Any]:
    """One judge's entry of the ``ppi`` section before its metrics: the counts, and a ``note`` when there is
    nothing to estimate (every judged item has a reference label, or fewer than 2 do)."""
    entry: dict[str, Any] = {
        "judge": judge,
        "reference": reference,
        "n_labelled": n_labelled,
        "n_unlabelled": n_judged,
        "n_reference_without_judge": n_reference_without_judge,
    }
    if n_labelled < 2 or n_judged == n_labelled:
        entry["note"] = (
            "every item the judge labelled has a reference label: the PPI estimate equals the "
            "reference's own rate"
            if n_labelled >= 2
            else "fewer than 2 labelled items"
        )
    return entry


def ppi_metric(
    ctx: AuditContext, name: str, judge: str, sums: np.ndarray, n_judged: int, n_labelled: int
) -> dict[str, Any]:
    """Add the ``ppi_<name>`` row of ``judge`` from its ``(G, 30)`` per-cluster sums
    (:func:`auditor.stats.ppi.cluster_sums`) and return its entry in the ``ppi`` section (also used by the
    out-of-core engine, :mod:`auditor.engine.outofcore`)."""
    point = ppi.point(sums)
    est = ppi.ppi_estimate(sums, ctx.rs, n_judged)
    human = ppi.classical_estimate(sums, ctx.rs, n_labelled)
    ctx.add(f"ppi_{name}", judge, ctx.cfg.reference, est)
    judge_only = ctx.rs.sums(sums, lambda s: s[..., 1] / s[..., 0], n_judged)
    w_ppi, w_human = _width(est, ctx), _width(human, ctx)
    if not np.isfinite(w_ppi):  # no bootstrap: compare the sandwich standard errors instead
        w_ppi, w_human = np.sqrt(point["variance"]), np.sqrt(point["classical_variance"])
    eff = ppi.effective_labels(n_labelled, w_human, w_ppi)
    return {
        "metric": f"ppi_{name}",
        "value": point["value"],
        "lam": point["lam"],
        "human_only_value": point["classical_value"],
        "human_only_ci": _bounds(human, ctx),
        "judge_only_value": judge_only.value,
        "judge_only_ci": _bounds(judge_only, ctx),
        "ci_width_ppi": w_ppi,
        "ci_width_human_only": w_human,
        "effective_labels": eff,
        "extra_labels": eff - n_labelled,
        "tuning": "cluster",
    }


def _add_interval_row(ctx: AuditContext, metric: str, judge: str, r: Any, n: int) -> None:
    """A row of an estimate with its own interval (``r.value``, ``r.ci_low``, ``r.ci_high``): no p-value, the
    whole sample."""
    ctx.add_direct(
        [direct_row(metric, judge, ctx.cfg.reference, r.value, r.ci_low, r.ci_high, n, None, None)]
    )
