"""Headline sentences: the no-better rates and gaps in plain words, with intervals, from the saved metrics."""

from __future__ import annotations

from report_fixtures import build_likert_audit, build_pairwise_audit, metric

import reports


def test_personalization_headline_states_rates_gap_direction_and_intervals():
    lines = reports.headline(build_likert_audit())
    assert lines[0].startswith("SIMULATED DATA")
    assert (
        "Humans found the personalized response no better in 54.6% [50.1, 59.1] of cases (n = 550)." in lines
    )
    gpt = next(line for line in lines if line.startswith("gpt-4o"))
    assert "21.0% [17.2, 24.8]" in gpt
    # the gap is -33.6 [-38.3, -28.9]; stated as an overstatement, its interval is negated too
    assert "overstates personalization by 33.6 points [28.9, 38.3]" in gpt
    assert "p_adj = 3.0e-06" in gpt  # an exact small p-value, not a resampling floor


def test_gap_whose_interval_straddles_zero_is_called_noise():
    audit = build_pairwise_audit()
    line = next(x for x in reports.headline(audit) if x.startswith("gpt-3.5-turbo"))
    assert "within noise of humans (gap +2.0 points [-1.0, 5.0], p_adj = 0.210)" in line
    assert "overstates" not in line and "understates" not in line


def _with_gap(audit: dict, judge: str, row: dict) -> dict:
    audit["metrics"] = [
        m for m in audit["metrics"] if not (m["metric"] == "no_better_rate_gap" and m["judge"] == judge)
    ] + [row]
    return audit


def test_an_interval_and_a_paired_test_that_disagree_are_both_named_as_mixed_evidence():
    """The gap's BCa interval and its symmetric paired test (adjusted across judges) can fall on either side of
    the audit's level at the margin (a 4M-row PPI audit: [-1.7, 0.1] with p_adj = 0.042): the sentence never calls
    such a gap 'within noise' beside a significant p-value, nor a clear difference beside a non-significant one."""
    straddles = metric(
        "no_better_rate_gap", "gpt-3.5-turbo", -0.009, half=0.0, p_value=0.042, p_adjusted=0.042
    )
    straddles.update(ci_low=-0.017, ci_high=0.001)
    line = next(
        x
        for x in reports.headline(_with_gap(build_pairwise_audit(), "gpt-3.5-turbo", straddles))
        if x.startswith("gpt-3.5-turbo")
    )
    assert "within noise" not in line
    assert (
        "mixed evidence: the 95% interval of its gap to humans includes no difference (-0.9 points [-1.7, 0.1]), "
        "the paired test does not (p_adj = 0.042)" in line
    )
    clear = metric("no_better_rate_gap", "gpt-3.5-turbo", -0.05, half=0.03, p_value=0.02, p_adjusted=0.06)
    line = next(
        x
        for x in reports.headline(_with_gap(build_pairwise_audit(), "gpt-3.5-turbo", clear))
        if x.startswith("gpt-3.5-turbo")
    )
    assert "overstates how often response b is better by 5.0 points [2.0, 8.0]" in line
    assert "(mixed evidence: the paired test gives p_adj = 0.060)" in line
    agreeing = metric(
        "no_better_rate_gap", "gpt-3.5-turbo", -0.05, half=0.03, p_value=0.001, p_adjusted=0.003
    )
    line = next(
        x
        for x in reports.headline(_with_gap(build_pairwise_audit(), "gpt-3.5-turbo", agreeing))
        if x.startswith("gpt-3.5-turbo")
    )
    assert "mixed evidence" not in line and "(p_adj = 0.003)" in line


def test_neutral_wording_when_not_a_personalization_study():
    lines = reports.headline(build_pairwise_audit())
    assert (
        lines[0]
        == "Humans found response b no better than response a in 59.0% [55.0, 63.0] of cases (n = 999)."
    )
    pandalm = next(x for x in lines if x.startswith("pandalm-7b"))
    assert "overstates how often response b is better by 7.0 points" in pandalm
    assert not any("personali" in line for line in lines)


def test_explicit_arm_names_are_used():
    audit = build_pairwise_audit()
    audit["arms"] = {"a": "base model", "b": "fine-tuned model"}
    assert reports.headline(audit)[0].startswith(
        "Humans found the fine-tuned model no better than the base model"
    )


def test_judge_above_reference_understates():
    audit = build_pairwise_audit()
    audit["metrics"].append(metric("no_better_rate_gap", "pandalm-7b", 0.1, half=0.02))
    audit["metrics"] = [
        m
        for m in audit["metrics"]
        if not (m["metric"] == "no_better_rate_gap" and m["judge"] == "pandalm-7b" and m["value"] < 0)
    ]
    line = next(x for x in reports.headline(audit) if x.startswith("pandalm-7b"))
    assert "understates" in line and "10.0 points" in line


def test_agreement_sentence_puts_every_judge_beside_the_human_ceiling():
    lines = reports.headline(build_pairwise_audit())
    kappa = next(x for x in lines if x.startswith("Cohen's κ"))
    assert "gpt-3.5-turbo 0.493 [0.463, 0.523]" in kappa
    assert "human raters with each other: 0.864 [0.844, 0.884]" in kappa


def test_exclusions_are_mentioned():
    assert any("25 verdicts excluded (gpt-3.5-turbo)" in x for x in reports.headline(build_pairwise_audit()))


def test_categorical_audit_without_rates_falls_back_to_agreement():
    audit = {
        "task": "categorical",
        "reference": "human",
        "judges": ["j"],
        "metrics": [metric("agreement", "j", 0.8)],
    }
    assert reports.headline(audit) == ["Raw agreement with human: j 80.0% [76.0, 84.0]."]


def test_empty_audit_says_there_is_nothing_to_summarise():
    assert reports.headline({}) == ["This audit holds no metric that can be summarised."]


def test_many_judges_keep_the_headline_short():
    audit = build_likert_audit(judges=tuple(f"j{i}" for i in range(12)))
    lines = reports.headline(audit)
    judge_lines = [line for line in lines if line.startswith("j") and "found it no better" in line]
    assert len(judge_lines) == 8
    assert "j0 found it no better in 30.0%" in judge_lines[0]  # the largest gap is kept
    assert "4 more judges with smaller gaps are in the gap table." in lines
    kappa = next(line for line in lines if line.startswith("κ (quadratic)"))
    assert kappa.count("[") == 5 and "highest j11" in kappa and "lowest j0" in kappa and "12 judges" in kappa


def test_binary_headline_speaks_of_the_positive_rate_not_of_no_better():
    from reports import headline

    doc = {
        "task": "binary",
        "reference": "human",
        "judges": ["j"],
        "title": "relevance of personalization",
        "metrics": [
            {
                "metric": "win_rate",
                "judge": "human",
                "reference": "human",
                "value": 0.2,
                "ci_low": 0.15,
                "ci_high": 0.25,
                "n": 100,
            },
            {
                "metric": "win_rate",
                "judge": "j",
                "reference": "human",
                "value": 0.45,
                "ci_low": 0.4,
                "ci_high": 0.5,
                "n": 100,
            },
            {
                "metric": "win_rate_gap",
                "judge": "j",
                "reference": "human",
                "value": 0.25,
                "ci_low": 0.2,
                "ci_high": 0.3,
                "n": 100,
                "p_adjusted": 0.001,
            },
        ],
    }
    lines = headline(doc)
    assert lines[0].startswith("Humans labelled 20.0%") and "1 (positive)" in lines[0]
    assert lines[1].startswith("j labelled 45.0%") and "25.0 points more than humans" in lines[1]
    assert not any("no better" in line for line in lines)
