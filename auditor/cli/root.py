"""The command line: ``auditor audit | demo | simulate | convert | report | judge``.

The front door that wires the core to ``reports`` and ``judges``.  Bad input ends with one line on stderr that
names the file, row and column, exit code 2, no traceback, and no output file written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from auditor.errors import AuditorError, InputError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Measure how far LLM judges and reward models agree with human judges.")
err_console = Console(stderr=True)

DEFAULT_FORMATS = "json,md,html"


def _formats(text: str) -> list[str]:
    formats = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in formats if f not in ("json", "md", "html")]
    if bad:
        raise InputError(f"unknown report format(s) {', '.join(bad)}; expected json, md, html", column="--format")
    return formats


def _find(directory: Path, stem: str) -> Path | None:
    for suffix in (".jsonl", ".ndjson", ".csv", ".tsv", ".parquet", ".json"):
        candidate = directory / f"{stem}{suffix}"
        if candidate.exists():
            return candidate
    return None


def _resolve_inputs(labels: Path, items: Path | None, config: Path | None) -> tuple[Path, Path | None, Path | None]:
    """A folder stands for its ``labels.*``, ``items.*`` and ``audit.toml``."""
    if labels.is_dir():
        directory = labels
        found = _find(directory, "labels")
        if found is None:
            raise InputError("holds no labels.jsonl / labels.csv / labels.parquet", file=str(directory))
        labels = found
        items = items or _find(directory, "items")
        if config is None and (directory / "audit.toml").exists():
            config = directory / "audit.toml"
    return labels, items, config


def _write_outputs(result, out: Path, formats: list[str], quiet: bool) -> list[Path]:
    import reports

    doc = result.to_dict()
    written = reports.write_reports(doc, out, formats)
    if not quiet:
        reports.render_terminal(doc, Console())
        for path in written:
            typer.echo(f"wrote {path}")
    return written


@app.command()
def audit(
    labels: Annotated[Path, typer.Argument(help="Labels table (JSONL/CSV/TSV/Parquet), a combined table, or a "
                                                "folder holding labels.*, items.* and audit.toml.")],
    items: Annotated[Path | None, typer.Option(help="Items table.")] = None,
    task: Annotated[str | None, typer.Option(help="pairwise | likert | binary | categorical | score")] = None,
    config: Annotated[Path | None, typer.Option(help="audit.toml with task, scale, aliases, ...")] = None,
    reference: Annotated[str | None, typer.Option(help="The reference judge (default: human).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("audit-out"),
    bootstrap: Annotated[int | None, typer.Option(help="Bootstrap resamples (default 2000; 0 = no intervals).")] = None,
    seed: Annotated[int | None, typer.Option(help="Bootstrap seed (default 0).")] = None,
    level: Annotated[float | None, typer.Option(help="Interval level (default 0.95).")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Item columns to split every metric by, comma-separated "
                                                         "(e.g. source): per value and the paired differences.")] = None,
    format: Annotated[str, typer.Option("--format", help="Reports to write: json, md, html.")] = DEFAULT_FORMATS,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No terminal summary.")] = False,
    stage: Annotated[str | None, typer.Option(help="Personalization stage: extraction | relevance | generation "
                                                   "(adds the stage's metrics).")] = None,
    problematic: Annotated[str | None, typer.Option(help="Extraction labels counted as problematic, "
                                                         "comma-separated (default uncertain,reject).")] = None,
    reference_fallback: Annotated[str | None, typer.Option(help="Without human labels: the judge to compare the "
                                                                "others with (the report says so).")] = None,
    gate: Annotated[Path | None, typer.Option("--gate", help="A gates file (TOML): exit 1 when a rule fails.")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="With --gate: write a JUnit XML file.")] = None,
    judge_aggregate: Annotated[str | None, typer.Option(help="How a judge's verdicts on one item (both orders, "
                                                             "samples) combine: vote | mean_score (the mean of "
                                                             "their probability-expected scores).")] = None,
) -> None:
    """Audit every judge against the reference and write audit.json and the reports."""
    import auditor
    from auditor.gates import evaluate_gates, load_rules, run_gates

    formats = _formats(format)
    if gate is not None:
        load_rules(gate)
    labels, items, config = _resolve_inputs(labels, items, config)
    slice_by = tuple(c.strip() for c in by.split(",") if c.strip()) if by else None
    options = dict(task=task, config=config, reference=reference, resamples=bootstrap, seed=seed, level=level,
                   slice_by=slice_by, judge_aggregate=judge_aggregate)
    if stage or problematic or reference_fallback:
        from auditor.personalization import audit_stage

        kinds = tuple(p.strip() for p in problematic.split(",") if p.strip()) if problematic else None
        result = audit_stage(labels, items, stage=stage, problematic=kinds, reference_fallback=reference_fallback,
                             **options)
    else:
        result = auditor.audit(labels, items=items, **options)
    if gate is not None:
        evaluate_gates(result.to_dict(), gate)  # unknown metric / judge: exit 2 before anything is written
    _write_outputs(result, out, formats, quiet)
    if gate is not None:
        code = run_gates(result.to_dict(), gate, junit=junit)
        if code:
            raise typer.Exit(code)


@app.command()
def simulate(
    out: Annotated[Path, typer.Option(help="Folder for items.jsonl, labels.jsonl and audit.toml.")] = Path("study"),
    seed: Annotated[int | None, typer.Option(help="Generator seed (default: the demo's seed).")] = None,
) -> None:
    """Write the built-in simulated personalization study (calibrated to published figures)."""
    from auditor.simulate import DEMO_SEED, simulate_study

    study = simulate_study(seed=DEMO_SEED if seed is None else seed)
    study.write(out)
    typer.echo(f"wrote the simulated study ({len(study.items)} items, {len(study.labels)} labels) to {out}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-out"),
    seed: Annotated[int | None, typer.Option(help="Seed of the simulated study (default: a typical one, "
                                                  "auditor.simulate.DEMO_SEED).")] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    format: Annotated[str, typer.Option("--format", help="Reports to write: json, md, html.")] = DEFAULT_FORMATS,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Simulate the built-in example study and audit it: the whole tool in one command.

    The main audit is stage 3 (generic vs personalized responses) in OUT; the simulated stage-1 (attribute
    extraction) and stage-2 (relevance matching) studies are audited into OUT/extraction and OUT/relevance, and the
    persona / profile-view probes of one stage-3 judge into OUT/probes.
    """
    import auditor
    from auditor.personalization import audit_stage
    from auditor.simulate import (
        DEMO_SEED,
        simulate_extraction_study,
        simulate_probe_study,
        simulate_relevance_study,
        simulate_study,
    )

    formats = _formats(format)
    study_seed = DEMO_SEED if seed is None else seed
    study_dir = out / "study"
    study = simulate_study(seed=study_seed)
    study.write(study_dir)
    labels, items, config = _resolve_inputs(study_dir, None, None)
    result = auditor.audit(labels, items=items, config=config, resamples=bootstrap)
    _write_outputs(result, out, formats, quiet)
    # the two earlier stages of the personalization pipeline, each its own simulated study and audit
    for folder, stage, make in (("extraction", "extraction", simulate_extraction_study),
                                ("relevance", "relevance", simulate_relevance_study),
                                ("probes", "generation", simulate_probe_study)):
        stage_dir = out / folder
        stage_study = make(seed=study_seed)
        stage_study.write(stage_dir / "study")
        labels, items, config = _resolve_inputs(stage_dir / "study", None, None)
        stage_result = audit_stage(labels, items, stage=stage, config=config, resamples=bootstrap)
        import reports

        written = reports.write_reports(stage_result.to_dict(), stage_dir, formats)
        if not quiet:
            typer.echo(f"\n{folder}: {stage_study.config()['title']}")
            for line in reports.headline(stage_result.to_dict()):
                typer.echo(f"  {line}")
            for path in written:
                typer.echo(f"wrote {path}")


@app.command()
def convert(
    dataset: Annotated[str, typer.Argument(help="pandalm | hanna | llmbar | recentering-stage1 | recentering-stage2 "
                                                "| recentering-relevance-pilot | recentering-stage3")],
    root: Annotated[Path, typer.Argument(help="The dataset's folder, e.g. ../shared/data/pandalm_testset")],
    out: Annotated[Path, typer.Option(help="Folder for items.jsonl, labels.jsonl and audit.toml.")],
) -> None:
    """Convert a public human-judgment dataset into the data contract."""
    study = _load_dataset(dataset, root)
    study.write(out)
    typer.echo(f"wrote {dataset} ({len(study.items)} items, {len(study.labels)} labels) to {out}")


@app.command()
def report(
    audit_json: Annotated[Path, typer.Argument(help="A saved audit.json.")],
    format: Annotated[str, typer.Option("--format", help="md, html, json")] = "md,html",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: beside audit.json).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Re-render a saved audit without recomputing anything."""
    from auditor.result import AuditResult

    result = AuditResult.load(audit_json)
    formats = _formats(format)
    target = out or audit_json.parent
    if "json" in formats and target.resolve() == audit_json.parent.resolve():
        formats.remove("json")  # never rewrite the input in place
    _write_outputs(result, target, formats, quiet)


def _load_dataset(name: str, root: Path):
    from auditor.datasets import DATASETS, load

    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}", column="DATASET")
    if not root.exists():
        raise InputError("does not exist", file=str(root))
    try:
        return load(name, root)
    except FileNotFoundError as exc:
        raise InputError(str(exc), file=str(root)) from None


def _register_plugins() -> None:
    from auditor import drift, plan, probes

    plan.register(app)
    drift.register(app)
    probes.register(app)
    try:
        from judges.cli import register
    except ImportError as exc:  # judges is part of the distribution; a broken install should still audit
        err_console.print(f"[yellow]note:[/] the judge command is unavailable ({exc})")
        return
    register(app)


_register_plugins()

from auditor.gates import register as _register_gates  # noqa: E402

_register_gates(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: exit 0 on success, 1 on a failed gate, 2 on bad input; never a traceback for bad input."""
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="auditor", standalone_mode=False)
    except AuditorError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as exc:  # click's (or typer's vendored click's) Exit, usage errors and Abort
        name = type(exc).__name__
        if name == "Exit":
            return int(getattr(exc, "exit_code", 0) or 0)
        if name == "Abort":
            err_console.print("aborted")
            return 130
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        raise
    return rv if isinstance(rv, int) else 0


def run() -> None:  # pragma: no cover - console-script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
