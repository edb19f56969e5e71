"""Coverage by simulation: the analytic intervals (auditor.stats.analytic) beside the cluster bootstrap's.

Model: a judge and a reference rate each item into one of 3 categories; the item's true class has prevalence
``PREV``; each side gives the true class with probability ``a`` (the user's accuracy) and otherwise a uniform draw.
With ``M = a I + (1 - a) U`` (``U`` uniform) the two sides' joint distribution is ``J = E_a[M^T diag(PREV) M]``,
whose expectation needs ``E[a^2]``, ``E[a (1 - a)]`` and ``E[(1 - a)^2]`` only; the population Cohen's kappa (the
two sides are exchangeable, so it equals Scott's pi) and Gwet's AC1 follow from ``J`` and its margins.

- Independent items: ``a`` is the same (0.6) for every item, every item its own cluster.  Both the analytic
  intervals (Fleiss-Cohen-Everitt for kappa, Gwet's for AC1) and the cluster bootstrap's BCa intervals (the
  audit's :class:`~auditor.stats.bootstrap.Resampler` and :func:`~auditor.stats.bootstrap.interval`) cover the
  population value in 93-97% of studies.
- Clustered items: each of 40 users has 10 items and an accuracy ``a ~ Beta(1.2, 0.8)`` (mean 0.6): items of one
  user are alike, the analytic intervals (which assume independent items) undercover, the cluster bootstrap keeps
  its coverage.

The analytic side is vectorised over all studies at once; the default run has 400 studies per case (about 4 s on
2 cores, mostly the bootstrap's 400 resamples per study), ``-m full`` 2,000 (about a minute) (``python -m pytest tests/simulation/test_analytic_coverage.py -m full -s``).
"""

from __future__ import annotations

import numpy as np
import pytest

from auditor.stats import agreement as ag
from auditor.stats import analytic as an
from auditor.stats.bootstrap import Resampler, interval

K = 3
PREV = np.array([0.5, 0.3, 0.2])
RESAMPLES = 400
LEVEL = 0.95
BETA = (1.2, 0.8)  # the users' accuracy in the clustered case: mean 0.6


def population(moments: tuple[float, float, float]) -> dict[str, float]:
    """Population kappa and AC1 for accuracy moments ``(E[a^2], E[a (1 - a)], E[(1 - a)^2])``."""
    d = np.diag(PREV)
    u = np.full((K, K), 1.0 / K)
    aa, ab, bb = moments
    joint = aa * d + ab * (d @ u + u @ d) + bb * (u @ d @ u)
    pi = joint.sum(axis=1)  # both margins (the joint is symmetric)
    po = float(np.trace(joint))
    pe_kappa = float(pi @ pi)
    pe_ac1 = float((pi * (1 - pi)).sum() / (K - 1))
    return {"cohen_kappa": (po - pe_kappa) / (1 - pe_kappa), "gwet_ac1": (po - pe_ac1) / (1 - pe_ac1)}


def fixed_moments(a: float) -> tuple[float, float, float]:
    return a * a, a * (1 - a), (1 - a) ** 2


def beta_moments(alpha: float, beta: float) -> tuple[float, float, float]:
    s = alpha + beta
    ea, eaa = alpha / s, alpha * (alpha + 1) / (s * (s + 1))
    return eaa, ea - eaa, 1 - 2 * ea + eaa


def simulate(
    rng: np.random.Generator, studies: int, users: int, per_user: int, clustered: bool
) -> np.ndarray:
    """``(studies, users, K, K)`` confusion matrices per user (rows the reference, columns the judge)."""
    shape = (studies, users, per_user)
    accuracy = rng.beta(*BETA, size=(studies, users, 1)) if clustered else np.full((studies, users, 1), 0.6)
    truth = rng.choice(K, size=shape, p=PREV)
    sides = [np.where(rng.random(shape) < accuracy, truth, rng.integers(0, K, size=shape)) for _ in range(2)]
    flat = (sides[0] * K + sides[1]).reshape(studies * users, per_user)
    counts = np.zeros((studies * users, K * K))
    np.add.at(counts, (np.repeat(np.arange(studies * users), per_user), flat.ravel()), 1.0)
    return counts.reshape(studies, users, K, K)


def coverage(per_user_tables: np.ndarray, truth: dict[str, float]) -> dict[str, float]:
    """Share of studies whose interval covers the population value, per (method, coefficient)."""
    studies, users = per_user_tables.shape[:2]
    total = per_user_tables.sum(axis=1)
    hits: dict[str, int] = {}
    kappa, var, var0 = an.cohen_kappa_variance(total)
    ac1, var_ac1, n = an.gwet_from_confusion(total, "gwet")
    for s in range(studies):
        found = {
            "cohen_kappa": (
                kappa[s],
                an.Analytic(np.sqrt(var[s]), None, an.FLEISS_COHEN_EVERITT, np.sqrt(var0[s])),
            ),
            "gwet_ac1": (ac1[s], an.Analytic(np.sqrt(var_ac1[s]), n[s] - 1, an.GWET)),
        }
        for name, (value, se) in found.items():
            lo, hi, _ = an.analytic_interval(float(value), se, LEVEL)
            hits[f"analytic {name}"] = hits.get(f"analytic {name}", 0) + (lo <= truth[name] <= hi)
        boot = Resampler(users, RESAMPLES, seed=s).sums_many(
            per_user_tables[s], {"cohen_kappa": ag.cohen_kappa, "gwet_ac1": ag.gwet_ac1}, int(total[s].sum())
        )
        for name, est in boot.items():
            lo, hi = interval(est, LEVEL)
            hits[f"bootstrap {name}"] = hits.get(f"bootstrap {name}", 0) + (lo <= truth[name] <= hi)
    return {key: count / studies for key, count in hits.items()}


def check_independent(studies: int) -> dict[str, float]:
    tables = simulate(np.random.default_rng(19), studies, users=150, per_user=1, clustered=False)
    found = coverage(tables, population(fixed_moments(0.6)))
    assert all(0.93 <= c <= 0.97 for c in found.values()), found
    return found


def check_clustered(studies: int) -> dict[str, float]:
    tables = simulate(np.random.default_rng(20), studies, users=40, per_user=10, clustered=True)
    found = coverage(tables, population(beta_moments(*BETA)))
    assert all(found[f"analytic {name}"] < 0.90 for name in ("cohen_kappa", "gwet_ac1")), found
    assert all(0.93 <= found[f"bootstrap {name}"] <= 0.97 for name in ("cohen_kappa", "gwet_ac1")), found
    return found


def test_population_values_are_the_estimators_limits():
    big = simulate(np.random.default_rng(1), 1, users=4000, per_user=10, clustered=True).sum(axis=(0, 1))
    truth = population(beta_moments(*BETA))
    assert ag.cohen_kappa(big) == pytest.approx(truth["cohen_kappa"], abs=0.01)
    assert ag.gwet_ac1(big) == pytest.approx(truth["gwet_ac1"], abs=0.01)


def test_without_clustering_analytic_and_bootstrap_intervals_cover():
    print(check_independent(400))


def test_with_clustering_only_the_cluster_bootstrap_covers():
    print(check_clustered(400))


@pytest.mark.full
def test_coverage_over_2000_studies():
    print(check_independent(2000), check_clustered(2000))
