"""Every loader's study goes through the core unchanged: written to disk, read back with its audit.toml, audited."""

from __future__ import annotations

import pytest

import auditor
from auditor.config import load_config
from auditor.data import read_labels
from auditor.datasets import hanna, llmbar, pandalm, recentering


def _audit_written(study, tmp_path):
    study.write(tmp_path)
    config = load_config(tmp_path / "audit.toml").with_overrides(resamples=100)
    return auditor.audit(tmp_path / "labels.jsonl", items=tmp_path / "items.jsonl", config=config)


LOADERS = {
    "pandalm": ("pandalm_testset", lambda root: pandalm.load(root)),
    "hanna": ("hanna", lambda root: hanna.load(root, "Surprise")),
    "llmbar": (
        "llmbar",
        lambda root: llmbar.load(root, subset="Processed_MT-Bench", strategy="Metrics_Reference"),
    ),
    "recentering-stage2": ("recentering", lambda root: recentering.load_stage2(root)),
}


@pytest.mark.parametrize("name", list(LOADERS))
def test_written_study_audits_without_error(name, dataset_root, tmp_path):
    folder, load = LOADERS[name]
    study = load(dataset_root(folder))
    result = _audit_written(study, tmp_path)
    assert set(study.judges) - {"human"} <= set(result.judges)


def test_llmbar_unparsed_verdicts_are_counted_exclusions(dataset_root, tmp_path):
    study = llmbar.load(dataset_root("llmbar"), subset="Processed_MT-Bench", strategy="Metrics_Reference")
    result = _audit_written(study, tmp_path)
    expected = study.labels[study.labels["exclusion"] == "unparsed"].groupby("judge").size().to_dict()
    found = result.exclusions[result.exclusions["reason"] == "unparsed"].set_index("judge")["count"].to_dict()
    assert found == expected and sum(found.values()) > 0


def test_stage2_relevant_rates_through_the_core(dataset_root, tmp_path):
    study = recentering.load_stage2(dataset_root("recentering"), with_reference=False)
    study.write(tmp_path)  # no reference here: check the rates on the table the core reads back
    labels = read_labels(tmp_path / "labels.jsonl")
    rates = labels.assign(yes=labels["label"].astype(str) == "1").groupby("judge")["yes"].agg(["sum", "size"])
    assert rates.loc["gpt-5.4"].tolist() == [1741, 3973]
    assert round(rates.loc["gemma-4-31b-it", "sum"] / 3973, 3) == 0.470


@pytest.mark.parametrize("stage", ["extraction", "relevance-pilot"])
def test_pilot_studies_with_partial_raters_audit(stage, dataset_root, tmp_path):
    study = recentering.load(dataset_root("recentering"), stage)
    result = _audit_written(study, tmp_path)
    ceiling = result.metrics[(result.metrics["judge"] == "human") & (result.metrics["reference"] == "human")]
    assert {"agreement", "krippendorff_alpha", "fleiss_kappa"} <= set(ceiling["metric"])


def test_load_by_name_accepts_the_data_root_or_the_dataset_folder(dataset_root):
    from auditor.datasets import DATASETS, load

    root = dataset_root("recentering")
    assert load("recentering-stage3", root).name == "recentering-stage3"
    assert load("recentering-stage3", root / "recentering").name == "recentering-stage3"
    assert load("hanna", dataset_root("hanna"), criterion="Coherence").name == "hanna-coherence"
    assert set(DATASETS) >= {"pandalm", "hanna", "llmbar", "recentering-stage1", "recentering-stage2"}
    with pytest.raises(ValueError, match="unknown dataset"):
        load("nope", root)
