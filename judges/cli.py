"""The ``auditor judge`` and ``auditor injection`` commands.

The project's command line calls :func:`register` once with its typer app::

    from judges.cli import register
    register(app)   # adds `auditor judge ITEMS --judge openai:MODEL ... --out LABELS`
                    # and `auditor injection [ITEMS] --model MODEL ... --out DIR` (judges.injection)

``--judge openai:MODEL`` judges through an OpenAI-compatible endpoint (:mod:`judges.llm`); ``--judge rm:PATH_OR_ID``
scores with a local reward model (:mod:`judges.reward_model`, imported only then).  Errors in the input or the
options raise :class:`auditor.errors.AuditorError`, which the top-level ``main()`` turns into one line and exit 2.
The labels file is written atomically; the API key is read from the environment and never printed.

Run on its own (for subprocess tests): ``python -m judges.cli judge ITEMS --judge ... --out LABELS``, or
``python -m judges.cli injection ITEMS --model M --base-url URL --out DIR``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.cli.options import (  # -> judges/cli/options.py (issue 14)
    ApiKeyEnvOption,
    BaseUrlOption,
    CacheOption,
    ConcurrencyOption,
    JsonFormatOption,
    MaxResponseCharsOption,
    MaxRetriesOption,
    MaxTokensOption,
    MinVerdictMassOption,
    NoCacheOption,
    ProfileAtOption,
    ProfileColumnOption,
    ProfileViewOption,
    TemplateOption,
    TimeoutOption,
    VerdictOption,
    use_profile_column,
)
from auditor.errors import AuditorError, ConfigError

DEFAULT_CACHE_NAME = "judge-cache.sqlite"


def default_cache_path() -> Path:
    """``$AUDITOR_CACHE_DIR/judge-cache.sqlite``, else ``$XDG_CACHE_HOME/auditor/...``, else ``~/.cache/auditor/...``."""
    base = os.environ.get("AUDITOR_CACHE_DIR")
    if base:
        return Path(base) / DEFAULT_CACHE_NAME
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "auditor" / DEFAULT_CACHE_NAME


def _parse_extra(extra: str | None) -> dict[str, Any]:
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


def _summary(labels: Any, stats: dict[str, int] | None) -> str:
    total = len(labels)
    labelled = int((labels["label"].notna() | labels["score"].notna()).sum())
    reasons = labels.loc[labels["exclusion"].notna(), "exclusion"].value_counts()
    parts = [f"{total} verdicts: {labelled} labelled, {total - labelled} excluded"]
    if len(reasons):
        parts.append("(" + ", ".join(f"{reason} {count}" for reason, count in reasons.items()) + ")")
    if stats:
        parts.append(f"; {stats.get('sent', 0)} requests sent, {stats.get('from_cache', 0)} from the cache")
    if "cost" in labels.columns and labels["cost"].notna().any():
        fresh = labels.loc[~labels["cached"].fillna(False).astype(bool), "cost"].sum()
        parts.append(f"; cost {float(labels['cost'].sum()):.4f} USD ({float(fresh):.4f} this run)")
    return " ".join(parts)


def _llm_judge(options: dict[str, Any], *, no_cache: bool, cache: Path | None,
               **judge_options: Any) -> Any:
    """An :class:`judges.llm.LLMJudge` from the command line's config options (a progress bar only on a terminal)
    and its cache (``:memory:`` with --no-cache, else --cache or the default file)."""
    from judges.llm import LLMJudge, LLMJudgeConfig

    options = dict(options, progress=bool(options.get("progress", True)) and sys.stderr.isatty())
    cache_path: str | Path = ":memory:" if no_cache else (cache or default_cache_path())
    return LLMJudge(LLMJudgeConfig(**options), cache=cache_path, **judge_options)


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
    verdict: str = "logprobs",
    json_format: str = "json_schema",
    min_verdict_mass: float = 0.2,
    samples: int = 1,
    timeout: float = 120.0,
    max_retries: int = 5,
    extra: str | None = None,
    price_in: float | None = None,
    price_out: float | None = None,
    prices_file: Path | None = None,
    max_response_chars: int | None = None,
    batch_export: Path | None = None,
    batch_import: Path | None = None,
    device: str | None = None,
    batch_size: int = 64,
    batch_tokens: int | None = 8192,
    tie_margin: float = 0.0,
    progress: bool = True,
) -> str:
    """What ``auditor judge`` does; returns the one-line summary it prints."""
    from auditor.io import read_items, write_table

    if ":" not in judge:
        raise ConfigError(f"--judge must be openai:MODEL or rm:PATH_OR_ID, not {judge!r}")
    kind, _, model = judge.partition(":")
    if not model:
        raise ConfigError(f"--judge {judge!r} names no model")
    if batch_export is not None and batch_import is not None:
        raise ConfigError("use --batch-export or --batch-import, not both")
    if out is None and batch_export is None:
        raise ConfigError("--out LABELS is required (unless --batch-export)")
    items = use_profile_column(read_items(items_path), profile_column, items_path)

    if kind == "rm":
        if batch_export or batch_import:
            raise ConfigError("--batch-export/--batch-import apply to openai: judges only")
        try:
            from judges.reward_model import RewardModelJudge
        except ImportError as exc:
            raise ConfigError(
                f"reward-model judges need torch and transformers (pip install 'judge-auditor[rm]'): {exc}"
            ) from exc
        rm_judge = RewardModelJudge(model, device=device, batch_size=batch_size, max_batch_tokens=batch_tokens,
                                    tie_margin=tie_margin)
        labels = rm_judge.judge_items(items, task)
        if name:
            labels["judge"] = name
        assert out is not None
        write_table(labels, out)
        return f"wrote {out}: " + _summary(labels, None)
    if kind != "openai":
        raise ConfigError(f"--judge must start with openai: or rm:, not {kind + ':'!r}")


    prices = load_prices(prices_file, model) if prices_file is not None else None
    if price_in is not None or price_out is not None:
        prices = (price_in or 0.0, price_out or 0.0)
    llm_judge = _llm_judge(
        dict(model=model, base_url=base_url, api_key_env=api_key_env, name=name, temperature=temperature,
             seed=seed, max_tokens=max_tokens, verdict_mode=verdict, json_format=json_format,
             min_verdict_mass=min_verdict_mass, extra_body=_parse_extra(extra), concurrency=concurrency,
             timeout=timeout, max_retries=max_retries, samples=samples, prices=prices, progress=progress),
        template=template, profile_view=profile_view, profile_at=profile_at,
        orders=[o for o in orders.split(",") if o.strip()], no_cache=no_cache, cache=cache,
        max_response_chars=max_response_chars,
    )
    try:
        if batch_export is not None:
            written = llm_judge.export_batch(items, task, batch_export)
            return f"wrote {written} requests to {batch_export} (requests already in the cache are left out)"
        if batch_import is not None:
            labels = llm_judge.import_batch(items, task, batch_import)
        else:
            labels = llm_judge.judge_items(items, task)
    finally:
        llm_judge.close()
    assert out is not None
    write_table(labels, out)
    return f"wrote {out}: " + _summary(labels, llm_judge.stats if batch_import is None else None)


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

    from auditor.errors import InputError
    from auditor.io import ROW, read_items
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
    verdict: str = "logprobs",
    json_format: str = "json_schema",
    min_verdict_mass: float = 0.2,
    max_tokens: int | None = None,
    concurrency: int = 8,
    timeout: float = 120.0,
    max_retries: int = 5,
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
    if out.exists() and not out.is_dir():
        raise ConfigError("exists and is not a folder", file=str(out))
    items = _probe_items(items_path, n_generic)
    judge = _llm_judge(
        dict(model=model, base_url=base_url, api_key_env=api_key_env, name=name, verdict_mode=verdict,
             json_format=json_format, min_verdict_mass=min_verdict_mass, max_tokens=max_tokens,
             concurrency=concurrency, timeout=timeout, max_retries=max_retries, progress=progress),
        template=template, profile_view=profile_view, profile_at=profile_at, orders=("ab",), no_cache=no_cache,
        cache=cache, max_response_chars=max_response_chars,
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
    """Add the ``judge`` and ``injection`` commands to ``app``."""

    @app.command("judge")
    def judge_command(
        items: Annotated[Path, typer.Argument(help="Items file (.jsonl, .csv, .parquet).")],
        judge: Annotated[str, typer.Option(help="openai:MODEL or rm:PATH_OR_ID.")],
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
        temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.0,
        seed: Annotated[int | None, typer.Option(help="Sampling seed (sample i uses seed + i).")] = None,
        max_tokens: MaxTokensOption = None,
        verdict: VerdictOption = "logprobs",
        json_format: JsonFormatOption = "json_schema",
        min_verdict_mass: MinVerdictMassOption = 0.2,
        samples: Annotated[int, typer.Option(help="Verdicts per item and order (rater 0..N-1).")] = 1,
        timeout: TimeoutOption = 120.0,
        max_retries: MaxRetriesOption = 5,
        extra: Annotated[str | None, typer.Option(help="Extra request fields as a JSON object.")] = None,
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
        device: Annotated[str | None, typer.Option(help="rm: cuda, mps or cpu (default: automatic).")] = None,
        batch_size: Annotated[int, typer.Option(help="rm: most texts in one forward pass.")] = 64,
        batch_tokens: Annotated[int, typer.Option(help="rm: most padded tokens in one forward pass "
                                                       "(batches are sorted by length).")] = 8192,
        tie_margin: Annotated[float, typer.Option(help="rm: |r_b - r_a| at most this is a tie.")] = 0.0,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    ) -> None:
        """Judge ITEMS with an LLM (openai:MODEL) or a reward model (rm:PATH) and write a labels file."""
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
            json_format=json_format,
            min_verdict_mass=min_verdict_mass,
            samples=samples,
            timeout=timeout,
            max_retries=max_retries,
            extra=extra,
            price_in=price_in,
            price_out=price_out,
            prices_file=prices,
            max_response_chars=max_response_chars,
            batch_export=batch_export,
            batch_import=batch_import,
            device=device,
            batch_size=batch_size,
            batch_tokens=batch_tokens,
            tie_margin=tie_margin,
            progress=not quiet,
        )
        typer.echo(message, err=True)

    @app.command("injection")
    def injection_command(
        items: Annotated[
            Path | None,
            typer.Argument(
                help="Items file with response_a and response_b (default: the built-in generic items)."
            ),
        ] = None,
        model: Annotated[str, typer.Option(help="Model name at the endpoint.")] = ...,  # type: ignore[assignment]
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
        verdict: VerdictOption = "logprobs",
        json_format: JsonFormatOption = "json_schema",
        min_verdict_mass: MinVerdictMassOption = 0.2,
        max_tokens: MaxTokensOption = None,
        concurrency: ConcurrencyOption = 8,
        timeout: TimeoutOption = 120.0,
        max_retries: MaxRetriesOption = 5,
        cache: CacheOption = None,
        no_cache: NoCacheOption = False,
        max_response_chars: MaxResponseCharsOption = None,
        bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 2000,
        seed: Annotated[int, typer.Option(help="Seed of the random arms and the bootstrap.")] = 0,
        level: Annotated[float, typer.Option(help="Interval level.")] = 0.95,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
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
            json_format=json_format,
            min_verdict_mass=min_verdict_mass,
            max_tokens=max_tokens,
            concurrency=concurrency,
            timeout=timeout,
            max_retries=max_retries,
            cache=cache,
            no_cache=no_cache,
            max_response_chars=max_response_chars,
            bootstrap=bootstrap,
            seed=seed,
            level=level,
            progress=not quiet,
        )
        typer.echo(message, err=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m judges.cli judge ...``: the judge command alone, with the project's error convention."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Judges of the auditor."""

    register(app)
    import click

    interrupted = "interrupted: the responses received so far are cached; rerun to resume"
    try:
        result = app(args=argv, standalone_mode=False)
    except AuditorError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    except click.exceptions.Abort:  # Ctrl-C (click)
        typer.echo(interrupted, err=True)
        return 130
    except click.ClickException as exc:  # usage errors
        exc.show()
        return exc.exit_code
    if result == 130:  # Ctrl-C: typer turns KeyboardInterrupt into exit code 130, returned in this mode
        typer.echo(interrupted, err=True)
        return 130
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
