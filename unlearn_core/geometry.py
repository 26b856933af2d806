"""The geometry of forgetting: information alpha(x), local Lipschitz estimates, perturbation clouds, and
what JiT's loss sees at one point (``point_outputs``: f(x), its neighbours' mean output, the estimate).

Plain functions on numpy arrays and torch models, returning numpy arrays (the app's Geometry page
draws them; nothing here draws).

Units. Distances (the neighbourhood radius r, JiT's sigma, the perturbations xi) are measured in
*standardised* units: each input feature divided by its standard deviation over the training
points. That is the convention of ``unlearn_core.scenarios`` (alpha) and of the project's MLP,
whose ``input_scale()`` is that standard deviation (JiT's sigma). A model without
``input_scale()`` is measured in raw input units (scale 1).

Two estimates of how fast the model's output f changes around x (f = logits, as in JiT's loss,
or softmax probabilities):
- ``mc_lipschitz``: JiT's Monte-Carlo ratio (1/N) sum_j ||f(x) - f(x + xi_j)|| / ||xi_j||,
  xi_j ~ N(0, sigma^2 I), computed by the library's own ``jit_loss`` one point at a time
  (``jit_per_sample``). It averages the slope over random directions, so it is at most the local
  Lipschitz constant (the steepest slope); for a linear map it is E||W u|| over unit u.
- ``grad_norm``: the Frobenius norm of the input Jacobian ||df/dx||_F (the sigma -> 0 limit,
  up to that direction average).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.func import vmap

from unlearn_core.methods.jit import jit_loss
from unlearn_core.metrics import grid
from unlearn_core.models import input_scale
from unlearn_core.training import predict_logits

SPACES = ("probs", "logits")
ESTIMATORS = ("mc", "grad")
MAX_ROWS = 1 << 18  # cap on perturbed rows per forward call


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

class Probabilities(nn.Module):
    """The softmax of a classifier's logits, as a module (JiT's ratio measured on probabilities)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x).float(), -1)


def _check_space(space: str) -> None:
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, got {space!r}")


def _in_space(model: nn.Module, space: str) -> nn.Module:
    _check_space(space)
    return Probabilities(model) if space == "probs" else model


def draw_noise(n_samples: int, shape: tuple[int, ...], sigma: float, seed: int = 0) -> torch.Tensor:
    """sigma * N(0, I) of shape [n_samples, *shape], from a seeded generator (standardised units)."""
    if not float(sigma) > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    if int(n_samples) < 1:
        raise ValueError(f"the number of perturbations must be >= 1, got {n_samples}")
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn((int(n_samples), *shape), generator=gen) * float(sigma)


@torch.no_grad()
def jit_per_sample(model: nn.Module, X: torch.Tensor, noise: torch.Tensor, *,
                   scale: torch.Tensor | None = None) -> torch.Tensor:
    """JiT's loss at each row of X [M, ...] on its own: float32 [M].

    ``noise`` [N, M, ...] (each row its own N perturbations) or [N, 1, ...] (the same N for every
    row), already multiplied by sigma; ``scale`` as in ``jit_loss``. Each value is
    ``jit_loss(model, X[i:i+1], noise[:, i:i+1], scale=scale, reduction="sum")``, vectorised over
    the rows with ``torch.func.vmap`` (``jit_loss`` reduces over the batch; these are its terms).
    """
    shared = noise.shape[1] == 1

    def one(x: torch.Tensor, nz: torch.Tensor) -> torch.Tensor:
        return jit_loss(model, x.unsqueeze(0), nz.unsqueeze(1), scale=scale, reduction="sum")

    return vmap(one, in_dims=(0, None if shared else 1))(X, noise[:, 0] if shared else noise)


@torch.no_grad()
def mc_lipschitz(model: nn.Module, P, sigma: float = 0.25, n_samples: int = 25, *, space: str = "logits",
                 seed: int = 0, noise: torch.Tensor | None = None, shared: bool = True) -> np.ndarray:
    """JiT's Monte-Carlo local Lipschitz estimate at each row of P [M, d]; float32 [M].

    ell(x) = (1/N) sum_j ||f(x) - f(x + scale * xi_j)|| / ||xi_j||, xi_j ~ N(0, sigma^2 I) in
    standardised units (``scale`` = the model's input scale): JiT's loss at x (``jit_per_sample``).
    ``noise`` (optional, [N, M, d] or [N, 1, d], already multiplied by sigma) replaces the draw.
    With ``shared`` (default) every point uses the same N directions (common random numbers: a
    smooth map, and two models compared on the same draws); otherwise each point gets its own, as
    in JiT. The model runs in eval mode, in batches of at most ``MAX_ROWS`` perturbed rows.
    """
    f = _in_space(model, space)
    was = model.training
    model.eval()
    P = torch.as_tensor(np.asarray(P), dtype=torch.float32)
    m, d = P.shape
    if noise is None:
        noise = draw_noise(n_samples, (1 if shared else m, d), sigma, seed)
    noise = noise.float()
    scale = model_scale(model, d)
    per = max(1, MAX_ROWS // noise.shape[0])
    out = []
    for a in range(0, m, per):
        nz = noise if noise.shape[1] == 1 else noise[:, a:a + per]
        out.append(jit_per_sample(f, P[a:a + per], nz, scale=scale))
    model.train(was)
    return torch.cat(out).numpy().astype(np.float32)


def grad_norm(model: nn.Module, P, *, space: str = "logits") -> np.ndarray:
    """||df/dz||_F at each row of P [M, d] (z = standardised input); float32 [M].

    One batched forward and one backward per output (the rows are independent in eval mode).
    """
    f_space = _in_space(model, space)
    was = model.training
    model.eval()
    x = torch.as_tensor(np.asarray(P), dtype=torch.float32).clone().requires_grad_(True)
    scale = model_scale(model, x.shape[1])
    with torch.enable_grad():
        f = f_space(x).float()
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


# --- the perturbation cloud ----------------------------------------------------------------------

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


def outputs_around(model: nn.Module, x, sigma: float, n_samples: int, seed: int):
    """x [d] as a tensor, N seeded perturbations xi [N, d] (standardised units), the model's input scale,
    and the logits at x and at x + scale * xi as [1 + N, k]. Puts the model in eval mode and returns
    its previous mode last, for the caller to restore."""
    was = model.training
    model.eval()
    x = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1)
    xi = draw_noise(n_samples, (x.shape[0],), sigma, seed)
    scale = model_scale(model, x.shape[0])
    f = model(torch.cat([x.unsqueeze(0), x.unsqueeze(0) + xi * scale])).float()
    return x, xi, scale, f, was


@torch.no_grad()
def perturbation_cloud(model: nn.Module, x, sigma: float, n_samples: int = 25, seed: int = 0) -> Cloud:
    """The N perturbations JiT would use around x [d] (each its own draw), with predictions and ratios
    (each ratio is JiT's loss at x with that one perturbation, so their mean is JiT's loss)."""
    x, xi, scale, f, was = outputs_around(model, x, sigma, n_samples, seed)
    pts = x.unsqueeze(0) + xi * scale
    fx, fp = f[0], f[1:]
    # one perturbation per row: row j's JiT loss is the ratio of perturbation j
    ratios = jit_per_sample(model, x.expand(len(xi), len(x)), xi.unsqueeze(0), scale=scale)
    model.train(was)
    return Cloud(x=x.numpy(), points=pts.numpy(), noise=xi.numpy(), pred=fp.argmax(1).numpy(),
                 ratios=ratios.numpy(), pred_x=int(fx.argmax()), prob_x=torch.softmax(fx, 0).numpy())


@dataclass
class PointOutputs:
    """What JiT's loss sees at one input x: the model's output there and around it (logits and softmax).

    JiT's detached step treats the perturbed outputs f(x + xi_j) as constants and moves f(x) towards
    them; ``mean_logits`` (their mean) is the centre of that target. ``estimate`` is JiT's loss at x.
    """
    logits: np.ndarray  # [k] f(x)
    probs: np.ndarray  # [k] softmax f(x)
    mean_logits: np.ndarray  # [k] (1/N) sum_j f(x + scale * xi_j): the neighbours' mean output
    mean_probs: np.ndarray  # [k] (1/N) sum_j softmax f(x + scale * xi_j)
    estimate: float  # JiT's Monte-Carlo Lipschitz estimate at x (logits): the mean ratio

    @property
    def pred(self) -> int:
        """The predicted class at x."""
        return int(self.logits.argmax())

    @property
    def gap(self) -> float:
        """||f(x) - mean_j f(x + xi_j)|| on the logits: how far f(x) is from its neighbours' mean output."""
        return float(np.linalg.norm(self.logits - self.mean_logits))


@torch.no_grad()
def point_outputs(model: nn.Module, x, sigma: float, n_samples: int = 200, seed: int = 1) -> PointOutputs:
    """f(x), the neighbours' mean output and JiT's estimate at one input x [d], on N perturbations
    xi_j ~ N(0, sigma^2 I) in standardised units (the same draws for every model given the same seed,
    so two models are compared on common random numbers). The model runs in eval mode."""
    x, xi, scale, f, was = outputs_around(model, x, sigma, n_samples, seed)
    estimate = float(jit_per_sample(model, x.unsqueeze(0), xi.unsqueeze(1), scale=scale)[0])
    model.train(was)
    p = torch.softmax(f, 1)
    return PointOutputs(logits=f[0].numpy(), probs=p[0].numpy(), mean_logits=f[1:].mean(0).numpy(),
                        mean_probs=p[1:].mean(0).numpy(), estimate=estimate)


# --- predictions and the before / after table ---------------------------------------------------

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


# --- the 1-D example ---------------------------------------------------------------------------

def sigmoid(x, w: float = 3.0):
    """sigmoid(w x), float64."""
    return 1.0 / (1.0 + np.exp(-float(w) * np.asarray(x, dtype=np.float64)))


def sigmoid_example(points, *, w: float = 3.0, sigma: float = 0.5, n_samples: int = 25, seed: int = 0) -> list[dict]:
    """For each x in ``points``: JiT's ratio for f(x) = sigmoid(w x) with N perturbations xi ~ N(0, sigma^2),
    in float64 (a closed-form 1-D function, not a model: tiny sigmas stay exact).

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
