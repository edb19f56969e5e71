"""The baselines section and headline lines: every judge beside the best trivial baseline and the human ceiling."""

from __future__ import annotations

import pytest

import auditor
from reports import headline
from reports.model import build_model
from tests.auditor.analyses.test_jury import _pairwise_study


@pytest.fixture(scope="module")
def doc():
    items, labels, _ = _pairwise_study(seed=4)
    return auditor.audit(labels, items=items, task="pairwise", resamples=200).to_dict()


def test_the_section_lists_each_judge_with_its_flag_and_z(doc):
    model = build_model(doc)
    section = next(s for s in model.sections if s.key == "baselines")
    table = section.tables[0]
    flags = {e["judge"]: e["beats_baselines"] for e in doc["baselines"]["judges"]}
    zs = {e["judge"]: e["z"] for e in doc["baselines"]["z_vs_ceiling"]}
    for row in table.rows:
        assert row[2] == ("yes" if flags[row[0]] else "NO")
        assert row[3] == f"{zs[row[0]]:+.1f}"
    assert "Left out: baseline:longer: the items have no response_a / response_b texts." in section.lines
    other = next((t for t in model.tables if t.key == "other"), None)
    assert other is None or not any(r[0] == "agreement_z_vs_ceiling" for r in other.rows)


def test_the_headline_names_the_best_baseline_and_leaves_baselines_out_of_the_judge_sentences(doc):
    lines = headline(doc)
    best = doc["baselines"]["judges"][0]["best_baseline"]
    assert any(line.startswith(f"The best trivial baseline, {best}, agrees with human on") for line in lines)
    assert not any(line.startswith("baseline:") for line in lines)
    losers = [e["judge"] for e in doc["baselines"]["judges"] if not e["beats_baselines"]]
    text = " ".join(lines)
    if losers:
        assert f"NOT BEATING THE BASELINES (agreement interval not above it): {', '.join(losers)}" in text
    else:
        assert "every judge's agreement interval lies above it" in text
