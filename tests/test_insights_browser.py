"""The search insights in a real browser: a visitor's search and click on `kunskap serve`, then
the staff's /kurera/insikter (charts, tables, period, CSV link), checked with axe-core.
Playwright drives Debian's /usr/bin/chromium; screenshots go to test-artifacts/."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import sys
import time

import pytest

from kunskap.insights import today
from kunskap.storage import SQLiteStore

from .conftest import SAMPLE, start_server, write_case
from .test_browser import (  # noqa: F401 (fixtures)
    STAFF_PASSWORD,
    axe_violations,
    browser,
    csp_violations,
    page,
    shot,
    staff_login,
)

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`kunskap serve` on the sample corpus, with a staff account; (base URL, database path)."""
    root = tmp_path_factory.mktemp("insights-browser")
    corpus = root / "corpus"
    for name, (title, org, body, meta) in SAMPLE.items():
        write_case(corpus, name, title, org, body, **meta)
    env = {**os.environ, "KUNSKAP_CORPUS": str(corpus), "KUNSKAP_INDEX": str(root / "index")}
    subprocess.run([sys.executable, "-m", "kunskap", "user", "add", "kansli", "--name", "Kansliet"], env=env,
                   input=STAFF_PASSWORD + "\n", text=True, check=True, capture_output=True)
    process, base = start_server(env)
    yield base, root / "index" / "kunskap.db"
    process.terminate()
    process.wait(timeout=30)


def seed(database, query: str, days: list[int], hits: int) -> None:
    """Earlier searches, as the server would have logged them (the threshold needs two days)."""
    store = SQLiteStore(database)
    store.record_searches([
        {"id": hashlib.sha256(f"{query}{i}".encode()).hexdigest()[:16],
         "day": (today() - dt.timedelta(days=d)).isoformat(), "query": query, "filters": "{}", "hits": hits,
         "shown": min(hits, 10), "source": "page", "theme": None} for i, d in enumerate(days)])
    store.close()


def test_a_search_and_a_click_reach_the_staff_insights(page, served):  # noqa: F811
    base, database = served
    seed(database, "vätgas i kollektivtrafiken", [1, 1, 2, 3, 3], hits=0)
    seed(database, "karin karlsson", [1, 2], hits=0)                  # below the threshold

    page.goto(base + "/")
    page.fill("#q", "cyklar och cykelvägar")
    page.press("#q", "Enter")
    page.wait_for_url("**/sok?q=*")
    page.locator("article.card h3 a").first.click()
    page.wait_for_url("**/dokument/*")
    assert "fran=" not in page.url                                    # redirected to the canonical page
    assert page.locator("h1").inner_text() == "Cykelvägar och cykelpendling i Lund"

    staff_login(page, base)
    page.get_by_role("link", name="Sökinsikter").click()
    page.wait_for_url("**/kurera/insikter")
    deadline = time.time() + 20                                       # the recorder writes every 2 s
    while "1" != page.locator("#klick-tabell tbody tr").first.locator("td").nth(1).inner_text() \
            and time.time() < deadline:
        time.sleep(0.5)
        page.reload()
    first = page.locator("#klick-tabell tbody tr").first.locator("td")
    assert [first.nth(i).inner_text() for i in range(3)] == ["1", "1", "100 %"]
    assert page.locator("#utan-traffar tbody th").all_inner_texts() == ["vätgas i kollektivtrafiken"]
    assert "karin karlsson" not in page.content()
    assert page.get_by_text("Dessutom 2 sökningar utan träffar med ovanliga frågor").is_visible()
    assert page.locator("figure.chart svg[role=img]").count() == 2
    assert page.get_by_role("img", name="Sökningar per vecka", exact=False).is_visible()
    assert axe_violations(page) == []
    shot(page, "insights")

    page.get_by_role("link", name="Senaste 30 dagar").click()
    page.wait_for_url("**/kurera/insikter?dagar=30")
    assert page.locator('a[aria-current="page"]').inner_text() == "Senaste 30 dagar"
    page.locator("details.chart-data summary").click()
    assert page.locator("details.chart-data table").is_visible()
    assert axe_violations(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Ladda ner frågorna som CSV").click()
    path = download.value.path()
    text = open(path, encoding="utf-8-sig").read()
    assert text.startswith("Fråga;Sökningar") and "vätgas i kollektivtrafiken;5;3" in text
    assert "karin" not in text


def test_the_insights_page_fits_a_phone(browser, served):  # noqa: F811
    base, _ = served
    context = browser.new_context(locale="sv-SE", viewport={"width": 375, "height": 800})
    phone = context.new_page()
    staff_login(phone, base)
    phone.goto(base + "/kurera/insikter")
    width = phone.evaluate("document.documentElement.scrollWidth")
    shot(phone, "insights-phone")
    context.close()
    assert width <= 375
