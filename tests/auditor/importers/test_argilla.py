"""Argilla records.json (written by Argilla's own JsonIO.to_json, see files/argilla/make_records.py) in, an audit
out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor import importers
from auditor.errors import InputError

SOURCE = Path(__file__).parent / "files" / "argilla"
USERS = {f"00000000-0000-0000-0000-00000000000{k}" for k in (1, 2, 3)}


def test_responses_and_suggestions_audit(convert_and_audit):
    result = convert_and_audit("argilla", SOURCE)
    # hand-checked: 6 records; question "quality" (the first): 15 responses from 3 users, 6 suggestions of
    # gpt-4o-mini
    assert result.items["item_id"].tolist() == [f"rec-{k}" for k in range(1, 7)]
    assert result.items["prompt"].iloc[0].startswith("What are the names of some famous actors")
    assert set(result.items["generator"]) == {"Mixtral-8x7B-Instruct-v0.1"}
    assert set(result.labels["judge"]) == {"human", "gpt-4o-mini"} and result.raters() == USERS
    assert len(result.labels[result.labels["judge"] == "human"]) == 15
    assert result.audit["task"] == "categorical"
    # human majority good, good, bad, good, bad, good; gpt-4o-mini good, bad, bad, good, good, good: 4 of 6 agree
    agreement = [
        m for m in result.audit["metrics"] if m["metric"] == "agreement" and m["judge"] == "gpt-4o-mini"
    ]
    assert agreement[0]["n"] == 6 and round(agreement[0]["value"], 6) == round(4 / 6, 6)
    assert json.loads(result.labels[result.labels["judge"] == "gpt-4o-mini"]["meta"].iloc[0]) == {
        "score": 0.9
    }


def test_rating_question_is_likert_and_argilla_1_shape(tmp_path):
    study = importers.load("argilla", SOURCE / "records.json", field="helpfulness")
    assert study.task == "likert" and study.scale == (1, 5, 3)
    assert study.labels["score"].tolist()[:3] == [5.0, 4.0, 5.0]
    # the same records in Argilla 1's shape: responses as a list of {user_id, values, status}
    records = json.loads((SOURCE / "records.json").read_text(encoding="utf-8"))[:2]
    for record in records:
        by_user: dict[str, dict] = {}
        for question, answers in record["responses"].items():
            for answer in answers:
                by_user.setdefault(answer["user_id"], {})[question] = {"value": answer["value"]}
        record["responses"] = [
            {"user_id": user, "values": values, "status": "discarded" if user.endswith("3") else "submitted"}
            for user, values in by_user.items()
        ]
        record["suggestions"] = [{"question_name": q, **s} for q, s in record["suggestions"].items()]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    v1 = importers.load("argilla", path)
    assert v1.labels["label"].tolist() == ["good", "good", None, "good", "good", "bad", None, "bad"]
    assert v1.labels["exclusion"].tolist().count("discarded") == 2


def test_response_without_user_names_the_record(tmp_path):
    records = json.loads((SOURCE / "records.json").read_text(encoding="utf-8"))
    del records[3]["responses"]["quality"][1]["user_id"]
    path = tmp_path / "records.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    with pytest.raises(
        InputError, match=r"records.json, row 4, column 'responses': has a response without user_id"
    ):
        importers.load("argilla", path)
