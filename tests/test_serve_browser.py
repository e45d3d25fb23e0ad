"""The playground page in a real headless Chromium, driven by Playwright, against a real loopback server.

Skips (with the reason) only where Playwright for Python or the system's
Chromium is missing; CI installs both (`.ci/run`: apt-get install chromium).
Playwright's own browser downloads are never used: the test points it at the
Debian `chromium` binary.
"""

from __future__ import annotations

import shutil

import pytest

from wordgen.serve.app import create_app
from wordgen.serve.playground import Limits, Playground
from wordgen.serve.server import BackgroundServer

LONG = 100_000  # tokens: a generation that runs until it is stopped
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason='Playwright for Python is missing: pip install -e ".[dev]"')
if CHROMIUM is None:
    pytest.skip("no chromium on PATH: apt-get install -y chromium (see .ci/run)", allow_module_level=True)


@pytest.fixture(scope="module")
def page_url(tiny_checkpoints):
    playground = Playground.load([str(tiny_checkpoints["word"]), str(tiny_checkpoints["char"])], device="cpu",
                                 limits=Limits(max_tokens=LONG))
    with BackgroundServer(create_app(playground)) as server:
        yield server.url + "/"
    playground.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def test_generate_hover_and_tokenize_in_the_browser(browser, page_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(page_url)
    page.wait_for_selector("#ckpt-a option", state="attached")
    assert page.input_value("#ckpt-b") == "char"  # two checkpoints: side by side from the start

    page.fill("#prompt", "ROMEO:")
    page.fill("#max-tokens", "40")
    page.click("#generate")
    word_tokens = page.locator('.column[data-checkpoint="word"] .tok')
    word_tokens.first.wait_for(state="attached")  # the first tokens are on the page...
    page.wait_for_function("!document.querySelector('#generate').disabled")  # ...then the stream ends
    assert word_tokens.count() == 40
    assert page.locator('.column[data-checkpoint="char"] .tok').count() == 40
    assert "done" in page.inner_text("#gen-status")
    shade = word_tokens.nth(2).evaluate("t => t.style.background")
    assert shade.startswith("rgb")  # shaded by its probability

    # Hovering a token shows the ten candidates, the drawn one marked.
    visible = page.locator('.column[data-checkpoint="word"] .tok:not(:empty)').nth(2)
    visible.hover()
    page.wait_for_selector("#tip:not([hidden])")
    rows = page.locator("#tip tr.cand")
    assert rows.count() in (10, 11)  # 11: the drawn token was not among the ten
    assert page.locator("#tip tr.drawn").count() == 1
    assert "model" in page.inner_text("#tip")

    # The tokenization view: both tokenizers, ids shown, <unk> marked.
    page.click("#tab-tokenize")
    assert page.is_visible("#view-tokenize") and not page.is_visible("#view-generate")
    page.fill("#tok-text", "ROMEO: yonder xylophone")
    page.click("#tokenize-run")
    page.wait_for_selector('.column[data-checkpoint="char"] .chip')
    word_chips = page.locator('.column[data-checkpoint="word"] .chip')
    assert word_chips.count() == 4  # ROMEO : yonder <unk>
    assert page.locator('.column[data-checkpoint="word"] .chip.unk').count() == 1
    assert page.locator('.column[data-checkpoint="char"] .chip').count() == len("ROMEO: yonder xylophone")
    assert "tokens per character" in page.inner_text('.column[data-checkpoint="word"] .stats')
    assert errors == []
    page.close()


def test_stop_and_pick_the_next_word_in_the_browser(browser, page_url):
    page = browser.new_page()
    page.goto(page_url)
    page.wait_for_selector("#ckpt-a option", state="attached")
    page.select_option("#ckpt-b", "")
    page.fill("#max-tokens", str(LONG))  # minutes of tokens: only Stop ends it
    page.click("#generate")
    page.wait_for_function("document.querySelectorAll('.tok').length >= 5")
    page.click("#stop")
    page.wait_for_function("!document.querySelector('#generate').disabled")
    assert page.inner_text("#gen-status") == "stopped"
    for _ in range(500):  # the server sees the fetch aborted and stops generating
        if page.request.get(page_url + "api/stats").json()["active"] == 0:
            break
        page.wait_for_timeout(20)
    assert page.request.get(page_url + "api/stats").json()["active"] == 0

    page.click("#tab-pick")
    page.click("#pick-start")
    page.wait_for_selector("#pick-candidates button")
    assert page.locator("#pick-candidates button").count() == 10
    first = page.locator("#pick-candidates button").nth(0)
    chosen = first.locator(".t").inner_text()
    first.click()
    page.wait_for_function(f"document.querySelector('#pick-text strong').textContent.includes({chosen!r})")
    page.click("#pick-continue")
    page.wait_for_selector("#pick-out .tok.forced", state="attached")
    page.close()
