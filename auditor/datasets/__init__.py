"""Loaders that turn public human-judgment datasets into the project's data contract.

Every loader returns a :class:`Study`: an items table, a long labels table (one row per verdict), and the
configuration the audit needs (task kind, scale, label aliases, labels declared unusable).  Loaders are
raw-faithful: the judge's original value is kept in ``raw``, the ``label`` column holds the canonical label
obtained through the declared ``aliases`` (raw value -> canonical label), and nothing is dropped: a verdict that
cannot be used keeps its row with ``label`` None and the reason in ``exclusion``, or keeps a label that
``unusable`` declares so that the core excludes and counts it.

The data are read at run time from a folder given as ``root`` (the project's convention is ``../shared/data``
next to the repository); they are never copied into the repository.

Modules
-------
pandalm
    PandaLM test set: pairwise, 3 human raters, GPT-3.5 and PandaLM-7B verdicts.
hanna
    HANNA story ratings: 1-5 Likert, 3 human raters, LLM scores (no texts).
llmbar
    LLMBar and processed preference sets: pairwise gold labels, 6 evaluators x prompt strategies, both orders.
recentering
    "Re-Centering Humans in LLM Personalization": stage 1 (attribute validity), stage 2 (relevance), stage 3
    (generic vs personalized responses, no human ratings).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.contract import ITEM_ID, LABEL_COLUMNS
from auditor.io import is_missing

__all__ = ["Study", "LABEL_COLUMNS", "ITEM_ID", "DATASETS", "load", "require_file"]

DATASETS: dict[str, tuple[str, str, str]] = {
    # name: (module, loader function, folder under the data root)
    "pandalm": ("auditor.datasets.pandalm", "load", "pandalm_testset"),
    "hanna": ("auditor.datasets.hanna", "load", "hanna"),
    "llmbar": ("auditor.datasets.llmbar", "load", "llmbar"),
    "recentering-stage1": ("auditor.datasets.recentering", "load_stage1", "recentering"),
    "recentering-stage2": ("auditor.datasets.recentering", "load_stage2", "recentering"),
    "recentering-relevance-pilot": ("auditor.datasets.recentering", "load_pilot_relevance", "recentering"),
    "recentering-stage3": ("auditor.datasets.recentering", "load_stage3", "recentering"),
}
"""Every shipped loader by name; :func:`load` dispatches on it."""


def load(name: str, root: str | Path, **options: Any) -> Study:
    """Load a public dataset by name (see :data:`DATASETS`) from ``root``.

    ``root`` may be the data root (``../shared/data``) or the dataset's own folder (``../shared/data/hanna``);
    ``options`` go to the loader (e.g. ``criterion="Coherence"`` for HANNA, ``subset=...`` for LLMBar).
    """
    import importlib

    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    module, function, folder = DATASETS[name]
    root = Path(root)
    if root.name == folder and not (root / folder).exists():
        root = root.parent
    return getattr(importlib.import_module(module), function)(root, **options)


@dataclass
class Study:
    """A study in the data contract: items, long labels and the audit configuration.

    Attributes
    ----------
    name
        Short identifier, e.g. ``"pandalm"``; used as the default title.
    task
        ``pairwise``, ``likert``, ``binary``, ``categorical`` or ``score``.
    items
        One row per item; ``item_id`` (str, unique) first.
    labels
        One row per verdict: ``item_id``, ``judge``, ``rater``, ``label`` (canonical str or None), ``order``,
        ``score``, ``raw``, ``exclusion``.
    scale
        ``(min, max, neutral)`` of a Likert scale, else None.
    aliases
        Declared mapping raw value -> canonical label that the loader applied (and that the core may apply again:
        no alias maps a canonical label to another one).
    unusable
        Labels kept in ``label`` but declared unusable: the core excludes and counts them.
    simulated
        True for simulated data; every report must say so.
    description
        Plain-language provenance, shown in reports.
    truth
        Population ("true") values of the metrics under the generator, for simulated studies:
        ``truth[metric][judge]`` (e.g. ``truth["no_better_rate"]["human"]``).
    categories
        The label set of a ``categorical`` task, in order (e.g. ``("accept", "uncertain", "reject")``).
    score_neutral
        Neutral point of a ``score`` task (e.g. ``0`` for a reward difference), if outcome rates make sense.
    """

    name: str
    task: str
    items: pd.DataFrame
    labels: pd.DataFrame
    scale: tuple[int, int, int] | None = None
    aliases: dict[str, str] = field(default_factory=dict)
    unusable: tuple[str, ...] = ()
    simulated: bool = False
    description: str = ""
    truth: dict | None = None
    categories: tuple[str, ...] | None = None
    score_neutral: float | None = None

    @property
    def judges(self) -> list[str]:
        """Judge names in order of first appearance (``human`` included)."""
        return list(pd.unique(self.labels["judge"]))

    def config(self) -> dict[str, Any]:
        """The audit configuration as a plain dict (what :meth:`write` puts in ``audit.toml``)."""
        title, _, rest = (self.description or self.name).partition("\n")
        config: dict[str, Any] = {
            "task": self.task,
            "reference": "human",
            "title": title,
            "description": rest.strip() or title,
            "simulated": bool(self.simulated),
        }
        if self.scale is not None:
            low, high, neutral = self.scale
            config["scale"] = {"min": int(low), "max": int(high), "neutral": int(neutral)}
        labels: dict[str, Any] = {"aliases": dict(self.aliases), "unusable": list(self.unusable)}
        if self.categories is not None:
            labels["categories"] = list(self.categories)
        config["labels"] = labels
        if self.score_neutral is not None:
            config["score"] = {"neutral": float(self.score_neutral)}
        return config

    def write(self, out_dir: str | Path) -> Path:
        """Write ``items.jsonl``, ``labels.jsonl`` and ``audit.toml`` into ``out_dir`` (created if needed)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_jsonl(self.items, out / "items.jsonl")
        write_jsonl(self.labels, out / "labels.jsonl")
        (out / "audit.toml").write_text(to_toml(self.config()), encoding="utf-8")
        return out


# --------------------------------------------------------------------------------------------------------------
# helpers shared by the loaders


def require_file(path: Path) -> Path:
    """Return ``path`` if it exists, else raise FileNotFoundError naming it."""
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    return path


def read_jsonl(path: Path) -> list[dict]:
    """Read a JSON-lines file (blank lines skipped)."""
    with require_file(path).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def labels_frame(rows: list[dict] | dict[str, Any]) -> pd.DataFrame:
    """Build a labels table with every contract column, in contract order, with proper dtypes.

    ``label``, ``order``, ``raw`` and ``exclusion`` are object columns holding str or None; ``score`` is float.
    """
    frame = pd.DataFrame(rows)
    for column in LABEL_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[list(LABEL_COLUMNS) + [c for c in frame.columns if c not in LABEL_COLUMNS]]
    for column in ("item_id", "judge", "rater", "label", "order", "raw", "exclusion"):
        frame[column] = _object_str_or_none(frame[column])
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce").astype(float)
    return frame.reset_index(drop=True)


def _object_str_or_none(values: pd.Series) -> pd.Series:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values.tolist()):
        out[i] = None if is_missing(value, blank=False) else str(value)
    return pd.Series(out, index=values.index, dtype=object)


def _jsonable(value: Any) -> Any:
    if is_missing(value, blank=False):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    """Write a DataFrame as JSON lines; missing values become ``null``."""
    columns = list(frame.columns)
    with path.open("w", encoding="utf-8") as handle:
        for row in frame.itertuples(index=False, name=None):
            record = {column: _jsonable(value) for column, value in zip(columns, row, strict=True)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(config: Mapping[str, Any]) -> str:
    """Serialise a two-level dict to TOML (top-level scalars first, then one ``[table]`` per dict)."""
    lines = [
        f"{key} = {_toml_value(value)}" for key, value in config.items() if not isinstance(value, Mapping)
    ]
    for key, value in config.items():
        if isinstance(value, Mapping):
            lines.append("")
            lines.append(f"[{key}]")
            lines.extend(
                f"{json.dumps(str(k)) if not str(k).isidentifier() else k} = {_toml_value(v)}"
                for k, v in value.items()
            )
    return "\n".join(lines) + "\n"
