"""Pieces the method files share: the step recorder, seeded randomness, frozen copies, input space.

The contract of a method's ``run(model, forget, retain, on_step, **hp)`` (see ``registry.py``):
``model`` is a classifier (logits [B, C], any input shape) already deep-copied and on the device,
changed in place and left in eval mode; ``forget = (Xf, yf)`` and ``retain = (Xr, yr)`` are
tensors on the model's device, already validated by ``unlearn`` (``retain`` is None for the
zero-shot methods); ``on_step(step, loss, model)`` (or None) runs after every optimiser step *of
the model*; the return value is the list of detached per-step loss tensors. Learned noise and
generator updates are not model steps and are not reported.

Randomness comes only from ``torch.Generator`` objects seeded from ``seed`` (``seeded_generator``):
shuffles, noise, re-initialisation (``models.reinitialize``) and the construction of helper modules
(``seed=``). A method that runs the model in train mode does it inside ``models.dropout_rng`` with a
seed of its own (``method_dropout``), so the library's ``Dropout`` layers draw seeded masks. Nothing
seeds or draws from torch's process-wide generator: app sessions are threads of one process, and the
same seed must give the same result whatever the other threads do.

Input space. Inputs reach the model already normalised. Synthetic inputs (UNSIR/EMMN noise,
GKT's generator) are built as ``center + scale * u`` with ``u`` the learned tensor or the
generator output, where ``center``/``scale`` are the model's ``input_center()`` /
``input_scale()`` when it declares them (the 2-D MLP standardises inside, so ``u`` lives in its
standardised space) and 0 / 1 otherwise. Nothing is clamped.
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

from unlearn_core.models import Standardize, dropout_rng, input_center, input_scale, reinitialize, stream_seed

OnStep = Callable[[int, float, nn.Module], None] | None


class Steps:
    """Collects the detached loss of every model step, numbers the steps 1, 2, ... across phases
    and forwards each to ``on_step(step, loss, model)``. ``hook`` adapts it to ``train_loop``'s
    ``on_step(step, loss)``."""

    def __init__(self, on_step: OnStep, model: nn.Module):
        self.losses: list[torch.Tensor] = []
        self.on_step = on_step
        self.model = model

    def __call__(self, loss: torch.Tensor) -> None:
        loss = loss.detach()
        self.losses.append(loss)
        if self.on_step is not None:
            self.on_step(len(self.losses), float(loss), self.model)

    def hook(self, step: int, loss: torch.Tensor) -> None:
        self(loss)


def method_dropout(seed: int):
    """The ``dropout_rng`` block a method runs its train-mode forwards in (its own stream of ``seed``)."""
    return dropout_rng(stream_seed(seed, 7919))


def device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    raise ValueError("the model has no parameters to unlearn")


def seeded_generator(seed: int, offset: int) -> torch.Generator:
    """A CPU generator for one use inside a method (``offset`` keeps the uses apart)."""
    return torch.Generator().manual_seed(int(seed) * 1000 + offset)


def frozen_copy(model: nn.Module) -> nn.Module:
    teacher = copy.deepcopy(model).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def reinitialize_keeping_input_stats(model: nn.Module, seed: int) -> nn.Module:
    """``reinitialize(model, seed)``, then restore the statistics of every ``Standardize`` stage
    (input preprocessing, not learned weights: a fresh model still sees inputs the same way)."""
    saved = {name: copy.deepcopy(m.state_dict()) for name, m in model.named_modules() if isinstance(m, Standardize)}
    reinitialize(model, seed)
    for name, m in model.named_modules():
        if name in saved:
            m.load_state_dict(saved[name])
    return model


def input_affine(model: nn.Module, shape: tuple[int, ...], device: torch.device):
    """(center, scale) broadcastable to one input: the model's declared input statistics, or None (0, 1)."""
    center, scale = input_center(model), input_scale(model)
    if center is None or scale is None or center.numel() != math.prod(shape) or scale.numel() != math.prod(shape):
        return None
    return center.detach().to(device).reshape(shape), scale.detach().to(device).reshape(shape)


def to_inputs(u: torch.Tensor, affine) -> torch.Tensor:
    """Model inputs ``center + scale * u`` (``u`` itself when the model declares no statistics)."""
    if affine is None:
        return u
    center, scale = affine
    return center + scale * u


def kl(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at a temperature, summed over classes, averaged over the batch."""
    return F.kl_div(F.log_softmax(student_logits / temperature, dim=1), teacher_probs, reduction="batchmean")


def optimiser_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params, max_grad_norm: float | None) -> None:
    """zero_grad, backward, optional gradient clipping, step."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(params, max_grad_norm)
    opt.step()

