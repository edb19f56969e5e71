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

_KIND_OF_UNIT = {"%": "rate", "points": "rate_gap", "": "number", "log-odds": "number", "tokens": "number"}


def metric_label(metric: str, ascii_only: bool = False) -> str:
    """Human name of a metric; unknown names are shown as they are, underscores turned to spaces."""
    return registry.label(metric, ascii_only)


def metric_kind(metric: str) -> str:
    """``rate`` (a proportion, shown in %), ``rate_gap`` (difference of proportions, in points) or ``number``.

    From the registry's unit (:func:`auditor.metrics.unit_of`, which also covers names it does not know).
    """
    return _KIND_OF_UNIT[registry.unit_of(metric)]


#: Words for the positive label of a binary (or dichotomised) stage: (verb, what, the opposite), e.g. "Humans
#: marked 19.7% of items relevant".  Keyed by the personalization stage; other binary audits use the default.
POSITIVE_WORDS: dict[str | None, tuple[str, str, str]] = {
    "relevance": ("marked", "relevant", "not relevant"),
    "extraction": ("flagged", "problematic", "not problematic"),
    None: ("labelled", "1 (positive)", "0 (negative)"),
}
#: The rate a stage's headline leads with, and its gap to the reference (binary: the core's ``win_rate``).
STAGE_RATES: dict[str | None, tuple[str, str]] = {
    "extraction": ("problematic_rate", "problematic_rate_gap"),
    None: ("win_rate", "win_rate_gap"),
}
#: The outcome rates a binary audit shows (loss, no better and the mean repeat the positive rate).
BINARY_OUTCOMES: tuple[str, ...] = ("win_rate", "win_rate_gap")


def metric_meaning(metric: str) -> str:
    """A metric's one-line meaning from the registry; empty for a name it does not define."""
    found = registry.lookup(metric)
    return found.meaning if found else ""


def metric_name_with_unit(metric: str, ascii_only: bool = False) -> str:
    """The label, with the unit in brackets when values carry no % or points of their own: ``Length preference
    (log-odds)``."""
    unit = registry.unit_of(metric)
    label = metric_label(metric, ascii_only)
    return f"{label} ({unit})" if unit not in ("%", "points", "") else label
