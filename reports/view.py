"""Read a saved audit dict tolerantly: :class:`AuditView`, the one reader every part of the report uses.

Everything here is lookup: no statistic is computed. Fields that an older or partial audit lacks
come back as ``None`` or empty, so every renderer degrades instead of failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from auditor.contract import DEFAULT_REFERENCE, split_variant
from reports.format import as_float, as_int
from reports.labels import (
    AGREEMENT_METRICS,
    KNOWN_METRICS,
    POSITIVE_WORDS,
    PRIMARY_AGREEMENT,
    STAGE_RATES,
    metric_label,
)


def _text(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _dicts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        return []
    return [row for row in value if isinstance(row, Mapping)]


@dataclass
class AuditView:
    """Typed, tolerant access to an audit dict (its shape: :class:`auditor.contract.AuditDocument`)."""

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

    def policy_field(self, key: str) -> Any:
        """A field of ``policy`` (``tie_break``, ``reference_ties``, ``reference_split_ties``); None when absent
        (and in files that wrote the policy as text only)."""
        policy = self.raw.get("policy")
        return policy.get(key) if isinstance(policy, Mapping) else None

    @property
    def stage(self) -> str | None:
        """The personalization stage of the audit (``extraction``, ``relevance``, ``generation``), if any."""
        section = self.raw.get("personalization")
        stage = section.get("stage") if isinstance(section, Mapping) else None
        return str(stage) if stage else None

    @property
    def positive_words(self) -> tuple[str, str, str]:
        """(verb, positive, negative) for a binary stage: ``("marked", "relevant", "not relevant")``."""
        return POSITIVE_WORDS.get(self.stage, POSITIVE_WORDS[None])

    @property
    def positive_rate(self) -> tuple[str, str] | None:
        """The (rate, gap) a binary task or a dichotomised stage (extraction: problematic or not) leads with; None
        for the tasks whose main rate is the no-better rate."""
        if self.stage is not None and self.stage in STAGE_RATES:
            return STAGE_RATES[self.stage]
        return STAGE_RATES[None] if self.task == "binary" else None

    @property
    def lead_gap(self) -> str:
        """The gap the audit leads with: the positive rate's for a binary (or dichotomised) stage, else the
        no-better rate's."""
        found = self.positive_rate
        return found[1] if found else "no_better_rate_gap"

    def outcome_label(self, metric: str, ascii_only: bool = False) -> str:
        """A metric's label in this audit's words: a binary audit's outcome rates name its labels ("Marked
        relevant", "Not relevant"), a pairwise / likert one's name the arms; every other metric its registry
        label."""
        if self.task == "binary":
            verb, positive, negative = self.positive_words
            names = {
                "win_rate": f"{verb} {positive}",
                "loss_rate": negative,
                "win_rate_gap": f"{verb} {positive}: gap",
                "loss_rate_gap": f"{negative}: gap",
            }
            if metric in names:
                return names[metric][0].upper() + names[metric][1:]
        return metric_label(metric, ascii_only)

    def outcome_names(self) -> dict[str, str]:
        """Legend names of the outcome shares: ``response b better``, ``tie / neutral``, ``response a better`` (a
        binary audit: its labels' words)."""
        if self.task == "binary":
            return {m: self.outcome_label(m) for m in ("win_rate", "loss_rate")}
        return {
            "win_rate": f"{self.arm_b} better",
            "tie_rate": "tie / neutral",
            "loss_rate": f"{self.arm_a} better",
        }

    @property
    def pairwise_like(self) -> bool:
        return self.task in ("pairwise", "likert", "binary") or not self.task


def _policy_text(policy: Any) -> str:
    """The policy in words: ``policy.text`` (``policy`` itself in files that wrote it as text)."""
    if isinstance(policy, Mapping):
        return _text(policy.get("text"))
    return _text(policy)


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


def view(audit: Mapping[str, Any] | AuditView | None) -> AuditView:
    """Wrap an audit dict; every missing field gets an empty default (an :class:`AuditView` is returned as is)."""
    if isinstance(audit, AuditView):
        return audit
    audit = as_audit_dict(audit)
    reference = _text(audit.get("reference"), DEFAULT_REFERENCE) or DEFAULT_REFERENCE
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
        policy=_policy_text(audit.get("policy")),
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


def section_dict(v: AuditView, key: str) -> dict[str, Any]:
    """A top-level section of the audit (``ppi``, ``alt_test``, ``jury``, ``probes``), ``{}`` when missing."""
    value = v.raw.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def grouped_variants(v: AuditView) -> dict[str, list[str]]:
    """Variant judges (``base|key=value``, :func:`auditor.contract.split_variant`) whose base judge is also in
    the audit, by base judge."""
    names = set(v.judges)
    out: dict[str, list[str]] = {}
    for judge in v.judges:
        base, key, _ = split_variant(judge)
        if key is not None and base in names:
            out.setdefault(base, []).append(judge)
    return out
