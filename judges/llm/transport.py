"""Sending requests: the ``openai`` clients, bounded concurrency, retries, error classification, cache writes.

One :class:`openai.AsyncOpenAI` client per :data:`CLIENT_CONNECTIONS` concurrent requests; the client's own retries
(exponential backoff, ``Retry-After`` honoured) cover 429, 5xx, timeouts and dropped connections, and a 200 whose
body is not a JSON object is retried here.  Every usable response is committed to the cache the moment it arrives
(by a writer thread, one commit for the responses that arrive together).  A failed request becomes an exclusion
reason (``timeout``, ``http_429_exhausted``, ...); a refused run (401, 403, 404) raises :class:`JudgeRunError`.

The API key is read from an environment variable at request time and appears in no message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import random
import threading
import time
from typing import Any

from auditor.errors import AuditorError, ConfigError
from judges.cache import CachedResponse, JudgeCache
from judges.llm.config import LLMJudgeConfig

log = logging.getLogger(__name__)

CHAT_ROUTE = "/chat/completions"  # relative to the base URL, as the client's chat.completions.create posts it
#: Connections per ``openai`` client; a run with a higher concurrency spreads its requests over several clients.
CLIENT_CONNECTIONS = 32
NO_KEY_PLACEHOLDER = "EMPTY"  # what local servers without authentication accept (vLLM's convention)

#: A failed request: ``(exclusion reason, raw text)``.
Failure = tuple[str, str]


class JudgeRunError(AuditorError):
    """The endpoint refused the whole run (wrong key, unknown model, unknown route): stop, do not exclude."""


async def request_all(
    config: LLMJudgeConfig,
    cache: JudgeCache,
    bodies: dict[str, dict[str, Any]],
    *,
    name: str,
    from_cache: int,
) -> tuple[dict[str, CachedResponse], dict[str, Failure], set[str]]:
    """Send every body (bounded concurrency), store each usable response the moment it arrives; the responses,
    the failures and the keys whose response the cache did not take (it held one already).

    ``name`` and ``from_cache`` are shown on the progress bar.
    """
    import openai

    # One client per CLIENT_CONNECTIONS concurrent requests: the HTTP pool scans all its connections on every
    # request and response, so one pool of 256 connections costs more CPU per request than eight of 32.
    shards = -(-config.concurrency // CLIENT_CONNECTIONS)
    per_client = -(-config.concurrency // shards)
    key_value = api_key(config)
    clients = [
        openai.AsyncOpenAI(
            api_key=key_value,
            base_url=config.base_url,
            timeout=config.timeout,
            max_retries=config.max_retries,
            http_client=http_client(per_client),
        )
        for _ in range(shards)
    ]
    writer = CacheWriter(cache, asyncio.get_running_loop())
    waiting: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
    for key, body in bodies.items():
        waiting.put_nowait((key, body))
    fresh: dict[str, CachedResponse] = {}
    failures: dict[str, Failure] = {}
    fatal: list[BaseException] = []
    progress = Progress(len(bodies), from_cache, name, enabled=config.progress)

    async def worker(client: Any) -> None:
        while not fatal:
            try:
                key, body = waiting.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                outcome = await request_one(client, config, key, body, writer)
            except JudgeRunError as exc:
                fatal.append(exc)
                return
            if isinstance(outcome, CachedResponse):
                fresh[key] = outcome
            else:
                failures[key] = outcome
            progress.advance(failed=not isinstance(outcome, CachedResponse))

    try:
        with progress:
            workers = [
                asyncio.create_task(worker(clients[number % shards]))
                for number in range(min(config.concurrency, len(bodies)))
            ]
            await asyncio.gather(*workers)
    finally:
        writer.close()
        for client in clients:
            await client.close()
    if fatal:
        raise fatal[0]
    return fresh, failures, writer.not_stored


async def request_one(
    client: Any, config: LLMJudgeConfig, key: str, body: dict[str, Any], writer: CacheWriter
) -> CachedResponse | Failure:
    """One request through the client's retries; a stored response or ``(exclusion reason, raw text)``."""
    import openai

    started = time.monotonic()
    for attempt in range(config.max_retries + 1):
        try:
            # The client's generic POST: its auth, retries, timeouts and error mapping, without the typed
            # ``chat.completions.create`` layer, whose parameter transform and response model cost more CPU
            # per request than everything else here (the body is sent as planned, the JSON read as sent).
            content = await client.post(CHAT_ROUTE, cast_to=bytes, body=body)
            response = json.loads(content)
        except json.JSONDecodeError:
            response = None
        except openai.AuthenticationError:  # no server text: it may echo part of the key
            raise JudgeRunError(
                f"HTTP 401 from {config.endpoint}: the server rejected the API key taken from "
                f"${config.api_key_env}; set that variable (or --api-key-env) to a valid key"
            ) from None
        except openai.PermissionDeniedError:
            raise JudgeRunError(
                f"HTTP 403 from {config.endpoint}: the key in ${config.api_key_env} may not use "
                f"model {config.model!r}"
            ) from None
        except openai.NotFoundError:
            raise JudgeRunError(
                f"HTTP 404 from {config.endpoint}: unknown route or model {config.model!r}; "
                "check --base-url (it usually ends in /v1) and the model name"
            ) from None
        except openai.APITimeoutError:
            return ("timeout", "")
        except openai.APIConnectionError:
            return ("connection_error", "")
        except openai.APIStatusError as exc:
            reason = f"http_{exc.status_code}"
            if exc.status_code == 429 or exc.status_code >= 500:
                reason += "_exhausted"
            return (reason, safe_message(exc, config))
        except openai.APIResponseValidationError:
            return ("malformed_response", "")
        except Exception as exc:  # anything else ends this one request as an exclusion, named
            log.warning("request %s failed: %s", key[:12], type(exc).__name__)
            return ("client_error", type(exc).__name__)
        if isinstance(response, dict):
            break
        # a 200 whose body is not a JSON object: not retried by the client, so retried here
        if attempt == config.max_retries:
            return ("malformed_response", "")
        await asyncio.sleep(min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random()))
    latency = time.monotonic() - started
    if not response.get("choices"):
        return ("empty_choices", json.dumps(response)[:500])
    await writer.put(key, body, response, latency)  # committed before the request counts as done
    return CachedResponse(key, body, response, latency, "this_run")


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


def safe_message(exc: Any, config: LLMJudgeConfig) -> str:
    """The server's error message with the API key (if it were echoed) removed."""
    message = str(getattr(exc, "message", "") or "")
    key = os.environ.get(config.api_key_env)
    if key:
        message = message.replace(key, "[redacted]")
    return message[:500]


def http_client(concurrency: int) -> Any:
    """The client's default HTTP transport with a pool that keeps ``concurrency`` connections alive.

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
    return openai.DefaultAsyncHttpxClient(limits=limits)


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
