"""LLMBar and processed preference sets: 885 pairs with a gold label, 6 LLM evaluators x prompt strategies.

Files (``<root>/llmbar/``): ``raw/<subset>/dataset.json`` (``input``, ``output_1``, ``output_2``, ``label`` 1|2) and
``llmbar_evaluator_decisions.csv`` (one row per subset x item x evaluator x strategy: ``winner_original_order``,
``winner_swapped_order``, the latter already mapped back to the original numbering; ``score_1`` / ``score_2`` for
the Rating* strategies).

Contract: ``output_1`` is ``response_a``, ``output_2`` is ``response_b``; labels ``'1' -> a``, ``'2' -> b`` (declared
aliases), no ties.  The gold label is judge ``human`` with rater ``gold`` (one per item, no per-rater human data).
Every evaluator x strategy is one judge named ``"{evaluator}/{strategy}"`` with two rows per item: ``order = "ab"``
(original presentation) and ``order = "ba"`` (swapped presentation, label in the original numbering).  An empty
winner is an unparsed verdict: ``label`` None, ``exclusion = "unparsed"`` (135 in the original order and 138 in the
swapped order over the whole file).  ``score_1`` / ``score_2`` are kept as extra label columns on both rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from auditor.datasets import Study, labels_frame, require_file

FOLDER = "llmbar"
DECISIONS = "llmbar_evaluator_decisions.csv"
SUBSETS = (
    "LLMBar_Natural",
    "LLMBar_Adversarial_GPTInst",
    "LLMBar_Adversarial_GPTOut",
    "LLMBar_Adversarial_Manual",
    "LLMBar_Adversarial_Neighbor",
    "Processed_MT-Bench",
    "Processed_FairEval",
    "Processed_LLMEval_2",
)
ALIASES = {"1": "a", "2": "b"}


def subset_folder(name: str) -> str:
    """The ``raw/`` folder name of a subset as the CSV spells it (``'/'`` and ``'^'`` become ``'_'``)."""
    return name.replace("/", "_").replace("^", "_")


def _split(folder: str) -> str:
    if folder.startswith("LLMBar_Natural"):
        return "natural"
    if folder.startswith("LLMBar_Adversarial"):
        return "adversarial"
    return "processed"


def _as_tuple(value: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def load(
    root: str | Path,
    subset: str | Sequence[str] | None = None,
    strategy: str | Sequence[str] | None = None,
    evaluator: str | Sequence[str] | None = None,
) -> Study:
    """Load LLMBar as a pairwise study (position-probe ready: both presentation orders per judge).

    Parameters
    ----------
    root
        Folder holding ``llmbar/``.
    subset, strategy, evaluator
        Restrict to some subsets (folder names such as ``"LLMBar_Natural"`` or the CSV's ``"LLMBar/Natural"``),
        prompt strategies (e.g. ``"Vanilla_NoRules"``) or evaluators (e.g. ``"GPT-4"``); None = all.

    Returns
    -------
    Study
        Items: ``item_id = "{subset}:{item_idx}"``, ``prompt`` (input), ``response_a`` / ``response_b``
        (output_1 / output_2), ``source`` (the subset), ``split`` (natural / adversarial / processed),
        ``item_idx``.  Labels: gold (``human``/``gold``) and two rows per item and judge.
    """
    folder = Path(root) / FOLDER
    subsets = _as_tuple(subset)
    wanted = SUBSETS if subsets is None else tuple(subset_folder(s) for s in subsets)
    for name in wanted:
        if name not in SUBSETS:
            raise ValueError(f"unknown LLMBar subset {name!r}; expected one of {', '.join(SUBSETS)}")

    item_frames = []
    for name in wanted:
        with require_file(folder / "raw" / name / "dataset.json").open(encoding="utf-8") as handle:
            rows = json.load(handle)
        item_frames.append(
            pd.DataFrame(
                {
                    "item_id": [f"{name}:{i}" for i in range(len(rows))],
                    "prompt": [row["input"] for row in rows],
                    "response_a": [row["output_1"] for row in rows],
                    "response_b": [row["output_2"] for row in rows],
                    "source": name,
                    "split": _split(name),
                    "item_idx": np.arange(len(rows)),
                    "gold_raw": [str(row["label"]) for row in rows],
                }
            )
        )
    items = pd.concat(item_frames, ignore_index=True)

    decisions = pd.read_csv(require_file(folder / DECISIONS), dtype=str, keep_default_na=False)
    decisions["folder"] = decisions["subset"].map(subset_folder)
    decisions = decisions[decisions["folder"].isin(wanted)]
    strategies, evaluators = _as_tuple(strategy), _as_tuple(evaluator)
    if strategies is not None:
        decisions = decisions[decisions["strategy"].isin(strategies)]
    if evaluators is not None:
        decisions = decisions[decisions["evaluator"].isin(evaluators)]
    decisions = decisions.reset_index(drop=True)
    item_ids = decisions["folder"] + ":" + decisions["item_idx"]
    unknown = set(item_ids) - set(items["item_id"])
    if unknown:
        raise ValueError(f"{DECISIONS}: {len(unknown)} decisions refer to no item, e.g. {sorted(unknown)[0]}")
    gold_by_item = items.set_index("item_id")["gold_raw"]
    mismatch = decisions["gold_label"].to_numpy() != gold_by_item.loc[item_ids].to_numpy()
    if mismatch.any():
        raise ValueError(f"{DECISIONS}: gold_label differs from dataset.json on {int(mismatch.sum())} rows")

    gold = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "judge": "human",
            "rater": "gold",
            "label": items["gold_raw"].map(ALIASES),
            "raw": items["gold_raw"],
        }
    )
    judge = decisions["evaluator"] + "/" + decisions["strategy"]
    blocks = [gold]
    for order, column in (("ab", "winner_original_order"), ("ba", "winner_swapped_order")):
        raw = decisions[column].str.strip()
        empty = raw == ""
        blocks.append(
            pd.DataFrame(
                {
                    "item_id": item_ids,
                    "judge": judge,
                    "rater": "0",
                    "label": raw.map(ALIASES).where(~empty, None),
                    "order": order,
                    "raw": raw,
                    "exclusion": np.where(empty, "unparsed", None),
                    "score_1": pd.to_numeric(decisions["score_1"], errors="coerce"),
                    "score_2": pd.to_numeric(decisions["score_2"], errors="coerce"),
                }
            )
        )
    labels = labels_frame(pd.concat(blocks, ignore_index=True))
    unknown_labels = set(labels["raw"]) - set(ALIASES) - {"", None}
    if unknown_labels:
        raise ValueError(f"{DECISIONS}: unexpected winner values {sorted(unknown_labels)}")
    items = items.drop(columns="gold_raw")
    return Study(
        name="llmbar",
        task="pairwise",
        items=items,
        labels=labels,
        scale=None,
        aliases=dict(ALIASES),
        unusable=(),
        simulated=False,
        description=(
            "LLMBar and processed preference sets (pairwise, gold label, LLM evaluators x strategies, both orders)\n"
            f"Subsets: {', '.join(wanted)} (Zeng et al., ICLR 2024, MIT; Processed_* derive from MT-Bench, "
            "FairEval, LLMEval2). a = output_1, b = output_2; no ties. Each judge saw every pair in both orders; "
            "empty winners are unparsed verdicts."
        ),
    )
