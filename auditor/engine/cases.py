"""The cases behind the gaps: the items where a judge and the reference disagree, those that matter most first
(a judge calls b better where the reference finds it no better, then the largest differences), with every
verdict and the item's texts, for the reports' case browser."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from auditor.engine.context import AuditContext, Side

CASE_TEXT_LIMIT = 20_000
RAW_TEXT_LIMIT = 4_000
KINDS = ("other", "judge_no_better_reference_better", "judge_better_reference_no_better")


def select_cases(ctx: AuditContext) -> dict[str, Any]:
    """The ``cases`` part of audit.json: at most ``config.max_cases`` items, with the total and a note."""
    ref, sides, n_items = ctx.ref, ctx.sides, ctx.n_items
    all_idx = np.arange(n_items)
    ref_ind = ctx.indicators(ref, all_idx)
    severity = np.zeros(n_items)
    priority = np.zeros(n_items, dtype=int)
    flagged: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # judge -> (differs per item, kind per item)
    for judge, side in sides.items():
        both = ctx.usable(ref) & ctx.usable(side)
        j_ind = ctx.indicators(side, all_idx)
        if ctx.task == "score" and ref_ind is None:
            continue
        differ = both & (side.code != ref.code) if ctx.task != "score" else both
        kind = np.zeros(n_items, dtype=np.int8)  # 0 other, 1 judge no better / ref better, 2 reverse
        if ref_ind is not None and j_ind is not None:
            kind[j_ind["no_better_rate"] & ref_ind["win_rate"]] = 1
            kind[j_ind["win_rate"] & ref_ind["no_better_rate"]] = 2
            if ctx.task == "score":
                differ = both & (kind > 0)
        flagged[judge] = (differ, kind)
        gap = np.where(differ, np.abs(np.nan_to_num(side.value - ref.value)), 0.0)
        severity = np.maximum(severity, gap)
        priority = np.maximum(priority, np.where(differ, kind, 0))
    any_differ = np.zeros(n_items, dtype=bool)
    for differ, _ in flagged.values():
        any_differ |= differ
    total = int(any_differ.sum())
    ids = np.flatnonzero(any_differ)
    if ids.size:
        ids = ids[np.lexsort((ids, -severity[ids], -priority[ids]))][: ctx.cfg.max_cases]
    per_item = {
        int(i): [
            {"judge": judge, "type": KINDS[kind[i]], "judge_label": label_text(ctx, sides[judge], i)}
            for judge, (differ, kind) in flagged.items()
            if differ[i]
        ]
        for i in ids
    }
    raw = ctx.t.raw_labels
    item_rows = ctx.t.items
    chosen = item_rows["item_id"].to_numpy()[ids]
    columns = [
        c
        for c in ("item_id", "judge", "rater", "label_text", "order", "score", "raw", "excluded")
        if c in raw.columns
    ]
    records: dict[str, list[dict[str, Any]]] = {}
    for r in raw.loc[raw["item_id"].isin(set(chosen)), columns].to_dict("records"):
        records.setdefault(r["item_id"], []).append(r)
    item_columns = [
        c
        for c in ("prompt", "profile", "response_a", "response_b", "response", "source")
        if c in item_rows.columns
    ]
    cases = []
    for i, item in zip(ids, item_rows.iloc[ids].to_dict("records"), strict=True):
        rows = records.get(item["item_id"], [])
        case = {
            "item_id": item["item_id"],
            "user_id": _text(item.get("user_id")),
            "reference_label": label_text(ctx, ref, int(i)),
            "reference_labels": [_label_of(r) for r in rows if r["judge"] == ctx.cfg.reference],
            "verdicts": [
                {
                    "judge": r["judge"],
                    "rater": _text(r.get("rater")),
                    "label": _label_of(r),
                    "order": _text(r.get("order")),
                    "score": None if pd.isna(r.get("score")) else float(r.get("score")),
                    "raw": _text(r.get("raw"), RAW_TEXT_LIMIT),
                    "excluded": _text(r.get("excluded")),
                }
                for r in rows
            ],
            "disagreements": per_item[int(i)],
        }
        for column in item_columns:
            case[column] = _text(item.get(column), CASE_TEXT_LIMIT)
        cases.append(case)
    sampled = total > len(cases)
    note = (
        f"showing the {len(cases)} of {total} items with disagreements that matter most (a judge calls "
        "b better where the reference finds it no better first, then the largest differences)"
        if sampled
        else f"all {total} items where a judge and the reference disagree"
    )
    return {"total": total, "shown": len(cases), "sampled": sampled, "note": note, "items": cases}


def label_text(ctx: AuditContext, side: Side, i: int) -> str | None:
    """A side's verdict on item ``i`` as text (the category, or the score to 3 significant digits)."""
    if ctx.task == "score":
        v = side.value[i]
        return None if not np.isfinite(v) else f"{v:.3g}"
    c = side.code[i]
    return None if c < 0 else ctx.categories[c]


def _text(value: Any, limit: int | None = None) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f" … [truncated, {len(text) - limit} more characters]"
    return text


def _label_of(row: dict[str, Any]) -> str | None:
    text = row.get("label_text")
    if text is None and row.get("score") is not None and not pd.isna(row.get("score")):
        return f"{float(row['score']):.3g}"
    return text
