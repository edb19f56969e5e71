"""Baselines: trivial judges audited beside the real ones, by values derived by hand here, kept out of the judges'
test families and of gates over every judge; and the z-score against the human ceiling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.gates import evaluate_gates
from tests.auditor.analyses.test_jury import CODES, _pairwise_study


@pytest.fixture(scope="module")
def study():
    items, labels, judges = _pairwise_study(seed=4)
    rng = np.random.default_rng(1)
    items = items.assign(
        response_a=["x" * int(n) for n in rng.integers(5, 40, len(items))],
        response_b=["y" * int(n) for n in rng.integers(5, 40, len(items))],
    )
    result = auditor.audit(labels, items=items, task="pairwise", resamples=200)
    return items, labels, result


def _reference(items: pd.DataFrame, labels: pd.DataFrame) -> np.ndarray:
    """The human majority per item (codes 0 a, 1 tie, 2 b; no strict winner: tie)."""
    human = labels[labels["judge"] == "human"]
    counts = pd.crosstab(human["item_id"], human["label"]).reindex(columns=CODES, fill_value=0)
    counts = counts.loc[items["item_id"]].to_numpy()
    top = counts.max(1)
    return np.where((counts == top[:, None]).sum(1) > 1, 1, counts.argmax(1))


def _rows(result, judge: str) -> pd.DataFrame:
    m = result.metrics
    return m[(m["judge"] == judge) & m["slice"].isna() & (m["reference"] == "human")].set_index("metric")


def test_baselines_by_hand(study):
    items, labels, result = study
    ref = _reference(items, labels)
    shares = np.bincount(ref, minlength=3) / ref.size
    random = _rows(result, "baseline:random")
    assert random.loc["agreement", "value"] == pytest.approx(np.sum(shares**2))  # expected, not one draw
    for name in ("cohen_kappa", "cohen_kappa_linear", "cohen_kappa_quadratic", "scott_pi", "fleiss_kappa"):
        assert random.loc[name, "value"] == 0.0
    assert random.loc["no_better_rate", "value"] == pytest.approx(np.mean(ref <= 1))
    assert random.loc["no_better_rate_gap", ["value", "ci_low", "ci_high"]].tolist() == [0.0, 0.0, 0.0]
    majority = _rows(result, "baseline:majority")
    assert majority.loc["agreement", "value"] == pytest.approx(shares.max())
    assert majority.loc["cohen_kappa", "value"] == pytest.approx(0.0)
    assert _rows(result, "baseline:always-b").loc["agreement", "value"] == pytest.approx(shares[2])
    longer = np.sign(items["response_b"].str.len() - items["response_a"].str.len()).to_numpy() + 1
    assert _rows(result, "baseline:longer").loc["agreement", "value"] == pytest.approx(np.mean(longer == ref))
    assert result.metrics[result.metrics["judge"].str.startswith("baseline:")]["p_value"].isna().all()


def test_baselines_leave_the_judges_rows_and_p_values_unchanged(study):
    items, labels, result = study
    config = auditor.AuditConfig().with_options(baselines={"enabled": False})
    without = auditor.audit(labels, items=items, task="pairwise", resamples=200, config=config).metrics
    with_ = result.metrics[~result.metrics["judge"].str.startswith("baseline:")]
    with_ = with_[with_["metric"] != "agreement_z_vs_ceiling"].reset_index(drop=True)
    pd.testing.assert_frame_equal(with_, without.reset_index(drop=True))


def test_without_response_texts_longer_is_skipped_with_its_reason(study):
    items, labels, _ = study
    result = auditor.audit(
        labels, items=items.drop(columns=["response_a", "response_b"]), task="pairwise", resamples=0
    )
    section = result.meta["baselines"]
    assert "baseline:longer" not in section["baselines"]
    assert section["skipped"] == [
        {"baseline": "baseline:longer", "reason": "the items have no response_a / response_b texts"}
    ]
    assert not (result.metrics["judge"] == "baseline:longer").any()


def test_z_against_the_ceiling_and_the_beats_baselines_flag(study):
    _, _, result = study
    section = result.meta["baselines"]
    ceiling = _rows(result, "human").loc["cohen_kappa"]
    for judge in ("j1", "j2", "j3"):
        row = _rows(result, judge)
        se = np.hypot(
            row.loc["cohen_kappa", "ci_high"] - row.loc["cohen_kappa", "ci_low"],
            ceiling.ci_high - ceiling.ci_low,
        )
        z = (row.loc["cohen_kappa", "value"] - ceiling.value) / (se / (2 * 1.959963984540054))
        assert row.loc["agreement_z_vs_ceiling", "value"] == pytest.approx(z)
    flags = {entry["judge"]: entry for entry in section["judges"]}
    best = max(_rows(result, b).loc["agreement", "value"] for b in section["baselines"])
    for judge, entry in flags.items():
        assert entry["best_baseline_value"] == pytest.approx(best)
        assert entry["beats_baselines"] == (_rows(result, judge).loc["agreement", "ci_low"] > best)


def test_gates_over_every_judge_leave_baselines_out_and_can_name_one(study):
    _, _, result = study
    doc = result.to_dict()
    every = evaluate_gates(doc, ["agreement ci_low >= 0"])
    assert {c.judge for c in every.checks} == {"j1", "j2", "j3"}
    named = evaluate_gates(doc, ["agreement value <= 0.9 for baseline:majority"])
    assert [c.judge for c in named.checks] == ["baseline:majority"] and named.passed


def test_the_baselines_table_of_the_config_chooses_them(study, tmp_path):
    from auditor.config import load_config

    items, labels, _ = study
    path = tmp_path / "audit.toml"
    path.write_text("task = 'pairwise'\n[baselines]\nnames = ['random']\n", encoding="utf-8")
    result = auditor.audit(labels, items=items, config=load_config(path), resamples=0)
    judges = set(result.metrics["judge"])
    assert "baseline:random" in judges and not {"baseline:majority", "baseline:longer"} & judges


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["abc", None, "héllo 🎉", "", float("nan"), pd.NA, "  x "], dtype=object),
        pd.Series([12, 2.5, None, "ab"], dtype=object),  # numbers: measured as pandas writes them
        pd.Series(["a", "bb", None], dtype="string"),
        pd.Series([None, None], dtype=object),
        pd.Series([], dtype=object),
    ],
)
def test_text_lengths_equal_pandas_string_lengths(column):
    """The "longer" baseline's lengths in characters (NaN where missing) are pandas' ``str.len()`` of the
    column as text, whether measured on the Python texts directly or by pandas."""
    from auditor.analyses.baselines import text_lengths

    expected = column.astype("string").str.len().to_numpy("float", na_value=np.nan)
    assert np.array_equal(text_lengths(column), expected, equal_nan=True)
