"""The bad-input corpus (tests/cli/bad_inputs/cases.toml) through the real command line.

Every bad file gives exit code 2, no traceback, one message naming the file, the row and the column (where they
apply) and what was expected, and no output file: the ``--out`` folder is absent or empty afterwards.  Files that
must be tolerated (a byte-order mark, a 10 MB field, identical responses) give exit 0 and an audit.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.cli.bad_inputs.make_corpus import make_corpus
from tests.conftest import run_cli

CORPUS = Path(__file__).resolve().parent / "bad_inputs"
FILES = CORPUS / "files"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]
MAX_MESSAGE = 2_000  # a message never echoes a huge input


def _case_id(case: dict) -> str:
    base = case.get("name") or Path(case["file"]).name
    same = [c for c in CASES if (c.get("name") or c.get("file")) == (case.get("name") or case.get("file"))]
    return base if len(same) == 1 else f"{base}#{same.index(case) + 1}"


def _params():
    for case in CASES:
        marks = []
        if case.get("xfail"):
            marks.append(pytest.mark.xfail(strict=True, reason=case["xfail"]))
        yield pytest.param(case, id=_case_id(case), marks=marks)


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """The binary and large corpus files, written once per session (see make_corpus.py)."""
    folder = tmp_path_factory.mktemp("bad_inputs_generated")
    make_corpus(folder)
    return folder


@pytest.fixture(scope="session")
def good_audit_json(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("good_audit")
    proc = run_cli(
        "audit",
        str(FILES / "good_labels.jsonl"),
        "--items",
        str(FILES / "good_items.jsonl"),
        "--task",
        "pairwise",
        "--out",
        str(out),
        "--bootstrap",
        "200",
        "--quiet",
        "--format",
        "json",
    )
    assert proc.returncode == 0, proc.stderr
    return out / "audit.json"


def _command(case: dict, path: Path | None, out: Path, audit_json: Path | None) -> list[str]:
    how = case["as"]
    task = case.get("task", "pairwise")
    good_items, good_labels = (
        str(FILES / "good_items.jsonl"),
        str(FILES / case.get("labels", "good_labels.jsonl")),
    )
    common = ["--out", str(out), "--bootstrap", "0", "--quiet"]
    if how == "labels":
        return ["audit", str(path), "--items", good_items, "--task", task, *common]
    if how == "items":
        return ["audit", good_labels, "--items", str(path), "--task", task, *common]
    if how == "combined":
        return ["audit", str(path), "--task", task, *common]
    if how == "config":
        return ["audit", good_labels, "--items", good_items, "--config", str(path), *common]
    if how == "gate":
        return ["gate", str(audit_json), "--config", str(path), "--junit", str(out / "gates.xml")]
    if how == "report":
        return ["report", str(path), "--out", str(out), "--format", "md,html", "--quiet"]
    if how == "gate_audit":
        return [
            "gate",
            str(path),
            "--config",
            str(FILES / "gate_valid.toml"),
            "--junit",
            str(out / "gates.xml"),
        ]
    if how == "argv":
        subst = {"good_labels": good_labels, "good_items": good_items, "files": str(FILES), "out": str(out)}
        argv = [a.format(**subst) for a in case["argv"]]
        return argv + (["--out", str(out)] if argv[0] == "audit" else [])
    raise ValueError(f"unknown case kind {how!r}")


def test_corpus_is_large_enough(generated):
    files = {c["file"] for c in CASES if "file" in c}
    suffixes = {Path(f).suffix for f in files}
    assert len(files) >= 30 and {".jsonl", ".csv", ".parquet", ".toml"} <= suffixes
    for case in CASES:
        if "file" in case:
            where = generated if case.get("generated") else FILES
            assert (where / case["file"]).exists(), case["file"]


@pytest.mark.parametrize("case", _params())
def test_bad_input(case, generated, tmp_path, request):
    audit_json = None
    if case["as"] in ("gate", "gate_audit"):
        audit_json = request.getfixturevalue("good_audit_json")
    path = None
    if "file" in case:
        path = (generated if case.get("generated") else FILES) / case["file"]
    out = tmp_path / "out"
    args = _command(case, path, out, audit_json)
    try:
        proc = run_cli(*args, cwd=tmp_path, timeout=case.get("timeout", 120))
    except subprocess.TimeoutExpired:
        pytest.fail(f"no answer within {case.get('timeout', 120)} s")
    if case.get("expect", "error") == "ok":
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        doc = json.loads((out / "audit.json").read_text(encoding="utf-8"))
        if case.get("warning"):
            assert case["warning"] in {w["code"] for w in doc["warnings"]}, doc["warnings"]
        return
    assert proc.returncode == 2, f"exit {proc.returncode}: {proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    message = proc.stderr.strip()
    assert message, "no message on stderr"
    assert len(message) < MAX_MESSAGE, f"a {len(message)}-character message"
    if case.get("one_line", True):
        assert len(message.splitlines()) == 1, message
    flat = " ".join(message.split())
    if path is not None:
        assert path.name in flat, f"the message does not name the file {path.name}: {flat}"
    if case.get("row") is not None:
        assert f"row {case['row']}" in flat, f"expected row {case['row']}: {flat}"
    if case.get("column") is not None:
        assert f"column '{case['column']}'" in flat, f"expected column {case['column']!r}: {flat}"
    for fragment in case.get("fragments", []):
        assert fragment in flat, f"expected {fragment!r} in: {flat}"
    assert not out.exists() or not any(out.iterdir()), (
        f"a failed run wrote {sorted(p.name for p in out.iterdir())}"
    )
