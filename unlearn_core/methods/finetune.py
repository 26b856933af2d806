"""Fine-tune: train the original on the retain set only (catastrophic forgetting of D_f)."""
from __future__ import annotations

from unlearn_core.methods.common import Steps
from unlearn_core.methods.spec import MethodSpec, Param
from unlearn_core.training import train_loop

#: Budgets are ours (Adam). The authors' finetune ran 5 epochs of SGD 0.02 on CIFAR.
TOY2D = dict(epochs=20, lr=1e-3, batch_size=64, seed=0)
IMAGE = dict(epochs=5, lr=1e-3, batch_size=128, seed=0)

PARAMS = {
    "epochs": Param("int", "Passes over the retain set.", low=0, label="Epochs", widget=(1, 200, 1)),
    "lr": Param("float", "Adam's learning rate.", low=0, low_open=True, label="Learning rate", widget=(1e-5, 0.1, 1e-5)),
    "batch_size": Param("int", "Retain points per step.", low=1, label="Batch size", widget=(8, 512, 8)),
    "seed": Param("int", "Seed of the shuffles."),
}


def run_finetune(model, forget, retain, on_step, *, epochs, lr, batch_size, seed):
    """Fine-tune on the retain set only (catastrophic forgetting of D_f)."""
    steps = Steps(on_step, model)
    train_loop(model, *retain, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, on_step=steps.hook)
    return steps.losses


SPEC = MethodSpec(name="finetune", needs="retain", run=run_finetune, params=PARAMS, toy2d=TOY2D,
                  image=lambda arch, setting: dict(IMAGE), summary="Fine-tune on the retain set")
