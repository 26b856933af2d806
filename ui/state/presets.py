"""One-click presets that tell the paper's story: each sets a configuration, picks the points to
forget on the trained model, and the page runs the method right away."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from unlearn_core import scenarios
from unlearn_core.training import predict_logits


def _low_information(ws, count: int = 10) -> np.ndarray:
    """Training points whose neighbourhood is all their own class, the most confidently predicted."""
    ids = ws.train_ids
    X, y = ws.pairs(ids)
    alpha = scenarios.information(X, y)
    p = torch.softmax(predict_logits(ws.original, torch.as_tensor(X)), 1)[torch.arange(len(y)), torch.as_tensor(y)]
    order = np.lexsort((-p.numpy(), -alpha))  # alpha first, then confidence
    return np.sort(ids[order[:count]])


def _high_information(ws) -> np.ndarray:
    X, y = ws.pairs(ws.train_ids)
    pred = predict_logits(ws.original, torch.as_tensor(X)).argmax(1).numpy()
    return ws.train_ids[scenarios.high_information(X, y, correct=pred == y)]


def _whole_class(ws, cls: int = 0) -> np.ndarray:
    return ws.train_ids[ws.y[ws.train_ids] == cls]


@dataclass(frozen=True)
class Preset:
    title: str
    story: str
    config: dict  # Config fields (hp: method hyperparameter overrides)
    select: Callable = field(repr=False)


PRESETS: dict[str, Preset] = {
    "low_info": Preset(
        "Forget low-information points",
        "Ten points deep inside their class: every neighbour has the same label (α(x) = 1). The model "
        "predicts them from their neighbours anyway, so forgetting them barely moves the boundary, for JiT "
        "and for retraining alike.",
        dict(dataset="moons", noise=0.2, seed=0, method="jit"), _low_information),
    "high_info": Preset(
        "Forget high-information points",
        "Points whose neighbourhood mostly has the other label (α(x) < τ): the model had to memorise them. "
        "Retraining without them hands their area to the other class. How far JiT, with only the model and the "
        "points, follows retraining is what to judge: compare the forget accuracy with retrain's.",
        dict(dataset="xor", noise=0.25, seed=0, method="jit"), _high_information),
    "whole_class": Preset(
        "Forget a whole class",
        "Every training point of class 0. The retrained model never saw the class and cannot predict it. JiT's "
        "default step is set for a few points: on a whole, well-separated class it barely dents it here (the "
        "forget accuracy stays high). JiT forgets what the model had to memorise, not what its neighbours "
        "explain. Try a larger step size or more epochs and watch when the rest of the model starts to break.",
        dict(dataset="blobs", classes=3, noise=1.0, seed=0, method="jit"), _whole_class),
    "big_lr": Preset(
        "Too large a step collapses the model",
        "The same high-information points with a step size 100 times the default. JiT's loss only looks at "
        "the clean branch, so a large step overshoots: the loss explodes and the model is wrecked (it can "
        "collapse to one class). The app detects it, restores the model and suggests a smaller step.",
        dict(dataset="xor", noise=0.25, seed=0, method="jit", hp={"lr": 10.0}), _high_information),
}
