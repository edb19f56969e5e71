"""The report model: built once per audit, and every renderer lays out that one model."""

from __future__ import annotations

import io

from report_fixtures import build_extensions_audit, build_likert_audit
from rich.console import Console

import reports
from reports.labels import metric_label
from reports.model import ReportModel, build_model
from reports.view import AuditView


def _count_views(monkeypatch) -> list[int]:
    """Count how often an audit document is read into an AuditView."""
    calls = [0]
    original = AuditView.__init__

    def counting(self, *args, **kwargs):
        calls[0] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(AuditView, "__init__", counting)
    return calls


def test_write_reports_reads_the_document_once_for_every_format(tmp_path, monkeypatch, no_plots):
    calls = _count_views(monkeypatch)
    reports.write_reports(build_likert_audit(shown=5), tmp_path, ["md", "html", "json"])
    assert calls[0] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json", "report.html", "report.md"]


def test_a_built_model_renders_as_its_document_does(monkeypatch, no_plots):
    audit = build_extensions_audit()
    model = build_model(audit)
    assert isinstance(model, ReportModel) and build_model(model) is model
    calls = _count_views(monkeypatch)
    assert reports.render_markdown(model) == reports.render_markdown(audit)
    assert reports.render_html(model) == reports.render_html(audit)
    assert reports.render_json(model) == reports.render_json(audit)
    out_model, out_audit = io.StringIO(), io.StringIO()
    reports.render_terminal(model, Console(file=out_model, width=100, color_system=None))
    reports.render_terminal(audit, Console(file=out_audit, width=100, color_system=None))
    assert out_model.getvalue() == out_audit.getvalue()
    assert (
        calls[0] == 3
    )  # one per render of the dict (Markdown, HTML, terminal; JSON needs none); none for the model
    assert reports.headline(model) == model.headline


def test_the_model_holds_every_part_of_the_report():
    model = build_model(build_extensions_audit())
    assert [t.key for t in model.tables] == ["agreement", "outcomes", "gaps", "other"]
    assert [s.key for s in model.sections] == ["probes-persona", "probes-position", "ppi", "alt-test", "jury"]
    assert [s.name for s in model.slices] == [
        "source=synthetic",
        "source=real",
    ]  # probe slices are in their section
    assert model.full_agreement is not None and model.exclusions and model.warnings
    assert model.policy.startswith("b is better") and model.method
    assert model.lead_metrics == ("cohen_kappa_quadratic", "spearman")
    assert model.case_summary.count == 550 and len(model.cases.cases) == 4
    # rows a dedicated section shows stay out of "Other metrics"
    other = {(row[0], row[1]) for row in model.table("other").rows}
    assert ("Length preference (log-odds)", "gpt-4o") in other  # label and unit from the registry
    assert (
        metric_label("ppi_no_better_rate"),
        "human",
    ) in other  # no section shows the reference's own PPI row
    shown = {
        (metric_label("persona_flip_rate"), "gpt-4o"),
        (metric_label("first_position_rate"), "claude-3.5"),
        (metric_label("ppi_no_better_rate"), "gpt-4o"),
        (metric_label("alt_test_pass"), "gpt-4o"),
        (metric_label("jury_effective_judges"), "jury"),
    }
    assert not other & shown


def test_ascii_headers_for_terminals():
    table = build_model(build_likert_audit()).table("agreement")
    assert "κ (quadratic)" in table.columns and "kappa (quadratic)" in table.ascii().columns
    assert table.ascii().rows is table.rows
