"""The state of one audit: the judgment table, its config, clusters and categories, the shared bootstrap, the
reference's and every judge's aggregated verdicts, and the metric rows found so far.

:class:`AuditContext` holds state and the small accessors every analysis needs (``side``, ``usable``,
``indicators``, ``pairing``, ``add``); the computations live in :mod:`auditor.engine` modules and
:mod:`auditor.analyses` steps, which the pipeline (:mod:`auditor.audit`) runs in order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.contract import ANALYTIC_COLUMNS, METRIC_COLUMNS
from auditor.data import CLUSTER, JudgmentTable
from auditor.engine import aggregation as agg
from auditor.engine.selection import check, computed, switched_off
from auditor.errors import ConfigError
from auditor.metrics import PROPORTION_METRICS
from auditor.stats import compare
from auditor.stats.analytic import analytic_interval
from auditor.stats.bootstrap import Estimate, Resampler, bootstrap_test, interval


@dataclass
class Side:
    """One judge's (or the reference's) aggregated verdict per item."""

    code: np.ndarray  # category code per item, -1 = none (categorical tasks)
    value: np.ndarray  # numeric value per item, NaN = none
    has: np.ndarray  # bool: the judge labelled the item (before aggregation failures)


class AuditContext:
    """The state of one audit, handed to every step of the pipeline.

    From the table: ``t`` (the :class:`JudgmentTable`), ``cfg``, ``task``, ``n_items``, ``item_pos``, ``cluster``
    (cluster index per item), ``n_clusters``, ``categories``, ``k``, ``values`` (the numeric value of each
    category), ``row_item`` (item position per label row) and ``rs``, the shared :class:`Resampler` (so that
    differences between metrics are paired).  Set by the core step: ``ref_mask`` (the reference's label rows),
    ``ref`` (its aggregated :class:`Side`), ``sides`` (judge name -> :class:`Side`); by the jury step: ``juries``.
    Collected: ``rows`` (metric rows, through :meth:`add`), ``warnings``, ``exclusions``, ``sections`` (parts of
    audit.json), ``confusion``, ``score_pairs``.
    """

    def __init__(self, table: JudgmentTable) -> None:
        self.t = table
        items = table.items
        self.item_pos = pd.Index(items["item_id"])
        cluster_codes, cluster_names = pd.factorize(items[CLUSTER], sort=True)
        self.cluster = cluster_codes.astype(np.int64)
        self.row_item = table.item_positions()  # each distinct item id looked up once, by the loader
        self.ref_mask = np.zeros(len(table.labels), dtype=bool)
        self._setup(table.config, table.categories, len(items), len(cluster_names))

    @classmethod
    def for_aggregates(
        cls, config: AuditConfig, categories: tuple[str, ...] | None, n_items: int, n_clusters: int
    ) -> AuditContext:
        """A context without a table, for an engine that aggregates the label rows itself
        (:mod:`auditor.engine.outofcore`): the config, categories, rule checks, indicators, the shared bootstrap
        and the rows, but no ``t``, ``cluster`` or ``row_item``."""
        ctx = cls.__new__(cls)
        ctx.t = None  # type: ignore[assignment]
        ctx._setup(config, categories, n_items, n_clusters)
        return ctx

    def _setup(
        self, config: AuditConfig, categories: tuple[str, ...] | None, n_items: int, n_clusters: int
    ) -> None:
        if config.metrics is not None:
            check(config.metrics, config.require_task(), config.score_neutral, where=config.source)
        # the analyses that can make none of the selected metrics do not run
        off = switched_off(config.metrics)
        self.cfg = config.with_options(**off) if off else config
        self.task = self.cfg.require_task()
        self.n_items = n_items
        self.n_clusters = n_clusters
        self.categories = categories
        self.k = len(self.categories) if self.categories else 0
        #: the metrics this audit computes (the config's selection and what it needs; None: every metric)
        self.metrics = computed(self.cfg.metrics, self.task)
        self.rs = Resampler(self.n_clusters, self.cfg.resamples, self.cfg.seed)
        self._rows: list[dict[str, Any]] = []
        # rows whose interval and p-value wait for their replicates (:meth:`add`), filled in by :meth:`_resolve`
        self._unresolved: list[tuple[dict[str, Any], Estimate, _Test | None]] = []
        self.exclusions: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.sections: dict[str, Any] = {}
        self.confusion: list[dict[str, Any]] = []
        self.score_pairs: list[dict[str, Any]] = []
        self.ref: Side | None = None
        self._reference_votes: tuple[np.ndarray, np.ndarray] | None = None  # see :meth:`vote_counts`
        self.sides: dict[str, Side] = {}
        self.juries: dict[str, Side] = {}
        rule = self.cfg.aggregate_rule
        if self.task == "score" and rule != "mean":
            raise ConfigError(
                f"a score task aggregates by mean, not {rule!r}", file=self.cfg.source, column="aggregate"
            )
        if self.task != "score" and rule == "mean":
            raise ConfigError(
                f"the mean is for score tasks; a {self.task} task takes majority or median",
                file=self.cfg.source,
                column="aggregate",
            )
        if rule == "median" and self.task in ("categorical", "binary"):
            raise ConfigError(
                f"a median needs ordered categories; a {self.task} task takes majority",
                file=self.cfg.source,
                column="aggregate",
            )
        if self.task == "pairwise":
            self.values = np.array([0.0, 0.5, 1.0])
        elif self.task in ("likert", "binary"):
            self.values = np.array([float(c) for c in self.categories])
        elif self.task == "categorical":
            self.values = np.arange(self.k, dtype=float)
        else:
            self.values = np.zeros(0)

    # -- aggregation --------------------------------------------------------------------------------------
    def side(self, mask: np.ndarray, *, calibrate: bool = False) -> Side:
        """The aggregated verdict per item of the label rows in ``mask``.  ``calibrate``: with the config's
        ``judge_aggregate = "mean_score"``, items whose rows carry expected scores (``score``, from verdict
        probabilities) take the verdict of their mean score (balanced position calibration); others are voted."""
        items = self.row_item[mask]
        has = np.zeros(self.n_items, dtype=bool)
        has[items] = True
        if self.task == "score":
            value, _ = agg.mean_values(items, self.t.labels["value"].to_numpy(float)[mask], self.n_items)
            return Side(np.full(self.n_items, agg.NONE), value, has)
        side = self.from_counts(self.vote_counts(mask), has)
        if calibrate and self.cfg.judge_aggregate == "mean_score" and "score" in self.t.labels.columns:
            self._calibrate(side, mask)
        return side

    def vote_counts(self, mask: np.ndarray) -> np.ndarray:
        """``(n_items, k)``: how many of the label rows in ``mask`` give each category, per item.  The reference's
        (``mask`` is :attr:`ref_mask`, which is replaced, never changed in place), read by the core step, the human
        ceiling and the policy, is counted once and returned read-only."""
        if mask is not self.ref_mask:
            return self._count_votes(mask)
        if self._reference_votes is None or self._reference_votes[0] is not mask:
            counts = self._count_votes(mask)
            counts.flags.writeable = False
            self._reference_votes = (mask, counts)
        return self._reference_votes[1]

    def _count_votes(self, mask: np.ndarray) -> np.ndarray:
        codes = self.t.labels["code"].to_numpy(np.int64)[mask]
        return agg.count_table(self.row_item[mask], codes, self.n_items, self.k)

    def _calibrate(self, side: Side, mask: np.ndarray) -> None:
        """Overwrite, in place, the verdict of items whose rows in ``mask`` carry a finite expected score."""
        scores = self.t.labels["score"].to_numpy(float)[mask]
        usable = np.isfinite(scores) & (self.t.labels["code"].to_numpy(np.int64)[mask] >= 0)
        mean, n = agg.mean_values(self.row_item[mask][usable], scores[usable], self.n_items)
        scored = n > 0
        margin = self.cfg.judge_margin
        if self.task == "pairwise":  # score = P(b) - P(a)
            code = np.where(mean > margin, 2, np.where(mean < -margin, 0, 1))
        else:  # likert: the expected rating, rounded to the nearest scale point
            s = self.cfg.scale
            rounded = np.clip(np.floor(np.nan_to_num(mean, nan=s.neutral) + 0.5), s.min, s.max)
            rounded = np.where(np.abs(mean - s.neutral) <= margin, s.neutral, rounded)
            code = (rounded - s.min).astype(np.int64)
        side.code[scored] = code[scored]
        side.value[scored] = self.values[side.code[scored]]

    def from_counts(self, counts: np.ndarray, has: np.ndarray) -> Side:
        """The aggregate of an ``(items, k)`` table of votes under the config's rule and tie-break."""
        rule, tb = self.cfg.aggregate_rule, self.cfg.tie_break_rule
        neutral_code = self.neutral_code()
        if rule == "median":
            code = agg.median(counts, tb, neutral_code if neutral_code is not None else 0)
        else:
            code = agg.majority(counts, tb, neutral_code)
        value = np.where(code >= 0, self.values[np.maximum(code, 0)], np.nan)
        return Side(code, value, has)

    def neutral_code(self) -> int | None:
        """The category code of "no difference" (pairwise ``tie``, the likert neutral point), else None."""
        if self.task == "pairwise":
            return 1
        if self.task == "likert":
            return self.cfg.scale.neutral - self.cfg.scale.min
        return None

    @cached_property
    def _judge_codes(self) -> tuple[np.ndarray, dict[Any, int]]:
        """Each label row's judge as an integer code, and each judge name's code: the loader's codes where it kept
        them (:meth:`JudgmentTable.key_codes`), else one factorisation of the judge column; made once per audit."""
        found = self.t.key_codes("labels").get("judge")
        codes, names = found if found is not None else pd.factorize(self.t.labels["judge"])
        return codes, {name: i for i, name in enumerate(names.tolist())}

    def judge_rows(self, name: str) -> np.ndarray:
        """The mask of the label rows whose judge is ``name`` (all False for a name not there), by the judges'
        codes instead of a text comparison over every row."""
        codes, position = self._judge_codes
        return codes == position.get(name, -2)  # -2: no row's code (a missing judge is -1)

    @cached_property
    def label_orders(self) -> np.ndarray | None:
        """Each label row's presentation order (``"ab"`` / ``"ba"``, ``""`` for none: the loader checked them), an
        object array, or None when no label row has an order; computed once per audit (the position probe and the
        variants step read it)."""
        labels = self.t.labels
        if "order" not in labels.columns:
            return None
        orders = labels["order"].to_numpy(dtype=object)
        missing = pd.isna(orders)
        return None if missing.all() else np.where(missing, "", orders)

    def usable(self, s: Side) -> np.ndarray:
        return np.isfinite(s.value) if self.task == "score" else s.code >= 0

    # -- outcome indicators -------------------------------------------------------------------------------
    def indicators(self, s: Side, idx: np.ndarray) -> dict[str, np.ndarray] | None:
        """Per item in ``idx``: whether ``s`` calls b better (``win_rate``), a tie, worse, no better (each task
        reads its verdicts' codes or their values, whichever it needs)."""
        if self.task == "pairwise":
            code = s.code[idx]
            return {
                "win_rate": code == 2,
                "tie_rate": code == 1,
                "loss_rate": code == 0,
                "no_better_rate": code <= 1,
            }
        if self.task == "likert":
            neutral = float(self.cfg.scale.neutral)
            value = s.value[idx]
            return {
                "win_rate": value > neutral,
                "tie_rate": value == neutral,
                "loss_rate": value < neutral,
                "no_better_rate": value <= neutral,
            }
        if self.task == "binary":
            code = s.code[idx]
            return {"win_rate": code == 1, "loss_rate": code == 0, "no_better_rate": code == 0}
        if self.task == "score" and self.cfg.score_neutral is not None:
            c, m = self.cfg.score_neutral, self.cfg.score_tie_margin
            value = s.value[idx]
            return {
                "win_rate": value > c + m,
                "tie_rate": np.abs(value - c) <= m,
                "loss_rate": value < c - m,
                "no_better_rate": value <= c + m,
            }
        return None

    # -- the metric selection ----------------------------------------------------------------------------
    def wants(self, metric: str) -> bool:
        """Whether this audit computes ``metric`` (the config's ``metrics`` selection, :mod:`auditor.engine.
        selection`; every metric without one)."""
        return self.metrics is None or metric in self.metrics

    def selected(self, names: Collection[str] | None) -> Collection[str] | None:
        """Of ``names`` (None: every metric), those this audit computes (None: every metric)."""
        if self.metrics is None:
            return names
        return self.metrics if names is None else [n for n in names if n in self.metrics]

    # -- rows -----------------------------------------------------------------------------------------------
    @property
    def rows(self) -> list[dict[str, Any]]:
        """The metric rows found so far (each with its interval and p-value)."""
        self._resolve()
        return self._rows

    def add(
        self,
        metric: str,
        judge: str,
        reference: str,
        est: Estimate,
        *,
        p_value: float | _Test | None = None,
        slice: str | None = None,
        p_at_floor: bool | _Test = False,
    ) -> None:
        """Append a metric row with its interval from the shared bootstrap (exact binomial at 0 / 1 for the
        proportions of :data:`auditor.metrics.PROPORTION_METRICS`); ``p_at_floor``: ``p_value`` is a bootstrap
        p-value at its floor (:func:`auditor.stats.bootstrap.bootstrap_test`).

        The interval (and a p-value from :meth:`test`) is filled in when :attr:`rows` is next read, so that the
        replicates of every statistic added before then come from one weights product
        (:meth:`auditor.stats.bootstrap.Resampler.deferred`).  A metric the selection leaves out is not added
        (:meth:`wants`)."""
        if not self.wants(metric):
            return
        test = p_value if isinstance(p_value, _Test) else None
        analytic = None
        if est.analytic is not None and np.isfinite(est.analytic.se):
            analytic = (est.analytic.se, *analytic_interval(est.value, est.analytic, self.cfg.level))
            analytic += (est.analytic.method,)
        row = metric_row(
            metric,
            judge,
            reference,
            est.value,
            np.nan,
            np.nan,
            est.n,
            None if test else p_value,
            slice,
            n_clusters=occupied_clusters(est),
            p_at_floor=False if test else bool(p_at_floor),
            analytic=analytic,
        )
        self._rows.append(row)
        self._unresolved.append((row, est, test))

    def add_direct(self, rows: Iterable[dict[str, Any]]) -> None:
        """Append rows that carry their own interval (:func:`direct_row`: a step's own estimates, the PPI variants),
        those of the metrics the selection computes (:meth:`wants`), as :meth:`add` does."""
        self.rows.extend(row for row in rows if self.wants(row["metric"]))

    def _resolve(self) -> None:
        """Fill in the intervals and p-values of the rows added since the last call."""
        unresolved, self._unresolved = self._unresolved, []
        level, method = self.cfg.level, self.cfg.method
        for row, est, test in unresolved:
            if self.cfg.resamples:
                row["ci_low"], row["ci_high"] = interval(
                    est, level, method, proportion=row["metric"] in PROPORTION_METRICS
                )
            if test is not None:
                row["p_value"], row["p_at_floor"] = bootstrap_test(test.est)
                row["p_at_floor"] = bool(row["p_at_floor"])

    def test(self, est: Estimate) -> dict[str, Any]:
        """``ctx.add`` keywords for a bootstrap test of ``value == 0`` (none without resamples):
        ``ctx.add(..., **ctx.test(gap))``; the p-value is computed with the row's interval."""
        if not self.cfg.resamples:
            return {"p_value": None}
        test = _Test(est)
        return {"p_value": test, "p_at_floor": test}

    def pairing(
        self, ref: Side, judge: Side, items: np.ndarray | None = None
    ) -> tuple[compare.Pairing, np.ndarray]:
        """The items both ``ref`` and ``judge`` labelled usably (within ``items``), paired for the comparisons."""
        both = self.usable(ref) & self.usable(judge)
        idx = np.flatnonzero(both if items is None else both & items)
        p = compare.Pairing(
            ref.code[idx],
            judge.code[idx],
            ref.value[idx],
            judge.value[idx],
            self.cluster[idx],
            self.n_clusters,
            self.k,
        )
        return p, idx


@dataclass
class _Test:
    """A bootstrap test of ``value == 0`` waiting for its replicates (see :meth:`AuditContext.test`)."""

    est: Estimate


def occupied_clusters(est: Estimate) -> int | None:
    """The clusters that hold an estimate's data: its own count, else its finite jackknife values (None: unknown)."""
    if est.clusters is not None:
        return int(est.clusters)
    if est.jack is not None:
        return int(np.isfinite(est.jack).sum())
    return None


def metric_row(
    metric: str,
    judge: str,
    reference: str,
    value: Any,
    lo: Any,
    hi: Any,
    n: Any,
    p_value: float | None = None,
    slice: str | None = None,
    *,
    n_clusters: int | None = None,
    p_at_floor: bool = False,
    analytic: tuple[float, float, float, float, str] | None = None,
) -> dict[str, Any]:
    """One metric row in :data:`auditor.contract.METRIC_COLUMNS` (``p_adjusted`` and ``p_adjusted_at_floor`` are
    filled in after every step); ``analytic``: ``(se, ci_low, ci_high, p, method)`` of
    :data:`auditor.contract.ANALYTIC_COLUMNS`."""
    values = (
        metric,
        judge,
        reference,
        value,
        lo,
        hi,
        n,
        p_value,
        None,
        slice,
        n_clusters,
        bool(p_at_floor),
        False,
        *(analytic or (None,) * len(ANALYTIC_COLUMNS)),
    )
    return dict(zip(METRIC_COLUMNS, values, strict=True))


def direct_row(
    metric: str,
    judge: str,
    reference: str,
    value: float,
    lo: float,
    hi: float,
    n: int,
    p: float | None,
    slice: str | None,
    *,
    n_clusters: int | None = None,
) -> dict[str, Any]:
    """A metric row whose interval does not come from the shared bootstrap (e.g. a model-based interval)."""
    return metric_row(
        metric, judge, reference, float(value), float(lo), float(hi), int(n), p, slice, n_clusters=n_clusters
    )
