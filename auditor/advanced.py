"""Beyond agreement, inside every audit: prediction-powered estimates, the alternative annotator test, juries.

Importing this module registers :func:`run` with :func:`auditor.audit.register_extension`, so every later audit
adds these rows to ``result.metrics`` / ``audit.json`` (names as in README):

* ``ppi_win_rate``, ``ppi_no_better_rate``, ``ppi_mean_score`` (judge = the judge used as predictor, reference =
  the reference): PPI++ estimates of the *reference's* rates from the judge's verdicts on every item it labelled
  plus the reference labels on the items that have them (:mod:`auditor.stats.ppi`), intervals from the audit's
  cluster bootstrap with the power parameter re-tuned in every resample.  Added only when the judge labelled
  items that the reference did not (otherwise the estimate *is* the human one).  ``meta["ppi"]`` lists per judge
  and metric the tuned ``lam``, the labelled / unlabelled counts, both interval widths and "the judge was worth
  N extra human labels" (``extra_labels = n * (width_human / width_ppi)^2 - n``).  Valid when the labelled items
  are a random sample of the judged ones.
* ``alt_test_winning_rate`` (omega), ``alt_test_pass`` (1.0 / 0.0) and ``alt_test_advantage_probability`` (rho)
  per judge when the reference has at least 3 raters (:mod:`auditor.stats.alt_test`); per-rater tests in
  ``meta["alt_test"]``.
* ``jury:majority`` / ``jury:mean``: the judges combined, audited like one judge, and ``jury_effective_judges``
  with the error-correlation matrix in ``meta["jury"]`` (:mod:`auditor.jury`).

Settings (epsilon, alignment, which families run) live in :data:`SETTINGS`; :func:`configure` changes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from auditor.audit import AuditContext, Side, register_extension
from auditor.stats import alt_test as alt
from auditor.stats import ppi
from auditor.stats.bootstrap import Estimate, interval

PPI_METRICS = ("win_rate", "no_better_rate", "mean_score")
DEFAULT_ALIGNMENT = {"pairwise": "accuracy", "binary": "accuracy", "categorical": "accuracy", "likert": "neg_rmse",
                     "score": "neg_rmse"}


@dataclass
class AdvancedSettings:
    ppi: bool = True
    alt_test: bool = True
    jury: bool = True
    alt_test_epsilon: float = alt.DEFAULT_EPSILON
    alt_test_level: float = alt.DEFAULT_LEVEL
    alt_test_alignment: str | None = None  # None: accuracy for categorical tasks, neg_rmse for likert / score
    alt_test_min_items: int = alt.MIN_ITEMS
    jury_rules: tuple[str, ...] = ("majority", "mean")
    jury_members: tuple[str, ...] | None = None  # None: every judge (synthetic jury judges excluded)
    extra: dict[str, Any] = field(default_factory=dict)


SETTINGS = AdvancedSettings()


def configure(**changes: Any) -> AdvancedSettings:
    """Change :data:`SETTINGS` in place (e.g. ``configure(alt_test_epsilon=0.1)``); returns the old settings, so
    that ``configure(**asdict(old))`` restores them."""
    known = {f.name for f in fields(AdvancedSettings)}
    bad = set(changes) - known
    if bad:
        raise ValueError(f"unknown setting(s) {', '.join(sorted(bad))}; expected some of {', '.join(sorted(known))}")
    old = replace(SETTINGS)
    for key, value in changes.items():
        setattr(SETTINGS, key, value)
    return old


def json_safe(value: Any) -> Any:
    """Non-finite floats become ``None`` (audit.json is strict JSON); numpy scalars become Python ones."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _no_interval(value: float, n: int) -> Estimate:
    return Estimate(float(value), np.zeros(0), None, int(n))


def _width(est: Estimate, ctx: AuditContext) -> float:
    if not ctx.cfg.resamples:
        return float("nan")
    lo, hi = interval(est, ctx.cfg.level, ctx.cfg.method)
    return float(hi - lo)


# ------------------------------------------------------------------------------------------------------------
def ppi_rows(ctx: AuditContext) -> None:
    """Add ``ppi_*`` rows for every judge that labelled items without a reference label."""
    ref, ref_name = ctx.ref, ctx.cfg.reference
    ref_ok = ctx.usable(ref)
    section: dict[str, Any] = {"design": "labelled = items with a reference label (and the judge's); unlabelled "
                               "= every item the judge labelled", "judges": []}
    for judge, side in ctx.sides.items():
        judged = np.flatnonzero(ctx.usable(side))
        labelled = np.flatnonzero(ctx.usable(side) & ref_ok)
        entry: dict[str, Any] = {"judge": judge, "reference": ref_name, "n_labelled": int(labelled.size),
                                 "n_unlabelled": int(judged.size),
                                 "n_reference_without_judge": int(np.sum(ref_ok & ~ctx.usable(side)))}
        if labelled.size < 2 or judged.size == labelled.size:
            entry["note"] = ("every item the judge labelled has a reference label: the PPI estimate equals the "
                             "reference's own rate" if labelled.size >= 2 else "fewer than 2 labelled items")
            section["judges"].append(entry)
            continue
        y_ind = ctx.indicators(ref, labelled) or {}
        yhat_ind = ctx.indicators(side, labelled) or {}
        u_ind = ctx.indicators(side, judged) or {}
        targets: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        for name in ("win_rate", "no_better_rate"):
            if name in y_ind:
                targets[name] = (y_ind[name], yhat_ind[name], u_ind[name])
        if ctx.task in ("likert", "score", "pairwise", "binary"):
            targets["mean_score"] = (ref.value[labelled], side.value[labelled], side.value[judged])
        metrics = []
        for name, (y, yhat, yhat_u) in targets.items():
            sums = ppi.cluster_sums(y, yhat, ctx.cluster[labelled], yhat_u, ctx.cluster[judged], ctx.n_clusters)
            point = ppi.point(sums)
            est = ppi.ppi_estimate(sums, ctx.rs, int(judged.size))
            human = ppi.classical_estimate(sums, ctx.rs, int(labelled.size))
            ctx.add(f"ppi_{name}", judge, ref_name, est)
            w_ppi, w_human = _width(est, ctx), _width(human, ctx)
            if not np.isfinite(w_ppi):  # no bootstrap: compare the sandwich standard errors instead
                w_ppi, w_human = np.sqrt(point["variance"]), np.sqrt(point["classical_variance"])
            eff = ppi.effective_labels(int(labelled.size), w_human, w_ppi)
            metrics.append({"metric": f"ppi_{name}", "value": point["value"], "lam": point["lam"],
                            "human_only_value": point["classical_value"], "ci_width_ppi": w_ppi,
                            "ci_width_human_only": w_human, "effective_labels": eff,
                            "extra_labels": eff - labelled.size})
        entry["metrics"] = metrics
        section["judges"].append(entry)
    ctx.meta_extra["ppi"] = section


# ------------------------------------------------------------------------------------------------------------
def _rater_matrix(ctx: AuditContext) -> tuple[np.ndarray, list[str]] | None:
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


def alt_test_rows(ctx: AuditContext, extra_sides: dict[str, Side] | None = None) -> None:
    """Add ``alt_test_*`` rows per judge (and per jury in ``extra_sides``) when the reference has at least 3
    raters."""
    got = _rater_matrix(ctx)
    alignment = SETTINGS.alt_test_alignment or DEFAULT_ALIGNMENT[ctx.task]
    section: dict[str, Any] = {"epsilon": SETTINGS.alt_test_epsilon, "level": SETTINGS.alt_test_level,
                               "alignment": alignment, "correction": "fdr_by", "judges": []}
    if got is None or len(got[1]) < alt.MIN_RATERS:
        section["note"] = (f"the alt-test needs at least {alt.MIN_RATERS} {ctx.cfg.reference} raters with rater "
                           "ids; " + ("none are given" if got is None else f"found {len(got[1])}"))
        ctx.meta_extra["alt_test"] = section
        return
    matrix, names = got
    for judge, side in {**ctx.sides, **(extra_sides or {})}.items():
        f = side.value if ctx.task in ("likert", "score") else np.where(side.code >= 0, side.code, np.nan)
        f = np.asarray(f, float)
        res = alt.alt_test(matrix, f, alignment=alignment, epsilon=SETTINGS.alt_test_epsilon,
                           level=SETTINGS.alt_test_level, cluster=ctx.cluster, raters=names,
                           min_items=SETTINGS.alt_test_min_items)
        n = int(np.isfinite(f).sum())
        if res.raters:
            ctx.add("alt_test_winning_rate", judge, ctx.cfg.reference, _no_interval(res.winning_rate, n))
            ctx.add("alt_test_pass", judge, ctx.cfg.reference, _no_interval(1.0 if res.passed else 0.0, n))
            ctx.add("alt_test_advantage_probability", judge, ctx.cfg.reference,
                    _no_interval(res.advantage_probability, n))
        section["judges"].append({"judge": judge, **res.to_dict()})
    ctx.meta_extra["alt_test"] = section


# ------------------------------------------------------------------------------------------------------------
def run(ctx: AuditContext) -> None:
    """The extension: juries (audited like judges, also put to the alt-test), PPI and the alt-test."""
    juries: dict[str, Side] = {}
    if SETTINGS.jury:
        from auditor import jury

        juries = jury.jury_rows(ctx, rules=SETTINGS.jury_rules, members=SETTINGS.jury_members)
    if SETTINGS.ppi:
        ppi_rows(ctx)
    if SETTINGS.alt_test:
        alt_test_rows(ctx, juries)
    for key in ("jury", "ppi", "alt_test"):
        if key in ctx.meta_extra:
            ctx.meta_extra[key] = json_safe(ctx.meta_extra[key])


register_extension(run)
