"""An LLM judge for any OpenAI-compatible endpoint (OpenAI, Azure, vLLM, SGLang, llama.cpp, Ollama).

One :class:`openai.AsyncOpenAI` client per run (per 32 concurrent requests); requests go out with a bounded
concurrency, the client's own retries (exponential backoff, ``Retry-After`` honoured) cover 429, 5xx, timeouts and
dropped connections, and a malformed response body is retried here.  Every usable response is committed to the
SQLite cache the moment it arrives (by a writer thread, one commit for the responses that arrive together), so a
repeated run makes no request and an interrupted run resumes where it stopped.

The API key is read from an environment variable at request time; it is never part of a cache key, a stored
request, a label row, a log line or an error message.

Examples
--------
>>> judge = LLMJudge(LLMJudgeConfig(model="gpt-4o-mini"), cache="judge-cache.sqlite")  # doctest: +SKIP
>>> labels = judge.judge_items(items, "pairwise")  # doctest: +SKIP
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from auditor.errors import AuditorError, ConfigError, InputError
from judges.base import PAIRWISE_TASKS, TASKS, Judge, Judgment, judgments_to_frame
from judges.cache import CachedResponse, JudgeCache, request_key
from judges.parsing import Verdict, parse_completion, to_original_order
from judges.templates import (
    PROFILE_PLACES,
    PROFILE_VIEWS,
    VERDICT_MODES,
    ProfileProblem,
    Template,
    TemplateProblem,
    load_template,
    render_messages,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = {"logprobs": 3, "json": 32, "text": 512}
CHAT_PATH = "/v1/chat/completions"
CHAT_ROUTE = "/chat/completions"  # relative to the base URL, as the client's chat.completions.create posts it
#: Connections per ``openai`` client; a run with a higher concurrency spreads its requests over several clients.
CLIENT_CONNECTIONS = 32
NO_KEY_PLACEHOLDER = "EMPTY"  # what local servers without authentication accept (vLLM's convention)


class JudgeRunError(AuditorError):
    """The endpoint refused the whole run (wrong key, unknown model, unknown route): stop, do not exclude."""


@dataclass
class LLMJudgeConfig:
    """How to call the endpoint.

    ``prices`` are USD per million tokens, ``(input, output)``; ``extra_body`` is merged into every request body
    (e.g. ``{"top_k": 1}`` for vLLM, ``{"reasoning_effort": "low"}``).  ``max_tokens=None`` picks a default by
    verdict mode (3 for logprobs, 32 for json, 512 for text).  ``json_format`` says how the JSON schema of the
    verdict is asked for: ``json_schema`` (OpenAI, vLLM, SGLang) or ``json_object`` (``{"type": "json_object",
    "schema": ...}``, what llama-cpp-python's server accepts).  ``min_verdict_mass``: a logprob verdict needs the
    verdict tokens to hold at least this probability together at the answer's first token, else the answer text
    is parsed instead (and may be ``unparseable``).
    """

    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    name: str | None = None
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    verdict_mode: str = "logprobs"
    top_logprobs: int = 10
    json_format: str = "json_schema"
    min_verdict_mass: float = 0.2
    extra_body: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 5
    samples: int = 1
    prices: tuple[float, float] | None = None
    progress: bool = True

    @property
    def judge_name(self) -> str:
        return self.name or f"openai:{self.model}"

    @property
    def endpoint(self) -> str:
        """The chat-completions URL the requests go to (part of the cache key)."""
        base = (self.base_url or "https://api.openai.com/v1").rstrip("/")
        return base + "/chat/completions"


@dataclass(frozen=True)
class PlannedRequest:
    """One request the run needs: an item in one order by one sample, with its body and cache key."""

    item_id: str
    order: str | None
    rater: str
    key: str
    body: dict[str, Any]
    #: Set when the item cannot be judged at all (e.g. a response is missing): no request, an exclusion.
    skip: str | None = None


class LLMJudge(Judge):
    """Judge items through an OpenAI-compatible chat-completions endpoint.

    Parameters
    ----------
    config : LLMJudgeConfig
        Endpoint, model and sampling parameters.
    template : str or Path or Template, optional
        A built-in template name, a TOML file, or a parsed :class:`Template`; default: the task's built-in one.
    profile_view : {"full", "outputs", "inputs", "none"}
    profile_at : {"start", "end"}
    orders : sequence of {"ab", "ba"}
        Orders to judge pairs in; labels are always mapped back to the original a/b numbering.
    cache : JudgeCache or path, optional
        Where responses are stored; ``None`` keeps them in memory for this judge's lifetime.
    max_response_chars : int, optional
        Cut each response to this many characters (with a visible marker); part of the prompt, so of the key.
    """

    def __init__(
        self,
        config: LLMJudgeConfig,
        *,
        template: str | Path | Template | None = None,
        profile_view: str = "full",
        profile_at: str = "start",
        orders: Sequence[str] = ("ab",),
        cache: JudgeCache | str | Path | None = None,
        max_response_chars: int | None = None,
    ) -> None:
        if config.verdict_mode not in VERDICT_MODES:
            raise ConfigError(
                f"verdict mode must be one of {', '.join(VERDICT_MODES)}, not {config.verdict_mode!r}"
            )
        if config.json_format not in ("json_schema", "json_object"):
            raise ConfigError(f"--json-format must be json_schema or json_object, not {config.json_format!r}")
        if profile_view not in PROFILE_VIEWS:
            raise ConfigError(
                f"--profile-view must be one of {', '.join(PROFILE_VIEWS)}, not {profile_view!r}"
            )
        if profile_at not in PROFILE_PLACES:
            raise ConfigError(f"--profile-at must be start or end, not {profile_at!r}")
        orders = tuple(dict.fromkeys(o.strip() for o in orders))
        if not orders or any(o not in ("ab", "ba") for o in orders):
            raise ConfigError(f"--orders must be ab, ba or ab,ba, not {','.join(orders)!r}")
        if config.concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        if config.samples < 1:
            raise ConfigError("--samples must be at least 1")
        self.config = config
        self.name = config.judge_name
        self.template_spec = template
        self.profile_view = profile_view
        self.profile_at = profile_at
        self.orders = orders
        self.max_response_chars = max_response_chars
        self._owns_cache = not isinstance(cache, JudgeCache)
        self.cache = (
            cache if isinstance(cache, JudgeCache) else JudgeCache(cache if cache is not None else ":memory:")
        )
        #: Counters of the last run: requests sent, answered from the cache, failed.
        self.stats: dict[str, int] = {}

    # -- planning ------------------------------------------------------------------------------------------
    def template_for(self, task: str) -> Template:
        if isinstance(self.template_spec, Template):
            if self.template_spec.task != task:
                raise ConfigError(f"template {self.template_spec.id} is for task {self.template_spec.task!r}")
            return self.template_spec
        try:
            return load_template(self.template_spec, task)
        except TemplateProblem as exc:
            raise ConfigError(str(exc)) from exc

    def request_body(self, messages: list[dict[str, str]], sample: int, template: Template) -> dict[str, Any]:
        """The JSON body of one chat-completions request (exactly what is sent, minus the API key)."""
        config = self.config
        body: dict[str, Any] = {
            "model": config.model,
            "messages": messages,
            "temperature": config.temperature,
        }
        max_tokens = (
            config.max_tokens if config.max_tokens is not None else DEFAULT_MAX_TOKENS[config.verdict_mode]
        )
        body["max_tokens"] = max_tokens
        if config.seed is not None:
            body["seed"] = config.seed + sample
        if config.verdict_mode == "logprobs":
            body["logprobs"] = True
            body["top_logprobs"] = config.top_logprobs
        elif config.verdict_mode == "json":
            body["response_format"] = self._json_schema_format(template)
        body.update(config.extra_body)
        return body

    def _json_schema_format(self, template: Template) -> dict[str, Any]:
        schema = {
            "type": "object",
            "properties": {"verdict": {"type": "string", "enum": list(template.verdicts)}},
            "required": ["verdict"],
            "additionalProperties": False,
        }
        if self.config.json_format == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": schema}}

    def plan(self, items: pd.DataFrame, task: str) -> list[PlannedRequest]:
        """Every request needed to judge ``items`` for ``task`` (one per item x order x sample)."""
        if task not in TASKS:
            raise ConfigError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
        template = self.template_for(task)
        _check_items(items, task)
        orders: tuple[str | None, ...] = self.orders if task in PAIRWISE_TASKS else (None,)
        if task not in PAIRWISE_TASKS and self.orders != ("ab",):
            raise ConfigError(f"--orders applies to pairwise and likert tasks, not to {task!r}")
        planned: list[PlannedRequest] = []
        needed = _REQUIRED_CELLS[task]
        for position, item in enumerate(items.to_dict("records")):
            item_id = str(item["item_id"])
            if any(_missing(item.get(column)) for column in needed):
                for order in orders:
                    for sample in range(self.config.samples):
                        planned.append(
                            PlannedRequest(item_id, order, str(sample), "", {}, skip="missing_input")
                        )
                continue
            for order in orders:
                try:
                    messages = render_messages(
                        template,
                        item,
                        order=order or "ab",
                        mode=self.config.verdict_mode,
                        profile_view=self.profile_view,
                        profile_at=self.profile_at,
                        max_response_chars=self.max_response_chars,
                    )
                except ProfileProblem as exc:
                    row = int(item.get("__row__", position + 1))
                    raise InputError(
                        str(exc), file=items.attrs.get("path"), row=row, column="profile"
                    ) from exc
                except TemplateProblem as exc:
                    raise ConfigError(str(exc)) from exc
                for sample in range(self.config.samples):
                    body = self.request_body(messages, sample, template)
                    key = request_key(
                        endpoint=self.config.endpoint, body=body, template=template.id, sample=sample
                    )
                    planned.append(PlannedRequest(item_id, order, str(sample), key, body))
        return planned

    # -- running -------------------------------------------------------------------------------------------
    def judge_items(self, items: pd.DataFrame, task: str) -> pd.DataFrame:
        """Judge every item (blocking); see :meth:`ajudge_items`."""
        return _run_sync(self.ajudge_items(items, task))

    async def ajudge_items(self, items: pd.DataFrame, task: str, *, offline: bool = False) -> pd.DataFrame:
        """Judge every item and return the labels table.

        Stored responses are reused; the others are requested (unless ``offline``, where they become exclusions
        ``not_in_batch_results``).  One row per item x order x sample, in the items' order.
        """
        planned = self.plan(items, task)
        template = self.template_for(task)
        stored = self.cache.get_many((p.key for p in planned if not p.skip), with_request=False)
        missing: dict[str, dict[str, Any]] = {}
        for p in planned:
            if not p.skip and p.key not in stored:
                missing.setdefault(p.key, p.body)
        failures: dict[str, tuple[str, str]] = {}
        self.stats = {
            "verdicts": len(planned),
            "skipped": sum(bool(p.skip) for p in planned),
            "from_cache": sum(not p.skip and p.key in stored for p in planned),
        }
        if missing and not offline:
            fresh, failures = await self._request_all(missing)
            stored.update(fresh)
        elif missing:
            failures = {key: ("not_in_batch_results", "") for key in missing}
        self.stats["sent"] = len(missing) if not offline else 0
        self.stats["failed"] = len(failures)
        return judgments_to_frame(
            [self._judgment(p, stored.get(p.key), failures.get(p.key), template, task) for p in planned]
        )

    def _judgment(
        self,
        planned: PlannedRequest,
        cached: CachedResponse | None,
        failure: tuple[str, str] | None,
        template: Template,
        task: str,
    ) -> Judgment:
        judgment = _Row(
            item_id=planned.item_id,
            judge=self.name,
            rater=planned.rater,
            order=planned.order,
            template=template.id,
            profile_view=self.profile_view,
            request_key=planned.key or None,
        )
        if planned.skip:
            judgment.exclusion = planned.skip
            return judgment
        if cached is None:
            reason, raw = failure or ("not_requested", "")
            judgment.exclusion = reason
            judgment.raw = raw or None
            return judgment
        verdict, text = parse_completion(cached.response, template, min_mass=self.config.min_verdict_mass)
        verdict = to_original_order(verdict, planned.order or "ab", task, template)
        _apply(judgment, verdict, task)
        judgment.raw = text
        judgment.cached = cached.source != "this_run"
        judgment.latency_s = cached.latency_s
        usage = cached.response.get("usage") or {}
        judgment.prompt_tokens = usage.get("prompt_tokens")
        judgment.completion_tokens = usage.get("completion_tokens")
        if self.config.prices is not None and judgment.prompt_tokens is not None:
            price_in, price_out = self.config.prices
            judgment.cost = (
                judgment.prompt_tokens * price_in + (judgment.completion_tokens or 0) * price_out
            ) / 1e6
        return judgment

    async def _request_all(
        self, bodies: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, CachedResponse], dict[str, tuple[str, str]]]:
        """Send every body (bounded concurrency), store each usable response the moment it arrives."""
        import openai

        # One client per CLIENT_CONNECTIONS concurrent requests: the HTTP pool scans all its connections on every
        # request and response, so one pool of 256 connections costs more CPU per request than eight of 32.
        shards = -(-self.config.concurrency // CLIENT_CONNECTIONS)
        per_client = -(-self.config.concurrency // shards)
        api_key = _api_key(self.config)
        clients = [
            openai.AsyncOpenAI(
                api_key=api_key,
                base_url=self.config.base_url,
                timeout=self.config.timeout,
                max_retries=self.config.max_retries,
                http_client=_http_client(per_client),
            )
            for _ in range(shards)
        ]
        writer = _CacheWriter(self.cache, asyncio.get_running_loop())
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        for key, body in bodies.items():
            queue.put_nowait((key, body))
        fresh: dict[str, CachedResponse] = {}
        failures: dict[str, tuple[str, str]] = {}
        fatal: list[BaseException] = []
        progress = _Progress(
            len(bodies), self.stats.get("from_cache", 0), self.name, enabled=self.config.progress
        )

        async def worker(client: Any) -> None:
            while not fatal:
                try:
                    key, body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    outcome = await self._request_one(client, key, body, writer)
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
                    for number in range(min(self.config.concurrency, len(bodies)))
                ]
                await asyncio.gather(*workers)
        finally:
            writer.close()
            for client in clients:
                await client.close()
        if fatal:
            raise fatal[0]
        return fresh, failures

    async def _request_one(
        self, client: Any, key: str, body: dict[str, Any], writer: _CacheWriter
    ) -> CachedResponse | tuple[str, str]:
        """One request through the client's retries; a stored response or ``(exclusion reason, raw text)``."""
        import openai

        started = time.monotonic()
        for attempt in range(self.config.max_retries + 1):
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
                    f"HTTP 401 from {self.config.endpoint}: the server rejected the API key taken from "
                    f"${self.config.api_key_env}; set that variable (or --api-key-env) to a valid key"
                ) from None
            except openai.PermissionDeniedError:
                raise JudgeRunError(
                    f"HTTP 403 from {self.config.endpoint}: the key in ${self.config.api_key_env} may not use "
                    f"model {self.config.model!r}"
                ) from None
            except openai.NotFoundError:
                raise JudgeRunError(
                    f"HTTP 404 from {self.config.endpoint}: unknown route or model {self.config.model!r}; "
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
                return (reason, _safe_message(exc, self.config))
            except openai.APIResponseValidationError:
                return ("malformed_response", "")
            except Exception as exc:  # anything else ends this one request as an exclusion, named
                log.warning("request %s failed: %s", key[:12], type(exc).__name__)
                return ("client_error", type(exc).__name__)
            if isinstance(response, dict):
                break
            # a 200 whose body is not a JSON object: not retried by the client, so retried here
            if attempt == self.config.max_retries:
                return ("malformed_response", "")
            await asyncio.sleep(min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random()))
        latency = time.monotonic() - started
        if not response.get("choices"):
            return ("empty_choices", json.dumps(response)[:500])
        await writer.put(key, body, response, latency)  # committed before the request counts as done
        return CachedResponse(key, body, response, latency, "this_run")

    # -- batch files ---------------------------------------------------------------------------------------
    def export_batch(self, items: pd.DataFrame, task: str, path: str | Path, *, url: str = CHAT_PATH) -> int:
        """Write the requests not yet in the cache as an OpenAI Batch / vLLM ``run-batch`` input file.

        One JSON line per request: ``{"custom_id": KEY, "method": "POST", "url": url, "body": BODY}`` where
        ``KEY`` is the cache key.  Returns the number of lines written (the file is replaced atomically).
        """
        planned = self.plan(items, task)
        stored = self.cache.keys()
        lines: dict[str, str] = {}
        for p in planned:
            if not p.skip and p.key not in stored and p.key not in lines:
                lines[p.key] = json.dumps(
                    {"custom_id": p.key, "method": "POST", "url": url, "body": p.body}, ensure_ascii=False
                )
        atomic_write_text(Path(path), "".join(line + "\n" for line in lines.values()))
        return len(lines)

    def import_batch(self, items: pd.DataFrame, task: str, path: str | Path) -> pd.DataFrame:
        """Store the responses of a batch output file in the cache and return the labels of ``items``.

        Lines whose ``custom_id`` matches no request of these items and options are refused (their count is in
        the error), so a result file can never be attached to the wrong prompts.  Requests without a result
        become exclusions ``not_in_batch_results``; a result line with an error becomes ``batch_error``.
        """
        planned = {p.key: p for p in self.plan(items, task) if not p.skip}
        path = Path(path)
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
                    self.cache.put(key, planned[key].body, body, source="batch")
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
        labels = _run_sync(self.ajudge_items(items, task, offline=True))
        for key, error in errors.items():
            mask = (labels["request_key"] == key) & labels["label"].isna() & labels["score"].isna()
            labels.loc[mask, "exclusion"] = "batch_error"
            labels.loc[mask, "raw"] = error
        return labels

    def close(self) -> None:
        if self._owns_cache:
            self.cache.close()


# -- helpers ----------------------------------------------------------------------------------------------------


class _Row(Judgment):
    """A :class:`Judgment` whose table row is a shallow copy of its fields.

    ``dataclasses.asdict`` (the base class's ``to_row``) deep-copies field by field and was most of the time of a
    fully cached rerun; every field of a judge's judgment is a scalar or a flat ``str -> float`` dict (written as
    JSON), so a shallow copy gives the same row.
    """

    def to_row(self) -> dict[str, Any]:
        row = dict(self.__dict__)
        extra = row.pop("extra")
        if row["probabilities"] is not None:
            row["probabilities"] = json.dumps(row["probabilities"], sort_keys=True)
        row.update(extra)
        return row


class _CacheWriter:
    """Stores the responses of a run from a thread of its own.

    :meth:`put` returns a future that is done once the response is committed; the responses that wait together
    are committed in one transaction.  The event loop meanwhile goes on sending and reading requests instead of
    waiting for SQLite, and a response still counts as done only once it is stored.
    """

    def __init__(self, cache: JudgeCache, loop: asyncio.AbstractEventLoop) -> None:
        self._cache = cache
        self._loop = loop
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
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
                self._cache.put_many(entry[:4] for entry in batch)
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


def _http_client(concurrency: int) -> Any:
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


def _apply(judgment: Judgment, verdict: Verdict, task: str) -> None:
    judgment.verdict_source = verdict.source
    judgment.exclusion = verdict.exclusion
    judgment.probabilities = verdict.probabilities
    judgment.verdict_mass = verdict.verdict_mass
    judgment.score = verdict.score
    if verdict.label is not None and task != "score":
        judgment.label = verdict.label


_REQUIRED_CELLS: dict[str, tuple[str, ...]] = {
    "pairwise": ("response_a", "response_b"),
    "likert": ("response_a", "response_b"),
    "score": ("response",),
    "binary": ("prompt",),
}


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and value != value:
        return True
    return isinstance(value, str) and not value.strip()


def _check_items(items: pd.DataFrame, task: str) -> None:
    for column in ("item_id", *_REQUIRED_CELLS[task]):
        if column not in items.columns:
            raise InputError(
                f"task {task!r} needs a column {column!r} in the items",
                file=items.attrs.get("path"),
                column=column,
            )
    duplicated = items["item_id"].astype(str).duplicated()
    if duplicated.any():
        row = int(duplicated.to_numpy().nonzero()[0][0]) + 1
        raise InputError(
            f"item_id {items['item_id'].iloc[row - 1]!r} is not unique",
            file=items.attrs.get("path"),
            row=row,
            column="item_id",
        )


def _api_key(config: LLMJudgeConfig) -> str:
    key = os.environ.get(config.api_key_env)
    if key:
        return key
    if config.base_url is None:
        raise ConfigError(
            f"the environment variable {config.api_key_env} holds no API key "
            "(set it, or name another one with --api-key-env)"
        )
    return NO_KEY_PLACEHOLDER  # a local server without authentication


def _safe_message(exc: Any, config: LLMJudgeConfig) -> str:
    """The server's error message with the API key (if it were echoed) removed."""
    message = str(getattr(exc, "message", "") or "")
    key = os.environ.get(config.api_key_env)
    if key:
        message = message.replace(key, "[redacted]")
    return message[:500]


def _run_sync(coroutine: Any) -> Any:
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


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, fsync it, then ``os.replace`` it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


class _Progress:
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
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
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

    def __enter__(self) -> _Progress:
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
