"""What the files hold, said by options or by audit.toml (issue 17): readers (.xlsx, .gz, .zst, delimiters), label
maps per judge, several labels tables, the Python API's keywords and folders, and errors worded for the API."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import zstandard

import auditor
from auditor.config import AuditConfig, load_config
from auditor.errors import ConfigError, InputError
from auditor.io import read_table
from auditor.result import MetricNotFound

ROWS = [
    {"item_id": f"i{i}", "judge": judge, "rater": "0", "label": label}
    for i in range(6)
    for judge, label in (("human", "ab"[i % 2]), ("llm", "b"))
]
CSV = "item_id,judge,rater,label\n" + "".join(f"{r['item_id']},{r['judge']},0,{r['label']}\n" for r in ROWS)


def frame_of(path: Path, **options: str) -> list[dict]:
    frame = read_table(path, **options)
    return frame.drop(columns="__row__").to_dict(orient="records")


EXPECTED = [{k: v for k, v in r.items()} for r in ROWS]


def test_compressed_tables_read_by_their_extension(tmp_path: Path) -> None:
    (tmp_path / "l.csv.gz").write_bytes(gzip.compress(CSV.encode()))
    (tmp_path / "l.csv.zst").write_bytes(zstandard.ZstdCompressor().compress(CSV.encode()))
    jsonl = "".join(json.dumps(r) + "\n" for r in ROWS)
    (tmp_path / "l.jsonl.gz").write_bytes(gzip.compress(jsonl.encode()))
    pd.DataFrame(ROWS).to_parquet(tmp_path / "l.parquet")
    (tmp_path / "l.parquet.zst").write_bytes(
        zstandard.ZstdCompressor().compress((tmp_path / "l.parquet").read_bytes())
    )
    for name in ("l.csv.gz", "l.csv.zst", "l.jsonl.gz", "l.parquet.zst"):
        assert frame_of(tmp_path / name) == EXPECTED, name
    (tmp_path / "broken.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match=r"broken\.csv\.gz: cannot be decompressed as gzip"):
        read_table(tmp_path / "broken.csv.gz")


def test_excel_first_sheet_or_the_named_one(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "labels"
    first.append(["item_id", "judge", "rater", "label"])
    for r in ROWS:
        first.append([r["item_id"], r["judge"], 0, r["label"]])
    other = book.create_sheet("other")
    other.append(["x"])
    other.append([1])
    book.save(tmp_path / "l.xlsx")
    got = frame_of(tmp_path / "l.xlsx")
    assert [r["label"] for r in got] == [r["label"] for r in ROWS] and got[0]["rater"] == 0
    assert frame_of(tmp_path / "l.xlsx", sheet="other") == [{"x": 1}]
    with pytest.raises(
        InputError, match=r"has no sheet 'nope'; sheets: 'labels', 'other'\. Fix: pass sheet=\"labels\""
    ):
        read_table(tmp_path / "l.xlsx", sheet="nope")


def test_delimiter_chosen_reads_and_the_guess_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text(CSV.replace(",", ";"), encoding="utf-8")
    with pytest.raises(
        InputError, match=r'delimiter looks like \';\'.*Fix: pass delimiter=";", or in audit.toml under'
    ):
        read_table(path)
    assert frame_of(path, delimiter=";") == EXPECTED


def test_flags_and_toml_say_the_same_thing(tmp_path: Path) -> None:
    """Every new option maps onto the config fields audit.toml sets: the two configs are equal."""
    toml = tmp_path / "audit.toml"
    toml.write_text(
        'task = "likert"\n[scale]\nmin = 1\nmax = 7\nneutral = 4\n[labels]\naliases = { "seven" = "7" }\n'
        '[labels.by_judge.llm]\n"one" = "1"\n[columns]\nitem_id = "Item ID"\n[input]\ndelimiter = ";"\n'
        'sheet = "s"\n',
        encoding="utf-8",
    )
    from_toml = load_config(toml)
    from_flags = AuditConfig(task="likert", source=str(toml)).with_input_options(
        labels_map=["seven=7", "llm:one=1"],
        scale="1-7",
        columns=['item_id="Item ID"'],
        delimiter=";",
        sheet="s",
    )
    assert from_flags == from_toml
    with pytest.raises(ConfigError, match="'Item' is not a column of the data contract"):
        AuditConfig().with_input_options(columns="Item=x")
    with pytest.raises(ConfigError, match=r"expected RAW=CANONICAL pairs"):
        AuditConfig().with_input_options(labels_map="A")


def test_per_judge_map_applies_to_that_judge_only(tmp_path: Path) -> None:
    rows = [{**r, "label": {"a": "1", "b": "2"}[r["label"]]} for r in ROWS]
    frame = pd.DataFrame(rows)
    # human: 1 = a, 2 = b; llm: the numbering swapped, so its "2" (always) means a
    result = auditor.audit(frame, task="pairwise", resamples=0, labels_map=["human:1=a,2=b", "llm:2=a,1=b"])
    agreement = result.metric("agreement", "llm")["value"]
    assert agreement == 3 / 6  # llm says a everywhere; humans say a on the even items
    with pytest.raises(InputError, match="the labels map of judge 'gpt' names no judge of the data"):
        auditor.audit(frame, task="pairwise", resamples=0, labels_map="gpt:1=a")


def test_api_takes_a_folder_and_several_tables_and_speaks_python(tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    pd.DataFrame([r for r in ROWS if r["judge"] == "human"]).to_csv(study / "labels.csv", index=False)
    (study / "audit.toml").write_text('task = "pairwise"\n[bootstrap]\nresamples = 0\n', encoding="utf-8")
    judged = tmp_path / "judged.jsonl"
    judged.write_text("".join(json.dumps(r) + "\n" for r in ROWS if r["judge"] == "llm"), encoding="utf-8")
    result = auditor.audit([study, judged])
    assert result.judges == ["llm"] and result.meta["n_items"] == 6
    assert result.meta["inputs"]["labels"] == f"{study / 'labels.csv'}, {judged}"
    with pytest.raises(
        InputError, match=r'Fix: pass the table with the labels of \'human\' too.*reference="llm"'
    ):
        auditor.audit(judged, task="pairwise")
    with pytest.raises(ConfigError, match=r'no task kind given: pass task="KIND"'):
        auditor.audit(judged)
    with pytest.raises(MetricNotFound, match=r"this audit has no judge 'gpt'; judges: .*'llm'") as caught:
        result.metric("agreement", "gpt")
    assert isinstance(caught.value, KeyError)  # still a KeyError for code that catches one


def test_unknown_labels_error_lists_them_and_its_fix_works() -> None:
    """The fix the error gives, applied as given, makes the audit go through."""
    frame = pd.DataFrame([{**r, "label": {"a": "Model A", "b": "model_b"}[r["label"]]} for r in ROWS])
    with pytest.raises(InputError) as caught:
        auditor.audit(frame, task="pairwise", resamples=0)
    message = str(caught.value)
    assert "labels off that set: 'Model A' (3 rows), 'model_b' (9 rows)" in message
    assert 'Fix: pass labels_map="Model A=a,model_b=b"' in message
    result = auditor.audit(frame, task="pairwise", resamples=0, labels_map="Model A=a,model_b=b")
    assert result.metric("agreement", "llm")["value"] == 3 / 6


@pytest.mark.parametrize(
    ("values", "task", "scale", "aliases"),
    [
        (["A", "B", "Tie", "Response A", "model_b", "[[A]]"], "pairwise", None,
         {"A": "a", "B": "b", "Tie": "tie", "Response A": "a", "model_b": "b", "[[A]]": "a"}),
        (["1", "4", "7"], "likert", (1, 7, 4), {}),
        (["0", "6", "10"], "likert", (0, 10, 5), {}),
        (["0", "1"], "binary", None, {}),
        (["yes", "No"], "binary", None, {"yes": "1", "No": "0"}),
        (["0.25", "3"], "score", None, {}),
        (["x", "y"], "categorical", None, {}),
    ],
)  # fmt: skip
def test_suggested_task_scale_and_aliases(values, task, scale, aliases) -> None:
    from auditor.suggest import suggest_task

    found = suggest_task(values)
    assert (found.task, found.scale, found.aliases) == (task, scale, aliases)


def test_init_config_reads_back_as_the_suggestion(tmp_path: Path) -> None:
    """The audit.toml that ``auditor init`` writes loads into exactly the suggested config."""
    from auditor.data import inspect_files
    from auditor.suggest import config_toml

    path = tmp_path / "h.csv"
    path.write_text("Item ID;judge;label\n1;human;1\n1;llm;7\n2;human;5\n2;llm;2\n", encoding="utf-8")
    options = AuditConfig().with_input_options(columns="item_id=Item ID", delimiter=";")
    found = inspect_files([path], options)
    assert found.labels == {"human": {"1": 1, "5": 1}, "llm": {"2": 1, "7": 1}}
    toml = tmp_path / "audit.toml"
    toml.write_text(config_toml(found, options, "auditor init h.csv"), encoding="utf-8")
    config = load_config(toml)
    assert (config.task, config.reference, config.scale) == ("likert", "human", auditor.Scale(1, 7, 4))
    assert (config.columns, config.delimiter) == ({"item_id": "Item ID"}, ";")
    result = auditor.audit(path, config=config, resamples=0)
    assert result.meta["n_items"] == 2 and result.judges == ["llm"]
