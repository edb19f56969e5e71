"""Stage 3 end to end through the local SmolLM2 server: generic vs personalized pairs judged with two profile views
and both orders (plus another user's profile), audited without human ratings, rendered to HTML with the case
browser.  SmolLM2-135M is a weak judge: these tests prove the wiring and the honesty of the result, not wisdom.

CI judges a fixed sample of 24 of the 308 pairs spread over the file: 3 runs (full profile, no profile, another
user's profile) x 2 orders = 144 one-token requests, a compact template keeping each prompt near 300 tokens.
SmolLM2 on 2 cores takes about 1-1.5 s per request, so all 308 pairs (1,848 requests) take 30-45 minutes: set
``AUDITOR_STAGE3_SAMPLE=308`` to judge them all.

SmolLM2 prefers the response shown first in almost every request, so a vote over the two orders makes nearly every
verdict a tie; the audit combines the orders by balanced position calibration instead (``judge_aggregate =
"mean_score"``: the mean of the verdict probabilities' expected scores), which leaves the judge's lean.
"""

from __future__ import annotations

import importlib
import os
import sys

import numpy as np
import pandas as pd
import pytest

from auditor.datasets import recentering
from auditor.personalization import audit_stage
from auditor.probes import run_variants

pytestmark = pytest.mark.llm

SAMPLE = 24
COMPACT_PAIRWISE = {
    "name": "compact-stage3",
    "version": "1",
    "task": "pairwise",
    "verdicts": {"A": "a", "B": "b", "tie": "tie"},
    "system": "Judge which answer is better for this user.",
    "user": "Q: {{ item.prompt[:150] }}\n{{ response_a }}\n{{ response_b }}",
    "answer": {"logprobs": "Better answer (A, B or tie):", "json": "Reply with JSON.",
               "text": "End with Verdict: A, B or tie."},
}


def _reports():
    """The ``reports`` package of the repository (tests/reports, on sys.path for the LLM helpers, must not shadow
    it)."""
    module = sys.modules.get("reports")
    if module is None or not hasattr(module, "render_html"):
        sys.modules.pop("reports", None)
        root = str(__import__("pathlib").Path(__file__).resolve().parents[2])
        sys.path.insert(0, root)
        try:
            module = importlib.import_module("reports")
        finally:
            sys.path.remove(root)
    return module


@pytest.fixture(scope="module")
def stage3(data_root):
    items = recentering.load_stage3(data_root).items
    assert len(items) == 308
    sample = int(os.environ.get("AUDITOR_STAGE3_SAMPLE") or SAMPLE)
    if sample < len(items):  # a fixed sample spread over the file
        items = items.iloc[:: max(1, len(items) // sample)].head(sample)
    # the profile a judge sees: the attributes the personalized response was generated from (short prompts)
    return items.assign(profile=items["relevant_profile"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def judged(stage3, llama_server, tmp_path_factory):
    from servers.llama_server import LLAMA_KEY

    from judges.cache import JudgeCache
    from judges.llm import LLMJudge, LLMJudgeConfig
    from judges.templates import template_from_mapping

    config = LLMJudgeConfig(model="smollm2-135m", base_url=llama_server, api_key_env="AUDITOR_TEST_LLAMA_KEY",
                            concurrency=1, timeout=600, max_retries=1, progress=False, min_verdict_mass=0.0,
                            max_tokens=1)
    template = template_from_mapping(COMPACT_PAIRWISE, source="test")
    cache = JudgeCache(tmp_path_factory.mktemp("stage3") / "cache.sqlite")

    def make(view: str, place: str) -> LLMJudge:
        return LLMJudge(config, template=template, profile_view=view, profile_at=place, orders=("ab", "ba"),
                        cache=cache, max_response_chars=150)

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AUDITOR_TEST_LLAMA_KEY", LLAMA_KEY)
        return run_variants(stage3, "pairwise", make, name="smollm2",
                            views=(("full", "start"), ("none", "start")), persona=("removed", "swapped"))


def test_every_pair_is_judged_in_both_orders_under_each_view(judged, stage3):
    n = len(stage3)
    for judge in ("smollm2|profile_view=full@start", "smollm2|profile_view=none@start", "smollm2|persona=swapped"):
        rows = judged[judged["judge"] == judge]
        assert len(rows) == 2 * n and set(rows["order"]) == {"ab", "ba"}
        assert (rows["label"].notna() ^ rows["exclusion"].notna()).all()
    full = judged[judged["judge"] == "smollm2|profile_view=full@start"]["prompt_tokens"].mean()
    none = judged[judged["judge"] == "smollm2|profile_view=none@start"]["prompt_tokens"].mean()
    assert full > none  # the profile costs tokens


def _audit(judged, stage3, judge_aggregate="mean_score"):
    return audit_stage(judged, stage3, stage="generation", task="pairwise", resamples=200,
                       reference_fallback="smollm2", judge_aggregate=judge_aggregate)


def test_stage3_audit_without_human_ratings_renders_an_honest_report(judged, stage3, tmp_path):
    result = _audit(judged, stage3)
    assert result.meta["comparisons"]["missing_reference"] == "human"
    assert result.meta["reference"] == "smollm2"
    assert result.meta["aggregation"]["judges"] == "mean_score"
    m = result.metrics
    for metric in ("position_consistency", "first_position_rate", "mean_prompt_tokens"):
        rows = m[(m["metric"] == metric) & (m["judge"] == "smollm2") & m["slice"].str.startswith("profile_view=",
                                                                                                  na=False)]
        assert set(rows["slice"]) == {"profile_view=full@start", "profile_view=none@start"}, metric
    flips = m[m["metric"] == "persona_flip_rate"]
    assert set(flips["slice"]) == {"persona=removed", "persona=swapped"}
    assert flips["value"].between(0, 1).all()
    assert not (m["reference"] == "human").any()  # nothing is compared with humans that do not exist
    html = _reports().render_html(result.to_dict())
    assert "No labels from" in html and "not a ground truth" in html
    (tmp_path / "report.html").write_text(html, encoding="utf-8")
    pd.testing.assert_series_equal(  # the same run twice: the same numbers (cache, temperature 0, seeded bootstrap)
        result.metrics["value"], _audit(judged, stage3).metrics["value"])


def test_calibrated_verdicts_follow_the_mean_score_and_fill_the_case_browser(judged, stage3):
    """By hand: per item, the mean over both orders of P(b) - P(a); b above 0, a below, tie at 0.  The items where
    removing or swapping the profile changes that verdict are the cases the browser shows."""
    scores = judged.assign(score=pd.to_numeric(judged["score"], errors="coerce").astype(float))
    own = scores[scores["judge"] == "smollm2"]
    mean = own.groupby("item_id")["score"].mean()
    expected = np.sign(mean)
    result = _audit(judged, stage3)
    win = result.metric("win_rate", "smollm2", reference="smollm2")["value"]
    assert win == pytest.approx(float((expected.dropna() > 0).mean()))  # items with a usable verdict
    # the vote over both orders: an item whose two verdicts differ is a tie (by hand, over items with a verdict)
    voted = _audit(judged, stage3, judge_aggregate="vote")
    labelled = own[own["label"].notna()].groupby("item_id")["label"]
    split = labelled.nunique() > 1
    assert voted.metric("tie_rate", "smollm2", reference="smollm2")["value"] == pytest.approx(
        float(((labelled.agg(lambda v: set(v) == {"tie"})) | split).mean()))
    cases = result.cases
    changed = set()
    for judge in ("smollm2|persona=removed", "smollm2|persona=swapped"):
        rows = scores[scores["judge"] == judge]
        other = np.sign(rows.groupby("item_id")["score"].mean()).reindex(mean.index)
        both = other.notna() & expected.notna()
        changed |= set(mean.index[(both & (other != expected)).to_numpy()])
    flips = result.metrics[result.metrics["metric"] == "persona_flip_rate"]
    if changed:  # the verdicts a persona variant changes are cases in the browser, and the flip rates count them
        assert flips["value"].max() > 0
        assert changed <= {c["item_id"] for c in cases["items"]} or cases["sampled"]
        html = _reports().render_html(result.to_dict())
        assert html.count('<article class="case') == len(cases["items"]) > 0
        for case in cases["items"][:5]:
            assert case["prompt"] and case["response_b"] and case["disagreements"]
    else:
        assert (flips["value"] == 0).all()
    assert cases["total"] >= len(changed)
