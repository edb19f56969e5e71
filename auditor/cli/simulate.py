"""``auditor simulate --out DIR``: write the built-in simulated personalization study."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def simulate(
    out: Annotated[Path, typer.Option(help="Folder for items.jsonl, labels.jsonl and audit.toml.")] = Path(
        "study"
    ),
    seed: Annotated[int | None, typer.Option(help="Generator seed (default: the demo's seed).")] = None,
) -> None:
    """Write the built-in simulated personalization study (calibrated to published figures)."""
    from auditor.simulate import DEMO_SEED, simulate_study

    study = simulate_study(seed=DEMO_SEED if seed is None else seed)
    study.write(out)
    typer.echo(f"wrote the simulated study ({len(study.items)} items, {len(study.labels)} labels) to {out}")


def register(app: typer.Typer) -> None:
    app.command()(simulate)
