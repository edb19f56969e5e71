"""``auditor plan``: human labels needed for an interval of a given half-width (:mod:`auditor.plan`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from auditor.plan import LabelPlan, SelectionPlan


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
    judge: Annotated[
        list[str] | None,
        typer.Option(help="Only these judges of the pilot (with --judged: the one judge to select for)."),
    ] = None,
    judged: Annotated[
        Path | None,
        typer.Option(
            help="A judged file (item_id, judge, label and probabilities or confidence): plan the confidence-driven "
            "selection of the items humans label."
        ),
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="The judged file's task (default: the pilot's, else read from its labels)."),
    ] = None,
    budget: Annotated[
        int | None, typer.Option(help="Labels to spend on the judged file's items (expected count).")
    ] = None,
    uniform_share: Annotated[
        float,
        typer.Option(help="Share of the selection probability spread uniformly (guards overconfidence)."),
    ] = 0.1,
    select_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the selected items (with their inclusion probabilities) to this table; needs --budget."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the selection draw.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """How many human labels for an interval of half-width h on the no-better rate: human-only, with PPI++, stratified
    PPI and Rogan-Gladen; and which items to send to humans (confidence-driven selection)."""
    from auditor.errors import InputError
    from auditor.plan import plan_from_audit, plan_labels

    pilot_doc = None  # the pilot audit.json, read and validated once
    try:
        if judged is None and (select_out is not None or budget is not None):
            raise InputError("--budget and --select-out go with --judged FILE", column="--judged")
        if pilot is None and rate is None and judged is not None:
            plans = []
        elif pilot is not None:
            if not pilot.exists():
                raise InputError("does not exist", file=str(pilot))
            from auditor.result import AuditResult

            pilot_doc = AuditResult.load(pilot).to_dict()
            plans = plan_from_audit(pilot_doc, half_width, judged_items=items, level=level, judges=judge)
            if design_effect is not None:
                pilot_plans = plans
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
                for before, after in zip(pilot_plans, plans, strict=True):
                    after.stratified, after.stratified_by = before.stratified, before.stratified_by
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
        selection = None
        if judged is not None:  # last: it may write the selected items
            pilot_task = pilot_doc.get("task") if pilot_doc is not None else None
            selection = _selection(
                judged, pilot_task, task, judge, budget, half_width, level, uniform_share, select_out, seed
            )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    print_plans(plans, as_json, selection)


def _selection(
    judged: Path,
    pilot_task: str | None,
    task: str | None,
    judge: list[str] | None,
    budget: int | None,
    half_width: float,
    level: float | None,
    uniform_share: float,
    select_out: Path | None,
    seed: int,
) -> SelectionPlan:
    """Read the judged file, plan the confidence-driven selection and write the selected items when asked
    (``pilot_task``: the pilot audit's task, used when ``--task`` is not given)."""
    from auditor.errors import InputError
    from auditor.io import check_writable, read_table, write_table
    from auditor.plan import plan_selection, select_items, verdict_confidence

    if not judged.exists():
        raise InputError("does not exist", file=str(judged))
    if select_out is not None:
        if budget is None:
            raise InputError(
                "--select-out needs --budget (how many items to send to humans)", column="--budget"
            )
        check_writable(select_out, "table")
    if judge and len(judge) > 1:
        raise InputError("the selection is for one judge: give --judge once", column="--judge")
    frame = read_table(judged)
    missing = [c for c in ("item_id", "judge", "label") if c not in frame.columns]
    if missing:
        raise InputError(f"missing column {missing[0]!r}", file=str(judged), column=missing[0])
    task = task or pilot_task
    if task is None:
        labels = set(frame["label"].dropna().astype(str))
        task = "pairwise" if labels <= {"a", "tie", "b"} else "binary" if labels <= {"0", "1"} else None
        if task is None:
            raise InputError(
                "give --task: the labels are not pairwise (a, tie, b) or binary (0, 1)", column="--task"
            )
    try:
        name, verdicts = verdict_confidence(frame, task, judge[0] if judge else None)
    except ValueError as exc:
        raise InputError(str(exc), file=str(judged)) from None
    if budget is not None and not 0 < budget <= len(verdicts):
        raise InputError(f"--budget must lie in 1..{len(verdicts)} (the judged items)", column="--budget")
    selection = plan_selection(
        verdicts["uncertainty"].to_numpy(float),
        half_width,
        budget=budget,
        level=level or 0.95,
        uniform_share=uniform_share,
        judge=name,
    )
    if select_out is not None and budget is not None:
        chosen = select_items(verdicts, budget, uniform_share=uniform_share, seed=seed)
        write_table(chosen.assign(judge=name), select_out)
    return selection


def print_plans(plans: list[LabelPlan], as_json: bool, selection: SelectionPlan | None = None) -> None:
    """The plans as text (one block per judge) or as JSON: a list of plans, or with a selection plan an object
    ``{"plans": [...], "selection": {...}}``."""
    if as_json:
        import json
        from dataclasses import asdict

        listed = [{**asdict(p), "labels_saved": p.labels_saved} for p in plans]
        out: object = listed if selection is None else {"plans": listed, "selection": asdict(selection)}
        typer.echo(json.dumps(out, indent=1))
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
        if p.stratified is not None:
            typer.echo(f"    stratified PPI (by {p.stratified_by}): {p.stratified}  (scaled from the pilot)")
        sens_spec = f"sensitivity {p.sensitivity:.2f}, specificity {p.specificity:.2f}"
        if p.rogan_gladen is None:
            typer.echo(f"    Rogan-Gladen:               not reachable ({sens_spec})")
        else:
            typer.echo(f"    Rogan-Gladen:               {p.rogan_gladen}  ({sens_spec})")
    if selection is not None:
        s = selection
        typer.echo(
            f"judge {s.judge}: choosing which of {s.n_items:,} judged items humans label "
            f"({s.uniform_share:.0%} of the selection uniform)"
        )
        if s.budget is not None:
            typer.echo(
                f"  with {s.budget} labels, expected {s.level:.0%} half-width: confidence-driven "
                f"{s.half_width_confidence:.4f}, uniform random {s.half_width_uniform:.4f}"
            )
        typer.echo(
            f"  labels for half-width {s.target_half_width:g}: confidence-driven {s.labels_confidence}, "
            f"uniform random {s.labels_uniform}"
        )


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
