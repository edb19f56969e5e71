"""Every benchmark in one command, one after the other, each in its own process (figures go to BENCHMARKS.md).

    python benchmarks/run_all.py            # the full workloads (about 30-40 minutes on 2 cores)
    python benchmarks/run_all.py --quick    # smaller sizes (a few minutes)
    python benchmarks/run_all.py --only stats,judges

Parts: ``stats`` (statistics engine: 10k / 100k / 1M label rows, side by side with the reference libraries),
``lower_bound`` (the CLI audit of 1M / 10M label rows beside a minimal numpy / pyarrow program, per stage),
``judges`` (judge runner against a fixed-latency loopback server next to raw ``openai`` calls, cached rerun, tokens
per template), ``rm`` (reward-model batching against one-at-a-time scoring; ``--quick`` runs the tiny model only),
``outofcore`` (10M and 100M judge verdicts from partitioned Parquet through ``--engine duckdb``; ``--quick``: 1M
and 10M).
Exit status: the first non-zero status of a part (a benchmark fails when its results disagree with the baseline).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PARTS = {
    "stats": (["bench_stats.py"], ["--quick"]),
    "lower_bound": (["bench_lower_bound.py"], ["--sizes", "1m", "--imports", "3"]),
    "judges": (["bench_judges.py"], ["--quick"]),
    "rm": (["bench_reward_model.py"], ["--models", "tiny"]),
    "outofcore": (["bench_outofcore.py"], ["--rows", "1000000,10000000"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smaller workloads")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts: " + ", ".join(PARTS))
    args = parser.parse_args(argv)
    chosen = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; expected some of {', '.join(PARTS)}")
    status = 0
    for part in chosen:
        script, quick = PARTS[part]
        command = [sys.executable, str(HERE / script[0]), *(quick if args.quick else [])]
        print(f"\n## {part}: {' '.join(command[1:])}\n", flush=True)
        started = time.perf_counter()
        code = subprocess.call(command)
        print(f"\n({part} finished in {time.perf_counter() - started:.0f} s, exit status {code})", flush=True)
        status = status or code
    return status


if __name__ == "__main__":
    sys.exit(main())
