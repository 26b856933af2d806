"""Turning what callers pass (numpy arrays, tensors, lists) into tensors, with clear errors."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """"auto" (or None) -> CUDA when available, else CPU; "cuda" without a GPU is a clear error."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use device='cpu' or 'auto'")
    return dev


def as_tensor(a: Any, *, dtype: torch.dtype, name: str) -> torch.Tensor:
    if isinstance(a, torch.Tensor):
        t = a.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(a))
        except Exception as err:  # ragged lists, objects
            raise ValueError(f"{name} could not be converted to an array: {err}") from None
    if dtype.is_floating_point:
        if not (t.dtype.is_floating_point or t.dtype in (torch.int64, torch.int32, torch.uint8)):
            raise ValueError(f"{name} must be numeric, got dtype {t.dtype}")
        t = t.to(dtype)
        if t.numel() and not torch.isfinite(t).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    else:
        if t.dtype.is_floating_point:
            if t.numel() and not torch.equal(t, t.round()):
                raise ValueError(f"{name} must hold integer class labels, got non-integer values")
        t = t.to(dtype)
    return t


def as_xy(pair: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate an (X, y) pair: X float [n, ...], y int64 [n] with n matching."""
    if pair is None:
        raise ValueError(f"{name} is required")
    try:
        X, y = pair
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an (X, y) pair of arrays or tensors") from None
    X = as_tensor(X, dtype=torch.float32, name=f"{name} X")
    y = as_tensor(y, dtype=torch.int64, name=f"{name} y")
    if X.ndim < 2:
        raise ValueError(f"{name} X must have shape [n, ...] with one row per sample, got shape {tuple(X.shape)}")
    if y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"{name} y must have shape [{len(X)}] to match X, got {tuple(y.shape)}")
    if len(y) and y.min() < 0:
        raise ValueError(f"{name} y holds negative labels; labels must be 0..n_classes-1")
    return X, y


def require_forget(forget: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The forget set as validated tensors; an empty one is an error (the one place that says so)."""
    Xf, yf = as_xy(forget, "forget")
    if len(Xf) == 0:
        raise ValueError("the forget set is empty; select at least one point to forget")
    return Xf, yf
