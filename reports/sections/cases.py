"""The cases behind the gaps: the items the case browser shows and the examples a Markdown report lists.

Each case is an item of the audit's ``cases`` section (prompt, profile, responses, every verdict and raw output,
the judges that disagree with the reference and how). The browser shows at most ``MAX_CASES`` cases, each text
capped at ``MAX_TEXT_CHARS`` and all of them within ``CASE_BUDGET_CHARS``; it says how many exist, how many it
shows and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reports.format import as_float, as_int
from reports.view import AuditView

DISAGREEMENT_LABELS: dict[str, str] = {
    "judge_better_reference_no_better": "judge: b better · reference: no better",
    "judge_no_better_reference_better": "judge: no better · reference: b better",
    "other": "other disagreement",
}
KEY_DISAGREEMENT = "judge_better_reference_no_better"
MAX_CASES = 500
MAX_TEXT_CHARS = 4_000
MAX_RAW_CHARS = 3_000
PREVIEW_CHARS = 160
INLINE_CHARS = 280  # texts up to this length are shown open; longer ones are collapsed in <details>
CASE_BUDGET_CHARS = 5_000_000
MAX_VERDICTS = 60  # verdict rows per case (a judge sampled many times can have hundreds)
MAX_REFERENCE_LABELS = 25
ROW_OVERHEAD_CHARS = 400  # markup per verdict row, counted against the budget
TEXT_FIELDS = (
    ("prompt", "Prompt"),
    ("profile", "Profile"),
    ("response_a", "Response a"),
    ("response_b", "Response b"),
    ("response", "Response"),
)


@dataclass
class CaseText:
    name: str
    text: str
    preview: str
    collapsed: bool
    cut_chars: int  # characters left out of this report (the full text is in audit.json)


@dataclass
class CaseView:
    index: int
    item_id: str
    user_id: str
    reference_label: str
    reference_labels: list[str]
    texts: list[CaseText]
    verdicts: list[dict[str, Any]]
    disagreements: list[dict[str, str]]
    judges_json: str
    types_json: str
    pairs_json: str
    key: bool  # a judge says b better while the reference says no better
    n_reference_labels: int = 0
    size: int = 0
    extra: dict[str, str] = field(default_factory=dict)


def _clip(text: str, limit: int) -> tuple[str, int]:
    if len(text) <= limit:
        return text, 0
    return text[:limit], len(text) - limit


def _case_text(name: str, value: Any, limit: int = MAX_TEXT_CHARS) -> CaseText:
    text = "" if value is None else str(value)
    clipped, cut = _clip(text, limit)
    preview = " ".join(clipped[:PREVIEW_CHARS].split())
    if len(clipped) > PREVIEW_CHARS:
        preview += "…"
    return CaseText(name, clipped, preview, len(text) > INLINE_CHARS or "\n" in text.strip(), cut)


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _seq(value: Any) -> list[Any]:
    """A list for a list or tuple; anything else (null, a string, a number, a dict) counts as empty."""
    return list(value) if isinstance(value, (list, tuple)) else []


def _case_view(index: int, item: Mapping[str, Any], reference: str) -> CaseView:
    texts = [
        _case_text(label, item.get(key)) for key, label in TEXT_FIELDS if item.get(key) not in (None, "")
    ]
    disagreements = []
    for row in _seq(item.get("disagreements")):
        if not isinstance(row, Mapping):
            continue
        kind = _str(row.get("type")) or "other"
        disagreements.append(
            {
                "judge": _str(row.get("judge")),
                "type": kind,
                "type_label": DISAGREEMENT_LABELS.get(kind, kind.replace("_", " ")),
                "judge_label": _str(row.get("judge_label")),
            }
        )
    disagreeing = {d["judge"] for d in disagreements}
    verdicts = []
    all_verdicts = [row for row in _seq(item.get("verdicts")) if isinstance(row, Mapping)]
    for row in all_verdicts[:MAX_VERDICTS]:
        raw = (
            _case_text("Raw output", row.get("raw"), MAX_RAW_CHARS)
            if row.get("raw") not in (None, "")
            else None
        )
        score = as_float(row.get("score"))
        excluded = row.get("excluded") or row.get("exclusion")
        verdicts.append(
            {
                "excluded": "" if excluded in (None, "", False) else _str(excluded),
                "judge": _str(row.get("judge")),
                "rater": _str(row.get("rater")),
                "label": _str(row.get("label")),
                "order": _str(row.get("order")),
                "score": "" if score is None else f"{score:.3f}",
                "raw": raw,
                "disagrees": _str(row.get("judge")) in disagreeing,
                "is_reference": _str(row.get("judge")) == reference,
            }
        )
    judges = sorted(disagreeing) or sorted({v["judge"] for v in verdicts if not v["is_reference"]})
    types = sorted({d["type"] for d in disagreements})
    case = CaseView(
        index=index,
        item_id=_str(item.get("item_id")),
        user_id=_str(item.get("user_id")),
        reference_label=_str(item.get("reference_label")),
        reference_labels=[_str(x) for x in _seq(item.get("reference_labels"))[:MAX_REFERENCE_LABELS]],
        texts=texts,
        verdicts=verdicts,
        disagreements=disagreements,
        judges_json=json.dumps(judges),
        types_json=json.dumps(types),
        pairs_json=json.dumps([[d["judge"], d["type"]] for d in disagreements]),
        key=KEY_DISAGREEMENT in types,
    )
    case.n_reference_labels = len(_seq(item.get("reference_labels")))
    if len(all_verdicts) > MAX_VERDICTS:
        case.extra["verdicts"] = f"{MAX_VERDICTS} of {len(all_verdicts)} shown"
    for key in ("source", "stage"):
        if item.get(key) not in (None, ""):
            case.extra[key] = _str(item.get(key))
    case.size = sum(len(t.text) for t in texts) + sum(
        ROW_OVERHEAD_CHARS + (len(v["raw"].text) if v["raw"] else 0) for v in verdicts
    )
    return case


@dataclass
class CaseBrowser:
    cases: list[CaseView]
    total: int | None
    supplied: int
    sampled_by_core: bool
    note: str
    capped_note: str
    judges: list[str]
    users: list[str]
    types: list[tuple[str, str]]
    counts: list[tuple[str, str, int]]  # (judge, type label, number of shown cases)


def case_browser(v: AuditView) -> CaseBrowser:
    """The cases the report shows: at most ``MAX_CASES``, key disagreements first when it has to choose."""
    items = [item for item in _seq(v.cases.get("items")) if isinstance(item, Mapping)]
    supplied = len(items)
    reasons = []
    if supplied > MAX_CASES:
        key = [
            i
            for i, item in enumerate(items)
            if any(
                isinstance(d, Mapping) and d.get("type") == KEY_DISAGREEMENT
                for d in _seq(item.get("disagreements"))
            )
        ]
        chosen = set(key[:MAX_CASES])
        for i in range(supplied):
            if len(chosen) >= MAX_CASES:
                break
            chosen.add(i)
        items = [items[i] for i in sorted(chosen)]
        reasons.append(
            f"this report shows {MAX_CASES} of the {supplied:,} cases in the audit file, those where a judge "
            "says b is better and the reference says no better first"
        )
    cases: list[CaseView] = []
    used = 0
    for index, item in enumerate(items):
        case = _case_view(index, item, v.reference)
        if cases and used + case.size > CASE_BUDGET_CHARS:
            reasons.append(
                f"only {len(cases):,} cases fit this report's size budget of {CASE_BUDGET_CHARS / 1e6:.0f} million characters"
            )
            break
        used += case.size
        cases.append(case)
    if any(t.cut_chars for case in cases for t in case.texts) or any(
        v_["raw"] and v_["raw"].cut_chars for case in cases for v_ in case.verdicts
    ):
        reasons.append(
            f"texts longer than {MAX_TEXT_CHARS:,} characters (raw outputs: {MAX_RAW_CHARS:,}) are cut; "
            "audit.json holds them in full"
        )
    judges = sorted({j for case in cases for j in json.loads(case.judges_json)})
    users = sorted({case.user_id for case in cases if case.user_id})
    type_keys = sorted(
        {d["type"] for case in cases for d in case.disagreements}, key=lambda t: (t != KEY_DISAGREEMENT, t)
    )
    counts: dict[tuple[str, str], int] = {}
    for case in cases:
        for pair in {(d["judge"], d["type"]) for d in case.disagreements}:
            counts[pair] = counts.get(pair, 0) + 1
    cases.sort(key=lambda c: (not c.key, c.index))
    return CaseBrowser(
        cases=cases,
        total=as_int(v.cases.get("total")),
        supplied=supplied,
        sampled_by_core=bool(v.cases.get("sampled")),
        note=_str(v.cases.get("note")),
        capped_note="; ".join(reasons),
        judges=judges,
        users=users,
        types=[(t, DISAGREEMENT_LABELS.get(t, t.replace("_", " "))) for t in type_keys],
        counts=[
            (judge, DISAGREEMENT_LABELS.get(kind, kind), n)
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
