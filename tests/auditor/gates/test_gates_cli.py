"""`auditor gate` on the PandaLM audit: exit codes, the JUnit file, $GITHUB_STEP_SUMMARY and ::error:: annotations.

Three ways in: a local typer app that ``auditor.cli.gate.register`` fills (CliRunner), ``python -m auditor.cli.gate``
(a subprocess, the gate command alone) and ``python -m auditor gate`` (a subprocess through the project's CLI).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from auditor.cli.gate import register
from auditor.errors import ConfigError
from auditor.gates import run_gates
from tests.conftest import REPO, SHARED_DATA, run_cli, shared_dataset

# gpt-3.5-turbo: kappa 0.493, interval about [0.45, 0.54]; pandalm-7b: kappa 0.435, interval about [0.39, 0.48]
ONE_PASS_ONE_FAIL = """\
[[rule]]
metric = "cohen_kappa"
judge = "gpt-3.5-turbo"
bound = "ci_low"
op = ">="
threshold = 0.40

[[rule]]
name = "PandaLM-7B kappa floor"
metric = "cohen_kappa"
judge = "pandalm-7b"
bound = "ci_low"
op = ">="
threshold = 0.60
"""

MISSPELT = """\
[[rule]]
metric = "cohen_kapa"
judge = "gpt-3.5-turbo"
bound = "ci_low"
op = ">="
threshold = 0.40
"""


@pytest.fixture
def gates_file(tmp_path) -> Path:
    path = tmp_path / "gates.toml"
    path.write_text(ONE_PASS_ONE_FAIL, encoding="utf-8")
    return path


@pytest.fixture
def misspelt_file(tmp_path) -> Path:
    path = tmp_path / "misspelt.toml"
    path.write_text(MISSPELT, encoding="utf-8")
    return path


@pytest.fixture
def ci_env(tmp_path, monkeypatch) -> Path:
    """A GitHub Actions environment with a step summary that already holds an earlier step's text."""
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    return summary


def _local_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """A callback keeps typer from collapsing a one-command app into that command."""

    register(app)
    return app


def _assert_one_failure(junit: Path) -> None:
    root = ET.parse(junit).getroot()
    cases = root.findall("./testsuite/testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(cases) == 2 and root.get("failures") == "1"
    assert [c.get("name") for c in failures] == ["PandaLM-7B kappa floor [pandalm-7b]"]
    assert "cohen_kappa ci_low = 0.3" in failures[0].find("failure").get("message")


def _assert_summary(summary: Path) -> None:
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## ")  # appended, never overwritten
    assert "**1 of 2 gate checks fail**" in text
    assert "| 2 | PandaLM-7B kappa floor | pandalm-7b |" in text and "**FAIL**" in text


# -- the command through a local typer app --------------------------------------------------------------------------
def test_one_passing_one_failing_rule_exits_1_with_junit_and_step_summary(
    pandalm_audit_json, gates_file, ci_env, tmp_path
):
    junit = tmp_path / "out" / "gates.xml"
    result = CliRunner().invoke(
        _local_app(), ["gate", str(pandalm_audit_json), "--config", str(gates_file), "--junit", str(junit)]
    )
    assert result.exit_code == 1, result.output
    _assert_one_failure(junit)
    _assert_summary(ci_env)
    assert "1 of 2 gate checks fail" in result.stdout
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error")]
    assert len(annotations) == 1 and f"file={gates_file},line=8," in annotations[0]


def test_all_rules_pass_exits_0(pandalm_audit_json, tmp_path):
    path = tmp_path / "gates.toml"
    path.write_text('rule = ["cohen_kappa ci_low >= 0.35", "no_better_rate_gap ci_high <= 0.10"]\n')
    result = CliRunner().invoke(_local_app(), ["gate", str(pandalm_audit_json), "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "all 4 gate checks pass" in result.stdout and "::error" not in result.stdout


def test_misspelt_metric_raises_config_error_and_writes_nothing(
    pandalm_audit_json, misspelt_file, ci_env, tmp_path
):
    junit = tmp_path / "gates.xml"
    result = CliRunner().invoke(
        _local_app(), ["gate", str(pandalm_audit_json), "--config", str(misspelt_file), "--junit", str(junit)]
    )
    assert isinstance(result.exception, ConfigError)  # auditor.cli.exits turns it into exit 2
    assert "rule 1 (line 1): unknown metric 'cohen_kapa'; did you mean 'cohen_kappa'" in str(result.exception)
    assert not junit.exists() and ci_env.read_text() == "earlier step\n"


def test_annotations_only_on_github_actions(pandalm_doc, gates_file, monkeypatch, capsys):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert run_gates(pandalm_doc, gates_file) == 1
    assert "::error" not in capsys.readouterr().out


# -- subprocesses ---------------------------------------------------------------------------------------------------------
def _run_gates_module(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "auditor.cli.gate", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _ci_env(tmp_path: Path) -> tuple[dict, Path]:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    return {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}, summary


@pytest.mark.parametrize("entry", ["python -m auditor.cli.gate", "python -m auditor"])
def test_gate_subprocess_exit_codes(entry, pandalm_audit_json, gates_file, misspelt_file, tmp_path):
    """Exit 1 with a JUnit failure and the step summary; exit 2 with one error line for a misspelt metric."""
    run = (
        _run_gates_module
        if entry == "python -m auditor.cli.gate"
        else (lambda *args, env: run_cli(*args, cwd=REPO, env=env))
    )
    env, summary = _ci_env(tmp_path)
    junit = tmp_path / "gates.xml"
    proc = run("gate", str(pandalm_audit_json), "--config", str(gates_file), "--junit", str(junit), env=env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    _assert_one_failure(junit)
    _assert_summary(summary)
    assert [line for line in proc.stdout.splitlines() if line.startswith("::error ")]

    proc = run("gate", str(pandalm_audit_json), "--config", str(misspelt_file), env={})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: file {misspelt_file}: rule 1 (line 1): unknown metric 'cohen_kapa'")


def test_gate_subprocess_bad_audit_file_exits_2(tmp_path, gates_file):
    bad = tmp_path / "audit.json"
    bad.write_text("{not json", encoding="utf-8")
    proc = _run_gates_module("gate", str(bad), "--config", str(gates_file), env={})
    assert proc.returncode == 2 and "is not a valid audit.json" in proc.stderr


def test_audit_with_gate_in_one_go(gates_file, misspelt_file, tmp_path):
    """`auditor audit STUDY --gate gates.toml`: the audit is written and the gate decides the exit code; a gate that
    cannot be evaluated exits 2 before anything is written."""
    shared_dataset("pandalm_testset")
    from auditor.datasets import pandalm

    study_dir = tmp_path / "pandalm"
    pandalm.load(SHARED_DATA).write(study_dir)
    out, junit = tmp_path / "audit-out", tmp_path / "gates.xml"
    proc = run_cli(
        "audit",
        str(study_dir),
        "--out",
        str(out),
        "--bootstrap",
        "300",
        "--format",
        "json,md",
        "--quiet",
        "--gate",
        str(gates_file),
        "--junit",
        str(junit),
        cwd=REPO,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (out / "audit.json").exists()
    _assert_one_failure(junit)
    summary = (out / "report.md").read_text(encoding="utf-8").split("<details>", 1)[0]
    assert re.search(
        r"\*\*Gates: ❌ 1 of \d+ gate checks fail\.\*\*", summary
    )  # the verdict in the PR comment

    out2 = tmp_path / "audit-out-2"
    proc = run_cli(
        "audit",
        str(study_dir),
        "--out",
        str(out2),
        "--bootstrap",
        "300",
        "--quiet",
        "--gate",
        str(misspelt_file),
        cwd=REPO,
    )
    assert proc.returncode == 2 and "unknown metric 'cohen_kapa'" in proc.stderr
    assert not out2.exists()
