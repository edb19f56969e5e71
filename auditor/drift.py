"""Drift: re-judge a fixed anchor set later and count the verdicts that changed.

For every judge present in both runs, on the anchor items it labelled both times (each run aggregated per item as
in the audit: majority / median / mean with the declared tie-break):

* ``flip_rate``: share of items whose verdict differs between the runs (score tasks: whose outcome, win / tie /
  loss against the declared neutral point, differs), with a cluster-bootstrap BCa interval (clusters = users,
  else items) from the same resampler as the audit;
* ``became_better`` / ``became_no_better``: items that moved from "no better" to "better" and back;
* ``no_better_rate_change`` (later minus earlier) with its interval and an exact McNemar p-value (every cluster one
  item) or the paired cluster bootstrap's.

Both runs are read with the same configuration; the reference judge need not be present (drift compares a judge
with itself).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig, load_config
from auditor.data import CLUSTER, load
from auditor.engine.context import AuditContext
from auditor.io import read_table
from auditor.stats import compare
from auditor.stats.bootstrap import Resampler, bootstrap_p_value, interval

COLUMNS = [
    "judge",
    "n",
    "flips",
    "flip_rate",
    "ci_low",
    "ci_high",
    "became_better",
    "became_no_better",
    "no_better_rate_before",
    "no_better_rate_after",
    "no_better_rate_change",
    "change_ci_low",
    "change_ci_high",
    "p_value",
]


def _as_frame(source: Any) -> pd.DataFrame:
    return source if isinstance(source, pd.DataFrame) else read_table(source)


def _context(labels: pd.DataFrame, items: pd.DataFrame | None, config: AuditConfig) -> AuditContext:
    if config.reference not in set(labels["judge"]):
        config = replace(config, reference=str(labels["judge"].iloc[0]))
    return AuditContext(load(labels, items, config))


def flip_rates(
    before: Any,
    after: Any,
    items: Any = None,
    *,
    task: str | None = None,
    config: AuditConfig | str | Path | None = None,
    resamples: int | None = None,
    seed: int | None = None,
    level: float | None = None,
) -> pd.DataFrame:
    """One row per judge labelled in both runs (columns :data:`COLUMNS`); inputs as for :func:`auditor.audit`."""
    if isinstance(config, (str, Path)):
        config = load_config(config)
    config = (config or AuditConfig()).with_overrides(task=task, resamples=resamples, seed=seed, level=level)
    b_labels, a_labels = _as_frame(before), _as_frame(after)
    if items is None:
        ids = list(dict.fromkeys(b_labels["item_id"].tolist() + a_labels["item_id"].tolist()))
        items = pd.DataFrame({"item_id": ids})
    elif not isinstance(items, pd.DataFrame):
        items = read_table(items)
    b_ctx, a_ctx = _context(b_labels, items, config), _context(a_labels, items, config)
    if list(b_ctx.item_pos) != list(a_ctx.item_pos):
        raise ValueError("the two runs were read with different item tables")
    clusters, _ = pd.factorize(b_ctx.t.items[CLUSTER], sort=True)
    n_clusters = int(clusters.max()) + 1 if clusters.size else 0
    rs = Resampler(n_clusters, config.resamples, config.seed)
    rows = []
    b_judges, a_judges = b_ctx.t.labels["judge"].to_numpy(), a_ctx.t.labels["judge"].to_numpy()
    for judge in [j for j in dict.fromkeys(b_judges.tolist()) if j in set(a_judges.tolist())]:
        s_b, s_a = b_ctx.side(b_judges == judge), a_ctx.side(a_judges == judge)
        both = np.flatnonzero(b_ctx.usable(s_b) & a_ctx.usable(s_a))
        if both.size == 0:
            continue
        ind_b, ind_a = b_ctx.indicators(s_b, both), a_ctx.indicators(s_a, both)
        if b_ctx.task == "score":
            if ind_b is None:
                continue  # no neutral point: no verdicts to flip
            outcome = lambda ind: np.select([ind["win_rate"], ind["tie_rate"]], [2, 1], 0)  # noqa: E731
            flips = outcome(ind_b) != outcome(ind_a)
        else:
            flips = s_b.code[both] != s_a.code[both]
        cl = clusters[both]
        sums = np.stack(
            [
                np.bincount(cl, minlength=n_clusters).astype(float),
                np.bincount(cl, weights=flips.astype(float), minlength=n_clusters),
            ],
            axis=1,
        )
        flip = rs.sums(sums, lambda s: s[..., 1] / s[..., 0], int(both.size))
        lo, hi = (
            interval(flip, config.level, config.method, proportion=True)
            if config.resamples
            else (np.nan, np.nan)
        )
        row = {
            "judge": judge,
            "n": int(both.size),
            "flips": int(flips.sum()),
            "flip_rate": flip.value,
            "ci_low": lo,
            "ci_high": hi,
        }
        if ind_b is not None and ind_a is not None and "no_better_rate" in ind_b:
            nb_b, nb_a = ind_b["no_better_rate"], ind_a["no_better_rate"]
            rb = compare.rate_estimates({"no_better_rate": nb_b}, s_b.value[both], cl, n_clusters, rs)
            ra = compare.rate_estimates({"no_better_rate": nb_a}, s_a.value[both], cl, n_clusters, rs)
            change = ra["no_better_rate"] - rb["no_better_rate"]
            c_lo, c_hi = (
                interval(change, config.level, config.method) if config.resamples else (np.nan, np.nan)
            )
            singletons = np.all(np.bincount(cl, minlength=n_clusters) <= 1)
            p = (
                compare.mcnemar_exact(nb_a.astype(int), nb_b.astype(int))
                if singletons
                else bootstrap_p_value(change)
                if config.resamples
                else np.nan
            )
            row.update(
                {
                    "became_better": int(np.sum(nb_b & ~nb_a)),
                    "became_no_better": int(np.sum(~nb_b & nb_a)),
                    "no_better_rate_before": float(nb_b.mean()),
                    "no_better_rate_after": float(nb_a.mean()),
                    "no_better_rate_change": change.value,
                    "change_ci_low": c_lo,
                    "change_ci_high": c_hi,
                    "p_value": p,
                }
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)
