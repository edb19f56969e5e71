"""The rows of an LLM judge's labels table, built by field name.

:data:`ROW_COLUMNS` (the fields of :class:`judges.base.Judgment`, in order) is the one definition of a row's
columns; a row is a dict keyed by those columns (:func:`excluded_row`, :func:`verdict_row`), and
:class:`LabelRows` builds the table from the rows column by column.  A stored response's parsed fields
(:func:`parse_fields`, named by :data:`judges.cache.PARSED_FIELDS`) become a row through :func:`verdict_row`,
whether they were parsed in this run or read back from the cache, so a rerun gives the same table as the run that
parsed them.
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import MISSING, fields
from typing import Any

import pandas as pd

from judges.base import Judgment, columns_to_frame
from judges.cache import PARSED_FIELDS, CachedResponse
from judges.llm.planning import PlannedRequest
from judges.parsing import Verdict, answer_problem, parse_completion, to_original_order
from judges.templates import Template

#: The columns of a judge's row, in the order of :class:`judges.base.Judgment`'s fields (``extra`` is empty).
ROW_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Judgment) if f.name != "extra")
#: The value of a column a row does not set: the ``Judgment`` default (None for ``item_id`` and ``judge``).
ROW_DEFAULTS: dict[str, Any] = {
    f.name: None if f.default is MISSING else f.default for f in fields(Judgment) if f.name != "extra"
}
_ROW_VALUES = operator.itemgetter(*ROW_COLUMNS)
_INT64 = (-(2**63), 2**63)


class LabelRows:
    """Rows of a labels table, each a dict keyed by every column of :data:`ROW_COLUMNS` (from
    :func:`excluded_row` and :func:`verdict_row`); the table is built column by column."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, row: dict[str, Any]) -> None:
        self._rows.append(row)

    def frame(self) -> pd.DataFrame:
        """The labels table (:func:`judges.base.columns_to_frame` of the rows); a row without a column or with one
        that is not in :data:`ROW_COLUMNS` is an error."""
        rows = self._rows
        for row in rows:
            if len(row) != len(ROW_COLUMNS):
                wrong = sorted(row.keys() ^ set(ROW_COLUMNS))
                raise ValueError(f"a label row does not have the label columns: {', '.join(wrong)}")
        values = list(map(_ROW_VALUES, rows))  # a KeyError here: a row without a column
        columns = zip(*values, strict=True) if values else ([] for _ in ROW_COLUMNS)
        return columns_to_frame(dict(zip(ROW_COLUMNS, map(list, columns), strict=True)))


def parse_fields(cached: CachedResponse, template: Template, min_mass: float) -> dict[str, Any]:
    """A stored response's parsed fields (:data:`judges.cache.PARSED_FIELDS`), in the numbering shown."""
    verdict, text = parse_completion(cached.response, template, min_mass=min_mass)
    usage = cached.response.get("usage") or {}
    probabilities = (
        json.dumps(verdict.probabilities, sort_keys=True) if verdict.probabilities is not None else None
    )
    return {
        "label": verdict.label,
        "score": verdict.score,
        "probabilities": probabilities,
        "verdict_source": verdict.source,
        "exclusion": verdict.exclusion,
        "verdict_mass": verdict.verdict_mass,
        "raw": text,
        "prompt_tokens": usage.get("prompt_tokens"),
        "completion_tokens": usage.get("completion_tokens"),
        "latency_s": cached.latency_s,
    }


def stored_fields(found: tuple[Any, ...]) -> dict[str, Any]:
    """Parsed fields as the cache gives them back (a tuple in :data:`judges.cache.PARSED_FIELDS` order), by name."""
    return dict(zip(PARSED_FIELDS, found, strict=True))


def as_stored(key: str, parsed: dict[str, Any]) -> tuple[Any, ...]:
    """``(key, *fields)`` in :data:`judges.cache.PARSED_FIELDS` order, what :meth:`JudgeCache.put_parsed` takes."""
    return (key, *(parsed[name] for name in PARSED_FIELDS))


def storable(parsed: dict[str, Any]) -> bool:
    """Whether SQLite gives these parsed fields back exactly (else they are parsed again on every run)."""

    def real(value: Any) -> bool:
        return value is None or (type(value) is float and math.isfinite(value))

    def integer(value: Any) -> bool:
        return value is None or (type(value) is int and _INT64[0] <= value < _INT64[1])

    def text(value: Any) -> bool:
        return value is None or type(value) is str

    probabilities = parsed["probabilities"]
    return (
        text(parsed["label"]) and real(parsed["score"]) and text(probabilities)
        and type(parsed["verdict_source"]) is str and text(parsed["exclusion"]) and real(parsed["verdict_mass"])
        and type(parsed["raw"]) is str and integer(parsed["prompt_tokens"])
        and integer(parsed["completion_tokens"]) and real(parsed["latency_s"])
        and (probabilities is None or "NaN" not in probabilities and "Infinity" not in probabilities)
    )  # fmt: skip


def excluded_row(
    planned: PlannedRequest,
    reason: str,
    raw: str | None,
    *,
    judge: str,
    template: Template,
    profile_view: str,
) -> dict[str, Any]:
    """The row of a request without a verdict: ``reason`` in ``exclusion``, the server's text (if any) in ``raw``,
    every other column at its :data:`ROW_DEFAULTS` value."""
    row = dict(ROW_DEFAULTS)
    row["raw"] = raw
    row["exclusion"] = reason
    return _identify(row, planned, judge, template, profile_view)


def verdict_row(
    planned: PlannedRequest,
    parsed: dict[str, Any],
    *,
    cached: bool,
    judge: str,
    template: Template,
    task: str,
    profile_view: str,
    prices: tuple[float, float] | None,
) -> dict[str, Any]:
    """The row of a response from its parsed fields (shown numbering): the label mapped back to the original a/b
    numbering, no label for a ``score`` task, and the cost at ``prices`` (USD per million tokens)."""
    row = dict(parsed)
    label = row["label"]
    order = planned.order or "ab"
    if order != "ab" and label is not None and task in ("pairwise", "likert"):
        probabilities = row["probabilities"]
        shown = json.loads(probabilities) if probabilities is not None else None
        verdict = to_original_order(
            Verdict(label, row["score"], shown, row["verdict_source"], row["exclusion"], row["verdict_mass"]),
            order,
            task,
            template,
        )
        label = row["label"] = verdict.label
        row["score"] = verdict.score
        if verdict.probabilities is not None:
            row["probabilities"] = json.dumps(verdict.probabilities, sort_keys=True)
    if label is not None and task == "score":
        row["label"] = None
    prompt_tokens = row["prompt_tokens"]
    cost = None
    if prices is not None and prompt_tokens is not None:
        price_in, price_out = prices
        cost = (prompt_tokens * price_in + (row["completion_tokens"] or 0) * price_out) / 1e6
    row["cost"] = cost
    row["cached"] = cached
    return _identify(row, planned, judge, template, profile_view)


def _identify(
    row: dict[str, Any], planned: PlannedRequest, judge: str, template: Template, profile_view: str
) -> dict[str, Any]:
    """Set, in place, the columns that say which request a row answers (every row has them)."""
    row["item_id"] = planned.item_id
    row["judge"] = judge
    row["rater"] = planned.rater
    row["order"] = planned.order
    row["template"] = template.id
    row["profile_view"] = profile_view
    row["request_key"] = planned.key or None
    return row


class _Row(Judgment):
    """A :class:`Judgment` whose table row is a shallow copy of its fields.

    ``dataclasses.asdict`` (the base class's ``to_row``) deep-copies field by field and was most of the time of a
    fully cached rerun; every field of a judge's judgment is a scalar or a flat ``str -> float`` dict (written as
    JSON), so a shallow copy gives the same row.
    """

    def to_row(self) -> dict[str, Any]:
        row = dict(self.__dict__)
        extra = row.pop("extra")
        if row["probabilities"] is not None:
            row["probabilities"] = json.dumps(row["probabilities"], sort_keys=True)
        row.update(extra)
        return row


def judgment(
    planned: PlannedRequest,
    cached: CachedResponse | None,
    failure: tuple[str, str] | None,
    *,
    judge: str,
    template: Template,
    task: str,
    profile_view: str,
    min_mass: float,
    prices: tuple[float, float] | None,
) -> Judgment:
    """One request's :class:`Judgment`, parsed from its response (the row-by-row path, kept as the reference the
    column-by-column table is tested against)."""
    result = _Row(
        item_id=planned.item_id,
        judge=judge,
        rater=planned.rater,
        order=planned.order,
        template=template.id,
        profile_view=profile_view,
        request_key=planned.key or None,
    )
    if planned.skip:
        result.exclusion = planned.skip
        return result
    if cached is None:
        reason, raw = failure or ("not_requested", "")
        result.exclusion = reason
        result.raw = raw or None
        return result
    problem = answer_problem(cached.response)
    if problem is not None:
        result.exclusion, result.raw = "malformed_response", problem
        return result
    verdict, text = parse_completion(cached.response, template, min_mass=min_mass)
    verdict = to_original_order(verdict, planned.order or "ab", task, template)
    _apply(result, verdict, task)
    result.raw = text
    result.cached = cached.source != "this_run"
    result.latency_s = cached.latency_s
    usage = cached.response.get("usage") or {}
    result.prompt_tokens = usage.get("prompt_tokens")
    result.completion_tokens = usage.get("completion_tokens")
    if prices is not None and result.prompt_tokens is not None:
        price_in, price_out = prices
        result.cost = (result.prompt_tokens * price_in + (result.completion_tokens or 0) * price_out) / 1e6
    return result


def _apply(result: Judgment, verdict: Verdict, task: str) -> None:
    result.verdict_source = verdict.source
    result.exclusion = verdict.exclusion
    result.probabilities = verdict.probabilities
    result.verdict_mass = verdict.verdict_mass
    result.score = verdict.score
    if verdict.label is not None and task != "score":
        result.label = verdict.label
