"""What the report calls each metric: its family (which table column it gets), its label and its kind of number.

The report's own choices are here too: the order of the columns in each family and which coefficient leads per
task.
"""

from __future__ import annotations

AGREEMENT_METRICS: tuple[str, ...] = (
    "agreement",
    "cohen_kappa",
    "cohen_kappa_linear",
    "cohen_kappa_quadratic",
    "scott_pi",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
)
CORRELATION_METRICS: tuple[str, ...] = ("pearson", "spearman", "kendall_tau_b")
OUTCOME_METRICS: tuple[str, ...] = ("win_rate", "tie_rate", "loss_rate", "no_better_rate", "mean_score")
GAP_METRICS: tuple[str, ...] = (
    "win_rate_gap",
    "tie_rate_gap",
    "loss_rate_gap",
    "no_better_rate_gap",
    "mean_score_gap",
)
KNOWN_METRICS: frozenset[str] = frozenset(
    AGREEMENT_METRICS + CORRELATION_METRICS + OUTCOME_METRICS + GAP_METRICS
)

METRIC_LABELS: dict[str, str] = {
    "agreement": "Agreement",
    "cohen_kappa": "Cohen's κ",
    "cohen_kappa_linear": "κ (linear)",
    "cohen_kappa_quadratic": "κ (quadratic)",
    "scott_pi": "Scott's π",
    "fleiss_kappa": "Fleiss' κ",
    "krippendorff_alpha": "Krippendorff's α",
    "gwet_ac1": "Gwet's AC1",
    "pearson": "Pearson r",
    "spearman": "Spearman ρ",
    "kendall_tau_b": "Kendall τ-b",
    "win_rate": "Win (b better)",
    "tie_rate": "Tie",
    "loss_rate": "Loss (a better)",
    "no_better_rate": "No better",
    "mean_score": "Mean score",
    "win_rate_gap": "Win gap",
    "tie_rate_gap": "Tie gap",
    "loss_rate_gap": "Loss gap",
    "no_better_rate_gap": "No-better gap",
    "mean_score_gap": "Mean-score gap",
}

# Plain ASCII names for terminals and Markdown readers that prefer them.
METRIC_LABELS_ASCII: dict[str, str] = {
    "cohen_kappa": "Cohen's kappa",
    "cohen_kappa_linear": "kappa (linear)",
    "cohen_kappa_quadratic": "kappa (quadratic)",
    "scott_pi": "Scott's pi",
    "fleiss_kappa": "Fleiss' kappa",
    "krippendorff_alpha": "Krippendorff's alpha",
    "spearman": "Spearman rho",
    "kendall_tau_b": "Kendall tau-b",
}

# Which chance-corrected coefficient leads, per task (the first one present wins).
PRIMARY_AGREEMENT: dict[str, tuple[str, ...]] = {
    "pairwise": ("cohen_kappa", "krippendorff_alpha", "scott_pi", "gwet_ac1", "fleiss_kappa"),
    "binary": ("cohen_kappa", "krippendorff_alpha", "scott_pi", "gwet_ac1", "fleiss_kappa"),
    "categorical": ("cohen_kappa", "krippendorff_alpha", "scott_pi", "gwet_ac1", "fleiss_kappa"),
    "likert": ("cohen_kappa_quadratic", "cohen_kappa_linear", "krippendorff_alpha", "cohen_kappa"),
    "score": ("krippendorff_alpha", "cohen_kappa_quadratic", "cohen_kappa"),
}
PRIMARY_CORRELATION: tuple[str, ...] = ("spearman", "kendall_tau_b", "pearson")


def metric_label(metric: str, ascii_only: bool = False) -> str:
    """Human name of a metric; unknown names are shown as they are, underscores turned to spaces."""
    if ascii_only and metric in METRIC_LABELS_ASCII:
        return METRIC_LABELS_ASCII[metric]
    if metric in METRIC_LABELS:
        return METRIC_LABELS[metric]
    return str(metric).replace("_", " ")


def metric_kind(metric: str) -> str:
    """``rate`` (a proportion, shown in %), ``rate_gap`` (difference of proportions, in points) or ``number``."""
    name = str(metric)
    if name.endswith("_rate_gap"):
        return "rate_gap"
    if name.endswith("_rate") or name == "agreement":
        return "rate"
    return "number"
