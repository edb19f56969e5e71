"""Label Studio JSON exports: Label Studio's own test exports in, an audit out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor import importers
from auditor.errors import InputError

FILES = Path(__file__).parent / "files" / "label_studio"
TASKS = FILES / "tasks_annotations_predictions.json"
EXPORT = FILES / "previous_export.json"


def test_annotations_and_predictions_audit(convert_and_audit):
    result = convert_and_audit("label_studio", TASKS)
    # hand-checked: 6 tasks (no ids: "<stem>:<position>"); annotations on tasks 1 (one), 2 (two), 3 (one) -> human
    # raters annotator1, annotator2 by position; predictions of model_version_A on tasks 1, 2 and one unnamed on 6
    assert result.items["item_id"].tolist() == [f"tasks_annotations_predictions:{k}" for k in range(1, 7)]
    assert result.items["text"].tolist() == ["Test example phrase 1", "x2", "yoyo", "zzz", "vivi", "opop"]
    assert set(result.labels["judge"]) == {"human", "model_version_A", "prediction"}
    assert result.raters() == {"annotator1", "annotator2"}
    assert len(result.labels[result.labels["judge"] == "human"]) == 4
    assert result.audit["task"] == "categorical"
    agreement = [
        m for m in result.audit["metrics"] if m["metric"] == "agreement" and m["judge"] == "model_version_A"
    ]
    assert agreement[0]["value"] == 1.0 and agreement[0]["n"] == 2
    assert {"judge": "prediction", "reason": "no reference label for the item", "count": 1} in result.audit[
        "exclusions"
    ]


def test_full_export_with_completed_by_and_field_choice(tmp_path):
    study = importers.load("label_studio", EXPORT)
    assert study.items["item_id"].tolist() == ["1234"]
    assert study.items["image"].tolist() == ["https://pytest.labelstud.io/mypets.jpg"]
    assert study.labels[["judge", "rater", "label"]].values.tolist() == [["human", "42", "Cat"]]
    assert json.loads(study.labels["meta"].iloc[0])["lead_time"] == 346193.271
    # a folder with both exports: the control defaults to the first found (text_class); --field picks "label"
    picked = importers.load("label_studio", FILES, field="label")
    assert picked.labels["label"].dropna().tolist() == ["Cat"]
    assert picked.labels["exclusion"].value_counts().to_dict() == {"no result": 7}
    with pytest.raises(InputError, match=r"has no classification control 'rating'; found label"):
        importers.load("label_studio", EXPORT, field="rating")


def test_malformed_annotations_name_the_task(tmp_path):
    tasks = json.loads(TASKS.read_text(encoding="utf-8"))
    tasks[1]["annotations"][1]["result"][0]["value"] = {"choices": []}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(InputError, match=r"export.json, row 2, column 'result': has no choices for control"):
        importers.load("label_studio", path)
