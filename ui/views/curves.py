"""Line figures of a run's history (training epochs, unlearning steps), as plain figure dicts."""
from __future__ import annotations


def loss_curve(history: list[dict], *, title: str, x: str = "step", ys=("loss",), height: int = 260,
               x_title: str = "optimiser step") -> dict:
    """A line figure (plain dict) of ``history`` entries: one line per key in ``ys``, the second on a right axis."""
    xs = [h[x] for h in history]
    data = [dict(type="scatter", x=xs, y=[h.get(ys[0]) for h in history], mode="lines+markers" if len(xs) < 80 else "lines",
                 name=ys[0], marker=dict(size=5))]
    layout = dict(title=dict(text=title, font=dict(size=13)), height=height, margin=dict(l=50, r=50, t=36, b=36),
                  xaxis=dict(title=x_title), yaxis=dict(title=ys[0]), showlegend=len(ys) > 1,
                  legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))
    if len(ys) > 1:
        data.append(dict(type="scatter", x=xs, y=[h.get(ys[1]) for h in history], mode="lines", name=ys[1],
                         yaxis="y2"))
        layout["yaxis2"] = dict(title=ys[1], overlaying="y", side="right", range=[0, 1.02])
    return dict(data=data, layout=layout)
