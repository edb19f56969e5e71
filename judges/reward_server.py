"""Reward models served by vLLM as judges: the same labels as :class:`judges.reward_model.RewardModelJudge`, the
forward passes on a GPU server (``vllm serve MODEL``; a ``*ForSequenceClassification`` reward model with one output
runs as a classify pooling model), so scoring millions of pairs runs on a cluster and this process needs neither
torch nor transformers.

Each conversation (:func:`judges.reward_model.conversation`: [system ``User profile:``], user prompt, assistant
response) is one request to the server's OpenAI-compatible pooling API, which applies the model's own chat template
(as the local judge does):

- ``classify`` (default): ``POST /classify`` with ``{"model": M, "messages": [...], "use_activation": false}``;
  the answer ``{"data": [{"index": 0, "label": ..., "probs": [r], "num_classes": 1}], ...}`` gives the reward
  ``r = probs[0]``, the raw logit (``use_activation: false``: without it vLLM answers ``sigmoid(r)`` for a
  one-output model, which orders the same but is not the reward).
- ``pooling``: ``POST /pooling`` with ``{"model": M, "messages": [...]}``; the answer ``{"data": [{"index": 0,
  "object": "pooling", "data": D}]}`` gives ``r = D[0]`` (one pooled value) or, for a per-token reward head,
  the last token's ``D[-1][0]``.

The routes are at the server's root (``--base-url http://host:8000`` or ``.../v1``: a trailing ``/v1`` is dropped).
Requests go through the ``openai`` client's ``post`` (its retries on 429, 5xx and dropped connections, its
timeout, the run's HTTP transport, :func:`judges.llm.transport.http_client`) with a bounded concurrency.  A request
that fails is an exclusion naming the failure (``http_400``, ``connection_error``, ``timeout``,
``malformed_response``, or ``run_stopped`` once a 401, 403 or 404 has stopped the run); a run with more failures
than ``max_error_rate`` of its requests raises :class:`judges.llm.JudgeRunIncomplete` (exit code 3) with the labels.
The API key comes from the environment and appears in no message.

Every answer that gives a reward is stored in a :class:`judges.cache.JudgeCache` as it arrives (committed from the
cache's writer thread, as the LLM judge's), keyed by :func:`judges.cache.request_key` of the route and the body
(the key never holds the API key), so a run that stopped (exit code 3, Ctrl-C, ``kill -9``) is resumed by a rerun
that sends only the requests without a stored answer; failed requests are never stored.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.errors import ConfigError
from judges.base import Judge
from judges.cache import JudgeCache, request_key
from judges.defaults import MAX_ERROR_RATE
from judges.reward_model import conversation, default_judge_name, reward_labels

ENDPOINTS: tuple[str, ...] = ("classify", "pooling")
#: Statuses that stop the run at once (wrong key, forbidden, unknown route or model).
REFUSING_STATUSES = frozenset({401, 403, 404})


def server_root(base_url: str) -> str:
    """``base_url`` without a trailing ``/`` and ``/v1``: vLLM serves ``/classify`` and ``/pooling`` at its root."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def request_body(endpoint: str, model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    """The JSON body of one request to ``endpoint`` (``classify``: with ``use_activation: false``, the raw logit)."""
    body: dict[str, Any] = {"model": model, "messages": messages}
    if endpoint == "classify":
        body["use_activation"] = False
    return body


def reward_of(endpoint: str, answer: Any) -> float:
    """The reward in an answer of ``endpoint``; a :class:`ValueError` naming what is wrong."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        raise ValueError("the answer has no data[0] object")
    if endpoint == "classify":
        values = data[0].get("probs")
        if not isinstance(values, list) or len(values) != 1:
            raise ValueError("data[0].probs is not a list of one value (a reward model has one output)")
        value = values[0]
    else:
        pooled = data[0].get("data")
        if (
            isinstance(pooled, list) and pooled and isinstance(pooled[-1], list)
        ):  # per token: the last token's
            pooled = pooled[-1]
        if not isinstance(pooled, list) or len(pooled) != 1:
            raise ValueError("data[0].data is not one value (nor one value per token)")
        value = pooled[0]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"the reward is not a finite number: {str(value)[:40]!r}")
    return float(value)


class ServedRewardModelJudge(Judge):
    """A reward model served by vLLM's pooling API (see the module docstring).

    Parameters
    ----------
    model
        The model name the server serves (``vllm serve MODEL``).
    base_url
        The server, e.g. ``http://gpu-node:8000`` (or ``.../v1``).
    endpoint
        ``classify`` (``/classify``, the raw logit) or ``pooling`` (``/pooling``).
    concurrency, timeout, max_retries
        Requests in flight at once; seconds per request; the ``openai`` client's retries.
    max_error_rate
        Largest share of failed requests a complete run may have.
    tie_margin, name, profile_in_prompt
        As :class:`judges.reward_model.RewardModelJudge`'s (default name ``rm:<basename of model>``, the local
        judge's, so the two judges' labels are the same judge's).
    http_client
        ``auto``, ``httpx`` or ``aiohttp`` (:data:`judges.llm.config.HTTP_CLIENTS`).
    cache
        A :class:`judges.cache.JudgeCache` or the path of its file (None: one in memory, for this object's life).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str,
        endpoint: str = "classify",
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout: float = 120.0,
        max_retries: int = 5,
        max_error_rate: float = MAX_ERROR_RATE,
        tie_margin: float = 0.0,
        name: str | None = None,
        profile_in_prompt: bool = True,
        http_client: str = "auto",
        cache: JudgeCache | str | Path | None = None,
    ) -> None:
        from judges.llm.config import check_http_client

        if endpoint not in ENDPOINTS:
            raise ConfigError(f"--rm-endpoint must be classify or pooling, not {endpoint!r}")
        if concurrency < 1:
            raise ConfigError("--concurrency must be at least 1")
        if tie_margin < 0:
            raise ConfigError(f"--tie-margin must not be negative, not {tie_margin:g}")
        check_http_client(http_client)
        self.model = model
        self.base_url = server_root(base_url)
        self.endpoint = endpoint
        self.api_key_env = api_key_env
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_error_rate = max_error_rate
        self.tie_margin = tie_margin
        self.name = name or default_judge_name(model)
        self.profile_in_prompt = profile_in_prompt
        self.http_client = http_client
        self._owns_cache = not isinstance(cache, JudgeCache)
        self.cache = (
            cache if isinstance(cache, JudgeCache) else JudgeCache(cache if cache is not None else ":memory:")
        )
        #: The last :meth:`judge_items`'s requests ``sent`` and answers ``from_cache``, and its failures by
        #: ``(reason, detail)``.
        self.stats: dict[str, int] = {}
        self.failures: Counter[tuple[str, str]] = Counter()
        #: Why the last run stopped early (a 401, 403 or 404), else None.
        self.stopped: str | None = None

    @property
    def url(self) -> str:
        return f"{self.base_url}/{self.endpoint}"

    def judge_items(self, items: pd.DataFrame, task: str = "pairwise") -> pd.DataFrame:
        """Label rows as :meth:`judges.reward_model.RewardModelJudge.judge_items` gives them; raises
        :class:`judges.llm.JudgeRunIncomplete` (with the labels) when the run stopped (401, 403, 404) or more
        than ``max_error_rate`` of its requests failed."""
        from judges.llm.transport import JudgeRunIncomplete

        self.failures, self.stats, self.stopped = Counter(), {}, None
        labels = reward_labels(
            items, task, self.score_with_reasons, name=self.name, tie_margin=self.tie_margin
        )
        failed, requests = sum(self.failures.values()), self.stats.get("sent", 0)
        if self.stopped or failed > self.max_error_rate * requests:
            (reason, detail), _ = self.failures.most_common(1)[0]
            counted = ", ".join(
                f"{r} {n}" for r, n in Counter(r for r, _ in self.failures.elements()).items()
            )
            line = f"reward model run incomplete: {failed} of {requests} requests to {self.url} failed ({counted})"
            line += (
                f"; stopped early: {self.stopped}"
                if self.stopped
                else (f", more than --max-error-rate {self.max_error_rate:g} allows")
            )
            if detail and not self.stopped:
                line += f"; {reason}: {detail}"
            raise JudgeRunIncomplete(line, labels)
        return labels

    def score_with_reasons(
        self, prompts: Sequence[Any], responses: Sequence[Any], profiles: Sequence[Any] | None = None
    ) -> tuple[np.ndarray, list[str | None], list[str | None]]:
        """Rewards (NaN where not scored), the exclusion reason of each text and a short detail of it."""
        from judges.llm.transport import run_sync
        from judges.reward_model import _text

        count = len(prompts)
        rewards = np.full(count, np.nan, dtype=np.float64)
        reasons: list[str | None] = [None] * count
        details: list[str | None] = [None] * count
        bodies: dict[int, dict[str, Any]] = {}
        for index in range(count):
            response = _text(responses[index])
            if not response.strip():
                reasons[index], details[index] = "empty_response", "empty response"
                continue
            profile = _text(profiles[index]) if profiles is not None else ""
            profile_text = profile if (self.profile_in_prompt and profile.strip()) else None
            messages = conversation(_text(prompts[index]), response, profile_text)
            bodies[index] = request_body(self.endpoint, self.model, messages)
        keys = {index: self.cache_key(body) for index, body in bodies.items()}
        stored = self.cache.get_many(keys.values(), with_request=False)
        for index, key in keys.items():
            if key in stored:  # only answers that gave a reward are stored
                rewards[index] = reward_of(self.endpoint, stored[key].response)
        missing = {index: body for index, body in bodies.items() if keys[index] not in stored}
        self.stats["from_cache"] = self.stats.get("from_cache", 0) + len(bodies) - len(missing)
        outcomes = run_sync(self._send_all(missing, keys))
        for index, outcome in outcomes.items():
            if isinstance(outcome, float):
                rewards[index] = outcome
            else:
                reasons[index], details[index] = outcome
                self.failures[outcome] += 1
        return rewards, reasons, details

    def cache_key(self, body: dict[str, Any]) -> str:
        """The cache key of one request: its route and body (model, messages, ``use_activation``)."""
        return request_key(endpoint=self.url, body=body, template=f"reward-model:{self.endpoint}")

    def close(self) -> None:
        """Close the cache if this judge opened it."""
        if self._owns_cache:
            self.cache.close()

    async def _send_all(
        self, bodies: dict[int, dict[str, Any]], keys: dict[int, str]
    ) -> dict[int, float | tuple[str, str]]:
        import openai

        from judges.llm.config import resolved_http_client
        from judges.llm.transport import NO_KEY_PLACEHOLDER, CacheWriter, Redactor, http_client

        key = os.environ.get(self.api_key_env)
        redactor = Redactor(key)
        kind = resolved_http_client(self.http_client)
        client = openai.AsyncOpenAI(
            api_key=key or NO_KEY_PLACEHOLDER,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=self.max_retries,
            http_client=http_client(self.concurrency, kind),
        )
        waiting = list(bodies.items())
        waiting.reverse()
        outcomes: dict[int, float | tuple[str, str]] = {}
        stopped: list[str] = []
        writer = CacheWriter(self.cache, asyncio.get_running_loop())

        async def worker() -> None:
            while waiting and not stopped:
                index, body = waiting.pop()
                started = time.perf_counter()
                outcome, answer = await self._send(client, body, redactor, stopped)
                if answer is not None:  # a reward: stored before it counts as done
                    await writer.put(keys[index], body, answer, time.perf_counter() - started)
                outcomes[index] = outcome

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(bodies)) or 1)))
        finally:
            writer.close()
            await client.close()
        for index in bodies:
            outcomes.setdefault(index, ("run_stopped", stopped[0] if stopped else ""))
        self.stats["sent"] = self.stats.get("sent", 0) + len(bodies)
        self.stopped = self.stopped or (stopped[0] if stopped else None)
        return outcomes

    async def _send(
        self, client: Any, body: dict[str, Any], redactor: Any, stopped: list[str]
    ) -> tuple[float | tuple[str, str], dict[str, Any] | None]:
        """The reward or the failure ``(reason, detail)`` of one request, and the answer when it gave a reward."""
        import openai

        from judges.llm.transport import _http, server_message

        try:
            response = await client.post(f"/{self.endpoint}", cast_to=_http().Response, body=body)
            answer = json.loads(response.content)
        except openai.APITimeoutError:
            return ("timeout", f"no answer within --timeout {self.timeout:g} s"), None
        except openai.APIStatusError as exc:
            message = redactor.line(server_message(exc))
            if exc.status_code in REFUSING_STATUSES and not stopped:
                stopped.append(f"HTTP {exc.status_code} from {self.url}: {message}")
            return (f"http_{exc.status_code}", message), None
        except openai.APIConnectionError as exc:
            return ("connection_error", redactor.line(str(exc.__cause__ or exc))), None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return ("malformed_response", "the answer is not JSON"), None
        try:
            return reward_of(self.endpoint, answer), answer
        except ValueError as exc:
            return ("malformed_response", str(exc)), None
