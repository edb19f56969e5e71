"""A loopback OpenAI-compatible server that only waits: a fixed latency per request and no work, for benchmarks.

Raw HTTP/1.1 on asyncio streams (keep-alive, ``Content-Length`` bodies), so one thread holds thousands of open
connections and requests in flight at once; the thread-per-connection ``fake_openai`` server is the fault
injector, this one is the stopwatch.  Every ``POST .../chat/completions`` is answered after ``latency`` seconds with
a valid ``chat.completion`` body:

- the verdict is a pure function of the request bytes (CRC-32), picked from ``verdicts``; with ``verdicts=None``
  the verdict set is read off the answer instruction of the built-in templates (``A, B, or tie``; ``1 to 5``;
  ``yes or no``; ``1 to 9``), so one server answers every built-in template;
- ``"logprobs": true`` gets a ``logprobs.content`` entry for the single verdict token with ``top_logprobs``;
- a ``response_format`` of type ``json_schema`` / ``json_object`` gets ``{"verdict": "X"}`` as content; otherwise
  (text mode) the content is a short sentence and a last line ``Verdict: X``;
- ``usage`` counts tokens by a documented approximation (:func:`approx_tokens`): ``ceil(characters / 4)`` per
  message plus 4 tokens of chat framing per message and 3 for the assistant priming (OpenAI's rule of thumb for
  English text); completion tokens the same way on the answer content.

``GET /_stats`` answers ``{"requests", "in_flight", "max_in_flight", "connections", "max_connections"}`` (the most
chat requests it was answering at once: how many the client really had in flight) and ``POST /_reset`` zeroes
them.  Use it in a thread (:class:`LatencyServer`, a context manager) or as its own process, which leaves the
client process a core of its own::

    python tests/servers/latency_server.py --port 0 --latency 0.2     # prints "serving on http://127.0.0.1:PORT/v1"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import socket
import threading
import zlib
from collections.abc import Sequence
from typing import Any

#: The verdict sets of the built-in templates, recognised from their answer instruction.
_VERDICT_SETS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"\b1 to 5\b"), ("1", "2", "3", "4", "5")),
    (re.compile(r"\b1 to 9\b"), tuple(str(k) for k in range(1, 10))),
    (re.compile(r"\bA\b.*\bB\b.*\btie\b", re.DOTALL), ("A", "B", "tie")),
    (re.compile(r"\byes\b.*\bno\b", re.DOTALL), ("yes", "no")),
)
DEFAULT_VERDICTS: tuple[str, ...] = ("A", "B", "tie")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 411: "Length Required", 413: "Too Large"}
MAX_BODY = 64 * 1024 * 1024


def approx_tokens(text: str) -> int:
    """Tokens of ``text`` by the rule of thumb of 4 characters a token (at least 1 for a non-empty text)."""
    return math.ceil(len(text) / 4)


def approx_prompt_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """Prompt tokens of chat ``messages``: :func:`approx_tokens` of each content + 4 a message + 3 priming."""
    return sum(approx_tokens(str(m.get("content") or "")) + 4 for m in messages) + 3


def infer_verdicts(body: dict[str, Any], default: Sequence[str] = DEFAULT_VERDICTS) -> tuple[str, ...]:
    """The verdict set asked for by the last message's answer instruction (a built-in template's), else default."""
    messages = body.get("messages") or []
    tail = str(messages[-1].get("content") or "")[-300:] if messages else ""
    for pattern, verdicts in _VERDICT_SETS:
        if pattern.search(tail):
            return verdicts
    return tuple(default)


def completion_body(body: dict[str, Any], seed: int, verdicts: Sequence[str] | None) -> dict[str, Any]:
    """A valid ``chat.completion`` answer to ``body``; ``seed`` (a hash of the request) picks the verdict."""
    choices = tuple(verdicts) if verdicts else infer_verdicts(body)
    weights = [((seed >> (3 * i)) & 7) + 1 for i in range(len(choices))]
    total = float(sum(weights))
    probs = {v: w / total for v, w in zip(choices, weights, strict=True)}
    verdict = max(choices, key=probs.__getitem__)
    response_format = body.get("response_format") or {}
    if isinstance(response_format, dict) and response_format.get("type") in ("json_schema", "json_object"):
        content = json.dumps({"verdict": verdict})
    elif body.get("logprobs"):
        content = verdict
    else:
        content = f"Both responses were read.\nVerdict: {verdict}"
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content},
        "finish_reason": "stop",
        "logprobs": None,
    }
    if body.get("logprobs"):
        ranked = sorted(probs.items(), key=lambda kv: -kv[1])[: int(body.get("top_logprobs") or 1)]
        first = content if content in probs else verdict
        choice["logprobs"] = {
            "content": [
                {
                    "token": first,
                    "logprob": math.log(probs[first]),
                    "bytes": list(first.encode()),
                    "top_logprobs": [
                        {"token": t, "logprob": math.log(p), "bytes": list(t.encode())} for t, p in ranked
                    ],
                }
            ]
        }
    prompt_tokens = approx_prompt_tokens(body.get("messages") or [])
    completion_tokens = max(1, approx_tokens(content))
    max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
    if isinstance(max_tokens, int) and max_tokens > 0:
        completion_tokens = min(completion_tokens, max_tokens)
    return {
        "id": f"chatcmpl-lat-{seed:08x}",
        "object": "chat.completion",
        "created": 0,
        "model": str(body.get("model", "latency")),
        "choices": [choice],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


class LatencyServer:
    """The server on ``host:port`` (0 = a free port), run by an event loop in a daemon thread.

    Counters (``requests``, ``max_in_flight``, ``connections``, ``max_connections``) are read after or during a
    run; :meth:`reset` zeroes them.  ``hold=N`` answers nothing until ``N`` requests are in flight at once (then
    everything, from then on): a test of concurrency that does not depend on timing, since a client that cannot
    keep ``N`` requests open never gets an answer.
    """

    def __init__(
        self,
        latency: float = 0.2,
        *,
        verdicts: Sequence[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        backlog: int = 4096,
        hold: int = 0,
    ) -> None:
        self.latency = float(latency)
        self.hold = hold
        self.verdicts = tuple(verdicts) if verdicts else None
        self.host = host
        self.port = port
        self.backlog = backlog
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.connections = 0
        self.open_connections = 0
        self.max_connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._gate: asyncio.Event | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LatencyServer:
        self._thread = threading.Thread(target=self._run, name="latency-server", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            done = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                done.result(10)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(10)
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        """Stop listening, close every open connection and let the handlers finish."""
        if self._server is not None:
            self._server.close()
        if self._gate is not None:
            self._gate.set()
        for writer in list(self._writers):
            writer.close()
        handlers = [t for t in self._handlers if not t.done()]
        if handlers:
            await asyncio.wait(handlers, timeout=5)

    def __enter__(self) -> LatencyServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        self.requests = self.max_in_flight = self.connections = 0
        self._gate = None
        self.max_connections = self.open_connections

    def stats(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "connections": self.connections,
            "max_connections": self.max_connections,
        }

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(self.serve())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def serve(self) -> asyncio.base_events.Server:
        """Start listening on the running loop (for use inside an event loop of one's own)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(self.backlog)
        sock.setblocking(False)
        server = await asyncio.start_server(self._connection, sock=sock, limit=MAX_BODY)
        self.port = sock.getsockname()[1]
        return server

    # -- HTTP/1.1 --------------------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self.max_connections = max(self.max_connections, self.open_connections)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    await self._reply(writer, 400, {"error": {"message": "bad request line"}}, close=True)
                    return
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                close = headers.get("connection", "").lower() == "close" or version == "HTTP/1.0"
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    raw = await _read_chunked(reader)
                else:
                    length = int(headers.get("content-length") or 0)
                    if length > MAX_BODY:
                        await self._reply(writer, 413, {"error": {"message": "body too large"}}, close=True)
                        return
                    raw = await reader.readexactly(length) if length else b""
                await self._route(writer, method, target.split("?", 1)[0].rstrip("/"), raw, close)
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.open_connections -= 1
            self._writers.discard(writer)
            if task is not None:
                self._handlers.discard(task)
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - the peer is gone already
                pass

    async def _route(
        self, writer: asyncio.StreamWriter, method: str, path: str, raw: bytes, close: bool
    ) -> None:
        if method == "POST" and path.endswith("/chat/completions"):
            self.requests += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    await self._reply(
                        writer, 400, {"error": {"message": "request body is not a JSON object"}}, close
                    )
                    return
                if self.hold:  # answer nothing until ``hold`` requests are in flight at once
                    if self._gate is None:
                        self._gate = asyncio.Event()
                    if self.in_flight >= self.hold:
                        self._gate.set()
                    await self._gate.wait()
                if self.latency > 0:
                    await asyncio.sleep(self.latency)
                await self._reply(writer, 200, completion_body(body, zlib.crc32(raw), self.verdicts), close)
            finally:
                self.in_flight -= 1
        elif method == "GET" and path.endswith("/models"):
            await self._reply(
                writer, 200, {"object": "list", "data": [{"id": "latency", "object": "model"}]}, close
            )
        elif method == "GET" and path == "/_stats":
            await self._reply(writer, 200, self.stats(), close)
        elif method == "POST" and path == "/_reset":
            self.reset()
            await self._reply(writer, 200, self.stats(), close)
        else:
            await self._reply(writer, 404, {"error": {"message": f"no route {method} {path}"}}, close)

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: int, obj: Any, close: bool) -> None:
        payload = json.dumps(obj).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
        ).encode()
        writer.write(head + payload)
        await writer.drain()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A loopback OpenAI-compatible server with a fixed latency.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 = a free port")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before every answer")
    parser.add_argument("--verdicts", default="", help="comma-separated; default: read off the template")
    args = parser.parse_args(argv)
    server = LatencyServer(
        args.latency,
        verdicts=tuple(v for v in args.verdicts.split(",") if v) or None,
        host=args.host,
        port=args.port,
    )

    async def run() -> None:
        listener = await server.serve()
        print(f"serving on {server.base_url}", flush=True)
        async with listener:
            await listener.serve_forever()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
