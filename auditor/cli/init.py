"""``auditor init FILE... [--out audit.toml]``: describe the files and write an ``audit.toml`` for review.

It prints the columns of each file, each judge's labels with their counts, and the suggested task kind, scale and
alias map (:mod:`auditor.suggest`), and writes them into the config with comments; the audit itself never guesses.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer


def init(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Labels tables (as for auditor audit), e.g. human.csv judged.jsonl.", show_default=False
        ),
    ],
    out: Annotated[Path, typer.Option(help="The config to write.")] = Path("audit.toml"),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --out.")] = False,
    column: Annotated[
        list[str] | None,
        typer.Option(
            "--column", help='A contract column held under another name: item_id="Item ID"; repeatable.'
        ),
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV/TSV column delimiter, e.g. ';'.")] = None,
    sheet: Annotated[str | None, typer.Option(help="Excel sheet (default: the first).")] = None,
) -> None:
    """Describe the files and write a suggested audit.toml (task, reference, scale, aliases) to review."""
    from auditor.config import AuditConfig
    from auditor.data import inspect_files, resolve_study
    from auditor.errors import InputError
    from auditor.io import check_writable, write_text
    from auditor.suggest import UNKNOWN, config_toml

    if out.exists() and not force:
        raise InputError(
            "exists; pass --force to overwrite it, or --out to write another file", file=str(out)
        )
    check_writable(out)
    sources, _, _ = resolve_study(list(files))
    config = AuditConfig().with_input_options(columns=column or None, delimiter=delimiter, sheet=sheet)
    found = inspect_files(sources, config)
    for path, columns in found.files:
        typer.echo(f"{path}: columns {', '.join(columns)}")
    for judge, labels in found.labels.items():
        total = sum(labels.values())
        shown = ", ".join(f"{label} ({n})" for label, n in list(labels.items())[:20])
        typer.echo(f"judge {judge}: {total} labels: {shown}")
    for problem in found.problems:
        typer.echo(f"note: {problem}")
    s = found.suggestion
    typer.echo(f"suggested task: {s.task} ({s.reason})")
    if found.reference is not None:
        typer.echo(f"suggested reference: {found.reference}")
    if s.scale is not None:
        typer.echo(f"suggested scale: {s.scale[0]}-{s.scale[1]}, neutral {s.scale[2]}")
    if s.aliases:
        typer.echo(
            "suggested aliases: " + ", ".join(f"{raw} -> {target}" for raw, target in s.aliases.items())
        )
    command = "auditor init " + " ".join(shlex.quote(str(f)) for f in files)
    write_text(out, config_toml(found, config, command))
    typer.echo(f"wrote {out}: review it, then run")
    typer.echo(
        f"  auditor audit {' '.join(shlex.quote(str(f)) for f in files)} --config {shlex.quote(str(out))}"
    )
    if UNKNOWN in s.aliases.values():
        typer.echo(f"(first replace each {UNKNOWN!r} in its [labels] aliases with the label it stands for)")


def register(app: typer.Typer) -> None:
    app.command()(init)
