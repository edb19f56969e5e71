"""Metric selection: which metric rows an audit computes (``metrics = [...]`` in audit.toml, ``--metrics`` on
``auditor audit``).

The names are those of the metrics registry (:mod:`auditor.metrics`).  :func:`check` refuses an empty list, an
unknown name (with the closest names, else the names the task has) and a name the task cannot have (a rate on a
task without outcome rates, a correlation on a nominal task, a weighted coefficient on unordered labels).
:func:`computed` adds what a selected row needs: a ``*_gap`` row its rate (the judge's and the reference's rate
rows), ``agreement_z_vs_ceiling`` the task's lead coefficient (the judge's and the human ceiling's rows).  The
engine asks :meth:`~auditor.engine.context.AuditContext.wants` before computing a metric and never evaluates one
that is not in the computed set (the human ceiling still makes the per-cluster sums of all its coefficients, so
that its float64 weights products stay those of a full audit: :func:`auditor.engine.ceiling.multi_rater`);
``None`` everywhere means every metric (no selection).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from auditor.errors import ConfigError
from auditor.metrics import METRICS, names, task_outcome_rates

#: The lead agreement coefficient per task (the one ``agreement_z_vs_ceiling`` compares); Cohen's kappa otherwise.
LEAD = {"likert": "cohen_kappa_quadratic", "score": "krippendorff_alpha"}
#: The families whose metrics the core step, the human ceiling and the baselines compute.
AGREEMENT_FAMILIES = ("agreement", "correlation")
#: Coefficients that need ordered labels (the weighted members of the agreement family).
WEIGHTED = (
    "cohen_kappa_linear",
    "cohen_kappa_quadratic",
    "gwet_ac2",
    "scott_pi_weighted",
    "fleiss_kappa_weighted",
)
#: Tasks with category-wise kappa rows: nominal categories (pairwise a / tie / b, categorical), three or more.
CATEGORY_KAPPA_TASKS = ("pairwise", "categorical")


def lead_coefficient(task: str) -> str:
    """The task's lead agreement coefficient: quadratic-weighted kappa (likert), Krippendorff's alpha (score),
    Cohen's kappa otherwise."""
    return LEAD.get(task, "cohen_kappa")


def _not_for(name: str, task: str, score_neutral: float | None) -> str | None:
    """Why metric ``name`` does not apply to ``task`` (None: it does)."""
    metric = METRICS[name]
    if metric.family in ("outcome", "gap", "corrected"):
        rate = name.removesuffix("_gap")
        for prefix in ("ppi_", "stratified_ppi_", "confidence_driven_", "rogan_gladen_"):
            rate = rate.removeprefix(prefix)
        if rate in task_outcome_rates(task, score_neutral):
            return None
        if not task_outcome_rates(task, score_neutral):
            return f"a {task} task has no outcome rates"
        if task == "score" and score_neutral is None:
            return "a score task has outcome rates only with a neutral point ([score] neutral in audit.toml)"
        return f"a {task} task has no {rate.replace('_', ' ')}"
    if metric.family == "correlation" and task not in ("likert", "score"):
        return f"correlations are computed for likert and score tasks, not {task}"
    if metric.family == "agreement":
        if task == "score" and name not in (
            "krippendorff_alpha",
            "icc_a1",
            "icc_c1",
            "agreement_z_vs_ceiling",
        ):
            return "a score task's agreement coefficients are krippendorff_alpha, icc_a1 and icc_c1"
        if task != "score" and name in ("icc_a1", "icc_c1"):
            return f"intraclass correlations are computed for score tasks, not {task}"
        if name in WEIGHTED and task not in ("pairwise", "likert"):
            return f"weighted coefficients need ordered labels (pairwise, likert), not a {task} task"
        if name == "category_kappa" and task not in CATEGORY_KAPPA_TASKS:
            return f"category-wise kappa is computed for pairwise and categorical tasks, not {task}"
    return None


def task_metrics(task: str, score_neutral: float | None = None) -> tuple[str, ...]:
    """Every metric name the audit of a ``task`` can write, in registry order (the metrics of the analyses that
    decide from the data whether they apply, such as the position probe or the personalization stages, for every
    task)."""
    return tuple(n for n in names() if _not_for(n, task, score_neutral) is None)


def check(
    selected: Collection[str],
    task: str | None,
    score_neutral: float | None = None,
    *,
    where: str | None = None,
    column: str = "metrics",
) -> None:
    """Raise a :class:`~auditor.errors.ConfigError` (exit 2) for an empty selection, a name the registry does not
    know (the closest names, else the task's) or a name the task cannot have (when ``task`` is known)."""
    from auditor.suggest import did_you_mean

    if not selected:
        raise ConfigError(
            "is empty; list at least one metric name (leave it out to compute every metric)",
            file=where,
            column=column,
        )
    candidates = task_metrics(task, score_neutral) if task else tuple(METRICS)
    for name in selected:
        if name not in METRICS:
            hint = did_you_mean(name, candidates) or (
                f"; a {task} audit has: {', '.join(candidates)}" if task else "; see `auditor/metrics.py`"
            )
            raise ConfigError(f"unknown metric {name!r}{hint}", file=where, column=column)
        reason = _not_for(name, task, score_neutral) if task else None
        if reason:
            raise ConfigError(f"{name!r} does not apply: {reason}", file=where, column=column)


def computed(selected: Iterable[str] | None, task: str) -> frozenset[str] | None:
    """The metrics an audit with the selection ``selected`` computes: the selected ones, each ``*_gap``'s rate and,
    for ``agreement_z_vs_ceiling``, the task's lead coefficient (None: every metric)."""
    if selected is None:
        return None
    out = set(selected)
    for name in selected:
        if METRICS[name].family == "gap":
            out.add(name.removesuffix("_gap"))
        if name == "agreement_z_vs_ceiling":
            out.add(lead_coefficient(task))
    return frozenset(out)


#: Analyses that write only metrics of these families (their TOML table and switch): with a selection that holds
#: none of them they do not run.  The core, the juries, the baselines, the variants probe (it repeats every row of a
#: profile-view judge) and the personalization stages run and compute only what is selected.
SELF_CONTAINED = {
    ("ppi", "enabled"): "corrected",
    ("alt_test", "enabled"): "alt_test",
    ("probes", "position"): "position",
    ("probes", "length"): "length",
    ("probes", "self_preference"): "self_preference",
}


def switched_off(selected: Iterable[str] | None) -> dict[str, dict[str, bool]]:
    """The analyses of :data:`SELF_CONTAINED` that can write none of the ``selected`` metrics, as
    :meth:`AuditConfig.with_options` keywords that switch them off (none without a selection)."""
    if selected is None:
        return {}
    chosen = {METRICS[name].family for name in selected}
    changes: dict[str, dict[str, bool]] = {}
    for (table, switch), family in SELF_CONTAINED.items():
        if family not in chosen:
            changes.setdefault(table, {})[switch] = False
    return changes


def agreement_names() -> frozenset[str]:
    """The metrics of the agreement and correlation families (what the human ceiling can write)."""
    return frozenset(names(*AGREEMENT_FAMILIES))


__all__ = [
    "check",
    "computed",
    "switched_off",
    "task_metrics",
    "lead_coefficient",
    "agreement_names",
]
