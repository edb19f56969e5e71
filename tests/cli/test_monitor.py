"""``auditor monitor``: batches of judged items with human spot checks (or saved audits) in, anytime-valid
confidence sequences of the judge-human gap and the anchor flip rate out; incremental state; exit 0 inside the band,
1 outside, 2 on bad input (one line, nothing written)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from auditor.cli.root import main
from auditor.config import AuditConfig, MonitorConfig
from auditor.monitor import new_state, report, update
from auditor.stats.confseq import BatchSums, three_point_sequence
from tests.conftest import run_cli

PAIRWISE = AuditConfig(task="pairwise")


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _batch(
    path: Path, k: int, judge_labels: list[str], human_labels: list[str], anchors: dict[str, str]
) -> Path:
    """Batch ``k``: fresh items ``k-i`` judged ``judge_labels[i]``, the first ``len(human_labels)`` of them
    spot-checked by two humans agreeing on ``human_labels[i]``, and the anchor items re-judged as ``anchors``."""
    rows = [{"item_id": f"{k}-{i}", "judge": "gpt", "label": lab} for i, lab in enumerate(judge_labels)]
    for i, lab in enumerate(human_labels):
        rows += [{"item_id": f"{k}-{i}", "judge": "human", "rater": r, "label": lab} for r in ("ann", "bob")]
    rows += [{"item_id": item, "judge": "gpt", "label": lab} for item, lab in anchors.items()]
    return _write(path / f"batch{k}.jsonl", rows)


@pytest.fixture
def stream(tmp_path: Path) -> list[Path]:
    """Three batches.  Batch 1: 6 items, 4 spot-checked: judge b,b,a,tie vs humans a,b,b,tie -> no-better
    indicators judge 0,0,1,1 vs human 1,0,0,1: d = -1, 0, +1, 0.  Batch 2: 3 spot checks d = -1, -1, 0 and the
    anchors 1-4 (was b), 1-5 (was a) re-judged b, b: one flip.  Batch 3: no spot checks, anchors 1-4 -> a, 1-5 -> a:
    one flip."""
    b1 = _batch(tmp_path, 1, ["b", "b", "a", "tie", "b", "a"], ["a", "b", "b", "tie"], {})
    b2 = _batch(tmp_path, 2, ["b", "b", "a"], ["a", "tie", "a"], {"1-4": "b", "1-5": "b"})
    b3 = _batch(tmp_path, 3, ["a"], [], {"1-4": "a", "1-5": "a"})
    return [b1, b2, b3]


def test_sums_per_batch_are_counted_by_hand(stream):
    state, notes = update(new_state(MonitorConfig()), stream, PAIRWISE, MonitorConfig())
    assert notes == []
    judged = [b["judges"]["gpt"] for b in state["batches"]]
    assert judged[0] == {"gap": {"n": 4, "sum": 0.0, "squares": 2.0}}
    assert judged[1] == {
        "gap": {"n": 3, "sum": -2.0, "squares": 2.0},
        "flips": {"n": 2, "sum": 1.0, "squares": 1.0},
    }
    assert judged[2] == {"flips": {"n": 2, "sum": 1.0, "squares": 1.0}}
    assert state["anchors"]["gpt"] == {
        "1-0": "b",
        "1-1": "b",
        "1-2": "a",
        "1-3": "tie",
        "1-4": "b",
        "1-5": "a",
    }


def test_sequence_is_the_kernels_and_carries_over_batches_without_spot_checks(stream):
    settings = MonitorConfig(band=(-0.5, 0.5))
    doc = report(update(new_state(settings), stream, PAIRWISE, settings)[0], settings)
    lo, hi = three_point_sequence(BatchSums.of([4, 3], [0.0, -2.0], [2.0, 2.0]), 0.05, -1, 1, "betting")
    rows = doc["sequence"]
    assert [r["batch"] for r in rows] == [1, 2, 3]
    assert rows[1]["gap"] == pytest.approx(-2 / 7) and rows[1]["gap_n"] == 7
    assert (rows[1]["gap_low"], rows[1]["gap_high"]) == (pytest.approx(lo[1]), pytest.approx(hi[1]))
    assert rows[2]["gap_low"] == rows[1]["gap_low"]  # batch 3 has no spot checks: the gap's sequence stays
    assert rows[2]["flip_rate"] == 0.5 and rows[2]["flip_rate_n"] == 4
    assert doc["decision"] == "inside" and doc["alarms"] == []


def test_incremental_runs_equal_one_run_and_a_batch_is_counted_once(stream, tmp_path, capsys):
    """Also the flip detector: recomputed from the stored counts, its evidence is the same either way."""
    one, inc = tmp_path / "one.json", tmp_path / "inc.json"
    gate = ["--task", "pairwise", "--max-flip-rate", "0.3", "--state"]
    assert main(["monitor", *map(str, stream), *gate, str(one)]) == 0
    for batch in stream:
        assert main(["monitor", str(batch), *gate, str(inc)]) == 0
    assert main(["monitor", str(stream[1]), *gate, str(inc)]) == 0
    assert "already counted" in capsys.readouterr().out
    a, b = json.loads(one.read_text()), json.loads(inc.read_text())
    assert a["sequence"] == b["sequence"] and a["anchors"] == b["anchors"]
    assert [r["flip_evidence"] is None for r in b["sequence"]] == [True, False, False]


def test_a_batch_that_changes_while_it_is_read_is_refused_and_nothing_is_written(
    stream, tmp_path, capsys, monkeypatch
):
    """A logging pipeline still appending to the batch: the rows counted and the digest that marks the batch as
    counted would describe different contents (and the completed file would be counted again), so the run stops."""
    import auditor.monitor as monitor

    state = tmp_path / "state.json"
    assert main(["monitor", str(stream[0]), "--task", "pairwise", "--state", str(state)]) == 0
    before = state.read_bytes()
    read_batch = monitor.read_batch

    def read_then_append(path, *args):  # the writer appends a row right after the batch was parsed
        batch = read_batch(path, *args)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"item_id": "2-9", "judge": "gpt", "label": "a"}) + "\n")
        return batch

    monkeypatch.setattr(monitor, "read_batch", read_then_append)
    assert main(["monitor", str(stream[1]), "--task", "pairwise", "--state", str(state)]) == 2
    err = capsys.readouterr().err
    assert f"file {stream[1]}: changed while it was being read" in err and len(err.strip().splitlines()) == 1
    assert state.read_bytes() == before
    monkeypatch.setattr(monitor, "read_batch", read_batch)  # the completed file is counted, once
    assert main(["monitor", str(stream[1]), "--task", "pairwise", "--state", str(state)]) == 0
    assert len(json.loads(state.read_text())["batches"]) == 2


def _drifting(tmp_path: Path, batches: int) -> list[Path]:
    """The judge calls every spot-checked item better (b) where the humans call it a tie: gap -1 per item."""
    return [_batch(tmp_path, k, ["b"] * 12, ["tie"] * 12, {}) for k in range(1, batches + 1)]


def test_exit_1_when_the_gap_leaves_the_band_and_the_terminal_says_so(tmp_path):
    batches = _drifting(tmp_path, 3)
    out = run_cli("monitor", *map(str, batches), "--task", "pairwise", "--band", "-0.1,0.1")
    assert out.returncode == 1, out.stderr
    assert "wholly BELOW the band [-10.0, 10.0]" in out.stdout and "decision: outside" in out.stdout


def test_band_from_audit_toml_and_no_band_exits_0(tmp_path, capsys):
    batches = _drifting(tmp_path, 3)
    toml = tmp_path / "audit.toml"
    toml.write_text('task = "pairwise"\n[monitor]\nband = [-0.1, 0.1]\n', encoding="utf-8")
    assert main(["monitor", *map(str, batches), "--config", str(toml)]) == 1
    assert main(["monitor", *map(str, batches), "--task", "pairwise"]) == 0  # no band: no decision
    assert "decision" not in capsys.readouterr().out.splitlines()[-1]


def test_an_audit_json_batch_gives_the_audits_gap(stream, tmp_path):
    """A saved audit of batch 1 and 2 together: the monitor's gap from its confusion table is the audit's
    ``no_better_rate_gap`` row and the labels' own count."""
    import pandas as pd

    import auditor

    labels = pd.DataFrame([json.loads(line) for b in stream[:2] for line in b.read_text().splitlines()])
    result = auditor.audit(labels, task="pairwise", resamples=0)
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(result.to_dict()), encoding="utf-8")
    settings = MonitorConfig()
    state, _ = update(new_state(settings), [path], PAIRWISE, settings)
    gap = state["batches"][0]["judges"]["gpt"]["gap"]
    m = result.metrics
    row = m[
        (m["metric"] == "no_better_rate_gap")
        & (m["judge"] == "gpt")
        & (m["slice"].isna() | (m["slice"] == ""))
    ]
    assert gap["sum"] / gap["n"] == pytest.approx(float(row["value"].iloc[0]))
    assert gap == {"n": 7, "sum": -2.0, "squares": 4.0}
    assert list(state["batches"][0]["judges"]) == ["gpt"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--band", "0.2"], "column '--band': expected LOW,HIGH"),
        (["--band", "0.3,0.1"], "column '--band': band must be LOW,HIGH with -1 <= LOW < HIGH <= 1"),
        (["--level", "1.5"], "column '--level': level must lie between 0 and 1"),
        (["--rate", "agreement"], "unknown rate 'agreement'; expected one of no_better_rate, win_rate"),
        (["--method", "wald"], "unknown method 'wald'; expected one of betting, empirical-bernstein"),
    ],
)
def test_bad_settings_exit_2_in_one_line(stream, capsys, args, message):
    assert main(["monitor", str(stream[0]), "--task", "pairwise", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_state_keeps_its_level_and_bad_input_writes_nothing(stream, tmp_path, capsys):
    state = tmp_path / "state.json"
    assert main(["monitor", str(stream[0]), "--task", "pairwise", "--state", str(state)]) == 0
    before = state.read_bytes()
    assert (
        main(["monitor", str(stream[1]), "--task", "pairwise", "--state", str(state), "--level", "0.9"]) == 2
    )
    assert "was started with level 0.95, not 0.9" in capsys.readouterr().err
    missing = tmp_path / "nope.jsonl"
    assert main(["monitor", str(stream[1]), str(missing), "--task", "pairwise", "--state", str(state)]) == 2
    assert f"file {missing}: does not exist" in capsys.readouterr().err
    bad = _write(tmp_path / "bad.jsonl", [{"item_id": "x", "judge": "gpt", "label": "maybe"}])
    assert main(["monitor", str(bad), "--task", "pairwise", "--state", str(state)]) == 2
    assert "row 1, column 'label'" in capsys.readouterr().err
    assert state.read_bytes() == before  # nothing half written
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_monitor_settings_in_audit_toml_are_checked_as_the_files(stream, tmp_path, capsys):
    toml = tmp_path / "audit.toml"
    toml.write_text('task = "pairwise"\n[monitor]\nlevel = 2\n', encoding="utf-8")
    assert main(["monitor", str(stream[0]), "--config", str(toml)]) == 2
    assert f"file {toml}, column 'monitor.level': level must lie between 0 and 1" in capsys.readouterr().err
    toml.write_text('task = "pairwise"\n[monitor]\nband = [0.1]\n', encoding="utf-8")
    assert main(["monitor", str(stream[0]), "--config", str(toml)]) == 2
    assert "column 'monitor.band': has [0.1]; expected [LOW, HIGH]" in capsys.readouterr().err
    for text in ('"0.1,0.2"', '[0.1, "high"]'):
        toml.write_text(f'task = "pairwise"\n[monitor]\nband = {text}\n', encoding="utf-8")
        assert main(["monitor", str(stream[0]), "--config", str(toml)]) == 2
        assert "column 'monitor.band': has" in capsys.readouterr().err


def test_one_stream_monitors_one_task(stream, tmp_path, capsys):
    state = tmp_path / "state.json"
    assert main(["monitor", str(stream[0]), "--task", "pairwise", "--state", str(state)]) == 0
    likert = _write(
        tmp_path / "likert.jsonl", [{"item_id": "x", "judge": j, "label": 4} for j in ("gpt", "human")]
    )
    assert main(["monitor", str(likert), "--task", "likert", "--state", str(state)]) == 2
    assert "is a likert batch, but the stream's batches are pairwise" in capsys.readouterr().err


def test_score_task_without_neutral_point_is_bad_input(tmp_path, capsys):
    rows = [{"item_id": "i", "judge": j, "label": 0.5} for j in ("gpt", "human")]
    batch = _write(tmp_path / "s.jsonl", rows)
    assert main(["monitor", str(batch), "--task", "score"]) == 2
    assert "needs a neutral point" in capsys.readouterr().err


def test_false_alarm_rate_at_the_band_edge_is_at_most_alpha():
    """The decision under continuous monitoring, band [-0.1, 0.1] checked after every batch of 20 spot checks, 40
    batches.  At a true gap on the band's edge (P(d = +1) = 0.25, P(d = -1) = 0.15: gap 0.10) the betting sequence
    can only leave the band if its hedged capital at 0.10 reaches 1 / alpha: over 4,000 streams that happens in at
    most alpha = 0.05 of them (measured 1.6%; the empirical-Bernstein sequence alarms in 0.05%).  At a gap of 0.30
    (P(d = +1) = 0.45) every one of 200 streams alarms, the betting sequence after a median of 7 batches (the
    empirical-Bernstein one after 13); at 0.20, 76.5% and 52.5% of streams within the 40 batches."""
    from auditor.monitor import band_status
    from auditor.stats.confseq import THREE_POINTS, hedged_log_capital

    rng = np.random.default_rng(19)

    def streams(p_plus: float, size: int) -> BatchSums:
        counts = rng.multinomial(20, [p_plus, 0.85 - p_plus, 0.15], size=(size, 40)).astype(float)
        plus, minus = counts[..., 0], counts[..., 2]
        return BatchSums.of(np.full(plus.shape, 20.0), plus - minus, plus + minus)

    edge = streams(0.25, 4000)
    capital = np.stack(
        list(hedged_log_capital(THREE_POINTS, edge.three_point_counts(-1, 1), [0.55])), axis=-1
    )
    assert np.any(capital[..., 0, :] >= np.log(1 / 0.05), axis=-1).mean() <= 0.05
    lo, hi = three_point_sequence(edge, 0.05, -1, 1, "empirical-bernstein")
    assert np.any((lo > 0.1) | (hi < -0.1), axis=1).mean() <= 0.05
    far = streams(0.45, 200)
    lo, hi = three_point_sequence(far, 0.05, -1, 1, "betting")
    assert np.any(lo > 0.1, axis=1).mean() > 0.95
    assert band_status(0.11, 0.3, (-0.1, 0.1)) == "above" and band_status(-0.2, 0.1, (-0.1, 0.1)) == "inside"


@pytest.mark.parametrize(
    "state_text, message",
    [
        ("[1, 2]", "is not an auditor monitor state"),
        (
            '{"kind": "auditor-monitor", "version": 1, "level": 0.95, "rate": "no_better_rate", "method": "betting", '
            '"anchors": {}, "batches": [{"judges": {"gpt": {"gap": {"n": 3, "sum": 5, "squares": 1}}}}]}',
            "row 1, column 'batches.gap': judge 'gpt': expected n, sum, squares",
        ),
        (
            '{"kind": "auditor-monitor", "version": 1, "level": 0.95, "rate": "no_better_rate", "method": "betting", '
            '"anchors": {}, "batches": [{"judges": {"gpt": {"gap": {"n": "3", "sum": 1, "squares": 1}}}}]}',
            "expected n, sum, squares",
        ),
        ("{not json", "is not valid JSON"),
    ],
)
def test_a_broken_state_file_is_bad_input_and_left_alone(stream, tmp_path, capsys, state_text, message):
    state = tmp_path / "state.json"
    state.write_text(state_text, encoding="utf-8")
    assert main(["monitor", str(stream[0]), "--task", "pairwise", "--state", str(state)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert state.read_text(encoding="utf-8") == state_text


def test_a_fifo_as_batch_or_state_is_refused_without_opening_it(stream, tmp_path, capsys):
    """Opening a FIFO waits for a writer for ever: monitor refuses one at once, like every other reader."""
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    assert main(["monitor", str(fifo), "--task", "pairwise"]) == 2
    assert "is a FIFO (named pipe)" in capsys.readouterr().err
    assert main(["monitor", str(stream[0]), "--task", "pairwise", "--state", str(fifo)]) == 2
    assert "is a FIFO (named pipe)" in capsys.readouterr().err


def test_an_audit_json_with_a_broken_confusion_table_is_bad_input(tmp_path, capsys):
    doc = {
        "task": "pairwise",
        "metrics": [],
        "confusion": [{"judge": "gpt", "categories": ["a", "b"], "counts": [[1]]}],
    }
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["monitor", str(path)]) == 2
    assert "row 1, column 'confusion': is not a usable audit.json" in capsys.readouterr().err


def test_a_judge_name_cannot_drive_the_terminal(tmp_path, capsys):
    rows = [
        {"item_id": "i", "judge": "evil\x1b[2J", "label": "a"},
        {"item_id": "i", "judge": "human", "label": "b"},
    ]
    assert main(["monitor", str(_write(tmp_path / "b.jsonl", rows)), "--task", "pairwise"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and out.startswith("evil")


def test_a_gap_that_wanders_inside_the_band_seldom_alarms():
    """The theorem is for one gap; a gap that moves but stays inside the band (here it jumps between the band's
    edges, -0.1 and +0.1, from batch to batch; 300 streams of 40 batches of 20) alarmed in no stream with either
    sequence, as the capital betting on "above 0.1" still loses whenever every batch's gap is at most 0.1."""
    rng = np.random.default_rng(23)
    gap = np.where(np.arange(40) % 2 == 0, 0.1, -0.1)
    u = rng.random((300, 40, 20))
    d = np.where(u < 0.2 + gap[:, None], 1.0, np.where(u < 0.4 + gap[:, None], -1.0, 0.0))
    b = BatchSums.of(np.full((300, 40), 20.0), d.sum(-1), (d * d).sum(-1))
    for method in ("betting", "empirical-bernstein"):
        lo, hi = three_point_sequence(b, 0.05, -1, 1, method)
        assert np.any((lo > 0.1) | (hi < -0.1), axis=1).mean() <= 0.05
