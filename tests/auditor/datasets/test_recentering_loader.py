"""Re-Centering loaders: join keys, the published stage-2 relevant rates, and the pilot's shapes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

from auditor.datasets import recentering


@pytest.fixture(scope="module")
def root(dataset_root):
    return dataset_root("recentering")


@pytest.fixture(scope="module")
def stage2(root):
    return recentering.load_stage2(root)


@pytest.fixture(scope="module")
def pilot(root):
    return recentering.load_pilot_relevance(root)


@pytest.fixture(scope="module")
def stage1(root):
    return recentering.load_stage1(root)


def test_stage2_reproduces_the_published_relevant_rates(stage2):
    assert len(stage2.items) == 3973 and stage2.items["item_id"].is_unique
    assert stage2.items["user_id"].nunique() == 47
    assert stage2.items.groupby(["user_id", "prompt_index"]).ngroups == 164
    votes = stage2.labels[stage2.labels["judge"] != "human"]
    counts = votes.groupby("judge")["label"].agg(n="size", relevant=lambda x: (x == "1").sum())
    assert counts.loc["gpt-5.4"].tolist() == [3973, 1741]
    assert round(1741 / 3973, 3) == 0.438
    assert counts.loc["gemma-4-31b-it", "n"] == 3973
    assert round(counts.loc["gemma-4-31b-it", "relevant"] / 3973, 3) == 0.470
    # every vote's label agrees with its raw YES / NO answer
    assert (votes["label"] == votes["raw"].map({"YES": "1", "NO": "0"})).all()


def test_stage2_reference_comes_from_the_stage3_flags(stage2, root):
    reference = stage2.labels[stage2.labels["judge"] == "human"]
    assert reference["item_id"].is_unique and set(reference["rater"]) == {"gt"}
    assert len(reference) == 3748 and (reference["label"] == "1").sum() == 708  # 1,416 flags / 2 generators
    assert round((reference["label"] == "1").mean(), 3) == 0.189  # humans ~20% in the study
    assert len(recentering.load_stage2(root, with_reference=False).labels) == 2 * 3973


def test_stage2_pipeline_proposals_are_metadata(stage2):
    assert stage2.items["pipeline_relevance"].notna().sum() == 588


def test_stage3_items(root):
    study = recentering.load_stage3(root)
    items = study.items
    assert len(items) == 308 and items["item_id"].is_unique
    assert items["user_id"].nunique() == 47 and items["prompt_id"].nunique() == 154
    assert items["generator"].value_counts().to_dict() == {"gpt-5.4": 154, "claude-sonnet-4-6": 154}
    assert items["n_relevant"].sum() == 1416
    assert set(items["stage"]) == {"generation"} and study.task == "likert" and study.scale == (1, 5, 3)
    assert study.labels.empty and "No human ratings" in study.description
    first = items.iloc[0]
    attributes = json.loads(first["profile_attributes"])
    assert first["profile"].count("\n") == len(attributes) - 1
    assert all(a["attribute"] in first["profile"] for a in attributes)
    assert (items["response_a"] != items["response_b"]).all()


def test_stage3_attributes_are_the_stage2_profiles(root, stage2):
    stage3 = recentering.load_stage3(root).items
    keys = set(zip(stage2.items["user_id"], stage2.items["prompt_index"], strict=True))
    assert set(zip(stage3["user_id"], stage3["prompt_index"], strict=True)) <= keys


def test_pilot_relevance_joins_humans_and_llms_on_sample_and_attribute(pilot):
    items, labels = pilot.items, pilot.labels
    assert len(items) == 632 and items["item_id"].is_unique and items["sample_index"].nunique() == 25
    humans = labels[labels["judge"] == "human"]
    assert sorted(humans["rater"].unique()) == ["Jiarui", "Lechen", "Lechen2", "Tal", "Xiuzhu"]
    assert humans.groupby("rater").size().to_dict() == {
        "Jiarui": 193,
        "Lechen": 193,
        "Lechen2": 193,
        "Tal": 41,
        "Xiuzhu": 193,
    }
    llm = labels[labels["judge"] != "human"].groupby("judge").size().to_dict()
    assert llm == {
        "claude-sonnet-4-6": 193,
        "gpt-5.4": 193,
        "gemma-4-31b-it": 632,
        "llama-3.3-70b-instruct": 632,
    }
    # one verdict per (item, judge, rater): a join on the wrong key would duplicate or orphan rows
    assert not labels.duplicated(["item_id", "judge", "rater"]).any()
    per_item = labels.groupby("item_id")["judge"].nunique()
    assert per_item.reindex(items["item_id"]).notna().all()
    assert humans.groupby("rater")["label"].apply(lambda x: (x == "1").sum()).to_dict() == {
        "Jiarui": 46,
        "Lechen": 113,
        "Lechen2": 74,
        "Tal": 7,
        "Xiuzhu": 62,
    }


def test_pilot_human_votes_track_the_authors_aggregate(pilot):
    """The authors' clf file aggregates another annotation round; it must still correlate with our votes."""
    humans = pilot.labels[pilot.labels["judge"] == "human"]
    ours = humans.assign(v=humans["label"].astype(float)).groupby("item_id")["v"].mean()
    theirs = pilot.items.set_index("item_id")["human_yes_rate"].reindex(ours.index)
    both = pd.concat([ours, theirs], axis=1).dropna()
    assert len(both) == 212
    assert np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1] > 0.6


def test_stage1_labels_and_shapes(stage1):
    assert stage1.task == "categorical" and stage1.categories == ("accept", "uncertain", "reject")
    assert len(stage1.items) == 82 and stage1.items["user_id"].nunique() == 5
    labels = stage1.labels
    assert set(labels["label"]) == {"accept", "uncertain", "reject"}
    assert (labels["label"] == labels["raw"].map(stage1.aliases)).all()
    lechen = labels[labels["rater"] == "Lechen"]["raw"].value_counts().to_dict()
    assert lechen == {"ok": 65, "unsure": 12, "bad": 5}
    assert labels.groupby("rater").size().to_dict()["Tal"] == 50  # Tal judged users 0 and 1 only


def test_stage1_fleiss_kappa_of_the_six_complete_annotators(stage1):
    labels = stage1.labels
    complete = labels.groupby("rater")["item_id"].nunique()
    complete = complete[complete == 82].index
    assert len(complete) == 6
    table = labels[labels["rater"].isin(complete)].pivot(index="item_id", columns="rater", values="label")
    codes = table.apply(lambda column: column.map({"accept": 0, "uncertain": 1, "reject": 2})).to_numpy(
        dtype=int
    )
    kappa = fleiss_kappa(aggregate_raters(codes)[0])
    assert -0.1 < kappa < 0.4  # low agreement in the pilot (value reported, not published)


def test_load_dispatches_by_stage(root):
    assert recentering.load(root, "generation").name == "recentering-stage3"
    with pytest.raises(ValueError, match="unknown stage"):
        recentering.load(root, "nope")


def test_pilot_kappa_table_is_close_to_the_study(pilot):
    """Mean pairwise Cohen's kappa on shared items: the study reports 0.43 / 0.30 / 0.60 (human-human /
    human-LLM / LLM-LLM); the pilot gives 0.408 / 0.338 / 0.560 (computed here with scikit-learn)."""
    import itertools

    from sklearn.metrics import cohen_kappa_score

    labels = pilot.labels.assign(
        who=np.where(pilot.labels["judge"] == "human", pilot.labels["rater"], pilot.labels["judge"])
    )
    table = labels.pivot(index="item_id", columns="who", values="label").astype(float)
    humans = set(labels.loc[labels["judge"] == "human", "rater"])
    kinds: dict[str, list[float]] = {"human-human": [], "human-llm": [], "llm-llm": []}
    for a, b in itertools.combinations(table.columns, 2):
        both = table[[a, b]].dropna()
        kind = "human-human" if {a, b} <= humans else "llm-llm" if not {a, b} & humans else "human-llm"
        kinds[kind].append(cohen_kappa_score(both[a], both[b]))
    means = {kind: round(float(np.mean(values)), 3) for kind, values in kinds.items()}
    assert means == {"human-human": 0.408, "human-llm": 0.338, "llm-llm": 0.56}
    assert [len(v) for v in kinds.values()] == [10, 20, 6]
