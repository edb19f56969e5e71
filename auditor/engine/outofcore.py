"""The out-of-core audit: label rows aggregated by a query engine (DuckDB here, Spark in
:mod:`auditor.engine.spark`), the existing bootstrap on the per-cluster sums.

How it runs (the same on every engine; the SQL below is written once and executed by each):

1. ``raw``: the engine's scan of the label files (Parquet / CSV / JSONL, globs, hive-partitioned folders), columns
   named as the contract's (``[columns]``), each row with its file, its 1-based data row and its file's position.
2. ``keyed``: item ids, judges and clusters as text (:data:`KEYED_SQL`); an empty key is the in-memory error.
3. The distinct ``(judge, label, exclusion, score given)`` tuples (:data:`DISTINCT_SQL`, with their row counts and
   first row) are canonicalised in Python by :func:`auditor.data.canonicalise` itself, so every label error and
   exclusion reason keeps the in-memory wording, file and row; the result goes back as the ``label_map`` table.
4. One pass over the rows (:func:`item_counts_sql`): per item, its cluster and, for the reference and each judge,
   the votes per category (a score task: the sum and count of values).  Its rows are streamed in batches to
   :func:`cluster_statistics`, which aggregates each item's verdict with the in-memory rule
   (:meth:`AuditContext.from_counts`) and adds it to per-cluster sums; the rows are never in memory at once.
   Beyond :data:`ROWS_PER_PASS` label rows the pass is repeated over buckets of items (a hash of the item id),
   so that DuckDB's per-item table stays within its memory limit.
5. :func:`finish`: the metrics from the per-cluster sums through the shared :class:`Resampler`, in the in-memory
   order, so that every row equals the in-memory engine's.

What it computes (the rows equal the in-memory engine's: value, interval, n, clusters, p-value): the core step's
reference rates, each judge's agreement family (categorical tasks: from per-cluster confusion tables), outcome
rates and gaps (McNemar's exact p-value when every cluster holds one item, as in memory), confusion tables and
exclusions, and the PPI step.  What it leaves to the in-memory engine (:data:`NOT_COMPUTED`, stated in
audit.json's ``engine`` section): the human ceiling and the other steps that need rows or ranks (ties-excluded
and per-column slices, jury, baselines, alt-test, personalization, position, length, self-preference, variants,
correlations and the score-task agreement family, the integrity warnings that read item texts, label rows or
verdicts, cases, score pairs), the ``mean_score`` judge calibration.  The p-values are adjusted over the rows it
computes.  Its warnings (:data:`WARNINGS`: items without a reference label, no judges, no cluster column, rows on
one or few clusters, whose intervals it drops as the in-memory engine does) are made by the in-memory engine's own
functions from its counts and rows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auditor.config import AuditConfig
from auditor.contract import EXCLUSION_COLUMNS, ITEM_COLUMNS_KNOWN
from auditor.data import (
    _COMBINED_HINTS,
    DERIVED_ITEMS,
    _check_cluster_column,
    _check_mapped_columns,
    _no_reference_message,
    _require_columns,
    canonicalise,
)
from auditor.engine.agreement import category_kappas, has_rates, wanted_rates
from auditor.engine.context import AuditContext, Side
from auditor.engine.integrity import (
    items_without_reference,
    judge_exclusions,
    no_judges,
    reference_exclusions,
    unclustered,
)
from auditor.engine.pvalues import result_metrics
from auditor.engine.query import Engine, expand, file_format, is_pattern
from auditor.errors import AuditorError, InputError
from auditor.io import FILE, ROW
from auditor.metrics import PPI_RATES
from auditor.result import AuditResult
from auditor.stats import compare, ppi
from auditor.stats.bootstrap import Estimate

ENGINES = ("auto", "memory", "duckdb", "spark")
#: ``--engine auto``: label files larger than this in total are audited out of core (DuckDB).
LARGE_INPUT_BYTES = 1 << 30
#: Label rows aggregated per pass by DuckDB: more rows are split into passes over buckets of items (a hash of the
#: item id), so that the per-item table of one pass stays within a bounded memory.
ROWS_PER_PASS = 25_000_000
#: DuckDB's memory limit (``AUDITOR_DUCKDB_MEMORY`` overrides it); beyond it DuckDB spills to
#: ``AUDITOR_DUCKDB_TEMP`` (default: the system's temp folder).  The process peaks about 0.4 GB above it.
DUCKDB_MEMORY = "1GB"
#: Rows per batch streamed from the per-item query.
BATCH_ROWS = 1 << 17
NOT_COMPUTED = (
    "human ceiling",
    "ties-excluded and per-column slices",
    "jury, baselines, alt-test, personalization, position, length, self-preference and variants steps",
    "correlations and the score-task agreement family",
    "the integrity warnings that read item texts, label rows or verdicts (duplicate items and labels, identical "
    "and shifted responses, rater checks, constant judges, mismatch ties), cases and score pairs",
    "the stratified, Rogan-Gladen and confidence-driven PPI variants",
)

#: The warnings the out-of-core engine gives (besides ``out_of_core_engine``), each made by the in-memory engine's
#: own function (:mod:`auditor.engine.integrity`) from the engine's counts: word for word the in-memory warning,
#: but that ``single_cluster`` and ``few_clusters`` count the metric rows of the engine that computed them.
WARNINGS = ("items_without_reference", "no_judges", "unclustered", "single_cluster", "few_clusters")


def input_bytes(sources: Sequence[Any]) -> int:
    """The total size on disk of the label files among ``sources`` (globs and folders expanded; 0 for others)."""
    total = 0
    for source in sources:
        if isinstance(source, (str, Path)) and "://" not in str(source):
            total += sum(os.path.getsize(f) for f in expand(str(source)) if os.path.isfile(f))
    return total


def choose_engine(engine: str, sources: Sequence[Any]) -> str:
    """``memory``, ``duckdb`` or ``spark``: ``auto`` takes DuckDB for label files above :data:`LARGE_INPUT_BYTES`
    (or a glob / folder / URL, which only it reads) and memory otherwise."""
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}", column="engine")
    paths = [str(s) for s in sources if isinstance(s, (str, Path))]
    if engine == "memory":
        for path in paths:  # (a study folder is its labels file by now)
            if is_pattern(path) or "://" in path or Path(path).is_dir():
                kind = "a glob" if is_pattern(path) else "a URL" if "://" in path else "a partitioned folder"
                raise InputError(
                    f"is {kind}, which only the out-of-core engines read: --engine duckdb (or auto, the default); "
                    "--engine memory reads table files and study folders",
                    file=path,
                )
    if engine != "auto":
        return engine
    if len(paths) < len(sources):
        return "memory"  # DataFrames are in memory already
    if any(is_pattern(p) or "://" in p or Path(p).is_dir() for p in paths):
        return "duckdb"
    return "duckdb" if input_bytes(paths) > LARGE_INPUT_BYTES else "memory"


# -- the SQL, written once --------------------------------------------------------------------------------------
#: Placeholders filled per input: ``{item}``, ``{judge}``, ``{cluster}`` (key expressions, :func:`key_sql`),
#: ``{label}``, ``{exclusion}``, ``{score}`` (a column or NULL).  Standard SQL that DuckDB and Spark both run.
KEYED_SQL = """
SELECT {item} AS item_id, {item_key} AS item_key, {judge} AS judge, {cluster} AS cluster_text,
       {label} AS label,
       CASE WHEN {label} IS NULL THEN 'N' ELSE 'V' || CAST({label} AS STRING) END AS label_key,
       {exclusion} AS exclusion,
       CASE WHEN {score} IS NULL OR TRIM(CAST({score} AS STRING)) = '' THEN FALSE ELSE TRUE END AS score_given,
       TRY_CAST({score} AS DOUBLE) AS score_num,
       CAST({score} AS STRING) AS score_text,
       {order} AS order_text,
       __file, __src, __fidx, __row
FROM raw
"""

#: The first row (in file order) where a key column is empty: ``{column}`` is item_id or judge.
EMPTY_KEY_SQL = """
SELECT __file, __row FROM {table} WHERE {column} IS NULL OR {column} = ''
ORDER BY __src, __fidx, __row LIMIT 1
"""

#: The first row whose presentation order is neither ``ab`` nor ``ba`` (nor empty).
BAD_ORDER_SQL = """
SELECT __file, __row, order_text FROM keyed
WHERE order_text IS NOT NULL AND order_text NOT IN ('ab', 'ba')
ORDER BY __src, __fidx, __row LIMIT 1
"""

#: The first row with a score that is given but not a finite number.
BAD_SCORE_SQL = """
SELECT __file, __row, score_text FROM keyed
WHERE score_given AND NOT (score_num BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308)
ORDER BY __src, __fidx, __row LIMIT 1
"""

#: The distinct label tuples with their row counts and first row (sorted by it later), the label rows without an
#: item id and those with a score that is not a finite number.
DISTINCT_SQL = """
SELECT judge, label_key, exclusion, score_given, MIN(label) AS label, COUNT(*) AS n_rows,
       COUNT(CASE WHEN score_given AND NOT (score_num BETWEEN -1.7976931348623157e308
                  AND 1.7976931348623157e308) THEN 1 END) AS n_bad_scores,
       COUNT(CASE WHEN item_id IS NULL THEN 1 END) AS n_empty_items,
       COUNT(CASE WHEN order_text IS NOT NULL AND order_text NOT IN ('ab', 'ba') THEN 1 END) AS n_bad_orders,
       MIN(__src * 1000000000000000 + __fidx * 10000000000 + __row) AS first_position
FROM keyed GROUP BY judge, label_key, exclusion, score_given
"""

#: The items of an items table (keys as text).
ITEMS_FROM_FILE_SQL = """
SELECT {item} AS item_id, {cluster} AS cluster_text, __file, __src, __fidx, __row FROM items_raw
"""

#: The first row of an item id that an earlier row of the items table holds already.
DUPLICATE_ITEMS_SQL = """
SELECT item_id, __file, __row, first_row FROM (
  SELECT item_id, __file, __src, __fidx, __row,
         ROW_NUMBER() OVER (PARTITION BY item_id ORDER BY __src, __fidx, __row) AS rn,
         MIN(__row) OVER (PARTITION BY item_id) AS first_row
  FROM items) d
WHERE rn = 2 ORDER BY __src, __fidx, __row LIMIT 1
"""

#: The clusters sorted by name (pandas' ``factorize(sort=True)``) with their index ``g``; an item without a cluster
#: value is its own cluster ``item:<id>``.  ``{source}``: ``keyed`` (clusters from the label rows) or ``items``.
CLUSTERS_SQL = """
SELECT cluster_name, CAST(DENSE_RANK() OVER (ORDER BY cluster_name) - 1 AS BIGINT) AS g FROM
  (SELECT DISTINCT COALESCE(cluster_text, 'item:' || item_id) AS cluster_name FROM {source}
   WHERE item_id IS NOT NULL) d
"""

#: Each item of an items table with its cluster index.
ITEM_CLUSTERS_SQL = """
SELECT i.item_id AS item_id, c.g AS g FROM items i
JOIN cluster_index c ON COALESCE(i.cluster_text, 'item:' || i.item_id) = c.cluster_name
"""

#: The first label row whose item is not in the items table, and how many such rows there are.
UNKNOWN_ITEMS_SQL = """
SELECT k.item_id, k.__file, k.__row, COUNT(*) OVER () AS n_unknown FROM keyed k
LEFT JOIN items i ON k.item_id = i.item_id WHERE i.item_id IS NULL
ORDER BY k.__src, k.__fidx, k.__row LIMIT 1
"""


def key_sql(column: str | None, kind: str) -> str:
    """A key column as text, as :func:`auditor.data._key_text` writes it: text trimmed, integers as integers,
    integral floats without ``.0``; NULL for an empty value or an absent column."""
    if column is None:
        return "CAST(NULL AS STRING)"
    if kind == "string":
        return f"NULLIF(TRIM({column}), '')"
    if kind == "float":
        return (
            f"CASE WHEN {column} = FLOOR({column}) THEN CAST(CAST({column} AS BIGINT) AS STRING) "
            f"ELSE CAST({column} AS STRING) END"
        )
    if kind == "bool":
        return f"LOWER(CAST({column} AS STRING))"
    return f"CAST({column} AS STRING)"


def label_sql(column: str | None, kind: str) -> str:
    """The label column as the engine reads it, or NULL for an absent one; a column of mixed JSON values as each
    value's own text (``"unsure"`` is ``unsure``, ``true`` is ``true``, ``3`` is ``3``), as the in-memory reader
    has them, never as JSON (``"unsure"`` with its quotes)."""
    if column is None:
        return "CAST(NULL AS STRING)"
    if kind == "json":
        return f"({column} ->> '$')"
    return column


def canonical_rows_sql(items_file: bool, buckets: int = 1, bucket: int = 0) -> str:
    """Every label row reduced to what the per-item pass needs: its item key, cluster index ``g``, side (0 = the
    reference, then the judges), whether it is usable, its category ``code`` and its ``value`` (a finite
    ``score``, else the label's number).  The cluster comes from the items table (``items_file``) or the label
    rows (a combined table).  ``buckets``: the items are split by a hash of their key and only bucket ``bucket``'s
    rows are kept (filtered before the joins)."""
    where = (
        f"(((hash(k.item_key) % {buckets}) + {buckets}) % {buckets}) = {bucket}" if buckets > 1 else "TRUE"
    )
    if items_file:
        join = "JOIN item_clusters c ON k.item_id = c.item_id"
    else:
        join = "JOIN cluster_index c ON COALESCE(k.cluster_text, 'item:' || k.item_id) = c.cluster_name"
    return f"""
SELECT k.item_key AS item_key, c.g AS g, m.side AS side, m.usable AS usable, m.code AS code,
       CASE WHEN k.score_given THEN k.score_num ELSE m.label_value END AS value
FROM keyed k
JOIN label_map m ON k.judge = m.judge AND k.label_key = m.label_key
  AND COALESCE(k.exclusion, '') = m.exclusion AND k.score_given = m.score_given
{join}
WHERE {where}
"""


def item_counts_sql(task: str, n_sides: int, k: int) -> str:
    """The per-item pass over ``canonical_rows`` (:func:`canonical_rows_sql`): per item (every item with a label
    row, usable or not), its cluster index ``g`` (``g_last``: the largest, which differs from ``g`` where an item's
    rows disagree on its cluster) and for side ``j`` ``c_j_c`` = its usable rows with category ``c``, or for a
    score task ``s_j`` / ``n_j`` = the sum and count of its usable values."""
    columns = []
    for j in range(n_sides):
        usable = f"usable AND side = {j}"
        if task == "score":
            columns.append(f"SUM(CASE WHEN {usable} THEN value END) AS s_{j}")
            columns.append(f"COUNT(CASE WHEN {usable} THEN 1 END) AS n_{j}")
        else:
            columns += [f"COUNT(CASE WHEN {usable} AND code = {c} THEN 1 END) AS c_{j}_{c}" for c in range(k)]
    return f"""
SELECT MIN(g) AS g, MAX(g) AS g_last, {", ".join(columns)}
FROM canonical_rows
GROUP BY item_key
"""


class DuckDBEngine(Engine):
    """DuckDB, embedded: reads files lazily, spills its aggregation to disk beyond ``memory_limit``."""

    name = "duckdb"

    def __init__(self, memory_limit: str | None = None, temp_directory: str | None = None) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.memory_limit = memory_limit
        self.sources: list[str] = []
        self.con.execute("SET preserve_insertion_order = true")
        try:
            if memory_limit:
                self.con.execute(f"SET memory_limit = '{memory_limit}'")
            if temp_directory:
                self.con.execute("SET temp_directory = '" + temp_directory.replace("'", "''") + "'")
        except duckdb.Error as exc:
            raise InputError(f"DuckDB refused the setting: {exc}", column="AUDITOR_DUCKDB_MEMORY") from None

    def _read(self, path: str, delimiter: str | None) -> str:
        fmt, quoted = file_format(path), "'" + path.replace("'", "''") + "'"
        if fmt == "parquet":
            return f"SELECT *, file_row_number + 1 AS __row FROM read_parquet({quoted}, file_row_number = true, hive_partitioning = true)"
        if fmt == "csv":
            sep = delimiter or ("\t" if path.lower().endswith(".tsv") else ",")
            reader = f"read_csv({quoted}, header = true, all_varchar = true, delim = '{sep}')"
        else:
            reader = f"read_json({quoted}, format = 'newline_delimited')"
        return f"SELECT *, row_number() OVER () AS __row FROM {reader}"

    def scan(self, name: str, sources: Sequence[str], renames: dict[str, str], delimiter: str | None = None):
        self.sources = list(sources)
        parts = []
        for src, source in enumerate(sources):
            for fidx, path in enumerate(expand(source)):
                quoted = "'" + path.replace("'", "''") + "'"
                inner = self._read(path, delimiter)
                drop = " EXCLUDE (file_row_number)" if file_format(path) == "parquet" else ""
                parts.append(
                    f"SELECT *{drop}, {quoted} AS __file, {src} AS __src, {fidx} AS __fidx FROM ({inner})"
                )
        union = "\nUNION ALL BY NAME\n".join(parts)
        with self._guard(sources):
            found = [row[0] for row in self.con.execute(f"DESCRIBE {union}").fetchall()]
            renamed = ", ".join(f'"{f}" AS "{c}"' for f, c in renames.items() if f in found)
            select = f"SELECT * RENAME ({renamed}) FROM ({union})" if renamed else union
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")
            return {row[0]: _kind(str(row[1])) for row in self.con.execute(f"DESCRIBE {name}").fetchall()}

    @contextmanager
    def _guard(self, sources: Sequence[str] | None = None) -> Iterator[None]:
        """DuckDB's errors as the project's: a file it cannot read is bad input (one line naming the files), and
        running out of its memory limit says how to raise it."""
        import duckdb

        try:
            yield
        except duckdb.OutOfMemoryException as exc:
            raise AuditorError(
                f"the out-of-core engine ran out of its memory limit ({self.memory_limit or 'default'}): raise "
                "it with AUDITOR_DUCKDB_MEMORY=4GB (DuckDB spills the rest to AUDITOR_DUCKDB_TEMP)"
            ) from exc
        except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"could not be read: {first}", file=" + ".join(sources or self.sources)) from exc

    def view(self, name: str, sql: str) -> None:
        with self._guard():
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def frame(self, sql: str) -> pd.DataFrame:
        with self._guard():
            return self.con.execute(sql).df()

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.con.register(name, frame)

    def buckets(self, rows: int) -> int:
        return max(1, -(-rows // ROWS_PER_PASS))

    def cluster_sums(self, sql, fn, n_clusters, width):
        # the rows' order does not matter to sums (and keeping it costs memory); the error queries keep it
        self.con.execute("SET preserve_insertion_order = false")
        total = np.zeros((n_clusters, width))
        with self._guard():
            for batch in self.con.sql(sql).to_arrow_reader(BATCH_ROWS):
                total += fn(batch.to_pandas())
        self.con.execute("SET preserve_insertion_order = true")
        return total


def _kind(dtype: str) -> str:
    dtype = dtype.upper()
    if dtype in ("VARCHAR", "STRING") or dtype.startswith("VARCHAR"):
        return "string"
    if dtype in ("BOOLEAN",):
        return "bool"
    if dtype == "JSON":  # a JSON Lines column of mixed kinds (``true``, ``"unsure"``, ``3``)
        return "json"
    if any(
        dtype.startswith(t)
        for t in (
            "TINYINT",
            "SMALLINT",
            "INTEGER",
            "BIGINT",
            "HUGEINT",
            "UTINY",
            "USMALL",
            "UINTEGER",
            "UBIGINT",
            "INT",
            "LONG",
            "SHORT",
            "BYTE",
        )
    ):
        return "integer"
    if any(dtype.startswith(t) for t in ("DOUBLE", "FLOAT", "REAL", "DECIMAL")):
        return "float"
    return "other"


# -- per-cluster statistics -------------------------------------------------------------------------------------
@dataclass
class Layout:
    """Where each per-cluster statistic sits in the columns of the ``(G, width)`` sums."""

    columns: dict[str, slice] = field(default_factory=dict)
    width: int = 0

    def add(self, name: str, n: int) -> None:
        self.columns[name] = slice(self.width, self.width + n)
        self.width += n

    def __getitem__(self, name: str) -> slice:
        return self.columns[name]


def _rate_names(ctx: AuditContext) -> list[str]:
    ind = ctx.indicators(Side(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool)), np.zeros(0, np.int64))
    return list(ind or {})


def _ppi_targets(ctx: AuditContext, names: list[str]) -> list[str]:
    targets = [name for name in PPI_RATES if name in names]
    if ctx.task in ("likert", "score", "pairwise", "binary"):
        targets.append("mean_score")
    return targets


def statistics_layout(ctx: AuditContext, judges: list[str]) -> Layout:
    names = _rate_names(ctx)
    layout = Layout()
    layout.add("ref_rates", len(names) + 2)
    layout.add("ref_counts", 2)  # items with a reference label, without a usable one
    for j in judges:
        layout.add(
            f"{j}/counts", 4
        )  # labelled, lost (no majority), usable without a reference, reference only
        if ctx.task != "score":
            layout.add(f"{j}/confusion", ctx.k * ctx.k)
        layout.add(f"{j}/rates", len(names) + 2)
        layout.add(f"{j}/ref_rates", len(names) + 2)
        layout.add(f"{j}/discordant", 2 * len(names))
        layout.add(f"{j}/ppi", ppi.N_STATS * len(_ppi_targets(ctx, names)))
    return layout


def _sides(ctx: AuditContext, batch: pd.DataFrame, n_sides: int) -> list[Side]:
    sides = []
    for j in range(n_sides):
        if ctx.task == "score":
            n = batch[f"n_{j}"].to_numpy(np.int64)
            with np.errstate(divide="ignore", invalid="ignore"):
                total = batch[f"s_{j}"].fillna(0.0).to_numpy(float)
                value = np.where(n > 0, total / np.maximum(n, 1), np.nan)
            sides.append(Side(np.full(len(batch), -1, np.int64), value, n > 0))
        else:
            counts = np.column_stack([batch[f"c_{j}_{c}"].to_numpy(np.int64) for c in range(ctx.k)])
            sides.append(ctx.from_counts(counts, counts.sum(axis=1) > 0))
    return sides


def _indicator_columns(ctx: AuditContext, side: Side, idx: np.ndarray, names: list[str]) -> list[np.ndarray]:
    ind = ctx.indicators(side, idx) or {}
    return [np.ones(idx.size)] + [ind[name].astype(float) for name in names] + [side.value[idx]]


def cluster_statistics(
    ctx: AuditContext, layout: Layout, judges: list[str], batch: pd.DataFrame
) -> np.ndarray:
    """A batch of per-item rows (:func:`item_counts_sql`) as ``(G, width)`` per-cluster sums (:class:`Layout`)."""
    g = batch["g"].to_numpy(np.int64)
    out = np.zeros((ctx.n_clusters, layout.width))
    names = _rate_names(ctx)
    targets = _ppi_targets(ctx, names)

    def put(name: str, idx: np.ndarray, columns: list[np.ndarray]) -> None:
        part = layout[name]
        for offset, column in enumerate(columns):
            out[:, part.start + offset] += np.bincount(g[idx], weights=column, minlength=ctx.n_clusters)

    sides = _sides(ctx, batch, 1 + len(judges))
    ref = sides[0]
    ref_ok = ctx.usable(ref)
    every = np.arange(len(batch))
    ref_idx = np.flatnonzero(ref_ok)
    put("ref_rates", ref_idx, _indicator_columns(ctx, ref, ref_idx, names))
    put("ref_counts", every, [ref.has.astype(float), (ref.has & ~ref_ok).astype(float)])
    for judge, side in zip(judges, sides[1:], strict=True):
        ok = ctx.usable(side)
        put(
            f"{judge}/counts",
            every,
            [x.astype(float) for x in (side.has, side.has & ~ok, ok & ~ref_ok, ref_ok & ~ok)],
        )
        paired = np.flatnonzero(ok & ref_ok)
        if ctx.task != "score":
            flat = ref.code[paired] * ctx.k + side.code[paired]
            put(f"{judge}/confusion", paired, [(flat == c).astype(float) for c in range(ctx.k * ctx.k)])
        j_cols = _indicator_columns(ctx, side, paired, names)
        r_cols = _indicator_columns(ctx, ref, paired, names)
        put(f"{judge}/rates", paired, j_cols)
        put(f"{judge}/ref_rates", paired, r_cols)
        discordant = []
        for i in range(1, len(names) + 1):
            discordant += [j_cols[i] * (1 - r_cols[i]), (1 - j_cols[i]) * r_cols[i]]
        put(f"{judge}/discordant", paired, discordant)
        judged = np.flatnonzero(ok)
        u_cols = _indicator_columns(ctx, side, judged, names)
        v_cols: list[tuple[np.ndarray, list[np.ndarray]]] = []
        for target in targets:
            i = names.index(target) + 1 if target in names else len(names) + 1
            v_cols.append((judged, [np.ones(judged.size), u_cols[i]]))
            v_cols.append((paired, [np.ones(paired.size), r_cols[i], j_cols[i]]))
        part = layout[f"{judge}/ppi"]
        offset = part.start
        for idx, columns in v_cols:
            for column in columns:
                out[:, offset] += np.bincount(g[idx], weights=column, minlength=ctx.n_clusters)
                offset += 1
    return out


# -- the metrics ------------------------------------------------------------------------------------------------
def finish(ctx: AuditContext, layout: Layout, judges: list[str], sums: np.ndarray, n_items: int) -> None:
    """The core and PPI rows from the per-cluster ``sums``, in the in-memory order (:mod:`auditor.analyses.core`,
    :mod:`auditor.analyses.ppi`)."""
    cfg, ref_name = ctx.cfg, ctx.cfg.reference
    names = _rate_names(ctx)
    rates_on = has_rates(ctx.task)
    ref_counts = sums[:, layout["ref_counts"]].sum(axis=0)
    with_ref, no_majority = int(ref_counts[0]), int(ref_counts[1])
    ctx.exclusions.extend(reference_exclusions(ref_name, no_majority))
    ctx.warnings.extend(items_without_reference(n_items - with_ref, ref_name))
    wanted = wanted_rates(ctx)
    rates_on = rates_on and wanted != ()
    ref_rates = sums[:, layout["ref_rates"]]
    n_ref = int(ref_rates[:, 0].sum())
    if n_ref and rates_on:
        for name, est in _rates(ctx, ref_rates, names, n_ref).items():
            ctx.add(name, ref_name, ref_name, est)
    for judge in judges:
        counts = sums[:, layout[f"{judge}/counts"]].sum(axis=0).astype(np.int64)
        ctx.exclusions.extend(judge_exclusions(judge, int(counts[1]), int(counts[2])))
        j_rates, r_rates = sums[:, layout[f"{judge}/rates"]], sums[:, layout[f"{judge}/ref_rates"]]
        n_paired = int(j_rates[:, 0].sum())
        if n_paired and ctx.task != "score":
            confusion = sums[:, layout[f"{judge}/confusion"]].reshape(ctx.n_clusters, ctx.k, ctx.k)
            level = {"likert": "ordinal"}.get(ctx.task, "nominal")
            weighted = ctx.task in ("pairwise", "likert")
            found = compare.confusion_metrics(
                confusion, n_paired, ctx.rs, weighted=weighted, alpha_level=level, metrics=ctx.selected(None)
            )
            for name, est in found.items():
                ctx.add(name, judge, ref_name, est)
            category_kappas(ctx, judge, lambda c=confusion: c, n_paired)
        if n_paired and rates_on:
            judge_est = _rates(ctx, j_rates, names, n_paired)
            gaps = [name for name in judge_est if ctx.wants(f"{name}_gap")]
            ref_est = _rates(ctx, r_rates, names, n_paired) if gaps else {}
            singletons = bool(np.all(j_rates[:, 0] <= 1))
            discordant = sums[:, layout[f"{judge}/discordant"]].sum(axis=0)
            for name in judge_est:
                ctx.add(name, judge, ref_name, judge_est[name])
                if name not in gaps:
                    continue
                gap = judge_est[name] - ref_est[name]
                if singletons and name in names:
                    i = names.index(name)
                    b, c = int(round(discordant[2 * i])), int(round(discordant[2 * i + 1]))
                    test = {"p_value": compare.mcnemar_exact_counts(b, c)}
                else:
                    test = ctx.test(gap)
                ctx.add(f"{name}_gap", judge, ref_name, gap, **test)
        if n_paired and ctx.k:
            conf = sums[:, layout[f"{judge}/confusion"]].sum(axis=0).reshape(ctx.k, ctx.k)
            ctx.confusion.append(
                {
                    "judge": judge,
                    "reference": ref_name,
                    "categories": list(ctx.categories),
                    "counts": np.rint(conf).astype(np.int64).tolist(),
                }
            )
    if cfg.ppi.enabled:
        ctx.sections["ppi"] = _ppi_section(ctx, layout, judges, sums, names)


def _rates(ctx: AuditContext, sums: np.ndarray, names: list[str], n: int) -> dict[str, Estimate]:
    """:func:`auditor.stats.compare.rates_from_sums` of the rates the audit computes (:func:`auditor.engine.
    agreement.wanted_rates`), from the columns of ``sums`` (items, each rate of ``names``, values) they need."""
    wanted = wanted_rates(ctx)
    if wanted is None:
        return compare.rates_from_sums(sums, names, n, ctx.rs)
    kept = [name for name in names if name in wanted]
    columns = [0, *(names.index(name) + 1 for name in kept), len(names) + 1]
    found = compare.rates_from_sums(sums[:, columns], kept, n, ctx.rs)
    return {name: est for name, est in found.items() if name in wanted}


def _ppi_section(
    ctx: AuditContext, layout: Layout, judges: list[str], sums: np.ndarray, names: list[str]
) -> dict[str, Any]:
    """The ``ppi`` rows and section of :func:`auditor.analyses.ppi.ppi_rows` from the per-cluster sums (its
    stratified, Rogan-Gladen and confidence-driven variants need the items: left to the in-memory engine)."""
    from auditor.analyses.ppi import DESIGN, judge_entry, ppi_metric
    from auditor.io import json_safe

    section: dict[str, Any] = {"design": DESIGN, "strata": None, "judges": []}
    targets = _ppi_targets(ctx, names)
    for judge in judges:
        counts = sums[:, layout[f"{judge}/counts"]].sum(axis=0)
        block = sums[:, layout[f"{judge}/ppi"]].reshape(ctx.n_clusters, len(targets), ppi.N_STATS)
        if targets:
            n_judged, n_labelled = int(round(block[:, 0, 0].sum())), int(round(block[:, 0, 2].sum()))
        else:  # a task without PPI targets (categorical) still says how many items it judged and has labels for
            n_judged = int(round(counts[0] - counts[1]))  # labelled by the judge, minus no majority
            n_labelled = n_judged - int(round(counts[2]))  # minus usable without a reference label
        entry = judge_entry(judge, ctx.cfg.reference, n_labelled, n_judged, int(round(counts[3])))
        if "note" not in entry:
            entry["metrics"] = [
                ppi_metric(ctx, name, judge, ppi.with_outer(block[:, t, :]), n_judged, n_labelled)
                for t, name in enumerate(targets)
            ]
        section["judges"].append(entry)
    return json_safe(section)


# -- the driver -------------------------------------------------------------------------------------------------
_SRC, _FIDX = 1_000_000_000_000_000, 10_000_000_000


def _location(sources: Sequence[str], position: int) -> tuple[str, int]:
    """The file and 1-based row of a ``first_position`` (source, file within it, row)."""
    src, rest = divmod(int(position), _SRC)
    fidx, row = divmod(rest, _FIDX)
    return expand(sources[src])[fidx], int(row)


def _first_row(engine: Engine, sql: str) -> tuple[str, int] | None:
    found = engine.frame(sql)
    return None if found.empty else (str(found["__file"].iloc[0]), int(found["__row"].iloc[0]))


def _empty_key(engine: Engine, column: str, table: str = "keyed") -> InputError:
    found = _first_row(engine, EMPTY_KEY_SQL.format(column=column, table=table))
    file, row = found if found else (None, None)
    return InputError("is empty; every row needs a value here", file=file, row=row, column=column)


def _check_columns(columns: Sequence[str], required: tuple[str, ...], what: str, where: str) -> None:
    """:func:`auditor.data._require_columns` on the scanned columns (the same message)."""
    shown = [c for c in columns if c not in ("__file", "__src", "__fidx", "__row")]
    frame = pd.DataFrame(columns=shown)
    frame.attrs["path"] = where
    _require_columns(frame, required, what)


def _distinct_labels(engine: Engine) -> pd.DataFrame:
    """The distinct label tuples in the order of their first row; an empty item id or judge, an order other than
    ``ab`` / ``ba``, or a score that is not a number, is the in-memory error (in its order: item id, judge, order,
    score)."""
    distinct = engine.frame(DISTINCT_SQL).sort_values("first_position", kind="stable").reset_index(drop=True)
    if distinct["n_empty_items"].sum():
        raise _empty_key(engine, "item_id")
    if distinct["judge"].isna().any() or (distinct["judge"] == "").any():
        raise _empty_key(engine, "judge")
    if distinct["n_bad_orders"].sum():
        raise _first_bad(engine, BAD_ORDER_SQL, "order", "'ab', 'ba' or empty")
    if distinct["n_bad_scores"].sum():
        raise _first_bad(engine, BAD_SCORE_SQL, "score", "a finite number or empty")
    return distinct


def _first_bad(engine: Engine, sql: str, column: str, expected: str) -> InputError:
    """The error naming the first row ``sql`` finds (its ``__file``, ``__row`` and ``<column>_text``)."""
    found = engine.frame(sql)
    return InputError(
        f"has {found[f'{column}_text'].iloc[0]!r}; expected {expected}",
        file=str(found["__file"].iloc[0]),
        row=int(found["__row"].iloc[0]),
        column=column,
    )


def _labels_map(
    engine: Engine, distinct: pd.DataFrame, config: AuditConfig, sources: Sequence[str], where: str
) -> tuple[tuple[str, ...] | None, list[str], pd.DataFrame]:
    """The distinct label tuples canonicalised by :func:`auditor.data.canonicalise` (registered as ``label_map``);
    returns the categories, the judges (first row order, the reference left out) and the loader's exclusions."""
    located = [_location(sources, p) for p in distinct["first_position"]]
    frame = pd.DataFrame(
        {
            "judge": distinct["judge"].astype(object),
            "label": distinct["label"],
            "exclusion": distinct["exclusion"].astype(object).where(distinct["exclusion"].notna(), None),
            "score": np.where(distinct["score_given"].to_numpy(bool), 0.0, np.nan),
            FILE: [f for f, _ in located],
            ROW: [r for _, r in located],
        }
    )
    frame.attrs["path"] = where
    canonical, categories = canonicalise(frame, config, distinct["n_rows"].to_numpy())
    judge_names = list(dict.fromkeys(frame["judge"]))
    reference = config.reference
    if reference not in judge_names:
        raise InputError(
            _no_reference_message(reference, set(judge_names), where), file=where, column="judge"
        )
    judges = [j for j in judge_names if j != reference]
    side = {reference: 0, **{j: i + 1 for i, j in enumerate(judges)}}
    label_map = pd.DataFrame(
        {
            "judge": frame["judge"].astype(str),
            "label_key": distinct["label_key"].astype(str),
            "exclusion": distinct["exclusion"].fillna("").astype(str),
            "score_given": distinct["score_given"].astype(bool),
            "side": frame["judge"].map(side).astype(np.int64),
            "code": canonical["code"].astype(np.int64),
            "label_value": canonical["value"].astype(float),
            "usable": canonical["excluded"].isna().to_numpy(),
        }
    )
    engine.register("label_map", label_map)
    excluded = canonical["excluded"].notna().to_numpy()
    exclusions = (
        pd.DataFrame(
            {
                "judge": frame["judge"][excluded],
                "reason": canonical["excluded"][excluded],
                "count": distinct["n_rows"][excluded],
            }
        )
        .groupby(["judge", "reason"], sort=True)["count"]
        .sum()
        .reset_index()
    )
    return categories, judges, exclusions


def _check_items(engine: Engine, items: str) -> int:
    """An items table's checks (empty and duplicate ids, label rows naming unknown items) with the in-memory
    wording; returns its number of items."""
    if int(engine.frame("SELECT COUNT(*) AS n FROM items WHERE item_id IS NULL")["n"].iloc[0]):
        raise _empty_key(engine, "item_id", "items")
    counts = engine.frame("SELECT COUNT(*) AS n, COUNT(DISTINCT item_id) AS n_distinct FROM items")
    if int(counts["n_distinct"].iloc[0]) < int(counts["n"].iloc[0]):
        dup = engine.frame(DUPLICATE_ITEMS_SQL)
        raise InputError(
            f"duplicate item_id {dup['item_id'].iloc[0]!r} (first seen in row {int(dup['first_row'].iloc[0])}); "
            "item ids must be unique",
            file=str(dup["__file"].iloc[0]),
            row=int(dup["__row"].iloc[0]),
            column="item_id",
        )
    unknown = engine.frame(UNKNOWN_ITEMS_SQL)
    if not unknown.empty:
        raise InputError(
            f"names item {unknown['item_id'].iloc[0]!r}, which is not in the items table {items} "
            f"({int(unknown['n_unknown'].iloc[0])} label rows name unknown items)",
            file=str(unknown["__file"].iloc[0]),
            row=int(unknown["__row"].iloc[0]),
            column="item_id",
        )
    return int(counts["n"].iloc[0])


def audit_out_of_core(
    labels: str | Path | Sequence[str | Path],
    items: str | Path | None,
    config: AuditConfig,
    engine: Engine | str = "duckdb",
) -> AuditResult:
    """Audit label files out of core: see the module's description (what is computed, what is not)."""
    config = config.validated()
    task = config.require_task()
    if config.judge_aggregate == "mean_score":
        raise InputError(
            "the mean-score judge calibration needs every label row; the out-of-core engine votes. "
            "Run it with --engine memory",
            column="judge_aggregate",
        )
    if isinstance(engine, str):
        engine = make_engine(engine)
    sources = [str(s) for s in (labels if isinstance(labels, (list, tuple)) else [labels])]
    where = " + ".join(sources)
    renames = {found: contract for contract, found in config.columns.items()}
    columns = engine.scan("raw", sources, renames, config.delimiter)
    scanned = pd.DataFrame(columns=[c for c in columns if not c.startswith("__")])
    scanned.attrs["path"] = where
    _check_mapped_columns(config, [scanned])
    combined = items is None and any(c in columns for c in _COMBINED_HINTS)
    label_columns = [c for c in columns if not combined or c == "item_id" or c not in ITEM_COLUMNS_KNOWN]
    required = ("item_id", "judge", *(() if "score" in columns else ("label",)))
    _check_columns(label_columns, required, "labels", where)
    cluster_column = config.cluster if combined and config.cluster in columns else None

    def present(column: str) -> str:
        return column if column in columns else "CAST(NULL AS STRING)"

    item_key = "item_id" if columns["item_id"] == "integer" else key_sql("item_id", columns["item_id"])
    engine.view(
        "keyed",
        KEYED_SQL.format(
            item=key_sql("item_id", columns["item_id"]),
            item_key=item_key,
            judge=key_sql("judge", columns["judge"]),
            cluster=key_sql(cluster_column, columns.get(cluster_column or "", "other")),
            label=label_sql("label" if "label" in columns else None, columns.get("label", "other")),
            exclusion=key_sql("exclusion", columns["exclusion"])
            if "exclusion" in columns
            else "CAST(NULL AS STRING)",
            score=present("score"),
            order=key_sql(engine.quote("order"), columns["order"])
            if "order" in columns
            else "CAST(NULL AS STRING)",
        ),
    )
    distinct = _distinct_labels(engine)
    n_items = None
    if items is not None:
        item_columns = engine.scan("items_raw", [str(items)], renames, config.delimiter)
        _check_columns(item_columns, ("item_id",), "items", str(items))
        cluster_column = config.cluster if config.cluster in item_columns else None
        engine.view(
            "items",
            ITEMS_FROM_FILE_SQL.format(
                item=key_sql("item_id", item_columns["item_id"]),
                cluster=key_sql(cluster_column, item_columns.get(cluster_column or "", "other")),
            ),
        )
        n_items = _check_items(engine, str(items))
    categories, judges, loader_exclusions = _labels_map(engine, distinct, config, sources, where)
    # the items' columns, as the in-memory engine's items table has them: a declared cluster column they lack is bad
    # input there, not one cluster per item
    if items is not None:
        item_table_columns, items_where = [c for c in item_columns if not c.startswith("__")], str(items)
    elif combined:
        item_table_columns = [c for c in columns if c in ITEM_COLUMNS_KNOWN or c == cluster_column]
        items_where = where
    else:
        item_table_columns, items_where = ["item_id"], DERIVED_ITEMS
    _check_cluster_column(config.cluster, item_table_columns, items_where, config)
    clusters = engine.frame(CLUSTERS_SQL.format(source="keyed" if items is None else "items"))
    engine.register("cluster_index", clusters[["cluster_name", "g"]].astype({"g": np.int64}))
    if items is not None:
        engine.view("item_clusters", ITEM_CLUSTERS_SQL)
    ctx = AuditContext.for_aggregates(config, categories, n_items or 0, len(clusters))
    # the per-batch statistics need the rules, not the bootstrap: a context without resamples travels light (to
    # Spark's executors)
    light = AuditContext.for_aggregates(config.with_overrides(resamples=0), categories, 0, len(clusters))
    layout = statistics_layout(ctx, judges)
    rows = int(distinct["n_rows"].sum())
    buckets = engine.buckets(rows)
    sums = np.zeros((ctx.n_clusters, layout.width + 2))
    for bucket in range(buckets):
        engine.view("canonical_rows", canonical_rows_sql(items is not None, buckets, bucket))
        sql = item_counts_sql(task, 1 + len(judges), ctx.k)
        sums += engine.cluster_sums(
            sql, lambda batch: _with_items(light, layout, judges, batch), ctx.n_clusters, layout.width + 2
        )
    conflicts = int(sums[:, -1].sum())
    if conflicts:
        raise InputError(
            f"{conflicts} items have different {cluster_column!r} values in their rows; a combined table must "
            "repeat item columns identically",
            file=where,
            column=cluster_column,
        )
    if n_items is None:
        n_items = int(sums[:, -2].sum())
        ctx.n_items = n_items
    sums = sums[:, : layout.width]
    finish(ctx, layout, judges, sums, n_items)
    ctx.warnings += no_judges(judges, config.reference) + unclustered(item_table_columns, n_items, config)
    return _result(ctx, judges, loader_exclusions, sums, layout, cluster_column, engine.name)


def _with_items(ctx: AuditContext, layout: Layout, judges: list[str], batch: pd.DataFrame) -> np.ndarray:
    """:func:`cluster_statistics` plus two columns: the items, and those whose rows disagree on their cluster."""
    g = batch["g"].to_numpy(np.int64)
    conflicts = (batch["g_last"].to_numpy(np.int64) != g).astype(float)
    extra = np.column_stack(
        [
            np.bincount(g, minlength=ctx.n_clusters),
            np.bincount(g, weights=conflicts, minlength=ctx.n_clusters),
        ]
    )
    return np.hstack([cluster_statistics(ctx, layout, judges, batch), extra])


def make_engine(name: str) -> Engine:
    if name == "duckdb":
        temp = os.environ.get("AUDITOR_DUCKDB_TEMP") or str(Path(tempfile.gettempdir()) / "auditor-duckdb")
        return DuckDBEngine(os.environ.get("AUDITOR_DUCKDB_MEMORY", DUCKDB_MEMORY), temp)
    if name == "spark":
        from auditor.engine.spark import SparkEngine

        return SparkEngine()
    raise InputError(f"unknown out-of-core engine {name!r}; expected duckdb or spark", column="engine")


def _result(
    ctx: AuditContext,
    judges: list[str],
    loader_exclusions: pd.DataFrame,
    sums: np.ndarray,
    layout: Layout,
    cluster_column: str | None,
    engine_name: str,
) -> AuditResult:
    from auditor.engine.describe import meta

    ctx.ref = Side(np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool))
    with_ref = sums[:, layout["ref_counts"]].sum(axis=0)
    described = meta(
        ctx,
        cluster=cluster_column or "item_id",
        judges=judges,
        n_items_with_reference=int(round(with_ref[0] - with_ref[1])),
    )
    described["engine"] = {"name": engine_name, "not_computed": list(NOT_COMPUTED)}
    metrics, cluster_warnings = result_metrics(ctx.rows, cluster_column or "item_id", ctx.cfg.correction)
    ctx.warnings += cluster_warnings
    ctx.warnings.append(  # shown in every report: this audit is not the whole in-memory audit
        {
            "code": "out_of_core_engine",
            "message": f"computed by the {engine_name} engine (out of core), which leaves out: "
            f"{'; '.join(NOT_COMPUTED)}; run with --engine memory for the full audit",
            "count": None,
        }
    )
    exclusions = pd.concat(
        [loader_exclusions, pd.DataFrame(ctx.exclusions, columns=EXCLUSION_COLUMNS)], ignore_index=True
    )
    exclusions["count"] = exclusions["count"].astype(int)
    return AuditResult(described, metrics, exclusions, ctx.warnings, ctx.confusion, [], {})
