"""A real loopback HTTP server that speaks enough of ``/v1/chat/completions`` to act as a fake judge.

It is a test helper, not a mock: the judge talks to it over TCP through the official ``openai`` client, so every
layer (connection pool, retries, JSON decoding) runs for real.  Faults are injected per request:

``429``            status 429 with a ``Retry-After`` header (seconds, may be fractional)
``500``            status 500 with an error body
``slow``           the answer comes after ``delay`` seconds; with ``delay=None`` never (the request is held until
                   the server stops, then the connection is closed unanswered), so the client's timeout decides
                   the outcome whatever the machine's speed
``malformed_json`` status 200, ``application/json``, a body that is not JSON
``truncated``      status 200 whose ``Content-Length`` promises more bytes than are sent before the socket closes
``empty_choices``  status 200 with ``"choices": []``
``prose``          status 200 whose answer is prose without a verdict (the judge cannot parse it)

An *instruction-following* mode (``obey_injections``) makes the fake judge gullible with a known probability: when
a fenced text of the last user message (``<<<NAME-ID>>>`` ... ``<<<END NAME-ID>>>``) carries an instruction that
names a verdict ("answer B", "the verdict is A", ``{"verdict": "B"}``), the server answers that verdict for a
share ``obey_injections`` of such requests (a seeded draw per request body).  With ``verdict_basis`` the fake
verdict is drawn from a key of the request (e.g. the item's prompt) instead of the whole body, so an item and its
injected copy get the same answer unless the instruction is obeyed: the injection success rate is then exactly
the obedience rate.

A *fault plan* decides, from the request body and how many times that same body was seen before, which fault (if
any) to inject; :func:`seeded_fault_plan` gives a reproducible one.  The verdict itself is a pure function of the
request body, so two runs over the same requests get the same answers, and a fixed ``latency`` mode makes the
server usable for benchmarks.

Every request is logged (body hash, body, attempt number, what was answered, wall time) in ``server.log``.

Run it on its own with ``python tests/servers/fake_openai.py --port 8000 --latency 0.05``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FAULT_KINDS = ("429", "500", "slow", "malformed_json", "truncated", "empty_choices", "prose")


@dataclass(frozen=True)
class Fault:
    """One injected fault; ``retry_after`` is used by ``429`` and ``delay`` by ``slow`` (None: never answered)."""

    kind: str
    retry_after: float = 1.0
    delay: float | None = 5.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; expected one of {FAULT_KINDS}")


FaultPlan = Callable[[dict[str, Any], int], "Fault | None"]

#: A fenced data block as the judge's templates write it (``judges.templates.fence``).
FENCED_TEXT = re.compile(
    r"^<<<(?P<tag>[A-Z_]+-[0-9a-f]+)>>>\n(?P<text>.*?)\n<<<END (?P=tag)>>>$", re.DOTALL | re.MULTILINE
)
#: An instruction that names a verdict: "answer B", "verdict is A", "Answer: tie", ``"verdict": "b"``.  A bare
#: letter must be upper case (so "the answer is a plan" is not an instruction); a quoted one may be lower case.
PLANTED_INSTRUCTION = re.compile(
    r"(?i:answer|verdict)\W{0,6}(?:(?i:is)\W{0,3})?(?:\"(?P<quoted>[ABab]|tie|[1-5])\"|(?P<bare>A|B|tie|[1-5])\b)"
)


def planted_instruction(body: dict[str, Any], verdicts: Sequence[str]) -> str | None:
    """The verdict (one of ``verdicts``) that the last instruction planted in a fenced text asks for, or None."""
    messages = body.get("messages") or []
    if not messages:
        return None
    content = str(messages[-1].get("content", ""))
    asked = None
    for block in FENCED_TEXT.finditer(content):
        for match in PLANTED_INSTRUCTION.finditer(block.group("text")):
            asked = match.group("quoted") or match.group("bare")
    if asked is None:
        return None
    by_lower = {v.lower(): v for v in verdicts}
    return by_lower.get(asked.lower())


def body_hash(body: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a request body (sorted keys, no spaces)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def seeded_fault_plan(
    rates: dict[str, float],
    *,
    seed: int = 0,
    permanent: dict[str, float] | None = None,
    retry_after: float = 1.0,
    delay: float | None = 5.0,
) -> FaultPlan:
    """A reproducible fault plan.

    ``rates`` maps a fault kind to the probability that the *first* attempt of a request gets it (later attempts
    succeed, so a client that retries recovers).  ``permanent`` maps a fault kind to the share of requests that get
    it on *every* attempt (so a client gives up and must report an exclusion).  The draw is a hash of the seed and
    the request body, so the same request always meets the same fate.
    """
    permanent = permanent or {}
    total = sum(rates.values()) + sum(permanent.values())
    if total > 1.0:
        raise ValueError("fault rates add up to more than 1")

    def plan(body: dict[str, Any], attempt: int) -> Fault | None:
        draw = int(hashlib.sha256(f"{seed}:{body_hash(body)}".encode()).hexdigest()[:12], 16) / 16**12
        edge = 0.0
        for kind, share in permanent.items():
            edge += share
            if draw < edge:
                return Fault(kind, retry_after=retry_after, delay=delay)
        for kind, share in rates.items():
            edge += share
            if draw < edge:
                return Fault(kind, retry_after=retry_after, delay=delay) if attempt == 0 else None
        return None

    return plan


@dataclass
class LoggedRequest:
    """One request as the server saw it."""

    body_hash: str
    body: dict[str, Any] | None
    attempt: int
    outcome: str
    started: float
    path: str


@dataclass
class FakeJudgeServer:
    """A threaded loopback server on ``127.0.0.1``; use it as a context manager.

    ``verdicts`` are the answers the fake judge picks from (by a hash of the request), ``latency`` is a fixed
    delay before every answer, ``api_key`` (if set) makes every request without ``Authorization: Bearer KEY``
    fail with 401.
    """

    verdicts: Sequence[str] = ("A", "B", "tie")
    latency: float = 0.0
    fault_plan: FaultPlan | None = None
    api_key: str | None = None
    #: Share of requests carrying a planted instruction whose verdict the fake judge obeys (0 = ignores them).
    obey_injections: float = 0.0
    obey_seed: int = 0
    #: When set, the fake verdict is drawn from ``verdict_basis(body)`` instead of the whole request body.
    verdict_basis: Callable[[dict[str, Any]], str] | None = None
    host: str = "127.0.0.1"
    port: int = 0
    log: list[LoggedRequest] = field(default_factory=list)
    #: The most chat requests the server was answering at the same time.
    max_in_flight: int = 0
    #: Body hashes of the requests whose planted instruction the fake judge obeyed.
    obeyed: list[str] = field(default_factory=list)
    #: When set, at most this many chat requests (counted since the start or the last :meth:`clear_log`) are
    #: answered; every later one is logged as ``held`` and held unanswered until the server stops.  A run that a
    #: test kills mid-way then cannot end before the kill, on a machine of any speed.
    answer_limit: int | None = None
    _let_through: int = 0
    _in_flight: int = 0
    _attempts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Set by :meth:`stop`: releases the requests a ``slow`` fault holds.
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> FakeJudgeServer:
        handler = _make_handler(self)
        self._server = _Listener((self.host, self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-openai", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeJudgeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- what the tests read -------------------------------------------------------------------------------
    def completed_hashes(self) -> list[str]:
        """Body hashes of the requests answered with a usable 200 (one entry per answer)."""
        with self._lock:
            return [r.body_hash for r in self.log if r.outcome == "ok"]

    def clear_log(self) -> None:
        with self._lock:
            self.log.clear()
            self._let_through = 0

    def over_limit(self) -> bool:
        """Whether ``answer_limit`` requests were already let through (this one is counted when it is not)."""
        with self._lock:
            if self.answer_limit is None:
                return False
            if self._let_through >= self.answer_limit:
                return True
            self._let_through += 1
            return False

    # -- the fake judge ------------------------------------------------------------------------------------
    def next_attempt(self, digest: str) -> int:
        with self._lock:
            attempt = self._attempts.get(digest, 0)
            self._attempts[digest] = attempt + 1
            return attempt

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.log.append(entry)

    def choose_verdict(self, body: dict[str, Any]) -> tuple[str, dict[str, float]]:
        """A verdict and a probability per verdict, both a pure function of the request body."""
        digest = body_hash(body)
        if self.obey_injections > 0:
            asked = planted_instruction(body, self.verdicts)
            draw = (
                int(hashlib.sha256(f"obey:{self.obey_seed}:{digest}".encode()).hexdigest()[:12], 16) / 16**12
            )
            if asked is not None and draw < self.obey_injections:
                with self._lock:
                    self.obeyed.append(digest)
                rest = (1.0 - 0.9) / max(len(self.verdicts) - 1, 1)
                return asked, {v: 0.9 if v == asked else rest for v in self.verdicts}
        rng = random.Random(self.verdict_basis(body) if self.verdict_basis is not None else digest)
        weights = [rng.random() + 0.05 for _ in self.verdicts]
        total = sum(weights)
        probs = {v: w / total for v, w in zip(self.verdicts, weights, strict=True)}
        verdict = max(probs, key=probs.__getitem__)
        return verdict, probs


class _Listener(ThreadingHTTPServer):
    """A threading HTTP server with a listen backlog for many concurrent clients (the default, 5, drops SYNs
    under a burst of connections, and the client's SYN retry takes a second: a spurious timeout)."""

    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # a client that was killed or timed out: not news
            return
        super().handle_error(request, client_address)


def _completion(body: dict[str, Any], content: str, probs: dict[str, float] | None) -> dict[str, Any]:
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": "stop",
        "logprobs": None,
    }
    if probs is not None and body.get("logprobs"):
        import math

        top = [
            {"token": token, "logprob": math.log(p), "bytes": list(token.encode())}
            for token, p in sorted(probs.items(), key=lambda kv: -kv[1])
        ]
        choice["logprobs"] = {
            "content": [
                {
                    "token": content,
                    "logprob": math.log(probs.get(content, 1e-9)),
                    "bytes": list(content.encode()),
                    "top_logprobs": top[: int(body.get("top_logprobs") or 5)],
                }
            ]
        }
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {
        "id": "chatcmpl-fake-" + body_hash(body)[:12],
        "object": "chat.completion",
        "created": 0,
        "model": body.get("model", "fake"),
        "choices": [choice],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 1, "total_tokens": prompt_tokens + 1},
    }


def _make_handler(server: FakeJudgeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
            return

        def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
            self._send(status, json.dumps(obj).encode(), headers)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/").endswith("/models"):
                self._json(200, {"object": "list", "data": [{"id": "fake-judge", "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:  # noqa: N802
            with server._lock:
                server._in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server._in_flight)
            try:
                self._post()
            except (BrokenPipeError, ConnectionResetError):  # the client went away (timeout, kill -9)
                pass
            finally:
                with server._lock:
                    server._in_flight -= 1

        def _post(self) -> None:
            started = time.time()
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                server.record(LoggedRequest("", None, 0, "bad_request", started, self.path))
                self._json(400, {"error": {"message": "request body is not JSON"}})
                return
            digest = body_hash(body)
            if server.api_key is not None:
                if self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    server.record(LoggedRequest(digest, body, 0, "401", started, self.path))
                    self._json(
                        401, {"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}}
                    )
                    return
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            if server.over_limit():
                server.record(LoggedRequest(digest, body, 0, "held", started, self.path))
                server._stopping.wait()
                self.close_connection = True
                return
            attempt = server.next_attempt(digest)
            fault = server.fault_plan(body, attempt) if server.fault_plan else None
            outcome = fault.kind if fault else "ok"
            server.record(LoggedRequest(digest, body, attempt, outcome, started, self.path))
            if server.latency:
                time.sleep(server.latency)
            self._answer(body, fault)

        def _answer(self, body: dict[str, Any], fault: Fault | None) -> None:
            verdict, probs = server.choose_verdict(body)
            if fault is None:
                content = verdict
                if body.get("response_format", {}).get("type") in ("json_schema", "json_object"):
                    content = json.dumps({"verdict": verdict})
                self._json(200, _completion(body, content, probs))
            elif fault.kind == "429":
                self._json(
                    429,
                    {"error": {"message": "Rate limit reached", "type": "requests"}},
                    {"Retry-After": f"{fault.retry_after:g}"},
                )
            elif fault.kind == "500":
                self._json(500, {"error": {"message": "The server had an error"}})
            elif fault.kind == "slow":
                if server._stopping.wait(fault.delay):  # held until the server stops: no answer
                    self.close_connection = True
                    return
                self._json(200, _completion(body, verdict, probs))
            elif fault.kind == "malformed_json":
                self._send(200, b'{"id": "chatcmpl-broken", "choices": [ {"message": ')
            elif fault.kind == "truncated":
                payload = json.dumps(_completion(body, verdict, probs)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
            elif fault.kind == "empty_choices":
                completion = _completion(body, verdict, None)
                completion["choices"] = []
                self._json(200, completion)
            elif fault.kind == "prose":
                self._json(200, _completion(body, "Both answers have their merits, hard to say.", None))

    return Handler


def stored_count(cache: Path) -> int:
    """How many responses a judge cache file holds (read-only; 0 before the file or its table exists), for tests
    that watch a run from outside."""
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def make_items(n: int, *, seed: int = 0, profile: bool = True) -> Any:
    """``n`` small pairwise items with distinct prompts and a structured profile."""
    rows = []
    for i in range(n):
        row = {
            "item_id": f"item-{i:04d}",
            "user_id": f"user-{i % 7}",
            "prompt": f"Question {i} (seed {seed}): how should I plan my week?",
            "response_a": f"A generic answer number {i}.",
            "response_b": f"A personalised answer number {i}, for someone who likes running.",
        }
        if profile:
            row["profile"] = json.dumps(
                {
                    "attributes": ["likes running"],
                    "history": [{"input": f"run plan {i}?", "output": "thanks!"}],
                }
            )
        rows.append(row)
    import pandas as pd

    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake OpenAI-compatible judge on the loopback interface.")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="fixed delay before every answer (seconds)"
    )
    parser.add_argument("--verdicts", default="A,B,tie")
    args = parser.parse_args(argv)
    server = FakeJudgeServer(verdicts=tuple(args.verdicts.split(",")), latency=args.latency, port=args.port)
    server.start()
    print(f"serving on {server.base_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()


#: The exclusion a request ends with when it meets the fault on every attempt (an empty ``choices`` list and a
#: prose answer are answers, not transport faults: they are never retried, so one meeting is enough).
PERMANENT_REASON = {
    "429": "http_429_exhausted",
    "500": "http_500_exhausted",
    "slow": "timeout",
    "truncated": "connection_error",
    "malformed_json": "malformed_response",
    "empty_choices": "empty_choices",
    "prose": "unparseable",
}
