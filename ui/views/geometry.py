"""The Geometry page's figures: alpha per training point, the Lipschitz heat maps, the perturbation cloud,
the two JiT gradients at one point (steps, table rows, boundary panels), the 1-D sigmoid example.

They draw arrays computed by ``unlearn_core.geometry`` and ``ui.state.geometry``. Plots are drawn in
data units, where a circle of radius r in standardised units is an axis-aligned ellipse.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.state.geometry import CloudWindow, GradientComparison
from unlearn_core.geometry import Cloud, high_info_mask, sigmoid

from .canvas import color, shade_colorscale

SPACE_LABELS = {"probs": "class probabilities (softmax)", "logits": "logits (what JiT's loss measures)"}
ESTIMATOR_LABELS = {"mc": "Monte-Carlo ratio at σ (JiT's estimate)", "grad": "input-gradient norm ‖∂f/∂x‖"}
# Heat maps: white (the output does not change) to dark green (it changes fast); greens keep the blue and
# red class markers readable. Differences: blue (smaller after) to red (larger after).
HEAT_SCALE = [[0.0, "#ffffff"], [0.2, "#e5f5e0"], [0.45, "#a1d99b"], [0.7, "#41ab5d"], [1.0, "#00441b"]]
DIFF_SCALE = [[0.0, "#2166ac"], [0.5, "#ffffff"], [1.0, "#b2182b"]]
# alpha colour scale over [-0.1, 1]: grey for "no neighbour" (-0.1), then red (alpha 0) to blue (alpha 1).
ALPHA_SCALE = [[0.0, "#bbbbbb"], [0.0899, "#bbbbbb"], [0.0909, "#b2182b"], [0.5455, "#f7f7a0"], [1.0, "#2166ac"]]
GRADIENT_COLORS = {"detached": "#7b3294", "full": "#e08214"}  # purple / orange: apart from the class colours
GRADIENT_LABELS = {"detached": "detached (authors' code)", "full": "full (paper's ratio)"}
SYMBOLS = ["circle", "diamond", "square", "triangle-up", "cross", "star", "hexagon", "pentagon"]


def ellipse(center, radius: float, scale, n: int = 73) -> tuple[np.ndarray, np.ndarray]:
    """The circle of ``radius`` (standardised units) around ``center``, in data units: (xs, ys)."""
    t = np.linspace(0, 2 * np.pi, n)
    s = np.asarray(scale, dtype=np.float64).reshape(-1)
    return center[0] + radius * s[0] * np.cos(t), center[1] + radius * s[1] * np.sin(t)


def _square_layout(bounds, height: int, title: str, colorbar: bool = False, **kw) -> dict:
    """Fixed ranges, equal axis scales, and a width that makes the plot area itself square
    (so the ranges are shown exactly), leaving room for a colour bar if there is one."""
    l, r, t, b = 40, 10, 40 if title else 12, 30
    width = height - t - b + l + r + (75 if colorbar else 0)
    return dict(title=dict(text=title, x=0.02, font=dict(size=14)), height=height, width=width,
                margin=dict(l=l, r=r, t=t, b=b), showlegend=False, plot_bgcolor="white", hovermode="closest",
                xaxis=dict(range=list(bounds[:2]), fixedrange=True, showgrid=False, zeroline=False, constrain="domain"),
                yaxis=dict(range=list(bounds[2:]), fixedrange=True, showgrid=False, zeroline=False,
                           scaleanchor="x", scaleratio=1), **kw)


def _boundary(bounds, cls: np.ndarray, k: int, line: dict) -> list[dict]:
    """The decision boundary of the uint8 class grid ``cls``: with two classes one 0.5 contour; with more,
    the 0.5 contour of each class's indicator (each boundary is drawn twice, on top of itself, instead of
    the parallel double lines that contours of class ids give between non-consecutive classes)."""
    xs, ys = np.linspace(*bounds[:2], cls.shape[1]), np.linspace(*bounds[2:], cls.shape[0])
    zs = [cls] if k <= 2 else [(cls == c).astype(np.uint8) for c in range(k) if (cls == c).any()]
    return [dict(type="contour", x=xs, y=ys, z=z, autocontour=False,
                 contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
                 line=line, showscale=False, hoverinfo="skip", name="boundary") for z in zs]


def information_figure(X, y, ids, alpha, *, tau: float, bounds, n_classes: int, boundary: np.ndarray | None = None,
                       chosen: int | None = None, radius: float | None = None, scale=None, height: int = 500,
                       title: str = "") -> go.Figure:
    """Training points coloured by alpha (0 = no neighbour shares the class, 1 = all do), one marker
    symbol per class, a black ring on the high-information ones (alpha < tau), grey where alpha is
    undefined. ``ids`` are the points' global ids (``customdata``; one selectable trace per class).
    ``boundary``: the model's class grid (uint8 [r, r]) for its decision boundary. ``chosen`` (a global
    id) gets a large ring and its r-neighbourhood (an ellipse in data units)."""
    X, y, ids = np.asarray(X), np.asarray(y), np.asarray(ids, np.int64)
    alpha = np.asarray(alpha, dtype=np.float64)
    k = max(int(n_classes), 2)
    high = high_info_mask(alpha, tau)
    traces: list[dict] = []
    if boundary is not None:
        traces += _boundary(bounds, boundary, k, dict(color="rgba(0,0,0,0.55)", width=1.5))
    for c in range(k):
        m = y == c
        if not m.any():
            continue
        a = alpha[m]
        shown = np.where(np.isnan(a), -0.1, a)  # NaN (no neighbour) maps to the grey end of the scale
        traces.append(dict(
            type="scatter", x=X[m, 0], y=X[m, 1], mode="markers", name=f"class {c}", customdata=ids[m],
            text=[("no neighbour" if np.isnan(v) else f"{v:.2f}") for v in a],
            hovertemplate=f"#%{{customdata}} class {c}<br>α = %{{text}}<extra></extra>",
            marker=dict(symbol=SYMBOLS[c % len(SYMBOLS)], size=np.where(high[m], 11, 8), color=shown,
                        cmin=-0.1, cmax=1.0, colorscale=ALPHA_SCALE, showscale=c == 0,
                        colorbar=dict(title=dict(text="α", side="right"), tickvals=[0, 0.25, 0.5, 0.75, 1],
                                      len=0.8, thickness=12),
                        line=dict(color=np.where(high[m], "black", "rgba(255,255,255,0.9)").tolist(),
                                  width=np.where(high[m], 2.0, 0.6))),
        ))
    if chosen is not None and chosen in set(ids.tolist()):
        i = int(np.flatnonzero(ids == chosen)[0])
        if radius is not None and scale is not None:
            ex, ey = ellipse(X[i], radius, scale)
            traces.append(dict(type="scatter", x=ex, y=ey, mode="lines", name="radius r", hoverinfo="skip",
                               line=dict(color="black", width=1.5, dash="dot")))
        traces.append(dict(type="scatter", x=[X[i, 0]], y=[X[i, 1]], mode="markers", name="chosen",
                           hoverinfo="skip", marker=dict(symbol="circle-open", size=20, color="black",
                                                         line=dict(width=3))))
    layout = _square_layout(bounds, height, title, colorbar=True, clickmode="event+select", dragmode=False)
    return go.Figure(data=traces, layout=layout)


def lipschitz_figure(Z: np.ndarray, bounds, *, zmax: float, zmin: float = 0.0, X=None, y=None, forget=None,
                     boundary=None, n_classes: int = 2, title: str = "", height: int = 480, colorbar: bool = True,
                     colorbar_title: str = "estimate", colorscale=None) -> go.Figure:
    """The estimate Z [r, r] as a heat map on [zmin, zmax] (give both panels the same range), the
    decision boundary (dotted), the training points (small, by class) and the forget points (crosses).
    ``colorscale`` defaults to ``HEAT_SCALE``; pass ``DIFF_SCALE`` with a symmetric range for a difference."""
    Z = np.asarray(Z, dtype=np.float32)
    r = Z.shape[0]
    xs, ys = np.linspace(*bounds[:2], r), np.linspace(*bounds[2:], r)
    k = max(int(n_classes), 2)
    traces: list[dict] = [dict(type="heatmap", x=xs.astype(np.float32), y=ys.astype(np.float32), z=Z, zmin=float(zmin),
                               zmax=float(zmax), colorscale=colorscale or HEAT_SCALE, showscale=colorbar, hoverinfo="skip",
                               colorbar=dict(title=dict(text=colorbar_title, side="right"), thickness=12, len=0.85),
                               name="estimate")]
    if boundary is not None:
        traces += _boundary(bounds, boundary, k, dict(color="black", width=1.5, dash="dot"))
    if X is not None and y is not None:
        X, y = np.asarray(X), np.asarray(y)
        for c in range(k):
            m = y == c
            traces.append(dict(type="scatter", x=X[m, 0], y=X[m, 1], mode="markers", name=f"class {c}",
                               hoverinfo="skip", marker=dict(color=color(c), size=4, opacity=0.8,
                                                             line=dict(color="white", width=0.4))))
    if forget is not None and len(forget):
        F = np.asarray(forget).reshape(-1, 2)
        traces.append(dict(type="scatter", x=F[:, 0], y=F[:, 1], mode="markers", name="forgotten",
                           hoverinfo="skip", marker=dict(symbol="x", size=11, color="black",
                                                         line=dict(color="white", width=1))))
    return go.Figure(data=traces, layout=_square_layout(bounds, height, title, colorbar=colorbar, dragmode=False))


def cloud_figure(cloud: Cloud, window: CloudWindow, *, sigma: float, n_classes: int, label: int | None = None,
                 height: int = 500, title: str = "") -> go.Figure:
    """The square ``window`` around the cloud's x (``ui.state.geometry.cloud_window``): the model's
    classes (shade = confidence) and boundary, the N perturbed points coloured by their predicted class,
    x itself (a star in its label's colour) and the sigma ellipse (standardised units)."""
    bounds, scale = window.bounds, window.scale
    cx, cy = float(cloud.x[0]), float(cloud.x[1])
    r = window.shade.shape[0]
    xs, ys = np.linspace(*bounds[:2], r), np.linspace(*bounds[2:], r)
    k = max(int(n_classes), 2)
    traces: list[dict] = [
        dict(type="heatmap", x=xs, y=ys, z=window.shade, zmin=0, zmax=255, colorscale=shade_colorscale(k),
             showscale=False, opacity=0.5, hoverinfo="skip", name="prediction"),
        *_boundary(bounds, window.cls, k, dict(color="black", width=2)),
    ]
    ex, ey = ellipse(cloud.x, sigma, scale)
    traces.append(dict(type="scatter", x=ex, y=ey, mode="lines", name="σ", hoverinfo="skip",
                       line=dict(color="black", width=1.2, dash="dash")))
    for c in np.unique(cloud.pred):
        m = cloud.pred == c
        traces.append(dict(type="scatter", x=cloud.points[m, 0], y=cloud.points[m, 1], mode="markers",
                           name=f"predicted {c}", customdata=cloud.ratios[m],
                           hovertemplate=f"predicted class {int(c)}<br>ratio %{{customdata:.3g}}<extra></extra>",
                           marker=dict(color=color(int(c)), size=8, line=dict(color="white", width=0.8))))
    star = color(label if label is not None else cloud.pred_x)
    traces.append(dict(type="scatter", x=[cx], y=[cy], mode="markers", name="x", hoverinfo="skip",
                       marker=dict(symbol="star", size=18, color=star, line=dict(color="black", width=1.5))))
    return go.Figure(data=traces, layout=_square_layout(bounds, height, title, dragmode=False))


def _vector(v) -> str:
    return "[" + ", ".join(f"{float(a):.2f}" for a in np.asarray(v).reshape(-1)) + "]"


def gradient_rows(cmp: GradientComparison) -> list[dict]:
    """The comparison's table: one row per model (before, after each gradient, retrained), the numbers
    at the point x (own = its label; "neighbours'": the mean over the perturbed copies x + ξ), logit
    vectors as text, ℓ(x) = JiT's estimate."""
    y = cmp.label
    models = [("original (before)", cmp.before)]
    models += [(f"after {cmp.steps} {name} steps", run.after) for name, run in cmp.runs.items()]
    models.append(("retrained without x", cmp.retrain))
    return [{"model": name, "class at x": o.pred, "P(own) at x": float(o.probs[y]),
             "neighbours' P(own)": float(o.mean_probs[y]), "f(x) logits": _vector(o.logits),
             "neighbours' mean f(x+ξ)": _vector(o.mean_logits), "‖f(x) − mean‖": o.gap,
             "ℓ(x)": o.estimate} for name, o in models]


def gradient_steps_figure(cmp: GradientComparison, *, height: int = 330) -> go.Figure:
    """Three small panels over the JiT steps at the point x, one line per gradient: JiT's estimate ℓ(x);
    the distance from f(x) to its neighbours' mean output (logits); P(own class) at x (solid) and the
    neighbours' mean P(own class) (dotted), with the retrained model's P(own class) dashed grey."""
    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.08,
                        subplot_titles=("ℓ(x): JiT's Lipschitz estimate", "‖f(x) − neighbours' mean‖ (logits)",
                                        "P(own class): at x ●, neighbours' mean ◆"))
    for name, run in cmp.runs.items():
        steps = np.arange(len(run.outputs))
        col, label = GRADIENT_COLORS.get(name, "black"), GRADIENT_LABELS.get(name, name)
        line = dict(color=col, width=2.5)
        fig.add_trace(go.Scatter(x=steps, y=[o.estimate for o in run.outputs], mode="lines+markers", name=label,
                                 line=line, legendgroup=name), 1, 1)
        fig.add_trace(go.Scatter(x=steps, y=[o.gap for o in run.outputs], mode="lines+markers", name=label,
                                 line=line, legendgroup=name, showlegend=False), 1, 2)
        fig.add_trace(go.Scatter(x=steps, y=[float(o.probs[cmp.label]) for o in run.outputs], mode="lines+markers",
                                 name=label, line=line, legendgroup=name, showlegend=False), 1, 3)
        fig.add_trace(go.Scatter(x=steps, y=[float(o.mean_probs[cmp.label]) for o in run.outputs],
                                 mode="lines+markers", name=f"{label}: neighbours' mean",
                                 line=dict(color=col, width=1.5, dash="dot"), marker=dict(symbol="diamond", size=6),
                                 legendgroup=name, showlegend=False), 1, 3)
    fig.add_trace(go.Scatter(x=[0, cmp.steps], y=[float(cmp.retrain.probs[cmp.label])] * 2, mode="lines",
                             name="retrained without x", line=dict(color="#777777", width=1.5, dash="dash")), 1, 3)
    fig.update_xaxes(title_text="JiT step", fixedrange=True, showgrid=False, dtick=max(1, cmp.steps // 5))
    fig.update_yaxes(fixedrange=True, gridcolor="#eeeeee", zeroline=False, rangemode="tozero")
    fig.update_yaxes(range=[-0.03, 1.03], row=1, col=3)
    fig.update_annotations(font_size=13)
    fig.update_layout(height=height, margin=dict(l=40, r=10, t=40, b=85), plot_bgcolor="white", dragmode=False,
                      legend=dict(orientation="h", yanchor="top", y=-0.3, x=0), hovermode="x unified")
    return fig


def boundary_panel(shade: np.ndarray, cls: np.ndarray, bounds, *, X, y, point, label: int, n_classes: int,
                   reference: np.ndarray | None = None, title: str = "", height: int = 330) -> go.Figure:
    """A small decision-boundary panel: the model's classes (``shade``, uint8, see
    ``ui.state.grids.shade_of``) and boundary (``cls``), ``reference``'s boundary dotted (e.g. the
    original model's), the training points (small, by class) and ``point`` (a star in ``label``'s colour)."""
    r = shade.shape[0]
    xs, ys = np.linspace(*bounds[:2], r), np.linspace(*bounds[2:], r)
    k = max(int(n_classes), 2)
    traces: list[dict] = [dict(type="heatmap", x=xs, y=ys, z=shade, zmin=0, zmax=255, colorscale=shade_colorscale(k),
                               showscale=False, opacity=0.45, hoverinfo="skip", name="prediction")]
    if reference is not None:
        traces += _boundary(bounds, reference, k, dict(color="rgba(0,0,0,0.6)", width=1.2, dash="dot"))
    traces += _boundary(bounds, cls, k, dict(color="black", width=2))
    X, y = np.asarray(X), np.asarray(y)
    for c in range(k):
        m = y == c
        traces.append(dict(type="scatter", x=X[m, 0], y=X[m, 1], mode="markers", name=f"class {c}", hoverinfo="skip",
                           marker=dict(color=color(c), size=4, opacity=0.7, line=dict(color="white", width=0.3))))
    p = np.asarray(point).reshape(-1)
    traces.append(dict(type="scatter", x=[p[0]], y=[p[1]], mode="markers", name="x", hoverinfo="skip",
                       marker=dict(symbol="star", size=17, color=color(int(label)), line=dict(color="black", width=1.5))))
    return go.Figure(data=traces, layout=_square_layout(bounds, height, title, dragmode=False))


def sigmoid_figure(example: list[dict], *, w: float, sigma: float, height: int = 380,
                   names=("flat", "slope")) -> go.Figure:
    """f(x) = sigmoid(w x) on [-4, 4], each point with its +-sigma band and its perturbations on the curve."""
    xs = np.linspace(-4, 4, 401)
    traces: list[dict] = [dict(type="scatter", x=xs, y=sigmoid(xs, w), mode="lines", name="f(x)",
                               line=dict(color="black", width=2), hoverinfo="skip")]
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    shapes, notes = [], []
    for j, e in enumerate(example):
        col = colours[j % len(colours)]
        name = names[j] if j < len(names) else f"point {j}"
        shapes.append(dict(type="rect", xref="x", yref="paper", x0=e["x"] - sigma, x1=e["x"] + sigma, y0=0, y1=1,
                           fillcolor=col, opacity=0.08, line=dict(width=0), layer="below"))
        traces.append(dict(type="scatter", x=e["xs"], y=e["fs"], mode="markers", name=f"{name}: x + ξ",
                           marker=dict(color=col, size=7, opacity=0.55), customdata=e["ratios"],
                           hovertemplate="x+ξ = %{x:.2f}<br>ratio %{customdata:.3f}<extra></extra>"))
        traces.append(dict(type="scatter", x=[e["x"]], y=[e["fx"]], mode="markers", name=name, hoverinfo="skip",
                           marker=dict(color=col, size=15, symbol="star", line=dict(color="black", width=1.2))))
        notes.append(dict(x=e["x"], y=e["fx"], text=f"{name}: ℓ = {e['estimate']:.3f}", showarrow=True, arrowhead=0,
                          ax=0, ay=-40 if e["fx"] < 0.5 else 40, font=dict(color=col, size=13),
                          bgcolor="rgba(255,255,255,0.85)"))
    layout = dict(height=height, margin=dict(l=45, r=10, t=20, b=40), showlegend=False, plot_bgcolor="white",
                  xaxis=dict(range=[-4, 4], fixedrange=True, title="x", showgrid=False, zeroline=False),
                  yaxis=dict(range=[-0.05, 1.05], fixedrange=True, title="f(x) = sigmoid(w·x)", showgrid=True,
                             gridcolor="#eeeeee", zeroline=False),
                  shapes=shapes, annotations=notes, dragmode=False)
    return go.Figure(data=traces, layout=layout)
