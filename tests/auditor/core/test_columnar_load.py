"""The columnar Parquet loader (issue 20) against the row-by-row readers: the same table, the same errors.

A Parquet file's text columns are not turned into one Python object per row: :func:`auditor.data.load` factorises
pyarrow's text (each distinct value checked and made text once) and spreads the distinct texts over the rows.
Every test here writes the same rows twice, as Parquet and as JSON Lines (read one Python object per row, the
reader that has always done so), loads both and compares: every column of every frame of the judgment table with
the type of each value, the key codes, the items' positions, the exclusions; and for bad input, the whole error
message but the file name.  Parquet files are written with small row groups, so a column comes in several chunks.
Every test runs twice: with the text columns read as text, and read as the file's own dictionaries (as a column
of few distinct values in a large file is, :func:`auditor.io._dictionary_columns`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor import io as auditor_io
from auditor.config import AuditConfig
from auditor.data import load
from auditor.errors import InputError
from auditor.io import is_read_text, read_table, text_codes

FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
TEXT = st.text(alphabet=st.sampled_from(list("ab1 é\t") + ["\u200b", "\u0301"]), min_size=0, max_size=4)


@pytest.fixture(autouse=True, params=["as text", "as dictionary"])
def reading(request, monkeypatch):
    """The text columns of the small files here read as text (their dictionary pages are large beside three rows),
    or as the files' dictionaries (any size of dictionary page taken as small)."""
    if request.param == "as dictionary":
        monkeypatch.setattr(auditor_io, "DICTIONARY_ROWS_PER_BYTE", 0)
    return request.param


def _write(rows: list[dict], folder: Path, stem: str, row_group_size: int = 3) -> tuple[Path, Path]:
    """``rows`` as ``stem.parquet`` (text columns, small row groups) and ``stem.jsonl`` (every key on every line,
    null where a row has none, as a Parquet cell)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = pa.table({c: pa.array([row.get(c) for row in rows], type=pa.string()) for c in columns})
    parquet = folder / f"{stem}.parquet"
    pq.write_table(table, parquet, row_group_size=row_group_size)
    jsonl = folder / f"{stem}.jsonl"
    lines = (json.dumps({c: row.get(c) for c in columns}, ensure_ascii=False) + "\n" for row in rows)
    jsonl.write_text("".join(lines), encoding="utf-8")
    return parquet, jsonl


def _cells(frame: pd.DataFrame) -> dict[str, list[tuple[str, object]]]:
    """Every cell with its type (NaN as the text ``nan``, equal to itself)."""
    return {
        str(column): [
            (type(v).__name__, "nan" if isinstance(v, float) and v != v else v)
            for v in frame[column].tolist()
        ]
        for column in frame.columns
    }


def _same_table(got, expected) -> None:
    for name in ("items", "labels", "raw_labels", "exclusions"):
        left, right = getattr(got, name), getattr(expected, name)
        assert list(left.columns) == list(right.columns), name
        assert list(map(str, left.dtypes)) == list(map(str, right.dtypes)), name
        assert left.index.equals(right.index), name
        assert _cells(left) == _cells(right), name
    assert got.categories == expected.categories
    assert got.judges == expected.judges
    for table in (got, expected):  # from the key codes, as a pass over the judge column finds them
        unique = pd.unique(table.raw_labels["judge"]).tolist()
        assert table.judges == [j for j in unique if j != table.config.reference]
    np.testing.assert_array_equal(got.item_positions(), expected.item_positions())
    for frame in ("raw_labels", "labels"):
        left, right = got.key_codes(frame), expected.key_codes(frame)
        assert set(left) == set(right) and {"item_id", "judge", "order"} <= set(left)
        for column in left:
            np.testing.assert_array_equal(left[column][0], right[column][0])
            assert left[column][1].tolist() == right[column][1].tolist()


def _both(labels: list[dict], items: list[dict] | None, folder: Path, row_group_size: int = 3, **config):
    """Load the rows from Parquet and from JSON Lines: the two tables, or the two error messages (file names cut)."""
    config = AuditConfig(**{"task": "pairwise", "unusable": ("invalid",), **config})
    label_files = _write(labels, folder, "labels", row_group_size)
    item_files = _write(items, folder, "items", row_group_size) if items is not None else (None, None)
    out = []
    for labels_path, items_path in zip(label_files, item_files, strict=True):
        try:
            out.append(load(labels_path, items_path, config))
        except InputError as exc:
            out.append(str(exc).replace(str(labels_path), "LABELS").replace(str(items_path), "ITEMS"))
    return out


def _rows(n_items: int = 7) -> tuple[list[dict], list[dict]]:
    """Items with users (one missing) and a prompt; labels from three raters and two judges, with blanks around
    ids, a missing rater, both orders, a missing and an unusable label, a repeated verdict, a free-text column."""
    items = [
        {"item_id": f"i{n}", "user_id": None if n == 3 else f"u{n % 3}", "prompt": f"p{n % 2}"}
        for n in range(n_items)
    ]
    labels = []
    for n in range(n_items):
        for rater, label in (("h0", "a"), ("h1", "b"), (None if n == 2 else "h2", "tie")):
            labels.append({"item_id": f"i{n}", "judge": "human", "rater": rater, "label": label})
        labels.append(
            {"item_id": f" i{n} ", "judge": "llm", "label": "ab"[n % 2], "order": ["ab", "ba", None][n % 3]}
        )
        labels.append({"item_id": f"i{n}", "judge": "llm2", "label": None if n == 4 else "b", "raw": f"r{n}"})
    labels.append({"item_id": "i1", "judge": "llm2", "label": "invalid", "raw": "unparsed"})
    labels.append(dict(labels[0]))
    return labels, items


def test_a_parquet_table_loads_as_its_rows_read_one_by_one(tmp_path):
    labels, items = _rows()
    from_parquet, from_jsonl = _both(labels, items, tmp_path)
    _same_table(from_parquet, from_jsonl)
    assert from_parquet.raw_labels["label"].dtype == object  # a Python object per row, as from every reader
    assert len(from_parquet.exclusions) == 2  # the empty and the unusable label: the test covers exclusions
    for frame in (from_parquet.raw_labels, from_parquet.labels):  # row numbers were for the error messages
        assert "__row__" not in frame.columns and "__file__" not in frame.columns


def test_without_an_items_table_the_items_come_from_the_labels_in_order(tmp_path):
    labels, _ = _rows()
    labels.reverse()
    from_parquet, from_jsonl = _both(labels, None, tmp_path)
    _same_table(from_parquet, from_jsonl)


def test_a_combined_table_splits_the_same_way(tmp_path):
    labels, items = _rows()
    by_item = {item["item_id"]: item for item in items}
    combined = [
        {**row, **{k: v for k, v in by_item[row["item_id"].strip()].items() if k != "item_id"}}
        for row in labels
    ]
    from_parquet, from_jsonl = _both(combined, None, tmp_path)
    _same_table(from_parquet, from_jsonl)


@FAST
@given(
    ids=st.lists(TEXT, min_size=1, max_size=6),
    picks=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from(["human", "llm", " human"]), TEXT, TEXT), max_size=25
    ),
)
def test_any_text_table_loads_the_same_or_fails_the_same(ids, picks, tmp_path):
    """Ids, raters and labels of any text (blank, spaces, combining marks, invisible characters): the same table
    from Parquet as from JSON Lines, or the same error message."""
    items = [{"item_id": text} for text in ids]
    labels = [{"item_id": "x", "judge": "human", "label": "a"}] if "x" in ids else []
    labels += [
        {"item_id": ids[at % len(ids)], "judge": judge, "rater": rater or None, "label": label or None}
        for at, judge, rater, label in picks
    ]
    labels = labels or [{"item_id": ids[0], "judge": "human", "label": "a"}]
    from_parquet, from_jsonl = _both(labels, items, tmp_path, aliases={"ab": "a", "1": "b"})
    if isinstance(from_jsonl, str) or isinstance(from_parquet, str):
        assert from_parquet == from_jsonl
    else:
        _same_table(from_parquet, from_jsonl)


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda rows: rows[17].update(item_id=None), "is empty"),
        (lambda rows: rows[16].update(judge="  "), "is empty"),
        (lambda rows: rows[13].update(item_id="i99"), "not in the items table"),
        (lambda rows: rows[18].update(order="a b"), "expected 'ab', 'ba' or empty"),
        (lambda rows: rows[18].update(order="xy"), "expected 'ab', 'ba' or empty"),
        (lambda rows: rows[19].update(label="maybe"), "not a pairwise label"),
        (
            lambda rows: [row.update(judge="annotator") for row in rows if row["judge"] == "human"],
            "reference judge",
        ),
        (
            lambda rows: [row.update(label="invalid") for row in rows if row["judge"] == "human"],
            "none usable",
        ),
    ],
)
def test_bad_input_gives_the_same_message_from_parquet(change, fragment, tmp_path):
    """The row-exact messages (a row in a later row group too) name the same row, column and values."""
    labels, items = _rows()
    change(labels)
    from_parquet, from_jsonl = _both(labels, items, tmp_path)
    assert isinstance(from_jsonl, str) and fragment in from_jsonl, from_jsonl
    assert from_parquet == from_jsonl


def test_a_duplicate_item_id_is_named_at_its_row(tmp_path):
    labels, items = _rows()
    items[5]["item_id"] = " i2"
    from_parquet, from_jsonl = _both(labels, items, tmp_path)
    assert "duplicate item_id 'i2' (first seen in row 3)" in from_jsonl and "row 6" in from_jsonl
    assert from_parquet == from_jsonl


def test_read_table_gives_each_text_as_one_python_str_per_distinct_value(tmp_path):
    """Text cells come back as Python ``str`` (None where missing), each distinct text one object shared by its
    rows; the integer column and a stored pandas index are read as before."""
    frame = pd.DataFrame(
        {"judge": ["h", "llm", None, "h", "llm"] * 4, "n": pd.array([1, None, 3, 4, 5] * 4, dtype="Int64")},
        index=pd.Index([f"r{k}" for k in range(20)], name="key"),
    )
    path = tmp_path / "t.parquet"
    frame.to_parquet(path, row_group_size=6)
    got = read_table(path)
    assert got["judge"].tolist() == frame["judge"].astype(object).where(frame["judge"].notna(), None).tolist()
    assert got["n"].tolist() == [1, None, 3, 4, 5] * 4 and type(got["n"].iloc[0]) is int
    assert got.index.tolist() == frame.index.tolist() and got["__row__"].tolist() == list(range(1, 21))
    assert len({id(v) for v in got["judge"] if v is not None}) == 2


def test_a_parquet_categorical_column_reads_as_its_texts(tmp_path):
    frame = pd.DataFrame({"item_id": ["i0", "i1", "i0"], "judge": pd.Categorical(["h", None, "llm"])})
    frame.to_parquet(tmp_path / "t.parquet")
    got = read_table(tmp_path / "t.parquet")
    assert got["judge"].tolist() == ["h", None, "llm"] and got["judge"].dtype == object


def test_mapped_columns_are_read_under_their_file_names(tmp_path):
    """``[columns]`` maps contract names to the file's: the file's ``rater`` column mapped to ``raw`` is free text
    (Python objects in the table, no rater), its ``model`` column the judge."""
    labels, items = _rows()
    renamed = [
        {"id": row["item_id"], "model": row["judge"], "verdict": row.get("label"), "rater": row.get("raw")}
        for row in labels
    ]
    columns = {"item_id": "id", "judge": "model", "label": "verdict", "raw": "rater"}
    from_parquet, from_jsonl = _both(renamed, items, tmp_path, columns=columns)
    _same_table(from_parquet, from_jsonl)
    assert from_parquet.raw_labels["raw"].dtype == object


def test_larger_row_groups_load_the_same_and_name_the_row(tmp_path):
    """2,400 label rows in row groups of 1,000 (pyarrow reads each in chunks): the same table, and a missing judge
    in the third row group is named at its row."""
    items = [{"item_id": f"item{n}", "user_id": f"u{n % 40}"} for n in range(600)]
    labels = [
        {"item_id": f"item{n}", "judge": judge, "rater": rater, "label": "ab"[(n + len(judge)) % 2]}
        for n in range(600)
        for judge, rater in (
            ("human", "h0"),
            ("human", "h1"),
            ("human", None if n % 7 else "h2"),
            ("llm", None),
        )
    ]
    from_parquet, from_jsonl = _both(labels, items, tmp_path, row_group_size=1_000)
    _same_table(from_parquet, from_jsonl)
    labels[2_345]["judge"] = None
    from_parquet, from_jsonl = _both(labels, items, tmp_path, row_group_size=1_000)
    assert "row 2346, column 'judge': is empty" in from_jsonl and from_parquet == from_jsonl


def test_a_categorical_task_without_any_label_is_bad_input_not_a_crash(tmp_path):
    """No label at all gives no category: every row's value is NaN (before: an IndexError on the empty value
    table), and the reference has no usable label, which is bad input naming the row."""
    rows = [
        {"item_id": "i0", "judge": "human", "label": None},
        {"item_id": "i1", "judge": "llm", "label": None},
    ]
    from_parquet, from_jsonl = _both(rows, None, tmp_path, task="categorical")
    assert "none usable ('empty label' (1 rows))" in from_jsonl and from_parquet == from_jsonl


def test_text_codes_of_a_column_in_many_chunks_equal_pandas_factorize():
    """Arrow's dictionary encoding, read chunk by chunk, against pandas' own factorisation: the same codes (-1 where
    missing) and the same distinct texts in order of first appearance, across chunk boundaries."""
    chunks = [["b", None, "a"], ["a", "c", None], [], ["b", " a", "é"]]
    column = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string())))
    assert is_read_text(column) and pa.array(column.array).num_chunks == 4
    codes, texts = text_codes(column)
    expected_codes, expected_texts = pd.factorize(column.astype(object), use_na_sentinel=True)
    assert codes.dtype == np.int32  # Arrow's dictionary index type
    assert codes.tolist() == expected_codes.tolist() == [0, -1, 1, 1, 2, -1, 0, 3, 4]
    assert texts.tolist() == [*expected_texts.tolist(), None] == ["b", "a", "c", " a", "é", None]
    assert all(type(text) is str for text in texts[:-1])


def test_the_label_columns_a_table_lacks_share_one_column_of_none_until_written(tmp_path):
    """rater, order, raw and exclusion absent from the file: one column of None fills them (one array, not four
    of 8 bytes a row), and pandas' copy on write keeps them apart when one of them is written to."""
    rows = [
        {"item_id": f"i{n}", "judge": judge, "label": "ab"[n % 2]}
        for n in range(4)
        for judge in ("human", "m")
    ]
    parquet, _ = _write(rows, tmp_path, "labels")
    table = load(parquet, None, AuditConfig(task="pairwise"))
    labels = table.raw_labels
    arrays = [labels[column].to_numpy() for column in ("rater", "order", "raw", "exclusion")]
    assert all(np.shares_memory(arrays[0], other) for other in arrays[1:])
    assert all(labels[column].dtype == object and labels[column].isna().all() for column in ("rater", "raw"))
    labels.loc[0, "raw"] = "written"
    assert labels["raw"].iloc[0] == "written"
    assert labels["rater"].isna().all() and labels["order"].isna().all() and labels["exclusion"].isna().all()


@pytest.mark.parametrize("aliases", [{}, {"left": "a"}])
def test_label_text_is_the_label_column_itself_when_every_label_is_canonical(aliases, tmp_path):
    """Parquet labels that are all canonical already (``a``, ``b``, ``tie``): ``label_text`` is the ``label`` column
    (one array); a label that an alias maps (``left`` -> ``a``) gives ``label_text`` its own column.  Either way the
    table is the one read row by row from JSON Lines."""
    words = ["a", "b", "tie", "left" if aliases else "a"]
    rows = [
        {"item_id": f"i{n}", "judge": judge, "label": words[n]} for n in range(4) for judge in ("human", "m")
    ]
    from_parquet, from_jsonl = _both(rows, None, tmp_path, aliases=aliases)
    _same_table(from_parquet, from_jsonl)
    labels = from_parquet.labels
    assert np.shares_memory(labels["label"].to_numpy(), labels["label_text"].to_numpy()) is not bool(aliases)
    assert labels["label_text"].tolist() == [w for w in ["a", "b", "tie", "a"] for _ in range(2)]


@pytest.mark.parametrize("odd_id", ["i\U0001f600", "i\\ud83d\\ude00", "1e400"])
def test_each_label_row_finds_its_item_whatever_text_the_ids_hold(odd_id, tmp_path):
    """The label rows' items are found by one hash join of the distinct ids (pyarrow's, on their UTF-8): each row's
    position is that of its item id in the items table (an emoji, written or as a JSON surrogate pair, is one
    id), and an unknown id is named."""
    items = "".join(f'{{"item_id": "{i}"}}\n' for i in ("b", odd_id, "a"))
    rows = [(odd_id, "human", "a"), ("a", "human", "b"), ("a", "m", "tie"), (odd_id, "m", "b")]
    labels = "".join(f'{{"item_id": "{i}", "judge": "{j}", "label": "{v}"}}\n' for i, j, v in rows)
    (tmp_path / "items.jsonl").write_text(items, encoding="utf-8")
    (tmp_path / "labels.jsonl").write_text(labels, encoding="utf-8")
    table = load(tmp_path / "labels.jsonl", tmp_path / "items.jsonl", AuditConfig(task="pairwise"))
    assert table.item_positions().tolist() == [1, 2, 2, 1]
    assert table.items["item_id"].iloc[1] == json.loads(f'"{odd_id}"')
    (tmp_path / "labels.jsonl").write_text(
        labels + '{"item_id": "c", "judge": "m", "label": "a"}\n', encoding="utf-8"
    )
    with pytest.raises(
        InputError, match=r"names item 'c', which is not in the items table .*\(1 label rows name"
    ):
        load(tmp_path / "labels.jsonl", tmp_path / "items.jsonl", AuditConfig(task="pairwise"))


def test_several_parquet_files_load_as_their_json_lines_and_name_rows_in_their_own_file(tmp_path):
    """A Parquet file read whole has no row-number column (a record's row is its position + 1): several files, a
    Parquet one beside a JSON Lines one too, give the same table as JSON Lines files, and an error in the second
    file names the row in that file."""
    labels, items = _rows()
    items_path, _ = _write(items, tmp_path, "items")
    _write(labels[:12], tmp_path, "first")
    _write(labels[12:], tmp_path, "second")
    config = AuditConfig(task="pairwise", unusable=("invalid",))
    from_jsonl = load([tmp_path / "first.jsonl", tmp_path / "second.jsonl"], items_path, config)
    for pair in (("first.parquet", "second.parquet"), ("first.parquet", "second.jsonl")):
        _same_table(load([tmp_path / name for name in pair], items_path, config), from_jsonl)
    labels[16]["judge"] = None  # the second file's row 5
    _write(labels[12:], tmp_path, "second")
    messages = []
    for suffix in (".parquet", ".jsonl"):
        with pytest.raises(InputError) as caught:
            load([tmp_path / f"first{suffix}", tmp_path / f"second{suffix}"], items_path, config)
        messages.append(str(caught.value).replace(suffix, ".*"))
    assert "second.*, row 5, column 'judge': is empty" in messages[0] and messages[0] == messages[1]


def test_a_column_of_few_values_in_a_large_file_is_read_as_its_dictionary(tmp_path, reading):
    """3,000 rows in row groups of 1,000: the judge (two values) read as the file's dictionary, the item ids (every
    one distinct) as text, or every text column as text where none has a dictionary; the codes and distinct texts
    are those of the column read as text either way, and so is the loaded table."""
    items = [{"item_id": f"item{n}"} for n in range(1_500)]
    labels = [
        {"item_id": f"item{n}", "judge": judge, "label": "ab"[n % 2] if n % 11 else None}
        for n in range(1_500)
        for judge in ("human", "llm")
    ]
    from_parquet, from_jsonl = _both(labels, items, tmp_path, row_group_size=1_000)
    _same_table(from_parquet, from_jsonl)
    columns = ("item_id", "judge", "label")
    frame = read_table(tmp_path / "labels.parquet", text_columns=columns, row_numbers=False)
    kinds = {column: str(frame[column].dtype) for column in columns}
    if reading == "as text":
        assert kinds == {"item_id": "string", "judge": "category", "label": "category"}
    else:  # every column with a dictionary page: the item ids too (small row groups, every page small)
        assert set(kinds.values()) == {"category"}
    pq.write_table(
        pq.read_table(tmp_path / "labels.parquet"), tmp_path / "plain.parquet", use_dictionary=False
    )
    plain = read_table(tmp_path / "plain.parquet", text_columns=columns, row_numbers=False)
    for column in columns:
        assert str(plain[column].dtype) == "string" and is_read_text(frame[column])
        codes, texts = text_codes(frame[column])
        expected_codes, expected_texts = text_codes(plain[column])
        assert codes.dtype == expected_codes.dtype == np.int32
        np.testing.assert_array_equal(codes, expected_codes)
        assert texts.tolist() == expected_texts.tolist()


def test_text_codes_of_a_categorical_column_follow_first_appearance_not_its_categories():
    """A categorical column (a Parquet dictionary, or pandas' category type) whose categories are in another order
    and include one no row holds: the codes and texts of the same column as text, -1 and None where missing."""
    values = ["b", None, "a", "a", " a", None, "b", "é"]
    column = pd.Series(pd.Categorical(values, categories=["é", "unused", " a", "a", "b"]))
    as_text = pd.Series(pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string())))
    assert is_read_text(column) and is_read_text(as_text)
    assert not is_read_text(pd.Series(pd.Categorical([1, 2, 1])))  # categories of numbers are not text
    codes, texts = text_codes(column)
    expected_codes, expected_texts = text_codes(as_text)
    assert codes.dtype == np.int32 and codes.tolist() == expected_codes.tolist() == [0, -1, 1, 1, 2, -1, 0, 3]
    assert texts.tolist() == expected_texts.tolist() == ["b", "a", " a", "é", None]


def test_a_pandas_categorical_column_loads_as_its_texts(tmp_path):
    """A labels file written by pandas with categorical judge and label columns (Arrow dictionaries in the file's
    schema, categories in another order than the rows and one no row holds): the table read row by row."""
    labels, items = _rows()
    _write(labels, tmp_path, "labels")
    _write(items, tmp_path, "items")
    frame = pd.read_json(tmp_path / "labels.jsonl", lines=True, dtype=False)
    for column in ("judge", "label"):
        seen = frame[column].dropna().unique().tolist()
        frame[column] = pd.Categorical(frame[column], categories=[*reversed(seen), "unheld"])
    frame.to_parquet(tmp_path / "categorical.parquet", row_group_size=4)
    config = AuditConfig(task="pairwise", unusable=("invalid",))
    expected = load(tmp_path / "labels.jsonl", tmp_path / "items.jsonl", config)
    _same_table(load(tmp_path / "categorical.parquet", tmp_path / "items.jsonl", config), expected)
