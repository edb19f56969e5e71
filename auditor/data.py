"""Load and validate the judgment table: items plus long labels, canonicalised against the task.

The output is one tidy :class:`JudgmentTable`: the items, every usable label row with an integer category
``code`` and a numeric ``value``, and the exclusions (label rows left out, counted per judge and reason).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.errors import InputError
from auditor.io import ROW, is_missing, read_table
from auditor.schema import ITEM_COLUMNS_KNOWN, ORDERS

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


def _key_column(frame: pd.DataFrame, column: str, *, required: bool) -> pd.Series:
    fast = _fast_text(frame[column])
    if fast is not None:
        if required:
            empty = fast.isna().to_numpy()
            if empty.any():
                raise InputError("is empty; every row needs a value here", file=_where(frame),
                                 row=_row_of(frame, int(np.flatnonzero(empty)[0])), column=column)
        return fast
    out = []
    for pos, value in enumerate(frame[column].tolist()):
        try:
            text = _key_text(value)
        except TypeError:
            raise InputError(f"holds a {type(value).__name__}; expected a text or integer id",
                             file=_where(frame), row=_row_of(frame, pos), column=column) from None
        if text is None and required:
            raise InputError("is empty; every row needs a value here", file=_where(frame),
                             row=_row_of(frame, pos), column=column)
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
                file=_where(frame), column=column,
            )


def validate_items(frame: pd.DataFrame) -> pd.DataFrame:
    """Check an items table: ``item_id`` present, non-empty and unique; ids normalised to text."""
    _require_columns(frame, ("item_id",), "items")
    frame = frame.copy()
    frame["item_id"] = _key_column(frame, "item_id", required=True)
    dup = frame["item_id"].duplicated(keep="first")
    if dup.any():
        pos = int(np.flatnonzero(dup.to_numpy())[0])
        item = frame["item_id"].iloc[pos]
        first = int(np.flatnonzero((frame["item_id"] == item).to_numpy())[0])
        raise InputError(f"duplicate item_id {item!r} (first seen in row {_row_of(frame, first)}); item ids must "
                         "be unique", file=_where(frame), row=_row_of(frame, pos), column="item_id")
    if "user_id" in frame.columns:
        frame["user_id"] = _key_column(frame, "user_id", required=False)
    return frame


def check_label_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a labels table's columns and keys (labels themselves are checked against the task later)."""
    if "label" not in frame.columns and "score" in frame.columns:
        frame = frame.assign(label=None)
    _require_columns(frame, ("item_id", "judge", "label"), "labels")
    frame = frame.copy()
    frame["item_id"] = _key_column(frame, "item_id", required=True)
    frame["judge"] = _key_column(frame, "judge", required=True)
    frame["rater"] = _key_column(frame, "rater", required=False) if "rater" in frame.columns else None
    if "order" in frame.columns:
        orders = _key_column(frame, "order", required=False)
        bad = orders.notna() & ~orders.isin(ORDERS)
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"has {orders.iloc[pos]!r}; expected 'ab', 'ba' or empty", file=_where(frame),
                             row=_row_of(frame, pos), column="order")
        frame["order"] = orders
    else:
        frame["order"] = None
    if "score" in frame.columns:
        raw_scores = frame["score"]
        kind = pd.api.types.infer_dtype(raw_scores, skipna=True)
        numbers = pd.to_numeric(raw_scores.where(raw_scores.astype("string").str.strip() != "", None)
                                if kind in ("string", "mixed") else raw_scores, errors="coerce")
        numbers = numbers.to_numpy(dtype=float, na_value=np.nan)
        given = ~raw_scores.isna().to_numpy() & (raw_scores.astype("string").str.strip() != "").fillna(False).to_numpy()
        bad = given & ~np.isfinite(numbers)
        if kind not in ("string", "floating", "integer", "empty"):  # e.g. True among numbers: not a score
            bad |= raw_scores.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(f"has {raw_scores.iloc[pos]!r}; expected a finite number or empty", file=_where(frame),
                             row=_row_of(frame, pos), column="score")
        frame["score"] = numbers
    else:
        frame["score"] = np.nan
    for column in ("raw", "exclusion"):
        if column not in frame.columns:
            frame[column] = None
    return frame


def split_combined(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One table holding item columns and label columns: the items are the distinct item rows.

    An item column whose value differs between two rows of the same item is bad input.
    """
    item_cols = [c for c in frame.columns if c in ITEM_COLUMNS_KNOWN]
    frame = frame.copy()
    frame["item_id"] = _key_column(frame, "item_id", required=True)
    items = frame[item_cols + [ROW]].drop_duplicates(subset=item_cols, keep="first")
    dup = items["item_id"].duplicated(keep=False)
    if dup.any():
        item = items.loc[dup, "item_id"].iloc[0]
        rows = items.loc[items["item_id"] == item]
        differing = [c for c in item_cols if rows[c].nunique(dropna=False) > 1]
        raise InputError(f"item {item!r} has different {differing[0]!r} values in rows "
                         f"{', '.join(map(str, rows[ROW].tolist()[:3]))}; a combined table must repeat item "
                         "columns identically", file=_where(frame), row=int(rows[ROW].iloc[1]), column=differing[0])
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

    @property
    def judges(self) -> list[str]:
        ref = self.config.reference
        return [j for j in dict.fromkeys(self.raw_labels["judge"].tolist()) if j != ref]


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
        fast = _fast_text(series)
        if fast is not None:
            if kind in ("string", "empty"):  # "3.0" written by a float column: the integer 3
                as_text = fast.astype("string")
                integral = as_text.str.fullmatch(r"-?\d+\.0+").fillna(False).to_numpy(dtype=bool)
                if integral.any():
                    fast = fast.copy()
                    fast[integral] = as_text[integral].str.replace(r"\.0+$", "", regex=True).astype(object)
            return fast
    out = []
    for pos, value in enumerate(series.tolist()):
        try:
            out.append(_normalise_label(value))
        except TypeError:
            raise InputError(f"holds a {type(value).__name__}; expected a single label", file=_where(labels),
                             row=_row_of(labels, pos), column="label") from None
    return pd.Series(out, index=labels.index, dtype=object)


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
    before = _label_texts(labels)
    texts = before.map(lambda t: aliases.get(t, t) if t is not None else None) if aliases else before
    present = texts.notna().to_numpy()
    is_unusable = (before.isin(unusable) | texts.isin(unusable)).to_numpy() & present
    if "exclusion" in labels.columns:
        declared = _fast_text(labels["exclusion"].astype(object).where(labels["exclusion"].notna(), None)
                              .astype("string"))
    else:
        declared = pd.Series([None] * len(labels), index=labels.index, dtype=object)
    excluded = np.full(len(labels), None, dtype=object)
    if task != "score":
        empty = ~present
        excluded[empty] = declared[empty].fillna("empty label").to_numpy(dtype=object)
    if is_unusable.any():
        excluded[is_unusable] = ("unusable label " + before[is_unusable].map(repr)).to_numpy(dtype=object)
    texts = texts.where(~is_unusable, None)
    labels = labels.copy()
    labels["label_text"] = texts.astype(object)

    if task == "categorical" and categories is None:
        categories = tuple(sorted(set(texts.dropna().tolist())))
    codes = np.full(len(labels), -1, dtype=np.int64)
    values = np.full(len(labels), np.nan)
    if task == "score":
        scores = labels["score"].to_numpy(dtype=float)
        from_label = pd.to_numeric(texts, errors="coerce").to_numpy(dtype=float)
        usable = np.array([e is None for e in excluded])
        bad = usable & ~np.isfinite(scores) & texts.notna().to_numpy() & ~np.isfinite(from_label)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InputError(f"has {labels['label'].iloc[pos]!r}; a score task needs a finite number in `score` "
                             "or `label`", file=where, row=_row_of(labels, pos), column="label")
        values = np.where(np.isfinite(scores), scores, from_label)
        values[~usable] = np.nan
        missing = usable & ~np.isfinite(values)
        excluded[missing] = declared[missing].fillna("empty score").to_numpy(dtype=object)
    else:
        codes = pd.Index(categories).get_indexer(texts.astype(object))
        unknown = (codes < 0) & texts.notna().to_numpy()
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
                file=where, row=_row_of(labels, pos), column="label")
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


def load(labels: str | Path | pd.DataFrame, items: str | Path | pd.DataFrame | None = None,
         config: AuditConfig | None = None) -> JudgmentTable:
    """Read, validate and canonicalise; raises :class:`InputError` on bad input."""
    config = (config or AuditConfig()).validated()
    config.require_task()
    label_frame = _as_frame(labels, "labels")
    if items is None:
        if any(c in label_frame.columns for c in ("response_a", "response_b", "response", "prompt", "user_id")):
            item_frame, label_frame = split_combined(label_frame)
        else:
            item_frame = None
    else:
        item_frame = _as_frame(items, "items")
    label_frame = check_label_columns(label_frame)
    if item_frame is None:
        ids = list(dict.fromkeys(label_frame["item_id"].tolist()))
        item_frame = pd.DataFrame({"item_id": ids})
        item_frame.attrs["path"] = "<items derived from labels>"
    item_frame = validate_items(item_frame)
    known = set(item_frame["item_id"])
    unknown = ~label_frame["item_id"].isin(known)
    if unknown.any():
        pos = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(f"names item {label_frame['item_id'].iloc[pos]!r}, which is not in the items table "
                         f"{item_frame.attrs.get('path')} ({int(unknown.sum())} label rows name unknown items)",
                         file=_where(label_frame), row=_row_of(label_frame, pos), column="item_id")
    label_frame, categories = canonicalise(label_frame, config)

    # clusters: user_id where given, else the item itself
    cluster_col = config.cluster
    if cluster_col in item_frame.columns:
        clusters = item_frame[cluster_col].where(item_frame[cluster_col].notna(), "item:" + item_frame["item_id"])
    else:
        clusters = "item:" + item_frame["item_id"]
    item_frame[CLUSTER] = clusters.astype(str)

    excluded = label_frame[label_frame["excluded"].notna()]
    exclusions = (excluded.groupby(["judge", "excluded"], sort=True).size().reset_index(name="count")
                  .rename(columns={"excluded": "reason"}))
    usable = label_frame[label_frame["excluded"].isna()].copy()
    if config.reference not in set(label_frame["judge"]):
        judges = ", ".join(sorted(set(label_frame["judge"]))[:10])
        raise InputError(f"has no labels from the reference judge {config.reference!r}; judges found: {judges}. "
                         "Pass --reference to name another one.", file=_where(label_frame), column="judge")
    return JudgmentTable(config=config, items=item_frame, labels=usable, categories=categories,
                         exclusions=exclusions, raw_labels=label_frame)
