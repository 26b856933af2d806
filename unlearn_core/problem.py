"""The 2-D problem: a dataset split into train and test, the MLP recipe, and the forget-set choice.

Shared by the CLI (``unlearn_core.bench``), the sweep, the audit and the app's workspace. The
defaults here (``DATA_DEFAULTS`` and ``ModelRecipe``) are the one source of the data and model
defaults; the CLI flags, the app's ``Config`` and its workspace read them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

import toy_data
from unlearn_core import scenarios
from unlearn_core.metrics import data_bounds
from unlearn_core.models import MLP
from unlearn_core.training import FIT_DEFAULTS, fit, predict_logits

#: The default 2-D data: dataset, points (train and test together), test share, data seed.
DATA_DEFAULTS = dict(dataset="moons", n_samples=600, test_size=0.25, data_seed=0)


@dataclass
class Problem:
    """A 2-D dataset split into train and test, as the CLI and the sweep use it."""
    dataset: str
    X: np.ndarray  # all points, as make_dataset returned them
    y: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    n_classes: int

    @property
    def X_train(self):
        return self.X[self.train_idx]

    @property
    def y_train(self):
        return self.y[self.train_idx]

    @property
    def test(self):
        return self.X[self.test_idx], self.y[self.test_idx]

    @property
    def bounds(self):
        return data_bounds(self.X)


def make_problem(dataset: str = DATA_DEFAULTS["dataset"], *, n_samples: int = DATA_DEFAULTS["n_samples"],
                 noise: float | None = None, data_seed: int = DATA_DEFAULTS["data_seed"], classes: int | None = None,
                 test_size: float = DATA_DEFAULTS["test_size"], keep_in_train=None) -> Problem:
    X, y = toy_data.make_dataset(dataset, n_samples=n_samples, noise=noise, seed=data_seed, classes=classes)
    *_, tr, te = toy_data.train_test_split(X, y, test_size=test_size, seed=data_seed, keep_in_train=keep_in_train)
    return Problem(dataset, X, y, np.asarray(tr), np.asarray(te), int(y.max()) + 1)


@dataclass
class ModelRecipe:
    """The 2-D MLP and its training recipe: the one source of these defaults (CLI, app, sweep, audit)."""
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    epochs: int = FIT_DEFAULTS["epochs"]
    lr: float = FIT_DEFAULTS["lr"]
    batch_size: int = FIT_DEFAULTS["batch_size"]


    def build(self, n_classes: int, seed: int, n_features: int = 2) -> MLP:
        """A freshly initialised MLP with this recipe's architecture."""
        return MLP(n_features, n_classes, self.hidden, self.activation, seed=seed)

    def fit_kwargs(self) -> dict:
        """The training recipe as ``fit`` / ``run_audit`` take it."""
        return dict(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size)


def train_original(problem: Problem, recipe: ModelRecipe, seed: int, device="cpu") -> MLP:
    model = recipe.build(problem.n_classes, seed)
    fit(model, problem.X_train, problem.y_train, epochs=recipe.epochs, lr=recipe.lr,
        batch_size=recipe.batch_size, seed=seed, device=device)
    return model


def choose_forget(setting: str, problem: Problem, model, seed: int, *, forget_class=None, forget_count=20,
                  forget_region=None, forget_indices=None, tau=0.5, radius=0.3) -> np.ndarray:
    """Rows of the *training split* to forget, for one of ``scenarios.SETTINGS``."""
    Xtr, ytr = problem.X_train, problem.y_train
    if setting == "full_class":
        if forget_class is None:
            raise ValueError("--setting full_class needs --forget-class")
        return scenarios.full_class(ytr, int(forget_class))
    if setting == "random":
        return scenarios.random_points(len(ytr), int(forget_count), seed)
    if setting == "region":
        box = forget_region if forget_region is not None else scenarios.auto_region(Xtr, ytr, forget_class, seed=seed)
        return scenarios.region(Xtr, box)
    if setting == "indices":
        if not forget_indices:
            raise ValueError("--setting indices needs --forget-indices I,J,...")
        pos = {int(i): k for k, i in enumerate(problem.train_idx)}
        bad = [i for i in forget_indices if i not in pos]
        if bad:
            raise ValueError(f"forget indices {bad[:5]} are not in the training split "
                             f"(valid: 0..{len(problem.X) - 1})")
        return np.sort(np.array([pos[int(i)] for i in forget_indices], dtype=np.int64))
    if setting == "high_info":
        pred = predict_logits(model, torch.as_tensor(Xtr)).argmax(1).numpy()
        return scenarios.high_information(Xtr, ytr, tau=tau, radius=radius, correct=pred == ytr)
    raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(scenarios.SETTINGS)}")


def split(problem: Problem, forget_rows: np.ndarray):
    """(forget, retain) (X, y) pairs of the training split; an error if nothing would be retained."""
    Xtr, ytr = problem.X_train, problem.y_train
    mask = np.zeros(len(ytr), bool)
    mask[forget_rows] = True
    if mask.all():
        raise ValueError("the forget set is the whole training set; nothing would be left to retrain on")
    return (Xtr[mask], ytr[mask]), (Xtr[~mask], ytr[~mask])
