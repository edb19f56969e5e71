"""Size: a 100,000-item audit renders to a page of at most 1 MB, and the renderer caps a case list the core failed
to sample."""

from __future__ import annotations

from htmlscan import scan
from report_fixtures import build_big_audit

import reports
from reports.sections import cases

ONE_MB = 1_000_000


def test_sampled_100000_item_audit_renders_under_1_mb_and_says_it_is_sampled():
    audit = build_big_audit()
    html = reports.render_html(audit)
    assert len(html.encode("utf-8")) <= ONE_MB
    page = scan(html)
    held = len(page.case_data()["cases"])
    assert 100 < held <= 500
    text = " ".join(page.text.split())
    assert f"The audit found 100,000 disagreement cases; this page holds {held}," in text
    assert "500 of 100,000 disagreement cases, sampled at random (seed 0)" in text
    assert len(reports.render_markdown(audit)) < 65_536


def _raw_cases(n: int, text: str) -> dict:
    key = [{"judge": "gpt-4o", "type": "judge_better_reference_no_better", "judge_label": "5"}]
    other = [{"judge": "gpt-4o", "type": "other", "judge_label": "2"}]
    return {
        "total": n,
        "sampled": False,
        "items": [
            {
                "item_id": f"i{i}",
                "user_id": f"u{i % 5000}",
                "prompt": text,
                "response_a": text,
                "response_b": text,
                "profile": text,
                "verdicts": [{"judge": "gpt-4o", "label": "5", "raw": text}],
                "disagreements": key if i % 7 == 0 else other,
            }
            for i in range(n)
        ],
    }


def test_unsampled_100000_cases_are_capped_by_the_renderer():
    audit = build_big_audit(shown=0)
    audit["cases"] = _raw_cases(100_000, "a personalized answer " * 20)
    html = reports.render_html(audit)
    assert len(html.encode("utf-8")) < ONE_MB
    page = scan(html)
    data = page.case_data()
    assert len(data["cases"]) == cases.MAX_CASES
    key = [k for k, *_ in data["kinds"]].index(cases.KEY_DISAGREEMENT)
    assert all(c["cells"][0][1] == key for c in data["cases"])  # key disagreements chosen first
    text = " ".join(page.text.split())
    assert "this report holds 500 of the 100,000 cases in the audit file" in text


def test_long_texts_are_held_to_the_size_budget():
    audit = build_big_audit(shown=0)
    audit["cases"] = _raw_cases(2_000, "personalized answer " * 500)  # 10,000 characters per text
    html = reports.render_html(audit)
    assert len(html.encode("utf-8")) < ONE_MB
    page = scan(html)
    shown = len(page.case_data()["cases"])
    assert 10 < shown < cases.MAX_CASES
    text = " ".join(page.text.split())
    assert f"only {shown} cases fit this page's size budget" in text
    assert (
        "texts longer than 4,000 characters (raw outputs: 3,000) are cut; audit.json holds them in full"
        in text
    )
