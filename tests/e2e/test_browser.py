"""The playground in a real browser: Streamlit server + headless system Chromium, driven by Playwright.

What AppTest cannot do (UX.md 3.4): click and drag on the Plotly canvas, run its animation, read the
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

from .pageutil import RUN_TIMEOUT_MS, assert_no_exception, hover_click, settle  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a real server and browser: not in the fast loop
expect.set_options(timeout=10_000)

CANVAS = "[data-testid='stPlotlyChart']"  # the first chart on the playground is the canvas
PLAYGROUND_TITLE = "Forget points, watch the boundary move"

# Helpers installed in every page before its scripts run. The canvas' trace order is fixed
# (ui/views/canvas.py): 0 shade, 1 disagreement, 2 boundary, 3 retrained boundary, then the scatters.
HELPERS = """
window.e2e = {
  gd() { return document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot"); },
  traceNames() { return this.gd().data.map(t => t.name); },
  trace(name) { return this.gd()._fullData.find(t => t.name === name) || null; },
  ids(name) { const t = this.trace(name); return t ? Array.from(t.customdata || [], Number) : null; },
  grid(i) { return this.gd()._fullData[i].z.map(r => Array.from(r)); },
  // Centre (page pixels) of the training point of trace `name` farthest from every other drawn point,
  // so that a click cannot land on a neighbour; with its global id (customdata).
  isolatedPoint(name) {
    const gd = this.gd();
    const scatters = gd._fullData.filter(t => t.type === 'scatter');
    const groups = Array.from(gd.querySelectorAll('g.trace.scatter'));
    if (groups.length !== scatters.length) return null;
    const pts = [];
    groups.forEach((g, gi) => g.querySelectorAll('path.point').forEach((p, pi) => {
      const r = p.getBoundingClientRect();
      pts.push({name: scatters[gi].name, trace: scatters[gi], pi, x: r.x + r.width / 2, y: r.y + r.height / 2});
    }));
    const plot = gd.querySelector('.nsewdrag').getBoundingClientRect();
    let best = null;
    for (const a of pts) {
      if (a.name !== name) continue;
      if (a.x < plot.left + 15 || a.x > plot.right - 15 || a.y < plot.top + 15 || a.y > plot.bottom - 15) continue;
      let d = Infinity;
      for (const b of pts) if (b !== a) d = Math.min(d, Math.hypot(a.x - b.x, a.y - b.y));
      if (!best || d > best.d) best = {x: a.x, y: a.y, d, id: Number(a.trace.customdata[a.pi])};
    }
    return best;
  },
  // Global ids of the training points (traces "class k") inside a rectangle given in page pixels.
  trainIdsInside(x0, y0, x1, y1) {
    const gd = this.gd(), fl = gd._fullLayout, plot = gd.querySelector('.nsewdrag').getBoundingClientRect();
    const px = v => plot.left + fl.xaxis.d2p(v), py = v => plot.top + fl.yaxis.d2p(v);
    const out = [];
    for (const t of gd._fullData) {
      if (!/^class \\d+$/.test(t.name)) continue;
      for (let i = 0; i < t.x.length; i++) {
        const X = px(t.x[i]), Y = py(t.y[i]);
        if (X >= x0 && X <= x1 && Y >= y0 && Y <= y1) out.push(Number(t.customdata[i]));
      }
    }
    return out.sort((a, b) => a - b);
  },
};
"""




def open_playground(page: Page, base: str, query: str) -> None:
    page.add_init_script(HELPERS)
    page.goto(f"{base}/{query}")
    page.wait_for_selector("[data-testid='stAppViewContainer']")
    page.locator(f"{CANVAS} .js-plotly-plot").first.wait_for(timeout=RUN_TIMEOUT_MS)
    settle(page)
    page.wait_for_function("() => window.e2e.gd() && window.e2e.gd()._fullData && "
                           "window.e2e.gd().querySelectorAll('path.point').length > 0")
    assert_no_exception(page)


def selected_heading(page: Page):
    return page.get_by_role("heading", name=re.compile(r"^\d+ points? selected$"))


def selected_count(page: Page) -> int:
    return int(selected_heading(page).inner_text().split()[0])


def click_point(page: Page, trace_name: str, attempts: int = 4) -> int:
    """Click a training point of ``trace_name`` with the real mouse until the page reports it selected;
    returns its global id. Retries because a click can be lost (plotly.js#6898)."""
    page.locator(CANVAS).first.scroll_into_view_if_needed()
    for _ in range(attempts):
        pt = page.evaluate("name => window.e2e.isolatedPoint(name)", trace_name)
        assert pt is not None, f"no {trace_name!r} point drawn on the canvas: {page.evaluate('window.e2e.traceNames()')}"
        hover_click(page, pt["x"], pt["y"])
        settle(page)
        try:
            expect(selected_heading(page)).to_have_text("1 point selected", timeout=5_000)
            return pt["id"]
        except AssertionError:
            assert selected_count(page) == 0, "a click selected more than one point"
    modes = page.evaluate("[window.e2e.gd()._fullLayout.dragmode, window.e2e.gd()._fullLayout.clickmode]")
    raise AssertionError(f"{attempts} clicks on a {trace_name!r} point did not select it (canvas dragmode={modes[0]!r}, "
                         f"clickmode={modes[1]!r}; Streamlit's chart sets clickmode 'event', so clicks do not select, "
                         f"whenever dragmode is 'select' or 'lasso')")


def test_click_select_forget_animate(app_page: Page, app_url: str):
    """The app loads, a click on a data point selects it, Forget runs, the animation appears and plays,
    and the boundary differs from before."""
    page = app_page
    # epochs=3: three optimiser steps for one point, so the animation has four frames.
    open_playground(page, app_url, "?dataset=moons&n=300&seed=0&epochs=3")
    names = page.evaluate("window.e2e.traceNames()")
    assert names[:4] == ["confidence", "disagrees with retrain", "boundary", "retrained"], names
    assert "class 0" in names and "forgotten" not in names
    expect(selected_heading(page)).to_have_text("0 points selected")
    expect(page.get_by_role("button", name="Forget with jit")).to_be_disabled()
    shade_before = page.evaluate("window.e2e.grid(0)")
    boundary_before = page.evaluate("window.e2e.grid(2)")

    pid = click_point(page, "class 0")
    assert page.evaluate("window.e2e.ids('selected')") == [pid], "the selection ring is not on the clicked point"

    forget = page.get_by_role("button", name="Forget with jit")
    expect(forget).to_be_enabled()
    forget.click()
    settle(page)
    assert_no_exception(page)

    play = page.locator(f"{CANVAS} g.updatemenu-button").filter(has_text="Play").first
    expect(play).to_be_attached(timeout=RUN_TIMEOUT_MS)
    frames = page.evaluate("window.e2e.gd()._transitionData._frames.map(f => f.name)")
    assert len(frames) == 4 and frames[0] == "0", frames
    assert page.evaluate("window.e2e.ids('forgotten')") == [pid]
    assert pid not in page.evaluate("window.e2e.ids('class 0')")
    assert page.evaluate("window.e2e.trace('selected')") is None
    expect(selected_heading(page)).to_have_text("0 points selected")
    expect(page.get_by_text(re.compile(r"\bjit forgot 1 point"))).to_be_visible()  # the History

    # The static canvas shows the last frame: the model after unlearning.
    shade_after = page.evaluate("window.e2e.grid(0)")
    boundary_after = page.evaluate("window.e2e.grid(2)")
    changed = sum(a != b for ra, rb in zip(shade_before, shade_after) for a, b in zip(ra, rb))
    assert changed > 0, "the canvas' class/confidence grid did not change after Forget"
    moved = sum(a != b for ra, rb in zip(boundary_before, boundary_after) for a, b in zip(ra, rb))
    assert moved > 0, f"the decision boundary did not move ({changed} confidence cells changed)"

    # Play: the slider starts at the last frame and steps through the frames.
    last = len(frames) - 1
    assert page.evaluate("window.e2e.gd()._fullLayout.sliders[0].active") == last
    page.evaluate("""() => { window.e2e.seen = []; const gd = window.e2e.gd();
        const poll = () => { window.e2e.seen.push(gd._fullLayout.sliders[0].active);
                             if (window.e2e.seen.length < 2000) requestAnimationFrame(poll); };
        poll(); }""")
    play.scroll_into_view_if_needed()
    box = play.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(f"() => window.e2e.seen.some(a => a < {last}) && "
                           f"window.e2e.gd()._fullLayout.sliders[0].active === {last}", timeout=15_000)
    seen = page.evaluate("window.e2e.seen")
    played = sorted({a for a in seen if a < last})
    assert len(played) >= 2, f"the slider did not step through the frames while playing: {seen}"
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

    chart = page.locator(CANVAS).first
    chart.scroll_into_view_if_needed()
    chart.hover()  # the modebar shows on hover
    select_tool = chart.locator(".modebar-btn[data-val='select']")
    if select_tool.count():
        select_tool.first.click()
    assert page.evaluate("window.e2e.gd()._fullLayout.dragmode") == "select"
    plot = chart.locator(".nsewdrag").first.bounding_box()
    x0, y0 = plot["x"] + 0.30 * plot["width"], plot["y"] + 0.30 * plot["height"]
    x1, y1 = plot["x"] + 0.62 * plot["width"], plot["y"] + 0.62 * plot["height"]
    inside = page.evaluate("b => window.e2e.trainIdsInside(...b)", [x0, y0, x1, y1])
    margin = 3  # pixels: points on the rectangle's edge may fall either way
    core = page.evaluate("b => window.e2e.trainIdsInside(...b)", [x0 + margin, y0 + margin, x1 - margin, y1 - margin])
    outer = page.evaluate("b => window.e2e.trainIdsInside(...b)", [x0 - margin, y0 - margin, x1 + margin, y1 + margin])
    assert len(inside) > 5, "the test's rectangle holds too few training points"

    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=10)
    page.mouse.up()
    settle(page)
    expect(selected_heading(page)).not_to_have_text("0 points selected", timeout=10_000)
    n = selected_count(page)
    selected = page.evaluate("window.e2e.ids('selected')")
    assert n > 1 and len(selected) == n, (n, selected)
    assert set(core) <= set(selected) <= set(outer), "the selection is not the training points inside the box"
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
    settle(page)
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
    assert page.evaluate("window.e2e.gd()._fullData.some(t => t.name === 'forgotten' && t.x.length === 10)")
    assert_no_exception(page)
