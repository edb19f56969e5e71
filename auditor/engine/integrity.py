"""Data-integrity warnings: problems in the data that do not stop an audit but can silently distort it.

:func:`integrity_warnings` looks at a loaded :class:`~auditor.data.JudgmentTable` and the aggregated verdicts of the
reference and of every judge, and returns one ``{"code", "message", "count"}`` per problem found (``count`` > 0,
the number of items, rows, raters or judges affected, as the message says).  Pure: no I/O, no printing.

Codes, and what each one flags:

``duplicate_items``
    items whose content (user, profile, prompt and responses, as far as given) repeats another item's under a
    different ``item_id``.
``identical_responses``
    pairwise items whose ``response_a`` and ``response_b`` are the same text: a judge can only call them a tie.
``shifted_responses``
    the same response text (at least :data:`MIN_SHARED_TEXT` characters) under different prompts; a data pipeline
    that shifted one column by a row looks exactly like this.
``duplicate_labels``
    label rows that repeat an (item, judge, rater, order) already seen.
``constant_rater``
    a reference rater who gives the same label on every one of at least :data:`MIN_ITEMS_CONSTANT` items.
``single_item_raters``
    reference raters who labelled only one item.
``fewer_raters``
    items with fewer reference labels than the usual (modal) number per item.
``constant_judge``
    a judge (or the reference) whose aggregated verdicts are one label on all of at least
    :data:`MIN_ITEMS_CONSTANT` items: its kappa is meaningless.
``mismatch_ties``
    a judge's tie rate on items whose responses share no content word with their prompt is at least
    :data:`MISMATCH_TIE_RATE` and :data:`MISMATCH_TIE_EXCESS` above its tie rate on the other items (the responses
    may belong to other prompts).
``no_judges``
    the labels hold the reference judge only: the audit can only report the agreement among its raters.
``unclustered``
    no cluster column (``user_id`` by default): intervals treat every item as independent.
``items_without_reference``
    items without a reference label: judges are compared on the others (given by the core step).

``no_judges``, ``unclustered``, ``items_without_reference`` and the two below need no pass over the rows: the
out-of-core engine gives them too, made by the same functions from its counts and rows
(:data:`auditor.engine.outofcore.WARNINGS`).  Every other check reads the label rows or item texts: the label checks
(``duplicate_labels`` and the rater checks) work on integer codes of the key columns only, the loader's or, for a
column it could not code, one factorisation of it (:func:`_key_codes`); the texts only name raters and items.

And, from the metric rows (:func:`interval_reliability`, which also takes the intervals off rows on one cluster):

``single_cluster``
    metric rows computed on one cluster: a cluster bootstrap cannot resample it (every resample is the data itself,
    so the interval would have zero width); these rows keep their value and lose their interval and p-value.
``few_clusters``
    metric rows whose interval rests on fewer than :data:`MIN_CLUSTERS` clusters: unreliable (the reports mark
    each such row).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.contract import MIN_CLUSTERS
from auditor.suggest import did_you_mean

if TYPE_CHECKING:
    from auditor.data import JudgmentTable

MIN_ITEMS_CONSTANT = 10
"""A judge or rater is called constant only with at least this many items (fewer could be chance)."""
MIN_SHARED_TEXT = 20
"""Shorter response texts ("Yes.", "I cannot help with that.") may repeat legitimately across prompts."""
MIN_MISMATCHED_ITEMS = 5
MISMATCH_TIE_RATE = 0.5
MISMATCH_TIE_EXCESS = 0.2
EXAMPLES = 5
BITMAP_BYTES_PER_ROW = 16
"""The largest bitmap, in bytes per label row, that the repeated-label check may use before it hashes every row."""
CONTENT_COLUMNS = ("user_id", "profile", "prompt", "response_a", "response_b", "response")
"""What makes an item: the same prompt and responses for another user (or profile) is another item."""

_WORD = re.compile(r"[^\W\d_]{4,}", re.UNICODE)
_STOPWORDS = frozenset(
    "about above after again against also been before being below between both could does doing down during each "
    "from further have having here into itself just more most myself only other ought over same should some such "
    "than that their theirs them then there these they this those through under until very what when where which "
    "while whom will with would your yours yourself please help want need like make know".split()
)


class SideLike(Protocol):
    """An aggregated verdict per item (see :class:`auditor.engine.context.Side`): ``code`` -1 = none, ``value`` NaN = none."""

    code: np.ndarray
    value: np.ndarray
    has: np.ndarray


def _warning(code: str, count: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "count": int(count)}


def _examples(values: Any) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(repr(v) for v in values[:EXAMPLES])
    return shown + (", ..." if len(values) > EXAMPLES else "")


def _text_column(items: pd.DataFrame, column: str) -> pd.Series:
    """A text column stripped, with missing and blank values as None."""
    out = []
    for value in items[column].tolist():
        missing = value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))
        text = None if missing else str(value).strip()
        out.append(text or None)
    return pd.Series(out, index=items.index, dtype=object)


#: The items' text columns as :func:`_text_column` cleans them, shared by the item checks of one audit
#: (:class:`_ItemTexts`; each check makes the ones it reads when called alone)
ItemTexts = Mapping[str, pd.Series]


class _ItemTexts(Mapping[str, pd.Series]):
    """The items' text columns (:data:`CONTENT_COLUMNS` present in ``items``), each cleaned by :func:`_text_column`
    when a check first reads it, then kept: a column no check reads (``user_id`` when the items have no response
    column) is never cleaned (a pass in Python over every item)."""

    def __init__(self, items: pd.DataFrame) -> None:
        self._items = items
        self._columns = [c for c in CONTENT_COLUMNS if c in items.columns]
        self._made: dict[str, pd.Series] = {}

    def __getitem__(self, column: str) -> pd.Series:
        if column not in self._columns:
            raise KeyError(column)
        if column not in self._made:
            self._made[column] = _text_column(self._items, column)
        return self._made[column]

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)


def _texts(items: pd.DataFrame, texts: ItemTexts | None, column: str) -> pd.Series:
    return texts[column] if texts is not None and column in texts else _text_column(items, column)


def _content_words(text: str | None) -> set[str]:
    if not text:
        return set()
    return {match.lower() for match in _WORD.findall(text)} - _STOPWORDS


def _response_columns(items: pd.DataFrame) -> list[str]:
    return [c for c in ("response_a", "response_b", "response") if c in items.columns]


# -- items --------------------------------------------------------------------------------------------------------
def duplicate_items(items: pd.DataFrame, texts: ItemTexts | None = None) -> list[dict[str, Any]]:
    """Items whose responses, prompt, user and profile (where given) repeat another item's exactly.

    Only items with at least one response are compared: a prompt alone does not identify an item."""
    content = [c for c in CONTENT_COLUMNS if c in items.columns]
    responses = _response_columns(items)
    if not responses:  # a prompt alone does not identify an item (one conversation can hold several)
        return []
    frame = pd.DataFrame(
        {c: _texts(items, texts, c) for c in content}, dtype=object
    )  # no conversion to Arrow
    filled = frame[responses].notna().any(axis=1)
    repeated = frame.fillna("\x00").duplicated(keep="first") & filled
    if not repeated.any():
        return []
    ids = items["item_id"][repeated].tolist()
    return [
        _warning(
            "duplicate_items",
            len(ids),
            f"{len(ids)} items repeat the {', '.join(content)} of an earlier "
            f"item under another item_id ({_examples(ids)}); each is counted as a separate item",
        )
    ]


def identical_responses(items: pd.DataFrame, texts: ItemTexts | None = None) -> list[dict[str, Any]]:
    """Pairwise items whose two responses are the same text."""
    if not {"response_a", "response_b"} <= set(items.columns):
        return []
    a, b = _texts(items, texts, "response_a"), _texts(items, texts, "response_b")
    same = (a == b) & a.notna()
    if not same.any():
        return []
    ids = items["item_id"][same].tolist()
    return [
        _warning(
            "identical_responses",
            len(ids),
            f"{len(ids)} items have identical response_a and "
            f"response_b ({_examples(ids)}): a judge can only call them a tie",
        )
    ]


def shifted_responses(items: pd.DataFrame, texts: ItemTexts | None = None) -> list[dict[str, Any]]:
    """The same response text under different prompts (in any response column): a shifted-rows bug."""
    if "prompt" not in items.columns:
        return []
    prompts = _texts(items, texts, "prompt").to_numpy()
    has_prompt = np.array([p is not None for p in prompts], dtype=bool)
    ids, prompt_of, text_of = [], [], []  # per (response column, item) with a long enough text and a prompt
    for column in _response_columns(items):
        text = _texts(items, texts, column).to_numpy()
        ok = has_prompt & np.array([t is not None and len(t) >= MIN_SHARED_TEXT for t in text], dtype=bool)
        ids.append(items["item_id"].to_numpy()[ok])
        prompt_of.append(prompts[ok])
        text_of.append(text[ok])
    if not ids or not sum(len(i) for i in ids):
        return []
    text_code, texts = pd.factorize(np.concatenate(text_of))
    prompt_code, distinct_prompts = pd.factorize(np.concatenate(prompt_of))
    n_prompts = len(distinct_prompts)
    pairs = _distinct(text_code * n_prompts + prompt_code, len(texts) * n_prompts)
    shared = np.bincount(pairs // n_prompts, minlength=len(texts)) > 1  # per text: under 2+ prompts
    if not shared.any():
        return []
    ids = list(dict.fromkeys(np.concatenate(ids)[shared[text_code]].tolist()))
    return [
        _warning(
            "shifted_responses",
            len(ids),
            f"{int(shared.sum())} response texts appear under different prompts, "
            f"in {len(ids)} items ({_examples(ids)}); check that responses were not shifted against "
            "their prompts",
        )
    ]


def items_without_reference(count: int, reference: str) -> list[dict[str, Any]]:
    """The ``items_without_reference`` warning for ``count`` items without a ``reference`` label (none for 0): the
    one wording of both engines (the in-memory core step counts the items, the out-of-core engine its sums)."""
    if not count:
        return []
    return [
        _warning(
            "items_without_reference",
            count,
            f"{count} items have no {reference} label; judges are compared on the items that do",
        )
    ]


def reference_exclusions(reference: str, no_majority: int) -> list[dict[str, Any]]:
    """The exclusion of the ``reference``'s items whose labels have no majority (none for 0): the one wording of both
    engines, as :func:`judge_exclusions`."""
    if not no_majority:
        return []
    return [{"judge": reference, "reason": "no majority among the reference labels", "count": no_majority}]


def judge_exclusions(judge: str, no_majority: int, without_reference: int) -> list[dict[str, Any]]:
    """The exclusions of one ``judge``'s items: those whose labels have no majority, and those usable but without a
    reference label (each left out for 0): the one wording of both engines."""
    reasons = (
        ("no majority among the judge's labels", no_majority),
        ("no reference label for the item", without_reference),
    )
    return [{"judge": judge, "reason": reason, "count": count} for reason, count in reasons if count]


def unclustered(columns: Sequence[str], n_items: int, config: AuditConfig) -> list[dict[str, Any]]:
    """The ``unclustered`` warning when the items' ``columns`` lack the cluster column (the close matches named);
    ``n_items``: how many items there are.  Both engines' (the out-of-core engine has the columns, not the items)."""
    if config.cluster in columns:
        return []
    like = did_you_mean(config.cluster, [str(c) for c in columns if not str(c).startswith("__")])
    return [
        _warning(
            "unclustered",
            n_items,
            f"no {config.cluster} column{like}: every item is its own cluster, so "
            "intervals assume independent items",
        )
    ]


def no_judges(judges: Sequence[str], reference: str) -> list[dict[str, Any]]:
    """The ``no_judges`` warning when ``judges`` (every judge but the reference) is empty.  Both engines'."""
    if judges:
        return []
    return [
        _warning(
            "no_judges",
            1,
            f"the labels hold only the reference judge {reference!r}: there "
            "is no judge to audit, only the agreement among its raters",
        )
    ]


def interval_reliability(metrics: pd.DataFrame, cluster: str) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The metric rows without the interval and p-value of rows on one cluster, and the ``single_cluster`` and
    ``few_clusters`` warnings (see the module docstring); ``cluster`` names the cluster column for the messages."""
    clusters = pd.to_numeric(metrics["n_clusters"], errors="coerce")
    uncertain = ["ci_low", "ci_high", "p_value"]
    with_value = metrics["value"].notna() & clusters.notna()
    has_interval = metrics[uncertain].notna().any(axis=1)
    found = []
    one = (with_value & (clusters <= 1) & has_interval).to_numpy(dtype=bool)
    if one.any():
        metrics = metrics.copy()
        metrics.loc[one, uncertain] = np.nan
        found.append(
            _warning(
                "single_cluster",
                int(one.sum()),
                f"{int(one.sum())} metric rows rest on a single cluster ({cluster}): a cluster bootstrap cannot "
                "estimate their uncertainty, so they have no interval and no p-value (a gate on their interval "
                "cannot be evaluated)",
            )
        )
    few = with_value & (clusters > 1) & (clusters < MIN_CLUSTERS) & metrics["ci_low"].notna()
    if few.any():
        fewest = int(clusters[few].min())
        found.append(
            _warning(
                "few_clusters",
                int(few.sum()),
                f"{int(few.sum())} metric rows have an interval resting on fewer than {MIN_CLUSTERS} clusters "
                f"({cluster}; as few as {fewest}): those intervals are unreliable",
            )
        )
    return metrics, found


# -- labels -------------------------------------------------------------------------------------------------------
#: One column's codes: each row's code (-1: missing) and the distinct values (code ``k`` is ``texts[k]``)
Codes = tuple[np.ndarray, np.ndarray]


def _key_codes(
    frame: pd.DataFrame, columns: Sequence[str], codes: Mapping[str, Codes] | None
) -> dict[str, Codes]:
    """The codes of ``columns`` of ``frame``: the loader's where it kept them
    (:meth:`~auditor.data.JudgmentTable.key_codes`), else one factorisation of the column (a column it could not
    code, a table built without the loader): equal values, equal codes; a missing value -1, as the loader's.  The
    label checks below work on these codes only, whichever gave them; the texts only name raters and items."""
    out = {}
    for column in columns:
        if codes is not None and column in codes:
            out[column] = codes[column]
        else:
            code, texts = pd.factorize(frame[column], use_na_sentinel=True)
            out[column] = (code, np.asarray(texts, dtype=object))
    return out


def duplicate_labels(
    raw_labels: pd.DataFrame, codes: Mapping[str, Codes] | None = None
) -> list[dict[str, Any]]:
    """Label rows repeating an (item, judge, rater, order) already seen (rows with a rater id only).

    ``codes``: the loader's codes of those columns (:meth:`~auditor.data.JudgmentTable.key_codes`); a column
    without them is coded here (:func:`_key_codes`)."""
    if "rater" not in raw_labels.columns:
        return []
    keys = [c for c in ("item_id", "judge", "rater", "order") if c in raw_labels.columns]
    coded = _key_codes(raw_labels, keys, codes)
    rated = coded["rater"][0] >= 0
    every = bool(rated.all())  # then no copy of the columns' rows
    if not every and not rated.any():
        return []
    columns = [coded[c][0] if every else coded[c][0][rated] for c in keys]
    repeated = _repeated(columns, [len(coded[c][1]) for c in keys])
    if every:
        dup = repeated
    else:
        dup = np.zeros(len(raw_labels), dtype=bool)
        dup[np.flatnonzero(rated)[repeated]] = True
    count = int(dup.sum())
    if not count:
        return []
    ids = raw_labels["item_id"].to_numpy()[dup].tolist()
    return [
        _warning(
            "duplicate_labels",
            count,
            f"{count} label rows repeat an (item, judge, "
            f"rater, order) already seen (items {_examples(dict.fromkeys(ids))}); each counts as a separate "
            "verdict",
        )
    ]


def _repeated(columns: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """Per row: whether its codes (one array per column, -1 .. size - 1) repeat an earlier row's.

    Where the combinations of codes fit a bitmap (:func:`_bitmap`), it answers "none" (the usual answer) without
    hashing every row; otherwise, or when some combination repeats, pandas' hash ``duplicated`` on one int64 key
    per row finds the repeats."""
    key = _row_keys(columns, sizes)
    present = _bitmap(key, math.prod(size + 1 for size in sizes))
    if present is not None and np.count_nonzero(present) == len(key):  # as many combinations as rows
        return np.zeros(len(key), dtype=bool)
    return pd.Series(key).duplicated(keep="first").to_numpy()


def _bitmap(key: np.ndarray, combinations: int) -> np.ndarray | None:
    """Which of the integers 0 .. ``combinations`` - 1 occur in ``key``, one bool each; None where that takes
    more than :data:`BITMAP_BYTES_PER_ROW` bytes per key (then the callers hash the keys instead)."""
    if combinations > BITMAP_BYTES_PER_ROW * len(key) + 2**16:
        return None
    present = np.zeros(combinations, dtype=bool)
    present[key] = True
    return present


def _distinct(key: np.ndarray, combinations: int) -> np.ndarray:
    """The distinct values of ``key`` (integers 0 .. ``combinations`` - 1), in no particular order."""
    present = _bitmap(key, combinations)
    return pd.unique(key) if present is None else np.flatnonzero(present)


def _row_keys(columns: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """One int64 per row, equal exactly where every column's code (-1 .. size - 1) is equal: the mixed-radix
    number of the codes + 1, worked out in one array (no temporary per column: each is 80 MB at 10M rows)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for code, size in zip(columns, sizes, strict=True):
        if span * (size + 1) >= 2**62:  # renumber the combinations seen so far before they could overflow
            key, seen = pd.factorize(key)
            key = key.astype(np.int64, copy=False)
            span = len(seen)
        key *= size + 1
        key += code
        key += 1
        span *= size + 1
    return key


def _sorted_texts(texts: np.ndarray, codes: np.ndarray) -> list[str]:
    """The texts of ``codes``, sorted as a group-by on the text column sorts its groups."""
    return sorted(texts[codes].tolist())


def _constant_label(value: Any, task: str, categories: Sequence[str] | None) -> str:
    """A constant rater's one label as the message shows it: a score as a plain number (``2.0``, never numpy's
    ``np.float64(2.0)``), a category by its quoted name."""
    if task == "score" or not categories:
        return repr(float(value)) if task == "score" else repr(int(value))
    return repr(categories[int(value)])


def rater_warnings(
    labels: pd.DataFrame,
    reference: str,
    categories: tuple[str, ...] | None,
    task: str,
    codes: Mapping[str, Codes] | None = None,
) -> list[dict[str, Any]]:
    """Constant raters, raters with one item, and items with fewer reference labels than usual.

    On the codes of the key columns (``codes``: the loader's, see :func:`duplicate_labels`; :func:`_key_codes`
    codes the others): counts by ``bincount`` and distinct pairs by one combined int64 key, never a group-by on
    text; the examples sorted by their text (raters, items)."""
    codes = _key_codes(labels, ("item_id", "judge", "rater"), codes)
    judge_code, judge_texts = codes["judge"]
    item_code, item_texts = codes["item_id"]
    rater_code, rater_texts = codes["rater"]
    found = np.flatnonzero(judge_texts == reference)
    ref = np.flatnonzero(judge_code == found[0]) if found.size else np.zeros(0, dtype=np.int64)
    out: list[dict[str, Any]] = []
    if not ref.size:
        return out
    items, raters = item_code[ref], rater_code[ref].astype(np.int64)  # int64: raters x items can pass 2**31
    n_items, n_raters = len(item_texts), len(rater_texts)
    rated = raters >= 0
    if rated.any():
        r, i = raters[rated], items[rated]
        per_rater = np.bincount(_distinct(r * n_items + i, n_raters * n_items) // n_items, minlength=n_raters)
        lonely = np.flatnonzero(per_rater == 1)
        if lonely.size:
            out.append(
                _warning(
                    "single_item_raters",
                    lonely.size,
                    f"{lonely.size} {reference} raters labelled only one item "
                    f"({_examples(_sorted_texts(rater_texts, lonely))})",
                )
            )
        if task == "score":
            values = labels["value"].to_numpy(dtype=float)[ref][rated]
            usable = ~np.isnan(values)
        else:
            values = labels["code"].to_numpy(dtype=np.int64)[ref][rated]
            usable = values >= 0
        r, i, values = r[usable], i[usable], values[usable]
        value_code, distinct = pd.factorize(values)
        n_values = max(len(distinct), 1)
        spread = np.bincount(
            _distinct(r * n_values + value_code, n_raters * n_values) // n_values, minlength=n_raters
        )
        count = np.bincount(_distinct(r * n_items + i, n_raters * n_items) // n_items, minlength=n_raters)
        constant = np.flatnonzero((spread == 1) & (count >= MIN_ITEMS_CONSTANT))
        if constant.size:
            present, first_row = np.unique(r, return_index=True)
            first = dict(zip(present.tolist(), values[first_row].tolist(), strict=True))
            shown = []
            for code in sorted(constant.tolist(), key=lambda c: rater_texts[c])[:EXAMPLES]:
                shown.append(f"{rater_texts[code]!r} always {_constant_label(first[code], task, categories)}")
            out.append(
                _warning(
                    "constant_rater",
                    constant.size,
                    f"{constant.size} {reference} raters give the same "
                    f"label on every item they rated ({', '.join(shown)}): check for a default value or a "
                    "broken annotation form",
                )
            )
    per_item = np.bincount(items, minlength=n_items)
    given = per_item[per_item > 0]
    if given.size and given.max() > 1:
        counts, times = np.unique(given, return_counts=True)
        modal = int(counts[times == times.max()].max())
        fewer = np.flatnonzero((per_item > 0) & (per_item < modal))
        if fewer.size:
            out.append(
                _warning(
                    "fewer_raters",
                    fewer.size,
                    f"{fewer.size} items have fewer {reference} labels than "
                    f"the usual {modal} ({_examples(_sorted_texts(item_texts, fewer))})",
                )
            )
    return out


# -- verdicts -----------------------------------------------------------------------------------------------------
def constant_judges(
    sides: Mapping[str, SideLike], categories: tuple[str, ...] | None
) -> list[dict[str, Any]]:
    """Judges whose aggregated verdicts are all one label (categorical tasks)."""
    if not categories:
        return []
    out = []
    for judge, side in sides.items():
        codes = side.code[side.code >= 0]
        if codes.size >= MIN_ITEMS_CONSTANT and codes.min() == codes.max():  # one distinct label
            out.append(
                _warning(
                    "constant_judge",
                    codes.size,
                    f"judge {judge!r} gives the same label "
                    f"{categories[int(codes[0])]!r} on all {codes.size} items; its kappa is meaningless",
                )
            )
    return out


def mismatched_items(items: pd.DataFrame, texts: ItemTexts | None = None) -> np.ndarray:
    """Items whose responses share no content word (4+ letters, not a stop word) with a prompt that has 3+ of them."""
    responses = _response_columns(items)
    if "prompt" not in items.columns or not responses:
        return np.zeros(len(items), dtype=bool)
    prompts = _texts(items, texts, "prompt").tolist()
    answers = [_texts(items, texts, c).tolist() for c in responses]
    out = np.zeros(len(items), dtype=bool)
    for i, prompt in enumerate(prompts):
        words = _content_words(prompt)
        if len(words) >= 3:
            out[i] = _shares_no_word(words, [answer[i] for answer in answers])
    return out


def _shares_no_word(words: set[str], responses: list[str | None]) -> bool:
    """Whether some response has a content word and none has one of ``words`` (content words).  The responses
    are read only as far as needed: the first shared word ends the search (most responses share one early)."""
    has_words = False
    for text in responses:
        for match in _WORD.finditer(text or ""):
            word = match.group().lower()
            if word in words:
                return False
            has_words = has_words or word not in _STOPWORDS
    return has_words


def mismatch_ties(
    items: pd.DataFrame, sides: Mapping[str, SideLike], tie_code: int | None, texts: ItemTexts | None = None
) -> list[dict[str, Any]]:
    """A judge that calls ties far more often on items whose responses do not match their prompt."""
    if tie_code is None:
        return []
    off = mismatched_items(items, texts)
    if off.sum() < MIN_MISMATCHED_ITEMS:
        return []
    out = []
    for judge, side in sides.items():
        usable = side.code >= 0
        on_off, on_rest = usable & off, usable & ~off
        if on_off.sum() < MIN_MISMATCHED_ITEMS:
            continue
        tie_off = float(np.mean(side.code[on_off] == tie_code))
        tie_rest = float(np.mean(side.code[on_rest] == tie_code)) if on_rest.any() else 0.0
        if tie_off >= MISMATCH_TIE_RATE and tie_off - tie_rest >= MISMATCH_TIE_EXCESS:
            out.append(
                _warning(
                    "mismatch_ties",
                    int(on_off.sum()),
                    f"judge {judge!r} calls {tie_off:.0%} of the "
                    f"{int(on_off.sum())} items whose responses share no word with their prompt a tie "
                    f"({tie_rest:.0%} elsewhere): the responses may belong to other prompts",
                )
            )
    return out


def _tie_code(task: str, categories: tuple[str, ...] | None, config: AuditConfig) -> int | None:
    if task == "pairwise" and categories and "tie" in categories:
        return categories.index("tie")
    if task == "likert":
        return config.scale.neutral - config.scale.min
    return None


def integrity_warnings(
    table: JudgmentTable, sides: Mapping[str, SideLike], ref: SideLike | None, config: AuditConfig
) -> list[dict[str, Any]]:
    """Every data-integrity warning for one audit, each ``{"code", "message", "count"}``.

    ``table`` is the :class:`~auditor.data.JudgmentTable`; ``sides`` maps each judge to its aggregated verdicts and
    ``ref`` holds the reference's (either may be empty / None, e.g. in a table without judges).
    """
    items, labels, raw = table.items, table.labels, table.raw_labels
    task = config.require_task()
    categories = table.categories
    everyone: dict[str, SideLike] = dict(sides)
    if ref is not None:
        everyone = {config.reference: ref, **everyone}
    found = no_judges(list(sides), config.reference)
    texts = _ItemTexts(items)
    found += duplicate_items(items, texts)
    found += identical_responses(items, texts)
    found += shifted_responses(items, texts)
    found += duplicate_labels(raw, table.key_codes())
    found += rater_warnings(labels, config.reference, categories, task, table.key_codes("labels"))
    found += constant_judges(everyone, categories)
    found += mismatch_ties(items, everyone, _tie_code(task, categories, config), texts)
    found += unclustered(items.columns, len(items), config)
    return found


__all__ = [
    "integrity_warnings",
    "interval_reliability",
    "mismatched_items",
    "MIN_CLUSTERS",
    "MIN_ITEMS_CONSTANT",
    "MIN_SHARED_TEXT",
]
