"""Label budget planner (hand-derived sizes, a simulation that the planned PPI size delivers the half-width, a pilot
audit) and drift (flip rates counted by hand, McNemar, the command lines)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import typer
from scipy import stats
from typer.testing import CliRunner

import auditor
from auditor import drift, plan
from auditor.cli import drift as drift_cli
from auditor.cli import plan as plan_cli
from auditor.config import config_from_mapping
from auditor.simulate import simulate_study
from auditor.stats import ppi


def test_classic_sample_sizes_by_hand():
    p = plan.plan_labels(0.5, 0.05, correlation=0.8)
    assert p.human_only == 385  # ceil(1.96^2 * 0.25 / 0.05^2) = ceil(384.15)
    assert p.ppi == 139  # ceil(384.15 * (1 - 0.64)) = ceil(138.3)
    assert p.lam == pytest.approx(0.8)
    finite = plan.plan_labels(0.5, 0.05, correlation=0.8, judged_items=1000)
    budget = 0.05**2 / stats.norm.ppf(0.975) ** 2
    assert finite.ppi == math.ceil(0.25 * 0.36 / (budget - 0.25 * 0.64 / 1000))  # 184
    assert finite.ppi_floor_half_width == pytest.approx(stats.norm.ppf(0.975) * math.sqrt(0.16 / 1000))
    assert (
        plan.plan_labels(0.5, 0.02, correlation=0.8, judged_items=1000).ppi is None
    )  # below the judge's floor
    assert plan.plan_labels(0.5, 0.05, correlation=0.8, design_effect=2.0).human_only == 769


def test_correlation_from_rates_by_hand():
    # p = q = 0.5, agreement 0.9: P(both) = 0.45, phi = (0.45 - 0.25) / 0.25 = 0.8
    assert plan.correlation_from_rates(0.5, 0.5, 0.9) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="impossible"):
        plan.correlation_from_rates(0.5, 0.1, 0.2)


def test_planned_ppi_size_delivers_the_half_width_in_simulation():
    rate, judge_rate, agreement, h, big_n = 0.55, 0.45, 0.85, 0.04, 3000
    p = plan.plan_labels(rate, h, judge_rate=judge_rate, agreement=agreement, judged_items=big_n)
    both = (agreement + rate + judge_rate - 1) / 2
    probs = [both, rate - both, judge_rate - both, 1 - rate - judge_rate + both]  # (Y, Yhat) = 11, 10, 01, 00
    rng = np.random.default_rng(0)
    halves = []
    for _ in range(300):
        cell = rng.choice(4, size=big_n, p=probs)
        y, yhat = np.isin(cell, [0, 1]).astype(float), np.isin(cell, [0, 2]).astype(float)
        lab = rng.choice(big_n, p.ppi, replace=False)
        r = ppi.ppi_mean(y[lab], yhat[lab], yhat, cluster=lab, cluster_unlabelled=np.arange(big_n))
        halves.append((r.ci_high - r.ci_low) / 2)
    assert np.mean(halves) == pytest.approx(h, rel=0.05)
    assert p.ppi < p.human_only


def test_plan_from_a_pilot_audit_reads_rates_from_the_confusion_matrix():
    study = simulate_study(seed=10, with_truth=False)
    labels = study.labels[study.labels["judge"].isin(["human", "gpt-4o"])]
    config = config_from_mapping(study.config()).with_overrides(resamples=500, max_cases=0)
    doc = auditor.audit(labels, items=study.items, config=config).to_dict()
    pilot = plan.pilot_rates(doc)
    ref_row = next(
        m
        for m in doc["metrics"]
        if m["metric"] == "no_better_rate"
        and m["judge"] == "human"
        and m["reference"] == "human"
        and not m["slice"]
    )
    judge_row = next(m for m in doc["metrics"] if m["metric"] == "no_better_rate" and m["judge"] == "gpt-4o")
    assert pilot["rate"] == pytest.approx(ref_row["value"])
    assert pilot["judges"]["gpt-4o"]["judge_rate"] == pytest.approx(judge_row["value"])
    assert pilot["design_effect"] >= 1.0
    (p,) = plan.plan_from_audit(doc, 0.03, judged_items=5000)
    assert p.judge == "gpt-4o" and p.human_only > 1000 and p.ppi is not None and p.ppi <= p.human_only


def _app(register) -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")
    def _noop() -> None:  # a second command keeps typer from collapsing the app into one command
        pass

    return app


def test_plan_command_with_stated_rates():
    res = CliRunner().invoke(
        _app(plan_cli.register),
        ["plan", "--rate", "0.5", "--correlation", "0.8", "--half-width", "0.05", "--json"],
    )
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.output)
    assert (row["human_only"], row["ppi"], row["labels_saved"]) == (385, 139, 246)


# -- drift ---------------------------------------------------------------------------------------------------
def _runs(n=120, n_users=30, seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"i{i:03d}" for i in range(n)]
    items = pd.DataFrame({"item_id": ids, "user_id": [f"u{i % n_users}" for i in range(n)]})
    first = rng.choice(["a", "tie", "b"], n)
    second = first.copy()
    flip = rng.choice(n, 18, replace=False)
    second[flip] = np.where(first[flip] == "b", "tie", "b")
    human = pd.DataFrame({"item_id": ids, "judge": "human", "rater": "h", "label": first})
    before = pd.concat([human, pd.DataFrame({"item_id": ids, "judge": "j", "rater": "0", "label": first})])
    after = pd.DataFrame({"item_id": ids, "judge": "j", "rater": "0", "label": second})
    return items, before, after, first, second


def test_flip_rate_and_direction_counted_by_hand():
    items, before, after, first, second = _runs()
    table = drift.flip_rates(before, after, items, task="pairwise", resamples=1000)
    row = table.set_index("judge").loc["j"]
    assert row["n"] == 120 and row["flips"] == 18
    assert row["flip_rate"] == pytest.approx(18 / 120)
    assert row["ci_low"] < 0.15 < row["ci_high"]
    nb_first, nb_second = first != "b", second != "b"
    assert row["became_better"] == int(np.sum(nb_first & ~nb_second))
    assert row["became_no_better"] == int(np.sum(~nb_first & nb_second))
    assert row["no_better_rate_change"] == pytest.approx(nb_second.mean() - nb_first.mean())
    assert "human" not in set(table["judge"])  # only judges present in both runs


def test_drift_p_value_is_exact_mcnemar_without_clusters():
    items, before, after, first, second = _runs()
    table = drift.flip_rates(before, after, items[["item_id"]], task="pairwise", resamples=500)
    row = table.set_index("judge").loc["j"]
    nb_first, nb_second = first != "b", second != "b"
    b, c = int(np.sum(nb_second & ~nb_first)), int(np.sum(~nb_second & nb_first))
    assert row["p_value"] == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue)


def test_drift_without_changes_has_zero_flips():
    items, before, _, _, _ = _runs()
    same = before[before["judge"] == "j"]
    row = drift.flip_rates(before, same, items, task="pairwise", resamples=200).iloc[0]
    assert row["flips"] == 0 and row["flip_rate"] == 0.0 and row["ci_low"] == 0.0
    # no flip in 30 users: not certainty, the exact binomial bound over the 30 users
    from scipy.stats import binomtest

    assert row["ci_high"] == pytest.approx(binomtest(0, 30).proportion_ci(method="exact").high)


def test_drift_command_writes_json(tmp_path):
    items, before, after, _, _ = _runs()
    items.to_csv(tmp_path / "items.csv", index=False)
    before.to_csv(tmp_path / "before.csv", index=False)
    after.to_csv(tmp_path / "after.csv", index=False)
    res = CliRunner().invoke(
        _app(drift_cli.register),
        [
            "drift",
            str(tmp_path / "before.csv"),
            str(tmp_path / "after.csv"),
            "--items",
            str(tmp_path / "items.csv"),
            "--task",
            "pairwise",
            "--bootstrap",
            "200",
            "--out",
            str(tmp_path / "drift.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "18 of 120 verdicts flipped" in res.output
    rows = json.loads((tmp_path / "drift.json").read_text())
    assert rows[0]["judge"] == "j" and rows[0]["flips"] == 18
