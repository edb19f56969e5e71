"""``auditor.io.json_safe``, the one JSON cleaner: its fast path for plain dicts and lists gives what the plain
recursive definition gives, value for value and type for type (numpy scalars and arrays, NaN, infinities, pandas
NA / NaT, tuples, non-text keys, subclasses of dict, str, int and float); ``records`` and ``column_values``, a
table's rows for the document a column at a time, give what pandas' ``to_dict("records")`` gives."""

from __future__ import annotations

import enum
import math
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.io import column_values, json_safe, records


def plain_json_safe(value: Any) -> Any:
    """The definition: every value tested by ``isinstance``, one call per value (the cleaner before its fast path)."""
    if isinstance(value, dict):
        return {str(k): plain_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [plain_json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type all the way down (``True == 1`` and ``1.0 == 1`` do not count)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b or (a != a and b != b)


class Colour(enum.IntEnum):
    RED = 1


class Name(str):
    def __str__(self) -> str:  # a subclass whose text differs from its value
        return "name:" + str.__str__(self)


class Ratio(float):
    pass


#: Every kind of value the cleaner must change or keep
SPECIAL = [
    float("nan"),
    float("inf"),
    -float("inf"),
    0.25,
    np.float64(0.1),
    np.float64("nan"),
    np.float32(0.1),
    np.float32("inf"),
    np.int64(-3),
    np.uint8(7),
    np.bool_(True),
    np.str_("x"),
    pd.NA,
    pd.NaT,
    Colour.RED,
    Name("n"),
    Ratio(0.5),
    Ratio("nan"),
    np.array([1.5, np.nan, -np.inf]),
    np.array([[1, 2], [3, 4]]),
    (1, np.nan),
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(SPECIAL),
)
keys = st.one_of(st.text(max_size=4), st.integers(-5, 5), st.booleans(), st.none(), st.just(Name("k")))
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=5).map(tuple),
        st.dictionaries(keys, inner, max_size=5),
        st.dictionaries(keys, inner, max_size=5).map(OrderedDict),
    ),
    max_leaves=20,
)


def test_json_safe_cleans_every_special_value_alone_and_inside_dicts_and_lists():
    for value in SPECIAL:
        for document in (
            value,
            [value, "x"],
            {"a": value, 1: [value]},
            OrderedDict(a=value),
            {Name("k"): value},
        ):
            assert same(json_safe(document), plain_json_safe(document)), document
    assert json_safe({"a": [float("nan"), np.float32(0.5), Colour.RED]}) == {"a": [None, 0.5, 1]}


@settings(max_examples=60, deadline=None)
@given(documents)
def test_json_safe_gives_what_the_plain_definition_gives(document):
    assert same(json_safe(document), plain_json_safe(document))


def test_json_safe_on_a_saved_audit_document_is_the_document_itself(demo_json):
    """An audit.json read back is clean already: cleaning it again changes nothing."""
    import json

    document = json.loads((demo_json / "audit.json").read_text(encoding="utf-8"))
    assert same(json_safe(document), document)


def mixed_frame() -> pd.DataFrame:
    """Every kind of column a document's table may hold, with repeated index labels (rows taken from a larger
    frame)."""
    return pd.DataFrame(
        {
            "plain": ["a", None, 1, 2.5, float("nan"), True],
            "numpy": [np.float32(0.1), np.int64(3), np.bool_(False), np.float64(0.2), pd.NA, "x"],
            "when": [np.datetime64("2026-01-02T03:04:05"), None, "t", 1, 2, 3],
            "masked": pd.array([1, None, 3, 4, 5, 6], dtype="Int64"),
            "number": [0.5, np.nan, 1.0, 2.0, 3.0, -0.0],
            "text": pd.array(["a", None, "c", "d", "e", "f"], dtype="str"),
            "stamp": pd.to_datetime(["2026-01-01"] * 6),
        },
        index=[5, 5, 3, 2, 1, 0],
    )


def test_a_column_reads_as_pandas_records_give_it():
    """``column_values`` gives each column as ``to_dict("records")`` does: numpy scalars, NA and dates in an object
    column as pandas turns them into Python values, and None for a column the frame lacks."""
    frame = mixed_frame()
    expected = frame.to_dict("records")
    for column in frame.columns:
        got, want = column_values(frame, column), [r[column] for r in expected]
        assert [type(v) for v in got] == [type(v) for v in want], column
        assert [str(v) for v in got] == [str(v) for v in want], column
    assert column_values(frame, "absent") == [None] * 6


def test_records_are_pandas_records_built_a_column_at_a_time():
    frame = mixed_frame()
    for table in (frame, frame.astype(object).where(frame.notna(), None), frame.iloc[:0], frame[[]]):
        expected = table.to_dict("records")
        got = records(table)
        assert [list(r) for r in got] == [list(r) for r in expected]
        assert [[type(v) for v in r.values()] for r in got] == [
            [type(v) for v in r.values()] for r in expected
        ]
        assert [[str(v) for v in r.values()] for r in got] == [[str(v) for v in r.values()] for r in expected]
