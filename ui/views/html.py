"""Figures as files: a standalone HTML page (plotly.js inline), and the figure dicts the exports start from.

    animation_html(fig) -> bytes      offline HTML, animation paused until Play
    static_figure(fig, frame=None)    a figure dict without its animation (what a still image shows)

PNG rendering (Kaleido and a browser) is ``ui.views.png``.
"""
from __future__ import annotations

import copy
import html
import re

import plotly.graph_objects as go
import plotly.io as pio

try:  # numpy arrays -> base64 typed arrays, as Figure.to_dict does (plotly >= 6)
    from _plotly_utils.utils import convert_to_base64
except ImportError:  # pragma: no cover - older plotly: arrays are written as lists
    convert_to_base64 = None

_BDATA = re.compile(r'"bdata":"(?:[A-Za-z0-9+=]|\\u002f)*"')


def figure_dict(fig: go.Figure | dict) -> dict:
    """A deep copy of ``fig`` as a figure dict, numpy arrays as base64 typed arrays (as
    ``Figure.to_dict`` gives them): a 60-frame canvas is 4 MB of HTML instead of 9."""
    if isinstance(fig, go.Figure):
        return fig.to_dict()
    if not isinstance(fig, dict) or not isinstance(fig.get("data", []), (list, tuple)) \
            or not isinstance(fig.get("layout", {}), dict):
        raise ValueError("expected a Plotly figure or a figure dict with 'data' (a list) and 'layout' (a dict)")
    d = copy.deepcopy(fig)
    if convert_to_base64 is not None:
        convert_to_base64(d)
    return d


def animation_html(fig: go.Figure | dict, *, title: str = "JiT unlearning playground") -> bytes:
    """A standalone HTML page of ``fig`` (a Figure or a figure dict; animation frames, play button
    and slider included).

    plotly.js is embedded, so the file opens offline; the animation waits for Play. UTF-8 bytes,
    ready for ``st.download_button(..., mime="text/html")``.
    """
    page = pio.to_html(figure_dict(fig), include_plotlyjs=True, full_html=True, auto_play=False, validate=False,
                       config={"displaylogo": False, "responsive": True})
    # plotly escapes "/" as \u002f for <script> safety; base64 ("bdata") holds no "<", so undo it
    # there: a third smaller file.
    page = _BDATA.sub(lambda m: m.group(0).replace("\\u002f", "/"), page)
    head = f"<head><title>{html.escape(title)}</title>"
    if "<head>" in page:
        page = page.replace("<head>", head, 1)
    else:
        page = f"<!DOCTYPE html><html>{head}</head><body>{page}</body></html>"
    return page.encode("utf-8")


def static_figure(fig: go.Figure | dict, *, frame: str | None = None) -> dict:
    """A figure dict copied from ``fig`` (a Figure or a figure dict) without animation: no frames,
    play buttons or slider, and the bottom margin they needed given back. ``frame`` (a frame name)
    shows that frame; by default what ``fig`` shows."""
    d = figure_dict(fig)
    d["data"] = list(d.get("data", []))
    frames = d.pop("frames", None) or []
    layout = d.setdefault("layout", {})
    had_controls = bool(layout.pop("updatemenus", None)) | bool(layout.pop("sliders", None))
    if had_controls:
        margin = layout.setdefault("margin", {})
        extra = int(margin.get("b", 30) or 0) - 30
        if extra > 0:
            margin["b"] = 30
            if layout.get("height"):
                layout["height"] = layout["height"] - extra
    if frame is not None:
        match = [f for f in frames if str(f.get("name")) == str(frame)]
        if not match:
            names = ", ".join(str(f.get("name")) for f in frames[:10]) or "none"
            raise ValueError(f"no animation frame named {frame!r} (frames: {names})")
        fr = match[0]
        data = d.get("data", [])
        targets = fr.get("traces") or list(range(len(fr.get("data", []))))
        for i, trace in zip(targets, fr.get("data", [])):
            if 0 <= i < len(data):
                data[i] = {**data[i], **trace}
    return d
