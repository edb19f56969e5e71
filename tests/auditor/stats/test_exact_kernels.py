"""The fast paths of the agreement kernels give the numbers of the plain numpy / BLAS computations bit for bit.

Each test builds the reference the slow, obvious way (``table.sum(axis=1)``, ``counts @ weights.T``, Conger's
per-item terms built item by item as irrCAC's formula reads) and compares bits, signed zeros included: the audit's
numbers must not move when a kernel gets faster.
"""

from __future__ import annotations

import numpy as np
import pytest

from auditor.stats import agreement as ag
from auditor.stats import analytic as an


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("columns", range(1, 13))
def test_row_sums_are_numpys_sum_bit_for_bit(columns):
    rng = np.random.default_rng(columns)
    floats = rng.standard_normal((5000, columns)) * 10.0 ** rng.integers(-6, 6, (5000, columns))
    floats[::11, 0] = -0.0
    assert same_bits(ag.row_sums(floats), floats.sum(axis=1))
    ints = rng.integers(-50, 50, (300, columns))
    assert same_bits(ag.row_sums(ints), ints.sum(axis=1))
    flags = ints > 0  # a bool table keeps numpy's integer sum
    assert same_bits(ag.row_sums(flags), flags.sum(axis=1))


def blas_product(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """What ``weighted_counts`` computed before its fast paths (the C-ordered transposed weights)."""
    if counts.ndim < 2 or counts.shape[-2] < 2:
        return counts @ weights.T
    return counts @ np.ascontiguousarray(weights.T)


@pytest.mark.parametrize("k", [2, 3, 5, 7])
@pytest.mark.parametrize("kind", ["identity", "linear", "quadratic", "ordinal", "radical"])
def test_weighted_counts_equal_the_blas_product(k, kind):
    """Identity weights skip the product; integer counts with dyadic weights (quadratic on three categories:
    0.75) are summed a column at a time; anything else (seven categories' 1 / 36, radical weights) is the product."""
    rng = np.random.default_rng(k)
    w = ag.agreement_weights(kind, k)
    for shape in [(2000, k), (1, k), (40, 4, k), (3, 1, k)]:
        counts = rng.integers(0, 40, shape).astype(float)
        assert same_bits(ag.weighted_counts(counts, w), blas_product(counts, w))
        floats = rng.standard_normal(shape)
        floats.flat[::7] = -0.0
        assert same_bits(ag.weighted_counts(floats, w), blas_product(floats, w))


def test_identity_weights_with_a_non_finite_entry_take_the_product():
    counts = np.array([[1.0, np.inf, 0.0], [2.0, 0.0, 1.0]])
    with np.errstate(invalid="ignore"):  # inf * 0 in the product
        got, want = ag.weighted_counts(counts, np.eye(3)), blas_product(counts, np.eye(3))
    assert np.array_equal(got, want, equal_nan=True) and np.isnan(got[0, 0])


def test_a_rating_table_computes_each_term_once_and_changes_no_number():
    rng = np.random.default_rng(7)
    codes = rng.integers(-1, 3, (3000, 4))
    counts = np.stack([(codes == c).sum(1) for c in range(3)], 1)
    w = ag.agreement_weights("quadratic", 3)
    table = ag.RatingTable(counts)
    for coefficient in ("fleiss", "gwet", "krippendorff", "brennan_prediger"):
        for weights in (None, w):
            shared = an.gwet_variance(table, coefficient, weights)
            alone = an.gwet_variance(counts, coefficient, weights)
            assert all(same_bits(a, b) for a, b in zip(shared, alone, strict=True))
    for weights in (None, w):
        assert same_bits(ag.gwet_item_stats(table, weights), ag.gwet_item_stats(counts, weights))
    assert len(table._agreement) == 2  # identity and quadratic: one per weights, however many calls


def conger_lambda_item_by_item(codes: np.ndarray, q: int, w: np.ndarray) -> np.ndarray:
    """``lambda_ig`` summed over raters, built per item as :func:`auditor.stats.analytic.conger_variance`'s
    docstring reads (its previous implementation): one-hot ratings, ``term``, weighted, times the centred
    shares."""
    n, r = codes.shape
    rated = (codes >= 0).astype(float)
    by_rater = np.stack([(codes == c).sum(0) for c in range(q)], 1).astype(float)
    n_g = by_rater.sum(axis=1)
    p_g = by_rater / n_g[:, None]
    centred = r * p_g.mean(axis=0)[None, :] - p_g
    onehot = (codes[:, :, None] == np.arange(q)).astype(float)
    term = onehot - (rated - n_g / n)[:, :, None] * p_g[None, :, :]
    by_k = blas_product(term, w) * (n / n_g)[None, :, None]
    return (by_k * centred[None, :, :]).sum(axis=(1, 2))


@pytest.mark.parametrize("kind", ["identity", "quadratic", "radical"])
def test_conger_variance_per_rating_state_equals_the_item_by_item_terms(kind):
    """Conger's variance looks each rater's terms up per rating state: the same numbers as building them item
    by item (checked through the variance, which sums the squared per-item terms)."""
    rng = np.random.default_rng(11)
    codes = rng.integers(-1, 4, (2500, 5))
    codes = codes[(codes >= 0).any(axis=1)]
    w = ag.agreement_weights(kind, 4)
    kappa, var, n = an.conger_variance(codes, 4, None if kind == "identity" else w)
    lam = conger_lambda_item_by_item(codes, 4, w)
    r = codes.shape[1]
    counts = np.stack([(codes == c).sum(1) for c in range(4)], 1).astype(float)
    ri = counts.sum(axis=1)
    two = ri >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        pa_i = np.where(two, ag.item_agreement(counts, w) / np.where(two, ri * (ri - 1.0), 1.0), 0.0)
    n2 = np.float64(two.sum())
    by_rater = np.stack([(codes == c).sum(0) for c in range(4)], 1).astype(float)
    p_g = by_rater / by_rater.sum(axis=1)[:, None]
    p_bar = p_g.mean(axis=0)
    s2 = (p_g.T @ p_g - r * np.outer(p_bar, p_bar)) / (r - 1.0)
    pe = np.float64((w * (np.outer(p_bar, p_bar) - s2 / r)).sum())
    assert kappa == float((pa_i.sum() / n2 - pe) / (1.0 - pe))
    x_i = (n / n2) * (pa_i - pe * two) / (1.0 - pe) - 2.0 * (1.0 - kappa) * (lam / (r * (r - 1.0)) - pe) / (
        1.0 - pe
    )
    m = np.float64(n)
    assert var == float(1.0 / (m * (m - 1.0)) * ((x_i - kappa) ** 2).sum())


def test_conger_variance_leaves_out_items_and_raters_without_ratings():
    rng = np.random.default_rng(12)
    codes = rng.integers(0, 3, (400, 3))
    padded = np.full((450, 5), -1)
    rows = np.sort(rng.choice(450, 400, replace=False))
    padded[np.ix_(rows, [0, 2, 4])] = codes
    got = an.conger_variance(padded, 3, ag.agreement_weights("quadratic", 3))
    want = an.conger_variance(codes, 3, ag.agreement_weights("quadratic", 3))
    assert got == want and got[2] == 400


def test_float64_flats_share_one_product_with_their_own_bits():
    """Non-integer per-cluster sums of two or more columns share one float64 weights product; each flat's
    replicates are those of a product of its own, bit for bit (a single column keeps its own product)."""
    from auditor.stats.bootstrap import Resampler

    rs = Resampler(3000, 400, seed=3)
    rng = np.random.default_rng(4)
    flats = [rng.standard_normal((3000, width)) / 3.0 for width in (2, 6, 1, 15, 3)]
    products = [rs.deferred(flat) for flat in flats]
    for flat, product in zip(flats, products, strict=True):
        assert same_bits(product(), rs.weights @ flat)
