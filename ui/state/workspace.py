"""The playground's state as a plain object: data, the original model, a history of forget requests.

One ``Workspace`` lives in each browser session (``st.session_state``); nothing here imports
Streamlit, so every transition (train, select, forget, undo, reset, retrain) is unit-tested.

Point ids are *global*: row indices into ``problem.X`` (train and test points together). Only
training points can be forgotten. Each forget request is a ``ForgetStep`` applied to the model of
the previous step (sequential unlearning); undo pops the last one, reset clears them all.
"""
from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

import toy_data
from unlearn_core import METHODS, MLP, fit, unlearn
from unlearn_core.ensemble import Ensemble, unlearn_ensemble
from unlearn_core.problem import DATA_DEFAULTS, ModelRecipe, Problem, make_problem
from unlearn_core.training import predict_logits

from .cache import MODELS, fingerprint
from .grids import GridSpec, Layers, RetrainBand, class_shares, encode, layers_for

EXPLODED = 100.0  # a loss this many times the first step's counts as diverged
#: ... measured against at least this: a loss that starts near 0 (SCRUB's first KL term is about -5e-7) is not
#: "exploded" at 0.17; it is at EXPLODED x LOSS_SCALE_FLOOR. Non-finite losses and collapsed models are caught anyway.
LOSS_SCALE_FLOOR = 1.0
MAX_FRAMES = 60  # the payload budget (UX.md: uint8, <= 60 frames of 100x100, <= 4 MB)
GRID_RESOLUTION = 100  # the canvas grid: GRID_RESOLUTION x GRID_RESOLUTION cells per frame
#: Forget requests one workspace holds (each keeps a model and up to MAX_FRAMES grids, about 1.2 MB):
#: a bound on a session's memory, which a loaded session file may not exceed either (ui.state.session).
MAX_STEPS = 30
#: Retrains in the oracle band (seeds 0..K-1; seed 0 is ``retrained()``'s). Batched, so 8 cost about one.
RETRAINS = 8
MAX_RETRAINS = 32


#: The model and training defaults: ``unlearn_core.problem.ModelRecipe``, the one table.
RECIPE = ModelRecipe()


@dataclass
class ModelConfig:
    """The original model and its training recipe (the retrained model repeats the recipe): an MLP of
    ``depth`` hidden layers of ``width`` neurons. The defaults are ``RECIPE``'s."""
    width: int = RECIPE.hidden[0]
    depth: int = len(RECIPE.hidden)
    activation: str = RECIPE.activation
    epochs: int = RECIPE.epochs
    lr: float = RECIPE.lr
    batch_size: int = RECIPE.batch_size
    seed: int = DATA_DEFAULTS["data_seed"]

    def recipe(self) -> ModelRecipe:
        return ModelRecipe(hidden=(self.width,) * self.depth, activation=self.activation, epochs=self.epochs,
                           lr=self.lr, batch_size=self.batch_size)

    def build(self, n_classes: int) -> MLP:
        return self.recipe().build(n_classes, self.seed)


class Diverged(RuntimeError):
    """An unlearning run produced a non-finite loss or collapsed the model to one class."""

    def __init__(self, message: str, step: int | None = None):
        super().__init__(message)
        self.step = step
        # What the failed run looked like (set by Workspace.forget), so that it can still be shown.
        self.frames: list = []
        self.frame_steps: list[int] = []
        self.history: list[dict] = []


@dataclass
class ForgetStep:
    """One forget request and its outcome."""
    ids: np.ndarray  # global ids forgotten in this request
    method: str
    hyperparameters: dict
    model: nn.Module  # the model after this request
    history: list[dict]  # {"step", "loss"} per optimiser step
    seconds: float
    frames: list[tuple[np.ndarray, np.ndarray]]  # (shade, class) uint8 grids; frame 0 = before
    frame_steps: list[int]  # the optimiser step each frame shows (0 = before)
    device: str = "cpu"


@dataclass
class Workspace:
    problem: Problem
    source: str = "generated"  # "generated", "csv", "drawn", "session"
    model_cfg: ModelConfig = field(default_factory=ModelConfig)
    original: nn.Module | None = None
    fit_history: list[dict] = field(default_factory=list)
    steps: list[ForgetStep] = field(default_factory=list)
    selection: set[int] = field(default_factory=set)
    grid: GridSpec | None = None
    _retrained: dict = field(default_factory=dict, repr=False)
    _bands: dict = field(default_factory=dict, repr=False)

    # --- accessors -----------------------------------------------------------------------
    @property
    def X(self) -> np.ndarray:
        return self.problem.X

    @property
    def y(self) -> np.ndarray:
        return self.problem.y

    @property
    def n_classes(self) -> int:
        return self.problem.n_classes

    @property
    def bounds(self):
        return self.gridspec.bounds

    @property
    def gridspec(self) -> GridSpec:
        if self.grid is None:
            self.grid = GridSpec.around(self.X, GRID_RESOLUTION)
        return self.grid

    def layers(self, model: nn.Module, ghost: nn.Module | None = None) -> Layers:
        """What the canvas shows for ``model`` on this workspace's grid (``ghost``: the model whose
        boundary is dashed and whose disagreement is shaded, e.g. the retrained one)."""
        return layers_for(model, self.gridspec, self.n_classes, ghost)

    @property
    def model(self) -> nn.Module | None:
        """The current model: after the last forget request, else the original."""
        return self.steps[-1].model if self.steps else self.original

    @property
    def trained(self) -> bool:
        return self.original is not None

    @property
    def forgotten(self) -> np.ndarray:
        """Global ids forgotten so far, over all requests, sorted."""
        if not self.steps:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate([s.ids for s in self.steps])).astype(np.int64)

    @property
    def train_ids(self) -> np.ndarray:
        return np.asarray(self.problem.train_idx, np.int64)

    @property
    def test_ids(self) -> np.ndarray:
        return np.asarray(self.problem.test_idx, np.int64)

    def retain_ids(self, extra=()) -> np.ndarray:
        gone = np.union1d(self.forgotten, np.asarray(list(extra), np.int64))
        return np.setdiff1d(self.train_ids, gone)

    def pairs(self, ids) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, np.int64)
        return self.X[ids], self.y[ids]

    @property
    def test(self):
        return self.pairs(self.test_ids)

    # --- training ----------------------------------------------------------------------
    def training_key(self, device="cpu") -> str:
        """The hash of everything that determines the original model: the training points and labels, the
        number of classes, the model and training recipe with its seed (``model_cfg``), and the device."""
        Xtr, ytr = self.pairs(self.train_ids)
        return fingerprint("original", Xtr, ytr, int(self.n_classes), dataclasses.asdict(self.model_cfg),
                           str(device))

    def train(self, callback: Callable[[int, dict, nn.Module], None] | None = None, device="cpu") -> None:
        """Train the original model on the training split; clears the forget history.

        Training is deterministic for a configuration, so the trained model is shared between sessions
        through ``ui.state.cache.MODELS`` under ``training_key``: the first session to ask trains it (with
        ``callback`` after each epoch), the others get it at once (no callback), each as its own copy."""
        Xtr, ytr = self.pairs(self.train_ids)
        if len(np.unique(ytr)) < 2:
            raise ValueError("the training data has fewer than two classes; add points of another class")
        cfg, k = self.model_cfg, self.n_classes

        def make():
            model = cfg.build(k)
            history = fit(model, Xtr, ytr, epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size, seed=cfg.seed,
                          device=device, callback=callback)
            return model.cpu().eval(), history

        shared_model, history = MODELS.get_or_make(self.training_key(device), make)
        self.original = copy.deepcopy(shared_model)  # this session's own weights
        self.fit_history = copy.deepcopy(history)
        self.steps.clear()
        self.selection.clear()
        self._retrained.clear()
        self._bands.clear()

    # --- selection ---------------------------------------------------------------------
    def selectable(self, ids) -> np.ndarray:
        """The ids among ``ids`` that can be forgotten: training points not forgotten yet."""
        ids = np.asarray(sorted({int(i) for i in ids}), np.int64)
        ok = np.isin(ids, self.train_ids) & ~np.isin(ids, self.forgotten)
        return ids[ok]

    def select(self, ids) -> int:
        """Add ``ids`` to the selection (ignoring test and already-forgotten points); returns how many were new."""
        new = set(self.selectable(ids).tolist()) - self.selection
        self.selection |= new
        return len(new)

    def toggle(self, ids) -> None:
        """Points already selected leave the selection; the others join it."""
        ids = {int(i) for i in ids}
        on = ids & self.selection
        self.selection -= on
        self.select(ids - on)

    def clear_selection(self) -> None:
        self.selection.clear()

    # Quick selectors: each adds to the selection and returns how many points were new.
    def select_class(self, cls: int) -> int:
        """Every remaining training point of class ``cls``."""
        return self.select(self.train_ids[self.y[self.train_ids] == int(cls)])

    def select_random(self, k: int, seed: int = 0) -> int:
        """``k`` random selectable training points (fewer if fewer remain), drawn with ``seed``."""
        pool = self.selectable(self.train_ids)
        pool = np.setdiff1d(pool, np.asarray(sorted(self.selection), np.int64))
        if len(pool) == 0:
            return 0
        rng = np.random.default_rng(int(seed))
        return self.select(rng.choice(pool, size=min(int(k), len(pool)), replace=False))

    def select_region(self, box) -> int:
        """Training points inside ``box`` = (x0, x1, y0, y1), edges included."""
        x0, x1, y0, y1 = (float(v) for v in box)
        P = self.X[self.train_ids]
        inside = (P[:, 0] >= min(x0, x1)) & (P[:, 0] <= max(x0, x1)) & (P[:, 1] >= min(y0, y1)) & (P[:, 1] <= max(y0, y1))
        return self.select(self.train_ids[inside])

    def check_forget(self, ids) -> tuple[str | None, list[str]]:
        """(error, warnings) for forgetting ``ids`` now; error None means it can run."""
        ids = self.selectable(ids)
        if not self.trained:
            return "Train the model first.", []
        if len(self.steps) >= MAX_STEPS:
            return (f"This session holds {MAX_STEPS} forget requests, the most one session keeps (memory is shared "
                    f"with the other users of this server). Undo or reset to go on."), []
        if len(ids) == 0:
            return "Nothing is selected: click, box- or lasso-select training points, or use a quick selector.", []
        retain = self.retain_ids(ids)
        if len(retain) == 0:
            return ("This would forget every remaining training point, and a model retrained on nothing is "
                    "undefined. Deselect some points."), []
        warnings = []
        left = set(np.unique(self.y[retain]).tolist())
        gone = [c for c in np.unique(self.y[self.train_ids]).tolist() if c not in left]
        if gone:
            names = ", ".join(str(c) for c in gone)
            warnings.append(f"No training point of class {names} would be left: this forgets the whole class. "
                            f"The retrained model never sees it, so it cannot predict it any more.")
        if len(left) < 2:
            warnings.append("Only one class would be left to retrain on, so the retrained model predicts it everywhere.")
        return None, warnings

    # --- unlearning --------------------------------------------------------------------
    def forget(self, method: str, hyperparameters: dict | None = None, *, device="cpu",
               on_step: Callable[[int, float], None] | None = None, record_frames: bool = True,
               on_frame: Callable[[int, np.ndarray], None] | None = None,
               total_steps: int | None = None) -> ForgetStep:
        """Forget the current selection with ``method``; on success the selection becomes a new step.

        Records the class-probability grid before the run and after every optimiser step (at most
        MAX_FRAMES of them, evenly spaced, always with the last). ``total_steps``, the run's length when the
        caller knows it (JiT: ``report.steps_for``), computes only the frames that are kept: a grid costs a
        forward pass over every cell, which was most of a long run's time. The frames are the same.
        A non-finite loss, or one EXPLODED times the first step's, stops the run; a collapse to one class is
        detected after it; all raise ``Diverged`` and change nothing. ``on_frame(step, shade)`` hears of each
        frame as it is recorded (step 0 = before; every one computed, before the thinning to MAX_FRAMES), e.g.
        to stream it (ui.state.live); an exception it raises stops the run and propagates.
        """
        ids = self.selectable(self.selection)
        error, _ = self.check_forget(ids)
        if error:
            raise ValueError(error)
        hp = dict(hyperparameters or {})
        base = self.model
        spec = self.gridspec
        frames = [encode(base, spec, self.n_classes)] if record_frames else []
        frame_steps = [0] if record_frames else []
        # a known long run: only the steps the thinning below keeps (the same indices, one frame per step)
        wanted = None
        if record_frames and total_steps is not None and int(total_steps) + 1 > MAX_FRAMES:
            wanted = set(kept_frames(int(total_steps) + 1).tolist())
        if record_frames and on_frame is not None:
            on_frame(0, frames[0][0])
        retain = self.retain_ids(ids)

        losses: list[dict] = []  # the run's history, also when it fails

        def callback(step: int, loss: float, model: nn.Module) -> None:
            losses.append({"step": step, "loss": loss})
            if not math.isfinite(loss):
                raise Diverged(f"the loss became {loss} at step {step}", step)
            first = losses[0]["loss"]
            if step > 1 and abs(loss) > EXPLODED * max(abs(first), LOSS_SCALE_FLOOR):
                raise Diverged(f"the loss exploded from {first:.3g} at step 1 to {loss:.3g} at step {step}", step)
            if record_frames and (wanted is None or step in wanted):
                frames.append(encode(model, spec, self.n_classes))
                frame_steps.append(step)
                if on_frame is not None:
                    on_frame(step, frames[-1][0])
            if on_step is not None:
                on_step(step, loss)

        needs_retain = METHODS[method].needs != "forget"
        try:
            res = unlearn(method, base, forget=self.pairs(ids), retain=self.pairs(retain) if needs_retain else None,
                          device=device, callback=callback, **hp)
            model = res.model.cpu().eval()
            if record_frames and losses and frame_steps[-1] != losses[-1]["step"]:  # the run was not that long
                frames.append(encode(model, spec, self.n_classes))
                frame_steps.append(losses[-1]["step"])
                if on_frame is not None:
                    on_frame(frame_steps[-1], frames[-1][0])
            check_health(model, self.X[retain], self.y[retain])
        except Diverged as err:  # nothing changed in the workspace; keep the failed run for display
            err.frames, err.frame_steps, err.history = frames, frame_steps, losses
            raise
        if record_frames and len(frames) > MAX_FRAMES:
            keep = kept_frames(len(frames))
            frames = [frames[i] for i in keep]
            frame_steps = [frame_steps[i] for i in keep]
        frames = compact_frames(frames)
        step = ForgetStep(ids=ids, method=method, hyperparameters=res.hyperparameters, model=model,
                          history=res.history, seconds=res.seconds, frames=frames, frame_steps=frame_steps,
                          device=str(device))
        self.steps.append(step)
        self.selection.clear()
        return step

    def retrain_without(self, ids) -> nn.Module:
        """A model retrained from scratch (seed 0) with the original's recipe on the training points minus
        ``ids`` (``retrained`` keeps the one for everything forgotten so far in the workspace). Shared between
        sessions through ``ui.state.cache.MODELS``, keyed by the original's weights and recipe and the
        forget and retain points; the caller gets its own copy."""
        gone = np.unique(np.asarray(ids, np.int64).reshape(-1))
        forget, retain = self.pairs(gone), self.pairs(np.setdiff1d(self.train_ids, gone))
        original = self.original

        def make():
            return unlearn("retrain", original, forget=forget, retain=retain, device="cpu").model.cpu().eval()

        key = fingerprint("retrain", original, getattr(original, "fit_recipe", None), forget, retain)
        return copy.deepcopy(MODELS.get_or_make(key, make))

    def retrained(self) -> nn.Module:
        """A model retrained from scratch without everything forgotten so far, with the original's
        recipe. Cached per forget set."""
        key = tuple(self.forgotten.tolist())
        if key not in self._retrained:
            self._retrained[key] = self.retrain_without(self.forgotten) if key else self.original
        return self._retrained[key]

    def has_retrained(self) -> bool:
        """Whether ``retrained()`` would return at once (nothing forgotten, or already cached)."""
        key = tuple(self.forgotten.tolist())
        return key in self._retrained or not key

    def retrain_band(self, k_models: int = RETRAINS, forget_ids=None) -> RetrainBand | None:
        """``k_models`` models retrained from scratch without ``forget_ids`` (default: everything forgotten
        so far), seeds 0..k-1, the original's recipe, trained at once with ``unlearn_core.ensemble``, as a
        ``RetrainBand`` on this workspace's grid and forget points. None for an empty forget set.
        Cached per (forget set, k): call it after the forget animation is on screen, not before."""
        k_models = int(k_models)
        if not 1 <= k_models <= MAX_RETRAINS:
            raise ValueError(f"the retrain band takes 1 to {MAX_RETRAINS} retrains, not {k_models}")
        key = self._band_key(k_models, forget_ids)
        gone = np.asarray(key[0], np.int64)
        if len(gone) == 0:
            return None
        if key not in self._bands:
            forget, retain = self.pairs(gone), self.pairs(np.setdiff1d(self.train_ids, gone))
            original, spec, k = self.original, self.gridspec, self.n_classes

            def make():
                ens = Ensemble.from_models([original]).repeat(range(k_models))
                res = unlearn_ensemble("retrain", ens, forget=forget, retain=retain, device="cpu")
                grid_cls = res.ensemble.logits(spec.points).argmax(-1).numpy()  # [K, r*r]
                r = spec.resolution
                Xf, yf = forget
                p = torch.softmax(res.ensemble.logits(torch.as_tensor(Xf)), -1).numpy()  # [K, n_f, C]
                own = p[:, np.arange(len(yf)), yf]  # [K, n_f]
                band = RetrainBand(class_shares(grid_cls.reshape(k_models, r, r), k), gone, own.min(0), own.max(0),
                                   k_models, res.seconds)
                return band, res.ensemble.member(0)

            # Shared between sessions (ui.state.cache.MODELS); this workspace keeps its own copies.
            shared = MODELS.get_or_make(fingerprint("band", original, getattr(original, "fit_recipe", None), forget,
                                                    retain, k_models, tuple(spec.bounds), spec.resolution), make)
            band, member0 = copy.deepcopy(shared)
            self._bands[key] = band
            # Member 0 has retrained()'s seed: it is that model (to float rounding), so keep it rather than train it again.
            self._retrained.setdefault(key[0], member0)
        return self._bands[key]

    def has_retrain_band(self, k_models: int = RETRAINS, forget_ids=None) -> bool:
        """Whether ``retrain_band(k_models, forget_ids)`` would return at once (nothing to forget, or cached)."""
        key = self._band_key(k_models, forget_ids)
        return not key[0] or key in self._bands

    def _band_key(self, k_models: int, forget_ids) -> tuple[tuple[int, ...], int]:
        """(sorted forget ids, k): the band's cache key; the forget ids default to everything forgotten so far."""
        ids = self.forgotten if forget_ids is None else np.unique(np.asarray(forget_ids, np.int64))
        return tuple(ids.tolist()), int(k_models)

    def undo(self) -> ForgetStep | None:
        """Remove the last forget request; its points become the selection again."""
        if not self.steps:
            return None
        step = self.steps.pop()
        self.selection = set(step.ids.tolist())
        return step

    def reset(self) -> None:
        """Back to the original model: every forget request and the selection are dropped."""
        self.steps.clear()
        self.selection.clear()


def kept_frames(n: int) -> np.ndarray:
    """Which of ``n`` frames a forget request keeps: at most MAX_FRAMES, evenly spaced, the first and last."""
    return np.unique(np.linspace(0, n - 1, min(n, MAX_FRAMES)).round().astype(int))


def compact_frames(frames: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (shade, class) grids as views into one uint8 block [frames, 2, r, r]: one allocation per forget
    request instead of two per frame, which the allocator returns to the system when the session ends."""
    if not frames:
        return []
    block = np.stack([np.stack([np.asarray(s, np.uint8), np.asarray(c, np.uint8)]) for s, c in frames])
    return [(block[j, 0], block[j, 1]) for j in range(len(block))]


def check_health(model: nn.Module, X_retain: np.ndarray, y_retain: np.ndarray) -> None:
    """Raise ``Diverged`` if ``model`` has non-finite weights or predicts one class for every
    retained point although they hold at least two classes."""
    for name, p in model.named_parameters():
        if not torch.isfinite(p).all():
            raise Diverged(f"parameter {name} is no longer finite")
    if len(np.unique(y_retain)) >= 2:
        pred = predict_logits(model, torch.as_tensor(X_retain)).argmax(1)
        if len(torch.unique(pred)) == 1:
            raise Diverged(f"the model collapsed: it predicts class {int(pred[0])} for every retained point")


def new_workspace(dataset: str = DATA_DEFAULTS["dataset"], *, n_samples: int = DATA_DEFAULTS["n_samples"],
                  noise: float | None = None, seed: int = DATA_DEFAULTS["data_seed"], classes: int | None = None,
                  test_ratio: float = DATA_DEFAULTS["test_size"], model_cfg: ModelConfig | None = None) -> Workspace:
    """A workspace on a generated toy_data dataset (not trained yet: call ``.train()``)."""
    problem = make_problem(dataset, n_samples=n_samples, noise=noise, data_seed=seed, classes=classes,
                           test_size=test_ratio)
    return Workspace(problem=problem, source="generated", model_cfg=model_cfg or ModelConfig(seed=seed))


def workspace_from_points(X, y, *, source: str, name: str = "custom", test_ratio: float = DATA_DEFAULTS["test_size"],
                          seed: int = DATA_DEFAULTS["data_seed"], model_cfg: ModelConfig | None = None,
                          max_classes: int = 4) -> Workspace:
    """A workspace on given points (an uploaded CSV, a drawing); labels must be 0..k-1 with 2 <= k <= max_classes."""
    X = np.asarray(X, np.float32).reshape(-1, 2)
    y = np.asarray(y, np.int64).reshape(-1)
    k = int(y.max()) + 1 if len(y) else 0
    if k > max_classes:
        raise ValueError(f"the data has {k} classes; the playground shows 2 to {max_classes}. "
                         f"Merge or drop classes and load it again.")
    if len(np.unique(y)) < 2:
        raise ValueError("the data needs points of at least two classes")
    counts = np.bincount(y, minlength=k)
    stratify = bool(counts.min() >= 2) and len(y) * test_ratio >= k
    if len(y) < 4:
        raise ValueError(f"the data has {len(y)} points; at least 4 are needed (some for training, some for testing)")
    *_, tr, te = toy_data.train_test_split(X, y, test_size=test_ratio, seed=seed, stratify=stratify)
    problem = Problem(name, X, y, np.asarray(tr, np.int64), np.asarray(te, np.int64), max(k, 2))
    return Workspace(problem=problem, source=source, model_cfg=model_cfg or ModelConfig(seed=seed))


def workspace_from_split(X, y, train_idx, test_idx, *, n_classes: int, source: str, name: str = "custom",
                         bounds=None, model_cfg: ModelConfig | None = None) -> Workspace:
    """A workspace on given points with a given split (a shared link's data, ``ui.state.share.LinkData``):
    the points keep their order (their ids) and the training split its order, so training repeats the
    sharer's model; ``bounds`` (x0, x1, y0, y1) fixes the canvas extent (None: around the points)."""
    X = np.asarray(X, np.float32).reshape(-1, 2)
    y = np.asarray(y, np.int64).reshape(-1)
    problem = Problem(name, X, y, np.asarray(train_idx, np.int64), np.asarray(test_idx, np.int64), int(n_classes))
    grid = GridSpec(tuple(float(v) for v in bounds), GRID_RESOLUTION) if bounds is not None else None
    return Workspace(problem=problem, source=source, model_cfg=model_cfg or ModelConfig(), grid=grid)


#: What each source's points are called when a change would discard them.
_POINTS_NAME = {"drawn": "your drawing", "csv": "the uploaded data", "session": "the session file's data"}


def change_loses(ws: Workspace | None, *, points: bool = True, model: bool = False) -> str | None:
    """What a change would discard, in words ("your drawing (37 points) and 2 forget requests"), or None when
    it discards nothing worth asking about. ``points``: the change replaces the points (only points the
    generator cannot make again count: drawn, uploaded, from a session file); ``model``: it discards the
    trained model even without a forget history (drawing on trained points). A forget history always counts."""
    if ws is None:
        return None
    parts = []
    if points and ws.source in _POINTS_NAME and len(ws.y):
        parts.append(f"{_POINTS_NAME[ws.source]} ({len(ws.y)} point{'s' * (len(ws.y) != 1)})")
    if ws.steps:
        parts.append(f"{len(ws.steps)} forget request{'s' * (len(ws.steps) != 1)}")
    elif model and ws.trained:
        parts.append("the trained model")
    return " and ".join(parts) or None


def edit_points(ws: Workspace, *, add=(), remove=()) -> Workspace:
    """A new, untrained workspace with points added ((x, y, class) triples, to the training split)
    and points removed (global ids). The model must be trained again."""
    keep = np.setdiff1d(np.arange(len(ws.y)), np.asarray(list(remove), np.int64))
    new_index = -np.ones(len(ws.y), np.int64)
    new_index[keep] = np.arange(len(keep))
    X, y = ws.X[keep], ws.y[keep]
    tr, te = new_index[ws.train_ids], new_index[ws.test_ids]
    tr, te = tr[tr >= 0], te[te >= 0]
    add = [(float(a), float(b), int(c)) for a, b, c in add]
    if add:
        X = np.concatenate([X, np.array([[a, b] for a, b, _ in add], np.float32)])
        y = np.concatenate([y, np.array([c for *_, c in add], np.int64)])
        tr = np.concatenate([tr, np.arange(len(y) - len(add), len(y))])
    k = max(ws.n_classes, int(y.max()) + 1 if len(y) else 2)
    problem = Problem(ws.problem.dataset, X.astype(np.float32), y.astype(np.int64), tr.astype(np.int64),
                      te.astype(np.int64), k)
    return Workspace(problem=problem, source="drawn", model_cfg=ws.model_cfg, grid=ws.grid)
