"""How long from a click on "Forget" to the animation on screen (issue 3's target: < 0.5 s median).

Setting: 600 moons points, the default 2x64 MLP, JiT on 30 training points with batch size 1, so
30 optimiser steps, 31 frames of a 100x100 grid. Two measurements:

1. ``work``: what the rerun does before the animated chart goes out, in this process: the JiT run with
   a grid per step (``Workspace.forget``), building the canvas figure, and Streamlit's own marshalling of
   it (``plotly.tools.return_figure_from_figure_or_data`` with validation, then ``plotly.io.to_json``),
   with the payload size.
2. ``selection``: the whole page's rerun when the selection changes (nothing heavy may be recomputed).
3. ``browser`` (when /usr/bin/chromium exists): a real ``streamlit run`` server and headless Chromium;
   from the click on the Forget button to the Play button of the animated canvas in the page.

    python benchmarks/app_speed.py [--repeats 7] [--no-browser] [--write-docs]

``--write-docs`` replaces the ``app_speed`` section of docs/speed.md with the report.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402
import plotly.io as pio  # noqa: E402
import plotly.tools  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _env import Lines, add_write_docs_flag, check_doc_section, cpu_model, load_average, write_docs  # noqa: E402
from ui.state.grids import Layers  # noqa: E402
from ui.state.workspace import new_workspace  # noqa: E402
from ui.views import canvas  # noqa: E402

HP = dict(batch_size=1, lr=0.025, normalize_step="probe")
N_FORGET = 30


def work(repeats: int) -> dict:
    ws = new_workspace("moons", n_samples=600, seed=0)
    ws.train()
    ids = np.random.default_rng(0).choice(ws.train_ids, N_FORGET, replace=False)
    parts = {"forget (JiT + 31 grids)": [], "figure": [], "marshal (validate + JSON)": [], "total": []}
    size = 0
    for _ in range(repeats):
        ws.reset()
        ws.select(ids)
        t0 = time.perf_counter()
        step = ws.forget("jit", HP)
        t1 = time.perf_counter()
        frames = [Layers(s, c) for s, c in step.frames]
        fig = canvas.canvas_figure(ws.gridspec, ws.X, ws.y, n_classes=2, layers=frames[-1], train_ids=ws.train_ids,
                                   test_ids=ws.test_ids, forgotten=ws.forgotten, frames=frames,
                                   frame_steps=step.frame_steps)
        t2 = time.perf_counter()
        spec = pio.to_json(plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True), validate=False)
        t3 = time.perf_counter()
        size = len(spec)
        for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
            parts[k].append(v)
    assert len(step.frames) == N_FORGET // HP["batch_size"] + 1
    return {"medians": {k: statistics.median(v) for k, v in parts.items()}, "payload_mb": size / 1e6,
            "frames": len(step.frames)}


def selection_rerun(repeats: int) -> float:
    """Median seconds of the whole page's rerun when a selection changes (after one forget request, so
    the animated canvas, both panels and the metrics table are on the page), through AppTest."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(os.path.join(os.path.dirname(__file__), "..", "app.py"), default_timeout=120)
    at.query_params["dataset"] = "moons"
    at.run()

    def press(prefix):
        next(b for b in at.button if b.label.startswith(prefix)).click().run()

    press("Select k random")
    press("Forget with")
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        press("Select k random")
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def browser(repeats: int, port: int = 8597) -> list[float]:
    from playwright.sync_api import sync_playwright
    root = os.path.join(os.path.dirname(__file__), "..")
    srv = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                            "--server.address", "127.0.0.1", "--server.port", str(port),
                            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                           cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times, arrivals = [], []
    try:
        for _ in range(100):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health").read() == b"ok":
                    break
            except OSError:
                time.sleep(0.3)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"])
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            big = []  # arrival times of large websocket messages (the animated figure's delta)

            def on_ws(ws):
                ws.on("framereceived", lambda payload: big.append(time.perf_counter())
                      if len(payload) > 500_000 else None)

            page.on("websocket", on_ws)
            hp = "&".join(f"{k}={v}" for k, v in HP.items())
            page.goto(f"http://127.0.0.1:{port}/?dataset=moons&n=600&seed=0&method=jit&{hp}")
            idle = "[data-testid='stApp'][data-test-script-state='notRunning']"
            page.wait_for_selector(idle, timeout=120_000)
            for _ in range(repeats):
                # Select through the app's own quick selector: k random training points.
                reset = page.get_by_role("button", name="Reset", exact=True)
                if reset.is_enabled():
                    reset.click()
                    page.wait_for_timeout(300)
                    page.wait_for_selector(idle, timeout=60_000)
                if not page.get_by_label("k random training points").is_visible():
                    page.get_by_text("Quick selectors").click()
                page.get_by_label("k random training points").fill(str(N_FORGET))
                page.get_by_role("button", name="Select k random").click()
                page.wait_for_timeout(300)
                page.wait_for_selector(idle, timeout=60_000)
                page.wait_for_timeout(500)
                big.clear()
                t0 = time.perf_counter()
                page.get_by_role("button", name="Forget with jit").click()
                page.locator("[data-testid='stPlotlyChart'] g.updatemenu-button").first.wait_for(timeout=60_000)
                times.append(time.perf_counter() - t0)
                if big:
                    arrivals.append(big[0] - t0)
                page.wait_for_selector(idle, timeout=60_000)
            b.close()
    finally:
        srv.terminate()
    return times, arrivals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-browser", action="store_true")
    add_write_docs_flag(ap, "app_speed")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if args.write_docs:
        check_doc_section(ap, "app_speed")
    torch.set_num_threads(1)  # as the app does
    print(f"CPU: {cpu_model()}, {load_average()}, torch threads 1")
    out = Lines()
    hp = ", ".join(f"{k}={v}" for k, v in HP.items())
    out(f"- 600 moons points, the default 2x64 MLP, JiT on {N_FORGET} training points ({hp}); "
        f"torch 1 thread, as the app; median of {args.repeats}")
    w = work(args.repeats)
    labels = {"forget (JiT + 31 grids)": f"JiT with a grid per step ({w['frames']} frames of 100x100)",
              "figure": "building the figure (a plain dict, uint8 grids)",
              "marshal (validate + JSON)": f"Streamlit's marshalling (Plotly validation + JSON; "
                                           f"{w['payload_mb']:.2f} MB)",
              "total": "**total rerun work before the animated canvas goes out (target < 500 ms)**"}
    out("\n| what | median |\n|---|---:|")
    for k, v in w["medians"].items():
        ms = f"{1000 * v:.0f} ms" if k != "total" else f"**{1000 * v:.0f} ms**"
        out(f"| {labels.get(k, k)} | {ms} |")
    out(f"| whole-page rerun when the selection changes (AppTest) | {1000 * selection_rerun(args.repeats):.0f} ms |")
    if not args.no_browser and os.path.exists("/usr/bin/chromium"):
        t, arrived = browser(args.repeats)
        out(f"| real browser, click on Forget -> Play button on screen (`streamlit run` + headless Chromium; "
            f"{len(t)} runs, min-max {1000 * min(t):.0f}-{1000 * max(t):.0f} ms; target < 500 ms) "
            f"| {1000 * statistics.median(t):.0f} ms |")
        if arrived:
            out(f"| of which: click -> the figure's message reaches the browser (the rest is the browser "
                f"rendering it) | {1000 * statistics.median(arrived):.0f} ms |")
    else:
        out("\nThe real-browser timing was not run (--no-browser, or no /usr/bin/chromium).")
    if args.write_docs:
        write_docs("app_speed", out.text())


if __name__ == "__main__":
    main()
