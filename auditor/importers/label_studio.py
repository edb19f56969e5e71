"""Label Studio JSON exports (``Export -> JSON``: a list of tasks, or one task) as a categorical, Likert or pairwise
study.

Source: one export file (``.json``) or a folder of them.

Items (one per task): ``item_id`` = the task's ``id`` (a task without one, as in an import file, gets
``"<file stem>:<position>"``, 1-based); the task's ``data`` fields become item columns, a field named like a
contract column (``prompt``, ``response``, ``response_a``, ``response_b``, ``user_id``) filling that column (a
task without ``data`` is its own data, Label Studio's import convention); nested values are kept as JSON text;
the task's other fields (``created_at``, ``project``, ``meta``, ...) go to the item's ``meta``.

Labels: one row per annotation (``judge`` ``human``, ``rater`` = ``completed_by``'s id, or, in an export without
it, ``"annotator<k>"`` by its 1-based position in the task's list) and per prediction (``judge`` = its
``model_version``, ``"prediction"`` when it has none; ``rater`` ``"0"``).  The verdict is the result of one
control, the ``from_name`` given as ``field`` (``auditor convert label_studio SOURCE --field NAME``), by default
the first classification control found: ``choices`` -> ``label`` = the choice (several choices joined by ``,``),
task ``categorical``; ``rating`` -> ``label`` and ``score`` = the stars, task ``likert`` on 1..5 (1..10 when a
rating above 5 occurs), neutral the middle; ``pairwise`` -> ``selected`` ``left`` = ``a``, ``right`` = ``b``,
task ``pairwise``; ``number`` -> ``score``, task ``score``.  A cancelled annotation (``was_cancelled``) or one
without a result for the control keeps its row with ``label`` None and ``exclusion`` ``cancelled`` / ``no
result``.  The annotation's other fields (``lead_time``, ``created_at``, results of other controls, ...) go to
``meta``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from auditor.datasets import Study
from auditor.importers import Record, build_study, choose_field, object_records, read_json, source_files

KINDS = {"choices": "categorical", "rating": "likert", "pairwise": "pairwise", "number": "score"}
CONTRACT_DATA = ("prompt", "response", "response_a", "response_b", "user_id")
PAIRWISE_SIDES = {"left": "a", "right": "b"}


def load(source: Path, field: str | None = None) -> Study:
    """Import a Label Studio JSON export (file or folder); ``field`` is the control (``from_name``) to import."""
    tasks = [
        task
        for path in source_files(source, ("*.json",), "Label Studio exports (.json)")
        for task in _tasks(path)
    ]
    control, kind = _control(tasks, field, source)
    items: list[dict] = []
    labels: list[dict] = []
    for task in tasks:
        item_id = _item(task, items)
        for k, annotation in enumerate(_list(task, "annotations"), start=1):
            rater = _rater(annotation, k)
            labels.append(_label(annotation, item_id, "human", rater, control, kind))
        for prediction in _list(task, "predictions"):
            judge = str(prediction.get("model_version") or "prediction")
            labels.append(_label(prediction, item_id, judge, "0", control, kind))
    task_kind = KINDS[kind]
    scale = categories = None
    if task_kind == "likert":
        high = 10 if any((row.get("score") or 0) > 5 for row in labels) else 5
        scale = (1, high, (1 + high) // 2)
    if task_kind == "categorical":
        categories = tuple(dict.fromkeys(row["label"] for row in labels if row.get("label") is not None))
    return build_study(
        "label_studio",
        task_kind,
        items,
        labels,
        f"Label Studio export ({source.name})\nImported from Label Studio: control {control!r} ({kind}); annotations "
        "are the human raters, predictions the judges.",
        source=source,
        scale=scale,
        categories=categories,
    )


def _tasks(path: Path) -> list[Record]:
    document = read_json(path)
    return object_records([document] if isinstance(document, dict) else document, path, "task")


def _list(task: Record, key: str) -> list[Record]:
    values = task.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        raise task.error("is not a list of objects", key)
    return [Record(value, task.path, task.row) for value in values]


def _results(entry: Record) -> list[dict]:
    results = entry.get("result") or []
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise entry.error("is not a list of result objects", "result")
    return results


def _control(tasks: list[Record], field: str | None, source: Path) -> tuple[str, str]:
    """The control to import and its result type (the first classification control, or ``field``)."""
    found: dict[str, str] = {}
    for task in tasks:
        for entry in [*_list(task, "annotations"), *_list(task, "predictions")]:
            for result in _results(entry):
                if result.get("type") in KINDS and "from_name" in result:
                    found.setdefault(str(result["from_name"]), str(result["type"]))
    control = choose_field(
        list(found),
        field,
        None,
        source=source,
        what="classification control",
        column="from_name",
    )
    return control, found[control]


def _item(task: Record, items: list[dict]) -> str:
    item_id = str(task["id"]) if "id" in task else f"{task.path.stem}:{task.row}"
    data = (
        task.get("data")
        if "data" in task
        else {k: v for k, v in task.items() if k not in ("annotations", "predictions", "id")}
    )
    if not isinstance(data, dict):
        raise task.error(f"is a JSON {type(data).__name__}; expected an object", "data")
    item: dict[str, Any] = {"item_id": item_id, "_file": str(task.path)}
    for key, value in data.items():
        name = key if key in CONTRACT_DATA or key not in ("item_id", "meta", "_file") else f"data_{key}"
        item[name] = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else value
    if "data" in task:
        item["meta"] = task.meta(("id", "data", "annotations", "predictions"))
    items.append(item)
    return item_id


def _rater(annotation: Record, position: int) -> str:
    completed_by = annotation.get("completed_by")
    if isinstance(completed_by, dict):
        return str(completed_by.get("id", completed_by.get("email", f"annotator{position}")))
    return f"annotator{position}" if completed_by is None else str(completed_by)


def _label(entry: Record, item_id: str, judge: str, rater: str, control: str, kind: str) -> dict:
    mine = [r for r in _results(entry) if r.get("from_name") == control]
    others = [r for r in _results(entry) if r.get("from_name") != control]
    row: dict[str, Any] = {
        "item_id": item_id,
        "judge": judge,
        "rater": rater,
        "meta": entry.meta(("result", "model_version"), other_results=others or None),
    }
    if entry.get("was_cancelled"):
        return {**row, "exclusion": "cancelled"}
    if not mine:
        return {**row, "exclusion": "no result"}
    value = mine[0].get("value")
    if not isinstance(value, dict):
        raise entry.error(f"has no value object for control {control!r}", "result")
    if kind == "choices":
        choices = value.get("choices")
        if not isinstance(choices, list) or not choices:
            raise entry.error(f"has no choices for control {control!r}", "result")
        return {
            **row,
            "label": ",".join(str(c) for c in choices),
            "raw": json.dumps(choices, ensure_ascii=False),
        }
    if kind == "pairwise":
        selected = value.get("selected")
        if selected not in PAIRWISE_SIDES:
            raise entry.error(f"selects {selected!r}; expected left or right", "result")
        return {**row, "label": PAIRWISE_SIDES[selected], "raw": selected}
    number = value.get(kind)
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise entry.error(f"has {kind} {number!r}; expected a number", "result")
    label = str(int(number)) if kind == "rating" else None
    return {**row, "label": label, "score": float(number), "raw": str(number)}
