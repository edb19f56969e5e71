"""`auditor demo` and the other commands, run as a user runs them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA, shared_dataset


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    from tests.conftest import run_cli

    out = tmp_path_factory.mktemp("demo") / "demo-out"
    proc = run_cli("demo", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_demo_writes_summary_audit_json_and_reports(demo_out):
    out, proc = demo_out
    assert (out / "audit.json").exists() and (out / "report.md").exists() and (out / "report.html").exists()
    assert "SIMULATED" in proc.stdout.upper()
    assert "no better" in proc.stdout
    doc = json.loads((out / "audit.json").read_text())
    assert doc["simulated"] is True and doc["task"] == "likert"
    # 550 human-rated conversations of 50 users, 19,450 judge-only ones of 1,768 more users (the PPI++ design)
    assert doc["n_items_with_reference"] == 550 and doc["n_items"] == 20_000 and doc["n_clusters"] == 1_818


def test_demo_human_no_better_rate_and_every_judge_gap(demo_out):
    out, _ = demo_out
    doc = json.loads((out / "audit.json").read_text())
    rows = {(m["metric"], m["judge"]): m for m in doc["metrics"] if m["slice"] is None}
    human = rows[("no_better_rate", "human")]
    assert 0.50 <= human["value"] <= 0.60
    assert human["ci_low"] < human["value"] < human["ci_high"]
    assert len(doc["judges"]) >= 4
    for judge in doc["judges"]:
        gap = rows[("no_better_rate_gap", judge)]
        assert gap["ci_low"] <= gap["value"] <= gap["ci_high"]
        assert gap["p_value"] is not None and gap["p_adjusted"] is not None
        if judge in ("gpt-4o", "claude-3.5", "llama-3-70b"):  # (mistral-large: two orders, ties to neutral)
            # the simulated LLM judges are more lenient than humans: they call fewer items no better
            assert gap["ci_high"] < 0
    assert "SIMULATED" in (out / "report.md").read_text().upper()


def test_demo_probes_persona_and_profile_views(demo_out):
    out, proc = demo_out
    doc = json.loads((out / "probes" / "audit.json").read_text())
    assert doc["simulated"] is True and "probes" in proc.stdout
    rows = [m for m in doc["metrics"] if m["judge"] == "gpt-4o"]
    flips = {m["slice"]: m for m in rows if m["metric"] == "persona_flip_rate"}
    assert set(flips) == {"persona=removed", "persona=swapped"}
    for row in flips.values():
        assert 0 < row["ci_low"] <= row["value"] <= row["ci_high"] < 1
    views = {
        m["slice"]: m
        for m in rows
        if m["metric"] == "cohen_kappa_quadratic" and m["slice"] and m["slice"].startswith("profile_view=")
    }
    assert set(views) == {
        f"profile_view={v}" for v in ("full@start", "full@end", "outputs@start", "inputs@start", "none@start")
    }
    # the simulated judge agrees with humans best when it sees the user's past outputs, worst without a profile
    assert max(views, key=lambda s: views[s]["value"]) == "profile_view=outputs@start"
    assert min(views, key=lambda s: views[s]["value"]) == "profile_view=none@start"
    tokens = {m["slice"]: m["value"] for m in rows if m["metric"] == "mean_prompt_tokens"}
    assert (
        tokens["profile_view=none@start"]
        < tokens["profile_view=outputs@start"]
        < tokens["profile_view=full@start"]
    )
    assert (out / "probes" / "report.html").exists()


def test_report_rerenders_without_recomputing(demo_out, tmp_path, cli):
    out, _ = demo_out
    proc = cli("report", str(out / "audit.json"), "--format", "md", "--out", str(tmp_path), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "report.md").read_text() == (out / "report.md").read_text()


def test_simulate_then_audit_folder_is_deterministic(tmp_path, cli):
    assert cli("simulate", "--out", str(tmp_path / "s"), "--seed", "3").returncode == 0
    docs = []
    for run in ("a", "b"):
        proc = cli(
            "audit",
            str(tmp_path / "s"),
            "--out",
            str(tmp_path / run),
            "--bootstrap",
            "300",
            "--quiet",
            "--format",
            "json",
        )
        assert proc.returncode == 0, proc.stderr
        docs.append((tmp_path / run / "audit.json").read_bytes())
    assert docs[0] == docs[1]


def test_convert_pandalm_and_audit_it(tmp_path, cli):
    shared_dataset("pandalm_testset")
    proc = cli("convert", "pandalm", str(SHARED_DATA / "pandalm_testset"), "--out", str(tmp_path / "p"))
    assert proc.returncode == 0, proc.stderr
    proc = cli("audit", str(tmp_path / "p"), "--out", str(tmp_path / "o"), "--bootstrap", "200", "--quiet")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "o" / "audit.json").read_text())
    gpt = next(j for j in doc["judges"] if "gpt" in j)
    row = next(
        m for m in doc["metrics"] if m["metric"] == "cohen_kappa" and m["judge"] == gpt and not m["slice"]
    )
    assert round(row["value"], 3) == 0.493 and row["n"] == 974
    assert {"judge": gpt, "reason": "unusable label 'garbage'", "count": 25} in doc["exclusions"]


def test_python_api_result_object(tmp_path):
    import auditor
    from auditor.config import config_from_mapping
    from auditor.simulate import simulate_study

    study = simulate_study(seed=5)
    result = auditor.audit(
        study.labels, items=study.items, config=config_from_mapping(study.config()), resamples=200
    )
    assert set(result.metrics.columns) >= {"metric", "judge", "reference", "value", "ci_low", "ci_high", "n"}
    html = result._repr_html_()
    assert "<table" in html and "simulated" in html
    again = auditor.AuditResult.from_dict(json.loads(result.to_json()))
    assert again.to_json() == result.to_json()
