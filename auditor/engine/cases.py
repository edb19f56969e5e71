"""The cases behind the gaps: the items where a judge and the reference disagree, those that matter most first,
with every verdict and the item's texts, for the reports' case browser.

What counts as a disagreement: a judge's aggregated verdict falls in another outcome than the reference's.  On a
pairwise or binary task that is any other label; on a Likert scale (or a score task with a neutral point) it is
another side of the neutral point (b better / neutral / a better), so a 4 against a reference's 5 is no
disagreement while a 4 against a 3 is; on a categorical task any other category.

How much a case matters (its ``distance``, the ranking key): the largest distance over its disagreeing judges,
in scale steps between the judge's and the reference's verdict (Likert: ``|judge - reference|`` across the
neutral point, 1 to ``max - min``; pairwise: 1 for a against tie or tie against b, 2 for a against b), in score
units for a score task, and 1 for a categorical or binary task.  Ties in distance go to the case with more
disagreeing judges, then to a judge calling b better where the reference finds it no better, then to item order.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from auditor.data import JudgmentTable
from auditor.engine.context import AuditContext, Side
from auditor.engine.slicing import slice_columns
from auditor.io import column_values

CASE_TEXT_LIMIT = 20_000
RAW_TEXT_LIMIT = 4_000
KINDS = ("other", "judge_no_better_reference_better", "judge_better_reference_no_better")
#: The outcome a verdict falls in (a disagreement is another outcome), by the indicator that marks it.
OUTCOMES = ("win_rate", "tie_rate", "loss_rate")


def _outcome(indicators: dict[str, np.ndarray] | None, side: Side) -> np.ndarray:
    """Per item: the index in :data:`OUTCOMES` of the side's outcome (-1 none); the category code where a task has
    no outcomes (categorical, a score task without a neutral point).  Where two indicators mark an item, the later
    outcome (as assigning them in turn would give; the largest index, one pass per outcome without a mask)."""
    if indicators is None:
        return side.code.astype(np.int64)
    out = np.zeros(len(side.code), dtype=np.int8)  # the index plus one
    for k, name in enumerate(OUTCOMES):
        if name in indicators:
            np.maximum(out, indicators[name] * np.int8(k + 1), out=out)
    return out.astype(np.int64) - 1


def _distance(ctx: AuditContext, side: Side, ref: Side) -> np.ndarray:
    """Per item: how far the side's verdict is from the reference's (scale steps, score units, or 1)."""
    if ctx.task in ("pairwise", "likert"):
        return np.abs(side.code - ref.code).astype(float)
    if ctx.task == "score":
        return np.abs(np.nan_to_num(side.value - ref.value))
    return np.ones(len(side.code))


def select_cases(ctx: AuditContext) -> dict[str, Any]:
    """The ``cases`` part of audit.json: at most ``config.max_cases`` items, those that matter most first (see
    the module's docstring), with the number of all disagreement cases and a note."""
    ref, sides, n_items = ctx.ref, ctx.sides, ctx.n_items
    all_idx = np.arange(n_items)
    ref_ind = ctx.indicators(ref, all_idx)
    ref_outcome = _outcome(ref_ind, ref)
    distance = np.zeros(n_items)
    n_disagreeing = np.zeros(n_items, dtype=int)
    key = np.zeros(n_items, dtype=bool)
    flagged: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # judge -> (differs, kind, distance)
    ref_usable = ctx.usable(ref)
    for judge, side in sides.items():
        if ctx.task == "score" and ref_ind is None:
            continue
        both = ref_usable & ctx.usable(side)
        j_ind = ctx.indicators(side, all_idx)
        differ = both & (_outcome(j_ind, side) != ref_outcome)
        # 0 other, 1 judge no better / ref better, 2 the reverse (2 where both hold)
        if ref_ind is not None and j_ind is not None:
            kind = np.maximum(
                j_ind["no_better_rate"] & ref_ind["win_rate"],
                (j_ind["win_rate"] & ref_ind["no_better_rate"]) * np.int8(2),
            )
        else:
            kind = np.zeros(n_items, dtype=np.int8)
        gap = np.where(differ, _distance(ctx, side, ref), 0.0)
        flagged[judge] = (differ, kind, gap)
        distance = np.maximum(distance, gap)
        n_disagreeing += differ
        key |= differ & (kind == 2)
    total = int((n_disagreeing > 0).sum())
    ids = np.flatnonzero(n_disagreeing > 0)
    shown = ctx.cfg.max_cases
    if 0 < shown < ids.size:  # the first ``shown`` in the order below lie at or above the shown-th distance
        floor = np.partition(distance[ids], ids.size - shown)[ids.size - shown]
        ids = ids[distance[ids] >= floor]
    if ids.size:
        order = np.lexsort((ids, ~key[ids], -n_disagreeing[ids], -distance[ids]))
        ids = ids[order][:shown]
    item_rows = ctx.t.items
    chosen = item_rows["item_id"].to_numpy()[ids]
    rows = ctx.t.raw_labels.iloc[_rows_of_items(ctx.t, chosen)]
    verdicts_of: dict[Any, list[dict[str, Any]]] = {}
    for item_id, verdict in zip(column_values(rows, "item_id"), _verdicts(rows), strict=True):
        verdicts_of.setdefault(item_id, []).append(verdict)
    item_columns = [
        c
        for c in ("prompt", "profile", "response_a", "response_b", "response", "source")
        if c in item_rows.columns
    ]
    slices = slice_columns(ctx)
    # at each chosen item (in ``ids``' order): the verdicts as text, and per judge whether, how and how far it
    # disagrees
    ref_labels = label_texts(ctx, ref, ids)
    judge_labels = {judge: label_texts(ctx, side, ids) for judge, side in sides.items()}
    disagreeing = {
        judge: (differ[ids].tolist(), kind[ids].tolist(), gap[ids].tolist())
        for judge, (differ, kind, gap) in flagged.items()
    }
    cases = []
    records = item_rows.iloc[ids].to_dict("records")
    for at, (item, item_distance) in enumerate(zip(records, distance[ids].tolist(), strict=True)):
        verdicts = verdicts_of.get(item["item_id"], [])
        case = {
            "item_id": item["item_id"],
            "user_id": _text(item.get("user_id")),
            "distance": _number(item_distance),
            "reference_label": ref_labels[at],
            "reference_labels": [v["label"] for v in verdicts if v["judge"] == ctx.cfg.reference],
            "judge_labels": {judge: labels[at] for judge, labels in judge_labels.items()},
            "verdicts": verdicts,
            "disagreements": [
                {
                    "judge": judge,
                    "type": KINDS[kind[at]],
                    "judge_label": judge_labels[judge][at],
                    "distance": _number(gap[at]),
                }
                for judge, (differ, kind, gap) in disagreeing.items()
                if differ[at]
            ],
        }
        for column in item_columns:
            case[column] = _text(item.get(column), CASE_TEXT_LIMIT)
        if slices:
            case["slices"] = {column: _text(item.get(column)) for column in slices}
        cases.append(case)
    sampled = total > len(cases)
    order_text = (
        "the largest distance across the neutral point" if ctx.task == "likert" else "the largest distance"
    )
    note = (
        f"showing the {len(cases)} of {total} items with disagreements that matter most ({order_text} first, "
        "then more disagreeing judges, then a judge calling b better where the reference finds it no better)"
        if sampled
        else f"all {total} items where a judge and the reference disagree, {order_text} first"
    )
    return {"total": total, "shown": len(cases), "sampled": sampled, "note": note, "items": cases}


def _rows_of_items(table: JudgmentTable, item_ids: np.ndarray) -> np.ndarray:
    """The positions, in order, of the raw label rows of the items ``item_ids``: on the loader's item codes where
    it kept them (:meth:`~auditor.data.JudgmentTable.key_codes`; equal texts, equal codes), else on the texts."""
    coded = table.key_codes().get("item_id")
    if coded is None:
        return np.flatnonzero(table.raw_labels["item_id"].isin(set(item_ids)).to_numpy())
    row_codes, texts = coded
    # per code, the last for code -1 (no item id); an object index, not pandas' text dtype (which would copy every
    # text into Arrow first)
    wanted = np.append(pd.Index(texts, dtype=object).isin(item_ids), False)
    return np.flatnonzero(wanted[row_codes])


def _number(value: float) -> float | int:
    """A whole distance as an int (scale steps), any other as a float."""
    return int(value) if float(value).is_integer() else float(value)


def label_texts(ctx: AuditContext, side: Side, ids: np.ndarray) -> list[str | None]:
    """A side's verdicts on the items ``ids`` as text (the category, or the score to 3 significant digits)."""
    if ctx.task == "score":
        return [f"{v:.3g}" if math.isfinite(v) else None for v in side.value[ids].tolist()]
    return [None if c < 0 else ctx.categories[c] for c in side.code[ids].tolist()]


def _text(value: Any, limit: int | None = None) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f" … [truncated, {len(text) - limit} more characters]"
    return text


def _label_of(text: Any, score: Any) -> Any:
    """A verdict's label: its label text, or the score to 3 significant digits where it has no label."""
    if text is None and score is not None and not pd.isna(score):
        return f"{float(score):.3g}"
    return text


def _verdicts(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Each label row as the case browser shows it: judge, rater, label, order, score, raw text and exclusion."""
    judges, raters, texts, orders, scores, raws, exclusions = (
        column_values(rows, column)
        for column in ("judge", "rater", "label_text", "order", "score", "raw", "excluded")
    )
    return [
        {
            "judge": judge,
            "rater": _text(rater),
            "label": _label_of(text, score),
            "order": _text(order),
            "score": None if no_score else float(score),
            "raw": _text(raw, RAW_TEXT_LIMIT),
            "excluded": _text(excluded),
        }
        for judge, rater, text, order, score, no_score, raw, excluded in zip(
            judges, raters, texts, orders, scores, pd.isna(scores), raws, exclusions, strict=True
        )
    ]
