"""The 30-item tie-heavy case of issue 16, shared by the engine and report tests.

30 pairwise items, 2 human raters, a judge that never says tie.  Humans: 13 split votes (one ``a``, one ``b``: a
tie under the default policy), 6 agreed ties, 6 agreed ``b``, 5 agreed ``a``: 19 ties of which 13 are split.
The judge says ``b`` on 7 split items and 3 agreed ties, ``a`` on the other 6 + 3; on the decisive items it agrees
except once each way (one human-``b`` item it calls ``a``, one human-``a`` item ``b``).

By hand: humans win 6/30, tie 19/30, loss 5/30; the judge win 16/30, tie 0, loss 14/30, so the gaps are win +10/30
(+33.3 points), tie -19/30 (-63.3), loss +9/30 (+30.0), no better -10/30 (-33.3), mean score +0.5/30 (+0.017).
Without ties (the 11 items where humans are decisive; the judge always is): agreement 9/11, humans win 6/11, the
judge 6/11.
"""

from __future__ import annotations

import pandas as pd

HUMAN = [("a", "b")] * 13 + [("tie", "tie")] * 6 + [("b", "b")] * 6 + [("a", "a")] * 5
JUDGE = ["b"] * 7 + ["a"] * 6 + ["b"] * 3 + ["a"] * 3 + ["b"] * 5 + ["a"] + ["b"] + ["a"] * 4


def tie_heavy_labels() -> pd.DataFrame:
    """The labels table (``item_id, judge, rater, label``) of the case."""
    rows = []
    for i, ((first, second), verdict) in enumerate(zip(HUMAN, JUDGE, strict=True)):
        item = f"i{i:02d}"
        rows += [(item, "human", "r1", first), (item, "human", "r2", second), (item, "judge", "0", verdict)]
    return pd.DataFrame(rows, columns=["item_id", "judge", "rater", "label"])


def tie_heavy_items(items_per_user: int = 1) -> pd.DataFrame:
    """The items table; ``items_per_user`` > 1 puts consecutive items in one cluster (so gaps get bootstrap
    p-values instead of McNemar's exact test)."""
    ids = [f"i{i:02d}" for i in range(len(HUMAN))]
    return pd.DataFrame({"item_id": ids, "user_id": [f"u{i // items_per_user:02d}" for i in range(len(ids))]})
