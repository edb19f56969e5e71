"""The out-of-core engine (DuckDB) against the in-memory engine: every row it computes equal to 1e-12 on the
public datasets and the simulated study, the same exclusions, the same PPI section, the same error messages."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import auditor
from auditor.config import AuditConfig, load_config
from auditor.engine.outofcore import WARNINGS, audit_out_of_core, choose_engine
from auditor.errors import InputError
from tests.conftest import run_cli, shared_dataset

pytest.importorskip("duckdb")

KEY = ["metric", "judge", "reference", "slice"]
#: The warnings that count metric rows: each engine counts its own (the out-of-core engine computes fewer rows)
ROW_COUNTED = ("single_cluster", "few_clusters")
NUMBERS = [
    "value",
    "ci_low",
    "ci_high",
    "n",
    "p_value",
    "n_clusters",
    "se_analytic",
    "ci_low_analytic",
    "ci_high_analytic",
    "p_analytic",
]


def assert_same_rows(memory: auditor.AuditResult, outofcore: auditor.AuditResult) -> int:
    """Every row of the out-of-core result is a row of the in-memory one, equal to 1e-12 (NaN where NaN)."""
    ooc = outofcore.metrics
    both = memory.metrics.merge(ooc, on=KEY, how="right", suffixes=("_memory", "_ooc"), indicator=True)
    missing = both[both["_merge"] != "both"]
    assert missing.empty, f"rows the in-memory engine does not have: {missing[KEY].to_dict('records')}"
    for column in NUMBERS:
        a = both[f"{column}_memory"].astype(float).to_numpy()
        b = both[f"{column}_ooc"].astype(float).to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), column
        np.testing.assert_allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=1e-12, err_msg=column)
    (warning,) = [w for w in outofcore.warnings if w["code"] == "out_of_core_engine"]  # every report says so
    assert "human ceiling" in warning["message"] and "--engine memory" in warning["message"]
    # the warnings it gives are the in-memory engine's, word for word and count for count; those that count metric
    # rows (each engine its own) are given where the in-memory engine gives them
    computed = [w for w in outofcore.warnings if w["code"] != "out_of_core_engine"]
    assert {w["code"] for w in computed} <= set(WARNINGS)
    same = [w for w in computed if w["code"] not in ROW_COUNTED]
    assert sorted(same, key=str) == sorted(
        [w for w in memory.warnings if w["code"] in WARNINGS and w["code"] not in ROW_COUNTED], key=str
    )
    assert {w["code"] for w in computed} - {w["code"] for w in memory.warnings} == set()
    exclusions = [memory.exclusions, outofcore.exclusions]
    shown = [e.sort_values(["judge", "reason"]).reset_index(drop=True) for e in exclusions]
    pd.testing.assert_frame_equal(shown[0], shown[1], check_dtype=False)
    for key in ("n_items", "n_items_with_reference", "n_clusters", "judges", "categories", "cluster"):
        assert memory.meta[key] == outofcore.meta[key], key
    if (
        "ppi" in memory.meta
    ):  # what the out-of-core section holds (not the stratified / Rogan-Gladen variants)
        judges = zip(memory.meta["ppi"]["judges"], outofcore.meta["ppi"]["judges"], strict=True)
        for in_memory, out_of_core in judges:
            assert {k: in_memory[k] for k in out_of_core if k != "metrics"} == {
                k: v for k, v in out_of_core.items() if k != "metrics"
            }
            metrics = zip(in_memory.get("metrics", []), out_of_core.get("metrics", []), strict=True)
            for a, b in metrics:
                assert json.dumps({k: a[k] for k in b}, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert memory.confusion == outofcore.confusion
    return len(ooc)


def both_engines(labels, items, config) -> tuple[auditor.AuditResult, auditor.AuditResult]:
    return (
        auditor.audit(labels, items=items, config=config),
        auditor.audit(labels, items=items, config=config, engine="duckdb"),
    )


def _ppi_design(labels: pd.DataFrame, keep_every: int) -> pd.DataFrame:
    """Human labels on every ``keep_every``-th item only: the judges label every item (the PPI design)."""
    items = pd.unique(labels["item_id"])
    kept = set(items[::keep_every])
    return labels[(labels["judge"] != "human") | labels["item_id"].isin(kept)]


@pytest.fixture(scope="module")
def pandalm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from auditor.datasets import pandalm

    study = pandalm.load(shared_dataset("pandalm_testset").parent)
    out = tmp_path_factory.mktemp("pandalm")
    study.write(out)
    study.labels.to_parquet(out / "labels.parquet", index=False)
    _ppi_design(study.labels, 3).to_csv(out / "ppi.csv", index=False)
    study.items[["item_id", "model_a", "model_b"]].to_parquet(out / "items.parquet", index=False)
    return out


def test_pandalm_rows_equal_in_memory(pandalm: Path) -> None:
    config = load_config(pandalm / "audit.toml").with_overrides(resamples=100)
    for labels in ("labels.parquet", "ppi.csv"):
        memory, outofcore = both_engines(pandalm / labels, pandalm / "items.parquet", config)
        assert assert_same_rows(memory, outofcore) >= 30
        assert outofcore.meta["engine"]["name"] == "duckdb"
    assert any("metrics" in j for j in outofcore.meta["ppi"]["judges"])  # the PPI design ran PPI


def test_hanna_score_rows_equal_in_memory(tmp_path: Path) -> None:
    from auditor.datasets import hanna

    study = hanna.load(shared_dataset("hanna").parent, llm="ChatGPT", prompt=(1, 2))
    study.write(tmp_path)
    _ppi_design(study.labels, 4).to_parquet(tmp_path / "ppi.parquet", index=False)
    config = load_config(tmp_path / "audit.toml").with_overrides(resamples=100)
    memory, outofcore = both_engines(tmp_path / "ppi.parquet", tmp_path / "items.jsonl", config)
    # the reference's mean score; per judge its mean score, the gap and the PPI mean score
    assert assert_same_rows(memory, outofcore) == 1 + 2 * 3


def test_simulated_study_with_unlabelled_users_equal_in_memory(tmp_path: Path) -> None:
    """The demo's design: likert ratings, users as clusters, judges on items no human rated (PPI), from JSONL."""
    from auditor.simulate import simulate_study

    study = simulate_study(seed=3, n_users=20, n_items=120, with_truth=False, n_unlabelled=150)
    study.write(tmp_path)
    config = load_config(tmp_path / "audit.toml").with_overrides(resamples=100)
    memory, outofcore = both_engines(tmp_path / "labels.jsonl", tmp_path / "items.jsonl", config)
    assert outofcore.meta["n_clusters"] > 20
    assert assert_same_rows(memory, outofcore) >= 50
    (missing,) = [
        w for w in outofcore.warnings if w["code"] == "items_without_reference"
    ]  # the judges' items
    assert missing["count"] == outofcore.meta["n_items"] - outofcore.meta["n_items_with_reference"] > 0


def test_categorical_ppi_design_has_the_in_memory_ppi_section(tmp_path: Path) -> None:
    """A categorical task has no PPI targets: the section still counts the judged and labelled items as the in-memory
    engine does (it said "fewer than 2 labelled items" with 0 and 0)."""
    _ppi_design(_pairwise(n_items=120, users=12), 3).to_csv(tmp_path / "labels.csv", index=False)
    memory, outofcore = both_engines(tmp_path / "labels.csv", None, AuditConfig(task="categorical"))
    assert_same_rows(memory, outofcore)
    for entry in outofcore.meta["ppi"]["judges"]:
        assert 2 <= entry["n_labelled"] < entry["n_unlabelled"] <= 120 and "note" not in entry, entry


# -- inputs: globs, hive-partitioned folders, the engine choice ---------------------------------------------------
def _pairwise(n_items: int = 400, users: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    user = rng.integers(0, users, n_items)
    rows = []
    for judge, raters in (("human", 3), ("judge_a", 1), ("judge_b", 2)):
        for r in range(raters):
            labels = rng.choice(["a", "b", "tie"], n_items, p=[0.4, 0.4, 0.2])
            rows.append(
                pd.DataFrame(
                    {
                        "item_id": np.arange(n_items),
                        "user_id": [f"u{u}" for u in user],
                        "judge": judge,
                        "rater": str(r),
                        "label": labels,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def test_hive_folder_and_glob_equal_one_file(tmp_path: Path) -> None:
    labels = _pairwise()
    labels.to_parquet(tmp_path / "all.parquet", index=False)
    for part, chunk in labels.groupby(labels["item_id"] % 4):
        (tmp_path / "hive" / f"part={part}").mkdir(parents=True)
        chunk.to_parquet(tmp_path / "hive" / f"part={part}" / "data.parquet", index=False)
    config = AuditConfig().with_overrides(task="pairwise", resamples=100)
    memory = auditor.audit(tmp_path / "all.parquet", config=config)
    for source in (tmp_path / "hive", str(tmp_path / "hive" / "*" / "*.parquet")):
        assert choose_engine("auto", [source]) == "duckdb"
        assert assert_same_rows(memory, auditor.audit(source, config=config, engine="auto")) >= 30
    # the in-memory engine reads neither: one line naming the source and the engine that does
    for source, kind in (
        (tmp_path / "hive", "a partitioned folder"),
        (str(tmp_path / "*.parquet"), "a glob"),
    ):
        with pytest.raises(InputError) as caught:
            auditor.audit(source, config=config, engine="memory")
        assert str(caught.value) == (
            f"file {source}: is {kind}, which only the out-of-core engines read: --engine duckdb (or auto, the "
            "default); --engine memory reads table files and study folders"
        )


def test_auto_engine_keeps_small_files_in_memory(tmp_path: Path) -> None:
    _pairwise(50).to_csv(tmp_path / "labels.csv", index=False)
    assert choose_engine("auto", [tmp_path / "labels.csv"]) == "memory"
    assert choose_engine("auto", [pd.DataFrame()]) == "memory"
    with pytest.raises(InputError, match="unknown engine 'gpu'"):
        choose_engine("gpu", [])


# -- the warnings both engines give -------------------------------------------------------------------------------
@pytest.mark.parametrize("design", ["combined", "items_file", "labels_only", "one_cluster", "five_clusters"])
def test_the_out_of_core_warnings_equal_the_in_memory_ones_word_for_word(tmp_path: Path, design: str) -> None:
    """Each warning the out-of-core engine gives (:data:`WARNINGS`), on an input that raises it, is the in-memory
    engine's, word for word and count for count (:func:`assert_same_rows` compares them): items without a human
    label, a table with no judge, no ``user_id`` column (with a close match among the items' columns, or none).
    On one cluster (or five), its rows lose their interval and p-value (or are flagged) as the in-memory rows do,
    and the warning counts its own rows."""
    users = {"one_cluster": 1, "five_clusters": 5}.get(design)
    labels = _pairwise(60, users=users or 6)
    if users is None:
        labels = labels.drop(columns="user_id")
    items = None
    if users:
        expected = {"single_cluster" if users == 1 else "few_clusters"}
    elif design == "combined":  # item columns in the label rows; judges on 10 items no human labelled
        labels["prompt"] = "Explain item " + labels["item_id"].astype(str)
        labels = labels[(labels["judge"] != "human") | (labels["item_id"] >= 10)]
        expected = {"items_without_reference", "unclustered"}
    elif design == "items_file":  # the human labels only, the users under another name
        items = tmp_path / "items.csv"
        pd.DataFrame({"item_id": range(60), "userid": [f"u{i % 6}" for i in range(60)]}).to_csv(
            items, index=False
        )
        labels = labels[labels["judge"] == "human"]
        expected = {"no_judges", "unclustered"}
    else:
        expected = {"unclustered"}
    labels.to_parquet(tmp_path / "labels.parquet", index=False)
    config = AuditConfig().with_overrides(task="pairwise", resamples=100)
    memory, outofcore = both_engines(tmp_path / "labels.parquet", items, config)
    assert_same_rows(memory, outofcore)
    assert {w["code"] for w in outofcore.warnings} == expected | {"out_of_core_engine"}
    if design == "items_file":
        (warning,) = [w for w in outofcore.warnings if w["code"] == "unclustered"]
        assert warning["count"] == 60 and "userid" in warning["message"]
    if users:
        (warning,) = [w for w in outofcore.warnings if w["code"] in ROW_COUNTED]
        rows = outofcore.metrics
        assert (
            warning["count"] == len(rows) == rows["value"].notna().sum() > 30
        )  # every row: one cluster or five
        assert rows["ci_low"].isna().all() if users == 1 else rows["ci_low"].notna().all()
        (in_memory,) = [w for w in memory.warnings if w["code"] == warning["code"]]
        if users == 1:  # the in-memory message but the count
            assert warning["message"].split(" ", 1)[1] == in_memory["message"].split(" ", 1)[1]
        else:  # (the in-memory rows hold slices on fewer clusters)
            assert "(user_id; as few as 5)" in warning["message"] and "as few as 4" in in_memory["message"]


# -- the in-memory wording of errors ------------------------------------------------------------------------------
def _both_errors(path: Path, config: AuditConfig, items: Path | None = None) -> tuple[str, str]:
    messages = []
    for run in (
        lambda: auditor.audit(path, items=items, config=config),
        lambda: audit_out_of_core(path, items, config),
    ):
        with pytest.raises(InputError) as caught:
            run()
        messages.append(str(caught.value))
    return messages[0], messages[1]


def test_a_declared_cluster_column_the_items_lack_is_the_in_memory_error(tmp_path: Path) -> None:
    """``[bootstrap] cluster = "team"`` with no team column: bad input in both engines, the same line, whether the
    items come from an items file, a combined table or the labels alone (the out-of-core engine used one cluster per
    item, narrower intervals than the declared design); a combined table that has it clusters by it without the
    ``unclustered`` warning."""
    config = replace(AuditConfig().with_overrides(task="pairwise", resamples=100), cluster="team")
    labels = _pairwise(60, users=6)
    labels.drop(columns="user_id").to_csv(tmp_path / "labels.csv", index=False)
    labels[["item_id", "user_id"]].drop_duplicates().to_csv(tmp_path / "items.csv", index=False)
    labels.to_csv(tmp_path / "combined.csv", index=False)
    for path, items in (("labels.csv", "items.csv"), ("combined.csv", None), ("labels.csv", None)):
        memory, outofcore = _both_errors(tmp_path / path, config, None if items is None else tmp_path / items)
        assert memory == outofcore and "no cluster column 'team'" in memory, (path, memory, outofcore)
    labels.assign(team=labels["user_id"].str[-1].astype(int) % 3).to_csv(tmp_path / "teams.csv", index=False)
    memory, outofcore = both_engines(tmp_path / "teams.csv", None, config)
    assert_same_rows(memory, outofcore)
    assert outofcore.meta["n_clusters"] == 3 and "unclustered" not in {w["code"] for w in outofcore.warnings}


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_errors_keep_the_in_memory_wording(tmp_path: Path, suffix: str) -> None:
    config = AuditConfig().with_overrides(task="pairwise", resamples=0)
    labels = _pairwise(30)

    def write(frame: pd.DataFrame, name: str) -> Path:
        path = tmp_path / f"{name}{suffix}"
        if suffix == ".csv":
            frame.to_csv(path, index=False)
        elif suffix == ".parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_json(path, orient="records", lines=True)
        return path

    cases = {}
    off = labels.copy()
    off.loc[[17, 40], "label"] = "maybe"
    cases["unknown label"] = off
    empty = labels.copy()
    empty["judge"] = empty["judge"].astype(object)
    empty.loc[23, "judge"] = None
    cases["empty judge"] = empty
    cases["missing column"] = labels.drop(columns=["judge"])
    cases["bad order"] = labels.assign(order=["ab", "ba"] * (len(labels) // 2)).astype({"order": object})
    cases["bad order"].loc[31, "order"] = "ba "  # trimmed: fine
    cases["bad order"].loc[33, "order"] = "a-b"
    cases["no reference"] = labels[labels["judge"] != "human"]
    for name, frame in cases.items():
        memory, outofcore = _both_errors(write(frame, name.replace(" ", "_")), config)
        assert memory == outofcore, name
    assert "row 18, column 'label'" in _both_errors(tmp_path / f"unknown_label{suffix}", config)[1]
    assert "'maybe' (2 rows)" in _both_errors(tmp_path / f"unknown_label{suffix}", config)[1]
    assert "row 34, column 'order': has 'a-b'" in _both_errors(tmp_path / f"bad_order{suffix}", config)[1]


def test_unknown_and_empty_items_keep_the_in_memory_wording(tmp_path: Path) -> None:
    config = AuditConfig().with_overrides(task="pairwise", resamples=0)
    labels = _pairwise(30)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    pd.DataFrame({"item_id": range(25)}).to_csv(tmp_path / "items.csv", index=False)
    memory, outofcore = _both_errors(tmp_path / "labels.csv", config, tmp_path / "items.csv")
    assert memory == outofcore and "names item '25'" in memory
    empty = labels.astype({"item_id": object})
    empty.loc[7, "item_id"] = None
    empty.to_csv(tmp_path / "empty.csv", index=False)
    memory, outofcore = _both_errors(tmp_path / "empty.csv", config)
    assert memory == outofcore and "row 8, column 'item_id'" in memory


def test_cli_engine_duckdb_writes_audit_json(tmp_path: Path) -> None:
    labels = _pairwise()
    for part, chunk in labels.groupby(labels["item_id"] % 2):
        (tmp_path / "logs" / f"day={part}").mkdir(parents=True)
        chunk.to_parquet(tmp_path / "logs" / f"day={part}" / "part.parquet", index=False)
    done = run_cli(
        "audit",
        str(tmp_path / "logs"),
        "--task",
        "pairwise",
        "--engine",
        "duckdb",
        "--bootstrap",
        "100",
        "--format",
        "json",
        "-q",
        "--out",
        str(tmp_path / "out"),
    )
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert document["engine"]["name"] == "duckdb" and document["n_items"] == 400
    assert {m["metric"] for m in document["metrics"]} >= {"cohen_kappa", "win_rate_gap"}


def test_item_buckets_give_the_same_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Large inputs are aggregated in several passes over buckets of items: the same sums as one pass."""
    from auditor.engine import outofcore

    labels = _pairwise(300)
    labels.loc[5, "label"] = None  # an excluded row, counted once whatever the pass
    labels.to_parquet(tmp_path / "labels.parquet", index=False)
    config = AuditConfig().with_overrides(task="pairwise", resamples=100)
    memory = auditor.audit(tmp_path / "labels.parquet", config=config)
    monkeypatch.setattr(outofcore, "ROWS_PER_PASS", 400)
    assert outofcore.DuckDBEngine().buckets(len(labels)) == 5
    assert assert_same_rows(memory, audit_out_of_core(tmp_path / "labels.parquet", None, config)) >= 30
