"""Bad Teacher (Chundawat et al. 2023, arXiv 2205.08096; ``blindspot`` in the authors' code).

Distil the forget set from an incompetent (re-initialised) teacher and a random share of the
retain set from the competent one (the original). Needs the retain set.

Sources of the defaults: [code] = the authors' or the JiT authors' public code, read but not
copied; [paper] = the method's paper; [ours] = our choice for the small models of this project.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from unlearn_core.methods.common import (Steps, device_of, frozen_copy, kl, method_dropout, optimiser_step,
                                         reinitialize_keeping_input_stats, seeded_generator)
from unlearn_core.methods.spec import MethodSpec, Param, small_model_or_paper
from unlearn_core.training import batches

#: The 2-D profile (and the digits SmallCNN). The authors' budgets were set for CIFAR-sized data; on a
#: few hundred points they amount to a handful of steps and change nothing, so ours are larger.
TOY2D = dict(
    epochs=20,             # [ours] (authors: 1 epoch)
    lr=1e-3,               # [ours] Adam (authors: Adam 1e-4)
    batch_size=32,         # [ours] (authors: 256; 128 for ViT)
    retain_fraction=0.3,   # [code] random 30% of D_r
    kl_temperature=1.0,    # [code] KL_temperature = 1
    seed=0,
)
#: The authors' values, for CIFAR-scale models.
PAPER = dict(TOY2D, epochs=1, lr=1e-4, batch_size=256)

PARAMS = {
    "epochs": Param("int", "Passes over D_f plus the retain sample.", low=0, label="Epochs", widget=(0, 100, 1)),
    "lr": Param("float", "Adam's learning rate.", low=0, low_open=True, label="Learning rate", widget=(1e-5, 0.1, 1e-5)),
    "batch_size": Param("int", "Samples per step.", low=1, label="Batch size", widget=(8, 512, 8)),
    "retain_fraction": Param("float", "Share of the retain set distilled from the original.", low=0, high=1,
                             low_open=True, label="Retain share", widget=(0.05, 1.0, 0.05)),
    "kl_temperature": Param("float", "Distillation temperature.", low=0, low_open=True, label="KL temperature",
                            widget=(0.5, 10.0, 0.5)),
    "seed": Param("int", "Seed of the method's random draws."),
}


def run_bad_teacher(model, forget, retain, on_step, *, epochs, lr, batch_size, retain_fraction, kl_temperature, seed):
    """Bad Teacher (Chundawat et al. 2023, arXiv 2205.08096; ``blindspot`` in the authors' code).

    The student (``model``) is trained for ``epochs`` with Adam on D_f plus a seeded random
    ``retain_fraction`` of D_r, minimising KL(teacher || student) at ``kl_temperature``: forget
    samples follow an *incompetent* teacher (a copy re-initialised with ``seed``), retain
    samples the *competent* one (a frozen copy of the original). One step per mini-batch of the
    shuffled union. The KL is averaged per sample (the authors' ``F.kl_div`` default also divides
    by the number of classes; with Adam the scale hardly matters).
    """
    Xf, yf = forget
    Xr, yr = retain
    T = kl_temperature
    frac = retain_fraction
    dev = device_of(model)
    with method_dropout(seed):
        competent = frozen_copy(model)
        incompetent = frozen_copy(reinitialize_keeping_input_stats(copy.deepcopy(model), seed))
        gen = seeded_generator(seed, 1)
        k = max(1, int(frac * len(Xr)))
        sub = torch.randperm(len(Xr), generator=gen)[:k].to(dev)
        X = torch.cat([Xf, Xr[sub]])
        is_forget = torch.cat([torch.ones(len(Xf), device=dev), torch.zeros(k, device=dev)]).unsqueeze(1)
        with torch.no_grad():  # the teachers are fixed: their mixed targets once, in batches
            targets = torch.cat([
                is_forget[i:i + 4096] * F.softmax(incompetent(X[i:i + 4096]) / T, dim=1)
                + (1 - is_forget[i:i + 4096]) * F.softmax(competent(X[i:i + 4096]) / T, dim=1)
                for i in range(0, len(X), 4096)])
        del competent, incompetent
        steps = Steps(on_step, model)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(epochs):
            for idx in batches(len(X), batch_size, gen, dev):
                loss = kl(model(X[idx]), targets[idx], T)
                optimiser_step(opt, loss, None, None)
                steps(loss)
    model.eval()
    return steps.losses


SPEC = MethodSpec(
    name="bad_teacher", needs="retain", run=run_bad_teacher, params=PARAMS, toy2d=TOY2D,
    summary="Bad Teacher (Chundawat et al. 2023): distil the forget set from a random teacher and a 30% retain "
            "sample from the original",
    image=small_model_or_paper(TOY2D, PAPER),
)
