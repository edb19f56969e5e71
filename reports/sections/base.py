"""The building blocks of every report section: a :class:`Table` of formatted cells and a :class:`Section`.

Cells are already formatted (``54.6% [50.1, 59.0]``) but not escaped: each renderer escapes for its own medium.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from auditor.contract import MIN_CLUSTERS as _MIN_CLUSTERS
from reports.format import as_float, as_int


@dataclass
class Table:
    """A titled table; ``row_roles`` tags each row (``ceiling``, ``reference``, ``judge``, ``best``) for styling.

    ``ascii_columns``, when set, holds the column headers in plain ASCII (``Cohen's kappa`` for ``Cohen's κ``), for
    terminals; :meth:`ascii` returns the table with them.
    """

    key: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    row_roles: list[str] = field(default_factory=list)
    note: str = ""
    metric_columns: list[str] = field(default_factory=list)  # metric name behind each column ('' if none)
    text_columns: int = 1  # how many leading columns hold text (left-aligned); the rest hold numbers
    ascii_columns: list[str] | None = None

    def __bool__(self) -> bool:
        return bool(self.rows)

    def ascii(self) -> Table:
        """The same table with plain-ASCII column headers (itself when it has no other headers)."""
        if self.ascii_columns is None or self.ascii_columns == self.columns:
            return self
        return replace(self, columns=list(self.ascii_columns))

    def keep_columns(self, indices: list[int]) -> Table:
        """The table with only the given columns, in that order (the leading text columns among them stay
        text)."""
        return replace(
            self,
            columns=[self.columns[i] for i in indices],
            rows=[[row[i] for i in indices] for row in self.rows],
            metric_columns=[self.metric_columns[i] for i in indices] if self.metric_columns else [],
            ascii_columns=None if self.ascii_columns is None else [self.ascii_columns[i] for i in indices],
            text_columns=sum(1 for i in indices if i < self.text_columns),
        )


@dataclass
class Section:
    """A report section: ``lines`` are short plain-language sentences shown before the tables."""

    key: str
    title: str
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    rendered: set[tuple[str, str, str]] = field(
        default_factory=set
    )  # metric rows shown: (metric, judge, ref)

    def __bool__(self) -> bool:
        return bool(self.lines or self.tables)


def row_value(row: Mapping[str, Any] | None) -> float | None:
    """The value of a metric row, ``None`` when the row or its value is missing."""
    return as_float((row or {}).get("value"))


#: Below this many clusters (users) a metric's interval is unreliable: its rows carry a warning (the audit's
#: ``few_clusters`` warning counts them).
MIN_CLUSTERS = _MIN_CLUSTERS


def clusters_of(row: Mapping[str, Any] | None) -> int | None:
    """The clusters behind a metric row: its ``n_clusters``, else (older files) its ``n``, which is never fewer."""
    row = row or {}
    n = as_int(row.get("n_clusters"))
    return n if n is not None else as_int(row.get("n"))


def few_clusters(row: Mapping[str, Any] | None) -> bool:
    """Whether a row with a value was computed on fewer than :data:`MIN_CLUSTERS` clusters."""
    n = clusters_of(row)
    return row_value(row) is not None and n is not None and n < MIN_CLUSTERS


def few_clusters_note(row: Mapping[str, Any] | None) -> str:
    """`` (only 11 clusters: unreliable below 30)`` for a row on fewer than :data:`MIN_CLUSTERS` clusters, else empty."""
    if not few_clusters(row):
        return ""
    return f" (only {clusters_of(row)} clusters: unreliable below {MIN_CLUSTERS})"


#: The mark of a row on fewer than :data:`MIN_CLUSTERS` clusters, and the note that explains it.
MARK = "†"
FEW_CLUSTERS_NOTE = f"{MARK} fewer than {MIN_CLUSTERS} clusters (users): the interval is unreliable."


def n_cell(row: Mapping[str, Any] | None) -> str:
    """``n`` of a row for a table cell, ``11 †`` when it rests on fewer than :data:`MIN_CLUSTERS` clusters."""
    return n_text(row) + (f" {MARK}" if few_clusters(row) else "")


def n_text(row: Mapping[str, Any] | None) -> str:
    """``1,234``: the ``n`` of a metric row with thousands separators, ``—`` when missing."""
    n = as_int((row or {}).get("n"))
    return "—" if n is None else f"{n:,}"


def entries(value: Any) -> list[dict[str, Any]]:
    """The mappings of a list (or tuple) field, as dicts; anything else counts as empty."""
    if not isinstance(value, (list, tuple)):
        return []
    return [dict(x) for x in value if isinstance(x, Mapping)]
