"""The examples stay runnable: the example gates file evaluates on the demo study, and the example GitHub Actions
workflow's own shell steps run locally as GitHub would run them (with a step summary file and GITHUB_ACTIONS)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from auditor.gates import evaluate_gates, load_rules
from tests.conftest import REPO

EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def demo_doc() -> dict:
    import auditor
    from auditor.config import config_from_mapping
    from auditor.simulate import DEMO_SEED, simulate_study

    study = simulate_study(seed=DEMO_SEED)
    return auditor.audit(
        study.labels, items=study.items, config=config_from_mapping(study.config()), resamples=500
    ).to_dict()


def test_example_gates_file_evaluates_on_the_demo_study(demo_doc):
    """Every rule can be evaluated (no exit 2); the 'no better' rule fails for the lenient LLM judges."""
    report = evaluate_gates(demo_doc, EXAMPLES / "gates.toml")
    assert len(load_rules(EXAMPLES / "gates.toml")) == 4
    failed = {(c.rule.name, c.judge) for c in report.failed}
    assert ("no judge hides 'no better' verdicts", "claude-3.5") in failed
    assert ("no judge hides 'no better' verdicts", "llama-3-70b") in failed
    assert all(c.passed for c in report.checks if c.rule.index in (1, 4))
    assert report.exit_code == 1


def test_example_workflow_steps_run_locally(tmp_path):
    """Runs every `run:` step except the install, in order, in a copy of the example layout.

    Needs `auditor gate` in the project's CLI (auditor/cli/gate.py)."""
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load((EXAMPLES / "github-actions-audit.yml").read_text(encoding="utf-8"))
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLES / "gates.toml", tmp_path / "examples" / "gates.toml")
    summary = tmp_path / "step_summary.md"
    summary.touch()
    env = {
        **os.environ,
        **{k: str(v) for k, v in workflow["env"].items()},
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_ACTIONS": "true",
        "PYTHONPATH": str(REPO),
    }
    shim = f'auditor() {{ {shlex.quote(sys.executable)} -m auditor "$@"; }}\n'
    codes = {}
    for step in workflow["jobs"]["audit"]["steps"]:
        if "run" not in step or "pip install" in step["run"]:
            continue
        proc = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", shim + step["run"]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        codes[step["name"]] = proc.returncode
        if step["name"] == "Gate":
            gate_stdout = proc.stdout
        else:
            assert proc.returncode == 0, (step["name"], proc.stderr)
    assert codes["Gate"] == 1  # fails on purpose on the simulated study
    assert "::error file=examples/gates.toml,line=" in gate_stdout
    text = summary.read_text(encoding="utf-8")
    assert text.index("SIMULATED") < text.index("Gates")  # the report first, then the gate table
    junit = ET.parse(tmp_path / "audit-out" / "gates.xml").getroot()
    assert int(junit.get("failures")) >= 2
