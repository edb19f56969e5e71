"""Metric selection (``metrics = [...]`` / ``--metrics``): the selected rows equal the full audit's bit for bit, every
row of a computed metric is there and no other, the work of what is not selected is skipped, and the bad
selections are refused with the key and the reason."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.config import AuditConfig, config_from_mapping, parse_metrics
from auditor.engine.selection import check, computed, task_metrics
from auditor.errors import ConfigError
from auditor.simulate import simulate_study
from auditor.stats.bootstrap import Resampler
from tests.conftest import shared_dataset

KEY = ("metric", "judge", "reference", "slice")


def rows_by_key(result: auditor.AuditResult) -> dict[tuple, str]:
    """audit.json's metric rows, each as its JSON text (what "bit for bit" compares), by (metric, judge, ...)."""
    return {tuple(r[k] for k in KEY): json.dumps(r, sort_keys=True) for r in result.to_dict()["metrics"]}


def assert_selected_equal_full(
    full: auditor.AuditResult, selected: auditor.AuditResult, names: list[str]
) -> None:
    """The selected audit holds exactly the full audit's rows of the computed metrics, each identical."""
    want = computed(names, selected.meta["task"])
    everything, chosen = rows_by_key(full), rows_by_key(selected)
    assert chosen, names
    assert set(chosen) == {key for key in everything if key[0] in want}, names
    for key, row in chosen.items():
        assert row == everything[key], key
    assert selected.confusion == full.confusion  # confusion tables, exclusions and warnings stay
    pd.testing.assert_frame_equal(selected.exclusions, full.exclusions)
    assert {w["code"] for w in selected.warnings} <= {w["code"] for w in full.warnings}


@cache
def likert_study():
    study = simulate_study(seed=1, n_users=30, n_items=240)
    return study.labels, study.items, config_from_mapping(study.config()).with_overrides(resamples=200)


def pairwise_study(
    n_items: int = 400, n_users: int = 40, seed: int = 3, labels: tuple[str, ...] = ("a", "tie", "b")
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small pairwise study: 3 human raters and 3 judges of rising noise, a ``source`` column (sliced
    automatically) and response texts (the ``longer`` baseline); ``labels``: the verdicts below -0.4, between and
    above 0.4 (two of them: below and above 0)."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, n_users, n_items)
    latent = rng.normal(size=n_items) + rng.normal(size=n_users)[user] * 0.5
    ids = [f"i{i}" for i in range(n_items)]
    items = pd.DataFrame(
        {
            "item_id": ids,
            "user_id": [f"u{u}" for u in user],
            "source": np.where(rng.random(n_items) < 0.5, "real", "synthetic"),
            "response_a": ["x" * int(n) for n in rng.integers(1, 40, n_items)],
            "response_b": ["y" * int(n) for n in rng.integers(1, 40, n_items)],
        }
    )
    rows = []
    for judge, raters, noise in (("human", 3, 0.6), ("j1", 1, 0.5), ("j2", 1, 1.0), ("j3", 1, 2.0)):
        for r in range(raters):
            x = latent + rng.normal(scale=noise, size=n_items)
            if len(labels) == 2:
                verdict = np.where(x > 0, labels[1], labels[0])
            else:
                verdict = np.where(x > 0.4, labels[2], np.where(x < -0.4, labels[0], labels[1]))
            rows.append(pd.DataFrame({"item_id": ids, "judge": judge, "rater": f"r{r}", "label": verdict}))
    return pd.concat(rows, ignore_index=True), items


def score_study(n_items: int = 300, n_users: int = 30, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small score study (continuous values: the float64 weights products)."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, n_users, n_items)
    latent = rng.normal(size=n_items)
    ids = [f"s{i}" for i in range(n_items)]
    items = pd.DataFrame({"item_id": ids, "user_id": [f"u{u}" for u in user]})
    rows = []
    for judge, raters, noise in (("human", 3, 0.5), ("j1", 1, 0.4), ("j2", 1, 1.5)):
        for r in range(raters):
            value = latent + rng.normal(scale=noise, size=n_items)
            rows.append(pd.DataFrame({"item_id": ids, "judge": judge, "rater": f"r{r}", "score": value}))
    return pd.concat(rows, ignore_index=True), items


LIKERT_SELECTIONS = [
    ["cohen_kappa"],
    ["no_better_rate_gap"],
    ["agreement_z_vs_ceiling"],
    ["fleiss_kappa", "gwet_ac2", "conger_kappa", "light_kappa", "spearman"],
    ["win_rate", "mean_score_gap", "krippendorff_alpha", "alt_test_pass", "self_preference"],
    ["first_position_rate", "length_preference", "undecided_rate", "attribute_mention_effect"],
]


def test_selected_rows_equal_the_full_audit_on_the_demo_study():
    labels, items, config = likert_study()
    full = auditor.audit(labels, items, config=config)
    for names in LIKERT_SELECTIONS:
        assert_selected_equal_full(full, auditor.audit(labels, items, config=config, metrics=names), names)


def test_selected_rows_equal_the_full_audit_on_a_pairwise_study():
    labels, items = pairwise_study()
    config = AuditConfig(task="pairwise", resamples=200, slice_by=("source",))
    full = auditor.audit(labels, items, config=config)
    assert {"category_kappa", "win_rate_gap", "light_kappa"} <= set(full.metrics["metric"])
    for names in (
        [
            "agreement",
            "cohen_kappa",
            "fleiss_kappa",
            "win_rate_gap",
            "no_better_rate_gap",
        ],  # the lower bound's
        ["category_kappa"],
        ["loss_rate"],
        ["gwet_ac1", "brennan_prediger", "agreement_z_vs_ceiling"],
    ):
        assert_selected_equal_full(full, auditor.audit(labels, items, config=config, metrics=names), names)


@pytest.mark.parametrize(
    ("task", "labels", "selections"),
    [
        ("binary", ("0", "1"), (["win_rate_gap", "gwet_ac1"], ["krippendorff_alpha"])),
        ("categorical", ("x", "y", "z"), (["category_kappa", "scott_pi"], ["agreement_z_vs_ceiling"])),
    ],
)
def test_selected_rows_equal_the_full_audit_on_binary_and_categorical_studies(task, labels, selections):
    data, items = pairwise_study(n_items=200, n_users=20, labels=labels)
    config = AuditConfig(task=task, resamples=200, categories=labels if task == "categorical" else None)
    full = auditor.audit(data, items, config=config)
    for names in selections:
        assert_selected_equal_full(full, auditor.audit(data, items, config=config, metrics=names), names)


def test_selected_rows_equal_the_full_audit_on_pandalm():
    study = auditor.datasets.load("pandalm", shared_dataset("pandalm_testset"))
    config = config_from_mapping(study.config()).with_overrides(resamples=200)
    full = auditor.audit(study.labels, study.items, config=config)
    for names in (["cohen_kappa", "krippendorff_alpha"], ["no_better_rate_gap", "tie_rate"]):
        selected = auditor.audit(study.labels, study.items, config=config, metrics=names)
        assert_selected_equal_full(full, selected, names)


def test_selected_rows_of_a_score_study_equal_the_full_audit_to_the_last_bits():
    """Score tasks sum fractional values per cluster: their weights products are float64 ones shared with the other
    statistics computed at the same time, whose last bits depend on the columns beside them (OpenBLAS), so the
    selected rows equal the full audit's values and counts exactly and their intervals to 1e-12."""
    labels, items = score_study()
    config = AuditConfig(task="score", resamples=200, score_neutral=0.0)
    full = auditor.audit(labels, items, config=config)
    everything = {tuple(r[k] for k in KEY): r for r in full.to_dict()["metrics"]}
    for names in (["icc_a1", "pearson"], ["mean_score_gap"], ["krippendorff_alpha", "win_rate"]):
        selected = auditor.audit(labels, items, config=config, metrics=names)
        rows = {tuple(r[k] for k in KEY): r for r in selected.to_dict()["metrics"]}
        want = computed(names, "score")
        assert set(rows) == {key for key in everything if key[0] in want}, names
        for key, row in rows.items():
            other = everything[key]
            assert row["value"] == other["value"] and row["n"] == other["n"], key
            for field in ("ci_low", "ci_high", "p_value", "p_adjusted"):
                if row[field] is None or other[field] is None:
                    assert row[field] is other[field], (key, field)
                else:
                    assert abs(row[field] - other[field]) <= 1e-12, (key, field)


def test_what_is_not_selected_is_not_computed(monkeypatch):
    """Every statistic the shared bootstrap evaluates is a selected one (or the mean score that comes with the rates
    from the same sums): the agreement family, the ceiling, the baselines' and the other rates are never computed
    and dropped (juries off: a jury's own undecided rate and effective judges are not selection-aware)."""
    evaluated: list[str] = []
    sums_many = Resampler.sums_many

    def recording(self, per_cluster, fns, n, **options):
        evaluated.extend(fns)
        return sums_many(self, per_cluster, fns, n, **options)

    monkeypatch.setattr(Resampler, "sums_many", recording)
    labels, items = pairwise_study(n_items=120, n_users=12)
    config = AuditConfig(task="pairwise", resamples=100).with_options(jury={"enabled": False})
    result = auditor.audit(labels, items, config=config, metrics=["no_better_rate"])
    assert set(result.metrics["metric"]) == {"no_better_rate"}
    assert evaluated and set(evaluated) <= {"no_better_rate", "mean_score"}

    evaluated.clear()
    auditor.audit(labels, items, config=config, metrics=["cohen_kappa"])
    assert set(evaluated) == {"cohen_kappa"}

    evaluated.clear()
    auditor.audit(labels, items, config=config)  # without a selection: everything
    assert {"gwet_ac2", "win_rate", "tie_rate", "0"} <= set(evaluated)  # "0": the first category kappa


def test_analyses_without_a_selected_metric_do_not_run():
    labels, items, config = likert_study()
    result = auditor.audit(labels, items, config=config, metrics=["cohen_kappa"])
    assert "alt_test" not in result.meta and "ppi" not in result.meta
    assert "position" not in result.meta.get("probes", {})
    kept = auditor.audit(labels, items, config=config, metrics=["cohen_kappa", "alt_test_pass"])
    assert "alt_test" in kept.meta
    assert set(kept.metrics["metric"]) == {"cohen_kappa", "alt_test_pass"}


def test_the_out_of_core_engine_computes_the_selection_too(tmp_path):
    pytest.importorskip("duckdb")
    labels, items = pairwise_study(n_items=200, n_users=20)
    labels.to_parquet(tmp_path / "labels.parquet")
    items.to_parquet(tmp_path / "items.parquet")
    config = AuditConfig(task="pairwise", resamples=200)
    args = (tmp_path / "labels.parquet", tmp_path / "items.parquet")
    full = auditor.audit(*args, config=config, engine="duckdb")
    for names in (["cohen_kappa", "win_rate_gap"], ["tie_rate", "ppi_win_rate"], ["gwet_ac1"]):
        selected = auditor.audit(*args, config=config, engine="duckdb", metrics=names)
        assert_selected_equal_full(full, selected, names)


# -- the option and its checks -----------------------------------------------------------------------------------
def test_metrics_from_toml_and_from_the_option():
    config = config_from_mapping(
        {"task": "pairwise", "metrics": ["cohen_kappa", "no_better_rate_gap"]}, "a.toml"
    )
    assert config.metrics == ("cohen_kappa", "no_better_rate_gap")
    assert config.with_overrides(metrics=parse_metrics(" win_rate, ,tie_rate ")).metrics == (
        "win_rate",
        "tie_rate",
    )
    assert config.with_overrides(metrics=None).metrics == config.metrics  # no option: the file's
    assert AuditConfig(task="pairwise").metrics is None  # absent: every metric
    assert computed(["no_better_rate_gap", "agreement_z_vs_ceiling"], "likert") == {
        "no_better_rate_gap",
        "no_better_rate",
        "agreement_z_vs_ceiling",
        "cohen_kappa_quadratic",
    }


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"task": "pairwise", "metrics": []}, "column 'metrics': is empty; list at least one metric name"),
        (
            {"task": "pairwise", "metrics": ["cohen_kapa"]},
            "unknown metric 'cohen_kapa'; did you mean 'cohen_kappa'",
        ),
        (
            {"task": "binary", "metrics": ["zzz"]},
            "unknown metric 'zzz'; a binary audit has: agreement, cohen_kappa",
        ),
        (
            {"task": "categorical", "metrics": ["no_better_rate"]},
            "'no_better_rate' does not apply: a categorical task has no outcome rates",
        ),
        (
            {"task": "binary", "metrics": ["tie_rate_gap"]},
            "'tie_rate_gap' does not apply: a binary task has no tie rate",
        ),
        (
            {"task": "pairwise", "metrics": ["spearman"]},
            "correlations are computed for likert and score tasks",
        ),
        ({"task": "binary", "metrics": ["gwet_ac2"]}, "weighted coefficients need ordered labels"),
        ({"task": "score", "metrics": ["win_rate"]}, "outcome rates only with a neutral point"),
    ],
)
def test_bad_selections_name_the_key_and_the_reason(mapping, message):
    config = config_from_mapping(mapping, "audit.toml")  # read as given; checked against the task when used
    with pytest.raises(ConfigError) as info:
        check(config.metrics, config.task, config.score_neutral, where=config.source)
    text = str(info.value)
    assert message in text and "audit.toml" in text and "metrics" in text
    assert "\n" not in text
    labels, items = pairwise_study(n_items=20, n_users=4)
    if mapping["task"] == "pairwise":  # the audit refuses it before computing anything
        with pytest.raises(ConfigError, match="metrics"):
            auditor.audit(labels, items, config=config)


def test_every_name_a_task_offers_is_accepted():
    for task in ("pairwise", "likert", "binary", "categorical", "score"):
        offered = task_metrics(task, 0.0)
        check(offered, task, 0.0)  # no error
        assert set(offered) >= set(computed(offered, task))  # what a selection needs is offered too
