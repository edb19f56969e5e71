"""The audit reproduces published figures on real human-judgment data in ../shared/data."""

from __future__ import annotations

import pytest
from scipy import stats

import auditor
from auditor.config import config_from_mapping
from tests.conftest import shared_dataset


def audit_study(study, **overrides):
    config = config_from_mapping(study.config()).with_overrides(**overrides)
    return auditor.audit(study.labels, items=study.items, config=config)


@pytest.fixture(scope="module")
def pandalm_result():
    from auditor.datasets import pandalm

    shared_dataset("pandalm_testset")
    from tests.conftest import SHARED_DATA

    return audit_study(pandalm.load(SHARED_DATA), resamples=500)


def test_pandalm_human_pairwise_kappa_and_alpha(pandalm_result):
    r = pandalm_result
    pairs = r.metrics[
        (r.metrics["metric"] == "cohen_kappa") & r.metrics["slice"].str.startswith("raters=", na=False)
    ]
    by_pair = {row.slice: round(row.value, 3) for row in pairs.itertuples()}
    assert by_pair == {
        "raters=annotator1~annotator2": 0.852,
        "raters=annotator1~annotator3": 0.879,
        "raters=annotator2~annotator3": 0.862,
    }
    assert round(r.metric("krippendorff_alpha", "human")["value"], 3) == 0.864


def test_pandalm_gpt35_against_human_majority(pandalm_result):
    r = pandalm_result
    judge = next(j for j in r.judges if "gpt" in j)
    agreement = r.metric("agreement", judge)
    assert round(agreement["value"], 3) == 0.716
    assert agreement["n"] == 974
    assert round(r.metric("cohen_kappa", judge)["value"], 3) == 0.493
    assert agreement["ci_low"] < agreement["value"] < agreement["ci_high"]
    ex = r.exclusions[r.exclusions["judge"] == judge]
    assert ex.to_dict("records") == [{"judge": judge, "reason": "unusable label 'garbage'", "count": 25}]


def test_pandalm_7b_against_human_majority(pandalm_result):
    r = pandalm_result
    judge = next(j for j in r.judges if "pandalm" in j)
    assert round(r.metric("agreement", judge)["value"], 3) == 0.668
    assert round(r.metric("cohen_kappa", judge)["value"], 3) == 0.435
    assert r.metric("agreement", judge)["n"] == 999


def test_pandalm_tie_shares(pandalm_result):
    r = pandalm_result
    # SCHEMA.md: human-majority tie share 10.5%, GPT-3.5 3.8% (of all 999, garbage included), PandaLM-7B 10.7%
    assert round(r.metric("tie_rate", "human")["value"], 3) == 0.105
    judge = next(j for j in r.judges if "pandalm" in j)
    assert round(r.metric("tie_rate", judge)["value"], 3) == 0.107


HANNA_SPEARMAN = {
    "Relevance": 0.365,
    "Coherence": 0.447,
    "Empathy": 0.379,
    "Surprise": 0.236,
    "Engagement": 0.409,
    "Complexity": 0.465,
}


@pytest.mark.parametrize("criterion", list(HANNA_SPEARMAN))
def test_hanna_story_level_spearman_per_criterion(criterion):
    from auditor.datasets import hanna
    from tests.conftest import SHARED_DATA

    shared_dataset("hanna")
    study = hanna.load(SHARED_DATA, criterion=criterion, llm="ChatGPT", prompt=1)
    result = audit_study(study, resamples=200)
    judge = next(j for j in result.judges if "ChatGPT" in j)
    rho = result.metric("spearman", judge)
    assert round(rho["value"], 3) == HANNA_SPEARMAN[criterion]
    assert rho["n"] == 1056
    # the human-human ceiling is reported (Krippendorff's alpha over the 3 raters)
    alpha = result.metric("krippendorff_alpha", "human")
    assert -0.2 < alpha["value"] < 0.4


def test_hanna_human_alpha_matches_krippendorff_package():
    import krippendorff
    import numpy as np

    from auditor.datasets import hanna
    from tests.conftest import SHARED_DATA

    shared_dataset("hanna")
    study = hanna.load(SHARED_DATA, criterion="Relevance", llm="ChatGPT", prompt=1)
    result = audit_study(study, resamples=0)
    humans = study.labels[study.labels["judge"] == "human"]
    wide = humans.pivot(index="rater", columns="item_id", values="score").to_numpy(dtype=float)
    expected = krippendorff.alpha(reliability_data=wide, level_of_measurement="interval")
    assert result.metric("krippendorff_alpha", "human")["value"] == pytest.approx(expected, abs=1e-9)
    assert np.isfinite(stats.spearmanr(wide[0], wide[1]).statistic)
