"""The Forgetting audit page's figures and words: the epsilon canvas, one point's histograms, the rule
behind an epsilon, and the explanations of epsilon, the floor and the challenge's score.

They draw what ``ui.state.audit`` computed (``epsilon_view``, ``point_view``).
"""
from __future__ import annotations

import math

import numpy as np

from ui.state.audit import CEILING, FLOOR, EpsilonView, PointView
from ui.state.grids import Layers
from ui.state.workspace import Workspace
from unlearn_core.audit import Threshold

from .canvas import canvas_figure

#: Pale (like retraining) to dark (easy to tell apart); the top is purple-black so that saturated points stand out.
COLORSCALE = [[0.0, "#fff7bc"], [0.25, "#fec44f"], [0.5, "#ec7014"], [0.75, "#8c2d04"], [1.0, "#2d0b3f"]]
UNLEARNED_COLOR, RETRAINED_COLOR, ORIGINAL_COLOR = "#e66101", "#5e3c99", "#7f7f7f"


def _eps_hover(kind: str, ids, eps: np.ndarray, pts: np.ndarray, ulira: np.ndarray | None, labels) -> list[str]:
    out = []
    for i, (pid, e, p, c) in enumerate(zip(ids, eps, pts, labels)):
        extra = f"<br>U-LiRA acc {ulira[i]:.2f}" if ulira is not None else ""
        out.append(f"{kind} #{int(pid)} (class {int(c)})<br>ε = {e:.2f} (points {p:.4g}){extra}"
                   f"<br>click for its histograms")
    return out


# Plotly fades unselected points after a click; the audit's points must stay readable.
_NO_DIMMING = dict(selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)))


def epsilon_figure(ws: Workspace, view: EpsilonView, layers: Layers, *, chosen: int | None = None,
                   title: str = "", height: int = 540) -> dict:
    """The canvas (``layers``: the workspace's original model as background) with each forget point
    coloured by its epsilon (``ui.state.audit.epsilon_view``; colour bar 0..eps_max, larger values
    saturate) and the audited retain sample as diamonds on the same scale. Only those two traces answer
    clicks (``customdata`` = global id first); ``chosen`` gets a ring."""
    v = view
    f_ids, r_ids = v.forget_ids, v.retain_ids
    top = v.eps_max
    fig = canvas_figure(ws.gridspec, ws.X, ws.y, n_classes=ws.n_classes, layers=layers,
                        train_ids=np.setdiff1d(ws.train_ids, np.concatenate([f_ids, r_ids])), test_ids=(),
                        show_test=False, title=title, height=height, opacity=0.35)
    for t in fig["data"]:
        t["showlegend"] = False
        if t["type"] == "scatter":  # the other training points: context only, not clickable
            t.pop("customdata", None)
            t.pop("hovertemplate", None)
            t["hoverinfo"] = "skip"
            t["marker"].update(size=5, opacity=0.45, line=dict(width=0))
            t["unselected"] = dict(marker=dict(opacity=0.45))
    if len(r_ids):
        fig["data"].append(dict(
            type="scatter", x=ws.X[r_ids, 0], y=ws.X[r_ids, 1], mode="markers", name="retained (audited sample)",
            customdata=r_ids, text=_eps_hover("retained point", r_ids, v.eps_retain, v.points_retain, None, ws.y[r_ids]),
            hovertemplate="%{text}<extra></extra>", showlegend=True,
            marker=dict(symbol="diamond", size=10, color=v.eps_retain, coloraxis="coloraxis",
                        line=dict(color="#444444", width=1)), **_NO_DIMMING))
    fig["data"].append(dict(
        type="scatter", x=ws.X[f_ids, 0], y=ws.X[f_ids, 1], mode="markers", name="forget point",
        customdata=f_ids, text=_eps_hover("forget point", f_ids, v.eps, v.points, v.ulira, ws.y[f_ids]),
        hovertemplate="%{text}<extra></extra>", showlegend=True,
        marker=dict(symbol="circle", size=13, color=v.eps, coloraxis="coloraxis",
                    line=dict(color="black", width=1.5)), **_NO_DIMMING))
    if chosen is not None:
        fig["data"].append(dict(type="scatter", x=[float(ws.X[chosen, 0])], y=[float(ws.X[chosen, 1])],
                                mode="markers", name="shown on the right", hoverinfo="skip", showlegend=True,
                                marker=dict(symbol="circle-open", size=22, color="#00a2ff", line=dict(width=3))))
    ticks = list(range(0, int(top) + 1))
    fig["layout"].update(
        showlegend=True, clickmode="event+select", dragmode="pan",
        legend=dict(orientation="h", x=0, y=-0.07, yanchor="top", font=dict(size=12)),
        margin=dict(l=30, r=10, t=40 if title else 10, b=50),
        coloraxis=dict(colorscale=COLORSCALE, cmin=0, cmax=top,
                       colorbar=dict(title=dict(text="ε", side="top"), tickvals=ticks,
                                     ticktext=[str(t) for t in ticks[:-1]] + [f"≥{ticks[-1]}"], len=0.85,
                                     thickness=16)),
        uirevision="audit")
    return fig


def _say(thr: Threshold, method: str) -> str:
    """What the rule answers, in the page's words: "unlearned" is the floor's second retrain or the ceiling's
    original when those are shown."""
    if thr.positive == "unlearned" and method in (FLOOR, CEILING):
        return "retrained again" if method == FLOOR else "original"
    return thr.positive


def rule_text(thr: Threshold | None, eps: float, method: str = "") -> str:
    """One line describing the rule behind a point's epsilon."""
    if thr is None:
        if eps >= 50:
            return ("One sample is (almost) a single value next to a spread one (its spread is under 1% of the "
                    "other's): the challenge counts that as perfectly separable, ε = 50.")
        return "No threshold rule separates the two samples at all."
    if thr.kind == "single":
        rule = f"confidence ≥ {thr.right:.2f} → say “{_say(thr, method)}”"
    else:
        rule = f"{thr.left:.2f} ≤ confidence ≤ {thr.right:.2f} → say “{_say(thr, method)}”"
    return f"Best rule: {rule}; false-positive rate {thr.fpr:.2f}, false-negative rate {thr.fnr:.2f}."


def point_summary(v: PointView) -> str:
    """Markdown: epsilon, its points, the rule's error rates, the U-LiRA accuracy of one point."""
    what = "Forget point" if v.kind == "forget" else "Retained point (audited sample)"
    sat = f" (≥ ε_max = {v.eps_max:g}: no points)" if v.eps >= v.eps_max else ""
    return (f"**{what} #{v.point_id}** (class {v.label}) under **{v.method_label}**: "
            f"**ε = {v.eps:.2f}**{sat}, worth **{v.points:.4g}** points (1 = indistinguishable). "
            f"{rule_text(v.threshold, v.eps, v.method)} U-LiRA accuracy **{v.ulira:.2f}** (0.5 = a coin flip).")


def histogram_figure(v: PointView, *, show_original: bool = True, height: int = 380) -> dict:
    """Overlaid histograms of the point's logit-scaled confidence under the method's K models and the K
    retrained models (and, faintly, the K originals), with the winning threshold drawn."""
    samples = [v.unlearned, v.retrained] + ([v.original] if show_original else [])
    pooled = np.concatenate(samples)
    lo, hi = float(pooled.min()), float(pooled.max())
    if v.threshold is not None:
        for edge in (v.threshold.left, v.threshold.right):
            if edge is not None and math.isfinite(edge):
                lo, hi = min(lo, edge), max(hi, edge)
    span = max(hi - lo, 1e-3)
    size = span / max(8, min(40, v.K // 2))
    bins = dict(start=lo - size / 2, end=hi + size / 2, size=size)
    who = "unlearned" if v.method not in (FLOOR, CEILING) else v.method_label
    traces = []
    if show_original:
        traces.append(dict(type="histogram", x=v.original, xbins=bins, name=f"original, not unlearned ({v.K})",
                           marker=dict(color="rgba(0,0,0,0)", line=dict(color=ORIGINAL_COLOR, width=1.5)),
                           hovertemplate="original: %{y} models<extra></extra>"))
    traces += [
        dict(type="histogram", x=v.retrained, xbins=bins, name=f"retrained without the forget set ({v.K})",
             marker=dict(color=RETRAINED_COLOR), opacity=0.6, hovertemplate="retrained: %{y} models<extra></extra>"),
        dict(type="histogram", x=v.unlearned, xbins=bins,
             name=f"{who} ({v.K})" if who != "unlearned" else f"unlearned with {v.method} ({v.K})",
             marker=dict(color=UNLEARNED_COLOR), opacity=0.6, hovertemplate="unlearned: %{y} models<extra></extra>"),
    ]
    shapes, notes = [], []
    thr = v.threshold
    if thr is not None and thr.kind == "single":
        shapes.append(dict(type="line", x0=thr.right, x1=thr.right, y0=0, y1=1, yref="paper",
                           line=dict(color="black", width=2, dash="dash")))
        notes.append(dict(x=thr.right, y=1, yref="paper", yanchor="bottom", showarrow=False,
                          text=f"≥ {thr.right:.2f} → “{_say(thr, v.method)}”", font=dict(size=12)))
    elif thr is not None:
        shapes.append(dict(type="rect", x0=thr.left, x1=thr.right, y0=0, y1=1, yref="paper",
                           fillcolor="rgba(255,200,0,0.16)", line=dict(width=0), layer="below"))
        for x in (thr.left, thr.right):
            shapes.append(dict(type="line", x0=x, x1=x, y0=0, y1=1, yref="paper",
                               line=dict(color="black", width=2, dash="dash")))
        notes.append(dict(x=(thr.left + thr.right) / 2, y=1, yref="paper", yanchor="bottom", showarrow=False,
                          text=f"inside → “{_say(thr, v.method)}”", font=dict(size=12)))
    title = f"Point #{v.point_id}: ε = {v.eps:.2f}, U-LiRA acc {v.ulira:.2f}"
    layout = dict(barmode="overlay", height=height, title=dict(text=title, x=0.02, font=dict(size=15)),
                  margin=dict(l=50, r=10, t=60, b=50), plot_bgcolor="white", shapes=shapes, annotations=notes,
                  xaxis=dict(title=dict(text="logit-scaled confidence  log p_y − log(1 − p_y)"), showgrid=True,
                             gridcolor="#eeeeee", zeroline=False),
                  yaxis=dict(title=dict(text="models"), showgrid=True, gridcolor="#eeeeee"),
                  legend=dict(orientation="h", x=0, y=-0.3, yanchor="top", font=dict(size=12)),
                  bargap=0.05)
    layout["margin"]["b"] = 120
    return dict(data=traces, layout=layout)


# --- explanations -------------------------------------------------------------------------------------

def explain_epsilon(K: int, eps_max: float) -> str:
    return f"""
**ε, per forget point.** Take one forget point and its *logit-scaled confidence*
s = log p_y − log(1 − p_y) under each of the K = {K} unlearned models and under each of the K models
retrained from scratch without the forget set. Those are two samples of K numbers. An attacker who sees
one model's s for this point tries every threshold rule (s ≥ t, or l ≤ s ≤ r) to say “unlearned” or
“retrained”; each rule has a false-positive rate (FPR) and a false-negative rate (FNR), and
ε = max(log(1 − δ − FPR) − log FNR, log(1 − δ − FNR) − log FPR) for the best rule (δ = 10⁻⁵). **ε = 0**: no rule
does better than guessing, the unlearned models look retrained; **ε = 50** (the cap): the two samples
separate perfectly.

**K models resolve only so much.** With K models a non-zero error rate is at least 1/K, so the largest finite
ε is ln(K − 1); the challenge rounds it up, and ε ≥ ε_max = ⌈ln(K − 1)⌉ = {eps_max:g} here (7 with the
challenge's 512) earns no points. And the estimator takes a
maximum over hundreds of thresholds, so even two samples drawn from the *same* distribution score about
1.5: that is the **floor** row, a second set of K retrained models judged against the first. A perfect
method scores like the floor, not like 1.
"""


EXPLAIN_POPULATION = """
**Why a population MIA can say “forgotten” when this test says “not”.** The usual membership-inference
check (the paper's entropy MIA, as on the Compare page) trains *one* attacker for all points and reports
the share of the forget set it calls “member”. It never asks what *this* point's confidence would look like
had the model never seen it. The per-point test does: it knows each point's own retrain distribution, so a
point whose confidence stays a little too high (or is pushed oddly low) is caught even if it looks ordinary
among all points. Averaging over the forget set then hides the few points that stay exposed. Hayes et al.,
“Inexact Unlearning Needs More Careful Evaluations to Avoid a False Sense of Privacy” (arXiv 2403.01218),
show that population attacks overestimate privacy this way; their U-LiRA fits a Gaussian to each sample
and attacks with the likelihood ratio (the **U-LiRA acc** column: 0.5 = a coin flip, 1 = always right).
"""


def explain_score(K: int, eps_max: float) -> str:
    buckets = int(2 * eps_max)
    return f"""
**The NeurIPS 2023 unlearning challenge's score** (google-deepmind/unlearning_evaluation). Each forget
point's ε falls in a bucket 0.5 wide: [0, 0.5) earns 1 point, [0.5, 1) earns ½, [1, 1.5) earns ¼, …, halving
over {buckets} buckets up to ε_max = {eps_max:g}; ε ≥ ε_max earns 0. **Forget quality F** is the mean over the
forget set (1 = every point indistinguishable from retraining). **Final score** = F × (retain accuracy of the
unlearned models / of the retrained ones) × (test accuracy, likewise), so a method cannot win by wrecking the
model. With K = {K} models, F is bounded by the **floor** row, not by 1. The challenge used 512 models per
sample; rankings stay stable with 32 to 128, which is why a reduced K is a fair teaching audit but its
absolute numbers are not the challenge's.
"""
