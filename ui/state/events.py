"""Canvas events: what the canvas component (``apply_canvas_event``) or a ``st.plotly_chart`` selection
state says was clicked, and what it does.

A selection state arrives as Streamlit's ``PlotlyState`` or, under AppTest, as a plain dict; both
are read the same way. Every selectable trace of the app's figures carries global point ids in
``customdata`` (the invisible draw grid carries -1).
"""
from __future__ import annotations

import numpy as np

from .workspace import Workspace, edit_points


def _points(selection) -> list:
    """The selected points of a selection state (``PlotlyState`` or dict), newest last."""
    if isinstance(selection, dict):
        sel = selection.get("selection", selection)
    else:
        sel = getattr(selection, "selection", selection)
    return (sel.get("points") if isinstance(sel, dict) else getattr(sel, "points", None)) or []


def selected_ids(selection) -> tuple[list[int], list[tuple[float, float]]]:
    """(point ids, empty-space clicks) from a ``st.plotly_chart`` selection state.

    Accepts the ``PlotlyState`` or a plain dict (AppTest injects dicts). Points with a
    ``customdata`` id >= 0 are data points; id -1 marks the invisible draw grid, returned as (x, y).
    """
    if not selection:
        return [], []
    ids, empty = [], []
    for p in _points(selection):
        cd = p.get("customdata")
        if isinstance(cd, (list, tuple)):
            cd = cd[0] if cd else None
        if cd is None:
            continue
        try:
            cd = int(cd)
        except (TypeError, ValueError):
            continue
        if cd >= 0:
            ids.append(cd)
        elif p.get("x") is not None and p.get("y") is not None:
            empty.append((float(p["x"]), float(p["y"])))
    return sorted(set(ids)), empty


def chosen_point(selection, allowed) -> int | None:
    """The newest selected point id (``customdata``, events list the newest last) that is in ``allowed``,
    from a ``st.plotly_chart`` selection state (``PlotlyState`` or the plain dict AppTest injects)."""
    if not selection:
        return None
    ok = set(int(i) for i in np.asarray(allowed).reshape(-1))
    picked = None
    for p in _points(selection):
        cd = p.get("customdata")
        cd = cd[0] if isinstance(cd, (list, tuple)) and cd else cd
        try:
            cd = int(cd)
        except (TypeError, ValueError):
            continue
        if cd in ok:
            picked = cd
    return picked


def apply_event(ws: Workspace, event, *, mode: str = "forget", draw_class: int = 0) -> Workspace:
    """Apply a canvas selection event to the workspace; returns the workspace to keep (a new one when
    points were drawn or removed).

    mode "forget": a click toggles the clicked point in the forget selection, a box or lasso adds
    every point inside. mode "add": a click on empty space adds a training point of ``draw_class``.
    mode "remove": the clicked / boxed points are deleted from the data.
    """
    ids, empty = selected_ids(event)
    sel = event.get("selection", event) if isinstance(event, dict) else getattr(event, "selection", None)
    gesture = False
    if sel is not None:
        get = sel.get if isinstance(sel, dict) else (lambda k: getattr(sel, k, None))
        gesture = bool(get("box") or get("lasso"))
    if mode == "add":
        return edit_points(ws, add=[(x, y, int(draw_class)) for x, y in empty[:1]]) if empty else ws
    if mode == "remove":
        return edit_points(ws, remove=ids) if ids else ws
    if gesture:
        ws.select(ids)
    else:
        ws.toggle(ids)
    return ws


def apply_canvas_event(ws: Workspace, event: dict | None, *, ack: int = 0,
                       version: str = "") -> tuple[Workspace, int]:
    """Apply one gesture of the canvas component (``app_pages.canvas_component``); returns the workspace to
    keep (a new one when points were drawn or removed) and the last gesture number applied (``ack``, sent
    back to the canvas so that it knows which of its gestures Python has seen).

    Every event has a gesture number ``seq``; one not newer than ``ack`` changes nothing.
    ``{"kind": "select", "selection": [ids]}``: the selection becomes those ids (the canvas sends the whole
    selection after every click, box, lasso or key press, so a lost event is healed by the next); test and
    forgotten points are ignored. ``{"kind": "add", "adds": [[seq, x, y, class], ...]}``: Draw-mode points
    the canvas has not seen acknowledged; those with a number above ``ack`` are added as training points.
    ``{"kind": "remove", "id": i, "ver": v}``: the point is deleted when ``v`` is the points' current
    ``version`` (ids change with every edit). Malformed events change nothing.
    """
    if not isinstance(event, dict):
        return ws, ack
    try:
        seq = int(event.get("seq", 0))
    except (TypeError, ValueError):
        return ws, ack
    if seq <= ack:
        return ws, ack
    kind = event.get("kind")
    try:
        if kind == "select":
            ids = [int(i) for i in event.get("selection") or []]
            ws.selection = set(ws.selectable(ids).tolist())
        elif kind == "add":
            adds = []
            for a in event.get("adds") or []:
                n, x, y, c = a
                if int(n) > ack and np.isfinite(float(x)) and np.isfinite(float(y)) and 0 <= int(c) < 8:
                    adds.append((float(x), float(y), int(c)))
            if adds:
                ws = edit_points(ws, add=adds)
        elif kind == "remove" and str(event.get("ver", "")) == str(version):
            i = int(event.get("id"))
            if 0 <= i < len(ws.y):
                ws = edit_points(ws, remove=[i])
    except (TypeError, ValueError):
        return ws, ack
    return ws, seq
