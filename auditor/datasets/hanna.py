"""HANNA story ratings: 1,056 stories, 3 human raters x 6 Likert criteria (1-5), LLM raters (scores only).

File: ``<root>/hanna/hanna_metric_scores_llm.csv``: 11 rows (story generators), every rating cell a JSON list of 96
per-story values; story id = ``96 * row + position`` (position = the WritingPrompts prompt).  Columns used:
``Human {1,2,3} {RE,CH,EM,SU,EG,CX}`` (single ratings 1-5; the three are *slots*, not fixed workers) and
``<LLM> <RE|CH|...> <k>`` (LLM in ChatGPT, Llama-13B, Mistral-7B, Beluga-13B, OrcaPlatypus; k = 1..4 the paper's
four evaluation prompts; value = mean of 3 samplings, a float).

A criterion becomes a ``score`` task: each human rating is a row with ``label`` = the rating as a string and
``score`` = the same number, so the reference (mean of the 3 humans) and a Likert reading are both available; an
LLM rating is a row with ``label`` None and the float in ``score`` (it is a mean of samplings, not a scale point).
There is no user: the natural cluster is the writing prompt (column ``writing_prompt``, 11 stories each).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from auditor.datasets import Study, labels_frame, require_file

FOLDER = "hanna"
FILE = "hanna_metric_scores_llm.csv"
CRITERIA = {
    "Relevance": "RE",
    "Coherence": "CH",
    "Empathy": "EM",
    "Surprise": "SU",
    "Engagement": "EG",
    "Complexity": "CX",
}
LLMS = ("ChatGPT", "Llama-13B", "Mistral-7B", "Beluga-13B", "OrcaPlatypus")
PROMPTS = (1, 2, 3, 4)
HUMAN_SLOTS = ("1", "2", "3")
STORIES_PER_SYSTEM = 96


def read_table(root: str | Path) -> pd.DataFrame:
    """The raw CSV: one row per story generator, list-valued cells still as JSON text."""
    return pd.read_csv(require_file(Path(root) / FOLDER / FILE))


def _values(table: pd.DataFrame, column: str) -> np.ndarray:
    """All 1,056 per-story values of a list-valued column, in story-id order."""
    if column not in table.columns:
        raise KeyError(f"{FILE} has no column {column!r}")
    values: list[float] = []
    for row, cell in enumerate(table[column].tolist()):
        cell_values = json.loads(cell)
        if len(cell_values) != STORIES_PER_SYSTEM:
            raise ValueError(f"{FILE}: {column!r} row {row} holds {len(cell_values)} values, expected 96")
        values.extend(np.nan if v is None else float(v) for v in cell_values)
    return np.asarray(values, dtype=float)


def _as_tuple(value, default: Sequence) -> tuple:
    if value is None:
        return tuple(default)
    if isinstance(value, str | int):
        return (value,)
    return tuple(value)


def load(
    root: str | Path,
    criterion: str = "Relevance",
    llm: str | Sequence[str] | None = "ChatGPT",
    prompt: int | Sequence[int] | None = 1,
) -> Study:
    """Load one HANNA criterion as a ``score`` study.

    Parameters
    ----------
    root
        Folder holding ``hanna/``.
    criterion
        One of ``Relevance``, ``Coherence``, ``Empathy``, ``Surprise``, ``Engagement``, ``Complexity``.
    llm, prompt
        Which LLM raters and evaluation prompts (1-4) to include as judges; None = all.  A judge is named
        ``"{llm}/p{prompt}"``, e.g. ``"ChatGPT/p1"``.

    Returns
    -------
    Study
        Items: ``item_id`` = story id (``96 * row + position``), ``system`` (story generator),
        ``writing_prompt`` (position, the natural cluster).  Labels: ``human`` raters ``"1".."3"`` (slots) with
        ``label`` = rating and ``score`` = rating; each LLM judge with ``label`` None and the float in ``score``.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown HANNA criterion {criterion!r}; expected one of {', '.join(CRITERIA)}")
    code = CRITERIA[criterion]
    llms = _as_tuple(llm, LLMS)
    prompts = _as_tuple(prompt, PROMPTS)
    for name in llms:
        if name not in LLMS:
            raise ValueError(f"unknown HANNA LLM {name!r}; expected one of {', '.join(LLMS)}")
    for k in prompts:
        if k not in PROMPTS:
            raise ValueError(f"unknown HANNA prompt {k!r}; expected one of 1, 2, 3, 4")
    table = read_table(root)
    systems = table["Model"].tolist()
    n = len(systems) * STORIES_PER_SYSTEM
    story_ids = np.array([str(i) for i in range(n)], dtype=object)
    items = pd.DataFrame(
        {
            "item_id": story_ids,
            "system": np.repeat(np.array(systems, dtype=object), STORIES_PER_SYSTEM),
            "writing_prompt": np.tile(np.arange(STORIES_PER_SYSTEM), len(systems)),
            "criterion": criterion,
            "human_mean_published": _values(table, criterion),
        }
    )
    blocks: list[pd.DataFrame] = []
    for slot in HUMAN_SLOTS:
        ratings = _values(table, f"Human {slot} {code}")
        if not np.all(np.isin(ratings, [1, 2, 3, 4, 5])):
            raise ValueError(f"{FILE}: 'Human {slot} {code}' holds values off the 1-5 scale")
        text = ratings.astype(int).astype(str).astype(object)
        blocks.append(
            pd.DataFrame(
                {
                    "item_id": story_ids,
                    "judge": "human",
                    "rater": slot,
                    "label": text,
                    "score": ratings,
                    "raw": text,
                }
            )
        )
    for name in llms:
        for k in prompts:
            scores = _values(table, f"{name} {code} {k}")
            blocks.append(
                pd.DataFrame(
                    {
                        "item_id": story_ids,
                        "judge": f"{name}/p{k}",
                        "rater": "0",
                        "label": None,
                        "score": scores,
                        "raw": [None if np.isnan(v) else repr(v) for v in scores],
                        "exclusion": [("missing score" if np.isnan(v) else None) for v in scores],
                    }
                )
            )
    labels = labels_frame(pd.concat(blocks, ignore_index=True))
    judges = ", ".join(f"{name}/p{k}" for name in llms for k in prompts)
    return Study(
        name=f"hanna-{criterion.lower()}",
        task="score",
        items=items,
        labels=labels,
        scale=(1, 5, 3),
        aliases={},
        unusable=(),
        simulated=False,
        description=(
            f"HANNA story ratings, criterion {criterion} (1-5; 3 human raters, LLM judges {judges})\n"
            "1,056 stories from 10 generators and the human references of 96 WritingPrompts prompts (Chhun et al., "
            "MIT). Human raters are slots, not fixed workers. LLM values are means of 3 samplings. Stories are "
            "clustered by writing prompt (column writing_prompt)."
        ),
    )


def load_all(
    root: str | Path,
    llm: str | Sequence[str] | None = "ChatGPT",
    prompt: int | Sequence[int] | None = 1,
) -> dict[str, Study]:
    """All six criteria: ``{criterion: Study}``."""
    return {criterion: load(root, criterion, llm=llm, prompt=prompt) for criterion in CRITERIA}
