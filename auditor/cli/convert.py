"""``auditor convert DATASET ROOT --out DIR``: a public human-judgment dataset into the data contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from auditor.errors import InputError


def convert(
    dataset: Annotated[
        str,
        typer.Argument(
            help="pandalm | hanna | llmbar | recentering-stage1 | recentering-stage2 "
            "| recentering-relevance-pilot | recentering-stage3"
        ),
    ],
    root: Annotated[Path, typer.Argument(help="The dataset's folder, e.g. ../shared/data/pandalm_testset")],
    out: Annotated[Path, typer.Option(help="Folder for items.jsonl, labels.jsonl and audit.toml.")],
) -> None:
    """Convert a public human-judgment dataset into the data contract."""
    study = load_dataset(dataset, root)
    study.write(out)
    typer.echo(f"wrote {dataset} ({len(study.items)} items, {len(study.labels)} labels) to {out}")


def load_dataset(name: str, root: Path) -> Any:
    """The converted study of dataset ``name`` read from ``root``; a bad name or folder is an :class:`InputError`."""
    from auditor.datasets import DATASETS, load

    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}", column="DATASET")
    if not root.exists():
        raise InputError("does not exist", file=str(root))
    try:
        return load(name, root)
    except FileNotFoundError as exc:
        raise InputError(str(exc), file=str(root)) from None


def register(app: typer.Typer) -> None:
    app.command()(convert)
