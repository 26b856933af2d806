"""The Forgetting audit page's pieces: inputs for ``unlearn_core.audit.run_audit``, figures, the table.

No Streamlit here. The audit trains K original models and 2K models retrained without the forget set
(K as the reference, K more for the floor), applies each method to the K originals, and scores every
forget point by the NeurIPS 2023 challenge's per-example epsilon (see ``unlearn_core.audit``).

    kw = audit_inputs(ws, forget_ids)                 # make_model, train, forget_rows, test, recipe, seed
    result = run_audit(**kw, K=64, methods=["jit"], overrides=..., progress=...)
    epsilon_figure(ws, result, "jit")                 # canvas: forget points coloured by their epsilon
    histogram_figure(point_view(ws, result, "jit", pid))  # one point: unlearned vs retrained confidences
    summary_table(result)                             # one row per method, plus floor and ceiling
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from unlearn_core import METHODS, MLP
from unlearn_core.audit import (AuditResult, Threshold, epsilon_points, per_example_epsilon,
                                ulira_accuracy)

from .workspace import Workspace

K_CHOICES = (8, 16, 32, 64, 128)
DEFAULT_K = 64  # the figure: epsilon resolves up to ceil(ln 63) = 5
FLOOR, CEILING = "retrain", "original"  # names of the two reference rows in AuditResult.scores
SCENARIOS = {"random": "random points", "high_info": "high-information points",
             "region": "a region at a class edge"}
#: JiT's knobs on the page (with the Playground's limits, ui.config.HYPER) and their order.
JIT_KNOBS = ("sigma", "n_samples", "lr", "epochs", "batch_size")

#: (summary key, column name with its direction, scale). ↑ higher is better, ↓ lower is better,
#: (→ 0.5) the ideal value.
COLUMNS = [
    ("forget_quality", "forget quality F (↑, 1 = like retrain)", 1.0),
    ("final_score", "final score ↑", 1.0),
    ("eps_mean", "mean ε (↓)", 1.0),
    ("eps_median", "median ε (↓)", 1.0),
    ("ulira_acc", "U-LiRA acc (→ 0.5)", 1.0),
    ("eps_retain_mean", "retain-sample ε (↓)", 1.0),
    ("acc_retain", "retain acc %", 100.0),
    ("acc_forget", "forget acc %", 100.0),
    ("acc_test", "test acc %", 100.0),
    ("acc_test_worst", "worst model's test acc %", 100.0),
    ("seconds", "seconds", 1.0),
]
#: Pale (like retraining) to dark (easy to tell apart); the top is purple-black so that saturated points stand out.
COLORSCALE = [[0.0, "#fff7bc"], [0.25, "#fec44f"], [0.5, "#ec7014"], [0.75, "#8c2d04"], [1.0, "#2d0b3f"]]
UNLEARNED_COLOR, RETRAINED_COLOR, ORIGINAL_COLOR = "#e66101", "#5e3c99", "#7f7f7f"


# --- inputs ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelFactory:
    """``make_model(seed)`` for run_audit: the workspace's MLP architecture, initialised from ``seed``."""
    n_classes: int
    width: int
    depth: int
    activation: str

    def __call__(self, seed: int) -> MLP:
        return MLP(2, self.n_classes, (self.width,) * self.depth, self.activation, seed=int(seed))


def train_rows(ws: Workspace, ids) -> np.ndarray:
    """Positions in ``ws.train_ids`` (rows of the training arrays) of global training-point ids."""
    pos = {int(g): i for i, g in enumerate(ws.train_ids)}
    ids = [int(i) for i in np.asarray(list(ids), np.int64)]
    bad = [i for i in ids if i not in pos]
    if bad:
        raise ValueError(f"Points {bad[:5]} are not training points (test points cannot be forgotten).")
    return np.asarray([pos[i] for i in ids], np.int64)


def validate_forget(ws: Workspace, forget_ids) -> np.ndarray:
    """The sorted global forget ids; ValueError with a clear message when the set is empty, holds
    points that are not training points, or is the whole training set."""
    ids = np.unique(np.asarray(list(forget_ids), np.int64))
    if len(ids) == 0:
        raise ValueError("The forget set is empty: select training points on the Playground, or pick a "
                         "scenario that finds points to forget.")
    train_rows(ws, ids)
    if len(np.setdiff1d(ws.train_ids, ids)) == 0:
        raise ValueError("The forget set is the whole training set: a model retrained on nothing is undefined. "
                         "Forget fewer points.")
    return ids


def audit_inputs(ws: Workspace, forget_ids) -> dict:
    """``run_audit``'s data arguments for forgetting the global ids ``forget_ids`` of ``ws``: make_model
    (the workspace's architecture), train = (X, y) of the training split, forget_rows (positions of the
    ids in ``ws.train_ids``), test, recipe (the workspace's training recipe) and seed (its seed)."""
    ids = validate_forget(ws, forget_ids)
    cfg = ws.model_cfg
    return dict(make_model=ModelFactory(int(ws.n_classes), int(cfg.width), int(cfg.depth), str(cfg.activation)),
                train=ws.pairs(ws.train_ids), forget_rows=train_rows(ws, ids), test=ws.test,
                recipe=dict(epochs=int(cfg.epochs), lr=float(cfg.lr), batch_size=int(cfg.batch_size)),
                seed=int(cfg.seed))


def jit_overrides(values: dict) -> dict:
    """JiT hyperparameters as run_audit's overrides: only those that differ from the core's defaults,
    with the page's "off" step scaling as False."""
    d = METHODS["jit"].defaults()
    out = {}
    for k, v in values.items():
        if k == "normalize_step" and v == "off":
            v = False
        if k in d and k != "seed" and v != d[k]:
            out[k] = v
    return out


def data_identity(ws: Workspace) -> str:
    """A digest of what the audit trains on: points, labels, split, classes and the model recipe."""
    h = hashlib.sha1()
    for arr in (ws.X, ws.y, ws.train_ids, ws.test_ids):
        a = np.ascontiguousarray(arr)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    cfg = ws.model_cfg
    h.update(repr((int(ws.n_classes), cfg.width, cfg.depth, cfg.activation, cfg.epochs, float(cfg.lr),
                   cfg.batch_size, cfg.seed)).encode())
    return h.hexdigest()


def cache_key(ws: Workspace, forget_ids, methods, overrides: dict | None, K: int, device: str = "cpu") -> tuple:
    """Hashable key of one audit: data identity, forget ids, methods, their hyperparameters, K, device."""
    overrides = overrides or {}
    methods = tuple(m for m in dict.fromkeys(methods) if m != FLOOR)
    hps = []
    for m in methods:
        hp = METHODS[m].defaults()
        hp.update(overrides.get(m, {}))
        hp.pop("seed", None)
        hps.append((m, tuple(sorted((k, repr(v)) for k, v in hp.items()))))
    ids = tuple(int(i) for i in np.unique(np.asarray(list(forget_ids), np.int64)))
    return (data_identity(ws), ids, methods, tuple(hps), int(K), str(device))


def estimate_seconds(K: int, n_train: int, epochs: int, n_methods: int = 1) -> float:
    """Rough wall time of an audit on one CPU thread (measured: 600 moons points, 200 epochs, 2x64 MLP, JiT:
    K=8 about 6 s, K=32 about 12 s, K=64 about 22 s; finetune and random_label add about 1 s each at K=64)."""
    work = max(1, int(n_train)) * max(1, int(epochs)) / (450 * 200)
    return 0.7 + work * (2.5 + 0.29 * int(K)) + 0.015 * int(K) * max(0, int(n_methods))


def progress_text(stage: str, K: int) -> str:
    """What the progress bar says during ``stage`` (run_audit's progress stages)."""
    if stage == "original":
        return f"Training {K} original models at once…"
    if stage == "retrain":
        return (f"Retraining {2 * K} models without the forget set ({K} as the reference, {K} for the floor)…")
    return f"Unlearning with {stage} on all {K} original models, then scoring…"


# --- what a result shows -----------------------------------------------------------------------------

def role_label(result: AuditResult, name: str) -> str:
    """The table's / selector's label of a row: methods by name, the two references spelled out."""
    role = result.scores[name].role
    if role == "floor":
        return "retrain again (floor)"
    if role == "ceiling":
        return "original, not unlearned (ceiling)"
    return name


def display_order(result: AuditResult) -> list[str]:
    """Row order: the ceiling, the floor, then the methods (as the Compare page: original, retrain, methods)."""
    refs = [n for n in (CEILING, FLOOR) if n in result.scores]
    return refs + [n for n in result.scores if n not in refs]


def summary_table(result: AuditResult) -> pd.DataFrame:
    """One row per method plus the floor and the ceiling, with the columns of ``COLUMNS``."""
    rows = {r["method"]: r for r in result.table_rows()}
    data = []
    for name in display_order(result):
        r = rows[name]
        entry = {"row": role_label(result, name)}
        for key, col, scale in COLUMNS:
            v = r[key]
            entry[col] = float(v) * scale if v is not None else float("nan")
        if result.scores[name].role != "method":
            entry["seconds"] = float("nan")  # no method ran
        data.append(entry)
    df = pd.DataFrame(data).set_index("row")
    df.index.name = None
    return df


def findings(result: AuditResult) -> list[str]:
    """Plain-language verdicts per audited method, read off the numbers (markdown strings)."""
    floor, ceiling = result.scores[FLOOR], result.scores[CEILING]
    out = []
    for name, s in result.scores.items():
        if s.role != "method":
            continue
        exposed = int((s.eps >= result.eps_max).sum())
        line = (f"**{name}**: F = {s.F:.3f} (floor {floor.F:.3f}, ceiling {ceiling.F:.3f}); "
                f"{exposed} of {len(s.eps)} forget points at ε ≥ {result.eps_max:g}, where a point earns nothing.")
        if s.F < ceiling.F:
            line += (" **Worse than not unlearning at all**: its models are *easier* to tell from retrained models "
                     "than the untouched originals are, because the method moves them in a way retraining never "
                     "does.")
        elif s.F >= floor.F - 1e-12:
            line += " As close to retraining as K models can tell (at the floor)."
        else:
            share = (s.F - ceiling.F) / max(floor.F - ceiling.F, 1e-12)
            line += f" It closes {100 * share:.0f}% of the gap from the original models to the floor."
        ref_test = result.reference["acc_test"]
        if s.acc_test < ref_test - 0.05:
            line += (f" **It damages the model**: test accuracy {100 * s.acc_test:.1f}% against "
                     f"{100 * ref_test:.1f}% for retraining (a collapsed model is trivially 'different').")
        if len(s.eps_retain) and np.mean(s.eps_retain) > np.mean(floor.eps_retain) + 0.5:
            line += (f" It also disturbs retained points: mean ε on the retain sample is "
                     f"{np.mean(s.eps_retain):.2f}, against {np.mean(floor.eps_retain):.2f} for the floor.")
        out.append(line)
    return out


def audited_ids(ws: Workspace, result: AuditResult) -> tuple[np.ndarray, np.ndarray]:
    """(global ids of the forget points, global ids of the audited retain sample), in the result's order."""
    tr = ws.train_ids
    return tr[np.asarray(result.forget_rows, np.int64)], tr[np.asarray(result.retain_rows, np.int64)]


@dataclass
class PointView:
    """One audited point under one method: its confidences and the attack that best separates them."""
    point_id: int  # global id
    kind: str  # "forget" or "retain" (a point of the audited retain sample)
    label: int
    method: str
    method_label: str
    K: int
    unlearned: np.ndarray  # [K] logit-scaled confidence under the method's K models
    retrained: np.ndarray  # [K] under the K reference retrains
    original: np.ndarray  # [K] under the K originals
    eps: float
    points: float
    threshold: Threshold | None
    ulira: float
    eps_max: float


def point_view(ws: Workspace, result: AuditResult, method: str, point_id: int) -> PointView:
    """The audit of one point (a forget point or one of the retain sample) under ``method``
    (a method name, ``FLOOR`` or ``CEILING``). KeyError if the point was not audited."""
    f_ids, r_ids = audited_ids(ws, result)
    s = result.scores[method]
    hit = np.flatnonzero(f_ids == int(point_id))
    if len(hit):
        j = int(hit[0])
        U, R, O = s.conf_forget[:, j], result.reference["conf_forget"][:, j], result.scores[CEILING].conf_forget[:, j]
        eps, thr, ul, kind = float(s.eps[j]), s.thresholds[j], float(s.ulira[j]), "forget"
    else:
        hit = np.flatnonzero(r_ids == int(point_id))
        if not len(hit):
            raise KeyError(f"point {point_id} was not audited")
        j = int(hit[0])
        U, R, O = s.conf_retain[:, j], result.reference["conf_retain"][:, j], result.scores[CEILING].conf_retain[:, j]
        # The core keeps no rule for retained points; the same estimator on the same samples finds it.
        e, rules = per_example_epsilon(U[:, None], R[:, None], return_thresholds=True)
        eps, thr, kind = float(e[0]), rules[0], "retain"
        ul = float(ulira_accuracy(U[:, None], R[:, None])[0])
    return PointView(int(point_id), kind, int(ws.y[int(point_id)]), method, role_label(result, method), result.K,
                     np.asarray(U, float), np.asarray(R, float), np.asarray(O, float), eps,
                     float(epsilon_points([eps], result.K)[0]), thr, ul, result.eps_max)


def pick_point(event, ws: Workspace, result: AuditResult, current: int | None) -> int | None:
    """The point to show after a canvas event: the clicked audited point, else ``current`` if it was
    audited, else None (the caller then shows the largest epsilon)."""
    from .canvas import selected_ids
    f_ids, r_ids = audited_ids(ws, result)
    audited = set(f_ids.tolist()) | set(r_ids.tolist())
    ids, _ = selected_ids(event)
    clicked = [i for i in ids if i in audited]
    if clicked:
        return int(clicked[0])
    return int(current) if current is not None and int(current) in audited else None


def default_point(ws: Workspace, result: AuditResult, method: str) -> int:
    """The forget point with the largest epsilon under ``method`` (the first one on ties)."""
    f_ids, _ = audited_ids(ws, result)
    return int(f_ids[int(np.argmax(result.scores[method].eps))])


# --- figures ------------------------------------------------------------------------------------------

def _eps_hover(kind: str, ids, eps: np.ndarray, pts: np.ndarray, ulira: np.ndarray | None, labels) -> list[str]:
    out = []
    for i, (pid, e, p, c) in enumerate(zip(ids, eps, pts, labels)):
        extra = f"<br>U-LiRA acc {ulira[i]:.2f}" if ulira is not None else ""
        out.append(f"{kind} #{int(pid)} (class {int(c)})<br>ε = {e:.2f} (points {p:.4g}){extra}"
                   f"<br>click for its histograms")
    return out


# Plotly fades unselected points after a click; the audit's points must stay readable.
_NO_DIMMING = dict(selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1)))


def epsilon_figure(ws: Workspace, result: AuditResult, method: str, *, chosen: int | None = None,
                   title: str = "", height: int = 540) -> dict:
    """The canvas (the workspace's original model as background) with each forget point coloured by its
    epsilon under ``method`` (colour bar 0..eps_max; larger values saturate) and the audited retain
    sample as diamonds on the same scale. Only those two traces answer clicks (``customdata`` = global
    id first); ``chosen`` gets a ring."""
    from .canvas import canvas_figure, layers_for
    f_ids, r_ids = audited_ids(ws, result)
    s = result.scores[method]
    top = result.eps_max
    spec = ws.gridspec
    fig = canvas_figure(spec, ws.X, ws.y, n_classes=ws.n_classes, layers=layers_for(ws.original, spec, ws.n_classes),
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
    f_pts = epsilon_points(s.eps, result.K)
    r_pts = epsilon_points(s.eps_retain, result.K) if len(s.eps_retain) else np.zeros(0)
    if len(r_ids):
        fig["data"].append(dict(
            type="scatter", x=ws.X[r_ids, 0], y=ws.X[r_ids, 1], mode="markers", name="retained (audited sample)",
            customdata=r_ids, text=_eps_hover("retained point", r_ids, s.eps_retain, r_pts, None, ws.y[r_ids]),
            hovertemplate="%{text}<extra></extra>", showlegend=True,
            marker=dict(symbol="diamond", size=10, color=s.eps_retain, coloraxis="coloraxis",
                        line=dict(color="#444444", width=1)), **_NO_DIMMING))
    fig["data"].append(dict(
        type="scatter", x=ws.X[f_ids, 0], y=ws.X[f_ids, 1], mode="markers", name="forget point",
        customdata=f_ids, text=_eps_hover("forget point", f_ids, s.eps, f_pts, s.ulira, ws.y[f_ids]),
        hovertemplate="%{text}<extra></extra>", showlegend=True,
        marker=dict(symbol="circle", size=13, color=s.eps, coloraxis="coloraxis",
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
