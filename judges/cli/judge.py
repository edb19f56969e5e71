"""``auditor judge ITEMS --judge openai:MODEL|rm:PATH_OR_ID ... --out LABELS``: judge items, write a labels file.

``--judge openai:MODEL`` judges through an OpenAI-compatible endpoint (:mod:`judges.llm`), request by request,
or through the OpenAI Batch API (``--batch-submit`` / ``--batch-wait``, :mod:`judges.llm.batch_api`);
``--judge rm:PATH_OR_ID`` scores with a local reward model (:mod:`judges.reward_model`, imported only then), and
``--judge rm:MODEL --base-url URL`` with one served by vLLM's pooling API (:mod:`judges.reward_server`).  The
labels file is written atomically; the API key is read from the environment and never printed.
"""

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
    ExtraOption,
    HttpClientOption,
    JsonFormatOption,
    MaxAnswerBytesOption,
    MaxErrorRateOption,
    MaxResponseCharsOption,
    MaxRetriesOption,
    MaxTokensOption,
    MaxWaitOption,
    MinVerdictMassOption,
    NoCacheOption,
    ProfileAtOption,
    ProfileColumnOption,
    ProfileViewOption,
    QuietOption,
    RenameFieldOption,
    RequestDeadlineOption,
    RequestProfileOption,
    TemperatureOption,
    TemplateOption,
    TimeoutOption,
    VerdictOption,
    body_options,
    build_llm_judge,
    cache_file,
    check_outputs,
    parse_extra,
    resume_note,
    use_profile_column,
)
from judges.defaults import (
    BATCH_MAX_WAIT,
    BATCH_POLL,
    MAX_ANSWER_BYTES,
    MAX_ERROR_RATE,
    MAX_WAIT,
    REQUEST_DEADLINE,
)


def load_prices(path: Path, model: str) -> tuple[float, float]:
    """USD per million tokens ``(input, output)`` of ``model`` from a TOML or JSON price table.

    The table maps model names to ``{input = ..., output = ...}``, e.g. ``["gpt-4o-mini"] input = 0.15
    output = 0.6`` in TOML.
    """
    import tomllib

    try:
        text = path.read_text(encoding="utf-8")
        table = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as exc:
        raise ConfigError(f"cannot read the price table: {exc.strerror}") from exc
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"the price table {path} is not valid: {exc}") from exc
    entry = table.get(model)
    if not isinstance(entry, dict) or "input" not in entry or "output" not in entry:
        raise ConfigError(f"the price table {path} has no input and output price for model {model!r}")
    try:
        return float(entry["input"]), float(entry["output"])
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the prices of {model!r} in {path} are not numbers") from exc


#: The verdict sources of an LLM judge, in the order the summary names them.
VERDICT_SOURCES: tuple[str, ...] = ("logprobs", "json", "text")


def _summary(labels: Any, stats: dict[str, int] | None, *, sources: bool = False) -> str:
    """The one-line summary of a labels table: verdicts labelled and excluded (by reason); with ``sources``, the
    labelled verdicts by source (logprobs, JSON, text pattern) and the unparseable ones with their share of all
    verdicts; requests sent and cached; the cost."""
    total = len(labels)
    has_verdict = labels["label"].notna() | labels["score"].notna()
    labelled = int(has_verdict.sum())
    reasons = labels.loc[labels["exclusion"].notna(), "exclusion"].value_counts()
    line = f"{total} verdicts: {labelled} labelled, {total - labelled} excluded"
    if len(reasons):
        line += " (" + ", ".join(f"{reason} {count}" for reason, count in reasons.items()) + ")"
    if sources and total:
        counts = labels.loc[has_verdict, "verdict_source"].value_counts()
        named = [f"{source} {int(counts[source])}" for source in VERDICT_SOURCES if source in counts]
        unparseable = int(reasons.get("unparseable", 0))
        line += f"; verdicts from {', '.join(named) or 'no source'}"
        line += f"; unparseable {unparseable} ({unparseable / total:.0%})"
    if stats:
        line += f"; {stats.get('sent', 0)} requests sent, {stats.get('from_cache', 0)} from the cache"
        if stats.get("malformed_lines"):
            line += f"; {stats['malformed_lines']} batch result lines malformed"
    if "cost" in labels.columns and labels["cost"].notna().any():
        fresh = labels.loc[~labels["cached"].fillna(False).astype(bool), "cost"].sum()
        line += f"; cost {float(labels['cost'].sum()):.4f} USD ({float(fresh):.4f} this run)"
    return line


def run_judge(
    items_path: Path,
    *,
    judge: str,
    out: Path | None,
    base_url: str | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    task: str = "pairwise",
    template: str | None = None,
    profile_view: str = "full",
    profile_at: str = "start",
    profile_column: str = "profile",
    orders: str = "ab",
    concurrency: int = 8,
    cache: Path | None = None,
    no_cache: bool = False,
    name: str | None = None,
    temperature: float = 0.0,
    seed: int | None = None,
    max_tokens: int | None = None,
    verdict: str | None = None,
    request_profile: str = "chat",
    drop_field: list[str] | None = None,
    rename_field: list[str] | None = None,
    json_format: str = "json_schema",
    min_verdict_mass: float = 0.2,
    samples: int = 1,
    timeout: float = 120.0,
    max_retries: int = 5,
    max_error_rate: float = MAX_ERROR_RATE,
    max_wait: float = MAX_WAIT,
    request_deadline: float = REQUEST_DEADLINE,
    max_answer_bytes: int = MAX_ANSWER_BYTES,
    http_client: str = "auto",
    extra: str | None = None,
    price_in: float | None = None,
    price_out: float | None = None,
    prices_file: Path | None = None,
    max_response_chars: int | None = None,
    batch_export: Path | None = None,
    batch_import: Path | None = None,
    batch_submit: bool = False,
    batch_wait: str | None = None,
    batch_max_wait: float = BATCH_MAX_WAIT,
    batch_poll: float = BATCH_POLL,
    device: str | None = None,
    batch_size: int = 64,
    batch_tokens: int | None = 8192,
    tie_margin: float = 0.0,
    rm_endpoint: str = "classify",
    progress: bool = True,
) -> str:
    """What ``auditor judge`` does; returns the one-line summary it prints."""
    from auditor.data import read_items
    from auditor.io import write_table

    if ":" not in judge:
        raise ConfigError(f"--judge must be openai:MODEL or rm:PATH_OR_ID, not {judge!r}")
    kind, _, model = judge.partition(":")
    if not model:
        raise ConfigError(f"--judge {judge!r} names no model")
    batch_modes = [
        flag
        for flag, used in (
            ("--batch-export", batch_export is not None),
            ("--batch-import", batch_import is not None),
            ("--batch-submit", batch_submit),
            ("--batch-wait", batch_wait is not None),
        )
        if used
    ]
    if len(batch_modes) > 1:
        raise ConfigError(f"use one of {', '.join(batch_modes)}, not several")
    if out is None and batch_export is None:
        raise ConfigError("--out LABELS is required (unless --batch-export)")
    sends = kind == "openai" or (kind == "rm" and base_url is not None)  # requests whose answers are cached
    check_outputs(out, "table", cache=cache_file(no_cache, cache) if sends else None)
    check_outputs(batch_export, "file", cache=None)
    items = use_profile_column(read_items(items_path), profile_column, items_path)

    if kind == "rm":
        if batch_modes:
            raise ConfigError(f"{batch_modes[0]} applies to openai: judges only")
        if base_url is not None:  # a reward model served by vLLM's pooling API (judges.reward_server)
            from judges.reward_server import ServedRewardModelJudge

            rm_judge: Any = ServedRewardModelJudge(
                model, base_url=base_url, endpoint=rm_endpoint, api_key_env=api_key_env, concurrency=concurrency,
                timeout=timeout, max_retries=max_retries, max_error_rate=max_error_rate, tie_margin=tie_margin,
                name=name, http_client=http_client, cache=cache_file(no_cache, cache),
            )  # fmt: skip
        else:
            try:
                from judges.reward_model import RewardModelJudge
            except ImportError as exc:
                raise ConfigError(
                    f"reward-model judges need torch and transformers (pip install 'judge-auditor[rm]'): {exc}"
                ) from exc
            rm_judge = RewardModelJudge(
                model,
                device=device,
                batch_size=batch_size,
                max_batch_tokens=batch_tokens,
                tie_margin=tie_margin,
            )
        from judges.llm.transport import JudgeRunIncomplete

        served = base_url is not None
        try:
            labels = rm_judge.judge_items(items, task)
        except JudgeRunIncomplete as exc:  # exit code 3, after writing the labels the run has
            if name and exc.labels is not None:
                exc.labels["judge"] = name
            if exc.labels is None or out is None:
                raise
            write_table(exc.labels, out)
            note = f"; {resume_note(cached=not no_cache)}" if served else ""
            raise JudgeRunIncomplete(
                f"{exc}; wrote {out}: {_summary(exc.labels, rm_judge.stats if served else None)}{note}",
                exc.labels,
            ) from None
        finally:
            if served:
                rm_judge.close()
        if name:
            labels["judge"] = name
        assert out is not None
        write_table(labels, out)
        return f"wrote {out}: " + _summary(labels, rm_judge.stats if served else None)
    if kind != "openai":
        raise ConfigError(f"--judge must start with openai: or rm:, not {kind + ':'!r}")

    from judges.llm.transport import JudgeRunIncomplete

    prices = load_prices(prices_file, model) if prices_file is not None else None
    if price_in is not None or price_out is not None:
        prices = (price_in or 0.0, price_out or 0.0)
    llm_judge = build_llm_judge(
        dict(
            model=model,
            base_url=base_url,
            api_key_env=api_key_env,
            name=name,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
            verdict_mode=verdict,
            json_format=json_format,
            min_verdict_mass=min_verdict_mass,
            extra_body=parse_extra(extra),
            **body_options(request_profile, drop_field, rename_field),
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            max_error_rate=max_error_rate,
            max_wait=max_wait,
            request_deadline=request_deadline,
            max_answer_bytes=max_answer_bytes,
            http_client=http_client,
            samples=samples,
            prices=prices,
            progress=progress,
        ),
        template=template,
        profile_view=profile_view,
        profile_at=profile_at,
        orders=[o for o in orders.split(",") if o.strip()],
        no_cache=no_cache,
        cache=cache,
        max_response_chars=max_response_chars,
    )
    try:
        if batch_export is not None:
            written = llm_judge.export_batch(items, task, batch_export)
            return f"wrote {written} requests to {batch_export} (requests already in the cache are left out)"
        if batch_import is not None:
            labels = llm_judge.import_batch(items, task, batch_import)
        elif batch_submit or batch_wait is not None:
            resume = [part.strip() for part in (batch_wait or "").split(",") if part.strip()]
            if batch_wait is not None and not resume:
                raise ConfigError("--batch-wait needs the batch ids, e.g. --batch-wait batch_abc,batch_def")
            labels = llm_judge.submit_batch(
                items, task, resume=resume, max_wait=batch_max_wait, poll_interval=batch_poll,
                on_submit=lambda ids: typer.echo(
                    f"submitted {len(ids)} batch{'es' if len(ids) != 1 else ''}: {','.join(ids)} (if this wait "
                    f"is cut short, --batch-wait {','.join(ids)} resumes it)",
                    err=True,
                ),
            )  # fmt: skip
        else:
            labels = llm_judge.judge_items(items, task)
    except JudgeRunIncomplete as exc:  # exit code 3, after writing the labels the run has
        if exc.labels is None or out is None:
            raise
        write_table(exc.labels, out)
        note = resume_note(cached=not no_cache)
        raise JudgeRunIncomplete(
            f"{exc}; wrote {out}: {_summary(exc.labels, None, sources=True)}; {note}", exc.labels
        ) from None
    finally:
        llm_judge.close()
    assert out is not None
    write_table(labels, out)
    if llm_judge.batch_ids:
        return f"wrote {out} (batches {','.join(llm_judge.batch_ids)}): " + _summary(
            labels, llm_judge.stats, sources=True
        )
    return f"wrote {out}: " + _summary(
        labels, llm_judge.stats if batch_import is None else None, sources=True
    )


def register(app: typer.Typer) -> None:
    """Add the ``judge`` command to ``app``."""

    @app.command("judge")
    def judge_command(
        items: Annotated[Path, typer.Argument(help="Items file (.jsonl, .csv, .parquet).")],
        judge: Annotated[
            str, typer.Option(help="openai:MODEL, rm:PATH_OR_ID (local) or rm:MODEL with --base-url (vLLM).")
        ],
        out: Annotated[
            Path | None, typer.Option(help="Labels file to write (.jsonl, .csv, .parquet).")
        ] = None,
        base_url: BaseUrlOption = None,
        api_key_env: ApiKeyEnvOption = "OPENAI_API_KEY",
        task: Annotated[str, typer.Option(help="pairwise, likert, binary or score.")] = "pairwise",
        template: TemplateOption = None,
        profile_view: ProfileViewOption = "full",
        profile_at: ProfileAtOption = "start",
        profile_column: ProfileColumnOption = "profile",
        orders: Annotated[str, typer.Option(help="ab, ba or ab,ba (position swap).")] = "ab",
        concurrency: ConcurrencyOption = 8,
        cache: CacheOption = None,
        no_cache: NoCacheOption = False,
        name: Annotated[
            str | None, typer.Option(help="Judge name in the labels (default openai:MODEL).")
        ] = None,
        temperature: TemperatureOption = 0.0,
        seed: Annotated[int | None, typer.Option(help="Sampling seed (sample i uses seed + i).")] = None,
        max_tokens: MaxTokensOption = None,
        verdict: VerdictOption = None,
        request_profile: RequestProfileOption = "chat",
        drop_field: DropFieldOption = None,
        rename_field: RenameFieldOption = None,
        json_format: JsonFormatOption = "json_schema",
        min_verdict_mass: MinVerdictMassOption = 0.2,
        samples: Annotated[int, typer.Option(help="Verdicts per item and order (rater 0..N-1).")] = 1,
        timeout: TimeoutOption = 120.0,
        max_retries: MaxRetriesOption = 5,
        max_error_rate: MaxErrorRateOption = MAX_ERROR_RATE,
        max_wait: MaxWaitOption = MAX_WAIT,
        request_deadline: RequestDeadlineOption = REQUEST_DEADLINE,
        max_answer_bytes: MaxAnswerBytesOption = MAX_ANSWER_BYTES,
        http_client: HttpClientOption = "auto",
        extra: ExtraOption = None,
        price_in: Annotated[float | None, typer.Option(help="USD per million input tokens.")] = None,
        price_out: Annotated[float | None, typer.Option(help="USD per million output tokens.")] = None,
        prices: Annotated[
            Path | None,
            typer.Option(help="Price table (TOML/JSON): model -> input, output USD per 1M tokens."),
        ] = None,
        max_response_chars: MaxResponseCharsOption = None,
        batch_export: Annotated[
            Path | None, typer.Option(help="Write an OpenAI/vLLM batch input file.")
        ] = None,
        batch_import: Annotated[
            Path | None, typer.Option(help="Read a batch output file into labels.")
        ] = None,
        batch_submit: Annotated[
            bool,
            typer.Option(
                "--batch-submit",
                help="Judge through the OpenAI Batch API (files + batches at --base-url): submit the requests "
                "not in the cache, wait, read the results.",
            ),
        ] = False,
        batch_wait: Annotated[
            str | None,
            typer.Option(help="Wait for batches an earlier --batch-submit created (ids, comma-separated)."),
        ] = None,
        batch_max_wait: Annotated[
            float, typer.Option(help="Longest wait for the batches (seconds); then exit 3 naming their ids.")
        ] = BATCH_MAX_WAIT,
        batch_poll: Annotated[
            float, typer.Option(help="Seconds between two polls of the batches.")
        ] = BATCH_POLL,
        device: Annotated[str | None, typer.Option(help="rm: cuda, mps or cpu (default: automatic).")] = None,
        batch_size: Annotated[int, typer.Option(help="rm: most texts in one forward pass.")] = 64,
        batch_tokens: Annotated[
            int,
            typer.Option(help="rm: most padded tokens in one forward pass (batches are sorted by length)."),
        ] = 8192,
        tie_margin: Annotated[float, typer.Option(help="rm: |r_b - r_a| at most this is a tie.")] = 0.0,
        rm_endpoint: Annotated[
            str,
            typer.Option(
                help="rm: with --base-url, the vLLM pooling route that scores: classify (/classify, the raw "
                "logit) or pooling (/pooling)."
            ),
        ] = "classify",
        quiet: QuietOption = False,
    ) -> None:
        """Judge ITEMS with an LLM (openai:MODEL) or a reward model (rm:PATH, or rm:MODEL --base-url URL served
        by vLLM) and write a labels file."""
        message = run_judge(
            items,
            judge=judge,
            out=out,
            base_url=base_url,
            api_key_env=api_key_env,
            task=task,
            template=template,
            profile_view=profile_view,
            profile_at=profile_at,
            profile_column=profile_column,
            orders=orders,
            concurrency=concurrency,
            cache=cache,
            no_cache=no_cache,
            name=name,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
            verdict=verdict,
            request_profile=request_profile,
            drop_field=drop_field,
            rename_field=rename_field,
            json_format=json_format,
            min_verdict_mass=min_verdict_mass,
            samples=samples,
            timeout=timeout,
            max_retries=max_retries,
            max_error_rate=max_error_rate,
            max_wait=max_wait,
            request_deadline=request_deadline,
            max_answer_bytes=max_answer_bytes,
            http_client=http_client,
            extra=extra,
            price_in=price_in,
            price_out=price_out,
            prices_file=prices,
            max_response_chars=max_response_chars,
            batch_export=batch_export,
            batch_import=batch_import,
            batch_submit=batch_submit,
            batch_wait=batch_wait,
            batch_max_wait=batch_max_wait,
            batch_poll=batch_poll,
            device=device,
            batch_size=batch_size,
            batch_tokens=batch_tokens,
            tie_margin=tie_margin,
            rm_endpoint=rm_endpoint,
            progress=not quiet,
        )
        typer.echo(message, err=True)
