"""A shared link in a real browser: draw points on the canvas, train, select, forget, then open the page's own
URL in a fresh browser context (a new Streamlit session, nothing shared but the link) and find the same points,
the same forget history and the same forgotten ids.

Run alone with ``python -m pytest -q tests/e2e/test_share_browser.py``.
"""
from __future__ import annotations

import os
import re
from urllib.parse import parse_qs, urlparse

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.access(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"), os.X_OK):
    pytest.skip("no system Chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

from .canvasutil import ROOT, isolated_point, open_canvas_page, plot_box, points, state  # noqa: E402
from .pageutil import RUN_TIMEOUT_MS, assert_no_exception, settle  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
expect.set_options(timeout=20_000)
SHOTS = os.environ.get("SHARE_SHOTS")  # a folder: save screenshots of Draw mode and of the share section there


def history_lines(page: Page) -> list[str]:
    return page.get_by_text(re.compile(r"forgot \d+ point\(s\) in \d+ steps")).all_inner_texts()


def test_a_drawing_and_its_history_travel_in_the_link(app_page: Page, app_url: str, chromium):
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=120&seed=0&fit_epochs=60")
    page.locator("[data-testid='stSidebar']").get_by_text("Draw", exact=True).click()
    settle(page)
    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.mode === 'draw'")
    n0 = len(points(page))
    box = plot_box(page)
    for fx, fy in [(0.08, 0.08), (0.14, 0.1), (0.9, 0.92)]:  # corners: empty space
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        page.wait_for_timeout(80)
    settle(page)
    page.wait_for_function(f"n => document.querySelectorAll(\"{ROOT} li[data-id]\").length === n", arg=n0 + 3,
                           timeout=20_000)
    page.get_by_role("button", name="Train").click()
    settle(page)
    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.mode === 'select'",
                           timeout=RUN_TIMEOUT_MS)
    pt = isolated_point(page, "train")
    page.mouse.click(pt["x"], pt["y"])
    settle(page)
    expect(page.get_by_role("heading", name="1 point selected")).to_be_visible()
    page.get_by_role("button", name="Forget with jit").click()
    page.wait_for_function(f"() => document.querySelectorAll(\"{ROOT} li[data-kind=forgotten]\").length === 1",
                           timeout=RUN_TIMEOUT_MS)
    settle(page)
    page.wait_for_function("() => location.search.includes('hist=') && location.search.includes('data=')",
                           timeout=20_000)
    assert_no_exception(page)
    link = page.url
    q = parse_qs(urlparse(link).query)
    assert len(link) < 8000 and q["dataset"] == ["moons"]
    before = sorted((p["id"], p["cls"], p["kind"], round(p["x"], 1), round(p["y"], 1)) for p in points(page))
    assert len(before) == n0 + 3
    forgotten = [p[0] for p in before if p[2] == "forgotten"]
    assert forgotten == [pt["id"]]
    assert len(history_lines(page)) == 1
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, "draw_trained.png"))
        page.get_by_role("heading", name="Share and export").scroll_into_view_if_needed()
        page.screenshot(path=os.path.join(SHOTS, "share_section.png"))

    # A fresh browser context: its own cookies, its own Streamlit session; only the link travels.
    ctx = chromium.new_context(viewport={"width": 1400, "height": 1100})
    ctx.set_default_timeout(30_000)
    try:
        fresh = ctx.new_page()
        fresh.goto(link)
        fresh.wait_for_selector("[data-testid='stAppViewContainer']")
        fresh.wait_for_selector(f"{ROOT} canvas", timeout=RUN_TIMEOUT_MS)
        settle(fresh)
        try:
            fresh.wait_for_function(
                f"() => document.querySelectorAll(\"{ROOT} li[data-kind=forgotten]\").length === 1",
                timeout=RUN_TIMEOUT_MS)
        except Exception:
            if SHOTS:
                fresh.screenshot(path=os.path.join(SHOTS, "fresh_failed.png"), full_page=True)
            raise
        settle(fresh)
        assert_no_exception(fresh)
        # one canvas: a fresh page's first run reruns at once, and the canvas once mounted itself twice then
        assert fresh.locator(ROOT).count() == 1
        after = sorted((p["id"], p["cls"], p["kind"], round(p["x"], 1), round(p["y"], 1)) for p in points(fresh))
        assert [a[:3] for a in after] == [b[:3] for b in before]  # same points, classes, split and forgotten ids
        assert all(abs(a[3] - b[3]) <= 1 and abs(a[4] - b[4]) <= 1 for a, b in zip(after, before))  # same places
        assert len(history_lines(fresh)) == 1  # one forget request
        expect(fresh.get_by_text(re.compile("came with the link and were replayed"))).to_be_visible()
        assert fresh.locator("[data-testid='stSidebar'] label").filter(has_text=re.compile("^Draw$")).count() >= 1
        assert state(fresh)["mode"] == "select"
    finally:
        ctx.close()
