"""Proven by simulation: the audit's PPI++ 95% intervals cover the true human rates in 93-97% of 300 simulated
studies, and the alternative annotator test's type-I error stays at or below its level.

Slow (about 2-3 minutes on 2 cores); CI runs it.  Reproduce with
``python -m pytest tests/advanced/test_advanced_coverage.py -s`` (``-s`` prints the figures).

Design: the built-in simulated study (50 users, 550 items, clustered) with one informative but lenient judge
(latent correlation 0.85 to the item gain, shifted up by 0.3); human labels kept on a random 30% of the items, the
judge's on all of them.  The truth is the population value of the human rate (``auditor.simulate.truth``).
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
from test_alt_test import type_one_error

import auditor
import auditor.advanced as advanced
from auditor.config import config_from_mapping
from auditor.simulate import JudgeParameters, simulate_study, truth, with_parameters
from auditor.stats import ppi

N_STUDIES = 300
FIRST_SEED = 5000
LABELLED_SHARE = 0.3
JUDGE = "strong-judge"
PARAMS = with_parameters(judges=(JudgeParameters(JUDGE, shift=0.3, rho=0.85, scale=0.8),))
METRICS = ("no_better_rate", "win_rate", "mean_score")


@pytest.fixture(scope="module")
def ppi_coverage():
    true = truth()  # human rates do not depend on the judges' parameters
    old = asdict(advanced.SETTINGS)
    advanced.configure(jury=False, alt_test=False)
    hits = {m: [] for m in METRICS}
    wald_hits, widths, extra, lams = [], {m: [] for m in METRICS}, [], []
    try:
        for seed in range(FIRST_SEED, FIRST_SEED + N_STUDIES):
            study = simulate_study(seed=seed, params=PARAMS, with_truth=False)
            rng = np.random.default_rng(seed)
            keep = set(study.items["item_id"][rng.random(len(study.items)) < LABELLED_SHARE])
            labels = study.labels[(study.labels["judge"] == JUDGE)
                                  | ((study.labels["judge"] == "human") & study.labels["item_id"].isin(keep))]
            config = config_from_mapping(study.config()).with_overrides(correction="none", max_cases=0)
            result = auditor.audit(labels, items=study.items, config=config)  # 2000 resamples, BCa
            for m in METRICS:
                row = result.metric(f"ppi_{m}", JUDGE)
                hits[m].append(bool(row["ci_low"] <= true[m]["human"] <= row["ci_high"]))
                widths[m].append(row["ci_high"] - row["ci_low"])
            meta = {x["metric"]: x for x in result.meta["ppi"]["judges"][0]["metrics"]}
            extra.append(meta["ppi_no_better_rate"]["extra_labels"])
            lams.append(meta["ppi_no_better_rate"]["lam"])
            # the Wald interval of the pure function on the same data (per-item human median vs judge label)
            human = labels[labels["judge"] == "human"].assign(v=lambda f: f["label"].astype(int))
            median = human.groupby("item_id")["v"].median()
            judge = labels[labels["judge"] == JUDGE].set_index("item_id")["label"].astype(int)
            users = study.items.set_index("item_id")["user_id"]
            r = ppi.ppi_mean((median <= 3).astype(float).to_numpy(), (judge[median.index] <= 3).to_numpy(float),
                             (judge <= 3).to_numpy(float), cluster=users[median.index].to_numpy(),
                             cluster_unlabelled=users[judge.index].to_numpy())
            wald_hits.append(r.ci_low <= true["no_better_rate"]["human"] <= r.ci_high)
    finally:
        advanced.configure(**old)
    return {"coverage": {m: float(np.mean(h)) for m, h in hits.items()},
            "width": {m: float(np.mean(w)) for m, w in widths.items()},
            "wald_no_better_rate": float(np.mean(wald_hits)),
            "extra_labels": float(np.median(extra)), "lam": float(np.median(lams)),
            "labelled": LABELLED_SHARE * 550}


@pytest.mark.slow
@pytest.mark.parametrize("metric", METRICS)
def test_ppi_95_percent_intervals_cover_the_true_human_rate_in_93_to_97_percent_of_studies(ppi_coverage, metric):
    rate = ppi_coverage["coverage"][metric]
    print(f"ppi_{metric}: coverage {rate:.3f} over {N_STUDIES} studies, mean width {ppi_coverage['width'][metric]:.3f};"
          f" median lambda (no-better) {ppi_coverage['lam']:.2f}, median extra labels {ppi_coverage['extra_labels']:.0f}"
          f" on about {ppi_coverage['labelled']:.0f} labelled items; Wald (no-better) "
          f"{ppi_coverage['wald_no_better_rate']:.3f}")
    assert 0.93 <= rate <= 0.97, f"ppi_{metric}: coverage {rate:.3f}"


@pytest.mark.slow
def test_ppi_is_worth_extra_labels_with_an_informative_judge(ppi_coverage):
    assert ppi_coverage["lam"] > 0.3
    assert ppi_coverage["extra_labels"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("n_items", [50, 100, 200])
def test_alt_test_type_one_error_is_at_most_its_level(n_items):
    """2,000 datasets per size at the least favourable null (E[d] = epsilon exactly)."""
    per_rater, passed = type_one_error(reps=2000, n=n_items, seed=100 + n_items)
    print(f"alt-test at the null boundary, {n_items} items: per-rater rejection {per_rater:.4f}, "
          f"pass rate {passed:.4f} (level 0.05)")
    assert passed <= 0.05
    assert per_rater <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 6000) + 0.005  # t approximation on a 3-valued d
