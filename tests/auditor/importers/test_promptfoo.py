"""promptfoo eval results: promptfoo's own sample export in, an audit out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditor import importers
from auditor.errors import InputError

EXPORT = Path(__file__).parent / "files" / "promptfoo" / "sample-export.json"
MANUAL = "Manual result (overrides all other grading results)"


def _with_manual_ratings(path: Path, passes: list[bool]) -> Path:
    """The export after a reviewer rated each output in promptfoo's viewer (the shape its rating endpoint
    stores: a componentResult with assertion type ``human``, which also overrides the overall result)."""
    document = json.loads(EXPORT.read_text(encoding="utf-8"))
    for result, passed in zip(document["results"]["results"], passes, strict=True):
        grading = result["gradingResult"]
        grading["componentResults"].append(
            {"pass": passed, "score": float(passed), "reason": MANUAL, "assertion": {"type": "human"}}
        )
        grading.update({"pass": passed, "score": float(passed), "reason": MANUAL})
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_sample_export_counts():
    study = importers.load("promptfoo", EXPORT)
    # hand-checked: 2 riddles x 2 providers = 4 outputs; cost, latency and llm-rubric on all 4, contains on the
    # two echo riddle outputs = 14 verdicts; no manual ratings
    assert study.items["item_id"].tolist() == [
        "test0/prompt1/openai:gpt-5-mini",
        "test0/prompt0/openai:gpt-5",
        "test1/prompt1/openai:gpt-5-mini",
        "test1/prompt0/openai:gpt-5",
    ]
    assert study.labels.groupby("judge").size().to_dict() == {
        "contains": 2,
        "cost": 4,
        "latency": 4,
        "llm-rubric": 4,
    }
    assert study.labels[study.labels["judge"] == "latency"]["label"].tolist() == ["0"] * 4
    assert study.labels[study.labels["judge"] == "cost"]["label"].tolist() == ["1", "0", "1", "1"]
    assert study.items["response"].iloc[1] == "An echo."


def test_manual_ratings_are_the_human_reference(convert_and_audit, tmp_path):
    path = _with_manual_ratings(tmp_path / "output.json", [True, True, True, False])
    result = convert_and_audit("promptfoo", path)
    assert len(result.items) == 4 and result.raters() == {"0"}
    assert set(result.labels["judge"]) == {"human", "cost", "latency", "contains", "llm-rubric"}
    agreement = {
        m["judge"]: (m["value"], m["n"]) for m in result.audit["metrics"] if m["metric"] == "agreement"
    }
    # llm-rubric passes all four, the reviewer failed the last one; contains (2 outputs) agrees on both
    assert agreement["llm-rubric"] == (0.75, 4) and agreement["contains"] == (1.0, 2)
    assert agreement["latency"] == (0.25, 4)


def test_component_without_pass_names_the_result(tmp_path):
    document = json.loads(EXPORT.read_text(encoding="utf-8"))
    del document["results"]["results"][2]["gradingResult"]["componentResults"][1]["pass"]
    path = tmp_path / "output.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(InputError, match=r"output.json, row 3, column 'componentResults': has pass None"):
        importers.load("promptfoo", path)
