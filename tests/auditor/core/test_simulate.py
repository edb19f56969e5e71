"""The simulated example study: determinism, shapes, calibration to the published figures, and its truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from auditor.simulate import HUMAN_RATERS, simulate_study, truth

SEEDS = range(16)
LLM_JUDGES = ("gpt-4o", "claude-3.5", "llama-3-70b")


def wide(study) -> pd.DataFrame:
    """One row per item: the three human ratings, each judge's rating and the reward score."""
    labels = study.labels[
        study.labels["order"].isna()
    ]  # the position judge's two orders are tested on their own
    table = labels.pivot(index="item_id", columns=["judge", "rater"], values="label").astype(int)
    table.columns = [rater if judge == "human" else judge for judge, rater in table.columns]
    rm = labels[labels["judge"] == "rm-skywork"].set_index("item_id")["score"]
    table["rm_score"] = rm
    table["human_median"] = np.median(table[list(HUMAN_RATERS)], axis=1)
    return table.loc[study.items["item_id"]]


@pytest.fixture(scope="module")
def studies():
    return [simulate_study(seed, with_truth=False) for seed in SEEDS]


def test_same_seed_gives_identical_tables_and_other_seeds_differ():
    first, again, other = (
        simulate_study(5, with_truth=False),
        simulate_study(5, with_truth=False),
        simulate_study(6),
    )
    pd.testing.assert_frame_equal(first.items, again.items)
    pd.testing.assert_frame_equal(first.labels, again.labels)
    assert not first.labels["label"].equals(other.labels["label"])


def test_shapes_and_contract(studies):
    study = studies[0]
    items, labels = study.items, study.labels
    assert len(items) == 550 and items["item_id"].is_unique
    assert items["user_id"].nunique() == 50
    per_user = items.groupby("user_id").size()
    assert per_user.min() >= 1 and per_user.max() > 2 * per_user.min()  # uneven clusters
    assert set(items["source"]) == {"real", "synthetic"} and (items["source"] == "synthetic").sum() == 275
    assert set(items["stage"]) == {"generation"}
    for column in ("prompt", "response_a", "response_b", "profile"):
        assert items[column].map(lambda text: isinstance(text, str) and len(text) > 10).all()
    assert study.task == "likert" and study.scale == (1, 5, 3) and study.simulated
    assert "SIMULATED" in study.description and "Re-Centering Humans" in study.description
    counts = labels.groupby("judge").size()
    assert counts["human"] == 3 * 550 and all(counts[j] == 550 for j in (*LLM_JUDGES, "rm-skywork"))
    assert set(labels.loc[labels.judge == "human", "rater"]) == set(HUMAN_RATERS)
    assert set(labels["label"]) <= {"1", "2", "3", "4", "5"}
    assert set(labels.loc[labels.judge == "rm-skywork", "label"]) <= {"2", "3", "4"}
    assert labels["score"].notna().sum() == 550
    assert set(labels["item_id"]) == set(items["item_id"])


def test_reward_label_is_the_sign_of_its_score_with_a_tie_margin(studies):
    rm = studies[0].labels.query("judge == 'rm-skywork'")
    expected = np.where(rm["score"] > 0.25, "4", np.where(rm["score"] < -0.25, "2", "3"))
    assert (rm["label"].to_numpy() == expected).all()


def test_human_ratings_match_the_published_figures_on_average(studies):
    no_better = np.mean([(wide(s)["human_median"] <= 3).mean() for s in studies])
    mean_rating = np.mean([wide(s)[list(HUMAN_RATERS)].to_numpy().mean() for s in studies])
    assert 0.50 <= no_better <= 0.60
    assert abs(mean_rating - 3.18) <= 0.1


def test_human_raters_agree_moderately(studies):
    table = wide(studies[0])
    kappas = [
        cohen_kappa_score(table[a], table[b], weights="quadratic")
        for a, b in (("rater1", "rater2"), ("rater1", "rater3"), ("rater2", "rater3"))
    ]
    assert 0.4 < np.mean(kappas) < 0.8


def test_llm_judges_are_more_lenient_and_weakly_correlated(studies):
    means = {j: np.mean([wide(s)[j].mean() for s in studies]) for j in LLM_JUDGES}
    rhos = {
        j: np.mean([stats.spearmanr(wide(s)[j], wide(s)["human_median"])[0] for s in studies])
        for j in LLM_JUDGES
    }
    for judge in LLM_JUDGES:
        assert 3.41 <= means[judge] <= 4.02, (judge, means[judge])
        assert 0.1 <= rhos[judge] <= 0.4, (judge, rhos[judge])
    assert max(means.values()) - min(means.values()) > 0.3  # the judges span the published range


def test_reward_model_spearman_is_near_0_3(studies):
    rho = np.mean([stats.spearmanr(wide(s)["rm_score"], wide(s)["human_median"])[0] for s in studies])
    assert 0.2 <= rho <= 0.4


def test_truth_has_population_values_for_every_judge():
    values = truth()
    judges = ("human", *LLM_JUDGES, "rm-skywork")
    assert set(values["no_better_rate"]) == set(judges)
    assert set(values["cohen_kappa"]) == set(judges)
    assert abs(values["no_better_rate"]["human"] - 0.546) < 0.01
    assert abs(values["mean_rating"]["human"] - 3.18) < 0.01
    for judge in LLM_JUDGES:
        assert 3.41 <= values["mean_score"][judge] <= 4.02
        assert values["no_better_rate_gap"][judge] < 0  # more lenient than humans
    assert simulate_study(0).truth == values
    values["no_better_rate"]["human"] = -1.0  # a caller's edit does not reach the cache
    assert truth()["no_better_rate"]["human"] > 0


def test_truth_is_the_mean_of_what_the_estimators_compute():
    """Average the sample estimates over many studies: they land on the population values (no estimand mismatch)."""
    values = truth()
    estimates = {"human": [], "gpt-4o": [], "kappa": []}
    for seed in range(100, 160):
        table = wide(simulate_study(seed, with_truth=False))
        estimates["human"].append((table["human_median"] <= 3).mean())
        estimates["gpt-4o"].append((table["gpt-4o"] <= 3).mean())
        estimates["kappa"].append(cohen_kappa_score(table["gpt-4o"], table["human_median"].astype(int)))
    # 60 studies: standard error of the mean is about 0.004 for the rates and 0.004 for kappa
    assert abs(np.mean(estimates["human"]) - values["no_better_rate"]["human"]) < 0.015
    assert abs(np.mean(estimates["gpt-4o"]) - values["no_better_rate"]["gpt-4o"]) < 0.015
    assert abs(np.mean(estimates["kappa"]) - values["cohen_kappa"]["gpt-4o"]) < 0.015


def test_population_kappa_matches_sklearn_on_a_large_sample():
    """The truth's kappa is computed from a joint table: check the formula against scikit-learn directly."""
    from auditor.simulate import _kappa

    rng = np.random.default_rng(0)
    x = rng.integers(1, 6, 5000)
    y = np.clip(x + rng.integers(-1, 2, 5000), 1, 5)
    table = np.zeros((5, 5))
    np.add.at(table, (x - 1, y - 1), 1)
    for weights in (None, "linear", "quadratic"):
        assert _kappa(table, weights) == pytest.approx(cohen_kappa_score(x, y, weights=weights), abs=1e-12)


def test_written_study_round_trips(tmp_path):
    import tomllib

    study = simulate_study(2, with_truth=False)
    study.write(tmp_path)
    items = pd.read_json(tmp_path / "items.jsonl", lines=True, dtype=False)
    labels = pd.read_json(tmp_path / "labels.jsonl", lines=True, dtype={"label": str, "rater": str})
    config = tomllib.loads((tmp_path / "audit.toml").read_text())
    assert len(items) == 550 and len(labels) == len(study.labels)
    assert config["task"] == "likert" and config["simulated"] is True and config["reference"] == "human"
    assert config["scale"] == {"min": 1, "max": 5, "neutral": 3}
    assert "SIMULATED" in config["title"]


def test_demo_seed_gives_a_typical_sample():
    from auditor.simulate import DEMO_SEED

    values = truth()
    table = wide(simulate_study(DEMO_SEED, with_truth=False))
    assert abs((table["human_median"] <= 3).mean() - values["no_better_rate"]["human"]) < 0.015
    assert abs(table[list(HUMAN_RATERS)].to_numpy().mean() - 3.18) < 0.05
    for judge in LLM_JUDGES:
        assert abs(table[judge].mean() - values["mean_score"][judge]) < 0.07


def test_items_of_one_user_are_correlated():
    """The per-user effect makes clustering matter: user means vary more than independent items would allow."""
    table = wide(simulate_study(3, n_users=50, n_items=2000, with_truth=False))
    users = simulate_study(3, n_users=50, n_items=2000, with_truth=False).items.set_index("item_id")[
        "user_id"
    ]
    item_means = table[list(HUMAN_RATERS)].mean(axis=1)
    by_user = item_means.groupby(users.loc[table.index]).agg(["mean", "size"])
    within = item_means.groupby(users.loc[table.index]).var().mean()
    # variance of user means, compared with what independent items would give (within / size)
    excess = by_user["mean"].var() - (within / by_user["size"]).mean()
    assert excess > 0.05


def test_attribute_mention_effect_matches_the_published_figures():
    effect = truth()["attribute_mention_effect"]
    assert effect["human"] == pytest.approx(0.03, abs=0.01)
    assert effect["claude-3.5"] == pytest.approx(-0.39, abs=0.02)
    # and a sample shows it, averaged over studies
    diffs = []
    for seed in range(20):
        study = simulate_study(seed, with_truth=False)
        claude = study.labels[study.labels["judge"] == "claude-3.5"].set_index("item_id")["label"].astype(int)
        mention = study.items.set_index("item_id")["mentions_attribute"].loc[claude.index]
        diffs.append(claude[mention].mean() - claude[~mention].mean())
    assert np.mean(diffs) == pytest.approx(-0.39, abs=0.06)


def test_synthetic_items_flatter_the_judges():
    from auditor.simulate import truth_by_slice

    slices = truth_by_slice()
    assert set(slices) == {"source=real", "source=synthetic"}
    real, synthetic = slices["source=real"], slices["source=synthetic"]
    for judge in LLM_JUDGES:
        assert synthetic["cohen_kappa"][judge] > real["cohen_kappa"][judge]
    assert synthetic["no_better_rate"]["human"] < real["no_better_rate"]["human"]
    # the overall value is the average of the two equally likely slices
    overall = truth()["no_better_rate"]["human"]
    assert overall == pytest.approx(
        (real["no_better_rate"]["human"] + synthetic["no_better_rate"]["human"]) / 2, abs=0.002
    )


# ---- stages 1 and 2 ------------------------------------------------------------------------------------------


def test_extraction_study_shapes_and_calibration():
    from auditor.simulate import extraction_truth, simulate_extraction_study

    study = simulate_extraction_study(4)
    again = simulate_extraction_study(4, with_truth=False)
    pd.testing.assert_frame_equal(study.labels, again.labels)
    assert (
        study.task == "categorical"
        and study.categories == ("accept", "uncertain", "reject")
        and study.simulated
    )
    assert set(study.items["stage"]) == {"extraction"} and set(study.items["source"]) == {"real", "synthetic"}
    assert study.items["user_id"].nunique() == 50 and study.items["item_id"].is_unique
    assert set(study.labels["label"]) == {"accept", "uncertain", "reject"}
    by_slice = extraction_truth(by_slice=True)
    real = by_slice["source=real"]["problematic_rate"]["human"]
    synthetic = by_slice["source=synthetic"]["problematic_rate"]["human"]
    assert real / synthetic == pytest.approx(1.22, abs=0.03)
    for judge in ("gpt-4o", "claude-3.5"):  # LLM judges flag no more problems than humans
        assert study.truth["problematic_rate"][judge] <= study.truth["problematic_rate"]["human"] + 0.005


def test_extraction_truth_is_the_mean_of_the_sample_rates():
    from auditor.simulate import extraction_truth, simulate_extraction_study

    values = extraction_truth()
    rates = []
    for seed in range(40):
        study = simulate_extraction_study(seed, with_truth=False)
        humans = study.labels[study.labels["judge"] == "human"].pivot(
            index="item_id", columns="rater", values="label"
        )
        codes = humans.apply(lambda column: column.map({"accept": 0, "uncertain": 1, "reject": 2})).to_numpy()
        counts = np.stack([(codes == c).sum(axis=1) for c in range(3)], axis=1)
        has_majority = counts.max(axis=1) >= 2
        rates.append((counts.argmax(axis=1)[has_majority] >= 1).mean())
    assert np.mean(rates) == pytest.approx(values["problematic_rate"]["human"], abs=0.01)


def test_relevance_study_matches_the_published_figures():
    from auditor.simulate import relevance_truth, simulate_relevance_study

    values = relevance_truth()
    assert values["relevant_rate"]["human"] == pytest.approx(0.20, abs=0.01)
    assert values["cohen_kappa"]["human"] == pytest.approx(0.43, abs=0.02)
    assert np.mean(list(values["kappa_with_single_human"].values())) == pytest.approx(0.30, abs=0.02)
    assert np.mean(list(values["kappa_between_judges"].values())) == pytest.approx(0.60, abs=0.02)
    for judge in ("gpt-4o", "claude-3.5", "llama-3-70b"):
        assert 0.40 <= values["relevant_rate"][judge] <= 0.60
        assert values["over_identification"][judge] > 1

    rates, kappas = [], []
    for seed in range(30):
        study = simulate_relevance_study(seed, with_truth=False)
        wide_votes = study.labels.pivot(index="item_id", columns=["judge", "rater"], values="label").astype(
            int
        )
        majority = (wide_votes["human"].sum(axis=1) >= 2).astype(int)
        rates.append(majority.mean())
        kappas.append(cohen_kappa_score(wide_votes[("gpt-4o", "0")], majority))
    assert np.mean(rates) == pytest.approx(values["relevant_rate"]["human"], abs=0.01)
    assert np.mean(kappas) == pytest.approx(values["cohen_kappa"]["gpt-4o"], abs=0.02)


def test_position_judge_prefers_the_response_shown_first_and_generators_are_named():
    study = simulate_study(3, with_truth=False)
    judge = study.labels[study.labels["judge"] == "mistral-large"]
    ab = judge[judge["order"] == "ab"].set_index("item_id")["label"].astype(int)
    ba = judge[judge["order"] == "ba"].set_index("item_id")["label"].astype(int)
    assert len(ab) == len(ba) == 550
    assert ba.mean() - ab.mean() > 0.3  # shown first, b looks better
    assert set(study.items["generator"]) <= {"gpt-4o", "claude-3.5", "llama-3-70b", "mistral-large"}
    # the other judges' tables do not change when the position judge is added (its own random stream)
    others = study.labels[study.labels["order"].isna()]
    assert len(others) == 550 * (3 + 4)


def test_probe_study_extends_the_main_study_without_changing_it():
    from auditor.simulate import PROBE_VARIANTS, simulate_probe_study

    main, probe = simulate_study(5, with_truth=False), simulate_probe_study(5)
    pd.testing.assert_frame_equal(main.items, probe.items)
    for judge in ("human", "gpt-4o"):  # the same verdicts as in the main study
        pd.testing.assert_frame_equal(
            main.labels[main.labels["judge"] == judge].reset_index(drop=True)[["item_id", "rater", "label"]],
            probe.labels[probe.labels["judge"] == judge].reset_index(drop=True)[
                ["item_id", "rater", "label"]
            ],
        )
    by_judge = {j: g.set_index("item_id")["label"] for j, g in probe.labels.groupby("judge")}
    assert set(by_judge) == {"human", "gpt-4o"} | {f"gpt-4o|{v.judge}" for v in PROBE_VARIANTS}
    # the full view at the start is the run with the users' own profile; removing the persona is the "none" view
    pd.testing.assert_series_equal(
        by_judge["gpt-4o"], by_judge["gpt-4o|profile_view=full@start"], check_names=False
    )
    pd.testing.assert_series_equal(
        by_judge["gpt-4o|persona=removed"], by_judge["gpt-4o|profile_view=none@start"], check_names=False
    )
    tokens = probe.labels.groupby("judge")["prompt_tokens"].mean()
    assert (
        tokens["gpt-4o|profile_view=none@start"]
        < tokens["gpt-4o|profile_view=inputs@start"]
        < tokens["gpt-4o|profile_view=outputs@start"]
        < tokens["gpt-4o|profile_view=full@start"]
    )
    assert "SIMULATED" in probe.description


def test_probe_variants_order_as_the_lamp_profile_study_says_in_a_large_sample():
    """Over 20,000 items: past outputs agree best, a profile at the start beats the end, no profile or another
    user's profile barely tracks the humans; and the persona variants flip many verdicts."""
    from auditor.simulate import simulate_probe_study

    probe = simulate_probe_study(11, n_users=1000, n_items=20_000)
    labels = probe.labels
    median = (
        labels[labels["judge"] == "human"].groupby("item_id")["label"].agg(lambda s: np.median(s.astype(int)))
    )
    rho = {}
    for judge, group in labels[labels["judge"] != "human"].groupby("judge"):
        verdict = group.set_index("item_id")["label"].astype(int).loc[median.index]
        rho[judge.partition("|")[2] or "own"] = stats.spearmanr(verdict, median)[0]
    assert (
        rho["profile_view=outputs@start"]
        > rho["profile_view=full@start"]
        > rho["profile_view=full@end"]
        > rho["profile_view=inputs@start"]
        > rho["profile_view=none@start"]
        > rho["persona=swapped"]
    )
    assert rho["persona=swapped"] < 0.1
    own = labels[labels["judge"] == "gpt-4o"].set_index("item_id")["label"]
    for variant in ("persona=removed", "persona=swapped"):
        other = labels[labels["judge"] == f"gpt-4o|{variant}"].set_index("item_id")["label"].loc[own.index]
        assert 0.3 < (other != own).mean() < 0.8
