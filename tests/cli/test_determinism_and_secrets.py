"""Determinism (the same inputs and seed give a byte-identical audit.json) and secrets (an API key in the
environment never reaches a file the run wrote, nor its output)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli

FILES = Path(__file__).resolve().parent / "bad_inputs" / "files"
SENTINEL = "sk-SENTINEL-3f9c2a7e51d04b8f9e6a"
SECRET_ENV = {
    "OPENAI_API_KEY": SENTINEL,
    "AUDITOR_API_KEY": SENTINEL,
    "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
    "AZURE_OPENAI_API_KEY": SENTINEL,
    "HF_TOKEN": SENTINEL,
}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("study")
    proc = run_cli("simulate", "--out", str(folder / "study"), "--seed", "11")
    assert proc.returncode == 0, proc.stderr
    return folder / "study"


def test_same_inputs_and_seed_give_byte_identical_audit_json(study, tmp_path):
    outs = []
    for run, hash_seed in ((1, "1"), (2, "987")):  # a different hash seed catches set-order dependence
        out = tmp_path / f"run{run}"
        proc = run_cli(
            "audit",
            str(study),
            "--out",
            str(out),
            "--bootstrap",
            "200",
            "--seed",
            "5",
            "--quiet",
            "--format",
            "json",
            cwd=tmp_path,
            env={"PYTHONHASHSEED": hash_seed},
        )
        assert proc.returncode == 0, proc.stderr
        outs.append((out / "audit.json").read_bytes())
    assert outs[0] == outs[1]


def test_another_seed_changes_the_intervals_not_the_estimates(study, tmp_path):
    import json

    docs = []
    for seed in ("5", "6"):
        out = tmp_path / f"seed{seed}"
        proc = run_cli(
            "audit",
            str(study),
            "--out",
            str(out),
            "--bootstrap",
            "200",
            "--seed",
            seed,
            "--quiet",
            "--format",
            "json",
        )
        assert proc.returncode == 0, proc.stderr
        docs.append(json.loads((out / "audit.json").read_text(encoding="utf-8")))
    # agreement_z_vs_ceiling divides by standard errors read from the intervals: it moves with the seed, as they do
    values = [[m["value"] for m in d["metrics"] if m["metric"] != "agreement_z_vs_ceiling"] for d in docs]
    lows = [[m["ci_low"] for m in d["metrics"]] for d in docs]
    assert values[0] == values[1] and lows[0] != lows[1]


def test_demo_is_byte_identical_across_runs(tmp_path):
    import shutil

    docs = []
    out = tmp_path / "demo"  # the same folder both times: audit.json records the study's path
    for run in (1, 2):
        shutil.rmtree(out, ignore_errors=True)
        proc = run_cli(
            "demo",
            "--out",
            str(out),
            "--bootstrap",
            "200",
            "--quiet",
            "--format",
            "json",
            cwd=tmp_path,
            env={"PYTHONHASHSEED": str(run * 13)},
        )
        assert proc.returncode == 0, proc.stderr
        docs.append((out / "audit.json").read_bytes())
    assert docs[0] == docs[1]


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _assert_no_sentinel(proc, folder: Path) -> None:
    assert SENTINEL not in proc.stdout and SENTINEL not in proc.stderr
    assert "SENTINEL" not in proc.stdout + proc.stderr
    written = _files_under(folder)
    for path in written:
        data = path.read_bytes()
        assert SENTINEL.encode() not in data and b"SENTINEL" not in data, f"{path} holds the API key"


def test_api_key_never_reaches_demo_files_or_output(tmp_path):
    proc = run_cli(
        "demo", "--out", str(tmp_path / "demo"), "--bootstrap", "100", cwd=tmp_path, env=SECRET_ENV
    )
    assert proc.returncode == 0, proc.stderr
    assert len(_files_under(tmp_path)) >= 4  # audit.json, report.md, report.html, the study
    _assert_no_sentinel(proc, tmp_path)


def test_api_key_never_reaches_audit_files_or_output(tmp_path):
    proc = run_cli(
        "audit",
        str(FILES / "good_labels.jsonl"),
        "--items",
        str(FILES / "good_items.jsonl"),
        "--task",
        "pairwise",
        "--out",
        str(tmp_path / "out"),
        "--bootstrap",
        "100",
        cwd=tmp_path,
        env=SECRET_ENV,
    )
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in _files_under(tmp_path / "out")} >= {"audit.json", "report.md", "report.html"}
    _assert_no_sentinel(proc, tmp_path)


def test_api_key_never_reaches_an_error_message(tmp_path):
    proc = run_cli(
        "audit",
        str(FILES / "labels_truncated_line.jsonl"),
        "--items",
        str(FILES / "good_items.jsonl"),
        "--task",
        "pairwise",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=SECRET_ENV,
    )
    assert proc.returncode == 2
    _assert_no_sentinel(proc, tmp_path)
