"""Models: the 2-D MLP (with built-in input standardisation) and a small CNN for 8x8 digits.

Both are plain ``torch.nn.Module`` classifiers returning logits. Nothing here is special to the
unlearning methods: ``unlearn`` accepts any classifier. The one optional protocol a model may
offer is ``input_scale()``: a tensor broadcastable to one input, giving the scale in which JiT's
``sigma`` is measured (the MLP returns its per-feature standard deviation, so ``sigma`` means the
same thing on every dataset), with ``input_center()`` (the per-feature mean) beside it.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


class Standardize(nn.Module):
    """``(x - mean) / std`` with buffers, so the statistics travel with ``state_dict``.

    The statistics start unset (mean 0, std 1, ``ready`` False); ``fit`` sets them from the
    training inputs the first time it trains the model (``set_stats``).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def set_stats(self, X: torch.Tensor) -> None:
        X = X.to(self.mean.device, torch.float32).reshape(len(X), -1)
        self.mean.copy_(X.mean(0))
        # A constant feature gets std 1 rather than a division by zero.
        std = X.std(0, unbiased=False)
        self.std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))
        self.ready.fill_(True)

    def reset_parameters(self) -> None:  # called by a full re-initialisation
        self.mean.zero_()
        self.std.fill_(1.0)
        self.ready.fill_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    """Fully connected classifier for 2-D points (or any flat input).

    ``MLP(in_dim=2, n_classes=2, hidden=(64, 64), activation="relu")``: input [B, in_dim],
    output logits [B, n_classes]. The first stage standardises the inputs with statistics taken
    from the training data by ``fit``.
    """

    def __init__(self, in_dim: int = 2, n_classes: int = 2, hidden: Sequence[int] = (64, 64),
                 activation: str = "relu", seed: int | None = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        hidden = tuple(int(h) for h in hidden)
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden layer widths must be positive, got {hidden}")
        self.config = dict(in_dim=int(in_dim), n_classes=int(n_classes), hidden=hidden, activation=activation)
        self.standardize = Standardize(in_dim)
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
            width = h
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)
        if seed is not None:
            reinitialize(self, seed)

    def input_scale(self) -> torch.Tensor:
        return self.standardize.std

    def input_center(self) -> torch.Tensor:
        return self.standardize.mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.standardize(x))


class SmallCNN(nn.Module):
    """A small CNN for 1x8x8 images (sklearn's digits): two 3x3 convs, pooling, a linear head."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, width: int = 32, seed: int | None = None):
        super().__init__()
        self.config = dict(in_channels=in_channels, n_classes=n_classes, width=width)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * width, n_classes)
        if seed is not None:
            reinitialize(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def reinitialize(model: nn.Module, seed: int) -> nn.Module:
    """Re-initialise *every* parameter of ``model`` in place (recursively), deterministically.

    Calls ``reset_parameters`` on every submodule that has one, under a forked RNG seeded with
    ``seed``, so the global RNG is left as it was. (The authors' "retrain" reset only the
    top-level children, i.e. the head; this resets the backbone too.) Raises if a submodule owns
    parameters but offers no way to reset them, rather than silently keeping trained weights.
    """
    devices = [p.device for p in model.parameters() if p.device.type == "cuda"]
    with torch.random.fork_rng(devices=sorted({d.index or 0 for d in devices}) if devices else []):
        torch.manual_seed(int(seed))
        for name, module in model.named_modules():
            own = list(module.parameters(recurse=False))
            reset = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters", None)
            if callable(reset):
                reset()
            elif own:
                raise TypeError(
                    f"cannot re-initialise submodule {name or type(module).__name__!r}: it has parameters "
                    "but no reset_parameters(); add one so that retraining starts from scratch")
    return model


def input_scale(model: nn.Module) -> torch.Tensor | None:
    """The model's declared input scale (see the module docstring), or None."""
    fn = getattr(model, "input_scale", None)
    return fn() if callable(fn) else None


def input_center(model: nn.Module) -> torch.Tensor | None:
    """The model's declared input centre (see the module docstring), or None."""
    fn = getattr(model, "input_center", None)
    return fn() if callable(fn) else None
