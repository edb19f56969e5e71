"""Label budget: how many human labels for an interval of half-width ``h`` on the no-better rate?

Human-only: the share ``p`` of ``n`` labelled items has variance ``deff * p (1 - p) / n``, so

    n_human = deff * z^2 p (1 - p) / h^2.

PPI++ in the audit's design (the judge labels ``N`` items, humans a random ``n`` of them; see
:mod:`auditor.stats.ppi`): with ``Y`` the human and ``Yhat`` the judge's no-better indicator,

    Var = deff * ( (s_Y^2 - 2 lam c + lam^2 s_Yhat^2) / n + (2 lam c - lam^2 s_Yhat^2) / N ),

``c = Cov(Y, Yhat)``, minimised by ``lam = c / s_Yhat^2`` (clipped to ``[0, 1]``); for equal rates this is
``p (1 - p) ((1 - rho^2) / n + rho^2 / N)`` with ``rho`` the phi coefficient between human and judge.  So

    n_ppi = (s_Y^2 - 2 lam c + lam^2 s_Yhat^2) / (h^2 / (deff z^2) - (2 lam c - lam^2 s_Yhat^2) / N),

which needs ``h`` above the floor the judge's own noise sets on ``N`` items (``n_ppi = None`` otherwise).
``deff`` is the design effect of clustering (users), read from a pilot as the squared ratio of its clustered
interval width to the independent-items one (at least 1), or stated; a pilot's design effect carries over to a
study with about as many items per user as the pilot had, and it is applied to the PPI variance as well (an
approximation: the judge's errors may cluster less, or more, than the human labels).

Inputs: the human rate, the judge's rate and their agreement on the no-better call (or the correlation ``rho``),
stated or read from a pilot ``audit.json`` (its confusion matrices hold the joint table).

Rogan-Gladen (:mod:`auditor.stats.misclassification`): the judge's sensitivity ``q1`` and specificity ``q0`` on the
no-better call follow from the same joint table, and with ``m`` labelled items (a random calibration sample: ``m p``
human positives) and the judge's rate ``q`` on ``N`` judged items the delta-method variance is
``deff (q (1 - q) / N + ((1 - p) q0 (1 - q0) + p q1 (1 - q1)) / m) / (q0 + q1 - 1)^2``, so

    m_rg = ((1 - p) q0 (1 - q0) + p q1 (1 - q1)) / (h^2 (q0 + q1 - 1)^2 / (deff z^2) - q (1 - q) / N).

Stratified PPI: from a pilot audit only (its ``ppi`` section holds the stratified estimate's standard error on
``n`` labels), scaled as ``1 / n``: ``n_strat = n_pilot (z se_pilot / h)^2``, for a study with the pilot's mix of
strata and share of labelled items.

Confidence-driven selection (:mod:`auditor.stats.confidence_driven`): with the judge's verdicts and confidences on
the items to be labelled, the expected half-width for a label budget under confidence-driven and under uniform
random selection, and the budget each needs for ``h``; :func:`select_items` draws the items.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtri

from auditor.metrics import outcome_categories


@dataclass
class LabelPlan:
    judge: str | None
    rate: float  # human no-better rate p
    judge_rate: float | None
    agreement: float | None
    correlation: float  # phi between the human and the judge's no-better indicators
    half_width: float
    level: float
    design_effect: float
    judged_items: int | None  # N; None = as many as needed (the judge's noise vanishes)
    lam: float
    human_only: int
    ppi: int | None  # None: the half-width cannot be reached with N judged items
    ppi_floor_half_width: float  # the smallest half-width PPI reaches with N judged items (0 when N is None)
    sensitivity: float | None = None  # q1 = P(judge no better | human no better)
    specificity: float | None = None  # q0 = P(judge better | human better)
    rogan_gladen: int | None = None  # labels for the Rogan-Gladen rate (None: not reachable, or q0 + q1 <= 1)
    stratified: int | None = None  # labels for stratified PPI (from a pilot's stratified estimate; else None)
    stratified_by: str | None = None

    @property
    def labels_saved(self) -> int | None:
        return None if self.ppi is None else self.human_only - self.ppi


def correlation_from_rates(rate: float, judge_rate: float, agreement: float) -> float:
    """Phi coefficient of two 0/1 indicators from their rates and the share of items where they agree:
    ``P(both 1) = (agreement + p + q - 1) / 2``, ``phi = (P(both 1) - p q) / sqrt(p (1-p) q (1-q))``."""
    p, q = rate, judge_rate
    both = (agreement + p + q - 1.0) / 2.0
    if not (max(0.0, p + q - 1.0) - 1e-12 <= both <= min(p, q) + 1e-12):
        raise ValueError(f"agreement {agreement} is impossible with rates {p} and {q}")
    denom = math.sqrt(p * (1 - p) * q * (1 - q))
    return 0.0 if denom == 0 else (both - p * q) / denom


def sensitivity_specificity(rate: float, judge_rate: float, correlation: float) -> tuple[float, float]:
    """``(q1, q0)`` of the judge's no-better call: ``P(both 1) = phi sqrt(p(1-p) q(1-q)) + p q``,
    ``q1 = P(both 1) / p``, ``q0 = P(both 0) / (1 - p)`` with ``P(both 0) = 1 - p - q + P(both 1)``."""
    p, q = rate, judge_rate
    both = correlation * math.sqrt(p * (1 - p) * q * (1 - q)) + p * q
    return both / p, (1.0 - p - q + both) / (1.0 - p)


def rogan_gladen_labels(
    rate: float,
    judge_rate: float,
    sensitivity: float,
    specificity: float,
    half_width: float,
    *,
    judged_items: int | None = None,
    level: float = 0.95,
    design_effect: float = 1.0,
) -> int | None:
    """Labels for a Rogan-Gladen interval of half-width ``half_width`` (module docstring); None when the judge is
    no better than chance (``q0 + q1 <= 1``) or its own noise on ``judged_items`` already exceeds it."""
    youden = sensitivity + specificity - 1.0
    if youden <= 0:
        return None
    z = float(ndtri(0.5 + level / 2.0))
    per_label = (1 - rate) * specificity * (1 - specificity) + rate * sensitivity * (1 - sensitivity)
    room = half_width**2 * youden**2 / (design_effect * z**2)
    if judged_items is not None:
        room -= judge_rate * (1 - judge_rate) / judged_items
    if room <= 0:
        return None
    m = math.ceil(per_label / room - 1e-9)
    return None if judged_items is not None and m > judged_items else max(m, 1)


def plan_labels(
    rate: float,
    half_width: float,
    *,
    judge_rate: float | None = None,
    agreement: float | None = None,
    correlation: float | None = None,
    judged_items: int | None = None,
    level: float = 0.95,
    design_effect: float = 1.0,
    judge: str | None = None,
) -> LabelPlan:
    """Human labels needed for a ``level`` interval of half-width ``half_width`` on the no-better rate.

    Give the judge's ``judge_rate`` and ``agreement`` (share of items where judge and humans make the same
    no-better call), or ``correlation`` (phi; the judge's rate then defaults to the human rate).

    Examples
    --------
    >>> plan = plan_labels(0.5, 0.05, correlation=0.8)
    >>> plan.human_only, plan.ppi
    (385, 139)
    """
    if not 0 < rate < 1:
        raise ValueError(f"rate must lie strictly between 0 and 1, got {rate}")
    if half_width <= 0:
        raise ValueError(f"half_width must be positive, got {half_width}")
    if correlation is None:
        if judge_rate is None or agreement is None:
            raise ValueError("give the judge's rate and agreement, or the correlation")
        correlation = correlation_from_rates(rate, judge_rate, agreement)
    q = rate if judge_rate is None else judge_rate
    z = float(ndtri(0.5 + level / 2.0))
    var_y, var_yhat = rate * (1 - rate), q * (1 - q)
    cov = correlation * math.sqrt(var_y * var_yhat)
    lam = float(np.clip(cov / var_yhat, 0.0, 1.0)) if var_yhat > 0 else 0.0
    per_label = var_y - 2 * lam * cov + lam**2 * var_yhat
    per_judged = 2 * lam * cov - lam**2 * var_yhat
    budget = half_width**2 / (design_effect * z**2)
    human_only = math.ceil(var_y / budget - 1e-9)
    if judged_items is None:
        ppi, floor = math.ceil(per_label / budget - 1e-9), 0.0
    else:
        floor = z * math.sqrt(design_effect * max(per_judged, 0.0) / judged_items)
        room = budget - per_judged / judged_items
        ppi = math.ceil(per_label / room - 1e-9) if room > 0 else None
        if ppi is not None and ppi > judged_items:
            ppi = None  # more labels than judged items: label them all and the judge adds nothing
    sens, spec = sensitivity_specificity(rate, q, correlation)
    rogan = rogan_gladen_labels(
        rate, q, sens, spec, half_width, judged_items=judged_items, level=level, design_effect=design_effect
    )
    return LabelPlan(
        judge,
        float(rate),
        None if judge_rate is None else float(judge_rate),
        agreement,
        float(correlation),
        float(half_width),
        float(level),
        float(design_effect),
        judged_items,
        lam,
        human_only,
        ppi,
        floor,
        float(sens),
        float(spec),
        rogan,
    )


def _no_better_set(doc: dict[str, Any], categories: list[str]) -> list[bool]:
    counted = outcome_categories(doc, categories, "no_better_rate")
    if counted is None:
        raise ValueError(f"a {doc.get('task')} audit has no no-better rate to plan for")
    return counted


def pilot_rates(doc: dict[str, Any]) -> dict[str, Any]:
    """From a pilot audit: the reference's no-better rate, its design effect, and per judge the rate and the
    agreement on the no-better call (from the confusion matrix, rows = reference, columns = judge)."""
    ref = doc["reference"]
    level = float((doc.get("bootstrap") or {}).get("level", 0.95))
    rows = [
        m
        for m in doc["metrics"]
        if m["metric"] == "no_better_rate"
        and m["judge"] == ref
        and m["reference"] == ref
        and not m.get("slice")
    ]
    if not rows:
        raise ValueError(f"the pilot has no no_better_rate row for the reference {ref!r}")
    row = rows[0]
    p, n = float(row["value"]), int(row["n"])
    deff = 1.0
    if row.get("ci_low") is not None and row.get("ci_high") is not None and 0 < p < 1:
        z = float(ndtri(0.5 + level / 2.0))
        iid = 2 * z * math.sqrt(p * (1 - p) / n)
        deff = max(1.0, ((float(row["ci_high"]) - float(row["ci_low"])) / iid) ** 2)
    judges = {}
    for conf in doc.get("confusion", []):
        counts = np.asarray(conf["counts"], float)
        nb = np.asarray(_no_better_set(doc, list(conf["categories"])))
        total = counts.sum()
        if total == 0:
            continue
        both_nb = counts[np.ix_(nb, nb)].sum()
        both_better = counts[np.ix_(~nb, ~nb)].sum()
        judges[conf["judge"]] = {
            "judge_rate": counts[:, nb].sum() / total,
            "agreement": (both_nb + both_better) / total,
            "n": int(total),
            "reference_rate_on_same_items": counts[nb, :].sum() / total,
        }
    return {"rate": p, "n": n, "design_effect": deff, "level": level, "judges": judges}


def plan_from_audit(
    doc: dict[str, Any] | str | Path,
    half_width: float,
    *,
    judged_items: int | None = None,
    level: float | None = None,
    judges: list[str] | None = None,
) -> list[LabelPlan]:
    """One :class:`LabelPlan` per judge of a pilot ``audit.json`` (a dict or a path; a path is read and validated
    as ``report`` and ``gate`` read it, :meth:`auditor.result.AuditResult.load`)."""
    if not isinstance(doc, dict):
        from auditor.result import AuditResult

        doc = AuditResult.load(Path(doc)).to_dict()
    pilot = pilot_rates(doc)
    pilot["stratified"] = pilot_stratified(doc)
    level = pilot["level"] if level is None else level
    plans = []
    for name, j in pilot["judges"].items():
        if judges and name not in judges:
            continue
        # the joint table is the one on the items both labelled: take both rates from it
        p = j["reference_rate_on_same_items"]
        corr = correlation_from_rates(p, j["judge_rate"], j["agreement"])
        plan = plan_labels(
            pilot["rate"],
            half_width,
            judge_rate=j["judge_rate"],
            correlation=corr,
            judged_items=judged_items,
            level=level,
            design_effect=pilot["design_effect"],
            judge=name,
        )
        plan.agreement = j["agreement"]
        stratified = pilot["stratified"].get(name)
        if stratified is not None:
            z = float(ndtri(0.5 + level / 2.0))
            plan.stratified = math.ceil(stratified["n"] * (z * stratified["se"] / half_width) ** 2 - 1e-9)
            plan.stratified_by = stratified["by"]
        plans.append(plan)
    return plans


def pilot_stratified(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per judge, the pilot's stratified PPI no-better rate: its standard error, labelled items and strata."""
    out = {}
    for entry in (doc.get("ppi") or {}).get("judges") or []:
        for m in entry.get("metrics") or []:
            stratified = m.get("stratified") or {}
            if m.get("metric") == "ppi_no_better_rate" and stratified.get("se") is not None:
                out[entry["judge"]] = {
                    "se": float(stratified["se"]),
                    "n": int(entry["n_labelled"]),
                    "by": stratified.get("by"),
                }
    return out


# -- confidence-driven selection -----------------------------------------------------------------------------
@dataclass
class SelectionPlan:
    """Confidence-driven against uniform random selection of the items humans label, for one judge."""

    judge: str
    n_items: int
    budget: int | None
    uniform_share: float
    level: float
    half_width_confidence: float | None  # expected half-width with the budget, confidence-driven
    half_width_uniform: float | None  # ... and with uniform random selection
    target_half_width: float
    labels_confidence: int  # budget for the target half-width, confidence-driven
    labels_uniform: int  # ... uniform random


def verdict_confidence(frame: Any, task: str, judge: str | None = None) -> tuple[str, Any]:
    """From a judged file (``item_id, judge, label`` and ``probabilities`` (JSON, label -> probability, as ``auditor
    judge`` writes) or ``confidence``): one judge's no-better verdict and the probability it is right, one row per item
    (the item's first row).  Returns ``(judge, DataFrame[item_id, no_better, confidence, uncertainty])``.  With
    ``probabilities`` the confidence is the probability mass on the verdict's side of the no-better call; a
    ``confidence`` column is taken as that probability."""
    import json

    import pandas as pd

    names = sorted(frame["judge"].astype(str).unique())
    if judge is None:
        if len(names) != 1:
            raise ValueError(
                f"the judged file holds several judges ({', '.join(names)}): name one with --judge"
            )
        judge = names[0]
    rows = frame[frame["judge"].astype(str) == judge]
    if rows.empty:
        raise ValueError(f"no rows of judge {judge!r}; the file holds {', '.join(names)}")
    rows = rows[rows["label"].notna()].drop_duplicates("item_id", keep="first")
    labels = rows["label"].astype(str).tolist()
    categories = sorted(set(labels))
    doc = {"task": task}
    no_better = dict(zip(categories, _no_better_set(doc, categories), strict=True))
    verdict = np.array([no_better[label] for label in labels])
    if "confidence" in rows.columns:
        confidence = pd.to_numeric(rows["confidence"], errors="coerce").to_numpy(float)
    elif "probabilities" in rows.columns:
        confidence = np.full(len(rows), np.nan)
        for i, (text, nb) in enumerate(zip(rows["probabilities"], verdict, strict=True)):
            if isinstance(text, str) and text:
                try:
                    probs = {str(k): float(v) for k, v in json.loads(text).items()}
                except (ValueError, TypeError, AttributeError):
                    item = rows["item_id"].iloc[i]
                    raise ValueError(
                        f"item {item!r}: probabilities is not a JSON object of numbers"
                    ) from None
                mass = sum(v for k, v in probs.items() if no_better.get(k))
                total = sum(probs.values())
                if total > 0:
                    confidence[i] = mass / total if nb else 1.0 - mass / total
    else:
        raise ValueError("the judged file needs a 'probabilities' or a 'confidence' column")
    bad = ~np.isfinite(confidence) | (confidence < 0) | (confidence > 1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"item {rows['item_id'].iloc[first]!r} has no confidence in [0, 1]")
    out = pd.DataFrame(
        {
            "item_id": rows["item_id"].to_numpy(),
            "label": labels,
            "no_better": verdict.astype(int),
            "confidence": confidence,
            "uncertainty": 1.0 - confidence,
        }
    )
    return judge, out


def plan_selection(
    uncertainty: np.ndarray,
    half_width: float,
    *,
    budget: int | None = None,
    level: float = 0.95,
    uniform_share: float = 0.1,
    judge: str = "",
) -> SelectionPlan:
    """Expected half-widths for ``budget`` labels and the labels needed for ``half_width``, confidence-driven and
    uniform (:mod:`auditor.stats.confidence_driven`)."""
    from auditor.stats import confidence_driven as cd

    u = np.asarray(uncertainty, float)
    z = float(ndtri(0.5 + level / 2.0))

    def half(share: float) -> float | None:
        if budget is None:
            return None
        return z * math.sqrt(cd.expected_variance(u, cd.selection_probabilities(u, budget, share)))

    return SelectionPlan(
        judge,
        int(u.size),
        budget,
        uniform_share,
        level,
        half(uniform_share),
        half(1.0),
        half_width,
        cd.budget_for_half_width(u, half_width, level, uniform_share),
        cd.budget_for_half_width(u, half_width, level, 1.0),
    )


def select_items(items: Any, budget: int, *, uniform_share: float = 0.1, seed: int = 0) -> Any:
    """Draw the items to send to humans: each independently with its confidence-driven probability
    (``inclusion_probability``, kept beside the item: the estimate needs it).  ``items``: the frame of
    :func:`verdict_confidence`; returns the selected rows."""
    from auditor.stats import confidence_driven as cd

    pi = cd.selection_probabilities(items["uncertainty"].to_numpy(float), budget, uniform_share)
    chosen = np.random.default_rng(seed).random(pi.size) < pi
    return items.assign(inclusion_probability=pi)[chosen].reset_index(drop=True)
