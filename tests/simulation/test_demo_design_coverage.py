"""Proven by simulation: on the demo's design (550 human-rated conversations of 50 users, more conversations of
other users rated by the judges only), the PPI++ 95% interval of the human no-better and win rates, with the
demo's informative judge (``tuned-judge``) as the predictor, covers the true human rate.

Default run: 100 studies of the design at reduced size (1,000 judge-only conversations of 91 more users; Monte-Carlo
standard error of a 95% coverage 2.2 points, so the bounds are 89-100%); ``-m full``: 500 studies of the demo's own
size (19,450 judge-only conversations, 1,768 more users).  Each study runs the PPI step on the audit's context with
its 2,000 resamples and BCa (``ppi_rows_only`` of ``test_advanced_coverage``).  Reproduce with
``python -m pytest tests/simulation/test_demo_design_coverage.py -s``.
"""

from __future__ import annotations

import numpy as np
import pytest

from auditor.config import config_from_mapping
from auditor.simulate import DEMO_UNLABELLED, TUNED_JUDGE, simulate_study, truth
from tests.simulation.test_advanced_coverage import ppi_rows_only

FIRST_SEED = 7000
METRICS = ("no_better_rate", "win_rate")


@pytest.fixture(
    scope="module",
    params=[
        pytest.param((100, 1_000), id="100-studies-1000-unlabelled"),
        pytest.param((500, DEMO_UNLABELLED), id="500-studies-demo-size", marks=pytest.mark.full),
    ],
)
def demo_design_coverage(request):
    n_studies, n_unlabelled = request.param
    true = truth()
    hits = {m: [] for m in METRICS}
    narrower = []
    for seed in range(FIRST_SEED, FIRST_SEED + n_studies):
        study = simulate_study(seed=seed, n_unlabelled=n_unlabelled, with_truth=False)
        labels = study.labels[study.labels["judge"].isin(["human", TUNED_JUDGE.name])]
        config = (
            config_from_mapping(study.config())
            .with_overrides(correction="none", max_cases=0)
            .with_options(jury={"enabled": False}, alt_test={"enabled": False})
        )
        rows, meta = ppi_rows_only(labels, study.items, config)
        for m in METRICS:
            row = rows.loc[f"ppi_{m}"]
            hits[m].append(bool(row["ci_low"] <= true[m]["human"] <= row["ci_high"]))
        detail = {x["metric"]: x for x in meta["judges"][0]["metrics"]}["ppi_no_better_rate"]
        narrower.append(detail["ci_width_ppi"] < detail["ci_width_human_only"])
    return {
        "coverage": {m: float(np.mean(h)) for m, h in hits.items()},
        "narrower": float(np.mean(narrower)),
        "studies": n_studies,
    }


@pytest.mark.slow
def test_ppi_covers_the_true_human_rates_on_the_demo_design(demo_design_coverage):
    coverage = demo_design_coverage["coverage"]
    print(f"PPI++ coverage on the demo design over {demo_design_coverage['studies']} studies: {coverage}")
    assert all(0.89 <= rate <= 1.0 for rate in coverage.values()), coverage


@pytest.mark.slow
def test_the_informative_judge_narrows_the_interval_in_almost_every_study(demo_design_coverage):
    assert demo_design_coverage["narrower"] > 0.9
