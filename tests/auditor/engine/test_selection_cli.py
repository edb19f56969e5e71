"""Metric selection on the command line: ``--metrics`` overrides audit.toml's ``metrics``, the reports render a
selected audit (no headline from a metric that was not computed), and a bad selection or a gate rule on a metric
the selection leaves out is exit 2 with one line, before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import reports
from auditor.simulate import simulate_study
from tests.conftest import run_cli


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated study folder (likert, 3 human raters, judges, juries, probes) with ``metrics`` in its
    audit.toml."""
    folder = simulate_study(seed=2, n_users=20, n_items=160).write(tmp_path_factory.mktemp("study"))
    toml = folder / "audit.toml"
    toml.write_text('metrics = ["cohen_kappa"]\n' + toml.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def audit(study: Path, out: Path, *args: str):
    return run_cli("audit", str(study), "--bootstrap", "100", "--out", str(out), *args)


def test_the_file_selects_and_the_option_overrides_it(study, tmp_path):
    done = audit(study, tmp_path / "file", "--format", "json,md,html")  # the terminal summary too (no -q)
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "file" / "audit.json").read_text())
    assert {row["metric"] for row in doc["metrics"]} == {"cohen_kappa"}
    assert doc["selection"] == {"metrics": ["cohen_kappa"], "computed": ["cohen_kappa"]}
    assert "alt_test" not in doc and "ppi" not in doc and doc["confusion"]  # confusion tables stay
    report = (tmp_path / "file" / "report.md").read_text()
    assert "no better" not in report.split("## ")[0].lower()  # no rate in the headline
    assert "Only the selected metrics were computed" in report and "Cohen's κ" in report
    assert "Agreement was not computed" in report
    assert "Only the selected metrics were computed" in done.stdout  # the terminal's headline
    assert (tmp_path / "file" / "report.html").stat().st_size > 0

    done = audit(study, tmp_path / "option", "--metrics", "no_better_rate_gap", "--format", "json,md", "-q")
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "option" / "audit.json").read_text())
    assert {row["metric"] for row in doc["metrics"]} == {"no_better_rate", "no_better_rate_gap"}
    report = (tmp_path / "option" / "report.md").read_text()
    assert "Cohen" not in report.split("## ")[0] and "no better in" in report


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("cohen_kapa", "column '--metrics': unknown metric 'cohen_kapa'; did you mean 'cohen_kappa'"),
        ("category_kappa", "'category_kappa' does not apply: category-wise kappa is computed for pairwise"),
        (" , ", "column '--metrics': is empty; list at least one metric name"),
    ],
)
def test_a_bad_selection_is_one_line_and_exit_2(study, tmp_path, option, message):
    done = audit(study, tmp_path / "out", "--metrics", option, "-q")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_bad_name_in_audit_toml_is_one_line_naming_the_file(study, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for name in ("items.jsonl", "labels.jsonl"):
        (folder / name).write_bytes((study / name).read_bytes())
    toml = (study / "audit.toml").read_text(encoding="utf-8").replace('"cohen_kappa"', '"no_beter_rate"')
    (folder / "audit.toml").write_text(toml, encoding="utf-8")
    done = audit(folder, tmp_path / "out", "-q")
    assert done.returncode == 2
    assert "audit.toml, column 'metrics': unknown metric 'no_beter_rate'; did you mean 'no_better_rate'" in (
        done.stderr
    )
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_gate_on_a_metric_left_out_stops_before_any_work(study, tmp_path):
    gates = tmp_path / "gates.toml"
    gates.write_text('rule = ["cohen_kappa ci_low >= 0", "no_better_rate_gap ci_high <= 0.1"]\n')
    done = audit(study, tmp_path / "out", "--gate", str(gates), "-q")  # the file's selection: cohen_kappa
    assert done.returncode == 2
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert "rule 2 (line 1): tests 'no_better_rate_gap', which metrics in audit.toml leaves out" in line
    assert not (tmp_path / "out").exists()

    done = audit(study, tmp_path / "out", "--gate", str(gates), "--metrics", "cohen_kappa,win_rate", "-q")
    assert done.returncode == 2 and "which --metrics leaves out" in done.stderr

    kept = audit(study, tmp_path / "out", "--gate", str(gates), "--metrics", "cohen_kappa,no_better_rate_gap")
    assert kept.returncode in (0, 1), kept.stderr  # the rules are evaluated: pass or fail, not bad input
    assert (tmp_path / "out" / "audit.json").exists()


def test_reports_render_every_kind_of_selection(study):
    """Markdown and the terminal (and HTML for two) from selected audits: no error, and each headline says that only
    the selected metrics were computed."""
    from rich.console import Console

    import auditor

    selections = (
        ["agreement"],
        ["win_rate"],
        ["agreement_z_vs_ceiling"],
        ["first_position_rate"],
        ["pearson"],
    )
    for i, names in enumerate(selections):
        result = auditor.audit(study, resamples=100, metrics=names)
        model = reports.build_model(result.to_dict())
        assert any("Only the selected metrics were computed" in s for s in model.headline), names
        pages = [reports.render_markdown(model)] + ([reports.render_html(model)] if i < 2 else [])
        for page in pages:
            assert "Only the selected metrics were computed" in page, names
        console = Console(record=True, width=120)
        reports.render_terminal(model, console)
        assert "Only the selected metrics" in console.export_text(), names
