"""Per-item aggregation rules, derived by hand."""

from __future__ import annotations

import numpy as np

from auditor.engine import aggregation as agg


def test_majority_with_declared_tie_breaks():
    counts = np.array(
        [
            [2, 1, 0],  # clear a
            [1, 0, 1],  # a vs b: no winner
            [0, 0, 0],  # nothing
            [0, 3, 3],
        ]
    )  # tie vs b
    assert agg.majority(counts, "tie", tie_code=1).tolist() == [0, 1, -1, 1]
    assert agg.majority(counts, "exclude").tolist() == [0, -1, -1, -1]
    assert agg.majority(counts, "lower").tolist() == [0, 0, -1, 1]
    assert agg.majority(counts, "upper").tolist() == [0, 2, -1, 2]


def test_majority_equals_a_row_by_row_vote_on_random_tables():
    """The column-at-a-time majority against the rule written out per row: the most frequent category, the first
    of several (lower), the last (upper), the tie code, or none."""
    rng = np.random.default_rng(7)
    for k in (1, 2, 3, 5):
        counts = rng.integers(0, 3, (200, k))
        for tie_break, tie_code in (("tie", k // 2), ("exclude", None), ("lower", None), ("upper", None)):
            expected = []
            for row in counts:
                winners = np.flatnonzero(row == row.max())
                if row.max() == 0:
                    expected.append(agg.NONE)
                elif len(winners) == 1 or tie_break == "lower":
                    expected.append(int(winners[0]))
                elif tie_break == "upper":
                    expected.append(int(winners[-1]))
                else:
                    expected.append(agg.NONE if tie_code is None else tie_code)
            assert agg.majority(counts, tie_break, tie_code).tolist() == expected


def test_median_rounds_toward_neutral_by_default():
    # likert 1..5 as codes 0..4, neutral code 2
    counts = np.array(
        [
            [0, 1, 0, 1, 0],  # 2 and 4 -> median 3 exactly
            [0, 0, 0, 1, 1],  # 4 and 5 -> 4.5, toward neutral: 4
            [1, 1, 0, 0, 0],  # 1 and 2 -> 1.5, toward neutral: 2
            [0, 0, 1, 1, 1],
        ]
    )  # odd: 4
    assert agg.median(counts, "neutral", 2).tolist() == [2, 3, 1, 3]
    assert agg.median(counts, "lower", 2).tolist() == [2, 3, 0, 3]
    assert agg.median(counts, "upper", 2).tolist() == [2, 4, 1, 3]
    assert agg.median(counts, "exclude", 2).tolist() == [2, -1, -1, 3]


def test_count_table_and_mean_values():
    t = agg.count_table(np.array([0, 0, 2]), np.array([1, 1, 0]), 3, 2)
    assert t.tolist() == [[0, 2], [0, 0], [1, 0]]
    means, n = agg.mean_values(np.array([0, 0, 2]), np.array([1.0, 2.0, 5.0]), 3)
    assert means[0] == 1.5 and np.isnan(means[1]) and means[2] == 5.0
    assert n.tolist() == [2, 0, 1]
