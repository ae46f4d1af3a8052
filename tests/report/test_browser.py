"""The report in a real browser: headless Chromium opens it from a file:// URL with the network
off; the diagrams are SVG in the DOM, no request leaves the page, and it fits a phone's width.

Skips when Chromium or Playwright's Python package is absent (``.ci/run`` installs both)."""

from __future__ import annotations

import shutil

import pytest

from papercoder.report import write_report

from .runfixture import make_run

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser, page_path, width: int):
    context = browser.new_context(viewport={"width": width, "height": 800}, offline=True)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(page_path.resolve().as_uri())
    return context, page, requests


def test_diagrams_are_svg_and_nothing_is_requested(browser, tmp_path):
    html = write_report(make_run(tmp_path / "run"))
    context, page, requests = _open(browser, html, 1200)
    try:
        assert page.locator("svg.class-diagram").count() == 1
        assert page.locator("svg.sequence-diagram").count() == 1
        assert page.locator("svg.class-diagram text", has_text="Trainer").count() >= 1
        assert requests == [html.resolve().as_uri()]  # the page itself, nothing else
        page.locator("details#file-main-py > summary").click()
        assert page.locator("#file-main-py .highlight").is_visible()
    finally:
        context.close()


def test_the_page_fits_a_phone(browser, tmp_path):
    html = write_report(make_run(tmp_path / "run"))
    context, page, _ = _open(browser, html, 390)
    try:
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a phone's screen"
    finally:
        context.close()


def test_no_number_breaks_across_lines_on_a_phone(browser, tmp_path):
    html = write_report(make_run(tmp_path / "run"))
    context, page, _ = _open(browser, html, 390)
    try:
        broken = page.evaluate("""() => [...document.querySelectorAll('td, th')].filter(cell => {
            const text = cell.textContent.trim();
            if (!/^[$]?[0-9][0-9,.%]*(\u00a0s)?$/.test(text)) return false;  // a number, a cost, a time
            const range = document.createRange();
            range.selectNodeContents(cell);
            const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            return lines.size > 1;
        }).map(cell => cell.textContent.trim())""")
        assert broken == [], f"numbers broken across lines at 390 px: {broken[:5]}"
    finally:
        context.close()
