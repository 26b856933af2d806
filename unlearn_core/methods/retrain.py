"""Retrain from scratch on the retain set with the original's recipe: the oracle every method is compared to.

Every parameter is re-initialised (``models.reinitialize`` with ``seed``), then the recipe the
original was trained with (recorded on it by ``fit`` or the image trainer as ``fit_recipe``)
runs on D_r. A hyperparameter given here replaces the recipe's value; None keeps it.
"""
from __future__ import annotations

import torch

from unlearn_core.images.train import train_images
from unlearn_core.methods.common import Steps
from unlearn_core.methods.spec import MethodSpec, Param
from unlearn_core.models import reinitialize
from unlearn_core.training import FIT_DEFAULTS, init_input_stats, train_loop

#: None = repeat the original's recipe.
TOY2D = dict(epochs=None, lr=None, batch_size=None, weight_decay=None, seed=0)

PARAMS = {
    "epochs": Param("int", "Training epochs (None: the original's).", low=0, optional=True),
    "lr": Param("float", "Learning rate (None: the original's).", low=0, low_open=True, optional=True),
    "batch_size": Param("int", "Batch size (None: the original's).", low=1, optional=True),
    "weight_decay": Param("float", "Weight decay (None: the original's).", low=0, optional=True),
    "seed": Param("int", "Seed of the re-initialisation and the shuffles."),
}


def run_retrain(model, forget, retain, on_step, *, epochs, lr, batch_size, weight_decay, seed):
    """Retrain from scratch: re-initialise *every* parameter, then the original recipe on D_r."""
    saved = dict(getattr(model, "fit_recipe", {}) or {})
    if saved.get("trainer") == "image":  # an image model: its own recipe (optimiser, schedule, augmentation)
        given = dict(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay)
        saved.update({k: v for k, v in given.items() if v is not None})
        reinitialize(model, seed)
        steps = Steps(on_step, model)
        dev = next(model.parameters()).device
        hist = train_images(model, *retain, saved, seed=seed, device=dev,
                            callback=lambda epoch, entry, m: steps(torch.tensor(entry["loss"])))
        return steps.losses if hist else []
    recipe = dict(FIT_DEFAULTS, **saved)
    given = dict(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay)
    recipe.update({k: v for k, v in given.items() if v is not None})
    reinitialize(model, seed)
    steps = Steps(on_step, model)
    X, y = retain
    init_input_stats(model, X)
    train_loop(model, X, y, epochs=recipe["epochs"], lr=recipe["lr"], batch_size=recipe["batch_size"],
               seed=seed, weight_decay=recipe["weight_decay"], on_step=steps.hook)
    model.fit_recipe = dict(recipe, optimizer="adam")
    return steps.losses


SPEC = MethodSpec(name="retrain", needs="retain", run=run_retrain, params=PARAMS, toy2d=TOY2D,
                  summary="Retrain from scratch on the retain set with the original recipe: the oracle")
