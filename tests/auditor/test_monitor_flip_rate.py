"""``auditor monitor --max-flip-rate R`` (``[monitor] max_flip_rate``): a judge whose anchor flip rate's
anytime-valid confidence sequence lies wholly above R fails the run (exit 1), as a gap that leaves the band does;
a stable judge passes; bad values exit 2 in one line; state files written before the option existed still load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from auditor.cli.root import main
from auditor.config import AuditConfig, MonitorConfig
from auditor.monitor import new_state, read_state, report, update
from auditor.stats.confseq import BatchSums, three_point_sequence
from tests.conftest import run_cli

#: A state file written by ``auditor monitor`` before ``--max-flip-rate`` existed (commit fd7db2a):
#: ``auditor monitor b1.jsonl b2.jsonl --task pairwise --band -0.5,0.5 --state old.json`` on
#: ``_anchor_batch(tmp, 1, 0)`` and ``_anchor_batch(tmp, 2, 10)``.
OLD_STATE = Path(__file__).with_name("monitor_state_before_max_flip_rate.json")


def _anchor_batch(path: Path, k: int, flipped: int, anchors: int = 20) -> Path:
    """Batch ``k``: judge ``gpt`` labels the anchor items ``anchor-0`` ... (``a`` on even, ``b`` on odd ones; the
    first ``flipped`` of them the other way round) and a human spot-checks ``anchor-0`` to ``anchor-3`` as ``a``;
    a later batch also judges one fresh item (a batch whose contents repeat an earlier one is skipped)."""
    rows = [] if k == 1 else [{"item_id": f"new-{k}", "judge": "gpt", "label": "a"}]
    for i in range(anchors):
        label = "ab"[(i + (i < flipped)) % 2]
        rows.append({"item_id": f"anchor-{i}", "judge": "gpt", "label": label})
    rows += [{"item_id": f"anchor-{i}", "judge": "human", "label": "a"} for i in range(4)]
    out = path / f"batch{k}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return out


def _stream(path: Path, flipped: int) -> list[str]:
    """Three batches: the anchors' first verdicts, then twice re-judged with ``flipped`` of the 20 flipped."""
    return [str(_anchor_batch(path, k, 0 if k == 1 else flipped)) for k in (1, 2, 3)]


def _gated(path: Path, flipped: int) -> list[str]:
    """``auditor monitor`` on :func:`_stream` with the maximum flip rate 5% and the state ``monitor.json``."""
    state = path / "monitor.json"
    return [
        "monitor",
        *_stream(path, flipped),
        "--task",
        "pairwise",
        "--max-flip-rate",
        "0.05",
        "--state",
        str(state),
    ]


def test_a_judge_whose_anchors_flip_often_fails_the_run_naming_the_judge_and_the_bound(tmp_path):
    """Half the 20 anchors flip in each of two re-judgments: 20 flips in 40 observations.  The 95% betting sequence
    after them is [25.1%, 74.9%] (the kernel, tested against confseq), wholly above 5%: exit 1."""
    out = run_cli(*_gated(tmp_path, 10))
    assert out.returncode == 1, out.stderr
    lo, hi = three_point_sequence(BatchSums.of([20, 20], [10.0, 10.0], [10.0, 10.0]), 0.05, 0, 1, "betting")
    assert (lo[-1], hi[-1]) == (pytest.approx(0.251), pytest.approx(0.749)) and lo[-1] > 0.05
    line = out.stdout.splitlines()[0]
    assert line.startswith("gpt: ")
    assert line.endswith(
        "flip rate 50.0% [25.1, 74.9] on 40 re-judged anchor items, wholly ABOVE the maximum 5.0%"
    )
    assert "decision: outside" in out.stdout
    doc = json.loads((tmp_path / "monitor.json").read_text(encoding="utf-8"))
    assert doc["decision"] == "outside" and doc["flip_alarms"] == ["gpt"] and doc["alarms"] == []
    assert doc["max_flip_rate"] == 0.05
    assert [r["flip_status"] for r in doc["sequence"]] == ["inside", "above", "above"]
    assert doc["judges"][0]["flip_rate_low"] == pytest.approx(0.251)


def test_a_stable_judge_passes_and_the_line_says_so(tmp_path, capsys):
    """No anchor flips: the sequence [0.0%, 16.2%] on 40 re-judgments reaches below 5%, exit 0 (a sequence of
    zero flips can never lie above any R >= 0)."""
    assert main(_gated(tmp_path, 0)) == 0
    out = capsys.readouterr().out
    assert (
        "gpt: " in out
        and "flip rate 0.0% [0.0, 16.2] on 40 re-judged anchor items, not wholly above the maximum 5.0%"
        in out
    )
    doc = json.loads((tmp_path / "monitor.json").read_text(encoding="utf-8"))
    assert doc["decision"] == "inside" and doc["flip_alarms"] == []
    assert (
        main(["monitor", *_stream(tmp_path, 10), "--task", "pairwise"]) == 0
    )  # no maximum: flips never fail
    out = capsys.readouterr().out
    assert "maximum" not in out and "decision" not in out


def test_the_maximum_from_audit_toml_and_the_option_overrides_it(tmp_path, capsys):
    """``max_flip_rate`` under ``[monitor]`` gates as the option does; the option, when given, wins (as ``band``)."""
    batches = _stream(tmp_path, 10)
    toml = tmp_path / "audit.toml"
    toml.write_text('task = "pairwise"\n[monitor]\nmax_flip_rate = 0.05\n', encoding="utf-8")
    assert main(["monitor", *batches, "--config", str(toml)]) == 1
    assert "wholly ABOVE the maximum 5.0%" in capsys.readouterr().out
    assert main(["monitor", *batches, "--config", str(toml), "--max-flip-rate", "0.3"]) == 0  # 0.3 > 25.1%
    assert "not wholly above the maximum 30.0%" in capsys.readouterr().out
    toml.write_text(
        'task = "pairwise"\n[monitor]\nmax_flip_rate = 0\n', encoding="utf-8"
    )  # an integer is a number
    assert main(["monitor", *batches, "--config", str(toml)]) == 1


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "column '--max-flip-rate': expected a number R with 0 <= R < 1, got 'abc'"),
        ("1", "column '--max-flip-rate': the maximum flip rate must be a number with 0 <= R < 1"),
        ("-0.01", "column '--max-flip-rate': the maximum flip rate must be a number with 0 <= R < 1"),
        (
            "nan",
            "column '--max-flip-rate': the maximum flip rate must be a number with 0 <= R < 1 (a flip rate lies in [0, 1]), got nan",
        ),
        (
            "inf",
            "column '--max-flip-rate': the maximum flip rate must be a number with 0 <= R < 1 (a flip rate lies in [0, 1]), got inf",
        ),
    ],
)
def test_a_bad_maximum_option_exits_2_in_one_line(tmp_path, capsys, value, message):
    state = tmp_path / "monitor.json"
    batch = str(_anchor_batch(tmp_path, 1, 0))
    assert (
        main(["monitor", batch, "--task", "pairwise", "--max-flip-rate", value, "--state", str(state)]) == 2
    )
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not state.exists()


@pytest.mark.parametrize(
    "value, message",
    [
        (
            "1.0",
            "column 'monitor.max_flip_rate': the maximum flip rate must be a number with 0 <= R < 1 (a flip rate lies in [0, 1]), got 1.0",
        ),
        ("-0.5", "column 'monitor.max_flip_rate': the maximum flip rate must be a number"),
        ('"often"', "column 'monitor.max_flip_rate': has 'often'; expected a number"),
        ("true", "column 'monitor.max_flip_rate': has True; expected a number"),
        ("[0.05]", "column 'monitor.max_flip_rate': has [0.05]; expected a number"),
        ("nan", "column 'monitor.max_flip_rate': has nan; expected a finite number"),
    ],
)
def test_a_bad_maximum_in_audit_toml_exits_2_naming_the_file_and_key(tmp_path, capsys, value, message):
    toml = tmp_path / "audit.toml"
    toml.write_text(f'task = "pairwise"\n[monitor]\nmax_flip_rate = {value}\n', encoding="utf-8")
    assert main(["monitor", str(_anchor_batch(tmp_path, 1, 0)), "--config", str(toml)]) == 2
    err = capsys.readouterr().err
    assert f"file {toml}, {message}" in err and len(err.strip().splitlines()) == 1


def test_a_state_file_written_before_the_option_still_loads(tmp_path):
    """The stored sums and anchors are what a run reads; the report fields are recomputed, so an older state
    gives the same sequence (plus each row's ``flip_status``) and can be gated on the flip rate at once."""
    old = json.loads(OLD_STATE.read_text(encoding="utf-8"))
    assert "max_flip_rate" not in old and "flip_status" not in old["sequence"][0]
    settings = MonitorConfig(band=(-0.5, 0.5), max_flip_rate=0.05)
    doc = report(read_state(OLD_STATE, settings), settings)
    assert [{k: v for k, v in r.items() if k != "flip_status"} for r in doc["sequence"]] == old["sequence"]
    assert doc["decision"] == "outside" and doc["flip_alarms"] == ["gpt"]
    state = tmp_path / "monitor.json"
    state.write_bytes(OLD_STATE.read_bytes())
    batch = str(_anchor_batch(tmp_path, 3, 10))  # the stream's third batch, added to the older state
    assert (
        main(["monitor", batch, "--task", "pairwise", "--state", str(state), "--max-flip-rate", "0.05"]) == 1
    )
    new = json.loads(state.read_text(encoding="utf-8"))
    assert len(new["batches"]) == 3 and new["judges"][0]["flip_rate_n"] == 40
    assert new["judges"][0]["flip_rate_low"] == pytest.approx(0.251)


def test_flips_that_stay_flipped_are_counted_again_in_every_batch():
    """The caveat, deterministic: a judge changed once for good on some of 40 anchors repeats the same flips in
    every later batch, and the sequence narrows as if each re-judgment were new evidence.  2 of 40 (5%) changed:
    after 60 batches still not wholly above R = 5%; 3 of 40 (7.5%): wholly above 5% from the 29th re-judgment
    batch, though 3 items of 40 say little about the judge's other items (exact binomial 95% interval for 3/40:
    1.6% to 20.4%).  The decision is about the anchors' re-judgments, not about all the judge's items."""
    for changed, first_alarm in ((2, None), (3, 28)):
        flips = BatchSums.of([40.0] * 60, [float(changed)] * 60, [float(changed)] * 60)
        lo, _ = three_point_sequence(flips, 0.05, 0, 1, "betting")
        above = np.flatnonzero(lo > 0.05)
        assert (int(above[0]) if above.size else None) == first_alarm


def test_a_stable_random_judge_at_the_maximum_seldom_fails():
    """A stable judge that samples afresh at every re-judgment: each of 30 anchors says ``b`` with its own
    probability (half of them 0 or 1, the rest uniform), its first verdict fixed in batch 1.  Given those, every
    later re-judgment flips with the anchor's own chance, so the batches' flip rate is one number ``r`` (the
    anchors' mean chance of differing from their first verdict), and with the maximum at ``r`` (the edge of
    "not above") the run may fail in at most 5% of streams.  Over 400 streams of 30 batches (r from 7% to 30%) it
    failed in none (the sequence missed r on either side in 0.5%); with the maximum 5 points below r, 86% failed."""
    rng = np.random.default_rng(7)
    streams, anchors, batches = 400, 30, 30
    p = np.where(
        rng.random((streams, anchors)) < 0.5,
        rng.integers(0, 2, (streams, anchors)),
        rng.random((streams, anchors)),
    )
    first = rng.random((streams, anchors)) < p
    chance = np.where(first, 1 - p, p)  # the chance that a later verdict differs from the first
    r = chance.mean(axis=1)
    flips = (rng.random((streams, batches, anchors)) < chance[:, None, :]).sum(-1).astype(float)
    lo, _ = three_point_sequence(
        BatchSums.of(np.full(flips.shape, float(anchors)), flips, flips), 0.05, 0, 1, "betting"
    )
    assert np.any(lo > r[:, None], axis=1).mean() <= 0.05
    assert np.any(lo > r[:, None] - 0.05, axis=1).mean() > 0.5


def test_settings_default_to_no_maximum_and_an_unflagged_run_is_unchanged(tmp_path):
    settings = MonitorConfig()
    assert settings.max_flip_rate is None
    state, _ = update(
        new_state(settings), [Path(b) for b in _stream(tmp_path, 10)], AuditConfig(task="pairwise"), settings
    )
    doc = report(state, settings)
    assert doc["decision"] == "no band" and doc["max_flip_rate"] is None
    assert {r["flip_status"] for r in doc["sequence"]} == {"no limit"}


@pytest.mark.parametrize(
    "method, delays", [("betting", (3, 99, None)), ("empirical-bernstein", (3, 16, 130))]
)
def test_a_change_after_a_stable_stretch_is_caught_late(method, delays):
    """README's second caveat, deterministic: 40 anchors, none flipping for 0, 10 or 40 batches, then 8 of them (20%)
    changed for good.  The sequence is of one rate over the whole stream, so the batches until it lies wholly above
    R = 5% grow with the stable stretch before the change (None: not within 200 batches after it)."""
    for stable, delay in zip((0, 10, 40), delays, strict=True):
        flips = np.array([0.0] * stable + [8.0] * 200)
        lo, _ = three_point_sequence(
            BatchSums.of(np.full(flips.size, 40.0), flips, flips), 0.05, 0, 1, method
        )
        above = np.flatnonzero(lo > 0.05)
        assert (int(above[0]) - stable + 1 if above.size else None) == delay
