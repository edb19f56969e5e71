#!/usr/bin/env python
"""Same numbers before and after: run the same audits on a baseline revision and on this tree, compare every row.

    python scripts/compare_metrics.py                        # baseline c074434 (main before issue 14)
    python scripts/compare_metrics.py --baseline main --only pandalm,hanna
    python scripts/compare_metrics.py --files before/audit.json after/audit.json [--strict]

The baseline revision is checked out into a temporary ``git worktree``; each side runs in its own subprocesses
with ``PYTHONPATH`` at its own tree (and that tree as the working directory), through the command line a user
types, so nothing here depends on how the code inside ``auditor`` is laid out:

- ``demo``: ``auditor demo --out DIR --format json --quiet``; every ``audit.json`` under ``DIR`` (the main study and
  the ``extraction``, ``relevance`` and ``probes`` sub-audits) is one audit, named by its folder.
- ``pandalm``, ``hanna``, ``llmbar``: ``auditor convert NAME DATA/FOLDER --out STUDY`` then
  ``auditor audit STUDY --out OUT --format json --quiet``, the datasets read from ``--data`` (default
  ``$AUDITOR_SHARED_DATA``, else ``../shared/data`` beside the tree).

Every metric row of ``audit.json`` is keyed by (metric, judge, reference, slice); ``value``, ``ci_low``, ``ci_high``,
``n``, ``p_value`` and ``p_adjusted`` must be identical: the same JSON value (a float equal to the last bit, an
integer not turned into a float, null for null, which is how ``audit.json`` writes NaN).  A row present on one side
only is a difference too, and so is a command that fails on one side, with one exception: rows of a metric added
on purpose since the baseline (:data:`ADDED_SINCE_BASELINE`, or ``--added NAMES``; ``METRIC@SLICE`` for a metric's
rows in some slices only) are listed as added, not as
differences, when they exist in the current tree only.  The changes made on purpose since the default baseline
(:data:`ADDED_SINCE_BASELINE`, :data:`CHANGED_BY_DESIGN`, :data:`CEILING_CHANGED_BY_DESIGN`, the added judges) are
set aside only when the baseline is that revision: against any other (``--baseline main`` while refactoring)
every row is compared on every field, and each audit's ``warnings`` (code, message, count: every field) must be
the same list in any order; two ``--files`` are compared as against the default baseline unless ``--strict`` (two
outputs of one revision before and after a change).

Exit 0: every row identical.  Exit 1: differences (the first 30 and the counts).  Exit 2: bad input (an unknown
revision, a missing data folder or tree), one line.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

KEY_FIELDS = ("metric", "judge", "reference", "slice")
VALUE_FIELDS = ("value", "ci_low", "ci_high", "n", "p_value", "p_adjusted")
DEFAULT_BASELINE = "c074434"  # main before issue 14's redesign
#: Metrics that the current tree computes and the baseline did not, on purpose (issue 14 shows a new metric takes one
#: registry entry, its statistics function and a test: Brennan-Prediger's kappa).
#: An entry ``METRIC@SLICE`` (shell-style patterns) counts only that metric's rows in those slices as added (issue 16:
#: every row of the slice ``ties=excluded``, and the core's rates and agreement per ``source``, which the core now
#: slices like the analyses do).
CORE_METRICS: tuple[str, ...] = (
    "agreement",
    "cohen_kappa*",
    "scott_pi",
    "fleiss_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
    "brennan_prediger",
    "pearson",
    "spearman",
    "kendall_tau_b",
    "win_rate*",
    "tie_rate*",
    "loss_rate*",
    "no_better_rate*",
    "mean_score*",
)
ADDED_SINCE_BASELINE: tuple[str, ...] = (
    "brennan_prediger",
    "undecided_rate",
    "agreement_z_vs_ceiling",
    # issue 19: the coefficients users compare with
    "gwet_ac2",
    "scott_pi_weighted",
    "fleiss_kappa_weighted",
    "conger_kappa",
    "light_kappa",
    "icc_a1",
    "icc_c1",
    # issue 19: category-wise kappa (one vs rest), one row per category
    "category_kappa@category=*",
    "*@ties=excluded",
    *(f"{name}@source=*" for name in CORE_METRICS),
)
#: Human-ceiling rows (judge = reference, no slice) of these metrics changed definition on purpose, in every audit:
#: where a row's ``n`` shows the old definition (it differs between the sides: the old rows counted rater-item
#: pairs, the new ones items) it is left out of the comparison, counted and named in the report.
CEILING_CHANGED_BY_DESIGN: dict[str, str] = {
    "gwet_ac1": (
        "issue 19: the reference raters' gwet_ac1 is the multi-rater AC1 over all raters (irrCAC's gwet.ac1.raw, "
        "n = items rated twice or more), no longer each rater against the others' majority averaged over raters"
    ),
}
#: Judges added since the baseline, by name prefix (issue 16: the trivial baselines audited beside every judge).
ADDED_JUDGES_SINCE_BASELINE: tuple[str, ...] = ("baseline:",)
#: Rows that changed on purpose since the baseline, per audit: ``judges`` and ``metrics`` (name prefixes) and, with
#: ``other_references``, rows whose reference is not the audit's own (``"human"``) are left out of the comparison, and ``fields`` are the only
#: fields compared on the other rows.  What is left out is counted and named in the report, with ``why``.
_SORTED_PAIRS = (
    "issue 21: the kappa table names each pair of judges in sorted order whatever the order of the rows (a row "
    "'b vs a' is now 'a vs b'; kappa is symmetric, the value equal up to the last bits of the transposed table's "
    "sums, and so the per-kind mean)"
)
CHANGED_BY_DESIGN: dict[str, dict] = {
    "demo": {
        "judges": ("jury", "tuned-judge"),
        "metrics": ("ppi_", "mean_pairwise_kappa", "rogan_gladen_"),
        "other_references": True,
        "fields": ("value", "n"),
        "why": (
            "issue 16: the demo's study gained 19,450 judge-only conversations of 1,768 more users and tuned-judge: "
            "intervals and p-values move with the bootstrap's clusters, the juries gain a member, PPI++ rows appear, "
            "the judges' own "
            "rows (reference = the judge, the kappa table) cover their new items; value and n are compared on the "
            "rest (the 550 human-rated conversations are the same); "
            + _SORTED_PAIRS
            + "; issue 19: the corrected "
            "rates rogan_gladen_* are new rows beside PPI++"
        ),
    },
    "demo/extraction": {
        "judges": ("jury:",),
        "metrics": (),
        "other_references": True,
        "fields": VALUE_FIELDS,
        "why": "issue 16: a jury is scored on every item its members voted on; " + _SORTED_PAIRS,
    },
    "demo/probes": {
        "judges": (),
        "metrics": ("mean_pairwise_kappa",),
        "other_references": True,
        "fields": VALUE_FIELDS,
        "why": _SORTED_PAIRS + "; a profile view's slice holds every pair of judges it is part of",
    },
    "demo/relevance": {
        "judges": (),
        "metrics": ("mean_pairwise_kappa",),
        "other_references": True,
        "fields": VALUE_FIELDS,
        "why": _SORTED_PAIRS,
    },
}
SHOWN = 30
TREE = Path(__file__).resolve().parents[1]

#: dataset audits: name -> the folder under the data root (``auditor convert NAME DATA/FOLDER``)
DATASETS = {"pandalm": "pandalm_testset", "hanna": "hanna", "llmbar": "llmbar"}
AUDITS = ("demo", *DATASETS)


class BadInput(Exception):
    """Bad input to this script (exit 2, one line)."""


# ----------------------------------------------------------------------------------------------------------------
# comparing metric rows


def _same(a: object, b: object) -> bool:
    """Identical JSON values: NaN equals NaN, 1 is not 1.0, True is not 1, -0.0 is not 0.0."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and (json.dumps(a) == json.dumps(b) if isinstance(a, float) else a == b)


def _keyed(rows: Iterable[dict]) -> dict[tuple, dict]:
    """Rows by (metric, judge, reference, slice); a repeated key gets its occurrence number appended."""
    keyed: dict[tuple, dict] = {}
    seen: Counter[tuple] = Counter()
    for row in rows:
        key = tuple(row.get(name) for name in KEY_FIELDS)
        seen[key] += 1
        keyed[key + ((seen[key],) if seen[key] > 1 else ())] = row
    return keyed


@dataclass
class Comparison:
    """The outcome of comparing the metric rows of the audits on both sides."""

    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # audit -> (baseline rows, current rows)
    differences: list[str] = field(default_factory=list)
    changed_values: int = 0
    changed_rows: int = 0
    only_baseline: int = 0
    only_current: int = 0
    added: int = 0  # rows of ADDED_SINCE_BASELINE metrics in the current tree only
    added_metrics: tuple[str, ...] = ADDED_SINCE_BASELINE
    by_design: dict[str, int] = field(default_factory=dict)  # audit -> rows left out by CHANGED_BY_DESIGN
    ceiling_by_design: dict[str, int] = field(default_factory=dict)  # metric -> rows left out, every audit
    added_entries: dict[str, None] = field(default_factory=dict)  # the entries that matched, in order
    failed: int = 0  # commands or audit.json files present on one side only
    warnings: dict[str, int] = field(default_factory=dict)  # audit -> warnings compared (strict comparisons)
    changed_warnings: int = 0  # warnings on one side only
    # the changes made on purpose since DEFAULT_BASELINE (CHANGED_BY_DESIGN, CEILING_CHANGED_BY_DESIGN, the added
    # judges) are left out only against that baseline: against any other revision, or between two files, every row
    # is compared on every field
    by_design_since_default: bool = False

    @property
    def identical(self) -> bool:
        return not self.differences

    def add_audit(self, name: str, baseline: Sequence[dict], current: Sequence[dict]) -> None:
        """Compare the metric rows of one audit on both sides."""
        self.rows[name] = (len(baseline), len(current))
        before, after = _keyed(baseline), _keyed(current)
        ceiling = {
            k
            for k in before.keys() & after.keys()
            if self.by_design_since_default
            and k[0] in CEILING_CHANGED_BY_DESIGN
            and k[1] == k[2]
            and k[3] is None
            and not _same(before[k].get("n"), after[k].get("n"))
        }
        for key in ceiling:
            self.ceiling_by_design[key[0]] = self.ceiling_by_design.get(key[0], 0) + 1
        before = {k: v for k, v in before.items() if k not in ceiling}
        after = {k: v for k, v in after.items() if k not in ceiling}
        fields = VALUE_FIELDS
        if self.by_design_since_default and name in CHANGED_BY_DESIGN:
            spec = CHANGED_BY_DESIGN[name]
            fields = spec["fields"]
            left_out = {
                k
                for k in before.keys() | after.keys()
                if (spec["judges"] and k[1].startswith(spec["judges"]))
                or (spec["metrics"] and k[0].startswith(spec["metrics"]))
                or (spec["other_references"] and k[2] != "human")
            }
            self.by_design[name] = len(left_out)
            before = {k: v for k, v in before.items() if k not in left_out}
            after = {k: v for k, v in after.items() if k not in left_out}
        for key, row in before.items():
            if key not in after:
                self.only_baseline += 1
                self.differences.append(f"{name}: {_label(key)}: row only in the baseline")
                continue
            changed = [f for f in fields if not _same(row.get(f, _ABSENT), after[key].get(f, _ABSENT))]
            if changed:
                self.changed_rows += 1
                self.changed_values += len(changed)
                detail = ", ".join(
                    f"{f} {_show(row.get(f, _ABSENT))} -> {_show(after[key].get(f, _ABSENT))}"
                    for f in changed
                )
                self.differences.append(f"{name}: {_label(key)}: {detail}")
        for key in after.keys() - before.keys():
            entry = added_entry(key, self.added_metrics)
            if (
                entry is None
                and self.by_design_since_default
                and key[1].startswith(ADDED_JUDGES_SINCE_BASELINE)
            ):
                entry = "judges " + ", ".join(p + "*" for p in ADDED_JUDGES_SINCE_BASELINE)
            if entry is not None:
                self.added += 1
                self.added_entries[entry] = None
                continue
            self.only_current += 1
            self.differences.append(f"{name}: {_label(key)}: row only in the current tree")

    def add_warnings(self, name: str, baseline: Sequence[dict], current: Sequence[dict]) -> None:
        """Compare the ``warnings`` of one audit on both sides, as lists in any order (strict comparisons only:
        the warnings changed on purpose since the default baseline)."""
        if self.by_design_since_default:
            return
        before = Counter(json.dumps(w, sort_keys=True) for w in baseline)
        after = Counter(json.dumps(w, sort_keys=True) for w in current)
        self.warnings[name] = max(len(baseline), len(current))
        for side, extra in (("baseline", before - after), ("current tree", after - before)):
            for text in extra.elements():
                self.changed_warnings += 1
                self.differences.append(f"{name}: warning only in the {side}: {_short(text)}")

    def add_failure(self, message: str) -> None:
        self.failed += 1
        self.differences.append(message)

    def report(self) -> str:
        lines = [
            f"  {name}: {b} rows" + ("" if b == c else f" in the baseline, {c} in the current tree")
            for name, (b, c) in self.rows.items()
        ]
        if self.warnings:
            lines.append(
                f"  warnings: {sum(self.warnings.values())} in {len(self.warnings)} audits, compared on every field"
            )
        lines += [
            f"  {name}: {count} rows not compared, changed by design; "
            f"{', '.join(CHANGED_BY_DESIGN[name]['fields'])} compared on the others ({CHANGED_BY_DESIGN[name]['why']})"
            for name, count in self.by_design.items()
        ]
        lines += [
            f"  every audit: {count} human-ceiling {metric} rows not compared, changed by design "
            f"({CEILING_CHANGED_BY_DESIGN[metric]})"
            for metric, count in self.ceiling_by_design.items()
        ]
        total = (
            sum(max(b, c) for b, c in self.rows.values())
            - sum(self.by_design.values())
            - sum(self.ceiling_by_design.values())
        )
        added = (
            (
                f"; {self.added} rows of metrics or judges added since the baseline ({', '.join(self.added_entries)}) are "
                "in the current tree only"
            )
            if self.added
            else ""
        )
        if self.identical:
            return "\n".join(
                [
                    f"identical: {total - self.added} metric rows in {len(self.rows)} audits "
                    f"({', '.join(VALUE_FIELDS)} equal on every row){added}",
                    *lines,
                ]
            )
        counts = (
            f"{self.changed_values} values changed in {self.changed_rows} rows; rows only in the baseline: "
            f"{self.only_baseline}, only in the current tree: {self.only_current}; "
            + (f"warnings on one side only: {self.changed_warnings}; " if self.warnings else "")
            + f"failed runs or missing audits: {self.failed}"
        )
        shown = self.differences[:SHOWN]
        more = len(self.differences) - len(shown)
        return "\n".join(
            [
                f"DIFFERENT: {counts}",
                *lines,
                f"first {len(shown)} of {len(self.differences)} differences (baseline -> current):",
                *(f"  {d}" for d in shown),
                *([f"  ... and {more} more"] if more else []),
            ]
        )


def added_entry(key: tuple, added: Iterable[str]) -> str | None:
    """The entry of ``added`` that makes a row (metric, judge, reference, slice, ...) one of a metric added since the
    baseline, or None: an entry ``METRIC`` matches its rows in every slice, ``METRIC@SLICE`` (shell-style patterns)
    those in matching slices.

    >>> added_entry(("agreement", "j", "human", "ties=excluded"), ["brennan_prediger", "*@ties=excluded"])
    '*@ties=excluded'
    >>> added_entry(("agreement", "j", "human", None), ["*@ties=excluded", "brennan_prediger"]) is None
    True
    """
    metric, slice_ = key[0], key[3] or ""
    for entry in added:
        name, sep, slices = entry.partition("@")
        if fnmatchcase(metric, name) and (not sep or fnmatchcase(slice_, slices)):
            return entry
    return None


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


_ABSENT = _Absent()


def _show(value: object) -> str:
    return "null" if value is None else repr(value)


def _label(key: tuple) -> str:
    metric, judge, reference, slice_, *occurrence = key
    text = f"{metric} [{judge} vs {reference}" + (f", slice {slice_}" if slice_ is not None else "") + "]"
    return text + (f" (repeat #{occurrence[0]})" if occurrence else "")


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def audit_document(path: Path) -> dict:
    """An ``audit.json``: a dict with a ``metrics`` list (and a ``warnings`` list, empty where it has none)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: not a readable audit.json ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), list):
        raise BadInput(f"{path}: not an audit.json (no 'metrics' list)")
    if not isinstance(doc.get("warnings", []), list):
        raise BadInput(f"{path}: not an audit.json ('warnings' is not a list)")
    return doc


def compare_outputs(
    baseline: dict[str, Path | str],
    current: dict[str, Path | str],
    added: tuple[str, ...] = ADDED_SINCE_BASELINE,
    by_design_since_default: bool = True,
) -> Comparison:
    """Compare two sides' audits: ``{audit name: audit.json path, or the error message of its failed run}``."""
    comparison = Comparison(added_metrics=added, by_design_since_default=by_design_since_default)
    for name in list(baseline) + [n for n in current if n not in baseline]:
        before, after = baseline.get(name), current.get(name)
        problems = [
            f"{name}: {side}: {'no audit.json' if found is None else found}"
            for side, found in (("baseline", before), ("current tree", after))
            if not isinstance(found, Path)
        ]
        if problems:
            for problem in problems:
                comparison.add_failure(problem)
            continue
        docs = audit_document(before), audit_document(after)
        comparison.add_audit(name, docs[0]["metrics"], docs[1]["metrics"])
        comparison.add_warnings(name, docs[0].get("warnings", []), docs[1].get("warnings", []))
    return comparison


# ----------------------------------------------------------------------------------------------------------------
# running the audits on one tree


def _auditor(tree: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """``python -m auditor ARGS`` with PYTHONPATH and the working directory at ``tree`` (a timeout: exit -1)."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    command = [sys.executable, "-m", "auditor", *args]
    try:
        return subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, -1, "", f"no answer within {timeout:.0f} s (--timeout)")


def _check_imports_from(tree: Path) -> None:
    """The subprocesses must import ``auditor`` from ``tree``, not from an installed copy."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    code = "import auditor, judges, reports; print(auditor.__file__, judges.__file__, reports.__file__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, capture_output=True, text=True)
    files = done.stdout.split()
    if (
        done.returncode
        or len(files) != 3
        or not all(Path(f).resolve().is_relative_to(tree.resolve()) for f in files)
    ):
        found = done.stdout.strip() or " ".join(done.stderr.strip().splitlines()[-1:])
        raise BadInput(f"{tree}: python does not import auditor, judges and reports from this tree ({found})")


def _failure(args: Sequence[str], done: subprocess.CompletedProcess) -> str:
    tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    return f"`auditor {' '.join(args)}` exited {done.returncode} ({tail})"


def run_audits(
    tree: Path, work: Path, audits: Sequence[str], data: Path, bootstrap: int | None, timeout: float, log=None
) -> dict[str, Path | str]:
    """Run ``audits`` with the code of ``tree`` (outputs in ``work``): ``{audit name: audit.json or error}``."""
    found: dict[str, Path | str] = {}
    extra = ["--bootstrap", str(bootstrap)] if bootstrap is not None else []
    for audit in audits:
        started = time.perf_counter()
        if audit == "demo":
            out = work / "demo"
            args = ["demo", "--out", str(out), "--format", "json", "--quiet", *extra]
            done = _auditor(tree, *args, timeout=timeout)
            if done.returncode:
                found["demo"] = _failure(args, done)
            else:
                for path in sorted(out.rglob("audit.json")):
                    found["/".join(("demo", *path.parent.relative_to(out).parts))] = path
        else:
            study, out = work / audit / "study", work / audit / "out"
            steps = (
                ["convert", audit, str(data / DATASETS[audit]), "--out", str(study)],
                ["audit", str(study), "--out", str(out), "--format", "json", "--quiet", *extra],
            )
            for args in steps:
                done = _auditor(tree, *args, timeout=timeout)
                if done.returncode:
                    found[audit] = _failure(args, done)
                    break
            else:
                found[audit] = out / "audit.json"
        if log:
            log(f"  {audit}: {time.perf_counter() - started:.0f} s")
    return found


# ----------------------------------------------------------------------------------------------------------------
# the baseline worktree


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def resolve_revision(repo: Path, revision: str) -> str:
    """The full commit id of ``revision`` in ``repo``'s history, or BadInput."""
    done = _git(repo, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if done.returncode:
        raise BadInput(
            f"unknown revision {revision!r} in {repo} (a shallow clone may lack it: git fetch --unshallow)"
        )
    return done.stdout.strip()


class BaselineWorktree:
    """A detached ``git worktree`` of ``commit`` in a temporary folder, removed on exit."""

    def __init__(self, repo: Path, commit: str, parent: Path) -> None:
        self.repo, self.commit, self.path = repo, commit, parent / "baseline-tree"

    def __enter__(self) -> Path:
        done = _git(self.repo, "worktree", "add", "--detach", "--quiet", str(self.path), self.commit)
        if done.returncode:
            raise BadInput(f"git worktree add of {self.commit[:12]} failed: {done.stderr.strip()}")
        return self.path

    def __exit__(self, *exc: object) -> None:
        _git(self.repo, "worktree", "remove", "--force", str(self.path))
        _git(self.repo, "worktree", "prune")


# ----------------------------------------------------------------------------------------------------------------
# the command line


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--baseline",
        default=DEFAULT_BASELINE,
        metavar="REV",
        help=f"git revision to compare with (default {DEFAULT_BASELINE}, main before issue 14)",
    )
    parser.add_argument(
        "--tree",
        type=Path,
        default=TREE,
        help="the current tree, its working files as they are (default: this repository)",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="the public datasets (default $AUDITOR_SHARED_DATA, else ../shared/data beside the tree)",
    )
    parser.add_argument(
        "--only", default=",".join(AUDITS), help=f"audits to run, comma-separated: {', '.join(AUDITS)}"
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=None,
        help="bootstrap resamples for every audit, both sides (default: the commands' own, 2000)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep both sides' outputs in this folder (baseline/, current/)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per command (default 1800)")
    parser.add_argument(
        "--files",
        nargs=2,
        type=Path,
        metavar=("BASELINE_JSON", "CURRENT_JSON"),
        help="only compare the metric rows of two saved audit.json files",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="with --files: compare every row on every field, setting nothing aside as changed or added by design "
        "since the default baseline (what --baseline does against any other revision)",
    )
    parser.add_argument(
        "--added",
        default=None,
        metavar="NAMES",
        help="metrics added on purpose since the baseline, comma-separated, each METRIC or METRIC@SLICE (shell "
        f"patterns): their rows in the current tree only are listed, not differences (default: "
        f"ADDED_SINCE_BASELINE against the default baseline {DEFAULT_BASELINE}, none otherwise)",
    )
    return parser.parse_args(argv)


def _data_root(args: argparse.Namespace, audits: Sequence[str]) -> Path:
    data = args.data or Path(
        os.environ.get("AUDITOR_SHARED_DATA") or args.tree.resolve().parent / "shared" / "data"
    )
    missing = [str(data / DATASETS[a]) for a in audits if a in DATASETS and not (data / DATASETS[a]).is_dir()]
    if missing:
        raise BadInput(f"data folder missing: {', '.join(missing)} (give --data or set AUDITOR_SHARED_DATA)")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        added = tuple(name.strip() for name in (args.added or "").split(",") if name.strip())
        if args.files:
            if args.added is None and not args.strict:
                added = ADDED_SINCE_BASELINE
            comparison = Comparison(added_metrics=added, by_design_since_default=not args.strict)
            docs = [audit_document(path) for path in args.files]
            comparison.add_audit(args.files[1].name, docs[0]["metrics"], docs[1]["metrics"])
            comparison.add_warnings(
                args.files[1].name, docs[0].get("warnings", []), docs[1].get("warnings", [])
            )
            print(comparison.report())
            return 0 if comparison.identical else 1
        audits = [a.strip() for a in args.only.split(",") if a.strip()]
        unknown = [a for a in audits if a not in AUDITS]
        if unknown or not audits:
            raise BadInput(
                f"unknown audit(s) {', '.join(unknown) or '(none)'} in --only; expected {', '.join(AUDITS)}"
            )
        tree = args.tree.resolve()
        if not (tree / "auditor").is_dir():
            raise BadInput(f"{tree}: not a tree holding the auditor package")
        data = _data_root(args, audits).resolve()
        repo = Path(_git(tree, "rev-parse", "--show-toplevel").stdout.strip() or TREE)
        commit = resolve_revision(repo, args.baseline)
        try:
            since_default = commit == resolve_revision(repo, DEFAULT_BASELINE)
        except BadInput:  # a shallow clone without the default baseline: nothing to set aside
            since_default = False
        if args.added is None and since_default:
            added = ADDED_SINCE_BASELINE
        _check_imports_from(tree)
        with tempfile.TemporaryDirectory(prefix="compare-metrics-") as scratch:
            scratch = Path(scratch)
            work = args.keep.resolve() if args.keep else scratch
            for side in ("baseline", "current"):
                shutil.rmtree(work / side, ignore_errors=True)
            with BaselineWorktree(repo, commit, scratch) as baseline_tree:
                _check_imports_from(baseline_tree)
                sides = {}
                for side, side_tree in (("baseline", baseline_tree), ("current", tree)):
                    label = f"{args.baseline} ({commit[:12]})" if side == "baseline" else str(tree)
                    print(f"{side}: {label}", file=sys.stderr, flush=True)
                    started = time.perf_counter()
                    sides[side] = run_audits(
                        side_tree,
                        work / side,
                        audits,
                        data,
                        args.bootstrap,
                        args.timeout,
                        log=lambda line: print(line, file=sys.stderr, flush=True),
                    )
                    print(
                        f"  {side} total: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True
                    )
                comparison = compare_outputs(sides["baseline"], sides["current"], added, since_default)
        print(comparison.report())
        return 0 if comparison.identical else 1
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
