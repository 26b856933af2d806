"""Canvas events: what a ``st.plotly_chart`` selection state says was clicked, and what it does.

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
