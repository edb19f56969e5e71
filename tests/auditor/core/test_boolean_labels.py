"""Boolean labels: one text in every file format and engine.

A boolean label (a JSON / Parquet / Excel boolean, or the word as CSV text in any case: ``true`` as DuckDB and
Spark write it, ``True`` as pandas does, ``TRUE`` as R and Excel do) is the text ``true`` / ``false``: the categorical
task's category names are ``false`` / ``true`` whatever the format, and the binary task reads them as 1 / 0 without
an alias.  A likert rating or a score is never a boolean: one error naming the file, row and column, in every
format.  The same 40-item table written in each format must give the same audit document (every metric row, the
category names, the confusion tables, the exclusions); only ``inputs`` (the file names) differ.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.errors import InputError

pytest.importorskip("duckdb")

RESAMPLES = 200
#: What the out-of-core engine reads (it has no reader for a JSON array or Excel).
DUCKDB_FORMATS = ("csv", "csv_pandas", "jsonl", "parquet", "parquet_text")
FORMATS = (*DUCKDB_FORMATS, "json", "xlsx", "frame")


def _table() -> pd.DataFrame:
    """40 items, a human and a judge that agrees on about 80% of them; the judge's label on item i7 is missing
    (an excluded row, which every format must count alike)."""
    rng = np.random.default_rng(11)
    rows = []
    for i in range(40):
        human = bool(rng.random() < 0.5)
        judge = human if rng.random() < 0.8 else not human
        rows.append({"item_id": f"i{i}", "judge": "human", "label": human})
        rows.append({"item_id": f"i{i}", "judge": "gpt", "label": None if i == 7 else judge})
    return pd.DataFrame(rows)


def _csv_words(frame: pd.DataFrame, true: str, false: str) -> pd.DataFrame:
    return frame.assign(label=frame["label"].map({True: true, False: false}))


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table()


@pytest.fixture(scope="module")
def written(table: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The table in every format: ``csv`` with ``true`` / ``false`` (DuckDB's and Spark's CSV), ``csv_pandas`` as
    pandas writes a boolean column (``True`` / ``False``, an empty field for the missing label), ``jsonl``, a
    ``json`` array, ``parquet`` (a boolean column with a null), ``parquet_text`` (the words as text, ``True`` /
    ``FALSE``), ``xlsx`` (boolean cells) and the DataFrame itself."""
    folder = tmp_path_factory.mktemp("boolean-labels")
    suffix = {
        "csv": "csv",
        "csv_pandas": "csv",
        "jsonl": "jsonl",
        "json": "json",
        "parquet": "parquet",
        "parquet_text": "parquet",
        "xlsx": "xlsx",
    }
    paths: dict[str, object] = {name: folder / f"labels_{name}.{ext}" for name, ext in suffix.items()}
    _csv_words(table, "true", "false").to_csv(paths["csv"], index=False)
    table.to_csv(paths["csv_pandas"], index=False)
    assert ",True\n" in paths["csv_pandas"].read_text()  # pandas' own spelling
    table.to_json(paths["jsonl"], orient="records", lines=True)
    paths["json"].write_text(json.dumps(table.to_dict("records")), encoding="utf-8")
    table.to_parquet(paths["parquet"], index=False)
    _csv_words(table, "True", "FALSE").to_parquet(paths["parquet_text"], index=False)  # a text column
    table.to_excel(paths["xlsx"], index=False)
    return {**paths, "frame": table}


def _document(source: object, task: str, engine: str, **options: object) -> dict:
    doc = auditor.audit(source, task=task, resamples=RESAMPLES, engine=engine, **options).to_dict()
    doc.pop("inputs")
    return doc


def _agreement(doc: dict) -> dict:
    """The judge's raw agreement row (the whole data, no slice)."""
    (row,) = [
        r for r in doc["metrics"] if (r["metric"], r["judge"], r["slice"]) == ("agreement", "gpt", None)
    ]
    return row


def _agreement_by_hand(table: pd.DataFrame) -> float:
    """The share of the items both labelled on which they gave the same label."""
    both = table.pivot(index="item_id", columns="judge", values="label").dropna()
    return float((both["human"] == both["gpt"]).mean())


def _means(doc: dict) -> dict[str, float]:
    """Each judge's ``mean_score`` (binary: the share of 1s)."""
    return {r["judge"]: r["value"] for r in doc["metrics"] if r["metric"] == "mean_score"}


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
@pytest.mark.parametrize("task", ["categorical", "binary"])
def test_the_same_table_gives_the_same_audit_in_every_format(written, table, task: str, engine: str) -> None:
    formats = DUCKDB_FORMATS if engine == "duckdb" else FORMATS
    docs = {name: _document(written[name], task, engine) for name in formats}
    first = docs["csv"]
    assert first["categories"] == (["false", "true"] if task == "categorical" else ["0", "1"])
    for name, doc in docs.items():
        assert doc == first, f"{name} differs from the CSV text true / false ({engine}, {task})"
    # the numbers: raw agreement on the 39 items where both labelled (i7's judge label is missing), by hand
    agreement = _agreement(first)
    assert (agreement["value"], agreement["n"]) == (_agreement_by_hand(table), 39)
    assert [(e["judge"], e["reason"], e["count"]) for e in first["exclusions"]] == [("gpt", "empty label", 1)]


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
def test_binary_booleans_are_the_numbers_1_and_0(written, table, tmp_path: Path, engine: str) -> None:
    """``true`` is 1 and ``false`` is 0: the same audit as the table written with the integers."""
    numbers = tmp_path / "labels.jsonl"
    table.assign(label=table["label"].map({True: 1, False: 0})).to_json(numbers, orient="records", lines=True)
    assert _document(written["jsonl"], "binary", engine) == _document(numbers, "binary", engine)


def test_binary_reads_the_words_in_any_case_and_an_alias_still_wins(written, table, tmp_path: Path) -> None:
    """``TRUE`` / ``True`` / ``true`` (and their ``false``) in one CSV are 1 / 0; an alias written with pandas'
    spelling (``True=0``: e.g. a column that says the response failed) maps the boolean of every format, before
    the built-in reading: every judge's mean score becomes one minus the plain one."""
    spellings = [("TRUE", "FALSE"), ("True", "False"), ("true", "false")]
    words = [None if v is None else spellings[i % 3][0 if v else 1] for i, v in enumerate(table["label"])]
    table.assign(label=words).to_csv(tmp_path / "mixed.csv", index=False)
    plain = _document(written["jsonl"], "binary", "memory")
    assert _document(tmp_path / "mixed.csv", "binary", "memory") == plain
    inverted = _document(written["jsonl"], "binary", "memory", labels_map="True=0,False=1")
    assert inverted == _document(tmp_path / "mixed.csv", "binary", "memory", labels_map="True=0,False=1")

    assert set(_means(plain)) >= {"human", "gpt"}
    for judge in ("human", "gpt"):
        assert _means(inverted)[judge] == pytest.approx(1 - _means(plain)[judge], abs=1e-12)


@pytest.mark.parametrize("engine", ["memory", "duckdb"])
@pytest.mark.parametrize("task", ["likert", "score"])
@pytest.mark.parametrize("name", ["csv_pandas", "jsonl", "parquet"])
def test_a_boolean_is_never_a_rating_or_a_score(written, table, name: str, task: str, engine: str) -> None:
    """One error naming the file, the first row (record 1: the human's ``False`` or ``True`` on item i0) and the
    column, the same words in every format and engine."""
    with pytest.raises(InputError) as raised:
        auditor.audit(written[name], task=task, resamples=RESAMPLES, engine=engine)
    error = raised.value
    word = "true" if table["label"].iloc[0] else "false"
    assert (error.file, error.row, error.column) == (str(written[name]), 1, "label")
    noun = "likert rating" if task == "likert" else "score"
    assert error.detail == f"has the boolean {word}, which is not a {noun}: write it as a number"


def test_a_boolean_rating_mapped_by_an_alias_is_read(written, table) -> None:
    """Declared, never guessed: ``--labels-map "true=5,false=1"`` makes the booleans ratings, in every format
    (exact agreement: the share of items where both gave the same rating, by hand)."""
    docs = [
        _document(written[name], "likert", "memory", labels_map="true=5,false=1")
        for name in ("csv_pandas", "parquet")
    ]
    assert docs[0] == docs[1]
    assert _agreement(docs[0])["value"] == _agreement_by_hand(table)


@pytest.mark.parametrize("name", ["csv_pandas", "jsonl"])
def test_a_pairwise_boolean_needs_an_alias(written, table, name: str) -> None:
    """Which response ``true`` prefers is the user's to declare: without an alias one error naming the first row,
    the rows of each word and the fix (``?`` to fill in); with ``true=a,false=b`` every format gives one audit."""
    with pytest.raises(InputError) as raised:
        auditor.audit(written[name], task="pairwise", resamples=RESAMPLES)
    error = raised.value
    counts = table["label"].value_counts()
    assert (error.file, error.row, error.column) == (str(written[name]), 1, "label")
    assert "which is not a pairwise label" in error.detail
    assert (
        f"'true' ({counts[True]} rows)" in error.detail and f"'false' ({counts[False]} rows)" in error.detail
    )
    assert "true=?" in error.detail and "false=?" in error.detail


def test_pairwise_booleans_mapped_alike_in_every_format(written) -> None:
    docs = [_document(written[name], "pairwise", "memory", labels_map="true=a,false=b") for name in FORMATS]
    assert all(doc == docs[0] for doc in docs)


def test_a_jsonl_column_mixing_booleans_and_text_is_read_alike_by_both_engines(tmp_path: Path) -> None:
    """``true``, ``"TRUE"`` and ``"unsure"`` in one JSON Lines column (DuckDB reads it as its JSON type): the
    booleans and the word are ``true`` / ``false``, the text is itself (no JSON quotes), on both engines."""
    values = [True, False, "unsure", "TRUE"]
    rows = [
        {"item_id": f"i{i}", "judge": judge, "label": values[(i + shift) % 4]}
        for i in range(12)
        for judge, shift in (("human", 0), ("gpt", 1))
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    memory, duckdb = (_document(path, "categorical", engine) for engine in ("memory", "duckdb"))
    assert memory["categories"] == duckdb["categories"] == ["false", "true", "unsure"]
    # rows the human's label, columns gpt's (the next value of the cycle), 3 items each: (true, false) after
    # True, (false, unsure) after False, (unsure, true) after "unsure", (true, true) after "TRUE"
    assert memory["confusion"] == duckdb["confusion"]
    assert memory["confusion"][0]["counts"] == [[0, 0, 3], [3, 3, 0], [0, 3, 0]]


def test_auditor_init_suggests_binary_without_aliases_for_booleans(written) -> None:
    """``auditor init``'s reading of the files: the booleans are ``true`` / ``false`` in every format, a binary
    task, and no alias for them (the binary task reads them); another yes / no word still gets its alias."""
    from auditor.data import inspect_files
    from auditor.suggest import suggest_aliases

    for name in ("csv_pandas", "jsonl", "parquet"):
        inspection = inspect_files(written[name])
        assert set(inspection.labels["human"]) == {"false", "true"}, name
        assert (inspection.suggestion.task, inspection.suggestion.aliases) == ("binary", {}), name
    assert suggest_aliases("binary", ["true", "false", "yes", "No"]) == {"yes": "1", "No": "0"}


def test_declared_words_are_matched_as_the_labels_have_them(written, table) -> None:
    """What a user declared with pandas' spelling (categories ``True`` / ``False``, ``unusable = ["True"]``, one
    judge's alias ``gpt:True=0``) applies to the booleans of every format."""
    from auditor.config import AuditConfig

    plain = auditor.audit(written["jsonl"], task="categorical", resamples=RESAMPLES)
    declared = AuditConfig().with_overrides(
        task="categorical", resamples=RESAMPLES, categories=("True", "False")
    )
    for name in ("jsonl", "csv"):
        result = auditor.audit(written[name], config=declared)
        assert result.meta["categories"] == ["true", "false"], name  # the declared order, the labels' text
        assert result.confusion[0]["counts"] == [row[::-1] for row in plain.confusion[0]["counts"][::-1]]
    unusable = AuditConfig().with_overrides(task="binary", resamples=RESAMPLES, unusable=("True",))
    excluded = auditor.audit(written["parquet"], config=unusable).exclusions
    unusable_rows = excluded[excluded["reason"] == "unusable label 'true'"].set_index("judge")["count"]
    n_true = {judge: int(labels.eq(True).sum()) for judge, labels in table.groupby("judge")["label"]}
    assert unusable_rows.to_dict() == n_true and min(n_true.values()) > 0

    base = _document(written["parquet"], "binary", "memory")
    one_judge = _document(written["parquet"], "binary", "memory", labels_map="gpt:True=0,False=1")
    assert _means(one_judge)["human"] == _means(base)["human"]
    assert _means(one_judge)["gpt"] == pytest.approx(1 - _means(base)["gpt"], abs=1e-12)
