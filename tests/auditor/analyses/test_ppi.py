"""PPI++ means: against ppi_py, against hand-derived sums, clustered, and inside the audit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from advanced_fixtures import binary_study

import auditor
from auditor.stats import ppi
from auditor.stats.bootstrap import Resampler, interval


def _disjoint(seed: int = 0, n: int = 200, big_n: int = 2000, accuracy: float = 0.8):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(float)
    yhat = np.where(rng.random(n) < accuracy, y, 1 - y)
    yhat_u = (rng.random(big_n) < 0.5).astype(float)
    return y, yhat, yhat_u


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0])
def test_fixed_lambda_interval_equals_ppi_py(lam):
    ppi_py = pytest.importorskip("ppi_py")
    y, yhat, yhat_u = _disjoint()
    ours = ppi.ppi_mean(y, yhat, yhat_u, lam=lam, level=0.9)
    lo, hi = ppi_py.ppi_mean_ci(y, yhat, yhat_u, alpha=0.1, lam=lam)
    assert ours.value == pytest.approx(
        float(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_u, lam=lam)[0]), abs=1e-12
    )
    assert (ours.ci_low, ours.ci_high) == pytest.approx((float(lo[0]), float(hi[0])), abs=1e-12)


def test_lambda_zero_is_the_human_only_mean():
    y, yhat, yhat_u = _disjoint(3)
    r = ppi.ppi_mean(y, yhat, yhat_u, lam=0.0)
    assert r.value == pytest.approx(y.mean())
    assert r.se == pytest.approx(np.std(y) / np.sqrt(y.size))
    assert r.classical_se == pytest.approx(r.se)


def test_an_accurate_judge_is_worth_extra_labels_and_a_useless_one_is_not():
    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.4).astype(float)
    truth_u = (rng.random(5000) < 0.4).astype(float)
    good = ppi.ppi_mean(
        y, np.where(rng.random(300) < 0.95, y, 1 - y), np.where(rng.random(5000) < 0.95, truth_u, 1 - truth_u)
    )
    # phi of a 95%-accurate judge at p = 0.4 is about 0.9: variance shrinks to about 1 - phi^2 + phi^2 n/N
    assert good.lam > 0.7
    assert good.effective_labels > 3 * y.size
    noise = ppi.ppi_mean(y, (rng.random(300) < 0.5).astype(float), (rng.random(5000) < 0.5).astype(float))
    assert noise.lam < 0.2
    assert noise.extra_labels < 0.1 * y.size


def test_clustered_sums_match_the_influence_terms_written_out():
    rng = np.random.default_rng(5)
    g = 7
    cl_u = rng.integers(0, g, 60)
    yhat_u = rng.normal(size=60)
    pick = rng.choice(
        60, 25, replace=False
    )  # labelled items are some of the judged ones (the audit's design)
    cl, yhat = cl_u[pick], yhat_u[pick]
    y = yhat + rng.normal(size=25)
    out = ppi.point(ppi.cluster_sums(y, yhat, cl, yhat_u, cl_u, g))
    n, big_n = y.size, yhat_u.size
    a_mean, b_mean, c_mean = yhat_u.mean(), y.mean(), yhat.mean()
    a = np.array([np.sum(yhat_u[cl_u == k] - a_mean) / big_n for k in range(g)])
    b = np.array([np.sum(y[cl == k] - b_mean) / n for k in range(g)])
    c = np.array([np.sum(yhat[cl == k] - c_mean) / n for k in range(g)])
    d = c - a
    lam = np.clip(np.sum(b * d) / np.sum(d * d), 0, 1)
    assert out["lam"] == pytest.approx(lam)
    assert out["value"] == pytest.approx(lam * a_mean + b_mean - lam * c_mean)
    assert out["variance"] == pytest.approx(np.sum((b - lam * d) ** 2))
    assert out["classical_variance"] == pytest.approx(np.sum(b * b))


def test_when_every_judged_item_is_labelled_the_estimate_is_the_human_mean():
    rng = np.random.default_rng(6)
    y = rng.normal(size=80)
    yhat = y + rng.normal(size=80)
    ids = np.arange(80)
    r = ppi.ppi_mean(y, yhat, yhat, cluster=ids, cluster_unlabelled=ids)
    assert r.value == pytest.approx(y.mean())


def test_wald_interval_covers_in_the_audit_design_with_clusters():
    """1000 studies: 40 users x 10 items, 30% labelled at random, user effects on truth and judge."""
    rng = np.random.default_rng(7)
    truth = 0.5 - 0.5 * math.erf(0.2 / math.sqrt(2 * 1.64))  # P(N(0, 0.8^2 + 1) > 0.2)
    hits, hits_bootstrap = [], []
    for rep in range(1000):
        user = np.repeat(np.arange(40), 10)
        latent = rng.normal(size=40)[user] * 0.8 + rng.normal(size=400)
        y = (latent > 0.2).astype(float)
        yhat = ((latent + 0.7 * rng.normal(size=400) + 0.5 * rng.normal(size=40)[user]) > 0.0).astype(float)
        lab = rng.random(400) < 0.3
        r = ppi.ppi_mean(y[lab], yhat[lab], yhat, cluster=user[lab], cluster_unlabelled=user)
        hits.append(r.ci_low <= truth <= r.ci_high)
        if rep < 200:
            sums = ppi.cluster_sums(y[lab], yhat[lab], user[lab], yhat, user, 40)
            lo, hi = interval(ppi.ppi_estimate(sums, Resampler(40, 1000, rep), 400))
            hits_bootstrap.append(lo <= truth <= hi)
    assert 0.925 <= np.mean(hits) <= 0.965
    assert (
        0.90 <= np.mean(hits_bootstrap) <= 0.99
    )  # 200 studies: a loose check; the slow test does 300 audits


def test_audit_adds_ppi_rows_that_match_the_pure_function():
    items, labels, arrays = binary_study(seed=1)
    result = auditor.audit(labels, items=items, task="binary", resamples=500)
    lab = np.isfinite(arrays["y"])
    direct = ppi.ppi_mean(
        arrays["y"][lab],
        arrays["yhat"][lab],
        arrays["yhat"],
        cluster=arrays["user"][lab],
        cluster_unlabelled=arrays["user"],
    )
    row = result.metric("ppi_mean_score", "judge")
    assert row["reference"] == "human"
    assert row["value"] == pytest.approx(direct.value)
    assert row["ci_low"] < row["value"] < row["ci_high"]
    nb = result.metric("ppi_no_better_rate", "judge")
    assert nb["value"] == pytest.approx(1 - direct.value)  # binary: no better = label 0
    meta = {m["metric"]: m for m in result.meta["ppi"]["judges"][0]["metrics"]}
    assert meta["ppi_mean_score"]["lam"] == pytest.approx(direct.lam)
    assert meta["ppi_mean_score"]["extra_labels"] > 0  # an 85%-accurate judge on 3x as many items helps
    assert result.meta["ppi"]["judges"][0]["n_labelled"] == int(lab.sum())
    assert set(result.metrics["metric"]) >= {"ppi_win_rate", "ppi_no_better_rate", "ppi_mean_score"}


def test_audit_skips_ppi_rows_when_every_item_has_a_human_label():
    items, labels, _ = binary_study(seed=2, labelled_share=1.0)
    result = auditor.audit(labels, items=items, task="binary", resamples=200)
    assert not result.metrics["metric"].str.startswith("ppi_").any()
    assert "equals the reference's own rate" in result.meta["ppi"]["judges"][0]["note"]


def test_audit_json_carries_the_ppi_section():
    items, labels, _ = binary_study(seed=3)
    doc = auditor.audit(labels, items=items, task="binary", resamples=200).to_dict()
    assert doc["ppi"]["judges"][0]["metrics"][0]["metric"] == "ppi_win_rate"
    assert any(m["metric"] == "ppi_no_better_rate" for m in doc["metrics"])


def test_pairwise_audit_ppi_uses_the_majority_of_the_raters_and_the_no_better_call():
    rng = np.random.default_rng(8)
    n, codes = 240, np.array(["a", "tie", "b"])
    ids = np.array([f"i{i:03d}" for i in range(n)])
    user = np.arange(n) // 4
    truth = rng.choice(3, n, p=[0.3, 0.2, 0.5])
    labelled = rng.random(n) < 0.4
    raters = np.column_stack([np.where(rng.random(n) < 0.8, truth, rng.integers(0, 3, n)) for _ in range(3)])
    judge = np.where(rng.random(n) < 0.7, truth, 2)  # lenient: often says b
    rows = [
        pd.DataFrame(
            {
                "item_id": ids[labelled],
                "judge": "human",
                "rater": f"r{r}",
                "label": codes[raters[labelled, r]],
            }
        )
        for r in range(3)
    ]
    rows.append(pd.DataFrame({"item_id": ids, "judge": "llm", "rater": "0", "label": codes[judge]}))
    items = pd.DataFrame({"item_id": ids, "user_id": user.astype(str)})
    result = auditor.audit(pd.concat(rows), items=items, task="pairwise", resamples=300)
    counts = np.stack([(raters == c).sum(1) for c in range(3)], 1)
    majority = np.where(
        (counts == counts.max(1, keepdims=True)).sum(1) > 1, 1, counts.argmax(1)
    )  # tie-break: tie
    y = (majority <= 1).astype(float)
    yhat = (judge <= 1).astype(float)
    direct = ppi.ppi_mean(y[labelled], yhat[labelled], yhat, cluster=user[labelled], cluster_unlabelled=user)
    assert result.metric("ppi_no_better_rate", "llm")["value"] == pytest.approx(direct.value)
    # the corrected rate moves from the lenient judge's own rate toward the humans'
    assert abs(direct.value - y[labelled].mean()) < abs(yhat.mean() - y[labelled].mean())
    # Rogan-Gladen on the pairwise no-better call: the judge's calls on the unlabelled items, corrected by its
    # sensitivity and specificity against the raters' majority on the labelled ones
    from auditor.stats import misclassification

    rg = misclassification.rogan_gladen(yhat[~labelled] == 1, y[labelled] == 1, yhat[labelled] == 1)
    assert result.metric("rogan_gladen_no_better_rate", "llm")["value"] == pytest.approx(rg.value, abs=1e-12)
    win = misclassification.rogan_gladen(judge[~labelled] == 2, majority[labelled] == 2, judge[labelled] == 2)
    assert result.metric("rogan_gladen_win_rate", "llm")["value"] == pytest.approx(win.value, abs=1e-12)


def test_the_demo_shows_the_corrected_rate_with_far_more_judged_than_labelled_items(demo_json):
    """The demo's study judges 20,000 conversations and has 550 human-rated: PPI++ rows exist with n far above the
    labelled count, the informative judge's interval is narrower than the humans-only one, and the headline says so."""
    import json

    from reports import headline

    doc = json.loads((demo_json / "audit.json").read_text())
    entries = {e["judge"]: e for e in doc["ppi"]["judges"]}
    tuned = entries["tuned-judge"]
    assert (tuned["n_labelled"], tuned["n_unlabelled"]) == (550, 20_000)
    rows = {(r["metric"], r["judge"]): r for r in doc["metrics"] if r["slice"] is None}
    for metric in ("ppi_no_better_rate", "ppi_win_rate"):
        row = rows[(metric, "tuned-judge")]
        assert row["n"] == 20_000
        detail = next(m for m in tuned["metrics"] if m["metric"] == metric)
        human_low, human_high = detail["human_only_ci"]
        assert row["ci_high"] - row["ci_low"] < 0.85 * (human_high - human_low)
        assert detail["extra_labels"] > 100
    text = " ".join(headline(doc))
    assert "Corrected (PPI++) no-better rate with tuned-judge's verdicts on 20,000 items" in text
    assert "human labels only, n = 550" in text
    # exact 5-point agreement: the calibrated judges do not beat "always 4", the informative judge does
    flagged = next(line for line in headline(doc) if "NOT BEATING THE BASELINES" in line)
    assert "gpt-4o" in flagged and "tuned-judge" not in flagged


def _persona_study(seed: int = 11):
    """The binary study with a persona per user (3 personas): enough labelled items per persona to stratify."""
    items, labels, arrays = binary_study(seed=seed, n_users=60, per_user=6, labelled_share=0.4)
    persona = np.array(["student", "parent", "retiree"])[arrays["user"] % 3]
    return items.assign(persona=persona), labels, arrays, persona


def test_audit_stratified_ppi_by_persona_matches_the_pure_function():
    from auditor.config import AuditConfig

    items, labels, arrays, persona = _persona_study()
    config = AuditConfig().with_options(ppi={"strata": "persona"})
    result = auditor.audit(labels, items=items, task="binary", resamples=0, config=config)
    lab = np.isfinite(arrays["y"])
    user = arrays["user"]
    direct = ppi.stratified_ppi_mean(
        arrays["y"][lab],
        arrays["yhat"][lab],
        arrays["yhat"],
        persona[lab],
        persona,
        cluster=user[lab],  # within a persona the users are the sampling units
        cluster_unlabelled=user,
    )
    row = result.metric("stratified_ppi_mean_score", "judge")
    assert (row["value"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (direct.value, direct.ci_low, direct.ci_high), abs=1e-12
    )
    assert row["n"] == arrays["yhat"].size
    entry = next(m for m in result.meta["ppi"]["judges"][0]["metrics"] if m["metric"] == "ppi_mean_score")
    assert entry["stratified"]["by"] == "persona" and entry["stratified"]["n_strata"] == 3
    assert result.meta["ppi"]["strata"] == "persona"


def test_audit_stratifies_only_when_the_config_names_the_strata():
    from auditor.config import AuditConfig

    items, labels, arrays = binary_study(seed=12, n_users=30, per_user=20, labelled_share=0.5)
    plain = auditor.audit(labels, items=items, task="binary", resamples=0)
    assert not plain.metrics["metric"].str.startswith("stratified_ppi_").any()
    assert "stratified" not in plain.meta["ppi"]["judges"][0]["metrics"][0]
    by_user = auditor.audit(
        labels,
        items=items,
        task="binary",
        resamples=0,
        config=AuditConfig().with_options(ppi={"strata": "user_id"}),
    )
    lab, user = np.isfinite(arrays["y"]), arrays["user"]
    ids = np.arange(user.size)
    direct = ppi.stratified_ppi_mean(
        arrays["y"][lab],
        arrays["yhat"][lab],
        arrays["yhat"],
        user[lab],
        user,
        cluster=ids[lab],  # users as strata: items are the units inside a user ...
        cluster_unlabelled=ids,
        pooled_cluster=user[lab],  # ... and users inside the pool of users with under 10 labels
        pooled_cluster_unlabelled=user,
    )
    assert direct.n_pooled > 0 and direct.n_strata > 2
    assert by_user.metric("stratified_ppi_mean_score", "judge")["value"] == pytest.approx(
        direct.value, abs=1e-12
    )


def test_audit_unknown_strata_column_is_a_config_error():
    from auditor.config import AuditConfig
    from auditor.errors import ConfigError

    items, labels, _ = binary_study(seed=13)
    config = AuditConfig().with_options(ppi={"strata": "persona"})
    with pytest.raises(ConfigError, match="no column 'persona'"):
        auditor.audit(labels, items=items, task="binary", resamples=0, config=config)


def test_audit_rogan_gladen_rows_correct_the_judges_rate_on_the_unlabelled_items():
    from auditor.stats import misclassification

    items, labels, arrays = binary_study(seed=14, n_users=80)
    result = auditor.audit(labels, items=items, task="binary", resamples=400)
    lab = np.isfinite(arrays["y"])
    y, yhat = arrays["y"], arrays["yhat"]
    direct = misclassification.rogan_gladen(yhat[~lab] == 1, y[lab] == 1, yhat[lab] == 1)
    row = result.metric("rogan_gladen_win_rate", "judge")
    assert row["value"] == pytest.approx(direct.value, abs=1e-12)
    assert row["n"] == int((~lab).sum())
    assert row["ci_low"] < row["value"] < row["ci_high"]  # the cluster bootstrap
    entry = next(m for m in result.meta["ppi"]["judges"][0]["metrics"] if m["metric"] == "ppi_win_rate")
    assert entry["rogan_gladen"]["analytic_ci"] == pytest.approx([direct.ci_low, direct.ci_high], abs=1e-12)
    assert entry["rogan_gladen"]["sensitivity"] == pytest.approx(direct.sensitivity)
    # binary: "no better" is label 0, its correction the complement of the win rate's
    nb = result.metric("rogan_gladen_no_better_rate", "judge")
    assert nb["value"] == pytest.approx(1 - row["value"], abs=1e-12)


def test_audit_weights_a_confidence_driven_sample_by_its_inclusion_probabilities():
    """Items chosen for human labels with the probabilities `auditor plan --select-out` writes: the
    confidence_driven_* rows are the inverse-probability-weighted estimate, and the section flags the others."""
    from auditor.stats import confidence_driven

    rng = np.random.default_rng(15)
    n = 400
    ids = np.array([f"i{i:03d}" for i in range(n)])
    confidence = np.clip(rng.beta(5, 1.5, n), 0.5, 1.0)
    y = rng.random(n) < 0.4
    yhat = np.where(rng.random(n) < confidence, y, ~y)
    pi = confidence_driven.selection_probabilities(1 - confidence, 120)
    chosen = rng.random(n) < pi
    items = pd.DataFrame({"item_id": ids, "inclusion_probability": np.where(chosen, pi, np.nan)})
    labels = pd.concat(
        [
            pd.DataFrame(
                {
                    "item_id": ids[chosen],
                    "judge": "human",
                    "rater": "r",
                    "label": y[chosen].astype(int).astype(str),
                }
            ),
            pd.DataFrame(
                {"item_id": ids, "judge": "judge", "rater": "0", "label": yhat.astype(int).astype(str)}
            ),
        ]
    )
    result = auditor.audit(labels, items=items, task="binary", resamples=0)
    direct = confidence_driven.confidence_driven_mean(
        yhat.astype(float), np.where(chosen, y, np.nan), chosen, np.where(chosen, pi, 1.0)
    )
    row = result.metric("confidence_driven_mean_score", "judge")
    assert (row["value"], row["ci_low"], row["ci_high"]) == pytest.approx(
        (direct.value, direct.ci_low, direct.ci_high), abs=1e-12
    )
    assert "confidence_driven" in result.meta["ppi"]["selection"]


def test_audit_labelled_item_without_inclusion_probability_is_bad_input():
    from auditor.errors import InputError

    items, labels, arrays = binary_study(seed=16)
    items = items.assign(inclusion_probability=np.nan)
    with pytest.raises(InputError, match="no inclusion probability"):
        auditor.audit(labels, items=items, task="binary", resamples=0)


def test_the_report_shows_the_corrected_estimates_in_the_ppi_section_only():
    from auditor.config import AuditConfig
    from reports import build_model

    items, labels, _, _ = _persona_study(17)
    config = AuditConfig().with_options(ppi={"strata": "persona"})
    doc = auditor.audit(labels, items=items, task="binary", resamples=100, config=config).to_dict()
    model = build_model(doc)
    section = next(s for s in model.sections if s.key == "ppi")
    table = next(t for t in section.tables if t.key == "ppi_corrected")
    assert table.columns[3:] == [
        "Stratified PPI",
        "Strata",
        "Rogan-Gladen",
        "Rogan-Gladen, Lee et al. interval",
        "Judge sensitivity / specificity",
    ]
    win = next(r for r in table.rows if r[1] == "Win (b better)")
    assert win[4] == "persona: 3"
    rg = next(r for r in doc["metrics"] if r["metric"] == "rogan_gladen_win_rate")
    assert win[5].startswith(f"{100 * rg['value']:.1f}%")
    assert ("rogan_gladen_win_rate", "judge", "human") in section.rendered
    shown_in_tables = {cell for t in model.tables for row in t.rows for cell in row}
    assert not any("Rogan-Gladen" in str(cell) or "Stratified PPI" in str(cell) for cell in shown_in_tables)
