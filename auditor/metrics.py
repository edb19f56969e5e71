"""The metrics registry: every metric the audit can write, with what it is and how it is shown.

One entry per metric name: its *family* (which analysis writes it), its *kind* (``rate``, ``gap``, ``coefficient``,
``test``, ``mean``), whether it is a *proportion* of units (observed at exactly 0 or 1 its interval is the exact
binomial one over the clusters, not zero-width), its label (with an ASCII form for terminals that prefer it), its
*unit* as reports show it (``%`` for rates, ``points`` for differences of rates, ``log-odds`` / ``tokens`` for the
numbers that have one, empty for other plain numbers) and a one-line meaning.  The producer (``auditor.audit`` and
its steps), the gates and the reports all read this module;
none keeps a list of metric names of its own.

Adding a metric: one :func:`_register` call below, its statistics function in ``auditor.stats`` and its test.

>>> METRICS["no_better_rate_gap"].kind, METRICS["no_better_rate_gap"].unit
('gap', 'points')
>>> lookup("ppi_win_rate").family
'corrected'
>>> lookup("not_a_metric") is None
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Kind = Literal["rate", "gap", "coefficient", "test", "mean"]
Unit = Literal["%", "points", "", "log-odds", "tokens"]

#: Families in report order.
FAMILIES: tuple[str, ...] = (
    "agreement",
    "correlation",
    "outcome",
    "gap",
    "corrected",
    "alt_test",
    "jury",
    "position",
    "length",
    "self_preference",
    "variants",
    "extraction",
    "relevance",
    "generation",
    "pairwise_kappa",
)


@dataclass(frozen=True)
class Metric:
    """One metric: see the module docstring for the fields."""

    name: str
    family: str
    kind: Kind
    proportion: bool
    label: str
    unit: Unit
    meaning: str
    label_ascii: str | None = None

    def display_label(self, ascii_only: bool = False) -> str:
        return (self.label_ascii or self.label) if ascii_only else self.label


_REGISTRY: dict[str, Metric] = {}


def _unit_by_name(name: str) -> Unit:
    """The display convention by a name's ending: ``*_rate`` and ``agreement`` in %, ``*_rate_gap`` in points."""
    if name.endswith("_rate_gap"):
        return "points"
    return "%" if name.endswith("_rate") or name == "agreement" else ""


def _register(
    name: str,
    family: str,
    kind: Kind,
    label: str,
    meaning: str,
    *,
    proportion: bool = False,
    unit: Unit | None = None,
    ascii: str | None = None,
) -> None:
    if name in _REGISTRY:
        raise ValueError(f"metric {name!r} registered twice")
    if family not in FAMILIES:
        raise ValueError(f"metric {name!r}: unknown family {family!r}")
    if unit is None:
        unit = _unit_by_name(name)
    _REGISTRY[name] = Metric(name, family, kind, proportion, label, unit, meaning, ascii)


# -- agreement: the judge's aggregated verdict against the reference's, per item -----------------------------
_register(
    "agreement",
    "agreement",
    "rate",
    "Agreement",
    "share of items on which the judge's verdict equals the reference's",
    proportion=True,
)
_register(
    "cohen_kappa",
    "agreement",
    "coefficient",
    "Cohen's κ",
    "chance-corrected agreement, chance from each side's own label shares",
    ascii="Cohen's kappa",
)
_register(
    "cohen_kappa_linear",
    "agreement",
    "coefficient",
    "κ (linear)",
    "Cohen's kappa with linear disagreement weights (ordered labels)",
    ascii="kappa (linear)",
)
_register(
    "cohen_kappa_quadratic",
    "agreement",
    "coefficient",
    "κ (quadratic)",
    "Cohen's kappa with quadratic disagreement weights (ordered labels)",
    ascii="kappa (quadratic)",
)
_register(
    "scott_pi",
    "agreement",
    "coefficient",
    "Scott's π",
    "chance-corrected agreement, chance from the pooled label shares",
    ascii="Scott's pi",
)
_register(
    "fleiss_kappa",
    "agreement",
    "coefficient",
    "Fleiss' κ",
    "Scott's pi generalised to many raters per item",
    ascii="Fleiss' kappa",
)
_register(
    "krippendorff_alpha",
    "agreement",
    "coefficient",
    "Krippendorff's α",
    "1 - observed / expected disagreement at the task's level of measurement (nominal, ordinal or interval)",
    ascii="Krippendorff's alpha",
)
_register(
    "gwet_ac1",
    "agreement",
    "coefficient",
    "Gwet's AC1",
    "chance-corrected agreement robust to skewed label shares (Gwet 2008)",
)
_register(
    "brennan_prediger",
    "agreement",
    "coefficient",
    "Brennan-Prediger κ",
    "free-marginal kappa (p_o - 1/q) / (1 - 1/q) for q categories: chance is a uniform guess",
    ascii="Brennan-Prediger kappa",
)
_register(
    "gwet_ac2",
    "agreement",
    "coefficient",
    "Gwet's AC2",
    "Gwet's AC1 with quadratic agreement weights on ordered labels (partial credit for near misses)",
)
_register(
    "scott_pi_weighted",
    "agreement",
    "coefficient",
    "Scott's π (weighted)",
    "Scott's pi with quadratic agreement weights on ordered labels",
    ascii="Scott's pi (weighted)",
)
_register(
    "fleiss_kappa_weighted",
    "agreement",
    "coefficient",
    "Fleiss' κ (weighted)",
    "Fleiss' kappa with quadratic agreement weights on ordered labels (Gwet's generalisation)",
    ascii="Fleiss' kappa (weighted)",
)
_register(
    "conger_kappa",
    "agreement",
    "coefficient",
    "Conger's κ",
    "Cohen's kappa generalised to many raters: chance from each rater's own label shares (human raters only)",
    ascii="Conger's kappa",
)
_register(
    "light_kappa",
    "agreement",
    "coefficient",
    "Light's κ",
    "mean Cohen's kappa over every pair of raters, each on the items both rated (human raters only)",
    ascii="Light's kappa",
)
_register(
    "category_kappa",
    "agreement",
    "coefficient",
    "Category κ",
    "Cohen's kappa of one category against all others together (one versus rest), per category (slice "
    "category=<label>)",
    ascii="Category kappa",
)
_register(
    "icc_a1",
    "agreement",
    "coefficient",
    "ICC(A,1)",
    "two-way intraclass correlation, absolute agreement, single rater: a constant offset counts as disagreement",
)
_register(
    "icc_c1",
    "agreement",
    "coefficient",
    "ICC(C,1)",
    "two-way intraclass correlation, consistency, single rater: a constant offset is forgiven",
)

# -- correlation (likert, score) ------------------------------------------------------------------------------
_register(
    "pearson",
    "correlation",
    "coefficient",
    "Pearson r",
    "linear correlation of the judge's and the reference's values per item",
)
_register(
    "spearman",
    "correlation",
    "coefficient",
    "Spearman ρ",
    "rank correlation (average ranks for ties)",
    ascii="Spearman rho",
)
_register(
    "kendall_tau_b",
    "correlation",
    "coefficient",
    "Kendall τ-b",
    "concordance of pairs of items, corrected for ties",
    ascii="Kendall tau-b",
)

# -- outcome rates (b against a) and their gaps to the reference ---------------------------------------------
OUTCOME_RATES: tuple[str, ...] = ("win_rate", "tie_rate", "loss_rate", "no_better_rate", "mean_score")
_OUTCOMES = {
    "win_rate": ("Win (b better)", "share of items where response b is better", True, "rate"),
    "tie_rate": ("Tie", "share of items where neither response is better", True, "rate"),
    "loss_rate": ("Loss (a better)", "share of items where response a is better", True, "rate"),
    "no_better_rate": (
        "No better",
        "share of items where response b is not better (tie or loss)",
        True,
        "rate",
    ),
    "mean_score": (
        "Mean score",
        "mean verdict value per item (b better = 1, tie 0.5, a better 0 for pairwise; the rating for likert)",
        False,
        "mean",
    ),
}
_GAP_LABELS = {
    "win_rate": "Win gap",
    "tie_rate": "Tie gap",
    "loss_rate": "Loss gap",
    "no_better_rate": "No-better gap",
    "mean_score": "Mean-score gap",
}
for _name, (_label, _meaning, _prop, _kind) in _OUTCOMES.items():
    _register(_name, "outcome", _kind, _label, _meaning, proportion=_prop)
    _register(
        f"{_name}_gap", "gap", "gap", _GAP_LABELS[_name], f"judge minus reference, paired by item: {_meaning}"
    )
GAP_METRICS: tuple[str, ...] = tuple(f"{name}_gap" for name in OUTCOME_RATES)


def task_outcome_rates(task: str | None, score_neutral: float | None = None) -> tuple[str, ...]:
    """The outcome rates an audit of ``task`` writes (and their gaps), ``mean_score`` included: every rate for
    pairwise, likert and a score task with a neutral point; no tie rate for binary; a score task without a neutral
    point only ``mean_score``; none for categorical.  :meth:`auditor.engine.context.AuditContext.indicators` gives
    these rates per item; :func:`outcome_categories` says which labels count toward them."""
    if task in ("pairwise", "likert") or (task == "score" and score_neutral is not None):
        return OUTCOME_RATES
    if task == "binary":
        return ("win_rate", "loss_rate", "no_better_rate", "mean_score")
    if task == "score":
        return ("mean_score",)
    return ()


def outcome_categories(doc: Mapping, categories: Iterable[str], rate: str) -> list[bool] | None:
    """Per category of a saved audit's confusion table (audit.json's ``task`` and ``scale``): whether a label in
    it counts toward the outcome ``rate`` (``win_rate``: b better; ``tie_rate``; ``loss_rate``: a better;
    ``no_better_rate``: tie or a better; a likert rating against the scale's neutral point, 3 when not given);
    None for a task without that rate."""
    task = doc.get("task")
    if rate not in task_outcome_rates(task if task != "score" else None):
        return None
    if task == "pairwise":
        counted = {"win_rate": {"b"}, "tie_rate": {"tie"}, "loss_rate": {"a"}, "no_better_rate": {"a", "tie"}}
        return [c in counted[rate] for c in categories]
    if task == "likert":
        scale = doc.get("scale")
        neutral = int(scale.get("neutral", 3) if isinstance(scale, Mapping) else 3)
        counts = {
            "win_rate": lambda r: r > neutral,
            "tie_rate": lambda r: r == neutral,
            "loss_rate": lambda r: r < neutral,
            "no_better_rate": lambda r: r <= neutral,
        }[rate]
        return [counts(int(c)) for c in categories]
    return [c == ("1" if rate == "win_rate" else "0") for c in categories]  # binary


# -- prediction-powered estimates ----------------------------------------------------------------------------
PPI_RATES: tuple[str, ...] = ("win_rate", "no_better_rate", "mean_score")
for _name in PPI_RATES:
    _register(
        f"ppi_{_name}",
        "corrected",
        "rate" if _name != "mean_score" else "mean",
        f"PPI++ {_OUTCOMES[_name][0].lower()}",
        "prediction-powered estimate of the reference's "
        f"{_name.replace('_', ' ')} from the judge's labels on every item and the reference's on a subset",
    )

for _name in PPI_RATES:
    _register(
        f"stratified_ppi_{_name}",
        "corrected",
        "rate" if _name != "mean_score" else "mean",
        f"Stratified PPI {_OUTCOMES[_name][0].lower()}",
        f"stratified prediction-powered estimate of the reference's {_name.replace('_', ' ')}: PPI++ within each "
        "stratum (user or persona), weighted by the strata's shares of the judged items",
    )
for _name in PPI_RATES:
    _register(
        f"confidence_driven_{_name}",
        "corrected",
        "rate" if _name != "mean_score" else "mean",
        f"Confidence-driven {_OUTCOMES[_name][0].lower()}",
        f"the reference's {_name.replace('_', ' ')} from the judge's labels on every item and the reference's on items "
        "chosen with the items' inclusion_probability (inverse-probability weighted)",
    )
ROGAN_GLADEN_RATES: tuple[str, ...] = ("win_rate", "no_better_rate")
for _name in ROGAN_GLADEN_RATES:
    _register(
        f"rogan_gladen_{_name}",
        "corrected",
        "rate",
        f"Rogan-Gladen {_OUTCOMES[_name][0].lower()}",
        f"the judge's {_name.replace('_', ' ')} on the items without a reference label, corrected for its "
        "sensitivity and specificity measured on the items with one",
    )

# -- alternative annotator test (Calderon et al. 2025) ------------------------------------------------------
_register(
    "alt_test_pass",
    "alt_test",
    "test",
    "Alt-test passed",
    "1 when the judge may replace a human annotator: its winning rate reaches 0.5 after FDR control",
)
_register(
    "alt_test_winning_rate",
    "alt_test",
    "rate",
    "Alt-test winning rate",
    "share of held-out human annotators against whom the judge's advantage is significant",
)
_register(
    "alt_test_advantage_probability",
    "alt_test",
    "coefficient",
    "Alt-test advantage probability",
    "mean probability that the judge aligns with the others at least as well as the left-out annotator",
)

# -- juries ----------------------------------------------------------------------------------------------------
_register(
    "jury_effective_judges",
    "jury",
    "mean",
    "Effective judges",
    "how many independent judges the jury is worth given its members' error correlation",
)

_register(
    "undecided_rate",
    "jury",
    "rate",
    "Undecided",
    "share of the items the members voted on where the jury had no majority (scored as disagreement)",
    proportion=True,
)

# -- baselines and the human ceiling ----------------------------------------------------------------------------
_register(
    "agreement_z_vs_ceiling",
    "agreement",
    "test",
    "z vs human ceiling",
    "(judge's lead agreement coefficient - the reference raters' ceiling) / bootstrap SE of that difference",
)

# -- position probe --------------------------------------------------------------------------------------------
_register(
    "agreement_original_order",
    "position",
    "rate",
    "Agreement (original order)",
    "agreement of the verdicts given with a shown first",
    proportion=True,
)
_register(
    "agreement_swapped_order",
    "position",
    "rate",
    "Agreement (swapped order)",
    "agreement of the verdicts given with b shown first",
    proportion=True,
)
_register(
    "agreement_both_orders",
    "position",
    "rate",
    "Agreement (both orders)",
    "share of items whose verdicts in both orders equal the reference",
    proportion=True,
)
_register(
    "position_consistency",
    "position",
    "rate",
    "Position consistency",
    "share of items with the same verdict in both orders",
    proportion=True,
)
_register(
    "first_position_rate",
    "position",
    "rate",
    "First-position rate",
    "share of decisive verdicts that favour the response shown first (0.5: no position preference)",
    proportion=True,
)

# -- length and self-preference probes -----------------------------------------------------------------------
_register(
    "length_preference",
    "length",
    "coefficient",
    "Length preference",
    "log-odds of preferring b per doubling of its relative length, beyond the reference's verdict",
    unit="log-odds",
)
_register(
    "self_preference",
    "self_preference",
    "gap",
    "Self-preference",
    "the judge's preference for its own model family's responses minus the reference's",
)

# -- persona and profile-view variants ----------------------------------------------------------------------
_register(
    "persona_flip_rate",
    "variants",
    "rate",
    "Persona flip rate",
    "share of verdicts that change when the profile is removed or swapped",
    proportion=True,
)
_register(
    "persona_shift",
    "variants",
    "gap",
    "Persona shift",
    "mean value with the variant minus with the user's own profile",
)
_register(
    "mean_prompt_tokens",
    "variants",
    "mean",
    "Mean prompt tokens",
    "prompt tokens per request of the variant (its cost)",
    unit="tokens",
)

# -- personalization stages ------------------------------------------------------------------------------------
_register(
    "problematic_rate",
    "extraction",
    "rate",
    "Problematic rate",
    "share of extracted attributes judged problematic (by default uncertain or reject)",
    proportion=True,
)
_register(
    "problematic_rate_gap",
    "extraction",
    "gap",
    "Problematic-rate gap",
    "judge minus humans, paired by attribute",
)
_register(
    "problematic_vote_rate",
    "extraction",
    "rate",
    "Problematic vote rate",
    "share of single human votes that are problematic",
    proportion=True,
)
_register(
    "problematic_agreement",
    "extraction",
    "rate",
    "Problematic agreement",
    "agreement on problematic or not",
    unit="%",
)
_register(
    "problematic_kappa",
    "extraction",
    "coefficient",
    "Problematic κ",
    "Cohen's kappa on problematic or not",
    ascii="Problematic kappa",
)
_register(
    "relevant_rate",
    "relevance",
    "rate",
    "Relevant rate",
    "share of attributes judged relevant to the request",
    proportion=True,
)
_register(
    "over_identification",
    "relevance",
    "coefficient",
    "Over-identification",
    "judge's relevant rate / humans' - 1 on the attributes both labelled",
)
_register(
    "precision",
    "relevance",
    "rate",
    "Precision",
    "share of the judge's relevant attributes that humans mark relevant",
    proportion=True,
    unit="%",
)
_register(
    "recall",
    "relevance",
    "rate",
    "Recall",
    "share of the humans' relevant attributes the judge marks relevant",
    proportion=True,
    unit="%",
)
_register("f1", "relevance", "coefficient", "F1", "harmonic mean of precision and recall")
_register(
    "attribute_mention_effect",
    "generation",
    "mean",
    "Attribute-mention effect",
    "mean value when the personalized response names the user's attribute minus when it does not",
)
_register(
    "attribute_mention_effect_gap",
    "generation",
    "gap",
    "Attribute-mention effect gap",
    "the judge's attribute-mention effect minus the humans'",
)
_register(
    "mean_pairwise_kappa",
    "pairwise_kappa",
    "coefficient",
    "Mean pairwise κ",
    "mean Cohen's kappa over the pairs of one kind (human~human, human~judge, judge~judge)",
    ascii="Mean pairwise kappa",
)

#: Metrics whose human-ceiling row (judge = reference = the reference's name, no slice) is the coefficient over all
#: reference raters at once (:func:`auditor.engine.ceiling.multi_rater`); the ceiling row of every other agreement
#: or correlation metric is the mean over raters of one rater against the others' aggregate (leave one rater out).
MULTI_RATER_CEILING: tuple[str, ...] = (
    "fleiss_kappa",
    "fleiss_kappa_weighted",
    "gwet_ac1",
    "gwet_ac2",
    "conger_kappa",
    "light_kappa",
    "krippendorff_alpha",
    "icc_a1",
    "icc_c1",
)

#: Every metric, by name (read only).
METRICS: Mapping[str, Metric] = MappingProxyType(_REGISTRY)

#: Proportions of units: an estimate at exactly 0 or 1 gets the exact binomial interval over the clusters.
PROPORTION_METRICS: frozenset[str] = frozenset(m.name for m in METRICS.values() if m.proportion)


def lookup(name: str) -> Metric | None:
    """The registry entry of ``name``, or ``None`` for a name the project does not define."""
    return METRICS.get(str(name))


def names(*families: str) -> tuple[str, ...]:
    """Metric names of the given families (all when none is given), in registry order."""
    unknown = set(families) - set(FAMILIES)
    if unknown:
        raise ValueError(f"unknown famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(sorted(unknown))}")
    return tuple(m.name for m in METRICS.values() if not families or m.family in families)


def unit_of(name: str) -> Unit:
    """A metric's unit as reports show it; a name the registry does not know follows the convention of its ending
    (``*_rate`` and ``agreement`` in %, ``*_rate_gap`` in points, otherwise a plain number)."""
    metric = lookup(name)
    return metric.unit if metric else _unit_by_name(str(name))


def label(name: str, ascii_only: bool = False) -> str:
    """A metric's label; an unknown name is shown as it is with underscores turned to spaces."""
    metric = lookup(name)
    return metric.display_label(ascii_only) if metric else str(name).replace("_", " ")


def in_families(metric_names: Iterable[str], *families: str) -> list[str]:
    """The names among ``metric_names`` that belong to ``families`` (order kept)."""
    wanted = set(names(*families))
    return [n for n in metric_names if n in wanted]
