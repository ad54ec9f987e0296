"""The pages in a real headless browser: Debian's chromium driven by Playwright (``executable_path``; Playwright's
own browser download is never used). Screenshots of the passage page and the ask page go to var/screenshots/."""

import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import ROOT
from tests.newsbot_serve import LONG_TARGET, Served

pytestmark = pytest.mark.e2e
SCREENSHOTS = ROOT / "var" / "screenshots"
PHONE = {"width": 412, "height": 760}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    if chromium is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: the browser tests must run there
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE)
    opened = context.new_page()
    yield opened
    context.close()


def in_view(page: Page) -> bool:
    return page.evaluate(
        "() => { const r = document.getElementById('q').getBoundingClientRect();"
        " return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; }"
    )


def test_the_highlighted_span_is_in_view_after_load(served: Served, page: Page):
    article_id = served.article_with(LONG_TARGET)
    page.goto(served.span_url(article_id, LONG_TARGET))
    assert page.inner_text("mark#q") == LONG_TARGET
    assert page.evaluate("window.scrollY") > 1000 and in_view(page)  # scrolled down a long article to the mark

    derna = served.span_url(served.article_with("An Islamist coalition"), "An Islamist coalition in eastern Libya")
    page.goto(derna)
    assert in_view(page) and page.is_visible("p.check.ok")


def test_hostile_article_text_runs_nothing(served: Served, page: Page):
    article_id = served.article_with("The harbour council met")
    page.goto(served.span_url(article_id, "It agreed a new ferry timetable."))
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None and page.title() != "PWNED"
    assert page.evaluate("document.querySelectorAll('main script, main img, main svg').length") == 0
    assert "<script>window.__pwned" in page.inner_text("div.text")  # shown as the text it is
    assert "onerror" in page.inner_text("h1")

    question = '"><script>window.__pwned=1</script>'
    page.goto(f"{served.base}/?{urlencode({'q': question})}")
    page.wait_for_load_state("load")
    assert page.evaluate("window.__pwned") is None and page.input_value("#question") == question


def test_the_ask_page_answers_with_working_passage_links(served: Served, page: Page):
    page.goto(served.base + "/")
    page.fill("#question", "Who controls Derna?")
    page.click("form.ask button")
    page.wait_for_selector("section.answer", timeout=120_000)
    assert "Majlis" in page.inner_text("section.answer > p")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "ask-page.png", full_page=True)

    quote = page.inner_text("ol.sources li:first-child blockquote")
    page.click("ol.sources li:first-child a.open")
    page.wait_for_selector("mark#q")
    assert " ".join(page.inner_text("mark#q").split()) == quote
    assert page.is_visible("p.check.ok") and in_view(page)
    page.screenshot(path=SCREENSHOTS / "passage-page.png", full_page=True)  # [1] of the seed's Derna answer
    page.go_back()
    page.click("section.answer > p a >> nth=0")  # the [1] in the answer's text opens the same passage
    page.wait_for_selector("mark#q")
    assert " ".join(page.inner_text("mark#q").split()) == quote
