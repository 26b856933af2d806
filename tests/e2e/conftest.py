"""Fixtures for the real-browser tests: a Streamlit server on a free port and headless Chromium.

The module skips cleanly where Playwright or a system Chromium is missing (``E2E_CHROMIUM`` overrides
``/usr/bin/chromium``). No browser is ever downloaded: Playwright drives the system Chromium.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SERVER_START_S = 60


def _missing() -> str | None:
    try:
        found = importlib.util.find_spec("playwright.sync_api") is not None
    except ImportError:
        found = False
    if not found:
        return "playwright is not installed (pip install playwright; the browser itself is the system Chromium)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set E2E_CHROMIUM)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _log_tail(path: Path, n: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


@contextlib.contextmanager
def streamlit_server(*extra_args: str):
    """``streamlit run app.py`` from the repository root on a free port, with ``extra_args``; yields
    (base URL, process) once /_stcore/health answers, and stops the server at the end."""
    port = _free_port()
    log = Path(tempfile.mkdtemp(prefix="e2e-streamlit-")) / "server.log"
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.address", "127.0.0.1", "--server.port", str(port), "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false", *extra_args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{_log_tail(log)}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer /_stcore/health within {SERVER_START_S} s:\n{_log_tail(log)}")
            time.sleep(0.25)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        shutil.rmtree(log.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def app_url():
    """Base URL of ``streamlit run app.py`` started from the repository root; stopped at the end."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    with streamlit_server() as (url, _):
        yield url


@pytest.fixture(scope="session")
def chromium():
    """One headless system Chromium for the session."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


@pytest.fixture
def app_page(chromium, app_url):
    """A fresh page (own context, so its own Streamlit session) per test."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1100})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
