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
import functools
import hashlib
import json
import logging
import math
import os
import queue
import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd

from auditor.errors import AuditorError, ConfigError, InputError
from judges.base import PAIRWISE_TASKS, TASKS, Judge, Judgment, columns_to_frame
from judges.cache import CachedResponse, JudgeCache, canonical_json, request_key
from judges.parsing import PARSER_VERSION, Verdict, parse_completion, to_original_order
from judges.templates import (
    PROFILE_PLACES,
    PROFILE_VIEWS,
    RENDER_VERSION,
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
    #: None when a cached rerun found the key through the item's plan key without rendering the prompt.
    body: dict[str, Any] | None
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
        return self._plan(items, task, lazy=False)[0]

    def _plan(
        self, items: pd.DataFrame, task: str, *, lazy: bool, parser: str | None = None
    ) -> tuple[list[PlannedRequest], list[int], dict[str, tuple[Any, ...]]]:
        """The planned requests, for each the position of its item in ``items``, and parsed verdicts found.

        Every rendered request's key is stored under its plan key (:meth:`_plan_prefix`, :func:`_plan_keys`).
        ``lazy``: an item whose plan keys are all stored is not rendered: its requests get the stored keys and no
        body (the caller renders the items whose responses turn out to be missing); with ``parser``, the parsed
        verdicts stored under it for those keys are read in the same query (``request key -> fields``).
        """
        if task not in TASKS:
            raise ConfigError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
        template = self.template_for(task)
        _check_items(items, task)
        orders: tuple[str | None, ...] = self.orders if task in PAIRWISE_TASKS else (None,)
        if task not in PAIRWISE_TASKS and self.orders != ("ab",):
            raise ConfigError(f"--orders applies to pairwise and likert tasks, not to {task!r}")
        if "ba" in self.orders and task in PAIRWISE_TASKS and template.reads_unswapped_responses:
            raise ConfigError(
                f"template {template.id} reads item.response_a / item.response_b, the responses in their original "
                "order, so the swapped order (ba) would show the same prompt; use response_a / response_b (the "
                "responses as shown; cut them with --max-response-chars)"
            )
        needed = _REQUIRED_CELLS[task]
        samples = self.config.samples
        combos = [(order, sample) for order in orders for sample in range(samples)]
        size = len(items)
        prefix = self._plan_prefix(template, task, items)
        # Rows as plain tuples (fast); a row holding other types than _PLAIN_TYPES gets no plan key and is read
        # as pandas' record (what rendering always reads, below).
        rows: list[tuple[Any, ...] | None] = [None] * size
        if prefix is not None:
            columns = items.columns.tolist()
            values = [items.iloc[:, number].tolist() for number in range(len(columns))]
            if all(_PLAIN_TYPES.issuperset(map(type, column)) for column in values):
                rows = list(zip(*values, strict=True))
            else:
                rows = [
                    row if _PLAIN_TYPES.issuperset(map(type, row)) else None
                    for row in zip(*values, strict=True)
                ]
            at = {column: number for number, column in enumerate(columns)}
            needed_at, id_at = [at[column] for column in needed], at["item_id"]
        records: dict[int, dict[Any, Any]] = {}
        if not lazy:
            records = dict(enumerate(items.to_dict("records")))
        else:
            _read_records(items, [position for position, row in enumerate(rows) if row is None], records)
        skipped: list[bool] = []
        item_ids: list[str] = []
        plan_keys: list[list[str] | None] = []
        for position, row in enumerate(rows):
            if row is None:
                item = records[position]
                skipped.append(any(_missing(item.get(column)) for column in needed))
                item_ids.append(str(item["item_id"]))
                plan_keys.append(None)
            else:
                skip = any(_missing_plain(row[number]) for number in needed_at)
                skipped.append(skip)
                item_ids.append(str(row[id_at]))
                plan_keys.append(None if skip else _plan_keys(prefix, row, combos))
        mapped: dict[str, str] = {}
        parsed: dict[str, tuple[Any, ...]] = {}
        if lazy:
            wanted = [pk for pks in plan_keys if pks is not None for pk in pks]
            if parser is not None:
                for pk, (key, fields_) in self.cache.get_planned(wanted, parser).items():
                    mapped[pk] = key
                    parsed[key] = fields_
            mapped.update(self.cache.get_plans(pk for pk in wanted if pk not in mapped))
            render = [
                position
                for position, pks in enumerate(plan_keys)
                if not skipped[position] and (pks is None or not all(pk in mapped for pk in pks))
            ]
            _read_records(items, render, records)
        planned: list[PlannedRequest] = []
        positions: list[int] = []
        new_pairs: list[tuple[str, str]] = []
        for position in range(size):
            item_id = item_ids[position]
            if skipped[position]:
                for order, sample in combos:
                    planned.append(PlannedRequest(item_id, order, str(sample), "", {}, skip="missing_input"))
                    positions.append(position)
                continue
            pks = plan_keys[position]
            if lazy and pks is not None and all(pk in mapped for pk in pks):
                for (order, sample), pk in zip(combos, pks, strict=True):
                    planned.append(PlannedRequest(item_id, order, str(sample), mapped[pk], None))
                    positions.append(position)
                continue
            item = records[position]
            for number, order in enumerate(orders):
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
                for sample in range(samples):
                    body = self.request_body(messages, sample, template)
                    key = request_key(
                        endpoint=self.config.endpoint, body=body, template=template.id, sample=sample
                    )
                    planned.append(PlannedRequest(item_id, order, str(sample), key, body))
                    positions.append(position)
                    if pks is not None and pks[number * samples + sample] not in mapped:
                        new_pairs.append((pks[number * samples + sample], key))
        self.cache.put_plans(new_pairs)
        return planned, positions, parsed

    def _plan_prefix(self, template: Template, task: str, items: pd.DataFrame) -> Any:
        """A SHA-256 object fed with everything but the item's values that determines a request body, or None.

        That is the rendering code (the source of ``judges.templates``, ``judges.llm``, ``judges.cache``, the
        versions of Python, Jinja2 and pandas), the endpoint, the template's content, the task, every option of
        the config except those that only steer the run (concurrency, timeouts, retries, prices, progress, name,
        the key's variable, the parsing threshold), the profile view and place, the response cut, and the items'
        column names and dtypes (the values of a row are hashed in :func:`_plan_keys`).  None (no plan keys) for
        items with repeated column names or options that are not JSON.
        """
        columns = items.columns.tolist()
        if len(set(map(repr, columns))) != len(columns) or not all(type(c) in _PLAIN_TYPES for c in columns):
            return None
        config = {
            f.name: getattr(self.config, f.name)
            for f in fields(self.config)
            if f.name not in _RUN_ONLY_OPTIONS
        }
        material = {
            "code": _render_code_hash(),
            "endpoint": self.config.endpoint,
            "template": template.fingerprint,
            "template_id": template.id,
            "task": task,
            "config": config,
            "profile_view": self.profile_view,
            "profile_at": self.profile_at,
            "max_response_chars": self.max_response_chars,
            "columns": [repr(column) for column in columns],
            "dtypes": [str(dtype) for dtype in items.dtypes],
        }
        try:
            text = canonical_json(material)
        except (TypeError, ValueError):  # an option that is not JSON: no plan keys, every item is rendered
            return None
        prefix = hashlib.sha256(b"plan-key\x00")
        prefix.update(text.encode("utf-8"))
        prefix.update(b"\x00")
        return prefix

    def _parser_key(self, template: Template) -> str:
        """What the parsed verdict of a stored response depends on: the parsing code, the template's content,
        the verdict mode and ``min_verdict_mass``."""
        material = {
            "code": _parse_code_hash(),
            "template": template.fingerprint,
            "template_id": template.id,
            "mode": self.config.verdict_mode,
            "min_verdict_mass": repr(self.config.min_verdict_mass),
        }
        return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()

    # -- running -------------------------------------------------------------------------------------------
    def judge_items(self, items: pd.DataFrame, task: str) -> pd.DataFrame:
        """Judge every item (blocking); see :meth:`ajudge_items`."""
        return _run_sync(self.ajudge_items(items, task))

    async def ajudge_items(self, items: pd.DataFrame, task: str, *, offline: bool = False) -> pd.DataFrame:
        """Judge every item and return the labels table.

        Stored responses are reused; the others are requested (unless ``offline``, where they become exclusions
        ``not_in_batch_results``).  One row per item x order x sample, in the items' order.
        """
        if task not in TASKS:
            raise ConfigError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
        template = self.template_for(task)
        parser = self._parser_key(template)
        planned, positions, parsed = self._plan(items, task, lazy=True, parser=parser)
        keys = [p.key for p in planned if not p.skip and p.key not in parsed]
        parsed.update(self.cache.get_parsed(keys, parser))
        stored = self.cache.get_many((k for k in keys if k not in parsed), with_request=False)
        lacking = sorted(
            {
                position
                for position, p in zip(positions, planned, strict=True)
                if not p.skip and p.body is None and p.key not in parsed and p.key not in stored
            }
        )
        if lacking:  # stored keys without a stored response: render these items for their request bodies
            rendered = {(p.item_id, p.order, p.rater): p for p in self.plan(items.iloc[lacking], task)}
            wanted = set(lacking)
            for number, position in enumerate(positions):
                if position in wanted:
                    p = planned[number]
                    planned[number] = rendered[(p.item_id, p.order, p.rater)]
            stored.update(
                self.cache.get_many(
                    (p.key for p in planned if not p.skip and p.key not in parsed and p.key not in stored),
                    with_request=False,
                )
            )
        missing: dict[str, dict[str, Any]] = {}
        for p in planned:
            if not p.skip and p.key not in parsed and p.key not in stored:
                assert p.body is not None  # rendered above
                missing.setdefault(p.key, p.body)
        failures: dict[str, tuple[str, str]] = {}
        not_stored: set[str] = set()
        self.stats = {
            "verdicts": len(planned),
            "skipped": sum(bool(p.skip) for p in planned),
            "from_cache": sum(not p.skip and (p.key in parsed or p.key in stored) for p in planned),
        }
        if missing and not offline:
            fresh, failures, not_stored = await self._request_all(missing)
            stored.update(fresh)
        elif missing:
            failures = {key: ("not_in_batch_results", "") for key in missing}
        self.stats["sent"] = len(missing) if not offline else 0
        self.stats["failed"] = len(failures)
        return self._labels(planned, parsed, stored, failures, template, task, parser, not_stored)

    def _labels(
        self,
        planned: list[PlannedRequest],
        parsed: dict[str, tuple[Any, ...]],
        stored: dict[str, CachedResponse],
        failures: dict[str, tuple[str, str]],
        template: Template,
        task: str,
        parser: str,
        not_stored: set[str] | frozenset[str] = frozenset(),
    ) -> pd.DataFrame:
        """The labels table, built column by column; the verdicts parsed here are stored for the next rerun.

        Every row goes through :meth:`_add_row` from the same parsed fields, whether they were parsed now or
        read from the cache, so a rerun gives the same table as the run that parsed them.  ``not_stored``: keys
        answered in this run whose response the cache did not take (it held another process's): their parsed
        verdicts are not stored (they would not be the stored response's).
        """
        rows: list[tuple[Any, ...]] = []
        new: list[tuple[Any, ...]] = []
        min_mass = self.config.min_verdict_mass
        for p in planned:
            if p.skip:
                self._add_excluded(rows, p, p.skip, None, template)
                continue
            found = parsed.get(p.key)
            if found is not None:
                self._add_row(rows, p, found, True, template, task)
                continue
            cached = stored.get(p.key)
            if cached is None:
                reason, raw = failures.get(p.key) or ("not_requested", "")
                self._add_excluded(rows, p, reason, raw or None, template)
                continue
            found = _parse_fields(cached, template, min_mass)
            self._add_row(rows, p, found, cached.source != "this_run", template, task)
            if _storable(found) and p.key not in not_stored:
                new.append((p.key, *found))
        if new:
            self.cache.put_parsed(parser, new)
        columns = zip(*rows, strict=True) if rows else ([] for _ in _ROW_FIELDS)
        return columns_to_frame(dict(zip(_ROW_FIELDS, map(list, columns), strict=True)))

    def _add_excluded(
        self,
        rows: list[tuple[Any, ...]],
        planned: PlannedRequest,
        reason: str,
        raw: str | None,
        template: Template,
    ) -> None:
        values = (
            planned.item_id, self.name, planned.rater, None, planned.order, None, raw, reason, "none", None,
            None, None, None, None, False, None, template.id, self.profile_view, planned.key or None,
        )  # fmt: skip
        rows.append(values)

    def _add_row(
        self,
        rows: list[tuple[Any, ...]],
        planned: PlannedRequest,
        found: tuple[Any, ...],
        cached: bool,
        template: Template,
        task: str,
    ) -> None:
        """One row from a response's parsed fields (:data:`judges.cache.PARSED_FIELDS`, shown numbering)."""
        (
            label,
            score,
            probabilities,
            source,
            exclusion,
            mass,
            raw,
            prompt_tokens,
            completion_tokens,
            latency,
        ) = found
        order = planned.order or "ab"
        if order != "ab" and label is not None and task in ("pairwise", "likert"):
            shown = json.loads(probabilities) if probabilities is not None else None
            verdict = to_original_order(
                Verdict(label, score, shown, source, exclusion, mass), order, task, template
            )
            label, score = verdict.label, verdict.score
            if verdict.probabilities is not None:
                probabilities = json.dumps(verdict.probabilities, sort_keys=True)
        if label is not None and task == "score":
            label = None
        cost = None
        if self.config.prices is not None and prompt_tokens is not None:
            price_in, price_out = self.config.prices
            cost = (prompt_tokens * price_in + (completion_tokens or 0) * price_out) / 1e6
        values = (
            planned.item_id, self.name, planned.rater, label, planned.order, score, raw, exclusion, source,
            probabilities, mass, prompt_tokens, completion_tokens, cost, cached, latency, template.id,
            self.profile_view, planned.key or None,
        )  # fmt: skip
        rows.append(values)

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
    ) -> tuple[dict[str, CachedResponse], dict[str, tuple[str, str]], set[str]]:
        """Send every body (bounded concurrency), store each usable response the moment it arrives; the responses,
        the failures and the keys whose response the cache did not take (it held one already)."""
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
        return fresh, failures, writer.not_stored

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


#: The columns of a judge's row, in the order of :class:`judges.base.Judgment`'s fields (``extra`` is empty).
_ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Judgment) if f.name != "extra")
#: Config fields that steer the run but not the request bodies (left out of the plan keys).
_RUN_ONLY_OPTIONS = frozenset(
    {"concurrency", "timeout", "max_retries", "progress", "prices", "name", "api_key_env", "min_verdict_mass"}
)
#: The only value types an item's row may hold for it to get plan keys (their JSON is exact and unambiguous:
#: ``1``, ``1.0``, ``true`` and ``"1"`` differ); rows with anything else (lists, arrays, timestamps, pd.NA) are
#: rendered on every run.
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
_INT64 = (-(2**63), 2**63)


def _source_hash(*modules: str) -> str:
    digest = hashlib.sha256()
    for name in modules:
        module = sys.modules[name]
        digest.update(name.encode() + b"\x00")
        digest.update(Path(module.__file__ or "").read_bytes())
        digest.update(b"\x00")
    return digest.hexdigest()


@functools.cache
def _render_code_hash() -> str:
    import jinja2

    return canonical_json(
        {
            "render_version": RENDER_VERSION,
            "source": _source_hash("judges.templates", "judges.llm", "judges.cache"),
            "python": list(sys.version_info[:3]),
            "jinja2": jinja2.__version__,
            "pandas": pd.__version__,
        }
    )


@functools.cache
def _parse_code_hash() -> str:
    return canonical_json(
        {
            "parser_version": PARSER_VERSION,
            "source": _source_hash("judges.parsing", "judges.llm"),
            "python": list(sys.version_info[:3]),
        }
    )


def _plan_keys(prefix: Any, row: tuple[Any, ...], combos: list[tuple[str | None, int]]) -> list[str]:
    """The plan key of each (order, sample) of one item: SHA-256 of the judge's prefix (which holds the column
    names and dtypes), the ``repr`` of the row's values (all of :data:`_PLAIN_TYPES`, whose ``repr`` is exact and
    unambiguous: ``1``, ``1.0``, ``True`` and ``'1'`` differ, strings are quoted and escaped), the order and the
    sample."""
    digest = prefix.copy()
    digest.update(repr(row).encode("utf-8", "surrogatepass"))
    keys = []
    for order, sample in combos:
        one = digest.copy()
        one.update(f"\x00{order}\x00{sample}".encode("ascii"))
        keys.append(one.hexdigest())
    return keys


def _read_records(items: pd.DataFrame, positions: list[int], records: dict[int, dict[Any, Any]]) -> None:
    """Add the pandas records (``to_dict("records")``, what rendering reads) of the rows at ``positions``."""
    positions = [position for position in positions if position not in records]
    if positions:
        records.update(zip(positions, items.iloc[positions].to_dict("records"), strict=True))


def _parse_fields(cached: CachedResponse, template: Template, min_mass: float) -> tuple[Any, ...]:
    """A stored response's parsed fields (:data:`judges.cache.PARSED_FIELDS`), in the numbering shown."""
    verdict, text = parse_completion(cached.response, template, min_mass=min_mass)
    usage = cached.response.get("usage") or {}
    probabilities = (
        json.dumps(verdict.probabilities, sort_keys=True) if verdict.probabilities is not None else None
    )
    return (
        verdict.label, verdict.score, probabilities, verdict.source, verdict.exclusion, verdict.verdict_mass,
        text, usage.get("prompt_tokens"), usage.get("completion_tokens"), cached.latency_s,
    )  # fmt: skip


def _storable(found: tuple[Any, ...]) -> bool:
    """Whether SQLite gives these parsed fields back exactly (else they are parsed again on every run)."""
    label, score, probabilities, source, exclusion, mass, raw, prompt_tokens, completion_tokens, latency = (
        found
    )

    def real(value: Any) -> bool:
        return value is None or (type(value) is float and math.isfinite(value))

    def integer(value: Any) -> bool:
        return value is None or (type(value) is int and _INT64[0] <= value < _INT64[1])

    def text(value: Any) -> bool:
        return value is None or type(value) is str

    return (
        text(label) and real(score) and text(probabilities) and type(source) is str and text(exclusion)
        and real(mass) and type(raw) is str and integer(prompt_tokens) and integer(completion_tokens)
        and real(latency)
        and (probabilities is None or "NaN" not in probabilities and "Infinity" not in probabilities)
    )  # fmt: skip


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


def _missing_plain(value: Any) -> bool:
    """:func:`_missing` of a value of :data:`_PLAIN_TYPES`."""
    if type(value) is str:
        return not value.strip()
    return value is None or (type(value) is float and value != value)


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
