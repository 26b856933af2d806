"""The Geometry page's model runs: JiT with the library's 2-D defaults, class grids, the cloud's window,
and the two JiT gradients (detached / full) side by side at one point, next to a model retrained without it.

The maths (alpha, the Lipschitz estimates, the perturbation cloud, the 1-D example) is
``unlearn_core.geometry``; the figures are ``ui.views.geometry``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from unlearn_core import METHODS, unlearn
from unlearn_core.geometry import Cloud, PointOutputs, model_scale, point_outputs
from unlearn_core.methods.jit import GRADIENTS

from .grids import GridSpec, probabilities, shade_of
from .workspace import Workspace

CLOUD_RESOLUTION = 50  # class grid behind the perturbation cloud (CLOUD_RESOLUTION^2)
CLOUD_HALF_WIDTH = 3.2  # the cloud's window reaches this many sigmas from x (along the widest feature)
GRADIENT_STEPS = 10  # JiT steps on the one point in the gradient comparison (one point per step)
EVAL_SAMPLES = 200  # perturbations for the numbers at the point (more than JiT's N: stable to read)
EVAL_SEED = 1  # their seed: every model is measured on the same draws


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


def class_grid(model: nn.Module, bounds, resolution: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(shade, class) uint8 grids of the model's prediction over ``bounds`` (see ``ui.state.grids.shade_of``)."""
    p = probabilities(model, GridSpec(tuple(float(b) for b in bounds), int(resolution)))
    return shade_of(p, p.shape[-1])


@dataclass
class CloudWindow:
    """The square window around a perturbation cloud and the model's prediction in it."""
    bounds: tuple[float, float, float, float]
    shade: np.ndarray  # uint8 [r, r] (see ``ui.state.grids.shade_of``)
    cls: np.ndarray  # uint8 [r, r] predicted class
    scale: np.ndarray  # [d] the model's input scale (the sigma ellipse's axes, in data units per sigma)


def cloud_window(model: nn.Module, cloud: Cloud, sigma: float, resolution: int = CLOUD_RESOLUTION) -> CloudWindow:
    """A square window around the cloud's x, ``CLOUD_HALF_WIDTH`` sigmas wide each way, with the model's
    classes (shade = confidence) on a resolution^2 grid."""
    scale = model_scale(model, len(cloud.x)).numpy().astype(np.float64)
    half = float(max(CLOUD_HALF_WIDTH * sigma * scale.max(), 1e-3))
    cx, cy = float(cloud.x[0]), float(cloud.x[1])
    bounds = (cx - half, cx + half, cy - half, cy + half)
    shade, cls = class_grid(model, bounds, resolution)
    return CloudWindow(bounds, shade, cls, scale)


def retrain_without(ws: Workspace, ids) -> nn.Module:
    """A model retrained from scratch with the original's recipe on the training points minus ``ids`` and
    minus everything the workspace forgot so far (``Workspace.retrained`` for an extra forget set)."""
    return ws.retrain_without(np.union1d(ws.forgotten, np.asarray(ids, np.int64).reshape(-1)))


@dataclass
class GradientRun:
    """JiT with one gradient on one point: the numbers at the point after each step, and the boundary."""
    gradient: str  # "detached" or "full"
    outputs: list[PointOutputs]  # step 0 (before) .. the last step
    shade: np.ndarray  # uint8 [r, r] the final model's prediction (see ``ui.state.grids.shade_of``)
    cls: np.ndarray  # uint8 [r, r] its predicted class

    @property
    def after(self) -> PointOutputs:
        return self.outputs[-1]


@dataclass
class GradientComparison:
    """The two JiT gradients at one forget point x (label ``label``), and the model retrained without x."""
    x: np.ndarray  # [d] the point (data units)
    label: int
    steps: int
    hyperparameters: dict  # what JiT ran with (the same for both gradients, apart from ``gradient``)
    runs: dict[str, GradientRun]  # by gradient name, in ``GRADIENTS`` order
    retrain: PointOutputs
    retrain_shade: np.ndarray
    retrain_cls: np.ndarray

    @property
    def before(self) -> PointOutputs:
        return next(iter(self.runs.values())).outputs[0]


def compare_gradients(model: nn.Module, x, label: int, retrained: nn.Module, *, bounds, sigma: float,
                      n_samples: int, lr: float, steps: int = GRADIENT_STEPS, resolution: int = 100,
                      eval_samples: int = EVAL_SAMPLES) -> GradientComparison:
    """Run JiT ``steps`` times on the single point x with each gradient ("detached", "full") from the same
    model, with the library's 2-D defaults otherwise (the scale-free step: ``lr`` is the first step's
    length in parameter space for both, so they are compared at equal step lengths). After every step,
    f(x), the neighbours' mean output and JiT's estimate at x (``point_outputs``, ``eval_samples`` draws,
    the same for every model). ``retrained`` is the oracle (``retrain_without``). The input models are
    left untouched."""
    x = np.asarray(x, dtype=np.float32).reshape(-1)
    hp = jit_hyperparameters(sigma=float(sigma), n_samples=int(n_samples), lr=float(lr), epochs=int(steps),
                             batch_size=1)
    at = dict(sigma=float(sigma), n_samples=int(eval_samples), seed=EVAL_SEED)
    start = point_outputs(model, x, **at)
    runs = {}
    for gradient in GRADIENTS:
        outputs = [start]
        res = unlearn("jit", model, forget=(x[None], np.array([int(label)])), device="cpu",
                      callback=lambda step, loss, m: outputs.append(point_outputs(m, x, **at)),
                      **dict(hp, gradient=gradient))
        shade, cls = class_grid(res.model, bounds, resolution)
        runs[gradient] = GradientRun(gradient, outputs, shade, cls)
    r_shade, r_cls = class_grid(retrained, bounds, resolution)
    return GradientComparison(x=x, label=int(label), steps=int(steps), hyperparameters=hp, runs=runs,
                              retrain=point_outputs(retrained, x, **at), retrain_shade=r_shade, retrain_cls=r_cls)
