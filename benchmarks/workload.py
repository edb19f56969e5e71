"""The benchmark workload: a simulated pairwise audit of a given size (default 1,000,000 label rows:
100,000 items from 5,000 users, 3 human raters and 7 judges)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def pairwise_workload(
    n_items: int = 100_000, n_users: int = 5_000, n_raters: int = 3, n_judges: int = 7, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    user = rng.integers(0, n_users, n_items)
    latent = rng.normal(size=n_items) + rng.normal(size=n_users)[user] * 0.5
    items = pd.DataFrame(
        {
            "item_id": np.char.add("i", np.arange(n_items).astype(str)),
            "user_id": np.char.add("u", user.astype(str)),
        }
    )

    def verdicts(noise: float, shift: float) -> np.ndarray:
        x = latent + shift + rng.normal(scale=noise, size=n_items)
        return np.where(x > 0.4, "b", np.where(x < -0.4, "a", "tie"))

    frames = []
    for r in range(n_raters):
        frames.append(
            pd.DataFrame(
                {"item_id": items["item_id"], "judge": "human", "rater": f"h{r}", "label": verdicts(0.5, 0.0)}
            )
        )
    for j in range(n_judges):
        frames.append(
            pd.DataFrame(
                {
                    "item_id": items["item_id"],
                    "judge": f"judge{j}",
                    "rater": "0",
                    "label": verdicts(0.6 + 0.1 * j, 0.1 * j),
                }
            )
        )
    return items, pd.concat(frames, ignore_index=True)
