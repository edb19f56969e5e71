"""The HTML report, read without a browser: sections, values, escaping, self-containment, the case browser."""

from __future__ import annotations

import base64
import hashlib
import json

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
    assert all("src" not in s.attrs for s in scripts)
    # one script runs (pinned by its hash), the other is the case browser's data, which no browser executes
    assert [s.attrs.get("type") for s in scripts] == ["application/json", None]
    (csp,) = [e.attrs["content"] for e in likert_page.find("meta") if e.attrs.get("http-equiv")]
    digest = base64.b64encode(hashlib.sha256(likert_page.scripts[1].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_script_never_writes_html():
    script = html_report._asset("report.js")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert sink not in script


def test_embedded_json_cannot_close_its_script_element_and_reads_back_equal():
    data = {"text": "</script><script>alert(1)</script> & <!-- <b> \u2028 \u2029 é"}
    out = cases.embedded_json(data)
    assert "<" not in out and ">" not in out and "&" not in out
    assert json.loads(out) == data


def test_payloads_in_every_field_come_out_as_text():
    html = reports.render_html(xss_audit())
    page = scan(html)
    text = page.text
    for payload in (XSS_SCRIPT, XSS_IMG, XSS_LINK, "<script>window.__pwned=4</script>evil|judge"):
        assert payload in text  # in the title, headline, tables and filter lists
    assert XSS_PAYLOAD in text
    assert len(page.find("script")) == 2
    assert not page.find("img")
    assert all(a.attrs.get("href", "").startswith("#") for a in page.find("a"))
    assert not [(e.tag, k) for e in page.elements for k in e.attrs if k.startswith("on")]
    # filter options carry the raw judge name as their value (read back by the script with .value)
    assert page.find("option", value="<script>window.__pwned=4</script>evil|judge")
    # the cases travel as JSON with no markup character in it, and read back to the payloads themselves
    start = html.index('<script type="application/json" id="case-data">')
    block = html[start : html.index("</script>", start)].split(">", 1)[1]
    assert "<" not in block and ">" not in block
    data = page.case_data()
    first = data["cases"][0]
    assert first["item"] == 'item-<img src=x onerror="window.__pwned=5">'
    assert first["user"] == 'user"><script>window.__pwned=6</script>'
    assert {data["texts"][i] for i in first["texts"] if i is not None} >= {"prompt " + XSS_PAYLOAD, XSS_LINK}
    evil = data["names"].index("<script>window.__pwned=4</script>evil|judge")
    assert [evil, XSS_IMG, XSS_SCRIPT, "ab", "", "raw " + XSS_PAYLOAD] in first["verdicts"]


def test_case_data_ranks_cases_and_holds_one_cell_per_judge(no_plots):
    audit = build_likert_audit(shown=30)
    page = scan(reports.render_html(audit))
    data = page.case_data()
    assert data["judges"] == audit["judges"] and data["reference"] == "human"
    assert data["names"][: len(data["judges"]) + 1] == [*audit["judges"], "human"]
    cases_ = data["cases"]
    assert len(cases_) == 30 and [c["rank"] for c in cases_] == list(range(1, 31))
    # this file has no distances: more disagreeing judges first, then a judge calling b better
    by_id = {item["item_id"]: item for item in audit["cases"]["items"]}
    keys = [
        (
            -c["n_disagree"],
            not any(d["type"] == cases.KEY_DISAGREEMENT for d in by_id[c["item"]]["disagreements"]),
        )
        for c in cases_
    ]
    assert keys == sorted(keys)
    kinds = [k for k, *_ in data["kinds"]]
    for c in cases_:
        item = by_id[c["item"]]
        assert len(c["cells"]) == len(data["judges"]) and c["user"].startswith("u")
        disagreeing = {d["judge"]: d for d in item["disagreements"]}
        for judge, cell in zip(data["judges"], c["cells"], strict=True):
            if judge in disagreeing:
                assert cell[0] == disagreeing[judge]["judge_label"]
                assert kinds[cell[1]] == disagreeing[judge]["type"]
            else:  # an agreeing judge shows its own verdict
                assert cell == [next(v["label"] for v in item["verdicts"] if v["judge"] == judge)]
        assert c["n_disagree"] == len(disagreeing)
    text = " ".join(page.text.split())
    assert "The audit found 550 disagreement cases; this page holds 30, those that matter most first." in text
    assert "The auditor chose them" in text
    for label in ("all judges", "all kinds", "all users", "largest disagreement first"):
        assert label in text
    assert {e.attrs["title"] for e in page.find("th", **{"class": "c-judge"})} == set(audit["judges"])


def test_raw_output_is_kept_only_where_it_adds_to_the_label(no_plots):
    assert not cases.raw_adds("3", "3", None)
    assert not cases.raw_adds(" B ", "b", None)
    assert not cases.raw_adds("-0.612001", "2", -0.6120006515313455)  # the score again, to 6 decimals
    assert not cases.raw_adds("3.0", "3", None)
    assert not cases.raw_adds("", "3", None) and not cases.raw_adds(None, "3", None)
    assert cases.raw_adds("Rating: 3", "3", None)
    assert cases.raw_adds("0.9", "2", -0.61)
    audit = build_pairwise_audit()
    verdicts = [
        {"judge": "human", "rater": "r1", "label": "b", "raw": "b"},
        {"judge": "j", "rater": "0", "label": "a", "raw": "A", "score": None},
        {"judge": "j", "rater": "1", "label": "a", "raw": "Output (a) is better: it answers."},
    ]
    audit["cases"] = {"total": 1, "items": [{"item_id": "x", "verdicts": verdicts}]}
    data = scan(reports.render_html(audit)).case_data()
    rows = data["cases"][0]["verdicts"]
    human, judge = data["names"].index("human"), data["names"].index("j")
    assert rows == [
        [human, "r1", "b"],
        [judge, "0", "a"],
        [judge, "1", "a", "", "", "Output (a) is better: it answers."],
    ]


def test_a_text_shared_by_cases_is_stored_once(no_plots):
    audit = build_likert_audit(shown=100)  # 50 users, two items each
    for item in audit["cases"]["items"]:
        item["profile"] = f"{item['user_id']} likes hiking and quiet places. " * 20
    data = scan(reports.render_html(audit)).case_data()
    profiles = {item["profile"] for item in audit["cases"]["items"]}
    assert len(data["texts"]) == len(set(data["texts"]))
    assert profiles <= set(data["texts"])
    profile = [key for key, _ in data["fields"]].index("profile")
    refs = [c["texts"][profile] for c in data["cases"]]
    assert len(set(refs)) == len(profiles) < len(refs)


def test_huge_texts_are_cut_and_the_page_says_so(no_plots):
    audit = build_likert_audit(shown=2)
    audit["cases"]["items"][0]["response_b"] = "x" * 50_000
    page = scan(reports.render_html(audit))
    data = page.case_data()
    case = next(c for c in data["cases"] if c["item"] == audit["cases"]["items"][0]["item_id"])
    field = [key for key, _ in data["fields"]].index("response_b")
    assert data["texts"][case["texts"][field]] == "x" * cases.MAX_TEXT_CHARS
    assert case["cut"][field] == 46_000
    assert "texts longer than 4,000 characters" in page.text


def test_renderer_caps_cases_itself_when_the_core_did_not(no_plots):
    audit = build_likert_audit(shown=1_200)
    page = scan(reports.render_html(audit))
    assert len(page.case_data()["cases"]) == cases.MAX_CASES
    text = " ".join(page.text.split())
    assert (
        "this report holds 500 of the 1,200 cases in the audit file, the largest disagreements first" in text
    )


def test_case_list_is_held_to_the_budget_it_is_given(no_plots):
    audit = build_likert_audit(shown=300)
    for item in audit["cases"]["items"][::2]:  # markup characters take 6 bytes each once escaped
        item["prompt"] = "<b>&</b>" * 200
    model = reports.build_model(audit)
    for budget in (20_000, 60_000):
        browser = model.cases_within(budget)
        size = len(browser.json.encode("utf-8"))
        assert size <= budget, (budget, size)
        assert 0 < len(browser.cases) < 300
        assert f"only {len(browser.cases)} cases fit this page's size budget ({budget // 1000} kB" in (
            browser.capped_note
        )


def test_case_without_optional_fields_renders(no_plots):
    audit = build_pairwise_audit()
    audit["cases"] = {"items": [{"item_id": "only-id"}, {"verdicts": [{"judge": "j"}]}, "not a dict"]}
    data = scan(reports.render_html(audit)).case_data()
    assert [c["item"] for c in data["cases"]] == ["only-id", ""]
    assert data["judges"] == ["j"] and data["cases"][1]["cells"] == [None]


def test_unknown_and_missing_plots_do_not_break_the_page(monkeypatch):
    def broken(audit):
        raise ValueError("boom")

    monkeypatch.setitem(reports.plots.ALL_PLOTS, "forest", broken)
    page = scan(reports.render_html(build_pairwise_audit()))
    assert "This plot could not be drawn" in page.text


def test_a_case_with_hundreds_of_verdicts_keeps_the_first_sixty_and_counts_all(no_plots):
    audit = build_pairwise_audit()
    verdicts = [{"judge": "sampler", "rater": str(k), "label": "a", "raw": "a"} for k in range(200)]
    audit["cases"] = {
        "total": 1,
        "items": [{"item_id": "many", "verdicts": verdicts, "reference_labels": ["a"] * 100}],
    }
    (case,) = scan(reports.render_html(audit)).case_data()["cases"]
    assert len(case["verdicts"]) == 60 and case["verdicts_total"] == 200
    assert case["raters"] == ["a"] * 25 and case["raters_total"] == 100


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


def test_judge_columns_show_the_part_of_a_variant_name_that_tells_it_apart(no_plots):
    assert cases.column_label("gpt-4o|persona=removed") == ("removed", "persona")
    assert cases.column_label("gpt-4o|profile_view=full@start") == ("full@start", "profile_view")
    assert cases.column_label("claude-3.5") == ("claude-3.5", "")
    audit = build_likert_audit(judges=("gpt-4o", "gpt-4o|persona=removed"), shown=3)
    html = reports.render_html(audit)
    page = scan(html)
    headers = page.find("th", **{"class": "c-judge"})
    assert [h.attrs["title"] for h in headers] == ["gpt-4o", "gpt-4o|persona=removed"]
    assert "<span>removed</span><small>persona</small></th>" in html
    legend = " ".join(page.text.split())
    assert "Cells: each judge's verdict; judge: b better · reference: no better" in legend
    assert "in scale points across the neutral point" in legend
