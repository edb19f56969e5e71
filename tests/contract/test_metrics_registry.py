"""The metrics registry (auditor.metrics) is the one list of metric names: every row the audit writes is in it,
and its entries are consistent with how they are computed and shown."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import auditor
from auditor import metrics
from auditor.contract import METRIC_COLUMNS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_dir(demo_json: Path) -> Path:
    return demo_json


def _documents(root: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(root.rglob("audit.json"))]


def test_every_metric_the_demo_writes_is_registered(demo_dir: Path) -> None:
    documents = _documents(demo_dir)
    assert len(documents) == 4  # the main study, extraction, relevance, probes
    written = {row["metric"] for doc in documents for row in doc["metrics"]}
    assert written, "the demo wrote no metric rows"
    assert written - set(metrics.METRICS) == set()
    for doc in documents:
        assert all(list(row) == METRIC_COLUMNS for row in doc["metrics"])


def test_prediction_powered_rows_are_registered(demo_dir: Path) -> None:
    """Judge everything, label a few: the corrected estimates appear and are in the registry."""
    study = demo_dir / "study"
    labels = pd.read_json(study / "labels.jsonl", lines=True, dtype=False)
    human_items = sorted(labels.loc[labels["judge"] == "human", "item_id"].unique())
    keep = set(human_items[: len(human_items) // 3])
    labels = labels[(labels["judge"] != "human") | labels["item_id"].isin(keep)]
    result = auditor.audit(labels, study / "items.jsonl", config=study / "audit.toml", resamples=100)
    written = set(result.metrics["metric"])
    ppi = {name for name in written if name.startswith("ppi_")}
    assert ppi == {f"ppi_{name}" for name in metrics.PPI_RATES}
    assert written - set(metrics.METRICS) == set()


def test_proportions_are_rates_and_units_follow_kind() -> None:
    for metric in metrics.METRICS.values():
        assert metric.family in metrics.FAMILIES
        if metric.proportion:
            assert metric.kind == "rate", metric.name
        if metric.unit == "points":
            assert metric.kind == "gap", metric.name
        assert metric.label and metric.meaning, metric.name
    assert metrics.GAP_METRICS == tuple(f"{m}_gap" for m in metrics.OUTCOME_RATES)
    assert set(metrics.GAP_METRICS) <= set(metrics.names("gap"))


def test_lookup_and_labels() -> None:
    assert metrics.lookup("cohen_kappa").label == "Cohen's κ"
    assert metrics.label("cohen_kappa", ascii_only=True) == "Cohen's kappa"
    assert metrics.label("made_up_metric") == "made up metric"
    assert metrics.lookup("made_up_metric") is None
    with pytest.raises(ValueError, match="unknown family"):
        metrics.names("no_such_family")


def test_readme_metric_table_lists_every_registry_metric() -> None:
    """README's metric table (section "The metrics") has a row for every registered metric, by name or by a
    ``*`` pattern (``*_gap``), each with its formula, its missing-data convention column and its reference."""
    import fnmatch
    import re

    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## The metrics", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    cells = [[cell.strip() for cell in line.strip()[1:-1].split("|")] for line in rows]
    assert all(len(row) == 4 for row in cells), [row[0] for row in cells if len(row) != 4]
    listed = [name for row in cells for name in re.findall(r"`([a-z0-9_*]+)`", row[0])]
    missing = [m for m in metrics.METRICS if not any(fnmatch.fnmatchcase(m, pattern) for pattern in listed)]
    assert missing == []
