"""Gate rules: parsing, the conservative default bound, judge selection, and every way a gate cannot be evaluated."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from auditor.errors import ConfigError
from auditor.gates import evaluate_gates, github_annotations, load_rules, parse_rule


def _verdicts(report) -> dict[tuple[int, str], bool]:
    return {(c.rule.index, c.judge): c.passed for c in report.checks}


# -- parsing ------------------------------------------------------------------------------------------------------
def test_compact_string_and_table_give_the_same_rule():
    compact = parse_rule("cohen_kappa ci_low >= 0.40 for gpt-4o vs human in raters=r1~r2")
    table = load_rules(
        [
            {
                "metric": "cohen_kappa",
                "judge": "gpt-4o",
                "bound": "ci_low",
                "op": ">=",
                "threshold": 0.40,
                "reference": "human",
                "slice": "raters=r1~r2",
            }
        ]
    )[0]
    fields = ("metric", "op", "threshold", "bound", "judges", "reference", "slice")
    assert {f: getattr(compact, f) for f in fields} == {f: getattr(table, f) for f in fields}
    assert compact.text == "cohen_kappa ci_low >= 0.4 for gpt-4o vs human in raters=r1~r2"


@pytest.mark.parametrize(
    ("text", "judges", "bound"),
    [
        ("no_better_rate_gap ci_high <= 0.10", None, "ci_high"),
        ("no_better_rate_gap <= 0.10 for every judge", None, "ci_high"),
        ('cohen_kappa>=0.4 for "gpt-4o",rm-skywork', ("gpt-4o", "rm-skywork"), "ci_low"),
        ("cohen_kappa >= 0.4 for gpt-4o, rm-skywork vs human", ("gpt-4o", "rm-skywork"), "ci_low"),
        ("alt_test_pass == true for all judges", None, "value"),
    ],
)
def test_compact_forms(text, judges, bound):
    rule = parse_rule(text)
    assert rule.judges == judges and rule.bound == bound


@pytest.mark.parametrize(
    ("op", "bound"),
    [
        (">=", "ci_low"),
        (">", "ci_low"),
        ("<=", "ci_high"),
        ("<", "ci_high"),
        ("==", "value"),
        ("!=", "value"),
    ],
)
def test_omitted_bound_is_the_conservative_one(op, bound):
    """>= tests the lower bound and <= the upper one: the whole interval must clear the threshold."""
    assert load_rules([{"metric": "cohen_kappa", "op": op, "threshold": 0.4}])[0].bound == bound


def test_toml_rules_know_their_lines(tmp_path):
    path = tmp_path / "gates.toml"
    path.write_text(
        '# gates\n\n[[rule]]\nmetric = "cohen_kappa"\nop = ">="\nthreshold = 0.4\n\n'
        '[[rule]]\nmetric = "agreement"\nop = ">="\nthreshold = 0.6\n'
    )
    rules = load_rules(path)
    assert [(r.index, r.line) for r in rules] == [(1, 3), (2, 8)]
    strings = tmp_path / "compact.toml"
    strings.write_text('rule = [\n  "cohen_kappa >= 0.4",\n  "agreement >= 0.6",\n]\n')
    assert [r.line for r in load_rules(strings)] == [2, 3]


def test_rules_from_toml_text_and_from_a_string_path(tmp_path):
    text = '[[rule]]\nmetric = "cohen_kappa"\nop = ">="\nthreshold = 0.4\n'
    assert load_rules(text)[0].metric == "cohen_kappa"
    path = tmp_path / "g.toml"
    path.write_text(text)
    assert load_rules(str(path))[0].source == str(path)
    assert load_rules("agreement >= 0.6")[0].metric == "agreement"


# -- evaluation -----------------------------------------------------------------------------------------------------
def test_every_judge_means_every_model_judge_never_the_reference(small_doc):
    report = evaluate_gates(small_doc, ["cohen_kappa ci_low >= 0.40"])
    assert _verdicts(report) == {(1, "gpt-4o"): True, (1, "rm-skywork"): False}
    assert report.exit_code == 1 and report.headline == "1 of 2 gate checks fail"


def test_the_reference_can_be_gated_when_named(small_doc):
    report = evaluate_gates(small_doc, ["cohen_kappa ci_low >= 0.70 for human"])
    assert _verdicts(report) == {(1, "human"): True}


def test_comparisons_are_exact_at_the_threshold(small_doc):
    """ci_low of gpt-4o's kappa is 0.42: '>= 0.42' passes, '> 0.42' fails; nothing is rounded."""
    report = evaluate_gates(
        small_doc, ["cohen_kappa ci_low >= 0.42 for gpt-4o", "cohen_kappa ci_low > 0.42 for gpt-4o"]
    )
    assert [c.passed for c in report.checks] == [True, False]


def test_bound_value_ci_low_ci_high_read_their_own_column(small_doc):
    rules = [
        {"metric": "no_better_rate_gap", "judge": "rm-skywork", "bound": b, "op": "<=", "threshold": t}
        for b, t in (("value", 0.02), ("ci_low", -0.05), ("ci_high", 0.08))
    ]
    report = evaluate_gates(small_doc, rules)
    assert [(c.observed, c.passed) for c in report.checks] == [(0.02, True), (-0.05, True), (0.09, False)]


def test_reference_and_slice_select_their_row(small_doc):
    report = evaluate_gates(
        small_doc,
        [
            {
                "metric": "cohen_kappa",
                "judge": "gpt-4o",
                "reference": "expert",
                "bound": "value",
                "op": "==",
                "threshold": 0.61,
            },
            {
                "metric": "cohen_kappa",
                "judge": "human",
                "slice": "raters=r1~r2",
                "bound": "ci_low",
                "op": ">=",
                "threshold": 0.85,
            },
        ],
    )
    assert [(c.observed, c.passed) for c in report.checks] == [(0.61, True), (0.85, True)]


def test_boolean_threshold_for_pass_fail_metrics(small_doc):
    report = evaluate_gates(small_doc, [{"metric": "alt_test_pass", "op": "==", "threshold": True}])
    assert _verdicts(report) == {(1, "gpt-4o"): True, (1, "rm-skywork"): False}
    assert (
        report.failed[0].message
        == "alt_test_pass value = false for rm-skywork (vs human) fails: needs == true"
    )
    assert "`value false == true`" in report.to_markdown()


# -- a gate that cannot be evaluated: ConfigError (exit 2), naming the file and the rule ---------------------------
def _error(doc, rules) -> str:
    with pytest.raises(ConfigError) as info:
        evaluate_gates(doc, rules)
    return str(info.value)


def test_misspelt_metric_names_the_rule_and_suggests(small_doc, tmp_path):
    path = tmp_path / "gates.toml"
    path.write_text(
        '[[rule]]\nmetric = "cohen_kappa"\nop = ">="\nthreshold = 0.2\n\n'
        '[[rule]]\nmetric = "cohen_kapa"\nop = ">="\nthreshold = 0.4\n'
    )
    message = _error(small_doc, path)
    assert message.startswith(f"file {path}: rule 2 (line 6): unknown metric 'cohen_kapa'")
    assert "did you mean 'cohen_kappa'" in message


def test_known_metric_absent_from_the_audit_is_not_called_a_misspelling(small_doc):
    message = _error(small_doc, ["spearman >= 0.3"])
    assert "metric 'spearman' is not in this audit (task pairwise)" in message


def test_rules_given_in_memory_name_no_file(small_doc):
    assert _error(small_doc, ["cohen_kapa >= 0.4"]).startswith("rule 1: unknown metric 'cohen_kapa'")


def test_unknown_judge_suggests_the_close_name(small_doc):
    assert "unknown judge 'gpt4o'; did you mean 'gpt-4o'?" in _error(
        small_doc, ["cohen_kappa >= 0.4 for gpt4o"]
    )


def test_metric_missing_for_one_judge_of_every_judge_is_an_error_not_a_skip(small_doc):
    message = _error(small_doc, ["agreement ci_low >= 0.6"])
    assert (
        "metric 'agreement' is missing for judge 'rm-skywork'" in message and "exists for gpt-4o" in message
    )


def test_missing_reference_row_says_which_references_exist(small_doc):
    message = _error(small_doc, ["agreement >= 0.6 for gpt-4o vs expert"])
    assert "rows exist for reference human" in message


def test_nan_bound_is_an_error(small_doc):
    message = _error(small_doc, ["krippendorff_alpha value >= 0.4 for gpt-4o"])
    assert "value of 'krippendorff_alpha' for judge 'gpt-4o' is missing (NaN)" in message


def test_missing_interval_points_at_the_resamples(small_doc):
    small_doc["bootstrap"]["resamples"] = 0
    for row in small_doc["metrics"]:
        row["ci_low"] = row["ci_high"] = None
    assert "the audit has no intervals (bootstrap resamples 0)" in _error(small_doc, ["cohen_kappa >= 0.4"])


def test_missing_interval_with_resamples_is_not_blamed_on_resamples(small_doc):
    small_doc["metrics"][1]["ci_low"] = None
    message = _error(small_doc, ["cohen_kappa >= 0.4 for gpt-4o"])
    assert (
        "ci_low of 'cohen_kappa' for judge 'gpt-4o' is missing (NaN): its interval could not be computed"
        in message
    )


def test_boolean_threshold_on_a_continuous_metric_is_an_error(small_doc):
    assert "not a pass / fail metric" in _error(small_doc, ["cohen_kappa value == true for gpt-4o"])


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (
            {"metric": "cohen_kappa", "op": ">=", "threshold": 0.4, "treshold": 1},
            "unknown key 'treshold'; did you mean 'threshold'?",
        ),
        (
            {"metric": "cohen_kappa", "op": "=>", "threshold": 0.4},
            "unknown op '=>'; expected one of >= <= > < == !=",
        ),
        (
            {"metric": "cohen_kappa", "op": ">=", "threshold": "0.4"},
            "threshold must be a number or true / false",
        ),
        ({"metric": "cohen_kappa", "op": ">=", "threshold": True}, "takes op '==' or '!='"),
        ({"metric": "cohen_kappa", "bound": "ci_lo", "op": ">=", "threshold": 0.4}, "did you mean 'ci_low'?"),
        ({"metric": "cohen_kappa", "op": ">="}, "has no 'threshold'"),
        ({"metric": "cohen_kappa", "judge": 3, "op": ">=", "threshold": 0.4}, "judge must be a judge name"),
    ],
)
def test_bad_rule_fields(small_doc, rule, expected):
    assert expected in _error(small_doc, [rule])


def test_bad_toml_gives_the_line(small_doc, tmp_path):
    path = tmp_path / "gates.toml"
    path.write_text('[[rule]]\nmetric = "cohen_kappa\nop = ">="\n')
    message = _error(small_doc, path)
    assert message.startswith(f"file {path}: is not valid TOML") and "line 2" in message


def test_unknown_top_level_key_and_empty_file(small_doc, tmp_path):
    path = tmp_path / "gates.toml"
    path.write_text('rules = ["cohen_kappa >= 0.4"]\n')
    assert "unknown top-level key 'rules'; did you mean 'rule'?" in _error(small_doc, path)
    path.write_text("# nothing yet\n")
    assert "holds no rule" in _error(small_doc, path)
    assert "does not exist" in _error(small_doc, tmp_path / "missing.toml")


def test_unreadable_compact_rule(small_doc):
    assert "cannot read 'cohen_kappa is good'" in _error(small_doc, ["cohen_kappa is good"])


# -- renderings ---------------------------------------------------------------------------------------------------------
def test_junit_has_one_case_per_rule_and_judge_and_one_failure_per_failed_check(small_doc):
    report = evaluate_gates(small_doc, ["cohen_kappa ci_low >= 0.40", "agreement >= 0.6 for gpt-4o"])
    root = ET.fromstring(report.to_junit())
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 3 and root.get("tests") == "3" and root.get("failures") == "1"
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["cohen_kappa ci_low >= 0.4 for every judge [rm-skywork]"]
    assert "ci_low = 0.200 for rm-skywork" in failed[0].find("failure").get("message")


def test_markdown_escapes_table_cells(small_doc):
    report = evaluate_gates(
        small_doc, [{"metric": "cohen_kappa", "op": ">=", "threshold": 0.4, "name": "kappa | floor"}]
    )
    markdown = report.to_markdown()
    assert "kappa \\| floor" in markdown and "**1 of 2 gate checks fail**" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| 1 ")]
    assert len(rows) == 2 and all(row.count(" | ") == 6 for row in rows)


def test_github_annotations_escape_workflow_command_characters(small_doc, tmp_path):
    path = tmp_path / "gates.toml"
    path.write_text(
        '[[rule]]\nname = "kappa: 50%, at least"\nmetric = "cohen_kappa"\nop = ">="\nthreshold = 0.4\n'
    )
    [line] = github_annotations(evaluate_gates(small_doc, path))
    assert line.startswith(
        f"::error file={path},line=1,title=Gate failed%3A kappa%3A 50%25%2C at least [rm-skywork]::"
    )
    assert line.endswith("cohen_kappa ci_low = 0.200 for rm-skywork (vs human) fails: needs >= 0.4")


def test_unknown_slice_suggests_the_slices_that_exist(small_doc):
    small_doc["metrics"] += [
        {**row, "slice": f"source={source}"}
        for row in small_doc["metrics"][1:3]
        for source in ("real", "synthetic")
    ]
    message = _error(small_doc, ["cohen_kappa ci_low >= 0.4 for gpt-4o in source=synthetc"])
    assert "no slice 'source=synthetc' in this audit; did you mean 'source=synthetic'" in message
    report = evaluate_gates(small_doc, ["cohen_kappa ci_low >= 0.4 in source=synthetic"])
    assert [(c.judge, c.rule.slice) for c in report.checks] == [
        ("gpt-4o", "source=synthetic"),
        ("rm-skywork", "source=synthetic"),
    ]
