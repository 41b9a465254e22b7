"""The HTML report keeps long values inside the page (issue 29): the provenance table's paths, hub ids and
verifier versions wrap, and any table wider than the page scrolls in a box of its own."""

import html
import re
import shutil
from types import SimpleNamespace

import pytest

from tether.report.build import STYLE, html_table, provenance_table

LONG = "/scratch/users/someone/checkpoints/" + "very-long-run-name-" * 6 + "step-120000"


def _page() -> str:
    found = {"label": "base", "model": LONG, "engine": "transformers", "decoding": {"temperature": 1.0, "top_p": 1.0,
             "max_tokens": 4096}, "seed": 0, "k": 1024, "samples": 512_000, "tokens": 1_234_567_890,
             "verifier_versions": {"math": "math/" + "x" * 120}, "truncation_rate": 0.01}
    data = SimpleNamespace(overall=SimpleNamespace(provenance={"base": found, "rl": {**found, "label": "rl"}}))
    return (f"<!doctype html><html><head><style>{STYLE}</style></head><body><h1>report</h1>"
            f"{html_table(*provenance_table(data), long=True)}</body></html>")


def test_long_values_wrap_and_wide_tables_scroll_in_their_own_box():
    page = _page()
    assert re.search(r"\.table\{[^}]*overflow-x:auto", STYLE) and re.search(r"table\.long td\{[^}]*overflow-wrap:anywhere",
                                                                             STYLE)
    assert '<div class="table"><table class="long">' in page and html.escape(LONG) in page
    assert html_table(["a"], [["1"]]) == ('<div class="table"><table><thead><tr><th>a</th></tr></thead>'
                                           "<tbody><tr><td>1</td></tr></tbody></table></div>")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
@pytest.mark.parametrize("width", [1200, 700])
def test_a_browser_draws_the_provenance_table_inside_the_page(tmp_path, width):
    sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra").sync_playwright
    path = tmp_path / "report.html"
    path.write_text(_page())
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(path.as_uri(), wait_until="load")
        page_width = page.evaluate("document.documentElement.scrollWidth")
        body = page.locator("body").bounding_box()
        box = page.locator("div.table, table").first.bounding_box()
        browser.close()
    assert page_width <= width  # nothing sideways on the page itself
    assert box["x"] + box["width"] <= body["x"] + body["width"] + 1
