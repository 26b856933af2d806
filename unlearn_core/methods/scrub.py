"""SCRUB (Kurmanji et al. 2023, arXiv 2302.09880), as in the JiT authors' copy.

Move the student away from the original (teacher) on D_f, and keep it close and accurate on D_r.

Sources of the defaults: [code] = the authors' or the JiT authors' public code; [ours] = our choice.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn_core.methods.common import (Steps, device_of, frozen_copy, kl, method_dropout, optimiser_step,
                                         seeded_generator)
from unlearn_core.methods.spec import MethodSpec, Param
from unlearn_core.training import batches

TOY2D = dict(
    epochs=10,             # [ours] (JiT's copy: 3)
    msteps=5,              # [ours] max-epochs first (JiT's copy: 2)
    lr=0.01,               # [ours] SGD (JiT's copy: 5e-4)
    momentum=0.9,          # [code]
    weight_decay=5e-4,     # [code]
    temperature=4.0,       # [code] kd_T 4
    alpha=0.001,           # [code] JiT's full-class value (1 in their sub-class/random runs)
    gamma=0.99,            # [code] JiT's full-class value (5 in their sub-class/random runs)
    forget_batch_size=16,  # [ours] (SCRUB's CIFAR setup: 64)
    retain_batch_size=32,  # [ours] (SCRUB's CIFAR setup: 128)
    max_grad_norm=1.0,     # [code] JiT's copy clips at 1; meghdadk/SCRUB does not clip (None = off)
    seed=0,
)
#: The JiT authors' copy (CIFAR-scale models).
PAPER = dict(TOY2D, epochs=3, msteps=2, lr=5e-4, forget_batch_size=64, retain_batch_size=128)


def image_defaults(arch: str, setting: str) -> dict:
    """The JiT authors' runs (PAPER.md section 8): alpha / gamma 0.001 / 0.99 for full-class, 1 / 5 elsewhere."""
    base = TOY2D if arch == "smallcnn" else PAPER
    return dict(base, **(dict(alpha=0.001, gamma=0.99) if setting == "full_class" else dict(alpha=1.0, gamma=5.0)))


PARAMS = {
    "epochs": Param("int", "Epochs (each a min-epoch over D_r, preceded by a max-epoch over D_f while epoch <= msteps).",
                    low=0, label="Epochs", widget=(0, 50, 1)),
    "msteps": Param("int", "How many of the first epochs also take a max-epoch over D_f.", low=0, label="Max epochs",
                    widget=(0, 50, 1)),
    "lr": Param("float", "SGD learning rate.", low=0, low_open=True, label="Learning rate", widget=(1e-5, 0.1, 1e-5)),
    "momentum": Param("float", "SGD momentum.", low=0),
    "weight_decay": Param("float", "SGD weight decay.", low=0),
    "temperature": Param("float", "Distillation temperature T (the KL is scaled by T²).", low=0, low_open=True,
                         label="KL temperature", widget=(0.5, 10.0, 0.5)),
    "alpha": Param("float", "Weight of the KL to the original on D_r.", low=0, label="α (KL on retain)",
                   widget=(0.0, 10.0, 0.001)),
    "gamma": Param("float", "Weight of the cross-entropy on D_r.", low=0, label="γ (CE on retain)",
                   widget=(0.0, 10.0, 0.01)),
    "forget_batch_size": Param("int", "Forget points per max-step.", low=1, label="Forget batch", widget=(1, 256, 1)),
    "retain_batch_size": Param("int", "Retain points per min-step.", low=1, label="Retain batch", widget=(8, 512, 8)),
    "max_grad_norm": Param("float", "Gradient clipping norm (None: no clipping).", low=0, low_open=True, optional=True),
    "seed": Param("int", "Seed of the method's random draws."),
}


def run_scrub(model, forget, retain, on_step, *, epochs, msteps, lr, momentum, weight_decay, temperature, alpha,
              gamma, forget_batch_size, retain_batch_size, max_grad_norm, seed):
    """SCRUB (Kurmanji et al. 2023, arXiv 2302.09880), as in the JiT authors' copy.

    Teacher = frozen original; student = ``model`` (train mode), one SGD optimiser (``lr``,
    ``momentum``, ``weight_decay``). For each of ``epochs`` epochs: if the epoch is among the first
    ``msteps``, a max-epoch over shuffled D_f batches (loss = -KL_T(teacher || student)); then a
    min-epoch over shuffled D_r batches (loss = ``gamma`` * CE + ``alpha`` * KL_T). KL_T is the
    Hinton distillation KL at temperature T, times T^2, averaged per sample. Gradients are
    clipped to ``max_grad_norm`` (None: no clipping). The authors' lr decay (epochs 5/8/9) and
    SWA (smoothing 0) never act at 3 epochs and are left out. The history holds the loss of
    every step, negative for max-steps.
    """
    Xf, yf = forget
    Xr, yr = retain
    fbs = forget_batch_size
    rbs = retain_batch_size
    T = temperature
    clip = max_grad_norm
    dev = device_of(model)
    with method_dropout(seed):
        teacher = frozen_copy(model)
        gen = seeded_generator(seed, 3)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        steps = Steps(on_step, model)

        def kd(xb):
            with torch.no_grad():
                t = F.softmax(teacher(xb) / T, dim=1)
            s = model(xb)
            return s, kl(s, t, T) * T * T

        model.train()
        for epoch in range(1, epochs + 1):
            if epoch <= msteps:
                for idx in batches(len(Xf), fbs, gen, dev):
                    _, div = kd(Xf[idx])
                    loss = -div
                    optimiser_step(opt, loss, params, clip)
                    steps(loss)
            for idx in batches(len(Xr), rbs, gen, dev):
                s, div = kd(Xr[idx])
                loss = gamma * F.cross_entropy(s, yr[idx]) + alpha * div
                optimiser_step(opt, loss, params, clip)
                steps(loss)
    model.eval()
    return steps.losses


SPEC = MethodSpec(
    name="scrub", needs="retain", run=run_scrub, params=PARAMS, toy2d=TOY2D, image=image_defaults,
    summary="SCRUB (Kurmanji et al. 2023): move away from the original on D_f, stay close (and accurate) on D_r",
)
