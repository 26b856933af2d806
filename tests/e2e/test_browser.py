"""The playground in a real browser: Streamlit server + headless system Chromium, driven by Playwright.

What AppTest cannot do (UX.md 3.4): click and drag on the canvas component, run its animation, read the
URL the browser shows. Run alone with ``python -m pytest -q tests/e2e``; skipped without Playwright or
Chromium (see conftest.py).
"""
from __future__ import annotations

import json
import os
import re

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.access(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"), os.X_OK):
    pytest.skip("no system Chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

from .canvasutil import (ROOT, drag, frame_classes, frame_grid, ids_inside, isolated_point,  # noqa: E402
                         open_canvas_page, plot_box, points, selected, state, wait_run_done)
from .pageutil import RUN_TIMEOUT_MS, assert_no_exception, settle  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a real server and browser: not in the fast loop
expect.set_options(timeout=10_000)

PLAYGROUND_TITLE = "Forget points, watch the boundary move"


def open_playground(page: Page, base: str, query: str) -> None:
    open_canvas_page(page, base, query)


def selected_heading(page: Page):
    return page.get_by_role("heading", name=re.compile(r"^\d+ points? selected$"))


def selected_count(page: Page) -> int:
    return int(selected_heading(page).inner_text().split()[0])


def click_point(page: Page, kind: str = "train") -> int:
    """Click the most isolated point of ``kind`` with the real mouse; the ring shows at once and the page
    reports it selected after the rerun. Returns its global id."""
    page.locator(ROOT).scroll_into_view_if_needed()
    pt = isolated_point(page, kind)
    page.mouse.click(pt["x"], pt["y"])
    assert selected(page) == [pt["id"]], "the ring is not on the clicked point"
    settle(page)
    expect(selected_heading(page)).to_have_text("1 point selected", timeout=5_000)
    return pt["id"]


def test_click_select_forget_animate(app_page: Page, app_url: str):
    """The app loads, a click on a data point selects it, Forget runs, the animation appears and plays,
    and the boundary differs from before."""
    page = app_page
    # epochs=3 with one point: stretched to batch 1 and 10 passes (>= 10 steps to watch), so 11 frames.
    open_playground(page, app_url, "?dataset=moons&n=300&seed=0&epochs=3")
    pts = points(page)
    assert any(p["kind"] == "train" and p["cls"] == 0 for p in pts) and not any(p["kind"] == "forgotten" for p in pts)
    assert state(page)["frames"] == "1"  # the model, no animation yet
    expect(selected_heading(page)).to_have_text("0 points selected")
    expect(page.get_by_role("button", name="Forget with jit")).to_be_disabled()
    shade_before = frame_grid(page, 0)
    boundary_before = frame_classes(page, 0)

    pid = click_point(page)
    assert selected(page) == [pid]

    forget = page.get_by_role("button", name="Forget with jit")
    expect(forget).to_be_enabled()
    forget.click()
    wait_run_done(page)  # live mode streams the frames first (data-live "true"); then the run is applied
    assert_no_exception(page)

    n = int(state(page)["frames"])
    assert n == 11, n  # frames 0..10: before, then after each of the 10 optimiser steps
    assert page.evaluate(f"() => document.querySelector(\"{ROOT}\").__view.steps")[0] == 0
    forgotten = [p["id"] for p in points(page) if p["kind"] == "forgotten"]
    assert forgotten == [pid]
    assert pid not in [p["id"] for p in points(page) if p["kind"] == "train"]
    assert selected(page) == []
    expect(selected_heading(page)).to_have_text("0 points selected")
    expect(page.get_by_text(re.compile(r"\bjit forgot 1 point"))).to_be_visible()  # the History

    # The last frame is the model after unlearning.
    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.playing === 'false'", timeout=30_000)
    shade_after = frame_grid(page, n - 1)
    boundary_after = frame_classes(page, n - 1)
    changed = sum(a != b for a, b in zip(shade_before, shade_after))
    assert changed > 0, "the canvas' class/confidence grid did not change after Forget"
    moved = sum(a != b for a, b in zip(boundary_before, boundary_after))
    assert moved > 0, f"the decision boundary did not move ({changed} confidence cells changed)"

    # Play: from the last frame it starts over and steps through the frames.
    assert state(page)["frame"] == str(n - 1)
    page.evaluate(f"""() => {{ window.seen = []; const r = document.querySelector("{ROOT}");
        const poll = () => {{ window.seen.push(+r.dataset.frame); if (window.seen.length < 2000) requestAnimationFrame(poll); }};
        poll(); }}""")
    page.locator(f"{ROOT} button[data-action='play']").click()
    page.wait_for_function(f"() => window.seen.some(a => a < {n - 1}) && "
                           f"document.querySelector(\"{ROOT}\").dataset.frame === '{n - 1}' && "
                           f"document.querySelector(\"{ROOT}\").dataset.playing === 'false'", timeout=15_000)
    played = sorted({a for a in page.evaluate("window.seen") if a < n - 1})
    assert len(played) >= 2, f"the player did not step through the frames while playing: {played}"
    assert_no_exception(page)


def test_url_config_and_box_selection(app_page: Page, app_url: str):
    """A link's non-default configuration reaches the widgets and stays in the URL; a box drag selects
    exactly the training points inside it."""
    page = app_page
    open_playground(page, app_url, "?dataset=circles&n=300&seed=3&method=jit&sigma=0.4")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("combobox", name="Dataset")).to_have_value("circles")
    expect(sidebar.get_by_role("spinbutton", name="σ (noise scale)")).to_have_value("0.4")
    expect(sidebar.get_by_role("spinbutton", name="Seed")).to_have_value("3")
    expect(sidebar.get_by_role("slider", name="Points")).to_have_value("300")
    page.wait_for_timeout(500)
    settle(page)
    for part in ("dataset=circles", "sigma=0.4", "seed=3", "n=300", "method=jit"):
        assert part in page.url, (part, page.url)
    expect(selected_heading(page)).to_have_text("0 points selected")

    page.locator(ROOT).scroll_into_view_if_needed()
    page.locator(f"{ROOT} button[data-tool='box']").click()
    assert state(page)["tool"] == "box"
    plot = plot_box(page)
    x0, y0 = plot["x"] + 0.30 * plot["width"], plot["y"] + 0.30 * plot["height"]
    x1, y1 = plot["x"] + 0.62 * plot["width"], plot["y"] + 0.62 * plot["height"]
    inside = ids_inside(page, x0, y0, x1, y1)
    margin = 3  # pixels: points on the rectangle's edge may fall either way
    core = ids_inside(page, x0 + margin, y0 + margin, x1 - margin, y1 - margin)
    outer = ids_inside(page, x0 - margin, y0 - margin, x1 + margin, y1 + margin)
    assert len(inside) > 5, "the test's rectangle holds too few training points"

    drag(page, [(x0, y0), (x1, y1)])
    settle(page)
    expect(selected_heading(page)).not_to_have_text("0 points selected", timeout=10_000)
    n = selected_count(page)
    sel = selected(page)
    assert n > 1 and len(sel) == n, (n, sel)
    assert set(core) <= set(sel) <= set(outer), "the selection is not the training points inside the box"
    assert page.url.count("sigma=0.4") == 1 and "dataset=circles" in page.url
    assert_no_exception(page)


@pytest.mark.parametrize("title, path", [("Compare methods", "compare"), ("Geometry of forgetting", "geometry")])
def test_sidebar_navigation(app_page: Page, app_url: str, title: str, path: str):
    """The other pages open from the sidebar navigation without an exception."""
    page = app_page
    page.goto(f"{app_url}/?dataset=moons&n=200&seed=0")
    page.wait_for_selector("[data-testid='stAppViewContainer']")
    settle(page)
    expect(page.get_by_role("heading", level=1).first).to_have_text(PLAYGROUND_TITLE)
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name=title).click()
    page.wait_for_url(re.compile(rf"/{path}(\?|$)"))
    settle(page)
    heading = page.get_by_role("heading", level=1).first
    expect(heading).to_be_visible()
    expect(heading).not_to_have_text(PLAYGROUND_TITLE)
    assert_no_exception(page)


def test_bad_csv_keeps_data_and_session_file_restores_state(app_page: Page, app_url: str, tmp_path):
    """A bad CSV shows the core's message and keeps the data; a downloaded session loads back."""
    page = app_page
    open_playground(page, app_url, "?dataset=moons&n=300&seed=0")
    page.get_by_text("Quick selectors").click()
    button = page.get_by_role("button", name="Select k random")
    expect(button).to_be_visible()
    button.click()
    settle(page)
    expect(selected_heading(page)).to_have_text("10 points selected")
    page.get_by_role("button", name="Forget with jit").click()
    wait_run_done(page)
    history = page.get_by_text("jit forgot 10 point(s)")
    expect(history).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Session (JSON)").click()
    session = tmp_path / "session.json"
    dl.value.save_as(session)
    settle(page)
    assert json.loads(session.read_text())["format"] == "jit-playground-session"

    bad = tmp_path / "bad.csv"
    bad.write_text("x,y,label\n0.5,1.0,a\nfoo,2.0,b\n")
    page.locator("[data-testid='stSidebar']").get_by_text("Upload CSV").click()
    settle(page)
    page.locator("[data-testid='stSidebar'] input[type='file']").set_input_files(str(bad))
    settle(page)
    error = page.locator("[data-testid='stAlert']").filter(has_text="bad.csv")
    expect(error).to_contain_text("Row 3, column 'x'")
    expect(error).to_contain_text("The previous data is kept")
    expect(history).to_be_visible()  # the workspace is untouched
    assert_no_exception(page)

    page.get_by_role("button", name="Reset", exact=True).click()
    settle(page)
    expect(history).to_have_count(0)
    page.locator("[data-testid='stSidebar']").get_by_text("Session file").click()
    settle(page)
    page.locator("[data-testid='stSidebar'] input[type='file']").set_input_files(str(session))
    settle(page)
    expect(page.get_by_text("jit forgot 10 point(s)")).to_be_visible()  # the forget history is back
    page.wait_for_function(f"() => document.querySelectorAll(\"{ROOT} li[data-kind=forgotten]\").length === 10")
    assert_no_exception(page)
