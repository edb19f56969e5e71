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
from auditor.stats import compare


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


@pytest.mark.parametrize("size", range(1, 10))
def test_axis_sums_are_numpys_sum_bit_for_bit(size):
    """Every axis of stacks of tables (the confusion tables' margins), signed zeros (first entries included), NaN
    and infinities; axes of eight or more entries and other dtypes take numpy's own sum."""
    rng = np.random.default_rng(100 + size)
    for shape in [(size,), (700, size), (300, size, size), (40, 3, size, size), (size, 1, 5)]:
        floats = rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 8, shape)
        floats.reshape(-1)[rng.random(floats.size) < 0.2] = -0.0
        floats.reshape(-1)[::97] = np.nan
        floats.reshape(-1)[5::101] = -np.inf
        ints = rng.integers(-50, 50, shape)
        for table in (floats, ints, ints > 0, floats.astype(np.float32)):
            for axis in range(-table.ndim, table.ndim):
                assert same_bits(ag.axis_sums(table, axis), table.sum(axis=axis)), (shape, axis, table.dtype)
    negative_zeros = np.full((4, size, size), -0.0)
    assert same_bits(ag.axis_sums(negative_zeros, -2), negative_zeros.sum(axis=-2))  # 0.0, as numpy


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


# -- the two-rater coefficients on a shared ConfusionTable ---------------------------------------------------------
def plain_coefficients(c: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """The coefficients as each computed its own margins before :class:`ConfusionTable` (their previous code)."""
    w_agree = ag.agreement_weights("quadratic", k)
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        n = c.sum(axis=(-2, -1))
        trace = np.trace(c, axis1=-2, axis2=-1)
        out["agreement"] = trace / c.sum(axis=(-2, -1))
        for weights in ("none", "linear", "quadratic"):
            i, j = np.indices((k, k))
            w = {"none": (i != j), "linear": np.abs(i - j), "quadratic": (i - j) ** 2}[weights].astype(float)
            expected = c.sum(axis=-1)[..., :, None] * c.sum(axis=-2)[..., None, :] / n[..., None, None]
            out[f"cohen_{weights}"] = 1.0 - (w * c).sum(axis=(-2, -1)) / (w * expected).sum(axis=(-2, -1))
        pooled = (c.sum(axis=-1) + c.sum(axis=-2)) / (2.0 * n[..., None])
        pe = (pooled**2).sum(axis=-1)
        out["scott_pi"] = (trace / n - pe) / (1.0 - pe)
        pe = (pooled * (1.0 - pooled)).sum(axis=-1) / (k - 1)
        out["gwet_ac1"] = (trace / n - pe) / (1.0 - pe)
        out["brennan_prediger"] = (trace / n - 1.0 / k) / (1.0 - 1.0 / k)
        pa = (w_agree * c).sum(axis=(-2, -1)) / n
        pe = np.einsum("...k,kl,...l->...", pooled, w_agree, pooled)
        out["scott_pi_weighted"] = (pa - pe) / (1.0 - pe)
        pe = w_agree.sum() * (pooled * (1.0 - pooled)).sum(axis=-1) / (k * (k - 1.0))
        out["gwet_ac2"] = (pa - pe) / (1.0 - pe)
        total = c.sum(axis=(-2, -1))
        out["fleiss_kappa"] = ag.fleiss_kappa(total, trace, c.sum(-1) + c.sum(-2), 2 * total)
        for i in range(k):  # category-wise kappa, one versus rest
            a, row, col = c[..., i, i], c[..., i, :].sum(axis=-1), c[..., :, i].sum(axis=-1)
            po = (n - row - col + 2.0 * a) / n
            pe = (row * col + (n - row) * (n - col)) / n**2
            out[f"category_{i}"] = (po - pe) / (1.0 - pe)
    return out


def shared_coefficients(c: np.ndarray | ag.ConfusionTable, k: int) -> dict[str, np.ndarray]:
    w_agree = ag.agreement_weights("quadratic", k)
    fns = compare.agreement_functions(weighted=True, alpha_level="nominal")
    return {
        "agreement": ag.percent_agreement(c),
        "cohen_none": ag.cohen_kappa(c),
        "cohen_linear": ag.cohen_kappa(c, "linear"),
        "cohen_quadratic": ag.cohen_kappa(c, "quadratic"),
        "scott_pi": ag.scott_pi(c),
        "gwet_ac1": ag.gwet_ac1(c),
        "brennan_prediger": ag.brennan_prediger(c),
        "scott_pi_weighted": ag.scott_pi_weighted(c, w_agree),
        "gwet_ac2": ag.gwet_ac2(c, w_agree),
        "fleiss_kappa": fns["fleiss_kappa"](c),
    } | {f"category_{i}": an.category_kappa_of(c, i) for i in range(k)}


@pytest.mark.parametrize("k", [2, 3, 5])
def test_coefficients_on_a_shared_confusion_table_keep_every_bit(k):
    """Counts (what the bootstrap evaluates), and floats with signed zeros, NaN and empty tables: each coefficient
    read from one shared :class:`ConfusionTable` equals its plain computation bit for bit."""
    rng = np.random.default_rng(k)
    counts = rng.poisson(2.0, (3000, k, k)).astype(float)
    counts[:5] = 0.0  # N = 0: NaN coefficients
    floats = rng.standard_normal((3000, k, k)) * 10.0 ** rng.integers(-3, 3, (3000, k, k))
    floats.reshape(-1)[::13] = -0.0
    floats[7, 0, 0] = np.nan
    for c in (counts, floats, counts[:1], counts[3]):
        want = plain_coefficients(c, k)
        table = ag.ConfusionTable(c)
        for got in (shared_coefficients(table, k), shared_coefficients(c, k)):
            assert want.keys() == got.keys()
            assert all(same_bits(got[name], want[name]) for name in want), k


def test_a_view_shared_by_the_agreement_functions_changes_no_estimate():
    """``sums_many(..., view=ConfusionTable)`` gives the same point, jackknife and replicates as each function on
    the plain sums."""
    from auditor.stats.bootstrap import Resampler

    rng = np.random.default_rng(5)
    per_cluster = rng.poisson(1.5, (400, 3, 3)).astype(float)
    per_cluster[::9] = 0.0  # empty clusters: left out of the jackknife
    fns = compare.agreement_functions(weighted=True, alpha_level="nominal")
    plain = Resampler(400, 300, seed=1).sums_many(per_cluster, fns, 1000)
    shared = Resampler(400, 300, seed=1).sums_many(per_cluster, fns, 1000, defer=True, view=ag.ConfusionTable)
    for name, est in plain.items():
        assert est.value == shared[name].value or (np.isnan(est.value) and np.isnan(shared[name].value))
        assert same_bits(est.jack, shared[name].jack) and same_bits(est.boot, shared[name].boot), name


def test_repeated_integer_columns_enter_the_float32_product_once_with_the_same_bits():
    """Exact (integer) per-cluster sums: a column repeated within a flat or across flats, and an empty one, enters
    the float32 product once; every flat still gets the float64 product's numbers bit for bit."""
    from auditor.stats.bootstrap import Resampler, _distinct_rows

    rs = Resampler(700, 300, seed=8)
    rng = np.random.default_rng(9)
    counts = rng.poisson(2.0, (700, 4)).astype(float)
    halves = rng.integers(0, 7, (700, 2)) / 2.0  # a mean of 0 / 0.5 / 1 values: scaled by 2
    flats = [
        counts,
        counts[:, [2, 0]],  # repeats of another flat's columns
        np.column_stack([counts[:, 1], np.zeros(700), counts[:, 1], -np.zeros(700)]),  # within one flat
        halves,
        np.column_stack([halves[:, 0] * 2.0, counts[:, 3]]),  # halves[:, 0] scaled: the same float32 column
    ]
    products = [rs.deferred(flat) for flat in flats]
    for flat, product in zip(flats, products, strict=True):
        assert same_bits(product(), rs.weights @ flat)
    rows = np.array([[1.0, 2.0], [0.0, 0.0], [1.0, 2.0], [-0.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    distinct, where = _distinct_rows(rows)
    assert same_bits(distinct, rows[[0, 1, 3]]) and where.tolist() == [0, 1, 0, 2, 1]  # -0.0 is not 0.0


def test_recurring_sums_are_found_by_their_bits():
    """A flat deferred again (pending or already computed) reuses its product; one that differs only in a signed
    zero is a different flat."""
    from auditor.stats.bootstrap import Resampler

    rs = Resampler(50, 40, seed=2)
    flat = np.random.default_rng(3).standard_normal((50, 3))
    first, again = rs.deferred(flat), rs.deferred(flat.copy())
    assert len(rs._pending) == 1
    assert same_bits(first(), again()) and same_bits(first(), rs.weights @ flat)
    reused = rs.deferred(flat.copy())
    assert not rs._pending and same_bits(reused(), rs.weights @ flat)
    signed = flat.copy()
    signed[0, 0] = 0.0
    rs.deferred(signed)
    signed[0, 0] = -0.0
    rs.deferred(signed)
    assert len(rs._pending) == 2


def coincidence_as_before(counts: np.ndarray) -> np.ndarray:
    """:func:`coincidence_from_counts` as it computed the whole ``(units, K, K)`` outer product first."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    outer = counts[:, :, None] * counts[:, None, :]
    idx = np.arange(counts.shape[1])
    outer[:, idx, idx] -= counts
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(m > 1, 1.0 / (m - 1.0), 0.0)
    outer *= scale[:, None, None]
    return outer


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_coincidences_cell_by_cell_keep_every_bit(k):
    rng = np.random.default_rng(20 + k)
    counts = rng.integers(0, 4, (4000, k)).astype(float)
    floats = rng.standard_normal((4000, k)) * 10.0 ** rng.integers(-5, 5, (4000, k))
    floats.reshape(-1)[::9] = -0.0
    floats[3, 0] = np.nan
    for table in (counts, floats, counts[:0], counts[:1]):
        want = coincidence_as_before(table)
        assert same_bits(ag.coincidence_from_counts(table), want)
        assert same_bits(ag.coincidence_cells(table), np.ascontiguousarray(np.moveaxis(want, 0, -1)))


def gwet_item_stats_as_before(counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`gwet_item_stats` as it filled an ``(items, 3 + K)`` table column by column."""
    counts = np.asarray(counts, dtype=float)
    r = counts.sum(axis=1)
    pairs = r * (r - 1.0)
    agree = (counts * (counts @ weights.T - 1.0)).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa_i = np.where(r >= 2, agree / np.where(pairs > 0, pairs, 1.0), 0.0)
        shares = np.where(r[:, None] > 0, counts / np.where(r > 0, r, 1.0)[:, None], 0.0)
    stats = np.empty((len(r), 3 + counts.shape[1]))
    stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3:] = r >= 2, pa_i, r >= 1, shares
    return stats


@pytest.mark.parametrize("kind", ["identity", "quadratic"])
def test_gwet_item_terms_a_term_per_row_keep_every_bit(kind):
    rng = np.random.default_rng(31)
    counts = rng.integers(0, 4, (5000, 3)).astype(float)  # items rated 0, 1 or more times
    w = ag.agreement_weights(kind, 3)
    want = gwet_item_stats_as_before(counts, w)
    assert same_bits(ag.gwet_item_stats(counts, w), want)
    assert same_bits(ag.gwet_item_columns(ag.RatingTable(counts), w), np.ascontiguousarray(want.T))


def test_the_float32_scale_is_found_as_before():
    """:meth:`Resampler._exact32` rejects a flat that is not integers at the largest scale at once: the same scale
    (or None) as trying every scale in turn, for counts, halves to sixteenths, floats, NaN and large values."""
    from auditor.stats.bootstrap import _DYADIC_BITS, _EXACT_FLOAT32, Resampler

    rs = Resampler(400, 50, seed=4)

    def every_scale(flat: np.ndarray) -> float | None:
        magnitude = np.abs(flat).sum(axis=0).max() * rs._max_weight
        for j in range(_DYADIC_BITS):
            scale = float(1 << j)
            if magnitude * scale >= _EXACT_FLOAT32:
                return None
            scaled = flat * scale
            if np.array_equal(scaled, np.rint(scaled)):
                return scale
        return None

    rng = np.random.default_rng(13)
    found = set()
    for step in (1.0, 0.5, 0.25, 0.125, 0.0625, 1.0 / 3.0):
        for size in (3, 2_000, 300_000):
            flat = rng.integers(-size, size, (400, 3)) * step
            for variant in (flat, flat + 1e-9, np.where(flat > 0, np.nan, flat), flat * 2.0**40):
                want = every_scale(variant)
                assert rs._exact32(variant) == want
                found.add(want)
    assert found == {None, 1.0, 2.0, 4.0, 8.0}


@pytest.mark.parametrize(("raters", "q"), [(2, 2), (3, 3), (4, 2), (3, 5)])
def test_conger_terms_summed_per_combination_of_states_keep_every_bit(raters, q, monkeypatch):
    """With few raters each item's sum of its raters' terms is looked up per combination of states: the same
    kappa and variance, bit for bit, as summing them item by item (missing ratings included)."""
    rng = np.random.default_rng(40 + raters * q)
    codes = rng.integers(-1, q, (3000, raters))
    codes = codes[(codes >= 0).sum(axis=1) >= 1]
    w = ag.agreement_weights("quadratic", q)
    terms = rng.standard_normal((q + 1, raters, q)) * 10.0 ** rng.integers(-4, 4, (q + 1, raters, q))
    state = np.where(codes >= 0, codes, q)
    looked_up = an._rater_term_sums(terms, state, raters)
    monkeypatch.setattr(an, "MAX_STATE_COMBINATIONS", 0)
    assert same_bits(looked_up, an._rater_term_sums(terms, state, raters))
    assert same_bits(looked_up, terms[state, np.arange(raters)].sum(axis=(1, 2)))
    monkeypatch.undo()
    for weights in (None, w):
        by_combination = an.conger_variance(codes, q, weights)
        monkeypatch.setattr(an, "MAX_STATE_COMBINATIONS", 0)  # item by item, a block at a time
        by_item = an.conger_variance(codes, q, weights)
        monkeypatch.undo()
        assert by_combination == by_item
        assert np.float64(by_combination[1]).tobytes() == np.float64(by_item[1]).tobytes()
