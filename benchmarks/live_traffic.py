"""Live mode's cost: frames computed and frames sent, each against the old way, side by side in one run.

    python benchmarks/live_traffic.py [--repeats 3] [--busy 0,3] [--write-docs]

In this process first: ``Workspace.forget`` of the run below with a grid computed after every optimiser step and
thinned to 60 afterwards (as before), against only the 60 grids that are kept (``total_steps``, what the page
passes for JiT); the frames are the same (tests/test_ui.py checks it).

Starts ``streamlit run app.py`` twice (``PLAYGROUND_LIVE_DELTA=0``: each fragment tick re-sends every frame so
far, as before; the default: only the frames the canvas lacks), opens the Playground in headless system Chromium
(Playwright), selects 20 random points and forgets them with batch size 1 in 20 passes (400 optimiser steps, up to
60 frames of a 100x100 grid streamed while the run goes), and measures, per forget request:

- bytes the server sent the browser over its websocket from the press on Forget until the run has ended and the
  page has settled (everything: the ticks, the final page, the loss chart, the retrain band);
- the canvas updates the browser received while the run streamed (``data-last-step`` changes);
- seconds from the press to the end of the run in the page (``data-live`` false).

Both servers compute only the kept grids; the first part says what that changed.

``--busy N`` also runs N busy-looping processes during the requests, a stand-in for a classroom server's other
sessions (2 cores here). Not a test: figures go to docs/speed.md (``--write-docs``), never asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from _env import Lines, add_write_docs_flag, check_doc_section, write_docs  # noqa: E402
from browser_canvas import ARGS, CHROMIUM, NEW_ROOT, RUN_MS, Server, select_random, settle  # noqa: E402

QUERY = "?dataset=moons&n=600&seed=0&batch_size=1&epochs=20&lr=0.002"
POINTS = 20
SECTION = "live_traffic"

WATCH = f"""() => {{ const r = {NEW_ROOT}; window.__ticks = 0; let last = r.dataset.lastStep;
  const poll = () => {{ if (r.dataset.live === 'true' && r.dataset.lastStep !== last) {{ window.__ticks++; }}
    last = r.dataset.lastStep; if (!window.__stop) requestAnimationFrame(poll); }};
  window.__stop = false; requestAnimationFrame(poll); }}"""


def measure(browser, url: str, repeats: int) -> list[dict]:
    page = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
    got = {"bytes": 0}

    def on_ws(ws):
        ws.on("framereceived", lambda payload: got.__setitem__("bytes", got["bytes"] + len(payload)))

    page.on("websocket", on_ws)
    page.goto(url + "/" + QUERY)
    page.wait_for_selector("[data-testid='jit-canvas'] li[data-id]", state="attached", timeout=RUN_MS)
    settle(page)
    out = []
    for _ in range(repeats):
        select_random(page, POINTS)
        page.evaluate(WATCH)
        got["bytes"] = 0
        t0 = time.monotonic()
        page.get_by_role("button", name="Forget with jit").click()
        page.wait_for_function(f"() => {NEW_ROOT}.dataset.live === 'true'", timeout=RUN_MS)
        page.wait_for_function(f"() => {NEW_ROOT}.dataset.live === 'false'", timeout=RUN_MS, polling=50)
        seconds = time.monotonic() - t0
        settle(page)
        page.wait_for_timeout(500)
        settle(page)
        ticks = page.evaluate("() => { window.__stop = true; return window.__ticks; }")
        last = int(page.evaluate(f"() => {NEW_ROOT}.dataset.lastStep"))
        out.append(dict(bytes=got["bytes"], ticks=ticks, seconds=seconds, last=last))
        print("   ", out[-1], flush=True)
        page.get_by_role("button", name="Reset", exact=True).click()
        settle(page)
    page.context.close()
    return out


def frames_cost(repeats: int) -> dict:
    """Seconds of ``Workspace.forget`` for the 400-step run: every grid, and only the kept ones."""
    from ui.state import report
    from ui.state.workspace import new_workspace

    ws = new_workspace("moons", n_samples=600, seed=0)
    ws.train()
    hp = dict(batch_size=1, epochs=20, lr=0.002)
    total = report.steps_for(POINTS, 1, 20)
    out = {"every step": [], "kept only": []}
    for _ in range(repeats):
        for name, known in (("every step", None), ("kept only", total)):
            ws.reset()  # the trained model, no history
            ws.select_random(POINTS, seed=1)
            t = time.perf_counter()
            step = ws.forget("jit", hp, total_steps=known)
            out[name].append(time.perf_counter() - t)
            assert len(step.history) == total
    print("   ", out, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="forget requests per server and load")
    ap.add_argument("--busy", default="0,3", help="comma-separated counts of busy-looping processes to run beside")
    add_write_docs_flag(ap, SECTION)
    args = ap.parse_args()
    if args.write_docs:
        check_doc_section(ap, SECTION)
    try:
        busies = [int(b) for b in args.busy.split(",") if b.strip()]
    except ValueError:
        ap.error(f"--busy must be comma-separated integers, got {args.busy!r}")
    if args.repeats < 1 or any(b < 0 for b in busies):
        ap.error("--repeats must be >= 1 and --busy counts >= 0")
    from playwright.sync_api import sync_playwright

    print("--- in this process: grids computed", flush=True)
    cost = frames_cost(args.repeats)
    res = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        servers = {"every frame each tick": Server("", PLAYGROUND_LIVE_DELTA="0"),
                   "new frames only": Server("", PLAYGROUND_LIVE_DELTA="1")}
        try:
            for busy in busies:
                hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
                try:
                    for name, server in servers.items():  # the two side by side, at the same load
                        print(f"--- {name}, {busy} busy processes", flush=True)
                        res[(busy, name)] = measure(browser, server.url, args.repeats)
                finally:
                    for h in hogs:
                        h.kill()
                        h.wait()
        finally:
            for server in servers.values():
                server.stop()
            browser.close()

    def med(rows, key):
        return statistics.median(r[key] for r in rows)

    out = Lines()
    every, kept = statistics.median(cost["every step"]), statistics.median(cost["kept only"])
    out("| Workspace.forget, 400 optimiser steps (median s) | a grid after every step (before) | only the 60 kept "
        "grids | ratio |")
    out("|---|---|---|---|")
    out(f"| in this process, quiet | {every:.2f} | {kept:.2f} | {every / kept:.1f}x |")
    out()
    out("| busy processes | live payloads | sent per forget (median) | canvas updates while streaming | "
        "press → run ended (s) |")
    out("|---|---|---|---|---|")
    for busy in busies:
        for name in ("every frame each tick", "new frames only"):
            rows = res[(busy, name)]
            out(f"| {busy} | {name} | {med(rows, 'bytes') / 1e6:.2f} MB | {med(rows, 'ticks'):.0f} | "
                f"{med(rows, 'seconds'):.1f} ({min(r['seconds'] for r in rows):.1f}-"
                f"{max(r['seconds'] for r in rows):.1f}) |")
        full, new = res[(busy, "every frame each tick")], res[(busy, "new frames only")]
        out(f"| {busy} | ratio | {med(full, 'bytes') / med(new, 'bytes'):.1f}x fewer bytes | | "
            f"{med(full, 'seconds') / med(new, 'seconds'):.2f}x |")
    out()
    out(f"{args.repeats} forget requests per row: {POINTS} random points of moons (600 points, 2x64 MLP, 100x100 grid), "
        "JiT with batch size 1 in 20 passes (400 optimiser steps; the canvas keeps up to 60 frames), fragment ticks "
        "every 0.5 s. Bytes: everything the server sent over the page's websocket from the press until the page "
        "settled after the run, the final page and the retrain band included. Server and headless Chromium share "
        "the machine's cores with the busy processes.")
    print(out.text())
    if args.write_docs:
        write_docs(SECTION, out.text())


if __name__ == "__main__":
    main()
