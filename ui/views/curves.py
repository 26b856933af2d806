"""Line figures of a run's history (training epochs, unlearning steps), as plain figure dicts."""
from __future__ import annotations

import math


def integer_dtick(n: int, ticks: int = 8) -> int:
    """A whole-number tick spacing (1, 2, 5, 10, 20, 50, ...) giving at most about ``ticks`` ticks over ``n``."""
    raw = max(1.0, n / max(1, ticks))
    mag = 10 ** math.floor(math.log10(raw))
    return int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def loss_curve(history: list[dict], *, title: str, x: str = "step", ys=("loss",), height: int = 260,
               x_title: str = "optimiser step") -> dict:
    """A line figure (plain dict) of ``history`` entries: one line per key in ``ys``, the second on a right axis."""
    xs = [h[x] for h in history]
    data = [dict(type="scatter", x=xs, y=[h.get(ys[0]) for h in history], mode="lines+markers" if len(xs) < 80 else "lines",
                 name=ys[0], marker=dict(size=5))]
    layout = dict(title=dict(text=title, font=dict(size=13)), height=height, margin=dict(l=50, r=50, t=36, b=36),
                  # steps and epochs are whole numbers: whole-number ticks only (no 0.5, 1.5 for a short run)
                  xaxis=dict(title=x_title, tick0=0, dtick=integer_dtick(max(xs, default=1)), tickformat="d",
                             range=[min(xs, default=0) - 0.5, max(xs, default=1) + 0.5]),
                  yaxis=dict(title=ys[0]), showlegend=len(ys) > 1,
                  legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    if len(ys) > 1:
        data.append(dict(type="scatter", x=xs, y=[h.get(ys[1]) for h in history], mode="lines", name=ys[1],
                         yaxis="y2"))
        layout["yaxis2"] = dict(title=ys[1], overlaying="y", side="right", range=[0, 1.02], tick0=0, dtick=0.2,
                                tickformat=".0%" if ys[1] == "acc" else None)
    return dict(data=data, layout=layout)
