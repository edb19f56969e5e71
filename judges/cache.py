"""A SQLite cache of judge responses, keyed by a hash of the full request.

The key (:func:`request_key`) is the SHA-256 of the canonical JSON of the endpoint, the request body (model,
messages, temperature, seed, max tokens, logprobs, response format, extra fields), the template id and the sample
index.  The API key is never part of it and never stored.

Each response is committed as soon as it arrives (responses that arrive together share one commit), in WAL mode,
so a run killed at any point (Ctrl-C or ``kill -9``) loses at most the requests in flight; a rerun finds every
stored verdict and asks only for the rest.  Only usable responses (a 200 with at least one choice) are stored: a
failed request is retried by the next run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable
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
        self._conn.execute(SCHEMA)

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
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                rows = self._conn.execute(
                    f"SELECT {columns} FROM responses WHERE key IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
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
    ) -> None:
        """Store ``(key, request, response, latency_s)`` entries and commit them in one transaction (existing
        entries are kept): one commit for responses that arrived together instead of one commit each."""
        now = time.time()
        records = [
            (key, canonical_json(request), canonical_json(response), latency_s, source, now)
            for key, request, response, latency_s in entries
        ]
        if not records:
            return
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                self._conn.executemany(_INSERT, records)
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
