"""Random-label (Amnesiac): train on the retain set plus the forget set relabelled with random wrong classes."""
from __future__ import annotations

import torch

from unlearn_core.methods.common import Steps
from unlearn_core.methods.spec import MethodSpec, Param
from unlearn_core.training import n_outputs, train_loop

#: Budgets are ours (Adam).
TOY2D = dict(epochs=10, lr=1e-3, batch_size=64, seed=0)
IMAGE = dict(epochs=3, lr=1e-3, batch_size=128, seed=0)

PARAMS = {
    "epochs": Param("int", "Passes over retain + relabelled forget points.", low=0, label="Epochs", widget=(1, 200, 1)),
    "lr": Param("float", "Adam's learning rate.", low=0, low_open=True, label="Learning rate", widget=(1e-5, 0.1, 1e-5)),
    "batch_size": Param("int", "Points per step.", low=1, label="Batch size", widget=(8, 512, 8)),
    "seed": Param("int", "Seed of the wrong labels and the shuffles."),
}


def wrong_labels(y: torch.Tensor, n_classes: int, seed: int) -> torch.Tensor:
    """A uniformly random label other than the true one, for each entry of y (seeded)."""
    gen = torch.Generator().manual_seed(int(seed) + 2)
    shift = torch.randint(1, n_classes, (len(y),), generator=gen).to(y.device)
    return (y + shift) % n_classes


def run_random_label(model, forget, retain, on_step, *, epochs, lr, batch_size, seed):
    """Random-label (Amnesiac): train on D_r plus D_f relabelled with random *wrong* classes."""
    Xf, yf = forget
    wrong = wrong_labels(yf, n_outputs(model, Xf), seed)
    X = torch.cat([retain[0], Xf])
    y = torch.cat([retain[1], wrong])
    steps = Steps(on_step, model)
    train_loop(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, on_step=steps.hook)
    return steps.losses


SPEC = MethodSpec(name="random_label", needs="retain", run=run_random_label, params=PARAMS, toy2d=TOY2D,
                  image=lambda arch, setting: dict(IMAGE),
                  summary="Random-label (Amnesiac): train on retain plus forget with wrong labels")
