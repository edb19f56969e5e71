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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from auditor.config import AuditConfig
from auditor.engine.context import AuditContext
from auditor.engine.step import StepOutput
from auditor.io import json_safe
from auditor.metrics import PPI_RATES
from auditor.stats import ppi
from auditor.stats.bootstrap import Estimate, interval

DESIGN = (
    "labelled = items with a reference label (and the judge's); unlabelled = every item the judge labelled"
)


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    if not config.ppi.enabled:
        return StepOutput()
    return StepOutput(sections={"ppi": json_safe(ppi_rows(ctx))})


def _width(est: Estimate, ctx: AuditContext) -> float:
    if not ctx.cfg.resamples:
        return float("nan")
    lo, hi = interval(est, ctx.cfg.level, ctx.cfg.method)
    return float(hi - lo)


def _bounds(est: Estimate, ctx: AuditContext) -> list[float]:
    if not ctx.cfg.resamples:
        return [float("nan"), float("nan")]
    return [float(x) for x in interval(est, ctx.cfg.level, ctx.cfg.method)]


def ppi_rows(ctx: AuditContext) -> dict[str, Any]:
    """Add ``ppi_*`` rows for every judge that labelled items without a reference label; returns the section."""
    ref = ctx.ref
    ref_ok = ctx.usable(ref)
    section: dict[str, Any] = {"design": DESIGN, "judges": []}
    for judge, side in ctx.sides.items():
        judged = np.flatnonzero(ctx.usable(side))
        labelled = np.flatnonzero(ctx.usable(side) & ref_ok)

        def target_sums(side=side, judged=judged, labelled=labelled) -> dict[str, np.ndarray]:
            y_ind = ctx.indicators(ref, labelled) or {}
            yhat_ind = ctx.indicators(side, labelled) or {}
            u_ind = ctx.indicators(side, judged) or {}
            targets: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
            for name in PPI_RATES:
                if name in y_ind:
                    targets[name] = (y_ind[name], yhat_ind[name], u_ind[name])
            if ctx.task in ("likert", "score", "pairwise", "binary"):
                targets["mean_score"] = (ref.value[labelled], side.value[labelled], side.value[judged])
            return {
                name: ppi.cluster_sums(
                    y, yhat, ctx.cluster[labelled], yhat_u, ctx.cluster[judged], ctx.n_clusters
                )
                for name, (y, yhat, yhat_u) in targets.items()
            }

        reference_only = int(np.sum(ref_ok & ~ctx.usable(side)))
        section["judges"].append(
            judge_entry(ctx, judge, int(labelled.size), int(judged.size), reference_only, target_sums)
        )
    return section


def judge_entry(
    ctx: AuditContext,
    judge: str,
    n_labelled: int,
    n_judged: int,
    n_reference_without_judge: int,
    target_sums: Callable[[], dict[str, np.ndarray]],
) -> dict[str, Any]:
    """One judge's entry of the ``ppi`` section, adding its ``ppi_*`` rows; ``target_sums()`` gives per target
    (``win_rate``, ..., ``mean_score``) the ``(G, 30)`` per-cluster sums of :func:`auditor.stats.ppi.cluster_sums`
    (called only when the judge labelled items without a reference label)."""
    ref_name = ctx.cfg.reference
    entry: dict[str, Any] = {
        "judge": judge,
        "reference": ref_name,
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
    metrics = []
    for name, sums in target_sums().items():
        point = ppi.point(sums)
        est = ppi.ppi_estimate(sums, ctx.rs, n_judged)
        human = ppi.classical_estimate(sums, ctx.rs, n_labelled)
        ctx.add(f"ppi_{name}", judge, ref_name, est)
        judge_only = ctx.rs.sums(sums, lambda s: s[..., 1] / s[..., 0], n_judged)
        w_ppi, w_human = _width(est, ctx), _width(human, ctx)
        if not np.isfinite(w_ppi):  # no bootstrap: compare the sandwich standard errors instead
            w_ppi, w_human = np.sqrt(point["variance"]), np.sqrt(point["classical_variance"])
        eff = ppi.effective_labels(n_labelled, w_human, w_ppi)
        metrics.append(
            {
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
            }
        )
    entry["metrics"] = metrics
    return entry
