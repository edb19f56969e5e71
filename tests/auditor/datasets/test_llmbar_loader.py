"""LLMBar loader: position-swap counts of the authors' statistics, natural-set accuracy, unparsed verdicts."""

from __future__ import annotations

import pandas as pd
import pytest

from auditor.datasets import llmbar


@pytest.fixture(scope="module")
def study(dataset_root):
    return llmbar.load(dataset_root("llmbar"))


def correct_by_order(study, judge: str, source: str) -> pd.DataFrame:
    """One row per item: whether the judge's verdict matches gold in each order (False when unparsed)."""
    labels = study.labels
    items = study.items.loc[study.items["source"] == source, "item_id"]
    gold = labels[(labels["judge"] == "human")].set_index("item_id")["label"].loc[items]
    verdicts = (
        labels[labels["judge"] == judge].pivot(index="item_id", columns="order", values="label").loc[items]
    )
    return verdicts.eq(gold, axis=0)


def test_shapes_and_contract(study):
    assert len(study.items) == 885 and study.items["item_id"].is_unique
    assert study.items.groupby("source").size().to_dict() == {
        "LLMBar_Adversarial_GPTInst": 92,
        "LLMBar_Adversarial_GPTOut": 47,
        "LLMBar_Adversarial_Manual": 46,
        "LLMBar_Adversarial_Neighbor": 134,
        "LLMBar_Natural": 100,
        "Processed_FairEval": 66,
        "Processed_LLMEval_2": 200,
        "Processed_MT-Bench": 200,
    }
    labels = study.labels
    assert (labels["judge"] == "human").sum() == 885
    assert len(labels) == 885 + 2 * 30963
    assert set(labels["order"].dropna()) == {"ab", "ba"}
    assert set(labels["label"].dropna()) == {"a", "b"}
    assert "GPT-4/Metrics_Reference" in study.judges


def test_empty_winners_are_unparsed_exclusions(study):
    unparsed = study.labels[study.labels["label"].isna()]
    assert (unparsed["exclusion"] == "unparsed").all()
    assert unparsed.groupby("order").size().to_dict() == {"ab": 135, "ba": 138}


def test_mt_bench_gpt4_metrics_reference_reproduces_161_163_146(study):
    correct = correct_by_order(study, "GPT-4/Metrics_Reference", "Processed_MT-Bench")
    assert len(correct) == 200
    assert (correct["ab"].sum(), correct["ba"].sum(), (correct["ab"] & correct["ba"]).sum()) == (
        161,
        163,
        146,
    )


def test_natural_gpt4_vanilla_norules_accuracy_is_0_92(study):
    correct = correct_by_order(study, "GPT-4/Vanilla_NoRules", "LLMBar_Natural")
    assert correct["ab"].mean() == pytest.approx(0.92)


def test_filters(dataset_root):
    subset = llmbar.load(dataset_root("llmbar"), subset="Processed/MT-Bench", strategy="Vanilla_NoRules")
    assert len(subset.items) == 200
    assert sorted(j for j in subset.judges if j != "human") == [
        "ChatGPT/Vanilla_NoRules",
        "GPT-4/Vanilla_NoRules",
        "LLaMA2/Vanilla_NoRules",
        "PaLM2/Vanilla_NoRules",
    ]
    with pytest.raises(ValueError, match="unknown LLMBar subset"):
        llmbar.load(dataset_root("llmbar"), subset="Nope")
