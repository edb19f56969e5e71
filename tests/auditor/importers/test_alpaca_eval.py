"""AlpacaEval annotations: two annotator configs' real annotations.json files in, an audit out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import auditor
from auditor import importers
from auditor.errors import InputError

SOURCE = Path(__file__).parent / "files" / "alpaca_eval" / "Mixtral-8x7B-Instruct-v0.1"
COT, FN = "alpaca_eval_cot_gpt4_turbo_fn", "alpaca_eval_gpt4_turbo_fn"


def test_two_annotators_folder_audits(convert_and_audit):
    # hand-checked: 12 records per annotator on the same 12 instruction/output pairs; preferences of both
    # annotators are 2, 2 then ten 1s -> b, b and ten a; no human raters (LLM annotators only)
    result = convert_and_audit("alpaca_eval", SOURCE, "--reference-fallback", FN)
    assert len(result.items) == 12 and result.items["item_id"].is_unique
    assert set(result.labels["judge"]) == {COT, FN} and result.raters() == set()
    for judge in (COT, FN):
        labels = result.labels[result.labels["judge"] == judge]["label"].tolist()
        assert labels == ["b", "b"] + ["a"] * 10
    assert set(result.items["model_a"]) == {"gpt4_1106_preview"}
    assert set(result.items["model_b"]) == {"Mixtral-8x7B-Instruct-v0.1"}
    meta = json.loads(result.labels["meta"].iloc[0])
    assert {"raw_completion", "price_per_example", "time_per_example"} <= set(meta)
    agreement = [m for m in result.audit["metrics"] if m["metric"] == "agreement" and m["judge"] == COT]
    assert agreement and agreement[0]["value"] == 1.0 and agreement[0]["n"] == 12


def test_human_cross_annotations_and_fractional_preferences(tmp_path):
    # AlpacaFarm's human cross-annotation shape (annotator_index, no annotator) on three of the real pairs, and a
    # weighted annotator's fractional preferences: 1.2 -> a, 1.5 -> tie, 1.9 -> b
    pairs = json.loads((SOURCE / FN / "annotations.json").read_text(encoding="utf-8"))[:3]
    keep = ("instruction", "output_1", "output_2", "generator_1", "generator_2")
    human = [
        {**{k: pair[k] for k in keep}, "annotator_index": rater, "preference": preference}
        for pair, preferences in zip(pairs, ([2, 2, 1], [1, 1, 1], [1, 2, 2]), strict=True)
        for rater, preference in enumerate(preferences)
    ]
    weighted = [
        {**{k: pair[k] for k in keep}, "annotator": "weighted", "preference": preference}
        for pair, preference in zip(pairs, (1.9, 1.2, 1.5), strict=True)
    ]
    folder = tmp_path / "results"
    for name, rows in (("human", human), ("weighted", weighted)):
        (folder / name).mkdir(parents=True)
        (folder / name / "annotations.json").write_text(json.dumps(rows), encoding="utf-8")
    study = importers.load("alpaca_eval", folder)
    assert len(study.items) == 3 and set(study.labels.loc[study.labels["judge"] == "human", "rater"]) == {
        "0",
        "1",
        "2",
    }
    weighted_rows = study.labels[study.labels["judge"] == "weighted"]
    assert weighted_rows["label"].tolist() == ["b", "a", "tie"]
    assert weighted_rows["score"].round(6).tolist() == [0.9, 0.2, 0.5]
    # human majority per item: b, a, b; the weighted judge agrees on the first two
    result = auditor.audit(study.labels, items=study.items, task="pairwise", resamples=0)
    agreement = result.metrics[
        (result.metrics["metric"] == "agreement")
        & (result.metrics["judge"] == "weighted")
        & result.metrics["slice"].isna()
    ]
    assert agreement["n"].tolist() == [3] and round(agreement["value"].iloc[0], 6) == round(2 / 3, 6)


def test_malformed_preference_is_one_line_naming_file_row_and_field(convert_fails, tmp_path):
    rows = json.loads((SOURCE / COT / "annotations.json").read_text(encoding="utf-8"))[:2]
    rows[1]["preference"] = "output_1"
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    line = convert_fails("alpaca_eval", path)
    assert str(path) in line and "row 2" in line and "'preference'" in line


def test_missing_output_names_the_field(tmp_path):
    rows = json.loads((SOURCE / COT / "annotations.json").read_text(encoding="utf-8"))[:3]
    del rows[2]["output_2"]
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    with pytest.raises(InputError, match=r"row 3, column 'output_2': is missing"):
        importers.load("alpaca_eval", path)
