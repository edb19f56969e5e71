"""What the out-of-core engines share besides their SQL: the input files (globs, folders, formats) and the
interface a query engine implements (:class:`Engine`; DuckDB in :mod:`auditor.engine.outofcore`, Spark in
:mod:`auditor.engine.spark`)."""

from __future__ import annotations

import glob as globbing
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from auditor.errors import InputError

SCANNED_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".jsonl": "json"}
SCANNED_SUFFIXES |= {".ndjson": "json"}


def is_pattern(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def expand(source: str) -> list[str]:
    """The files of one source: a file, a glob (sorted) or a folder (its Parquet / CSV / JSONL files, recursively:
    a hive-partitioned dataset)."""
    if Path(source).is_dir():
        found = sorted(
            str(f) for f in Path(source).rglob("*") if f.is_file() and f.suffix.lower() in SCANNED_SUFFIXES
        )
        if not found:
            raise InputError(
                f"holds no Parquet, CSV or JSONL files ({', '.join(SCANNED_SUFFIXES)})", file=source
            )
        return found
    if is_pattern(source):
        found = sorted(globbing.glob(source, recursive=True))
        if not found:
            raise InputError("matches no file", file=source)
        return found
    return [source]


def file_format(path: str) -> str:
    suffix = Path(path.split("?")[0]).suffix.lower()
    if suffix not in SCANNED_SUFFIXES:
        raise InputError(
            f"has an unknown suffix {suffix!r}; the out-of-core engine reads {', '.join(SCANNED_SUFFIXES)}",
            file=path,
        )
    return SCANNED_SUFFIXES[suffix]


class Engine:
    """What a query engine provides: the ``raw`` view of the label files (and ``items_raw`` of an items file),
    SQL to pandas for small results, small tables registered from pandas, and the per-cluster sums of a query's
    rows through a Python function of a batch."""

    name = "engine"

    def quote(self, column: str) -> str:
        """A column name as an identifier in this engine's SQL (``order`` is a keyword)."""
        return '"' + column.replace('"', '""') + '"'

    def scan(self, name: str, sources: Sequence[str], renames: dict[str, str]) -> dict[str, str]:
        """Create view ``name`` over the files of ``sources`` (columns renamed, plus ``__file``, ``__src``,
        ``__fidx``, ``__row``); returns its columns with their kind (string, integer, float, bool, other)."""
        raise NotImplementedError

    def view(self, name: str, sql: str) -> None:
        raise NotImplementedError

    def frame(self, sql: str) -> pd.DataFrame:
        raise NotImplementedError

    def register(self, name: str, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def buckets(self, rows: int) -> int:
        """Into how many passes (item buckets) the per-item aggregation of ``rows`` label rows is split."""
        return 1

    def cluster_sums(
        self, sql: str, fn: Callable[[pd.DataFrame], np.ndarray], n_clusters: int, width: int
    ) -> np.ndarray:
        """``(n_clusters, width)``: the sum over the batches of ``sql``'s rows of ``fn(batch)``."""
        raise NotImplementedError
