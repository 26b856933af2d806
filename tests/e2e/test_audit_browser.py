"""The Forgetting audit page in a real browser: run a small audit, click a forget point on the epsilon
canvas, see its histograms. Skipped without Playwright or a system Chromium (see conftest.py)."""
from __future__ import annotations

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

HELPERS = """
window.audit = {
  charts() { return Array.from(document.querySelectorAll("[data-testid='stPlotlyChart'] .js-plotly-plot")); },
  canvas() { return this.charts().find(gd => gd._fullData && gd._fullData.some(t => t.name === 'forget point')); },
  histogram() {
    const isHist = gd => gd._fullData && gd._fullData.length && gd._fullData.every(t => t.type === 'histogram');
    return this.charts().find(isHist);
  },
  ring() {
    const t = this.canvas()._fullData.find(t => t.name === 'shown on the right');
    return t ? [t.x[0], t.y[0]] : null;
  },
  // Page-pixel centre and id of the forget point farthest from every other drawn audited point and from
  // the ring (the point shown now), so that a click cannot land on a neighbour.
  target() {
    const gd = this.canvas();
    const scat = gd._fullData.filter(t => t.type === 'scatter');
    const groups = Array.from(gd.querySelectorAll('g.trace.scatter'));
    const pts = [];
    groups.forEach((g, gi) => {
      if (!['forget point', 'retained (audited sample)', 'shown on the right'].includes(scat[gi].name)) return;
      g.querySelectorAll('path.point').forEach((p, pi) => {
        const r = p.getBoundingClientRect();
        pts.push({name: scat[gi].name, x: r.x + r.width / 2, y: r.y + r.height / 2,
                  id: scat[gi].customdata ? Number(scat[gi].customdata[pi]) : null});
      });
    });
    let best = null;
    for (const a of pts) {
      if (a.name !== 'forget point') continue;
      let d = Infinity;
      for (const b of pts) if (b !== a) d = Math.min(d, Math.hypot(a.x - b.x, a.y - b.y));
      if (!best || d > best.d) best = {x: a.x, y: a.y, d, id: a.id};
    }
    return best;
  },
};
"""




def test_audit_click_a_forget_point_shows_its_histograms(app_page: Page, app_url: str):
    page = app_page
    page.add_init_script(HELPERS)
    page.goto(f"{app_url}/audit")
    page.wait_for_selector("[data-testid='stAppViewContainer']")
    settle(page)
    expect(page.get_by_role("heading", level=1).first).to_have_text("Forgetting audit")
    assert_no_exception(page)

    k = page.get_by_role("slider", name="K: models per sample")
    k.focus()
    page.keyboard.press("Home")  # the smallest K
    settle(page)
    expect(k).to_have_attribute("aria-valuetext", "8")
    page.get_by_role("button", name="Run the audit").click()
    settle(page)
    assert_no_exception(page)
    expect(page.get_by_role("heading", name="Findings")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    page.wait_for_function("() => window.audit.canvas() && window.audit.histogram()")
    first = page.locator("[data-testid='stMarkdownContainer']").filter(has_text=re.compile(r"^Forget point #\d+"))
    expect(first).to_have_count(1)
    shown_before = int(re.search(r"#(\d+)", first.inner_text()).group(1))

    canvas = page.locator("[data-testid='stPlotlyChart']").first
    canvas.scroll_into_view_if_needed()
    for _ in range(4):  # a click can be lost (plotly.js#6898): retry
        pt = page.evaluate("window.audit.target()")
        assert pt is not None and pt["id"] != shown_before
        hover_click(page, pt["x"], pt["y"])
        settle(page)
        try:
            summary = page.locator("[data-testid='stMarkdownContainer']").filter(
                has_text=re.compile(rf"^Forget point #{pt['id']} "))
            expect(summary).to_have_count(1, timeout=5_000)
            break
        except AssertionError:
            continue
    else:
        raise AssertionError("four clicks on a forget point did not show its histograms")
    assert_no_exception(page)
    page.wait_for_function("() => window.audit.histogram()")
    hist = page.evaluate("""() => { const gd = window.audit.histogram();
        return {names: gd._fullData.map(t => t.name), barmode: gd._fullLayout.barmode,
                title: gd._fullLayout.title.text}; }""")
    assert hist["barmode"] == "overlay"
    assert any(n.startswith("unlearned with jit") for n in hist["names"])
    assert any(n.startswith("retrained without the forget set") for n in hist["names"])
    assert hist["title"].startswith(f"Point #{pt['id']}:")
    ring = page.evaluate("window.audit.ring()")
    spot = page.evaluate("""id => { const t = window.audit.canvas()._fullData.find(t => t.name === 'forget point');
        const i = Array.from(t.customdata, Number).indexOf(id); return [t.x[i], t.y[i]]; }""", pt["id"])
    assert ring == pytest.approx(spot), "the ring does not mark the clicked point"
