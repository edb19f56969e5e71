"""The terminal summary: banner, headline, tables; data never read as rich markup."""

from __future__ import annotations

import io

from report_fixtures import build_likert_audit, build_pairwise_audit, metric
from rich.console import Console

import reports


def _render(audit, width=140) -> str:
    buffer = io.StringIO()
    reports.render_terminal(audit, Console(file=buffer, width=width, color_system=None, legacy_windows=False))
    return buffer.getvalue()


def test_terminal_shows_banner_headline_tables_policy():
    text = _render(build_likert_audit())
    assert "SIMULATED DATA" in text
    assert "Humans found the personalized response no better in 54.6% [50.1, 59.1]" in text
    for title in ("Agreement with human", "Outcome rates", "Gaps to human", "Exclusions", "Warnings"):
        assert title in text
    assert "human raters (ceiling)" in text
    assert "Policy: b is better when the label is above the neutral 3" in text
    assert "unparseable output" in text


def test_terminal_prints_markup_in_data_literally():
    audit = build_pairwise_audit()
    audit["judges"].append("[bold red]evil[/bold red]")
    audit["metrics"].append(metric("cohen_kappa", "[bold red]evil[/bold red]", 0.3))
    text = _render(audit, width=200)
    assert "[bold red]evil[/bold red]" in text


def test_terminal_survives_an_empty_audit():
    assert "Policy:" in _render({})


def test_default_console_writes_to_stdout(capsys):
    reports.render_terminal(build_pairwise_audit())
    assert "Cohen's kappa" in capsys.readouterr().out


def test_narrow_terminal_keeps_the_lead_columns_and_points_to_the_files():
    text = _render(build_likert_audit(), width=100)
    assert "No better" in text and "No-better gap" in text and "Tie gap" not in text
    assert "Gwet" not in text
    assert "More in report.md / report.html: every rate and gap" in text
    wide = _render(build_likert_audit(), width=220)
    assert "Tie" in wide and "Loss gap" not in wide and "Win gap" in wide
