"""Choosing what to forget on 2-D data: the settings of the CLI and of the default-picking sweep.

All functions take training points X [n, 2] (numpy) and labels y [n] and return sorted int64
row indices into them. Distances (radius) are measured in standardised units (each feature
divided by its standard deviation over X), like JiT's sigma for the project's MLP.
"""
from __future__ import annotations

import numpy as np

SETTINGS = ("full_class", "random", "region", "indices", "high_info")


def _standardise(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    std = X.std(0)
    return (X - X.mean(0)) / np.where(std > 1e-12, std, 1.0)


def information(X, y, radius: float = 0.3) -> np.ndarray:
    """The paper's alpha(x): the share of x's neighbours within ``radius`` that share its class.

    The point itself is not counted. A point with no neighbour within the radius gets NaN (its
    class cannot be inferred from neighbours, nor contradicted). Low alpha = high information.
    """
    Z = _standardise(X)
    y = np.asarray(y)
    d2 = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    near = d2 <= float(radius) ** 2
    np.fill_diagonal(near, False)
    same = (near & (y[:, None] == y[None, :])).sum(1)
    count = near.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, same / np.maximum(count, 1), np.nan)


def full_class(y, cls: int) -> np.ndarray:
    y = np.asarray(y)
    if cls not in set(np.unique(y).tolist()):
        raise ValueError(f"class {cls} does not exist; the training labels are {sorted(np.unique(y).tolist())}")
    return np.flatnonzero(y == cls).astype(np.int64)


def random_points(n: int, count: int, seed: int = 0) -> np.ndarray:
    if not 1 <= int(count) <= n:
        raise ValueError(f"forget count must be between 1 and {n} (the training set size), got {count}")
    return np.sort(np.random.default_rng(seed).choice(n, int(count), replace=False)).astype(np.int64)


def region(X, box) -> np.ndarray:
    """Points inside the rectangle box = (x0, x1, y0, y1), edges included."""
    x0, x1, y0, y1 = (float(b) for b in box)
    if not (x0 <= x1 and y0 <= y1):
        raise ValueError(f"region must be X0 X1 Y0 Y1 with X0 <= X1 and Y0 <= Y1, got {box}")
    X = np.asarray(X)
    inside = (X[:, 0] >= x0) & (X[:, 0] <= x1) & (X[:, 1] >= y0) & (X[:, 1] <= y1)
    idx = np.flatnonzero(inside).astype(np.int64)
    if len(idx) == 0:
        lo, hi = X.min(0), X.max(0)
        raise ValueError(f"region {box} holds no training points; the data spans x {lo[0]:.2f}..{hi[0]:.2f}, "
                         f"y {lo[1]:.2f}..{hi[1]:.2f}")
    return idx


def auto_region(X, y, cls: int | None = None, share: float = 0.1, seed: int = 0) -> tuple[float, float, float, float]:
    """A square box holding about ``share`` of class ``cls``'s points, at the class's edge.

    The centre is a random one of the quarter of ``cls``'s points that lie closest to a point of
    another class (so the region touches the decision boundary, where forgetting it should move
    the boundary); the square grows (in standardised units) until it holds at least ``share`` of
    the class. ``cls`` None picks a class at random. Returns (x0, x1, y0, y1) in data units.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    cls = int(rng.choice(classes)) if cls is None else int(cls)
    members = np.flatnonzero(y == cls)
    if len(members) == 0:
        raise ValueError(f"class {cls} does not exist; the labels are {classes.tolist()}")
    Z = _standardise(X)
    others = Z[y != cls]
    if len(others):
        d_other = np.sqrt(((Z[members][:, None, :] - others[None, :, :]) ** 2).sum(-1)).min(1)
        edge = members[np.argsort(d_other, kind="stable")[:max(1, len(members) // 4)]]
    else:
        edge = members
    centre = Z[rng.choice(edge)]
    # Chebyshev distance (standardised) from the centre to each class member, sorted: the box's
    # half-width is the distance to the k-th nearest member.
    dist = np.sort(np.abs(Z[members] - centre).max(1))
    k = max(1, int(np.ceil(share * len(members))))
    half = dist[k - 1] + 1e-6
    mean, std = X.mean(0), np.where(X.std(0) > 1e-12, X.std(0), 1.0)
    lo = (centre - half) * std + mean
    hi = (centre + half) * std + mean
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def high_information(X, y, *, tau: float = 0.5, radius: float = 0.3, correct: np.ndarray | None = None,
                     max_count: int | None = 20) -> np.ndarray:
    """Points with alpha(x) < tau: their neighbours mostly belong to another class.

    ``correct`` (bool [n], optional): keep only the points the original model classifies
    correctly, i.e. the ones it memorised. Keeps at most ``max_count``, lowest alpha first.
    """
    alpha = information(X, y, radius)
    keep = np.nan_to_num(alpha, nan=1.0) < float(tau)
    if correct is not None:
        keep &= np.asarray(correct, dtype=bool)
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        raise ValueError(f"no training point has alpha < {tau} at radius {radius}"
                         + (" among those the model classifies correctly" if correct is not None else "")
                         + "; raise tau or the radius, or add noise to the data")
    if max_count is not None and len(idx) > max_count:
        idx = idx[np.argsort(alpha[idx], kind="stable")[:max_count]]
    return np.sort(idx).astype(np.int64)
