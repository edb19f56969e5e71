"""Inspect AI eval logs (``.eval`` archives and ``.json`` logs) as a binary, score or categorical study, joined with
human labels by sample id.

Source: one log or a folder of logs (``*.eval``, ``*.json``).  Human labels come in a separate table given as
``human`` (``auditor convert inspect_ai LOGS --human FILE``; CSV, TSV, JSONL, JSON or Parquet) with the columns
``id`` (the Inspect sample id; ``sample_id`` works too), ``label`` (``value`` or ``score`` work too), optional
``rater`` (default ``"0"``), optional ``epoch`` and ``model`` (without them a label applies to every epoch of the
sample, and to every log's output of it: give ``model`` when the logs are of several models).

Items (one per sample and epoch of each log): ``item_id`` = the sample id, with ``/epoch<k>`` appended when a log
has more than one epoch and ``<model>/`` put in front when several logs are read; ``prompt`` = the sample's
``input`` (a chat input: the text of its last user message); ``response`` = the text of the output's first
choice; ``sample_id``, ``epoch``, ``model``, ``task`` and ``target`` as columns; the sample's ``metadata`` and
other fields (``store``, ``error``, ...; ``events``, ``messages`` and attachments are left out, being the
transcript) go to the item's ``meta``.

Labels: one row per score of each sample (``scores``; ``score`` in version-1 logs): ``judge`` = the scorer's
name (``model_graded_qa``, ``match``, ...; a dict value gives one judge per key, ``<scorer>/<key>``), ``rater``
``"0"``, ``reason`` = the score's ``explanation``, the rest (``answer``, ``metadata``, ``history``) in ``meta``.
Values follow Inspect's own reading (``value_to_float``): ``C`` (correct) = 1, ``I`` (incorrect) = 0, ``P``
(partial) = 0.5, ``N`` (no answer) = 0, true / false = 1 / 0, numbers as they are.  When every value is 0 or 1
the task is ``binary`` (``label`` ``"1"`` / ``"0"``, ``score`` the same number), else when every value is a number
it is ``score`` (``label`` empty, ``score`` the number), else ``categorical`` (``label`` = the value as text).
Human labels are read the same way.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from auditor.datasets import Study
from auditor.errors import InputError
from auditor.importers import (
    Record,
    build_study,
    object_records,
    read_json,
    settle_values,
    source_files,
    text_id,
)
from auditor.io import is_missing, read_table

LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
ZSTD = 93  # the zip compression method of zstd
TRANSCRIPT = (
    "events",
    "messages",
    "attachments",
    "input",
    "output",
    "scores",
    "score",
    "target",
    "id",
    "epoch",
)


def load(source: Path, human: Path | None = None) -> Study:
    """Import Inspect logs (file or folder) and, if given, a table of human labels joined by sample id."""
    logs = source_files(source, ("*.eval", "*.json"), "Inspect logs (.eval, .json)")
    items: list[dict] = []
    labels: list[dict] = []
    for path in logs:
        header, samples = _read_log(path)
        model = str((header.get("eval") or {}).get("model", ""))
        task = str((header.get("eval") or {}).get("task", ""))
        epochs = {sample.get("epoch", 1) for sample in samples}
        for sample in samples:
            item = _item(sample, model, task, several_logs=len(logs) > 1, several_epochs=len(epochs) > 1)
            items.append(item)
            labels.extend(_scores(sample, item["item_id"]))
    if human is not None:
        labels.extend(_human(human, items))
    task_kind = settle_values(labels)
    return build_study(
        "inspect_ai",
        task_kind,
        items,
        labels,
        f"Inspect AI eval logs ({source.name})\nImported from Inspect: each scorer is a judge; C = 1, I = 0, P = 0.5, "
        "N = 0" + ("; human labels joined by sample id." if human is not None else "."),
        source=source,
    )


def _read_log(path: Path) -> tuple[dict, list[Record]]:
    """The log's header (``eval``, ``results``, ...) and its samples, each a :class:`Record` (row: its position)."""
    if path.suffix.lower() == ".eval":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                header_name = next((n for n in ("header.json", "_journal/start.json") if n in names), None)
                header = _member(path, archive, header_name) if header_name else {}
                sample_names = sorted(n for n in names if n.startswith("samples/") and n.endswith(".json"))
                documents = [_member(path, archive, name) for name in sample_names]
        except (zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, OSError) as exc:
            raise InputError(f"is not a readable Inspect .eval archive ({exc})", file=str(path)) from None
    else:
        header = read_json(path)
        if not isinstance(header, dict) or "eval" not in header:
            raise InputError("is not an Inspect log (no 'eval' section)", file=str(path), column="eval")
        documents = header.get("samples") or []
    return header, object_records(documents, path, "sample", "samples")


def _member(path: Path, archive: zipfile.ZipFile, name: str) -> Any:
    """One JSON member of a ``.eval`` archive.  Inspect writes its members zstd-compressed (zip method 93), which
    Python's zipfile reads only from 3.14 on: those are decompressed with the ``zstandard`` package."""
    info = archive.getinfo(name)
    if info.compress_type != ZSTD:
        return json.loads(archive.read(name))
    try:
        import zstandard
    except ImportError:
        raise InputError(
            "is a zstd-compressed .eval archive; reading it needs the zstandard package (pip install zstandard), "
            "or convert it with `inspect log convert --to json`",
            file=str(path),
        ) from None
    with path.open(
        "rb"
    ) as handle:  # the member's raw bytes follow its 30-byte local header, name and extra field
        handle.seek(info.header_offset)
        local = handle.read(30)
        name_length, extra_length = (
            int.from_bytes(local[26:28], "little"),
            int.from_bytes(local[28:30], "little"),
        )
        handle.seek(info.header_offset + 30 + name_length + extra_length)
        data = handle.read(info.compress_size)
    return json.loads(zstandard.ZstdDecompressor().decompressobj().decompress(data))


def _text(content: Any) -> str | None:
    """The text of a message content: a string, or the ``text`` parts of a content list joined by blank lines."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        ]
        return "\n\n".join(parts)
    return json.dumps(content, ensure_ascii=False)


def _item(sample: Record, model: str, task: str, *, several_logs: bool, several_epochs: bool) -> dict:
    sample_id = sample.need("id", (str, int))
    epoch = sample.get("epoch", 1)
    item_id = str(sample_id) + (f"/epoch{epoch}" if several_epochs else "")
    if several_logs:
        item_id = f"{model}/{item_id}"
    prompt = sample.get("input")
    if isinstance(prompt, list):
        users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
        prompt = _text(users[-1].get("content")) if users else json.dumps(prompt, ensure_ascii=False)
    output = sample.get("output") if isinstance(sample.get("output"), dict) else {}
    choices = output.get("choices") or []
    message = choices[0].get("message") if choices and isinstance(choices[0], dict) else None
    target = sample.get("target")
    return {
        "item_id": item_id,
        "prompt": prompt,
        "response": _text(message.get("content")) if isinstance(message, dict) else None,
        "sample_id": str(sample_id),
        "epoch": epoch,
        "model": model,
        "task": task,
        "target": target
        if target is None or isinstance(target, str)
        else json.dumps(target, ensure_ascii=False),
        "meta": sample.meta(TRANSCRIPT),
        "_file": str(sample.path),
    }


def _value(value: Any, where: Record | None, field: str) -> float | str | None:
    """A score value read as Inspect reads it: C / I / P / N letters, booleans, numbers; other text stays text."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return None if value != value else float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.upper() in LETTERS:
            return LETTERS[text.upper()]
        try:
            return float(text)
        except ValueError:
            return text or None
    if value is None:
        return None
    message = f"is a {type(value).__name__}; expected a letter (C/I/P/N), a number or true/false"
    raise (where.error(message, field) if where is not None else InputError(message, column=field))


def _scores(sample: Record, item_id: str) -> list[dict]:
    scores = sample.get("scores")
    if scores is None and isinstance(sample.get("score"), dict):
        scores = {"score": sample["score"]}
    if not scores:
        return []
    if not isinstance(scores, dict):
        raise sample.error(f"is a {type(scores).__name__}; expected an object of scores", "scores")
    rows = []
    for scorer, score in scores.items():
        if not isinstance(score, dict) or "value" not in score:
            raise sample.error(f"holds a score without a value for scorer {scorer!r}", "scores")
        values = score["value"] if isinstance(score["value"], dict) else {None: score["value"]}
        rest = {k: v for k, v in score.items() if k not in ("value", "explanation")}
        for key, raw in values.items():
            judge = scorer if key is None else f"{scorer}/{key}"
            rows.append(
                {
                    "item_id": item_id,
                    "judge": judge,
                    "rater": "0",
                    "value": _value(raw, sample, f"scores.{judge}.value"),
                    "raw": None if raw is None else str(raw),
                    "reason": score.get("explanation"),
                    "meta": json.dumps(rest, ensure_ascii=False, sort_keys=True, default=str)
                    if rest
                    else None,
                }
            )
    return rows


def _human(path: Path, items: list[dict]) -> list[dict]:
    """Human label rows from ``path``, one per matching item (by sample id, and epoch when given)."""
    table = read_table(path)
    columns = set(table.columns)
    id_column = next((c for c in ("id", "sample_id") if c in columns), None)
    label_column = next((c for c in ("label", "value", "score") if c in columns), None)
    if id_column is None or label_column is None:
        missing = "id" if id_column is None else "label"
        raise InputError(
            f"has no {missing!r} column (found {', '.join(sorted(map(str, columns - {'__row__'})))})",
            file=str(path),
            column=missing,
        )
    by_sample: dict[str, list[dict]] = {}
    for item in items:
        by_sample.setdefault(item["sample_id"], []).append(item)
    rows = []
    for record in table.to_dict("records"):
        row = int(record.pop("__row__"))
        sample_id = text_id(record[id_column])
        matches = by_sample.get(sample_id)
        if not matches:
            raise InputError(
                f"sample id {sample_id!r} is in no log", file=str(path), row=row, column=id_column
            )
        for column in ("epoch", "model"):  # optional narrowing: one epoch, one log's model
            if column in columns and not is_missing(record.get(column)):
                matches = [item for item in matches if str(item[column]) == text_id(record[column])]
        if not matches:
            raise InputError(
                f"sample {sample_id!r} has no output with that epoch / model",
                file=str(path),
                row=row,
                column=id_column,
            )
        raw = record[label_column]
        try:
            value = None if is_missing(raw) else _value(raw, None, label_column)
        except InputError as exc:
            raise InputError(exc.detail, file=str(path), row=row, column=label_column) from None
        rater = record.get("rater")
        for item in matches:
            rows.append(
                {
                    "item_id": item["item_id"],
                    "judge": "human",
                    "rater": "0" if rater is None or is_missing(rater) else text_id(rater),
                    "value": value,
                    "raw": None if value is None else str(raw),
                    "exclusion": "no label" if value is None else None,
                }
            )
    return rows
