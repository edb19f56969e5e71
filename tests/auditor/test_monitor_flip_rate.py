"""``auditor monitor --max-flip-rate R`` (``[monitor] max_flip_rate``): a judge whose anchors flip more often than
R since some batch fails the run (exit 1), as a gap that leaves the band does, decided by an e-detector (a mixture
over start batches of betting e-processes, :func:`auditor.stats.edetector.flip_log_evidence`) that catches a change after a
long stable stretch within a few batches, with P(ever a false alarm) <= 1 - level; a stable judge passes; bad
values exit 2 in one line; state files written before the option existed still load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from auditor.cli.root import main
from auditor.config import AuditConfig, MonitorConfig
from auditor.monitor import new_state, read_state, report, update
from auditor.stats.confseq import BatchSums, three_point_sequence
from auditor.stats.edetector import flip_log_evidence, flip_top_starts
from tests.conftest import run_cli

#: The bets of the detector as fractions of the largest, lambda = c / R, written out: 1/2, 1/4, ..., 1/1024.
FRACTIONS = [0.5**j for j in range(1, 11)]


def _evidence_by_hand(batches: list[list[int]], limit: float) -> list[float]:
    """``M_t`` after each batch, one observation (1: flipped, 0: kept) at a time: for each start ``s`` (1-based,
    among these batches) the mean over the bets of ``prod (1 + lambda (x - R))`` over the observations of batches
    ``s..t``, weighted ``1 / (s (s + 1))``, plus ``1 / (t + 1)`` for the starts still to come."""
    out = []
    for t in range(1, len(batches) + 1):
        total = 1 / (t + 1)
        for s in range(1, t + 1):
            capital = []
            for c in FRACTIONS:
                product = 1.0
                for batch in batches[s - 1 : t]:
                    for x in batch:
                        product *= 1 + c / limit * (x - limit)
                capital.append(product)
            total += sum(capital) / len(capital) / (s * (s + 1))
        out.append(total)
    return out


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


def test_a_judge_whose_anchors_flip_often_fails_the_run_naming_the_judge_the_batch_and_the_evidence(tmp_path):
    """Half the 20 anchors flip in each of two re-judgments.  The detector's evidence against "every re-judgment
    flips with chance <= 5%" is 9.09e+05 after the first (>= 1 / alpha = 20: the alarm, exit 1) and 1.29e+13 after
    the second, as counted one observation at a time; the confidence sequence [25.1%, 74.9%] is still shown."""
    out = run_cli(*_gated(tmp_path, 10))
    assert out.returncode == 1, out.stderr
    by_hand = _evidence_by_hand([[1] * 10 + [0] * 10] * 2, 0.05)
    assert by_hand == [pytest.approx(9.092e5, rel=1e-3), pytest.approx(1.290e13, rel=1e-3)]
    line = out.stdout.splitlines()[0]
    assert line.startswith("gpt: ")
    assert line.endswith(
        "flip rate 50.0% [25.1, 74.9] on 40 re-judged anchor items; flips ABOVE the maximum 5.0% since batch 2: "
        "evidence 1.29e+13 >= 20"
    )
    assert "confidence sequences and a flip-rate change detector per judge; decision: outside" in out.stdout
    doc = json.loads((tmp_path / "monitor.json").read_text(encoding="utf-8"))
    assert doc["decision"] == "outside" and doc["flip_alarms"] == ["gpt"] and doc["alarms"] == []
    assert doc["max_flip_rate"] == 0.05 and doc["flip_threshold"] == pytest.approx(20)
    assert [r["flip_status"] for r in doc["sequence"]] == ["inside", "above", "above"]
    assert [r["flip_evidence"] for r in doc["sequence"]] == [None, *map(pytest.approx, by_hand)]
    assert doc["judges"][0]["flip_alarm"] == {"batch": 2, "evidence": pytest.approx(by_hand[0]), "since": 2}
    assert doc["judges"][0]["flip_rate_low"] == pytest.approx(0.251)
    assert "e-detector" in doc["convention"]


def test_a_stable_judge_passes_and_the_line_says_so(tmp_path, capsys):
    """No anchor flips: every bet loses, the evidence after 40 kept re-judgments is 0.640 (by hand), below 20:
    exit 0."""
    assert main(_gated(tmp_path, 0)) == 0
    out = capsys.readouterr().out
    assert _evidence_by_hand([[0] * 20] * 2, 0.05)[-1] == pytest.approx(0.6405, abs=1e-4)
    assert (
        "gpt: " in out
        and "flip rate 0.0% [0.0, 16.2] on 40 re-judged anchor items; evidence of flips above the maximum 5.0%: "
        "0.64 < 20"
        in out
    )
    doc = json.loads((tmp_path / "monitor.json").read_text(encoding="utf-8"))
    assert doc["decision"] == "inside" and doc["flip_alarms"] == []
    assert (
        main(["monitor", *_stream(tmp_path, 10), "--task", "pairwise"]) == 0
    )  # no maximum: flips never fail
    out = capsys.readouterr().out
    assert "maximum" not in out and "decision" not in out


def test_the_evidence_is_the_mixture_counted_one_observation_at_a_time():
    """The detector from the batches' counts equals the mixture over start batches computed observation by
    observation, on a small stream of uneven batches (a change after three quiet ones), and its largest term is the
    start the report names."""
    batches = [[0] * 6, [0, 0, 1, 0, 0], [0] * 7, [1, 1, 0, 1], [1, 0, 1, 1, 0, 1], [0, 1, 1]]
    n = [len(b) for b in batches]
    flips = [sum(b) for b in batches]
    for limit in (0.1, 0.25):
        assert np.exp(flip_log_evidence(n, flips, limit)) == pytest.approx(
            _evidence_by_hand(batches, limit), rel=1e-10
        )
    assert flip_top_starts(n, flips, 0.1).tolist()[3:] == [3, 3, 3]  # the change's batch (0-based)
    streams = np.array([flips, flips[::-1]], float)  # leading axes are independent streams
    assert flip_log_evidence(np.array([n, n[::-1]]), streams, 0.1)[1] == pytest.approx(
        flip_log_evidence(n[::-1], flips[::-1], 0.1)
    )


def test_the_reported_start_is_the_batch_of_the_change_and_an_alarm_stays_raised(tmp_path, capsys):
    """Batch 1 sets the anchors, 2-4 keep them, 5 flips 8 of 20 (evidence 394), 6-7 keep them again (3.68, then
    1.13): the alarm names batch 5 and stays raised after the judge is back (the evidence falls, the decision does
    not: P(ever >= 20) is what the guarantee bounds)."""
    plan = {1: 0, 2: 0, 3: 0, 4: 0, 5: 8, 6: 0, 7: 0}
    batches = [str(_anchor_batch(tmp_path, k, f)) for k, f in plan.items()]
    state = tmp_path / "monitor.json"
    args = ["--task", "pairwise", "--max-flip-rate", "0.05", "--state", str(state)]
    assert main(["monitor", *batches[:5], *args]) == 1
    assert "flips ABOVE the maximum 5.0% since batch 5: evidence 394 >= 20" in capsys.readouterr().out
    assert main(["monitor", *batches[5:], *args]) == 1
    doc = json.loads(state.read_text(encoding="utf-8"))
    first = next(r for r in doc["sequence"] if r["flip_status"] == "above")
    assert first["batch"] == 5 and first["flip_since"] == 5
    last = doc["judges"][0]
    assert last["flip_alarm"]["batch"] == 5 and last["flip_status"] == "above"
    assert last["flip_evidence"] < 20 <= last["flip_alarm"]["evidence"]
    assert (
        capsys.readouterr()
        .out.splitlines()[-3]
        .endswith(
            f"since batch 5: evidence reached {last['flip_alarm']['evidence']:.3g} >= 20 at batch 5 "
            f"(now {last['flip_evidence']:.3g})"
        )
    )


def test_a_maximum_of_zero_fails_on_the_first_flip(tmp_path, capsys):
    """R = 0: a flip is impossible under "flips with chance <= 0", so one flip is infinite evidence (null in the
    JSON, which has no infinity) and the start named is the batch of that flip."""
    batches = [str(_anchor_batch(tmp_path, k, f)) for k, f in ((1, 0), (2, 0), (3, 1))]
    state = tmp_path / "monitor.json"
    args = ["--task", "pairwise", "--max-flip-rate", "0", "--state", str(state)]
    assert main(["monitor", *batches[:2], *args]) == 0
    assert main(["monitor", batches[2], *args]) == 1
    assert "flips ABOVE the maximum 0.0% since batch 3: evidence infinite >= 20" in capsys.readouterr().out
    last = json.loads(state.read_text(encoding="utf-8"))["judges"][0]
    assert last["flip_evidence"] is None and last["flip_since"] == 3 and last["flip_status"] == "above"


def test_the_maximum_from_audit_toml_and_the_option_overrides_it(tmp_path, capsys):
    """``max_flip_rate`` under ``[monitor]`` gates as the option does; the option, when given, wins (as ``band``)."""
    batches = _stream(tmp_path, 10)
    toml = tmp_path / "audit.toml"
    toml.write_text('task = "pairwise"\n[monitor]\nmax_flip_rate = 0.05\n', encoding="utf-8")
    assert main(["monitor", *batches, "--config", str(toml)]) == 1
    assert "flips ABOVE the maximum 5.0% since batch 2" in capsys.readouterr().out
    assert (
        main(["monitor", *batches, "--config", str(toml), "--max-flip-rate", "0.45"]) == 0
    )  # 20 of 40 vs 45%
    assert "evidence of flips above the maximum 45.0%: 0.953 < 20" in capsys.readouterr().out
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
    new_fields = ("flip_status", "flip_evidence", "flip_since", "flip_alarm")
    assert [{k: v for k, v in r.items() if k not in new_fields} for r in doc["sequence"]] == old["sequence"]
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
    assert new["judges"][0]["flip_evidence"] == pytest.approx(
        _evidence_by_hand([[1] * 10 + [0] * 10] * 2, 0.05)[1]
    )


def _alarms(n: np.ndarray, flips: np.ndarray, limit: object, level: float = 0.95) -> np.ndarray:
    """Per stream (rows): whether the detector's evidence ever reached ``1 / (1 - level)``; ``limit`` one per
    stream or one for all."""
    if np.ndim(limit) == 0:
        return np.any(flip_log_evidence(n, flips, float(limit)) >= -np.log(1 - level), axis=-1)
    limits = np.asarray(limit, float)
    return np.array(
        [np.any(flip_log_evidence(n[i], flips[i], r) >= -np.log(1 - level)) for i, r in enumerate(limits)]
    )


def _upper_95(alarms: np.ndarray) -> float:
    """The one-sided 95% Clopper-Pearson upper bound of the share of streams that alarmed."""
    from scipy.special import betaincinv  # scipy.stats.beta.ppf, without importing scipy.stats

    k, total = int(alarms.sum()), alarms.size
    return 1.0 if k == total else float(betaincinv(k + 1, total - k, 0.95))


def test_flips_that_stay_flipped_are_a_change_of_the_anchors():
    """A judge changed once for good on some of 40 anchors repeats the same flips in every later batch: given the
    past those anchors flip with chance 1, so with more than R of them changed the null is false and the alarm is
    right about the anchors' re-judgments, though a few items say little about the judge's other items (3 of 40:
    exact binomial 95% interval 1.6% to 20.4%).  3 of 40 (7.5%) against R = 5%: alarm at the 23rd re-judging batch
    (the confidence sequence: 29th); 4 of 40: the 7th; 2 of 40 (exactly R): never (each batch's factor is <= 1 for
    every bet: 2 log(1 + 0.95 lambda) + 38 log(1 - 0.05 lambda) <= 0, concave and 0 with slope 0 at lambda = 0)."""
    for changed, first_alarm in ((2, None), (3, 23), (4, 7)):
        log_evidence = flip_log_evidence([40.0] * 200, [float(changed)] * 200, 0.05)
        above = np.flatnonzero(log_evidence >= np.log(20))
        assert (int(above[0]) + 1 if above.size else None) == first_alarm


def test_flips_at_exactly_the_maximum_seldom_alarm_over_60_batches():
    """The guarantee, simulated: every re-judgment flips with chance exactly R, afresh (400 seeded streams of 60
    batches of 20, R = 5% and 20%): 2 and 3 of 400 streams ever alarmed (0.5%, 0.75%), and the share's 95% upper
    bound (Clopper-Pearson, not the point estimate: 1.6%, 1.9%) stays below alpha = 5%."""
    rng = np.random.default_rng(11)
    n = np.full((400, 60), 20.0)
    for limit, count in ((0.05, 2), (0.2, 3)):
        alarms = _alarms(n, rng.binomial(20, limit, n.shape).astype(float), limit)
        assert alarms.sum() == count and _upper_95(alarms) <= 0.05


def test_a_stable_random_judge_at_the_maximum_seldom_fails():
    """A stable judge that samples afresh at every re-judgment: each of 30 anchors says ``b`` with its own
    probability (half of them 0 or 1, the rest uniform), its first verdict fixed in batch 1.  Given those, a later
    re-judgment flips with the anchor's own chance; their mean ``r`` (7% to 30%) is the batch's expected flip
    rate, and with independent re-judgments whose chances average ``r <= R`` each batch's factor has expectation
    ``prod (1 + lambda (p_i - R)) <= 1`` (AM-GM), so the guarantee holds.  With the maximum at ``r`` (the edge of
    "not above") over 400 streams of 60 batches none failed (95% upper bound 0.75%); 5 points below ``r``, 99.75%
    failed."""
    rng = np.random.default_rng(7)
    streams, anchors, batches = 400, 30, 60
    p = np.where(
        rng.random((streams, anchors)) < 0.5,
        rng.integers(0, 2, (streams, anchors)),
        rng.random((streams, anchors)),
    )
    first = rng.random((streams, anchors)) < p
    chance = np.where(first, 1 - p, p)  # the chance that a later verdict differs from the first
    r = chance.mean(axis=1)
    flips = (rng.random((streams, batches, anchors)) < chance[:, None, :]).sum(-1).astype(float)
    n = np.full(flips.shape, float(anchors))
    at_r = _alarms(n, flips, r)
    assert at_r.sum() == 0 and _upper_95(at_r) <= 0.05
    assert _alarms(n, flips, np.maximum(r - 0.05, 0)).mean() > 0.95


def test_settings_default_to_no_maximum_and_an_unflagged_run_is_unchanged(tmp_path):
    settings = MonitorConfig()
    assert settings.max_flip_rate is None
    state, _ = update(
        new_state(settings), [Path(b) for b in _stream(tmp_path, 10)], AuditConfig(task="pairwise"), settings
    )
    doc = report(state, settings)
    assert doc["decision"] == "no band" and doc["max_flip_rate"] is None
    assert {r["flip_status"] for r in doc["sequence"]} == {"no limit"}


def test_a_change_after_a_stable_stretch_is_caught_within_a_few_batches():
    """The fix of the old caveat, deterministic: 40 anchors, none flipping for 0, 10 or 40 batches, then 8 of them
    (20%) changed for good.  The detector fails R = 5% at the 1st, 2nd and 3rd batch after the change (the start
    at the change carries weight 1 / (s (s + 1)), so the delay grows with log s); the confidence sequence of one
    rate over the whole stream took 3, 99 and more than 200 (betting) or 3, 16 and 130 (empirical-Bernstein)."""
    for stable, delay, betting, bernstein in ((0, 1, 3, 3), (10, 2, 99, 16), (40, 3, None, 130)):
        flips = np.array([0.0] * stable + [8.0] * 200)
        n = np.full(flips.size, 40.0)
        above = np.flatnonzero(flip_log_evidence(n, flips, 0.05) >= np.log(20))
        assert int(above[0]) - stable + 1 == delay
        assert flip_top_starts(n, flips, 0.05)[above[0]] == stable  # "since" the change's batch
        for method, late_by in (("betting", betting), ("empirical-bernstein", bernstein)):
            lo, _ = three_point_sequence(BatchSums.of(n, flips, flips), 0.05, 0, 1, method)
            late = np.flatnonzero(lo > 0.05)
            assert (int(late[0]) - stable + 1 if late.size else None) == late_by


def test_a_simulated_change_is_caught_within_a_few_batches():
    """As a stream: 300 seeded streams of 40 anchors re-judged afresh, no flips for 0, 10 or 40 batches, then each
    re-judgment flips with chance 20%; R = 5%.  Batches from the change to the alarm: median 1, 2, 3; 90th
    percentile 3, 4, 4; at most 4, 7, 8; no stream alarmed before the change."""
    rng = np.random.default_rng(3)
    for stable, median, p90, worst in ((0, 1, 3, 4), (10, 2, 4, 7), (40, 3, 4, 8)):
        chance = np.where(np.arange(stable + 30) < stable, 0.0, 0.2)
        flips = rng.binomial(40, chance, (300, chance.size)).astype(float)
        hit = flip_log_evidence(np.full(flips.shape, 40.0), flips, 0.05) >= np.log(20)
        assert not hit[:, :stable].any() and hit.any(axis=1).all()
        delay = hit.argmax(axis=1) - stable + 1
        assert (np.median(delay), np.percentile(delay, 90), delay.max()) == (median, p90, worst)


@pytest.mark.full
def test_the_guarantee_and_the_delay_over_long_streams():
    """``python -m pytest tests/auditor/test_monitor_flip_rate.py -m full``: 20,000 seeded streams of 400 batches of
    10 re-judgments flipping with chance exactly R (5% and 30%): 311 and 305 ever alarmed (1.56%, 1.53%; 95% upper
    bounds 1.71%, 1.68%, below alpha = 5%); 2,000 streams of 40 anchors flipping 2.5% of the time for 1,000
    batches, then 20%, against R = 5%: none alarmed before the change, every one after it, within median 4, 90th
    percentile 6, at most 9 batches (measured 2026-12-06; under a minute on 2 cores)."""
    rng = np.random.default_rng(2026)
    for limit, count in ((0.05, 311), (0.3, 305)):
        alarms = np.concatenate(
            [
                _alarms(np.full((2000, 400), 10.0), rng.binomial(10, limit, (2000, 400)).astype(float), limit)
                for _ in range(10)
            ]
        )
        assert alarms.sum() == count and _upper_95(alarms) <= 0.05
    chance = np.where(np.arange(1030) < 1000, 0.025, 0.2)
    delays = []
    for _ in range(4):
        flips = rng.binomial(40, chance, (500, chance.size)).astype(float)
        hit = flip_log_evidence(np.full(flips.shape, 40.0), flips, 0.05) >= np.log(20)
        assert not hit[:, :1000].any() and hit.any(axis=1).all()
        delays.append(hit.argmax(axis=1) - 1000 + 1)
    delay = np.concatenate(delays)
    assert (np.median(delay), np.percentile(delay, 90), delay.max()) == (4, 6, 9)
