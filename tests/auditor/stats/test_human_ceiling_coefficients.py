"""End to end: an audit's human-ceiling rows (judge = reference = "human") are the multi-rater coefficients of
irrCAC on Gwet's datasets, with their missing ratings; the judge's weighted rows and ICCs against the references.

Reference values: see tests/auditor/stats/test_gwet_family.py (irrCAC 0.4.4) and test_icc.py (Shrout & Fleiss).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

import auditor
from auditor.config import config_from_mapping
from tests.auditor.stats.test_gwet_family import IRRCAC, RAW, WEIGHTED
from tests.auditor.stats.test_icc import SHROUT_FLEISS, anova_iccs


def study(raw: list[list], judge: list | None = None) -> pd.DataFrame:
    """Long label rows: each rater's ratings (None / "N": missing) and an optional judge."""
    rows = [
        {"item_id": f"u{i}", "judge": "human", "rater": f"rater{g}", "label": str(v)}
        for i, row in enumerate(raw)
        for g, v in enumerate(row)
        if v not in (None, "N")
    ]
    rows += [{"item_id": f"u{i}", "judge": "llm", "label": str(v)} for i, v in enumerate(judge or [])]
    return pd.DataFrame(rows)


def run(rows: pd.DataFrame, resamples: int = 100, **config):
    return auditor.audit(rows, config=config_from_mapping(config), resamples=resamples)


def human(result, metric: str) -> dict:
    return result.metric(metric, "human")


@pytest.mark.parametrize("name", ["raw_g1g2", "raw_5observers"])
def test_ceiling_rows_are_irrcacs_multi_rater_coefficients(name):
    cats = sorted({str(v) for row in RAW[name] for v in row if v not in (None, "N")})
    result = run(
        study(RAW[name], judge=[cats[0]] * len(RAW[name])), task="categorical", labels={"categories": cats}
    )
    fleiss, ac1, conger = IRRCAC[name]
    assert human(result, "fleiss_kappa")["value"] == pytest.approx(fleiss, abs=1e-9)
    assert human(result, "gwet_ac1")["value"] == pytest.approx(ac1, abs=1e-9)
    assert human(result, "conger_kappa")["value"] == pytest.approx(conger, abs=1e-9)
    two_or_more = sum(sum(v not in (None, "N") for v in row) >= 2 for row in RAW[name])
    assert human(result, "gwet_ac1")["n"] == two_or_more
    row = human(result, "fleiss_kappa")
    assert row["ci_low"] < row["value"] < row["ci_high"]


def test_light_kappa_row_is_the_mean_pairwise_kappa_on_common_items():
    raw = RAW["raw_g1g2"]
    result = run(study(raw), task="categorical", labels={"categories": list("abcde")})
    kappas = []
    for a, b in itertools.combinations(range(4), 2):
        both = [(row[a], row[b]) for row in raw if row[a] != "N" and row[b] != "N"]
        x, y = zip(*both, strict=True)
        kappas.append(cohen_kappa_score(x, y, labels=list("abcde")))
    assert human(result, "light_kappa")["value"] == pytest.approx(np.mean(kappas), abs=1e-12)


def test_likert_ceiling_has_weighted_fleiss_and_ac2_with_quadratic_weights():
    result = run(study(RAW["raw_4raters"]), task="likert", scale={"min": 1, "max": 5})
    fleiss, ac2, _ = WEIGHTED["quadratic"]
    assert human(result, "fleiss_kappa_weighted")["value"] == pytest.approx(fleiss, abs=1e-9)
    assert human(result, "gwet_ac2")["value"] == pytest.approx(ac2, abs=1e-9)
    assert human(result, "fleiss_kappa")["value"] == pytest.approx(IRRCAC["raw_4raters"][0], abs=1e-9)


def test_score_ceiling_and_judge_iccs():
    raw = SHROUT_FLEISS[:, :3].tolist()  # three human judges
    judge = SHROUT_FLEISS[:, 3]
    labels = study(raw)
    labels = pd.concat(
        [
            labels,
            pd.DataFrame(
                {"item_id": [f"u{i}" for i in range(6)], "judge": "llm", "label": judge.astype(str)}
            ),
        ]
    )
    labels["score"] = labels.pop("label").astype(float)
    result = run(labels, task="score")
    a1, c1 = anova_iccs(SHROUT_FLEISS[:, :3])
    assert human(result, "icc_a1")["value"] == pytest.approx(a1, abs=1e-12)
    assert human(result, "icc_c1")["value"] == pytest.approx(c1, abs=1e-12)
    a1, c1 = anova_iccs(
        np.column_stack([SHROUT_FLEISS[:, :3].mean(axis=1), judge])
    )  # judge vs the human mean
    assert result.metric("icc_a1", "llm")["value"] == pytest.approx(a1, abs=1e-12)
    assert result.metric("icc_c1", "llm")["value"] == pytest.approx(c1, abs=1e-12)


def test_pairwise_judge_gets_weighted_scott_fleiss_and_ac2():
    human_labels = ["a", "b", "b", "tie", "b", "a", "tie", "a"]
    judge = ["a", "b", "tie", "tie", "a", "a", "b", "a"]
    result = run(study([[h] for h in human_labels], judge), task="pairwise", resamples=0)
    from auditor.stats import agreement as ag

    order = {"a": 0, "tie": 1, "b": 2}
    c = np.zeros((3, 3))
    for h, j in zip(human_labels, judge, strict=True):
        c[order[h], order[j]] += 1
    w = ag.agreement_weights("quadratic", 3)
    assert result.metric("gwet_ac2", "llm")["value"] == pytest.approx(ag.gwet_ac2(c, w), abs=1e-12)
    assert result.metric("scott_pi_weighted", "llm")["value"] == pytest.approx(
        ag.scott_pi_weighted(c, w), abs=1e-12
    )
    assert (
        result.metric("fleiss_kappa_weighted", "llm")["value"]
        == result.metric("scott_pi_weighted", "llm")["value"]
    )
