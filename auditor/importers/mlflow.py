"""MLflow traces with assessments (human and LLM-judge feedback on the same traces) as a binary, score or
categorical study.

Source: a ``.json`` file holding one trace or a list of them (``Trace.to_dict()`` / ``to_json()``: ``{"info":
{...}, "data": {"spans": [...]}}``), a ``.jsonl`` file with one trace per line, or a folder of such files.  The
flat rows of ``mlflow.search_traces()`` saved as JSON lines (``trace_id``, ``request``, ``response``,
``assessments`` columns) are read too.

Items (one per trace): ``item_id`` = ``trace_id``; ``prompt`` = the trace's request (``request_preview``, else
the ``request`` column or ``mlflow.traceInputs``), ``response`` = its response likewise; a request or response
that is JSON is decoded, and an object with a single text field becomes that text (``{"question": "..."}`` ->
the question); the trace's expectations (ground-truth assessments, e.g. ``expected_answer``) and its other info
(``state``, ``tags``, ``trace_metadata``, ...; the spans are left out, being the transcript) go to the item's
``meta``.

Labels: the feedback assessments of one name, given as ``field`` (``auditor convert mlflow SOURCE --field
NAME``), by default the first name in order of appearance that has human feedback (else the first).  A
``HUMAN`` source is judge ``human`` with ``rater`` = its ``source_id``; an ``LLM_JUDGE`` or ``CODE`` source is
the judge named by its ``source_id`` (its type when it has none), ``rater`` ``"0"``.  Values: true / false and
``yes`` / ``no`` (MLflow judges' ratings) = 1 / 0, numbers as they are, other text as text; every value 0 or 1
-> task ``binary``, every value a number -> ``score``, else ``categorical`` (:func:`settle_values`).  Feedback
that holds an error keeps its row with ``label`` None and ``exclusion`` ``error`` (the error in ``meta``), and
so does feedback marked ``valid: false`` (overridden by a later one), with ``exclusion`` ``overridden``.
``reason`` = the ``rationale``; the assessment's other fields (ids, times, metadata) go to ``meta``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.datasets import Study
from auditor.importers import (
    Record,
    build_study,
    choose_field,
    object_records,
    read_json,
    records,
    settle_values,
    source_files,
)

SOURCE_JUDGES = ("LLM_JUDGE", "CODE")
TRUTHS = {"yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0}
INFO_FIELDS = (
    "trace_id",
    "request_preview",
    "response_preview",
    "assessments",
    "request",
    "response",
    "spans",
)


def load(source: Path, field: str | None = None) -> Study:
    """Import MLflow traces (file or folder); ``field`` is the assessment name to import."""
    traces = [
        trace
        for path in source_files(source, ("*.json", "*.jsonl"), "MLflow traces")
        for trace in _traces(path)
    ]
    feedback = [
        (trace, assessment)
        for trace in traces
        for assessment in _assessments(trace)
        if "feedback" in assessment
    ]
    name = _name(feedback, field, source)
    items = [_item(trace) for trace in traces]
    labels = [
        _label(trace, assessment)
        for trace, assessment in feedback
        if assessment.get("assessment_name") == name
    ]
    kind = settle_values(labels)
    return build_study(
        "mlflow",
        kind,
        items,
        labels,
        f"MLflow traces ({source.name})\nImported from MLflow: feedback {name!r}; HUMAN sources are the human raters, "
        "LLM_JUDGE and CODE sources the judges.",
        source=source,
    )


def _traces(path: Path) -> list[Record]:
    """The traces of a file, each a :class:`Record` of its ``info`` (or its flat row)."""
    if path.suffix.lower() == ".jsonl":
        documents = list(records(path))
    else:
        document = read_json(path)
        documents = object_records(document if isinstance(document, list) else [document], path, "trace")
    out = []
    for document in documents:
        info = document.get("info", document)
        if not isinstance(info, dict):
            raise document.error(f"is a {type(info).__name__}; expected an object", "info")
        out.append(Record(info, path, document.row))
    return out


def _assessments(trace: Record) -> list[dict]:
    assessments = trace.get("assessments") or []
    if isinstance(assessments, str):  # a flat row saved as CSV keeps the list as JSON text
        assessments = json.loads(assessments)
    if not isinstance(assessments, list) or not all(isinstance(a, dict) for a in assessments):
        raise trace.error("is not a list of assessment objects", "assessments")
    return assessments


def _name(feedback: list[tuple[Record, dict]], field: str | None, source: Path) -> str:
    names = list(dict.fromkeys(str(a.get("assessment_name")) for _, a in feedback))
    human = [str(a.get("assessment_name")) for _, a in feedback if _source(a)[0] == "HUMAN"]
    return choose_field(
        names,
        field,
        human[0] if human else None,
        source=source,
        what="feedback named",
        column="assessment_name",
    )


def _source(assessment: dict) -> tuple[str, str | None]:
    source = assessment.get("source") if isinstance(assessment.get("source"), dict) else {}
    return str(source.get("source_type") or "").upper(), source.get("source_id")


def _text(value: Any) -> Any:
    """A request or response as text: JSON decoded; an object with one text field -> that text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, dict) and len(value) == 1 and isinstance(next(iter(value.values())), str):
        return next(iter(value.values()))
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _item(trace: Record) -> dict:
    trace_id = str(trace.need("trace_id", str))
    metadata = trace.get("trace_metadata") if isinstance(trace.get("trace_metadata"), dict) else {}
    request = trace.get("request_preview", trace.get("request", metadata.get("mlflow.traceInputs")))
    response = trace.get("response_preview", trace.get("response", metadata.get("mlflow.traceOutputs")))
    expectations = {
        str(a.get("assessment_name")): (a.get("expectation") or {}).get("value")
        for a in _assessments(trace)
        if "expectation" in a
    }
    return {
        "item_id": trace_id,
        "prompt": _text(request),
        "response": _text(response),
        "meta": trace.meta(INFO_FIELDS, expectations=expectations or None),
        "_file": str(trace.path),
    }


def _value(value: Any, trace: Record) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return TRUTHS.get(value.strip().lower(), value.strip() or None)
    raise trace.error(
        f"holds a {type(value).__name__} feedback value; expected a number, true/false or text", "assessments"
    )


def _label(trace: Record, assessment: dict) -> dict:
    kind, source_id = _source(assessment)
    if kind == "HUMAN":
        judge, rater = "human", str(source_id or "0")
    else:
        judge, rater = str(source_id or kind.lower() or "feedback"), "0"
    feedback = assessment.get("feedback") if isinstance(assessment.get("feedback"), dict) else {}
    rest = {k: v for k, v in assessment.items() if k not in ("feedback", "rationale", "source", "trace_id")}
    if feedback.get("error"):
        rest["error"] = feedback["error"]
    row = {
        "item_id": str(trace["trace_id"]),
        "judge": judge,
        "rater": rater,
        "value": None,
        "raw": None if feedback.get("value") is None else json.dumps(feedback.get("value")),
        "reason": assessment.get("rationale"),
        "meta": json.dumps(rest, ensure_ascii=False, sort_keys=True) if rest else None,
    }
    if feedback.get("error"):
        return {**row, "exclusion": "error"}
    if assessment.get("valid") is False:
        return {**row, "exclusion": "overridden"}
    value = _value(feedback.get("value"), trace)
    return {**row, "value": value, "exclusion": "no value" if value is None else None}
