"""Reading and driving the Playground's canvas component (ui/views/canvas_js/canvas.js) in Playwright.

The canvas exposes its state as data-* attributes on ``[data-testid=jit-canvas]`` (frame, step, selected,
view, tool, run, frames, playing, live, last-step) and every point as an ``li`` with data-id, data-class, data-kind and
data-x / data-y (its centre in CSS pixels from the canvas' top-left corner).
"""
from __future__ import annotations

from playwright.sync_api import Page

from .pageutil import RUN_TIMEOUT_MS, assert_no_exception, settle

ROOT = "[data-testid='jit-canvas']"

POINTS_JS = """(sel) => { const r = document.querySelector(sel); const c = r.querySelector('canvas').getBoundingClientRect();
  return Array.from(r.querySelectorAll('li[data-id]')).map(li => ({id: +li.dataset.id, cls: +li.dataset.class,
    kind: li.dataset.kind, x: +li.dataset.x + c.left, y: +li.dataset.y + c.top})); }"""


def open_canvas_page(page: Page, base: str, query: str) -> None:
    page.goto(f"{base}/{query}")
    page.wait_for_selector("[data-testid='stAppViewContainer']")
    page.wait_for_selector(f"{ROOT} canvas", timeout=RUN_TIMEOUT_MS)
    settle(page)
    page.wait_for_function(f"() => document.querySelectorAll(\"{ROOT} li[data-id]\").length > 0")
    assert_no_exception(page)


def state(page: Page, sel: str = ROOT) -> dict:
    return page.evaluate("s => ({...document.querySelector(s).dataset})", sel)


def selected(page: Page, sel: str = ROOT) -> list[int]:
    s = state(page, sel).get("selected", "")
    return [int(v) for v in s.split(",") if v]


def points(page: Page, sel: str = ROOT) -> list[dict]:
    """Every point the canvas lists, with its page position."""
    return page.evaluate(POINTS_JS, sel)


def plot_box(page: Page, sel: str = ROOT) -> dict:
    """The plot area (inside the axes) in page pixels."""
    return page.evaluate("""s => { const v = document.querySelector(s).__view; const c = v.canvas.getBoundingClientRect();
        return {x: c.left + v.M.l, y: c.top + v.M.t, width: v.side, height: v.side}; }""", sel)


def isolated_points(page: Page, kind: str = "train", k: int = 1, sel: str = ROOT) -> list[dict]:
    """The ``k`` points of ``kind`` farthest from every other point (so that a click cannot hit a
    neighbour), most isolated first."""
    pts = points(page, sel)
    box = plot_box(page, sel)
    scored = []
    for a in pts:
        if a["kind"] != kind:
            continue
        if not (box["x"] + 12 < a["x"] < box["x"] + box["width"] - 12 and box["y"] + 12 < a["y"] < box["y"] + box["height"] - 12):
            continue
        d = min(((a["x"] - b["x"]) ** 2 + (a["y"] - b["y"]) ** 2) ** 0.5 for b in pts if b is not a)
        scored.append((d, a))
    scored.sort(key=lambda t: -t[0])
    assert len(scored) >= k, f"fewer than {k} {kind} points on the canvas"
    return [a for _, a in scored[:k]]


def isolated_point(page: Page, kind: str = "train", sel: str = ROOT) -> dict:
    """The point of ``kind`` farthest from every other point."""
    return isolated_points(page, kind, 1, sel)[0]


def ids_inside(page: Page, x0: float, y0: float, x1: float, y1: float, sel: str = ROOT) -> list[int]:
    """Training points whose centres lie inside the page-pixel rectangle."""
    return sorted(p["id"] for p in points(page, sel) if p["kind"] == "train"
                  and min(x0, x1) <= p["x"] <= max(x0, x1) and min(y0, y1) <= p["y"] <= max(y0, y1))


def drag(page: Page, path: list[tuple[float, float]]) -> None:
    page.mouse.move(*path[0])
    page.mouse.down()
    for x, y in path[1:]:
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def wait_run_done(page: Page, sel: str = ROOT, timeout: int = RUN_TIMEOUT_MS) -> None:
    """After Forget: wait until the canvas holds a finished run (live mode streams the frames first, with
    data-live "true"), then for the page to settle."""
    page.wait_for_function("s => { const r = document.querySelector(s); return !!r && !!r.dataset.run && "
                           "r.dataset.live === 'false'; }", arg=sel, timeout=timeout)
    settle(page)
    page.wait_for_function("s => document.querySelector(s).dataset.live === 'false'", arg=sel, timeout=timeout)


def frame_grid(page: Page, f: int, sel: str = ROOT) -> list[int]:
    """The shade grid (uint8, row-major) of frame ``f``."""
    return page.evaluate("([s, f]) => Array.from(document.querySelector(s).__view.frames[f])", [sel, f])


def frame_classes(page: Page, f: int, sel: str = ROOT) -> list[int]:
    """The class grid of frame ``f`` (the band each shade value falls in)."""
    return page.evaluate("([s, f]) => Array.from(document.querySelector(s).__view.frameData(f).cls)", [sel, f])
