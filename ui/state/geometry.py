"""The Geometry page's model runs: JiT with the library's 2-D defaults, class grids, the cloud's window.

The maths (alpha, the Lipschitz estimates, the perturbation cloud, the 1-D example) is
``unlearn_core.geometry``; the figures are ``ui.views.geometry``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import nn

from unlearn_core import METHODS, unlearn
from unlearn_core.geometry import Cloud, model_scale

from .grids import GridSpec, probabilities, shade_of

CLOUD_RESOLUTION = 50  # class grid behind the perturbation cloud (CLOUD_RESOLUTION^2)
CLOUD_HALF_WIDTH = 3.2  # the cloud's window reaches this many sigmas from x (along the widest feature)


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
