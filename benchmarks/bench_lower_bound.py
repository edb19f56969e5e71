"""The CLI audit beside the lower bound (``benchmarks/lower_bound.py``), stage by stage, in one run.

    python benchmarks/bench_lower_bound.py                 # 1M and 10M label rows, 7 import runs each
    python benchmarks/bench_lower_bound.py --sizes 1m --repeats 3 --data /tmp/bench-data

For each size, the pairwise workload (``benchmarks/workload.py``: 3 human raters and 7 judges per item, 20 items per
user) is written to Parquet once, then, alternately ``--repeats`` times, each in a fresh process:

- ``benchmarks/lower_bound.py`` on the same files (import, read, statistics, write);
- "full audit": ``auditor audit labels.parquet --items items.parquet --task pairwise --format json -q`` with the PPI /
  alt-test / jury extension off (as ``bench_stats.py``), timed per stage by wrapping the pipeline's functions: import
  (the command line and ``auditor.audit``), read + validate (``auditor.data.load``), setup (the audit context:
  clusters, weights), each pipeline step, collect (each step's rows get their deferred intervals), assemble (p-value
  adjustment, integrity warnings, cases), write (reports and audit.json);
- "same statistics": the same command with ``--metrics`` set to exactly the metric names the lower bound writes
  (read from its output: agreement, Cohen's and Fleiss' kappa, the four outcome rates and their gaps), the baselines
  off (``[baselines] enabled = false``) and the position probe off (``[probes] position = false``).  It still
  writes what those names cover beyond the lower bound's 75 rows (the human ceiling's agreement and Cohen's kappa
  with its rater pairs, every judge's Fleiss' kappa, the ties-excluded slice) plus the confusion tables,
  integrity warnings, exclusions and cases.

Every child process runs with the measured tree's bytecode compiled beforehand (in its ``__pycache__`` folders, as
an installed package has it), never paying for compiling auditor's modules.  ``--tree PATH`` measures the ``auditor``
of another checkout (e.g. the main branch, for before / after).  Wall and CPU seconds (``time.process_time``, the
process's user + system time) per stage, the median over the repeats; peak RSS (``ru_maxrss``) of each process.
Every row the lower bound writes is compared with both configurations' audit.json (largest absolute difference of
value and interval ends; exit 1 above 1e-9).  Then ``python -c "import auditor"`` against ``python -c "import numpy, pyarrow"`` (and
what the command line imports before it reads, the lower bound's own imports, and those plus the product's fixed
libraries that the command line loads before it reads: pandas, ``scipy.special`` and typer with the pydantic layer
typer 0.29 imports to coerce options; that last line is the floor under any audit command on this stack),
``--imports`` runs each, alternated, median.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = {"1m": (100_000, 5_000), "10m": (1_000_000, 50_000)}
CONFIG = "[ppi]\nenabled = false\n[alt_test]\nenabled = false\n[jury]\nenabled = false\n"
#: The "same statistics" configuration adds: no baselines, no position probe (and ``--metrics``, the lower bound's).
SAME_CONFIG = CONFIG + "[baselines]\nenabled = false\n[probes]\nposition = false\n"

CLI_CHILD = r"""
import time
_t0 = (time.perf_counter(), time.process_time())
import json, resource, sys
from auditor.cli import main
import auditor.audit, auditor.cli.audit
audit_module = sys.modules["auditor.audit"]  # the attribute ``auditor.audit`` is the function
cli_audit = sys.modules["auditor.cli.audit"]

stages = {}
last = [_t0]

def mark(name):
    now = (time.perf_counter(), time.process_time())
    prev = stages.get(name, {"wall": 0.0, "cpu": 0.0})
    stages[name] = {"wall": prev["wall"] + now[0] - last[0][0], "cpu": prev["cpu"] + now[1] - last[0][1]}
    last[0] = now

def timed(name, fn):
    def wrapper(*args, **kwargs):
        mark("other")
        out = fn(*args, **kwargs)
        mark(name)
        return out
    return wrapper

mark("import")
audit_module.load = timed("read + validate", audit_module.load)
audit_module.Context = timed("setup (context, weights)", audit_module.Context)
audit_module.assemble = timed("assemble (integrity, cases)", audit_module.assemble)
# a step's rows get their deferred intervals (the shared weights product, BCa) when collect reads them
audit_module.collect = timed("collect (deferred intervals)", audit_module.collect)
steps = tuple(timed("step " + step.__module__.rsplit(".", 1)[-1], step) for step in audit_module.STEPS)
audit_module.run_audit.__defaults__ = (steps,)
audit_module.run_steps.__defaults__ = (steps,)
cli_audit.write_outputs = timed("write", cli_audit.write_outputs)
code = main(ARGV)
mark("other")
print(json.dumps({"code": code, "stages": stages,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


TREE = [ROOT]  # the tree whose ``auditor`` is measured (``--tree``)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TREE[0])] + [p for p in [env.get("PYTHONPATH")] if p])
    # an installed package has its bytecode (pip compiles it): no run pays for compiling auditor's modules, even
    # where the environment sets PYTHONDONTWRITEBYTECODE (this machine's does); see compile_tree
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_tree() -> None:
    """Compile the measured tree's packages once, before any timed run, into their ``__pycache__`` folders (as
    ``pip install`` does; git ignores them)."""
    packages = [str(TREE[0] / name) for name in ("auditor", "reports", "judges")]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *packages],
        check=True,
        env=child_env(),
        stdout=subprocess.DEVNULL,
    )


def make_data(folder: Path, size: str) -> tuple[Path, Path, int]:
    sys.path.insert(0, str(HERE))
    from workload import pairwise_workload

    labels, items = folder / f"labels_{size}.parquet", folder / f"items_{size}.parquet"
    if not labels.exists() or not items.exists():
        n_items, n_users = SIZES[size]
        item_frame, label_frame = pairwise_workload(n_items=n_items, n_users=n_users)
        label_frame.to_parquet(labels, index=False)
        item_frame.to_parquet(items, index=False)
        del item_frame, label_frame
    import pyarrow.parquet as pq

    return labels, items, pq.ParquetFile(labels).metadata.num_rows


def run_cli(labels: Path, items: Path, out: Path, metrics: list[str] | None = None) -> dict:
    """One timed ``auditor audit`` run: the full audit, or with ``metrics`` the "same statistics" configuration."""
    config = out.parent / ("audit.toml" if metrics is None else "audit_same_statistics.toml")
    config.write_text(CONFIG if metrics is None else SAME_CONFIG, encoding="utf-8")
    argv = ["audit", str(labels), "--items", str(items), "--task", "pairwise", "--config", str(config)]
    argv += ["--out", str(out), "--format", "json", "-q"]
    if metrics is not None:
        argv += ["--metrics", ",".join(metrics)]
    res = subprocess.run(
        [sys.executable, "-c", CLI_CHILD.replace("ARGV", repr(argv))],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=str(TREE[0]),
    )
    if res.returncode != 0:
        raise SystemExit(f"auditor audit failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_lower_bound(labels: Path, items: Path, out: Path) -> dict:
    res = subprocess.run(
        [sys.executable, str(HERE / "lower_bound.py"), str(labels), str(items), "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def lower_bound_metrics(lower_bound_json: Path) -> list[str]:
    """The metric names the lower bound writes, in its order."""
    rows = json.loads(lower_bound_json.read_text())["metrics"]
    return list(dict.fromkeys(r["metric"] for r in rows))


def largest_difference(lower_bound_json: Path, audit_json: Path) -> tuple[float, int]:
    """The largest absolute difference between the lower bound's rows and audit.json's, and the rows compared."""
    rows = json.loads(audit_json.read_text())["metrics"]
    index = {(r["metric"], r["judge"]): r for r in rows if r["slice"] is None}
    worst = 0.0
    mine = json.loads(lower_bound_json.read_text())["metrics"]
    for r in mine:
        other = index[(r["metric"], r["judge"])]
        if r["n"] != other["n"]:
            raise SystemExit(f"{r['metric']} {r['judge']}: n {r['n']} vs {other['n']}")
        worst = max(worst, *(abs(r[f] - other[f]) for f in ("value", "ci_low", "ci_high")))
    return worst, len(mine)


def median_stages(runs: list[dict]) -> dict[str, dict[str, float]]:
    names = list(dict.fromkeys(name for run in runs for name in run["stages"]))
    return {
        name: {
            kind: statistics.median(run["stages"].get(name, {kind: 0.0})[kind] for run in runs)
            for kind in ("wall", "cpu")
        }
        for name in names
    }


def totals(runs: list[dict]) -> dict[str, float]:
    return {
        kind: statistics.median(sum(s[kind] for s in run["stages"].values()) for run in runs)
        for kind in ("wall", "cpu")
    }


#: the lower bound's stage each of the tool's stages is compared with
LOWER_STAGE = {"import": "import", "read + validate": "read", "write": "write"}


#: the lower bound's rows must equal audit.json's to this (else the benchmark exits 1)
TOLERANCE = 1e-9


def has_metrics_option() -> bool:
    """Whether the measured tree's ``auditor audit`` takes ``--metrics`` (a tree from before it runs the full audit
    only)."""
    res = subprocess.run(
        [sys.executable, "-m", "auditor", "audit", "--help"],
        capture_output=True,
        text=True,
        env={**child_env(), "COLUMNS": "200"},
        cwd=str(TREE[0]),
    )
    return "--metrics" in res.stdout


def side_by_side(size: str, folder: Path, repeats: int) -> bool:
    labels, items, n_rows = make_data(folder, size)
    lower_json = folder / f"lower_bound_{size}.json"
    outs = {"full": folder / f"out_{size}", "same": folder / f"out_same_statistics_{size}"}
    if not has_metrics_option():
        print(f"\n(the auditor of {TREE[0]} has no --metrics: the same-statistics configuration is not run)")
        del outs["same"]
    runs: dict[str, list[dict]] = {name: [] for name in ("full", "same", "lower")}
    for _ in range(repeats):  # alternated, so all three see the same load
        runs["lower"].append(run_lower_bound(labels, items, lower_json))
        runs["full"].append(run_cli(labels, items, outs["full"]))
        if "same" in outs:
            runs["same"].append(run_cli(labels, items, outs["same"], lower_bound_metrics(lower_json)))
    configs = [name for name in ("full", "same") if runs[name]]
    checked = {name: largest_difference(lower_json, outs[name] / "audit.json") for name in configs}
    stages = {name: median_stages(runs[name]) for name in (*configs, "lower")}
    t = {name: totals(runs[name]) for name in (*configs, "lower")}
    none = {"wall": float("nan"), "cpu": float("nan")}

    def cells(name: str, numbers: dict[str, float]) -> str:
        return " — | — |" if name not in configs else f" {numbers['wall']:.2f} | {numbers['cpu']:.2f} |"

    print(f"\n### {n_rows:,} label rows from Parquet (median of {repeats})\n")
    if "same" in configs:
        names = ",".join(lower_bound_metrics(lower_json))
        print(f"same statistics: `--metrics {names}`, baselines and position off\n")
    print(
        "| stage | full audit wall s | full CPU s | same statistics wall s | same CPU s | lower bound wall s | "
        "lower CPU s |\n|--|--:|--:|--:|--:|--:|--:|"
    )
    for stage in dict.fromkeys(n for name in configs for n in stages[name]):
        line = "".join(cells(name, stages.get(name, {}).get(stage, none)) for name in ("full", "same"))
        print(f"| {stage} |{line} | |")
    for group, lower_name in (
        ("import", "import"),
        ("read + validate", "read"),
        ("statistics (setup, steps, collect, assemble, other)", "statistics"),
        ("write", "write"),
    ):
        line = ""
        for name in ("full", "same"):
            mine = stages.get(name, {})
            parts = [n for n in mine if n not in LOWER_STAGE] if lower_name == "statistics" else [group]
            line += cells(name, {k: sum(mine[n][k] for n in parts if n in mine) for k in ("wall", "cpu")})
        lower = stages["lower"][lower_name]
        print(f"| **{group}** |{line} {lower['wall']:.3f} | {lower['cpu']:.3f} |")
    line = "".join(cells(name, t.get(name, none)) for name in ("full", "same"))
    print(f"| **total** |{line} {t['lower']['wall']:.2f} | {t['lower']['cpu']:.2f} |")
    line = ""
    for name in ("full", "same"):
        ratios = [t[name][k] / t["lower"][k] for k in ("wall", "cpu")] if name in configs else []
        line += "".join(f" **{r:.2f}x** |" for r in ratios) if ratios else " — | — |"
    print(f"| **ratio to the lower bound** |{line} | |")
    rss = {name: statistics.median(r["maxrss_mb"] for r in runs[name]) for name in (*configs, "lower")}
    for name in configs:
        rows = len(json.loads((outs[name] / "audit.json").read_text())["metrics"])
        diff, compared = checked[name]
        label = {"full": "full audit", "same": "same statistics"}[name]
        print(
            f"\n{label}: peak RSS {rss[name]:.0f} MB (lower bound {rss['lower']:.0f} MB), {rows} metric rows; "
            f"the lower bound's {compared} rows equal its audit.json's to {diff:.1e}",
            end="",
        )
    print(flush=True)
    return max(diff for diff, _ in checked.values()) <= TOLERANCE


LOWER_BOUND_IMPORTS = "import numpy, pyarrow, pyarrow.compute, pyarrow.parquet"
FIXED_STACK_IMPORTS = LOWER_BOUND_IMPORTS + ", pandas, scipy.special, typer, typer._adapters"


def import_times(runs: int) -> None:
    commands = {
        "import numpy, pyarrow": "import numpy, pyarrow",
        "import auditor": "import auditor",
        "import auditor.audit (what `auditor audit` loads before reading)": "import auditor.cli, auditor.audit",
        # the floor under any audit on the product's fixed stack: the lower bound's own imports, then the fixed
        # libraries the command line loads before it reads (typer 0.29 imports pydantic to coerce the options)
        "lower bound's imports": LOWER_BOUND_IMPORTS,
        "lower bound's + pandas, scipy.special, typer (fixed stack)": FIXED_STACK_IMPORTS,
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, code in commands.items():
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=child_env(), cwd=str(TREE[0]))
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["import numpy, pyarrow"])
    print(f"\n### Import (fresh `python -c`, median of {runs}, alternated)\n")
    print("| command | median s | min s | minus `import numpy, pyarrow` s |\n|--|--:|--:|--:|")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"| `{name}` | {med:.3f} | {min(values):.3f} | {med - base:+.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1m,10m", help="comma-separated among 1m, 10m")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--imports", type=int, default=7, help="runs of each import command")
    parser.add_argument("--data", type=Path, default=None, help="keep the Parquet files here (reused)")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="measure the auditor of this tree (default: this one)"
    )
    args = parser.parse_args()
    TREE[0] = args.tree.resolve()
    compile_tree()
    print(
        f"# The CLI audit beside the lower bound\n\nmachine: {platform.machine()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}; auditor from {TREE[0]}"
    )
    same = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
            same = side_by_side(size, folder, args.repeats) and same
    import_times(args.imports)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    if not same:
        raise SystemExit(f"the lower bound's numbers differ from audit.json's by more than {TOLERANCE}")


if __name__ == "__main__":
    main()
