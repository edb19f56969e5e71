"""``auditor demo --out DIR``: simulate the built-in study and audit it, all three personalization stages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditor.cli.common import DEFAULT_FORMATS, parse_formats, resolve_inputs, write_outputs


def demo(
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("demo-out"),
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the simulated study (default: a typical one, auditor.simulate.DEMO_SEED)."
        ),
    ] = None,
    bootstrap: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 2000,
    format: Annotated[
        str, typer.Option("--format", help="Reports to write: json, md, html.")
    ] = DEFAULT_FORMATS,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Simulate the built-in example study and audit it: the whole tool in one command.

    The main audit is stage 3 (generic vs personalized responses) in OUT; the simulated stage-1 (attribute
    extraction) and stage-2 (relevance matching) studies are audited into OUT/extraction and OUT/relevance, and the
    persona / profile-view probes of one stage-3 judge into OUT/probes.
    """
    import auditor
    import reports
    from auditor.personalization import audit_stage
    from auditor.simulate import (
        DEMO_SEED,
        DEMO_UNLABELLED,
        simulate_extraction_study,
        simulate_probe_study,
        simulate_relevance_study,
        simulate_study,
    )

    formats = parse_formats(format)
    study_seed = DEMO_SEED if seed is None else seed
    study_dir = out / "study"
    # the population values (``Study.truth``) are for the tests, not the demo: not computed here (seconds each)
    study = simulate_study(seed=study_seed, n_unlabelled=DEMO_UNLABELLED, with_truth=False)
    study.write(study_dir)
    labels, items, config = resolve_inputs(study_dir, None, None)
    result = auditor.audit(labels, items=items, config=config, resamples=bootstrap)
    # the two earlier stages of the personalization pipeline, each its own simulated study and audit; every
    # report (main and stages) is then written in one step, so a stopped run never leaves a mix of two runs'
    stages = []
    for folder, stage, make, options in (
        ("extraction", "extraction", simulate_extraction_study, {"with_truth": False}),
        ("relevance", "relevance", simulate_relevance_study, {"with_truth": False}),
        ("probes", "generation", simulate_probe_study, {}),
    ):
        stage_study = make(seed=study_seed, **options)
        stage_study.write(out / folder / "study")
        labels, items, config = resolve_inputs(out / folder / "study", None, None)
        stage_result = audit_stage(labels, items, stage=stage, config=config, resamples=bootstrap)
        stages.append((folder, stage_study.config()["title"], stage_result))
    written = write_outputs(result, out, formats, quiet, subfolders=[(f, r) for f, _, r in stages])
    if not quiet:
        for folder, title, stage_result in stages:
            typer.echo(f"\n{folder}: {title}")
            for line in reports.headline(stage_result.to_dict()):
                typer.echo(f"  {line}")
            for path in written[folder]:
                typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command()(demo)
