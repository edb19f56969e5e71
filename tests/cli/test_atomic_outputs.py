"""A failed run leaves an existing output folder exactly as it was: no file replaced, none added, no temp file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

FILES = Path(__file__).resolve().parent / "bad_inputs" / "files"


def _audit(labels: str, out: Path):
    """``auditor audit`` of a corpus labels file with the good items into ``out`` (no resampling)."""
    return run_cli(
        "audit",
        str(FILES / labels),
        "--items",
        str(FILES / "good_items.jsonl"),
        "--task",
        "pairwise",
        "--out",
        str(out),
        "--bootstrap",
        "0",
        "--quiet",
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "bad", ["labels_unknown_pairwise_label.jsonl", "labels_truncated_line.jsonl", "labels_ragged_row.csv"]
)
def test_failed_audit_keeps_the_previous_outputs(tmp_path, bad):
    out = tmp_path / "out"
    good = _audit("good_labels.jsonl", out)
    assert good.returncode == 0, good.stderr
    before = _snapshot(out)
    assert {"audit.json", "report.md", "report.html"} <= set(before)
    proc = _audit(bad, out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _snapshot(out) == before


def test_failed_report_keeps_the_previous_outputs(tmp_path):
    out = tmp_path / "out"
    good = _audit("good_labels.jsonl", out)
    assert good.returncode == 0, good.stderr
    before = _snapshot(out)
    proc = run_cli(
        "report", str(FILES / "audit_truncated.json"), "--out", str(out), "--format", "md,html", "--quiet"
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert _snapshot(out) == before
