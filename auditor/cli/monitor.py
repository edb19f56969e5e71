"""``auditor monitor BATCH... --state monitor.json --band LOW,HIGH --max-flip-rate R``: anytime-valid monitoring of
the judge-human gap and the anchor flip rate over a stream of batches (:mod:`auditor.monitor`); exit 1 when a judge's
gap has left the band or its flip-rate detector has enough evidence of flips above R since some batch."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer


def _line(
    row: dict[str, Any],
    band: tuple[float, float] | None,
    max_flip_rate: float | None,
    threshold: float | None,
) -> str:
    from auditor.escape import terminal_safe
    from reports.format import fmt_interval, fmt_number

    text = f"{terminal_safe(row['judge'])}: "
    if row["gap"] is None:
        text += "no spot-checked items yet"
    else:
        text += (
            f"gap {fmt_number(row['gap'], 'rate_gap', signed=True)} "
            f"{fmt_interval(row['gap_low'], row['gap_high'], 'rate_gap')} on {row['gap_n']} spot-checked items"
        )
        if band is not None:
            where = {"inside": "overlapping", "above": "wholly ABOVE", "below": "wholly BELOW"}[row["status"]]
            text += f", {where} the band {fmt_interval(band[0], band[1], 'rate_gap')}"
    if row["flip_rate"] is not None:
        text += (
            f"; flip rate {fmt_number(row['flip_rate'], 'rate')} "
            f"{fmt_interval(row['flip_rate_low'], row['flip_rate_high'], 'rate')} on {row['flip_rate_n']} "
            "re-judged anchor items"
        )
        if max_flip_rate is not None and threshold is not None:
            text += "; " + _flip_decision(row, fmt_number(max_flip_rate, "rate"), threshold)
    return text


def _evidence(value: float) -> str:
    """An e-value in three significant digits (``31.2``, ``0.718``, ``1.26e+05``); ``infinite`` past a float."""
    return f"{value:.3g}" if value < float("inf") else "infinite"


def _flip_decision(row: dict[str, Any], maximum: str, threshold: float) -> str:
    """``flips ABOVE the maximum 5.0% since batch 12: evidence 31.2 >= 20`` while the evidence is at least the
    threshold, ``... evidence reached 31.2 >= 20 at batch 15 (now 4.1)`` after it has fallen back (an alarm stays
    raised), ``evidence of flips above the maximum 5.0%: 1.3 < 20`` before any alarm."""
    alarm, now = row["flip_alarm"], row["flip_evidence"]
    if alarm is None:
        return f"evidence of flips above the maximum {maximum}: {_evidence(now)} < {threshold:g}"
    if now >= threshold:
        return f"flips ABOVE the maximum {maximum} since batch {row['flip_since']}: evidence {_evidence(now)} >= {threshold:g}"
    return (
        f"flips ABOVE the maximum {maximum} since batch {alarm['since']}: evidence reached "
        f"{_evidence(alarm['evidence'])} >= {threshold:g} at batch {alarm['batch']} (now {_evidence(now)})"
    )


def monitor(
    batches: Annotated[
        list[Path],
        typer.Argument(
            help="Batches in order: labels tables (judge rows, human spot checks) or saved audit.json."
        ),
    ],
    state: Annotated[
        Path | None,
        typer.Option(help="State file (JSON): read if it exists, the new batches added, written back."),
    ] = None,
    band: Annotated[
        str | None,
        typer.Option(help="LOW,HIGH: the band the judge-minus-human gap must stay in (exit 1 if not)."),
    ] = None,
    max_flip_rate: Annotated[
        str | None,
        typer.Option(
            metavar="R",
            help="R in [0, 1): exit 1 once a judge's anchor verdicts flip more often than R since some batch "
            "(change detector; evidence >= 1/(1 - level)).",
        ),
    ] = None,
    level: Annotated[
        float | None, typer.Option(help="Confidence level of the sequences (default 0.95).")
    ] = None,
    rate: Annotated[
        str | None, typer.Option(help="The rate whose gap is monitored (default no_better_rate).")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="betting (default, narrower) | empirical-bernstein (closed form).")
    ] = None,
    task: Annotated[str | None, typer.Option(help="pairwise | likert | binary | categorical | score")] = None,
    config: Annotated[Path | None, typer.Option(help="audit.toml (task, scale, aliases, [monitor]).")] = None,
    quiet: Annotated[bool, typer.Option(help="Print nothing but errors.")] = False,
) -> None:
    """Anytime-valid confidence sequences for each judge's gap to the humans and its flip rate on an anchor set,
    updated batch by batch; exit 1 when a gap has left the band or a judge's anchors flip more often than the maximum
    since some batch, 2 on bad input."""
    from auditor.config import AuditConfig, load_config
    from auditor.io import check_writable, write_json
    from auditor.monitor import (
        checked_settings,
        new_state,
        parse_band,
        parse_max_flip_rate,
        read_state,
        report,
        update,
    )

    cfg = load_config(config) if config is not None else AuditConfig()
    cfg = cfg.with_overrides(task=task)
    settings = checked_settings(
        replace(cfg.monitor, level=float(cfg.monitor.level)), cfg.source, prefix="monitor."
    )
    flags = {
        "level": level,
        "rate": rate,
        "method": method,
        "band": None if band is None else parse_band(band),
        "max_flip_rate": None if max_flip_rate is None else parse_max_flip_rate(max_flip_rate),
    }
    settings = checked_settings(
        replace(settings, **{k: v for k, v in flags.items() if v is not None}), prefix="--"
    )
    if state is not None:
        check_writable(state)
    current = read_state(state, settings) if state is not None and state.exists() else new_state(settings)
    updated, notes = update(current, batches, cfg, settings)
    document = report(updated, settings)
    if state is not None:
        write_json(state, document)
    if not quiet:
        from auditor.escape import terminal_safe

        for note in notes:
            typer.echo(terminal_safe(note))
        for row in document["judges"]:
            typer.echo(_line(row, settings.band, settings.max_flip_rate, document["flip_threshold"]))
        count = len(updated["batches"])
        typer.echo(
            f"{count} batch{'' if count == 1 else 'es'}; anytime-valid {settings.level:.0%} {settings.method} "
            "confidence sequences"
            + ("" if document["flip_threshold"] is None else " and a flip-rate change detector")
            + " per judge"
            + ("" if document["decision"] == "no band" else f"; decision: {document['decision']}")
        )
        if state is not None:
            typer.echo(f"wrote {state}")
    if document["decision"] == "outside":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
