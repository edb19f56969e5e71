"""Stage 2 (relevance): the published stage-2 rates, the pilot audited against scikit-learn and by hand, the kappa
table, and interval coverage on the simulated study whose population values are known."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score, precision_score, recall_score

from auditor.config import config_from_mapping
from auditor.datasets import recentering
from auditor.personalization import audit_stage
from auditor.simulate import relevance_truth, simulate_relevance_study


def _audit(study, resamples=400, **options):
    return audit_stage(
        study.labels,
        study.items,
        stage="relevance",
        config=config_from_mapping(study.config()),
        resamples=resamples,
        **options,
    )


@pytest.fixture(scope="module")
def pilot(data_root):
    study = recentering.load_pilot_relevance(data_root)
    return study, _audit(study)


def test_stage2_reproduces_the_published_relevant_rates(data_root):
    study = recentering.load_stage2(data_root)
    result = _audit(study, resamples=200)
    gpt = result.metric("relevant_rate", "gpt-5.4", "gpt-5.4")
    assert gpt["n"] == 3973 and gpt["value"] == pytest.approx(1741 / 3973)
    assert round(gpt["value"], 3) == 0.438 and gpt["ci_low"] < gpt["value"] < gpt["ci_high"]
    gemma = result.metric("relevant_rate", "gemma-4-31b-it", "gemma-4-31b-it")
    assert gemma["n"] == 3973 and round(gemma["value"], 3) == 0.470
    human = result.metric("relevant_rate", "human")
    assert human["n"] == 3748 and round(human["value"], 3) == 0.189  # 708 of 3,748: humans ~20% in the study
    over = result.metric("over_identification", "gpt-5.4")
    paired = result.metric("relevant_rate", "gpt-5.4")
    assert over["value"] == pytest.approx(paired["value"] / human["value"] - 1)
    assert over["ci_low"] > 0.9  # LLMs find twice as many attributes relevant as the human-relevant flags
    assert result.meta["personalization"]["stage"] == "relevance"


def _human_majority(labels: pd.DataFrame) -> pd.Series:
    """Strict majority of the human votes per item (no majority: left out), computed independently."""
    votes = labels[labels["judge"] == "human"].dropna(subset=["label"])
    ones = votes.assign(v=votes["label"].astype(int)).groupby("item_id")["v"].agg(["sum", "size"])
    decided = ones[2 * ones["sum"] != ones["size"]]
    return (2 * decided["sum"] > decided["size"]).astype(int)


def test_pilot_precision_recall_f1_match_scikit_learn(pilot):
    study, result = pilot
    majority = _human_majority(study.labels)
    for judge in ("claude-sonnet-4-6", "gemma-4-31b-it", "gpt-5.4", "llama-3.3-70b-instruct"):
        votes = (
            study.labels[study.labels["judge"] == judge].set_index("item_id")["label"].dropna().astype(int)
        )
        both = pd.concat([majority.rename("h"), votes.rename("j")], axis=1, join="inner")
        for metric, reference_fn in (
            ("precision", precision_score),
            ("recall", recall_score),
            ("f1", f1_score),
        ):
            row = result.metric(metric, judge)
            assert row["n"] == len(both)
            assert row["value"] == pytest.approx(reference_fn(both["h"], both["j"]))
            assert row["ci_low"] <= row["value"] <= row["ci_high"]
        over = result.metric("over_identification", judge)
        assert over["value"] == pytest.approx(both["j"].mean() / both["h"].mean() - 1)
        assert np.isfinite(over["ci_low"]) and np.isfinite(over["ci_high"]) and over["p_value"] is not None
        own = result.metric("relevant_rate", judge, judge)
        assert own["value"] == pytest.approx(votes.mean()) and own["n"] == len(votes)


def test_pilot_kappa_table_matches_scikit_learn_and_the_study(pilot):
    """Every pair against sklearn's cohen_kappa_score; the means per kind 0.408 / 0.338 / 0.560 (the study: 0.43 /
    0.30 / 0.60)."""
    study, result = pilot
    labels = study.labels.dropna(subset=["label"])
    who = np.where(labels["judge"] == "human", "human:" + labels["rater"].astype(str), labels["judge"])
    table = labels.assign(who=who).pivot(index="item_id", columns="who", values="label")
    rows = result.metrics[
        (result.metrics["metric"] == "cohen_kappa")
        & result.metrics["judge"].ne("human")
        & result.metrics["reference"].ne("human")
        & result.metrics["slice"].isna()
    ]
    assert len(rows) == 36  # 9 raters and judges: 10 human-human, 20 human-judge, 6 judge-judge pairs
    for row in rows.itertuples():
        both = table[[row.judge, row.reference]].dropna()
        assert row.value == pytest.approx(cohen_kappa_score(both[row.judge], both[row.reference]))
        assert row.n == len(both)
    means = {
        kind: round(result.metric("mean_pairwise_kappa", kind, kind)["value"], 3)
        for kind in ("human~human", "human~judge", "judge~judge")
    }
    assert means == {"human~human": 0.408, "human~judge": 0.338, "judge~judge": 0.56}
    for kind in means:
        row = result.metric("mean_pairwise_kappa", kind, kind)
        assert row["ci_low"] < row["value"] < row["ci_high"]
    pairs = result.meta["personalization"]["kappa_table"]["pairs"]
    assert {p["kind"] for p in pairs} == {"human~human", "human~judge", "judge~judge"}


def test_relevance_stage_refuses_a_non_binary_task():
    from auditor.errors import ConfigError
    from auditor.simulate import simulate_extraction_study

    study = simulate_extraction_study(seed=0, n_users=6, with_truth=False)
    with pytest.raises(ConfigError, match="binary"):
        _audit(study, resamples=0)


@pytest.mark.slow
def test_relevance_intervals_cover_the_population_values():
    """40 simulated studies: the 95% intervals of the relevant rates, over-identification, precision, recall and
    F1 cover the population values (computed by the generator from 2,000,000 items) in at least 34 of 40
    (for a true 95% coverage, fewer than 34 has probability 1.4%)."""
    truth = relevance_truth()
    hits: dict[tuple[str, str], int] = {}
    reps = 40
    for seed in range(reps):
        study = simulate_relevance_study(seed=seed, n_users=50, with_truth=False)
        result = _audit(study, resamples=300)
        for metric in ("over_identification", "precision", "recall", "f1"):
            for judge in ("gpt-4o", "llama-3-70b"):
                row = result.metric(metric, judge)
                hits[(metric, judge)] = hits.get((metric, judge), 0) + (
                    row["ci_low"] <= truth[metric][judge] <= row["ci_high"]
                )
        row = result.metric("relevant_rate", "human")
        hits[("relevant_rate", "human")] = hits.get(("relevant_rate", "human"), 0) + (
            row["ci_low"] <= truth["relevant_rate"]["human"] <= row["ci_high"]
        )
    low = {f"{m}:{j}": int(v) for (m, j), v in hits.items() if v < 34}
    assert not low, low


def test_the_kappa_table_pairs_name_each_rater(pilot):
    _, result = pilot
    names = set(result.meta["personalization"]["kappa_table"]["raters"])
    assert names == {f"human:{r}" for r in ("Jiarui", "Lechen", "Lechen2", "Tal", "Xiuzhu")}
    assert not any(a == b for a, b in itertools.combinations(sorted(names), 2))
