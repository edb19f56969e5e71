"""The out-of-core audit on Spark: the same SQL as DuckDB (:mod:`auditor.engine.outofcore`), for label files that
live on a cluster.

The scans use Spark's readers (Parquet rows numbered by ``_metadata.row_index``; CSV read as text, as the
in-memory reader does; JSON lines); the per-item query's rows go through
:func:`~auditor.engine.outofcore.cluster_statistics` in ``mapInPandas`` on the executors and the per-cluster sums
are added up by a ``groupBy`` there, so only ``clusters x statistics`` numbers reach the driver.  Spark's session
is the caller's (``SparkSession.builder.getOrCreate()``: a cluster through ``spark-submit`` / ``SPARK_REMOTE`` /
spark-defaults, else local).  CSV and JSONL row numbers in error messages are exact when Spark reads a file as one
partition (files below ``spark.sql.files.maxPartitionBytes``, 128 MB by default); Parquet's always are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from auditor.engine.query import Engine, expand, file_format

_KINDS = {
    "string": "string",
    "boolean": "bool",
    "tinyint": "integer",
    "smallint": "integer",
    "int": "integer",
    "bigint": "integer",
    "float": "float",
    "double": "float",
}


class SparkEngine(Engine):
    name = "spark"

    def quote(self, column: str) -> str:
        return "`" + column.replace("`", "``") + "`"

    def __init__(self, session: Any = None) -> None:
        if session is None:
            from pyspark.sql import SparkSession

            session = SparkSession.builder.getOrCreate()
        self.spark = session

    def _read(self, path: str, delimiter: str | None) -> Any:
        from pyspark.sql import functions as F

        fmt = file_format(path)
        if fmt == "parquet":
            frame = self.spark.read.parquet(path)
            return frame.withColumn("__row", F.col("_metadata.row_index") + 1)
        if fmt == "csv":
            sep = delimiter or ("\t" if path.lower().endswith(".tsv") else ",")
            frame = self.spark.read.option("header", True).option("sep", sep).csv(path)
        else:
            frame = self.spark.read.json(path)
        return frame.withColumn("__row", F.monotonically_increasing_id() + 1)

    def scan(
        self, name: str, sources: Sequence[str], renames: dict[str, str], delimiter: str | None = None
    ) -> dict[str, str]:
        from pyspark.sql import functions as F

        frames = []
        for src, source in enumerate(sources):
            files = [source] if "://" in source else expand(source)
            for fidx, path in enumerate(files):
                frame = self._read(path, delimiter)
                frame = frame.withColumn("__file", F.lit(path)).withColumn("__src", F.lit(src))
                frames.append(frame.withColumn("__fidx", F.lit(fidx)))
        union = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
        for found, contract in renames.items():
            if found in union.columns:
                union = union.withColumnRenamed(found, contract)
        union.createOrReplaceTempView(name)
        return {
            column: _KINDS.get(dtype, "float" if dtype.startswith("decimal") else "other")
            for column, dtype in union.dtypes
        }

    def view(self, name: str, sql: str) -> None:
        self.spark.sql(sql).createOrReplaceTempView(name)

    def frame(self, sql: str) -> pd.DataFrame:
        return self.spark.sql(sql).toPandas()

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def cluster_sums(
        self, sql: str, fn: Callable[[pd.DataFrame], np.ndarray], n_clusters: int, width: int
    ) -> np.ndarray:
        columns = [f"s{i}" for i in range(width)]

        def partial(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            for batch in batches:
                sums = fn(batch)
                held = np.flatnonzero(np.any(sums != 0, axis=1))
                yield pd.DataFrame(sums[held], columns=columns).assign(g=held.astype(np.int64))

        schema = "g long, " + ", ".join(f"{c} double" for c in columns)
        summed = self.spark.sql(sql).mapInPandas(partial, schema).groupBy("g").sum(*columns).toPandas()
        total = np.zeros((n_clusters, width))
        total[summed["g"].to_numpy(np.int64)] = summed[[f"sum({c})" for c in columns]].to_numpy(float)
        return total
