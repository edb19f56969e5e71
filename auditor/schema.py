"""The data contract: column names, task kinds and canonical labels.

items table (one row per item)
    ``item_id`` (unique), optional ``user_id`` (the cluster for uncertainty; falls back to ``item_id``),
    optional ``prompt``, ``response_a`` / ``response_b`` (pairwise: ``a`` is the baseline, ``b`` the treatment) or
    ``response`` (pointwise), optional ``profile``, ``source``, ``stage``; any other column is kept as metadata.

labels table (long, one row per verdict)
    ``item_id``, ``judge``, optional ``rater``, ``label``, optional ``order`` (``ab`` / ``ba``; labels are always
    stored in the original a/b numbering), optional ``score``, optional ``raw``, optional ``exclusion`` (why the
    label is empty, e.g. ``unparseable``, ``http_error``).  Any other column is kept.
"""

from __future__ import annotations

from typing import Literal

TaskKind = Literal["pairwise", "likert", "binary", "categorical", "score"]
TASK_KINDS: tuple[str, ...] = ("pairwise", "likert", "binary", "categorical", "score")

ITEM_ID = "item_id"
ITEM_COLUMNS_KNOWN = (
    "item_id",
    "user_id",
    "prompt",
    "response_a",
    "response_b",
    "response",
    "profile",
    "source",
    "stage",
)

LABEL_REQUIRED = ("item_id", "judge", "label")
LABEL_COLUMNS = ("item_id", "judge", "rater", "label", "order", "score", "raw", "exclusion")  # contract order

PAIRWISE_LABELS = ("a", "tie", "b")  # ordered: a better < tie < b better
ORDERS = ("ab", "ba")
DEFAULT_REFERENCE = "human"
