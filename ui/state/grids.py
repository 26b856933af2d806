"""A model's class probabilities on a square grid, quantised to uint8 for small figure payloads.

``GridSpec`` is the canvas's extent and resolution, ``encode`` turns a model into (shade, class)
uint8 grids and ``layers_for`` into the ``Layers`` the canvas view draws (``ui.views.canvas``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from unlearn_core.metrics import data_bounds, grid


@dataclass
class GridSpec:
    """The canvas's square extent and grid resolution (at least 100x100 on the canvas)."""
    bounds: tuple[float, float, float, float]
    resolution: int = 100
    _points: torch.Tensor | None = field(default=None, repr=False, compare=False)

    @classmethod
    def around(cls, X: np.ndarray, resolution: int = 100, margin: float = 0.15) -> "GridSpec":
        """A square extent around the points, so that the canvas has equal axes."""
        x0, x1, y0, y1 = data_bounds(X, margin)
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2
        return cls((cx - half, cx + half, cy - half, cy + half), resolution)

    @property
    def points(self) -> torch.Tensor:
        """[r*r, 2] grid points, row-major with y as the slow axis."""
        if self._points is None:
            self._points = grid(self.bounds, self.resolution)
        return self._points

    @property
    def xs(self) -> np.ndarray:
        return np.linspace(self.bounds[0], self.bounds[1], self.resolution)

    @property
    def ys(self) -> np.ndarray:
        return np.linspace(self.bounds[2], self.bounds[3], self.resolution)


@torch.no_grad()
def probabilities(model: nn.Module, spec: GridSpec) -> torch.Tensor:
    """Softmax probabilities [r, r, k] on the grid (model in eval mode, on the CPU)."""
    was = model.training
    model.eval()
    p = torch.softmax(model(spec.points.to(next(model.parameters()).device)).float(), 1).cpu()
    model.train(was)
    r = spec.resolution
    return p.reshape(r, r, -1)


def class_bands(k: int) -> list[tuple[int, int]]:
    """The uint8 band (lo, hi) of each class: disjoint, in order, covering 0..255."""
    edges = [math.ceil(c * 255 / k) for c in range(k)] + [256]
    return [(edges[c], edges[c + 1] - 1) for c in range(k)]


def shade_of(p: torch.Tensor, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(shade, class) uint8 grids from probabilities [r, r, k].

    class = argmax. shade encodes the class and the confidence in one byte for one colour scale:
    ``lo + s * (hi - lo)`` inside the class's band (``class_bands``), s in [0, 1] the confidence above
    chance (see ``canvas.shade_colorscale``: white at lo, the class colour at hi).
    """
    k = max(int(n_classes), p.shape[-1], 2)
    conf, cls = p.max(-1)
    s = ((conf - 1.0 / k) / (1 - 1.0 / k)).clamp(0, 1)
    bands = torch.tensor(class_bands(k), dtype=torch.float32)
    lo, hi = bands[cls, 0], bands[cls, 1]
    shade = (lo + s * (hi - lo)).round()
    return shade.to(torch.uint8).numpy(), cls.to(torch.uint8).numpy()


def encode(model: nn.Module, spec: GridSpec, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(shade, class) uint8 grids of ``model`` on ``spec`` (see ``shade_of``)."""
    return shade_of(probabilities(model, spec), n_classes)


#: Retrains must agree this much (share of the K) before a cell counts as "disagrees with retrain".
AGREE = 0.8

#: Values of the disagreement grid (``Layers.disagreement``).
AGREES, DISAGREES, RETRAINS_SPLIT = 0, 1, 2


@dataclass
class RetrainBand:
    """K models retrained from scratch with K seeds, as a band on the grid and on the forget points.

    ``shares[i, j, c]``: the share of the K retrains that predict class c in cell (i, j).
    ``conf_lo`` / ``conf_hi``: for each forget point (``ids``), the lowest and highest confidence the
    K retrains give its own class. ``seconds``: training the K retrains (batched), evaluation excluded.
    """
    shares: np.ndarray
    ids: np.ndarray
    conf_lo: np.ndarray
    conf_hi: np.ndarray
    k_models: int
    seconds: float = 0.0

    def majority(self) -> np.ndarray:
        """uint8 [r, r]: the class most retrains predict (ties: the lowest class id)."""
        return self.shares.argmax(-1).astype(np.uint8)

    def agreed(self, threshold: float = AGREE) -> np.ndarray:
        """bool [r, r]: cells where at least ``threshold`` of the retrains predict the same class."""
        return self.shares.max(-1) >= threshold - 1e-9

    def in_range(self, conf: np.ndarray) -> np.ndarray:
        """bool per forget point: ``conf`` (a model's confidence in the point's own class) lies within the
        retrains' min..max."""
        conf = np.asarray(conf, np.float64)
        return (conf >= self.conf_lo - 1e-6) & (conf <= self.conf_hi + 1e-6)


def class_shares(cls_grids: np.ndarray, n_classes: int) -> np.ndarray:
    """float32 [r, r, k] from K class grids [K, r, r]: per cell, the share of grids predicting each class."""
    cls_grids = np.asarray(cls_grids, np.int64)
    k = max(int(n_classes), int(cls_grids.max()) + 1 if cls_grids.size else 0, 2)
    onehot = np.eye(k, dtype=np.float32)[cls_grids]  # [K, r, r, k]
    return onehot.mean(0)


@dataclass
class Layers:
    """What the canvas shows, as uint8 grids (see ``shade_of``): the model's shade and class, and the
    class grid of the model to compare with (the retrained "ghost", or the K retrains' majority), if any.
    ``ghost_agreed`` (bool [r, r], optional): where the K retrains agree among themselves (``AGREE``)."""
    shade: np.ndarray
    cls: np.ndarray
    ghost_cls: np.ndarray | None = None
    ghost_agreed: np.ndarray | None = None

    def disagreement(self) -> np.ndarray:
        """uint8: ``DISAGREES`` where the model and the ghost differ, ``AGREES`` where they match, and, with a
        band, ``RETRAINS_SPLIT`` where the retrains themselves disagree (not the method's fault)."""
        if self.ghost_cls is None:  # nothing to compare with: one transparent cell keeps the payload small
            return np.zeros((1, 1), np.uint8)
        d = (self.cls != self.ghost_cls).astype(np.uint8)
        if self.ghost_agreed is not None:
            d = np.where(self.ghost_agreed, d, RETRAINS_SPLIT).astype(np.uint8)
        return d


def band_layers(shade: np.ndarray, cls: np.ndarray, band: RetrainBand | None, threshold: float = AGREE) -> Layers:
    """Layers of one model's grids against the retrain band (its majority as the ghost)."""
    if band is None:
        return Layers(shade, cls)
    return Layers(shade, cls, band.majority(), band.agreed(threshold))


def disagreement_shares(layers: Layers) -> dict:
    """Shares of the grid's cells: ``disagrees`` (counted against the method), ``retrains_split``."""
    d = layers.disagreement()
    return {"disagrees": float((d == DISAGREES).mean()), "retrains_split": float((d == RETRAINS_SPLIT).mean())}


def layers_for(model: nn.Module, spec: GridSpec, n_classes: int, ghost: nn.Module | None = None) -> Layers:
    """The canvas layers of ``model`` (and the class grid of ``ghost``, when given) on ``spec``."""
    shade, cls = encode(model, spec, n_classes)
    return Layers(shade, cls, encode(ghost, spec, n_classes)[1] if ghost is not None else None)


def empty_layers() -> Layers:
    """Layers of a canvas without a model (one blank cell)."""
    return Layers(np.zeros((1, 1), np.uint8), np.zeros((1, 1), np.uint8))
