"""Reports of audits the real core computes: the PandaLM test set (public data beside the repository).

Skipped when the core's loader or the data is absent (a fresh clone without ``../shared/data``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from htmlscan import scan
from mdtables import parse_tables

import reports

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = Path(os.environ.get("AUDITOR_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="module")
def pandalm_audit(tmp_path_factory) -> dict:
    pandalm = pytest.importorskip(
        "auditor.datasets.pandalm", reason="the core's PandaLM loader is not there yet"
    )
    import auditor

    if not (SHARED_DATA / "pandalm_testset").exists():
        pytest.skip(f"{SHARED_DATA / 'pandalm_testset'} is missing (public data beside the repository)")
    folder = tmp_path_factory.mktemp("pandalm")
    pandalm.load(SHARED_DATA).write(folder)
    result = auditor.audit(
        folder / "labels.jsonl", items=folder / "items.jsonl", config=folder / "audit.toml", resamples=200
    )
    return result.to_dict()


def test_pandalm_markdown_reads_as_tables_with_the_published_values(pandalm_audit):
    text = reports.render_markdown(pandalm_audit)
    tables = parse_tables(text)
    agreement = next(t for t in tables if t.heading == "Agreement with human")
    gpt = agreement.row("gpt-3.5-turbo")
    assert gpt["n"] == "974"
    assert gpt["Agreement"].startswith("71.6% [")
    assert gpt["Cohen's κ"].startswith("0.493 [")
    assert agreement.rows[0][0] == "human raters (ceiling)"
    exclusions = next(t for t in tables if t.heading == "Exclusions")
    assert ["gpt-3.5-turbo", "unusable label 'garbage'", "25"] in exclusions.rows
    # one slice per pair of raters, labelled with the pair
    pairs = [t for t in tables if t.heading == "Agreement with human" and "~" in t.rows[0][0]]
    kappas = sorted(t.row(t.rows[0][0])["Cohen's κ"][:5] for t in pairs)
    assert kappas == ["0.852", "0.862", "0.879"]  # the published pairwise human kappas, one slice per pair
    assert all(len(row) == len(t.header) for t in tables for row in t.rows)
    assert len(text) < 65_536


def test_pandalm_html_and_terminal_render(pandalm_audit, no_plots):
    page = scan(reports.render_html(pandalm_audit))
    text = " ".join(page.text.split())
    assert "Humans found response b no better than response a in" in text
    assert "unusable label 'garbage'" in text
    assert len(page.case_data()["cases"]) > 0
