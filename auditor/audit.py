"""The audit: an explicit, ordered pipeline of steps over one :class:`~auditor.engine.context.AuditContext`.

``audit()`` is the Python entry point (paths or DataFrames in, :class:`~auditor.result.AuditResult` out);
``run_audit()`` works on an already loaded :class:`~auditor.data.JudgmentTable`.  Each step of :data:`STEPS` is
``step(context, config) -> StepOutput`` (:mod:`auditor.engine.step`) and reads its options from the nested
:class:`~auditor.config.AuditConfig`; after the steps the p-values are adjusted, the integrity warnings added and
audit.json's description (``meta``) assembled once.  Pure computation: no printing, no files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from auditor.analyses import (
    alt_test,
    baselines,
    core,
    jury,
    length,
    personalization,
    position,
    ppi,
    self_preference,
    variants,
)
from auditor.config import AuditConfig, load_config, parse_metrics
from auditor.contract import EXCLUSION_COLUMNS
from auditor.data import JudgmentTable, load, resolve_study
from auditor.engine import integrity
from auditor.engine.cases import select_cases
from auditor.engine.context import AuditContext as Context
from auditor.engine.describe import meta
from auditor.engine.pvalues import result_metrics
from auditor.engine.step import Step, StepOutput
from auditor.result import AuditResult

#: The pipeline, in order.  The order is part of the output: later steps read what earlier ones leave in the
#: context (the core's ``ref`` / ``sides``, the jury step's ``juries`` for the baselines' z-scores and the alt-test, every earlier row for the
#: profile-view copies of the variants step), and rows and sections appear in audit.json in this order.
STEPS: tuple[Step, ...] = (
    core.step,
    jury.step,
    baselines.step,
    ppi.step,
    alt_test.step,
    personalization.step,
    position.step,
    length.step,
    self_preference.step,
    variants.step,
)


def audit(
    labels: Any,
    items: Any = None,
    *,
    task: str | None = None,
    config: AuditConfig | str | Path | None = None,
    reference: str | None = None,
    resamples: int | None = None,
    seed: int | None = None,
    level: float | None = None,
    method: str | None = None,
    slice_by: tuple[str, ...] | None = None,
    judge_aggregate: str | None = None,
    metrics: str | Sequence[str] | None = None,
    labels_map: str | Sequence[str] | Mapping[str, str] | None = None,
    scale: str | Sequence[int] | None = None,
    neutral: int | None = None,
    columns: str | Sequence[str] | Mapping[str, str] | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
    engine: str = "memory",
) -> AuditResult:
    """Audit judges against the reference judge (default ``human``).

    ``labels``: a path (JSONL, CSV, TSV, Parquet, Excel .xlsx; any of them .gz / .zst), a DataFrame, a study
    folder (its ``labels.*``, ``items.*`` and ``audit.toml``), or a list of these, whose rows are concatenated
    (e.g. the human labels and ``auditor judge``'s output); ``items`` a path or DataFrame; ``config`` an
    :class:`AuditConfig` or a path to ``audit.toml``; keyword options override the config.

    What the files hold, as on the command line (:meth:`AuditConfig.with_input_options`): ``labels_map``
    (``"A=a,B=b,Tie=tie"``, ``"human:A=a"``, several, or a dict), ``scale`` (``"1-7"``) and ``neutral``,
    ``columns`` (``"item_id=Item ID"``, several, or a dict: contract column -> the file's), ``delimiter`` and
    ``sheet``.

    ``metrics``: compute only these metric rows (``"cohen_kappa,no_better_rate"`` or a list of registry names, :mod:`auditor.engine.selection`; None: every
    metric, or the config's ``metrics``).

    ``engine``: ``memory`` (every step), ``duckdb`` / ``spark`` (label files aggregated out of core: the core and
    PPI steps, :mod:`auditor.engine.outofcore`) or ``auto`` (DuckDB for globs, folders, URLs and label files above
    :data:`~auditor.engine.outofcore.LARGE_INPUT_BYTES`).
    """
    labels, items, config = resolve_study(labels, items, config)
    if isinstance(config, (str, Path)):
        config = load_config(config)
    config = (config or AuditConfig()).with_input_options(
        labels_map=labels_map, scale=scale, neutral=neutral, columns=columns, delimiter=delimiter, sheet=sheet
    )
    config = config.with_overrides(
        task=task,
        reference=reference,
        resamples=resamples,
        seed=seed,
        level=level,
        method=method,
        slice_by=slice_by,
        judge_aggregate=judge_aggregate,
        metrics=None if metrics is None else parse_metrics(metrics),
    )
    from auditor.engine.outofcore import audit_out_of_core, choose_engine

    chosen = choose_engine(engine, labels if isinstance(labels, (list, tuple)) else [labels])
    if chosen == "memory":
        result = run_audit(load(labels, items, config))
    else:
        result = audit_out_of_core(labels, items, config, chosen)
    inputs = {}
    for name, source in (("labels", labels), ("items", items)):
        named = [
            str(s)
            for s in (source if isinstance(source, (list, tuple)) else [source])
            if isinstance(s, (str, Path))
        ]
        if named:
            inputs[name] = ", ".join(named)
    result.meta["inputs"] = inputs
    return result


def run_audit(table: JudgmentTable, steps: Sequence[Step] = STEPS) -> AuditResult:
    """Audit an already loaded judgment table: run ``steps`` in order, then assemble the result."""
    return run_steps(Context(table), steps)


def run_steps(ctx: Context, steps: Sequence[Step] = STEPS) -> AuditResult:
    """Run ``steps`` in order on a fresh context, then assemble the result."""
    for step in steps:
        collect(ctx, step(ctx, ctx.cfg))
    return assemble(ctx)


def collect(ctx: Context, out: StepOutput) -> None:
    """Put a step's output into the context: rows, warnings, exclusions, tables and audit.json sections (a
    ``parent.child`` section only when non-empty, its parent only once it has a child)."""
    ctx.add_direct(out.rows)
    ctx.warnings.extend(out.warnings)
    ctx.exclusions.extend(out.exclusions)
    ctx.confusion.extend(out.confusion)
    ctx.score_pairs.extend(out.score_pairs)
    for name, content in out.sections.items():
        parent, _, child = name.partition(".")
        if not child:
            ctx.sections[parent] = content
        elif content:
            ctx.sections.setdefault(parent, {})[child] = content


def assemble(ctx: Context) -> AuditResult:
    """The :class:`AuditResult`: adjusted p-values, integrity warnings, exclusions, meta, the cases."""
    cfg = ctx.cfg
    cluster = cfg.cluster if cfg.cluster in ctx.t.items.columns else "item_id"
    metrics, cluster_warnings = result_metrics(ctx.rows, cluster, cfg.correction)
    warnings = ctx.warnings + integrity.integrity_warnings(ctx.t, ctx.sides, ctx.ref, cfg) + cluster_warnings
    exclusions = pd.concat(
        [ctx.t.exclusions, pd.DataFrame(ctx.exclusions, columns=EXCLUSION_COLUMNS)], ignore_index=True
    )
    exclusions["count"] = exclusions["count"].astype(int)
    return AuditResult(
        meta(ctx), metrics, exclusions, warnings, ctx.confusion, ctx.score_pairs, select_cases(ctx)
    )


__all__ = ["audit", "run_audit", "run_steps", "STEPS", "collect", "assemble", "meta"]
