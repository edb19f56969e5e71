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
    p_adjusted_at_floor, se_analytic, ci_low_analytic, ci_high_analytic, p_analytic, analytic_method``; ``slice`` is
    empty for the whole audit; ``n_clusters`` counts the clusters (users) that
    hold the row's data (empty when unknown).  ``p_at_floor``: the p-value is a resampling p-value at its floor
    ``1 / (B + 1)`` (no replicate as extreme as the estimate), so it is an upper bound, not an estimate;
    ``p_adjusted_at_floor``: the adjusted p-value depends on such a floor (it is the bound times the correction's
    factor), likewise a bound.  The ``*_analytic`` columns (null where there is none): a large-sample standard error,
    its interval at the audit's level and the two-sided p-value of ``value = 0`` (not adjusted), by
    ``analytic_method`` (:mod:`auditor.stats.analytic`: Gwet 2014, or Fleiss, Cohen and Everitt 1969 for Cohen's
    kappa); they assume independent items, where the bootstrap's interval resamples clusters.  Metric names and what they mean: :mod:`auditor.metrics`.

judge variants
    A re-run of a judge under a probe is named ``"<judge>|<key>=<value>"``, e.g. ``gpt-4o|persona=removed`` or
    ``gpt-4o|profile_view=outputs@start`` (:func:`variant_name`, :func:`split_variant`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
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
#: A boolean label's text in every format: a JSON / Parquet / Excel boolean, and the same word written as text in
#: any case (``True`` by pandas, ``TRUE`` by R / Excel); the binary task reads it as its number, false = 0, true = 1.
BOOLEAN_LABELS = {"false": "0", "true": "1"}
ORDERS = ("ab", "ba")
DEFAULT_REFERENCE = "human"

# -- outputs -----------------------------------------------------------------------------------------------------
#: Version of the audit.json document; a reader refuses other versions.
SCHEMA_VERSION = 1
#: Below this many clusters (users) a metric's interval is unreliable: the audit's ``few_clusters`` warning counts such
#: rows, and the reports mark each one.
MIN_CLUSTERS = 30

#: The analytic standard error beside the bootstrap's interval (agreement coefficients; null elsewhere).
ANALYTIC_COLUMNS = ("se_analytic", "ci_low_analytic", "ci_high_analytic", "p_analytic", "analytic_method")
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
    *ANALYTIC_COLUMNS,
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
    se_analytic: float | None
    ci_low_analytic: float | None
    ci_high_analytic: float | None
    p_analytic: float | None
    analytic_method: str | None


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


# -- validation of a saved document ------------------------------------------------------------------------------
#: Metric-row fields that hold a number or null (a string such as ``"NaN"`` is refused, never read as a number).
METRIC_NUMBERS = (
    "value",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "se_analytic",
    "ci_low_analytic",
    "ci_high_analytic",
    "p_analytic",
)
#: Top-level keys holding a count (a whole number >= 0) when present.
DOCUMENT_COUNTS = ("n_items", "n_items_with_reference", "n_clusters")
#: Top-level keys holding one analysis's section: an object (or null) when present.
DOCUMENT_SECTIONS = (*SECTIONS, "baselines")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    """A whole number >= 0 (``6`` or ``6.0``; a float count comes from a table column that held a null)."""
    return _is_number(value) and math.isfinite(value) and value >= 0 and float(value).is_integer()


def validate_document(doc: Any, source: str | None = None) -> None:
    """Check a saved ``audit.json`` (parsed) against :class:`AuditDocument` before a report or a gate reads it.

    Checked when present: ``schema_version`` is the integer :data:`SCHEMA_VERSION` (a document without one is
    read as version 1), the lists (:data:`DOCUMENT_LISTS`) hold objects, every metric row has string ``metric`` /
    ``judge`` / ``reference`` (``slice`` a string or null), numbers or null in :data:`METRIC_NUMBERS` (a string such
    as ``"NaN"`` is refused) and a whole ``n`` >= 0 or null; ``judges`` is a list of strings, ``reference`` and
    ``title`` are strings, ``simulated`` is true / false, ``task`` is a task kind, the counts are whole numbers,
    ``bootstrap`` is an object with integer ``resamples`` / ``seed`` and a ``level`` in (0, 1), ``cases`` and the
    analyses' sections are objects.  The first problem raises :class:`~auditor.errors.InputError` naming
    ``source`` and the key (``row`` is the 1-based row of a list).
    """
    from auditor.errors import InputError, shown

    def bad(key: str, expected: str, value: Any, row: int | None = None) -> InputError:
        return InputError(
            f"is not a usable audit.json: expected {expected}, got {shown(value)}",
            file=source,
            row=row,
            column=key,
        )

    if not isinstance(doc, Mapping):
        raise InputError(
            f"is not an audit.json: expected a JSON object with a 'metrics' list, got {type(doc).__name__}",
            file=source,
            column="metrics",
        )
    if "metrics" not in doc:
        raise InputError("is not an audit.json (no 'metrics')", file=source, column="metrics")
    version = doc.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, numbers.Integral) or isinstance(version, bool):
        raise bad("schema_version", f"the integer {SCHEMA_VERSION}", version)
    if version != SCHEMA_VERSION:
        raise InputError(
            f"has schema_version {version}; this auditor reads version {SCHEMA_VERSION} only "
            "(re-run the audit with this version)",
            file=source,
            column="schema_version",
        )
    for key in DOCUMENT_LISTS:
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise bad(key, "a list of objects", value)
        for i, entry in enumerate(value, start=1):
            if not isinstance(entry, Mapping):
                raise bad(key, "a list of objects", entry, row=i)
    for i, row in enumerate(doc["metrics"], start=1):
        for key in ("metric", "judge", "reference"):
            if not isinstance(row.get(key), str):
                raise bad(f"metrics.{key}", "a name (a string)", row.get(key), row=i)
        if row.get("slice") is not None and not isinstance(row.get("slice"), str):
            raise bad("metrics.slice", "a slice name or null", row.get("slice"), row=i)
        for key in METRIC_NUMBERS:
            if row.get(key) is not None and not _is_number(row.get(key)):
                raise bad(f"metrics.{key}", "a number or null", row.get(key), row=i)
        if row.get("analytic_method") is not None and not isinstance(row.get("analytic_method"), str):
            raise bad("metrics.analytic_method", "a method name or null", row.get("analytic_method"), row=i)
        if row.get("n") is not None and not _is_count(row.get("n")):
            raise bad("metrics.n", "a whole number >= 0 or null", row.get("n"), row=i)
    for i, row in enumerate(doc.get("exclusions", []), start=1):
        if row.get("count") is not None and not _is_count(row.get("count")):
            raise bad("exclusions.count", "a whole number >= 0", row.get("count"), row=i)
    judges = doc.get("judges", [])
    if not isinstance(judges, list):
        raise bad("judges", "a list of names", judges)
    for i, judge in enumerate(judges, start=1):
        if not isinstance(judge, str):
            raise bad("judges", "a list of names (strings)", judge, row=i)
    for key in ("reference", "title", "task"):
        if doc.get(key) is not None and not isinstance(doc.get(key), str):
            raise bad(key, "a string", doc.get(key))
    if doc.get("task") is not None and doc["task"] not in TASK_KINDS:
        raise bad("task", f"one of {', '.join(TASK_KINDS)}", doc["task"])
    if "simulated" in doc and not isinstance(doc["simulated"], bool):
        raise bad("simulated", "true or false", doc["simulated"])
    for key in DOCUMENT_COUNTS:
        if doc.get(key) is not None and not _is_count(doc.get(key)):
            raise bad(key, "a whole number >= 0", doc.get(key))
    bootstrap = doc.get("bootstrap")
    if bootstrap is not None:
        if not isinstance(bootstrap, Mapping):
            raise bad("bootstrap", "an object (resamples, seed, level, method, cluster)", bootstrap)
        for key in ("resamples", "seed"):
            if key in bootstrap and not (
                _is_count(bootstrap[key]) and isinstance(bootstrap[key], numbers.Integral)
            ):
                raise bad(f"bootstrap.{key}", "a whole number >= 0", bootstrap[key])
        level = bootstrap.get("level")
        if level is not None and not (_is_number(level) and 0 < level < 1):
            raise bad("bootstrap.level", "a number between 0 and 1", level)
        for key in ("method", "cluster"):
            if bootstrap.get(key) is not None and not isinstance(bootstrap[key], str):
                raise bad(f"bootstrap.{key}", "a string", bootstrap[key])
    for key in ("cases", *DOCUMENT_SECTIONS):
        if doc.get(key) is not None and not isinstance(doc[key], Mapping):
            raise bad(key, "an object", doc[key])


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
