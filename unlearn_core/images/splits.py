"""The paper's forgetting settings on an image dataset: which training and test images to forget.

``make_split(data, setting, target, seed=...)`` returns a :class:`Split` of sorted row indices into
``data.X_train`` / ``data.X_test`` (PAPER.md sections 5-6):

- ``full_class``: forget one class;
- ``sub_class``: forget one fine class from a model that predicts coarse ones (CIFAR-20; digits
  with parity labels);
- ``random``: forget a random set of training images (83 on CIFAR, as the paper; 2% elsewhere).

``PAPER_TARGETS`` holds the classes the paper forgets and ``PAPER_ALIASES`` its short names for
the CIFAR-20 superclasses. Nothing here reads files, prints or draws from a global random state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from unlearn_core.images.data import ImageData

#: The classes the paper forgets (PAPER.md section 5). Full-class on CIFAR-20 forgets the
#: superclasses of the five fine classes; sub-class forgets the fine class from a CIFAR-20 model.
PAPER_TARGETS = {
    "cifar100": {"full_class": ["rocket", "mushroom", "baby", "lamp", "sea"]},
    "cifar20": {"full_class": ["vehicles_2", "fruit_and_vegetables", "people", "household_electrical_devices",
                               "large_natural_outdoor_scenes"],
                "sub_class": ["rocket", "mushroom", "baby", "lamp", "sea"]},
}

#: The paper's short names for the CIFAR-20 superclasses, accepted wherever a class name is.
PAPER_ALIASES = {
    "vehicle2": "vehicles_2", "veg": "fruit_and_vegetables", "electrical_devices": "household_electrical_devices",
    "natural_scenes": "large_natural_outdoor_scenes",
}

#: The random setting's forget-set size on CIFAR: 0.00165 of 50,000 training images (PAPER.md section 5).
PAPER_N_RANDOM = 83
#: The random setting's forget share on datasets the paper does not use (digits, folders): 2% of training.
DEFAULT_RANDOM_SHARE = 0.02

SETTINGS = ("full_class", "sub_class", "random")


def default_n_random(dataset: str, n_train: int) -> int:
    """The random setting's default forget-set size for ``dataset`` (an ``ImageData.name``) with ``n_train``
    training images: ``PAPER_N_RANDOM`` on CIFAR, else ``DEFAULT_RANDOM_SHARE`` of them (at least 1)."""
    return PAPER_N_RANDOM if dataset.startswith("cifar") else max(1, int(round(DEFAULT_RANDOM_SHARE * n_train)))


@dataclass(repr=False, eq=False)
class Split:
    """Which images to forget and which to keep, as sorted int64 row indices.

    - ``forget_train`` / ``retain_train``: into ``X_train``; disjoint, together all of it.
    - ``forget_test`` / ``retain_test``: into ``X_test``; disjoint, together all of it. Forget
      accuracy on full_class / sub_class is measured on ``forget_test``; in the random setting
      ``forget_test`` is empty and the forget accuracy is taken on ``forget_train`` itself
      (PAPER.md section 6), with ``retain_test`` = the whole test set.
    Labels for scoring are always the predicted labels (``y_*``): in sub_class the forgotten fine
    class's images are scored against their coarse label.
    """
    forget_train: np.ndarray
    retain_train: np.ndarray
    forget_test: np.ndarray
    retain_test: np.ndarray
    description: str
    setting: str = ""
    target: str | None = None

    def __repr__(self) -> str:
        return (f"Split({self.setting}: forget {len(self.forget_train)} train / {len(self.forget_test)} test, "
                f"retain {len(self.retain_train)} train / {len(self.retain_test)} test)")


def _resolve_target(target, names: Sequence[str], what: str) -> int:
    """Index of ``target`` in ``names``: a name (exact, then a paper alias, then case-insensitive), an
    index, or a string of digits that is no class's name (read as an index, for command lines)."""
    names = list(names)
    shown = ", ".join(names)
    if target is None:
        raise ValueError(f"this setting needs a target {what}: one of {shown} (or its index)")
    if isinstance(target, (bool, np.bool_)):
        raise ValueError(f"target must be a {what} name or index, got {target!r}")
    if isinstance(target, (int, np.integer)):
        if not 0 <= int(target) < len(names):
            raise ValueError(f"{what} index {int(target)} does not exist; valid indices are 0..{len(names) - 1} "
                             f"({shown})")
        return int(target)
    if isinstance(target, str):
        for cand in (target, PAPER_ALIASES.get(target)):
            if cand is not None and cand in names:
                return names.index(cand)
        lowered = [n.lower() for n in names]
        if target.lower() in lowered:
            return lowered.index(target.lower())
        if target.strip().isdigit():  # "69" from a command line: an index when no class has that name
            return _resolve_target(int(target), names, what)
        raise ValueError(f"{what} {target!r} does not exist; valid names are: {shown}")
    raise ValueError(f"target must be a {what} name or index, got {type(target).__name__}")


def _indices(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64)


def make_split(data: ImageData, setting: str, target=None, *, seed: int = 0, n_random: int | None = None) -> Split:
    """The paper's forgetting settings on ``data`` (PAPER.md sections 5-6).

    - ``full_class``: forget every training image of class ``target`` (a name such as "rocket",
      a paper alias such as "vehicle2", or an index into ``class_names``, also as a string of
      digits when no class is named so); ``forget_test`` = the
      class's test images; retain = the other classes.
    - ``sub_class``: the model predicts coarse labels and ``target`` is a fine class (a name or
      an index into ``fine_names``; the data needs fine labels: cifar20, digits_parity). Forget
      its training images; ``forget_test`` = its test images, scored against their coarse label;
      retain = everything else (its sibling fine classes keep the coarse class alive).
    - ``random``: forget ``n_random`` training images drawn uniformly with ``seed`` (default: 83 on
      CIFAR, as the paper; 2% of the training set, at least 1, elsewhere). ``forget_test`` is
      empty (forget accuracy is measured on the forgotten training images), ``retain_test`` =
      the whole test set. ``target`` must be None.
    """
    if not isinstance(data, ImageData):
        raise ValueError(f"make_split needs an ImageData (from load_dataset), got {type(data).__name__}")
    y_tr, y_te = data.y_train.numpy(), data.y_test.numpy()
    n_tr, n_te = len(y_tr), len(y_te)
    if setting == "full_class":
        k = _resolve_target(target, data.class_names, "class")
        forget_tr, forget_te = y_tr == k, y_te == k
        name = data.class_names[k]
        desc = (f"full_class on {data.name}: forget class {name!r} ({k}): {int(forget_tr.sum())} training images; "
                f"forget-test = its {int(forget_te.sum())} test images; retain = the other classes")
    elif setting == "sub_class":
        if not data.has_fine:
            raise ValueError(f"sub_class needs a dataset whose model predicts coarse labels and keeps the fine ones "
                             f"(cifar20, or load_digits(labels='parity')); {data.name!r} has no fine labels: use "
                             "full_class to forget one of its classes")
        k = _resolve_target(target, data.fine_names, "fine class")
        forget_tr, forget_te = data.fine_train.numpy() == k, data.fine_test.numpy() == k
        name = data.fine_names[k]
        parents = np.unique(np.concatenate([y_tr[forget_tr], y_te[forget_te]]))
        parent = ", ".join(repr(data.class_names[p]) for p in parents) or "?"
        desc = (f"sub_class on {data.name}: forget fine class {name!r} ({k}) of coarse class {parent}: "
                f"{int(forget_tr.sum())} training images; forget-test = its {int(forget_te.sum())} test images, "
                "scored against the coarse label; retain = everything else")
    elif setting == "random":
        if target is not None:
            raise ValueError(f"the random setting takes no target (got {target!r}); set n_random and seed instead")
        if n_random is None:
            n_random = default_n_random(data.name, n_tr)
        if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or not 1 <= n_random < n_tr:
            raise ValueError(f"n_random must be an integer from 1 to {n_tr - 1} (the training set has {n_tr} images "
                             f"and at least one must be retained), got {n_random!r}")
        chosen = np.random.default_rng(int(seed)).choice(n_tr, int(n_random), replace=False)
        forget_tr = np.zeros(n_tr, dtype=bool)
        forget_tr[chosen] = True
        forget_te = np.zeros(n_te, dtype=bool)
        name = None
        desc = (f"random on {data.name}: forget {int(n_random)} random training images (seed {int(seed)}); forget "
                "accuracy on those images themselves; forget-test empty, retain-test = the whole test set")
    else:
        raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    if not forget_tr.any():
        raise ValueError(f"{setting} target {name!r} has no training images in {data.name!r}: nothing to forget")
    if forget_tr.all():
        raise ValueError(f"{setting} target {name!r} covers every training image of {data.name!r}: forgetting it "
                         "would leave nothing to retain")
    return Split(forget_train=_indices(forget_tr), retain_train=_indices(~forget_tr), forget_test=_indices(forget_te),
                 retain_test=_indices(~forget_te), description=desc, setting=setting, target=name)
