"""``auditor convert KIND SOURCE --out DIR``: a public human-judgment dataset, or another tool's output, into the
data contract (``items.jsonl``, ``labels.jsonl``, ``audit.toml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.errors import InputError


def convert(
    kind: Annotated[
        str,
        typer.Argument(
            help="A dataset: pandalm | hanna | llmbar | recentering-stage1 | recentering-stage2 "
            "| recentering-relevance-pilot | recentering-stage3; or a tool's output: alpaca_eval | mt_bench | label_studio | argilla "
            "| promptfoo | inspect_ai | mlflow",
            metavar="KIND",
        ),
    ],
    root: Annotated[
        Path,
        typer.Argument(
            help="The dataset's folder (e.g. ../shared/data/pandalm_testset), or the tool's file or folder",
            metavar="SOURCE",
        ),
    ],
    out: Annotated[Path, typer.Option(help="Folder for items.jsonl, labels.jsonl and audit.toml.")],
    field: Annotated[
        str | None,
        typer.Option(
            help="For a tool's file with several label fields: which one to import (Label Studio: the control's "
            "from_name; Argilla: the question; MLflow: the assessment name). Default: the first found."
        ),
    ] = None,
    human: Annotated[
        Path | None,
        typer.Option(
            help="For a tool that keeps no human labels (Inspect AI): a table of them (CSV/JSONL/...; columns id, "
            "label, optional rater, epoch, model), joined by sample id."
        ),
    ] = None,
) -> None:
    """Convert a public human-judgment dataset or another tool's output into the data contract."""
    from auditor import importers

    if kind in importers.IMPORTERS:
        study = importers.load(kind, root, field=field, human=human)
    elif field is not None or human is not None:
        name = "--field" if field is not None else "--human"
        raise InputError(f"{name} is for a tool's output, not a dataset", column=name)
    else:
        study = load_dataset(kind, root)
    study.write(out)
    judges = study.labels["judge"].nunique()
    typer.echo(
        f"wrote {kind} ({len(study.items)} items, {len(study.labels)} labels, {judges} judges) to {out}"
    )


def load_dataset(name: str, root: Path) -> Any:
    """The converted study of dataset ``name`` read from ``root``; a bad name or folder is an :class:`InputError`."""
    from auditor.datasets import DATASETS, load
    from auditor.importers import IMPORTERS

    if name not in DATASETS:
        expected = ", ".join([*DATASETS, *IMPORTERS])
        raise InputError(f"unknown dataset or importer {name!r}; expected one of {expected}", column="KIND")
    if not root.exists():
        raise InputError("does not exist", file=str(root))
    try:
        return load(name, root)
    except FileNotFoundError as exc:
        raise InputError(str(exc), file=str(root)) from None


def register(app: typer.Typer) -> None:
    app.command()(convert)
