"""What an LLM judge is told: the endpoint and sampling options (:class:`LLMJudgeConfig`), their validation, and
the request body they make (:func:`default_body`, :func:`shape_body`; :mod:`judges.llm.planning` adds the prompt)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.errors import ConfigError
from judges.defaults import MAX_ANSWER_BYTES, MAX_ERROR_RATE, MAX_WAIT, REQUEST_DEADLINE
from judges.templates import PROFILE_PLACES, PROFILE_VIEWS, VERDICT_MODES

#: ``max_tokens`` by verdict mode when the config leaves it at None.
DEFAULT_MAX_TOKENS = {"logprobs": 3, "json": 32, "text": 512}
#: The request profiles: ``chat`` sends ``max_tokens``, ``temperature`` and (logprob verdicts) ``logprobs``;
#: ``reasoning`` (OpenAI o-series, gpt-5 and the like) sends ``max_completion_tokens`` and none of the others.
REQUEST_PROFILES: tuple[str, ...] = ("chat", "reasoning")
#: ``max_completion_tokens`` of the reasoning profile by verdict mode when the config leaves ``max_tokens`` at
#: None (the model's hidden reasoning tokens count against it).
REASONING_MAX_TOKENS = {"json": 2048, "text": 4096}
#: Body fields that ``drop_fields`` / ``rename_fields`` may not touch (every chat-completions request needs them).
FIXED_FIELDS: tuple[str, ...] = ("model", "messages")
#: How the JSON schema of a ``json`` verdict is asked for.
JSON_FORMATS: tuple[str, ...] = ("json_schema", "json_object")
#: The HTTP transports of the ``openai`` client: ``auto`` is ``aiohttp`` when the ``openai[aiohttp]`` extra is
#: installed (about half the client CPU per request), else ``httpx`` (the client's default).
HTTP_CLIENTS: tuple[str, ...] = ("auto", "httpx", "aiohttp")
#: The orders a pair can be shown in.
ORDERS: tuple[str, ...] = ("ab", "ba")
#: Config fields that steer the run but not the request bodies (left out of the plan keys).
RUN_ONLY_OPTIONS = frozenset(
    {
        "concurrency", "timeout", "max_retries", "max_error_rate", "max_wait", "request_deadline",
        "max_answer_bytes", "progress", "prices", "name", "api_key_env", "min_verdict_mass", "http_client",
    }
)  # fmt: skip


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

    Bounds of a run (:mod:`judges.llm.transport`): ``timeout`` seconds per attempt (in all, not per read),
    ``max_retries`` retries, ``request_deadline`` seconds per request across its attempts and waits, a
    ``Retry-After`` honoured up to ``max_wait`` seconds, answers of at most ``max_answer_bytes`` bytes; a run whose
    failed requests are more than ``max_error_rate`` of its requests raises
    :class:`~judges.llm.transport.JudgeRunIncomplete` (unparseable verdicts are answers, not failures).
    ``http_client``: the ``openai`` client's HTTP transport, ``auto`` (aiohttp when ``openai[aiohttp]`` is
    installed, else httpx), ``httpx`` or ``aiohttp`` (:data:`HTTP_CLIENTS`).

    ``request_profile``: ``chat`` (the body ``model, messages, temperature, max_tokens`` plus ``logprobs,
    top_logprobs`` or ``response_format`` by verdict mode) or ``reasoning`` (``model, messages,
    max_completion_tokens`` plus ``response_format`` for json verdicts; no temperature, no logprobs;
    ``max_tokens`` sets ``max_completion_tokens``, default 2048 for json and 4096 for text verdicts).
    ``verdict_mode=None`` is ``logprobs`` under ``chat`` and ``json`` under ``reasoning`` (which refuses
    ``logprobs``).  ``drop_fields`` names fields of the profile's body to leave out and ``rename_fields`` maps
    a field's name to the name to send it under (all at once, on the profile's names); both apply before
    ``extra_body`` is merged.  The three shape the body, so they are part of the cache key.
    """

    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    name: str | None = None
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    verdict_mode: str | None = None
    top_logprobs: int = 10
    json_format: str = "json_schema"
    min_verdict_mass: float = 0.2
    extra_body: dict[str, Any] = field(default_factory=dict)
    request_profile: str = "chat"
    drop_fields: tuple[str, ...] = ()
    rename_fields: dict[str, str] = field(default_factory=dict)
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 5
    max_error_rate: float = MAX_ERROR_RATE
    max_wait: float = MAX_WAIT
    request_deadline: float = REQUEST_DEADLINE
    max_answer_bytes: int = MAX_ANSWER_BYTES
    samples: int = 1
    prices: tuple[float, float] | None = None
    progress: bool = True
    http_client: str = "auto"

    def __post_init__(self) -> None:
        if self.verdict_mode is None:
            self.verdict_mode = "json" if self.request_profile == "reasoning" else "logprobs"
        self.drop_fields = tuple(self.drop_fields)
        self.rename_fields = dict(self.rename_fields)

    @property
    def judge_name(self) -> str:
        return self.name or f"openai:{self.model}"

    @property
    def endpoint(self) -> str:
        """The chat-completions URL the requests go to (part of the cache key)."""
        base = (self.base_url or "https://api.openai.com/v1").rstrip("/")
        return base + "/chat/completions"


def validate_options(
    config: LLMJudgeConfig, *, profile_view: str, profile_at: str, orders: Sequence[str]
) -> tuple[str, ...]:
    """Check the config and the judge's prompt options (a :class:`~auditor.errors.ConfigError` naming the flag);
    return the orders, stripped and without repeats."""
    if config.verdict_mode not in VERDICT_MODES:
        raise ConfigError(
            f"verdict mode must be one of {', '.join(VERDICT_MODES)}, not {config.verdict_mode!r}"
        )
    if config.request_profile not in REQUEST_PROFILES:
        raise ConfigError(f"--request-profile must be chat or reasoning, not {config.request_profile!r}")
    if config.request_profile == "reasoning" and config.verdict_mode == "logprobs":
        raise ConfigError(
            "--verdict logprobs needs the chat profile: the reasoning profile sends no logprobs (models of that "
            "kind reject them); use --verdict json (the default with --request-profile reasoning) or text"
        )
    if config.request_profile == "reasoning" and config.temperature != 0.0:
        raise ConfigError(
            f"--temperature {config.temperature:g}: the reasoning profile sends no temperature (models of that kind "
            "reject it); leave it out, or send one with --extra '{\"temperature\": 1}'"
        )
    if config.json_format not in JSON_FORMATS:
        raise ConfigError(f"--json-format must be json_schema or json_object, not {config.json_format!r}")
    if profile_view not in PROFILE_VIEWS:
        raise ConfigError(f"--profile-view must be one of {', '.join(PROFILE_VIEWS)}, not {profile_view!r}")
    if profile_at not in PROFILE_PLACES:
        raise ConfigError(f"--profile-at must be start or end, not {profile_at!r}")
    unique = tuple(dict.fromkeys(o.strip() for o in orders))
    if not unique or any(o not in ORDERS for o in unique):
        raise ConfigError(f"--orders must be ab, ba or ab,ba, not {','.join(unique)!r}")
    check_http_client(config.http_client)
    if config.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    if config.samples < 1:
        raise ConfigError("--samples must be at least 1")
    if not 0 <= config.max_error_rate <= 1:
        raise ConfigError(f"--max-error-rate must be between 0 and 1, not {config.max_error_rate:g}")
    for flag, value in (
        ("--timeout", config.timeout), ("--request-deadline", config.request_deadline),
        ("--max-answer-bytes", config.max_answer_bytes),
    ):  # fmt: skip
        if not value > 0:
            raise ConfigError(f"{flag} must be more than 0, not {value:g}")
    if config.max_retries < 0 or not config.max_wait >= 0:
        raise ConfigError("--max-retries and --max-wait must be 0 or more")
    if config.max_tokens is not None and config.max_tokens < 1:
        raise ConfigError("--max-tokens must be at least 1")
    shape_body(default_body(config, [], 0, {}), config)  # a ConfigError for a field the body does not have
    return unique


def check_http_client(kind: str) -> None:
    """A :class:`ConfigError` for an ``--http-client`` that is not one of :data:`HTTP_CLIENTS`, or ``aiohttp``
    without the aiohttp extra; every judge that sends requests checks its transport here."""
    if kind not in HTTP_CLIENTS:
        raise ConfigError(f"--http-client must be auto, httpx or aiohttp, not {kind!r}")
    if kind == "aiohttp" and not aiohttp_installed():
        raise ConfigError(
            "--http-client aiohttp needs the aiohttp extra of the openai client: pip install 'judge-auditor[aiohttp]'"
        )


def aiohttp_installed() -> bool:
    """Whether the ``openai`` client's aiohttp transport can be used (``pip install 'openai[aiohttp]'``)."""
    import importlib.util

    return importlib.util.find_spec("aiohttp") is not None


def resolved_http_client(kind: str) -> str:
    """``httpx`` or ``aiohttp``: the transport a run with ``--http-client kind`` uses (``auto`` is aiohttp when
    aiohttp is installed and the ``openai`` client has its aiohttp transport, ``DefaultAioHttpClient``)."""
    if kind != "auto":
        return kind
    if not aiohttp_installed():
        return "httpx"
    import openai

    return "aiohttp" if hasattr(openai, "DefaultAioHttpClient") else "httpx"


def default_body(
    config: LLMJudgeConfig,
    messages: list[dict[str, str]],
    sample: int,
    response_format: dict[str, Any] | None,
) -> dict[str, Any]:
    """The body of the config's request profile before ``drop_fields``, ``rename_fields`` and ``extra_body``.

    ``chat``: ``model, messages, temperature, max_tokens`` (default by verdict mode, :data:`DEFAULT_MAX_TOKENS`),
    ``seed`` (seed + sample, when set), then ``logprobs, top_logprobs`` (logprob verdicts) or ``response_format``
    (json verdicts).  ``reasoning``: ``model, messages, max_completion_tokens`` (default
    :data:`REASONING_MAX_TOKENS`), ``seed``, ``response_format`` (json verdicts); no temperature, no logprobs.
    """
    mode = config.verdict_mode or "logprobs"
    body: dict[str, Any] = {"model": config.model, "messages": messages}
    if config.request_profile == "reasoning":
        body["max_completion_tokens"] = (
            config.max_tokens if config.max_tokens is not None else REASONING_MAX_TOKENS.get(mode, 2048)
        )
    else:
        body["temperature"] = config.temperature
        body["max_tokens"] = config.max_tokens if config.max_tokens is not None else DEFAULT_MAX_TOKENS[mode]
    if config.seed is not None:
        body["seed"] = config.seed + sample
    if mode == "logprobs" and config.request_profile != "reasoning":
        body["logprobs"] = True
        body["top_logprobs"] = config.top_logprobs
    elif mode == "json":
        body["response_format"] = response_format
    return body


def shape_body(body: dict[str, Any], config: LLMJudgeConfig) -> dict[str, Any]:
    """``body`` without the config's ``drop_fields`` and with its ``rename_fields`` (every rename maps a name of
    ``body``, all at once); a :class:`~auditor.errors.ConfigError` listing the body's fields for a name it does
    not have, for ``model`` / ``messages``, or for a rename onto a name the body already sends."""
    drop, rename = config.drop_fields, config.rename_fields
    if not drop and not rename:
        return body
    fields_ = ", ".join(body)
    for flag, names in (("--drop-field", drop), ("--rename-field", tuple(rename))):
        for name in names:
            if name in FIXED_FIELDS:
                raise ConfigError(f"{flag} {name}: every chat-completions request needs {name!r}")
            if name not in body:
                raise ConfigError(
                    f"{flag} {name}: the request body has no field {name!r} "
                    f"(profile {config.request_profile}, verdict {config.verdict_mode}: {fields_})"
                )
    both = [name for name in drop if name in rename]
    if both:
        raise ConfigError(f"--drop-field and --rename-field both name {both[0]!r}")
    shaped: dict[str, Any] = {}
    for name, value in body.items():
        if name in drop:
            continue
        new = rename.get(name, name)
        if (
            not new
            or new in shaped
            or (new != name and new in body and new not in rename and new not in drop)
        ):
            raise ConfigError(
                f"--rename-field {name}={new}: "
                + (f"the request body already sends {new!r} ({fields_})" if new else "names no new field")
            )
        shaped[new] = value
    return shaped
