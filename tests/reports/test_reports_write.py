"""write_reports: chosen formats, file names, atomic replacement, valid JSON, nothing written on failure."""

from __future__ import annotations

import json
import math
import os
import stat

import numpy as np
import pytest
from report_fixtures import build_pairwise_audit

import reports
from reports import write as write_module


def test_writes_each_requested_format_under_its_name(tmp_path):
    out = tmp_path / "new" / "dir"
    paths = reports.write_reports(build_pairwise_audit(), out, ["md", "html", "json"])
    assert [p.name for p in paths] == ["report.md", "report.html", "audit.json"]
    assert json.loads((out / "audit.json").read_text())["title"] == "PandaLM test set"
    assert (out / "report.md").read_text().startswith("# PandaLM test set")
    assert "<!DOCTYPE html>" in (out / "report.html").read_text()
    assert sorted(os.listdir(out)) == ["audit.json", "report.html", "report.md"]  # no temp file left


def test_formats_accept_a_comma_string_and_reject_unknown_ones(tmp_path):
    paths = reports.write_reports(build_pairwise_audit(), tmp_path, "html, md,md")
    assert [p.name for p in paths] == ["report.html", "report.md"]
    with pytest.raises(ValueError, match="unknown report format 'pdf'"):
        reports.write_reports(build_pairwise_audit(), tmp_path / "x", ["md", "pdf"])
    assert not (tmp_path / "x").exists()


def test_json_is_valid_with_nan_numpy_and_infinite_values(tmp_path):
    audit = build_pairwise_audit()
    audit["metrics"][0]["value"] = float("nan")
    audit["metrics"][1]["ci_low"] = float("-inf")
    audit["metrics"][2]["n"] = np.int64(7)
    audit["metrics"][3]["value"] = np.float64("nan")
    (path,) = reports.write_reports(audit, tmp_path, ["json"])
    doc = json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}"))
    assert doc["metrics"][0]["value"] is None and doc["metrics"][1]["ci_low"] is None
    assert doc["metrics"][2]["n"] == 7 and doc["metrics"][3]["value"] is None
    assert math.isclose(doc["metrics"][4]["value"], audit["metrics"][4]["value"])


def test_audit_json_alone_is_the_same_file_as_beside_the_reports_from_a_dict_a_model_or_a_result(tmp_path):
    """audit.json alone is written from the document without a report model: the same bytes as when the model is
    built for report.md, from an audit dict, a built model or an object with ``to_dict()``."""
    audit = build_pairwise_audit()
    audit["metrics"][0]["value"] = np.float64("nan")

    class Result:
        def to_dict(self):
            return audit

    reports.write_reports(audit, tmp_path / "both", ["md", "json"])
    expected = (tmp_path / "both" / "audit.json").read_bytes()
    for name, source in (("dict", audit), ("model", reports.build_model(audit)), ("result", Result())):
        (path,) = reports.write_reports(source, tmp_path / name, ["json"])
        assert path.read_bytes() == expected, name
    assert json.loads(expected)["metrics"][0]["value"] is None


def test_a_rendering_error_leaves_the_old_files_untouched(tmp_path, monkeypatch):
    reports.write_reports(build_pairwise_audit(), tmp_path, ["md"])
    before = (tmp_path / "report.md").read_text()

    def broken(audit):
        raise RuntimeError("render failed")

    monkeypatch.setitem(write_module.RENDERERS, "html", broken)
    with pytest.raises(RuntimeError):
        reports.write_reports({"title": "new"}, tmp_path, ["md", "html"])
    assert (tmp_path / "report.md").read_text() == before
    assert sorted(os.listdir(tmp_path)) == ["report.md"]


def test_a_failed_write_removes_its_temp_file(tmp_path, monkeypatch):
    import auditor.io

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(auditor.io.os, "replace", failing_replace)
    with pytest.raises(OSError):
        reports.write_reports(build_pairwise_audit(), tmp_path, ["md"])
    assert os.listdir(tmp_path) == []


def test_written_files_are_readable_like_ordinary_files(tmp_path):
    old = os.umask(0o022)
    try:
        (path,) = reports.write_reports(build_pairwise_audit(), tmp_path, ["md"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_audit_json_has_one_line_per_key_metric_row_and_case_and_loads_back_equal(tmp_path):
    """audit.json's layout: an object one key per line (two spaces a level), every metric row, case and
    confusion entry on its own single line, a list of plain values on one line; the text loads back to the
    document it was written from, in the same key order."""
    audit = build_pairwise_audit()
    audit["cases"]["items"] = [
        {"item_id": "i1", "verdicts": [{"judge": "human", "label": "a"}], "judge_labels": {"gpt": "b"}},
        {"item_id": 'i2 \u00e9 "quoted"\nline', "verdicts": [], "judge_labels": {}},
    ]
    (path,) = reports.write_reports(audit, tmp_path, ["json"])
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(audit, default=str))
    assert list(json.loads(text)) == list(audit)
    lines = text.splitlines()
    assert lines[0] == "{" and lines[-1] == "}" and text.endswith("}\n")
    assert lines[1] == f'  "auditor_version": {json.dumps(audit["auditor_version"])},'
    assert f'  "judges": {json.dumps(audit["judges"])},' in lines
    for key in ("metrics", "confusion"):
        rows = [json.loads(line.strip().rstrip(",")) for line in lines if line.startswith("    {")]
        assert all(row in rows for row in audit[key]), key
    assert '  "cases": {' in lines
    case_lines = [line for line in lines if line.startswith('      {"item_id": ')]
    assert [json.loads(line.strip().rstrip(",")) for line in case_lines] == audit["cases"]["items"]
    assert "\u00e9" in text  # UTF-8, not \u escapes
