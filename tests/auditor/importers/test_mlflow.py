"""MLflow traces with human and LLM-judge feedback (written by MLflow itself, see files/mlflow/make_traces.py)
in, an audit out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor import importers
from auditor.errors import InputError

TRACES = Path(__file__).parent / "files" / "mlflow" / "traces.json"
JUDGE = "openai:/gpt-4o-mini"


def test_human_and_judge_feedback_audit(convert_and_audit):
    result = convert_and_audit("mlflow", TRACES)
    # hand-checked: 6 traces; feedback "correct" (the first name with human feedback) from ann and bo on all six
    # and from the judge on five (its sixth call logged an error)
    assert len(result.items) == 6 and result.items["item_id"].str.startswith("tr-").all()
    assert result.items["prompt"].iloc[0] == "What is the capital of France?"
    assert result.items["response"].iloc[2] == "12 times 12 is 124."
    assert json.loads(result.items["meta"].iloc[0])["expectations"] == {"expected_answer": "Paris"}
    assert set(result.labels["judge"]) == {"human", JUDGE} and result.raters() == {"ann", "bo"}
    assert result.audit["task"] == "binary"
    judge = result.labels[result.labels["judge"] == JUDGE]
    assert judge["label"].tolist() == ["1", "1", "1", "1", "0", None]
    assert judge["exclusion"].tolist()[-1] == "error"
    # human majority 1, 1, 0, (ann 1 / bo 0: none), 0, 1; the judge yes, yes, yes, yes, no, error: it agrees on 3
    # of the 4 items that have both a human majority and a verdict
    agreement = [m for m in result.audit["metrics"] if m["metric"] == "agreement" and m["judge"] == JUDGE]
    assert (agreement[0]["value"], agreement[0]["n"]) == (0.75, 4)


def test_another_assessment_by_name_and_the_flat_search_rows(tmp_path):
    tone = importers.load("mlflow", TRACES, field="tone")
    assert tone.task == "score" and tone.labels["score"].tolist() == [5.0, 4.0, 2.0, 4.0, 3.0, 5.0]
    # the rows of mlflow.search_traces() saved as JSON lines: trace_id, request, response, assessments
    traces = json.loads(TRACES.read_text(encoding="utf-8"))
    rows = [
        {
            "trace_id": t["info"]["trace_id"],
            "request": t["info"]["trace_metadata"]["mlflow.traceInputs"],
            "response": t["info"]["trace_metadata"]["mlflow.traceOutputs"],
            "assessments": t["info"]["assessments"],
        }
        for t in traces
    ]
    path = tmp_path / "search.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    flat = importers.load("mlflow", path)
    nested = importers.load("mlflow", TRACES)
    assert flat.labels[["item_id", "judge", "rater", "label"]].equals(
        nested.labels[["item_id", "judge", "rater", "label"]]
    )
    assert flat.items["prompt"].tolist() == nested.items["prompt"].tolist()


def test_malformed_feedback_names_the_trace(tmp_path):
    traces = json.loads(TRACES.read_text(encoding="utf-8"))
    feedback = next(a for a in traces[3]["info"]["assessments"] if a["assessment_name"] == "correct")
    feedback["feedback"]["value"] = {"score": 1}
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(traces), encoding="utf-8")
    with pytest.raises(
        InputError, match=r"traces.json, row 4, column 'assessments': holds a dict feedback value"
    ):
        importers.load("mlflow", path)
    with pytest.raises(InputError, match=r"has no feedback named 'helpful'; found correct, tone"):
        importers.load("mlflow", TRACES, field="helpful")
