"""NegGrad+: gradient descent on the retain set and ascent on the forget set, in one loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from unlearn_core.methods.common import Steps
from unlearn_core.methods.spec import MethodSpec, Param
from unlearn_core.training import train_loop

#: Budgets are ours (Adam).
TOY2D = dict(epochs=10, lr=1e-3, batch_size=64, alpha=0.9, seed=0)
IMAGE = dict(epochs=5, lr=1e-4, batch_size=128, alpha=0.99, seed=0)

PARAMS = {
    "epochs": Param("int", "Passes over the retain set.", low=0, label="Epochs", widget=(1, 200, 1)),
    "lr": Param("float", "Adam's learning rate.", low=0, low_open=True, label="Learning rate", widget=(1e-5, 0.1, 1e-5)),
    "batch_size": Param("int", "Retain points per step.", low=1, label="Batch size", widget=(8, 512, 8)),
    "alpha": Param("float", "Loss = α·retain loss − (1−α)·forget loss.", low=0, high=1, label="α (retain weight)",
                   widget=(0.0, 1.0, 0.01)),
    "seed": Param("int", "Seed of the shuffles."),
}


def run_neggrad_plus(model, forget, retain, on_step, *, epochs, lr, batch_size, alpha, seed):
    """NegGrad+: alpha * CE(retain batch) - (1 - alpha) * CE(forget batch), one step per retain batch."""
    Xf, yf = forget
    gen = torch.Generator().manual_seed(int(seed) + 1)
    state = {"order": torch.randperm(len(Xf), generator=gen).to(Xf.device), "pos": 0}

    def next_forget(k: int) -> torch.Tensor:
        out = []
        while k > 0:
            if state["pos"] >= len(Xf):
                state["order"], state["pos"] = torch.randperm(len(Xf), generator=gen).to(Xf.device), 0
            take = state["order"][state["pos"]:state["pos"] + k]
            state["pos"] += len(take)
            k -= len(take)
            out.append(take)
        return torch.cat(out)

    def batch_loss(m, xb, yb):
        logits = m(xb)
        idx = next_forget(min(len(xb), len(Xf)))
        loss_f = F.cross_entropy(m(Xf[idx]), yf[idx])
        return float(alpha) * F.cross_entropy(logits, yb) - (1 - float(alpha)) * loss_f, logits

    steps = Steps(on_step, model)
    train_loop(model, *retain, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
               batch_loss=batch_loss, on_step=steps.hook)
    return steps.losses


SPEC = MethodSpec(name="neggrad_plus", needs="retain", run=run_neggrad_plus, params=PARAMS, toy2d=TOY2D,
                  image=lambda arch, setting: dict(IMAGE),
                  summary="NegGrad+: gradient ascent on the forget set plus descent on the retain set")
