"""Faster paths, the same results: one weights product for many statistics (bit for bit equal to one product per
statistic), the human ceiling from one count table (equal to one pass over the label rows per rater), and the weights
drawn block by block (the same stream)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.engine import ceiling
from auditor.engine.context import AuditContext
from auditor.stats import agreement as ag
from auditor.stats import bootstrap
from auditor.stats.bootstrap import Estimate, Resampler


def _per_cluster(rng: np.random.Generator, clusters: int) -> list[np.ndarray]:
    """Per-cluster sums as the engine makes them: confusion counts, rate columns with a fractional mean, a fraction."""
    confusion = rng.integers(0, 6, size=(clusters, 3, 3)).astype(float)
    rates = np.column_stack([rng.integers(1, 9, clusters), rng.integers(0, 4, clusters)]).astype(float)
    rates = np.column_stack([rates, rates[:, 1] * 0.5])  # a mean of 0 / 0.5 / 1 values: not an integer
    fraction = rng.random((clusters, 2))
    return [confusion, rates, fraction]


def test_deferred_statistics_share_one_product_and_equal_one_product_each():
    rng = np.random.default_rng(3)
    sums = _per_cluster(rng, 40)
    fns = [
        {"kappa": ag.cohen_kappa, "agreement": ag.percent_agreement},
        {"rate": lambda s: s[..., 1] / s[..., 0], "mean": lambda s: s[..., 2] / s[..., 0]},
        {"ratio": lambda s: s[..., 0] / s[..., 1]},
    ]
    alone = Resampler(40, 300, seed=5)
    expected = [alone.sums_many(s, f, 10) for s, f in zip(sums, fns, strict=True)]

    shared = Resampler(40, 300, seed=5)
    flushes = []
    flush = shared.flush
    shared.flush = lambda: (flushes.append(len(shared._pending)), flush())  # count the products computed
    deferred = [shared.sums_many(s, f, 10, defer=True) for s, f in zip(sums, fns, strict=True)]
    gap = deferred[1]["rate"] - deferred[1]["mean"]
    mean = Estimate.mean([deferred[0]["kappa"], deferred[0]["agreement"]])
    assert flushes == [] and len(shared._pending) == 3  # nothing computed yet

    for got, want in zip(deferred, expected, strict=True):
        for name in want:
            assert got[name].value == want[name].value
            np.testing.assert_array_equal(got[name].boot, want[name].boot)
            np.testing.assert_array_equal(got[name].jack, want[name].jack)
    assert flushes == [3], "every pending product in one flush"
    np.testing.assert_array_equal(gap.boot, expected[1]["rate"].boot - expected[1]["mean"].boot)
    np.testing.assert_array_equal(
        mean.boot, np.mean(np.vstack([expected[0]["kappa"].boot, expected[0]["agreement"].boot]), axis=0)
    )


def test_a_reused_array_does_not_change_a_pending_product():
    rng = np.random.default_rng(4)
    counts = rng.integers(0, 5, size=(30, 2)).astype(float)
    want = Resampler(30, 100, seed=1).sums(counts.copy(), lambda s: s[..., 0] / s[..., 1], 5).boot
    rs = Resampler(30, 100, seed=1)
    est = rs.sums(counts, lambda s: s[..., 0] / s[..., 1], 5, defer=True)
    counts[:] = 0.0  # the caller reuses its buffer before the product is computed
    np.testing.assert_array_equal(est.boot, want)


def _ceiling_study(rng: np.random.Generator, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Items of 12 users; 4 raters with gaps (some items rated by 2 or 3 of them, a rater absent from some users)
    and one judge."""
    n = 120
    items = pd.DataFrame(
        {"item_id": [f"i{i}" for i in range(n)], "user_id": [f"u{i % 12}" for i in range(n)]}
    )
    scale = ["a", "tie", "b"] if task == "pairwise" else ["1", "2", "3", "4", "5"]
    rows = []
    latent = rng.integers(0, len(scale), n)
    for i in range(n):
        for r in range(4):
            if (i + r) % 5 == 0:  # a missing rating
                continue
            label = latent[i] if rng.random() < 0.7 else rng.integers(0, len(scale))
            rows.append((f"i{i}", "human", f"r{r}", scale[label]))
        rows.append(
            (f"i{i}", "judge", "0", scale[latent[i] if rng.random() < 0.6 else rng.integers(0, len(scale))])
        )
    return items, pd.DataFrame(rows, columns=["item_id", "judge", "rater", "label"])


@pytest.mark.parametrize("task", ["pairwise", "likert"])
def test_the_human_ceiling_from_one_count_table_equals_one_pass_per_rater(task, monkeypatch):
    items, labels = _ceiling_study(np.random.default_rng(7), task)
    kwargs = {"task": task, "resamples": 200, "scale": "1-5" if task == "likert" else None}
    passes = []  # label rows aggregated by ``AuditContext.side``, one entry per pass over them
    side = AuditContext.side
    monkeypatch.setattr(
        AuditContext, "side", lambda ctx, mask, **kw: (passes.append(1), side(ctx, mask, **kw))[1]
    )
    by_table = auditor.audit(labels, items=items, **kwargs).metrics
    table_passes = len(passes)
    monkeypatch.setattr(ceiling, "MAX_RATER_TABLE_CELLS", 0)  # the per-rater row masks instead
    by_masks = auditor.audit(labels, items=items, **kwargs).metrics
    # 4 raters and their others; the 6 pairs reuse each rater's own verdicts
    assert len(passes) - table_passes == table_passes + 4 * 2
    ceiling_rows = by_table[by_table["judge"] == "human"]
    assert {"raters=r0~r1", "raters=r2~r3"} <= set(ceiling_rows["slice"].dropna())
    assert {"agreement", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha"} <= set(ceiling_rows["metric"])
    pd.testing.assert_frame_equal(by_table, by_masks)


@pytest.mark.parametrize("block", [7, 1 << 20])
def test_weights_drawn_block_by_block_are_the_one_call_stream(block, monkeypatch):
    """The weights drawn and counted a few rows at a time equal the counts of one ``integers`` call on the same
    seed (odd sizes, a block that does not divide the rows), and the float32 copy equals them."""
    monkeypatch.setattr(bootstrap, "_COUNT_BLOCK", block * 13)  # ``block`` rows of 13 clusters at a time
    draws = np.random.default_rng(11).integers(0, 13, size=(101, 13), dtype=np.int32)
    expected = np.stack([np.bincount(row, minlength=13) for row in draws]).astype(float)
    out32 = np.empty((101, 13), dtype=np.float32)
    got = bootstrap.cluster_weights(13, 101, np.random.default_rng(11), out32=out32)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(out32, expected)
    np.testing.assert_array_equal(Resampler(13, 101, seed=11).weights, expected)


def test_cluster_sums_by_bincount_equal_np_add_at_bit_for_bit():
    """The ceiling's per-cluster sums (one ``bincount`` per column) and cell counts equal ``np.add.at``'s, on
    fractional values whose sum depends on the order of addition."""
    rng = np.random.default_rng(5)
    cluster = rng.integers(0, 30, 2_000)
    ctx = type("Ctx", (), {"cluster": cluster, "n_clusters": 31})()  # the last cluster holds no item
    per_item = rng.random((2_000, 3, 3)) / 3.0
    expected = np.zeros((31, 3, 3))
    np.add.at(expected, cluster, per_item)
    assert np.array_equal(ceiling._cluster_sums(ctx, per_item), expected)
    codes = rng.integers(0, 3, 2_000)
    counts = np.zeros((31, 3))
    np.add.at(counts, (cluster, codes), 1.0)
    assert np.array_equal(ceiling._cell_counts((cluster, codes), (31, 3)), counts)


def test_the_reference_votes_are_counted_once_and_read_only():
    """The reference's vote counts (its verdicts, the human ceiling, the policy) are made once per ``ref_mask``
    and cannot be changed by a reader; a replaced ``ref_mask`` is counted anew."""
    from auditor.config import AuditConfig
    from auditor.data import load

    items, labels = _ceiling_study(np.random.default_rng(8), "pairwise")
    ctx = AuditContext(load(labels, items, AuditConfig(task="pairwise", resamples=0)))
    ctx.ref_mask = ctx.judge_rows("human")
    votes = ctx.vote_counts(ctx.ref_mask)
    assert ctx.vote_counts(ctx.ref_mask) is votes and not votes.flags.writeable
    fresh = ctx.vote_counts(ctx.ref_mask.copy())  # another mask of the same rows: counted, not cached
    assert fresh is not votes and np.array_equal(fresh, votes) and fresh.flags.writeable
    ctx.ref_mask = ctx.judge_rows("judge")
    assert np.array_equal(ctx.vote_counts(ctx.ref_mask), ctx.vote_counts(ctx.ref_mask.copy()))
    assert not np.array_equal(ctx.vote_counts(ctx.ref_mask), votes)
