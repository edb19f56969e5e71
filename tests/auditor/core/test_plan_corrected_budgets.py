"""`auditor plan` for the corrected estimates: the Rogan-Gladen budget (by hand and delivering its half-width in
simulation), stratified PPI scaled from a pilot, and the confidence-driven selection of the items humans label
(the command line writes the selected items with their inclusion probabilities)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from auditor import plan
from auditor.cli import plan as plan_cli
from auditor.stats import misclassification


def _app():
    import typer

    app = typer.Typer()
    plan_cli.register(app)

    @app.command("noop")
    def _noop() -> None:
        pass

    return app


def test_sensitivity_and_specificity_from_the_joint_table_by_hand():
    # p = 0.5, q = 0.4, agreement 0.8: P(both no better) = (0.8 + 0.5 + 0.4 - 1) / 2 = 0.35
    corr = plan.correlation_from_rates(0.5, 0.4, 0.8)
    sens, spec = plan.sensitivity_specificity(0.5, 0.4, corr)
    assert sens == pytest.approx(0.35 / 0.5)
    assert spec == pytest.approx((1 - 0.5 - 0.4 + 0.35) / 0.5)


def test_rogan_gladen_budget_by_hand():
    """p = 0.5, q1 = 0.9, q0 = 0.8 (q = 0.55), h = 0.05, N = 5000: per label 0.5*0.16 + 0.5*0.09 = 0.125,
    room = 0.05^2 * 0.7^2 / z^2 - 0.55*0.45/5000."""
    z = 1.959963984540054
    expected = math.ceil(0.125 / (0.05**2 * 0.49 / z**2 - 0.55 * 0.45 / 5000))
    assert plan.rogan_gladen_labels(0.5, 0.55, 0.9, 0.8, 0.05, judged_items=5000) == expected
    assert plan.rogan_gladen_labels(0.5, 0.55, 0.5, 0.5, 0.05) is None  # no better than chance
    assert (
        plan.rogan_gladen_labels(0.5, 0.55, 0.9, 0.8, 0.005, judged_items=5000) is None
    )  # judge noise too big


def test_planned_rogan_gladen_size_delivers_the_half_width_in_simulation():
    rate, sens, spec, h, big_n = 0.4, 0.9, 0.85, 0.04, 4000
    judge_rate = rate * sens + (1 - rate) * (1 - spec)
    m = plan.rogan_gladen_labels(rate, judge_rate, sens, spec, h, judged_items=big_n)
    rng = np.random.default_rng(3)
    studies = 2000
    m1 = rng.binomial(m, rate, studies)
    q1 = rng.binomial(m1, sens) / m1
    q0 = rng.binomial(m - m1, spec) / (m - m1)
    p = rng.binomial(big_n, judge_rate, studies) / big_n
    low, high, _ = misclassification.rogan_gladen_interval(p, q0, q1, big_n, m - m1, m1)
    assert np.mean((high - low) / 2) == pytest.approx(h, rel=0.05)


def test_the_plan_lists_each_budget():
    p = plan.plan_labels(0.55, 0.03, judge_rate=0.43, agreement=0.8, judged_items=5000)
    assert p.rogan_gladen is not None and p.sensitivity is not None
    assert p.stratified is None  # stratified PPI only from a pilot


def test_stratified_budget_scales_the_pilots_standard_error():
    """A pilot (as a dict) with 400 labelled items whose stratified no-better rate has SE 0.02: for h = 0.03 the
    plan is ``ceil(400 (z 0.02 / 0.03)^2) = 683``; the other budgets come from its confusion matrix."""
    doc = {
        "task": "binary",
        "reference": "human",
        "metrics": [
            {
                "metric": "no_better_rate",
                "judge": "human",
                "reference": "human",
                "slice": None,
                "value": 0.5,
                "n": 400,
            }
        ],
        "confusion": [{"judge": "j", "categories": ["0", "1"], "counts": [[160, 40], [40, 160]]}],
        "ppi": {
            "judges": [
                {
                    "judge": "j",
                    "n_labelled": 400,
                    "metrics": [
                        {"metric": "ppi_no_better_rate", "stratified": {"se": 0.02, "by": "persona"}}
                    ],
                }
            ]
        },
    }
    (p,) = plan.plan_from_audit(doc, 0.03, judged_items=5000)
    z = 1.959963984540054
    assert p.stratified == math.ceil(400 * (z * 0.02 / 0.03) ** 2) == 683
    assert p.stratified_by == "persona"
    assert (p.sensitivity, p.specificity) == pytest.approx((0.8, 0.8))
    assert p.rogan_gladen == plan.rogan_gladen_labels(0.5, 0.5, 0.8, 0.8, 0.03, judged_items=5000)


def _judged_file(path, n=600, seed=0):
    rng = np.random.default_rng(seed)
    confidence = np.clip(rng.beta(5, 1.5, n), 0.5, 0.999)
    label = rng.choice(["a", "tie", "b"], n)
    probs = []
    for c, lab in zip(confidence, label, strict=True):
        probs.append(json.dumps({k: (c if k == lab else (1 - c) / 2) for k in ("a", "tie", "b")}))
    frame = pd.DataFrame(
        {"item_id": [f"i{i}" for i in range(n)], "judge": "llm", "label": label, "probabilities": probs}
    )
    frame.to_json(path, orient="records", lines=True)
    return frame


def test_confidence_of_the_no_better_call_from_the_label_probabilities(tmp_path):
    frame = _judged_file(tmp_path / "judged.jsonl", n=5)
    judge, out = plan.verdict_confidence(frame, "pairwise")
    assert judge == "llm"
    for row, source in zip(out.itertuples(), frame.itertuples(), strict=True):
        probs = json.loads(source.probabilities)
        no_better = probs["a"] + probs["tie"]
        assert row.no_better == (source.label in ("a", "tie"))
        assert row.confidence == pytest.approx(no_better if row.no_better else 1 - no_better)


def test_plan_command_selects_items_and_writes_them_with_inclusion_probabilities(tmp_path):
    _judged_file(tmp_path / "judged.jsonl")
    out = tmp_path / "selected.csv"
    args = ["plan", "--judged", str(tmp_path / "judged.jsonl"), "--budget", "120", "--half-width", "0.05"]
    res = CliRunner().invoke(_app(), [*args, "--select-out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    selection = json.loads(res.output)["selection"]
    assert selection["budget"] == 120 and selection["n_items"] == 600
    assert selection["half_width_confidence"] < selection["half_width_uniform"]
    assert selection["labels_confidence"] < selection["labels_uniform"]
    chosen = pd.read_csv(out)
    assert set(chosen.columns) >= {"item_id", "label", "confidence", "inclusion_probability", "judge"}
    assert 80 <= len(chosen) <= 160  # Poisson sampling: 120 expected
    assert chosen["inclusion_probability"].between(0, 1).all()
    # less confident verdicts are more likely to be chosen
    assert np.corrcoef(chosen["confidence"], chosen["inclusion_probability"])[0, 1] < -0.5


def test_plan_command_select_out_without_budget_is_bad_input_and_writes_nothing(tmp_path, cli):
    _judged_file(tmp_path / "judged.jsonl", n=20)
    out = tmp_path / "selected.csv"
    res = cli("plan", "--judged", str(tmp_path / "judged.jsonl"), "--select-out", str(out))
    assert res.returncode == 2
    assert "--budget" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not out.exists()
