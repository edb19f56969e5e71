"""Command-line options shared by the commands that send requests to an OpenAI-compatible endpoint
(``auditor judge``, ``auditor injection``, ``auditor probe``): one declaration each (typer copies an ``Annotated``
option per use); the defaults stay with each command.  Also what those commands share after parsing: the items'
profile column, the ``--extra`` JSON, the default cache file and the :class:`~judges.llm.LLMJudge` they build.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from auditor.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from judges.llm import LLMJudge

ModelOption = Annotated[str, typer.Option("--model", help="Model name at the endpoint.")]
BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1.")
]
ApiKeyEnvOption = Annotated[
    str, typer.Option("--api-key-env", help="Environment variable holding the API key.")
]
TemplateOption = Annotated[
    str | None, typer.Option("--template", help="Built-in template name or a TOML file.")
]
ProfileViewOption = Annotated[str, typer.Option("--profile-view", help="full, outputs, inputs or none.")]
ProfileAtOption = Annotated[str, typer.Option("--profile-at", help="start or end of the prompt.")]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", help="Requests in flight at once.")]
CacheOption = Annotated[
    Path | None, typer.Option("--cache", help="SQLite cache file (default: user cache dir).")
]
NoCacheOption = Annotated[bool, typer.Option("--no-cache", help="Keep responses in memory only.")]
TemperatureOption = Annotated[float, typer.Option("--temperature", help="Sampling temperature.")]
MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", help="Answer token limit (default by verdict mode).")
]
VerdictOption = Annotated[
    str | None,
    typer.Option(
        "--verdict",
        help="logprobs, json (JSON schema) or text (default: logprobs; json with --request-profile reasoning).",
    ),
]
RequestProfileOption = Annotated[
    str,
    typer.Option(
        "--request-profile",
        help="chat (max_tokens, temperature, logprobs) or reasoning (max_completion_tokens only; o-series, gpt-5).",
    ),
]
DropFieldOption = Annotated[
    list[str] | None,
    typer.Option("--drop-field", help="Leave a default request field out, e.g. temperature (repeatable)."),
]
RenameFieldOption = Annotated[
    list[str] | None,
    typer.Option(
        "--rename-field",
        help="Send a default request field under another name, OLD=NEW, e.g. "
        "max_tokens=max_completion_tokens (repeatable).",
    ),
]
JsonFormatOption = Annotated[
    str,
    typer.Option(
        "--json-format", help="json_schema (OpenAI, vLLM) or json_object (llama-cpp-python's server)."
    ),
]
MinVerdictMassOption = Annotated[
    float,
    typer.Option(
        "--min-verdict-mass", help="Least probability the verdict tokens must hold for a logprob verdict."
    ),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", help="Seconds per request attempt (in all, not per read).")
]
MaxRetriesOption = Annotated[int, typer.Option("--max-retries", help="Retries on 429, 5xx, timeouts.")]
MaxErrorRateOption = Annotated[
    float,
    typer.Option(
        "--max-error-rate",
        help="Largest share of failed requests (transport or HTTP errors, malformed answers) a run may have; "
        "past it the run ends with exit code 3 after writing its labels. Unparseable verdicts do not count.",
    ),
]
MaxWaitOption = Annotated[
    float,
    typer.Option("--max-wait", help="Longest Retry-After honoured (seconds); a longer one ends the request."),
]
RequestDeadlineOption = Annotated[
    float,
    typer.Option("--request-deadline", help="Seconds a request may take in all, across attempts and waits."),
]
MaxAnswerBytesOption = Annotated[
    int,
    typer.Option("--max-answer-bytes", help="Longest answer body read (bytes); a longer one is excluded."),
]
ExtraOption = Annotated[str | None, typer.Option("--extra", help="Extra request fields as a JSON object.")]
MaxResponseCharsOption = Annotated[
    int | None, typer.Option("--max-response-chars", help="Cut responses to this length.")
]
ProfileColumnOption = Annotated[
    str,
    typer.Option(
        "--profile-column",
        help="Items column holding the profile the judge sees (e.g. relevant_profile in converted Re-Centering data).",
    ),
]
HttpClientOption = Annotated[
    str,
    typer.Option(
        "--http-client",
        help="The openai client's HTTP transport: auto (aiohttp when it is installed, the 'aiohttp' extra; "
        "else httpx), httpx or aiohttp.",
    ),
]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]

DEFAULT_CACHE_NAME = "judge-cache.sqlite"


def use_profile_column(items: pd.DataFrame, column: str, path: str | Path) -> pd.DataFrame:
    """``items`` with ``column`` as the ``profile`` the judges render (the column itself when it is ``profile``);
    an :class:`~auditor.errors.InputError` naming the file and the column when the items have no such column."""
    from auditor.errors import InputError

    if column == "profile":
        return items
    if column not in items.columns:
        raise InputError(
            f"has no column {column!r} for --profile-column (columns: {', '.join(map(str, items.columns))})",
            file=str(path),
            column=column,
        )
    return items.assign(profile=items[column])


def parse_extra(extra: str | None) -> dict[str, Any]:
    """The ``--extra`` JSON object (merged into every request body); never an API key."""
    if not extra:
        return {}
    try:
        value = json.loads(extra)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--extra must be a JSON object, e.g. '{{\"top_k\": 1}}': {exc.msg}") from exc
    if not isinstance(value, dict):
        raise ConfigError("--extra must be a JSON object, e.g. '{\"top_k\": 1}'")
    for forbidden in ("api_key", "authorization", "Authorization"):
        if forbidden in value:
            raise ConfigError("--extra must not carry an API key; use --api-key-env")
    return value


def body_options(
    request_profile: str, drop_field: list[str] | None, rename_field: list[str] | None
) -> dict[str, Any]:
    """The config options that shape the request body: ``--request-profile``, ``--drop-field`` and
    ``--rename-field OLD=NEW`` (checked against the body when the judge is built)."""
    renames: dict[str, str] = {}
    for text in rename_field or ():
        old, sep, new = text.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise ConfigError(
                f"--rename-field must be OLD=NEW, e.g. max_tokens=max_completion_tokens, not {text!r}"
            )
        renames[old.strip()] = new.strip()
    return {
        "request_profile": request_profile,
        "drop_fields": tuple(name.strip() for name in drop_field or ()),
        "rename_fields": renames,
    }


def check_outputs(out: Path | None, kind: str, *, cache: Path | None) -> None:
    """Before the first request: ``out`` (a ``table`` or a ``folder``) and the cache file (None: in memory) can be
    written (:func:`auditor.io.check_writable`; an :class:`~auditor.errors.InputError` naming the path)."""
    from auditor.io import check_writable

    if out is not None:
        check_writable(out, kind)  # type: ignore[arg-type]
    if cache is not None:
        check_writable(cache, "file")


def cache_file(no_cache: bool, cache: Path | None) -> Path | None:
    """The cache file of a command: None (in memory) with --no-cache, else --cache or :func:`default_cache_path`."""
    return None if no_cache else (cache or default_cache_path())


def default_cache_path() -> Path:
    """``$AUDITOR_CACHE_DIR/judge-cache.sqlite``, else ``$XDG_CACHE_HOME/auditor/...``, else ``~/.cache/auditor/...``."""
    base = os.environ.get("AUDITOR_CACHE_DIR")
    if base:
        return Path(base) / DEFAULT_CACHE_NAME
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "auditor" / DEFAULT_CACHE_NAME


def resume_note(*, cached: bool) -> str:
    """What a rerun of a judging run that stopped does (the end of its exit-code-3 message)."""
    if cached:
        return "a rerun with the same cache sends only the requests without an answer"
    return "without a cache file (--no-cache, or no --cache for probe) a rerun sends every request again"


def build_llm_judge(
    options: dict[str, Any], *, no_cache: bool, cache: Path | None, **judge_options: Any
) -> LLMJudge:
    """An :class:`judges.llm.LLMJudge` from the command line's config options (a progress bar only on a terminal)
    and its cache (``:memory:`` with --no-cache, else --cache or the default file)."""
    from judges.llm import LLMJudge, LLMJudgeConfig

    options = dict(options, progress=bool(options.get("progress", True)) and sys.stderr.isatty())
    cache_path = cache_file(no_cache, cache)
    return LLMJudge(LLMJudgeConfig(**options), cache=cache_path or ":memory:", **judge_options)
