"""The HTML report in headless Chromium: loads from disk, no console error, no request but the file itself,
scripts from the data never run, and the case browser works as a user drives it (paging, each filter, sorting,
keyboard, a permalink), within the size limits (at most 1 MB, under 20,000 px tall with cases collapsed).

One page load per report kind (the demo's main study, its probes and stage reports, a hostile audit, a
100,000-item audit), many assertions on each. Wall-clock time is measured and printed, never asserted.
Skipped only when Debian's ``chromium`` is not installed (``scripts/install-test-deps.sh`` installs it).
Screenshots go to the test's ``tmp_path``; set ``AUDITOR_SCREENSHOT_DIR`` to keep them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from chromium_cdp import Chromium, find_chromium
from report_fixtures import XSS_PAYLOAD, XSS_SCRIPT, build_big_audit, xss_audit

import reports

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        find_chromium() is None, reason="chromium is not installed (apt-get install chromium)"
    ),
]

ONE_MB = 1_000_000
MAX_HEIGHT_PX = 20_000
KEYS = {  # key -> (code, Windows virtual key code, text typed)
    "j": ("KeyJ", 74, "j"),
    "k": ("KeyK", 75, "k"),
    "n": ("KeyN", 78, "n"),
    "p": ("KeyP", 80, "p"),
    "/": ("Slash", 191, "/"),
    "Enter": ("Enter", 13, "\r"),
    "Escape": ("Escape", 27, ""),
    "ArrowDown": ("ArrowDown", 40, ""),
    "ArrowRight": ("ArrowRight", 39, ""),
}


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


def keep_screenshot(png: bytes, name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    path.write_bytes(png)
    target = os.environ.get("AUDITOR_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / name)
    return path


def screenshot(page, width: int, height: int, scroll_to: str | None = None) -> bytes:
    """A ``width`` x ``height`` screenshot, scrolled to the element ``scroll_to`` after the resize."""
    page.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
    if scroll_to:
        page.evaluate(f"document.getElementById({json.dumps(scroll_to)}).scrollIntoView()")
    return base64.b64decode(page.call("Page.captureScreenshot", {"format": "png"})["data"])


def natural_key(text: str) -> list:
    """``item-2`` before ``item-10``, as the page's numeric localeCompare sorts."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def set_control(page, element_id: str, value: str, event: str = "change") -> None:
    """Set a form control like a user would and fire its event (values passed as JSON, never spliced raw)."""
    page.evaluate(
        f"(() => {{ const c = document.getElementById({json.dumps(element_id)}); c.value = {json.dumps(value)};"
        f" c.dispatchEvent(new Event({json.dumps(event)})); }})()"
    )


def press(page, key: str) -> None:
    """A real key press (keyDown, then keyUp) sent through the DevTools input domain."""
    code, vk, text = KEYS[key]
    down = {"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk}
    if text:
        down["text"] = text
    page.call("Input.dispatchKeyEvent", down)
    page.call(
        "Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}
    )


def rows(page) -> list[str]:
    """The item ids of the case rows on the current page, top to bottom."""
    return page.evaluate("[...document.querySelectorAll('#case-rows tr.case-row')].map(r => r.dataset.item)")


def text_of(page, element_id: str) -> str:
    return page.evaluate(f"document.getElementById({json.dumps(element_id)}).textContent")


def page_height(page) -> int:
    return page.evaluate("document.documentElement.scrollHeight")


def first_paint_ms(page) -> float:
    """When the first screen was painted and the case rows rendered, in ms after navigation (the later)."""
    return page.evaluate(
        "Math.max(...performance.getEntriesByType('paint').map(e => e.startTime),"
        " ...performance.getEntriesByName('auditor-cases-rendered').map(e => e.startTime), 0)"
    )


def assert_clean(page, path: Path) -> None:
    assert page.console_errors() == []
    assert page.requests() == [path.resolve().as_uri()]


def case_data(html: str) -> dict:
    start = html.index('<script type="application/json" id="case-data">')
    return json.loads(html[start : html.index("</script>", start)].split(">", 1)[1])


def assert_within_limits(page, path: Path) -> tuple[int, int]:
    """The file is at most 1 MB and the page, cases collapsed, under 20,000 px tall at 1,400 px wide."""
    size = path.stat().st_size
    assert size <= ONE_MB, size
    page.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1400, "height": 3000, "deviceScaleFactor": 1, "mobile": False},
    )
    assert page.evaluate("document.querySelectorAll('tr.case-detail').length") == 0
    height = page_height(page)
    assert height < MAX_HEIGHT_PX, height
    return size, height


def test_demo_report_case_browser_pages_filters_sorts_keys_and_links(browser, tmp_path, demo_json):
    audit = json.loads((demo_json / "audit.json").read_text(encoding="utf-8"))
    path = tmp_path / "report.html"
    html = reports.render_html(audit)
    path.write_text(html, encoding="utf-8")
    data = case_data(html)
    cases = {c["item"]: c for c in data["cases"]}
    held, size = len(cases), len(html.encode("utf-8"))
    page = browser.open(path)
    assert_clean(page, path)
    paint = first_paint_ms(page)
    _, height = assert_within_limits(page, path)
    print(f"demo report: {size / 1e6:.2f} MB, {height:,} px, first paint {paint:.0f} ms, {held} cases")

    text = page.evaluate("document.body.innerText")
    assert "SIMULATED DATA" in text
    assert "Humans found the personalized response no better in" in text
    assert "human raters (ceiling)" in text
    assert f"The audit found {audit['cases']['total']} disagreement cases; this page holds {held}" in text
    assert page.evaluate("document.querySelectorAll('svg').length") >= 4
    assert page.evaluate("document.querySelectorAll('table.metrics').length") >= 3

    # paging: 25 rows a page, in the audit's ranking (largest distance across the neutral point first)
    ranked = [c["item"] for c in data["cases"]]
    distances = [int(c["distance"]) for c in data["cases"]]
    assert distances == sorted(distances, reverse=True) and distances[0] > distances[-1]
    assert rows(page) == ranked[:25]
    assert text_of(page, "f-count") == f"{held} of {held} cases match"
    pages = -(-held // 25)
    assert text_of(page, "page-info") == f"page 1 of {pages}"
    page.evaluate("document.getElementById('page-next').click()")
    assert rows(page) == ranked[25:50] and text_of(page, "page-info") == f"page 2 of {pages}"
    page.evaluate("document.getElementById('page-last').click()")
    assert rows(page) == ranked[(pages - 1) * 25 :]
    assert page.evaluate("document.getElementById('page-next').disabled") is True
    page.evaluate("document.getElementById('page-first').click()")
    assert rows(page) == ranked[:25]

    def visible() -> list[dict]:
        return [cases[i] for i in rows(page)]

    def matching() -> int:
        return int(text_of(page, "f-count").split(" of ")[0])

    # each filter: every row shown satisfies it, and the count is the number of cases that do
    judges, kinds = data["judges"], [k for k, *_ in data["kinds"]]
    judge = judges[0]
    set_control(page, "f-judge", judge)
    expected = [c for c in data["cases"] if c["cells"][0] and len(c["cells"][0]) > 1]
    assert matching() == len(expected) < held and rows(page) == [c["item"] for c in expected[:25]]
    key = "judge_better_reference_no_better"
    set_control(page, "f-type", key)
    expected = [c for c in expected if kinds[c["cells"][0][1]] == key]
    assert matching() == len(expected) and rows(page) == [c["item"] for c in expected[:25]]
    set_control(page, "f-judge", "")
    set_control(page, "f-type", "")
    user = data["cases"][0]["user"]
    set_control(page, "f-user", user)
    assert {c["user"] for c in visible()} == {user}
    assert matching() == sum(c["user"] == user for c in data["cases"])
    set_control(page, "f-user", "")
    assert data["slices"] == ["source"]
    page.evaluate(
        "(() => { const s = document.getElementById('f-slice');"
        " s.selectedIndex = [...s.options].findIndex(o => o.value === 'synthetic');"
        " s.dispatchEvent(new Event('change')); })()"
    )
    assert {c["slices"][0] for c in visible()} == {"synthetic"}
    assert matching() == sum(c["slices"] == ["synthetic"] for c in data["cases"]) > 0
    set_control(page, "f-slice", "")
    needle = data["texts"][data["cases"][7]["texts"][0]][:30]  # the start of the 8th case's prompt
    set_control(page, "f-text", needle.upper(), "input")
    prompts = [key for key, _ in data["fields"]].index("prompt")
    assert data["cases"][7]["item"] in rows(page)
    assert all(needle.lower() in data["texts"][c["texts"][prompts]].lower() for c in visible())
    set_control(page, "f-text", "no such text anywhere", "input")
    assert matching() == 0 and page.evaluate("document.getElementById('no-match').hidden") is False
    set_control(page, "f-text", "", "input")
    assert matching() == held

    # sorting: by item id (numeric order) across all pages, then back to the ranking
    set_control(page, "f-sort", "item")
    assert rows(page) == sorted(cases, key=natural_key)[:25]
    set_control(page, "f-sort", "ndis")
    counts = [c["n_disagree"] for c in visible()]
    assert counts == sorted(counts, reverse=True) and counts[0] == max(c["n_disagree"] for c in data["cases"])
    page.evaluate(
        "document.querySelector('#case-table button[data-sort=\"user\"]').click()"
    )  # a column's name
    assert page.evaluate("document.getElementById('f-sort').value") == "user"
    users = [c["user"] for c in visible()]
    assert users == sorted(users, key=natural_key) and users[0] == min(
        (c["user"] for c in data["cases"]), key=natural_key
    )
    page.evaluate(
        "document.querySelector('#case-table button[data-sort=\"user\"]').click()"
    )  # the same column's name again: the reverse order
    reversed_users = [c["user"] for c in visible()]
    assert reversed_users == sorted(reversed_users, key=natural_key, reverse=True)
    assert reversed_users[0] == max((c["user"] for c in data["cases"]), key=natural_key)
    assert page.evaluate("document.querySelector('th.c-user').getAttribute('aria-sort')") == "descending"
    assert page.evaluate("location.hash") == "#cases?sort=user&desc=1"
    set_control(page, "f-sort", "rank")
    assert rows(page) == ranked[:25] and page.evaluate("location.hash") == "#cases"

    # the view in the address: filters and sort, restored by a page opened at that address
    set_control(page, "f-judge", judge)
    set_control(page, "f-text", "the", "input")
    page.evaluate("document.querySelector('#case-table button[data-sort=\"item\"]').click()")
    page.evaluate("document.querySelector('#case-table button[data-sort=\"item\"]').click()")
    view, shown, counted = page.evaluate("location.hash"), rows(page), text_of(page, "f-count")
    assert view == f"#cases?judge={quote(judge)}&q=the&sort=item&desc=1", view
    assert shown == sorted(shown, key=natural_key, reverse=True)
    page.events.clear()
    page.call("Page.reload")
    page.wait_for("Page.loadEventFired", timeout=30)
    page.drain(0.3)
    assert rows(page) == shown and text_of(page, "f-count") == counted
    assert page.evaluate("document.getElementById('f-judge').value") == judge
    assert page.evaluate("document.getElementById('f-text').value") == "the"
    # a value the lists do not offer is left out, the rest still applies
    page.evaluate("location.hash = '#cases?judge=no-such-judge&sort=ndis'")
    page.drain(0.3)
    assert page.evaluate("document.getElementById('f-judge').value") == ""
    assert text_of(page, "f-count") == f"{held} of {held} cases match"
    assert page.evaluate("location.hash") == "#cases?sort=ndis"
    set_control(page, "f-sort", "rank")
    assert rows(page) == ranked[:25] and page.console_errors() == []

    # keyboard: j moves down, Enter opens (and sets the permalink), Escape closes, n turns the page, / searches
    page.evaluate("document.activeElement.blur()")
    press(page, "n")  # focus outside the browser: its keys leave the page alone
    assert rows(page) == ranked[:25]
    page.evaluate("document.querySelector('#case-rows tr.case-row').focus()")
    press(page, "j")
    press(page, "ArrowDown")
    assert page.evaluate("document.activeElement.dataset.item") == ranked[2]
    press(page, "Enter")
    assert page.evaluate("document.querySelectorAll('tr.case-detail').length") == 1
    assert page.evaluate("location.hash") == "#case=" + ranked[2]
    detail = page.evaluate("document.querySelector('tr.case-detail').innerText")
    third = cases[ranked[2]]
    for k in third["texts"]:
        if k is not None:
            assert data["texts"][k].split("\n")[0] in detail
    assert "link to this case" in detail
    # one verdict row per verdict, under its judge's name; no raw-output column, for every raw output of the demo
    # repeats its label or its score
    verdict_rows = page.evaluate(
        "[...document.querySelectorAll('tr.case-detail table.verdicts tbody tr')].map(r => r.cells[0].textContent)"
    )
    assert verdict_rows == [data["names"][v[0]] for v in third["verdicts"]]
    assert "Raw output" not in detail
    keep_screenshot(screenshot(page, 1400, 1100, "cases"), "demo-cases-1400.png", tmp_path)
    keep_screenshot(screenshot(page, 390, 1400, "cases"), "demo-cases-390.png", tmp_path)
    page.call("Emulation.clearDeviceMetricsOverride")
    press(page, "Escape")
    assert page.evaluate("document.querySelectorAll('tr.case-detail').length") == 0
    press(page, "n")
    assert rows(page) == ranked[25:50] and page.evaluate("document.activeElement.dataset.item") == ranked[25]
    press(page, "/")
    assert page.evaluate("document.activeElement.id") == "f-text"
    press(page, "j")  # typed into the search box, not a move
    assert page.evaluate("document.getElementById('f-text').value") == "j"
    press(page, "Escape")
    set_control(page, "f-text", "", "input")

    # a permalink to a case on a later page, filtered out at first: the page clears the filters and opens it
    target = ranked[60]
    set_control(page, "f-user", next(c["user"] for c in data["cases"] if c["user"] != cases[target]["user"]))
    page.evaluate(f"location.hash = {json.dumps('#case=' + target)}")
    page.drain(0.3)
    assert target in rows(page) and text_of(page, "page-info") == f"page 3 of {pages}"
    assert (
        page.evaluate("document.querySelector('tr.case-row[aria-expanded=\"true\"]').dataset.item") == target
    )
    # ... and the same address opened fresh
    errors = page.console_errors()
    page.events.clear()
    page.evaluate(f"history.replaceState(null, '', {json.dumps('#case=' + ranked[40])})")
    page.call("Page.reload")
    page.wait_for("Page.loadEventFired", timeout=30)
    page.drain(0.3)
    assert ranked[40] in rows(page) and text_of(page, "page-info") == f"page 2 of {pages}"
    assert page.evaluate("document.querySelectorAll('tr.case-detail').length") == 1
    assert errors == [] and page.console_errors() == []

    png = screenshot(page, 1400, 3000)
    keep_screenshot(png, "demo-report-top.png", tmp_path)
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert image.size == (1400, 3000)
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # not a blank page


@pytest.mark.parametrize("kind", ["probes", "relevance", "extraction"])
def test_probes_and_stage_reports_are_small_short_and_browsable(browser, tmp_path, demo_json, kind):
    audit = json.loads((demo_json / kind / "audit.json").read_text(encoding="utf-8"))
    path = tmp_path / f"{kind}.html"
    html = reports.render_html(audit)
    path.write_text(html, encoding="utf-8")
    data = case_data(html)
    page = browser.open(path)
    assert_clean(page, path)
    paint = first_paint_ms(page)
    size, height = assert_within_limits(page, path)
    held = len(data["cases"])
    print(f"{kind} report: {size / 1e6:.2f} MB, {height:,} px, first paint {paint:.0f} ms, {held} cases")
    assert rows(page) == [c["item"] for c in data["cases"][:25]]
    assert text_of(page, "f-count") == f"{held} of {held} cases match"
    assert page.evaluate("document.querySelectorAll('#case-table thead th.c-judge').length") == len(
        data["judges"]
    )
    page.evaluate("document.querySelector('#case-rows tr.case-row').click()")
    assert page.evaluate("document.querySelectorAll('tr.case-detail').length") == 1
    keep_screenshot(screenshot(page, 1400, 1100, "cases"), f"{kind}-cases-1400.png", tmp_path)
    assert page.console_errors() == []


def test_payloads_from_the_data_show_as_text_and_run_nothing(browser, tmp_path):
    path = tmp_path / "evil.html"
    path.write_text(reports.render_html(xss_audit()), encoding="utf-8")
    page = browser.open(path)
    assert_clean(page, path)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.title") == "Audit " + XSS_SCRIPT
    assert page.evaluate("document.images.length") == 0
    assert page.evaluate("[...document.scripts].map(s => s.type)") == ["application/json", ""]
    assert (
        page.evaluate("document.querySelectorAll('a[href^=\"javascript\"], [onerror], [onclick]').length")
        == 0
    )
    # open every case, then the payloads must be visible, literally
    page.evaluate("[...document.querySelectorAll('#case-rows tr.case-row')].forEach(r => r.click())")
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.evaluate("document.querySelectorAll('tr.case-detail').length") == 6
    text = page.evaluate("document.body.innerText")
    for payload in (XSS_SCRIPT, 'item-<img src=x onerror="window.__pwned=5">', "raw " + XSS_PAYLOAD):
        assert payload in text
    assert page.evaluate("document.images.length") == 0
    # the evil judge works as a filter value, and searching for the payload finds its case
    set_control(page, "f-judge", "<script>window.__pwned=4</script>evil|judge")
    assert text_of(page, "f-count").startswith("1 of ")
    set_control(page, "f-judge", "")
    set_control(page, "f-text", 'onerror="window.__pwned=5"', "input")
    assert text_of(page, "f-count").startswith("1 of ")
    page.evaluate("document.querySelector('a.permalink').click()")
    page.drain(0.3)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.title") == "Audit " + XSS_SCRIPT
    assert page.console_errors() == []
    keep_screenshot(screenshot(page, 1400, 3000), "xss-report.png", tmp_path)


def test_report_of_a_100000_item_audit_is_small_and_opens(browser, tmp_path):
    html = reports.render_html(build_big_audit())
    size = len(html.encode("utf-8"))
    path = tmp_path / "big.html"
    path.write_text(html, encoding="utf-8")
    page = browser.open(path)
    assert_clean(page, path)
    _, height = assert_within_limits(page, path)
    held = len(case_data(html)["cases"])
    text = " ".join(page.evaluate("document.body.innerText").split())
    assert f"The audit found 100,000 disagreement cases; this page holds {held}," in text
    assert "The auditor chose them" in text
    assert len(rows(page)) == 25
    keep_screenshot(screenshot(page, 1400, 3000), "big-report.png", tmp_path)
    print(f"100k audit: {size / 1e6:.2f} MB, {height:,} px, first paint {first_paint_ms(page):.0f} ms")
