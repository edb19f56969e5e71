"""Load and validate the judgment table: items plus long labels, canonicalised against the task.

The output is one tidy :class:`JudgmentTable`: the items, every usable label row with an integer category
``code`` and a numeric ``value``, and the exclusions (label rows left out, counted per judge and reason).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig, fix_text, option_text, toml_value
from auditor.contract import BOOLEAN_LABELS, ITEM_COLUMNS_KNOWN, ORDERS
from auditor.errors import FRONT, InputError, shown
from auditor.io import (
    FILE,
    ROW,
    JsonNumber,
    distinct_texts,
    is_missing,
    is_read_text,
    read_table,
    text_codes,
)
from auditor.suggest import (
    UNKNOWN,
    Inspection,
    did_you_mean,
    integers,
    same_looking,
    spelling_difference,
    suggest_aliases,
    suggest_task,
)

CLUSTER = "__cluster__"


def _where(frame: pd.DataFrame, position: int | None = None) -> str | None:
    """The file of ``frame`` (of its row at ``position``, when it was read from several files)."""
    if position is not None and FILE in frame.columns:
        return str(frame[FILE].iloc[position])
    return frame.attrs.get("path")


def _row_of(frame: pd.DataFrame, position: int) -> int:
    """The row number to cite for ``frame``'s row at ``position``: its :data:`ROW` where the reader gave one, else
    ``position + 1`` (a Parquet file read without it, :func:`_as_frame`)."""
    if ROW in frame.columns:
        return int(frame[ROW].iloc[position])
    return position + 1


def _numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its :data:`ROW` column, made from the positions where the reader gave none: for the steps
    that keep row numbers through a selection of rows or a concatenation."""
    if ROW in frame.columns:
        return frame
    return frame.assign(**{ROW: range(1, len(frame) + 1)})


#: Where the items come from when there is neither an items file nor item columns: the labels' item ids (in messages)
DERIVED_ITEMS = "<items derived from labels>"

#: Integers up to this size are exact as floats: a float id beyond it may stand for several integers.
EXACT_FLOAT_LIMIT = 2**53


class InexactId(ValueError):
    """An id stored as a floating-point number too large to name one integer (e.g. ``1e20`` in a float column)."""


def _key_text(value: object) -> str | None:
    """Item ids, user ids, judges and raters as exact text: ints as their digits (``3``, never ``3.0``, and
    ``12345678901234567891`` whole), a JSON number with a fraction or exponent as written (``1e20``, ``0.5``;
    ``3.0`` is ``3``), a float as its integer below 2**53 (a float column of integer ids) and else an error."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if number.is_integer() and abs(number) < EXACT_FLOAT_LIMIT:
            return str(int(number))
        if isinstance(value, JsonNumber):
            return value.text
        if number.is_integer():
            raise InexactId(repr(number))
        return repr(number)
    if isinstance(value, (list, dict)):
        raise TypeError("nested value")
    return str(value).strip()


def _fast_text(series: pd.Series) -> pd.Series | None:
    """Vectorised :func:`_key_text` for text, integer and integral-float columns (None: take the slow path)."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("string", "empty"):
        text = series.astype("string").str.strip()
    elif kind == "integer":
        try:
            text = series.astype("Int64").astype("string")
        except (OverflowError, TypeError, ValueError):  # beyond int64: Python's ints, one by one
            return None
    elif kind == "floating":
        values = series.to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if (
            finite.size != np.count_nonzero(~np.isnan(values))
            or np.any(finite != np.round(finite))
            or np.any(np.abs(finite) >= EXACT_FLOAT_LIMIT)
        ):
            return None
        text = series.astype("Float64").astype("Int64").astype("string")
    else:
        return None
    out = np.array(text.astype(object).to_numpy(), dtype=object, copy=True)
    missing = text.isna().to_numpy() | (text == "").fillna(True).to_numpy(dtype=bool)
    out[missing] = None
    return pd.Series(out, index=series.index, dtype=object)


_BY_VALUE_KINDS = ("string", "empty", "integer", "floating")
# pandas >= 3 copies on write: a shallow copy whose columns are replaced leaves the caller's frame as it was
_SHALLOW = int(pd.__version__.split(".")[0]) >= 3


def _copy(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.copy(deep=not _SHALLOW)


def _by_value(
    series: pd.Series,
    fn: Callable[[pd.Series], pd.Series | None],
    factorised: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    distinct: bool = False,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``fn`` (element-wise: a Series of values to an object Series, or None) applied to the distinct values only.

    Returns the code of each row's distinct value (-1: a missing value) and ``fn``'s result per distinct value with
    a final None for the missing ones (so that ``per_value[codes]`` spreads it over the rows); None where ``fn``
    gives None, or where the column mixes kinds of values (``1`` and ``True`` are one distinct value to pandas, not
    to ``fn``).  ``factorised``: ``series`` already factorised (:func:`auditor.io.text_codes`).  ``distinct``: the
    codes of ``fn``'s distinct results instead (:func:`_distinct_codes`: ``" a"`` and ``"a"`` one code).
    """
    read = is_read_text(series)  # text only (or missing), whether read as text or as its dictionary
    if not read and pd.api.types.infer_dtype(series, skipna=True) not in _BY_VALUE_KINDS:
        return None
    if factorised is not None:
        codes, uniques = factorised[0], pd.Series(factorised[1][:-1], dtype=object)
    elif read:  # the distinct texts stay pyarrow's text for ``fn``, which strips them as such
        codes, uniques = distinct_texts(series)
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        uniques = pd.Series(uniques)
    got = fn(uniques)
    if got is None:
        return None
    per_value = np.append(got.to_numpy(dtype=object), None)
    if distinct and not (read and _unchanged(uniques, per_value[:-1])):
        return _distinct_codes(codes, per_value)
    return codes, per_value


def _unchanged(texts: pd.Series, results: np.ndarray) -> bool:
    """Whether ``results`` (Python text or None) are the distinct read ``texts`` (:func:`auditor.io.distinct_texts`)
    as they were, and so distinct too: compared as Arrow text (a million ids in 0.03 s, where hashing them to find
    equal ones takes 0.15 s)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    before = pa.array(texts.array)
    try:
        after = pa.array(results, type=before.type)
    except (pa.ArrowException, TypeError):  # a result that is not text
        return False
    return after.null_count == 0 and len(after) > 0 and bool(pc.all(pc.equal(before, after)).as_py())


def _spread(codes: np.ndarray, per_value: np.ndarray, index: pd.Index) -> pd.Series:
    return _column(per_value[codes], index)


def _column(values: np.ndarray, index: pd.Index) -> pd.Series:
    """A new array as a column: assigned as a Series, pandas keeps it (an array is copied: 80 MB at 10M rows)."""
    return pd.Series(values, index=index, dtype=values.dtype, copy=False)  # object stays object, never `str`


def _nones(index: pd.Index) -> pd.Series:
    """A column of None.  One such Series may fill several columns of a frame: pandas copies on write, so they
    share their memory until one of them is written to."""
    return _column(_none_array(len(index)), index)


def _none_array(size: int) -> np.ndarray:
    """``size`` times None: numpy fills a new object array with None (documented for ``np.empty``), in one pass
    where ``np.full`` makes two."""
    return np.empty(size, dtype=object)


def _key_column(frame: pd.DataFrame, column: str, *, required: bool) -> pd.Series:
    return _key_column_codes(frame, column, required=required)[0]


def _key_column_codes(
    frame: pd.DataFrame, column: str, *, required: bool
) -> tuple[pd.Series, tuple[np.ndarray, np.ndarray] | None]:
    """:func:`_key_column`, with each row's code and the distinct texts, with a final None for code -1 (see
    :func:`_by_value`), when known."""
    found = _by_value(frame[column], _fast_text, distinct=True)
    if found is None:
        return _key_column_slow(frame, column, required=required), None
    codes, per_value = found  # every text given: a missing or blank value is code -1
    if required and codes.size and int(codes.min()) < 0:
        first = int(np.argmax(codes < 0))
        raise InputError(
            "is empty; every row needs a value here",
            file=_where(frame, first),
            row=_row_of(frame, first),
            column=column,
        )
    return _spread(codes, per_value, frame.index), found


def _any_row(flags: np.ndarray, codes: np.ndarray) -> bool:
    """Whether ``flags[codes]`` (one flag per distinct value and a last one for code -1) holds a True, from the
    flags alone: every distinct value names some row (:func:`_by_value`), so no mask over the rows is made."""
    return bool(flags[:-1].any()) or bool(flags[-1] and codes.size and int(codes.min()) < 0)


def _key_column_slow(frame: pd.DataFrame, column: str, *, required: bool) -> pd.Series:
    fast = _fast_text(frame[column])
    if fast is not None:
        if required:
            empty = fast.isna().to_numpy()
            if empty.any():
                raise InputError(
                    "is empty; every row needs a value here",
                    file=_where(frame, int(np.flatnonzero(empty)[0])),
                    row=_row_of(frame, int(np.flatnonzero(empty)[0])),
                    column=column,
                )
        return fast
    out = []
    for pos, value in enumerate(frame[column].tolist()):
        try:
            text = _key_text(value)
        except InexactId:
            raise InputError(
                f"holds the id {value!r} as a floating-point number beyond 2**53, which stands for several "
                "integers: store ids as text or as integers (JSON numbers and integer columns are read exactly)",
                file=_where(frame, pos),
                row=_row_of(frame, pos),
                column=column,
            ) from None
        except TypeError:
            raise InputError(
                f"holds a {type(value).__name__}; expected a text or integer id",
                file=_where(frame, pos),
                row=_row_of(frame, pos),
                column=column,
            ) from None
        if text is None and required:
            raise InputError(
                "is empty; every row needs a value here",
                file=_where(frame, pos),
                row=_row_of(frame, pos),
                column=column,
            )
        out.append(text)
    return pd.Series(out, index=frame.index, dtype=object)


def _squeezed(name: object) -> str:
    """A column name compared loosely: lower case, letters and digits only (``Item ID`` -> ``itemid``)."""
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    found = [c for c in frame.columns if c not in (ROW, FILE)]
    for column in columns:
        if column not in frame.columns:
            like = [c for c in found if _squeezed(c) == _squeezed(column)]
            hint = ""
            if like:
                hint = f" (found {like[0]!r}: column names are case- and space-sensitive). " + fix_text(
                    "columns", {column: like[0]}, column=f"{column}={like[0]}"
                )
            elif column == "judge":
                hint = (
                    ". Every labels table names the judge of each row: add a `judge` column (e.g. `human` on every "
                    f"row), or name the column that holds it: {option_text(column='judge=COLUMN')}"
                )
            else:
                hint = f". Name the column that holds it: {option_text(column=f'{column}=COLUMN')}"
            raise InputError(
                f"missing required column for the {what} table; columns found: {', '.join(map(str, found))}{hint}",
                file=_where(frame),
                column=column,
            )


def validate_items(frame: pd.DataFrame) -> pd.DataFrame:
    """Check an items table: ``item_id`` present, non-empty and unique; ids normalised to text."""
    _require_columns(frame, ("item_id",), "items")
    frame = _copy(frame)
    frame["item_id"], found = _key_column_codes(frame, "item_id", required=True)
    # the ids' distinct texts (with a final None) as many as the rows: no id repeats, none to look for
    dup = frame["item_id"].duplicated(keep="first") if found is None or len(found[1]) <= len(frame) else None
    if dup is not None and dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        item = frame["item_id"].iloc[pos]
        first = int(np.flatnonzero((frame["item_id"] == item).to_numpy())[0])
        raise InputError(
            f"duplicate item_id {item!r} (first seen in row {_row_of(frame, first)}); item ids must "
            "be unique",
            file=_where(frame, pos),
            row=_row_of(frame, pos),
            column="item_id",
        )
    if "user_id" in frame.columns:
        frame["user_id"] = _key_column(frame, "user_id", required=False)
    return frame


def check_label_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a labels table's columns and keys (labels themselves are checked against the task later)."""
    return _check_label_columns(frame)[0]


def _check_label_columns(
    frame: pd.DataFrame,
) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """:func:`check_label_columns`, with the codes and distinct texts of the key columns where known."""
    if "label" not in frame.columns and "score" in frame.columns:
        frame = frame.assign(label=None)
    _require_columns(frame, ("item_id", "judge", "label"), "labels")
    frame = _copy(frame)
    absent = [c for c in ("rater", "order", "raw", "exclusion") if c not in frame.columns]
    # every optional column the table lacks is the same column of None (it stays so until written to)
    nones = _nones(frame.index) if absent else None
    keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for column in ("item_id", "judge"):
        frame[column], found = _key_column_codes(frame, column, required=True)
        if found is not None:
            keys[column] = found
    if "rater" in frame.columns:
        frame["rater"], found = _key_column_codes(frame, "rater", required=False)
        if found is not None:
            keys["rater"] = found
    else:
        frame["rater"] = nones
    if "order" in frame.columns:
        orders, found = _key_column_codes(frame, "order", required=False)
        if found is not None:
            codes, per_value = found
            bad_value = np.array([v is not None and v not in ORDERS for v in per_value], dtype=bool)
            bad = bad_value[codes] if _any_row(bad_value, codes) else None
        else:
            bad = (orders.notna() & ~orders.isin(ORDERS)).to_numpy(dtype=bool)
        if bad is not None and bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"has {orders.iloc[pos]!r}; expected 'ab', 'ba' or empty",
                file=_where(frame, pos),
                row=_row_of(frame, pos),
                column="order",
            )
        frame["order"] = orders
        if found is not None:
            keys["order"] = found
    else:
        frame["order"] = nones
        # every row's code -1 (missing): one value seen as a column (read-only, no 80 MB array at 10M rows)
        keys["order"] = (np.broadcast_to(np.int64(-1), (len(frame),)), np.array([None], dtype=object))
    if "score" in frame.columns:
        raw_scores = frame["score"]
        kind = pd.api.types.infer_dtype(raw_scores, skipna=True)
        stripped = raw_scores.astype("string").str.strip()
        numbers = pd.to_numeric(
            raw_scores.where(stripped != "", None) if kind in ("string", "mixed") else raw_scores,
            errors="coerce",
        )
        numbers = numbers.to_numpy(dtype=float, na_value=np.nan)
        given = ~raw_scores.isna().to_numpy() & (stripped != "").fillna(False).to_numpy()
        bad = given & ~np.isfinite(numbers)
        if kind not in ("string", "floating", "integer", "empty"):  # e.g. True among numbers: not a score
            bad |= raw_scores.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"has {raw_scores.iloc[pos]!r}; expected a finite number or empty",
                file=_where(frame, pos),
                row=_row_of(frame, pos),
                column="score",
            )
        frame["score"] = numbers
    else:
        frame["score"] = np.nan
    for column in ("raw", "exclusion"):
        if column not in frame.columns:
            frame[column] = nones
    return frame, keys


def split_combined(frame: pd.DataFrame, cluster: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One table holding item columns and label columns: the items are the distinct item rows (the known item
    columns, and the declared cluster column ``cluster``, ``[bootstrap] cluster``, where the table has it).

    An item column whose value differs between two rows of the same item is bad input.
    """
    item_cols = [c for c in frame.columns if c in ITEM_COLUMNS_KNOWN or c == cluster]
    frame = _numbered(_copy(frame))
    frame["item_id"] = _key_column(frame, "item_id", required=True)
    items = frame[item_cols + [ROW]].drop_duplicates(subset=item_cols, keep="first")
    dup = items["item_id"].duplicated(keep=False)
    if dup.any():
        item = items.loc[dup, "item_id"].iloc[0]
        rows = items.loc[items["item_id"] == item]
        differing = [c for c in item_cols if rows[c].nunique(dropna=False) > 1]
        raise InputError(
            f"item {item!r} has different {differing[0]!r} values in rows "
            f"{', '.join(map(str, rows[ROW].tolist()[:3]))}; a combined table must repeat item "
            "columns identically",
            file=_where(frame),
            row=int(rows[ROW].iloc[1]),
            column=differing[0],
        )
    items.attrs = dict(frame.attrs)
    labels = frame.drop(columns=[c for c in item_cols if c != "item_id"])
    labels.attrs = dict(frame.attrs)
    return items, labels


@dataclass
class JudgmentTable:
    """Items and canonicalised labels, ready for the statistics."""

    config: AuditConfig
    items: pd.DataFrame
    labels: pd.DataFrame  # usable rows: item_id, judge, rater, order, code, value, score, raw + extra columns
    categories: tuple[str, ...] | None
    exclusions: pd.DataFrame  # judge, reason, count
    raw_labels: pd.DataFrame  # every label row as read, with `excluded` reason (None when used)
    warnings: list[dict] = field(default_factory=list)
    # the position in `items` of each row of `labels`, with the labels frame it was computed for
    label_items: tuple[pd.DataFrame, np.ndarray] | None = field(default=None, repr=False)
    # the loader's integer codes of the key columns of `raw_labels` (see :meth:`key_codes`), with that frame, the
    # `labels` frame made from it and which of its rows that holds
    raw_keys: (
        tuple[pd.DataFrame, pd.DataFrame, np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]] | None
    ) = field(default=None, repr=False)

    def item_positions(self) -> np.ndarray:
        """The position in ``items`` of each row of ``labels`` (-1: an item not in ``items``)."""
        if self.label_items is not None and self.label_items[0] is self.labels:
            return self.label_items[1]
        return pd.Index(self.items["item_id"]).get_indexer(self.labels["item_id"]).astype(np.int64)

    def key_codes(self, frame: str = "raw_labels") -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The key columns (``item_id``, ``judge``, ``rater``, ``order``) of ``raw_labels`` (or, with ``frame`` =
        ``"labels"``, of ``labels``) as integer codes, where the loader knew them: per column, each row's code (-1:
        missing; int32 or int64, so widen them before arithmetic) and the distinct texts (code ``k`` is ``texts[k]``; equal texts, equal codes).  Empty when the
        frame was replaced after loading."""
        if self.raw_keys is None or self.raw_keys[0] is not self.raw_labels:
            return {}
        raw, usable, keep, codes = self.raw_keys
        if frame == "raw_labels":
            return codes
        if self.labels is not usable:
            return {}
        if keep.all():
            return codes
        return {column: (code[keep], texts) for column, (code, texts) in codes.items()}

    @property
    def judges(self) -> list[str]:
        """Every judge but the reference, in order of first appearance in ``raw_labels``: the loader's distinct
        judge texts where it kept them (they are in that order, and every one names some row), else a pass over
        the column."""
        ref = self.config.reference
        coded = self.key_codes().get("judge")
        names = coded[1].tolist() if coded is not None else pd.unique(self.raw_labels["judge"]).tolist()
        return [j for j in names if j != ref]


_BOOLEAN_WORDS = tuple(BOOLEAN_LABELS)


def _boolean_word(text: str) -> str:
    """``text``, or ``true`` / ``false`` where it is that word in any case (``True``, ``TRUE``): a boolean label's
    one text in every format (:data:`~auditor.contract.BOOLEAN_LABELS`)."""
    low = text.lower()
    return low if low in BOOLEAN_LABELS else text


def _folded_aliases(aliases: dict[str, str]) -> dict[str, str]:
    """Declared aliases with the boolean words as the labels have them, on both sides (``True=0`` maps the label
    ``true``, whatever the format wrote)."""
    return {_boolean_word(raw): _boolean_word(target) for raw, target in aliases.items()}


def _normalise_label(value: object) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, (list, dict)):
        raise TypeError
    text = str(value).strip()
    try:  # "3.0" from a float column written as text
        number = float(text)
        if number.is_integer() and "." in text and text.replace(".", "", 1).lstrip("-").isdigit():
            return str(int(number))
    except ValueError:
        pass
    return _boolean_word(text)


def _label_texts(labels: pd.DataFrame) -> pd.Series:
    """Every label as canonical text before aliases: ints as ``"3"`` (also from ``3.0``), booleans (and the words
    in any case) as ``true`` / ``false``."""
    series = labels["label"]
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "boolean":
        out = series.map({True: "true", False: "false"}).astype(object)
        return out.where(series.notna(), None)
    if kind in ("string", "empty", "integer", "floating"):
        fast = _fast_label_texts(series, kind)
        if fast is not None:
            return fast
    out = []
    for pos, value in enumerate(series.tolist()):
        try:
            out.append(_normalise_label(value))
        except TypeError:
            raise InputError(
                f"holds a {type(value).__name__}; expected a single label",
                file=_where(labels, pos),
                row=_row_of(labels, pos),
                column="label",
            ) from None
    return pd.Series(out, index=labels.index, dtype=object)


def _fast_label_texts(series: pd.Series, kind: str) -> pd.Series | None:
    fast = _fast_text(series)
    if fast is not None and kind in ("string", "empty"):  # "3.0" written by a float column: the integer 3
        as_text = fast.astype("string")
        integral = as_text.str.fullmatch(r"-?\d+\.0+").fillna(False).to_numpy(dtype=bool)
        if integral.any():
            fast = fast.copy()
            fast[integral] = as_text[integral].str.replace(r"\.0+$", "", regex=True).astype(object)
        lowered = as_text.str.lower()
        words = (lowered.isin(_BOOLEAN_WORDS) & (lowered != as_text)).fillna(False).to_numpy(dtype=bool)
        if words.any():  # True / TRUE: the boolean's one text
            fast = fast.copy()
            fast[words] = lowered[words].astype(object)
    return fast


def _label_values(series: pd.Series) -> pd.Series:
    """:func:`_label_texts` of a column of distinct text or numbers (element-wise: one value's text never depends
    on the others, except for the column-wide choice of the vectorised path, which the distinct values share)."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    fast = _fast_label_texts(series, kind)
    if fast is not None:
        return fast
    return pd.Series([_normalise_label(v) for v in series.tolist()], index=series.index, dtype=object)


def _label_codes(
    labels: pd.DataFrame, factorised: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code into the distinct label texts before aliases (-1: no label) and those texts, with a final
    None that code -1 picks: :func:`_label_texts` is ``per_value[codes]``, computed once per distinct label.
    ``factorised``: the label column already factorised (see :func:`_by_value`)."""
    found = _by_value(labels["label"], _label_values, factorised)
    if found is not None:
        return found
    codes, uniques = pd.factorize(_label_texts(labels), use_na_sentinel=True)  # texts: exact as hash keys
    return codes, np.append(np.asarray(uniques, dtype=object), None)


def _declared_exclusions(labels: pd.DataFrame, rows: np.ndarray) -> pd.Series:
    """The declared ``exclusion`` reason of the chosen rows, as text (None where not declared)."""
    if "exclusion" not in labels.columns:
        return pd.Series([None] * int(rows.sum()), index=labels.index[rows], dtype=object)
    column = labels["exclusion"][rows]
    return _fast_text(column.astype(object).where(column.notna(), None).astype("string"))


def _shown(value: object) -> object:
    """A value as the user wrote it: numpy scalars as Python ones (``7``, not ``np.int64(7)``)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _refuse_booleans(labels: pd.DataFrame, texts: pd.Series, row_code: np.ndarray, task: str) -> None:
    """A boolean (JSON ``true`` / ``false``, a boolean column, or the word as text in any case) is never a rating
    or a score, unless an alias maps it: bad input naming the first row.  ``texts``: the labels' texts after the
    aliases, per distinct label (:func:`canonicalise`)."""
    flags = texts.isin(_BOOLEAN_WORDS).to_numpy(dtype=bool)
    if _any_row(flags, row_code):
        pos = int(np.flatnonzero(flags[row_code])[0])
        word = texts.iloc[row_code[pos]]
        raise InputError(
            f"has the boolean {word}, which is not a {'likert rating' if task == 'likert' else 'score'}: write "
            "it as a number",
            file=_where(labels, pos),
            row=_row_of(labels, pos),
            column="label",
        )


def canonicalise(
    labels: pd.DataFrame, config: AuditConfig, row_counts: np.ndarray | None = None
) -> tuple[pd.DataFrame, tuple[str, ...] | None]:
    """Map every label to the task's canonical set; adds ``label_text``, ``code``, ``value`` and ``excluded``.
    ``row_counts``: how many label rows each row of ``labels`` stands for (an engine that canonicalises the
    distinct labels only, :mod:`auditor.engine.outofcore`; the unknown-label message counts rows with it)."""
    task = config.require_task()
    categories = config.canonical_categories()
    # a boolean's one text: a declared ``True`` (category, alias, unusable label) is the label ``true`` as read
    if categories is not None:
        categories = tuple(dict.fromkeys(_boolean_word(c) for c in categories))
    aliases = _folded_aliases(config.aliases)
    unusable = [_boolean_word(u) for u in config.unusable]
    # every step below up to the numbers is a function of the label alone: computed once per distinct label
    # a label column of pyarrow's text (a Parquet file, :func:`load`) is factorised once: for the codes, and to
    # become Python objects like every other
    arrow = text_codes(labels["label"]) if is_read_text(labels["label"]) else None
    row_code, before = _label_codes(labels, arrow)  # before[-1] is None: the rows without a label (code -1)
    labels = _copy(labels)
    if arrow is not None:
        labels["label"] = _spread(*arrow, labels.index)
    if config.judge_aliases:
        judge_aliases = {judge: _folded_aliases(mapping) for judge, mapping in config.judge_aliases.items()}
        row_code, before = _judge_aliased(labels, judge_aliases, row_code, before)
    before = pd.Series(before, dtype=object)
    texts = before.map(lambda t: aliases.get(t, t) if t is not None else None) if aliases else before
    present_value = texts.notna().to_numpy()
    unusable_value = (before.isin(unusable) | texts.isin(unusable)).to_numpy() & present_value
    excluded = _none_array(len(labels))
    if task != "score" and _any_row(~present_value, row_code):  # the masks over the rows only where needed
        empty = ~present_value[row_code]
        excluded[empty] = _declared_exclusions(labels, empty).fillna("empty label").to_numpy(dtype=object)
    if _any_row(unusable_value, row_code):
        is_unusable = unusable_value[row_code]
        reasons = ("unusable label " + before.map(repr)).to_numpy(dtype=object)
        excluded[is_unusable] = reasons[row_code[is_unusable]]
    texts = texts.where(~unusable_value, None)
    if task == "binary":  # true / false (a boolean in any format, the word in any case) are 1 / 0: no alias
        texts = texts.map(lambda t: BOOLEAN_LABELS.get(t.lower(), t) if isinstance(t, str) else t)
    elif task in ("likert", "score"):
        _refuse_booleans(labels, texts, row_code, task)
    text_value = texts.to_numpy(dtype=object)
    if arrow is not None and row_code is arrow[0] and text_value.tolist() == arrow[1].tolist():
        labels["label_text"] = labels["label"]  # every label already canonical text: the one column, shared
    else:
        labels["label_text"] = _spread(row_code, text_value, labels.index)

    if task == "categorical" and categories is None:
        categories = tuple(sorted(set(texts.dropna().tolist())))
    if task == "score":
        codes = np.full(len(labels), -1, dtype=np.int64)
        scores = labels["score"].to_numpy(dtype=float)
        # the numbers of the distinct texts; None among them only where a row has no label, as when converted row
        # by row (the result's type is chosen from the whole set of values)
        numbered = texts if (row_code < 0).any() else texts.iloc[:-1]
        from_value = np.append(
            pd.to_numeric(numbered, errors="coerce").to_numpy(dtype=float)[: len(texts) - 1], np.nan
        )
        from_label = from_value[row_code]
        usable = pd.isna(excluded)
        present, is_unusable = present_value[row_code], unusable_value[row_code]
        bad = usable & ~np.isfinite(scores) & present & ~is_unusable & ~np.isfinite(from_label)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"has {labels['label'].iloc[pos]!r}; a score task needs a finite number in `score` "
                "or `label`",
                file=_where(labels, pos),
                row=_row_of(labels, pos),
                column="label",
            )
        values = np.where(np.isfinite(scores), scores, from_label)
        values[~usable] = np.nan
        missing = usable & ~np.isfinite(values)
        if missing.any():
            excluded[missing] = (
                _declared_exclusions(labels, missing).fillna("empty score").to_numpy(dtype=object)
            )
    else:
        code_value = pd.Index(categories).get_indexer(texts.astype(object))
        unknown_value = (code_value < 0) & texts.notna().to_numpy()
        codes = code_value[row_code]
        if _any_row(unknown_value, row_code):
            unknown = unknown_value[row_code]
            pos = int(np.flatnonzero(unknown)[0])
            weights = None if row_counts is None else np.asarray(row_counts, dtype=float)[unknown]
            counts = np.bincount(row_code[unknown], weights=weights, minlength=len(before)).astype(np.int64)
            found: dict[str, int] = {}
            for code in np.flatnonzero(counts):  # two raw labels of one text (``True``, ``true``) add up
                found[str(before.iloc[code])] = found.get(str(before.iloc[code]), 0) + int(counts[code])
            raise InputError(
                _unknown_label_message(task, categories, config, _shown(labels["label"].iloc[pos]), found),
                file=_where(labels, pos),
                row=_row_of(labels, pos),
                column="label",
            )
        numeric = np.append(_category_values(task, categories, config), np.nan)  # code -1: NaN
        values = numeric[codes]
    labels["excluded"] = _column(excluded, labels.index)
    labels["code"] = _column(codes.astype(np.int64, copy=False), labels.index)
    labels["value"] = _column(values, labels.index)
    return labels, categories


def _judge_aliased(
    labels: pd.DataFrame, judge_aliases: dict[str, dict[str, str]], row_code: np.ndarray, before: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_label_codes` after each judge's own aliases (``[labels.by_judge]``): the rows of a judge with a map
    get the mapped text; the codes are recomputed over the new texts."""
    texts = before[row_code]
    judges = labels["judge"].to_numpy(dtype=object)
    for judge, mapping in judge_aliases.items():
        rows = judges == judge
        texts[rows] = [mapping.get(t, t) if t is not None else None for t in texts[rows]]
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=True)
    return codes, np.append(np.asarray(uniques, dtype=object), None)


def _unknown_label_message(
    task: str, categories: tuple[str, ...], config: AuditConfig, first: object, found: dict[str, int]
) -> str:
    """ "has X, which is not a <task> label ...", the labels off the set with their counts, and the fix: the flag
    and the audit.toml lines that declare them, computed from the values found."""
    shown = ", ".join(repr(c) for c in categories[:12])
    listed = ", ".join(f"{value!r} ({count} rows)" for value, count in list(found.items())[:12])
    more = f" and {len(found) - 12} more" if len(found) > 12 else ""
    head = (
        f"has {first!r}, which is not a {task} label: expected one of {shown}; labels off that set: "
        f"{listed}{more}. "
    )
    numbers = integers(found) if task == "likert" else None
    if numbers is not None:
        scale = config.scale
        low, high = min(scale.min, *numbers), max(scale.max, *numbers)
        neutral = (low + high) // 2
        check = "" if (low + high) % 2 == 0 else f" (check the neutral point: {low}-{high} has no middle)"
        return (
            head
            + fix_text(
                "scale", {"min": low, "max": high, "neutral": neutral}, scale=f"{low}-{high}", neutral=neutral
            )
            + check
        )
    if task == "categorical":
        return head + (
            "Fix: declare every category in audit.toml under [labels]: categories = "
            + toml_value(sorted({*categories, *found}))
            + ", or map these labels onto the declared ones with "
            + option_text(labels_map=",".join(f"{value}={UNKNOWN}" for value in found))
        )
    suggested = (
        suggest_aliases(task, found) if task in ("pairwise", "binary") else {v: UNKNOWN for v in found}
    )
    fill = f" (replace each {UNKNOWN} with one of {shown})" if UNKNOWN in suggested.values() else ""
    aliases = {**config.aliases, **suggested}
    flag_cannot_carry = any(ch in value for value in suggested for ch in ",=:")
    if flag_cannot_carry:  # audit.toml only
        return head + f"Fix: in audit.toml under [labels]: aliases = {toml_value(aliases)}{fill}"
    flag = ",".join(f"{raw}={target}" for raw, target in suggested.items())
    return head + fix_text("labels", {"aliases": aliases}, labels_map=flag) + fill


def _category_values(task: str, categories: tuple[str, ...], config: AuditConfig) -> np.ndarray:
    if task == "pairwise":
        return np.array([0.0, 0.5, 1.0])  # a, tie, b: the mean is b's preference score
    if task in ("likert", "binary"):
        return np.array([float(c) for c in categories])
    return np.arange(len(categories), dtype=float)


#: What a folder of a study holds: ``labels.*``, ``items.*`` (any of these suffixes) and ``audit.toml``.
STUDY_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".tsv", ".parquet", ".json", ".xlsx")
#: Columns that make a labels file a combined table (its item columns are split off into the items).
_COMBINED_HINTS = ("response_a", "response_b", "response", "prompt", "user_id")

Source = str | Path | pd.DataFrame


def find_table(directory: Path, stem: str) -> Path | None:
    """``directory/stem`` with the first of :data:`STUDY_SUFFIXES` (or one of them ``.gz`` / ``.zst``) that exists."""
    for suffix in STUDY_SUFFIXES:
        for tail in ("", ".gz", ".zst"):
            candidate = directory / f"{stem}{suffix}{tail}"
            if candidate.exists():
                return candidate
    return None


def resolve_study(
    labels: Source | list[Source], items: Source | None = None, config: Any = None
) -> tuple[Source | list[Source], Source | None, Any]:
    """A folder among ``labels`` stands for its ``labels.*``, and (unless given) its ``items.*`` and
    ``audit.toml``; every other source is kept as it is.  A list stays a list."""
    several = isinstance(labels, (list, tuple))
    out: list[Source] = []
    for source in list(labels) if several else [labels]:
        if isinstance(source, (str, Path)) and Path(source).is_dir():
            directory = Path(source)
            found = find_table(directory, "labels")
            if found is None and any(
                f.suffix in (".parquet", ".csv", ".jsonl") for f in directory.rglob("*")
            ):  # a partitioned dataset (hive folders): the out-of-core engine reads it whole
                out.append(source)
                continue
            if found is None:
                raise InputError(
                    f"holds no labels table (labels with one of {', '.join(STUDY_SUFFIXES)})",
                    file=str(directory),
                )
            out.append(found)
            items = items if items is not None else find_table(directory, "items")
            if config is None and (directory / "audit.toml").exists():
                config = directory / "audit.toml"
        else:
            out.append(source)
    return (out if several else out[0]), items, config


#: The columns of each table that :func:`load` validates whole from pyarrow's text (a Parquet file): each distinct
#: value checked and made text once (:func:`_by_value`), then spread over the rows as Python objects, the labels
#: by :func:`canonicalise`.  Every other column becomes Python objects as it is read.
_WHOLE_COLUMNS = {"labels": ("item_id", "judge", "rater", "order", "label"), "items": ("item_id", "user_id")}


def _as_frame(source: Source, name: str, config: AuditConfig, *, whole: bool = False) -> pd.DataFrame:
    """``source`` as a table whose columns are contract names.  ``whole``: the columns of :data:`_WHOLE_COLUMNS`
    of a Parquet file left as pyarrow's text (:func:`auditor.io.read_table`'s ``text_columns``)."""
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.attrs.setdefault("path", f"<{name} DataFrame>")
        if ROW not in frame.columns:
            frame[ROW] = range(1, len(frame) + 1)
        if len(frame) == 0:
            raise InputError("has no rows", file=frame.attrs["path"])
        return _renamed(frame, config.columns)
    text_columns = _file_columns(_WHOLE_COLUMNS[name], config.columns) if whole else ()
    # a labels file validated whole cites its rows by position (_row_of): a Parquet file needs no row-number column
    # (80 MB at 10M rows); the steps that select or concatenate rows add it (_numbered)
    frame = read_table(
        source,
        delimiter=config.delimiter,
        sheet=config.sheet,
        text_columns=text_columns,
        row_numbers=not (whole and name == "labels"),
    )
    return _renamed(frame, config.columns)


def _file_columns(contract: tuple[str, ...], columns: dict[str, str]) -> tuple[str, ...]:
    """The names in the file of the ``contract`` columns (``[columns]`` / ``--column``: contract name -> file
    column; a file column mapped to another contract name is not one of them)."""
    renames = {found: name for name, found in columns.items()}
    found = ((name, columns.get(name, name)) for name in contract)
    return tuple(column for name, column in found if renames.get(column, name) == name)


def _renamed(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """The file's columns named as the contract's (``[columns]`` / ``--column``: contract name -> file column)."""
    renames = {found: contract for contract, found in columns.items() if found in frame.columns}
    for found, contract in renames.items():
        if contract in frame.columns and contract not in renames:
            raise InputError(
                f"has both {contract!r} and {found!r}, which the config maps to {contract!r}; drop one of them",
                file=_where(frame),
                column=found,
            )
    if not renames:
        return frame
    attrs = dict(frame.attrs)
    frame = frame.rename(columns=renames)
    frame.attrs = attrs
    return frame


def read_sources(sources: Source | list[Source], config: AuditConfig | None = None) -> list[pd.DataFrame]:
    """Each labels table of ``sources`` read as :func:`load` reads it (``config``'s columns, delimiter, sheet)."""
    return _read_sources(sources, "labels", config or AuditConfig())


def _read_sources(
    sources: Source | list[Source], name: str, config: AuditConfig, *, whole: bool = False
) -> list[pd.DataFrame]:
    listed = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if not listed:
        raise InputError(f"no {name} given: expected at least one table", column=name)
    return [_as_frame(source, name, config, whole=whole) for source in listed]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Rows of several tables, one after the other; each row keeps its file (hidden :data:`FILE` column) and its
    row number in that file, for the error messages."""
    if len(frames) == 1:
        return frames[0]
    frame = pd.concat([_numbered(f).assign(**{FILE: _where(f)}) for f in frames], ignore_index=True)
    frame = frame.astype(object).where(frame.notna(), None)
    frame.attrs["path"] = " + ".join(str(_where(f)) for f in frames)
    return frame


def _merge_items(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The items of several combined tables: each item once, from the first table that has it; an item column
    that two tables fill differently for the same item is bad input."""
    merged = frames[0]
    for other in frames[1:]:
        shared = [c for c in other.columns if c in merged.columns and c not in ("item_id", ROW, FILE)]
        both = merged[["item_id", *shared]].merge(
            other[["item_id", *shared, ROW]], on="item_id", suffixes=("", "~")
        )
        for column in shared:
            left, right = both[column], both[f"{column}~"]
            differ = left.notna() & right.notna() & (left.astype(str) != right.astype(str))
            if differ.any():
                pos = int(np.flatnonzero(differ.to_numpy())[0])
                raise InputError(
                    f"item {both['item_id'].iloc[pos]!r} has another {column!r} than in {_where(merged)}; "
                    "files that both hold item columns must agree on them",
                    file=_where(other),
                    row=int(both[ROW].iloc[pos]),
                    column=column,
                )
        attrs = {"path": f"{_where(merged)} + {_where(other)}"}
        merged = pd.concat([merged, other[~other["item_id"].isin(set(merged["item_id"]))]], ignore_index=True)
        merged = merged.astype(object).where(merged.notna(), None)
        merged.attrs = attrs
    return merged


def _check_mapped_columns(config: AuditConfig, frames: list[pd.DataFrame]) -> None:
    for contract, found in config.columns.items():
        if not any(contract in f.columns for f in frames):
            columns = sorted({str(c) for f in frames for c in f.columns if c not in (ROW, FILE)})
            raise InputError(
                f"no input file has the column {found!r} that the config maps to {contract!r}; columns found: "
                f"{', '.join(columns)}",
                file=" + ".join(str(_where(f)) for f in frames),
                column=found,
            )


_REFERENCE_LIKE = ("human", "annot", "gold", "expert", "crowd", "rater", "reference", "label")


def _reference_like(judges: list[str]) -> str | None:
    """The first judge named like a human reference (``human``, ``annotator``, ``gold``, ...), else the first."""
    return next(
        (j for j in judges if any(w in j.lower() for w in _REFERENCE_LIKE)), judges[0] if judges else None
    )


def _no_reference_message(reference: str, judge_names: set[str], where: str | None) -> str:
    """No row of the reference judge: the judges found and the fix (its labels file, or another reference)."""
    judges = sorted(judge_names)
    twin = same_looking(reference, judges)
    if twin is not None:
        return (
            f"has no labels from the reference judge {shown(reference)}; the judge {shown(twin)} looks the same but "
            f"differs by {spelling_difference(twin, reference)}: write the judge's name the same way everywhere"
        )
    likely = _reference_like(judges)
    files = " ".join(part for part in str(where).split(" + ")) if where else "LABELS"
    if FRONT.get() == "cli":
        add = f"add the file with the labels of {reference!r} to the command (auditor audit REFERENCE_LABELS {files})"
    else:
        add = f"pass the table with the labels of {reference!r} too (auditor.audit([REFERENCE_LABELS, ...]))"
    return (
        f"has no labels from the reference judge {reference!r}; judges found: {', '.join(judges[:10])}. Fix: "
        f"{add}, or name the judge to compare the others with: {option_text(reference=likely)} (in audit.toml: "
        f"reference = {toml_value(likely)})"
    )


def _unknown_item_message(item: str, known: set[str], items_path: object) -> str:
    """A label's item that is not in the items table, shortened and escaped (an id may be megabytes long or hold
    control characters); an item id that looks the same but is other text (Unicode normal form, invisible
    characters) is named, with the difference."""
    message = f"names item {shown(item)}, which is not in the items table {items_path}"
    twin = same_looking(item, known)
    if twin is None:
        return message
    return (
        f"{message}; the items table has {shown(twin)}, which looks the same but differs by "
        f"{spelling_difference(item, twin)}: write every id the same way in every file (NFC, no invisible "
        "characters)"
    )


def _check_cluster_column(
    column: str, columns: Sequence[Any], where: str | None, config: AuditConfig
) -> None:
    """A declared cluster column (``[bootstrap] cluster``) that the items' ``columns`` lack is bad input naming the
    close matches and the items' file ``where``: falling back to one cluster per item would give narrower intervals
    than the declared design.  The default, ``user_id``, may be absent (every item its own cluster, with a
    warning).  Both engines' (the out-of-core engine has the columns, not the items)."""
    if column in columns or column == AuditConfig.cluster:
        return
    found = [str(c) for c in columns if c not in (ROW, FILE, CLUSTER)]
    raise InputError(
        f"the items have no cluster column {shown(column)}{did_you_mean(column, found)}; columns found: "
        f"{', '.join(shown(c, 40) for c in found[:20])}. Fix: name the column that holds the clusters (users) "
        "under [bootstrap] cluster = ..., or leave it out for one cluster per item",
        file=config.source or where,
        column="bootstrap.cluster",
    )


def _holds(
    frame: pd.DataFrame, keys: dict[str, tuple[np.ndarray, np.ndarray]], column: str, text: str
) -> np.ndarray:
    """Which rows of ``frame`` hold ``text`` in the key ``column``: by its codes (:func:`_by_value`) where known."""
    if column in keys:
        codes, per_value = keys[column]
        return (per_value == text)[codes]
    return (frame[column] == text).to_numpy(dtype=bool)


def _require_usable_reference(
    labels: pd.DataFrame, reference: str, own: np.ndarray, usable: np.ndarray
) -> None:
    """A reference judge none of whose labels is usable (all empty, unusable or unparseable) leaves no metric to
    compute: bad input, not an empty audit.  ``own``: which rows are the reference's (:func:`_holds`); ``usable``:
    which rows have no ``excluded`` reason."""
    if not own.any() or usable[own].any():
        return
    reasons = labels["excluded"][own].value_counts()
    listed = ", ".join(f"{shown(reason, 40)} ({count} rows)" for reason, count in reasons.head(5).items())
    pos = int(np.flatnonzero(own)[0])
    raise InputError(
        f"the reference judge {shown(reference)} has {int(own.sum())} label rows and none usable ({listed}); "
        "no metric can be computed without reference labels",
        file=_where(labels, pos),
        row=_row_of(labels, pos),
        column="label",
    )


def load(
    labels: Source | list[Source],
    items: Source | list[Source] | None = None,
    config: AuditConfig | None = None,
) -> JudgmentTable:
    """Read, validate and canonicalise; raises :class:`InputError` on bad input.

    ``labels``: one table (a path or a DataFrame) or several, whose rows are concatenated (each row keeps its file
    in error messages).  Without ``items``, a labels table holding item columns (``prompt``, ``response_a``, ...)
    is a combined table: its item columns are split off, per file; the items are those of every such table.
    """
    config = (config or AuditConfig()).validated()
    config.require_task()
    label_frames = _read_sources(labels, "labels", config, whole=True)
    item_frames = [] if items is None else _read_sources(items, "items", config, whole=True)
    _check_mapped_columns(config, label_frames + item_frames)
    if items is None:
        split = []
        for position, frame in enumerate(label_frames):
            if any(c in frame.columns for c in _COMBINED_HINTS):
                found_items, label_frames[position] = split_combined(frame, config.cluster)
                split.append(found_items)
        item_frame = _merge_items(split) if split else None
    else:
        item_frame = _concat(item_frames)
    if len(label_frames) > 1:  # each file named in its own error, before the rows are put together
        for frame in label_frames:
            _require_columns(
                frame, ("item_id", "judge", *(() if "score" in frame.columns else ("label",))), "labels"
            )
    label_frame = _concat(label_frames)
    del label_frames, item_frames  # the columns as read go as soon as validation has replaced them
    label_frame, keys = _check_label_columns(label_frame)
    item_codes = keys.get("item_id")  # each row's code into the distinct item ids, when known
    if item_frame is None:
        ids = list(
            dict.fromkeys(item_codes[1][:-1] if item_codes is not None else label_frame["item_id"].tolist())
        )
        item_frame = pd.DataFrame({"item_id": ids})
        item_frame.attrs["path"] = DERIVED_ITEMS
    item_frame = validate_items(item_frame)
    row_items = None  # the position in the items of each label row's item, when the item codes are known
    if item_codes is not None:  # each distinct item id looked up once (the ids are unique: validated)
        codes, per_value = item_codes
        row_items = _positions(per_value[:-1], item_frame["item_id"])[codes]
        unknown = row_items < 0
    else:
        unknown = ~label_frame["item_id"].isin(set(item_frame["item_id"])).to_numpy()
    if unknown.any():
        pos = int(np.flatnonzero(unknown)[0])
        known = set(item_frame["item_id"])
        raise InputError(
            _unknown_item_message(label_frame["item_id"].iloc[pos], known, item_frame.attrs.get("path"))
            + f" ({int(unknown.sum())} label rows name unknown items)",
            file=_where(label_frame, pos),
            row=_row_of(label_frame, pos),
            column="item_id",
        )
    if config.judge_aliases:
        names = set(keys["judge"][1][:-1]) if "judge" in keys else set(label_frame["judge"])
        missing = sorted(set(config.judge_aliases) - names)
        if missing:
            raise InputError(
                f"the labels map of judge {missing[0]!r} names no judge of the data; judges found: "
                f"{', '.join(sorted(names)[:10])} (a label holding ':' goes in audit.toml under [labels])",
                file=_where(label_frame),
                column="judge",
            )
    label_frame, categories = canonicalise(label_frame, config)

    # clusters: user_id where given, else the item itself
    cluster_col = config.cluster
    _check_cluster_column(cluster_col, list(item_frame.columns), _where(item_frame), config)
    if cluster_col in item_frame.columns:
        clusters = item_frame[cluster_col]
        unclustered = clusters.isna()
        if unclustered.any():  # the ids made text only where an item has no cluster
            clusters = clusters.where(~unclustered, "item:" + item_frame["item_id"])
    else:
        clusters = "item:" + item_frame["item_id"]
    item_frame[CLUSTER] = clusters.astype(str)

    keep = label_frame["excluded"].isna().to_numpy()
    excluded = label_frame[~keep]
    exclusions = (
        excluded.groupby(["judge", "excluded"], sort=True)
        .size()
        .reset_index(name="count")
        .rename(columns={"excluded": "reason"})
    )
    usable = _copy(label_frame) if keep.all() else label_frame[keep].copy()
    label_items = None if row_items is None else (usable, row_items if keep.all() else row_items[keep])
    judge_names = set(keys["judge"][1][:-1]) if "judge" in keys else set(label_frame["judge"])
    if config.reference not in judge_names:
        raise InputError(
            _no_reference_message(config.reference, judge_names, _where(label_frame)),
            file=_where(label_frame),
            column="judge",
        )
    _require_usable_reference(
        label_frame, config.reference, _holds(label_frame, keys, "judge", config.reference), keep
    )
    # each row's file and row number were for the error messages (80 MB at 10M rows): nothing reads them further
    hidden = [c for c in (FILE, ROW) if c in label_frame.columns]
    if hidden:
        usable = usable.drop(columns=hidden)
        label_frame = label_frame.drop(columns=hidden)
        label_items = (usable, label_items[1]) if label_items is not None else None
    return JudgmentTable(
        config=config,
        items=item_frame,
        labels=usable,
        categories=categories,
        exclusions=exclusions,
        raw_labels=label_frame,
        label_items=label_items,
        raw_keys=(
            label_frame,
            usable,
            keep,
            {column: (codes, per_value[:-1]) for column, (codes, per_value) in keys.items()},
        ),
    )


def _positions(texts: np.ndarray, ids: pd.Series) -> np.ndarray:
    """The position in ``ids`` (distinct texts) of each of ``texts``, -1 where it is not there: one hash join, by
    pyarrow's hash of the UTF-8 bytes (a million ids against a million, measured: 0.25 s, pandas' object index
    0.6 s)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.index_in(
        pa.array(texts, type=pa.large_string()), value_set=pa.array(ids.to_numpy(), type=pa.large_string())
    )
    return found.fill_null(-1).to_numpy().astype(np.int64)


def _distinct_codes(codes: np.ndarray, per_value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes of :func:`_by_value` (one per raw value, ``per_value[-1]`` None) as codes of the distinct texts
    (``" a"`` and ``"a"`` are one text), -1 where missing, and those texts with a final None.  Where every raw
    value has its own text (the usual case), they are the same codes: ``codes`` itself is returned, not a copy."""
    texts = pd.Series(per_value[:-1], dtype=object)
    again, uniques = pd.factorize(texts, use_na_sentinel=True)
    uniques = np.append(np.asarray(uniques, dtype=object), None)
    if len(uniques) == len(per_value):  # every text distinct and given: ``again`` is 0, 1, 2, ...
        return codes, uniques
    again = np.append(again, -1).astype(np.int64)
    return again[codes], uniques


def inspect_files(sources: Source | list[Source], config: AuditConfig | None = None) -> Inspection:
    """Read ``sources`` as the audit would (``config``'s columns, delimiter and sheet) and describe them."""
    frames = read_sources(sources, config)
    files = [(str(f.attrs.get("path")), [str(c) for c in f.columns if c not in (ROW, FILE)]) for f in frames]
    problems = []
    counts: dict[str, dict[str, int]] = {}
    for frame in frames:
        where = frame.attrs.get("path")
        if "judge" not in frame.columns:
            problems.append(f"{where} has no `judge` column (map one with --column judge=COLUMN)")
            continue
        if "label" not in frame.columns:
            if "score" not in frame.columns:
                problems.append(f"{where} has neither a `label` nor a `score` column")
            continue
        texts = _label_texts(frame)
        table = pd.DataFrame({"judge": frame["judge"].astype(str), "label": texts}).dropna()
        for (judge, label), n in table.groupby(["judge", "label"], sort=True).size().items():
            per_judge = counts.setdefault(str(judge), {})
            per_judge[str(label)] = per_judge.get(str(label), 0) + int(n)
    suggestion = suggest_task(v for labels in counts.values() for v in labels)
    judges = sorted(counts)
    reference = "human" if "human" in counts else _reference_like(judges)
    return Inspection(files, counts, suggestion, reference, problems)


def read_items(path: str | Path) -> pd.DataFrame:
    """Read and validate an items table (see :func:`auditor.data.validate_items`)."""
    return validate_items(read_table(path))


def read_labels(path: Source | list[Source]) -> pd.DataFrame:
    """Read a labels table (or several, concatenated) and check its columns (labels are canonicalised later,
    against the task)."""
    return check_label_columns(_concat(read_sources(path)))
