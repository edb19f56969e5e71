"""``auditor drift BEFORE AFTER``: verdict flip rates between two runs on an anchor set (:mod:`auditor.drift`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def drift(
    before: Annotated[Path, typer.Argument(help="Labels of the earlier run on the anchor set.")],
    after: Annotated[Path, typer.Argument(help="Labels of the later run on the same items.")],
    items: Annotated[Path | None, typer.Option(help="Items table (for user_id clusters).")] = None,
    task: Annotated[str | None, typer.Option(help="pairwise | likert | binary | categorical | score")] = None,
    config: Annotated[Path | None, typer.Option(help="audit.toml (task, scale, aliases, ...).")] = None,
    bootstrap: Annotated[int | None, typer.Option(help="Bootstrap resamples (default 2000).")] = None,
    seed: Annotated[int | None, typer.Option(help="Bootstrap seed.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the table as JSON here.")] = None,
) -> None:
    """Verdict flip rate of each judge between two runs on a fixed anchor set, with its interval."""
    import json

    import pandas as pd

    from auditor.drift import flip_rates
    from auditor.errors import InputError

    try:
        table = flip_rates(before, after, items, task=task, config=config, resamples=bootstrap, seed=seed)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    for r in table.to_dict("records"):
        line = (
            f"{r['judge']}: {r['flips']} of {r['n']} verdicts flipped, flip rate {r['flip_rate']:.3f} "
            f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
        )
        if pd.notna(r["no_better_rate_change"]):
            line += (
                f"; no-better rate {r['no_better_rate_before']:.3f} -> {r['no_better_rate_after']:.3f} "
                f"(change {r['no_better_rate_change']:+.3f} [{r['change_ci_low']:+.3f}, "
                f"{r['change_ci_high']:+.3f}], p = {r['p_value']:.3g})"
            )
        typer.echo(line)
    if out is not None:
        records = table.astype(object).where(table.notna(), None).to_dict("records")
        out.write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)
