"""A sequential copy of this project's JiT defaults, one forward per perturbation, for tests and the speed benchmark.

It is *not* the authors' loop (tests/test_jit.py holds a literal transcription of that, checked against
``jit(..., reproduce_authors=True)``): it zeroes the gradients every step, averages over the batch, runs
in eval mode and scales the noise by the model's input scale, as ``unlearn_core.methods.jit.jit`` does
by default with ``normalize_step="off"``. N separate forward passes per batch, noise drawn on the CPU
and copied to the model's device, a Python loop over the perturbations. It computes the same loss as
``jit_loss`` for the same noise (a test checks this); ``jit`` is the fast one to use.
"""
from __future__ import annotations

import torch
from torch import nn

from unlearn_core.methods.jit import scale_for


def jit_loss_sequential(model: nn.Module, x: torch.Tensor, noise: torch.Tensor, *, scale=None,
                        reduction: str = "mean") -> torch.Tensor:
    """The JiT loss with one forward per perturbation; noise [N, B, ...] in scaled units."""
    out = model(x)
    total = 0.0
    for j in range(noise.shape[0]):
        with torch.no_grad():
            step = noise[j] if scale is None else noise[j] * scale
            out_p = model(x + step)
        ratio = (out - out_p).norm(dim=1) / noise[j].flatten(1).norm(dim=1)
        total = total + (ratio.sum() if reduction == "sum" else ratio.mean())
    return total / noise.shape[0]


def jit_sequential(model: nn.Module, X: torch.Tensor, *, sigma: float, n_samples: int, lr: float,
                   batch_size: int = 1, epochs: int = 1, seed: int = 0, reduction: str = "mean") -> list[float]:
    """JiT with plain SGD and per-step zero_grad, one forward per perturbation, CPU noise."""
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    scale = scale_for(model, X)
    model.eval()
    losses = []
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            x = X[start:start + batch_size]
            noise = (torch.randn((n_samples, *x.shape), generator=gen) * sigma).to(x.device)
            opt.zero_grad()
            loss = jit_loss_sequential(model, x, noise, scale=scale, reduction=reduction)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses
