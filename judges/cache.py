"""A SQLite cache of judge responses, keyed by a hash of the full request.

The key (:func:`request_key`) is the SHA-256 of the canonical JSON of the endpoint, the request body (model,
messages, temperature, seed, max tokens, logprobs, response format, extra fields), the template id and the sample
index.  The API key is never part of it and never stored.

Each response is committed as soon as it arrives (responses that arrive together share one commit), in WAL mode,
so a run killed at any point (Ctrl-C or ``kill -9``) loses at most the requests in flight; a rerun finds every
stored verdict and asks only for the rest.  Only usable responses (a 200 with at least one choice) are stored: a
failed request is retried by the next run.

Two derived tables make a fully cached rerun fast; both are pure caches of deterministic functions, written after
the responses they refer to, so losing them (a crash before their commit) only costs speed:

- ``plans``: *plan key* -> request key.  The plan key hashes everything that determines a request body (the
  judge's fingerprint: template content, verdict mode, model, request options, profile view and place, response
  cut, the source of the rendering code; then the item's whole row, the order and the sample), so a rerun finds
  the request key without rendering the prompt; any change of an input changes the plan key (a miss: render).
- ``verdicts``: (request key, parser key) -> the parsed verdict fields, token counts and latency, so a rerun does
  not decode and parse the stored response again.  Read only together with the response's key in ``responses``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key       TEXT PRIMARY KEY,
    request   TEXT NOT NULL,
    response  TEXT NOT NULL,
    latency_s REAL,
    source    TEXT NOT NULL DEFAULT 'api',
    created   REAL NOT NULL
)
"""
PLANS_SCHEMA = """
CREATE TABLE IF NOT EXISTS plans (
    plan_key    TEXT PRIMARY KEY,
    request_key TEXT NOT NULL
) WITHOUT ROWID
"""
#: Columns without a declared type keep every value exactly as stored (no affinity conversions).
VERDICTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT NOT NULL,
    parser TEXT NOT NULL,
    label, score, probabilities, verdict_source, exclusion, verdict_mass, raw, prompt_tokens, completion_tokens,
    latency_s,
    PRIMARY KEY (key, parser)
) WITHOUT ROWID
"""
#: The fields of a ``verdicts`` row after its key and parser key, in column order.
PARSED_FIELDS = (
    "label", "score", "probabilities", "verdict_source", "exclusion", "verdict_mass", "raw", "prompt_tokens",
    "completion_tokens", "latency_s",
)  # fmt: skip


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def request_key(*, endpoint: str, body: dict[str, Any], template: str, sample: int = 0) -> str:
    """The cache key of one request: SHA-256 over endpoint, body, template id and sample index."""
    material = {"endpoint": endpoint.rstrip("/"), "body": body, "template": template, "sample": sample}
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


_INSERT = "INSERT OR IGNORE INTO responses (key, request, response, latency_s, source, created) VALUES (?, ?, ?, ?, ?, ?)"
#: Keys per ``SELECT ... WHERE key IN (...)`` (SQLite allows 32,766 bound parameters since 3.32, 999 before).
_CHUNK = 900


@dataclass(frozen=True)
class CachedResponse:
    """One stored response; ``request`` is None when it was read with ``get_many(..., with_request=False)``."""

    key: str
    request: dict[str, Any] | None
    response: dict[str, Any]
    latency_s: float | None
    source: str


class JudgeCache:
    """Stored responses in one SQLite file (``":memory:"`` for a cache that lives only as long as the object).

    Safe to share between the threads of one process; several processes may use the same file (WAL, busy
    timeout), the first stored response for a key wins.
    """

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        self._conn.execute("PRAGMA busy_timeout=30000")
        # Reads of a large cache (a rerun looks up every key at random) stay in memory: a page cache of up to
        # 64 MiB (filled only as pages are read) and memory-mapped reads; writes and commits are unchanged.
        self._conn.execute("PRAGMA cache_size=-65536")
        if self.path != ":memory:":
            self._conn.execute("PRAGMA mmap_size=1073741824")
        self._conn.execute(SCHEMA)
        self._conn.execute(PLANS_SCHEMA)
        self._conn.execute(VERDICTS_SCHEMA)

    def get(self, key: str) -> CachedResponse | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT key, request, response, latency_s, source FROM responses WHERE key = ?", (key,)
            ).fetchone()
        return None if row is None else self._row(row)

    def get_many(self, keys: Iterable[str], *, with_request: bool = True) -> dict[str, CachedResponse]:
        """The stored responses of ``keys`` (absent keys are left out), read in bulk.

        ``with_request=False`` leaves the stored request unread (``request`` is None): a caller that holds the
        request bodies already (the judge, whose keys are hashes of them) saves decoding each one again.
        """
        keys = list(dict.fromkeys(keys))
        columns = (
            "key, request, response, latency_s, source"
            if with_request
            else "key, response, latency_s, source"
        )
        loads = json.loads
        found: dict[str, CachedResponse] = {}
        for rows in self._select_in(f"SELECT {columns} FROM responses WHERE key IN ({{marks}})", keys):
            if with_request:
                for key, request, response, latency_s, source in rows:
                    found[key] = CachedResponse(key, loads(request), loads(response), latency_s, source)
            else:
                for key, response, latency_s, source in rows:
                    found[key] = CachedResponse(key, None, loads(response), latency_s, source)
        return found

    def put(
        self,
        key: str,
        request: dict[str, Any],
        response: dict[str, Any],
        *,
        latency_s: float | None = None,
        source: str = "api",
    ) -> None:
        """Store (and commit) one response; an existing entry for ``key`` is kept."""
        with self._lock:
            self._conn.execute(
                _INSERT,
                (key, canonical_json(request), canonical_json(response), latency_s, source, time.time()),
            )

    def put_many(
        self,
        entries: Iterable[tuple[str, dict[str, Any], dict[str, Any], float | None]],
        *,
        source: str = "api",
    ) -> set[str]:
        """Store ``(key, request, response, latency_s)`` entries and commit them in one transaction (existing
        entries are kept): one commit for responses that arrived together instead of one commit each.  Returns the
        keys stored (not those the cache held already)."""
        now = time.time()
        records = [
            (key, canonical_json(request), canonical_json(response), latency_s, source, now)
            for key, request, response, latency_s in entries
        ]
        stored: set[str] = set()
        if not records:
            return stored
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for record in records:
                    if self._conn.execute(_INSERT, record).rowcount:
                        stored.add(record[0])
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return stored

    def _select_in(self, sql: str, keys: list[str], params: tuple[Any, ...] = ()) -> Iterator[list[Any]]:
        """The rows of ``sql`` (with ``{marks}`` for the placeholders of ``IN (...)``, after ``params``) for
        ``keys``, a list of rows per chunk of :data:`_CHUNK` keys (SQLite's limit on host parameters)."""
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                yield self._conn.execute(
                    sql.format(marks=",".join("?" * len(chunk))), [*params, *chunk]
                ).fetchall()

    def _insert_many(self, sql: str, records: list[tuple[Any, ...]]) -> None:
        if not records:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(sql, records)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- derived tables (see the module docstring) -----------------------------------------------------------
    def get_plans(self, plan_keys: Iterable[str]) -> dict[str, str]:
        """The request keys stored for ``plan_keys`` (absent plan keys are left out)."""
        keys = list(dict.fromkeys(plan_keys))
        found: dict[str, str] = {}
        for rows in self._select_in(
            "SELECT plan_key, request_key FROM plans WHERE plan_key IN ({marks})", keys
        ):
            found.update(rows)
        return found

    def get_planned(self, plan_keys: Iterable[str], parser: str) -> dict[str, tuple[str, tuple[Any, ...]]]:
        """``plan key -> (request key, parsed fields)`` for the plan keys whose request key has a stored response
        and parsed fields stored under ``parser`` (one query for what :meth:`get_plans` and :meth:`get_parsed`
        give)."""
        keys = sorted(set(plan_keys))  # in key order: each chunk reads neighbouring pages
        found: dict[str, tuple[str, tuple[Any, ...]]] = {}
        columns = ", ".join(f"v.{c}" for c in PARSED_FIELDS)
        sql = (
            f"SELECT p.plan_key, p.request_key, {columns} FROM plans AS p "
            "JOIN verdicts AS v ON v.key = p.request_key AND v.parser = ? "
            "JOIN responses AS r ON r.key = p.request_key WHERE p.plan_key IN ({marks})"
        )
        for rows in self._select_in(sql, keys, (parser,)):
            for row in rows:
                found[row[0]] = (row[1], row[2:])
        return found

    def put_plans(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Store ``(plan key, request key)`` pairs in one transaction (existing pairs are kept)."""
        self._insert_many("INSERT OR IGNORE INTO plans (plan_key, request_key) VALUES (?, ?)", list(pairs))

    def get_parsed(self, keys: Iterable[str], parser: str) -> dict[str, tuple[Any, ...]]:
        """The parsed fields (:data:`PARSED_FIELDS`) stored for ``keys`` under ``parser``, only for keys whose
        response is stored too."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, tuple[Any, ...]] = {}
        columns = ", ".join(f"v.{c}" for c in PARSED_FIELDS)
        sql = (
            f"SELECT v.key, {columns} FROM verdicts AS v JOIN responses AS r ON r.key = v.key "
            "WHERE v.parser = ? AND v.key IN ({marks})"
        )
        for rows in self._select_in(sql, keys, (parser,)):
            for row in rows:
                found[row[0]] = row[1:]
        return found

    def put_parsed(self, parser: str, entries: Iterable[tuple[Any, ...]]) -> None:
        """Store ``(key, *PARSED_FIELDS)`` entries under ``parser`` in one transaction (existing ones are kept)."""
        records = [(entry[0], parser, *entry[1:]) for entry in entries]
        marks = ", ".join("?" * (len(PARSED_FIELDS) + 2))
        self._insert_many(
            f"INSERT OR IGNORE INTO verdicts (key, parser, {', '.join(PARSED_FIELDS)}) VALUES ({marks})",
            records,
        )

    def forget(self, keys: Iterable[str]) -> None:
        """Delete the stored responses of ``keys`` and the verdicts parsed from them (one transaction): a response
        found unusable after it was stored (before answers were checked) is requested again by the next run."""
        keys = list(dict.fromkeys(keys))
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                for start in range(0, len(keys), _CHUNK):
                    chunk = keys[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    self._conn.execute(f"DELETE FROM verdicts WHERE key IN ({marks})", chunk)
                    self._conn.execute(f"DELETE FROM responses WHERE key IN ({marks})", chunk)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def keys(self) -> set[str]:
        with self._lock:
            return {row[0] for row in self._conn.execute("SELECT key FROM responses")}

    def requests(self) -> list[dict[str, Any]]:
        """Every stored request body (for audits and tests)."""
        with self._lock:
            return [json.loads(row[0]) for row in self._conn.execute("SELECT request FROM responses")]

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _row(row: tuple[Any, ...]) -> CachedResponse:
        return CachedResponse(row[0], json.loads(row[1]), json.loads(row[2]), row[3], row[4])
