"""Benchmark of the statistics engine against the straightforward approach with the reference libraries.

    python benchmarks/bench_stats.py            # all sections, prints Markdown tables
    python benchmarks/bench_stats.py --quick    # smaller sizes

Sections
1. Scaling: the whole ``auditor.audit`` (pairwise, 3 human raters + 7 judges, 2,000 user-clustered resamples) at
   10k / 100k / 1M label rows, each in a fresh subprocess: wall time and peak memory (max RSS).
   1b. The largest size from Parquet, CSV and JSONL files through ``auditor audit`` (a fresh process each).
2. Side by side: the engine vs a baseline that resamples users and recomputes scikit-learn's Cohen's kappa and
   ``krippendorff.alpha`` for every judge on every resampled table; the baseline runs a few resamples and its
   per-resample cost is multiplied up to 2,000; point estimates compared to 1e-9, percentile intervals compared
   (they differ only by Monte-Carlo error, since the two draw different resamples).
3. Krippendorff's alpha for many raters (350 items x 123 raters, nominal, 30% missing) against the package.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from workload import pairwise_workload  # noqa: E402

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {here!r})
from workload import pairwise_workload
import auditor
config = auditor.AuditConfig().with_options(ppi={{"enabled": False}}, alt_test={{"enabled": False}},
                                            jury={{"enabled": False}})
items, labels = pairwise_workload(n_items={n_items}, n_users={n_users})
start = time.perf_counter()
result = auditor.audit(labels, items=items, task="pairwise", resamples={resamples}, config=config)
wall = time.perf_counter() - start
print(json.dumps({{"wall": wall, "rows": len(labels), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run_engine(n_items: int, n_users: int, resamples: int = 2000) -> dict:
    code = CHILD.format(here=str(HERE), n_items=n_items, n_users=n_users, resamples=resamples)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


CLI_CHILD = r"""
import json, resource, sys, time
start = time.perf_counter()
from auditor.cli import main
code = main(["audit", {labels!r}, "--items", {items!r}, "--task", "pairwise", "--config", {config!r}, "--out", {out!r},
             "--format", "json", "-q"])
wall = time.perf_counter() - start
print(json.dumps({{"wall": wall, "code": code, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run_cli(n_items: int, n_users: int, suffix: str) -> dict:
    """``auditor audit labels.<suffix> --items items.<suffix> --format json`` in a fresh process: importing the
    command line, reading, validating, the audit and writing audit.json (the PPI / alt-test / jury extension off,
    as in section 1)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        items, labels = pairwise_workload(n_items=n_items, n_users=n_users)
        paths = {name: str(Path(tmp) / f"{name}.{suffix}") for name in ("labels", "items")}
        for name, frame in (("labels", labels), ("items", items)):
            if suffix == "jsonl":
                frame.to_json(paths[name], orient="records", lines=True)
            elif suffix == "csv":
                frame.to_csv(paths[name], index=False)
            else:
                frame.to_parquet(paths[name], index=False)
        config = Path(tmp) / "audit.toml"  # the PPI / alt-test / jury steps off, as in section 1
        config.write_text(
            "[ppi]\nenabled = false\n[alt_test]\nenabled = false\n[jury]\nenabled = false\n", encoding="utf-8"
        )
        code = CLI_CHILD.format(
            labels=paths["labels"], items=paths["items"], config=str(config), out=str(Path(tmp) / "out")
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(HERE.parent)
        )
        return {"rows": len(labels), **json.loads(out.stdout.strip().splitlines()[-1])}


def per_item_labels(items, labels):
    """Reference majority and each judge's label per item, as integer codes (a=0, tie=1, b=2)."""
    codes = {"a": 0, "tie": 1, "b": 2}
    pos = {item: i for i, item in enumerate(items["item_id"])}
    idx = labels["item_id"].map(pos).to_numpy()
    code = labels["label"].map(codes).to_numpy()
    judge = labels["judge"].to_numpy()
    n = len(items)
    human = np.zeros((n, 3), dtype=int)
    np.add.at(human, (idx[judge == "human"], code[judge == "human"]), 1)
    top = human.max(1)
    ref = np.where((human == top[:, None]).sum(1) > 1, 1, human.argmax(1))  # no strict majority: tie
    out = {}
    for name in sorted(set(judge) - {"human"}):
        col = np.full(n, -1)
        col[idx[judge == name]] = code[judge == name]
        out[name] = col
    return ref, out


def baseline_resample_stats(ref, judges, clusters, weights_row):
    """One resample, the straightforward way: expand rows, call the libraries."""
    members = np.repeat(np.arange(len(weights_row)), weights_row.astype(int))
    order = np.argsort(clusters, kind="stable")
    starts = np.searchsorted(clusters[order], np.arange(len(weights_row)))
    ends = np.searchsorted(clusters[order], np.arange(len(weights_row)), side="right")
    rows = np.concatenate([order[starts[g] : ends[g]] for g in members]) if members.size else np.zeros(0, int)
    out = {}
    for name, col in judges.items():
        r, j = ref[rows], col[rows]
        out[name] = (
            cohen_kappa_score(r, j),
            krippendorff.alpha(
                reliability_data=np.vstack([r, j]).astype(float), level_of_measurement="nominal"
            ),
            float(np.mean(j <= 1)),
        )
    return out


def side_by_side(n_items: int, n_users: int, baseline_resamples: int) -> dict:
    import auditor
    from auditor.stats.bootstrap import cluster_weights

    config = auditor.AuditConfig().with_options(
        ppi={"enabled": False}, alt_test={"enabled": False}, jury={"enabled": False}
    )
    items, labels = pairwise_workload(n_items=n_items, n_users=n_users)
    start = time.perf_counter()
    result = auditor.audit(
        labels, items=items, task="pairwise", resamples=2000, method="percentile", config=config
    )
    engine = time.perf_counter() - start
    ref, judges = per_item_labels(items, labels)
    clusters = items["user_id"].str[1:].astype(int).to_numpy()
    _, clusters = np.unique(clusters, return_inverse=True)
    g = clusters.max() + 1
    # point estimates: the libraries on the full data
    worst = 0.0
    for name, col in judges.items():
        kappa = cohen_kappa_score(ref, col)
        alpha = krippendorff.alpha(
            reliability_data=np.vstack([ref, col]).astype(float), level_of_measurement="nominal"
        )
        worst = max(
            worst,
            abs(kappa - result.metric("cohen_kappa", name)["value"]),
            abs(alpha - result.metric("krippendorff_alpha", name)["value"]),
        )
    weights = cluster_weights(g, baseline_resamples, np.random.default_rng(1))
    start = time.perf_counter()
    boot = [baseline_resample_stats(ref, judges, clusters, w) for w in weights]
    per_resample = (time.perf_counter() - start) / baseline_resamples
    baseline_full = per_resample * 2000
    name = sorted(judges)[0]
    kappas = np.array([b[name][0] for b in boot])
    lo, hi = np.quantile(kappas, [0.025, 0.975])
    row = result.metric("cohen_kappa", name)
    return {
        "rows": len(labels),
        "engine_s": engine,
        "baseline_s_per_resample": per_resample,
        "baseline_s_2000": baseline_full,
        "speedup": baseline_full / engine,
        "max_point_diff": worst,
        "engine_ci": (row["ci_low"], row["ci_high"]),
        "baseline_ci": (lo, hi),
        "baseline_resamples": baseline_resamples,
    }


def many_raters() -> dict:
    from auditor.stats import agreement as ag

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 5, 350)
    data = np.where(rng.random((123, 350)) < 0.6, truth, rng.integers(0, 5, (123, 350))).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    start = time.perf_counter()
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    package = time.perf_counter() - start
    start = time.perf_counter()
    counts = np.stack([(data == v).sum(0) for v in range(5)], axis=1)
    got = float(ag.krippendorff_alpha_from_coincidence(ag.coincidence_from_counts(counts).sum(0), "nominal"))
    ours = time.perf_counter() - start
    return {
        "package_s": package,
        "engine_s": ours,
        "ratio": package / ours,
        "diff": abs(got - expected),
        "alpha": got,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(
        f"# Statistics engine benchmark\n\nmachine: {platform.machine()}, {platform.python_version()}, "
        f"{__import__('os').cpu_count()} cores; date {time.strftime('%Y-%m-%d')}\n"
    )
    sizes = [(1_000, 50), (10_000, 500)] if args.quick else [(1_000, 50), (10_000, 500), (100_000, 5_000)]
    print(
        "## 1. Scaling of `auditor.audit` (2,000 resamples)\n\n| label rows | items | users | wall s | peak RSS MB |"
    )
    print("|--:|--:|--:|--:|--:|")
    for n_items, n_users in sizes:
        r = run_engine(n_items, n_users)
        print(
            f"| {r['rows']:,} | {n_items:,} | {n_users:,} | {r['wall']:.2f} | {r['maxrss_mb']:.0f} |",
            flush=True,
        )
    n_items, n_users = sizes[-1]
    print("\n## 1b. The same audit from files, through the command line (largest size)\n")
    print(
        "| format | label rows | wall s (import, read, audit, audit.json) | peak RSS MB |\n|--|--:|--:|--:|"
    )
    for suffix in ("parquet", "csv", "jsonl"):
        r = run_cli(n_items, n_users, suffix)
        print(f"| {suffix} | {r['rows']:,} | {r['wall']:.2f} | {r['maxrss_mb']:.0f} |", flush=True)
    print("\n## 2. Side by side with the reference libraries (per-resample recomputation)\n")
    print(
        "| label rows | engine s (all metrics) | baseline s / resample (kappa + alpha + rate, 7 judges) | "
        "baseline x 2,000 s | speed-up | max point diff | kappa CI engine | kappa CI baseline |"
    )
    print("|--:|--:|--:|--:|--:|--:|--|--|")
    for n_items, n_users, b in (
        [(1_000, 50, 20), (10_000, 500, 5)]
        if args.quick
        else [(1_000, 50, 40), (10_000, 500, 10), (100_000, 5_000, 2)]
    ):
        r = side_by_side(n_items, n_users, b)
        print(
            f"| {r['rows']:,} | {r['engine_s']:.2f} | {r['baseline_s_per_resample']:.3f} | "
            f"{r['baseline_s_2000']:.0f} | {r['speedup']:.0f}x | {r['max_point_diff']:.1e} | "
            f"[{r['engine_ci'][0]:.3f}, {r['engine_ci'][1]:.3f}] | "
            f"[{r['baseline_ci'][0]:.3f}, {r['baseline_ci'][1]:.3f}] ({r['baseline_resamples']} resamples) |",
            flush=True,
        )
    r = many_raters()
    print("\n## 3. Krippendorff's alpha, 350 items x 123 raters, nominal, 30% missing\n")
    print("| krippendorff package s | engine s | ratio | alpha | abs diff |\n|--:|--:|--:|--:|--:|")
    print(
        f"| {r['package_s']:.4f} | {r['engine_s']:.4f} | {r['ratio']:.1f}x | {r['alpha']:.6f} | {r['diff']:.1e} |"
    )


if __name__ == "__main__":
    main()
