"""The HTML report in headless Chromium: loads from disk, no console error, no request but the file itself,
scripts from the data never run, the case browser filters, a 100,000-item audit opens.

Skipped only when Debian's ``chromium`` is not installed (``scripts/install-test-deps.sh`` installs it).
Set ``AUDITOR_SCREENSHOT_DIR`` to keep the screenshots.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from chromium_cdp import Chromium, find_chromium
from report_fixtures import (
    XSS_IMG,
    XSS_LINK,
    XSS_PAYLOAD,
    XSS_SCRIPT,
    build_big_audit,
    xss_audit,
)

import reports

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        find_chromium() is None, reason="chromium is not installed (apt-get install chromium)"
    ),
]


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


def natural_key(text: str) -> list:
    """``item-2`` before ``item-10``, as the page's numeric localeCompare sorts."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def set_control(page, element_id: str, value: str, event: str = "change") -> None:
    """Set a form control like a user would and fire its event (values passed as JSON, never spliced raw)."""
    page.evaluate(
        f"(() => {{ const c = document.getElementById({json.dumps(element_id)}); c.value = {json.dumps(value)};"
        f" c.dispatchEvent(new Event({json.dumps(event)})); }})()"
    )


def assert_clean(page, path: Path) -> None:
    assert page.console_errors() == []
    assert page.requests() == [path.resolve().as_uri()]


def test_demo_report_opens_from_disk_cleanly_and_looks_like_a_report(browser, tmp_path, demo_json):
    audit = json.loads((demo_json / "audit.json").read_text(encoding="utf-8"))
    path = tmp_path / "report.html"
    path.write_text(reports.render_html(audit), encoding="utf-8")
    page = browser.open(path)
    assert_clean(page, path)
    text = page.evaluate("document.body.innerText")
    assert "SIMULATED DATA" in text
    assert "Humans found the personalized response no better in" in text
    assert "human raters (ceiling)" in text
    assert page.evaluate("document.querySelectorAll('svg').length") >= 4
    assert page.evaluate("document.querySelectorAll('table.metrics').length") >= 3

    png = page.screenshot(1400, 3000)
    keep_screenshot(png, "demo-report-core.png", tmp_path)
    from PIL import Image

    image = Image.open(io.BytesIO(png))
    assert image.size == (1400, 3000)
    colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # not a blank page

    # the case browser: filter by the first judge, then by disagreement type, then by a user
    judge = page.evaluate("document.querySelector('#f-judge option:nth-child(2)').value")
    total = page.evaluate("document.querySelectorAll('article.case').length")
    set_control(page, "f-judge", judge)
    visible = page.evaluate(
        "[...document.querySelectorAll('article.case')].filter(a => !a.hidden)"
        ".map(a => JSON.parse(a.dataset.pairs).map(p => p[0]))"
    )
    assert 0 < len(visible) <= total
    assert all(judge in judges for judges in visible)
    set_control(page, "f-type", "judge_better_reference_no_better")
    pairs = page.evaluate(
        "[...document.querySelectorAll('article.case')].filter(a => !a.hidden)"
        ".map(a => JSON.parse(a.dataset.pairs))"
    )
    assert all([judge, "judge_better_reference_no_better"] in p for p in pairs)
    count = page.evaluate("document.getElementById('f-count').textContent")
    assert count == f"{len(pairs)} of {total} shown"
    set_control(page, "f-sort", "item")
    items = page.evaluate("[...document.querySelectorAll('article.case')].map(a => a.dataset.item)")
    assert items == sorted(items, key=natural_key)
    page.drain(0.2)
    assert page.console_errors() == []


def test_payloads_from_the_data_show_as_text_and_run_nothing(browser, tmp_path):
    path = tmp_path / "evil.html"
    path.write_text(reports.render_html(xss_audit()), encoding="utf-8")
    page = browser.open(path)
    assert_clean(page, path)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.title") == "Audit " + XSS_SCRIPT
    assert page.evaluate("document.images.length") == 0
    assert page.evaluate("document.scripts.length") == 1
    assert (
        page.evaluate("document.querySelectorAll('a[href^=\"javascript\"], [onerror], [onclick]').length")
        == 0
    )
    # open every collapsed text, then the payloads must be visible, literally
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    text = page.evaluate("document.body.innerText")
    for payload in (XSS_SCRIPT, XSS_IMG, XSS_LINK, "<script>window.__pwned=4</script>evil|judge"):
        assert payload in text
    assert XSS_PAYLOAD in text
    # the evil judge works as a filter value, and searching for the payload finds its case
    set_control(page, "f-judge", "<script>window.__pwned=4</script>evil|judge")
    assert page.evaluate("document.getElementById('f-count').textContent").startswith("1 of ")
    set_control(page, "f-text", 'onerror="window.__pwned=5"', "input")
    assert page.evaluate("document.getElementById('f-count').textContent").startswith("1 of ")
    page.drain(0.3)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.title") == "Audit " + XSS_SCRIPT
    assert page.console_errors() == []
    keep_screenshot(page.screenshot(1400, 3000), "xss-report.png", tmp_path)


def test_report_of_a_100000_item_audit_is_small_and_opens(browser, tmp_path):
    audit = build_big_audit()
    started = time.perf_counter()
    html = reports.render_html(audit)
    render_seconds = time.perf_counter() - started
    size = len(html.encode("utf-8"))
    assert size < 10_000_000, size
    path = tmp_path / "big.html"
    path.write_text(html, encoding="utf-8")
    started = time.perf_counter()
    page = browser.open(path)
    load_seconds = time.perf_counter() - started
    assert_clean(page, path)
    assert page.evaluate("document.querySelectorAll('article.case').length") == 500
    text = " ".join(page.evaluate("document.body.innerText").split())
    assert "The audit found 100,000 disagreement cases; this page shows 500." in text
    assert "The auditor sampled them" in text
    keep_screenshot(page.screenshot(1400, 3000), "big-report.png", tmp_path)
    print(
        f"100k audit: {size / 1e6:.2f} MB, rendered in {render_seconds:.1f} s, loaded in {load_seconds:.1f} s"
    )
