"""Gwet's family against irrCAC: Fleiss' kappa and AC1 / AC2 with missing ratings, Conger's kappa, every weight
scheme, the two-rater weighted tables; Light's kappa against scikit-learn.

Reference values: irrCAC 0.4.4 (the Python port of Gwet's R package, github.com/afergadis/irrCAC), unrounded
(``CAC(data, weights=W, categories=sorted categories, digits=20)``; with pandas 2 the categories must be given,
else ``stack()`` keeps NaN as a category).  Rounded to 3 digits they are the values asserted in irrCAC's own tests
(test/unit/irrCAC/raw/test_fleiss.py, test_gwet.py, test_conger.py) and printed in Gwet (2014).  The datasets are
irrCAC's ``irrCAC.datasets`` (Gwet 2014), written out here.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from auditor.stats import agreement as ag

N = None
RAW = {
    "raw_4raters": [
        [1, 1, N, 1],
        [2, 2, 3, 2],
        [3, 3, 3, 3],
        [3, 3, 3, 3],
        [2, 2, 2, 2],
        [1, 2, 3, 4],
        [4, 4, 4, 4],
        [1, 1, 2, 1],
        [2, 2, 2, 2],
        [N, 5, 5, 5],
        [N, N, 1, 1],
        [N, N, 3, N],
    ],
    "raw_5observers": [
        [1, 1, 2, N, 2],
        [1, 1, 0, 1, N],
        [2, 3, 3, 3, N],
        [N, 0, 0, N, 0],
        [0, 0, 0, N, 0],
        [0, 0, 0, N, 0],
        [1, 0, 2, N, 1],
        [1, N, 2, 0, N],
        [2, 2, 2, N, 2],
        [2, 1, 1, 1, N],
        [N, 1, 0, 0, N],
        [0, 0, 0, 0, N],
        [1, 2, 2, 2, N],
        [3, 3, 2, 2, 3],
        [1, 1, 1, N, 1],
    ],
    "raw_g1g2": [
        list("aaNa"),
        list("bbcb"),
        list("cccc"),
        list("cccc"),
        list("bbbb"),
        list("abcd"),
        list("dddd"),
        list("aaba"),
        list("bbbb"),
        list("Neee"),
        list("NNaa"),
        list("NNcN"),
        list("bbcb"),
        list("bacb"),
    ],
    "raw_gender": [
        list(row)
        for row in zip(
            "aaaaabbbcaaaaab", "aaaababccaaaaba", "abbcaabbcabbcaa", "ccccaabbcccccaa", strict=True
        )
    ],
    "raw_ben_gerry": [list(row) for row in zip("aabbdcccedda", "babbbcccedNd", strict=True)],
}

# (fleiss, gwet AC1, conger) unrounded from irrCAC 0.4.4; 3-digit values in irrCAC's tests in the comments
IRRCAC = {
    "raw_4raters": (0.7611692754224112, 0.775444068126995, 0.7628174413033062),  # .761 .775 .763
    "raw_5observers": (0.45762168677216974, 0.4966220548726144, 0.4692742785926565),  # .458 .497 .469
    "raw_g1g2": (0.6572452838437493, 0.6846038187477684, 0.6585889936731525),  # .657 .685 .659
    "raw_gender": (0.12888888888888897, 0.20808080808080806, 0.1657207718501702),  # .129 .208 .166
    "raw_ben_gerry": (0.6493506493506493, 0.6614420062695925, 0.6571428571428573),  # .649 .661 .657
}
# the project's convention before issue 19 (chance from pooled totals over items with >= 2 ratings), as the
# issue reported it: it differs from irrCAC exactly where items have missing ratings
POOLED = {
    "raw_4raters": 0.7607655502392345,
    "raw_5observers": 0.46426217435330935,
    "raw_g1g2": 0.6528970442013919,
}

# raw_4raters with weights on the categories 1..5: (fleiss, gwet AC2, conger), irrCAC 0.4.4
WEIGHTED = {
    "linear": (0.8179447670973093, 0.8587391364326111, 0.813776319966141),
    "quadratic": (0.8649350649350654, 0.9140007235516051, 0.8577106562225335),
    "ordinal": (0.8502061893970346, 0.8989397699075113, 0.8436595251881869),
    "radical": (0.7899240946506544, 0.8198117021979973, 0.7883400075834879),
    "ratio": (0.8213383439447282, 0.8573675578296346, 0.8119651758695519),
    "circular": (0.8071997701581098, 0.8301951394609608, 0.8053488813669143),
    "bipolar": (0.8530725501402661, 0.9003730154433539, 0.8448717520363674),
}
CUSTOM = np.array(
    [
        [1.00, 0.75, 0.50, 0.25, 0.00],
        [0.00, 1.00, 0.75, 0.50, 0.25],
        [0.25, 0.00, 1.00, 0.75, 0.50],
        [0.50, 0.25, 0.00, 1.00, 0.75],
        [0.75, 0.50, 0.25, 0.00, 1.00],
    ]
)  # irrCAC's test_conger_kappa_raw4raters_custom_weights
CUSTOM_EXPECTED = (0.7611692754224111, 0.7832182307446228, 0.7628174413033062)

# two-rater tables (irrCAC.table.CAC(...).scott() / .gwet()), categories 1..q
TABLES = {
    "cont3x3abstractors": [[13, 0, 0], [0, 20, 7], [0, 4, 56]],
    "cont4x4diagnosis": [[40, 6, 4, 15], [4, 25, 1, 5], [4, 2, 21, 9], [17, 13, 12, 45]],
}
TABLE_EXPECTED = {  # (table, weights): (scott's pi, gwet)
    ("cont3x3abstractors", "identity"): (0.7962396962119109, 0.8493305482313462),
    ("cont3x3abstractors", "quadratic"): (0.8921092638909324, 0.9402368792784962),
    ("cont3x3abstractors", "radical"): (0.8185066309017489, 0.8754820127300456),
    ("cont4x4diagnosis", "linear"): (0.4055510801904063, 0.3770678836280661),
    ("cont4x4diagnosis", "ordinal"): (0.38926401232426855, 0.3240689271817677),
    ("cont4x4diagnosis", "circular"): (0.4442074136656457, 0.4884393063583815),
    ("cont4x4diagnosis", "bipolar"): (0.38570941121234725, 0.3152390560791359),
}


def tables(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(items x categories counts, raters x categories counts, the sorted categories) of a raw dataset."""
    rows = [[None if v in (None, "N") else v for v in row] for row in RAW[name]]
    cats = sorted({v for row in rows for v in row if v is not None})
    counts = np.array([[row.count(c) for c in cats] for row in rows], float)
    per_rater = np.array(
        [[sum(row[g] == c for row in rows) for c in cats] for g in range(len(rows[0]))], float
    )
    return counts, per_rater, np.array(cats if isinstance(cats[0], int) else range(1, len(cats) + 1), float)


@pytest.mark.parametrize("name", list(IRRCAC))
def test_fleiss_ac1_conger_match_irrcac_with_missing_ratings(name):
    counts, per_rater, _ = tables(name)
    stats = ag.gwet_item_stats(counts).sum(axis=0)
    fleiss, ac1, conger = IRRCAC[name]
    assert ag.fleiss_kappa_gwet(stats) == pytest.approx(fleiss, abs=1e-9)
    assert ag.fleiss_kappa_from_counts(counts) == pytest.approx(fleiss, abs=1e-9)
    assert ag.gwet_ac(stats) == pytest.approx(ac1, abs=1e-9)
    assert ag.conger_kappa(stats, per_rater) == pytest.approx(conger, abs=1e-9)


@pytest.mark.parametrize("name", list(POOLED))
def test_pooled_convention_stays_selectable_and_differs_only_with_missing_ratings(name):
    counts, _, _ = tables(name)
    pooled = ag.fleiss_kappa_from_counts(counts, missing="pooled")
    assert pooled == pytest.approx(POOLED[name], abs=1e-12)
    assert abs(pooled - IRRCAC[name][0]) > 1e-4
    complete = counts[counts.sum(axis=1) == counts.sum(axis=1).max()]
    assert ag.fleiss_kappa_from_counts(complete, "pooled") == pytest.approx(
        ag.fleiss_kappa_from_counts(complete)
    )


def test_ac1_keeps_an_item_rated_once_in_the_chance_term_unless_pooled():
    counts, _, _ = tables("raw_4raters")  # item 12 has one rating
    assert ag.gwet_ac_from_counts(counts) == pytest.approx(IRRCAC["raw_4raters"][1], abs=1e-9)
    pooled = ag.gwet_ac_from_counts(counts, missing="pooled")
    assert pooled == pytest.approx(ag.gwet_ac_from_counts(counts[:11]), abs=1e-12)
    assert abs(pooled - IRRCAC["raw_4raters"][1]) > 1e-4
    with pytest.raises(ValueError, match="convention"):
        ag.gwet_ac_from_counts(counts, missing="listwise")


def test_complete_data_gives_fleiss_1971_like_statsmodels():
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss

    counts, _, _ = tables("raw_gender")  # 4 raters on every item
    assert ag.fleiss_kappa_from_counts(counts) == pytest.approx(sm_fleiss(counts), abs=1e-12)


def test_an_item_rated_once_enters_gwets_chance_term_only():
    counts, _, _ = tables("raw_4raters")
    with_single = np.vstack([counts, [[0, 0, 0, 0, 1]]])
    stats = ag.gwet_item_stats(with_single).sum(axis=0)
    assert (stats[0], stats[2]) == (11, 13)  # items rated twice or more (p_a), at least once (chance)
    assert ag.gwet_ac(stats) != pytest.approx(IRRCAC["raw_4raters"][1])
    assert ag.gwet_ac(ag.gwet_item_stats(counts[:11]).sum(axis=0)) != pytest.approx(IRRCAC["raw_4raters"][1])
    assert ag.fleiss_kappa_from_counts(with_single, "pooled") == pytest.approx(
        POOLED["raw_4raters"], abs=1e-12
    )


@pytest.mark.parametrize("weights", list(WEIGHTED))
def test_weighted_fleiss_ac2_conger_match_irrcac(weights):
    counts, per_rater, values = tables("raw_4raters")
    w = ag.agreement_weights(weights, 5, values)
    stats = ag.gwet_item_stats(counts, w).sum(axis=0)
    fleiss, ac2, conger = WEIGHTED[weights]
    assert ag.fleiss_kappa_gwet(stats, w) == pytest.approx(fleiss, abs=1e-9)
    assert ag.gwet_ac(stats, w) == pytest.approx(ac2, abs=1e-9)
    assert ag.conger_kappa(stats, per_rater, w) == pytest.approx(conger, abs=1e-9)


def test_custom_weight_matrix_matches_irrcac():
    counts, per_rater, _ = tables("raw_4raters")
    w = ag.agreement_weights(CUSTOM, 5)
    stats = ag.gwet_item_stats(counts, w).sum(axis=0)
    got = (ag.fleiss_kappa_gwet(stats, w), ag.gwet_ac(stats, w), ag.conger_kappa(stats, per_rater, w))
    assert np.allclose(got, CUSTOM_EXPECTED, atol=1e-9, rtol=0)
    with pytest.raises(ValueError, match="5x5"):
        ag.agreement_weights(CUSTOM[:4, :4], 5)


def test_weights_by_hand():
    assert np.allclose(ag.agreement_weights("quadratic", 3), [[1, 0.75, 0], [0.75, 1, 0.75], [0, 0.75, 1]])
    assert np.allclose(ag.agreement_weights("ordinal", 3), [[1, 2 / 3, 0], [2 / 3, 1, 2 / 3], [0, 2 / 3, 1]])
    assert np.allclose(ag.agreement_weights("radical", 3)[0], [1, 1 - np.sqrt(0.5), 0])
    for kind in WEIGHTED:
        w = ag.agreement_weights(kind, 4)
        assert np.allclose(np.diag(w), 1) and np.allclose(w, w.T) and w.min() >= -1e-12
    with pytest.raises(ValueError, match="positive"):
        ag.agreement_weights("ratio", 3, np.array([0.0, 1.0, 2.0]))


@pytest.mark.parametrize(("table", "weights"), list(TABLE_EXPECTED))
def test_two_rater_weighted_scott_and_ac2_match_irrcac_tables(table, weights):
    c = np.array(TABLES[table], float)
    w = ag.agreement_weights(weights, c.shape[0])
    scott, gwet = TABLE_EXPECTED[(table, weights)]
    assert ag.scott_pi_weighted(c, w) == pytest.approx(scott, abs=1e-9)
    assert ag.gwet_ac2(c, w) == pytest.approx(gwet, abs=1e-9)
    if weights == "identity":
        assert ag.gwet_ac2(c, w) == pytest.approx(ag.gwet_ac1(c), abs=1e-12)
        assert ag.scott_pi_weighted(c, w) == pytest.approx(ag.scott_pi(c), abs=1e-12)


def test_two_raters_without_missing_conger_is_cohen_and_fleiss_is_scott():
    rng = np.random.default_rng(3)
    x, y = rng.integers(0, 4, 80), rng.integers(0, 4, 80)
    y = np.where(rng.random(80) < 0.6, x, y)
    counts = np.stack([np.bincount([a, b], minlength=4) for a, b in zip(x, y, strict=True)]).astype(float)
    per_rater = np.stack([np.bincount(x, minlength=4), np.bincount(y, minlength=4)]).astype(float)
    confusion = np.zeros((4, 4))
    np.add.at(confusion, (x, y), 1)
    w = ag.agreement_weights("quadratic", 4)
    stats = ag.gwet_item_stats(counts, w).sum(axis=0)
    assert ag.conger_kappa(ag.gwet_item_stats(counts).sum(0), per_rater) == pytest.approx(
        cohen_kappa_score(x, y)
    )
    assert ag.fleiss_kappa_gwet(stats, w) == pytest.approx(ag.scott_pi_weighted(confusion, w), abs=1e-12)
    assert ag.gwet_ac(stats, w) == pytest.approx(ag.gwet_ac2(confusion, w), abs=1e-12)


def test_light_kappa_is_the_mean_pairwise_cohen_kappa_of_scikit_learn():
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 3, 60)
    raters = [np.where(rng.random(60) < 0.7, truth, rng.integers(0, 3, 60)) for _ in range(4)]
    pairs = list(itertools.combinations(range(4), 2))
    confusions = np.zeros((len(pairs), 3, 3))
    for p, (a, b) in enumerate(pairs):
        np.add.at(confusions[p], (raters[a], raters[b]), 1)
    expected = np.mean([cohen_kappa_score(raters[a], raters[b]) for a, b in pairs])
    assert ag.light_kappa(confusions) == pytest.approx(expected, abs=1e-12)
    confusions[0] = 0  # a pair with no common item is left out
    rest = np.mean([cohen_kappa_score(raters[a], raters[b]) for a, b in pairs[1:]])
    assert ag.light_kappa(confusions) == pytest.approx(rest, abs=1e-12)
    assert ag.light_kappa(np.stack([confusions, confusions])).shape == (2,)


def test_kernels_evaluate_batches_of_replicates():
    counts, per_rater, _ = tables("raw_5observers")
    stats = ag.gwet_item_stats(counts)
    rng = np.random.default_rng(0)
    weights = rng.multinomial(len(stats), np.full(len(stats), 1 / len(stats)), size=5).astype(float)
    batch = weights @ stats
    one_by_one = [ag.gwet_ac(b) for b in batch]
    assert np.allclose(ag.gwet_ac(batch), one_by_one, equal_nan=True)
    assert np.allclose(ag.fleiss_kappa_gwet(batch), [ag.fleiss_kappa_gwet(b) for b in batch], equal_nan=True)
