"""`auditor.testing.assert_gates`: gating inside a team's own test suite."""

from __future__ import annotations

import pytest

from auditor.errors import ConfigError
from auditor.result import AuditResult
from auditor.testing import assert_gates


def test_passing_rules_return_the_report_for_every_form_of_rules(small_doc, tmp_path):
    toml = (
        '[[rule]]\nmetric = "cohen_kappa"\njudge = "gpt-4o"\nbound = "ci_low"\nop = ">="\nthreshold = 0.40\n'
    )
    path = tmp_path / "gates.toml"
    path.write_text(toml)
    forms = [
        [{"metric": "cohen_kappa", "judge": "gpt-4o", "bound": "ci_low", "op": ">=", "threshold": 0.40}],
        ["cohen_kappa ci_low >= 0.40 for gpt-4o"],
        "cohen_kappa ci_low >= 0.40 for gpt-4o",
        toml,
        path,
        str(path),
    ]
    for rules in forms:
        report = assert_gates(small_doc, rules)
        assert [(c.judge, c.observed, c.passed) for c in report.checks] == [("gpt-4o", 0.42, True)]


def test_accepts_an_audit_result_a_dict_or_a_path(small_doc, tmp_path):
    result = AuditResult.from_dict(small_doc)
    path = result.save(tmp_path / "audit.json")
    for audit in (result, small_doc, path, str(path)):
        assert assert_gates(audit, ["no_better_rate_gap ci_high <= 0.10"]).passed


def test_failed_rules_raise_assertion_error_listing_each_failed_check(small_doc):
    with pytest.raises(AssertionError) as info:
        assert_gates(small_doc, ["cohen_kappa ci_low >= 0.45", "agreement >= 0.6 for gpt-4o"])
    message = str(info.value)
    assert message.splitlines() == [
        "2 of 3 gate checks fail:",
        "  - rule 1 (cohen_kappa ci_low >= 0.45 for every judge): cohen_kappa ci_low = 0.420 for gpt-4o (vs human) "
        "fails: needs >= 0.45; value 0.500, interval [0.420, 0.580], n = 100",
        "  - rule 1 (cohen_kappa ci_low >= 0.45 for every judge): cohen_kappa ci_low = 0.200 for rm-skywork (vs human) "
        "fails: needs >= 0.45; value 0.300, interval [0.200, 0.400], n = 100",
    ]


def test_a_broken_gate_is_a_config_error_not_a_failed_assertion(small_doc):
    with pytest.raises(ConfigError, match="unknown metric 'kappa'"):
        assert_gates(small_doc, ["kappa >= 0.4"])
