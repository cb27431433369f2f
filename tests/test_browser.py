"""The HTML write-up and the local page in a real browser: Debian's chromium driven by
Playwright (no browser download). Under CI=true a missing chromium or playwright fails."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from test_serve import NET, RIGHT_CODE, Server

import gradscribe as gs

CHROMIUM = "/usr/bin/chromium"


def _need_browser():
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip, the test extra)")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        missing.append("chromium (apt)")
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"missing under CI=true: {', '.join(missing)}; .ci/run installs them")
        pytest.skip(f"missing: {', '.join(missing)}")


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


UNRENDERED = """() => [...document.querySelectorAll('math')].filter(m => {
    const r = m.getBoundingClientRect(); return r.width === 0 || r.height === 0; }).length"""


@pytest.mark.parametrize("net,example", [("1-8-4-1:relu,relu,identity:mse", True),
                                         ("tests/data/seed004.toml", False)])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_write_up_opens_offline_with_every_formula_rendered(browser, tmp_path, net, example, lang):
    path = tmp_path / "writeup.html"
    path.write_text(gs.network(net).html(lang=lang, example=example), encoding="utf-8")
    context = browser.new_context(offline=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    assert requests == [path.as_uri()]  # nothing fetched beyond the file itself
    count = page.evaluate("document.querySelectorAll('math').length")
    assert count > 30
    assert page.evaluate(UNRENDERED) == 0  # every <math> laid out by the MathML engine
    # MathML Core: an <mfrac> is laid out as a fraction (numerator above the denominator)
    assert page.evaluate("""() => { const f = document.querySelector('mfrac');
        if (!f) return true; const [a, b] = f.children;
        return a.getBoundingClientRect().bottom <= b.getBoundingClientRect().top + 1; }""")
    text = page.evaluate("document.body.innerText")
    assert "\\" not in text.split("Body sha256")[0].replace(
        page.evaluate("[...document.querySelectorAll('pre')].map(p => p.innerText).join('')"), "")
    assert "\\frac" not in text and "\\begin" not in text and "$" not in text
    assert page.evaluate("document.querySelectorAll('svg.drawing').length") == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no page-wide scroll
    page.screenshot(path=str(tmp_path / f"writeup-{lang}.png"), full_page=False)
    page.locator("#backward").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / f"writeup-{lang}-backward.png"), full_page=False)
    context.close()


def test_the_page_in_a_browser(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    page = context.new_page()
    page.goto(server.url)
    page.fill("#net", NET)
    start = time.perf_counter()
    page.click("#derive")
    page.wait_for_selector("article.derivation math")
    round_trip = time.perf_counter() - start
    assert page.evaluate("document.querySelectorAll('article math').length") > 20
    assert page.evaluate("document.querySelectorAll('article svg.drawing circle').length") == 6
    assert page.evaluate(UNRENDERED) == 0
    page.screenshot(path=str(tmp_path / "page-derived.png"))

    page.fill("#formula", "dW2 = D2 @ R1.T / 2")
    page.click("#check-formula")
    verdict = page.inner_text("#formula-verdict")
    assert "WRONG: dW2" in verdict and "factor" in verdict.lower()
    page.locator("#formula-verdict").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "page-formula.png"))

    page.fill("#code", RIGHT_CODE)
    page.fill("#func", "backward")
    page.click("#check-code")
    assert page.inner_text("#code-verdict strong") == "all right"
    page.locator("#code-verdict").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "page-code.png"))

    with page.expect_download() as info:
        page.click("#download-html")
    saved = tmp_path / "download.html"
    info.value.save_as(saved)
    assert info.value.suggested_filename == "net.html"
    assert saved.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    page.fill("#net", "1-2:relu:nonsense")
    page.click("#derive")
    assert "nonsense" in page.inner_text("#message")
    context.close()
    print(f"round trip (derive + render + load) {round_trip:.2f} s")
    assert round_trip < 2.0


def test_a_typical_network_round_trip_is_under_two_seconds(browser, server):
    """784-128-10, fresh (nothing cached): submitted, derived, rendered and laid out."""
    page = browser.new_page()
    page.goto(server.url)
    page.fill("#net", "784-128-10:relu,softmax:cross_entropy:row")
    start = time.perf_counter()
    page.click("#derive")
    page.wait_for_selector("article.derivation math")
    seconds = time.perf_counter() - start
    page.close()
    print(f"784-128-10 round trip {seconds:.2f} s")
    assert seconds < 2.0
