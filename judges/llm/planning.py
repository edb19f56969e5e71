"""Request planning: which requests a run needs (item x order x sample), their bodies and their keys.

A request's *cache key* (:func:`judges.cache.request_key`) hashes its endpoint, body, template and sample.  Its
*plan key* (:func:`plan_keys`) hashes everything that determines the body without rendering it (the judge's
fingerprint, :func:`plan_prefix`, and the item's row), so a fully cached rerun finds the cache key of every request
without rendering a prompt.  The *parser key* (:func:`parser_key`) names what a stored response's parsed verdict
depends on.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from auditor.errors import ConfigError, InputError
from auditor.io import is_missing
from judges.base import PAIRWISE_TASKS, TASKS
from judges.cache import JudgeCache, canonical_json, request_key
from judges.llm.config import RUN_ONLY_OPTIONS, LLMJudgeConfig, default_body, shape_body
from judges.parsing import PARSER_VERSION
from judges.templates import (
    RENDER_VERSION,
    ProfileProblem,
    Template,
    TemplateProblem,
    load_template,
    render_messages,
)

#: The cells an item needs for each task (an item missing one is excluded as ``missing_input``).
REQUIRED_CELLS: dict[str, tuple[str, ...]] = {
    "pairwise": ("response_a", "response_b"),
    "likert": ("response_a", "response_b"),
    "score": ("response",),
    "binary": ("prompt",),
}
#: The only value types an item's row may hold for it to get plan keys (their JSON is exact and unambiguous:
#: ``1``, ``1.0``, ``true`` and ``"1"`` differ); rows with anything else (lists, arrays, timestamps, pd.NA) are
#: rendered on every run.
PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
#: The modules whose source determines a request body, and those that determine a parsed verdict.
RENDER_MODULES: tuple[str, ...] = (
    "judges.templates",
    "judges.llm.config",
    "judges.llm.planning",
    "judges.cache",
)
PARSE_MODULES: tuple[str, ...] = ("judges.parsing", "judges.llm.rows")


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


class PlanSettings(Protocol):
    """What planning reads from a judge (:class:`judges.llm.LLMJudge` has these attributes)."""

    config: LLMJudgeConfig
    template_spec: str | Path | Template | None
    profile_view: str
    profile_at: str
    orders: Sequence[str]
    max_response_chars: int | None
    cache: JudgeCache


def template_for(spec: str | Path | Template | None, task: str) -> Template:
    """The template of ``task``: ``spec`` itself (which must be for ``task``), a built-in name or a TOML file, or
    the task's built-in one."""
    if isinstance(spec, Template):
        if spec.task != task:
            raise ConfigError(f"template {spec.id} is for task {spec.task!r}")
        return spec
    try:
        return load_template(spec, task)
    except TemplateProblem as exc:
        raise ConfigError(str(exc)) from exc


def request_body(
    config: LLMJudgeConfig, messages: list[dict[str, str]], sample: int, template: Template
) -> dict[str, Any]:
    """The JSON body of one chat-completions request (exactly what is sent, minus the API key): the profile's
    body (:func:`judges.llm.config.default_body`), its fields dropped and renamed
    (:func:`judges.llm.config.shape_body`), then ``extra_body``."""
    response_format = json_schema_format(config, template) if config.verdict_mode == "json" else None
    body = shape_body(default_body(config, messages, sample, response_format), config)
    body.update(config.extra_body)
    return body


def json_schema_format(config: LLMJudgeConfig, template: Template) -> dict[str, Any]:
    """The ``response_format`` that asks for ``{"verdict": one of the template's verdicts}``."""
    schema = {
        "type": "object",
        "properties": {"verdict": {"type": "string", "enum": list(template.verdicts)}},
        "required": ["verdict"],
        "additionalProperties": False,
    }
    if config.json_format == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": schema}}


def plan_requests(
    settings: PlanSettings, items: pd.DataFrame, task: str, *, lazy: bool, parser: str | None = None
) -> tuple[list[PlannedRequest], list[int], dict[str, tuple[Any, ...]]]:
    """The planned requests, for each the position of its item in ``items``, and parsed verdicts found.

    Every rendered request's key is stored under its plan key (:func:`plan_prefix`, :func:`plan_keys`).
    ``lazy``: an item whose plan keys are all stored is not rendered: its requests get the stored keys and no
    body (the caller renders the items whose responses turn out to be missing); with ``parser``, the parsed
    verdicts stored under it for those keys are read in the same query (``request key -> fields``).
    """
    if task not in TASKS:
        raise ConfigError(f"--task must be one of {', '.join(TASKS)}, not {task!r}")
    config, cache = settings.config, settings.cache
    template = template_for(settings.template_spec, task)
    check_items(items, task)
    orders: tuple[str | None, ...] = tuple(settings.orders) if task in PAIRWISE_TASKS else (None,)
    if task not in PAIRWISE_TASKS and tuple(settings.orders) != ("ab",):
        raise ConfigError(f"--orders applies to pairwise and likert tasks, not to {task!r}")
    if "ba" in settings.orders and task in PAIRWISE_TASKS and template.reads_unswapped_responses:
        raise ConfigError(
            f"template {template.id} reads item.response_a / item.response_b, the responses in their original "
            "order, so the swapped order (ba) would show the same prompt; use response_a / response_b (the "
            "responses as shown; cut them with --max-response-chars)"
        )
    needed = REQUIRED_CELLS[task]
    samples = config.samples
    combos = [(order, sample) for order in orders for sample in range(samples)]
    size = len(items)
    prefix = plan_prefix(settings, template, task, items)
    # Rows as plain tuples (fast); a row holding other types than PLAIN_TYPES gets no plan key and is read
    # as pandas' record (what rendering always reads, below).
    rows: list[tuple[Any, ...] | None] = [None] * size
    if prefix is not None:
        columns = items.columns.tolist()
        values = [items.iloc[:, number].tolist() for number in range(len(columns))]
        if all(PLAIN_TYPES.issuperset(map(type, column)) for column in values):
            rows = list(zip(*values, strict=True))
        else:
            rows = [
                row if PLAIN_TYPES.issuperset(map(type, row)) else None for row in zip(*values, strict=True)
            ]
        at = {column: number for number, column in enumerate(columns)}
        needed_at, id_at = [at[column] for column in needed], at["item_id"]
    records: dict[int, dict[Any, Any]] = {}
    if not lazy:
        records = dict(enumerate(items.to_dict("records")))
    else:
        read_records(items, [position for position, row in enumerate(rows) if row is None], records)
    skipped: list[bool] = []
    item_ids: list[str] = []
    item_plan_keys: list[list[str] | None] = []
    for position, row in enumerate(rows):
        if row is None:
            item = records[position]
            skipped.append(any(is_missing(item.get(column)) for column in needed))
            item_ids.append(str(item["item_id"]))
            item_plan_keys.append(None)
        else:
            skip = any(missing_plain(row[number]) for number in needed_at)
            skipped.append(skip)
            item_ids.append(str(row[id_at]))
            item_plan_keys.append(None if skip else plan_keys(prefix, row, combos))
    mapped: dict[str, str] = {}
    parsed: dict[str, tuple[Any, ...]] = {}
    if lazy:
        wanted = [pk for pks in item_plan_keys if pks is not None for pk in pks]
        if parser is not None:
            for pk, (key, fields_) in cache.get_planned(wanted, parser).items():
                mapped[pk] = key
                parsed[key] = fields_
        mapped.update(cache.get_plans(pk for pk in wanted if pk not in mapped))
        render = [
            position
            for position, pks in enumerate(item_plan_keys)
            if not skipped[position] and (pks is None or not all(pk in mapped for pk in pks))
        ]
        read_records(items, render, records)
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
        pks = item_plan_keys[position]
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
                    mode=config.verdict_mode,
                    profile_view=settings.profile_view,
                    profile_at=settings.profile_at,
                    max_response_chars=settings.max_response_chars,
                )
            except ProfileProblem as exc:
                row_number = int(item.get("__row__", position + 1))
                raise InputError(
                    str(exc), file=items.attrs.get("path"), row=row_number, column="profile"
                ) from exc
            except TemplateProblem as exc:
                raise ConfigError(str(exc)) from exc
            for sample in range(samples):
                body = request_body(config, messages, sample, template)
                key = request_key(endpoint=config.endpoint, body=body, template=template.id, sample=sample)
                planned.append(PlannedRequest(item_id, order, str(sample), key, body))
                positions.append(position)
                if pks is not None and pks[number * samples + sample] not in mapped:
                    new_pairs.append((pks[number * samples + sample], key))
    cache.put_plans(new_pairs)
    return planned, positions, parsed


def plan_prefix(settings: PlanSettings, template: Template, task: str, items: pd.DataFrame) -> Any:
    """A SHA-256 object fed with everything but the item's values that determines a request body, or None.

    That is the rendering code (the source of :data:`RENDER_MODULES`, the versions of Python, Jinja2 and pandas),
    the endpoint, the template's content, the task, every option of the config except those that only steer the
    run (:data:`judges.llm.config.RUN_ONLY_OPTIONS`: concurrency, timeouts, retries, prices, progress, name, the
    key's variable, the parsing threshold), the profile view and place, the response cut, and the items' column
    names and dtypes (the values of a row are hashed in :func:`plan_keys`).  None (no plan keys) for items with
    repeated column names or options that are not JSON.
    """
    columns = items.columns.tolist()
    if len(set(map(repr, columns))) != len(columns) or not all(type(c) in PLAIN_TYPES for c in columns):
        return None
    config = {
        f.name: getattr(settings.config, f.name)
        for f in fields(settings.config)
        if f.name not in RUN_ONLY_OPTIONS
    }
    material = {
        "code": render_code_hash(),
        "endpoint": settings.config.endpoint,
        "template": template.fingerprint,
        "template_id": template.id,
        "task": task,
        "config": config,
        "profile_view": settings.profile_view,
        "profile_at": settings.profile_at,
        "max_response_chars": settings.max_response_chars,
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


def plan_keys(prefix: Any, row: tuple[Any, ...], combos: list[tuple[str | None, int]]) -> list[str]:
    """The plan key of each (order, sample) of one item: SHA-256 of the judge's prefix (which holds the column
    names and dtypes), the ``repr`` of the row's values (all of :data:`PLAIN_TYPES`, whose ``repr`` is exact and
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


def parser_key(config: LLMJudgeConfig, template: Template) -> str:
    """What the parsed verdict of a stored response depends on: the parsing code, the template's content, the
    verdict mode and ``min_verdict_mass``."""
    material = {
        "code": parse_code_hash(),
        "template": template.fingerprint,
        "template_id": template.id,
        "mode": config.verdict_mode,
        "min_verdict_mass": repr(config.min_verdict_mass),
    }
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


def _source_hash(*modules: str) -> str:
    digest = hashlib.sha256()
    for name in modules:
        module = importlib.import_module(name)
        digest.update(name.encode() + b"\x00")
        digest.update(Path(module.__file__ or "").read_bytes())
        digest.update(b"\x00")
    return digest.hexdigest()


@functools.cache
def render_code_hash() -> str:
    """The rendering code's fingerprint (part of every plan key)."""
    import jinja2

    return canonical_json(
        {
            "render_version": RENDER_VERSION,
            "source": _source_hash(*RENDER_MODULES),
            "python": list(sys.version_info[:3]),
            "jinja2": jinja2.__version__,
            "pandas": pd.__version__,
        }
    )


@functools.cache
def parse_code_hash() -> str:
    """The parsing code's fingerprint (part of every parser key)."""
    return canonical_json(
        {
            "parser_version": PARSER_VERSION,
            "source": _source_hash(*PARSE_MODULES),
            "python": list(sys.version_info[:3]),
        }
    )


def read_records(items: pd.DataFrame, positions: list[int], records: dict[int, dict[Any, Any]]) -> None:
    """Add the pandas records (``to_dict("records")``, what rendering reads) of the rows at ``positions``."""
    positions = [position for position in positions if position not in records]
    if positions:
        records.update(zip(positions, items.iloc[positions].to_dict("records"), strict=True))


def missing_plain(value: Any) -> bool:
    """:func:`auditor.io.is_missing` of a value of :data:`PLAIN_TYPES` (the fast path of the cached rerun)."""
    if type(value) is str:
        return not value.strip()
    return value is None or (type(value) is float and value != value)


def check_items(items: pd.DataFrame, task: str) -> None:
    """The items have an ``item_id`` column without repeats and the columns ``task`` needs."""
    for column in ("item_id", *REQUIRED_CELLS[task]):
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
