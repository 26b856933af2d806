"""The Geometry page's numbers and figures: information alpha(x), local Lipschitz estimates, perturbation clouds.

Plain functions on numpy arrays / torch models returning numpy arrays or Plotly figures; nothing
here imports Streamlit, so everything is unit-tested without a server.

Units. Distances (the neighbourhood radius r, JiT's sigma, the perturbations xi) are measured in
*standardised* units: each input feature divided by its standard deviation over the training
points. That is the convention of ``unlearn_core.scenarios`` (alpha) and of the project's MLP,
whose ``input_scale()`` is that standard deviation (JiT's sigma). A model without
``input_scale()`` is measured in raw input units (scale 1). Plots are drawn in data units, where a
circle of radius r is an axis-aligned ellipse.

Two estimates of how fast the model's output f changes around x (f = logits, as in JiT's loss,
or softmax probabilities):
- ``mc_lipschitz``: JiT's Monte-Carlo ratio (1/N) sum_j ||f(x) - f(x + xi_j)|| / ||xi_j||,
  xi_j ~ N(0, sigma^2 I). It averages the slope over random directions, so it is at most the
  local Lipschitz constant (the steepest slope); for a linear map it is E||W u|| over unit u.
- ``grad_norm``: the Frobenius norm of the input Jacobian ||df/dx||_F (the sigma -> 0 limit,
  up to that direction average).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from unlearn_core import METHODS, unlearn
from unlearn_core.metrics import grid
from unlearn_core.models import input_scale
from unlearn_core.training import predict_logits

from .canvas import color, shade_colorscale
from .grids import GridSpec, probabilities, shade_of

SPACES = ("probs", "logits")
SPACE_LABELS = {"probs": "class probabilities (softmax)", "logits": "logits (what JiT's loss measures)"}
ESTIMATORS = ("mc", "grad")
ESTIMATOR_LABELS = {"mc": "Monte-Carlo ratio at σ (JiT's estimate)", "grad": "input-gradient norm ‖∂f/∂x‖"}
# Heat maps: white (the output does not change) to dark green (it changes fast); greens keep the blue and
# red class markers readable. Differences: blue (smaller after) to red (larger after).
HEAT_SCALE = [[0.0, "#ffffff"], [0.2, "#e5f5e0"], [0.45, "#a1d99b"], [0.7, "#41ab5d"], [1.0, "#00441b"]]
DIFF_SCALE = [[0.0, "#2166ac"], [0.5, "#ffffff"], [1.0, "#b2182b"]]
MAX_ROWS = 1 << 18  # cap on perturbed rows per forward call
# alpha colour scale over [-0.1, 1]: grey for "no neighbour" (-0.1), then red (alpha 0) to blue (alpha 1).
ALPHA_SCALE = [[0.0, "#bbbbbb"], [0.0899, "#bbbbbb"], [0.0909, "#b2182b"], [0.5455, "#f7f7a0"], [1.0, "#2166ac"]]
SYMBOLS = ["circle", "diamond", "square", "triangle-up", "cross", "star", "hexagon", "pentagon"]


# --- units -------------------------------------------------------------------------------------

def standard_scale(X) -> np.ndarray:
    """Per-feature standard deviation of X (population, ddof 0), 1 where a feature is constant.

    The same convention as ``unlearn_core.scenarios`` (alpha's radius) and the MLP's input stage.
    """
    X = np.asarray(X, dtype=np.float64)
    std = X.std(0)
    return np.where(std > 1e-12, std, 1.0)


def model_scale(model: nn.Module, dim: int) -> torch.Tensor:
    """The model's declared input scale (standardised units) as a float32 [dim] tensor, else ones."""
    s = input_scale(model)
    if s is None:
        return torch.ones(dim)
    return s.detach().float().cpu().reshape(-1).expand(dim).clone()


def ellipse(center, radius: float, scale, n: int = 73) -> tuple[np.ndarray, np.ndarray]:
    """The circle of ``radius`` (standardised units) around ``center``, in data units: (xs, ys)."""
    t = np.linspace(0, 2 * np.pi, n)
    s = np.asarray(scale, dtype=np.float64).reshape(-1)
    return center[0] + radius * s[0] * np.cos(t), center[1] + radius * s[1] * np.sin(t)


# --- information -------------------------------------------------------------------------------

def high_info_mask(alpha: np.ndarray, tau: float) -> np.ndarray:
    """alpha < tau (points without neighbours, alpha NaN, are never high-information)."""
    return np.nan_to_num(np.asarray(alpha, dtype=np.float64), nan=1.0) < float(tau)


def neighbours(X, i: int, radius: float) -> np.ndarray:
    """Rows of X within ``radius`` (standardised by X's own std) of row i, i itself excluded."""
    X = np.asarray(X, dtype=np.float64)
    Z = X / standard_scale(X)
    near = np.flatnonzero(((Z - Z[i]) ** 2).sum(1) <= float(radius) ** 2)
    return near[near != i]


# --- model outputs and Lipschitz estimates -----------------------------------------------------

def _outputs(model: nn.Module, x: torch.Tensor, space: str) -> torch.Tensor:
    out = model(x).float()
    return torch.softmax(out, -1) if space == "probs" else out


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")


def draw_noise(n_samples: int, shape: tuple[int, ...], sigma: float, seed: int = 0) -> torch.Tensor:
    """sigma * N(0, I) of shape [n_samples, *shape], from a seeded generator (standardised units)."""
    if not float(sigma) > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if int(n_samples) < 1:
        raise ValueError(f"the number of perturbations must be >= 1, got {n_samples}")
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn((int(n_samples), *shape), generator=gen) * float(sigma)


@torch.no_grad()
def mc_lipschitz(model: nn.Module, P, sigma: float = 0.25, n_samples: int = 25, *, space: str = "logits",
                 seed: int = 0, noise: torch.Tensor | None = None, shared: bool = True) -> np.ndarray:
    """JiT's Monte-Carlo local Lipschitz estimate at each row of P [M, d]; float32 [M].

    ell(x) = (1/N) sum_j ||f(x) - f(x + scale * xi_j)|| / ||xi_j||, xi_j ~ N(0, sigma^2 I) in
    standardised units (``scale`` = the model's input scale). ``noise`` (optional, [N, M, d] or
    [N, 1, d], already multiplied by sigma) replaces the draw. With ``shared`` (default) every point
    uses the same N directions (common random numbers: a smooth map, and two models compared on the
    same draws); otherwise each point gets its own, as in JiT. The model runs in eval mode, in
    batches of at most ``MAX_ROWS`` perturbed rows.
    """
    _check_space(space)
    was = model.training
    model.eval()
    P = torch.as_tensor(np.asarray(P), dtype=torch.float32)
    m, d = P.shape
    if noise is None:
        noise = draw_noise(n_samples, (1 if shared else m, d), sigma, seed)
    noise = noise.float()
    scale = model_scale(model, d)
    dist = noise.norm(dim=-1).clamp_min(1e-12)  # [N, M or 1]
    n = noise.shape[0]
    per = max(1, MAX_ROWS // n)
    out = []
    for a in range(0, m, per):
        x = P[a:a + per]
        nz = noise if noise.shape[1] == 1 else noise[:, a:a + per]
        dz = dist if dist.shape[1] == 1 else dist[:, a:a + per]
        fx = _outputs(model, x, space)
        xp = (x.unsqueeze(0) + nz * scale).reshape(-1, d)
        fp = _outputs(model, xp, space).reshape(n, len(x), -1)
        out.append(((fx.unsqueeze(0) - fp).norm(dim=2) / dz).mean(0))
    model.train(was)
    return torch.cat(out).numpy().astype(np.float32)


def grad_norm(model: nn.Module, P, *, space: str = "logits") -> np.ndarray:
    """||df/dz||_F at each row of P [M, d] (z = standardised input); float32 [M].

    One batched forward and one backward per output (the rows are independent in eval mode).
    """
    _check_space(space)
    was = model.training
    model.eval()
    x = torch.as_tensor(np.asarray(P), dtype=torch.float32).clone().requires_grad_(True)
    scale = model_scale(model, x.shape[1])
    with torch.enable_grad():
        f = _outputs(model, x, space)
        sq = torch.zeros(len(x))
        for c in range(f.shape[1] if f.requires_grad else 0):
            g, = torch.autograd.grad(f[:, c].sum(), x, retain_graph=c < f.shape[1] - 1, allow_unused=True)
            if g is not None:  # None: the output does not depend on the input (a constant model)
                sq += ((g * scale) ** 2).sum(1)
    model.train(was)
    return sq.sqrt().detach().numpy().astype(np.float32)


def lipschitz_grid(model: nn.Module, bounds, resolution: int = 60, *, estimator: str = "mc", space: str = "probs",
                   sigma: float = 0.25, n_samples: int = 25, seed: int = 0) -> np.ndarray:
    """The estimate on a resolution^2 grid over bounds (x0, x1, y0, y1): float32 [resolution, resolution],
    rows = y (as ``unlearn_core.metrics.grid``)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if not 2 <= int(resolution) <= 100:
        raise ValueError(f"resolution must be between 2 and 100, got {resolution}")
    G = grid(bounds, int(resolution))
    if estimator == "mc":
        z = mc_lipschitz(model, G, sigma, n_samples, space=space, seed=seed)
    else:
        z = grad_norm(model, G, space=space)
    return z.reshape(int(resolution), int(resolution))


def class_grid(model: nn.Module, bounds, resolution: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(shade, class) uint8 grids of the model's prediction (see ``ui.grids.shade_of``)."""
    p = probabilities(model, GridSpec(tuple(float(b) for b in bounds), int(resolution)))
    return shade_of(p, p.shape[-1])


# --- the perturbation cloud and JiT --------------------------------------------------------------

@dataclass
class Cloud:
    """N perturbations of one input x and what the model makes of them."""
    x: np.ndarray  # [d] the clean input (data units)
    points: np.ndarray  # [N, d] x + scale * xi (data units)
    noise: np.ndarray  # [N, d] xi (standardised units)
    pred: np.ndarray  # [N] predicted class of each perturbed point
    ratios: np.ndarray  # [N] ||f(x) - f(x + xi)|| / ||xi|| on the logits
    pred_x: int  # predicted class at x
    prob_x: np.ndarray  # [k] class probabilities at x

    @property
    def loss(self) -> float:
        """JiT's loss at x: the mean ratio (logits, as in the paper and the library)."""
        return float(self.ratios.mean())

    @property
    def share_other(self) -> float:
        """Share of the perturbed points predicted as another class than x itself."""
        return float((self.pred != self.pred_x).mean())


@torch.no_grad()
def perturbation_cloud(model: nn.Module, x, sigma: float, n_samples: int = 25, seed: int = 0) -> Cloud:
    """The N perturbations JiT would use around x [d] (each its own draw), with predictions and ratios."""
    was = model.training
    model.eval()
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1)
    d = x.shape[0]
    xi = draw_noise(n_samples, (d,), sigma, seed)
    pts = x.unsqueeze(0) + xi * model_scale(model, d)
    f = model(torch.cat([x.unsqueeze(0), pts])).float()
    fx, fp = f[0], f[1:]
    ratios = (fp - fx).norm(dim=1) / xi.norm(dim=1).clamp_min(1e-12)
    model.train(was)
    return Cloud(x=x.numpy(), points=pts.numpy(), noise=xi.numpy(), pred=fp.argmax(1).numpy(),
                 ratios=ratios.numpy(), pred_x=int(fx.argmax()), prob_x=torch.softmax(fx, 0).numpy())


def jit_hyperparameters(**overrides) -> dict:
    """The library's JiT defaults for 2-D data with ``overrides`` applied (unknown names are an error)."""
    hp = METHODS["jit"].defaults()
    unknown = sorted(set(overrides) - set(hp))
    if unknown:
        raise ValueError(f"JiT has no hyperparameter(s) {', '.join(unknown)}")
    hp.update(overrides)
    return hp


def run_jit(model: nn.Module, X_forget, y_forget, **overrides) -> nn.Module:
    """The model after JiT on (X_forget, y_forget) with the library's defaults and ``overrides``; the
    input model is left untouched."""
    return unlearn("jit", model, forget=(np.asarray(X_forget), np.asarray(y_forget)), device="cpu",
                   **jit_hyperparameters(**overrides)).model


def predicted_class(model: nn.Module, X) -> np.ndarray:
    """argmax of the model's logits for each row of X, int64 [n]."""
    return predict_logits(model, torch.as_tensor(np.asarray(X), dtype=torch.float32)).argmax(1).numpy()


@torch.no_grad()
def own_class_probability(model: nn.Module, X, y) -> np.ndarray:
    """P(y_i | x_i) under the model, float32 [n]."""
    p = torch.softmax(predict_logits(model, torch.as_tensor(np.asarray(X), dtype=torch.float32)), 1)
    return p[torch.arange(len(p)), torch.as_tensor(np.asarray(y), dtype=torch.int64)].numpy()


def change_rows(before: nn.Module, after: nn.Module, X, y, groups: dict[str, np.ndarray], *, sigma: float,
                n_samples: int = 200, seed: int = 1) -> list[dict]:
    """Per group of rows of X (name -> indices): mean estimates (logits and probabilities, on shared
    draws) and mean own-class probability, before and after. Empty groups are skipped."""
    rows = []
    for name, idx in groups.items():
        idx = np.asarray(idx, np.int64)
        if len(idx) == 0:
            continue
        Xg, yg = np.asarray(X)[idx], np.asarray(y)[idx]
        row = {"points": name, "n": int(len(idx))}
        for what in ("P(own class)", "probability estimate", "logit estimate"):
            for tag, model in (("before", before), ("after", after)):
                if what == "P(own class)":
                    v = own_class_probability(model, Xg, yg)
                else:
                    v = mc_lipschitz(model, Xg, sigma, n_samples, space="logits" if what[0] == "l" else "probs",
                                     seed=seed)
                row[f"{what} {tag}"] = float(v.mean())
        rows.append(row)
    return rows


def chosen_point(selection, allowed) -> int | None:
    """The newest selected point id (``customdata``, events list the newest last) that is in ``allowed``,
    from a ``st.plotly_chart`` selection state (``PlotlyState`` or the plain dict AppTest injects)."""
    if not selection:
        return None
    ok = set(int(i) for i in np.asarray(allowed).reshape(-1))
    sel = selection.get("selection", selection) if isinstance(selection, dict) else getattr(selection, "selection", selection)
    points = (sel.get("points") if isinstance(sel, dict) else getattr(sel, "points", None)) or []
    picked = None
    for p in points:
        cd = p.get("customdata")
        cd = cd[0] if isinstance(cd, (list, tuple)) and cd else cd
        try:
            cd = int(cd)
        except (TypeError, ValueError):
            continue
        if cd in ok:
            picked = cd
    return picked


# --- the 1-D example ---------------------------------------------------------------------------

def sigmoid(x, w: float = 3.0):
    return 1.0 / (1.0 + np.exp(-float(w) * np.asarray(x, dtype=np.float64)))


def sigmoid_example(points, *, w: float = 3.0, sigma: float = 0.5, n_samples: int = 25, seed: int = 0) -> list[dict]:
    """For each x in ``points``: JiT's ratio for f(x) = sigmoid(w x) with N perturbations xi ~ N(0, sigma^2).

    Returns dicts {x, fx, xs (perturbed inputs), fs, ratios, estimate (mean ratio), slope (|f'(x)|),
    crossed (share of perturbations on the other side of f = 0.5)}.
    """
    out = []
    for k, x in enumerate(points):
        xi = draw_noise(n_samples, (), sigma, seed + k).double().numpy()
        fx = float(sigmoid(x, w))
        xs = float(x) + xi
        fs = sigmoid(xs, w)
        ratios = np.abs(fs - fx) / np.maximum(np.abs(xi), 1e-12)
        out.append(dict(x=float(x), fx=fx, xs=xs, fs=fs, ratios=ratios, estimate=float(ratios.mean()),
                        slope=float(w) * fx * (1 - fx), crossed=float(((fs > 0.5) != (fx > 0.5)).mean())))
    return out


# --- figures -----------------------------------------------------------------------------------

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


def cloud_figure(cloud: Cloud, model: nn.Module, *, sigma: float, n_classes: int, label: int | None = None,
                 height: int = 500, title: str = "", resolution: int = 50) -> go.Figure:
    """A square window around the cloud's x: the model's classes (shade = confidence) and boundary,
    the N perturbed points coloured by their predicted class, x itself (a star in its label's
    colour) and the sigma ellipse (standardised units)."""
    scale = model_scale(model, len(cloud.x)).numpy().astype(np.float64)
    half = float(max(3.2 * sigma * scale.max(), 1e-3))
    cx, cy = float(cloud.x[0]), float(cloud.x[1])
    bounds = (cx - half, cx + half, cy - half, cy + half)
    shade, cls = class_grid(model, bounds, resolution)
    xs, ys = np.linspace(*bounds[:2], resolution), np.linspace(*bounds[2:], resolution)
    k = max(int(n_classes), 2)
    traces: list[dict] = [
        dict(type="heatmap", x=xs, y=ys, z=shade, zmin=0, zmax=255, colorscale=shade_colorscale(k), showscale=False,
             opacity=0.5, hoverinfo="skip", name="prediction"),
        *_boundary(bounds, cls, k, dict(color="black", width=2)),
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
