"""The Images page's figures: the gap-to-retrain chart and the forget-image grid. They draw what
``ui.state.images`` computed and never call a model.

    gap_figure(rows)                       # each method's mean |gap to retrain| (the CLI's gap.html, sized)
    table = sample_table(view)             # forget images (PNG data URLs) and each model's prediction
    sample_styles(view, table, css)        # css on the cells whose prediction is still the true label
"""
from __future__ import annotations

import base64
import io
import math
import warnings

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image

from ui.state.images import SampleView
from unlearn_core.bench.plots import gap_figure as core_gap_figure


def gap_figure(rows: list[dict], height: int = 380) -> go.Figure:
    """``unlearn_core.bench.plots.gap_figure`` (each method's mean |gap to retrain| per setting), sized for the page."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a method that never ran: a mean of nothing
        fig = core_gap_figure(rows)
    fig.update_layout(height=height, title=dict(text="Mean |gap to retrain| over retain, forget and test accuracy "
                                                     "and both MIAs<br><sup>percentage points; lower is closer to "
                                                     "retraining from scratch</sup>"),
                      margin=dict(t=70, l=60, r=20, b=50), legend=dict(orientation="h", y=-0.25))
    return fig


def to_rgb(images, min_side: int = 64) -> np.ndarray:
    """[n, C, H, W] in [0, 1] (numpy or torch) -> uint8 [n, H*s, W*s, 3], enlarged by pixel repetition
    (nearest neighbour) so that small images (digits: 8x8) stay sharp; grayscale is drawn dark on white."""
    x = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    x = np.clip(x.astype(np.float32), 0.0, 1.0)
    if x.shape[1] == 1:
        x = np.repeat(1.0 - x, 3, axis=1)  # ink dark on white
    elif x.shape[1] != 3:
        x = np.repeat(x[:, :1], 3, axis=1)
    s = max(1, int(math.ceil(min_side / max(x.shape[2], x.shape[3]))))
    x = x.repeat(s, axis=2).repeat(s, axis=3)
    return (x.transpose(0, 2, 3, 1) * 255).round().astype(np.uint8)


def image_urls(images) -> list[str]:
    """Each image [n, C, H, W] in [0, 1], enlarged (``to_rgb``), as a PNG data URL for an image column."""
    out = []
    for img in to_rgb(images):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="PNG")
        out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"))
    return out


def sample_table(view: SampleView, images: bool = True) -> pd.DataFrame:
    """One row per forget image: the image (a PNG data URL, with ``images``), its training row, its true
    label, then one column per model (original, retrain, the methods) holding "predicted (confidence)"."""
    data = {}
    if images:
        data["image"] = image_urls(view.images)
    data["training row"] = [int(r) for r in view.rows]
    data["true label"] = [view.true_name(j) for j in range(len(view.rows))]
    for i, m in enumerate(view.models):
        data[m] = [view.pred_name(i, j) for j in range(len(view.rows))]
    return pd.DataFrame(data)


def sample_styles(view: SampleView, table: pd.DataFrame, css: str) -> pd.DataFrame:
    """CSS per cell of ``table`` (``sample_table``): ``css`` where a model's prediction is still the true label."""
    out = pd.DataFrame("", index=table.index, columns=table.columns)
    marks = view.matches()
    for i, m in enumerate(view.models):
        out.loc[marks[i], m] = css
    return out
