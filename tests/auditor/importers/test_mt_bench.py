"""FastChat MT-Bench pairwise judgments: a real gpt-4_pair.jsonl (both orders) in, an audit out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from auditor import importers
from auditor.errors import InputError

SOURCE = Path(__file__).parent / "files" / "mt_bench"
JUDGMENTS = SOURCE / "model_judgment" / "gpt-4_pair.jsonl"


def _human_file(folder: Path) -> None:
    """Two annotators in FastChat's human-judgment shape, the models listed the other way round (model_a is the
    DPO model, which sorts second): ``model_b`` wins = phi-3 = the item's a."""
    rows = []
    for rater, winners in (("expert_0", {88: "model_a"}), ("expert_1", {87: "tie", 88: "model_a"})):
        for question_id in range(81, 89):
            winner = winners.get(question_id, "model_b")
            rows.append(
                {
                    "question_id": question_id,
                    "model_a": "phi-3-dpo",
                    "model_b": "phi-3",
                    "winner": winner,
                    "judge": rater,
                    "turn": 1,
                }
            )
    (folder / "human").mkdir()
    (folder / "human" / "human_judgments.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_judgments_and_human_labels_audit(convert_and_audit, tmp_path):
    folder = tmp_path / "mt_bench"
    shutil.copytree(SOURCE, folder)
    _human_file(folder)
    result = convert_and_audit("mt_bench", folder)
    # hand-checked: 10 judgment records (questions 81-88 and 124-125, turn 1, phi-3 vs phi-3-dpo), two verdicts
    # each; human labels on 81-88 from 2 raters
    assert len(result.items) == 10 and set(result.labels["judge"]) == {"gpt-4", "human"}
    assert result.raters() == {"expert_0", "expert_1"}
    assert result.items["item_id"].iloc[0] == "81/phi-3/phi-3-dpo/turn1"
    assert result.items["prompt"].iloc[0].startswith("Compose an engaging travel blog post")
    gpt4 = result.labels[result.labels["judge"] == "gpt-4"]
    # g1 (order ab): model_1 (phi-3 = a) wins 81-87 and 124, model_2 wins 88, 125 is an error
    assert gpt4[gpt4["order"] == "ab"]["label"].tolist() == ["a"] * 7 + ["b", "a", None]
    # g2 (order ba): model_2 (b) wins 81-86 and 88, tie on 87, errors on 124 and 125
    assert gpt4[gpt4["order"] == "ba"]["label"].tolist() == ["b"] * 6 + ["tie", "b", None, None]
    assert gpt4["exclusion"].tolist().count("error") == 3
    human = result.labels[result.labels["judge"] == "human"]
    assert human["label"].tolist() == ["a"] * 7 + ["b"] + ["a"] * 6 + ["tie", "b"]
    exclusions = {(row["judge"], row["reason"]): row["count"] for row in result.audit["exclusions"]}
    assert exclusions[("gpt-4", "error")] == 3
    assert json.loads(gpt4["meta"].iloc[0])["judge_prompt"] == "pair-v2"


def test_unknown_winner_names_file_row_and_field(tmp_path):
    lines = JUDGMENTS.read_text(encoding="utf-8").splitlines()[:3]
    record = json.loads(lines[2])
    record["g2_winner"] = "A"
    path = tmp_path / "gpt-4_pair.jsonl"
    path.write_text("\n".join([*lines[:2], json.dumps(record)]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"row 3, column 'g2_winner': is 'A'; expected one of model_1"):
        importers.load("mt_bench", path)


def test_missing_question_id_names_its_line_and_keeps_the_others_integers(tmp_path):
    # pandas reads a column of integers with a gap as floats; the importer keeps the other rows' ids integers
    lines = JUDGMENTS.read_text(encoding="utf-8").splitlines()[:3]
    record = json.loads(lines[1])
    del record["question_id"]
    path = tmp_path / "gpt-4_pair.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(record), lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"gpt-4_pair.jsonl, row 2, column 'question_id': is missing"):
        importers.load("mt_bench", path)
