"""The same aggregation on Spark (local mode): the same rows, exclusions and PPI section as the in-memory and the
DuckDB engines, on PandaLM, HANNA and the simulated study.  Spark's JVM start and its jobs take a minute on a 2-core
machine, so these run with ``python -m pytest -m full tests/auditor/engine/test_spark.py``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import auditor
from auditor.config import load_config
from auditor.engine.outofcore import audit_out_of_core
from tests.auditor.engine.test_outofcore import _pairwise, _ppi_design, assert_same_rows
from tests.conftest import shared_dataset

pytestmark = pytest.mark.full


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local SparkSession for the session (1 core, no UI), or a skip naming what is missing."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (java 17) on PATH; none found")
    pytest.importorskip("pyspark", reason="pyspark is not installed (pip install -e '.[test]')")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("auditor-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_equals_in_memory_on_pandalm_ppi_design(spark, tmp_path: Path) -> None:
    from auditor.datasets import pandalm
    from auditor.engine.spark import SparkEngine

    study = pandalm.load(shared_dataset("pandalm_testset").parent)
    study.write(tmp_path)
    _ppi_design(study.labels, 3).to_parquet(tmp_path / "ppi.parquet", index=False)
    study.items[["item_id"]].to_parquet(tmp_path / "items.parquet", index=False)
    config = load_config(tmp_path / "audit.toml").with_overrides(resamples=200)
    memory = auditor.audit(tmp_path / "ppi.parquet", items=tmp_path / "items.parquet", config=config)
    on_spark = audit_out_of_core(
        tmp_path / "ppi.parquet", tmp_path / "items.parquet", config, SparkEngine(spark)
    )
    assert on_spark.meta["engine"]["name"] == "spark"
    assert assert_same_rows(memory, on_spark) >= 30


def test_spark_equals_in_memory_on_hanna_scores(spark, tmp_path: Path) -> None:
    """A score task in the PPI design: the reference's mean score, each judge's mean score, its gap and its PPI
    mean score."""
    from auditor.datasets import hanna
    from auditor.engine.spark import SparkEngine

    study = hanna.load(shared_dataset("hanna").parent, llm="ChatGPT", prompt=(1, 2))
    study.write(tmp_path)
    _ppi_design(study.labels, 4).to_parquet(tmp_path / "ppi.parquet", index=False)
    config = load_config(tmp_path / "audit.toml").with_overrides(resamples=100)
    memory = auditor.audit(tmp_path / "ppi.parquet", items=tmp_path / "items.jsonl", config=config)
    on_spark = audit_out_of_core(
        tmp_path / "ppi.parquet", tmp_path / "items.jsonl", config, SparkEngine(spark)
    )
    assert on_spark.meta["engine"]["name"] == "spark"
    assert assert_same_rows(memory, on_spark) == 1 + 2 * 3


def test_spark_equals_duckdb_on_the_simulated_study_and_csv(spark, tmp_path: Path) -> None:
    from auditor.engine.spark import SparkEngine
    from auditor.simulate import simulate_study

    study = simulate_study(seed=5, n_users=20, n_items=120, with_truth=False, n_unlabelled=150)
    study.write(tmp_path)
    config = load_config(tmp_path / "audit.toml").with_overrides(resamples=200)
    labels, items = tmp_path / "labels.jsonl", tmp_path / "items.jsonl"
    memory = auditor.audit(labels, items=items, config=config)
    assert assert_same_rows(memory, audit_out_of_core(labels, items, config, SparkEngine(spark))) >= 50
    _pairwise(200).to_csv(tmp_path / "pairs.csv", index=False)
    pairwise = config.with_overrides(task="pairwise")
    duck = audit_out_of_core(tmp_path / "pairs.csv", None, pairwise, "duckdb")
    assert (
        assert_same_rows(duck, audit_out_of_core(tmp_path / "pairs.csv", None, pairwise, SparkEngine(spark)))
        >= 30
    )


@pytest.mark.parametrize("task", ["categorical", "binary"])
def test_spark_reads_boolean_labels_as_duckdb(spark, tmp_path: Path, task: str) -> None:
    """The boolean table of ``tests/auditor/core/test_boolean_labels.py`` (which checks DuckDB against every format)
    as CSV (pandas' ``True``), JSON Lines and Parquet: on Spark the categories ``false`` / ``true`` (categorical)
    or 0 / 1 (binary), and DuckDB's rows."""
    from auditor.config import AuditConfig
    from auditor.engine.spark import SparkEngine
    from tests.auditor.core.test_boolean_labels import _table

    table = _table()
    table.to_csv(tmp_path / "labels.csv", index=False)
    table.to_json(tmp_path / "labels.jsonl", orient="records", lines=True)
    table.to_parquet(tmp_path / "labels.parquet", index=False)
    config = AuditConfig().with_overrides(task=task, resamples=200)
    duck = audit_out_of_core(tmp_path / "labels.jsonl", None, config, "duckdb")
    assert duck.meta["categories"] == (["false", "true"] if task == "categorical" else ["0", "1"])
    for name in ("labels.csv", "labels.jsonl", "labels.parquet"):
        on_spark = audit_out_of_core(tmp_path / name, None, config, SparkEngine(spark))
        assert assert_same_rows(duck, on_spark) >= 7, name
