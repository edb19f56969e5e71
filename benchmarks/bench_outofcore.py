"""Out-of-core audit of production-sized logs: judge verdicts with a few human labels (the PPI design), from
hive-partitioned Parquet, through ``auditor audit DIR --engine duckdb`` in a fresh process.

For each size (default 10,000,000 and 100,000,000 judge-verdict rows): two judges label every item (so the items
are half the rows), 10,000 random items carry one human label, 5,000 users are the clusters; the data are written
to a scratch folder on disk (``--scratch``, default the system's temp folder; removed afterwards unless ``--keep``)
in 20 partitions, then audited with 2,000 user-clustered resamples.  Printed per size: generation time, audit wall
and CPU time, the peak RSS of the audit process, and the ratio of each to the first size (linear = the ratio of the
rows).  DuckDB's memory is capped by ``AUDITOR_DUCKDB_MEMORY`` (default here 1GB) and spills to ``--scratch``.

    python benchmarks/bench_outofcore.py                       # 10M and 100M (about 15 GB of disk at 100M)
    python benchmarks/bench_outofcore.py --rows 1000000,10000000 --resamples 200   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

JUDGES = ("judge_a", "judge_b")
PARTITIONS = 20


def _verdicts(rng: np.random.Generator, latent: np.ndarray, noise: float, shift: float) -> pa.Array:
    x = latent + shift + rng.normal(scale=noise, size=latent.size)
    codes = np.where(x > 0.4, 2, np.where(x < -0.4, 0, 1)).astype(np.int8)
    return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(["a", "tie", "b"]))


def generate(folder: Path, judge_rows: int, human_labels: int, users: int, seed: int = 0) -> None:
    """``judge_rows`` judge verdicts (two judges per item) and ``human_labels`` human ones on random items, as
    ``folder/part=P/data.parquet`` (items split into :data:`PARTITIONS` contiguous ranges)."""
    rng = np.random.default_rng(seed)
    n_items = judge_rows // len(JUDGES)
    user_effect = rng.normal(size=users) * 0.5
    labelled = np.sort(rng.choice(n_items, human_labels, replace=False))
    bounds = np.linspace(0, n_items, PARTITIONS + 1).astype(np.int64)
    for part in range(PARTITIONS):
        lo, hi = int(bounds[part]), int(bounds[part + 1])
        ids = np.arange(lo, hi, dtype=np.int64)
        item_rng = np.random.default_rng([seed, part])
        user = item_rng.integers(0, users, ids.size)
        latent = item_rng.normal(size=ids.size) + user_effect[user]
        sub = labelled[(labelled >= lo) & (labelled < hi)]
        tables = []
        for j, judge in enumerate(JUDGES):
            tables.append(
                pa.table(
                    {
                        "item_id": ids,
                        "user_id": user,
                        "judge": pa.DictionaryArray.from_arrays(
                            pa.array(np.zeros(ids.size, np.int8)), [judge]
                        ),
                        "label": _verdicts(item_rng, latent, 0.6 + 0.2 * j, 0.1 * j),
                    }
                )
            )
        pos = sub - lo
        tables.append(
            pa.table(
                {
                    "item_id": sub,
                    "user_id": user[pos],
                    "judge": pa.DictionaryArray.from_arrays(pa.array(np.zeros(sub.size, np.int8)), ["human"]),
                    "label": _verdicts(item_rng, latent[pos], 0.5, 0.0),
                }
            )
        )
        out = folder / f"part={part}"
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.concat_tables(tables), out / "data.parquet", row_group_size=1 << 20)


def audit(folder: Path, out: Path, resamples: int, scratch: Path) -> dict:
    """``auditor audit folder --engine duckdb`` in a fresh process: wall, CPU and peak RSS of that process."""
    env = dict(os.environ)
    env.setdefault("AUDITOR_DUCKDB_MEMORY", "1GB")
    env["AUDITOR_DUCKDB_TEMP"] = str(scratch / "duckdb-spill")
    command = [
        sys.executable,
        "-m",
        "auditor",
        "audit",
        str(folder),
        "--task",
        "pairwise",
        "--engine",
        "duckdb",
    ]
    command += ["--bootstrap", str(resamples), "--format", "json", "-q", "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"audit failed ({done.returncode}): {done.stderr[-2000:]}")
    document = json.loads((out / "audit.json").read_text())
    ppi_rows = [m for m in document["metrics"] if m["metric"] == "ppi_win_rate"]
    return {
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_mb": after.ru_maxrss / 1024,  # the largest child so far: run sizes in increasing order
        "n_items": document["n_items"],
        "ppi_win_rate": [
            (m["judge"], round(m["value"], 4), round(m["ci_low"], 4), round(m["ci_high"], 4))
            for m in ppi_rows
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", default="10000000,100000000", help="judge-verdict rows per run, comma-separated"
    )
    parser.add_argument("--human-labels", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--resamples", type=int, default=2_000)
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    results = []
    for rows in sizes:
        folder = args.scratch / f"auditor-ooc-{rows}"
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        generate(folder / "labels", rows, args.human_labels, args.users)
        generated = time.perf_counter() - start
        size_mb = sum(f.stat().st_size for f in (folder / "labels").rglob("*.parquet")) / 1e6
        found = audit(folder / "labels", folder / "out", args.resamples, folder)
        found.update(rows=rows, generate_s=generated, parquet_mb=size_mb)
        results.append(found)
        print(json.dumps(found), flush=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    first = results[0]
    print(
        "\n| judge rows | human labels | Parquet MB | audit wall s | CPU s | peak RSS MB | wall ratio | rows ratio |"
    )
    print("|--:|--:|--:|--:|--:|--:|--:|--:|")
    for r in results:
        print(
            f"| {r['rows']:,} | {args.human_labels:,} | {r['parquet_mb']:,.0f} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r['peak_rss_mb']:,.0f} | {r['wall_s'] / first['wall_s']:.2f} | {r['rows'] / first['rows']:.0f} |"
        )


if __name__ == "__main__":
    main()
