"""Builders for the advanced-estimate tests: small studies in the data contract with a known design."""

from __future__ import annotations

import numpy as np
import pandas as pd


def binary_study(
    seed: int = 0,
    n_users: int = 60,
    per_user: int = 5,
    p: float = 0.45,
    accuracy: float = 0.85,
    labelled_share: float = 0.3,
    user_sd: float = 1.0,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Binary task: one human label per labelled item, one judge label on every item, users as clusters.

    Returns ``(items, labels, arrays)``; ``arrays`` holds the per-item ``y`` (NaN if unlabelled), ``yhat`` and
    ``user`` for cross-checks.
    """
    rng = np.random.default_rng(seed)
    n = n_users * per_user
    user = np.repeat(np.arange(n_users), per_user)
    logit = np.log(p / (1 - p)) + user_sd * rng.normal(size=n_users)[user]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    yhat = np.where(rng.random(n) < accuracy, y, 1 - y)
    labelled = rng.random(n) < labelled_share
    ids = np.array([f"i{i:04d}" for i in range(n)])
    items = pd.DataFrame({"item_id": ids, "user_id": [f"u{u:03d}" for u in user]})
    human = pd.DataFrame(
        {
            "item_id": ids[labelled],
            "judge": "human",
            "rater": "r1",
            "label": y[labelled].astype(int).astype(str),
        }
    )
    judge = pd.DataFrame(
        {"item_id": ids, "judge": "judge", "rater": "0", "label": yhat.astype(int).astype(str)}
    )
    labels = pd.concat([human, judge], ignore_index=True)
    return items, labels, {"y": np.where(labelled, y, np.nan), "yhat": yhat, "user": user}
