"""The canvas component's entry point (ui/views/canvas_js/canvas.js) under the call orders Streamlit 1.67 uses,
in a real browser but without a server: the module is imported from a blob URL and its default export called
the way the BidiComponent frontend calls it.

Streamlit calls the entry on mount and on every data change with the same ``parentElement``, and runs the
returned cleanup at unmount. When the data change while the module import is still pending (a fresh page whose
first script run reruns at once: a shared link with a forget history), it calls the entry for the old data and
runs that call's cleanup at once, then calls the entry for the new data. A cleanup that left its element in
place showed two canvases, one above the other (found by tests/e2e/test_share_browser.py).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not os.access(os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium"), os.X_OK):
    pytest.skip("no system Chromium (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page  # noqa: E402

from ui.state.grids import GridSpec  # noqa: E402
from ui.views.canvas_payload import CANVAS_CSS, CANVAS_JS, canvas_payload  # noqa: E402

pytestmark = [pytest.mark.e2e]

SETUP = """async ([js, css]) => {
  const style = document.createElement('style'); style.textContent = css; document.head.appendChild(style);
  const url = URL.createObjectURL(new Blob([js], {type: 'text/javascript'}));
  window.entry = (await import(url)).default;
  window.host = document.getElementById('host');
  window.sent = [];
  window.call = data => window.entry({name: 'c', data, key: 'k', parentElement: window.host,
    setStateValue: () => {}, setTriggerValue: (k, v) => window.sent.push([k, v])});
  window.roots = () => Array.from(window.host.querySelectorAll("[data-testid='jit-canvas']"))
    .map(r => ({title: r.dataset.title || '', run: r.dataset.run, frames: r.dataset.frames}));
}"""


def payload(run: str, n_frames: int) -> dict:
    r, k = 16, 2
    X = np.random.default_rng(0).normal(size=(12, 2)).astype(np.float32)
    y = np.arange(12) % 2
    frames = [np.full((r, r), 40 * f, np.uint8) for f in range(n_frames)]
    return json.loads(json.dumps(canvas_payload(GridSpec((-3.0, 3.0, -3.0, 3.0), r), X, y, n_classes=k, frames=frames,
                                                train_ids=range(12), run=run, title=run)))


@pytest.fixture
def page(chromium) -> Page:
    ctx = chromium.new_context(viewport={"width": 900, "height": 800})
    pg = ctx.new_page()
    pg.set_content("<!doctype html><html><body><div id='host' style='width: 800px'></div></body></html>")
    pg.evaluate(SETUP, [CANVAS_JS, CANVAS_CSS])
    yield pg
    ctx.close()


def test_data_changes_update_one_canvas_and_unmount_removes_it(page: Page):
    page.evaluate("d => { window.cleanup1 = window.call(d); }", payload("first", 1))
    page.evaluate("d => { window.cleanup2 = window.call(d); }", payload("second", 3))
    roots = page.evaluate("() => window.roots()")
    assert [r["run"] for r in roots] == ["second"]  # one canvas, showing the newest data
    assert roots[0]["frames"] == "3"
    page.evaluate("() => window.cleanup2()")  # unmount: Streamlit runs the latest call's cleanup
    assert page.evaluate("() => window.roots()") == []
    page.evaluate("d => { window.call(d); }", payload("third", 2))  # mounted again later: one fresh canvas
    assert [r["run"] for r in page.evaluate("() => window.roots()")] == ["third"]


def test_a_call_cleaned_up_at_once_leaves_no_second_canvas(page: Page):
    """The pending-import race: the call for the old data is cleaned up right away, then the new data mount."""
    page.evaluate("d => { window.call(d)(); }", payload("before-rerun", 1))
    assert page.evaluate("() => window.roots()") == []
    page.evaluate("d => { window.cleanup = window.call(d); }", payload("after-rerun", 2))
    roots = page.evaluate("() => window.roots()")
    assert [r["run"] for r in roots] == ["after-rerun"]
    assert page.evaluate("() => window.host.querySelectorAll('canvas').length") >= 1
