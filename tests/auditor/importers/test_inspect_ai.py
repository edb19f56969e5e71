"""Inspect AI eval logs (written by Inspect itself, see files/inspect_ai/make_logs.py) joined with a table of human
labels by sample id: in, an audit out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from auditor import importers
from auditor.errors import InputError

FILES = Path(__file__).parent / "files" / "inspect_ai"
HUMAN = FILES / "human_labels.csv"


def test_json_log_with_human_labels_audits(convert_and_audit):
    result = convert_and_audit("inspect_ai", FILES / "quiz.json", convert_args=("--human", str(HUMAN)))
    # hand-checked: 6 samples, one epoch; scorers model_graded_qa and includes; 2 human raters on every sample
    assert result.items["item_id"].tolist() == ["1", "2", "3", "4", "5", "6"]
    assert result.items["target"].tolist() == ["Paris", "8", "144", "Mars", "carbon dioxide", "Jane Austen"]
    assert set(result.labels["judge"]) == {"human", "model_graded_qa", "includes"}
    assert result.raters() == {"ann", "bo"} and result.audit["task"] == "binary"
    by_judge = result.labels.groupby("judge")["label"].apply(list).to_dict()
    assert by_judge["model_graded_qa"] == [
        "1",
        "1",
        "1",
        "1",
        "0",
        "0",
    ]  # the grader's fixed grades C C C C I I
    assert by_judge["includes"] == ["1", "1", "0", "1", "0", "1"]  # target found in answers 1, 2, 4 and 6
    # human majority: 1, 1, 0, (4: one each, no majority), 0, 1 -> includes agrees on all 5, the grader on 3
    agreement = {
        m["judge"]: (m["value"], m["n"]) for m in result.audit["metrics"] if m["metric"] == "agreement"
    }
    assert agreement["includes"] == (1.0, 5)
    assert agreement["model_graded_qa"][1] == 5 and round(agreement["model_graded_qa"][0], 6) == 0.6


def test_eval_archive_reads_as_the_json_log():
    pytest.importorskip("zstandard", reason="Inspect's .eval members are zstd-compressed")
    archive = importers.load("inspect_ai", FILES / "quiz.eval")
    log = importers.load("inspect_ai", FILES / "quiz.json")
    columns = ["item_id", "judge", "label", "raw", "reason"]
    assert archive.labels[columns].equals(log.labels[columns])
    assert archive.items[["item_id", "prompt", "response"]].equals(
        log.items[["item_id", "prompt", "response"]]
    )


def test_unknown_sample_in_human_labels_names_the_row(tmp_path):
    path = tmp_path / "human.csv"
    path.write_text("id,label\n1,C\n9,I\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"human.csv, row 2, column 'id': sample id '9' is in no log"):
        importers.load("inspect_ai", FILES / "quiz.json", human=path)


def test_score_without_value_names_the_sample(tmp_path):
    log = json.loads((FILES / "quiz.json").read_text(encoding="utf-8"))
    del log["samples"][4]["scores"]["includes"]["value"]
    path = tmp_path / "log.json"
    path.write_text(json.dumps(log), encoding="utf-8")
    with pytest.raises(InputError, match=r"log.json, row 5, column 'scores': holds a score without a value"):
        importers.load("inspect_ai", path)


def test_eval_archive_without_zstandard_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "zstandard", None)  # makes `import zstandard` fail
    with pytest.raises(
        InputError, match=r"quiz.eval: is a zstd-compressed .eval archive; .*pip install zstandard"
    ):
        importers.load("inspect_ai", FILES / "quiz.eval")


def test_human_labels_narrowed_by_model_when_several_logs(tmp_path):
    # two logs of the same task (the second a copy under another model's name): a label with a model column goes
    # to that model's output only, one without goes to both
    log = json.loads((FILES / "quiz.json").read_text(encoding="utf-8"))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.json").write_text(json.dumps(log), encoding="utf-8")
    log["eval"]["model"] = "mockllm/other"
    (tmp_path / "logs" / "b.json").write_text(json.dumps(log), encoding="utf-8")
    human = tmp_path / "human.csv"
    human.write_text("id,model,label\n1,mockllm/other,I\n2,,C\n", encoding="utf-8")
    study = importers.load("inspect_ai", tmp_path / "logs", human=human)
    rows = study.labels[study.labels["judge"] == "human"]
    assert rows[["item_id", "label"]].values.tolist() == [
        ["mockllm/other/1", "0"],
        ["mockllm/model/2", "1"],
        ["mockllm/other/2", "1"],
    ]
    assert len(study.items) == 12
