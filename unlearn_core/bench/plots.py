"""The bench's one figure: each method's mean |gap to retrain| per setting (gap.html). Draws only.

The numbers come from ``unlearn_core.report.gap_summary``; the CLI writes the figure next to
table.md and the app's Images page shows the same figure.
"""
from __future__ import annotations

import os

import plotly.graph_objects as go

from unlearn_core.report import IMAGE_GAP_KEYS, gap_summary


def gap_figure(rows: list[dict]):
    """Plotly bar chart: each method's mean absolute gap to retrain (percentage points), per setting."""
    summary = gap_summary(rows)
    fig = go.Figure()
    for (setting, target) in dict.fromkeys((s["setting"], s["target"]) for s in summary):
        sub = [s for s in summary if s["setting"] == setting and s["target"] == target]
        fig.add_bar(name=f"{setting} ({target})", x=[s["method"] for s in sub], y=[s["mean_gap"] for s in sub],
                    hovertext=[", ".join(f"{k} {s[k]:.1f}" for k in IMAGE_GAP_KEYS) for s in sub])
    fig.update_layout(barmode="group", title="Mean |gap to retrain| over retain / forget / test accuracy and both "
                                             "MIAs (percentage points; lower is closer to retraining)",
                      yaxis_title="mean |gap| (pp)", xaxis_title="method", template="plotly_white")
    return fig


def write_gap_html(rows: list[dict], out_dir: str) -> str:
    """Write ``OUT/gap.html`` atomically (plotly.js inlined, so it opens offline); returns its path."""
    path = os.path.join(out_dir, "gap.html")
    tmp = path + ".tmp"
    gap_figure(rows).write_html(tmp, include_plotlyjs=True)
    os.replace(tmp, path)
    return path
