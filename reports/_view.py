"""Read a saved audit dict tolerantly and format its numbers.

Everything here is lookup and formatting: no statistic is computed. Fields that an older or partial audit lacks
come back as ``None`` or empty, so every renderer degrades instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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

DISAGREEMENT_LABELS: dict[str, str] = {
    "judge_better_reference_no_better": "judge: b better · reference: no better",
    "judge_no_better_reference_better": "judge: no better · reference: b better",
    "other": "other disagreement",
}
KEY_DISAGREEMENT = "judge_better_reference_no_better"

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


# ---------------------------------------------------------------------------------------------- numbers


def as_float(value: Any) -> float | None:
    """A finite float, or ``None`` for missing, null, NaN, infinite or non-numeric values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None


def _minus(text: str) -> str:
    return text.replace("-", "−") if text.startswith("-") else text


def fmt_number(value: Any, kind: str = "number", digits: int | None = None, signed: bool = False) -> str:
    """One number: rates as ``54.6%``, rate gaps as ``-33.6 pts``, other numbers with 3 decimals; ``—`` if missing."""
    number = as_float(value)
    if number is None:
        return "—"
    sign = "+" if signed else ""
    if kind == "rate":
        return f"{number * 100:.{1 if digits is None else digits}f}%"
    if kind == "rate_gap":
        return f"{number * 100:{sign}.{1 if digits is None else digits}f} pts"
    return f"{number:{sign}.{3 if digits is None else digits}f}"


def fmt_interval(low: Any, high: Any, kind: str = "number", digits: int | None = None) -> str:
    """``[50.1, 59.0]`` in the same unit as the estimate (percent / points without the sign); empty if missing."""
    lo, hi = as_float(low), as_float(high)
    if lo is None or hi is None:
        return ""
    scale = 100.0 if kind in ("rate", "rate_gap") else 1.0
    places = (1 if kind in ("rate", "rate_gap") else 3) if digits is None else digits
    return f"[{lo * scale:.{places}f}, {hi * scale:.{places}f}]"


def fmt_estimate(row: Mapping[str, Any] | None, kind: str | None = None, signed: bool | None = None) -> str:
    """``value [ci_low, ci_high]`` for one metric row; ``—`` when the row or its value is missing."""
    if not row:
        return "—"
    metric = str(row.get("metric", ""))
    kind = kind or metric_kind(metric)
    if signed is None:
        signed = metric.endswith("_gap")
    text = fmt_number(row.get("value"), kind, signed=signed)
    if text == "—":
        return text
    interval = fmt_interval(row.get("ci_low"), row.get("ci_high"), kind)
    return f"{text} {interval}" if interval else text


def fmt_p(value: Any) -> str:
    number = as_float(value)
    if number is None:
        return ""
    if number < 0.001:
        return "<0.001"
    return f"{number:.3f}"


def p_text(row: Mapping[str, Any] | None) -> str:
    """``p_adj = 0.012`` (adjusted when present, else raw ``p = …``); empty when neither is present."""
    if not row:
        return ""
    adjusted, raw = fmt_p(row.get("p_adjusted")), fmt_p(row.get("p_value"))
    if adjusted:
        return f"p_adj {'' if adjusted.startswith('<') else '= '}{adjusted}"
    if raw:
        return f"p {'' if raw.startswith('<') else '= '}{raw}"
    return ""


def interval_excludes_zero(row: Mapping[str, Any] | None) -> bool | None:
    """True when the interval lies on one side of zero, False when it straddles it, None when it is missing."""
    if not row:
        return None
    lo, hi = as_float(row.get("ci_low")), as_float(row.get("ci_high"))
    if lo is None or hi is None:
        return None
    return lo > 0 or hi < 0


# ---------------------------------------------------------------------------------------------- the audit


def _text(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _dicts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        return []
    return [row for row in value if isinstance(row, Mapping)]


@dataclass
class AuditView:
    """Typed, tolerant access to an audit dict (see the audit.json schema in the core issue)."""

    raw: Mapping[str, Any]
    title: str
    description: str
    simulated: bool
    task: str
    reference: str
    policy: str
    judges: list[str]
    metrics: list[dict[str, Any]]
    exclusions: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    confusion: list[dict[str, Any]]
    score_pairs: list[dict[str, Any]]
    cases: dict[str, Any]
    scale: dict[str, Any] | None
    slices: list[str] = field(default_factory=list)
    _index: dict[tuple[str, str, str, str | None], dict[str, Any]] = field(default_factory=dict, repr=False)

    # -- lookups
    def metric(
        self, metric: str, judge: str, reference: str | None = None, slice_: str | None = None
    ) -> dict[str, Any] | None:
        """The row for ``metric`` of ``judge`` against ``reference`` (default: the audit's reference)."""
        return self._index.get((metric, judge, reference or self.reference, slice_))

    def own(self, metric: str, slice_: str | None = None) -> dict[str, Any] | None:
        """The reference's own row: its outcome rates, or the human-human ceiling of an agreement metric."""
        return self.metric(metric, self.reference, self.reference, slice_)

    def present(self, metrics: Iterable[str], slice_: str | None = None) -> list[str]:
        """The given metric names that have at least one row with a value (in the given order)."""
        have = {
            key[0]
            for key, row in self._index.items()
            if key[3] == slice_ and as_float(row.get("value")) is not None
        }
        return [name for name in metrics if name in have]

    def first_present(self, metrics: Iterable[str], slice_: str | None = None) -> str | None:
        found = self.present(metrics, slice_)
        return found[0] if found else None

    def primary_agreement(self) -> str | None:
        order = PRIMARY_AGREEMENT.get(self.task, PRIMARY_AGREEMENT["pairwise"])
        return self.first_present(order) or self.first_present(AGREEMENT_METRICS[1:])

    def unknown_metrics(self, slice_: str | None = None) -> list[str]:
        seen: list[str] = []
        for key in self._index:
            if key[3] == slice_ and key[0] not in KNOWN_METRICS and key[0] not in seen:
                seen.append(key[0])
        return seen

    def rows_for(self, metric: str, slice_: str | None = None) -> list[dict[str, Any]]:
        return [row for key, row in self._index.items() if key[0] == metric and key[3] == slice_]

    @property
    def is_personalization(self) -> bool:
        """Whether b is a personalized response (explicit ``arms`` field, else the title / description say so)."""
        arms = self.raw.get("arms")
        if isinstance(arms, Mapping) and arms.get("b"):
            return "personali" in str(arms.get("b")).lower()
        text = f"{self.title} {self.description}".lower()
        return "personali" in text

    @property
    def arm_b(self) -> str:
        arms = self.raw.get("arms")
        if isinstance(arms, Mapping) and arms.get("b"):
            return f"the {arms['b']}"
        return "the personalized response" if self.is_personalization else "response b"

    @property
    def arm_a(self) -> str:
        arms = self.raw.get("arms")
        if isinstance(arms, Mapping) and arms.get("a"):
            return f"the {arms['a']}"
        return "the generic response" if self.is_personalization else "response a"

    @property
    def reference_words(self) -> str:
        return "Humans" if self.reference == "human" else f"The reference ({self.reference})"

    @property
    def reference_plural(self) -> str:
        return "humans" if self.reference == "human" else self.reference

    @property
    def n_items(self) -> int | None:
        return as_int(self.raw.get("n_items"))

    @property
    def n_clusters(self) -> int | None:
        return as_int(self.raw.get("n_clusters"))

    @property
    def bootstrap(self) -> dict[str, Any]:
        value = self.raw.get("bootstrap")
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def pairwise_like(self) -> bool:
        return self.task in ("pairwise", "likert", "binary") or not self.task


def as_audit_dict(audit: Any) -> Mapping[str, Any]:
    """The audit dict itself, or the dict of an object that offers ``to_dict()`` (e.g. ``auditor``'s result)."""
    if isinstance(audit, Mapping):
        return audit
    to_dict = getattr(audit, "to_dict", None)
    if callable(to_dict):
        converted = to_dict()
        if isinstance(converted, Mapping):
            return converted
    return {}


def view(audit: Mapping[str, Any] | None) -> AuditView:
    """Wrap an audit dict; every missing field gets an empty default."""
    audit = as_audit_dict(audit)
    reference = _text(audit.get("reference"), "human") or "human"
    metrics = []
    for row in _dicts(audit.get("metrics")):
        if not row.get("metric") or row.get("judge") is None:
            continue
        clean = dict(row)
        clean["metric"] = str(row["metric"])
        clean["judge"] = str(row["judge"])
        clean["reference"] = _text(row.get("reference"), reference) or reference
        slice_ = row.get("slice")
        clean["slice"] = None if slice_ in (None, "") else str(slice_)
        metrics.append(clean)
    index: dict[tuple[str, str, str, str | None], dict[str, Any]] = {}
    for row in metrics:
        index.setdefault((row["metric"], row["judge"], row["reference"], row["slice"]), row)

    judges_field = audit.get("judges")
    if isinstance(judges_field, Iterable) and not isinstance(judges_field, (str, bytes, Mapping)):
        judges = [str(name) for name in judges_field if name is not None and str(name) != reference]
    else:
        judges = []
    for row in metrics:  # judges that only appear in metrics (older files)
        if row["judge"] != row["reference"] and row["judge"] not in judges and row["reference"] == reference:
            judges.append(row["judge"])
    slices = []
    for row in metrics:
        if row["slice"] is not None and row["slice"] not in slices:
            slices.append(row["slice"])

    cases = audit.get("cases")
    scale = audit.get("scale")
    return AuditView(
        raw=audit,
        title=_text(audit.get("title")),
        description=_text(audit.get("description")),
        simulated=bool(audit.get("simulated")),
        task=_text(audit.get("task")),
        reference=reference,
        policy=_text(audit.get("policy")),
        judges=judges,
        metrics=metrics,
        exclusions=_dicts(audit.get("exclusions")),
        warnings=_dicts(audit.get("warnings")),
        confusion=_dicts(audit.get("confusion")),
        score_pairs=_dicts(audit.get("score_pairs")),
        cases=dict(cases) if isinstance(cases, Mapping) else {},
        scale=dict(scale) if isinstance(scale, Mapping) else None,
        slices=slices,
        _index=index,
    )


def default_policy(v: AuditView) -> str:
    """The documented default when an audit does not state its policy (older files)."""
    if v.task == "likert":
        neutral = (v.scale or {}).get("neutral")
        point = f" {neutral}" if neutral is not None else ""
        return (
            f"b is better when the label is above the neutral point{point}; no better = at or below it "
            "(policy not stated in this audit file; this is the default)"
        )
    if v.task == "binary":
        return (
            "better when the label is 1; no better = 0 "
            "(policy not stated in this audit file; this is the default)"
        )
    if v.task in ("pairwise", ""):
        return (
            "b is better when the label is b; no better = tie or a "
            "(policy not stated in this audit file; this is the default)"
        )
    return "not stated in this audit file"


def policy_text(v: AuditView) -> str:
    return v.policy or default_policy(v)
