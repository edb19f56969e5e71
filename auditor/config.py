"""Audit configuration: task kind, scale, label aliases, aggregation and bootstrap settings, and every analysis's
options (nested, frozen: ``AuditConfig.ppi``, ``.alt_test``, ``.jury``, ``.personalization``, ``.probes``).

Read from a TOML file (``--config audit.toml``) and overridden by command-line options.  Aliases are declared,
never guessed: a label outside the task's canonical set and the declared aliases is bad input.  Each analysis has
its TOML table (``[ppi]``, ``[alt_test]``, ``[jury]``, ``[personalization]``, ``[probes]``); the older top-level
``stage`` key still maps into ``personalization.stage``.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from auditor.contract import (
    DEFAULT_REFERENCE,
    ITEM_COLUMNS_KNOWN,
    LABEL_COLUMNS,
    PAIRWISE_LABELS,
    TASK_KINDS,
)
from auditor.errors import FRONT, ConfigError, InputError

AGGREGATES = ("majority", "median", "mean")
TIE_BREAKS = ("tie", "exclude", "neutral", "lower", "upper")
#: The widest rating scale (points - 1): a wider one is a score task, and would allocate a table per point.
MAX_SCALE_POINTS = 100
#: The most bootstrap resamples (the weights are resamples x clusters; 100,000 x 5,000 clusters is 4 GB).
MAX_RESAMPLES = 100_000
JUDGE_AGGREGATES = ("vote", "mean_score")
STAGES = ("extraction", "relevance", "generation")
ALIGNMENTS = ("accuracy", "neg_rmse", "neg_rmse_rank")  # = auditor.stats.alt_test.ALIGNMENTS
JURY_RULES = ("majority", "mean")
#: The trivial judges of :mod:`auditor.analyses.baselines` (each named ``baseline:<name>``).
BASELINE_NAMES = ("always-b", "majority", "random", "longer")
DEFAULT_PROBLEMATIC = ("uncertain", "reject")
DEFAULT_AGGREGATE = {
    "pairwise": "majority",
    "binary": "majority",
    "categorical": "majority",
    "likert": "median",
    "score": "mean",
}
DEFAULT_TIE_BREAK = {
    "pairwise": "tie",
    "binary": "exclude",
    "categorical": "exclude",
    "likert": "neutral",
    "score": "tie",
}


@dataclass(frozen=True)
class Scale:
    """An integer rating scale with a neutral point (``3`` on 1-5 means "no difference")."""

    min: int = 1
    max: int = 5
    neutral: int = 3


@dataclass(frozen=True)
class PPIConfig:
    """Prediction-powered and corrected rates (``ppi_*``, ``stratified_ppi_*``, ``rogan_gladen_*`` rows,
    :mod:`auditor.analyses.ppi`); ``strata``: the item column stratified PPI splits by (the user column, a persona
    column; None: no stratified estimate)."""

    enabled: bool = True
    strata: str | None = None


@dataclass(frozen=True)
class AltTestConfig:
    """The alternative annotator test (:mod:`auditor.analyses.alt_test`): margin ``epsilon``, the per-rater test's
    ``level`` (before Benjamini-Yekutieli), the ``alignment`` score (None: accuracy for categorical tasks,
    ``neg_rmse`` for likert / score) and the fewest items a rater needs.  Defaults: :mod:`auditor.stats.alt_test`."""

    enabled: bool = True
    epsilon: float = 0.2
    level: float = 0.05
    alignment: str | None = None
    min_items: int = 30


@dataclass(frozen=True)
class JuryConfig:
    """Juries (:mod:`auditor.analyses.jury`): the combining ``rules`` and the ``members`` (None: every judge except
    probe variants)."""

    enabled: bool = True
    rules: tuple[str, ...] = JURY_RULES
    members: tuple[str, ...] | None = None


@dataclass(frozen=True)
class BaselinesConfig:
    """Trivial judges audited beside the real ones (:mod:`auditor.analyses.baselines`): ``names`` of the baselines
    to add (default all that fit the task), and the human-ceiling z-score of every judge."""

    enabled: bool = True
    names: tuple[str, ...] = BASELINE_NAMES


@dataclass(frozen=True)
class PersonalizationConfig:
    """How a stage audit reads its data (:mod:`auditor.analyses.personalization`).

    ``stage``: one of :data:`STAGES` (None: the items' ``stage`` column, if it holds one); ``problematic``: the
    extraction labels that count as problematic (None: :data:`DEFAULT_PROBLEMATIC`); ``positive``: the relevance
    label meaning "relevant"; ``mention_column``: the item column saying the personalized response names the
    attribute; ``kappa_table``: add the pairwise kappa table; ``missing_reference``: the reference that left no
    labels, when a judge stands in for it (set by :func:`auditor.personalization.audit_stage`).
    """

    stage: str | None = None
    problematic: tuple[str, ...] | None = None
    positive: str = "1"
    mention_column: str = "mentions_attribute"
    kappa_table: bool = True
    missing_reference: str | None = None

    @property
    def problematic_labels(self) -> tuple[str, ...]:
        return self.problematic or DEFAULT_PROBLEMATIC


@dataclass(frozen=True)
class ProbesConfig:
    """Which bias probes run when the data allow them (:mod:`auditor.analyses.position`, ``length``,
    ``self_preference``, ``variants``)."""

    position: bool = True
    length: bool = True
    self_preference: bool = True
    variants: bool = True


@dataclass(frozen=True)
class MonitorConfig:
    """``auditor monitor`` (:mod:`auditor.monitor`): the ``band`` ``[low, high]`` the judge-minus-reference gap
    should stay in and the ``max_flip_rate`` the anchor flip rate should not exceed since any batch (None: none), the
    confidence sequence's ``level`` and ``method`` and the monitored ``rate``."""

    band: tuple[float, ...] | None = None
    max_flip_rate: float | None = None
    level: float = 0.95
    rate: str = "no_better_rate"
    method: str = "betting"


#: The nested options of the analyses, by TOML table; their keys and types are the dataclasses' fields.
_ANALYSIS_TABLES = {
    "ppi": PPIConfig,
    "alt_test": AltTestConfig,
    "jury": JuryConfig,
    "baselines": BaselinesConfig,
    "personalization": PersonalizationConfig,
    "probes": ProbesConfig,
    "monitor": MonitorConfig,
}
ANALYSES = tuple(_ANALYSIS_TABLES)  # the nested options of AuditConfig


@dataclass(frozen=True)
class AuditConfig:
    task: str | None = None
    reference: str = DEFAULT_REFERENCE
    scale: Scale = field(default_factory=Scale)
    aliases: dict[str, str] = field(default_factory=dict)
    # aliases of one judge's labels only (``[labels.by_judge.NAME]``, ``--labels-map "NAME:A=a"``), applied first
    judge_aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    unusable: tuple[str, ...] = ()
    categories: tuple[str, ...] | None = None
    aggregate: str | None = None  # reference / judge aggregation; default by task
    tie_break: str | None = None  # how an aggregate without a winner is resolved; default by task
    # how a judge's several verdicts on one item (both orders, samples) combine: ``vote`` (the rule above) or
    # ``mean_score``, balanced position calibration: the mean of the judges' expected scores (log-probability
    # verdicts), a tie within ``judge_margin`` of the neutral point (pairwise, likert)
    judge_aggregate: str = "vote"
    judge_margin: float = 0.0
    score_neutral: float | None = (
        None  # score tasks: outcome rates need a neutral point (e.g. 0 for r_b - r_a)
    )
    score_tie_margin: float = 0.0
    resamples: int = 2000
    seed: int = 0
    level: float = 0.95
    method: str = "bca"
    cluster: str = "user_id"
    correction: str = "holm"
    max_cases: int = 500
    slice_by: tuple[str, ...] = ()  # item columns to split every metric by (e.g. source)
    # the metric rows to compute (``metrics = [...]``, ``--metrics``; registry names, checked against the task by
    # :func:`auditor.engine.selection.check` when the audit starts); None: every metric
    metrics: tuple[str, ...] | None = None
    arms: dict[str, str] = field(
        default_factory=dict
    )  # names of a and b, e.g. {"a": "generic response", ...}
    title: str | None = None
    description: str | None = None
    simulated: bool = False
    source: str | None = None  # path of the TOML file it came from
    # how the input files are read: a contract column -> the file's column (``[columns]``, ``--column``), the CSV
    # delimiter and the Excel sheet (``[input]``, ``--delimiter``, ``--sheet``)
    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    sheet: str | None = None
    # the analyses' options
    ppi: PPIConfig = field(default_factory=PPIConfig)
    alt_test: AltTestConfig = field(default_factory=AltTestConfig)
    jury: JuryConfig = field(default_factory=JuryConfig)
    baselines: BaselinesConfig = field(default_factory=BaselinesConfig)
    personalization: PersonalizationConfig = field(default_factory=PersonalizationConfig)
    probes: ProbesConfig = field(default_factory=ProbesConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)

    # -- derived -------------------------------------------------------------------------------------------
    @property
    def aggregate_rule(self) -> str:
        return self.aggregate or DEFAULT_AGGREGATE[self.require_task()]

    @property
    def tie_break_rule(self) -> str:
        return self.tie_break or DEFAULT_TIE_BREAK[self.require_task()]

    def require_task(self) -> str:
        if self.task is None:
            raise ConfigError(
                f"no task kind given: pass {option_text(task='KIND')} (KIND one of "
                + ", ".join(TASK_KINDS)
                + ') or set `task = "KIND"` in audit.toml (`auditor init FILE...` suggests one)'
            )
        return self.task

    def canonical_categories(self) -> tuple[str, ...] | None:
        task = self.require_task()
        if task == "pairwise":
            return PAIRWISE_LABELS
        if task == "likert":
            return tuple(str(v) for v in range(self.scale.min, self.scale.max + 1))
        if task == "binary":
            return ("0", "1")
        if task == "categorical":
            return self.categories
        return None

    def policy_text(self) -> str:
        """The tie / "no better" policy in plain words, as every report states it."""
        task = self.require_task()
        agg = self.aggregate_rule
        tb = self.tie_break_rule
        if task == "pairwise":
            text = (
                "b counts as better when the verdict is `b`; 'no better' means `tie` or `a`. Several verdicts "
                f"on one item are combined by {agg} vote; without a strict majority the item counts as "
                + ("a tie." if tb == "tie" else "excluded." if tb == "exclude" else f"'{tb}'.")
            )
        elif task == "likert":
            s = self.scale
            text = (
                f"Ratings run {s.min}-{s.max} with {s.neutral} = no difference: b counts as better above "
                f"{s.neutral}, 'no better' means at or below {s.neutral}. Several ratings of one item are "
                f"combined by their {agg}; a median between two scale points is rounded "
                + (
                    "toward the neutral point."
                    if tb == "neutral"
                    else f"{tb}."
                    if tb in ("lower", "upper")
                    else "as a tie."
                )
            )
        elif task == "binary":
            text = (
                "Labels are 0/1; the positive rate is the share of 1. Several labels on one item are combined by "
                f"majority; without a majority the item is {'excluded' if tb == 'exclude' else tb}."
            )
        elif task == "categorical":
            text = (
                f"Nominal labels combined by majority vote; without a majority the item is "
                f"{'excluded' if tb == 'exclude' else tb}."
            )
        else:
            if self.score_neutral is None:
                text = "Continuous scores, combined by their mean; no neutral point is declared, so no win rates."
            else:
                text = (
                    f"Continuous scores combined by their mean; b counts as better above "
                    f"{self.score_neutral} + {self.score_tie_margin}, 'no better' at or below it."
                )
        if self.judge_aggregate == "mean_score":
            text += (
                " A judge's verdicts on one item (both presentation orders, samples) are combined by the mean of "
                "their expected scores from the verdict probabilities (balanced position calibration), a tie "
                f"within {self.judge_margin:g} of the neutral point; verdicts without probabilities are voted."
            )
        if self.unusable:
            text += (
                " Verdicts declared unusable ("
                + ", ".join(repr(u) for u in self.unusable)
                + ") are excluded."
            )
        return text

    def with_overrides(self, **overrides: Any) -> AuditConfig:
        """A copy with the given fields replaced (None: keep the config's); a value that fails validation is blamed
        on the option that gave it (``--bootstrap`` on the command line, ``resamples=`` in Python), never on the
        config file."""
        clean = {k: v for k, v in overrides.items() if v is not None}
        try:
            return replace(self, **clean).validated()
        except ConfigError as exc:
            given = next((k for k in clean if exc.column in _OVERRIDE_KEYS.get(k, (k,))), None)
            if given is None:
                raise
            if FRONT.get() == "cli":
                name = _OVERRIDE_FLAGS.get(given, "--" + given.replace("_", "-"))
                raise ConfigError(exc.detail, column=name) from None
            raise ConfigError(exc.detail, column=given) from None

    def with_input_options(
        self,
        *,
        labels_map: str | Sequence[str] | Mapping[str, str] | None = None,
        scale: str | Sequence[int] | None = None,
        neutral: int | None = None,
        columns: str | Sequence[str] | Mapping[str, str] | None = None,
        delimiter: str | None = None,
        sheet: str | None = None,
    ) -> AuditConfig:
        """A copy with the options that say what the files hold, as the command line and the Python API give them
        (the same fields as audit.toml's ``[labels]``, ``[scale]``, ``[columns]`` and ``[input]``; given entries
        are added to the config's, replacing the same keys).

        ``labels_map``: ``"A=a,B=b,Tie=tie"`` (every judge) or ``"human:A=a,B=b"`` (one judge), one text or several,
        or a dict; ``scale``: ``"1-7"`` or ``(1, 7)``, the neutral point the middle unless ``neutral`` is given;
        ``columns``: ``"item_id=Item ID"`` (contract column = the file's column), several, or a dict.
        """
        changes: dict[str, Any] = {}
        if labels_map is not None:
            aliases = dict(self.aliases)
            by_judge = {judge: dict(mapping) for judge, mapping in self.judge_aliases.items()}
            for judge, mapping in parse_labels_map(labels_map):
                target = aliases if judge is None else by_judge.setdefault(judge, {})
                target.update(mapping)
            changes.update(aliases=aliases, judge_aliases=by_judge)
        if scale is not None or neutral is not None:
            low, high = parse_scale(scale) if scale is not None else (self.scale.min, self.scale.max)
            if neutral is None:
                neutral = self.scale.neutral if scale is None else (low + high) // 2
            changes["scale"] = Scale(low, high, _as(int, neutral, None, "neutral", "an integer"))
        if columns is not None:
            changes["columns"] = {**self.columns, **parse_columns(columns)}
        if delimiter is not None:
            changes["delimiter"] = delimiter
        if sheet is not None:
            changes["sheet"] = sheet
        return replace(self, **changes).validated() if changes else self

    def with_options(self, **analyses: dict[str, Any]) -> AuditConfig:
        """A copy with some analyses' options changed, e.g. ``config.with_options(alt_test={"epsilon": 0.1},
        jury={"enabled": False})`` (names as in the TOML tables)."""
        changed = {}
        for name, changes in analyses.items():
            if name not in ANALYSES:
                raise ConfigError(
                    f"unknown analysis {name!r}; expected one of {', '.join(ANALYSES)}", column=name
                )
            current = getattr(self, name)
            known = {f.name for f in fields(current)}
            bad = sorted(set(changes) - known)
            if bad:
                raise ConfigError(
                    f"unknown option(s) {', '.join(bad)}; expected some of {', '.join(sorted(known))}",
                    file=self.source,
                    column=f"{name}.{bad[0]}",
                )
            changed[name] = replace(current, **changes)
        return replace(self, **changed).validated()

    def validated(self) -> AuditConfig:
        where = self.source
        # the scale first: the label checks below list its points
        s = self.scale
        if not (s.min < s.max and s.min <= s.neutral <= s.max):
            raise ConfigError(
                f"scale needs min < max and min <= neutral <= max, got {s}", file=where, column="scale"
            )
        if s.max - s.min > MAX_SCALE_POINTS:
            raise ConfigError(
                f"a rating scale has at most {MAX_SCALE_POINTS + 1} points, got {s.min}-{s.max} (a continuous "
                "score is task = 'score')",
                file=where,
                column="scale",
            )
        stage = self.personalization.stage
        if stage is not None and stage not in STAGES:
            raise ConfigError(
                f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}", file=where, column="stage"
            )
        if self.task is not None and self.task not in TASK_KINDS:
            raise ConfigError(
                f"unknown task kind {self.task!r}; expected one of {', '.join(TASK_KINDS)}",
                file=where,
                column="task",
            )
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            raise ConfigError(
                f"unknown aggregate {self.aggregate!r}; expected one of {', '.join(AGGREGATES)}",
                file=where,
                column="aggregate",
            )
        if self.judge_aggregate not in JUDGE_AGGREGATES:
            raise ConfigError(
                f"unknown judge aggregation {self.judge_aggregate!r}; expected one of "
                f"{', '.join(JUDGE_AGGREGATES)}",
                file=where,
                column="aggregate.judges",
            )
        if self.judge_aggregate == "mean_score" and self.task not in (None, "pairwise", "likert"):
            raise ConfigError(
                f"judges = 'mean_score' applies to pairwise and likert tasks, not {self.task!r}",
                file=where,
                column="aggregate.judges",
            )
        if not (self.judge_margin >= 0):
            raise ConfigError(
                f"judge_margin must be a non-negative number, got {self.judge_margin}",
                file=where,
                column="aggregate.judge_margin",
            )
        if self.tie_break is not None and self.tie_break not in TIE_BREAKS:
            raise ConfigError(
                f"unknown tie_break {self.tie_break!r}; expected one of {', '.join(TIE_BREAKS)}",
                file=where,
                column="tie_break",
            )
        canonical = self.canonical_categories() if self.task is not None else None
        if canonical is not None:
            for raw, target in self.aliases.items():
                if target not in canonical and target not in self.unusable:
                    raise ConfigError(
                        f"alias {raw!r} maps to {target!r}, which is not a {self.task} label; expected "
                        f"one of {', '.join(map(repr, canonical))}",
                        file=where,
                        column="labels.aliases",
                    )
        for judge, mapping in self.judge_aliases.items():
            for raw, target in mapping.items():
                if canonical is not None and target not in canonical and target not in self.unusable:
                    raise ConfigError(
                        f"alias {raw!r} of judge {judge!r} maps to {target!r}, which is not a {self.task} label; "
                        f"expected one of {', '.join(map(repr, canonical))}",
                        file=where,
                        column=f"labels.by_judge.{judge}",
                    )
        bad_columns = sorted(set(self.columns) - set(CONTRACT_COLUMNS))
        if bad_columns:
            raise ConfigError(
                f"{bad_columns[0]!r} is not a column of the data contract; expected some of "
                f"{', '.join(CONTRACT_COLUMNS)}",
                file=where,
                column="columns",
            )
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ConfigError(
                f"delimiter must be one character, got {self.delimiter!r}",
                file=where,
                column="input.delimiter",
            )
        if self.resamples < 0 or (0 < self.resamples < 100) or self.resamples > MAX_RESAMPLES:
            raise ConfigError(
                f"bootstrap resamples must be 0 or between 100 and {MAX_RESAMPLES:,}, got {self.resamples}",
                file=where,
                column="resamples",
            )
        if self.score_neutral is not None and not math.isfinite(self.score_neutral):
            raise ConfigError(
                f"score neutral must be a finite number, got {self.score_neutral}",
                file=where,
                column="score.neutral",
            )
        if not (math.isfinite(self.score_tie_margin) and self.score_tie_margin >= 0):
            raise ConfigError(
                f"score tie_margin must be a non-negative number, got {self.score_tie_margin}",
                file=where,
                column="score.tie_margin",
            )
        if self.max_cases < 0:
            raise ConfigError(
                f"max_cases must be 0 or more, got {self.max_cases}", file=where, column="report.max_cases"
            )
        if self.seed < 0:
            raise ConfigError(
                f"seed must be a non-negative integer, got {self.seed}", file=where, column="seed"
            )
        if not 0.5 < self.level < 1:
            raise ConfigError(
                f"level must lie between 0.5 and 1, got {self.level}", file=where, column="level"
            )
        if self.method not in ("bca", "percentile"):
            raise ConfigError(
                f"unknown interval method {self.method!r}; expected bca or percentile",
                file=where,
                column="method",
            )
        if self.correction not in ("holm", "bonferroni", "fdr_bh", "fdr_by", "none"):
            raise ConfigError(
                f"unknown p-value correction {self.correction!r}", file=where, column="correction"
            )
        alt = self.alt_test
        if alt.alignment is not None and alt.alignment not in ALIGNMENTS:
            raise ConfigError(
                f"unknown alignment {alt.alignment!r}; expected one of {', '.join(ALIGNMENTS)}",
                file=where,
                column="alt_test.alignment",
            )
        if not alt.epsilon >= 0:
            raise ConfigError(
                f"epsilon must be a non-negative number, got {alt.epsilon}",
                file=where,
                column="alt_test.epsilon",
            )
        if not 0 < alt.level < 1:
            raise ConfigError(
                f"level must lie between 0 and 1, got {alt.level}", file=where, column="alt_test.level"
            )
        if alt.min_items < 1:
            raise ConfigError(
                f"min_items must be a positive integer, got {alt.min_items}",
                file=where,
                column="alt_test.min_items",
            )
        for what, given, known, column in (
            ("baseline", self.baselines.names, BASELINE_NAMES, "baselines.names"),
            ("jury rule", self.jury.rules, JURY_RULES, "jury.rules"),
        ):
            bad = [name for name in given if name not in known]
            if bad:
                raise ConfigError(
                    f"unknown {what} {bad[0]!r}; expected one of {', '.join(known)}",
                    file=where,
                    column=column,
                )
        return self


#: The keys :meth:`AuditConfig.validated` names for an overridable field, where they differ from the field's name.
_OVERRIDE_KEYS = {"judge_aggregate": ("aggregate.judges",), "slice_by": ("slice_by", "by")}
#: The command-line flag of an overridable field, where it differs from ``--field-name``.
_OVERRIDE_FLAGS = {"resamples": "--bootstrap", "slice_by": "--by"}

_TOP_KEYS = {
    "task",
    "reference",
    "title",
    "description",
    "simulated",
    "scale",
    "labels",
    "aggregate",
    "bootstrap",
    "score",
    "report",
    "slice_by",
    "metrics",
    "arms",
    "stage",
    "columns",
    "input",
    *ANALYSES,
}


def load_config(path: str | Path) -> AuditConfig:
    """Read an ``audit.toml``; unknown keys are errors (a misspelt key would otherwise be ignored silently)."""
    from auditor.files import read_input

    path = Path(path)
    where = str(path)
    try:
        data = tomllib.loads(read_input(path, "an audit.toml file").decode("utf-8"))
    except InputError as exc:
        raise ConfigError(exc.detail, file=where) from None
    except UnicodeDecodeError:
        raise ConfigError("is not valid UTF-8", file=where) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"is not valid TOML: {exc}", file=where) from None
    except RecursionError:
        raise ConfigError("is not valid TOML: nested too deep", file=where) from None
    return config_from_mapping(data, where)


def _as(conv: Any, value: Any, where: str | None, column: str, expected: str) -> Any:
    """Convert a configuration value, or a ConfigError naming the key and what was expected.

    Never silently wrong: a boolean is not a number, an integer must be whole (``7.0`` is 7; ``7.5`` and ``"7.5"``
    are errors, not 7), and a number must be finite (no NaN or infinity)."""
    if isinstance(value, bool) and conv in (int, float):
        raise ConfigError(f"has {value!r}; expected {expected}", file=where, column=column)
    try:
        if conv is int and not isinstance(value, int):
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        converted = conv(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"has {value!r}; expected {expected}", file=where, column=column) from None
    if conv is float and not math.isfinite(converted):
        raise ConfigError(f"has {value!r}; expected a finite number", file=where, column=column)
    return converted


def _bool(value: Any, where: str | None, column: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"has {value!r}; expected true or false", file=where, column=column)
    return value


def _strings(value: Any, where: str | None, column: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or any(isinstance(v, (list, dict)) for v in value):
        raise ConfigError(f"has {value!r}; expected a list of strings", file=where, column=column)
    return tuple(str(v) for v in value)


def _mapping(value: Any, where: str | None, column: str, shape: str, nested: bool = False) -> dict[str, Any]:
    """A TOML table of text (or, ``nested``, of tables of text) as a dict of str, or a ConfigError naming it."""
    if not isinstance(value, dict) or (nested and not all(isinstance(v, dict) for v in value.values())):
        raise ConfigError(f"must be a table of {shape}", file=where, column=column)
    if nested:
        return {str(k): _mapping(v, where, f"{column}.{k}", "raw = canonical") for k, v in value.items()}
    return {str(k): str(v) for k, v in value.items()}


def config_from_mapping(data: dict[str, Any], where: str | None = None) -> AuditConfig:
    """Build a config from the same structure as ``audit.toml`` (e.g. a dataset loader's ``Study.config()``)."""
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))}; expected some of {', '.join(sorted(_TOP_KEYS))}",
            file=where,
            column=sorted(unknown)[0],
        )
    kwargs: dict[str, Any] = {"source": where}
    for key in ("task", "reference", "title", "description"):
        if key in data:
            kwargs[key] = str(data[key])
    if "simulated" in data:  # a boolean: the string "false" is not true
        kwargs["simulated"] = _bool(data["simulated"], where, "simulated")
    if "slice_by" in data:
        value = data["slice_by"]
        kwargs["slice_by"] = _strings(value, where, "slice_by")
    if "metrics" in data:
        kwargs["metrics"] = _strings(data["metrics"], where, "metrics")

    def section(name: str, allowed: set[str]) -> dict[str, Any]:
        sec = data.get(name, {})
        if not isinstance(sec, dict):
            raise ConfigError(f"[{name}] must be a table", file=where, column=name)
        bad = set(sec) - allowed
        if bad:
            raise ConfigError(
                f"unknown key(s) in [{name}]: {', '.join(sorted(bad))}; expected some of "
                f"{', '.join(sorted(allowed))}",
                file=where,
                column=f"{name}.{sorted(bad)[0]}",
            )
        return sec

    scale = section("scale", {"min", "max", "neutral"})
    if scale:
        low = _as(int, scale.get("min", 1), where, "scale.min", "an integer")
        high = _as(int, scale.get("max", 5), where, "scale.max", "an integer")
        middle = _as(int, scale.get("neutral", (low + high) // 2), where, "scale.neutral", "an integer")
        kwargs["scale"] = Scale(low, high, middle)
    labels = section("labels", {"aliases", "unusable", "categories", "by_judge"})
    if "aliases" in labels:
        kwargs["aliases"] = _mapping(labels["aliases"], where, "labels.aliases", "raw = canonical")
    if "by_judge" in labels:
        by_judge = _mapping(
            labels["by_judge"], where, "labels.by_judge", "judge = { raw = canonical }", nested=True
        )
        kwargs["judge_aliases"] = by_judge
    columns = section("columns", set(CONTRACT_COLUMNS))
    if columns:
        kwargs["columns"] = {str(k): str(v) for k, v in columns.items()}
    reading = section("input", {"delimiter", "sheet"})
    for key in ("delimiter", "sheet"):
        if key in reading:
            kwargs[key] = str(reading[key])
    if "unusable" in labels:
        kwargs["unusable"] = _strings(labels["unusable"], where, "labels.unusable")
    if "categories" in labels:
        kwargs["categories"] = _strings(labels["categories"], where, "labels.categories")
    agg = section("aggregate", {"rule", "tie_break", "judges", "judge_margin"})
    if "judges" in agg:
        kwargs["judge_aggregate"] = str(agg["judges"])
    if "judge_margin" in agg:
        kwargs["judge_margin"] = _as(float, agg["judge_margin"], where, "aggregate.judge_margin", "a number")
    if "rule" in agg:
        kwargs["aggregate"] = str(agg["rule"])
    if "tie_break" in agg:
        kwargs["tie_break"] = str(agg["tie_break"])
    boot = section("bootstrap", {"resamples", "seed", "level", "method", "cluster", "correction"})
    for key, conv, expected in (
        ("resamples", int, "an integer"),
        ("seed", int, "an integer"),
        ("level", float, "a number"),
        ("method", str, "text"),
        ("cluster", str, "text"),
        ("correction", str, "text"),
    ):
        if key in boot:
            kwargs[key] = _as(conv, boot[key], where, f"bootstrap.{key}", expected)
    score = section("score", {"neutral", "tie_margin"})
    if "neutral" in score:
        kwargs["score_neutral"] = _as(float, score["neutral"], where, "score.neutral", "a number")
    if "tie_margin" in score:
        kwargs["score_tie_margin"] = _as(float, score["tie_margin"], where, "score.tie_margin", "a number")
    kwargs.update(_analyses(data, section, where))
    arms = section("arms", {"a", "b"})
    if arms:
        kwargs["arms"] = {k: str(v) for k, v in arms.items()}
    report = section("report", {"max_cases"})
    if "max_cases" in report:
        kwargs["max_cases"] = _as(int, report["max_cases"], where, "report.max_cases", "an integer")
    return AuditConfig(**kwargs).validated()


_SET_BY_CODE = {"personalization": {"missing_reference"}}  # options a TOML file cannot set


def _table_value(kind: str, value: Any, where: str | None, column: str) -> Any:
    """A TOML value converted to the annotated type ``kind`` of its dataclass field (the one converter of every
    analysis table)."""
    if kind == "bool":
        return _bool(value, where, column)
    if kind in ("float", "float | None"):
        return _as(float, value, where, column, "a number")
    if kind == "int":
        return _as(int, value, where, column, "an integer")
    if kind.startswith("tuple[str"):
        return _strings(value, where, column)
    if kind.startswith("tuple[float"):
        if not isinstance(value, list):
            raise ConfigError(f"has {value!r}; expected a list of numbers", file=where, column=column)
        return tuple(_as(float, v, where, column, "a list of numbers") for v in value)
    return str(value)


def _analyses(data: dict[str, Any], section: Any, where: str | None) -> dict[str, Any]:
    """The nested options of the analyses from their TOML tables (and the top-level ``stage``)."""
    out: dict[str, Any] = {}
    for name, cls in _ANALYSIS_TABLES.items():
        kinds = {f.name: str(f.type) for f in fields(cls) if f.name not in _SET_BY_CODE.get(name, ())}
        table = section(name, set(kinds))
        changes = {
            key: _table_value(kinds[key], value, where, f"{name}.{key}") for key, value in table.items()
        }
        if name == "personalization" and "stage" in data:
            if "stage" in table and str(data["stage"]) != str(table["stage"]):
                raise ConfigError(
                    f"stage is given twice ({data['stage']!r} and [personalization] {table['stage']!r})",
                    file=where,
                    column="personalization.stage",
                )
            changes["stage"] = str(data["stage"])
        if changes:
            out[name] = cls(**changes)
    return out


# -- the options that say what the files hold: one parser each for the command line and the Python API ------------
#: Every column of the data contract (items and labels), the names ``--column`` / ``[columns]`` can map.
CONTRACT_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys((*ITEM_COLUMNS_KNOWN, *LABEL_COLUMNS)))


def _entries(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def parse_labels_map(
    value: str | Sequence[str] | Mapping[str, str],
) -> list[tuple[str | None, dict[str, str]]]:
    """``"A=a,B=b"`` -> ``[(None, {"A": "a", "B": "b"})]``; ``"human:A=a"`` -> ``[("human", {"A": "a"})]`` (a
    judge's own map: the text before the last ``:`` ahead of the first ``=``).  Several texts, one entry each; a
    dict is one map for every judge.  A label holding ``,`` or ``=`` goes in audit.toml instead."""
    if isinstance(value, Mapping):
        return [(None, {str(k): str(v) for k, v in value.items()})]
    out: list[tuple[str | None, dict[str, str]]] = []
    for text in _entries(value):
        judge: str | None = None
        head, colon, rest = text.partition("=")[0].rpartition(":")
        if colon and head.strip():  # a judge's name may hold ':' itself (openai:gpt-4o-mini:A=a)
            judge, text = head.strip(), text[len(head) + 1 :]
        mapping = {}
        for pair in text.split(","):
            if not pair.strip():
                continue
            raw, equals, target = pair.partition("=")
            if not equals or not raw.strip() or not target.strip():
                raise ConfigError(
                    f"has {pair.strip()!r}; expected RAW=CANONICAL pairs separated by commas, e.g. "
                    '"A=a,B=b,Tie=tie" (or "JUDGE:A=a" for one judge)',
                    column="labels_map",
                )
            mapping[raw.strip()] = target.strip()
        out.append((judge, mapping))
    return out


_SCALE = re.compile(r"\s*(-?\d+)\s*(?:-|\.\.|to)\s*(-?\d+)\s*")


def parse_scale(value: str | Sequence[int]) -> tuple[int, int]:
    """``"1-7"`` (or ``"1..7"``, ``"0 to 10"``, ``(1, 7)``) -> ``(1, 7)``."""
    if not isinstance(value, str):
        low, high = (_as(int, v, None, "scale", "an integer") for v in value)
        return low, high
    match = _SCALE.fullmatch(value)
    if not match:
        raise ConfigError(f"has {value!r}; expected MIN-MAX, e.g. 1-7", column="scale")
    return int(match.group(1)), int(match.group(2))


def parse_columns(value: str | Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    """``"item_id=Item ID"`` (contract column = the file's column; several texts) or a dict -> a dict."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out = {}
    for text in _entries(value):
        name, equals, column = text.partition("=")
        column = column.strip()
        if len(column) >= 2 and column[0] == column[-1] and column[0] in "\"'":
            column = column[1:-1]
        if not equals or not name.strip() or not column:
            raise ConfigError(
                f'has {text!r}; expected CONTRACT_COLUMN=FILE_COLUMN, e.g. item_id="Item ID"', column="column"
            )
        out[name.strip()] = column
    return out


def parse_metrics(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"cohen_kappa, no_better_rate"`` (or a list of names) -> ``("cohen_kappa", "no_better_rate")``: the
    metric selection, blanks dropped (an empty result is refused by :func:`auditor.engine.selection.check`)."""
    texts = value.split(",") if isinstance(value, str) else [str(v) for v in value]
    return tuple(t.strip() for t in texts if t.strip())


# -- the fix in an error message, worded for the front door in use -------------------------------------------------
_SHELL_SAFE = re.compile(r"[\w@%+=:,./-]+")


def option_text(**options: Any) -> str:
    """How to give ``options`` on the front door in use: ``option_text(scale="1-7", neutral=4)`` is
    ``--scale 1-7 --neutral 4`` on the command line and ``scale="1-7", neutral=4`` in Python."""
    if FRONT.get() == "cli":
        parts = []
        for name, value in options.items():
            text = str(value)
            if not _SHELL_SAFE.fullmatch(text) or "=" in text:  # maps quoted, as the help shows them
                text = '"' + re.sub(r'(["\\$`])', r"\\\1", text) + '"'
            parts.append(f"--{name.replace('_', '-')} {text}")
        return " ".join(parts)
    return ", ".join(f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in options.items())


def toml_value(value: Any) -> str:
    """A TOML literal: strings and keys in double quotes (JSON escapes are TOML's), inline tables and arrays."""
    if isinstance(value, Mapping):
        inner = ", ".join(
            f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(v)}" for k, v in value.items()
        )
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


def fix_text(toml_section: str, toml_lines: Mapping[str, Any], **options: Any) -> str:
    """The sentence that ends an error with its fix: the option(s) to pass, or the audit.toml lines that say the
    same, e.g. ``Fix: add --scale 1-7 --neutral 4, or in audit.toml under [scale]: min = 1, max = 7, neutral = 4``
    (in Python: ``Fix: pass scale="1-7", neutral=4, ...``)."""
    where = f"under [{toml_section}]: " if toml_section else ": "
    lines = ", ".join(f"{key} = {toml_value(value)}" for key, value in toml_lines.items())
    verb = "add" if FRONT.get() == "cli" else "pass"
    return f"Fix: {verb} {option_text(**options)}, or in audit.toml {where}{lines}"


__all__ = [
    "AuditConfig",
    "Scale",
    "PPIConfig",
    "AltTestConfig",
    "JuryConfig",
    "PersonalizationConfig",
    "ProbesConfig",
    "load_config",
    "config_from_mapping",
]
