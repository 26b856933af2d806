"""The Playground's numbers: metrics of original / unlearned / retrained, and the step count of a JiT run."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unlearn_core import METHODS, evaluate
from unlearn_core.training import predict_logits

from .grids import RetrainBand
from .workspace import Workspace

COLUMNS = {  # metric key -> column name, with the direction that is better
    "acc_forget": "forget acc % (→ retrain)",
    "acc_retain": "retain acc % ↑",
    "acc_test": "test acc % ↑",
    "mia": "MIA % (→ retrain)",
    "js_forget": "JS to retrain, forget ↓",
    "boundary_disagreement": "boundary ≠ retrain % ↓",
    "seconds": "method seconds",
}
PERCENT = {"acc_forget", "acc_retain", "acc_test", "mia", "boundary_disagreement"}


def metrics_rows(ws: Workspace, retrained: nn.Module) -> list[dict]:
    """One row each for the original, the current (unlearned) and the retrained model, evaluated on the
    same sets: forget = everything forgotten so far, retain = the rest of the training split."""
    if not ws.steps:
        return []
    forget, retain = ws.pairs(ws.forgotten), ws.pairs(ws.retain_ids())
    methods = " → ".join(s.method for s in ws.steps)
    models = [("original", ws.original, None), (f"unlearned ({methods})", ws.model, sum(s.seconds for s in ws.steps)),
              ("retrained from scratch", retrained, None)]
    rows = []
    for name, model, seconds in models:
        m = evaluate(model, retain=retain, forget=forget, test=ws.test, reference=retrained, bounds=ws.bounds)
        row = {"model": name}
        for key, col in COLUMNS.items():
            v = seconds if key == "seconds" else m.get(key)
            row[col] = (100 * v if key in PERCENT else v) if v is not None else float("nan")
        rows.append(row)
    return rows


def own_class_confidence(model: nn.Module, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The model's softmax probability of each point's own class."""
    p = torch.softmax(predict_logits(model, torch.as_tensor(np.asarray(X, np.float32))).float(), 1).numpy()
    return p[np.arange(len(y)), np.asarray(y, np.int64)]


def band_range_line(ws: Workspace, band: RetrainBand) -> str:
    """'forget points inside the retrains' range: i of n': how many forget points get, from the current
    model, an own-class confidence within the K retrains' min..max."""
    X, y = ws.pairs(band.ids)
    inside = band.in_range(own_class_confidence(ws.model, X, y))
    return (f"Forget points inside the {band.k_models} retrains' range (own-class confidence between the "
            f"lowest and highest retrain's): **{int(inside.sum())} of {len(inside)}**")


def steps_for(n_points: int, batch_size: int, epochs: int) -> int:
    """Optimiser steps of a JiT run: ceil(n / batch) per epoch."""
    return int(epochs) * -(-int(n_points) // max(1, int(batch_size)))


#: A first forget should be watchable: at least this many optimiser steps (issue 12, part 3).
WATCHABLE_STEPS = 10


def watchable_hp(n_points: int, hp: dict, want: int = WATCHABLE_STEPS) -> dict | None:
    """JiT hyperparameters that give a run of ``n_points`` at least ``want`` real optimiser steps, or None when
    ``hp`` already gives that many.

    Batch size 1 (Algorithm 1 of the paper steps per sample) and as many passes as needed; the step size is
    divided by the step-count ratio, so that the nominal path length (steps x step size) is the one of ``hp``.
    Measured on moons / circles / blobs (600 points, defaults, 1-5 forget points): 10-12 steps, no divergence,
    0.1-3 % of the canvas changes class against 0.1-0.3 % for the default's single step.
    """
    b, epochs = max(1, int(hp.get("batch_size", 1))), max(1, int(hp.get("epochs", 1)))
    n = max(1, int(n_points))
    old = steps_for(n, b, epochs)
    if old >= want:
        return None
    passes = max(epochs, -(-want // n))
    return dict(batch_size=1, epochs=passes, lr=float(hp["lr"]) * old / (n * passes))


def whole_class_error(ws: Workspace, ids, method: str) -> str | None:
    """Why ``method`` cannot forget ``ids`` here, or None: a full-class-only method (EMMN, GKT) needs the
    selection to be every remaining training point of one or more classes, and nothing else."""
    spec = METHODS.get(method)
    if spec is None or not spec.full_class_only:
        return None
    ids = ws.selectable(ids)
    if len(ids) == 0:
        return None
    remaining = ws.retain_ids()
    classes = np.unique(ws.y[ids])
    whole = remaining[np.isin(ws.y[remaining], classes)]
    if len(whole) == len(ids) and np.array_equal(np.sort(whole), np.sort(ids)):
        return None
    names = ", ".join(str(int(c)) for c in classes)
    return (f"{method} forgets whole classes only (its authors ran it for full-class forgetting alone), and the "
            f"selection is part of class {names}. Select a whole class (Quick selectors: Select class) or pick "
            f"another method.")


def frames_hint(n_points: int, hp: dict, want: int = 20) -> dict | None:
    """When a JiT run would give fewer than ``want`` frames, a smaller batch (with the step size scaled
    so the total step length stays the same) that gives more; None when it already has enough."""
    b, epochs = int(hp.get("batch_size", 1)), int(hp.get("epochs", 1))
    if steps_for(n_points, b, epochs) >= want or b <= 1:
        return None
    nb = max(1, min(b - 1, -(-int(n_points) * epochs // want)))
    while nb > 1 and steps_for(n_points, nb, epochs) < want:
        nb -= 1
    return dict(batch_size=nb, lr=float(np.round(hp["lr"] * nb / b, 6)), normalize_step="probe",
                steps=steps_for(n_points, nb, epochs))
