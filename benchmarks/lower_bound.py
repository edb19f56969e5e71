"""The lower bound: a minimal numpy / pyarrow program computing statistics of the CLI audit of the pairwise workload.

    python benchmarks/lower_bound.py labels.parquet items.parquet [--resamples 2000] [--seed 0] [--out out.json]

What it does, and nothing more: read the two Parquet files (columns ``item_id, judge, rater, label`` and
``item_id, user_id``), check that no value is missing and every label is ``a`` / ``tie`` / ``b``, one group-by to
an ``(item, judge, category)`` count table, every per-cluster (user) sum from that table, one weights product
``W @ S`` over all columns at once, and the intervals.  It imports numpy and pyarrow only (the normal quantile
comes from :mod:`statistics`, the Student-t quantile from its Cornish-Fisher expansion, exact to ~1e-15 for the
thousands of clusters of the workload), and it is not a tool: no aliases, no exclusions, no slices, no report.

Its conventions are the audit's (``auditor audit --task pairwise``, the default config), so its numbers equal
audit.json's to ~1e-12 (``benchmarks/bench_lower_bound.py`` checks every row it writes):

- the reference is ``human``; its per-item verdict is the majority of its raters' labels, a tie category when no
  label has a strict majority; a judge's verdict likewise from its own labels on the item;
- clusters are the distinct ``user_id`` values in sorted order; the weights are ``(R, G)`` multinomial counts
  from ``numpy.random.default_rng(seed).integers(0, G, (R, G), dtype=int32)``, the audit's stream;
- per judge against the reference, over the items both labelled: ``agreement`` (trace / n), ``cohen_kappa`` and
  the outcome rates ``win_rate`` (judge says b), ``tie_rate``, ``loss_rate``, ``no_better_rate`` (a or tie) with
  their gaps (judge minus reference on the same items); the reference's own four rates over its items; and the
  reference raters' ``fleiss_kappa`` (Fleiss 1971, every item rated by the same number of raters);
- intervals: 95% BCa (acceleration from the leave-one-cluster-out jackknife over the occupied clusters) with
  Hesterberg's small-sample expansion of the tail probabilities, as :func:`auditor.stats.bootstrap.interval`.

It prints one JSON line with the time of each stage (wall and CPU seconds) and the peak memory.
"""

from __future__ import annotations

import time

_START = (time.perf_counter(), time.process_time())

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
from statistics import NormalDist  # noqa: E402

# the auditor command line's setting (auditor/cli/root.py): numpy's huge-page advice off unless the user set it
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

CATEGORIES = ("a", "tie", "b")  # codes 0, 1, 2
REFERENCE = "human"
RATES = ("win_rate", "tie_rate", "loss_rate", "no_better_rate")
_NORMAL = NormalDist()


class Stages:
    """Wall and CPU seconds per stage, measured from the process start."""

    def __init__(self) -> None:
        self.last = _START
        self.times: dict[str, dict[str, float]] = {}

    def done(self, name: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.times[name] = {"wall": now[0] - self.last[0], "cpu": now[1] - self.last[1]}
        self.last = now


def codes_of(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary codes (int64) and the distinct values of a string column; a missing value is an error."""
    if column.null_count:
        raise SystemExit(f"missing value in column {column._name if hasattr(column, '_name') else ''}")
    encoded = pc.dictionary_encode(column).combine_chunks()
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary.to_pylist()


def read(labels_path: str, items_path: str) -> dict:
    labels = pq.read_table(labels_path, columns=["item_id", "judge", "label"])
    items = pq.read_table(items_path, columns=["item_id", "user_id"])
    for table, name in ((labels, labels_path), (items, items_path)):
        for col in table.column_names:
            if table[col].null_count:
                raise SystemExit(f"{name}: missing values in column {col}")
    # items: position of each item id, cluster = rank of its user id among the sorted distinct ones
    user_codes, users = codes_of(items["user_id"])
    order = np.argsort(np.array(users, dtype=object), kind="stable")
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users))
    cluster = rank[user_codes]
    # labels: each distinct item id looked up once among the items, then spread back by code
    item_codes, item_values = codes_of(labels["item_id"])
    where = pc.index_in(pa.array(item_values), value_set=items["item_id"].combine_chunks()).to_numpy(
        zero_copy_only=False
    )
    if np.isnan(where.astype(float)).any():
        raise SystemExit(f"{labels_path}: label rows whose item_id is not in {items_path}")
    row_item = where.astype(np.int64)[item_codes]
    judge_codes, judges = codes_of(labels["judge"])
    label_codes, label_values = codes_of(labels["label"])
    unknown = [v for v in label_values if v not in CATEGORIES]
    if unknown:
        raise SystemExit(f"{labels_path}: column label: unknown labels {unknown}")
    category = np.array([CATEGORIES.index(v) for v in label_values], dtype=np.int64)[label_codes]
    return {
        "row_item": row_item,
        "judge": judge_codes,
        "judges": judges,
        "category": category,
        "cluster": cluster,
        "n_items": items.num_rows,
        "n_clusters": len(users),
    }


def majority(counts: np.ndarray) -> np.ndarray:
    """Most frequent category per item; no strict winner -> tie (1); no label -> -1."""
    top = counts.max(axis=1)
    out = np.argmax(counts, axis=1)
    out[(counts == top[:, None]).sum(axis=1) > 1] = 1
    out[top == 0] = -1
    return out


def cluster_weights(n_clusters: int, resamples: int, seed: int) -> np.ndarray:
    """``(R, G)`` multinomial counts: the audit's stream, counted in blocks of rows (float64)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(resamples, n_clusters), dtype=np.int32)
    out = np.empty((resamples, n_clusters))
    block = max(1, (1 << 20) // n_clusters)
    for start in range(0, resamples, block):
        rows = draws[start : start + block]
        offsets = (np.arange(rows.shape[0])[:, None] * n_clusters + rows).ravel()
        out[start : start + rows.shape[0]] = np.bincount(offsets, minlength=rows.size).reshape(rows.shape)
    return out


def t_quantile(p: float, df: float) -> float:
    """Student-t quantile by its Cornish-Fisher expansion in ``1 / df`` (Abramowitz & Stegun 26.7.5)."""
    z = _NORMAL.inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def bca(value: float, boot: np.ndarray, jack: np.ndarray, clusters: int, level: float = 0.95) -> tuple:
    boot = boot[np.isfinite(boot)]
    alpha = (1.0 - level) / 2.0
    if clusters >= 3:
        alpha = _NORMAL.cdf(np.sqrt(clusters / (clusters - 1.0)) * t_quantile(alpha, clusters - 1.0))
    if np.all(boot == boot[0]):
        return float(boot[0]), float(boot[0])
    below = np.mean(boot < value) + 0.5 * np.mean(boot == value)
    below = min(max(below, 1.0 / (boot.size + 1)), boot.size / (boot.size + 1))
    z0 = _NORMAL.inv_cdf(below)
    jack = jack[np.isfinite(jack)]
    d = jack.mean() - jack
    denom = 6.0 * (np.sum(d**2) ** 1.5)
    accel = float(np.sum(d**3) / denom) if denom > 0 else 0.0
    quantiles = []
    for q in (alpha, 1.0 - alpha):
        z = _NORMAL.inv_cdf(q)
        quantiles.append(_NORMAL.cdf(z0 + (z0 + z) / (1.0 - accel * (z0 + z))))
    lo, hi = np.quantile(boot, quantiles)
    return float(lo), float(hi)


def statistics(data: dict, resamples: int, seed: int) -> list[dict]:
    n_items, n_clusters, cluster = data["n_items"], data["n_clusters"], data["cluster"]
    n_judges = len(data["judges"])
    # the one group-by: (item, judge, category) counts
    key = (data["row_item"] * n_judges + data["judge"]) * 3 + data["category"]
    counts = np.bincount(key, minlength=n_items * n_judges * 3).reshape(n_items, n_judges, 3)
    h = data["judges"].index(REFERENCE)
    human = counts[:, h, :]
    ref = majority(human)
    # per-cluster sums, every statistic's columns side by side
    columns: dict[str, slice] = {}
    parts = []

    def add(name: str, block: np.ndarray) -> None:
        start = sum(p.shape[1] for p in parts)
        columns[name] = slice(start, start + block.shape[1])
        parts.append(block)

    has_ref = ref >= 0
    add("ref", np.bincount(cluster[has_ref] * 3 + ref[has_ref], minlength=n_clusters * 3).reshape(-1, 3))
    judges = [j for j in range(n_judges) if j != h]
    for j in judges:
        code = majority(counts[:, j, :])
        both = has_ref & (code >= 0)
        flat = np.bincount(cluster[both] * 9 + ref[both] * 3 + code[both], minlength=n_clusters * 9)
        add(data["judges"][j], flat.reshape(-1, 9))
    n_i = human.sum(axis=1)
    rated = n_i > 1
    p_i = (human * (human - 1)).sum(axis=1)[rated] / (n_i * (n_i - 1))[rated]
    fleiss_cols = np.column_stack(
        [np.ones(p_i.size), p_i, human[rated].astype(float), n_i[rated].astype(float)]
    )
    fleiss = np.stack(
        [np.bincount(cluster[rated], weights=c, minlength=n_clusters) for c in fleiss_cols.T], axis=1
    )
    add("fleiss", fleiss)
    per_cluster = np.concatenate([p.astype(float) for p in parts], axis=1)
    # the one weights product, and the jackknife sums (leave each occupied cluster out)
    weights = cluster_weights(n_clusters, resamples, seed)
    boot = weights @ per_cluster
    total = per_cluster.sum(axis=0)
    rows: list[dict] = []

    def estimates(name: str, fn) -> tuple[float, np.ndarray, np.ndarray, int]:
        cols = columns[name]
        mine = per_cluster[:, cols]
        occ = np.flatnonzero(np.any(mine != 0, axis=1))
        jack = np.full(n_clusters, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            jack[occ] = fn(total[cols][None, :] - mine[occ])
            return float(fn(total[cols][None, :])[0]), fn(boot[:, cols]), jack, int(occ.size)

    def emit(metric: str, judge: str, value: float, b: np.ndarray, jack: np.ndarray, g: int, n: int) -> None:
        lo, hi = bca(value, b, jack, g)
        rows.append({"metric": metric, "judge": judge, "value": value, "ci_low": lo, "ci_high": hi, "n": n})

    def rate_fns() -> dict:
        """Outcome rates from per-cluster category counts ``s[..., 0:3]`` (a, tie, b)."""
        return {
            "win_rate": lambda s: s[:, 2] / s.sum(axis=1),
            "tie_rate": lambda s: s[:, 1] / s.sum(axis=1),
            "loss_rate": lambda s: s[:, 0] / s.sum(axis=1),
            "no_better_rate": lambda s: (s[:, 0] + s[:, 1]) / s.sum(axis=1),
        }

    n_ref = int(has_ref.sum())
    for rate, fn in rate_fns().items():
        emit(rate, REFERENCE, *estimates("ref", fn), n_ref)
    emit("fleiss_kappa", REFERENCE, *estimates("fleiss", _fleiss), int(rated.sum()))
    for j in judges:
        name = data["judges"][j]
        n = int(per_cluster[:, columns[name]].sum())
        emit("agreement", name, *estimates(name, lambda s: np.trace(_c(s), axis1=1, axis2=2) / s.sum(1)), n)
        emit("cohen_kappa", name, *estimates(name, lambda s: _kappa(_c(s))), n)
        for rate, fn in rate_fns().items():
            judge_rate = estimates(name, lambda s, fn=fn: fn(_c(s).sum(axis=1)))  # judge: column sums
            ref_rate = estimates(name, lambda s, fn=fn: fn(_c(s).sum(axis=2)))  # reference: row sums
            emit(rate, name, *judge_rate, n)
            gap_jack = judge_rate[2] - ref_rate[2]
            emit(
                f"{rate}_gap",
                name,
                judge_rate[0] - ref_rate[0],
                judge_rate[1] - ref_rate[1],
                gap_jack,
                min(judge_rate[3], ref_rate[3]),
                n,
            )
    return rows


def _c(s: np.ndarray) -> np.ndarray:
    return s.reshape(-1, 3, 3)


def _kappa(c: np.ndarray) -> np.ndarray:
    """Cohen's kappa, ``1 - sum(w C) / sum(w E)`` with w = 1 off the diagonal."""
    w = 1.0 - np.eye(3)
    n = c.sum(axis=(1, 2))
    expected = c.sum(axis=2)[:, :, None] * c.sum(axis=1)[:, None, :] / n[:, None, None]
    return 1.0 - (w * c).sum(axis=(1, 2)) / (w * expected).sum(axis=(1, 2))


def _fleiss(s: np.ndarray) -> np.ndarray:
    p_bar = s[:, 1] / s[:, 0]
    p_j = s[:, 2:5] / s[:, 5][:, None]
    pe = (p_j**2).sum(axis=1)
    return (p_bar - pe) / (1.0 - pe)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("labels")
    parser.add_argument("items")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    stages = Stages()
    stages.done("import")
    data = read(args.labels, args.items)
    stages.done("read")
    rows = statistics(data, args.resamples, args.seed)
    stages.done("statistics")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump({"metrics": rows}, fh)
    stages.done("write")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"stages": stages.times, "maxrss_mb": peak, "rows": len(data["row_item"])}))


if __name__ == "__main__":
    main()
