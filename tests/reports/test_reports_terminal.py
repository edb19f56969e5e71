"""The terminal summary: banner, headline, tables; data never read as rich markup."""

from __future__ import annotations

import io
import json
import re

import pytest
from report_fixtures import build_extensions_audit, build_likert_audit, build_pairwise_audit, metric
from rich.cells import cell_len
from rich.console import Console

import reports
from reports.format import abbreviate_middle, short_names
from reports.render.terminal import COMPACT_BELOW, TERMINAL_SECTIONS, wrap


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


def test_narrow_terminal_keeps_the_lead_columns_and_names_what_it_leaves_out():
    text = _render(build_likert_audit(), width=80)
    assert "No better" in text and "No-better gap" in text and "Tie gap" not in text
    assert "Left out at 80 columns: Win gap (in report.md / report.html)." in text
    assert "More in report.md / report.html: other metrics; sliced metrics\n(source=synthetic)." in text
    wide = _render(build_likert_audit(), width=220)
    assert "Tie" in wide and "Loss gap" not in wide and "Win gap" in wide and "Left out" not in wide


# an estimate with its interval, as the tables and the headline print them
ESTIMATE = re.compile(r"[-+]?\d[\d.,]*(?:%| pts| points)? \[-?\d[\d.]*, -?\d[\d.]*\]")


def _words(text: str) -> set[str]:
    return {w.strip(",;:().") for w in text.split()} - {""}


def _assert_laid_out_for(text: str, width: int, model) -> None:
    """No line wider than the console; every interval on one line with its estimate; no word split."""
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    for line in lines:
        assert line.count("[") == line.count("]"), line  # an interval never runs over two lines
        assert not line.lstrip().startswith("["), line  # ... nor leaves its estimate on the line above
    shown = _words(text)
    sources = list(model.findings) + [model.policy] + [c for t in model.tables[:3] for c in t.ascii().columns]
    sources += [line for s in model.sections if s.key in TERMINAL_SECTIONS for line in s.lines]
    for source in sources:
        missing = _words(source) - shown
        assert not missing, (missing, source)
    for table in model.tables[:3]:  # every cell of a column shown is printed whole (its interval on its line)
        for row in table.rows:
            for cell in row[2:]:
                estimate = ESTIMATE.match(cell)
                if estimate and estimate.group(0) in text:
                    assert any(estimate.group(0) in line for line in lines)


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("study", ["", "probes"])
def test_demo_terminal_fits_80_and_120_columns_without_split_words(demo_json, study, width):
    audit = json.loads((demo_json / study / "audit.json").read_text(encoding="utf-8"))
    model = reports.build_model(audit)
    text = _render(model, width=width)
    _assert_laid_out_for(text, width, model)
    for table in model.tables[:3]:  # the lead columns are always there, whole
        header = table.ascii().columns
        for name in (model.view.lead_gap, *model.lead_metrics):
            if name in table.metric_columns:
                assert header[table.metric_columns.index(name)] in text
    compact = width < COMPACT_BELOW
    assert ("Left out at 80 columns" in text) is compact


def test_compact_layout_shortens_long_judge_names_keeping_the_end_and_lists_them():
    audit = build_extensions_audit()
    model = reports.build_model(audit)
    text = _render(model, width=80)
    _assert_laid_out_for(text, 80, model)
    assert "  gpt-4o…outputs@start = gpt-4o|profile_view=outputs@start" in text
    assert "  gpt-4o…none@start = gpt-4o|profile_view=none@start" in text
    rows = [line.split()[0] for line in text.splitlines() if line.startswith("  gpt-4o…")]
    assert {"gpt-4o…full@start", "gpt-4o…outputs@start", "gpt-4o…none@start"} <= set(rows)
    wide = _render(model, width=120)  # the full layout: names whole, no legend
    assert "  gpt-4o|profile_view=outputs@start " in wide and "…" not in wide


def test_wrap_never_breaks_an_interval_or_a_p_value():
    sentence = "gpt-4o found it no better in 21.0% [17.2, 24.8]: by 33.6 points [28.9, 38.3] (p_adj < 0.04) +30.4 [25.5, 35.8]"
    for width in range(30, 90):  # narrower than a token (24 cells here): the token is cut, the one exception
        lines = wrap(sentence, width, "• ", "  ")
        assert all(cell_len(line) <= width for line in lines)
        joined = " ".join(line[2:] for line in lines)
        assert joined == sentence
        for piece in (
            "21.0% [17.2, 24.8]:",
            "33.6 points [28.9, 38.3]",
            "(p_adj < 0.04)",
            "+30.4 [25.5, 35.8]",
        ):
            assert any(piece in line for line in lines), (width, piece)


def test_abbreviate_middle_keeps_both_ends_and_short_names_stay_distinct():
    assert abbreviate_middle("gpt-4o|profile_view=outputs@start", 20) == "gpt-4o…outputs@start"
    assert abbreviate_middle("gpt-4o|profile_view=full@end", 20) == "gpt-4o…full@end"
    assert abbreviate_middle("short", 20) == "short"
    names = [f"a-very-long-model-name-{k}-suffix" for k in range(12)] + ["a-very-long-model-name-1"]
    short = short_names(names, 14)
    assert all(len(s) <= 14 for s in short.values())
    assert len(set(short.values())) == len(set(names))


def test_wide_characters_and_very_narrow_consoles_keep_every_line_within_the_width():
    audit = build_likert_audit()
    name = "评审模型" * 8 + "|persona=removed"  # 2 cells per character
    audit["judges"].append(name)
    audit["metrics"] += [metric("no_better_rate", name, 0.4), metric("cohen_kappa_quadratic", name, 0.3)]
    for width in (40, 80, 120):
        text = _render(audit, width=width)
        assert max(cell_len(line) for line in text.splitlines()) <= width
    wide = _render(audit, width=120)
    assert name in wide and "评审模型评审模型…" in wide  # shortened in the table, listed whole under it
