"""Position probe on LLMBar: accuracy in the original order, the swapped order and both, reproduced against the
published counts; consistency and first-position preference by hand; unparsed verdicts as exclusions."""

from __future__ import annotations

import pandas as pd
import pytest

import auditor
import auditor.probes  # noqa: F401  (registers the probes extension)
from auditor.config import config_from_mapping
from auditor.datasets import llmbar


@pytest.fixture(scope="module")
def gpt4(data_root):
    study = llmbar.load(data_root, subset=["Processed_MT-Bench", "LLMBar_Natural"], evaluator="GPT-4")
    result = auditor.audit(
        study.labels, study.items, config=config_from_mapping(study.config()), resamples=500
    )
    return study, result


def test_gpt4_metrics_reference_on_mt_bench_gives_161_163_146_of_200(gpt4):
    _, result = gpt4
    judge, where = "GPT-4/Metrics_Reference", "source=Processed_MT-Bench"
    counts = {
        metric: round(result.metric(metric, judge, slice=where)["value"] * 200)
        for metric in ("agreement_original_order", "agreement_swapped_order", "agreement_both_orders")
    }
    assert counts == {
        "agreement_original_order": 161,
        "agreement_swapped_order": 163,
        "agreement_both_orders": 146,
    }
    for metric in counts:
        row = result.metric(metric, judge, slice=where)
        assert row["n"] == 200 and row["ci_low"] < row["value"] < row["ci_high"]


def test_gpt4_vanilla_norules_on_natural_gives_0_92(gpt4):
    _, result = gpt4
    row = result.metric("agreement_original_order", "GPT-4/Vanilla_NoRules", slice="source=LLMBar_Natural")
    assert row["value"] == pytest.approx(0.92) and row["n"] == 100


def _wide(study) -> pd.DataFrame:
    votes = study.labels[study.labels["judge"] != "human"]
    wide = votes.pivot_table(index=["judge", "item_id"], columns="order", values="label", aggfunc="first")
    gold = study.labels[study.labels["judge"] == "human"].set_index("item_id")["label"]
    return wide.join(gold.rename("gold"), on="item_id")


def test_consistency_and_first_position_rate_by_hand(gpt4):
    study, result = gpt4
    wide = _wide(study)
    for judge, rows in wide.groupby(level="judge"):
        both = rows.dropna(subset=["ab", "ba"])
        consistency = result.metric("position_consistency", judge, judge)
        assert consistency["value"] == pytest.approx((both["ab"] == both["ba"]).mean())
        assert consistency["n"] == len(both)
        # the response shown first: a in the original order, b in the swapped one (labels in the a/b numbering)
        first = (rows["ab"] == "a").sum() + (rows["ba"] == "b").sum()
        decisive = rows["ab"].isin(["a", "b"]).sum() + rows["ba"].isin(["a", "b"]).sum()
        assert result.metric("first_position_rate", judge, judge)["value"] == pytest.approx(first / decisive)
        both_right = ((both["ab"] == both["gold"]) & (both["ba"] == both["gold"])).mean()
        assert result.metric("agreement_both_orders", judge)["value"] == pytest.approx(both_right)


def test_the_135_unparsed_verdicts_are_counted_exclusions(data_root):
    study = llmbar.load(data_root)
    result = auditor.audit(study.labels, study.items, config=config_from_mapping(study.config()), resamples=0)
    unparsed = study.labels[study.labels["exclusion"] == "unparsed"]
    assert (unparsed["order"] == "ab").sum() == 135 and (unparsed["order"] == "ba").sum() == 138
    excluded = result.exclusions[result.exclusions["reason"] == "unparsed"]["count"].sum()
    assert excluded == 273
    # an item missing its original-order verdict leaves the original-order and both-orders accuracy, not the other
    judge = unparsed.loc[unparsed["order"] == "ab", "judge"].value_counts().index[0]
    missing_ab = set(unparsed.loc[(unparsed["order"] == "ab") & (unparsed["judge"] == judge), "item_id"])
    original = result.metric("agreement_original_order", judge)["n"]
    swapped_missing = set(unparsed.loc[(unparsed["order"] == "ba") & (unparsed["judge"] == judge), "item_id"])
    n_items = study.labels.loc[study.labels["judge"] == judge, "item_id"].nunique()
    assert original == n_items - len(missing_ab)
    assert result.metric("agreement_swapped_order", judge)["n"] == n_items - len(swapped_missing)
    assert result.meta["probes"]["position"]["judges"]
