"""``auditor plan``: human labels needed for an interval of a given half-width (:mod:`auditor.plan`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from auditor.plan import LabelPlan


def plan(
    pilot: Annotated[
        Path | None, typer.Argument(help="A pilot audit.json (rates and agreement from it).")
    ] = None,
    half_width: Annotated[float, typer.Option("--half-width", help="Wanted interval half-width.")] = 0.05,
    rate: Annotated[float | None, typer.Option(help="Human no-better rate (without a pilot).")] = None,
    judge_rate: Annotated[float | None, typer.Option(help="The judge's no-better rate.")] = None,
    agreement: Annotated[
        float | None, typer.Option(help="Share of items where judge and humans agree on 'no better'.")
    ] = None,
    correlation: Annotated[float | None, typer.Option(help="Or: phi between their no-better calls.")] = None,
    items: Annotated[
        int | None, typer.Option("--items", help="Items the judge will label (default: unlimited).")
    ] = None,
    level: Annotated[
        float | None, typer.Option(help="Interval level (default 0.95, or the pilot's).")
    ] = None,
    design_effect: Annotated[
        float | None, typer.Option(help="Clustering design effect (default 1, or the pilot's).")
    ] = None,
    judge: Annotated[list[str] | None, typer.Option(help="Only these judges of the pilot.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many human labels for an interval of half-width h on the no-better rate, human-only and with PPI."""
    from auditor.errors import InputError
    from auditor.plan import plan_from_audit, plan_labels

    try:
        if pilot is not None:
            if not pilot.exists():
                raise InputError("does not exist", file=str(pilot))
            plans = plan_from_audit(pilot, half_width, judged_items=items, level=level, judges=judge)
            if design_effect is not None:
                plans = [
                    plan_labels(
                        p.rate,
                        half_width,
                        judge_rate=p.judge_rate,
                        correlation=p.correlation,
                        judged_items=items,
                        level=p.level,
                        design_effect=design_effect,
                        judge=p.judge,
                    )
                    for p in plans
                ]
        else:
            if rate is None:
                raise InputError(
                    "give a pilot audit.json or --rate with --judge-rate and --agreement (or --correlation)",
                    column="--rate",
                )
            plans = [
                plan_labels(
                    rate,
                    half_width,
                    judge_rate=judge_rate,
                    agreement=agreement,
                    correlation=correlation,
                    judged_items=items,
                    level=level or 0.95,
                    design_effect=design_effect or 1.0,
                )
            ]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    print_plans(plans, as_json)


def print_plans(plans: list[LabelPlan], as_json: bool) -> None:
    """The plans as text (one block per judge) or as a JSON list."""
    if as_json:
        import json
        from dataclasses import asdict

        typer.echo(json.dumps([{**asdict(p), "labels_saved": p.labels_saved} for p in plans], indent=1))
        return
    for p in plans:
        who = f"judge {p.judge}" if p.judge else "the judge"
        n_judged = "unlimited judged items" if p.judged_items is None else f"{p.judged_items} judged items"
        typer.echo(
            f"{who}: human no-better rate {p.rate:.3f}, correlation with humans {p.correlation:.3f}, "
            f"design effect {p.design_effect:.2f}, {n_judged}"
        )
        typer.echo(f"  for a {p.level:.0%} interval of half-width {p.half_width:g}:")
        typer.echo(f"    human labels only:          {p.human_only}")
        if p.ppi is None:
            typer.echo(
                f"    with the judge (PPI++):     not reachable: the judge's noise on {p.judged_items} items "
                f"alone gives half-width {p.ppi_floor_half_width:.4f}; label every item or judge more"
            )
        else:
            typer.echo(
                f"    with the judge (PPI++):     {p.ppi}  (lambda {p.lam:.2f}; saves {p.labels_saved})"
            )


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
