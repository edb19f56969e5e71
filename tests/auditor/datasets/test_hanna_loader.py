"""HANNA loader: story-level Spearman to ChatGPT and human-human alpha per criterion, with scipy / krippendorff."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest
from scipy import stats

from auditor.datasets import hanna

# SCHEMA.md: story-level Spearman(human mean, ChatGPT prompt 1) and human Krippendorff alpha (ordinal)
PUBLISHED = {
    "Relevance": (0.365, 0.165),
    "Coherence": (0.447, -0.054),
    "Empathy": (0.379, 0.117),
    "Surprise": (0.236, 0.015),
    "Engagement": (0.409, 0.167),
    "Complexity": (0.465, 0.266),
}


@pytest.fixture(scope="module")
def studies(dataset_root):
    return hanna.load_all(dataset_root("hanna"))


def human_wide(study):
    humans = study.labels[study.labels["judge"] == "human"]
    return humans.pivot(index="item_id", columns="rater", values="score").loc[study.items["item_id"]]


def test_shapes_and_contract(studies):
    study = studies["Relevance"]
    assert study.task == "score" and not study.simulated
    assert len(study.items) == 1056 and study.items["item_id"].is_unique
    assert study.items["system"].nunique() == 11 and study.items["writing_prompt"].nunique() == 96
    assert study.labels.groupby("judge").size().to_dict() == {"human": 3 * 1056, "ChatGPT/p1": 1056}
    humans = study.labels[study.labels["judge"] == "human"]
    assert set(humans["label"]) == {"1", "2", "3", "4", "5"}
    assert (humans["label"].astype(float) == humans["score"]).all()
    llm = study.labels[study.labels["judge"] == "ChatGPT/p1"]
    assert llm["label"].isna().all() and llm["score"].notna().all()


def test_human_mean_equals_the_published_column(studies):
    for study in studies.values():
        mean = human_wide(study).mean(axis=1).to_numpy()
        assert np.allclose(mean, study.items["human_mean_published"].to_numpy())


@pytest.mark.parametrize("criterion", list(PUBLISHED))
def test_spearman_to_chatgpt_prompt_1(studies, criterion):
    study = studies[criterion]
    human_mean = human_wide(study).mean(axis=1)
    chatgpt = (
        study.labels[study.labels["judge"] == "ChatGPT/p1"]
        .set_index("item_id")["score"]
        .loc[human_mean.index]
    )
    rho = stats.spearmanr(human_mean, chatgpt)[0]
    assert round(rho, 3) == PUBLISHED[criterion][0]


@pytest.mark.parametrize("criterion", list(PUBLISHED))
def test_human_human_alpha_is_as_low_as_published(studies, criterion):
    ratings = human_wide(studies[criterion]).to_numpy().T
    alpha = krippendorff.alpha(reliability_data=ratings, level_of_measurement="ordinal")
    assert round(alpha, 3) == PUBLISHED[criterion][1]


def test_all_llms_and_prompts(dataset_root):
    study = hanna.load(dataset_root("hanna"), "Empathy", llm=None, prompt=None)
    judges = [j for j in study.judges if j != "human"]
    assert len(judges) == 20 and "OrcaPlatypus/p4" in judges


def test_unknown_criterion_is_refused(dataset_root):
    with pytest.raises(ValueError, match="unknown HANNA criterion"):
        hanna.load(dataset_root("hanna"), "Fluency")
