"""Batch files: the OpenAI Batch / vLLM ``run-batch`` input a run would send, and the results read back.

An input line is ``{"custom_id": KEY, "method": "POST", "url": URL, "body": BODY}`` with ``KEY`` the request's cache
key, so a result line (``{"custom_id": KEY, "response": {"status_code": 200, "body": {...}}}`` or one with an
``error``) is stored under the key of exactly the request it answers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from auditor.errors import InputError
from auditor.io import write_text
from judges.cache import JudgeCache
from judges.llm.planning import PlannedRequest

log = logging.getLogger(__name__)

CHAT_PATH = "/v1/chat/completions"


def write_requests(
    planned: Iterable[PlannedRequest], stored: set[str], path: Path, *, url: str = CHAT_PATH
) -> int:
    """Write the planned requests whose key is not in ``stored`` (each once) as batch input lines, atomically;
    return the number of lines."""
    lines: dict[str, str] = {}
    for p in planned:
        if not p.skip and p.key not in stored and p.key not in lines:
            lines[p.key] = json.dumps(
                {"custom_id": p.key, "method": "POST", "url": url, "body": p.body}, ensure_ascii=False
            )
    write_text(path, "".join(line + "\n" for line in lines.values()))
    return len(lines)


def read_results(path: Path, planned: Mapping[str, PlannedRequest], cache: JudgeCache) -> dict[str, str]:
    """Store the usable responses of a batch output file in ``cache``; return the errors (``key -> JSON``).

    Lines whose ``custom_id`` matches no planned request are counted: if none matches, an
    :class:`~auditor.errors.InputError` (the file belongs to other items or options), else a warning.
    """
    unknown = matched = 0
    errors: dict[str, str] = {}
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read the batch results: {exc.strerror}", file=str(path)) from exc
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not a JSON line: {exc.msg}", file=str(path), row=number) from exc
            key = str(record.get("custom_id", ""))
            if key not in planned:
                unknown += 1
                continue
            matched += 1
            response = record.get("response") or {}
            status = response.get("status_code")
            body = response.get("body")
            if isinstance(body, str):
                try:
                    body = json.loads(body)
                except json.JSONDecodeError:
                    body = None
            if status == 200 and isinstance(body, dict) and body.get("choices"):
                cache.put(key, planned[key].body, body, source="batch")
            else:
                error = record.get("error") or (body or {}).get("error") or {"status_code": status}
                errors[key] = json.dumps(error, ensure_ascii=False)[:500]
    if unknown and not matched:
        raise InputError(
            f"none of the {unknown} results matches a request of these items, task and options "
            "(custom_id is the cache key: same items, template, model and parameters are needed)",
            file=str(path),
        )
    if unknown:
        log.warning("%d lines of %s match no request of these items and were ignored", unknown, path)
    return errors
