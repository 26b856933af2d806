"""The Playground's numbers: metrics of original / unlearned / retrained, and the step count of a JiT run."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unlearn_core import evaluate
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
