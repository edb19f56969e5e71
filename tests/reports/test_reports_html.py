"""The HTML report, read without a browser: sections, values, escaping, self-containment, the case browser."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest
from htmlscan import scan
from report_fixtures import (
    XSS_IMG,
    XSS_LINK,
    XSS_PAYLOAD,
    XSS_SCRIPT,
    build_likert_audit,
    build_pairwise_audit,
    xss_audit,
)

import reports
from reports.render import html as html_report
from reports.sections import cases


@pytest.fixture(scope="module")
def likert_page():
    return scan(reports.render_html(build_likert_audit()))


def test_html_has_every_section_and_the_simulated_banner(likert_page):
    assert {
        "headline",
        "judges",
        "plots",
        "exclusions",
        "policy",
        "slices",
        "cases",
        "method",
        "simulated-banner",
    } <= likert_page.ids()
    assert "SIMULATED DATA" in likert_page.text
    for plot in ("plot-forest", "plot-gaps", "plot-outcomes", "plot-confusion", "plot-scores"):
        assert plot in likert_page.ids()
    assert len(likert_page.find("svg")) == 5


def test_html_shows_values_with_intervals_and_the_ceiling(likert_page):
    text = " ".join(likert_page.text.split())
    assert "Humans found the personalized response no better in 54.6% [50.1, 59.1] of cases" in text
    assert "54.6% [50.1, 59.1]" in text
    assert "human raters (ceiling)" in text
    assert "b is better when the label is above the neutral 3" in text
    assert "unparseable output" in text and "identical_responses" in text
    assert "2000 bootstrap resamples" in text


def test_real_study_has_no_simulated_banner():
    page = scan(reports.render_html(build_pairwise_audit()))
    assert "simulated-banner" not in page.ids()
    assert "SIMULATED" not in page.text
    assert "cases" not in page.ids()  # no case in this audit: no empty browser


def test_page_is_self_contained_and_script_is_pinned_by_csp(likert_page):
    for element in likert_page.elements:
        for name, value in element.attrs.items():
            if name in ("src", "href", "xlink:href", "action", "srcset", "poster", "data"):
                assert value.startswith("#"), (element.tag, name, value)
    assert not likert_page.find("link") and not likert_page.find("img") and not likert_page.find("iframe")
    scripts = likert_page.find("script")
    assert len(scripts) == 1 and "src" not in scripts[0].attrs
    (csp,) = [e.attrs["content"] for e in likert_page.find("meta") if e.attrs.get("http-equiv")]
    digest = base64.b64encode(hashlib.sha256(likert_page.scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_script_never_writes_html():
    script = html_report._asset("report.js")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert sink not in script


def test_payloads_in_every_field_come_out_as_text():
    page = scan(reports.render_html(xss_audit()))
    text = page.text
    for payload in (XSS_SCRIPT, XSS_IMG, XSS_LINK, "<script>window.__pwned=4</script>evil|judge"):
        assert payload in text
    assert XSS_PAYLOAD in text
    assert len(page.find("script")) == 1
    assert not page.find("img")
    assert all(a.attrs.get("href", "").startswith("#") for a in page.find("a"))
    assert not [(e.tag, k) for e in page.elements for k in e.attrs if k.startswith("on")]
    # filter options carry the raw judge name as their value (read back by the script with .value)
    assert page.find("option", value="<script>window.__pwned=4</script>evil|judge")


def test_case_cards_hold_filter_data_and_key_cases_come_first(no_plots):
    audit = build_likert_audit(shown=30)
    page = scan(reports.render_html(audit))
    cards = page.find("article")
    assert len(cards) == 30
    keys = ["key" in card.attrs["class"].split() for card in cards]
    assert keys == sorted(keys, reverse=True) and any(keys) and not all(keys)
    for card in cards:
        pairs = json.loads(card.attrs["data-pairs"])
        assert all(len(pair) == 2 for pair in pairs)
        assert card.attrs["data-user"].startswith("u")
    text = " ".join(page.text.split())
    assert "The audit found 550 disagreement cases; this page shows 30." in text
    assert "The auditor sampled them" in text
    for label in ("all judges", "all types", "all users"):
        assert label in text


def test_long_texts_are_collapsed_and_huge_texts_cut(no_plots):
    audit = build_likert_audit(shown=2)
    audit["cases"]["items"][0]["response_b"] = "x" * 50_000
    audit["cases"]["items"][0]["prompt"] = "short prompt"
    html = reports.render_html(audit)
    page = scan(html)
    assert "x" * cases.MAX_TEXT_CHARS in page.text and "x" * (cases.MAX_TEXT_CHARS + 1) not in page.text
    assert "46,000 more characters (in audit.json)" in page.text
    assert "texts longer than 4,000 characters" in page.text
    assert re.search(r"<details><summary><span class=\"text-name\">Response b</span>", html)
    assert re.search(r"<div class=\"text-name\">Prompt</div>\s*<pre class=\"text\">short prompt</pre>", html)


def test_renderer_caps_cases_itself_when_the_core_did_not(no_plots):
    audit = build_likert_audit(shown=1_200)
    page = scan(reports.render_html(audit))
    assert len(page.find("article")) == cases.MAX_CASES
    assert "this report shows 500 of the 1,200 cases in the audit file" in " ".join(page.text.split())


def test_case_without_optional_fields_renders(no_plots):
    audit = build_pairwise_audit()
    audit["cases"] = {"items": [{"item_id": "only-id"}, {"verdicts": [{"judge": "j"}]}, "not a dict"]}
    page = scan(reports.render_html(audit))
    assert len(page.find("article")) == 2 and "only-id" in page.text


def test_unknown_and_missing_plots_do_not_break_the_page(monkeypatch):
    def broken(audit):
        raise ValueError("boom")

    monkeypatch.setitem(reports.plots.ALL_PLOTS, "forest", broken)
    page = scan(reports.render_html(build_pairwise_audit()))
    assert "This plot could not be drawn" in page.text


def test_a_case_with_hundreds_of_verdicts_shows_the_first_sixty_and_says_so(no_plots):
    audit = build_pairwise_audit()
    verdicts = [{"judge": "sampler", "rater": str(k), "label": "a", "raw": "a"} for k in range(200)]
    audit["cases"] = {
        "total": 1,
        "items": [{"item_id": "many", "verdicts": verdicts, "reference_labels": ["a"] * 100}],
    }
    page = scan(reports.render_html(audit))
    assert len(page.find("tr", **{"class": ""})) >= 60
    text = " ".join(page.text.split())
    assert "verdicts 60 of 200 shown" in text
    assert "(raters: " + ", ".join(["a"] * 25) + ", … 100 in all)" in text


def test_method_section_states_aggregation_correction_and_coverage(no_plots):
    audit = build_pairwise_audit()
    audit.update(
        aggregation={"rule": "majority", "tie_break": "tie"},
        p_value_correction="holm",
        n_items_with_reference=990,
    )
    text = " ".join(scan(reports.render_html(audit)).text.split())
    assert "Several labels of one item are combined by majority, ties broken toward tie." in text
    assert "p-values across judges adjusted by holm (p_adj)." in text
    assert "990 of the 999 items have a reference label." in text
