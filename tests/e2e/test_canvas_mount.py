"""The canvas component's entry point (ui/views/canvas_js/canvas.js) under the call orders Streamlit 1.67 uses,
in a real browser but without a server: the module is imported from a blob URL and its default export called
the way the BidiComponent frontend calls it.

Streamlit calls the entry on mount and on every data change with the same ``parentElement``, and runs the
returned cleanup at unmount. When the data change while the module import is still pending (a fresh page whose
first script run reruns at once: a shared link with a forget history), it calls the entry for the old data and
runs that call's cleanup at once, then calls the entry for the new data. A cleanup that left its element in
place showed two canvases, one above the other (found by tests/e2e/test_share_browser.py).

A live run's payloads after the first carry only the frames the canvas lacks (``only_new_frames``); the canvas
rebuilds the animation from the frames it holds and asks for everything (a ``resend`` event) when one is missing.
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
from ui.views.canvas_payload import CANVAS_CSS, CANVAS_JS, canvas_payload, only_new_frames  # noqa: E402

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


def live_payload(steps: list[int]) -> dict:
    r = 16
    X = np.random.default_rng(0).normal(size=(12, 2)).astype(np.float32)
    frames = [np.random.default_rng(s).integers(0, 200, (r, r)).astype(np.uint8) for s in steps]
    return json.loads(json.dumps(canvas_payload(GridSpec((-3.0, 3.0, -3.0, 3.0), r), X, np.arange(12) % 2, n_classes=2,
                                                frames=frames, frame_steps=steps, train_ids=range(12),
                                                run="live:7", live=True)))


FRAMES = """() => { const v = window.host.querySelector("[data-testid='jit-canvas']").__view;
  return {steps: Array.from(v.steps), sums: v.frames.map(f => f.reduce((a, b) => a + b, 0))}; }"""


def sums(steps: list[int]) -> list[int]:
    return [int(np.random.default_rng(s).integers(0, 200, (16, 16)).astype(np.uint8).sum()) for s in steps]


def test_live_payloads_of_new_frames_rebuild_the_whole_animation(page: Page):
    first = live_payload([0, 1, 2, 3])
    page.evaluate("d => { window.call(d); }", first)
    second = only_new_frames(live_payload([0, 2, 4, 5]), first["steps"])  # steps 1 and 3 thinned away
    assert second["new_steps"] == [4, 5] and len(second["frames"]) == 2
    page.evaluate("d => { window.call(d); }", second)
    assert page.evaluate(FRAMES) == {"steps": [0, 2, 4, 5], "sums": sums([0, 2, 4, 5])}
    assert page.evaluate("() => window.sent") == []  # nothing was missing: nothing asked
    # A payload that assumes a frame the canvas never got (step 7): it shows what it has and asks for all
    lost = only_new_frames(live_payload([0, 2, 4, 5, 7, 8]), [0, 2, 4, 5, 7])
    page.evaluate("d => { window.call(d); }", lost)
    assert page.evaluate(FRAMES) == {"steps": [0, 2, 4, 5, 8], "sums": sums([0, 2, 4, 5, 8])}
    assert page.evaluate("() => window.sent") == [["event", {"kind": "resend"}]]
    page.evaluate("d => { window.call(d); }", lost)  # asked at most once a second
    assert len(page.evaluate("() => window.sent")) == 1
    page.evaluate("d => { window.call(d); }", live_payload([0, 2, 4, 5, 7, 8]))  # the whole payload: healed
    assert page.evaluate(FRAMES) == {"steps": [0, 2, 4, 5, 7, 8], "sums": sums([0, 2, 4, 5, 7, 8])}


def test_new_frames_of_another_run_are_not_mixed_with_the_held_ones(page: Page):
    page.evaluate("d => { window.call(d); }", live_payload([0, 1, 2]))
    other = only_new_frames({**live_payload([0, 1, 2, 3]), "run": "live:8"}, [0, 1, 2])
    page.evaluate("d => { window.call(d); }", other)
    assert page.evaluate(FRAMES)["steps"] == [3]  # only what came with it
    assert page.evaluate("() => window.sent") == [["event", {"kind": "resend"}]]
