"""JupyterLab end to end in Debian's headless Chromium (Python Playwright).

Starts JupyterLab on loopback, runs the quickstart tutorial with two more cells that open
the history explorer, checks the explorer renders, clicks an event in it, and checks the
kernel saw the selection. Never skipped in CI (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from .lab_server import ARGS, CHROMIUM, ROOT, jupyter_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip("needs /usr/bin/chromium (installed by .ci/run)", allow_module_level=True)

EXPLORER_CELLS = [
    "%harvest list --limit 5",
    "ex = %harvest explore greet-ada --window 100\nex",
    "print('SELECTED', ex.selected_seq)",
]


@pytest.fixture
def lab(tmp_path: Path, db_url: str) -> Iterator[tuple[str, str]]:
    notebook = nbformat.read(ROOT / "notebooks" / "01_quickstart.ipynb", as_version=4)
    notebook.cells[1].source = f"database_url = {db_url!r}\ntimeout = 60"
    notebook.cells = [c for c in notebook.cells if "worker stop" not in c.source]
    notebook.cells += [nbformat.v4.new_code_cell(src) for src in EXPLORER_CELLS]
    nbformat.write(notebook, tmp_path / "quickstart.ipynb")
    with jupyter_lab(tmp_path, {"HARVEST_DATABASE_URL": db_url}) as served:
        yield served


def test_quickstart_explorer_selection_reaches_the_kernel(
    lab: tuple[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url)
                    if not r.url.startswith((base, "data:", "blob:")) else None)
            page.goto(f"{base}/lab/tree/quickstart.ipynb?token={token}&reset")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            expect(page.locator("#jp-main-statusbar").get_by_text("Idle")).to_be_visible(
                timeout=60_000
            )
            no = page.get_by_role("button", name="No")
            if no.count():
                no.first.click()
            cells = page.locator(".jp-Notebook .jp-Cell")
            total = cells.count()
            for index in range(total - 1):  # everything but the last cell
                # each cell chosen before its Shift+Enter: on a busy page a keypress can
                # land before Lab has moved on, and twenty in a row lose some
                cells.nth(index).locator(".jp-InputPrompt").click()
                page.keyboard.press("Shift+Enter")
            live, ours = page.locator(".hs-explorer").first, page.locator(".hs-explorer").last
            try:
                expect(live.locator(".hs-lanes .hs-bar").first).to_be_visible(timeout=90_000)
                # the live explorer of the slow run follows it: its axis moves on while
                # it runs, and it ends COMPLETED with a green bar per step, no reload
                ends = []
                deadline = time.time() + 60
                while live.locator(".hs-status").first.inner_text() != "COMPLETED":
                    assert time.time() < deadline, "the live explorer never showed the end"
                    ends.append(float(live.locator(".hs-timeline").get_attribute("data-t1")
                                      or 0))
                    page.wait_for_timeout(300)
                assert len(set(ends)) >= 3 and ends == sorted(ends), ends
                expect(live.locator(".hs-bar.hs-k-ok")).to_have_count(5, timeout=10_000)
                expect(ours.locator(".hs-lanes .hs-bar").first).to_be_visible(timeout=60_000)
            except AssertionError:
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                raise
            page.screenshot(path=str(tmp_path / "explorer.png"))
            row = ours.locator(".hs-table tbody tr").nth(1)
            expect(row).to_be_visible(timeout=30_000)
            chosen = row.get_attribute("data-seq")
            row.click()
            expect(ours.locator("tr.hs-sel")).to_have_count(1, timeout=10_000)
            last = cells.nth(total - 1)
            last.locator(".jp-InputPrompt").click()
            page.keyboard.press("Shift+Enter")
            expect(last.locator(".jp-OutputArea-output")).to_contain_text(
                f"SELECTED {chosen}", timeout=30_000
            )
            # a row of `%harvest list` opens that run's explorer under the table
            listing = page.locator(".hs-runlist")
            listing.locator("tr", has_text="greet-ada").click()
            nested = listing.locator(".hs-runlist-explorer .hs-explorer")
            try:
                expect(nested).to_contain_text("greet-ada", timeout=30_000)
            except AssertionError:
                page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                raise AssertionError(listing.inner_text()) from None
            expect(nested.locator(".hs-lanes .hs-bar").first).to_be_visible(timeout=10_000)
            listing.locator("tr", has_text="squares-5").click()
            expect(nested).to_contain_text("squares-5", timeout=30_000)
            assert outside == [], f"requests left loopback: {outside[:5]}"
        finally:
            browser.close()
