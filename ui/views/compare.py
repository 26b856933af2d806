"""The Compare page's figures: one canvas per model against retraining, the gap chart, panel captions.

They draw what ``ui.state.compare`` computed: ``boundary_layers`` (the grids of each model) and
``gap_frame`` (the gaps to retrain).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ui.state.compare import ORIGINAL, REFERENCE, Comparison, metrics_of
from ui.state.grids import Layers
from ui.state.workspace import Workspace

from .canvas import figure_for

GAP_COLORS = ["#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
TITLES = {ORIGINAL: "original (before)", REFERENCE: "retrain (the target)"}


def gap_figure(gaps: pd.DataFrame, height: int = 360) -> go.Figure:
    """Grouped bars of ``gaps`` (``ui.state.compare.gap_frame``: model, metric, gap): for each metric,
    each model's gap to retrain (0 = behaves like retrain)."""
    fig = go.Figure()
    for i, (name, sub) in enumerate(gaps.groupby("model", sort=False)):
        fig.add_bar(x=sub["metric"], y=sub["gap"], name=name, marker_color=GAP_COLORS[i % len(GAP_COLORS)],
                    hovertemplate=f"{name}<br>%{{x}}: %{{y:+.1f}} points<extra></extra>")
    fig.add_hline(y=0, line=dict(color="black", width=1))
    fig.update_layout(barmode="group", height=height, margin=dict(l=40, r=10, t=40, b=40),
                      title=dict(text="Gap to retrain (percentage points; 0 = same as retrain)", x=0.02,
                                 font=dict(size=15)),
                      yaxis=dict(title="model − retrain", zeroline=False), plot_bgcolor="white",
                      legend=dict(orientation="h", y=-0.15), template="plotly_white")
    return fig


def panel_caption(comp: Comparison, name: str) -> str:
    """One line under a panel: forget / test accuracy against retrain's, disagreement, seconds."""
    if name not in (ORIGINAL, REFERENCE) and not comp.runs[name].ok:
        return comp.runs[name].error or "failed"
    m, ref = metrics_of(comp, name), comp.reference.metrics
    if name == REFERENCE:
        return (f"forget acc {100 * m['acc_forget']:.0f}% · test acc {100 * m['acc_test']:.0f}% · "
                f"{comp.reference.seconds:.2f} s")
    text = (f"forget acc {100 * m['acc_forget']:.0f}% (retrain {100 * ref['acc_forget']:.0f}%) · "
            f"boundary disagrees on {100 * m['boundary_disagreement']:.1f}%")
    if name != ORIGINAL:
        text += f" · {comp.runs[name].seconds:.3f} s"
    return text


def display_only(fig: dict) -> dict:
    """No drag-to-select on a canvas figure dict (``ui.views.canvas.figure_for``) that only shows."""
    fig["layout"]["dragmode"] = False
    return fig


def boundary_figures(ws: Workspace, layers: list[tuple[str, Layers | None]], *, forgotten: np.ndarray,
                     height: int = 330) -> list[tuple[str, dict | None]]:
    """(name, figure dict) per entry of ``layers`` (``ui.state.compare.boundary_layers``); the figure is
    None where the layers are (a failed method).

    Each figure shows the model's boundary (solid), the retrained model's (dashed) and the region
    where they disagree (shaded); ``forgotten`` (global ids) are crosses.
    """
    out = []
    for name, lay in layers:
        if lay is None:
            out.append((name, None))
            continue
        fig = figure_for(ws, lay, title=TITLES.get(name, name), height=height, show_selection=False,
                         forgotten=forgotten)
        out.append((name, display_only(fig)))
    return out
