"""The cases behind the gaps: the data of the HTML report's case browser and the examples a Markdown report lists.

Each case is an item of the audit's ``cases`` section (prompt, profile, responses, every verdict and raw output,
the judges that disagree with the reference, how and how far).  :func:`case_browser` turns them into ONE JSON
document that the page embeds (``<script type="application/json">``) and its own script renders: one compact row
per item (the reference's verdict, each judge's verdict, the disagreement) that expands to the texts and verdicts.

Order: the audit's ranking (largest distance first, then more disagreeing judges, then a judge calling b better
where the reference finds it no better; :mod:`auditor.engine.cases`); an older file without distances is ranked
by the last two.  Size: at most ``MAX_CASES`` cases, each text capped at ``MAX_TEXT_CHARS`` (raw outputs at
``MAX_RAW_CHARS``), texts that repeat (a user's profile) stored once, and all of it within ``budget`` bytes of
JSON (the HTML page gives it what its other parts leave of ``PAGE_BUDGET_BYTES``); the page says how many cases
exist, how many it holds and why.  A raw output is kept only where it adds to the verdict (not ``"3"`` for the
label 3, nor ``"-0.612001"`` for the score -0.612).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auditor.contract import split_variant
from reports.format import as_float, as_int, fmt_number
from reports.view import AuditView

DISAGREEMENT_LABELS: dict[str, str] = {
    "judge_better_reference_no_better": "judge: b better · reference: no better",
    "judge_no_better_reference_better": "judge: no better · reference: b better",
    "other": "other disagreement",
}
KEY_DISAGREEMENT = "judge_better_reference_no_better"
#: The colour class of each disagreement kind's cells (any other kind: ``v-other``).
KIND_CLASSES = {KEY_DISAGREEMENT: "v-key", "judge_no_better_reference_better": "v-rev"}
MAX_CASES = 500
MAX_TEXT_CHARS = 4_000
MAX_RAW_CHARS = 3_000
CASE_BUDGET_BYTES = 450_000  # bytes of the embedded JSON document at most (the page may give it less)
MAX_VERDICTS = 60  # verdict rows per case (a judge sampled many times can have hundreds)
MAX_REFERENCE_LABELS = 25
PAGE_SIZE = 25  # rows per page of the browser
TEXT_FIELDS = (
    ("prompt", "Prompt"),
    ("profile", "Profile"),
    ("response_a", "Response a"),
    ("response_b", "Response b"),
    ("response", "Response"),
)
EXTRA_SLICES = ("source", "stage")  # item columns the audit saves beside the texts, filterable like slices


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _seq(value: Any) -> list[Any]:
    """A list for a list or tuple; anything else (null, a string, a number, a dict) counts as empty."""
    return list(value) if isinstance(value, (list, tuple)) else []


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _clip(text: str, limit: int) -> tuple[str, int]:
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def distance_text(value: Any) -> str:
    """A distance as the page shows it: whole scale steps as ``2``, score units with 3 decimals; ``""`` if none."""
    number = as_float(value)
    if number is None:
        return ""
    return str(int(number)) if number.is_integer() else fmt_number(number)


def _kind_label(kind: str) -> str:
    return DISAGREEMENT_LABELS.get(kind, kind.replace("_", " "))


def column_label(judge: str) -> tuple[str, str]:
    """A judge column's header as (main line, small line): a variant ``gpt-4o|persona=removed`` reads
    ``removed`` over ``persona``, the part that tells the variants apart; a plain name is its own main line."""
    _, key, value = split_variant(judge)
    return (value, key) if key else (judge, "")


def raw_adds(raw: Any, label: Any, score: Any) -> bool:
    """Whether a raw output says more than its verdict: not empty, not the label again (case and spaces aside),
    not the label's or the score's number again (to 6 digits)."""
    text = _str(raw).strip()
    if not text or text.casefold() == _str(label).strip().casefold():
        return False
    try:
        number = float(text)
    except ValueError:
        return True
    same = [as_float(label), as_float(score)]
    return not any(x is not None and math.isclose(number, x, rel_tol=1e-5, abs_tol=1e-6) for x in same)


def _rank(index: int, item: Mapping[str, Any]) -> tuple[float, int, bool, int]:
    """The browser's ranking key (smallest first): larger distance, more disagreeing judges, a key disagreement."""
    rows = [d for d in _seq(item.get("disagreements")) if isinstance(d, Mapping)]
    distance = as_float(item.get("distance")) or 0.0
    key = any(d.get("type") == KEY_DISAGREEMENT for d in rows)
    return (-distance, -len({_str(d.get("judge")) for d in rows}), not key, index)


@dataclass
class CaseBrowser:
    """What the page's case browser shows: ``data`` is the embedded JSON document (see :func:`case_browser`)."""

    data: dict[str, Any]
    total: int | None
    supplied: int
    sampled_by_core: bool
    note: str
    capped_note: str
    judges: list[str]
    columns: list[tuple[str, str, str]]  # (judge, main line, small line) of each judge column's header
    users: list[str]
    types: list[tuple[str, str, str]]  # (key, label, colour class) of each disagreement kind
    slices: dict[str, list[str]]
    counts: list[tuple[str, str, int]]  # (judge, type label, number of cases held)

    @property
    def cases(self) -> list[dict[str, Any]]:
        return self.data["cases"]

    @property
    def json(self) -> str:
        """``data`` as the page embeds it (:func:`embedded_json`: no ``<``, ``>`` or ``&`` in it)."""
        return embedded_json(self.data)

    def __bool__(self) -> bool:
        return bool(self.cases or self.total)


class _Texts:
    """A table of distinct texts: each case refers to its prompt, profile and responses by index."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, text: str) -> tuple[int, int]:
        """The index of ``text`` and the characters it adds to the document (0 when it is already there)."""
        if text in self.index:
            return self.index[text], 0
        self.index[text] = len(self.texts)
        self.texts.append(text)
        return self.index[text], _size(text) + 1

    def truncate(self, n: int) -> None:
        """Forget every text after the first ``n``."""
        for text in self.texts[n:]:
            del self.index[text]
        del self.texts[n:]


def _cells(item: Mapping[str, Any], judges: list[str], kinds: dict[str, int]) -> list[list[Any] | None]:
    """Per judge column: ``[label, kind, distance]`` where it disagrees, ``[label]`` where it agrees (its aggregated
    verdict, or its verdicts' labels joined by ``/`` in a file without ``judge_labels``), null where it has none."""
    disagreeing = {}
    for d in _seq(item.get("disagreements")):
        if isinstance(d, Mapping):
            kind = _str(d.get("type")) or "other"
            disagreeing[_str(d.get("judge"))] = [
                _str(d.get("judge_label")),
                kinds.setdefault(kind, len(kinds)),
                distance_text(d.get("distance")),
            ]
    aggregated = _map(item.get("judge_labels"))
    labels: dict[str, list[str]] = {}
    for row in _seq(item.get("verdicts")):
        if isinstance(row, Mapping) and row.get("label") not in (None, "") and not row.get("excluded"):
            seen = labels.setdefault(_str(row.get("judge")), [])
            if _str(row.get("label")) not in seen:
                seen.append(_str(row.get("label")))
    cells: list[list[Any] | None] = []
    for judge in judges:
        if judge in disagreeing:
            cells.append(disagreeing[judge])
        elif aggregated.get(judge) not in (None, ""):
            cells.append([_str(aggregated[judge])])
        elif judge in labels:
            cells.append(["/".join(labels[judge])])
        else:
            cells.append(None)
    return cells


def _verdicts(item: Mapping[str, Any], names: dict[str, int]) -> tuple[list[list[Any]], int]:
    """Verdict rows ``[judge, rater, label, order, score, raw, excluded]`` with the judge as its index in ``names``
    (a new name is added), raw ``""`` where it adds nothing and trailing empty fields left out; at most
    ``MAX_VERDICTS``; and how many raw characters were cut."""
    rows, cut = [], 0
    for row in [r for r in _seq(item.get("verdicts")) if isinstance(r, Mapping)][:MAX_VERDICTS]:
        score = as_float(row.get("score"))
        raw = ""
        if raw_adds(row.get("raw"), row.get("label"), score):
            raw, lost = _clip(_str(row.get("raw")), MAX_RAW_CHARS)
            cut += lost
        excluded = row.get("excluded") or row.get("exclusion")
        judge = _str(row.get("judge"))
        fields: list[Any] = [
            names.setdefault(judge, len(names)),
            _str(row.get("rater")),
            _str(row.get("label")),
            _str(row.get("order")),
            "" if score is None else fmt_number(score),
            raw,
            "" if excluded in (None, "", False) else _str(excluded),
        ]
        while fields[-1] == "":
            fields.pop()
        rows.append(fields)
    return rows, cut


def embedded_json(data: Any) -> str:
    """``data`` as compact JSON that is safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&``
    are written as ``\\u003c``, ``\\u003e``, ``\\u0026`` (``JSON.parse`` reads them back), so no value can close
    the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _size(value: Any) -> int:
    """Bytes of ``value`` as the page embeds it (:func:`embedded_json`, UTF-8)."""
    return len(embedded_json(value).encode("utf-8"))


def case_browser(v: AuditView, budget: int = CASE_BUDGET_BYTES) -> CaseBrowser:
    """The case browser's data: the ``cases`` document the page embeds and the lists its filters offer.

    The document, at most ``budget`` bytes: ``reference``; ``judges`` (the columns); ``names`` (the judges, then
    the reference, then any other name a verdict carries); ``kinds`` (``[key, label, colour class]`` of each
    disagreement kind); ``fields`` (``[key, label]`` of each text); ``slices`` (slice column names); ``texts``
    (distinct texts); ``page_size``; ``cases`` in ranking order, each ``{"rank", "item", "user", "ref", "distance", "n_disagree",
    "cells", "texts", "slices", "verdicts"}`` and, where they say something, ``"raters"`` (the reference's labels
    when they are not its verdicts' labels), ``"raters_total"``, ``"verdicts_total"`` and ``"cut"``.
    """
    supplied_items = [item for item in _seq(v.cases.get("items")) if isinstance(item, Mapping)]
    supplied = len(supplied_items)
    ranked = sorted(range(supplied), key=lambda i: _rank(i, supplied_items[i]))
    reasons = []
    if supplied > MAX_CASES:
        reasons.append(
            f"this report holds {MAX_CASES} of the {supplied:,} cases in the audit file, the largest "
            "disagreements first"
        )
    items = [supplied_items[i] for i in ranked[:MAX_CASES]]
    seen_judges = {
        _str(name)
        for item in items
        for name in (
            *(_str(r.get("judge")) for r in _seq(item.get("verdicts")) if isinstance(r, Mapping)),
            *(_str(d.get("judge")) for d in _seq(item.get("disagreements")) if isinstance(d, Mapping)),
            *_map(item.get("judge_labels")),
        )
    }
    seen_judges.discard(v.reference)
    seen_judges.discard("")
    judges = [j for j in v.judges if j in seen_judges] + sorted(seen_judges - set(v.judges))
    slice_names = sorted(
        {str(k) for item in items for k in _map(item.get("slices"))}
        | {k for k in EXTRA_SLICES for item in items if item.get(k) not in (None, "")}
    )
    kinds: dict[str, int] = {}
    names = {name: n for n, name in enumerate(judges)}
    reference = names.setdefault(v.reference, len(names))
    texts = _Texts()
    fields = [
        (key, label) for key, label in TEXT_FIELDS if any(item.get(key) not in (None, "") for item in items)
    ]
    cases: list[dict[str, Any]] = []
    used = _size([v.reference, judges, list(DISAGREEMENT_LABELS.items()), TEXT_FIELDS, slice_names]) + 100
    cut_texts = 0
    for rank, item in enumerate(items, start=1):
        added, before = 0, len(texts.texts)
        text_refs: list[int | None] = []
        cut: list[int] = []
        for key, _ in fields:
            value = item.get(key)
            if value in (None, ""):
                text_refs.append(None)
                cut.append(0)
                continue
            clipped, lost = _clip(_str(value), MAX_TEXT_CHARS)
            index, size = texts.add(clipped)
            text_refs.append(index)
            cut.append(lost)
            added += size
        verdicts, raw_cut = _verdicts(item, names)
        slices = {**{k: item.get(k) for k in EXTRA_SLICES}, **_map(item.get("slices"))}
        raters = [_str(x) for x in _seq(item.get("reference_labels"))]
        rows = [d for d in _seq(item.get("disagreements")) if isinstance(d, Mapping)]
        case: dict[str, Any] = {
            "rank": rank,
            "item": _str(item.get("item_id")),
            "user": _str(item.get("user_id")),
            "ref": _str(item.get("reference_label")),
            "distance": distance_text(item.get("distance")),
            "n_disagree": len({_str(d.get("judge")) for d in rows}),
            "cells": _cells(item, judges, kinds),
            "texts": text_refs,
            "slices": [_str(slices.get(name)) for name in slice_names],
            "verdicts": verdicts,
        }
        if raters[:MAX_REFERENCE_LABELS] != [
            r[2] if len(r) > 2 else "" for r in verdicts if r[0] == reference
        ]:
            case["raters"] = raters[:MAX_REFERENCE_LABELS]
        if len(raters) > MAX_REFERENCE_LABELS:
            case["raters_total"] = len(raters)
        if len(_seq(item.get("verdicts"))) > len(verdicts):
            case["verdicts_total"] = len(_seq(item.get("verdicts")))
        if any(cut):
            case["cut"] = cut
        added += _size(case) + 1
        if cases and used + added > budget:
            texts.truncate(before)  # the texts this case alone brought in leave with it
            reasons.append(
                f"only {len(cases):,} cases fit this page's size budget ({budget / 1e3:,.0f} kB for cases)"
            )
            break
        used += added
        cut_texts += sum(cut) + raw_cut
        cases.append(case)
    if cut_texts:
        reasons.append(
            f"texts longer than {MAX_TEXT_CHARS:,} characters (raw outputs: {MAX_RAW_CHARS:,}) are cut; "
            "audit.json holds them in full"
        )
    kind_keys = sorted(kinds, key=lambda k: (k != KEY_DISAGREEMENT, k))
    counts: dict[tuple[str, str], int] = {}
    for case in cases:
        for judge, cell in zip(judges, case["cells"], strict=True):
            if cell is not None and len(cell) > 1:
                pair = (judge, list(kinds)[cell[1]])
                counts[pair] = counts.get(pair, 0) + 1
    data = {
        "reference": v.reference,
        "judges": judges,
        "names": list(names),
        "kinds": [[k, _kind_label(k), KIND_CLASSES.get(k, "v-other")] for k in kinds],
        "fields": [list(f) for f in fields],
        "slices": slice_names,
        "texts": texts.texts,
        "page_size": PAGE_SIZE,
        "cases": cases,
    }
    return CaseBrowser(
        data=data,
        total=as_int(v.cases.get("total")),
        supplied=supplied,
        sampled_by_core=bool(v.cases.get("sampled")),
        note=_str(v.cases.get("note")),
        capped_note="; ".join(reasons),
        judges=judges,
        columns=[(judge, *column_label(judge)) for judge in judges],
        users=sorted({case["user"] for case in cases if case["user"]}),
        types=[(k, _kind_label(k), KIND_CLASSES.get(k, "v-other")) for k in kind_keys],
        slices={
            name: sorted({case["slices"][n] for case in cases if case["slices"][n]})
            for n, name in enumerate(slice_names)
        },
        counts=[
            (judge, _kind_label(kind), n)
            for (judge, kind), n in sorted(
                counts.items(), key=lambda kv: (kv[0][0], kv[0][1] != KEY_DISAGREEMENT)
            )
        ],
    )


MARKDOWN_EXAMPLE_CASES = 5


@dataclass
class KeyCase:
    """An item where a judge says b is better and the reference says no better (values as saved, unescaped)."""

    item_id: Any
    judges: list[tuple[Any, Any]]  # (judge, its label)
    reference_label: Any


@dataclass
class CaseSummary:
    """How many disagreement cases the audit holds and the first few key ones, for a text report."""

    total: int | None
    supplied: int
    examples: list[KeyCase]

    def __bool__(self) -> bool:
        return bool(self.total or self.supplied)

    @property
    def count(self) -> int:
        return self.total if self.total is not None else self.supplied


def case_summary(v: AuditView, limit: int = MARKDOWN_EXAMPLE_CASES) -> CaseSummary:
    """The number of cases and the first ``limit`` items with a key disagreement, in the audit's order."""
    items = v.cases.get("items") if isinstance(v.cases.get("items"), list) else []
    examples = []
    for item in items:
        if len(examples) >= limit:
            break
        if not isinstance(item, Mapping):
            continue
        rows = item.get("disagreements") if isinstance(item.get("disagreements"), list) else []
        judges = [
            (d.get("judge"), d.get("judge_label"))
            for d in rows
            if isinstance(d, Mapping) and d.get("type") == KEY_DISAGREEMENT
        ]
        if judges:
            examples.append(KeyCase(item.get("item_id"), judges, item.get("reference_label")))
    return CaseSummary(as_int(v.cases.get("total")), len(items), examples)
