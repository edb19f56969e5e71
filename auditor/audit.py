"""The audit: every judge against the reference, the human ceiling, outcome rates and their gaps.

``audit()`` is the Python entry point (paths or DataFrames in, :class:`~auditor.result.AuditResult` out);
``run_audit()`` works on an already loaded :class:`~auditor.data.JudgmentTable`.  Pure computation: no printing,
no files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor import aggregate as agg
from auditor.config import AuditConfig, load_config
from auditor.data import CLUSTER, JudgmentTable, load
from auditor.errors import ConfigError
from auditor.integrity import integrity_warnings
from auditor.result import METRIC_COLUMNS, AuditResult
from auditor.stats import compare, multitest
from auditor.stats.bootstrap import Estimate, Resampler, bootstrap_p_value, interval

GAP_METRICS = ("win_rate", "tie_rate", "loss_rate", "no_better_rate", "mean_score")
#: Metrics that are proportions of units (items, verdicts, attributes): observed at exactly 0 or 1 their interval is
#: the exact binomial one over the clusters (:func:`auditor.stats.bootstrap.boundary_interval`), not zero-width.
PROPORTION_METRICS = frozenset({
    "agreement", "agreement_original_order", "agreement_swapped_order", "agreement_both_orders",
    "win_rate", "tie_rate", "loss_rate", "no_better_rate", "position_consistency", "first_position_rate",
    "persona_flip_rate", "problematic_rate", "problematic_vote_rate", "relevant_rate", "precision", "recall",
})
MAX_RATER_PAIRS_RATERS = 8
CASE_TEXT_LIMIT = 20_000
RAW_TEXT_LIMIT = 4_000


def audit(labels: Any, items: Any = None, *, task: str | None = None, config: AuditConfig | str | Path | None = None,
          reference: str | None = None, resamples: int | None = None, seed: int | None = None,
          level: float | None = None, method: str | None = None,
          slice_by: tuple[str, ...] | None = None, judge_aggregate: str | None = None) -> AuditResult:
    """Audit judges against the reference judge (default ``human``).

    ``labels`` / ``items`` are paths (JSONL, CSV, TSV, Parquet) or DataFrames in the data contract; ``config`` an
    :class:`AuditConfig` or a path to ``audit.toml``; keyword options override the config.
    """
    if isinstance(config, (str, Path)):
        config = load_config(config)
    config = (config or AuditConfig()).with_overrides(task=task, reference=reference, resamples=resamples,
                                                       seed=seed, level=level, method=method,
                                                       slice_by=slice_by, judge_aggregate=judge_aggregate)
    table = load(labels, items, config)
    result = run_audit(table)
    inputs = {}
    for name, source in (("labels", labels), ("items", items)):
        if isinstance(source, (str, Path)):
            inputs[name] = str(source)
    result.meta["inputs"] = inputs
    return result


# ------------------------------------------------------------------------------------------------------------
@dataclass
class Side:
    """One judge's (or the reference's) aggregated verdict per item."""

    code: np.ndarray  # category code per item, -1 = none (categorical tasks)
    value: np.ndarray  # numeric value per item, NaN = none
    has: np.ndarray  # bool: the judge labelled the item (before aggregation failures)


class AuditContext:
    """The state of one audit, handed to extensions (see :data:`EXTENSIONS`).

    Stable attributes for extensions: ``t`` (the :class:`JudgmentTable`), ``cfg``, ``task``, ``n_items``,
    ``cluster`` (cluster index per item), ``n_clusters``, ``categories``, ``k``, ``rs`` (the shared
    :class:`Resampler`, so that differences between metrics are paired), ``ref`` (the reference's aggregated
    :class:`Side`), ``sides`` (judge name -> :class:`Side`); methods ``side(mask)``, ``usable(side)``,
    ``indicators(side, idx)``, ``pairing(ref, side)`` and ``add(metric, judge, reference, estimate, p_value=,
    slice=)``, which appends a metric row with its interval.
    """

    def __init__(self, table: JudgmentTable) -> None:
        self.t = table
        self.cfg = table.config
        self.task = self.cfg.require_task()
        items = table.items
        self.n_items = len(items)
        self.item_pos = pd.Index(items["item_id"])
        cluster_codes, cluster_names = pd.factorize(items[CLUSTER], sort=True)
        self.cluster = cluster_codes.astype(np.int64)
        self.n_clusters = len(cluster_names)
        self.categories = table.categories
        self.k = len(self.categories) if self.categories else 0
        self.row_item = table.item_positions()  # each distinct item id looked up once, by the loader
        self.rs = Resampler(self.n_clusters, self.cfg.resamples, self.cfg.seed)
        self.rows: list[dict[str, Any]] = []
        self.extra_exclusions: list[dict[str, Any]] = []
        self.warnings: list[dict[str, Any]] = []
        self.meta_extra: dict[str, Any] = {}  # extensions put their own sections of audit.json here
        rule = self.cfg.aggregate_rule
        if self.task == "score" and rule != "mean":
            raise ConfigError(f"a score task aggregates by mean, not {rule!r}", file=self.cfg.source, column="aggregate")
        if self.task != "score" and rule == "mean":
            raise ConfigError(f"the mean is for score tasks; a {self.task} task takes majority or median",
                              file=self.cfg.source, column="aggregate")
        if rule == "median" and self.task in ("categorical", "binary"):
            raise ConfigError(f"a median needs ordered categories; a {self.task} task takes majority",
                              file=self.cfg.source, column="aggregate")
        if self.task == "pairwise":
            self.values = np.array([0.0, 0.5, 1.0])
        elif self.task in ("likert", "binary"):
            self.values = np.array([float(c) for c in self.categories])
        elif self.task == "categorical":
            self.values = np.arange(self.k, dtype=float)
        else:
            self.values = np.zeros(0)

    # -- aggregation --------------------------------------------------------------------------------------
    def side(self, mask: np.ndarray, minus: Side | None = None, *, calibrate: bool = False) -> Side:
        """The aggregated verdict per item of the label rows in ``mask``.  ``calibrate``: with the config's
        ``judge_aggregate = "mean_score"``, items whose rows carry expected scores (``score``, from verdict
        probabilities) take the verdict of their mean score (balanced position calibration); others are voted."""
        items = self.row_item[mask]
        has = np.zeros(self.n_items, dtype=bool)
        has[items] = True
        if self.task == "score":
            value, _ = agg.mean_values(items, self.t.labels["value"].to_numpy(float)[mask], self.n_items)
            return Side(np.full(self.n_items, agg.NONE), value, has)
        counts = agg.count_table(items, self.t.labels["code"].to_numpy(np.int64)[mask], self.n_items, self.k)
        side = self._from_counts(counts, has)
        if calibrate and self.cfg.judge_aggregate == "mean_score" and "score" in self.t.labels.columns:
            self._calibrate(side, mask)
        return side

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

    def _from_counts(self, counts: np.ndarray, has: np.ndarray) -> Side:
        rule, tb = self.cfg.aggregate_rule, self.cfg.tie_break_rule
        neutral_code = self._neutral_code()
        if rule == "median":
            code = agg.median(counts, tb, neutral_code if neutral_code is not None else 0)
        else:
            code = agg.majority(counts, tb, neutral_code)
        value = np.where(code >= 0, self.values[np.maximum(code, 0)], np.nan)
        return Side(code, value, has)

    def _neutral_code(self) -> int | None:
        if self.task == "pairwise":
            return 1
        if self.task == "likert":
            return self.cfg.scale.neutral - self.cfg.scale.min
        return None

    def usable(self, s: Side) -> np.ndarray:
        return np.isfinite(s.value) if self.task == "score" else s.code >= 0

    # -- outcome indicators -------------------------------------------------------------------------------
    def indicators(self, s: Side, idx: np.ndarray) -> dict[str, np.ndarray] | None:
        code, value = s.code[idx], s.value[idx]
        if self.task == "pairwise":
            return {"win_rate": code == 2, "tie_rate": code == 1, "loss_rate": code == 0,
                    "no_better_rate": code <= 1}
        if self.task == "likert":
            neutral = float(self.cfg.scale.neutral)
            return {"win_rate": value > neutral, "tie_rate": value == neutral, "loss_rate": value < neutral,
                    "no_better_rate": value <= neutral}
        if self.task == "binary":
            return {"win_rate": code == 1, "loss_rate": code == 0, "no_better_rate": code == 0}
        if self.task == "score" and self.cfg.score_neutral is not None:
            c, m = self.cfg.score_neutral, self.cfg.score_tie_margin
            return {"win_rate": value > c + m, "tie_rate": np.abs(value - c) <= m, "loss_rate": value < c - m,
                    "no_better_rate": value <= c + m}
        return None

    # -- rows -----------------------------------------------------------------------------------------------
    def add(self, metric: str, judge: str, reference: str, est: Estimate, *, p_value: float | None = None,
            slice: str | None = None) -> None:
        lo, hi = (interval(est, self.cfg.level, self.cfg.method, proportion=metric in PROPORTION_METRICS)
                  if self.cfg.resamples else (np.nan, np.nan))
        self.rows.append({"metric": metric, "judge": judge, "reference": reference, "value": est.value,
                          "ci_low": lo, "ci_high": hi, "n": est.n, "p_value": p_value, "p_adjusted": None,
                          "slice": slice})

    def pairing(self, ref: Side, judge: Side, items: np.ndarray | None = None) -> tuple[compare.Pairing, np.ndarray]:
        both = self.usable(ref) & self.usable(judge)
        idx = np.flatnonzero(both if items is None else both & items)
        p = compare.Pairing(ref.code[idx], judge.code[idx], ref.value[idx], judge.value[idx], self.cluster[idx],
                            self.n_clusters, self.k)
        return p, idx

    def agreement_family(self, p: compare.Pairing) -> dict[str, Estimate]:
        out: dict[str, Estimate] = {}
        if p.n == 0:
            return out
        if self.task != "score":
            level = {"likert": "ordinal"}.get(self.task, "nominal")
            out.update(compare.agreement_metrics(p, self.rs, weighted=self.task in ("pairwise", "likert"),
                                                 alpha_level=level))
        else:
            out["krippendorff_alpha"] = compare.krippendorff_interval_pairs(p, self.rs)
        if self.task in ("likert", "score"):
            out.update(compare.correlation_metrics(p, self.rs))
        return out

    # -- the audit ------------------------------------------------------------------------------------------
    def run(self) -> AuditResult:
        cfg, labels = self.cfg, self.t.labels
        ref_name = cfg.reference
        judge_col = labels["judge"].to_numpy()
        ref_mask = judge_col == ref_name
        ref = self.side(ref_mask, calibrate=True)
        self.ref = ref
        ref_ok = self.usable(ref)
        no_majority = int(np.sum(ref.has & ~ref_ok))
        if no_majority:
            self.extra_exclusions.append({"judge": ref_name, "reason": "no majority among the reference labels",
                                          "count": no_majority})
        missing_ref = int(np.sum(~ref.has))
        if missing_ref:
            self.warnings.append({"code": "items_without_reference",
                                  "message": f"{missing_ref} items have no {ref_name} label; judges are compared "
                                             "on the items that do", "count": missing_ref})

        # the reference's own outcome rates
        ind = self.indicators(ref, np.flatnonzero(ref_ok))
        rate_names = list(ind) if ind else []
        self.reference_rates(ref)

        self.human_ceiling(ref_mask, ref)

        sides: dict[str, Side] = {}
        self.sides = sides
        confusion, score_pairs = [], []
        for judge in self.t.judges:
            mask = judge_col == judge
            side = self.side(mask, calibrate=True)
            sides[judge] = side
            usable = self.usable(side)
            lost = int(np.sum(side.has & ~usable))
            if lost:
                self.extra_exclusions.append({"judge": judge, "reason": "no majority among the judge's labels",
                                              "count": lost})
            unref = int(np.sum(usable & ~ref_ok))
            if unref:
                self.extra_exclusions.append({"judge": judge, "reason": "no reference label for the item",
                                              "count": unref})
            p, _ = self.judge_metrics(judge, ref, side)
            if self.k and p.n:
                conf = np.zeros((self.k, self.k), dtype=np.int64)
                np.add.at(conf, (p.ref_code, p.judge_code), 1)
                confusion.append({"judge": judge, "reference": ref_name, "categories": list(self.categories),
                                  "counts": conf.tolist()})
            if self.task in ("likert", "score") and p.n:
                sel = np.arange(p.n)
                sampled = p.n > 2000
                if sampled:
                    sel = np.sort(np.random.default_rng(cfg.seed).choice(p.n, 2000, replace=False))
                score_pairs.append({"judge": judge, "reference": ref_name, "x": p.ref_value[sel].tolist(),
                                    "y": p.judge_value[sel].tolist(), "sampled": bool(sampled)})

        for column in cfg.slice_by:
            self.sliced(column, ref, sides)
        for extension in EXTENSIONS:
            extension(self)
        metrics = pd.DataFrame(self.rows, columns=METRIC_COLUMNS)
        metrics = self.adjust_p_values(metrics)
        self.warnings.extend(integrity_warnings(self.t, sides, self.ref, self.cfg))
        exclusions = pd.concat([self.t.exclusions, pd.DataFrame(self.extra_exclusions,
                                                                columns=["judge", "reason", "count"])],
                               ignore_index=True)
        exclusions["count"] = exclusions["count"].astype(int)
        meta = {
            "title": cfg.title or "Judge audit",
            "description": cfg.description,
            "simulated": bool(cfg.simulated),
            "task": self.task,
            "scale": ({"min": cfg.scale.min, "max": cfg.scale.max, "neutral": cfg.scale.neutral}
                      if self.task == "likert" else None),
            "categories": list(self.categories) if self.categories else None,
            "reference": ref_name,
            "policy": cfg.policy_text(),
            "n_items": self.n_items,
            "n_items_with_reference": int(ref_ok.sum()),
            "n_clusters": self.n_clusters,
            "cluster": cfg.cluster if cfg.cluster in self.t.items.columns else "item_id",
            "judges": list(self.t.judges),
            "rates": rate_names,
            "bootstrap": {"resamples": cfg.resamples, "seed": cfg.seed, "level": cfg.level, "method": cfg.method,
                          "cluster": cfg.cluster if cfg.cluster in self.t.items.columns else "item_id"},
            "aggregation": {"rule": cfg.aggregate_rule, "tie_break": cfg.tie_break_rule,
                            "judges": cfg.judge_aggregate, "judge_margin": cfg.judge_margin},
            "p_value_correction": cfg.correction,
            "arms": dict(cfg.arms) if cfg.arms else None,
            "slice_by": list(cfg.slice_by),
            **self.meta_extra,
        }
        cases = self.cases(ref, sides)
        return AuditResult(meta, metrics, exclusions, self.warnings, confusion, score_pairs, cases)

    def has_rates(self) -> bool:
        return self.task in ("likert", "pairwise", "binary") or (self.task == "score")

    def reference_rates(self, ref: Side, items: np.ndarray | None = None,
                        slice: str | None = None) -> dict[str, Estimate]:
        """The reference's own outcome rates and mean, over the items it labelled (within ``items``)."""
        ok = self.usable(ref) if items is None else self.usable(ref) & items
        idx = np.flatnonzero(ok)
        if not idx.size or not self.has_rates():
            return {}
        rates = compare.rate_estimates(self.indicators(ref, idx) or {}, ref.value[idx], self.cluster[idx],
                                       self.n_clusters, self.rs)
        for name, est in rates.items():
            self.add(name, self.cfg.reference, self.cfg.reference, est, slice=slice)
        return rates

    def judge_metrics(self, judge: str, ref: Side, side: Side, items: np.ndarray | None = None,
                      slice: str | None = None) -> tuple[compare.Pairing, dict[str, Estimate]]:
        """Agreement, correlation, outcome rates and gaps of one judge against the reference (within ``items``)."""
        p, idx = self.pairing(ref, side, items)
        found = self.agreement_family(p)
        for name, est in found.items():
            self.add(name, judge, self.cfg.reference, est, slice=slice)
        if p.n and self.has_rates():
            j_ind = self.indicators(side, idx) or {}
            r_ind = self.indicators(ref, idx) or {}
            j_rates = compare.rate_estimates(j_ind, side.value[idx], p.cluster, self.n_clusters, self.rs)
            r_rates = compare.rate_estimates(r_ind, ref.value[idx], p.cluster, self.n_clusters, self.rs)
            singletons = np.all(np.bincount(p.cluster, minlength=self.n_clusters) <= 1)
            for name in j_rates:
                self.add(name, judge, self.cfg.reference, j_rates[name], slice=slice)
                gap = j_rates[name] - r_rates[name]
                if singletons and name in j_ind:
                    pval = compare.mcnemar_exact(j_ind[name].astype(int), r_ind[name].astype(int))
                else:
                    pval = bootstrap_p_value(gap) if self.cfg.resamples else None
                self.add(f"{name}_gap", judge, self.cfg.reference, gap, p_value=pval, slice=slice)
                found[name] = j_rates[name]
                found[f"{name}_gap"] = gap
        return p, found

    def sliced(self, column: str, ref: Side, sides: dict[str, Side]) -> None:
        """Every metric per value of an item column, and the paired difference between values (later minus
        earlier in sorted order, e.g. ``source=synthetic - source=real``), on the same bootstrap resamples."""
        items = self.t.items
        if column not in items.columns:
            raise ConfigError(f"cannot slice by {column!r}: the items table has no such column (columns: "
                              f"{', '.join(c for c in items.columns if not c.startswith('__'))})",
                              file=self.cfg.source, column="slice_by")
        values = items[column].astype(object).where(items[column].notna(), "(missing)").astype(str).to_numpy()
        levels = sorted(set(values.tolist()))
        if len(levels) > 20:
            self.warnings.append({"code": "too_many_slices", "message": f"{column!r} has {len(levels)} values; "
                                  "slices are computed for at most 20", "count": len(levels)})
            return
        found: dict[str, dict[tuple[str, str], Estimate]] = {}
        for level in levels:
            mask = values == level
            label = f"{column}={level}"
            got = {(name, self.cfg.reference): est for name, est in self.reference_rates(ref, mask, label).items()}
            for judge, side in sides.items():
                _, estimates = self.judge_metrics(judge, ref, side, mask, label)
                got.update({(name, judge): est for name, est in estimates.items()})
            found[level] = got
        if len(levels) > 4:
            return
        for earlier, later in combinations(levels, 2):
            label = f"{column}={later} - {column}={earlier}"
            for key in sorted(found[later].keys() & found[earlier].keys()):
                diff = found[later][key] - found[earlier][key]
                self.add(key[0], key[1], self.cfg.reference, diff,
                         p_value=bootstrap_p_value(diff) if self.cfg.resamples else None, slice=label)

    # -- human ceiling --------------------------------------------------------------------------------------
    def human_ceiling(self, ref_mask: np.ndarray, ref: Side) -> None:
        labels = self.t.labels
        name = self.cfg.reference
        sub = labels[ref_mask]
        raters = sub["rater"]
        if raters.isna().all():
            slots = sub.groupby("item_id").cumcount().map(lambda i: f"slot{i + 1}")
            rater_ids = slots.to_numpy()
            if len(sub) > sub["item_id"].nunique():
                self.warnings.append({"code": "no_rater_ids", "message": f"{name} labels carry no rater ids: the "
                                      "human ceiling treats the n-th label of each item as rater 'slot n'",
                                      "count": int(len(sub))})
        else:
            rater_ids = raters.fillna("unknown").to_numpy()
        all_raters = list(dict.fromkeys(rater_ids.tolist()))
        per_item = np.bincount(self.row_item[ref_mask], minlength=self.n_items)
        if len(all_raters) < 2 or per_item.max(initial=0) < 2:
            return
        positions = np.flatnonzero(ref_mask)
        full_mask_for = {}
        for r in all_raters:
            m = np.zeros_like(ref_mask)
            m[positions[rater_ids == r]] = True
            full_mask_for[r] = m
        loo: dict[str, list[Estimate]] = {}
        for r in all_raters:
            mine = self.side(full_mask_for[r])
            others = self.side(ref_mask & ~full_mask_for[r])
            p, _ = self.pairing(others, mine)
            if p.n < 2:
                continue
            for metric, est in self.agreement_family(p).items():
                loo.setdefault(metric, []).append(est)
        multi = self.multi_rater(ref_mask)
        for metric, ests in loo.items():
            est = multi.get(metric) or Estimate.mean(ests)
            self.add(metric, name, name, est)
        # every pair of raters, as slices
        if len(all_raters) <= MAX_RATER_PAIRS_RATERS:
            wanted = {"agreement", "cohen_kappa", "krippendorff_alpha", "pearson", "spearman"}
            for r1, r2 in combinations(all_raters, 2):
                p, _ = self.pairing(self.side(full_mask_for[r1]), self.side(full_mask_for[r2]))
                if p.n < 2:
                    continue
                fam = self.agreement_family(p)
                for metric, est in fam.items():
                    if metric in wanted:
                        self.add(metric, name, name, est, slice=f"raters={r1}~{r2}")

    def multi_rater(self, ref_mask: np.ndarray) -> dict[str, Estimate]:
        """Fleiss' kappa and Krippendorff's alpha over all reference raters at once."""
        items = self.row_item[ref_mask]
        out: dict[str, Estimate] = {}
        if self.task == "score":
            x = self.t.labels["value"].to_numpy(float)[ref_mask]
            m = np.bincount(items, minlength=self.n_items).astype(float)
            sx = np.bincount(items, weights=x, minlength=self.n_items)
            sxx = np.bincount(items, weights=x * x, minlength=self.n_items)
            ok = m > 1
            with np.errstate(divide="ignore", invalid="ignore"):
                term = np.where(ok, 2.0 * (m * sxx - sx**2) / (m - 1), 0.0)
            cols = [term, np.where(ok, m, 0), np.where(ok, sx, 0), np.where(ok, sxx, 0)]
            sums = np.stack([np.bincount(self.cluster, weights=c, minlength=self.n_clusters) for c in cols], 1)
            out["krippendorff_alpha"] = self.rs.sums(
                sums, lambda s: compare.ag.krippendorff_alpha_interval_from_sums(*np.moveaxis(s, -1, 0)),
                int(ok.sum()))
            return out
        counts = agg.count_table(items, self.t.labels["code"].to_numpy(np.int64)[ref_mask], self.n_items, self.k)
        n_i = counts.sum(1)
        ok = n_i > 1
        n = int(ok.sum())
        level = "ordinal" if self.task == "likert" else "nominal"
        coinc = compare.ag.coincidence_from_counts(counts[ok])
        per_cluster = np.zeros((self.n_clusters, self.k, self.k))
        np.add.at(per_cluster, self.cluster[ok], coinc)
        out["krippendorff_alpha"] = self.rs.sums(
            per_cluster, lambda o: compare.ag.krippendorff_alpha_from_coincidence(o, level), n)
        p_i = compare.ag.fleiss_item_terms(counts[ok])
        cols = np.column_stack([np.ones(n), p_i, counts[ok].astype(float), n_i[ok].astype(float)])
        sums = np.zeros((self.n_clusters, cols.shape[1]))
        np.add.at(sums, self.cluster[ok], cols)
        k = self.k
        out["fleiss_kappa"] = self.rs.sums(
            sums, lambda s: compare.ag.fleiss_kappa(s[..., 0], s[..., 1], s[..., 2:2 + k], s[..., 2 + k]), n)
        return out

    # -- p-values ------------------------------------------------------------------------------------------
    def adjust_p_values(self, metrics: pd.DataFrame) -> pd.DataFrame:
        method = self.cfg.correction
        metrics = metrics.copy()
        metrics["p_adjusted"] = metrics["p_adjusted"].astype(object)
        tested = metrics[metrics["p_value"].notna()]
        for _, group in tested.groupby([tested["metric"], tested["slice"].fillna("")]):
            p = group["p_value"].astype(float).to_numpy()
            finite = np.isfinite(p)
            adjusted = np.full(p.shape, np.nan)
            if finite.any():
                adjusted[finite] = multitest.adjust(p[finite], method)
            metrics.loc[group.index, "p_adjusted"] = adjusted
        return metrics

    # -- cases -----------------------------------------------------------------------------------------------
    def cases(self, ref: Side, sides: dict[str, Side]) -> dict[str, Any]:
        all_idx = np.arange(self.n_items)
        ref_ind = self.indicators(ref, all_idx)
        severity = np.zeros(self.n_items)
        priority = np.zeros(self.n_items, dtype=int)
        flagged: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # judge -> (differs per item, kind per item)
        for judge, side in sides.items():
            both = self.usable(ref) & self.usable(side)
            j_ind = self.indicators(side, all_idx)
            if self.task == "score" and ref_ind is None:
                continue
            differ = both & (side.code != ref.code) if self.task != "score" else both
            kind = np.zeros(self.n_items, dtype=np.int8)  # 0 other, 1 judge no better / ref better, 2 reverse
            if ref_ind is not None and j_ind is not None:
                kind[j_ind["no_better_rate"] & ref_ind["win_rate"]] = 1
                kind[j_ind["win_rate"] & ref_ind["no_better_rate"]] = 2
                if self.task == "score":
                    differ = both & (kind > 0)
            flagged[judge] = (differ, kind)
            gap = np.where(differ, np.abs(np.nan_to_num(side.value - ref.value)), 0.0)
            severity = np.maximum(severity, gap)
            priority = np.maximum(priority, np.where(differ, kind, 0))
        any_differ = np.zeros(self.n_items, dtype=bool)
        for differ, _ in flagged.values():
            any_differ |= differ
        total = int(any_differ.sum())
        ids = np.flatnonzero(any_differ)
        if ids.size:
            ids = ids[np.lexsort((ids, -severity[ids], -priority[ids]))][: self.cfg.max_cases]
        kinds = ("other", "judge_no_better_reference_better", "judge_better_reference_no_better")
        per_item = {int(i): [{"judge": judge, "type": kinds[kind[i]], "judge_label": self._label_text(sides[judge], i)}
                             for judge, (differ, kind) in flagged.items() if differ[i]] for i in ids}
        raw = self.t.raw_labels
        item_rows = self.t.items
        chosen = item_rows["item_id"].to_numpy()[ids]
        columns = [c for c in ("item_id", "judge", "rater", "label_text", "order", "score", "raw", "excluded")
                   if c in raw.columns]
        records: dict[str, list[dict[str, Any]]] = {}
        for r in raw.loc[raw["item_id"].isin(set(chosen)), columns].to_dict("records"):
            records.setdefault(r["item_id"], []).append(r)
        item_columns = [c for c in ("prompt", "profile", "response_a", "response_b", "response", "source")
                        if c in item_rows.columns]
        cases = []
        for i, item in zip(ids, item_rows.iloc[ids].to_dict("records"), strict=True):
            rows = records.get(item["item_id"], [])
            case = {"item_id": item["item_id"], "user_id": _text(item.get("user_id")),
                    "reference_label": self._label_text(ref, int(i)),
                    "reference_labels": [_label_of(r) for r in rows if r["judge"] == self.cfg.reference],
                    "verdicts": [{"judge": r["judge"], "rater": _text(r.get("rater")), "label": _label_of(r),
                                  "order": _text(r.get("order")),
                                  "score": None if pd.isna(r.get("score")) else float(r.get("score")),
                                  "raw": _text(r.get("raw"), RAW_TEXT_LIMIT),
                                  "excluded": _text(r.get("excluded"))}
                                 for r in rows],
                    "disagreements": per_item[int(i)]}
            for column in item_columns:
                case[column] = _text(item.get(column), CASE_TEXT_LIMIT)
            cases.append(case)
        sampled = total > len(cases)
        note = (f"showing the {len(cases)} of {total} items with disagreements that matter most (a judge calls "
                "b better where the reference finds it no better first, then the largest differences)"
                if sampled else f"all {total} items where a judge and the reference disagree")
        return {"total": total, "shown": len(cases), "sampled": sampled, "note": note, "items": cases}

    def _label_text(self, side: Side, i: int) -> str | None:
        if self.task == "score":
            v = side.value[i]
            return None if not np.isfinite(v) else f"{v:.3g}"
        c = side.code[i]
        return None if c < 0 else self.categories[c]


def _text(value: Any, limit: int | None = None) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f" … [truncated, {len(text) - limit} more characters]"
    return text


def _label_of(row: dict[str, Any]) -> str | None:
    text = row.get("label_text")
    if text is None and row.get("score") is not None and not pd.isna(row.get("score")):
        return f"{float(row['score']):.3g}"
    return text


EXTENSIONS: list[Callable[[AuditContext], None]] = []
"""Functions called with the :class:`AuditContext` after the core metrics, before the result is assembled; they
add rows with ``ctx.add(...)`` (e.g. corrected estimates, bias probes).  Register with :func:`register_extension`."""


def register_extension(fn: Callable[[AuditContext], None]) -> Callable[[AuditContext], None]:
    """Decorator: run ``fn`` in every audit (idempotent)."""
    if fn not in EXTENSIONS:
        EXTENSIONS.append(fn)
    return fn


def run_audit(table: JudgmentTable) -> AuditResult:
    """Audit an already loaded judgment table."""
    return AuditContext(table).run()
