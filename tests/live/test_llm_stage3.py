"""Stage 3 end to end through the local SmolLM2 server, as a user runs it: ``auditor convert recentering-stage3``,
then ``auditor probe`` judges generic-vs-personalized pairs with two profile views (the full profile and no profile)
and another user's profile, each in both orders, audits them without human ratings and writes the HTML report with
its case browser.  SmolLM2-135M is a weak judge: these tests prove the wiring and the honesty of the result, not
wisdom.

Each pair costs 3 variants (full@start, none@start, persona=swapped; persona=removed is the none view, answered
from the cache) x 2 orders = 6 one-token log-probability requests with a compact template (the item's prompt and
each response cut to 150 characters, the profile being the attributes the personalized response was generated
from), about 240-340 prompt tokens each, about 1.1 s per request on 2 cores.  The default run judges a fixed
sample of ``SAMPLE`` pairs spread over the file (``AUDITOR_STAGE3_SAMPLE=N`` changes its size), 72 requests by default;
the same tests on all 308 pairs (1,848 requests, about 33 minutes) carry the ``full`` marker and run with
``python -m pytest -m full``.  ``AUDITOR_STAGE3_OUT=DIR`` keeps each run's files (labels, audit.json, report.html,
the command's timing) in ``DIR/pairs-N``.

The audit combines the two orders by balanced position calibration (``auditor probe``'s default ``mean_score``:
the mean of the verdict probabilities' expected scores), because SmolLM2 prefers the response shown first so often
that a vote over the orders would make nearly every verdict a tie.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditor.personalization import audit_stage

pytestmark = pytest.mark.llm

PAIRS = 308
#: The default run's fixed sample of pairs, spread over the file; all PAIRS run under the ``full`` marker.
SAMPLE = int(os.environ.get("AUDITOR_STAGE3_SAMPLE") or 12)
JUDGE = "smollm2"
VARIANTS = (
    f"{JUDGE}|profile_view=full@start",
    f"{JUDGE}|profile_view=none@start",
    f"{JUDGE}|persona=removed",
    f"{JUDGE}|persona=swapped",
)
COMPACT_TEMPLATE = r"""
name = "compact-stage3"
version = "1"
task = "pairwise"
verdicts = { A = "a", B = "b", tie = "tie" }
system = "Judge which answer is better for this user."
user = "Q: {{ item.prompt[:150] }}\n{{ response_a }}\n{{ response_b }}"
[answer]
logprobs = "Better answer (A, B or tie):"
json = "Reply with JSON."
text = "End with Verdict: A, B or tie."
"""


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(min(SAMPLE, PAIRS), id="sample"),
        pytest.param(PAIRS, id="all-308", marks=pytest.mark.full),
    ],
)
def run(request, data_root, llama_server, tmp_path_factory):
    """The whole user path, once per size: ``auditor convert``, then ``auditor probe`` on ``request.param``
    pairs (a fixed sample spread over the file, or all of them)."""
    from servers.llama_server import LLAMA_KEY

    from tests.conftest import LLAMA_KEY_ENV, run_cli

    sample = request.param
    keep = os.environ.get("AUDITOR_STAGE3_OUT")
    out = Path(keep) / f"pairs-{sample}" if keep else tmp_path_factory.mktemp(f"stage3-{sample}")
    out.mkdir(parents=True, exist_ok=True)
    converted = run_cli(
        "convert", "recentering-stage3", str(data_root / "recentering"), "--out", str(out / "data")
    )
    assert converted.returncode == 0, converted.stderr
    items = pd.read_json(out / "data" / "items.jsonl", lines=True, dtype={"item_id": str})
    assert len(items) == PAIRS
    if sample < len(items):  # a fixed sample spread over the file
        items = items.iloc[:: max(1, len(items) // sample)].head(sample)
    assert len(items) == sample
    items.to_json(out / "items.jsonl", orient="records", lines=True, force_ascii=False)
    (out / "compact.toml").write_text(COMPACT_TEMPLATE, encoding="utf-8")
    command = [
        "probe", str(out / "items.jsonl"), "--model", "smollm2-135m", "--name", JUDGE,
        "--base-url", llama_server, "--api-key-env", LLAMA_KEY_ENV, "--task", "pairwise",
        "--views", "full@start,none@start", "--persona", "removed,swapped", "--orders", "ab,ba",
        # the profile a judge sees: the attributes the personalized response was generated from (short prompts)
        "--profile-column", "relevant_profile",
        "--template", str(out / "compact.toml"), "--stage", "generation", "--max-response-chars", "150",
        "--max-tokens", "1", "--min-verdict-mass", "0", "--timeout", "600", "--max-retries", "1",
        "--concurrency", "1", "--bootstrap", "500", "--cache", str(out / "cache.sqlite"), "--out", str(out / "probe"),
        "--quiet",
    ]  # fmt: skip
    started = time.perf_counter()
    done = run_cli(*command, env={LLAMA_KEY_ENV: LLAMA_KEY}, timeout=4 * 3600)
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    labels = pd.read_json(out / "probe" / "labels.jsonl", lines=True, dtype={"item_id": str})
    judged_once = (
        f"{JUDGE}|profile_view=full@start",
        f"{JUDGE}|profile_view=none@start",
        f"{JUDGE}|persona=swapped",
    )
    sent = int(
        (~labels[labels["judge"].isin(judged_once)]["cached"].astype(bool)).sum()
    )  # the others are copies
    (out / "timing.json").write_text(
        json.dumps(
            {
                "seconds": round(seconds, 1),
                "requests_sent": sent,
                "seconds_per_request": round(seconds / max(sent, 1), 3),
            }
        )
        + "\n"
    )
    return {
        "out": out,
        "items": items.reset_index(drop=True),
        "labels": labels,
        "command": command,
        "audit": json.loads((out / "probe" / "audit.json").read_text(encoding="utf-8")),
        "html": (out / "probe" / "report.html").read_text(encoding="utf-8"),
    }


def test_every_pair_is_judged_in_both_orders_under_each_variant(run):
    from servers.llama_server import MODEL_EXCLUSIONS

    labels, n = run["labels"], len(run["items"])
    assert set(labels["judge"]) == {
        JUDGE,
        *VARIANTS,
    }  # JUDGE: the own-profile run (full@start), the reference
    for judge in (JUDGE, *VARIANTS):
        rows = labels[labels["judge"] == judge]
        assert len(rows) == 2 * n and set(rows["order"]) == {"ab", "ba"}, judge
        assert set(rows["item_id"]) == set(run["items"]["item_id"])
        assert (rows["label"].notna() ^ rows["exclusion"].notna()).all(), "labelled or excluded with a reason"
        # ... and the reason is the model's (no connection_error / timeout: the server lived through the run)
        assert set(rows["exclusion"].dropna()) <= MODEL_EXCLUSIONS, (judge, rows["exclusion"].value_counts())
        assert set(rows["label"].dropna()) <= {"a", "b", "tie"}
    prompt_tokens = labels.groupby("judge")["prompt_tokens"].mean()
    assert prompt_tokens[VARIANTS[0]] > prompt_tokens[VARIANTS[1]]  # the profile costs tokens
    # the profile removed is the none view: the same prompts, judged once
    removed = (
        labels[labels["judge"] == f"{JUDGE}|persona=removed"].set_index(["item_id", "order"]).sort_index()
    )
    none = (
        labels[labels["judge"] == f"{JUDGE}|profile_view=none@start"]
        .set_index(["item_id", "order"])
        .sort_index()
    )
    pd.testing.assert_series_equal(removed["label"], none["label"])
    assert not labels["cached"].any()  # a fresh cache: every verdict came from the server


def test_audit_json_says_what_can_and_cannot_be_compared(run):
    doc = run["audit"]
    assert doc["comparisons"]["missing_reference"] == "human"
    assert doc["comparisons"]["reference"] == JUDGE and doc["comparisons"]["not_possible"]
    assert any(w["code"] == "no_human_reference" for w in doc["warnings"])
    metrics = pd.DataFrame(doc["metrics"])
    assert not (metrics["reference"] == "human").any()  # nothing is compared with humans that do not exist
    assert not any(j.startswith("jury:") for j in metrics["judge"])  # variants of the reference are no jury
    for metric in (
        "position_consistency",
        "first_position_rate",
        "agreement_both_orders",
        "mean_prompt_tokens",
    ):
        rows = metrics[
            (metrics["metric"] == metric)
            & (metrics["judge"] == JUDGE)
            & metrics["slice"].str.startswith("profile_view=", na=False)
        ]
        assert set(rows["slice"]) == {"profile_view=full@start", "profile_view=none@start"}, metric
        assert rows["ci_low"].notna().all() or metric == "mean_prompt_tokens", metric
    flips = metrics[metrics["metric"] == "persona_flip_rate"]
    assert set(flips["slice"]) == {"persona=removed", "persona=swapped"}
    assert flips["value"].between(0, 1).all() and (flips["ci_low"] <= flips["value"]).all()
    excluded = {(e["judge"], e["reason"]): e["count"] for e in doc["exclusions"]}
    raw_excluded = run["labels"][run["labels"]["exclusion"].notna()]
    assert sum(excluded.values()) >= len(raw_excluded) > 0 or raw_excluded.empty  # counted, not dropped


def _calibrated(frame: pd.DataFrame) -> pd.Series:
    """Per item, the sign of the mean over both orders of P(b) - P(a): b above 0, a below, tie at 0."""
    return np.sign(pd.to_numeric(frame["score"], errors="coerce").groupby(frame["item_id"]).mean())


def _audit(labels, items, judge_aggregate):
    return audit_stage(
        labels,
        items,
        stage="generation",
        task="pairwise",
        resamples=0,
        reference_fallback=JUDGE,
        judge_aggregate=judge_aggregate,
    )


def test_position_metrics_match_the_raw_verdicts_by_hand(run):
    """The CLI's audit against a count by hand over labels.jsonl: first-position rate, consistency, and the
    calibrated verdict (the sign of the mean over both orders of P(b) - P(a))."""
    labels, metrics = run["labels"], pd.DataFrame(run["audit"]["metrics"])
    full = labels[labels["judge"] == f"{JUDGE}|profile_view=full@start"]
    pairs = full.pivot(index="item_id", columns="order", values="label").dropna()
    consistent = (pairs["ab"] == pairs["ba"]).mean()
    row = metrics[
        (metrics["metric"] == "position_consistency") & (metrics["slice"] == "profile_view=full@start")
    ]
    assert row["value"].iloc[0] == pytest.approx(consistent)
    decisive = full[full["label"].isin(["a", "b"])]
    first = ((decisive["order"] == "ab") & (decisive["label"] == "a")) | (
        (decisive["order"] == "ba") & (decisive["label"] == "b")
    )
    row = metrics[
        (metrics["metric"] == "first_position_rate") & (metrics["slice"] == "profile_view=full@start")
    ]
    assert row["value"].iloc[0] == pytest.approx(first.mean())
    # the calibrated verdicts (sign of the mean P(b) - P(a) over both orders) of the none view against the
    # reference, the own-profile judge JUDGE
    none_view = f"{JUDGE}|profile_view=none@start"
    ref, other = (
        _calibrated(labels[labels["judge"] == JUDGE]),
        _calibrated(labels[labels["judge"] == none_view]),
    )
    both = pd.concat([ref, other], axis=1, keys=["ref", "other"]).dropna()
    row = metrics[
        (metrics["metric"] == "agreement")
        & (metrics["judge"] == none_view)
        & (metrics["reference"] == JUDGE)
        & metrics["slice"].isna()
    ]
    assert len(row) == 1 and row["value"].iloc[0] == pytest.approx(
        float((both["ref"] == both["other"]).mean())
    )
    assert row["n"].iloc[0] == len(both)
    # the same labels audited through the Python API give the CLI's numbers
    api = _audit(labels, run["items"], "mean_score").metrics
    assert api.loc[
        (api["metric"] == "agreement") & (api["judge"] == none_view) & api["slice"].isna(), "value"
    ].iloc[0] == pytest.approx(row["value"].iloc[0])


def test_the_report_has_a_case_browser_of_the_verdicts_the_persona_changes(run):
    labels, html, cases = run["labels"], run["html"], run["audit"]["cases"]
    assert "No labels from" in html and "not a ground truth" in html
    assert "Persona and profile views" in html
    own = labels[labels["judge"] == f"{JUDGE}|profile_view=full@start"]
    expected = _calibrated(own)
    changed = set()
    for judge in (f"{JUDGE}|persona=removed", f"{JUDGE}|persona=swapped"):
        other = _calibrated(labels[labels["judge"] == judge]).reindex(expected.index)
        both = other.notna() & expected.notna()
        changed |= set(expected.index[(both & (other != expected)).to_numpy()])
    assert changed, "SmolLM2's calibrated verdicts never change with the persona: nothing for the browser"
    assert cases["total"] >= len(changed)
    shown = {c["item_id"] for c in cases["items"]}
    assert changed <= shown or cases["sampled"]
    assert html.count('"item":') == len(cases["items"]) > 0  # one row of the case browser per case
    for case in cases["items"][:5]:
        assert case["prompt"] and case["response_b"] and case["disagreements"]


def test_a_rerun_is_answered_from_the_cache_and_gives_the_same_audit(run, llama_server, tmp_path):
    """The same command again with the same cache: no request reaches the server, and the numbers are equal."""
    from servers.llama_server import LLAMA_KEY

    from tests.conftest import LLAMA_KEY_ENV, run_cli

    command = list(run["command"])
    command[command.index("--out") + 1] = str(tmp_path / "again")
    done = run_cli(*command, env={LLAMA_KEY_ENV: LLAMA_KEY}, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    again = pd.read_json(tmp_path / "again" / "labels.jsonl", lines=True, dtype={"item_id": str})
    assert again["cached"].all()
    first = pd.DataFrame(run["audit"]["metrics"])
    second = pd.DataFrame(
        json.loads((tmp_path / "again" / "audit.json").read_text(encoding="utf-8"))["metrics"]
    )
    pd.testing.assert_frame_equal(first, second)
