"""The Harvest extension inside a real JupyterLab, in Debian's headless Chromium: the
sidebar lists a run a kernel started and follows it to COMPLETED without a reload, the
status bar counts move, a click opens the explorer as a document (no kernel behind it),
and the palette opens a run by id. Never skipped in CI (``.ci/run`` installs Chromium)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

import harvest_studio as hs

from .lab_server import ARGS, CHROMIUM, jupyter_lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
    pytest.skip("needs /usr/bin/chromium (installed by .ci/run)", allow_module_level=True)

CELLS = [
    "import harvest_studio as hs\n%load_ext harvest_studio\nclient = hs.connect()",
    """import time

@hs.activity(start_to_close="30s")
def step(ctx, n):
    time.sleep(0.4)
    return n

@hs.activity(start_to_close="30s", retry=hs.RetryPolicy(max_attempts=1))
def explode(ctx):
    raise RuntimeError("this one fails on purpose")

@hs.workflow
async def slow_steps(ctx, count):
    for n in range(count):
        await ctx.execute_activity(step, n)
    await ctx.sleep(2)
    return count

@hs.workflow
async def doomed(ctx):
    await ctx.execute_activity(explode)""",
    "run = client.start(slow_steps, 4, id='lab-slow-1')\nprint('STARTED', run.run_id)",
    "client.start(doomed, id='lab-doomed-1')",
]


@pytest.fixture
def lab(tmp_path: Path, db_url: str) -> Iterator[tuple[str, str]]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, tmp_path / "runs.ipynb")
    with jupyter_lab(tmp_path, {"HARVEST_DATABASE_URL": db_url},
                     log=tmp_path / "lab.log") as served:
        yield served


def test_sidebar_status_bar_explorer_document_and_palette(
    lab: tuple[str, str], tmp_path: Path, client: hs.Client, db_url: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/runs.ipynb?token={token}&reset")
            page.wait_for_selector(".jp-Notebook", timeout=60_000)
            expect(page.locator("#jp-main-statusbar").get_by_text("Idle")).to_be_visible(
                timeout=60_000)
            # the sidebar: its tab is in the left bar; open it
            page.locator('.jp-SideBar [data-id="harvest-sidebar"]').click()
            sidebar = page.locator("#harvest-sidebar")
            expect(sidebar).to_be_visible()
            expect(sidebar.locator(".hv-live.hv-live-on")).to_be_visible(timeout=30_000)
            counts = page.locator(".hv-status")
            expect(counts.locator(".hv-count-running")).to_have_text("0", timeout=30_000)
            expect(counts.locator(".hv-count-failed")).to_have_text("0")

            cells = page.locator(".jp-Notebook .jp-Cell")
            cells.first.click()
            page.keyboard.press("Shift+Enter")  # connect
            page.keyboard.press("Shift+Enter")  # the definitions
            expect(cells.nth(1).locator(".jp-InputArea-prompt")).to_have_text(
                "[2]:", timeout=30_000)
            # the palette starts a worker in this notebook's kernel
            _palette(page, "Start a Worker in This Notebook")
            expect(page.locator(".Toastify__toast", has_text="in-kernel worker started")
                   ).to_be_visible(timeout=30_000)
            cells.nth(2).click()
            page.keyboard.press("Shift+Enter")  # start the slow run
            row = sidebar.locator("li.hv-run", has_text="lab-slow-1")
            expect(row).to_have_attribute("data-status", "RUNNING", timeout=60_000)
            expect(counts.locator(".hv-count-running")).to_have_text("1", timeout=30_000)
            # no reload: the same page sees the run end
            expect(row).to_have_attribute("data-status", "COMPLETED", timeout=60_000)
            expect(counts.locator(".hv-count-running")).to_have_text("0", timeout=30_000)

            page.keyboard.press("Shift+Enter")  # the run that fails
            failed = sidebar.locator("li.hv-run", has_text="lab-doomed-1")
            expect(failed).to_have_attribute("data-status", "FAILED", timeout=60_000)
            expect(failed).to_have_class("hv-run hv-status-failed")
            expect(counts.locator(".hv-count-failed")).to_have_text("1", timeout=30_000)
            expect(sidebar.locator(".hv-worker").first).to_contain_text("running", timeout=10_000)

            # a click opens the explorer as a document in the main area
            row.click()
            doc = page.locator(".hv-explorer-doc .hs-explorer")
            expect(doc).to_be_visible(timeout=30_000)
            expect(doc.locator(".hs-status").first).to_have_text("COMPLETED", timeout=30_000)
            expect(doc.locator(".hs-bar.hs-k-ok")).to_have_count(4, timeout=30_000)
            tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="slow_steps")
            expect(tab).to_be_visible()
            # the explorer's own table works against the server: a row selects an event
            table_row = doc.locator(".hs-table tbody tr").nth(2)
            table_row.click()
            expect(doc.locator("tr.hs-sel")).to_have_count(1, timeout=10_000)
            expect(doc.locator(".hs-inspector")).to_contain_text(
                table_row.get_attribute("data-seq") or "?", timeout=10_000)
            page.screenshot(path=str(tmp_path / "explorer-document.png"))

            # the palette opens a run by id
            _palette(page, "Open Run by Id")
            dialog = page.locator(".jp-Dialog")
            expect(dialog).to_be_visible(timeout=10_000)
            dialog.locator("input").fill("lab-doomed-1")
            page.keyboard.press("Enter")
            second = page.locator(".hv-explorer-doc .hs-explorer", has_text="lab-doomed-1")
            expect(second).to_be_visible(timeout=30_000)
            expect(second.locator(".hs-status").first).to_have_text("FAILED", timeout=30_000)

            # another namespace: the sidebar and the status bar follow the choice
            client.create_namespace("billing")
            with hs.connect(db_url, namespace="billing") as billing:
                billing.start("invoice", id="billing-run-1", force=True)
            choice = sidebar.locator("select.hv-namespace")
            expect(choice.locator("option", has_text="billing")).to_have_count(1, timeout=15_000)
            choice.select_option("billing")
            expect(sidebar.locator("li.hv-run")).to_have_count(1, timeout=15_000)
            expect(sidebar.locator("li.hv-run")).to_contain_text("billing-run-1")
            expect(counts.locator(".hv-count-running")).to_have_text("1", timeout=15_000)
            expect(counts.locator(".hv-count-failed")).to_have_text("0")
            choice.select_option("default")
            expect(sidebar.locator("li.hv-run", has_text="lab-doomed-1")).to_be_visible(
                timeout=15_000)

            # a reload brings the explorer tabs back, opened again from their runs
            page.reload()
            expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab",
                                has_text="lab-slow-1")).to_be_visible(timeout=60_000)
            expect(page.locator(".hv-explorer-doc .hs-explorer")).to_have_count(2,
                                                                                timeout=60_000)
        except AssertionError:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            print((tmp_path / "lab.log").read_text()[-3000:])
            raise
        finally:
            browser.close()


def _palette(page: object, command: str) -> None:
    page.keyboard.press("Control+Shift+C")  # type: ignore[attr-defined]
    page.keyboard.type(command)  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]


def test_the_launcher_card_opens_the_tour(lab: tuple[str, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{base}/lab?token={token}&reset")
            card = page.locator(".jp-LauncherCard", has_text="Harvest Tour")
            expect(card).to_be_visible(timeout=60_000)
            card.click()
            # this root has no notebooks/00_tour.ipynb: the packaged tour is copied once
            tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="harvest_tour")
            expect(tab).to_be_visible(timeout=30_000)
            expect(page.locator(".jp-Notebook")).to_contain_text("Harvest Studio in two minutes",
                                                                 timeout=30_000)
            assert (tmp_path / "harvest_tour.ipynb").is_file()
        except AssertionError:
            page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
