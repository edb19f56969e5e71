"""The alternative annotator test step (Calderon, Reichart & Dror 2025).

``alt_test_winning_rate`` (omega), ``alt_test_pass`` (1.0 / 0.0) and ``alt_test_advantage_probability`` (rho) per
judge, and per jury of the jury step, when the reference has at least 3 raters with ids
(:mod:`auditor.stats.alt_test`); the per-rater tests go to the ``alt_test`` section.  Options: ``config.alt_test``
(epsilon, level, alignment, min_items).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from auditor.config import AuditConfig
from auditor.engine.context import AuditContext, Side
from auditor.engine.step import StepOutput
from auditor.io import json_safe
from auditor.stats import alt_test as alt
from auditor.stats.bootstrap import Estimate

DEFAULT_ALIGNMENT = {
    "pairwise": "accuracy",
    "binary": "accuracy",
    "categorical": "accuracy",
    "likert": "neg_rmse",
    "score": "neg_rmse",
}


def step(ctx: AuditContext, config: AuditConfig) -> StepOutput:
    if not config.alt_test.enabled:
        return StepOutput()
    return StepOutput(sections={"alt_test": json_safe(alt_test_rows(ctx, config, ctx.juries))})


def _no_interval(value: float, n: int) -> Estimate:
    return Estimate(float(value), np.zeros(0), None, int(n))


def rater_matrix(ctx: AuditContext) -> tuple[np.ndarray, list[str]] | None:
    """Items x reference raters (numeric label or category code, NaN where not labelled) and the raters' names;
    None without rater ids."""
    labels = ctx.t.labels
    mask = (labels["judge"] == ctx.cfg.reference).to_numpy()
    sub = labels[mask]
    if sub["rater"].isna().all():
        return None
    items = ctx.row_item[mask]
    raters = sub["rater"].fillna("unknown").astype(str).to_numpy()
    names = list(dict.fromkeys(raters.tolist()))
    col = {r: j for j, r in enumerate(names)}
    numeric = ctx.task in ("likert", "score")
    values = sub["value" if numeric else "code"].to_numpy(float)
    matrix = np.full((ctx.n_items, len(names)), np.nan)
    # the first label of a rater on an item counts (repeats are flagged by the core's integrity warnings)
    order = np.arange(len(items))[::-1]
    matrix[items[order], np.array([col[r] for r in raters[order]])] = values[order]
    return matrix, names


def alt_test_rows(
    ctx: AuditContext, config: AuditConfig, extra_sides: dict[str, Side] | None = None
) -> dict[str, Any]:
    """Add ``alt_test_*`` rows per judge (and per jury in ``extra_sides``) when the reference has at least 3
    raters; returns the ``alt_test`` section."""
    options = config.alt_test
    got = rater_matrix(ctx)
    alignment = options.alignment or DEFAULT_ALIGNMENT[ctx.task]
    section: dict[str, Any] = {
        "epsilon": options.epsilon,
        "level": options.level,
        "alignment": alignment,
        "correction": "fdr_by",
        "judges": [],
    }
    if got is None or len(got[1]) < alt.MIN_RATERS:
        section["note"] = (
            f"the alt-test needs at least {alt.MIN_RATERS} {ctx.cfg.reference} raters with rater "
            "ids; " + ("none are given" if got is None else f"found {len(got[1])}")
        )
        return section
    matrix, names = got
    for judge, side in {**ctx.sides, **(extra_sides or {})}.items():
        f = side.value if ctx.task in ("likert", "score") else np.where(side.code >= 0, side.code, np.nan)
        f = np.asarray(f, float)
        res = alt.alt_test(
            matrix,
            f,
            alignment=alignment,
            epsilon=options.epsilon,
            level=options.level,
            cluster=ctx.cluster,
            raters=names,
            min_items=options.min_items,
        )
        n = int(np.sum(np.isfinite(f) & np.isfinite(matrix).any(axis=1)))  # items with a reference label
        if res.raters:
            ctx.add("alt_test_winning_rate", judge, ctx.cfg.reference, _no_interval(res.winning_rate, n))
            ctx.add("alt_test_pass", judge, ctx.cfg.reference, _no_interval(1.0 if res.passed else 0.0, n))
            ctx.add(
                "alt_test_advantage_probability",
                judge,
                ctx.cfg.reference,
                _no_interval(res.advantage_probability, n),
            )
        section["judges"].append({"judge": judge, **res.to_dict()})
    return section
