"""Fixtures of the gate tests: a small hand-made audit document and the PandaLM audit built by the core."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, shared_dataset


@pytest.fixture(autouse=True)
def no_ci_variables(monkeypatch):
    """Tests run inside CI too: never append to the real job summary or print annotations into the real log.
    A test that wants them sets them itself."""
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def metric_row(
    metric: str,
    judge: str,
    value: float | None,
    ci_low: float | None = None,
    ci_high: float | None = None,
    *,
    reference: str = "human",
    n: int = 100,
    slice: str | None = None,
) -> dict:
    return {
        "metric": metric,
        "judge": judge,
        "reference": reference,
        "value": value,
        "ci_low": ci_low,
        "ci_high": ci_high,
        "n": n,
        "p_value": None,
        "p_adjusted": None,
        "slice": slice,
    }


@pytest.fixture
def small_doc() -> dict:
    """Two judges and the human reference; values chosen so that each rule's verdict is obvious by eye."""
    return {
        "title": "hand-made audit",
        "simulated": False,
        "task": "pairwise",
        "reference": "human",
        "judges": ["gpt-4o", "rm-skywork"],
        "bootstrap": {"resamples": 200, "level": 0.95},
        "metrics": [
            metric_row("cohen_kappa", "human", 0.80, 0.75, 0.85),
            metric_row("cohen_kappa", "gpt-4o", 0.50, 0.42, 0.58),
            metric_row("cohen_kappa", "rm-skywork", 0.30, 0.20, 0.40),
            metric_row("no_better_rate_gap", "gpt-4o", -0.20, -0.28, -0.12),
            metric_row("no_better_rate_gap", "rm-skywork", 0.02, -0.05, 0.09),
            metric_row("agreement", "gpt-4o", 0.70, 0.66, 0.74),  # no agreement row for rm-skywork
            metric_row("cohen_kappa", "human", 0.90, 0.85, 0.95, reference="human", slice="raters=r1~r2"),
            metric_row("cohen_kappa", "gpt-4o", 0.61, 0.55, 0.67, reference="expert"),
            metric_row("alt_test_pass", "gpt-4o", 1.0),
            metric_row("alt_test_pass", "rm-skywork", 0.0),
            metric_row("krippendorff_alpha", "gpt-4o", None),  # undefined, e.g. a constant judge
        ],
    }


@pytest.fixture(scope="session")
def pandalm_audit_json(tmp_path_factory) -> Path:
    """The PandaLM test set audited by the core (300 resamples), saved as audit.json."""
    shared_dataset("pandalm_testset")
    import auditor
    from auditor.config import config_from_mapping
    from auditor.datasets import pandalm

    study = pandalm.load(SHARED_DATA)
    result = auditor.audit(
        study.labels, items=study.items, config=config_from_mapping(study.config()), resamples=300
    )
    path = tmp_path_factory.mktemp("pandalm") / "audit.json"
    result.save(path)
    return path


@pytest.fixture(scope="session")
def pandalm_doc(pandalm_audit_json) -> dict:
    return json.loads(pandalm_audit_json.read_text(encoding="utf-8"))
