"""Argilla exports (``Dataset.to_disk`` / ``records.to_json``: ``records.json``, a list of records) as a
categorical or Likert study.

Source: a ``records.json`` file (JSON lines work too) or a folder holding one or more (``to_disk`` writes
``records.json`` beside ``settings.json``, which is not needed).

Items (one per record): ``item_id`` = the record's ``id``; each of its ``fields`` becomes an item column, one named
like a contract column (``prompt``, ``response``, ``response_a``, ``response_b``, ``user_id``) filling that
column; each ``metadata`` key becomes an item column too (``metadata_<key>`` if the name is taken); the record's
other parts (``vectors``, ``status``, ``_server_id``) go to the item's ``meta``; nested values are JSON text.

Labels: the question given as ``field`` (``auditor convert argilla SOURCE --field NAME``), by default the first
question whose answers are labels or ratings.  Each response is one row, ``judge`` ``human``, ``rater`` = its
``user_id`` (several annotators, one rater each); each suggestion is one row, ``judge`` = its ``agent``
(``"suggestion"`` when it has none), ``rater`` ``"0"``, its ``score`` kept in ``meta``.  Both Argilla 2's shape
(``responses: {question: [{value, user_id, status?}]}``, ``suggestions: {question: {value, score, agent}}``) and
Argilla 1's (``responses: [{user_id, values: {question: {value}}, status}]``, ``suggestions: [{question_name,
value, score, agent}]``) are read.  ``label`` = the answer (a multi-label answer joined by ``,``); the task is
``likert`` when every answer is an integer (a rating question: the scale runs from the smallest to the largest
answer found, neutral the middle, and ``score`` = the rating), else ``categorical`` (categories: the answers in
order of appearance).  A response whose ``status`` is ``discarded`` or ``draft`` keeps its row with ``label``
None and ``exclusion`` = the status.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.datasets import Study
from auditor.importers import Record, build_study, choose_field, records, source_files

CONTRACT_FIELDS = ("prompt", "response", "response_a", "response_b", "user_id")
RECORD_PARTS = ("id", "fields", "metadata", "responses", "suggestions")
SKIPPED = ("discarded", "draft")


def load(source: Path, field: str | None = None) -> Study:
    """Import an Argilla ``records.json`` (file or folder); ``field`` is the question to import."""
    paths = source_files(source, ("records.json", "records.jsonl"), "Argilla records (records.json)")
    rows = [record for path in paths for record in records(path)]
    answers = [(record, *answer) for record in rows for answer in _answers(record)]
    question = _question(answers, field, source)
    items = [_item(record) for record in rows]
    labels = [_label(record, question, *rest) for record, name, *rest in answers if name == question]
    values = [row["raw_value"] for row in labels if row.get("raw_value") is not None]
    rating = bool(values) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    scale = categories = None
    if rating:
        low, high = min(values), max(values)
        scale = (low, high, (low + high) // 2)
        for row in labels:
            row["score"] = row["raw_value"]
    else:
        categories = tuple(dict.fromkeys(row["label"] for row in labels if row.get("label")))
    for row in labels:
        row.pop("raw_value")
    return build_study(
        "argilla",
        "likert" if rating else "categorical",
        items,
        labels,
        f"Argilla records ({source.name})\nImported from Argilla: question {question!r}; responses are the human "
        "raters (one per user_id), suggestions the judges (one per agent).",
        source=source,
        scale=scale,
        categories=categories,
    )


def _answers(record: Record) -> list[tuple[str, str, str, Any, dict]]:
    """``(question, judge, rater, value, extra)`` for every response and suggestion of a record."""
    out = []
    responses = record.get("responses") or {}
    if isinstance(responses, dict):  # Argilla 2
        for question, answers in responses.items():
            if not isinstance(answers, list):
                raise record.error(
                    f"holds {type(answers).__name__} for question {question!r}; expected a list", "responses"
                )
            for answer in answers:
                if not isinstance(answer, dict):
                    raise record.error(f"holds a {type(answer).__name__} answer to {question!r}", "responses")
                extra = {k: v for k, v in answer.items() if k not in ("value", "user_id")}
                out.append((question, "human", _user(record, answer), answer.get("value"), extra))
    elif isinstance(responses, list):  # Argilla 1
        for response in responses:
            values = response.get("values") if isinstance(response, dict) else None
            if not isinstance(values, dict):
                raise record.error("holds a response without a values object", "responses")
            extra = {k: v for k, v in response.items() if k not in ("values", "user_id")}
            for question, answer in values.items():
                value = answer.get("value") if isinstance(answer, dict) else answer
                out.append((question, "human", _user(record, response), value, extra))
    else:
        raise record.error(f"is a {type(responses).__name__}; expected an object or a list", "responses")
    suggestions = record.get("suggestions") or {}
    if isinstance(suggestions, dict):
        suggestions = [{"question_name": name, **s} for name, s in suggestions.items() if isinstance(s, dict)]
    if not isinstance(suggestions, list) or not all(isinstance(s, dict) for s in suggestions):
        raise record.error("is not a list or an object of suggestions", "suggestions")
    for suggestion in suggestions:
        if "question_name" not in suggestion:
            raise record.error("holds a suggestion without question_name", "suggestions")
        extra = {k: v for k, v in suggestion.items() if k not in ("question_name", "value", "agent")}
        agent = str(suggestion.get("agent") or "suggestion")
        out.append((str(suggestion["question_name"]), agent, "0", suggestion.get("value"), extra))
    return out


def _user(record: Record, answer: dict) -> str:
    user = answer.get("user_id")
    if user is None or user == "None":
        raise record.error("has a response without user_id", "responses")
    return str(user)


def _question(answers: list[tuple], field: str | None, source: Path) -> str:
    found: list[str] = []
    for _record, question, _judge, _rater, value, _extra in answers:
        if question not in found and _labelish(value):
            found.append(question)
    return choose_field(
        found, field, None, source=source, what="label or rating question", column="responses"
    )


def _labelish(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, str) for v in value)
    return isinstance(value, str | int) and not isinstance(value, bool) and len(str(value)) <= 100


def _item(record: Record) -> dict:
    item_id = str(record.need("id", (str, int)))
    fields = record.get("fields") or {}
    metadata = record.get("metadata") or {}
    if not isinstance(fields, dict) or not isinstance(metadata, dict):
        raise record.error("is not an object", "fields" if not isinstance(fields, dict) else "metadata")
    item: dict[str, Any] = {"item_id": item_id, "_file": str(record.path)}
    for key, value in fields.items():
        name = key if key in CONTRACT_FIELDS or key not in ("item_id", "meta", "_file") else f"field_{key}"
        item[name] = _cell(value)
    for key, value in metadata.items():
        item[key if key not in item and key not in ("meta",) else f"metadata_{key}"] = _cell(value)
    item["meta"] = record.meta(RECORD_PARTS)
    return item


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value


def _label(record: Record, question: str, judge: str, rater: str, value: Any, extra: dict) -> dict:
    row: dict[str, Any] = {
        "item_id": str(record["id"]),
        "judge": judge,
        "rater": rater,
        "raw_value": None,
        "meta": json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None,
    }
    status = extra.get("status")
    if status in SKIPPED:
        return {**row, "exclusion": str(status)}
    if value is None:
        return {**row, "exclusion": "no answer"}
    if isinstance(value, list):
        if not all(isinstance(v, str | int) for v in value):
            raise record.error(
                f"answers {question!r} with {json.dumps(value)[:40]}; expected labels", "responses"
            )
        return {**row, "label": ",".join(str(v) for v in value), "raw": json.dumps(value, ensure_ascii=False)}
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise record.error(
            f"answers {question!r} with a {type(value).__name__}; expected a label or a rating", "responses"
        )
    return {**row, "label": str(value), "raw": str(value), "raw_value": value}
