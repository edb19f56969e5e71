"""The judgment result every judge returns, and the abstract judge.

A judge turns an items table into a *labels table*: one row per verdict with the columns of
:data:`LABEL_COLUMNS` (the core's contract) plus the extra columns of :data:`EXTRA_COLUMNS`.

Conventions
-----------
- ``label`` is a string from the task's canonical set: pairwise ``a`` / ``b`` / ``tie`` (always in the original
  a/b numbering, whatever ``order`` the judge saw), likert ``"1"`` .. ``"5"`` (b against a), binary ``"0"`` /
  ``"1"``; pointwise ``score`` tasks leave ``label`` empty and put the value in ``score``.
- A verdict that failed or could not be parsed keeps ``label`` empty, its text in ``raw`` and a short reason in
  ``exclusion`` (``unparseable``, ``http_429_exhausted``, ``timeout``, ``empty_choices``, ...).  Nothing is dropped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import pandas as pd

TaskKind = Literal["pairwise", "likert", "binary", "score"]
TASKS: tuple[str, ...] = ("pairwise", "likert", "binary", "score")
PAIRWISE_TASKS: tuple[str, ...] = ("pairwise", "likert")
Order = Literal["ab", "ba"]

#: The labels of each task, in scale order.
CANONICAL_LABELS: dict[str, tuple[str, ...]] = {
    "pairwise": ("a", "tie", "b"),
    "likert": ("1", "2", "3", "4", "5"),
    "binary": ("0", "1"),
    "score": (),
}

LABEL_COLUMNS: tuple[str, ...] = ("item_id", "judge", "rater", "label", "order", "score", "raw", "exclusion")
EXTRA_COLUMNS: tuple[str, ...] = (
    "verdict_source",
    "probabilities",
    "verdict_mass",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "cached",
    "latency_s",
    "template",
    "profile_view",
    "request_key",
)

VerdictSource = Literal["logprobs", "json", "text", "reward_model", "none"]


@dataclass
class Judgment:
    """One verdict of one judge on one item (in one order, by one sample ``rater``).

    ``probabilities`` maps each canonical label to its probability when the judge gave a distribution (logprobs);
    it is written as a JSON string in the labels table; ``verdict_mass`` is the probability the verdict tokens held
    together before renormalising.
    """

    item_id: str
    judge: str
    rater: str = "0"
    label: str | None = None
    order: str | None = None
    score: float | None = None
    raw: str | None = None
    exclusion: str | None = None
    verdict_source: str = "none"
    probabilities: dict[str, float] | None = None
    verdict_mass: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    cached: bool = False
    latency_s: float | None = None
    template: str | None = None
    profile_view: str | None = None
    request_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def excluded(self) -> bool:
        return self.exclusion is not None

    def to_row(self) -> dict[str, Any]:
        import json

        row = asdict(self)
        extra = row.pop("extra")
        if row["probabilities"] is not None:
            row["probabilities"] = json.dumps(row["probabilities"], sort_keys=True)
        row.update(extra)
        return row


def judgments_to_frame(judgments: list[Judgment]) -> pd.DataFrame:
    """The labels table of a list of judgments, contract columns first, with nullable dtypes."""
    rows = [j.to_row() for j in judgments]
    columns = list(LABEL_COLUMNS) + list(EXTRA_COLUMNS)
    return _typed(pd.DataFrame(rows, columns=None if rows else columns))


def columns_to_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """The labels table of judgments given column by column (every list as long as the others), the same as
    :func:`judgments_to_frame` of the same judgments, without building one dict a row."""
    if not any(columns.values()):
        return judgments_to_frame([])
    return _typed(pd.DataFrame(columns))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    columns = list(LABEL_COLUMNS) + list(EXTRA_COLUMNS)
    for column in columns:
        if column not in frame.columns:
            frame[column] = None
    extra = [c for c in frame.columns if c not in columns]
    frame = frame[columns + extra]
    for column in ("item_id", "judge", "rater", "label", "order", "raw", "exclusion"):
        frame[column] = frame[column].astype("string")
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce").astype("Float64")
    for column in ("prompt_tokens", "completion_tokens"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    frame["cost"] = pd.to_numeric(frame["cost"], errors="coerce").astype("Float64")
    frame["cached"] = frame["cached"].astype("boolean")
    return frame


class Judge(ABC):
    """A judge: anything that turns an items table into a labels table in the contract above."""

    #: The name written in the ``judge`` column.
    name: str

    @abstractmethod
    def judge_items(self, items: pd.DataFrame, task: str) -> pd.DataFrame:
        """Judge every row of ``items`` for ``task`` and return the labels table (one row per verdict)."""
