"""A classroom on one server: N browser sessions open the same Playground link at once (issue 14, part 8).

For each N in ``--sessions`` (default 10 and 30; at most MAX_SESSIONS), a fresh ``streamlit run app.py``
server starts on a free local port, and headless system Chromium (one browser, one context per session,
so one Streamlit session each) opens the same link in all N at once. Measured per session: the seconds
from the common start until its page shows an interactive canvas (the Playground's canvas component with
its points listed, or the Plotly chart of PLAYGROUND_CANVAS=plotly) and the script has finished. Measured on
the server: its resident memory (RSS, from /proc) at start, its peak while the sessions load, once they
have loaded, and 10 s after every browser context has closed.

Targets (issue 14): 10 sessions each see a chart within 10 s, 30 sessions within 30 s. The browser runs on
the same machine as the server, so N pages compete with the server for the CPU: the report says how many
cores there were and the load average at the start.

    python benchmarks/classroom_load.py [--sessions 10,30] [--query "?dataset=moons"] [--no-cache] [--cold]
                                        [--timeout 300] [--write-docs]

Before the sessions, one visit to the Images page makes the server import torch and the library (as any
first visit does); ``--cold`` skips it.

``--no-cache`` starts the server with UNLEARN_MODEL_CACHE_MB=0, so every session trains its own model
(the behaviour before the shared cache). ``--write-docs`` replaces the ``classroom_load`` section of
docs/speed.md with the report.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _env import ROOT, Lines, add_write_docs_flag, check_doc_section, load_average, write_docs  # noqa: E402

MAX_SESSIONS = 40  # one browser context each, on the same machine as the server
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TARGET_S = {10: 10.0, 30: 30.0}
#: The chart is interactive: the script run is over and the canvas component lists its points (or, with
#: PLAYGROUND_CANVAS=plotly, the first Plotly chart has drawn its points).
READY_JS = """(plotly) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.dataset.testScriptState !== 'notRunning' || app.dataset.testConnectionState !== 'CONNECTED') return false;
  if (document.querySelector("[data-testid='stException']")) return 'exception';
  if (!plotly && document.querySelector("[data-testid='jit-canvas'] li[data-id]")) return 'canvas';
  if (plotly && document.querySelector("[data-testid='stPlotlyChart'] .js-plotly-plot .scatterlayer path.point")) return 'plotly';
  return false;
}"""
PLOTLY = os.environ.get("PLAYGROUND_CANVAS", "").strip().lower() == "plotly"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS), or NaN when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def stat_fields(pid) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pids) -> float:
    """User + system CPU seconds of the processes ``pids`` (gone ones count 0)."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in pids:
        fields = stat_fields(pid)
        if fields:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def descendants(root: int, exclude: int | None = None) -> list[int]:
    """The processes below ``root`` (children, their children, ...), leaving out ``exclude`` and its own."""
    parent = {}
    for name in os.listdir("/proc"):
        fields = stat_fields(name) if name.isdigit() else None
        if fields:
            parent[int(name)] = int(fields[1])
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        for child, par in parent.items():
            if par == p and child != exclude:
                out.append(child)
                todo.append(child)
    return out


class Sampler:
    """Samples a process's RSS every ``every`` seconds in a thread; ``peak`` since the last ``reset``."""

    def __init__(self, pid: int, every: float = 0.25):
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            v = rss_mb(self.pid)
            if v == v:
                self.peak = max(self.peak, v)
            self._stop.wait(self.every)

    def reset(self) -> None:
        self.peak = rss_mb(self.pid)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class Server:
    """``streamlit run app.py`` on a free port from the repository root, as the browser tests start it."""

    def __init__(self, env: dict):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logdir = tempfile.mkdtemp(prefix="classroom-streamlit-")
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
               "--server.address", "127.0.0.1", "--server.port", str(self.port), "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
        self.log = open(os.path.join(self.logdir, "server.log"), "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **env}, start_new_session=True)
        deadline = time.monotonic() + 90
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("streamlit did not answer /_stcore/health within 90 s")
            time.sleep(0.25)

    def tail(self, n: int = 3000) -> str:
        try:
            with open(os.path.join(self.logdir, "server.log"), errors="replace") as fh:
                return fh.read()[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        self.log.close()
        shutil.rmtree(self.logdir, ignore_errors=True)


async def warm_up(url: str, timeout_s: float) -> None:
    """One visit to the Images page: the server imports torch and the library, as it has after any first
    visit; the Playground's model is not trained by it."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        await page.goto(url + "/images", timeout=timeout_s * 1000)
        await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning'] h1",
                                     timeout=timeout_s * 1000)
        await browser.close()


async def open_all(url: str, n: int, timeout_s: float, server_pid: int, reduced_motion: bool = False):
    """Open ``url`` in ``n`` fresh browser contexts at once. Returns the seconds until each shows a ready chart
    (None: not within ``timeout_s``), what each saw ('canvas', 'plotly', 'exception', 'timeout' or an error),
    and the CPU seconds the browser's processes and the server spent from the start until the last was ready.
    ``reduced_motion``: the pages ask for reduced motion (``prefers-reduced-motion: reduce``)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        contexts = [await browser.new_context(viewport={"width": 1400, "height": 1000},
                                              reduced_motion="reduce" if reduced_motion else "no-preference")
                    for _ in range(n)]
        pages = [await c.new_page() for c in contexts]
        browser_pids = descendants(os.getpid(), exclude=server_pid)
        cpu0 = cpu_seconds(browser_pids), cpu_seconds([server_pid])
        t0 = time.perf_counter()

        async def one(page) -> tuple[float | None, str]:
            try:
                await page.goto(url, timeout=timeout_s * 1000)
                handle = await page.wait_for_function(READY_JS, arg=PLOTLY, timeout=timeout_s * 1000, polling=100)
                what = await handle.json_value()
                return time.perf_counter() - t0, str(what)
            except Exception as err:  # noqa: BLE001 - a timed-out or failed session is a result
                return None, "timeout" if "Timeout" in type(err).__name__ else f"{type(err).__name__}"

        results = await asyncio.gather(*(one(p) for p in pages))
        cpu = cpu_seconds(browser_pids) - cpu0[0], cpu_seconds([server_pid]) - cpu0[1]
        for c in contexts:
            await c.close()
        await browser.close()
    return [r[0] for r in results], [r[1] for r in results], cpu


def run_once(n: int, query: str, no_cache: bool, timeout_s: float, cold: bool, reduced_motion: bool = False) -> dict:
    server = Server({"UNLEARN_MODEL_CACHE_MB": "0"} if no_cache else {})
    sampler = Sampler(server.proc.pid)
    try:
        if not cold:
            asyncio.run(warm_up(server.url, timeout_s))
            time.sleep(3.0)  # the warm-up session disconnects
        rss_start = rss_mb(server.proc.pid)
        sampler.reset()
        times, seen, cpu = asyncio.run(open_all(server.url + "/" + query.lstrip("/"), n, timeout_s, server.proc.pid,
                                                reduced_motion))
        rss_loaded, peak = rss_mb(server.proc.pid), sampler.peak
        time.sleep(10.0)  # the browser contexts are closed: the sessions disconnect
        rss_after = rss_mb(server.proc.pid)
        if any(s not in ("canvas", "plotly") for s in seen):
            print(f"  server log tail:\n{server.tail(1500)}", flush=True)
    finally:
        sampler.stop()
        server.stop()
    ok = [t for t in times if t is not None]
    return dict(n=n, times=times, seen=seen, ok=len(ok), first=min(ok) if ok else None,
                median=statistics.median(ok) if ok else None, last=max(ok) if len(ok) == n else None,
                rss_start=rss_start, peak=peak, rss_loaded=rss_loaded, rss_after=rss_after,
                browser_cpu=cpu[0], server_cpu=cpu[1], reduced_motion=reduced_motion)


def in_process(n: int, cached: bool) -> dict:
    """The server's own work for ``n`` sessions opening the default Playground at once, without a browser:
    ``n`` threads each build the workspace, train the original (through the shared cache, or each its own
    with ``cached=False``) and compute the canvas layers. Seconds until each thread is done, and the whole."""
    import torch

    from ui.state.cache import MODELS
    from ui.state.config import Config
    from ui.state.workspace import new_workspace

    torch.set_num_threads(1)  # as the pages
    MODELS.clear()
    budget, MODELS.max_bytes = MODELS.max_bytes, (MODELS.max_bytes if cached else 0)
    cfg = Config()
    done: list[float] = []
    start = threading.Barrier(n + 1)

    def session() -> None:
        start.wait()
        ws = new_workspace(cfg.dataset, n_samples=cfg.n, noise=cfg.noise, seed=cfg.seed, classes=cfg.classes,
                           test_ratio=cfg.test, model_cfg=cfg.model_config())
        ws.train()
        ws.layers(ws.model)
        done.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=session) for _ in range(n)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    MODELS.max_bytes = budget
    MODELS.clear()
    return dict(n=n, cached=cached, first=min(done), median=statistics.median(done), last=max(done))


def fmt_s(v) -> str:
    return "-" if v is None else f"{v:.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", default="10,30", help=f"comma-separated session counts (each 1..{MAX_SESSIONS})")
    ap.add_argument("--query", default="", help="the classroom link's query string, e.g. '?dataset=moons&hide=data'")
    ap.add_argument("--no-cache", action="store_true", help="UNLEARN_MODEL_CACHE_MB=0: every session trains")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds a session may take (1..900)")
    ap.add_argument("--cold", action="store_true",
                    help="no warm-up visit: the first session also pays for importing torch and the library")
    add_write_docs_flag(ap, "classroom_load")
    args = ap.parse_args()
    try:
        counts = [int(v) for v in args.sessions.split(",") if v.strip()]
    except ValueError:
        ap.error(f"--sessions: expected comma-separated integers, got {args.sessions!r}")
    if not counts or any(not 1 <= c <= MAX_SESSIONS for c in counts):
        ap.error(f"--sessions: each count must be 1 to {MAX_SESSIONS}, got {args.sessions!r}")
    if not 1 <= args.timeout <= 900:
        ap.error("--timeout must be 1 to 900 seconds")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        ap.error(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set E2E_CHROMIUM)")
    if args.write_docs:
        check_doc_section(ap, "classroom_load")

    out = Lines()
    out(f"Sessions opening `/{args.query}` at once on a fresh local server"
        f"{'' if args.cold else ' after one visit to the Images page (imports done, no Playground model trained)'}; "
        f"model cache {'off (UNLEARN_MODEL_CACHE_MB=0)' if args.no_cache else 'on'}; "
        f"{'Plotly canvas' if PLOTLY else 'canvas component'}; server and headless Chromium share the same "
        f"{os.cpu_count()} logical CPUs.")
    out()
    out("| sessions | browsers' motion | charts shown | first | median | last (target) | CPU s per session: "
        "browser / server | server RSS: start → peak → loaded → 10 s after closing |")
    out("|---:|---|---:|---:|---:|---:|---|---|")
    runs = []
    for n in counts:
        for reduced in (False, True):
            print(f"{n} sessions{', reduced motion' if reduced else ''} ({load_average()})...", flush=True)
            r = run_once(n, args.query, args.no_cache, args.timeout, args.cold, reduced)
            runs.append(r)
            target = TARGET_S.get(n)
            met = "" if target is None else (
                f" ({'met' if r['last'] is not None and r['last'] <= target else 'NOT met'}: ≤ {target:g} s)")
            out(f"| {n} | {'reduced' if reduced else 'default'} | {r['ok']}/{n} | {fmt_s(r['first'])} | "
                f"{fmt_s(r['median'])} | {fmt_s(r['last'])}{met} | {r['browser_cpu'] / n:.2f} / "
                f"{r['server_cpu'] / n:.2f} | {r['rss_start']:.0f} → {r['peak']:.0f} → {r['rss_loaded']:.0f} → "
                f"{r['rss_after']:.0f} MB |")
    out()
    for r in runs:
        shown = ", ".join("-" if t is None else f"{t:.1f}" for t in sorted(r["times"], key=lambda t: t or 1e9))
        kinds = sorted(set(r["seen"]))
        out(f"- {r['n']} sessions{', reduced motion' if r['reduced_motion'] else ''}, seconds until each chart: "
            f"{shown} (saw: {', '.join(kinds)})")
    out()
    out("CPU s per session: the CPU seconds the browser's processes (all N pages) and the server spent from the "
        "common start until the last page was ready, divided by N. 'Reduced motion': the browser contexts ask for "
        "`prefers-reduced-motion: reduce`, which stops Streamlit's own transitions (fading stale elements, the "
        "running indicator) in the N waiting pages; the app is the same.")
    out()
    out("The server's own work, in process and without a browser: N threads each build the default workspace, "
        "train the original model and compute the canvas layers (seconds until each thread is done):")
    out()
    out("| sessions | shared model cache | first | median | last |")
    out("|---:|---|---:|---:|---:|")
    for n in counts:
        for cached in (True, False):
            r = in_process(n, cached)
            out(f"| {n} | {'on' if cached else 'off'} | {fmt_s(r['first'])} | {fmt_s(r['median'])} | "
                f"{fmt_s(r['last'])} |")
    out()
    out(f"Load average at the end: {load_average().removeprefix('load average ')}. Where it exceeds the "
        f"{os.cpu_count()} CPUs, other jobs shared the machine with this run, and every figure is slower than on a "
        f"quiet machine.")
    if args.write_docs:
        write_docs("classroom_load", out.text())


if __name__ == "__main__":
    main()
