"""The data contract: what goes in (items, labels), what comes out (metric rows, the audit.json document).

Every module that reads or writes these shapes takes the names from here; none spells a column or an audit.json
key of its own.

items table (one row per item)
    ``item_id`` (unique), optional ``user_id`` (the cluster for uncertainty; falls back to ``item_id``),
    optional ``prompt``, ``response_a`` / ``response_b`` (pairwise: ``a`` is the baseline, ``b`` the treatment) or
    ``response`` (pointwise), optional ``profile``, ``source``, ``stage``; any other column is kept as metadata.

labels table (long, one row per verdict)
    ``item_id``, ``judge``, optional ``rater``, ``label``, optional ``order`` (``ab`` / ``ba``; labels are always
    stored in the original a/b numbering), optional ``score``, optional ``raw``, optional ``exclusion`` (why the
    label is empty, e.g. ``unparseable``, ``http_error``).  Any other column is kept.

metric rows (``AuditResult.metrics``, ``audit.json`` ``metrics``)
    ``metric, judge, reference, value, ci_low, ci_high, n, p_value, p_adjusted, slice, n_clusters, p_at_floor,
    p_adjusted_at_floor``; ``slice`` is empty for the whole audit; ``n_clusters`` counts the clusters (users) that
    hold the row's data (empty when unknown).  ``p_at_floor``: the p-value is a resampling p-value at its floor
    ``1 / (B + 1)`` (no replicate as extreme as the estimate), so it is an upper bound, not an estimate;
    ``p_adjusted_at_floor``: the adjusted p-value depends on such a floor (it is the bound times the correction's
    factor), likewise a bound.  Metric names and what they mean: :mod:`auditor.metrics`.

judge variants
    A re-run of a judge under a probe is named ``"<judge>|<key>=<value>"``, e.g. ``gpt-4o|persona=removed`` or
    ``gpt-4o|profile_view=outputs@start`` (:func:`variant_name`, :func:`split_variant`).
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

# -- inputs ------------------------------------------------------------------------------------------------------
TaskKind = Literal["pairwise", "likert", "binary", "categorical", "score"]
TASK_KINDS: tuple[str, ...] = ("pairwise", "likert", "binary", "categorical", "score")

ITEM_ID = "item_id"
USER_ID = "user_id"
ITEM_COLUMNS_KNOWN = (
    "item_id",
    "user_id",
    "prompt",
    "response_a",
    "response_b",
    "response",
    "profile",
    "source",
    "stage",
)

LABEL_REQUIRED = ("item_id", "judge", "label")
LABEL_COLUMNS = ("item_id", "judge", "rater", "label", "order", "score", "raw", "exclusion")  # contract order

PAIRWISE_LABELS = ("a", "tie", "b")  # ordered: a better < tie < b better
ORDERS = ("ab", "ba")
DEFAULT_REFERENCE = "human"

# -- outputs -----------------------------------------------------------------------------------------------------
#: Version of the audit.json document; a reader refuses other versions.
SCHEMA_VERSION = 1

METRIC_COLUMNS = [
    "metric",
    "judge",
    "reference",
    "value",
    "ci_low",
    "ci_high",
    "n",
    "p_value",
    "p_adjusted",
    "slice",
    "n_clusters",
    "p_at_floor",
    "p_adjusted_at_floor",
]
EXCLUSION_COLUMNS = ["judge", "reason", "count"]

#: The list-valued parts of audit.json besides the run's description (``meta``).
DOCUMENT_LISTS = ("metrics", "exclusions", "warnings", "confusion", "score_pairs")
#: Keys written by the producer itself, not part of the run's description.
DOCUMENT_STAMPS = ("auditor_version", "schema_version")
#: Sections that analyses add to audit.json (each its own step's output).
SECTIONS = ("ppi", "alt_test", "jury", "personalization", "comparisons", "probes")


class MetricRow(TypedDict):
    metric: str
    judge: str
    reference: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int | None
    p_value: float | None
    p_adjusted: float | None
    slice: str | None
    n_clusters: int | None
    p_at_floor: bool
    p_adjusted_at_floor: bool


class ExclusionRow(TypedDict):
    judge: str
    reason: str
    count: int


class Bootstrap(TypedDict):
    resamples: int
    seed: int
    level: float
    method: str
    cluster: str


class Aggregation(TypedDict):
    rule: str
    tie_break: str
    judges: str
    judge_margin: float


class Policy(TypedDict, total=False):
    """``policy``: the tie / "no better" policy in words, the tie-break and, for a task with ties, the reference's
    ties and how many of them the tie-break made from split votes (no strict majority said tie)."""

    text: str
    tie_break: str
    reference_ties: int | None
    reference_split_ties: int | None


class ScaleSpec(TypedDict):
    min: int
    max: int
    neutral: int


class AuditDocument(TypedDict, total=False):
    """``audit.json``: what reports, gates and notebooks read (``AuditResult.to_dict()``)."""

    auditor_version: str
    schema_version: int
    title: str
    description: str | None
    simulated: bool
    task: TaskKind
    scale: ScaleSpec | None
    categories: list[str] | None
    reference: str
    policy: Policy
    n_items: int
    n_items_with_reference: int
    n_clusters: int
    cluster: str
    judges: list[str]
    rates: list[str]
    bootstrap: Bootstrap
    aggregation: Aggregation
    p_value_correction: str
    arms: dict[str, str] | None
    slice_by: list[str]
    inputs: dict[str, str]
    # sections added by analyses (see SECTIONS); their inner shape is each analysis's own
    ppi: dict[str, Any]
    alt_test: dict[str, Any]
    jury: dict[str, Any]
    personalization: dict[str, Any]
    comparisons: dict[str, Any]
    probes: dict[str, Any]
    # the tables
    exclusions: list[ExclusionRow]
    warnings: list[dict[str, Any]]
    metrics: list[MetricRow]
    confusion: list[dict[str, Any]]
    score_pairs: list[dict[str, Any]]
    cases: dict[str, Any]


# -- judge variants ------------------------------------------------------------------------------------------------
VARIANT_SEPARATOR = "|"


def variant_name(judge: str, key: str, value: str) -> str:
    """``variant_name("m", "persona", "removed")`` -> ``"m|persona=removed"``."""
    return f"{judge}{VARIANT_SEPARATOR}{key}={value}"


def split_variant(judge: str) -> tuple[str, str | None, str | None]:
    """``"m|persona=removed"`` -> ``("m", "persona", "removed")``; a plain name -> ``(name, None, None)``.

    >>> split_variant("gpt-4o|profile_view=outputs@start")
    ('gpt-4o', 'profile_view', 'outputs@start')
    >>> split_variant("gpt-4o")
    ('gpt-4o', None, None)
    """
    base, sep, variant = str(judge).partition(VARIANT_SEPARATOR)
    if not sep or "=" not in variant:
        return str(judge), None, None
    key, _, value = variant.partition("=")
    return base, key.strip(), value.strip()


def base_judge(judge: str) -> str:
    """The judge a variant was derived from (the name itself when it is no variant)."""
    return str(judge).partition(VARIANT_SEPARATOR)[0]
