"""``auditor audit --config``: audit.toml is read once, for the command line's early checks and for the audit
itself, and what it says reaches the audit on both paths (the pipeline and a personalization stage)."""

from __future__ import annotations

import json

import pytest

from auditor.cli import main
from auditor.personalization import audit_stage
from auditor.simulate import simulate_extraction_study

CONFIG = """task = "categorical"
title = "Stage 1 from audit.toml"
[labels]
categories = ["accept", "uncertain", "reject"]
[personalization]
problematic = ["reject"]
"""


@pytest.fixture(scope="module")
def study_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stage-study")
    study = simulate_extraction_study(seed=1, n_users=4, with_truth=False)
    study.labels.to_csv(folder / "labels.csv", index=False)
    study.items.to_csv(folder / "items.csv", index=False)
    (folder / "audit.toml").write_text(CONFIG, encoding="utf-8")
    return folder


def test_a_stage_audit_on_the_command_line_takes_its_options_from_audit_toml(study_files, tmp_path):
    """The command line's stage audit equals the Python API's on the same files: the title, the categories and
    the problematic labels of audit.toml reach it."""
    out = tmp_path / "out"
    argv = ["audit", str(study_files / "labels.csv"), "--items", str(study_files / "items.csv")]
    argv += ["--config", str(study_files / "audit.toml"), "--stage", "extraction", "--bootstrap", "100"]
    assert main([*argv, "--out", str(out), "--format", "json", "-q"]) == 0
    written = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    expected = audit_stage(
        str(study_files / "labels.csv"),
        str(study_files / "items.csv"),
        stage="extraction",
        config=str(study_files / "audit.toml"),
        resamples=100,
    ).to_dict()
    assert written["title"] == "Stage 1 from audit.toml"
    assert "'reject'" in written["policy"]["text"] and "'uncertain'" not in written["policy"]["text"]
    assert written["metrics"] == expected["metrics"] and written["policy"] == expected["policy"]


def test_a_config_error_is_one_line_naming_audit_toml_before_any_work(study_files, tmp_path, capsys):
    bad = tmp_path / "audit.toml"
    bad.write_text(CONFIG.replace('problematic = ["reject"]', "problematic = 3"), encoding="utf-8")
    out = tmp_path / "out"
    argv = ["audit", str(study_files / "labels.csv"), "--items", str(study_files / "items.csv")]
    code = main([*argv, "--config", str(bad), "--out", str(out), "--format", "json", "-q"])
    assert code == 2 and not out.exists()
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and str(bad) in message and "problematic" in message
