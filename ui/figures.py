"""Figure builders for the app: plain functions returning Plotly figures, unit-tested without Streamlit."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from unlearn_core.metrics import grid
from unlearn_core.training import predict_logits

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def class_grid(model, bounds, resolution: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(xs, ys, predicted class [r, r], confidence [r, r]) of ``model`` on a resolution^2 grid."""
    G = grid(bounds, resolution)
    p = torch.softmax(predict_logits(model, G), 1)
    conf, cls = p.max(1)
    xs = np.linspace(bounds[0], bounds[1], resolution)
    ys = np.linspace(bounds[2], bounds[3], resolution)
    return xs, ys, cls.numpy().reshape(resolution, resolution), conf.numpy().reshape(resolution, resolution)


def boundary_figure(model, X, y, bounds, *, forget_ids=(), title: str = "", ghost=None,
                    resolution: int = 100) -> go.Figure:
    """Predicted class as background (shade = confidence), the decision boundary, the points.

    Forgotten points (``forget_ids``, row indices of X) are drawn as crosses. ``ghost``: another
    model (the retrained one) whose boundary is drawn as a dashed line.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    xs, ys, cls, conf = class_grid(model, bounds, resolution)
    k = int(max(cls.max(), y.max() if len(y) else 0)) + 1
    # One colour per class, lighter where the model is less sure: value = class + confidence share.
    shade = cls + (conf - 1.0 / k) / (1 - 1.0 / k) * 0.9
    colorscale = []
    for c in range(k):
        base = PALETTE[c % len(PALETTE)]
        colorscale += [[c / k, "#ffffff"], [(c + 0.999) / k, base]]
    fig = go.Figure()
    fig.add_trace(go.Heatmap(x=xs, y=ys, z=shade, zmin=0, zmax=k, colorscale=colorscale, showscale=False,
                             opacity=0.45, hoverinfo="skip"))
    for c in range(k - 1):
        fig.add_trace(go.Contour(x=xs, y=ys, z=(cls > c).astype(float), contours=dict(start=0.5, end=0.5, size=1),
                                 showscale=False, line=dict(color="black", width=2),
                                 contours_coloring="none", hoverinfo="skip", name="boundary"))
    if ghost is not None:
        _, _, gcls, _ = class_grid(ghost, bounds, resolution)
        for c in range(k - 1):
            fig.add_trace(go.Contour(x=xs, y=ys, z=(gcls > c).astype(float), contours=dict(start=0.5, end=0.5, size=1),
                                     showscale=False, line=dict(color="black", width=2, dash="dash"),
                                     contours_coloring="none", hoverinfo="skip", name="retrained"))
    forget = np.zeros(len(y), bool)
    forget[np.asarray(list(forget_ids), dtype=int)] = True
    for c in range(k):
        keep = (y == c) & ~forget
        fig.add_trace(go.Scatter(x=X[keep, 0], y=X[keep, 1], mode="markers", name=f"class {c}",
                                 marker=dict(color=PALETTE[c % len(PALETTE)], size=6, line=dict(color="white", width=0.5)),
                                 customdata=np.flatnonzero(keep)))
    if forget.any():
        fig.add_trace(go.Scatter(x=X[forget, 0], y=X[forget, 1], mode="markers", name="forgotten",
                                 marker=dict(symbol="x", size=10, color=[PALETTE[c % len(PALETTE)] for c in y[forget]],
                                             line=dict(color="black", width=1.5)),
                                 customdata=np.flatnonzero(forget)))
    fig.update_layout(title=title, width=420, height=420, margin=dict(l=40, r=10, t=40, b=30), showlegend=False,
                      xaxis=dict(range=[bounds[0], bounds[1]], fixedrange=True, showgrid=False, zeroline=False),
                      yaxis=dict(range=[bounds[2], bounds[3]], fixedrange=True, showgrid=False, zeroline=False,
                                 scaleanchor="x", scaleratio=1))
    return fig


def loss_figure(history: list[dict], title: str = "JiT loss per step") -> go.Figure:
    fig = go.Figure(go.Scatter(x=[h["step"] for h in history], y=[h["loss"] for h in history], mode="lines+markers"))
    fig.update_layout(title=title, height=280, margin=dict(l=50, r=10, t=40, b=40),
                      xaxis_title="optimiser step", yaxis_title="loss")
    return fig
