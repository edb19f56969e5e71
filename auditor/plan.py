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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtri


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
    )


def _no_better_set(doc: dict[str, Any], categories: list[str]) -> list[bool]:
    task = doc.get("task")
    if task == "pairwise":
        return [c in ("a", "tie") for c in categories]
    if task == "likert":
        neutral = (doc.get("scale") or {}).get("neutral", 3)
        return [int(c) <= int(neutral) for c in categories]
    if task == "binary":
        return [c == "0" for c in categories]
    raise ValueError(f"a {task} audit has no no-better rate to plan for")


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
        plans.append(plan)
    return plans
