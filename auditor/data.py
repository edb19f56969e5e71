"""Load and validate the judgment table: items plus long labels, canonicalised against the task.

The output is one tidy :class:`JudgmentTable`: the items, every usable label row with an integer category
``code`` and a numeric ``value``, and the exclusions (label rows left out, counted per judge and reason).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.contract import ITEM_COLUMNS_KNOWN, ORDERS
from auditor.errors import InputError
from auditor.io import ROW, is_missing, read_table

CLUSTER = "__cluster__"


def _where(frame: pd.DataFrame) -> str | None:
    return frame.attrs.get("path")


def _row_of(frame: pd.DataFrame, position: int) -> int:
    if ROW in frame.columns:
        return int(frame[ROW].iloc[position])
    return position + 1


def _key_text(value: object) -> str | None:
    """Item ids, user ids, judges and raters as text: ints stay ints (``3`` not ``3.0``)."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (np.integer,)):
        return str(int(value))
    if isinstance(value, (list, dict)):
        raise TypeError("nested value")
    return str(value).strip()


def _fast_text(series: pd.Series) -> pd.Series | None:
    """Vectorised :func:`_key_text` for text, integer and integral-float columns (None: take the slow path)."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("string", "empty"):
        text = series.astype("string").str.strip()
    elif kind == "integer":
        text = series.astype("Int64").astype("string")
    elif kind == "floating":
        values = series.to_numpy(dtype=float, na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size != np.count_nonzero(~np.isnan(values)) or np.any(finite != np.round(finite)):
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
    series: pd.Series, fn: Callable[[pd.Series], pd.Series | None]
) -> tuple[np.ndarray, np.ndarray] | None:
    """``fn`` (element-wise: a Series of values to an object Series, or None) applied to the distinct values only.

    Returns the code of each row's distinct value (-1: a missing value) and ``fn``'s result per distinct value with
    a final None for the missing ones (so that ``per_value[codes]`` spreads it over the rows); None where ``fn``
    gives None, or where the column mixes kinds of values (``1`` and ``True`` are one distinct value to pandas, not
    to ``fn``).
    """
    if pd.api.types.infer_dtype(series, skipna=True) not in _BY_VALUE_KINDS:
        return None
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    got = fn(pd.Series(uniques))
    if got is None:
        return None
    return codes, np.append(got.to_numpy(dtype=object), None)


def _spread(codes: np.ndarray, per_value: np.ndarray, index: pd.Index) -> pd.Series:
    return pd.Series(per_value[codes], index=index, dtype=object)


def _key_column(frame: pd.DataFrame, column: str, *, required: bool) -> pd.Series:
    return _key_column_codes(frame, column, required=required)[0]


def _key_column_codes(
    frame: pd.DataFrame, column: str, *, required: bool
) -> tuple[pd.Series, tuple[np.ndarray, np.ndarray] | None]:
    """:func:`_key_column`, with each row's code and the texts per code (see :func:`_by_value`) when known."""
    found = _by_value(frame[column], _fast_text)
    if found is None:
        return _key_column_slow(frame, column, required=required), None
    codes, per_value = found
    if required:
        empty = pd.isna(per_value)[codes]
        if empty.any():
            raise InputError(
                "is empty; every row needs a value here",
                file=_where(frame),
                row=_row_of(frame, int(np.flatnonzero(empty)[0])),
                column=column,
            )
    return _spread(codes, per_value, frame.index), found


def _key_column_slow(frame: pd.DataFrame, column: str, *, required: bool) -> pd.Series:
    fast = _fast_text(frame[column])
    if fast is not None:
        if required:
            empty = fast.isna().to_numpy()
            if empty.any():
                raise InputError(
                    "is empty; every row needs a value here",
                    file=_where(frame),
                    row=_row_of(frame, int(np.flatnonzero(empty)[0])),
                    column=column,
                )
        return fast
    out = []
    for pos, value in enumerate(frame[column].tolist()):
        try:
            text = _key_text(value)
        except TypeError:
            raise InputError(
                f"holds a {type(value).__name__}; expected a text or integer id",
                file=_where(frame),
                row=_row_of(frame, pos),
                column=column,
            ) from None
        if text is None and required:
            raise InputError(
                "is empty; every row needs a value here",
                file=_where(frame),
                row=_row_of(frame, pos),
                column=column,
            )
        out.append(text)
    return pd.Series(out, index=frame.index, dtype=object)


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    found = [c for c in frame.columns if c != ROW]
    for column in columns:
        if column not in frame.columns:
            hint = ""
            lowered = {c.lower().strip(): c for c in found}
            if column in lowered:
                hint = f" (found {lowered[column]!r}: column names are case- and space-sensitive)"
            raise InputError(
                f"missing required column for the {what} table{hint}; columns found: {', '.join(map(str, found))}",
                file=_where(frame),
                column=column,
            )


def validate_items(frame: pd.DataFrame) -> pd.DataFrame:
    """Check an items table: ``item_id`` present, non-empty and unique; ids normalised to text."""
    _require_columns(frame, ("item_id",), "items")
    frame = _copy(frame)
    frame["item_id"] = _key_column(frame, "item_id", required=True)
    dup = frame["item_id"].duplicated(keep="first")
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        item = frame["item_id"].iloc[pos]
        first = int(np.flatnonzero((frame["item_id"] == item).to_numpy())[0])
        raise InputError(
            f"duplicate item_id {item!r} (first seen in row {_row_of(frame, first)}); item ids must "
            "be unique",
            file=_where(frame),
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
    keys: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for column in ("item_id", "judge"):
        frame[column], found = _key_column_codes(frame, column, required=True)
        if found is not None:
            keys[column] = found
    frame["rater"] = _key_column(frame, "rater", required=False) if "rater" in frame.columns else None
    if "order" in frame.columns:
        orders, found = _key_column_codes(frame, "order", required=False)
        if found is not None:
            codes, per_value = found
            bad_value = np.array([v is not None and v not in ORDERS for v in per_value], dtype=bool)
            bad = pd.Series(bad_value[codes], index=orders.index)
        else:
            bad = orders.notna() & ~orders.isin(ORDERS)
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"has {orders.iloc[pos]!r}; expected 'ab', 'ba' or empty",
                file=_where(frame),
                row=_row_of(frame, pos),
                column="order",
            )
        frame["order"] = orders
    else:
        frame["order"] = None
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
                file=_where(frame),
                row=_row_of(frame, pos),
                column="score",
            )
        frame["score"] = numbers
    else:
        frame["score"] = np.nan
    for column in ("raw", "exclusion"):
        if column not in frame.columns:
            frame[column] = None
    return frame, keys


def split_combined(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One table holding item columns and label columns: the items are the distinct item rows.

    An item column whose value differs between two rows of the same item is bad input.
    """
    item_cols = [c for c in frame.columns if c in ITEM_COLUMNS_KNOWN]
    frame = _copy(frame)
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

    def item_positions(self) -> np.ndarray:
        """The position in ``items`` of each row of ``labels`` (-1: an item not in ``items``)."""
        if self.label_items is not None and self.label_items[0] is self.labels:
            return self.label_items[1]
        return pd.Index(self.items["item_id"]).get_indexer(self.labels["item_id"]).astype(np.int64)

    @property
    def judges(self) -> list[str]:
        ref = self.config.reference
        return [j for j in pd.unique(self.raw_labels["judge"]).tolist() if j != ref]


def _normalise_label(value: object) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
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
    return text


def _label_texts(labels: pd.DataFrame) -> pd.Series:
    """Every label as canonical text before aliases: ints as ``"3"`` (also from ``3.0``), booleans as 1 / 0."""
    series = labels["label"]
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind == "boolean":
        out = series.map({True: "1", False: "0"}).astype(object)
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
                file=_where(labels),
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
    return fast


def _label_values(series: pd.Series) -> pd.Series:
    """:func:`_label_texts` of a column of distinct text or numbers (element-wise: one value's text never depends
    on the others, except for the column-wide choice of the vectorised path, which the distinct values share)."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    fast = _fast_label_texts(series, kind)
    if fast is not None:
        return fast
    return pd.Series([_normalise_label(v) for v in series.tolist()], index=series.index, dtype=object)


def _label_codes(labels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each row's code into the distinct label texts before aliases (-1: no label) and those texts, with a final
    None that code -1 picks: :func:`_label_texts` is ``per_value[codes]``, computed once per distinct label."""
    found = _by_value(labels["label"], _label_values)
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


def canonicalise(labels: pd.DataFrame, config: AuditConfig) -> tuple[pd.DataFrame, tuple[str, ...] | None]:
    """Map every label to the task's canonical set; adds ``label_text``, ``code``, ``value`` and ``excluded``."""
    task = config.require_task()
    where = _where(labels)
    categories = config.canonical_categories()
    aliases = config.aliases
    unusable = list(config.unusable)
    # every step below up to the numbers is a function of the label alone: computed once per distinct label
    row_code, before = _label_codes(labels)  # before[-1] is None: the rows without a label (code -1)
    before = pd.Series(before, dtype=object)
    texts = before.map(lambda t: aliases.get(t, t) if t is not None else None) if aliases else before
    present_value = texts.notna().to_numpy()
    unusable_value = (before.isin(unusable) | texts.isin(unusable)).to_numpy() & present_value
    present = present_value[row_code]
    is_unusable = unusable_value[row_code]
    excluded = np.full(len(labels), None, dtype=object)
    if task != "score":
        empty = ~present
        if empty.any():
            excluded[empty] = _declared_exclusions(labels, empty).fillna("empty label").to_numpy(dtype=object)
    if is_unusable.any():
        reasons = ("unusable label " + before.map(repr)).to_numpy(dtype=object)
        excluded[is_unusable] = reasons[row_code[is_unusable]]
    texts = texts.where(~unusable_value, None)
    text_value = texts.to_numpy(dtype=object)
    labels = _copy(labels)
    labels["label_text"] = pd.Series(text_value[row_code], index=labels.index, dtype=object)

    if task == "categorical" and categories is None:
        categories = tuple(sorted(set(texts.dropna().tolist())))
    codes = np.full(len(labels), -1, dtype=np.int64)
    values = np.full(len(labels), np.nan)
    if task == "score":
        scores = labels["score"].to_numpy(dtype=float)
        # the numbers of the distinct texts; None among them only where a row has no label, as when converted row
        # by row (the result's type is chosen from the whole set of values)
        numbered = texts if (row_code < 0).any() else texts.iloc[:-1]
        from_value = np.append(
            pd.to_numeric(numbered, errors="coerce").to_numpy(dtype=float)[: len(texts) - 1], np.nan
        )
        from_label = from_value[row_code]
        usable = pd.isna(excluded)
        bad = usable & ~np.isfinite(scores) & present & ~is_unusable & ~np.isfinite(from_label)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(
                f"has {labels['label'].iloc[pos]!r}; a score task needs a finite number in `score` "
                "or `label`",
                file=where,
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
        unknown = unknown_value[row_code]
        if unknown.any():
            pos = int(np.flatnonzero(unknown)[0])
            shown = ", ".join(repr(c) for c in categories[:12])
            hint = ""
            if aliases:
                hint = f" or a declared alias ({', '.join(repr(a) for a in list(aliases)[:8])})"
            if unusable:
                hint += f" or a declared unusable value ({', '.join(repr(u) for u in unusable)})"
            raise InputError(
                f"has {_shown(labels['label'].iloc[pos])!r}, which is not a {task} label: expected one of {shown}{hint}. "
                "Declare aliases in the config ([labels] aliases) rather than editing the data.",
                file=where,
                row=_row_of(labels, pos),
                column="label",
            )
        numeric = _category_values(task, categories, config)
        values = np.where(codes >= 0, numeric[np.maximum(codes, 0)], np.nan)
    labels["excluded"] = excluded
    labels["code"] = codes.astype(np.int64)
    labels["value"] = values
    return labels, categories


def _category_values(task: str, categories: tuple[str, ...], config: AuditConfig) -> np.ndarray:
    if task == "pairwise":
        return np.array([0.0, 0.5, 1.0])  # a, tie, b: the mean is b's preference score
    if task in ("likert", "binary"):
        return np.array([float(c) for c in categories])
    return np.arange(len(categories), dtype=float)


def _as_frame(source: str | Path | pd.DataFrame, name: str) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        frame.attrs.setdefault("path", f"<{name} DataFrame>")
        if ROW not in frame.columns:
            frame[ROW] = range(1, len(frame) + 1)
        if len(frame) == 0:
            raise InputError("has no rows", file=frame.attrs["path"])
        return frame
    return read_table(source)


def load(
    labels: str | Path | pd.DataFrame,
    items: str | Path | pd.DataFrame | None = None,
    config: AuditConfig | None = None,
) -> JudgmentTable:
    """Read, validate and canonicalise; raises :class:`InputError` on bad input."""
    config = (config or AuditConfig()).validated()
    config.require_task()
    label_frame = _as_frame(labels, "labels")
    if items is None:
        if any(
            c in label_frame.columns for c in ("response_a", "response_b", "response", "prompt", "user_id")
        ):
            item_frame, label_frame = split_combined(label_frame)
        else:
            item_frame = None
    else:
        item_frame = _as_frame(items, "items")
    label_frame, keys = _check_label_columns(label_frame)
    item_codes = keys.get("item_id")  # each row's code into the distinct item ids, when known
    if item_frame is None:
        ids = list(
            dict.fromkeys(item_codes[1][:-1] if item_codes is not None else label_frame["item_id"].tolist())
        )
        item_frame = pd.DataFrame({"item_id": ids})
        item_frame.attrs["path"] = "<items derived from labels>"
    item_frame = validate_items(item_frame)
    known = set(item_frame["item_id"])
    if item_codes is not None:
        codes, per_value = item_codes
        unknown = pd.Series(np.array([v not in known for v in per_value], dtype=bool)[codes])
    else:
        unknown = ~label_frame["item_id"].isin(known)
    if unknown.any():
        pos = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(
            f"names item {label_frame['item_id'].iloc[pos]!r}, which is not in the items table "
            f"{item_frame.attrs.get('path')} ({int(unknown.sum())} label rows name unknown items)",
            file=_where(label_frame),
            row=_row_of(label_frame, pos),
            column="item_id",
        )
    label_frame, categories = canonicalise(label_frame, config)

    # clusters: user_id where given, else the item itself
    cluster_col = config.cluster
    if cluster_col in item_frame.columns:
        clusters = item_frame[cluster_col].where(
            item_frame[cluster_col].notna(), "item:" + item_frame["item_id"]
        )
    else:
        clusters = "item:" + item_frame["item_id"]
    item_frame[CLUSTER] = clusters.astype(str)

    excluded = label_frame[label_frame["excluded"].notna()]
    exclusions = (
        excluded.groupby(["judge", "excluded"], sort=True)
        .size()
        .reset_index(name="count")
        .rename(columns={"excluded": "reason"})
    )
    keep = label_frame["excluded"].isna().to_numpy()
    usable = _copy(label_frame) if keep.all() else label_frame[keep].copy()
    label_items = None
    if item_codes is not None:  # each distinct item id looked up once
        codes, per_value = item_codes
        positions = pd.Index(item_frame["item_id"]).get_indexer(per_value[:-1]).astype(np.int64)
        label_items = (usable, positions[codes][keep])
    judge_names = set(keys["judge"][1][:-1]) if "judge" in keys else set(label_frame["judge"])
    if config.reference not in judge_names:
        judges = ", ".join(sorted(judge_names)[:10])
        raise InputError(
            f"has no labels from the reference judge {config.reference!r}; judges found: {judges}. "
            "Pass --reference to name another one.",
            file=_where(label_frame),
            column="judge",
        )
    return JudgmentTable(
        config=config,
        items=item_frame,
        labels=usable,
        categories=categories,
        exclusions=exclusions,
        raw_labels=label_frame,
        label_items=label_items,
    )


def read_items(path: str | Path) -> pd.DataFrame:
    """Read and validate an items table (see :func:`auditor.data.validate_items`)."""
    return validate_items(read_table(path))


def read_labels(path: str | Path) -> pd.DataFrame:
    """Read a labels table and check its columns (labels are canonicalised later, against the task)."""
    return check_label_columns(read_table(path))
