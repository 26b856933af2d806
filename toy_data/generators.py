"""Synthetic 2-D classification datasets and a reproducible train/test split.

Everything here is numpy-only and deterministic for a given ``seed``: all
randomness comes from one ``np.random.default_rng(seed)`` per call, never from
numpy's global random state.

Conventions shared by every generator
-------------------------------------
* ``X`` is ``np.float32`` with shape ``[n_samples, 2]``; the columns are the two
  feature coordinates in arbitrary "plot units" (roughly within [-3, 3], blobs
  a little wider).
* ``y`` is ``np.int64`` with shape ``[n_samples]`` and labels ``0 .. k-1``.
* Classes are balanced: every class gets ``n_samples // k`` or
  ``n_samples // k + 1`` points (the first ``n_samples % k`` classes get the
  extra point).
* ``noise`` is the standard deviation of isotropic gaussian jitter added to the
  point positions, in the same units as ``X`` (for blobs it is the cluster
  standard deviation).
* Rows are shuffled with the same generator, so classes are interleaved but the
  order is reproducible.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

__all__ = [
    "DATASETS",
    "DATASET_INFO",
    "DatasetInfo",
    "MAX_SAMPLES",
    "dataset_info",
    "make_blobs",
    "make_circles",
    "make_dataset",
    "make_gaussian_quantiles",
    "make_moons",
    "make_spirals",
    "make_xor",
    "train_test_split",
]

#: Largest ``n_samples`` accepted by :func:`make_dataset`.
MAX_SAMPLES = 50_000


# --------------------------------------------------------------------------
# Dataset metadata
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """Static description of one dataset, e.g. for building UI controls.

    Attributes
    ----------
    name : str
        Key in :data:`DATASETS`.
    description : str
        One-line human readable description.
    takes_classes : bool
        Whether the ``classes`` argument may be something other than 2.
    min_classes, max_classes, default_classes : int
        Allowed range and default for ``classes`` (all 2 for fixed datasets).
    default_noise : float
        Noise used when ``noise=None`` (std of gaussian jitter, in X units).
    max_noise : float
        Suggested upper end of a noise slider (larger values are accepted).
    """

    name: str
    description: str
    takes_classes: bool
    min_classes: int
    max_classes: int
    default_classes: int
    default_noise: float
    max_noise: float


def _fixed(name: str, description: str, noise: float, max_noise: float) -> DatasetInfo:
    return DatasetInfo(name, description, False, 2, 2, 2, noise, max_noise)


def _variable(
    name: str, description: str, default_classes: int, noise: float, max_noise: float
) -> DatasetInfo:
    return DatasetInfo(name, description, True, 2, 8, default_classes, noise, max_noise)


#: Metadata for every dataset, keyed by name (same keys as :data:`DATASETS`).
DATASET_INFO: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        _fixed("moons", "Two interleaving half circles.", 0.2, 1.0),
        _fixed("circles", "Two concentric circles (radius 1 and 0.5).", 0.1, 0.5),
        _variable("blobs", "Isotropic gaussian blobs around a circle.", 3, 1.0, 3.0),
        _variable("spirals", "Interleaved spiral arms.", 3, 0.15, 1.0),
        _fixed("xor", "Four quadrants, label = sign(x) XOR sign(y).", 0.15, 1.0),
        _variable(
            "gaussian_quantiles",
            "One gaussian cut into concentric shells of equal size.",
            3,
            0.1,
            1.0,
        ),
    )
}


def _valid_names() -> str:
    return ", ".join(repr(name) for name in DATASET_INFO)


def dataset_info(name: str) -> DatasetInfo:
    """Return the :class:`DatasetInfo` for ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not one of the dataset names.
    """
    if not isinstance(name, str) or name not in DATASET_INFO:
        raise ValueError(f"Unknown dataset {name!r}. Valid names are: {_valid_names()}.")
    return DATASET_INFO[name]


# --------------------------------------------------------------------------
# Argument validation helpers
# --------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_int_range(value: object, arg: str, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        raise ValueError(f"{arg} must be an integer between {low} and {high}, got {value!r}.")
    return int(value)


def _resolve_classes(info: DatasetInfo, classes: object) -> int:
    if classes is None:
        return info.default_classes
    if not info.takes_classes:
        if _is_int(classes) and classes == 2:
            return 2
        accepting = ", ".join(repr(i.name) for i in DATASET_INFO.values() if i.takes_classes)
        raise ValueError(
            f"Dataset {info.name!r} always has 2 classes, got classes={classes!r}. "
            f"Only these datasets accept other values of `classes`: {accepting}."
        )
    return _check_int_range(classes, "classes", info.min_classes, info.max_classes)


def _resolve_noise(info: DatasetInfo, noise: object) -> float:
    if noise is None:
        return info.default_noise
    if not _is_real(noise) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}.")
    return float(noise)


def _check_seed(seed: object) -> int:
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    return int(seed)


def _class_counts(n_samples: int, n_classes: int) -> list[int]:
    """Balanced class sizes: the first ``n % k`` classes get one extra point."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (1 if c < extra else 0) for c in range(n_classes)]


def _labels(counts: list[int]) -> np.ndarray:
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _polar(radius: np.ndarray, angle: np.ndarray) -> np.ndarray:
    return np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])


# --------------------------------------------------------------------------
# Noise-free shapes. Each takes the per-class counts and the generator and
# returns float64 points of shape [sum(counts), 2], ordered class by class.
# Positional noise is added afterwards by make_dataset (except blobs, whose
# noise *is* the cluster spread).
# --------------------------------------------------------------------------


def _moons(counts: list[int], rng: np.random.Generator, noise: float) -> np.ndarray:
    """Upper half circle centred at (0, 0) and lower one centred at (1, 0.5), as sklearn."""
    outer = np.linspace(0.0, np.pi, counts[0])
    inner = np.linspace(0.0, np.pi, counts[1])
    upper = np.column_stack([np.cos(outer), np.sin(outer)])
    lower = np.column_stack([1.0 - np.cos(inner), 0.5 - np.sin(inner)])
    return np.vstack([upper, lower])


def _circles(counts: list[int], rng: np.random.Generator, noise: float) -> np.ndarray:
    """Outer circle of radius 1 (class 0) around an inner one of radius 0.5 (class 1)."""
    parts = []
    for count, radius in zip(counts, (1.0, 0.5)):
        angle = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)
        parts.append(_polar(np.full(count, radius), angle))
    return np.vstack(parts)


def _blob_centres(n_classes: int) -> np.ndarray:
    """Centres evenly spaced on a circle, far enough apart that neighbours are ~4 apart."""
    radius = max(2.5, 2.0 / math.sin(math.pi / n_classes))
    angle = np.pi / 2 + 2.0 * np.pi * np.arange(n_classes) / n_classes
    return _polar(np.full(n_classes, radius), angle)


def _blobs(counts: list[int], rng: np.random.Generator, noise: float) -> np.ndarray:
    """Gaussian clusters with standard deviation ``noise`` around fixed centres."""
    centres = _blob_centres(len(counts))
    parts = [centre + rng.normal(0.0, noise, size=(count, 2)) for centre, count in zip(centres, counts)]
    return np.vstack(parts)


def _spirals(counts: list[int], rng: np.random.Generator, noise: float) -> np.ndarray:
    """k arms growing from the origin to radius 2, rotated 2*pi/k apart.

    Fewer turns for many arms keeps the radial gap between neighbouring arms
    at 2 / (k * turns) >= 0.5 for k <= 4.
    """
    n_classes = len(counts)
    turns = max(0.5, 2.0 / n_classes)
    parts = []
    for arm, count in enumerate(counts):
        t = np.linspace(0.0, 1.0, count)
        angle = 2.0 * np.pi * (arm / n_classes + turns * t)
        parts.append(_polar(2.0 * t, angle))
    return np.vstack(parts)


def _xor(counts: list[int], rng: np.random.Generator, noise: float) -> np.ndarray:
    """Uniform points in [-1, 1]^2 (kept 0.1 off the axes); class 1 = x and y signs differ."""
    parts = []
    for label, count in enumerate(counts):
        magnitude = rng.uniform(0.1, 1.0, size=(count, 2))
        sign_x = rng.choice([-1.0, 1.0], size=count)
        sign_y = sign_x if label == 0 else -sign_x
        parts.append(magnitude * np.column_stack([sign_x, sign_y]))
    return np.vstack(parts)


def _gaussian_quantiles(counts: list[int], rng: np.random.Generator, noise: float) -> np.ndarray:
    """Standard 2-D gaussian sorted by radius: class 0 is the innermost shell."""
    points = rng.normal(0.0, 1.0, size=(sum(counts), 2))
    order = np.argsort(np.einsum("ij,ij->i", points, points), kind="stable")
    return points[order]


_SHAPES: dict[str, Callable[[list[int], np.random.Generator, float], np.ndarray]] = {
    "moons": _moons,
    "circles": _circles,
    "blobs": _blobs,
    "spirals": _spirals,
    "xor": _xor,
    "gaussian_quantiles": _gaussian_quantiles,
}


# --------------------------------------------------------------------------
# Public generators
# --------------------------------------------------------------------------


def make_dataset(
    name: str,
    n_samples: int = 600,
    noise: float | None = None,
    seed: int = 0,
    classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate one of the toy datasets.

    Parameters
    ----------
    name : str
        One of ``"moons"``, ``"circles"``, ``"blobs"``, ``"spirals"``, ``"xor"``,
        ``"gaussian_quantiles"``.
    n_samples : int, default 600
        Number of points, between ``2 * classes`` and :data:`MAX_SAMPLES`.
    noise : float or None, default None
        Standard deviation of the gaussian jitter (cluster std for blobs), in
        X units. ``None`` uses ``dataset_info(name).default_noise``.
    seed : int, default 0
        Seed for ``np.random.default_rng``; same seed, same output.
    classes : int or None, default None
        Number of classes (2..8) for blobs, spirals and gaussian_quantiles;
        ``None`` uses the dataset's default. The other datasets only accept
        ``None`` or 2.

    Returns
    -------
    X : np.ndarray of float32, shape [n_samples, 2]
    y : np.ndarray of int64, shape [n_samples], labels 0..classes-1,
        balanced to within one point per class, rows shuffled.

    Raises
    ------
    ValueError
        On an unknown name or an out-of-range argument.
    """
    info = dataset_info(name)
    n_classes = _resolve_classes(info, classes)
    n_samples = _check_int_range(n_samples, "n_samples", 2 * n_classes, MAX_SAMPLES)
    noise = _resolve_noise(info, noise)
    rng = np.random.default_rng(_check_seed(seed))

    counts = _class_counts(n_samples, n_classes)
    X = _SHAPES[name](counts, rng, noise)
    if name != "blobs":
        X = X + rng.normal(0.0, noise, size=X.shape)
    y = _labels(counts)

    order = rng.permutation(n_samples)
    return X[order].astype(np.float32), y[order]


def make_moons(n_samples=600, noise=None, seed=0, classes=None):
    """Two interleaving half circles (2 classes). See :func:`make_dataset`."""
    return make_dataset("moons", n_samples, noise, seed, classes)


def make_circles(n_samples=600, noise=None, seed=0, classes=None):
    """Two concentric circles, radius 1 (class 0) and 0.5 (class 1). See :func:`make_dataset`."""
    return make_dataset("circles", n_samples, noise, seed, classes)


def make_blobs(n_samples=600, noise=None, seed=0, classes=None):
    """k gaussian blobs (2..8, default 3); noise is the cluster std. See :func:`make_dataset`."""
    return make_dataset("blobs", n_samples, noise, seed, classes)


def make_spirals(n_samples=600, noise=None, seed=0, classes=None):
    """k interleaved spiral arms (2..8, default 3). See :func:`make_dataset`."""
    return make_dataset("spirals", n_samples, noise, seed, classes)


def make_xor(n_samples=600, noise=None, seed=0, classes=None):
    """Quadrant XOR pattern in [-1, 1]^2 (2 classes). See :func:`make_dataset`."""
    return make_dataset("xor", n_samples, noise, seed, classes)


def make_gaussian_quantiles(n_samples=600, noise=None, seed=0, classes=None):
    """Concentric equal-size shells of one gaussian (2..8, default 3). See :func:`make_dataset`."""
    return make_dataset("gaussian_quantiles", n_samples, noise, seed, classes)


#: Dataset name -> generator ``f(n_samples=600, noise=None, seed=0, classes=None) -> (X, y)``.
DATASETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "moons": make_moons,
    "circles": make_circles,
    "blobs": make_blobs,
    "spirals": make_spirals,
    "xor": make_xor,
    "gaussian_quantiles": make_gaussian_quantiles,
}


# --------------------------------------------------------------------------
# Train / test split
# --------------------------------------------------------------------------


def _check_keep_in_train(keep_in_train: Iterable[int] | None, n: int) -> np.ndarray:
    """Return a boolean mask of rows forced into the training split."""
    keep = np.zeros(n, dtype=bool)
    if keep_in_train is None:
        return keep
    try:
        indices = np.asarray(
            keep_in_train if isinstance(keep_in_train, np.ndarray) else list(keep_in_train)
        )
    except (TypeError, ValueError):
        raise ValueError(
            f"keep_in_train must be an iterable of integer row indices, got {keep_in_train!r}."
        ) from None
    if indices.size == 0:
        return keep
    if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(
            "keep_in_train must be a flat sequence of integer row indices, "
            f"got an array of dtype {indices.dtype} and shape {indices.shape}."
        )
    bad = indices[(indices < 0) | (indices >= n)]
    if bad.size:
        raise ValueError(
            f"keep_in_train contains index {int(bad[0])}, which is out of range for "
            f"{n} rows (valid: 0..{n - 1})."
        )
    keep[indices] = True
    return keep


def _stratified_test_counts(
    class_sizes: np.ndarray, test_size: float, n_test: int, rng: np.random.Generator
) -> np.ndarray:
    """Per-class test counts: floor or ceil of ``test_size * size``, summing to ``n_test``.

    Largest-remainder rounding; ties between equal remainders are broken by
    ``rng`` so no class is systematically favoured.
    """
    quota = test_size * class_sizes
    counts = np.floor(quota).astype(np.int64)
    remainder = quota - counts
    extra = int(min(max(n_test - counts.sum(), 0), np.count_nonzero(remainder > 0)))
    tie_break = rng.permutation(len(class_sizes))
    by_remainder = tie_break[np.argsort(-remainder[tie_break], kind="stable")]
    counts[by_remainder[:extra]] += 1
    return counts


def train_test_split(
    X,
    y,
    test_size: float = 0.25,
    seed: int = 0,
    stratify: bool = True,
    keep_in_train: Iterable[int] | None = None,
):
    """Split rows into reproducible train and test parts.

    Parameters
    ----------
    X : array-like, shape [n, ...]
        Features; only its length is used for the split.
    y : array-like, shape [n]
        Class labels (any hashable values numpy can compare).
    test_size : float in (0, 1), default 0.25
        Target fraction of rows in the test split; the test split has
        ``round(test_size * n)`` rows (at least 1), fewer only if classes or
        ``keep_in_train`` leave too few candidates.
    seed : int, default 0
        Seed for ``np.random.default_rng``.
    stratify : bool, default True
        If true, each class contributes ``floor`` or ``ceil`` of
        ``test_size * class_size`` test rows.
    keep_in_train : iterable of int, optional
        Row indices into ``X`` that must be in the training split (e.g. to
        replay a forget-set selection made on the training rows).

    Every class always keeps at least one training row.

    Returns
    -------
    X_train, X_test, y_train, y_test : np.ndarray
        Rows of ``X`` / ``y`` (same dtypes), in dataset order.
    train_idx, test_idx : np.ndarray of int64
        Sorted row indices into ``X``; disjoint, together covering all rows.

    Raises
    ------
    ValueError
        On mismatched lengths, fewer than 2 rows, ``test_size`` outside (0, 1),
        bad ``keep_in_train`` indices, or when no row can go to the test split.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim == 0 or y.ndim != 1:
        raise ValueError(
            f"X must be an array with one row per sample and y a 1-D label array; "
            f"got X with shape {X.shape} and y with shape {y.shape}."
        )
    n = len(y)
    if len(X) != n:
        raise ValueError(f"X and y must have the same number of rows, got {len(X)} and {n}.")
    if n < 2:
        raise ValueError(f"Need at least 2 rows to split, got {n}.")
    if not _is_real(test_size) or not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be a number strictly between 0 and 1, got {test_size!r}.")
    rng = np.random.default_rng(_check_seed(seed))
    keep = _check_keep_in_train(keep_in_train, n)

    classes, y_codes = np.unique(y, return_inverse=True)
    y_codes = y_codes.reshape(-1)
    class_sizes = np.bincount(y_codes, minlength=len(classes))
    n_test = int(min(max(1, round(test_size * n)), n - 1))

    # Rows that may go to the test split, one permuted list per class. A class
    # with no forced training row reserves one (random) row for training.
    candidates = []
    for code in range(len(classes)):
        rows = rng.permutation(np.flatnonzero(y_codes == code))
        if not keep[rows].any():
            rows = rows[1:]
        candidates.append(rows[~keep[rows]])

    if stratify:
        wanted = _stratified_test_counts(class_sizes, float(test_size), n_test, rng)
        chosen = [rows[:count] for rows, count in zip(candidates, wanted)]
        test_idx = np.concatenate(chosen)
    else:
        pool = rng.permutation(np.concatenate(candidates))
        test_idx = pool[:n_test]

    if test_idx.size == 0:
        raise ValueError(
            "The test split would be empty: every row is either in keep_in_train or is the "
            "last training row of its class. Use a larger test_size or keep fewer rows."
        )
    test_idx = np.sort(test_idx).astype(np.int64)
    is_test = np.zeros(n, dtype=bool)
    is_test[test_idx] = True
    train_idx = np.flatnonzero(~is_test).astype(np.int64)
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx], train_idx, test_idx
