"""Importers: the files that evaluation and annotation tools write, turned into the data contract.

``auditor convert KIND SOURCE --out DIR`` writes ``items.jsonl``, ``labels.jsonl`` and ``audit.toml`` from a tool's
own output, the same :class:`~auditor.datasets.Study` the public-dataset loaders return.  ``SOURCE`` is one file
or a folder (every file of the tool's kind under it, in sorted order).  Each module documents which of the tool's
fields become which contract column; every field it does not map is kept: item-level fields as extra item
columns, everything else of a record in the labels' ``meta`` column (the record's other fields as JSON text).

A malformed file is an :class:`~auditor.errors.InputError` naming the file, the record (``row``: the 1-based line
of a JSONL file, the 1-based position of a record in a JSON array or list) and the field, so the command line
prints one line and exits with code 2.

Modules
-------
alpaca_eval
    AlpacaEval ``annotations.json``: the ``preference`` of each annotator (1 / 2, fractional for weighted ones).
mt_bench
    FastChat MT-Bench pairwise judgments (``g1_winner`` / ``g2_winner``, both orders) and human judgments.
label_studio
    Label Studio JSON exports: annotations (human raters) and predictions (judges) of one control.
argilla
    Argilla ``records.json``: responses (one human rater per user) and suggestions (one judge per agent).
promptfoo
    promptfoo eval results: each graded assertion (``llm-rubric``, ...) a judge, the viewer's ratings human.
inspect_ai
    Inspect AI eval logs: each scorer a judge; human labels from a separate table, joined by sample id.
mlflow
    MLflow traces: feedback assessments of one name, HUMAN sources the raters, LLM_JUDGE / CODE the judges.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from auditor.datasets import Study, labels_frame
from auditor.errors import InputError
from auditor.io import ROW, is_missing, json_safe, read_table

__all__ = [
    "IMPORTERS",
    "FIELD_KINDS",
    "HUMAN_KINDS",
    "load",
    "Record",
    "records",
    "read_json",
    "source_files",
    "object_records",
    "choose_field",
    "stable_id",
    "build_study",
    "text_id",
    "settle_values",
]

IMPORTERS: dict[str, str] = {
    # kind (= the module's name under auditor.importers): what it reads, in the order README lists them
    "alpaca_eval": "AlpacaEval annotations.json (preference per annotator)",
    "mt_bench": "FastChat MT-Bench pairwise judgments, both orders, and human ones",
    "label_studio": "Label Studio JSON export (annotations, predictions)",
    "argilla": "Argilla records.json (responses per user, suggestions per agent)",
    "promptfoo": "promptfoo eval results (each graded assertion a judge)",
    "inspect_ai": "Inspect AI eval logs, .eval or .json (each scorer a judge; human labels joined by sample id)",
    "mlflow": "MLflow traces with feedback assessments (HUMAN sources the raters, LLM_JUDGE / CODE the judges)",
}
"""Every importer by kind; :func:`load` dispatches on it (module ``auditor.importers.<kind>``, whose
``load(source) -> Study`` reads the files)."""

#: The importers whose files can hold several label fields, and what ``field`` names there.
FIELD_KINDS: dict[str, str] = {
    "label_studio": "the control (from_name)",
    "argilla": "the question's name",
    "mlflow": "the assessment name",
}
#: The importers whose tool keeps no human labels of its own: a table of them is joined in (``human``).
HUMAN_KINDS: dict[str, str] = {"inspect_ai": "by sample id"}


def load(kind: str, source: str | Path, field: str | None = None, human: str | Path | None = None) -> Study:
    """Import ``source`` (a file or a folder) written by tool ``kind`` (see :data:`IMPORTERS`); ``field`` picks
    which of several label fields to import (:data:`FIELD_KINDS`); ``human`` is a table of human labels to join
    in (:data:`HUMAN_KINDS`)."""
    import importlib

    if kind not in IMPORTERS:
        raise InputError(f"unknown importer {kind!r}; expected one of {', '.join(IMPORTERS)}", column="KIND")
    source = Path(source)
    if not source.exists():
        raise InputError("does not exist", file=str(source))
    options: dict[str, Any] = {}
    for name, value, kinds in (("field", field, FIELD_KINDS), ("human", human, HUMAN_KINDS)):
        if value is None:
            continue
        if kind not in kinds:
            raise InputError(
                f"{kind} does not take --{name}; it is for {', '.join(kinds)}", column=f"--{name}"
            )
        options[name] = Path(value) if name == "human" else value
    return importlib.import_module(f"auditor.importers.{kind}").load(source, **options)


class Record(dict):
    """One record of a tool's file, with where it came from (``path``, ``row``) for error messages."""

    def __init__(self, data: dict, path: Path, row: int) -> None:
        super().__init__(data)
        self.path = path
        self.row = row

    def error(self, message: str, field: str | None = None) -> InputError:
        return InputError(message, file=str(self.path), row=self.row, column=field)

    def need(self, field: str, kind: type | tuple[type, ...] | None = None) -> Any:
        """The value of ``field``; a missing value, or one not of ``kind``, is an :class:`InputError`."""
        value = self.get(field)
        if value is None or (not isinstance(value, list | dict) and is_missing(value, blank=False)):
            raise self.error("is missing", field)
        if kind is not None and (
            not isinstance(value, kind) or isinstance(value, bool) and bool not in _tuple(kind)
        ):
            names = " or ".join(k.__name__ for k in _tuple(kind))
            raise self.error(f"is a {type(value).__name__} ({_short(value)}); expected {names}", field)
        return value

    def meta(self, used: set[str] | frozenset[str] | tuple[str, ...], **extra: Any) -> str | None:
        """The record's fields not in ``used`` (and ``extra``) as JSON text (None when there are none)."""
        rest = {key: value for key, value in self.items() if key not in used and not _absent(value)}
        rest.update({key: value for key, value in extra.items() if not _absent(value)})
        return json.dumps(json_safe(rest), ensure_ascii=False, sort_keys=True) if rest else None


def _tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _short(value: Any) -> str:
    text = json.dumps(json_safe(value), ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _absent(value: Any) -> bool:
    return not isinstance(value, list | dict) and is_missing(value, blank=False)


def records(path: Path) -> Iterator[Record]:
    """The records of a JSON array or JSON-lines file (read by :func:`auditor.io.read_table`), fields absent from a
    record left out and integers kept integers."""
    frame = read_table(path)
    for column in frame.columns:  # pandas turns a column of integers with a gap into floats: undo that
        values = frame[column]
        if values.dtype.kind == "f" and values.isna().any() and (values.dropna() % 1 == 0).all():
            restored = [None if v != v else int(v) for v in values.tolist()]
            frame[column] = pd.Series(restored, index=frame.index, dtype=object)
    for data in frame.to_dict("records"):
        row = int(data.pop(ROW))
        yield Record({k: v for k, v in data.items() if not _absent(v)}, path, row)


def read_json(path: Path) -> Any:
    """A whole JSON document; invalid JSON is an :class:`InputError` naming the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("is not valid UTF-8; save the file as UTF-8", file=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"is not valid JSON ({exc.msg})", file=str(path), row=exc.lineno) from None


def object_records(values: Any, path: Path, what: str, field: str | None = None) -> list[Record]:
    """``values`` (a JSON list, as read from ``path``) as :class:`Record` objects, row = the 1-based position;
    anything but a list of objects is an :class:`InputError` naming the entry (``what``: e.g. ``"task"``)."""
    if not isinstance(values, list):
        raise InputError(
            f"is a JSON {type(values).__name__}; expected a list of {what}s", file=str(path), column=field
        )
    out = []
    for row, value in enumerate(values, start=1):
        if not isinstance(value, dict):
            raise InputError(
                f"is a JSON {type(value).__name__}; expected a {what} object",
                file=str(path),
                row=row,
                column=field,
            )
        out.append(Record(value, path, row))
    return out


def choose_field(
    found: list[str], field: str | None, default: str | None, *, source: Path, what: str, column: str
) -> str:
    """The label field to import: ``field`` if given (it must be among ``found``), else ``default``, else the
    first of ``found``; none found is an :class:`InputError` (``what`` names them, e.g. ``"control"``)."""
    if field is not None:
        if field not in found:
            listed = ", ".join(found) or "none"
            raise InputError(f"has no {what} {field!r}; found {listed}", file=str(source), column=column)
        return field
    if not found:
        raise InputError(f"holds no {what}", file=str(source), column=column)
    return default if default is not None else found[0]


def source_files(source: Path, patterns: tuple[str, ...], what: str) -> list[Path]:
    """``source`` itself, or the files under the folder ``source`` matching one of ``patterns``, sorted."""
    if source.is_file():
        return [source]
    found = sorted({path for pattern in patterns for path in source.rglob(pattern) if path.is_file()})
    if not found:
        raise InputError(f"holds no {what} ({', '.join(patterns)})", file=str(source))
    return found


def stable_id(*parts: object) -> str:
    """A short id that is the same for the same parts in every file and run: the first 12 hex digits of the
    SHA-1 of the parts joined by NUL."""
    text = "\0".join("" if part is None else str(part) for part in parts)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def build_study(
    name: str,
    task: str,
    items: list[dict],
    labels: list[dict],
    description: str,
    *,
    source: Path,
    scale: tuple[int, int, int] | None = None,
    categories: tuple[str, ...] | None = None,
) -> Study:
    """A :class:`Study` from item rows (the first row of an ``item_id`` wins; later ones must agree on the
    contract's text columns) and label rows; no label rows is an :class:`InputError`."""
    if not labels:
        raise InputError("holds no verdicts to import", file=str(source))
    first: dict[str, dict] = {}
    for row in items:
        kept = first.setdefault(row["item_id"], row)
        for key in ("prompt", "response_a", "response_b", "response"):
            if kept is not row and key in row and kept.get(key) != row.get(key):
                raise InputError(
                    f"item {row['item_id']!r} has two different values of {key!r}",
                    file=str(row.get("_file", source)),
                    column=key,
                )
    item_frame = pd.DataFrame([{k: v for k, v in row.items() if k != "_file"} for row in first.values()])
    return Study(
        name=name,
        task=task,
        items=item_frame,
        labels=labels_frame(labels),
        scale=scale,
        categories=categories,
        description=description,
    )


def text_id(value: Any) -> str:
    """An id or a value as text: ``3.0`` (a number read from a CSV) -> ``"3"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def settle_values(labels: list[dict]) -> str:
    """The task kind of label rows holding a ``value`` (a float, a text or None), and each row's ``label`` and
    ``score`` from it (``value`` is removed): every value 0 or 1 -> ``binary`` (``label`` ``"1"`` / ``"0"``,
    ``score`` the number); every value a number -> ``score`` (``score`` only); else ``categorical`` (``label`` =
    the value as text, a number written as :func:`text_id` writes it)."""
    values = [row["value"] for row in labels if row["value"] is not None]
    numeric = all(isinstance(v, float) for v in values)
    kind = "categorical" if not numeric else ("binary" if all(v in (0.0, 1.0) for v in values) else "score")
    for row in labels:
        value = row.pop("value")
        if value is None:
            continue
        if kind == "binary":
            row["label"], row["score"] = str(int(value)), float(value)
        elif kind == "score":
            row["score"] = value
        else:
            row["label"] = text_id(value)
    return kind
