"""The Playground's canvas component in a real browser: selection gestures, zoom, playback, Draw, export.

Everything the canvas shows is also in the DOM (see canvasutil.py), so the tests check what is drawn
against what Python holds (the "N points selected" heading, the History) without reading pixels.
Run alone with ``python -m pytest -q tests/e2e/test_canvas_component.py``.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.access(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"), os.X_OK):
    pytest.skip("no system Chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, expect  # noqa: E402

from .canvasutil import (ROOT, drag, frame_grid, ids_inside, isolated_point, isolated_points,  # noqa: E402
                         open_canvas_page, plot_box, points, selected, state, wait_run_done)
from .pageutil import RUN_TIMEOUT_MS, assert_no_exception, settle  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
#: Where the live-mode test leaves a screenshot mid-stream (E2E_SHOTS=/tmp/shots_live), if set.
SHOTS = Path(os.environ["E2E_SHOTS"]) if os.environ.get("E2E_SHOTS") else None
expect.set_options(timeout=10_000)


def heading(page: Page):
    return page.get_by_role("heading", name=re.compile(r"^\d+ points? selected$"))


def count(page: Page) -> int:
    return int(heading(page).inner_text().split()[0])


def test_click_selects_and_deselects_at_once(app_page: Page, app_url: str):
    """A click rings the point before any rerun, Python hears of it once, a second click deselects; a click
    on a test point says why nothing happens."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=300&seed=0")
    expect(heading(page)).to_have_text("0 points selected")
    pt = isolated_point(page, "train")
    page.mouse.click(pt["x"], pt["y"])
    assert selected(page) == [pt["id"]]  # synchronously, on the client
    settle(page)
    expect(heading(page)).to_have_text("1 point selected")
    assert selected(page) == [pt["id"]]
    assert page.locator(f"{ROOT} li[data-id='{pt['id']}']").get_attribute("aria-selected") == "true"
    page.mouse.click(pt["x"], pt["y"])
    assert selected(page) == []
    settle(page)
    expect(heading(page)).to_have_text("0 points selected")

    test_pt = isolated_point(page, "test")
    page.mouse.click(test_pt["x"], test_pt["y"])
    expect(page.locator(f"{ROOT} .ulc-note")).to_contain_text("test point")
    assert selected(page) == []
    assert_no_exception(page)


@pytest.mark.parametrize("tool", ["box", "lasso"])
def test_box_and_lasso_twice_in_a_row(app_page: Page, app_url: str, tool: str):
    """The tool stays active: a second drag adds the points inside it to those of the first."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=blobs&n=300&seed=1")
    page.locator(f"{ROOT} button[data-tool='{tool}']").click()
    box = plot_box(page)
    expected: set[int] = set()
    for (fx0, fy0, fx1, fy1) in [(0.1, 0.1, 0.45, 0.45), (0.55, 0.5, 0.9, 0.9)]:
        x0, y0 = box["x"] + fx0 * box["width"], box["y"] + fy0 * box["height"]
        x1, y1 = box["x"] + fx1 * box["width"], box["y"] + fy1 * box["height"]
        margin = 3
        core = set(ids_inside(page, x0 + margin, y0 + margin, x1 - margin, y1 - margin))
        outer = set(ids_inside(page, x0 - margin, y0 - margin, x1 + margin, y1 + margin))
        if tool == "box":
            drag(page, [(x0, y0), (x1, y1)])
        else:  # a rectangle drawn as a lasso path
            drag(page, [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0 + 1)])
        got = set(selected(page))
        assert core | expected <= got <= outer | expected, "the selection is not the training points inside"
        expected = got
        settle(page)
        assert state(page)["tool"] == tool, "the tool fell back after a drag"
        assert set(selected(page)) == expected
        expect(heading(page)).to_have_text(f"{len(expected)} points selected")
    assert len(expected) > 10
    assert_no_exception(page)


def test_wheel_zoom_pan_and_reset(app_page: Page, app_url: str):
    """The wheel zooms around the cursor (points move apart on screen), a drag pans, Reset restores, and
    clicking a point while zoomed selects it."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=300&seed=0")
    view0 = state(page)["view"]
    box = plot_box(page)
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    before = {p["id"]: p for p in points(page)}
    page.mouse.move(cx, cy)
    for _ in range(4):
        page.mouse.wheel(0, -200)
    page.wait_for_timeout(100)
    view1 = state(page)["view"]
    assert view1 != view0
    v0, v1 = [float(v) for v in view0.split(",")], [float(v) for v in view1.split(",")]
    assert (v1[1] - v1[0]) < 0.6 * (v0[1] - v0[0]), (view0, view1)
    after = {p["id"]: p for p in points(page)}
    a, b = sorted(after)[:2]
    d0 = abs(before[a]["x"] - before[b]["x"]) + abs(before[a]["y"] - before[b]["y"])
    d1 = abs(after[a]["x"] - after[b]["x"]) + abs(after[a]["y"] - after[b]["y"])
    assert d1 > 1.5 * d0, "points did not move apart when zooming in"
    drag(page, [(cx, cy), (cx + 60, cy + 30)])  # the Click tool pans on a drag
    assert state(page)["view"] != view1 and selected(page) == []
    pt = isolated_point(page, "train")
    page.mouse.click(pt["x"], pt["y"])
    assert selected(page) == [pt["id"]]
    settle(page)
    assert state(page)["view"] not in (view0,), "a rerun reset the zoom"
    page.locator(f"{ROOT} button[data-action='reset-zoom']").click()
    assert state(page)["view"] == view0
    assert_no_exception(page)


PINCH_JS = """(c, spread) => {
  const r = c.getBoundingClientRect(), cx = r.left + r.width / 2, cy = r.top + r.height / 2;
  const ev = (type, id, x) => c.dispatchEvent(new PointerEvent(type, {pointerId: id, pointerType: "touch",
      isPrimary: id === 11, clientX: x, clientY: cy, button: type === "pointermove" ? -1 : 0, bubbles: true}));
  ev("pointerdown", 11, cx - 20); ev("pointerdown", 12, cx + 20);
  for (let k = 1; k <= 5; k++) { ev("pointermove", 11, cx - 20 - spread * k); ev("pointermove", 12, cx + 20 + spread * k); }
  ev("pointerup", 11, cx - 20 - 5 * spread); ev("pointerup", 12, cx + 20 + 5 * spread);
}"""


def test_touch_pinch_zooms_without_selecting(app_page: Page, app_url: str):
    """Two fingers moving apart zoom in around their midpoint, moving together zoom out; a pinch selects nothing."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=300&seed=0")
    width = lambda: (lambda v: v[1] - v[0])([float(x) for x in state(page)["view"].split(",")])  # noqa: E731
    w0 = width()
    canvas = page.locator(f"{ROOT} canvas")
    canvas.evaluate(PINCH_JS, 8)
    w1 = width()
    assert w1 < 0.5 * w0, (w0, w1)  # fingers 40 px apart, then 120: about 3x closer
    canvas.evaluate(PINCH_JS, -3)  # fingers together: out again
    assert width() > w1
    assert selected(page) == []
    assert_no_exception(page)


def test_quick_selectors_stay_open_and_preview_their_region(app_page: Page, app_url: str):
    """Opening Quick selectors draws their region on the canvas; selecting the region keeps the panel open and
    selects exactly the training points inside it."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=300&seed=0")
    assert state(page)["region"] == ""
    page.get_by_text("Quick selectors").click()
    settle(page)
    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.region !== ''")
    region = page.evaluate(f"() => document.querySelector(\"{ROOT}\").__view.d.region")
    assert region[0] < region[1] and region[2] < region[3]
    inside = page.evaluate("""([s, r]) => { const v = document.querySelector(s).__view, out = [];
        for (let i = 0; i < v.n; i++) { const x = v.xy[2 * i], y = v.xy[2 * i + 1];
          if (v.role[i] === 0 && x >= r[0] && x <= r[1] && y >= r[2] && y <= r[3]) out.push(i); }
        return out; }""", [ROOT, region])
    page.get_by_role("button", name="Select region").click()
    settle(page)
    expect(page.get_by_role("button", name="Select k random")).to_be_visible()  # the panel stayed open
    assert inside and selected(page) == sorted(inside)
    assert_no_exception(page)


def test_forget_then_step_by_step_and_play(app_page: Page, app_url: str):
    """Forget: the animation starts at step 0 and plays on the client; 'step ▶' advances one optimiser step;
    the last frame is the model now, different from the first; the loss chart's axis shows integer steps."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=300&seed=0")
    for pt in isolated_points(page, "train", 3):
        page.mouse.click(pt["x"], pt["y"])
        settle(page)
    expect(heading(page)).to_have_text("3 points selected")
    chosen = selected(page)
    page.get_by_role("button", name="Forget with jit").click()
    wait_run_done(page)
    st = state(page)
    n = int(st["frames"])
    assert n >= 11, f"only {n} frames: a first forget of 3 points should show at least 10 optimiser steps"
    assert sorted(p["id"] for p in points(page) if p["kind"] == "forgotten") == chosen
    assert selected(page) == []
    hist = page.get_by_text(re.compile(r"jit\*?\*? forgot 3 point\(s\) in (\d+) steps"))
    expect(hist).to_be_visible()
    steps = int(re.search(r"in (\d+) steps", hist.inner_text()).group(1))
    assert steps >= 10
    first, last = frame_grid(page, 0), frame_grid(page, n - 1)
    assert sum(a != b for a, b in zip(first, last)) > 0, "the confidence grid did not change"
    # The original and the retrained model beside it are canvas panels (no Plotly heat map, no selection tools,
    # no keyboard list), drawn and with the run's forgotten points
    panels = page.locator("[data-testid='jit-canvas-panel']")
    expect(panels).to_have_count(2)
    assert panels.locator("li[data-id]").count() == 0
    assert panels.first.locator("button[data-tool]").first.is_hidden()
    assert page.locator("[data-testid=stPlotlyChart] .heatmaplayer").count() == 0

    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.playing === 'false'", timeout=30_000)
    page.locator(f"{ROOT} .ulc-scrub").evaluate(  # drag the scrubber to step 0
        "e => { e.value = '0'; e.dispatchEvent(new Event('input', {bubbles: true})); }")
    assert state(page)["frame"] == "0"
    nxt = page.locator(f"{ROOT} button[data-action='next']")
    for k in (1, 2, 3):
        nxt.click()
        assert state(page)["frame"] == str(k)
    expect(page.locator(f"{ROOT} .ulc-steplabel")).to_contain_text("optimiser step 3 of")

    page.evaluate(f"""() => {{ const r = document.querySelector("{ROOT}"); window.seenFrames = [];
        const poll = () => {{ window.seenFrames.push(+r.dataset.frame); if (window.seenFrames.length < 3000) requestAnimationFrame(poll); }};
        poll(); }}""")
    page.locator(f"{ROOT} .ulc-speed").select_option("60")
    page.locator(f"{ROOT} button[data-action='play']").click()
    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.frame === '{n - 1}' && "
                           f"document.querySelector(\"{ROOT}\").dataset.playing === 'false'", timeout=15_000)
    seen = sorted(set(page.evaluate("window.seenFrames")))
    assert len([f for f in seen if 3 < f < n - 1]) >= 3, f"playback skipped the frames: {seen}"
    ticks = page.evaluate("""() => Array.from(document.querySelectorAll("[data-testid=stPlotlyChart] .xtick text"))
                             .map(t => t.textContent)""")
    assert ticks and all(re.fullmatch(r"−?\d+", t.replace(",", "")) for t in ticks), ticks
    assert_no_exception(page)


def test_draw_click_adds_point_then_train_select_forget(app_page: Page, app_url: str):
    """Draw: a click on empty space (and on top of existing points) adds a point at once; after Train the
    drawn data goes through select and forget."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=200&seed=0")
    page.locator("[data-testid='stSidebar']").get_by_text("Draw", exact=True).click()
    settle(page)
    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.mode === 'draw'")
    n0 = len(points(page))
    box = plot_box(page)
    dense = isolated_point(page, "train")
    clicks = [(box["x"] + 0.1 * box["width"], box["y"] + 0.1 * box["height"]), (dense["x"] + 2, dense["y"] + 1),
              (box["x"] + 0.15 * box["width"], box["y"] + 0.12 * box["height"])]
    for x, y in clicks:
        page.mouse.click(x, y)
        page.wait_for_timeout(60)
    assert page.evaluate(f"() => document.querySelector(\"{ROOT}\").__view.pendingAdds.length") >= 1
    settle(page)
    page.wait_for_function(f"n => document.querySelectorAll(\"{ROOT} li[data-id]\").length === n", arg=n0 + 3,
                           timeout=20_000)
    page.get_by_role("button", name="Train").click()
    settle(page)
    page.get_by_text("Select to forget").click()
    settle(page)
    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.mode === 'select'")
    pt = isolated_point(page, "train")
    page.mouse.click(pt["x"], pt["y"])
    settle(page)
    expect(heading(page)).to_have_text("1 point selected")
    page.get_by_role("button", name="Forget with jit").click()
    settle(page)
    page.wait_for_function(f"() => document.querySelectorAll(\"{ROOT} li[data-kind=forgotten]\").length === 1",
                           timeout=RUN_TIMEOUT_MS)
    assert_no_exception(page)


def test_keyboard_list_selects(app_page: Page, app_url: str):
    """The points are reachable from the keyboard: the list moves with arrow keys and Space toggles."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=200&seed=0")
    page.locator(f"{ROOT} details summary").click()
    first = page.locator(f"{ROOT} li[tabindex='0']").first
    first.focus()
    for _ in range(5):
        page.keyboard.press("ArrowDown")
    focused = page.evaluate("() => document.activeElement.dataset")
    if focused["kind"] != "train":
        while page.evaluate("() => document.activeElement.dataset.kind") != "train":
            page.keyboard.press("ArrowDown")
    pid = int(page.evaluate("() => document.activeElement.dataset.id"))
    page.keyboard.press("Space")
    assert selected(page) == [pid]
    settle(page)
    expect(heading(page)).to_have_text("1 point selected")
    assert_no_exception(page)


def test_html_export_opens_offline(app_page: Page, app_url: str, chromium, tmp_path):
    """The HTML export is small, has no plotly.js, and plays in a browser with the network off."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=300&seed=0")
    page.get_by_text("Quick selectors").click()
    page.get_by_role("button", name="Select k random").click()
    settle(page)
    page.get_by_role("button", name="Forget with jit").click()
    wait_run_done(page)
    n = int(state(page)["frames"])
    with page.expect_download() as dl:
        page.get_by_role("button", name="Animation (HTML)").click()
    out = tmp_path / "anim.html"
    dl.value.save_as(out)
    text = out.read_text()
    assert len(text) < 1_500_000 and "plotly" not in text.lower()
    ctx = chromium.new_context(offline=True)
    try:
        p2 = ctx.new_page()
        errors = []
        p2.on("pageerror", lambda e: errors.append(str(e)))
        p2.goto(out.as_uri())
        p2.wait_for_selector(f"{ROOT} canvas")
        assert state(p2)["frames"] == str(n)
        p2.locator(f"{ROOT} button[data-action='play']").click()
        p2.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.frame === '{n - 1}'", timeout=15_000)
        assert not errors, errors
    finally:
        ctx.close()


def test_live_mode_streams_frames_while_the_run_goes(app_page: Page, app_url: str):
    """A long run (20 points, batch size 1, 20 passes: 400 optimiser steps) streams: the canvas shows the new
    run, live, before it ends, its frames grow while it goes (every one a real step, in order), the player
    carries on into them without restarting, and at the end the animation holds the finished run's frames
    (up to 60 of them, the last one step 400) and the page shows the run in the History."""
    page = app_page
    open_canvas_page(page, app_url, "?dataset=moons&n=300&seed=0&batch_size=1&epochs=20&lr=0.002")
    page.get_by_text("Quick selectors").click()
    page.get_by_label("k random training points").fill("20")
    page.keyboard.press("Tab")
    settle(page)
    page.get_by_role("button", name="Select k random").click()
    settle(page)
    expect(heading(page)).to_have_text("20 points selected")
    page.evaluate(f"""() => {{ const r = document.querySelector("{ROOT}"); window.rec = []; let last = '';
        const forget = () => Array.from(document.querySelectorAll('button')).filter(b => b.innerText.includes('Forget with') && b.getBoundingClientRect().height > 0);
        const poll = () => {{ const d = r.dataset; const bs = forget(); const off = bs.length ? bs[0].disabled : null;
          const v = [d.run, d.live, +d.frames, +d.lastStep, d.playing, off, bs.length].join('|');
          if (v !== last) {{ window.rec.push({{run: d.run, live: d.live, frames: +d.frames, last: +d.lastStep,
            steps: Array.from(r.__view.steps), playing: d.playing, forgetOff: off, forgets: bs.length,
            t: performance.now()}}); last = v; }}
          if (window.rec.length < 5000) requestAnimationFrame(poll); }}; poll(); }}""")
    page.get_by_role("button", name="Forget with jit").click()
    page.wait_for_function(f"() => document.querySelector(\"{ROOT}\").dataset.live === 'true'", timeout=RUN_TIMEOUT_MS)
    page.screenshot(path=str(SHOTS / "live_mid_stream.png")) if SHOTS else None
    wait_run_done(page)
    rec = page.evaluate("window.rec")
    streamed = [r for r in rec if r["live"] == "true"]
    assert streamed, "the canvas never showed the run while it was going"
    run = streamed[0]["run"]
    assert run.startswith("live:")
    lasts = [r["last"] for r in streamed]
    assert lasts == sorted(lasts) and len(set(lasts)) >= 3, f"the frames did not grow while the run went: {lasts}"
    assert lasts[0] >= 1, "the first frames shown held no optimiser step"
    assert lasts[0] < 400, "nothing was shown before the run ended"
    for r in streamed:  # real steps, in order, from the step before the run
        assert r["steps"][0] == 0 and r["steps"] == sorted(set(r["steps"])) and r["frames"] == len(r["steps"])
    # the page that started the run drew Forget disabled before the canvas (a second press would only be refused)
    # and one of it: a button whose help changed used to show twice (the new one and the old, stale) for the run
    assert all(r["forgetOff"] is True for r in streamed), [(r["forgetOff"], r["last"]) for r in streamed]
    assert all(r["forgets"] == 1 for r in rec), [(r["forgets"], r["live"], r["last"], r["forgetOff"], rec.index(r), len(rec)) for r in rec if r["forgets"] != 1]
    final = rec[-1]
    assert final["run"] == run, "the finished run restarted the player under another name"
    # After the first payload each tick leaves out the frames the canvas held 3 payloads ago (it does not render
    # every payload: app_pages/live.py DELTA_BASE). Against the previous payload alone it asked for every frame
    # again 5 times in this run; now it should not need to, and asking on many ticks would mean the deltas are wrong.
    assert int(state(page).get("resends", 0)) <= 2, state(page).get("resends")
    assert final["live"] == "false" and final["last"] == 400 and final["frames"] == 60
    assert all(r["run"] == run for r in rec[rec.index(streamed[0]):]), "the run changed name while streaming"
    expect(page.get_by_text(re.compile(r"forgot 20 point\(s\) in 400 steps"))).to_be_visible()
    expect(page.get_by_text("Forgetting...")).to_have_count(0)  # the run's end reran the page
    assert len([p for p in points(page) if p["kind"] == "forgotten"]) == 20
    assert_no_exception(page)
