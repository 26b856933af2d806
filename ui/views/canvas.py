"""The playground's square canvas: a Plotly figure with fixed trace order, optionally animated.

Trace order (fixed, so that animation frames can replace the first three by index):
  0 background: class + confidence, one uint8 heatmap
  1 disagreement with the retrained model (transparent where they agree; uint8 0/1, and 2 where the K
    retrains of a band disagree among themselves: a separate tone, not counted against the method)
  2 decision boundary (contour of the predicted class, uint8)
  3 retrained model's boundary, dashed (the ghost; all-equal z when there is none)
  4 draw grid: invisible markers that make clicks on empty space arrive as events (only in draw mode)
  then training points per class, test points, forgotten points, the selection ring.
Every selectable scatter carries global point ids in ``customdata``; ``ui.state.events.selected_ids``
reads them back. The grids come computed (``ui.state.grids.Layers``): this module only draws.
"""
from __future__ import annotations

import numpy as np

from ui.state.grids import GridSpec, Layers, class_bands
from ui.state.workspace import Workspace

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
DRAW_GRID = 41  # nodes per side of the invisible click grid (UX.md: ~41x41)
FRAME_MS = 120


def color(c: int) -> str:
    return PALETTE[int(c) % len(PALETTE)]


def shade_colorscale(k: int) -> list:
    """Colour scale for ``ui.state.grids.shade_of``: white (unsure) to the class colour (sure), per class."""
    scale = []
    for c, (lo, hi) in enumerate(class_bands(k)):
        scale += [[lo / 255, "#ffffff"], [hi / 255, color(c)]]
    return scale


DISAGREE_GREY = "rgba(90,90,90,0.28)"  # the model disagrees with retraining (where the retrains agree)
RETRAINS_SPLIT_TONE = "rgba(255,214,0,0.50)"  # the retrains disagree among themselves: not the method's fault
# z = ui.state.grids.AGREES / DISAGREES / RETRAINS_SPLIT (0 / 1 / 2), drawn on zmin=0, zmax=2.
DISAGREE_SCALE = [[0, "rgba(0,0,0,0)"], [0.25, "rgba(0,0,0,0)"], [0.2501, DISAGREE_GREY], [0.75, DISAGREE_GREY],
                  [0.7501, RETRAINS_SPLIT_TONE], [1, RETRAINS_SPLIT_TONE]]


def _background(spec: GridSpec, layers: Layers, k: int, opacity: float) -> list[dict]:
    """The three traces that frames replace: shade, disagreement, boundary."""
    xs, ys = spec.xs, spec.ys
    return [
        dict(type="heatmap", x=xs, y=ys, z=layers.shade, zmin=0, zmax=255, colorscale=shade_colorscale(k),
             showscale=False, opacity=opacity, hoverinfo="skip", name="confidence"),
        dict(type="heatmap", x=xs, y=ys, z=layers.disagreement(), zmin=0, zmax=2, colorscale=DISAGREE_SCALE,
             showscale=False, hoverinfo="skip", name="disagrees with retrain"),
        _contour(xs, ys, layers.cls, k, dict(color="black", width=2.5), "boundary"),
    ]


def _contour(xs, ys, cls, k, line, name) -> dict:
    # Levels between consecutive class ids; with one class present the contour simply draws nothing.
    return dict(type="contour", x=xs, y=ys, z=cls, autocontour=False,
                contours=dict(start=0.5, end=max(0.5, k - 1.5), size=1, coloring="none"),
                line=line, showscale=False, hoverinfo="skip", name=name)


def canvas_figure(spec: GridSpec, X: np.ndarray, y: np.ndarray, *, n_classes: int, layers: Layers,
                  train_ids, test_ids=(), forgotten=(), selection=(), frames: list[Layers] | None = None,
                  frame_steps: list[int] | None = None, draw_grid: bool = False, show_test: bool = True,
                  title: str = "", height: int = 560, opacity: float = 0.55) -> dict:
    """The canvas as a plain figure dict (``st.plotly_chart`` validates it once; ``go.Figure(d)`` gives
    a Figure). ``frames`` (optional) animate traces 0-2 with play/pause and a step slider; the static
    data shows the last frame. Points: filled = training, hollow = test, x = forgotten,
    black ring = selected to forget next."""
    k = max(int(n_classes), 2)
    X = np.asarray(X)
    y = np.asarray(y)
    xs, ys = spec.xs, spec.ys
    traces = _background(spec, layers, k, opacity)
    if layers.ghost_cls is not None:
        # The retrained boundary (with a band: the majority of the K retrains), dashed.
        traces.append(_contour(xs, ys, layers.ghost_cls, k, dict(color="black", width=2, dash="dash"), "retrained"))
    else:  # keep the index fixed: an empty contour
        traces.append(_contour(xs, ys, np.zeros((2, 2), np.uint8), k, dict(width=0), "retrained"))
    if draw_grid:
        gx, gy = np.meshgrid(np.linspace(*spec.bounds[:2], DRAW_GRID), np.linspace(*spec.bounds[2:], DRAW_GRID))
        traces.append(dict(type="scatter", x=gx.ravel(), y=gy.ravel(), mode="markers", name="empty space",
                           marker=dict(size=8, opacity=0), hoverinfo="none", customdata=np.full(gx.size, -1)))
    forgotten = np.asarray(list(forgotten), np.int64)
    selection = np.asarray(sorted(selection), np.int64)
    train_ids = np.setdiff1d(np.asarray(train_ids, np.int64), forgotten)
    for c in range(k):
        ids = train_ids[y[train_ids] == c]
        traces.append(dict(type="scatter", x=X[ids, 0], y=X[ids, 1], mode="markers", name=f"class {c}",
                           customdata=ids, hovertemplate=f"class {c} (train) #%{{customdata}}<extra></extra>",
                           marker=dict(color=color(c), size=7, line=dict(color="white", width=0.7))))
    test_ids = np.asarray(test_ids, np.int64)
    if show_test and len(test_ids):
        traces.append(dict(type="scatter", x=X[test_ids, 0], y=X[test_ids, 1], mode="markers", name="test",
                           customdata=test_ids, hovertemplate="test point #%{customdata}<extra></extra>",
                           marker=dict(color="rgba(255,255,255,0.6)", size=7, symbol="circle",
                                       line=dict(color=[color(c) for c in y[test_ids]], width=1.6))))
    if len(forgotten):
        traces.append(dict(type="scatter", x=X[forgotten, 0], y=X[forgotten, 1], mode="markers", name="forgotten",
                           customdata=forgotten, hovertemplate="forgotten #%{customdata}<extra></extra>",
                           marker=dict(symbol="x", size=11, color=[color(c) for c in y[forgotten]],
                                       line=dict(color="black", width=1.5))))
    if len(selection):
        traces.append(dict(type="scatter", x=X[selection, 0], y=X[selection, 1], mode="markers", name="selected",
                           customdata=selection, hovertemplate="selected #%{customdata} (click to deselect)<extra></extra>",
                           marker=dict(symbol="circle-open", size=15, color="black", line=dict(width=2.5))))
    layout = dict(
        title=dict(text=title, x=0.02, font=dict(size=15)), height=height,
        margin=dict(l=30, r=10, t=40 if title else 10, b=30), showlegend=False, clickmode="event+select",
        # "pan" (a no-op on fixed axes), not "select": Streamlit forces clickmode "event" in select mode,
        # and then a click on a point selects nothing. Box and lasso stay one toolbar click away.
        dragmode="pan" if not draw_grid else False, hovermode="closest", plot_bgcolor="white",
        xaxis=dict(range=list(spec.bounds[:2]), fixedrange=True, showgrid=False, zeroline=False, constrain="domain"),
        yaxis=dict(range=list(spec.bounds[2:]), fixedrange=True, showgrid=False, zeroline=False,
                   scaleanchor="x", scaleratio=1),
        uirevision="canvas",
    )
    fig = dict(data=traces, layout=layout)
    if frames:
        add_animation(fig, spec, frames, frame_steps or list(range(len(frames))), k, opacity)
    return fig


def add_animation(fig: dict, spec: GridSpec, frames: list[Layers], frame_steps: list[int], k: int,
                  opacity: float) -> None:
    """Frames replacing traces 0-2 (background, disagreement, boundary), play/pause, a step slider."""
    names = [str(s) for s in frame_steps]
    # Frames carry only what changes (z); x, y, colour scales and styles stay those of traces 0-2.
    fig["frames"] = [dict(name=n, data=[dict(type=t["type"], z=t["z"]) for t in _background(spec, fr, k, opacity)],
                          traces=[0, 1, 2]) for n, fr in zip(names, frames)]
    play = dict(label="▶ Play", method="animate",
                args=[None, dict(frame=dict(duration=FRAME_MS, redraw=True), transition=dict(duration=0),
                                 fromcurrent=True, mode="immediate")])
    pause = dict(label="❚❚ Pause", method="animate",
                 args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")])
    fig["layout"].update(
        margin=dict(l=30, r=10, t=fig["layout"]["margin"]["t"], b=110),
        height=fig["layout"]["height"] + 80,
        updatemenus=[dict(type="buttons", direction="left", buttons=[play, pause], showactive=False,
                          x=0.0, xanchor="left", y=-0.06, yanchor="top", pad=dict(t=0, r=6))],
        sliders=[dict(active=len(names) - 1, x=0.22, len=0.78, y=-0.03, yanchor="top", pad=dict(t=0),
                      currentvalue=dict(prefix="optimiser step ", font=dict(size=12), xanchor="right"),
                      steps=[dict(label=n, method="animate",
                                  args=[[n], dict(mode="immediate", frame=dict(duration=0, redraw=True),
                                                  transition=dict(duration=0))]) for n in names])],
    )


def figure_for(ws: Workspace, layers: Layers, *, title: str = "", height: int = 560, show_selection: bool = True,
               **kw) -> dict:
    """The canvas of a ``Workspace`` (its points, split, forgotten points and selection) showing
    ``layers`` (``ws.layers(model, ghost)``: the model, and the ghost's boundary dashed), static."""
    return canvas_figure(ws.gridspec, ws.X, ws.y, n_classes=ws.n_classes, layers=layers, train_ids=ws.train_ids,
                         test_ids=ws.test_ids, forgotten=kw.pop("forgotten", ws.forgotten),
                         selection=ws.selection if show_selection else (), title=title, height=height, **kw)
