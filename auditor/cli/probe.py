"""``auditor probe ITEMS --model M``: judge items under profile views and persona variants through an
OpenAI-compatible endpoint (``judges``), then audit the variants (:func:`auditor.probes.run_variants`) and write
the reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.common import DEFAULT_FORMATS, parse_formats
from auditor.errors import ConfigError
from judges.cli.options import (
    ApiKeyEnvOption,
    BaseUrlOption,
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
    ProfileColumnOption,
    RenameFieldOption,
    RequestDeadlineOption,
    RequestProfileOption,
    TemplateOption,
    TimeoutOption,
    VerdictOption,
    body_options,
    check_outputs,
    use_profile_column,
)
from judges.defaults import MAX_ANSWER_BYTES, MAX_ERROR_RATE, MAX_WAIT, REQUEST_DEADLINE


def parse_views(text: str) -> tuple[tuple[str, str], ...]:
    """``"full@start,none"`` -> ``(("full", "start"), ("none", "start"))``."""
    views = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        view, _, place = part.partition("@")
        views.append((view.strip(), (place or "start").strip()))
    if not views:
        raise ConfigError("--views needs at least one view, e.g. full@start,none@start", column="--views")
    return tuple(views)


def probe(
    items: Annotated[Path, typer.Argument(help="Items table (JSONL/CSV/TSV/Parquet) with a profile column.")],
    model: ModelOption,
    base_url: BaseUrlOption = None,
    api_key_env: ApiKeyEnvOption = "OPENAI_API_KEY",
    name: Annotated[str | None, typer.Option(help="Judge name (default: the model).")] = None,
    task: Annotated[str, typer.Option(help="pairwise | likert | binary")] = "pairwise",
    views: Annotated[
        str, typer.Option(help="Profile views, view@place, comma-separated.")
    ] = "full@start,none@start",
    profile_column: ProfileColumnOption = "profile",
    persona: Annotated[
        str, typer.Option(help="Persona variants: removed, swapped (comma-separated; '' none).")
    ] = "removed,swapped",
    orders: Annotated[str, typer.Option(help="ab, ba or ab,ba.")] = "ab,ba",
    template: TemplateOption = None,
    labels: Annotated[
        Path | None, typer.Option(help="Reference (human) labels to audit the variants against.")
    ] = None,
    stage: Annotated[str | None, typer.Option(help="extraction | relevance | generation")] = None,
    cache: Annotated[Path | None, typer.Option(help="SQLite response cache (default: in memory).")] = None,
    concurrency: ConcurrencyOption = 8,
    max_response_chars: MaxResponseCharsOption = None,
    verdict: VerdictOption = None,
    request_profile: RequestProfileOption = "chat",
    drop_field: DropFieldOption = None,
    rename_field: RenameFieldOption = None,
    json_format: JsonFormatOption = "json_schema",
    min_verdict_mass: MinVerdictMassOption = 0.2,
    max_tokens: MaxTokensOption = None,
    timeout: TimeoutOption = 120.0,
    max_retries: MaxRetriesOption = 5,
    max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE,
    max_wait: MaxWaitOption = MAX_WAIT,
    request_deadline: RequestDeadlineOption = REQUEST_DEADLINE,
    max_answer_bytes: MaxAnswerBytesOption = MAX_ANSWER_BYTES,
    http_client: HttpClientOption = "auto",
    bootstrap: Annotated[int | None, typer.Option(help="Bootstrap resamples.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the profile swap.")] = 0,
    judge_aggregate: Annotated[
        str,
        typer.Option(
            help="Verdicts of both orders combine by: mean_score (the mean "
            "of their probability-expected scores) or vote."
        ),
    ] = "mean_score",
    out: Annotated[Path, typer.Option(help="Output folder (labels.jsonl, audit.json, reports).")] = Path(
        "probe-out"
    ),
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Persona sensitivity and profile views: re-judge with other profiles, audit every variant."""
    import pandas as pd

    import reports
    from auditor.io import read_table, write_table
    from auditor.personalization import audit_stage
    from auditor.probes import run_variants
    from judges.cache import JudgeCache
    from judges.cli.options import resume_note
    from judges.llm import JudgeRunIncomplete, LLMJudge, LLMJudgeConfig

    formats = parse_formats(DEFAULT_FORMATS)  # a bad $AUDITOR_REPORT_URL is bad input before any request
    check_outputs(out, "folder", cache=cache)
    frame = use_profile_column(read_table(items), profile_column, items)
    config = LLMJudgeConfig(
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        concurrency=concurrency,
        verdict_mode=verdict,
        json_format=json_format,
        min_verdict_mass=min_verdict_mass,
        max_tokens=max_tokens,
        **body_options(request_profile, drop_field, rename_field),
        timeout=timeout,
        max_retries=max_retries,
        max_error_rate=max_error_rate,
        max_wait=max_wait,
        request_deadline=request_deadline,
        max_answer_bytes=max_answer_bytes,
        http_client=http_client,
        progress=not quiet,
    )
    shared = JudgeCache(cache if cache is not None else ":memory:")
    order_list = tuple(o.strip() for o in orders.split(",") if o.strip())

    def make_judge(view: str, place: str) -> LLMJudge:
        """The judge of one profile view (a :data:`auditor.probes.JudgeFactory`), all of them on one cache."""
        return LLMJudge(
            config,
            template=template,
            profile_view=view,
            profile_at=place,
            orders=order_list,
            cache=shared,
            max_response_chars=max_response_chars,
        )

    judge_name = name or model
    try:
        judged = run_variants(
            frame,
            task,
            make_judge,
            name=judge_name,
            views=parse_views(views),
            persona=tuple(p.strip() for p in persona.split(",") if p.strip()),
            seed=seed,
        )
    except JudgeRunIncomplete as exc:  # exit code 3, after writing the labels judged so far (no audit)
        if exc.labels is None:
            raise
        out.mkdir(parents=True, exist_ok=True)
        write_table(exc.labels, out / "labels.jsonl")
        note = resume_note(cached=cache is not None)
        raise JudgeRunIncomplete(
            f"{exc}; wrote {out / 'labels.jsonl'}, no audit; {note}", exc.labels
        ) from None
    out.mkdir(parents=True, exist_ok=True)
    judged.to_json(out / "labels.jsonl", orient="records", lines=True, force_ascii=False)
    all_labels = judged if labels is None else pd.concat([read_table(labels), judged], ignore_index=True)
    result = audit_stage(
        all_labels,
        frame,
        stage=stage,
        task=task,
        resamples=bootstrap,
        reference_fallback=judge_name,
        judge_aggregate=judge_aggregate,
    )
    written = reports.write_reports(result.to_dict(), out, formats)
    if not quiet:
        for path in [out / "labels.jsonl", *written]:
            typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("probe")(probe)
