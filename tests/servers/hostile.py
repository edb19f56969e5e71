"""Real loopback HTTP servers that misbehave in one way each, for the judge's hostile-endpoint tests.

A :class:`HostileServer` answers every ``POST`` in its ``mode`` (a threaded ``http.server`` on ``127.0.0.1``, port 0
unless given, so a healthy :class:`~servers.fake_openai.FakeJudgeServer` can take the same port afterwards and a
rerun hits the same cache keys).  It counts the requests it received (``requests``) and keeps their bodies.

Modes (:data:`MODES`):

``max_tokens_400``        400 with OpenAI's own message for a reasoning model sent ``max_tokens``
``model_404``             404 ``model_not_found`` with OpenAI's message
``key_401``               401 whose message echoes the key the client sent (OpenAI masks it; a hostile server may not)
``retry_after_storm``     429 with ``Retry-After: 86400`` on every request
``hang``                  reads the request and never answers (until the server stops)
``trickle``               a 200 whose body comes one byte every :data:`TRICKLE_INTERVAL` seconds, without end
``choices_strings``       200 with ``"choices": ["A"]``
``message_string``        200 with ``"message": "A"``
``usage_string``          200, a good choice, ``"usage": "lots"``
``logprob_1000``          200 whose verdict token has ``logprob`` 1000
``huge``                  200 announcing and streaming :data:`HUGE_BYTES` (50 MB) of a JSON answer
``redirect``              307 to ``redirect_to`` (another server: another origin)
``same_origin_redirect``  307 to ``/moved/chat/completions`` on itself, which answers like ``ok``
``echo_key``              200, a good answer that echoes the key the client sent in its text, id and model
``ok``                    200, a good answer (verdict ``A`` with log-probabilities)

:func:`refused_port` gives a loopback port with nothing listening (connection refused).
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from servers.fake_openai import _Listener  # the loopback listener with a backlog for bursts

MODES = (
    "max_tokens_400", "model_404", "key_401", "retry_after_storm", "hang", "trickle", "choices_strings",
    "message_string", "usage_string", "logprob_1000", "huge", "redirect", "same_origin_redirect", "echo_key", "ok",
)  # fmt: skip
#: OpenAI's answer to ``max_tokens`` sent to a reasoning model (o1, o3, gpt-5), word for word.
MAX_TOKENS_MESSAGE = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
MODEL_404_MESSAGE = "The model `{model}` does not exist or you do not have access to it."
HUGE_BYTES = 50 * 1024 * 1024
TRICKLE_INTERVAL = 0.2
_CHUNK = 64 * 1024


def refused_port() -> int:
    """A loopback port with nothing listening: bound, then closed (a connection to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def good_answer(
    content: str = "A", *, model: str = "fake-judge", answer_id: str = "chatcmpl-hostile"
) -> dict:
    """A well-formed chat completion answering ``content`` with log-probabilities (A 0.7, B 0.2, tie 0.1)."""
    top = [{"token": t, "logprob": math.log(p)} for t, p in (("A", 0.7), ("B", 0.2), ("tie", 0.1))]
    return {
        "id": answer_id,
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": {"content": [{"token": "A", "logprob": math.log(0.7), "top_logprobs": top}]},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }


@dataclass
class HostileServer:
    mode: str
    redirect_to: str | None = None
    host: str = "127.0.0.1"
    port: int = 0
    #: Bodies of the POST requests received, in order (None for a body that is not JSON).
    bodies: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; expected one of {MODES}")

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self.bodies)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> HostileServer:
        self._server = _Listener((self.host, self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="hostile", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Stop serving, end the handlers that hang or trickle, and free the port."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(server: HostileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
            return

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
            error = {"message": message, "type": "invalid_request_error", "param": None, "code": code}
            self._json(status, {"error": error}, headers)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = None
            with server._lock:
                server.bodies.append(body)
            key = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            model = body.get("model", "") if isinstance(body, dict) else ""
            try:
                self._answer(server.mode, key, model)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                pass

        def _answer(self, mode: str, key: str, model: str) -> None:
            if self.path.startswith("/moved/"):
                mode = "ok"
            if mode == "max_tokens_400":
                self._error(400, MAX_TOKENS_MESSAGE, "unsupported_parameter")
            elif mode == "model_404":
                self._error(404, MODEL_404_MESSAGE.format(model=model), "model_not_found")
            elif mode == "key_401":
                self._error(401, f"Incorrect API key provided: {key}.", "invalid_api_key")
            elif mode == "retry_after_storm":
                self._error(
                    429, "Rate limit reached for requests", "rate_limit_exceeded", {"Retry-After": "86400"}
                )
            elif mode == "hang":
                server._stopping.wait()
            elif mode == "trickle":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100000")
                self.end_headers()
                while not server._stopping.wait(TRICKLE_INTERVAL):
                    self.wfile.write(b" ")
                    self.wfile.flush()
            elif mode == "choices_strings":
                self._json(200, {**good_answer(), "choices": ["A"]})
            elif mode == "message_string":
                answer = good_answer()
                answer["choices"][0]["message"] = "A"
                self._json(200, answer)
            elif mode == "usage_string":
                self._json(200, {**good_answer(), "usage": "lots"})
            elif mode == "logprob_1000":
                answer = good_answer()
                answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"][0]["logprob"] = 1000
                self._json(200, answer)
            elif mode == "huge":
                self._huge()
            elif mode == "redirect":
                self._redirect(f"{server.redirect_to}/chat/completions")
            elif mode == "same_origin_redirect":
                self._redirect("/moved/chat/completions")
            elif mode == "echo_key":
                answer = good_answer(
                    f"A (you sent {key})", model=f"{model} {key}", answer_id=f"chatcmpl-{key}"
                )
                answer["echo"] = {key: [key]}
                self._json(200, answer)
            else:
                self._json(200, good_answer())

        def _redirect(self, location: str) -> None:
            self.send_response(307)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _huge(self) -> None:
            head = json.dumps(good_answer())[:-1].encode() + b', "padding": "'
            tail = b'"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(HUGE_BYTES))
            self.end_headers()
            self.wfile.write(head)
            left = HUGE_BYTES - len(head) - len(tail)
            block = b"x" * _CHUNK
            while left > 0 and not server._stopping.is_set():
                self.wfile.write(block[: min(left, _CHUNK)])
                left -= _CHUNK
                time.sleep(0)  # let the other threads run
            self.wfile.write(tail)

    return Handler
