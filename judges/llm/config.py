"""What an LLM judge is told: the endpoint and sampling options (:class:`LLMJudgeConfig`) and their validation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from auditor.errors import ConfigError
from judges.templates import PROFILE_PLACES, PROFILE_VIEWS, VERDICT_MODES

#: ``max_tokens`` by verdict mode when the config leaves it at None.
DEFAULT_MAX_TOKENS = {"logprobs": 3, "json": 32, "text": 512}
#: How the JSON schema of a ``json`` verdict is asked for.
JSON_FORMATS: tuple[str, ...] = ("json_schema", "json_object")
#: The orders a pair can be shown in.
ORDERS: tuple[str, ...] = ("ab", "ba")
#: Config fields that steer the run but not the request bodies (left out of the plan keys).
RUN_ONLY_OPTIONS = frozenset(
    {
        "concurrency", "timeout", "max_retries", "max_error_rate", "max_wait", "request_deadline",
        "max_answer_bytes", "progress", "prices", "name", "api_key_env", "min_verdict_mass",
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
    max_error_rate: float = 0.05
    max_wait: float = 60.0
    request_deadline: float = 300.0
    max_answer_bytes: int = 1_048_576
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


def validate_options(
    config: LLMJudgeConfig, *, profile_view: str, profile_at: str, orders: Sequence[str]
) -> tuple[str, ...]:
    """Check the config and the judge's prompt options (a :class:`~auditor.errors.ConfigError` naming the flag);
    return the orders, stripped and without repeats."""
    if config.verdict_mode not in VERDICT_MODES:
        raise ConfigError(
            f"verdict mode must be one of {', '.join(VERDICT_MODES)}, not {config.verdict_mode!r}"
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
    return unique
