"""Same numbers as before the redesign: ``scripts/compare_metrics.py`` runs the same audits on the baseline revision
(main before issue 14) and on this tree and finds every metric row (value, interval, n, p-values) identical.

The comparison goes through the command line only (``auditor demo``, ``auditor convert``, ``auditor audit``) and
reads ``audit.json``, so it keeps working however the code inside ``auditor`` moves.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "compare_metrics.py"
BASELINE = "c074434"  # main before issue 14; the script's default
DATA = Path(os.environ.get("AUDITOR_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASET_FOLDERS = {"pandalm": "pandalm_testset", "hanna": "hanna", "llmbar": "llmbar"}


def _compare(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def _rows_compared(stdout: str) -> dict[str, tuple[int, int]]:
    """``{audit: (baseline rows, current rows)}`` from the script's report (lines ``  NAME: N rows``, or ``  NAME: N
    rows in the baseline, M in the current tree`` when the current tree adds rows of metrics added since)."""
    found = re.findall(
        r"^  (\S+): (\d+) rows(?: in the baseline, (\d+) in the current tree)?$", stdout, flags=re.M
    )
    return {name: (int(before), int(after or before)) for name, before, after in found}


def _need_baseline() -> None:
    done = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", "--quiet", f"{BASELINE}^{{commit}}"],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(
            f"the baseline revision {BASELINE} is not in this clone's history (a shallow clone or not a git "
            "checkout); git fetch --unshallow to run the same-numbers comparison"
        )


def _need_data(*audits: str) -> Path:
    for audit in audits:
        if audit in DATASET_FOLDERS and not (DATA / DATASET_FOLDERS[audit]).is_dir():
            pytest.skip(
                f"public dataset folder {DATA / DATASET_FOLDERS[audit]} is missing (it sits beside the "
                "repository in the project's workspace and CI; a fresh clone alone does not have it)"
            )
    return DATA


@pytest.fixture(scope="module")
def pandalm_run(tmp_path_factory):
    """PandaLM through both trees (about 20 s), outputs kept: (completed process, kept folder)."""
    _need_baseline()
    data = _need_data("pandalm")
    kept = tmp_path_factory.mktemp("same-numbers-pandalm")
    return _compare("--only", "pandalm", "--data", str(data), "--keep", str(kept)), kept


def test_pandalm_metric_rows_identical_to_the_baseline(pandalm_run):
    done, kept = pandalm_run
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("identical:")
    rows = _rows_compared(done.stdout)
    assert set(rows) == {"pandalm"} and rows["pandalm"][0] > 50
    for side, count in zip(("baseline", "current"), rows["pandalm"], strict=True):
        doc = json.loads((kept / side / "pandalm" / "out" / "audit.json").read_text(encoding="utf-8"))
        assert len(doc["metrics"]) == count
        assert any(row["p_adjusted"] is not None and row["ci_low"] is not None for row in doc["metrics"])


def _perturbed(doc: dict) -> tuple[dict, dict]:
    """A copy of ``doc`` with one value moved by one ulp, one row dropped, one n turned into a float."""
    metrics = [dict(row) for row in doc["metrics"]]
    dropped = metrics.pop()
    moved = next(row for row in metrics if isinstance(row["value"], float))
    moved["value"] = math.nextafter(moved["value"], math.inf)
    counted = next(row for row in metrics if isinstance(row["n"], int) and row is not moved)
    counted["n"] = float(counted["n"])
    return {**doc, "metrics": metrics}, {"moved": moved, "counted": counted, "dropped": dropped}


def test_a_number_moved_by_one_ulp_fails_with_a_readable_diff(pandalm_run, tmp_path):
    _, kept = pandalm_run
    before = kept / "baseline" / "pandalm" / "out" / "audit.json"
    doc = json.loads(before.read_text(encoding="utf-8"))
    changed, what = _perturbed(doc)
    after = tmp_path / "audit.json"
    after.write_text(json.dumps(changed), encoding="utf-8")

    same = _compare("--files", str(before), str(kept / "current" / "pandalm" / "out" / "audit.json"))
    assert same.returncode == 0 and same.stdout.startswith("identical:"), same.stdout + same.stderr
    done = _compare("--files", str(before), str(after))
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith(
        "DIFFERENT: 2 values changed in 2 rows; rows only in the baseline: 1, only in "
        "the current tree: 0; failed runs or missing audits: 0"
    )
    moved, dropped = what["moved"], what["dropped"]
    assert f"{moved['metric']} [{moved['judge']} vs {moved['reference']}" in done.stdout
    assert f"value {math.nextafter(moved['value'], -math.inf)!r} -> {moved['value']!r}" in done.stdout
    assert f"n {what['counted']['n']:.0f} -> {what['counted']['n']!r}" in done.stdout
    assert f"{dropped['metric']} [{dropped['judge']} vs {dropped['reference']}" in done.stdout
    assert "row only in the baseline" in done.stdout

    every = {**doc, "metrics": [{**row, "value": "moved"} for row in doc["metrics"]]}
    after.write_text(json.dumps(every), encoding="utf-8")
    many = _compare("--files", str(before), str(after))
    assert many.returncode == 1
    shown = re.findall(r"^  audit\.json: .*: value \S+ -> 'moved'$", many.stdout, flags=re.M)
    assert len(shown) == 30 and f"first 30 of {len(doc['metrics'])} differences" in many.stdout
    assert f"  ... and {len(doc['metrics']) - 30} more" in many.stdout


#: One metric row of audit.json, for the comparisons of hand-made files.
ROW = {
    "metric": "agreement",
    "judge": "j",
    "reference": "human",
    "value": 0.5,
    "ci_low": 0.4,
    "ci_high": 0.6,
    "n": 10,
    "p_value": None,
    "p_adjusted": None,
    "slice": None,
}


def test_rows_of_a_metric_added_on_purpose_are_listed_not_differences(tmp_path):
    row = dict(ROW)
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps({"metrics": [row]}), encoding="utf-8")
    after.write_text(json.dumps({"metrics": [row, {**row, "metric": "brennan_prediger"}]}), encoding="utf-8")
    listed = _compare("--files", str(before), str(after))
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "1 rows of metrics or judges added since the baseline (brennan_prediger)" in listed.stdout
    strict = _compare("--files", str(before), str(after), "--added", "")
    assert strict.returncode == 1 and "row only in the current tree" in strict.stdout
    assert _compare("--files", str(before), str(after), "--strict").returncode == 1


def test_strict_comparison_sets_nothing_aside(tmp_path):
    """What is set aside against the default baseline (a human-ceiling gwet_ac1 row whose n changed, the rows of
    a trivial baseline judge, the demo's PPI rows compared on value and n only) is a difference when the baseline is
    another revision (``--baseline main``, where ``main`` calls ``compare_outputs(..., by_design_since_default=False)``)
    or with ``--files ... --strict``."""
    row = dict(ROW)
    ceiling = {**row, "metric": "gwet_ac1", "judge": "human"}
    baseline_judge = {**row, "judge": "baseline:random"}
    before = [row, ceiling]
    after = [row, {**ceiling, "n": 3, "value": 0.9}, baseline_judge]
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import compare_metrics
    finally:
        sys.path.remove(str(SCRIPT.parent))
    lenient = compare_metrics.Comparison(by_design_since_default=True)
    lenient.add_audit("pandalm", before, after)
    assert lenient.identical and lenient.ceiling_by_design == {"gwet_ac1": 1} and lenient.added == 1
    strict = compare_metrics.Comparison(added_metrics=(), by_design_since_default=False)
    strict.add_audit("pandalm", before, after)
    assert not strict.identical and strict.changed_rows == 1 and strict.only_current == 1
    ppi = {**row, "metric": "ppi_win_rate", "ci_low": 0.3}
    demo = compare_metrics.Comparison(added_metrics=(), by_design_since_default=False)
    demo.add_audit("demo", [row, {**ppi, "ci_low": 0.35}], [row, ppi])
    assert demo.changed_rows == 1, "the demo's PPI intervals are compared too"
    for name, text in (("before.json", before), ("after.json", after)):
        (tmp_path / name).write_text(json.dumps({"metrics": text}), encoding="utf-8")
    files = _compare("--files", str(tmp_path / "before.json"), str(tmp_path / "after.json"), "--strict")
    assert files.returncode == 1 and "gwet_ac1 [human vs human]: value 0.5 -> 0.9" in files.stdout


def test_strict_comparison_compares_the_warnings(tmp_path):
    """A warning whose count or wording changed, or that one side alone gives, is a difference in a strict comparison
    (in any order); against the default baseline the warnings are not compared (they changed on purpose)."""
    warning = {"code": "constant_rater", "message": "rater r1 gave one label to every item", "count": 1}
    before = {"metrics": [ROW], "warnings": [warning, {**warning, "code": "single_cluster"}]}
    same = {"metrics": [ROW], "warnings": [{**warning, "code": "single_cluster"}, warning]}
    moved = {"metrics": [ROW], "warnings": [{**warning, "count": 2}]}
    paths = {}
    for name, doc in (("before", before), ("same", same), ("moved", moved)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(doc), encoding="utf-8")
    kept = _compare("--files", str(paths["before"]), str(paths["same"]), "--strict")
    assert kept.returncode == 0 and "warnings: 2 in 1 audits, compared on every field" in kept.stdout, (
        kept.stdout
    )
    done = _compare("--files", str(paths["before"]), str(paths["moved"]), "--strict")
    assert done.returncode == 1 and "warnings on one side only: 3" in done.stdout, done.stdout
    assert 'warning only in the current tree: {"code": "constant_rater", "count": 2' in done.stdout
    assert _compare("--files", str(paths["before"]), str(paths["moved"])).returncode == 0


def test_a_changed_default_in_the_code_fails_end_to_end(tmp_path):
    """A tree whose audits move a number (the baseline's code with the interval level 0.95 -> 0.9) exits 1 (200
    resamples: this proves the failure path, not the numbers)."""
    _need_baseline()
    data = _need_data("hanna")
    tree = tmp_path / "changed-tree"
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", BASELINE], capture_output=True, check=True
    ).stdout
    tree.mkdir()
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    config = tree / "auditor" / "config.py"  # a fixed file of the fixed baseline commit
    text = config.read_text(encoding="utf-8")
    assert text.count("level: float = 0.95") == 1
    config.write_text(text.replace("level: float = 0.95", "level: float = 0.9"), encoding="utf-8")

    done = _compare("--only", "hanna", "--data", str(data), "--tree", str(tree), "--bootstrap", "200")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.startswith("DIFFERENT: ")
    changed = int(
        re.match(
            r"DIFFERENT: \d+ values changed in (\d+) rows; rows only in the baseline: 0, only in the "
            r"current tree: 0;",
            done.stdout,
        ).group(1)
    )
    assert changed > 10
    diffs = re.findall(r"^  hanna: (.*)$", done.stdout, flags=re.M)[1:]  # after the row count line
    assert len(diffs) == changed and all(
        re.search(r"ci_low \S+ -> \S+, ci_high \S+ -> \S+$", d) for d in diffs
    )
    assert not any(
        "value " in d or " n " in d for d in diffs
    )  # the level moves the intervals, not the values
    shutil.rmtree(tree)


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    unknown = _compare("--only", "demo", "--baseline", "no-such-revision-anywhere")
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert (
        unknown.stderr.count("\n") == 1 and "unknown revision 'no-such-revision-anywhere'" in unknown.stderr
    )
    missing = _compare("--only", "hanna", "--data", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert f"data folder missing: {tmp_path / 'nothing' / 'hanna'}" in missing.stderr
    wrong = _compare("--only", "hanna,nope")
    assert wrong.returncode == 2 and "unknown audit(s) nope" in wrong.stderr


@pytest.mark.full
def test_demo_and_every_dataset_audit_identical_to_the_baseline():
    """The whole proof: ``auditor demo`` (main study and the extraction, relevance and probes sub-audits) and the
    PandaLM, HANNA and LLMBar audits at their default 2,000 resamples."""
    _need_baseline()
    data = _need_data(*DATASET_FOLDERS)
    done = _compare("--data", str(data))
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _rows_compared(done.stdout)
    assert set(rows) == {
        "demo",
        "demo/extraction",
        "demo/relevance",
        "demo/probes",
        "pandalm",
        "hanna",
        "llmbar",
    }
    assert all(before > 0 and after >= before for before, after in rows.values())
