"""``auditor audit LABELS... [--items ...] [--gate gates.toml]``: audit every judge and write the reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.common import (
    DEFAULT_FORMATS,
    imports_frozen,
    parse_formats,
    resolve_inputs,
    write_outputs,
)


def audit(
    labels: Annotated[
        list[Path],
        typer.Argument(
            help="Labels tables (JSONL/CSV/TSV/Parquet/XLSX, also .gz/.zst), combined tables, or a "
            "folder holding labels.*, items.* and audit.toml; several are concatenated "
            "(e.g. human.csv judged.jsonl).",
            show_default=False,
        ),
    ],
    items: Annotated[Path | None, typer.Option(help="Items table.")] = None,
    task: Annotated[str | None, typer.Option(help="pairwise | likert | binary | categorical | score")] = None,
    config: Annotated[Path | None, typer.Option(help="audit.toml with task, scale, aliases, ...")] = None,
    reference: Annotated[str | None, typer.Option(help="The reference judge (default: human).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("audit-out"),
    bootstrap: Annotated[
        int | None, typer.Option(help="Bootstrap resamples (default 2000; 0 = no intervals).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Bootstrap seed (default 0).")] = None,
    level: Annotated[float | None, typer.Option(help="Interval level (default 0.95).")] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="Item columns to split every metric by, comma-separated "
            "(e.g. source): per value and the paired differences.",
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            help="Compute only these metric rows, comma-separated registry names, e.g. cohen_kappa,no_better_rate_gap "
            "(a gap brings its rate; audit.toml metrics = [...]; default: every metric).",
        ),
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="Reports to write: json, md, html.")
    ] = DEFAULT_FORMATS,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal summary.")] = False,
    stage: Annotated[
        str | None,
        typer.Option(
            help="Personalization stage: extraction | relevance | generation (adds the stage's metrics)."
        ),
    ] = None,
    problematic: Annotated[
        str | None,
        typer.Option(
            help="Extraction labels counted as problematic, comma-separated (default uncertain,reject)."
        ),
    ] = None,
    reference_fallback: Annotated[
        str | None,
        typer.Option(help="Without human labels: the judge to compare the others with (the report says so)."),
    ] = None,
    gate: Annotated[
        Path | None, typer.Option("--gate", help="A gates file (TOML): exit 1 when a rule fails.")
    ] = None,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="With --gate: write a JUnit XML file.")
    ] = None,
    labels_map: Annotated[
        list[str] | None,
        typer.Option(
            "--labels-map",
            help='Label aliases: "A=a,B=b,Tie=tie", or "JUDGE:A=a,B=b" for one judge; repeatable (audit.toml \\[labels] aliases).',
        ),
    ] = None,
    scale: Annotated[
        str | None, typer.Option(help="Likert scale MIN-MAX, e.g. 1-7 (audit.toml \\[scale]).")
    ] = None,
    neutral: Annotated[
        int | None, typer.Option(help="Likert neutral point (default: the scale's middle).")
    ] = None,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column",
            help='A contract column held under another name: item_id="Item ID"; repeatable (audit.toml \\[columns]).',
        ),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV/TSV column delimiter, e.g. ';' (audit.toml \\[input] delimiter).")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet (default: the first).")] = None,
    judge_aggregate: Annotated[
        str | None,
        typer.Option(
            help="How a judge's verdicts on one item (both orders, "
            "samples) combine: vote | mean_score (the mean of "
            "their probability-expected scores)."
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="memory | duckdb | spark | auto: duckdb / spark aggregate the label files out of core (globs, "
            "hive-partitioned folders; the core and PPI metrics); auto takes duckdb above 1 GB of label files."
        ),
    ] = "auto",
) -> None:
    """Audit every judge against the reference and write audit.json and the reports."""
    import auditor
    from auditor.config import AuditConfig, load_config, parse_metrics
    from auditor.engine.selection import check
    from auditor.io import check_writable

    formats = parse_formats(format)
    check_writable(out, "folder")  # before any work
    rules = None
    if (
        gate is not None
    ):  # the gates module loads only for a run that has gates; bad rules stop before any work
        from auditor.gates import evaluate_gates, load_rules, report_gates

        rules = load_rules(gate)
    sources, items, config = resolve_inputs(labels, items, config)
    labels = sources if len(sources) > 1 else sources[0]
    slice_by = tuple(c.strip() for c in by.split(",") if c.strip()) if by else None
    selection = None if metrics is None else parse_metrics(metrics)
    # audit.toml is read once, for the checks here and for the audit
    loaded = load_config(config) if config else None
    chosen = (loaded if loaded is not None else AuditConfig()).with_overrides(task=task, metrics=selection)
    if (
        chosen.metrics is not None
    ):  # a bad selection, or a gate rule on a metric it leaves out: before any work
        given = "--metrics" if selection is not None else "metrics"
        where = None if selection is not None else chosen.source
        check(chosen.metrics, chosen.task, chosen.score_neutral, where=where, column=given)
        if rules is not None:
            from auditor.gates import check_selection

            check_selection(
                rules, chosen.metrics, chosen.task, given if selection else "metrics in audit.toml"
            )
    options = dict(
        task=task,
        config=loaded,
        reference=reference,
        resamples=bootstrap,
        seed=seed,
        level=level,
        slice_by=slice_by,
        judge_aggregate=judge_aggregate,
        metrics=selection,
        labels_map=labels_map or None,
        scale=scale,
        neutral=neutral,
        columns=column or None,
        delimiter=delimiter,
        sheet=sheet,
    )
    with imports_frozen("auditor.audit"):  # the pipeline's modules, out of the garbage collector's way
        if stage or problematic or reference_fallback:
            from auditor.personalization import audit_stage

            kinds = tuple(p.strip() for p in problematic.split(",") if p.strip()) if problematic else None
            result = audit_stage(
                labels,
                items,
                stage=stage,
                problematic=kinds,
                reference_fallback=reference_fallback,
                **options,
            )
        else:
            result = auditor.audit(labels, items=items, engine=engine, **options)
        document = result.to_dict()  # made once, for the gates and the reports
        verdict = None
        if gate is not None:  # unknown metric / judge: exit 2 before anything is written
            verdict = evaluate_gates(document, rules)  # the rules read and evaluated once
        write_outputs(document, out, formats, quiet, gates=verdict)
    if verdict is not None:
        code = report_gates(verdict, junit=junit)
        if code:
            raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command()(audit)
