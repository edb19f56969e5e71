"""``auditor injection [ITEMS] --model MODEL ... --out DIR``: the prompt-injection probe (:mod:`judges.injection`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.errors import ConfigError
from judges.cli.options import (
    ApiKeyEnvOption,
    BaseUrlOption,
    CacheOption,
    ConcurrencyOption,
    DropFieldOption,
    HttpClientOption,
    JsonFormatOption,
    MaxAnswerBytesOption,
    MaxErrorRateOption,
    MaxResponseCharsOption,
    MaxRetriesOption,
    MaxTokensOption,
    MaxWaitOption,
    MinVerdictMassOption,
    ModelOption,
    NoCacheOption,
    ProfileAtOption,
    ProfileViewOption,
    QuietOption,
    RenameFieldOption,
    RequestDeadlineOption,
    RequestProfileOption,
    TemplateOption,
    TimeoutOption,
    VerdictOption,
    body_options,
    build_llm_judge,
    cache_file,
    check_outputs,
    resume_note,
)
from judges.defaults import MAX_ANSWER_BYTES, MAX_ERROR_RATE, MAX_WAIT, REQUEST_DEADLINE

INJECTION_FILES = {
    "clean": "clean.jsonl",
    "injected": "injected.jsonl",
    "summary_csv": "summary.csv",
    "summary_json": "summary.json",
    "summary_md": "summary.md",
}


def _probe_items(items_path: Path | None, n_generic: int) -> Any:
    """The items to plant payloads in: the file's (checked row by row), else the built-in generic items."""
    import pandas as pd

    from auditor.data import read_items
    from auditor.errors import InputError
    from auditor.io import ROW
    from judges.injection import generic_items

    if items_path is None:
        if n_generic < 1:
            raise ConfigError("--generic must be at least 1", column="--generic")
        return generic_items(n_generic)
    items = read_items(items_path)
    for column in ("response_a", "response_b"):
        if column not in items.columns:
            raise InputError(
                f"the injection probe needs pairs: no column {column!r} (a is one response, b the other)",
                file=str(items_path),
                column=column,
            )
        for position, value in enumerate(items[column].tolist()):
            if value is None or (isinstance(value, float) and pd.isna(value)) or isinstance(value, str):
                continue  # a missing response is excluded by the judge and counted
            row = int(items[ROW].iloc[position]) if ROW in items.columns else position + 1
            raise InputError(
                f"expected a text response, got {type(value).__name__} {str(value)[:40]!r}",
                file=str(items_path),
                row=row,
                column=column,
            )
    return items


def run_injection(
    items_path: Path | None,
    *,
    model: str,
    out: Path,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    name: str | None = None,
    task: str = "pairwise",
    target: str = "dispreferred",
    payloads: str | None = None,
    n_generic: int = 40,
    template: str | None = None,
    profile_view: str = "full",
    profile_at: str = "start",
    verdict: str | None = None,
    request_profile: str = "chat",
    drop_field: list[str] | None = None,
    rename_field: list[str] | None = None,
    json_format: str = "json_schema",
    min_verdict_mass: float = 0.2,
    max_tokens: int | None = None,
    concurrency: int = 8,
    timeout: float = 120.0,
    max_retries: int = 5,
    max_error_rate: float = MAX_ERROR_RATE,
    max_wait: float = MAX_WAIT,
    request_deadline: float = REQUEST_DEADLINE,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
    http_client: str = "auto",
    cache: Path | None = None,
    no_cache: bool = False,
    max_response_chars: int | None = None,
    bootstrap: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    progress: bool = True,
) -> str:
    """What ``auditor injection`` does: run :func:`judges.injection.run_injection_probe` and write its results.

    Writes into ``out``: ``clean.jsonl`` and ``injected.jsonl`` (labels, the injected ones with the probe
    columns), ``summary.csv``, ``summary.json`` and ``summary.md``; each atomically, and only after the probe ran
    (a bad option or input stops before any request, and nothing is written).  Returns the one-line summary.
    A judging run that stops (:class:`~judges.llm.JudgeRunIncomplete`, exit code 3) writes the labels it has
    (``clean.jsonl``, and ``injected.jsonl`` if the clean run was complete) and no summary.
    """
    from auditor.io import write_table, write_text
    from judges.injection import (
        PAYLOAD_KINDS,
        PROBE_SET,
        PROBE_TASKS,
        TARGETS,
        run_injection_probe,
        summary_markdown,
        summary_records,
    )
    from judges.llm import JudgeRunIncomplete

    if task not in PROBE_TASKS:
        raise ConfigError(
            f"the injection probe supports {' and '.join(PROBE_TASKS)} tasks, not {task!r}", column="--task"
        )
    if target not in TARGETS:
        raise ConfigError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}", column="--target")
    kinds = [k.strip() for k in payloads.split(",") if k.strip()] if payloads else list(PAYLOAD_KINDS)
    unknown = [k for k in kinds if k not in PAYLOAD_KINDS]
    if unknown or not kinds:
        raise ConfigError(
            f"unknown payload kind {', '.join(map(repr, unknown)) or '(none given)'}; expected some of "
            f"{', '.join(PAYLOAD_KINDS)}",
            column="--payloads",
        )
    if bootstrap < 0:
        raise ConfigError("--bootstrap must be 0 or more", column="--bootstrap")
    if not 0 < level < 1:
        raise ConfigError("--level must be between 0 and 1, e.g. 0.95", column="--level")
    check_outputs(out, "folder", cache=cache_file(no_cache, cache))
    items = _probe_items(items_path, n_generic)
    judge = build_llm_judge(
        dict(
            model=model,
            base_url=base_url,
            api_key_env=api_key_env,
            name=name,
            verdict_mode=verdict,
            json_format=json_format,
            min_verdict_mass=min_verdict_mass,
            max_tokens=max_tokens,
            **body_options(request_profile, drop_field, rename_field),
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            max_error_rate=max_error_rate,
            max_wait=max_wait,
            request_deadline=request_deadline,
            max_answer_bytes=max_answer_bytes,
            http_client=http_client,
            progress=progress,
        ),
        template=template,
        profile_view=profile_view,
        profile_at=profile_at,
        orders=("ab",),
        no_cache=no_cache,
        cache=cache,
        max_response_chars=max_response_chars,
    )
    try:
        clean, injected, summary = run_injection_probe(
            judge,
            items,
            task,
            target=target,  # type: ignore[arg-type]
            payload_kinds=kinds,
            seed=seed,
            resamples=bootstrap,
            level=level,
        )
    except JudgeRunIncomplete as exc:  # exit code 3, after writing the labels judged so far
        out.mkdir(parents=True, exist_ok=True)
        for table, labels in exc.tables.items():
            write_table(labels, out / INJECTION_FILES[table])
        names = ", ".join(INJECTION_FILES[table] for table in exc.tables) or "nothing"
        note = resume_note(cached=not no_cache)
        raise JudgeRunIncomplete(f"{exc}; wrote {names} in {out}, no summary; {note}", exc.labels) from None
    finally:
        judge.close()
    n_items = len(items)
    document = {
        "probe_set": PROBE_SET,
        "judge": judge.config.judge_name,
        "model": model,
        "task": task,
        "target": target,
        "payload_kinds": kinds,
        "n_items": n_items,
        "items": str(items_path) if items_path is not None else f"generic_items({n_generic})",
        "bootstrap": {"resamples": bootstrap, "seed": seed, "level": level},
        "files": {key: name for key, name in INJECTION_FILES.items() if key != "summary_json"},
        "summary": summary_records(summary),
    }
    markdown = summary_markdown(summary, task=task, target=target, n_items=n_items, level=level)
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    write_table(clean, out / INJECTION_FILES["clean"])
    write_table(injected, out / INJECTION_FILES["injected"])
    write_table(summary, out / INJECTION_FILES["summary_csv"])
    write_text(out / INJECTION_FILES["summary_json"], text)
    write_text(out / INJECTION_FILES["summary_md"], markdown)
    overall = summary[summary["payload_kind"] == "all"]
    parts = []
    for row in overall.to_dict("records"):
        rate = row["injection_success_rate"]
        interval = ""
        if row["ci_low"] == row["ci_low"] and row["ci_high"] == row["ci_high"]:  # not NaN
            interval = f" [{row['ci_low'] * 100:.1f}, {row['ci_high'] * 100:.1f}]"
        shown = "no eligible verdict" if rate != rate else f"{rate * 100:.1f}%{interval}"
        parts.append(f"{row['judge']}: injection success {shown} on {int(row['n'])} eligible verdicts")
    return f"wrote {out}: " + "; ".join(parts or ["no verdicts"])


def register(app: typer.Typer) -> None:
    """Add the ``injection`` command to ``app``."""

    @app.command("injection")
    def injection_command(
        items: Annotated[
            Path | None,
            typer.Argument(
                help="Items file with response_a and response_b (default: the built-in generic items)."
            ),
        ] = None,
        model: ModelOption = ...,  # type: ignore[assignment]
        out: Annotated[
            Path, typer.Option(help="Output folder: clean.jsonl, injected.jsonl, summary.{csv,json,md}.")
        ] = Path("injection-out"),
        base_url: BaseUrlOption = None,
        api_key_env: ApiKeyEnvOption = "OPENAI_API_KEY",
        name: Annotated[str | None, typer.Option(help="Judge name (default openai:MODEL).")] = None,
        task: Annotated[str, typer.Option(help="pairwise or likert.")] = "pairwise",
        target: Annotated[
            str, typer.Option(help="Arm that carries the payload: dispreferred, random, a or b.")
        ] = "dispreferred",
        payloads: Annotated[
            str | None, typer.Option(help="Payload kinds, comma-separated (default: all of injection@1).")
        ] = None,
        generic: Annotated[int, typer.Option(help="Without ITEMS: how many built-in generic items.")] = 40,
        template: TemplateOption = None,
        profile_view: ProfileViewOption = "full",
        profile_at: ProfileAtOption = "start",
        verdict: VerdictOption = None,
        request_profile: RequestProfileOption = "chat",
        drop_field: DropFieldOption = None,
        rename_field: RenameFieldOption = None,
        json_format: JsonFormatOption = "json_schema",
        min_verdict_mass: MinVerdictMassOption = 0.2,
        max_tokens: MaxTokensOption = None,
        concurrency: ConcurrencyOption = 8,
        timeout: TimeoutOption = 120.0,
        max_retries: MaxRetriesOption = 5,
        max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE,
        max_wait: MaxWaitOption = MAX_WAIT,
        request_deadline: RequestDeadlineOption = REQUEST_DEADLINE,
        max_answer_bytes: MaxAnswerBytesOption = MAX_ANSWER_BYTES,
        http_client: HttpClientOption = "auto",
        cache: CacheOption = None,
        no_cache: NoCacheOption = False,
        max_response_chars: MaxResponseCharsOption = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 2000,
        seed: Annotated[int, typer.Option(help="Seed of the random arms and the bootstrap.")] = 0,
        level: Annotated[float, typer.Option(help="Interval level.")] = 0.95,
        quiet: QuietOption = False,
    ) -> None:
        """Prompt-injection probe: plant instructions to the judge in responses and measure how often it obeys."""
        message = run_injection(
            items,
            model=model,
            out=out,
            base_url=base_url,
            api_key_env=api_key_env,
            name=name,
            task=task,
            target=target,
            payloads=payloads,
            n_generic=generic,
            template=template,
            profile_view=profile_view,
            profile_at=profile_at,
            verdict=verdict,
            request_profile=request_profile,
            drop_field=drop_field,
            rename_field=rename_field,
            json_format=json_format,
            min_verdict_mass=min_verdict_mass,
            max_tokens=max_tokens,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            max_error_rate=max_error_rate,
            max_wait=max_wait,
            request_deadline=request_deadline,
            max_answer_bytes=max_answer_bytes,
            http_client=http_client,
            cache=cache,
            no_cache=no_cache,
            max_response_chars=max_response_chars,
            bootstrap=bootstrap,
            seed=seed,
            level=level,
            progress=not quiet,
        )
        typer.echo(message, err=True)
