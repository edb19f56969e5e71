"""Stage 3 end to end through the local SmolLM2 server: generic vs personalized pairs judged with two profile views
and both orders (plus another user's profile), audited without human ratings, rendered to HTML with the case
browser.  SmolLM2-135M is a weak judge: these tests prove the wiring and the honesty of the result, not wisdom.

CI judges a fixed sample of the 308 pairs (a compact template keeps each prompt near 200 tokens); set
``AUDITOR_OPTIN=1`` to judge all 308 pairs (1,232 requests; about 25 minutes on 2 busy cores).
"""

from __future__ import annotations

import importlib
import os
import sys

import pandas as pd
import pytest

from auditor.datasets import recentering
from auditor.personalization import audit_stage
from auditor.probes import run_variants

pytestmark = pytest.mark.llm

COMPACT_PAIRWISE = {
    "name": "compact-stage3",
    "version": "1",
    "task": "pairwise",
    "verdicts": {"A": "a", "B": "b", "tie": "tie"},
    "system": "Judge which answer is better for this user.",
    "user": "Q: {{ item.prompt[:100] }}\nA: {{ item.response_a[:100] }}\nB: {{ item.response_b[:100] }}",
    "answer": {"logprobs": "Better answer (A, B or tie):", "json": "Reply with JSON.",
               "text": "End with Verdict: A, B or tie."},
}
SAMPLE = 12


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
    if os.environ.get("AUDITOR_OPTIN") != "1":  # a fixed sample spread over the file
        items = items.iloc[:: len(items) // SAMPLE].head(SAMPLE)
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
                        cache=cache)

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


def test_stage3_audit_without_human_ratings_renders_an_honest_report(judged, stage3, tmp_path):
    result = audit_stage(judged, stage3, stage="generation", task="pairwise", resamples=200,
                         reference_fallback="smollm2")
    assert result.meta["comparisons"]["missing_reference"] == "human"
    assert result.meta["reference"] == "smollm2"
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
    assert "case" in html.lower()
    (tmp_path / "report.html").write_text(html, encoding="utf-8")
    pd.testing.assert_series_equal(  # the same run twice: the same numbers (cache, temperature 0, seeded bootstrap)
        result.metrics["value"],
        audit_stage(judged, stage3, stage="generation", task="pairwise", resamples=200,
                    reference_fallback="smollm2").metrics["value"])
