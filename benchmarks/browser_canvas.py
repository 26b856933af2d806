"""The Playground canvas in a real browser: the old Plotly canvas and the components-v2 canvas, side by side.

    python benchmarks/browser_canvas.py [--repeats 5] [--write-docs]

Starts ``streamlit run app.py`` twice (``PLAYGROUND_CANVAS=plotly``, then the default canvas component), drives
each in headless system Chromium through Playwright (never a downloaded browser), and times, on the page's own
clock (``performance.now()``, from the pointerdown of the user's click to the next animation frame after the
result is in the page):

- click -> selection ring: a click on a training point until that point is drawn selected;
- Forget -> first frame: the press on "Forget with jit" (3 random points, the page's defaults) until the
  animation's first frame is on screen (Plotly: its Play button exists; component: the new run's first frame
  drawn, with at least one real optimiser step of it in the page: in live mode the run arrives while it is
  still being computed, so "a new run" alone would also count a canvas holding only the grid before it);
- playback: 60 frames (10 points forgotten with batch size 1 in 6 passes) played with the canvas' own Play button at its
  fastest setting, frames per second actually drawn; for the component also the cost of drawing one frame;
- Draw: a click on empty space in Draw mode until the new point is on screen.

Default Playground: moons, 600 points, the 2x64 MLP, a 100x100 grid. Not a test: figures go to docs/speed.md
(``--write-docs``), never asserted.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _env import Lines, add_write_docs_flag, check_doc_section, write_docs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
QUERY = "?dataset=moons&n=600&seed=0"
RUN_MS = 180_000
SECTION = "browser_canvas"

WATCH_JS = """(src) => {
  const cond = new Function('return (' + src + ')()');
  const b = window.__bench = {t0: null, t1: null};
  const onDown = () => { if (b.t0 === null) b.t0 = performance.now(); };
  window.addEventListener('pointerdown', onDown, true);
  const poll = () => {
    if (b.t0 !== null && cond()) {
      requestAnimationFrame(() => { b.t1 = performance.now(); window.removeEventListener('pointerdown', onDown, true); });
      return;
    }
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
}"""

NEW_ROOT = "document.querySelector('[data-testid=jit-canvas]')"
PLOTLY_GD = "document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot')"  # the canvas: the page's first chart
PLOTLY_ANIM = ("Array.from(document.querySelectorAll('[data-testid=stPlotlyChart] .js-plotly-plot'))"
               ".find(g => g._fullLayout && g._fullLayout.sliders && g._fullLayout.sliders.length)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, canvas: str, **env_vars: str):
        self.port = free_port()
        env = dict(os.environ, PLAYGROUND_CANVAS=canvas, PYTHONDONTWRITEBYTECODE="1", **env_vars)
        self.log = tempfile.NamedTemporaryFile(prefix="bench-streamlit-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.address",
             "127.0.0.1", "--server.port", str(self.port), "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"streamlit did not start (log: {self.log.name})")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def settle(page):
    page.wait_for_timeout(200)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=RUN_MS)


def timed(page, cond_js: str, action) -> float:
    """Milliseconds from the pointerdown of ``action`` until ``cond_js`` holds and a frame is painted."""
    page.evaluate(WATCH_JS, cond_js)
    action()
    page.wait_for_function("() => window.__bench && window.__bench.t1 !== null", timeout=RUN_MS)
    b = page.evaluate("() => window.__bench")
    return b["t1"] - b["t0"]


def open_page(browser, url: str, kind: str, query: str = QUERY):
    page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    page.goto(url + "/" + query)
    sel = "[data-testid='jit-canvas'] li[data-id]" if kind == "component" else \
        "[data-testid='stPlotlyChart'] .js-plotly-plot path.point"
    page.wait_for_selector(sel, state="attached", timeout=RUN_MS)
    settle(page)
    return page


def isolated(page, kind: str, skip=()) -> dict:
    """Page position and id of an isolated training point not in ``skip``."""
    if kind == "component":
        pts = page.evaluate("""() => { const r = document.querySelector('[data-testid=jit-canvas]');
            const c = r.querySelector('canvas').getBoundingClientRect();
            return Array.from(r.querySelectorAll('li[data-id]')).map(li => ({id: +li.dataset.id, kind: li.dataset.kind,
              x: +li.dataset.x + c.left, y: +li.dataset.y + c.top})); }""")
    else:
        pts = page.evaluate("""() => { const gd = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
            const sc = gd._fullData.filter(t => t.type === 'scatter'); const out = [];
            Array.from(gd.querySelectorAll('g.trace.scatter')).forEach((g, gi) => g.querySelectorAll('path.point')
              .forEach((p, pi) => { const r = p.getBoundingClientRect(); const t = sc[gi];
                out.push({id: Number((t.customdata || [])[pi]), kind: /^class /.test(t.name) ? 'train' : t.name,
                          x: r.x + r.width / 2, y: r.y + r.height / 2}); }));
            return out; }""")
    best, bd = None, -1.0
    for a in pts:
        if a["kind"] != "train" or a["id"] in skip:
            continue
        d = min(abs(a["x"] - b["x"]) + abs(a["y"] - b["y"]) for b in pts if b is not a)
        if d > bd:
            best, bd = a, d
    return best


def click_ring(page, kind: str, repeats: int) -> list[float]:
    out, used = [], []
    for _ in range(repeats):
        pt = isolated(page, kind, used)
        used.append(pt["id"])
        if kind == "component":
            cond = f"() => ({NEW_ROOT}.dataset.selected || '').split(',').includes('{pt['id']}')"
        else:
            cond = (f"() => {{ const gd = {PLOTLY_GD}; const t = gd && gd._fullData.find(t => t.name === 'selected');"
                    f" return !!t && Array.from(t.customdata).map(Number).includes({pt['id']}); }}")

        def act():
            page.mouse.move(pt["x"] - 20, pt["y"] - 20)
            page.mouse.move(pt["x"], pt["y"], steps=3)
            page.wait_for_timeout(120)
            page.mouse.click(pt["x"], pt["y"])
        try:
            out.append(timed(page, cond, act))
        except Exception as err:  # a Plotly click lost (plotly.js#6898): not timed
            print(f"  ({kind}: a click was not registered: {type(err).__name__})", flush=True)
        settle(page)
    return out


def select_random(page, k: int) -> None:
    clear = page.get_by_role("button", name="Clear selection")
    if clear.is_visible() and clear.is_enabled():  # a selection left by the click test would add to the k points
        clear.click()
        settle(page)
    exp = page.get_by_text("Quick selectors")
    if not page.get_by_role("button", name="Select k random").is_visible():
        exp.click()
    page.get_by_label("k random training points").fill(str(k))
    page.keyboard.press("Enter")
    settle(page)
    page.get_by_role("button", name="Select k random").click()
    settle(page)
    got = page.get_by_role("heading", name="points selected").inner_text()
    if not got.startswith(f"{k} "):
        print(f"  (asked for {k} random points, the page says: {got})", flush=True)


def forget_first_frame(page, kind: str, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        select_random(page, 3)
        if kind == "component":
            old = page.evaluate(f"() => {NEW_ROOT}.dataset.run || ''")
            # the new run, with at least one optimiser step after the grid before it (frame 0)
            cond = (f"() => {{ const r = {NEW_ROOT}; return !!r && (r.dataset.run || '') !== '{old}' && "
                    f"r.dataset.run !== '' && +r.dataset.frames >= 2 && +r.dataset.lastStep >= 1; }}")
        else:
            cond = ("() => Array.from(document.querySelectorAll('[data-testid=stPlotlyChart] g.updatemenu-button'))"
                    ".some(b => b.textContent.includes('Play'))")
        out.append(timed(page, cond, lambda: page.get_by_role("button", name="Forget with jit").click()))
        if kind == "component":  # live mode: the run may still be streaming; its end reruns the page
            page.wait_for_function(f"() => {NEW_ROOT}.dataset.live === 'false'", timeout=RUN_MS)
        settle(page)
        page.get_by_role("button", name="Reset", exact=True).click()
        settle(page)
    return out


def playback(browser, url: str, kind: str) -> dict:
    # 10 random points (the quick selector's default k), batch size 1, 6 passes: 60 real optimiser steps, with a
    # step size small enough that 60 steps do not diverge (0.1 does, and the page then shows the failed run).
    page = open_page(browser, url, kind, QUERY + "&batch_size=1&epochs=6&lr=0.01")
    page.get_by_text("Quick selectors").click()
    page.get_by_role("button", name="Select k random").click()
    settle(page)
    page.get_by_role("button", name="Forget with jit").click()
    settle(page)
    if kind == "component":
        page.wait_for_function(f"() => {NEW_ROOT}.dataset.playing === 'false' && {NEW_ROOT}.dataset.live === 'false' "
                               f"&& +{NEW_ROOT}.dataset.frames >= 60", timeout=RUN_MS)
        n = int(page.evaluate(f"() => +{NEW_ROOT}.dataset.frames"))
        page.locator("[data-testid='jit-canvas'] .ulc-speed").select_option("60")
        page.evaluate(f"""() => {{ const r = {NEW_ROOT}; window.__pb = []; let last = -1;
            const poll = () => {{ const f = +r.dataset.frame; if (f !== last) {{ window.__pb.push([f, performance.now()]); last = f; }}
              if (window.__pb.length < 5000) requestAnimationFrame(poll); }}; poll(); }}""")
        page.locator("[data-testid='jit-canvas'] button[data-action='play']").click()
        page.wait_for_function(f"() => {NEW_ROOT}.dataset.playing === 'false' && +{NEW_ROOT}.dataset.frame === {n - 1}",
                               timeout=60_000)
        draw_ms = page.evaluate(f"""() => {{ const v = {NEW_ROOT}.__view; const t0 = performance.now();
            for (let i = 0; i < v.frames.length; i++) v.setFrame(i); return (performance.now() - t0) / v.frames.length; }}""")
    else:
        page.wait_for_function(f"() => !!({PLOTLY_ANIM})", timeout=RUN_MS)
        settle(page)
        n = int(page.evaluate(f"() => ({PLOTLY_ANIM})._transitionData._frames.length"))
        page.evaluate(f"""() => {{ const gd = {PLOTLY_ANIM}; window.__pb = []; let last = -1;
            const poll = () => {{ const f = gd._fullLayout.sliders[0].active; if (f !== last) {{ window.__pb.push([f, performance.now()]); last = f; }}
              if (window.__pb.length < 5000) requestAnimationFrame(poll); }}; poll(); }}""")
        play = page.locator("[data-testid=stPlotlyChart] g.updatemenu-button").filter(has_text="Play").first
        play.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        box = play.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_function(f"() => window.__pb.length > 2 && window.__pb[window.__pb.length - 1][0] === {n - 1}",
                               timeout=120_000)
        page.wait_for_timeout(300)
        draw_ms = None
    pb = page.evaluate("() => window.__pb")
    start = next(i for i, (f, _) in enumerate(pb) if f == 0 or (i > 0 and f < pb[i - 1][0]))
    seq = pb[start:]
    seconds = (seq[-1][1] - seq[0][1]) / 1000
    shown = len({f for f, _ in seq})
    page.context.close()
    return dict(frames=n, shown=shown, fps=(len(seq) - 1) / seconds if seconds > 0 else float("nan"), draw_ms=draw_ms)


def draw_click(browser, url: str, kind: str, repeats: int) -> list[float]:
    page = open_page(browser, url, kind)
    page.locator("[data-testid='stSidebar']").get_by_text("Draw", exact=True).click()
    settle(page)
    out = []
    for i in range(repeats):
        if kind == "component":
            page.wait_for_function(f"() => {NEW_ROOT}.dataset.mode === 'draw'", timeout=RUN_MS)
            r = page.evaluate(f"""() => {{ const v = {NEW_ROOT}.__view; const c = v.canvas.getBoundingClientRect();
                return [c.left + v.M.l, c.top + v.M.t, v.side]; }}""")
            n0 = page.evaluate(f"() => {NEW_ROOT}.__view.pendingAdds.length + {NEW_ROOT}.__view.n")
            cond = f"() => {NEW_ROOT}.__view.pendingAdds.length + {NEW_ROOT}.__view.n > {n0}"
        else:
            page.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot .nsewdrag", timeout=RUN_MS)
            b = page.locator("[data-testid=stPlotlyChart] .nsewdrag").first.bounding_box()
            r = [b["x"], b["y"], b["width"]]
            n0 = page.evaluate(f"() => {PLOTLY_GD}._fullData.filter(t => /^class /.test(t.name)).reduce((a, t) => a + t.x.length, 0)")
            cond = (f"() => {{ const gd = {PLOTLY_GD}; return !!gd && gd._fullData && gd._fullData.filter(t => /^class /"
                    f".test(t.name)).reduce((a, t) => a + t.x.length, 0) > {n0}; }}")
        x, y = r[0] + (0.08 + 0.04 * i) * r[2], r[1] + 0.08 * r[2]

        def act():
            page.mouse.move(x - 15, y - 15)
            page.mouse.move(x, y, steps=3)
            page.wait_for_timeout(120)
            page.mouse.click(x, y)
        try:
            out.append(timed(page, cond, act))
        except Exception as err:
            print(f"  ({kind}: a draw click was not registered: {type(err).__name__})", flush=True)
        settle(page)
    page.context.close()
    return out


def med(xs):
    return f"{statistics.median(xs):.0f} ms" if xs else "n/a"


def spread(xs):
    return f"{min(xs):.0f}-{max(xs):.0f}" if xs else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="clicks / forget requests / draw clicks timed per canvas")
    add_write_docs_flag(ap, SECTION)
    args = ap.parse_args()
    if args.write_docs:
        check_doc_section(ap, SECTION)
    from playwright.sync_api import sync_playwright

    res = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        for kind, env in (("plotly", "plotly"), ("component", "")):
            print(f"--- {kind} canvas", flush=True)
            server = Server(env)
            try:
                page = open_page(browser, server.url, kind)
                r = {"click": click_ring(page, kind, args.repeats)}
                print("  click", r["click"], flush=True)
                r["forget"] = forget_first_frame(page, kind, args.repeats)
                print("  forget", r["forget"], flush=True)
                page.context.close()
                try:
                    r["play"] = playback(browser, server.url, kind)
                except Exception as err:  # reported as n/a, with the reason
                    print(f"  playback failed: {type(err).__name__}: {str(err)[:200]}", flush=True)
                    r["play"] = dict(frames=60, shown=0, fps=float("nan"), draw_ms=None, error=type(err).__name__)
                print("  play", r["play"], flush=True)
                r["draw"] = draw_click(browser, server.url, kind, args.repeats)
                res[kind] = r
                print(r, flush=True)
            finally:
                server.stop()
        browser.close()

    out = Lines()
    p, c = res["plotly"], res["component"]
    out("| measure (median, range in ms) | target | Plotly canvas | canvas component |")
    out("|---|---|---|---|")
    out(f"| click → selection ring | ≤ 50 ms | {med(p['click'])} ({spread(p['click'])}) | "
        f"{med(c['click'])} ({spread(c['click'])}) |")
    out(f"| Forget (3 points) → first animation frame | ≤ 500 ms | {med(p['forget'])} ({spread(p['forget'])}) | "
        f"{med(c['forget'])} ({spread(c['forget'])}) |")
    draw = f"; {c['play']['draw_ms']:.1f} ms to draw a frame" if c["play"].get("draw_ms") is not None else ""
    out(f"| playback of {c['play']['frames']} frames, frames/s drawn | ≥ 30 | {p['play']['fps']:.1f} "
        f"(its Play button, 120 ms a frame asked) | {c['play']['fps']:.1f} (speed 60/s{draw}) |")
    out(f"| Draw: click → point on screen | ≤ 50 ms | {med(p['draw'])} ({spread(p['draw'])}) | "
        f"{med(c['draw'])} ({spread(c['draw'])}) |")
    out()
    out(f"{args.repeats} clicks, forget requests and draw clicks per canvas; moons, 600 points, 2x64 MLP, 100x100 grid; "
        "headless system Chromium (software rendering, `--disable-gpu`) on the same machine as the server. Times "
        "run on the page's clock from the pointerdown to the next painted frame after the result is in the page. "
        "The component's Forget time is the server's script run up to the canvas (the JiT run starts in a "
        "background thread; the canvas is sent once its first optimiser step is in, and the rest streams in "
        "live mode) plus drawing; the retrain band follows in a later run while the animation plays.")
    if args.write_docs:
        write_docs(SECTION, out.text())


if __name__ == "__main__":
    main()
