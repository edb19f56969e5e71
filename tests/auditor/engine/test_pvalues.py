"""p-values at the resampling floor: flagged where they are computed, and every adjusted p-value that rests on one
is flagged as a bound too."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditor.contract import METRIC_COLUMNS
from auditor.engine.pvalues import adjust_p_values
from auditor.stats.bootstrap import Estimate, bootstrap_test

FLOOR = 1 / 201  # B = 200 replicates


def test_bootstrap_p_value_at_its_floor_is_flagged():
    replicates = np.linspace(0.9, 1.1, 200)  # centred at the estimate 1.0: none as far as 1.0 from 0
    p, at_floor = bootstrap_test(Estimate(1.0, replicates, None, 50))
    assert (p, at_floor) == (pytest.approx(FLOOR), True)
    p, at_floor = bootstrap_test(Estimate(0.05, replicates - 0.95, None, 50))  # 0.05 from 0: many as far out
    assert not at_floor and p > 2 * FLOOR


def _rows(p_values: list[float], floors: list[bool]) -> pd.DataFrame:
    rows = [
        dict.fromkeys(METRIC_COLUMNS)
        | {"metric": "win_rate_gap", "judge": f"j{i}", "p_value": p, "p_at_floor": floor}
        for i, (p, floor) in enumerate(zip(p_values, floors, strict=True))
    ]
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def test_holm_adjusted_floor_is_a_bound_and_an_unrelated_p_value_is_not():
    out = adjust_p_values(_rows([FLOOR, FLOOR, 0.3], [True, True, False]), "holm")
    assert out["p_adjusted"].astype(float).tolist() == pytest.approx([3 * FLOOR, 3 * FLOOR, 0.3])
    assert out["p_adjusted_at_floor"].tolist() == [True, True, False]


def test_an_adjusted_p_value_resting_on_other_judges_floors_is_a_bound():
    # Holm over six judges: four floors (multipliers 6, 5, 4, 3) give 6 x FLOOR; the fifth p-value, 2 x FLOOR (one
    # replicate as far out), times 2 is below that, so its adjusted value is the floors' bound, not its own
    p_values = [FLOOR] * 4 + [2 * FLOOR, 0.9]
    out = adjust_p_values(_rows(p_values, [True] * 4 + [False, False]), "holm")
    assert out["p_adjusted"].astype(float).tolist() == pytest.approx([6 * FLOOR] * 5 + [0.9])
    assert out["p_adjusted_at_floor"].tolist() == [True] * 5 + [False]
    assert out["p_at_floor"].tolist() == [True] * 4 + [False, False]


def test_without_a_floor_nothing_is_a_bound():
    for method in ("holm", "bonferroni", "fdr_bh", "none"):
        out = adjust_p_values(_rows([0.01, 0.2, 0.03], [False, False, False]), method)
        assert not out["p_adjusted_at_floor"].any()
