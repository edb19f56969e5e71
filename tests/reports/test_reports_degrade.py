"""Older or partial audit files: every renderer degrades to fewer sections, never to an exception."""

from __future__ import annotations

import copy
import io

import pytest
from htmlscan import scan
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_fixtures import build_likert_audit, build_pairwise_audit
from rich.console import Console

import reports
from reports import plots

# The audit.json of the core issue's first version: no ci, no slice, no cases, no policy.
ISSUE_2_MINIMAL = {
    "auditor_version": "0.0.1",
    "task": "pairwise",
    "reference": "human",
    "n_items": 10,
    "n_clusters": 10,
    "exclusions": [{"judge": "j", "reason": "unparseable", "count": 2}],
    "warnings": [],
    "metrics": [
        {
            "metric": "no_better_rate",
            "judge": "human",
            "reference": "human",
            "value": 0.5,
            "n": 10,
            "p_value": None,
        },
        {
            "metric": "no_better_rate",
            "judge": "j",
            "reference": "human",
            "value": 0.3,
            "n": 8,
            "p_value": None,
        },
        {
            "metric": "no_better_rate_gap",
            "judge": "j",
            "reference": "human",
            "value": -0.2,
            "n": 8,
            "p_value": 0.04,
        },
        {"metric": "cohen_kappa", "judge": "j", "reference": "human", "value": 0.4, "n": 8, "p_value": None},
    ],
}


def render_all(audit) -> dict[str, str]:
    buffer = io.StringIO()
    reports.render_terminal(audit, Console(file=buffer, width=120))
    return {
        "terminal": buffer.getvalue(),
        "markdown": reports.render_markdown(audit),
        "html": reports.render_html(audit),
        "headline": "\n".join(reports.headline(audit)),
    }


def test_minimal_issue_2_audit_renders_with_values_and_default_policy(no_plots):
    out = render_all(ISSUE_2_MINIMAL)
    assert "Humans found response b no better than response a in 50.0% of cases (n = 10)." in out["headline"]
    # n = 8 (no n_clusters in this old file): fewer than 30 clusters, said beside the number
    assert (
        "it overstates how often response b is better by 20.0 points (only 8 clusters: unreliable below 30) "
        "(p = 0.040)" in out["headline"]
    )
    page = " ".join(scan(out["html"]).text.split())
    assert "no better = tie or a (policy not stated in this audit file; this is the default)" in page
    assert "policy not stated in this audit file" in out["markdown"]
    assert "unparseable" in out["terminal"] and "unparseable" in page


@pytest.mark.parametrize(
    "audit",
    [
        {},
        {"metrics": None},
        {"metrics": "oops"},
        {"cases": []},
        {"judges": "j"},
        {"metrics": [{"metric": "x"}, None, 3, {"judge": "j"}]},
    ],
)
def test_broken_shapes_do_not_raise(audit, no_plots):
    out = render_all(audit)
    assert "Judge audit" in out["markdown"]


def test_null_values_show_a_dash_not_nan():
    audit = build_pairwise_audit()
    for row in audit["metrics"]:
        if row["judge"] == "pandalm-7b":
            row.update(value=None, ci_low=float("nan"), ci_high=None)
    text = reports.render_markdown(audit)
    assert "nan" not in text.lower().replace("pandalm", "")
    assert "| pandalm-7b |" not in text  # a judge with no value anywhere gets no empty row


def _drop_paths(audit: dict, data: st.DataObject) -> dict:
    """Delete or null a random selection of keys anywhere in the audit (like an older or truncated file)."""
    audit = copy.deepcopy(audit)
    nodes = [audit]
    while nodes:
        node = nodes.pop()
        items = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        for key, value in items:
            action = data.draw(st.sampled_from(["keep"] * 6 + ["drop", "null", "string", "number"]))
            if action == "drop" and isinstance(node, dict):
                del node[key]
            elif action == "null":
                node[key] = None
            elif action == "string":
                node[key] = "?"
            elif action == "number":
                node[key] = 7
            elif isinstance(value, (dict, list)) and len(value) < 40:
                nodes.append(value)
    return audit


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_randomly_damaged_audits_still_render(data, no_plots):
    audit = _drop_paths(build_likert_audit(shown=3), data)
    render_all(audit)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_randomly_damaged_audits_still_plot(data):
    audit = _drop_paths(build_pairwise_audit(), data)
    for make in plots.ALL_PLOTS.values():
        make(audit)
