"""The Images page in a real browser: run a small digits benchmark, see the table, the gap plot and the
forget images with each model's predictions. Skipped without Playwright or a system Chromium (see conftest.py)."""
from __future__ import annotations

import os

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.access(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"), os.X_OK):
    pytest.skip("no system Chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

from .pageutil import RUN_TIMEOUT_MS, assert_no_exception, settle  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a real server and browser: not in the fast loop
expect.set_options(timeout=10_000)




def test_images_run_digits_shows_table_plot_and_forget_images(app_page: Page, app_url: str):
    page = app_page
    page.goto(f"{app_url}/images")
    page.wait_for_selector("[data-testid='stAppViewContainer']")
    settle(page)
    expect(page.get_by_role("heading", level=1).first).to_have_text("Unlearning on images")
    assert_no_exception(page)
    code = page.get_by_test_id("stCode")
    expect(code).to_contain_text("--dataset digits")

    page.get_by_text("Advanced: training").click()
    settle(page)
    epochs = page.get_by_test_id("stNumberInputField").last
    epochs.fill("5")  # an undertrained model, but a quick run (the page says so)
    epochs.press("Enter")
    settle(page)
    expect(code).to_contain_text("--train-epochs 5")

    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_test_id("stProgress")).to_be_visible()  # fed by run_benchmark's progress callback
    settle(page)
    assert_no_exception(page)
    expect(page.get_by_role("heading", name="Results")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    table = page.get_by_test_id("stTable").first
    expect(table).to_contain_text("forget acc % (→ retrain)")
    expect(table).to_contain_text("scrub")
    expect(page.get_by_text("The original model reaches only", exact=False)).to_contain_text("undertrained")
    page.wait_for_function("() => { const gd = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');"
                           " return gd && gd._fullData && gd._fullData.length === 1"
                           " && gd._fullData[0].type === 'bar'; }")
    methods = page.evaluate("() => Array.from(document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')"
                            "._fullData[0].x)")
    assert methods == ["original", "jit", "finetune", "random_label", "ssd", "scrub"]
    expect(page.get_by_role("heading", name="Forget images, before and after")).to_be_visible()
    grid = page.get_by_test_id("stDataFrame")
    expect(grid).to_have_count(1)
    # image, true label, original, retrain and the five methods, each with how many images keep their true label
    headers = grid.locator("[role=columnheader]")  # the grid draws on a canvas; its accessible headers are hidden
    expect(headers).to_have_count(9)
    names = headers.all_text_contents()
    assert names[:2] == ["image", "true"] and [n.split()[0] for n in names[2:]] == [
        "original", "retrain", "jit", "finetune", "random_label", "ssd", "scrub"]
    assert all(n.endswith("/8") for n in names[2:])
