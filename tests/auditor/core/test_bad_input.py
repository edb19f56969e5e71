"""Bad input: a clear message naming file, row and column; exit code 2; no traceback; nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import auditor
from auditor.errors import InputError

ITEMS = [
    {"item_id": f"i{i}", "user_id": f"u{i % 3}", "response_a": f"A{i}", "response_b": f"B{i}"}
    for i in range(6)
]


def labels_rows(n=6):
    rows = []
    for i in range(n):
        for r in ("h1", "h2"):
            rows.append({"item_id": f"i{i}", "judge": "human", "rater": r, "label": "ab"[i % 2]})
        rows.append({"item_id": f"i{i}", "judge": "llm", "rater": "0", "label": "b"})
    return rows


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def study(tmp_path):
    items = write_jsonl(tmp_path / "items.jsonl", ITEMS)
    labels = write_jsonl(tmp_path / "labels.jsonl", labels_rows())
    return tmp_path, items, labels


def check_cli_error(cli, tmp_path, args, *expected):
    out = tmp_path / "out"
    proc = cli("audit", *args, "--out", str(out), "--bootstrap", "0")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    message = " ".join(proc.stderr.split())
    for fragment in expected:
        assert fragment in message, message
    assert not out.exists() or not any(out.iterdir()), "a failed audit must write nothing"
    return message


def test_good_study_audits(study, cli):
    tmp_path, items, labels = study
    proc = cli(
        "audit",
        str(labels),
        "--items",
        str(items),
        "--task",
        "pairwise",
        "--out",
        str(tmp_path / "o"),
        "--bootstrap",
        "200",
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "o" / "audit.json").read_text())
    assert doc["n_items"] == 6 and doc["judges"] == ["llm"]


def test_missing_column(study, cli, tmp_path):
    _, items, _ = study
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"item_id": "i0", "judge": "human"}])
    check_cli_error(
        cli,
        tmp_path,
        [str(bad), "--items", str(items), "--task", "pairwise"],
        "bad.jsonl",
        "column 'label'",
        "missing required column",
    )


def test_unknown_label_names_row_and_column(study, cli, tmp_path):
    _, items, _ = study
    rows = labels_rows()
    rows[4]["label"] = "maybe"
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    check_cli_error(
        cli,
        tmp_path,
        [str(bad), "--items", str(items), "--task", "pairwise"],
        "bad.jsonl",
        "row 5",
        "column 'label'",
        "'maybe'",
        "expected one of 'a', 'tie', 'b'",
    )


def test_duplicate_item_id(study, cli, tmp_path):
    _, _, labels = study
    bad = write_jsonl(tmp_path / "items_bad.jsonl", ITEMS + [ITEMS[2]])
    check_cli_error(
        cli,
        tmp_path,
        [str(labels), "--items", str(bad), "--task", "pairwise"],
        "items_bad.jsonl",
        "row 7",
        "column 'item_id'",
        "duplicate item_id 'i2'",
        "row 3",
    )


def test_label_for_unknown_item(study, cli, tmp_path):
    _, items, _ = study
    rows = labels_rows() + [{"item_id": "ghost", "judge": "llm", "label": "a"}]
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    check_cli_error(
        cli,
        tmp_path,
        [str(bad), "--items", str(items), "--task", "pairwise"],
        "bad.jsonl",
        f"row {len(rows)}",
        "column 'item_id'",
        "'ghost'",
        "not in the items table",
    )


def test_empty_file(cli, tmp_path, study):
    _, items, _ = study
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    check_cli_error(
        cli, tmp_path, [str(empty), "--items", str(items), "--task", "pairwise"], "empty.csv", "empty"
    )


def test_header_only_csv(cli, tmp_path, study):
    _, items, _ = study
    header = tmp_path / "header.csv"
    header.write_text("item_id,judge,label\n")
    check_cli_error(
        cli,
        tmp_path,
        [str(header), "--items", str(items), "--task", "pairwise"],
        "header.csv",
        "no data rows",
    )


def test_invalid_utf8(cli, tmp_path, study):
    _, items, _ = study
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("item_id,judge,label\ni0,human,a\ni1,jürgen,a\n".encode("latin-1"))
    check_cli_error(
        cli,
        tmp_path,
        [str(bad), "--items", str(items), "--task", "pairwise"],
        "latin1.csv",
        "row 3",
        "not valid UTF-8",
    )


def test_truncated_json_line(cli, tmp_path, study):
    _, items, _ = study
    bad = tmp_path / "trunc.jsonl"
    bad.write_text('{"item_id": "i0", "judge": "human", "label": "a"}\n{"item_id": "i1", "judge": "hu\n')
    check_cli_error(
        cli,
        tmp_path,
        [str(bad), "--items", str(items), "--task", "pairwise"],
        "trunc.jsonl",
        "row 2",
        "not valid JSON",
    )


def test_wrong_type_in_score(cli, tmp_path, study):
    _, items, _ = study
    rows = labels_rows()
    rows[1]["score"] = "high"
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    check_cli_error(
        cli,
        tmp_path,
        [str(bad), "--items", str(items), "--task", "pairwise"],
        "row 2",
        "column 'score'",
        "expected a finite number",
    )


def test_likert_label_off_the_scale(cli, tmp_path):
    rows = [{"item_id": "x", "judge": "human", "label": 3}, {"item_id": "y", "judge": "human", "label": 7}]
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    check_cli_error(cli, tmp_path, [str(bad), "--task", "likert"], "row 2", "'label'", "7", "'1'")


def test_wrong_delimiter_is_explained(cli, tmp_path):
    bad = tmp_path / "semi.csv"
    bad.write_text("item_id;judge;label\ni0;human;a\n")
    check_cli_error(cli, tmp_path, [str(bad), "--task", "pairwise"], "semi.csv", "delimiter looks like ';'")


def test_unknown_task_and_missing_task(cli, tmp_path, study):
    _, items, labels = study
    check_cli_error(
        cli, tmp_path, [str(labels), "--items", str(items), "--task", "ranking"], "unknown task kind"
    )
    check_cli_error(cli, tmp_path, [str(labels), "--items", str(items)], "no task kind given")


def test_bad_config_key_is_named(cli, tmp_path, study):
    _, items, labels = study
    cfg = tmp_path / "audit.toml"
    cfg.write_text('task = "pairwise"\n[labels]\nalias = {"1" = "a"}\n')
    check_cli_error(
        cli,
        tmp_path,
        [str(labels), "--items", str(items), "--config", str(cfg)],
        "audit.toml",
        "labels.alias",
        "unknown key",
    )


def test_empty_labels_and_unusable_values_are_exclusions_not_errors(tmp_path):
    rows = labels_rows()
    rows.append(
        {
            "item_id": "i0",
            "judge": "llm2",
            "label": None,
            "raw": "I cannot decide",
            "exclusion": "unparseable",
        }
    )
    rows.append({"item_id": "i1", "judge": "llm2", "label": "garbage"})
    rows.append({"item_id": "i2", "judge": "llm2", "label": ""})
    rows.append({"item_id": "i3", "judge": "llm2", "label": "b"})
    cfg = auditor.AuditConfig(task="pairwise", unusable=("garbage",), resamples=0)
    result = auditor.audit(pd.DataFrame(rows), items=pd.DataFrame(ITEMS), config=cfg)
    ex = {(r.judge, r.reason): r.count for r in result.exclusions.itertuples()}
    assert ex == {
        ("llm2", "unparseable"): 1,
        ("llm2", "unusable label 'garbage'"): 1,
        ("llm2", "empty label"): 1,
    }


def test_aliases_are_declared_not_guessed():
    rows = [{"item_id": "x", "judge": "human", "label": "A"}, {"item_id": "x", "judge": "j", "label": "B"}]
    with pytest.raises(InputError, match="not a pairwise label"):
        auditor.audit(pd.DataFrame(rows), task="pairwise", resamples=0)
    cfg = auditor.AuditConfig(task="pairwise", aliases={"A": "a", "B": "b"}, resamples=0)
    result = auditor.audit(pd.DataFrame(rows), config=cfg)
    assert result.metric("agreement", "j")["value"] == 0.0


def test_combined_table_with_conflicting_item_columns(tmp_path):
    rows = [
        {"item_id": "x", "response_a": "one", "judge": "human", "label": "a"},
        {"item_id": "x", "response_a": "two", "judge": "j", "label": "b"},
    ]
    with pytest.raises(InputError, match="different 'response_a' values"):
        auditor.audit(pd.DataFrame(rows), task="pairwise", resamples=0)
