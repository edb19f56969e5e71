"""Sending requests: the ``openai`` clients, bounded concurrency, retries, error classification, cache writes.

One :class:`openai.AsyncOpenAI` client per :data:`CLIENT_CONNECTIONS` concurrent requests, with the client's own
retries off: every bound is this module's.  A request is tried at most ``1 + max_retries`` times; an attempt
lasts at most ``timeout`` seconds in all (a server trickling one byte a second is cut off too), and the whole
request, waits included, at most ``request_deadline`` seconds.  429, 5xx, 408, 409, timeouts, dropped connections
and a 200 whose body is not a JSON object are retried with exponential backoff and jitter; a ``Retry-After`` is
honoured up to ``max_wait`` seconds, a longer one ends the request at once (``http_429_exhausted``).  Until the
endpoint has answered once, a refused connection (or a DNS or TLS failure) is not retried.

Answers are untrusted input: the body is read up to ``max_answer_bytes`` (``answer_too_large`` past it), every
field the parser uses is type-checked (:func:`judges.parsing.answer_problem`; a bad one is ``malformed_response``,
never stored), redirects are followed only within the endpoint's origin (``redirect_refused``), and every
occurrence of the API key in an answer is replaced by ``[redacted]`` before anything is stored.  Every usable
response is committed to the cache the moment it arrives (by a writer thread, one commit for the responses that
arrive together).

A failed request becomes an exclusion reason (``timeout``, ``http_429_exhausted``, ...).  The run stops early
(:class:`RunState`): at once on 401, 403 and 404 (wrong key, forbidden model, unknown route or model), and when
:data:`FAIL_FAST_AFTER` requests sent one after the other fail the same way (the same reason and server message)
while others wait to be sent; the requests not answered then are ``run_stopped``.  :func:`incomplete` says
whether the run is complete enough (it did not stop, and failures are at most ``max_error_rate`` of the run's
requests), else gives one line naming the endpoint, the server's own message and the known fix.

The API key is read from an environment variable at request time and appears in no message.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import importlib
import json
import logging
import os
import queue
import random
import socket
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from auditor.errors import AuditorError, ConfigError
from judges.cache import CachedResponse, JudgeCache
from judges.llm.config import LLMJudgeConfig, resolved_http_client
from judges.parsing import answer_problem

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

CHAT_ROUTE = "/chat/completions"  # relative to the base URL, as the client's chat.completions.create posts it
#: Connections per ``openai`` client; a run with a higher concurrency spreads its requests over several clients.
CLIENT_CONNECTIONS = 32
NO_KEY_PLACEHOLDER = "EMPTY"  # what local servers without authentication accept (vLLM's convention)
#: Requests sent one after the other that fail the same way (same reason, same server message) before the run
#: stops.
FAIL_FAST_AFTER = 8
#: Statuses that refuse the whole run (wrong key, forbidden model, unknown route or model): it stops at the first.
REFUSING_STATUSES = frozenset({401, 403, 404})
#: Statuses retried besides every 5xx.
RETRIED_STATUSES = frozenset({408, 409, 429})
REDACTED = "[redacted]"
#: A fragment of the API key this long (the whole key if it is shorter) found in an answer or message is redacted.
KEY_FRAGMENT = 16
#: The longest server message kept in an exclusion's ``raw`` text.
MESSAGE_CHARS = 500

#: A failed request: ``(exclusion reason, raw text)``.
Failure = tuple[str, str]


class JudgeRunError(AuditorError):
    """A judging run that ended before every request was answered: the endpoint refused it (401, 403, 404), it
    stopped on a systematic failure, or more requests failed than ``max_error_rate`` allows.  Exit code 3."""

    exit_code = 3


class JudgeRunIncomplete(JudgeRunError):
    """The :class:`JudgeRunError` of :meth:`judges.llm.LLMJudge.judge_items`, with the labels table of the run in
    ``labels`` (the verdicts received and an exclusion row for every other request) for the caller to write; a
    rerun with the same cache sends only the requests without a stored answer.  A caller that judged other tables
    before (the injection probe's clean run) names every table it has in ``tables``."""

    def __init__(self, message: str, labels: pd.DataFrame | None = None) -> None:
        super().__init__(message)
        self.labels = labels
        self.tables: dict[str, pd.DataFrame] = {} if labels is None else {"labels": labels}


class AnswerTooLarge(Exception):
    """The answer's body is longer than ``max_answer_bytes``."""


class RedirectRefused(Exception):
    """The endpoint redirected to another origin."""


@dataclass
class Sent:
    """What :func:`request_all` gives back: the responses stored, the failures (every request without a response
    has one), the keys whose response the cache did not take (it held one already) and, when the run stopped
    early, why."""

    fresh: dict[str, CachedResponse]
    failures: dict[str, Failure]
    not_stored: set[str]
    stopped: str | None = None


class Redactor:
    """Replaces the API key, and every fragment of :data:`KEY_FRAGMENT` characters of it, with ``[redacted]``."""

    def __init__(self, key: str | None) -> None:
        self.key = key or None
        size = min(KEY_FRAGMENT, len(key)) if key else 0
        self.fragments = (
            frozenset(key[i : i + size] for i in range(len(key) - size + 1)) if key else frozenset()
        )
        self._size = size
        self._byte_fragments = tuple(f.encode("utf-8") for f in self.fragments)

    def text(self, text: str) -> str:
        if self.key is None or not any(fragment in text for fragment in self.fragments):
            return text
        size, covered = self._size, [False] * len(text)
        for start in range(len(text) - size + 1):
            if text[start : start + size] in self.fragments:
                covered[start : start + size] = [True] * size
        out, position = [], 0
        while position < len(text):
            if covered[position]:
                out.append(REDACTED)
                while position < len(text) and covered[position]:
                    position += 1
            else:
                out.append(text[position])
                position += 1
        return "".join(out)

    def line(self, text: str, limit: int = MESSAGE_CHARS) -> str:
        """``text`` redacted, on one line (runs of whitespace become one space), at most ``limit`` characters."""
        return " ".join(self.text(text).split())[:limit]

    def answer(self, raw: bytes, response: Any) -> Any:
        """The parsed answer with the key redacted in every string (keys and values); ``raw`` is its body, looked at
        first: a body that holds no fragment of the key and no JSON escape is returned as it is."""
        if self.key is None:
            return response
        if not any(f in raw for f in self._byte_fragments) and b"\\" not in raw:
            return response
        return self._walk(response)

    def value(self, value: Any) -> Any:
        """``value`` (a parsed answer or a text) with the key redacted in every string."""
        return value if self.key is None else self._walk(value)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        if isinstance(value, dict):
            return {self._walk(k): self._walk(v) for k, v in value.items()}
        return value


@dataclass
class RunState:
    """What the requests of one run share: whether the endpoint answered at all, how each request sent so far
    ended, and why the run stopped (None while it goes on).

    The run stops when :data:`FAIL_FAST_AFTER` requests sent one after the other failed the same way (the same
    reason and server message) while requests are still waiting to be sent.  Requests count in the order they were sent, not
    the order they ended: at the end of a healthy run the slow ones (those that fail after retries) end one after
    the other, but they were sent among requests that were answered.
    """

    config: LLMJudgeConfig
    total: int
    redactor: Redactor
    #: The endpoint gave an HTTP answer (any status): from then on a refused connection is retried.
    reached: bool = False
    stopped: str | None = None
    sent: int = 0
    #: How each finished request ended, by the order it was sent in: its failure, or None when answered.
    _ended: dict[int, Failure | None] = field(default_factory=dict)

    def send(self) -> int:
        """The number of the request about to be sent (0, 1, ...)."""
        self.sent += 1
        return self.sent - 1

    def record(self, number: int, outcome: CachedResponse | Failure) -> None:
        """Note how request ``number`` ended; stop the run when it completes a block of requests sent one after
        the other that failed the same way."""
        failure = None if isinstance(outcome, CachedResponse) else outcome
        self._ended[number] = failure
        if failure is None or self.stopped is not None or self.sent == self.total:
            return  # (once every request is sent, stopping saves nothing: max_error_rate decides)
        first = last = number
        while self._ended.get(first - 1, ()) == failure:
            first -= 1
        while self._ended.get(last + 1, ()) == failure:
            last += 1
        if last - first + 1 >= FAIL_FAST_AFTER:
            count = last - first + 1
            which = (
                f"the first {count} requests" if first == 0 else f"{count} requests sent one after the other"
            )
            self.stopped = f"{which} all failed the same way"

    def refuse(self, status: int) -> None:
        """Stop the run: the endpoint refused it (401, 403, 404)."""
        if self.stopped is None:
            self.stopped = f"HTTP {status} from {self.config.endpoint}"


async def request_all(
    config: LLMJudgeConfig,
    cache: JudgeCache,
    bodies: dict[str, dict[str, Any]],
    *,
    name: str,
    from_cache: int,
) -> Sent:
    """Send every body (bounded concurrency), store each usable response the moment it arrives.

    When the run stops early (:class:`RunState`), no further request is sent, those in flight are cancelled, and
    every request without an answer gets the exclusion ``run_stopped``.  ``name`` and ``from_cache`` are shown on
    the progress bar.
    """
    import openai

    # One client per CLIENT_CONNECTIONS concurrent requests: the HTTP pool scans all its connections on every
    # request and response, so one pool of 256 connections costs more CPU per request than eight of 32.
    shards = -(-config.concurrency // CLIENT_CONNECTIONS)
    per_client = -(-config.concurrency // shards)
    key_value = api_key(config)
    run = RunState(config, len(bodies), Redactor(os.environ.get(config.api_key_env)))
    clients = []
    for _ in range(shards):
        http = http_client(per_client, resolved_http_client(config.http_client))
        client = openai.AsyncOpenAI(
            api_key=key_value,
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=0,  # every retry and wait is this module's (bounded by max_wait and request_deadline)
            http_client=http,
        )
        guard(http, str(client.base_url), config.max_answer_bytes)
        clients.append(client)
    writer = CacheWriter(cache, asyncio.get_running_loop())
    waiting: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for key, body in bodies.items():
        waiting.put_nowait((key, body))
    fresh: dict[str, CachedResponse] = {}
    failures: dict[str, Failure] = {}
    progress = Progress(len(bodies), from_cache, name, enabled=config.progress)
    tasks: list[asyncio.Task[None]] = []

    async def worker(client: Any) -> None:
        while run.stopped is None:
            try:
                key, body = waiting.get_nowait()
            except asyncio.QueueEmpty:
                return
            number = run.send()
            outcome = await request_one(client, config, key, body, writer, run)
            if isinstance(outcome, CachedResponse):
                fresh[key] = outcome
            else:
                failures[key] = outcome
            run.record(number, outcome)
            progress.advance(failed=not isinstance(outcome, CachedResponse))
        current = asyncio.current_task()
        for task in tasks:  # the run stopped: cancel the requests in flight
            if task is not current:
                task.cancel()

    try:
        with progress:
            tasks.extend(
                asyncio.create_task(worker(clients[number % shards]))
                for number in range(min(config.concurrency, len(bodies)))
            )
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        writer.close()
        for client in clients:
            await client.close()
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
            raise outcome
    for key in bodies:
        if key not in fresh and key not in failures:
            failures[key] = ("run_stopped", "")
    return Sent(fresh, failures, writer.not_stored, run.stopped)


async def request_one(
    client: Any, config: LLMJudgeConfig, key: str, body: dict[str, Any], writer: CacheWriter, run: RunState
) -> CachedResponse | Failure:
    """One request, retried within its bounds (see the module docstring); a stored response or ``(exclusion
    reason, raw text)``."""
    started = time.monotonic()
    try:
        answer = await asyncio.wait_for(_answer(client, config, body, run), config.request_deadline)
    except TimeoutError:
        return ("deadline_exceeded", f"no answer within --request-deadline {config.request_deadline:g} s")
    if isinstance(answer, tuple):
        return answer
    latency = time.monotonic() - started
    await writer.put(key, body, answer, latency)  # committed before the request counts as done
    return CachedResponse(key, body, answer, latency, "this_run")


async def _answer(
    client: Any, config: LLMJudgeConfig, body: dict[str, Any], run: RunState
) -> dict[str, Any] | Failure:
    """The attempts of one request: the checked, redacted answer, or the failure of the last attempt."""
    failure: Failure = ("client_error", "")
    for attempt in range(config.max_retries + 1):
        try:
            raw = await asyncio.wait_for(_post(client, body, config.max_answer_bytes), config.timeout)
        except Exception as exc:  # classified: every failure of an attempt ends as a named exclusion
            failure, wait = _failed(exc, config, run, attempt)
            if wait is None or attempt == config.max_retries:
                return failure
            await asyncio.sleep(wait)
            continue
        run.reached = True
        try:
            response = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            response = None
        if not isinstance(response, dict):  # cut off or garbled: retried
            failure = ("malformed_response", "the answer is not a JSON object")
            if attempt < config.max_retries:
                await asyncio.sleep(_backoff(attempt))
            continue
        response = run.redactor.answer(raw, response)
        choices = response.get("choices")
        if choices is None or choices == []:
            return ("empty_choices", run.redactor.line(json.dumps(response, ensure_ascii=False)))
        problem = answer_problem(response)
        if problem is not None:
            return ("malformed_response", problem)
        return response
    return failure


async def _post(client: Any, body: dict[str, Any], limit: int) -> bytes:
    """One attempt: the body of a 2xx answer, at most ``limit`` bytes once decoded (the HTTP client's hook bounds
    the bytes on the wire); errors raise."""
    response = await client.post(CHAT_ROUTE, cast_to=_http().Response, body=body, stream=True)
    chunks: list[bytes] = []
    try:
        async for chunk in response.aiter_bytes():
            limit -= len(chunk)
            if limit < 0:
                raise AnswerTooLarge
            chunks.append(chunk)
    finally:
        await response.aclose()
    return b"".join(chunks)


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter: 0.5 s doubled per attempt, at most 8 s, less up to 25% at random."""
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def _failed(
    exc: Exception, config: LLMJudgeConfig, run: RunState, attempt: int
) -> tuple[Failure, float | None]:
    """A failed attempt's ``(exclusion reason, raw text)`` and the wait before the next attempt (None: not
    retried)."""
    import openai

    http = _http()
    if isinstance(exc, TimeoutError | openai.APITimeoutError | http.TimeoutException) and _timed_out(exc):
        return ("timeout", f"no answer within --timeout {config.timeout:g} s"), _backoff(attempt)
    if isinstance(exc, AnswerTooLarge):
        return (
            "answer_too_large",
            f"the answer is longer than --max-answer-bytes {config.max_answer_bytes}",
        ), None
    if isinstance(exc, RedirectRefused):
        return ("redirect_refused", run.redactor.line(str(exc))), None
    if isinstance(exc, openai.APIStatusError):
        run.reached = True
        status = exc.status_code
        message = run.redactor.line(server_message(exc))
        if status in REFUSING_STATUSES:
            run.refuse(status)
            return (f"http_{status}", message), None
        if status not in RETRIED_STATUSES and status < 500:
            return (f"http_{status}", message), None
        reason = f"http_{status}_exhausted" if status == 429 or status >= 500 else f"http_{status}"
        wait = retry_after(exc.response.headers)
        if wait is not None and wait > config.max_wait:
            note = f"Retry-After {wait:g} s is longer than --max-wait {config.max_wait:g} s"
            return (reason, f"{message} ({note})" if message else note), None
        return (reason, message), (max(wait, 0.0) if wait is not None else _backoff(attempt))
    if isinstance(exc, openai.APIConnectionError):
        cause, certain = connection_failure(exc)
        # until the endpoint has answered once, a refused connection, a DNS or a TLS failure is not retried
        return ("connection_error", run.redactor.line(cause)), (
            _backoff(attempt) if run.reached or not certain else None
        )
    if isinstance(exc, http.RequestError | ssl.SSLError):  # the body broke off after the connection was made
        return ("connection_error", run.redactor.line(str(exc) or type(exc).__name__)), _backoff(attempt)
    log.warning("a request failed: %s", type(exc).__name__)
    return ("client_error", type(exc).__name__), None


def server_message(exc: Any) -> str:
    """The server's own error message of an ``openai.APIStatusError`` (``error.message`` of a JSON body, else the
    body's text); not yet redacted."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        message = body.get("message")
        return message if isinstance(message, str) else json.dumps(body, ensure_ascii=False)[:MESSAGE_CHARS]
    if isinstance(body, str):
        return body
    return ""


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes and contexts, breadth first, each once."""
    chain: list[BaseException] = []
    waiting: list[BaseException | None] = [exc]
    while waiting:
        node = waiting.pop(0)
        if node is None or any(node is seen for seen in chain):
            continue
        chain.append(node)
        waiting += [node.__cause__, node.__context__]
    return chain


def _timed_out(exc: BaseException) -> bool:
    """Whether a failure that the HTTP layer calls a timeout is one.  The aiohttp transport reports every aiohttp
    connection error (refused, dropped) as httpx's ``ConnectTimeout``; the aiohttp error it wraps decides."""
    for node in _chain(exc):
        if type(node).__module__.split(".")[0] == "aiohttp":
            return isinstance(node, TimeoutError)
    return True


def connection_failure(exc: BaseException) -> tuple[str, bool]:
    """What a connection failure was (``connection refused``, ``DNS: ...``, ``TLS: ...``, else the HTTP library's
    own words), and whether it is certain to repeat (the connection was never made)."""
    chain = _chain(exc)
    for node in chain:
        if isinstance(node, ConnectionRefusedError):
            return "connection refused", True
        if isinstance(node, socket.gaierror):
            return f"DNS: {node.strerror or node}", True
        if isinstance(node, ssl.SSLError):
            return f"TLS: {getattr(node, 'reason', None) or node}", True
    cause = exc.__cause__ or exc
    return str(cause) or type(cause).__name__, type(cause).__name__ == "ConnectError"


def retry_after(headers: Any) -> float | None:
    """Seconds a ``retry-after-ms`` or ``Retry-After`` header (seconds or an HTTP date) asks to wait, or None."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return float(value) / divisor
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            continue
        return when.timestamp() - time.time()
    return None


def api_key(config: LLMJudgeConfig) -> str:
    """The key in ``$api_key_env``; a placeholder for a local server (``base_url`` set) when it is unset."""
    key = os.environ.get(config.api_key_env)
    if key:
        return key
    if config.base_url is None:
        raise ConfigError(
            f"the environment variable {config.api_key_env} holds no API key "
            "(set it, or name another one with --api-key-env)"
        )
    return NO_KEY_PLACEHOLDER  # a local server without authentication


def known_fix(reason: str, raw: str, config: LLMJudgeConfig) -> str | None:
    """What to do about a failure that ended a run, where it is known."""
    text = raw.lower()
    if reason == "http_400" and ("max_completion_tokens" in text or "unsupported" in text):
        return (
            "the model takes other request fields: use --request-profile reasoning (max_completion_tokens, no "
            "temperature or logprobs)"
        )
    fixes = {
        "http_401": f"set ${config.api_key_env} (or name another variable with --api-key-env) to a valid key",
        "http_403": f"the key in ${config.api_key_env} may not use model {config.model!r}",
        "http_404": f"check --base-url (it usually ends in /v1) and the model name {config.model!r}",
        "connection_error": f"check that the server is running and that --base-url is {config.base_url or 'right'}",
        "timeout": "the server did not answer in time: check it, or raise --timeout",
        "deadline_exceeded": "the server did not answer in time: check it, or raise --request-deadline",
        "http_429_exhausted": (
            "the endpoint is rate-limiting: lower --concurrency or rerun later (--max-wait bounds the wait for a "
            "Retry-After)"
        ),
        "redirect_refused": "point --base-url at the server the endpoint redirects to, if you trust it",
        "answer_too_large": "raise --max-answer-bytes if answers this long are expected",
        "malformed_response": "the endpoint does not answer in the OpenAI chat-completions format",
        "empty_choices": "the endpoint does not answer in the OpenAI chat-completions format",
    }
    if reason in fixes:
        return fixes[reason]
    if reason.endswith("_exhausted"):
        return "the server keeps failing: check it and rerun"
    return None


def incomplete(
    config: LLMJudgeConfig, failures: dict[str, Failure], requests: int, stopped: str | None
) -> str | None:
    """None when the run is complete enough: it did not stop early and at most ``max_error_rate`` of its
    ``requests`` (answered now or from the cache) failed; else one line naming the endpoint, the counts, the
    server's own message of the most frequent failure and its known fix."""
    failed = len(failures)
    if stopped is None and (not failed or failed <= config.max_error_rate * requests):
        return None
    reasons = Counter(reason for reason, _ in failures.values())
    counted = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
    line = f"judging run incomplete: {failed} of {requests} requests to {config.endpoint} failed ({counted})"
    if stopped is not None:
        line += f"; stopped early: {stopped}"
    else:
        line += f", more than --max-error-rate {config.max_error_rate:g} allows"
    seen = Counter(f for f in failures.values() if f[0] != "run_stopped") or Counter(failures.values())
    (reason, raw), _ = seen.most_common(1)[0]
    if raw:
        line += f"; {reason}: {raw}"
    fix = known_fix(reason, raw, config)
    if fix:
        line += f"; fix: {fix}"
    return line


@functools.cache
def _http() -> Any:
    """The HTTP library the ``openai`` client is built on (``httpx``, or ``httpx2`` in its newer releases)."""
    import openai

    base = next(c for c in openai.DefaultAsyncHttpxClient.__mro__ if c.__name__ == "AsyncClient")
    return importlib.import_module(base.__module__.split(".")[0])


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(scheme)


def http_client(concurrency: int, kind: str = "httpx") -> Any:
    """The client's HTTP transport (``httpx``: ``openai.DefaultAsyncHttpxClient``; ``aiohttp``:
    ``openai.DefaultAioHttpClient``, the ``openai[aiohttp]`` extra) with a pool that keeps ``concurrency``
    connections alive.

    The ``openai`` default keeps 100 idle connections (of at most 1,000): above 100 concurrent requests, every
    response past the 100th closed its connection and the next request opened a new one.
    """
    import openai
    from openai._constants import DEFAULT_CONNECTION_LIMITS as default

    limits = type(default)(
        max_connections=max(default.max_connections or 0, concurrency),
        max_keepalive_connections=max(default.max_keepalive_connections or 0, concurrency),
        keepalive_expiry=default.keepalive_expiry,
    )
    if kind == "aiohttp":
        return openai.DefaultAioHttpClient(limits=limits)
    return openai.DefaultAsyncHttpxClient(limits=limits)


def guard(http: Any, base_url: str, limit: int) -> None:
    """Two event hooks on an HTTP client: one refuses to send a request (a redirect) to another origin than
    ``base_url``'s, the other bounds every body read (also an error's or a redirect's) to ``limit`` bytes."""
    origin = _origin(base_url)
    bounded = _bounded_stream_class()

    async def same_origin(request: Any) -> None:
        scheme, host, port = _origin(str(request.url))
        if (scheme, host, port) != origin:
            raise RedirectRefused(
                f"{base_url} redirected to {scheme}://{host}:{port}, another origin: not followed"
            )

    async def bound(response: Any) -> None:
        response.stream = bounded(response.stream, limit)

    http.event_hooks = {"request": [same_origin], "response": [bound]}


@functools.cache
def _bounded_stream_class() -> type:
    """An async byte stream that raises :class:`AnswerTooLarge` once more than ``limit`` bytes came through."""
    http = _http()

    class BoundedStream(http.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, stream: Any, limit: int) -> None:
            self._stream = stream
            self._left = limit

        async def __aiter__(self) -> Any:
            async for chunk in self._stream:
                self._left -= len(chunk)
                if self._left < 0:
                    raise AnswerTooLarge
                yield chunk

        async def aclose(self) -> None:
            await self._stream.aclose()

    return BoundedStream


class CacheWriter:
    """Stores the responses of a run from a thread of its own.

    :meth:`put` returns a future that is done once the response is committed; the responses that wait together
    are committed in one transaction.  The event loop meanwhile goes on sending and reading requests instead of
    waiting for SQLite, and a response still counts as done only once it is stored.
    """

    def __init__(self, cache: JudgeCache, loop: asyncio.AbstractEventLoop) -> None:
        self._cache = cache
        self._loop = loop
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: Keys whose response was not stored because the cache held one already (another process's).
        self.not_stored: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="judge-cache-writer", daemon=True)
        self._thread.start()

    def put(
        self, key: str, body: dict[str, Any], response: dict[str, Any], latency: float
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = self._loop.create_future()
        self._queue.put((key, body, response, latency, future))
        return future

    def close(self) -> None:
        """Commit what is queued and stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if batch[-1] is None:
                stop = True
                batch.pop()
            if not batch:
                continue
            error: BaseException | None = None
            try:
                stored = self._cache.put_many(entry[:4] for entry in batch)
                # another process stored a response for the same request first: that one is in the cache
                self.not_stored.update(entry[0] for entry in batch if entry[0] not in stored)
            except BaseException as exc:  # handed to the requests that wait for it
                error = exc
            try:
                self._loop.call_soon_threadsafe(_settle, [entry[4] for entry in batch], error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # its request was cancelled
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def run_sync(coroutine: Any) -> Any:
    """Run a coroutine to completion, also from inside a running event loop (Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


class Progress:
    """A rich progress bar (rate and ETA) on stderr, silent when disabled or not a terminal."""

    def __init__(self, total: int, cached: int, name: str, *, enabled: bool) -> None:
        self.enabled = enabled
        self.failed = 0
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[note]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._started = time.monotonic()
        self._task = self._progress.add_task(
            f"judging with {name}", total=total, rate="", note=f"{cached} from cache" if cached else ""
        )
        self._done = 0

    def __enter__(self) -> Progress:
        if self.enabled:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self._progress.stop()

    def advance(self, *, failed: bool) -> None:
        self.failed += failed
        if not self.enabled:
            return
        self._done += 1
        elapsed = max(time.monotonic() - self._started, 1e-9)
        note = f"{self.failed} failed" if self.failed else ""
        self._progress.update(self._task, advance=1, rate=f"{self._done / elapsed:.1f} req/s", note=note)
