"""PandaLM loader: the published agreement figures, reproduced with scikit-learn and krippendorff on our tables."""

from __future__ import annotations

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from auditor.datasets import pandalm


@pytest.fixture(scope="module")
def study(dataset_root):
    return pandalm.load(dataset_root("pandalm_testset"))


def human_table(study) -> pd.DataFrame:
    humans = study.labels[study.labels["judge"] == "human"]
    return humans.pivot(index="item_id", columns="rater", values="label").loc[study.items["item_id"]]


def majority(row: pd.Series) -> str:
    counts = row.value_counts()
    return counts.index[0]


def test_shapes_and_label_set(study):
    assert len(study.items) == 999 and study.items["item_id"].is_unique
    assert study.task == "pairwise" and study.unusable == ("garbage",)
    counts = study.labels.groupby("judge").size().to_dict()
    assert counts == {"human": 2997, "gpt-3.5-turbo": 999, "pandalm-7b": 999}
    assert set(study.labels["label"]) == {"a", "b", "tie", "garbage"}
    assert (study.labels["label"] == "garbage").sum() == 25
    assert "user_id" not in study.items.columns  # each item is its own cluster


def test_labels_follow_the_declared_aliases_and_keep_the_raw_value(study):
    mapped = study.labels["raw"].map(lambda raw: study.aliases.get(raw, raw))
    assert (mapped == study.labels["label"]).all()
    annotator1 = study.labels.query("judge == 'human' and rater == 'annotator1'")["label"].value_counts()
    assert annotator1.to_dict() == {"b": 475, "a": 427, "tie": 97}  # SCHEMA.md: {0: 97, 1: 427, 2: 475}


def test_human_pairwise_kappa_and_alpha_match_the_paper(study):
    table = human_table(study)
    kappas = [
        cohen_kappa_score(table[a], table[b])
        for a, b in (("annotator1", "annotator2"), ("annotator1", "annotator3"), ("annotator2", "annotator3"))
    ]
    assert np.round(kappas, 3).tolist() == [0.852, 0.879, 0.862]
    codes = table.apply(lambda column: column.map({"a": 0, "tie": 1, "b": 2})).to_numpy(dtype=float).T
    alpha = krippendorff.alpha(reliability_data=codes, level_of_measurement="nominal")
    assert round(alpha, 3) == 0.864


@pytest.mark.parametrize(
    ("judge", "n", "agreement", "kappa"),
    [
        ("gpt-3.5-turbo", 974, 0.716, 0.493),
        ("pandalm-7b", 999, 0.668, 0.435),
    ],
)
def test_judge_against_the_human_majority(study, judge, n, agreement, kappa):
    reference = human_table(study).apply(majority, axis=1)
    verdicts = study.labels[study.labels["judge"] == judge].set_index("item_id")["label"]
    usable = verdicts[~verdicts.isin(study.unusable)]
    ref = reference.loc[usable.index]
    assert len(usable) == n
    assert round((usable == ref).mean(), 3) == agreement
    assert round(cohen_kappa_score(usable, ref), 3) == kappa


def test_every_item_has_a_two_of_three_majority(study):
    table = human_table(study)
    assert (table.apply(lambda row: row.value_counts().iloc[0], axis=1) >= 2).all()
