"""What the report calls each metric, read from the core's registry (:mod:`auditor.metrics`): the families that
get their own table columns, labels (and their ASCII forms) and how a value is shown (``%``, points or a number).

Only the report's own choices live here: which families get columns, and which coefficient leads per task.
"""

from __future__ import annotations

from auditor import metrics as registry

AGREEMENT_METRICS: tuple[str, ...] = registry.names("agreement")
CORRELATION_METRICS: tuple[str, ...] = registry.names("correlation")
OUTCOME_METRICS: tuple[str, ...] = registry.names("outcome")
GAP_METRICS: tuple[str, ...] = registry.names("gap")
# Metrics with a column in the per-judge tables; every other metric row goes to "Other metrics" or to the
# dedicated section that shows it.
KNOWN_METRICS: frozenset[str] = frozenset(
    AGREEMENT_METRICS + CORRELATION_METRICS + OUTCOME_METRICS + GAP_METRICS
)

# Which chance-corrected coefficient leads, per task (the first one present wins).
PRIMARY_AGREEMENT: dict[str, tuple[str, ...]] = {
    "pairwise": ("cohen_kappa", "krippendorff_alpha", "scott_pi", "gwet_ac1", "fleiss_kappa"),
    "binary": ("cohen_kappa", "krippendorff_alpha", "scott_pi", "gwet_ac1", "fleiss_kappa"),
    "categorical": ("cohen_kappa", "krippendorff_alpha", "scott_pi", "gwet_ac1", "fleiss_kappa"),
    "likert": ("cohen_kappa_quadratic", "cohen_kappa_linear", "krippendorff_alpha", "cohen_kappa"),
    "score": ("krippendorff_alpha", "cohen_kappa_quadratic", "cohen_kappa"),
}
PRIMARY_CORRELATION: tuple[str, ...] = ("spearman", "kendall_tau_b", "pearson")

_KIND_OF_UNIT = {"%": "rate", "points": "rate_gap", "": "number"}


def metric_label(metric: str, ascii_only: bool = False) -> str:
    """Human name of a metric; unknown names are shown as they are, underscores turned to spaces."""
    return registry.label(metric, ascii_only)


def metric_kind(metric: str) -> str:
    """``rate`` (a proportion, shown in %), ``rate_gap`` (difference of proportions, in points) or ``number``.

    From the registry's unit (:func:`auditor.metrics.unit_of`, which also covers names it does not know).
    """
    return _KIND_OF_UNIT[registry.unit_of(metric)]
