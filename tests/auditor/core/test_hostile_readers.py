"""Property-based tests of the readers (issue 21): ids come back as exact text from every format, any bytes give a
table or the project's own one-line error, and the work spent on a hostile id in an error message is bounded.

Conventions checked: an integer id is its digits (never through float: ids beyond 2**53 and beyond int64 stay
apart); a JSON number with a fraction or an exponent is the text it was written as (``1e20``), except that an
integral one below 2**53 is its integer (``3.0`` is ``3``); a text id is itself without surrounding blanks; a raw
U+2028 / U+2029 / U+0085 inside a JSON Lines string is part of the string, not a line end.  Work is counted in
operations (Python lines executed, ``sys.settrace``), the same on any machine, never in seconds.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from auditor.data import read_labels
from auditor.errors import AuditorError, InputError
from auditor.io import read_table
from auditor.suggest import close_matches, same_looking, spelling_difference
from tests.opcount import lines_executed

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
#: Integer ids around the edges: float's exact range (2**53), int64 and beyond.
EDGES = st.sampled_from([2**53 - 1, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 + 7, -(2**53) - 1])
INTEGER_IDS = st.one_of(st.integers(min_value=-(10**30), max_value=10**30), EDGES)
TEXT_IDS = st.text(
    alphabet=st.sampled_from(list("ab1é ") + ["\u2028", "\u2029", "\u0085", "\u200b", "\u0301", "\x1b"]),
    min_size=1,
    max_size=8,
).filter(lambda text: text.strip())


def _labels_rows(ids: list) -> list[dict]:
    return [{"item_id": item, "judge": "human", "label": "a"} for item in ids]


def _read_ids(path: Path) -> list[str]:
    return read_labels(path)["item_id"].tolist()


@FAST
@given(ids=st.lists(st.one_of(INTEGER_IDS, TEXT_IDS), min_size=1, max_size=12))
def test_jsonl_ids_come_back_as_exact_text(ids, tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in _labels_rows(ids)), encoding="utf-8"
    )
    expected = [str(i) if isinstance(i, int) else i.strip() for i in ids]
    assert _read_ids(path) == expected


@FAST
@given(ids=st.lists(INTEGER_IDS, min_size=1, max_size=12))
def test_csv_and_json_array_integer_ids_are_their_digits(ids, tmp_path):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["item_id", "judge", "label"])
    writer.writerows([i, "human", "a"] for i in ids)
    (tmp_path / "labels.csv").write_text(text.getvalue(), encoding="utf-8")
    (tmp_path / "labels.json").write_text(json.dumps(_labels_rows(ids)), encoding="utf-8")
    expected = [str(i) for i in ids]
    assert _read_ids(tmp_path / "labels.csv") == expected
    assert _read_ids(tmp_path / "labels.json") == expected
    assert len(set(expected)) == len(set(ids))  # distinct ids stay distinct


@FAST
@given(
    ids=st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=12),
    gap=st.booleans(),
)
def test_parquet_int64_ids_are_their_digits_even_beside_a_missing_value(ids, gap, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    raters = [None if gap and n == 0 else "r" for n in range(len(ids))]
    table = pa.table(
        {
            "item_id": pa.array(ids, type=pa.int64()),
            "judge": ["human"] * len(ids),
            "label": ["a"] * len(ids),
            "rater": pa.array(raters, type=pa.string()),
        }
    )
    pq.write_table(table, tmp_path / "labels.parquet")
    assert _read_ids(tmp_path / "labels.parquet") == [str(i) for i in ids]


@FAST
@given(
    literal=st.sampled_from(["1e20", "2E+21", "1.5", "0.25", "-7.125e3", "3.0", "1e2", "9007199254740993.0"]),
)
def test_a_json_number_id_is_read_as_written_or_as_its_exact_integer(literal, tmp_path):
    path = tmp_path / "labels.jsonl"
    path.write_text(f'{{"item_id": {literal}, "judge": "human", "label": "a"}}\n', encoding="utf-8")
    number = float(literal)
    expected = str(int(number)) if number.is_integer() and abs(number) < 2**53 else literal
    assert _read_ids(path) == [expected]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.one_of(
        st.binary(max_size=300),
        st.text(alphabet=st.sampled_from(list('{}[]":,\n\r 1ae\\') + ["\u2028", "\x00"]), max_size=300).map(
            lambda text: text.encode("utf-8")
        ),
        st.integers(min_value=1, max_value=50_000).map(lambda depth: (b"[" * depth) + (b"]" * depth)),
    ),
    suffix=st.sampled_from([".jsonl", ".json", ".csv", ".tsv", ".parquet"]),
)
# pandas' tokenizer message for these bytes ends with a newline (found by this test)
@example(data=b"1\r1\r,", suffix=".csv")
def test_any_bytes_give_a_table_or_one_input_error(data, suffix, tmp_path):
    path = tmp_path / f"labels{suffix}"
    path.write_bytes(data)
    try:
        frame = read_table(path)
    except InputError as exc:
        message = str(exc)
        assert message.startswith(f"file {path}") and len(message) < 2_000, message[:500]
        assert "\n" not in message.replace(str(path), ""), message[:500]
        return
    assert len(frame) > 0


@FAST
@given(key=st.text(min_size=1, max_size=20), first=st.integers(), second=st.integers())
def test_a_key_given_twice_is_an_error_naming_it(key, first, second, tmp_path):
    path = tmp_path / "labels.jsonl"
    body = f'{{"item_id": "i0", {json.dumps(key)}: {first}, {json.dumps(key)}: {second}, "judge": "h"}}'
    path.write_text(body + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="twice in one JSON object") as caught:
        read_table(path)
    assert caught.value.row == 1


@FAST
@given(
    base=TEXT_IDS,
    hidden=st.sampled_from(["\u200b", "\u200d", "\ufeff", "\u2060", "\u00ad"]),
    at=st.integers(0, 8),
)
def test_an_id_with_an_invisible_character_is_named_beside_its_twin(base, hidden, at):
    twin = base[:at] + hidden + base[at:]
    found = same_looking(twin, ["other", base])
    assert found == base
    assert f"U+{ord(hidden):04X}" in spelling_difference(twin, base)


def operations(call) -> int:
    """Python lines executed by ``call()`` (an :class:`AuditorError` it raises ends it)."""
    return lines_executed(call, AuditorError)[0]


def test_suggestions_for_a_hostile_name_cost_constant_operations():
    """The close-match search of a 10 MB name does no comparison at all: the same work as for a 1 kB one."""
    known = [f"user_{n}" for n in range(200)]
    small = operations(lambda: close_matches("x" * 1_000, known))
    huge = operations(lambda: close_matches("x" * 10_000_000, known))
    assert huge == small and close_matches("x" * 10_000_000, known) == []


def test_the_unknown_item_message_costs_the_same_for_a_long_id(tmp_path):
    """An unknown id of 10 kB and one of 1 MB: the same number of operations (shortened, never scanned per
    character in Python)."""
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"item_id": f"i{n}"}) + "\n" for n in range(50)), encoding="utf-8")
    import auditor

    def audit_with(length: int):
        labels = tmp_path / f"labels_{length}.jsonl"
        rows = [
            {"item_id": "i0", "judge": "human", "label": "a"},
            {"item_id": "y" * length, "judge": "human"},
        ]
        labels.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        return lambda: auditor.audit(str(labels), items=str(items), task="pairwise", resamples=0)

    try:  # the first call imports what the audit needs: not counted
        audit_with(10)()
    except AuditorError:
        pass
    short, long = operations(audit_with(10_000)), operations(audit_with(1_000_000))
    assert abs(long - short) <= 50, (short, long)
