"""Juries: the combined verdict audited like a judge, error correlations and the effective number of judges."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.analyses.jury import _correlation_from_sums, effective_judges, error_correlation

CODES = np.array(["a", "tie", "b"])


def _pairwise_study(seed: int = 0, n_users: int = 40, per_user: int = 4):
    rng = np.random.default_rng(seed)
    n = n_users * per_user
    user = np.repeat(np.arange(n_users), per_user)
    truth = rng.integers(0, 3, n)
    ids = np.array([f"i{i:03d}" for i in range(n)])
    items = pd.DataFrame({"item_id": ids, "user_id": [f"u{u}" for u in user]})
    rows = []
    for r in range(3):
        lab = np.where(rng.random(n) < 0.75, truth, rng.integers(0, 3, n))
        rows.append(pd.DataFrame({"item_id": ids, "judge": "human", "rater": f"r{r}", "label": CODES[lab]}))
    judges = {}
    for j, acc in (("j1", 0.7), ("j2", 0.6), ("j3", 0.5)):
        judges[j] = np.where(rng.random(n) < acc, truth, rng.integers(0, 3, n))
        rows.append(pd.DataFrame({"item_id": ids, "judge": j, "rater": "0", "label": CODES[judges[j]]}))
    return items, pd.concat(rows, ignore_index=True), judges


def test_majority_jury_is_audited_exactly_like_a_judge_with_those_labels():
    items, labels, judges = _pairwise_study()
    config = auditor.AuditConfig().with_options(jury={"members": ("j1", "j2", "j3")})
    votes = np.column_stack(list(judges.values()))
    counts = np.stack([(votes == c).sum(1) for c in range(3)], 1)
    top = counts.max(1)
    majority = np.where((counts == top[:, None]).sum(1) > 1, 1, counts.argmax(1))  # no strict winner: tie
    manual = pd.DataFrame(
        {"item_id": items["item_id"], "judge": "manual-majority", "rater": "0", "label": CODES[majority]}
    )
    result = auditor.audit(
        pd.concat([labels, manual], ignore_index=True),
        items=items,
        task="pairwise",
        resamples=300,
        config=config,
    )
    m = result.metrics[
        result.metrics["slice"].isna()
    ]  # the whole sample (the jury has no ties=excluded rows)
    jury = m[m["judge"] == "jury:majority"].set_index("metric")
    assert jury.loc["undecided_rate", "value"] == 0.0  # a pairwise tie-break always decides
    jury = jury.drop("undecided_rate")
    hand = m[m["judge"] == "manual-majority"].set_index("metric").loc[jury.index]
    assert len(jury) >= 15
    for column in ("value", "ci_low", "ci_high", "n"):
        assert jury[column].to_numpy(float) == pytest.approx(hand[column].to_numpy(float), nan_ok=True)
    assert "jury:mean" not in set(m["judge"])  # a mean of a / tie / b verdicts is not a verdict


def test_effective_judges_formula_and_limits():
    r = np.array([[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]])
    mean_off = (0.5 + 0.2 + 0.3) / 3
    assert effective_judges(r) == pytest.approx(3 / (1 + 2 * mean_off))
    assert effective_judges(np.ones((4, 4))) == pytest.approx(1.0)
    assert effective_judges(np.eye(4)) == pytest.approx(4.0)


def test_correlation_from_sums_matches_pandas():
    rng = np.random.default_rng(1)
    e = rng.normal(size=(200, 3))
    e[:, 1] += e[:, 0]
    k = 3
    sums = np.concatenate([[200.0], e.sum(0), (e[:, :, None] * e[:, None, :]).sum(0).ravel()])
    assert _correlation_from_sums(sums, k) == pytest.approx(error_correlation(e).to_numpy())


def test_audit_reports_error_correlation_and_effective_judges():
    items, labels, judges = _pairwise_study(seed=2)
    # a copy of j1 makes the same errors: it adds little independent information
    copy = labels[labels["judge"] == "j1"].assign(judge="j1-copy")
    result = auditor.audit(
        pd.concat([labels, copy], ignore_index=True), items=items, task="pairwise", resamples=300
    )
    section = result.meta["jury"]
    assert section["members"] == ["j1", "j2", "j3", "j1-copy"]
    corr = np.array(section["error_correlation"])
    assert corr[0, 3] == pytest.approx(1.0)
    row = result.metric("jury_effective_judges", "jury")
    assert row["value"] == pytest.approx(section["effective_judges"])
    assert row["value"] == pytest.approx(effective_judges(corr))
    assert 1.0 < row["value"] < 4.0
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


def test_mean_jury_on_a_likert_scale_rounds_halves_toward_neutral():
    ids = [f"i{i}" for i in range(4)]
    items = pd.DataFrame({"item_id": ids})
    human = pd.DataFrame({"item_id": ids, "judge": "human", "rater": "h", "label": ["3", "3", "3", "3"]})
    j1 = pd.DataFrame({"item_id": ids, "judge": "j1", "rater": "0", "label": ["4", "2", "5", "1"]})
    j2 = pd.DataFrame({"item_id": ids, "judge": "j2", "rater": "0", "label": ["5", "1", "5", "2"]})
    result = auditor.audit(pd.concat([human, j1, j2]), items=items, task="likert", resamples=0)
    # means 4.5, 1.5, 5, 1.5 -> 4, 2, 5, 2 (halves toward the neutral 3)
    assert result.metric("mean_score", "jury:mean")["value"] == pytest.approx((4 + 2 + 5 + 2) / 4)


def test_probe_variants_of_a_judge_are_not_separate_jurors():
    """gpt-4o re-judged under other profiles is one judge, not eight near-identical jurors."""
    from auditor import audit
    from auditor.simulate import simulate_probe_study

    study = simulate_probe_study(seed=1, n_users=20, n_items=120)
    variants = [j for j in study.judges if "|" in j]
    assert len(variants) == 7
    result = audit(study.labels, study.items, task="likert", resamples=0)
    assert "jury" not in result.meta or result.meta["jury"].get("members", []) in ([], ["gpt-4o"])
    assert not any(j.startswith("jury:") for j in result.metrics["judge"])


def test_variants_of_the_stand_in_reference_judge_form_no_jury():
    """Without human labels ``auditor probe`` audits a judge's variants against the judge itself (its own-profile
    verdicts): four variants of one model, one of them identical to the reference, are not a jury."""
    from auditor import audit
    from auditor.simulate import simulate_probe_study

    study = simulate_probe_study(seed=1, n_users=20, n_items=120)
    labels = study.labels[study.labels["judge"].astype(str).str.startswith("gpt-4o")]
    result = audit(labels, study.items, task="likert", resamples=0, reference="gpt-4o")  # the stand-in
    assert len(result.judges) == 7 and all(j.startswith("gpt-4o|") for j in result.judges)
    assert result.meta["jury"]["members"] == [] and "at least 2" in result.meta["jury"]["note"]
    assert not any(j.startswith("jury:") for j in result.metrics["judge"])


def _two_weak_judges(seed: int = 3, n_users: int = 80, per_user: int = 5, k: int = 5):
    """A categorical study with 5 categories and two weak judges (about 23% and 33% agreement with the humans):
    where the two agree they are right more often than either alone, so a jury scored only on those items looks
    better than both."""
    rng = np.random.default_rng(seed)
    n = n_users * per_user
    cats = np.array([f"c{c}" for c in range(k)])
    truth = rng.integers(0, k, n)
    ids = np.array([f"i{i:04d}" for i in range(n)])
    items = pd.DataFrame(
        {"item_id": ids, "user_id": [f"u{u}" for u in np.repeat(np.arange(n_users), per_user)]}
    )
    rows = [
        pd.DataFrame({"item_id": ids, "judge": "human", "rater": f"r{r}", "label": cats[truth]})
        for r in range(3)
    ]
    judges = {}
    for name, accuracy in (("weak-23", 0.23), ("weak-33", 0.33)):
        wrong = (truth + rng.integers(1, k, n)) % k  # any other category, uniformly
        judges[name] = np.where(rng.random(n) < accuracy, truth, wrong)
        rows.append(pd.DataFrame({"item_id": ids, "judge": name, "rater": "0", "label": cats[judges[name]]}))
    return items, pd.concat(rows, ignore_index=True), judges, truth, cats


def test_a_jury_cannot_beat_its_best_member_by_leaving_its_undecided_items_out():
    items, labels, judges, truth, cats = _two_weak_judges()
    config = auditor.AuditConfig(categories=tuple(cats)).with_options(alt_test={"enabled": False})
    result = auditor.audit(labels, items=items, task="categorical", resamples=200, config=config)
    m = result.metrics[result.metrics["slice"].isna() & (result.metrics["reference"] == "human")]
    got = m.set_index(["metric", "judge"])
    a, b = judges["weak-23"], judges["weak-33"]
    decided = a == b
    # the selection effect is real in these data: on the items where the two agree, the jury beats both members
    assert np.mean(a[decided] == truth[decided]) > max(np.mean(a == truth), np.mean(b == truth)) + 0.03
    best_agreement = max(got.loc[("agreement", j), "value"] for j in judges)
    best_kappa = max(got.loc[("cohen_kappa", j), "value"] for j in judges)
    assert 0.2 < min(got.loc[("agreement", j), "value"] for j in judges) < best_agreement < 0.4
    jury = got.xs("jury:majority", level="judge")
    # scored on the same items as its members, undecided counted as disagreement
    assert jury.loc["agreement", "n"] == got.loc[("agreement", "weak-23"), "n"] == len(items)
    assert jury.loc["agreement", "value"] == pytest.approx(np.mean(decided & (a == truth)))
    assert jury.loc["agreement", "value"] <= best_agreement
    assert jury.loc["cohen_kappa", "value"] <= best_kappa
    assert jury.loc["undecided_rate", "value"] == pytest.approx(np.mean(~decided))
    assert "gwet_ac1" not in jury.index  # its chance term depends on the number of categories: left out
    assert result.meta["jury"]["scored"]["jury:majority"] == {
        "n_items": len(items),
        "undecided": int((~decided).sum()),
    }


def test_the_headline_gives_a_jurys_n_and_undecided_count():
    from reports import headline

    items, labels, judges, _, cats = _two_weak_judges()
    config = auditor.AuditConfig(categories=tuple(cats)).with_options(alt_test={"enabled": False})
    result = auditor.audit(labels, items=items, task="categorical", resamples=100, config=config)
    undecided = int((judges["weak-23"] != judges["weak-33"]).sum())
    text = " ".join(headline(result.to_dict()))
    assert f"jury:majority (n = {len(items):,}, {undecided:,} undecided, counted as disagreements)" in text
