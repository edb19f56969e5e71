"""Command-line options shared by the commands that send requests to an OpenAI-compatible endpoint
(``auditor judge``, ``auditor injection``, ``auditor probe``): one declaration each (typer copies an ``Annotated``
option per use); the defaults stay with each command.

Interim home (issue 14): these declarations move to ``judges/cli/options.py``; then ``auditor probe`` imports them
from there and this module goes.  Nothing outside ``auditor/cli/`` may import it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import pandas as pd

BaseUrlOption = Annotated[
    str | None, typer.Option("--base-url", help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1.")
]
ApiKeyEnvOption = Annotated[str, typer.Option("--api-key-env", help="Environment variable holding the API key.")]
TemplateOption = Annotated[str | None, typer.Option("--template", help="Built-in template name or a TOML file.")]
ProfileViewOption = Annotated[str, typer.Option("--profile-view", help="full, outputs, inputs or none.")]
ProfileAtOption = Annotated[str, typer.Option("--profile-at", help="start or end of the prompt.")]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", help="Requests in flight at once.")]
CacheOption = Annotated[
    Path | None, typer.Option("--cache", help="SQLite cache file (default: user cache dir).")
]
NoCacheOption = Annotated[bool, typer.Option("--no-cache", help="Keep responses in memory only.")]
MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", help="Answer token limit (default by verdict mode).")
]
VerdictOption = Annotated[str, typer.Option("--verdict", help="logprobs, json (JSON schema) or text.")]
JsonFormatOption = Annotated[
    str, typer.Option("--json-format", help="json_schema (OpenAI, vLLM) or json_object (llama-cpp-python's server).")
]
MinVerdictMassOption = Annotated[
    float,
    typer.Option("--min-verdict-mass", help="Least probability the verdict tokens must hold for a logprob verdict."),
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds per request attempt.")]
MaxRetriesOption = Annotated[int, typer.Option("--max-retries", help="Retries on 429, 5xx, timeouts.")]
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


def use_profile_column(items: pd.DataFrame, column: str, path: str | Path) -> pd.DataFrame:
    """``items`` with ``column`` as the ``profile`` the judges render (the column itself when it is ``profile``);
    an :class:`~auditor.errors.InputError` naming the file and the column when the items have no such column."""
    from auditor.errors import InputError

    if column == "profile":
        return items
    if column not in items.columns:
        raise InputError(f"has no column {column!r} for --profile-column (columns: {', '.join(map(str, items.columns))})",
                         file=str(path), column=column)
    return items.assign(profile=items[column])
