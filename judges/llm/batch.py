"""Batch files: the OpenAI Batch / vLLM ``run-batch`` input a run would send, and the results read back.

An input line is ``{"custom_id": KEY, "method": "POST", "url": URL, "body": BODY}`` with ``KEY`` the request's cache
key, so a result line (``{"custom_id": KEY, "response": {"status_code": 200, "body": {...}}}`` or one with an
``error``) is stored under the key of exactly the request it answers.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditor.errors import InputError
from auditor.io import write_text
from judges.cache import JudgeCache
from judges.llm.planning import PlannedRequest

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

CHAT_PATH = "/v1/chat/completions"


def request_lines(planned: Iterable[PlannedRequest], stored: set[str], *, url: str = CHAT_PATH) -> list[str]:
    """The batch input lines (each ending in a newline) of the planned requests whose key is not in ``stored``,
    each key once, in plan order."""
    lines: dict[str, str] = {}
    for p in planned:
        if not p.skip and p.key not in stored and p.key not in lines:
            lines[p.key] = (
                json.dumps(
                    {"custom_id": p.key, "method": "POST", "url": url, "body": p.body}, ensure_ascii=False
                )
                + "\n"
            )
    return list(lines.values())


def write_requests(
    planned: Iterable[PlannedRequest], stored: set[str], path: Path, *, url: str = CHAT_PATH
) -> int:
    """Write :func:`request_lines` to ``path``, atomically; return the number of lines."""
    lines = request_lines(planned, stored, url=url)
    write_text(path, "".join(lines))
    return len(lines)


def unanswered(labels: pd.DataFrame) -> Counter[str]:
    """The requests of a labels table without an answer, by exclusion reason (each request once; rows without a
    request, e.g. an item missing a response, are not requests)."""
    rows = labels.loc[
        labels["request_key"].notna() & labels["exclusion"].notna(), ["request_key", "exclusion"]
    ]
    return Counter(rows.drop_duplicates("request_key")["exclusion"])


def counted(reasons: Counter[str]) -> str:
    """``reason count, ...``, the most frequent first."""
    return ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())


#: Responses stored in one transaction while a results file is read.
STORE_EVERY = 2_000


@dataclass
class BatchResults:
    """What a batch results file held: the errors of the requests it answers with one (``key -> JSON``), and the
    lines it could not use: ``unknown`` (a ``custom_id`` of no planned request) and ``malformed`` (not a JSON
    object with a ``custom_id``)."""

    errors: dict[str, str] = field(default_factory=dict)
    stored: int = 0
    unknown: int = 0
    malformed: int = 0


def read_results(path: Path, planned: Mapping[str, PlannedRequest], cache: JudgeCache) -> BatchResults:
    """Store the usable responses of a batch output file in ``cache`` (:func:`read_result_lines`, strict: a line
    that is not JSON is an :class:`~auditor.errors.InputError` naming the file and row)."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the batch results: {exc.strerror}", file=str(path)) from exc
    with handle:
        return read_result_lines(handle, str(path), planned, cache, strict=True)


def read_result_lines(
    lines: Iterable[str],
    source: str,
    planned: Mapping[str, PlannedRequest],
    cache: JudgeCache,
    *,
    strict: bool,
    redact: Callable[[Any], Any] | None = None,
    into: BatchResults | None = None,
) -> BatchResults:
    """Store the usable responses of batch result lines (``source`` names them in messages) in ``cache``.

    A line ``{"custom_id": KEY, "response": {"status_code": 200, "body": ANSWER}}`` whose answer has choices is
    stored under ``KEY`` (``redact`` applied to the answer first); any other line of a planned request records its
    ``error`` (or the body's, or the status).  A line that is not a JSON object with a ``custom_id`` is an
    :class:`~auditor.errors.InputError` naming ``source`` and the row when ``strict``, else counted in
    ``malformed``.  Lines whose ``custom_id`` matches no planned request are counted: if none of a file's lines
    matches, an :class:`~auditor.errors.InputError` (the file belongs to other items or options), else a warning.
    Results accumulate in ``into`` when given (the files of several batches).
    """
    results = into if into is not None else BatchResults()
    unknown_before, matched = results.unknown, 0
    pending: list[tuple[str, dict[str, Any], dict[str, Any], float | None]] = []

    def store() -> None:
        results.stored += len(cache.put_many(pending, source="batch"))
        pending.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            problem = None if isinstance(record, dict) and "custom_id" in record else "no custom_id"
        except (json.JSONDecodeError, RecursionError) as exc:
            record, problem = None, getattr(exc, "msg", "nested too deep")
        if problem is not None:
            if strict:
                raise InputError(f"not a batch result line ({problem})", file=source, row=number)
            results.malformed += 1
            continue
        key = str(record["custom_id"])
        if key not in planned:
            results.unknown += 1
            continue
        matched += 1
        response = record.get("response")
        response = response if isinstance(response, dict) else {}
        status = response.get("status_code")
        body = response.get("body")
        if isinstance(body, str):
            try:
                body = json.loads(body)
            except json.JSONDecodeError:
                body = None
        if status == 200 and isinstance(body, dict) and body.get("choices"):
            pending.append((key, planned[key].body, redact(body) if redact else body, None))
            if len(pending) >= STORE_EVERY:
                store()
            results.errors.pop(key, None)
        elif key not in results.errors:
            error = record.get("error") or (body.get("error") if isinstance(body, dict) else None)
            error = error or {"status_code": status}
            text = json.dumps(error, ensure_ascii=False)
            results.errors[key] = redact(text)[:500] if redact else text[:500]
    store()
    unknown = results.unknown - unknown_before
    if unknown and not matched:
        raise InputError(
            f"none of the {unknown} results matches a request of these items, task and options "
            "(custom_id is the cache key: same items, template, model and parameters are needed)",
            file=source,
        )
    if unknown:
        log.warning("%d lines of %s match no request of these items and were ignored", unknown, source)
    return results
