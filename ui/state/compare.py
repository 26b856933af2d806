"""The Compare page's numbers: run several unlearning methods on one forget set, side by side.

Every method starts from the workspace's *original* model and forgets the same set of global point
ids; the retain set is the training split minus that set. The model retrained from scratch on the
retain set is the reference (run once, always): every method is evaluated against it, and the
table shows each metric's gap to it. The figures are drawn by ``ui.views.compare``.

    comp = run_comparison(ws, forget_ids, ["jit", "finetune"], {"jit": {"sigma": 0.5}},
                          progress=lambda done, total, method, step, loss: ...)
    comparison_table(comp)      # pandas DataFrame, one row per model
    gap_frame(comp)             # long table of the gaps to retrain (for the gap chart)
    boundary_layers(ws, comp)   # [(name, canvas Layers or None)], one per model
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from torch import nn

from unlearn_core import METHODS, evaluate, unlearn
from unlearn_core.problem import choose_forget
from unlearn_core.training import FIT_DEFAULTS

from .grids import Layers, RetrainBand, band_layers
from .workspace import Diverged, Workspace, check_health

REFERENCE = "retrain"
ORIGINAL = "original"

#: (metric key, column name with its direction, scale). ↑ = higher is better, ↓ = lower is better,
#: (→ retrain) = the target is the retrained model's value.
METRIC_COLUMNS = [
    ("acc_retain", "retain acc % ↑", 100.0),
    ("acc_forget", "forget acc % (→ retrain)", 100.0),
    ("acc_test", "test acc % ↑", 100.0),
    ("mia", "MIA % (→ retrain)", 100.0),
    ("js_forget", "JS forget ↓", 1.0),  # divergence from the retrained model's predictions
    ("js_test", "JS test ↓", 1.0),
    ("boundary_disagreement", "boundary disagree % ↓", 100.0),
]
#: Metrics that get a "gap to retrain" column (method - retrain, in percentage points). The JS and
#: boundary columns are already distances to the retrained model, so they need no gap column.
GAP_METRICS = {"acc_retain": "Δ retain", "acc_forget": "Δ forget", "acc_test": "Δ test", "mia": "Δ MIA"}
#: The JiT hyperparameters the page exposes.

Progress = Callable[[int, int, str, int, float], None]  # (done, total, method, step, loss)


@dataclass
class MethodRun:
    """One method's outcome: a model, or an error (diverged / failed) and no model."""
    name: str
    model: nn.Module | None
    seconds: float  # the method alone, evaluation excluded (NaN when it failed)
    steps: int
    hyperparameters: dict
    history: list[dict] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Comparison:
    forget_ids: np.ndarray  # global ids
    methods: list[str]  # the methods asked for, in order (retrain excluded: it is the reference)
    original: nn.Module
    original_metrics: dict
    reference: MethodRun  # the retrained model
    runs: dict[str, MethodRun]  # method -> run, in the order of ``methods``

    @property
    def rows(self) -> list[str]:
        """Row order of the table and the grid: original, retrain, then the methods."""
        return [ORIGINAL, REFERENCE, *self.methods]

    def model(self, name: str) -> nn.Module | None:
        if name == ORIGINAL:
            return self.original
        if name == REFERENCE:
            return self.reference.model
        return self.runs[name].model


# --- the forget set ------------------------------------------------------------------------------

def scenario_ids(ws: Workspace, setting: str, *, seed: int = 0, forget_class: int | None = None,
                 forget_count: int = 20) -> np.ndarray:
    """Global ids of a forget scenario (high_info, random, full_class, region) on the workspace."""
    if not ws.trained:
        raise ValueError("train the model first: the scenarios use the original model and its training split")
    rows = choose_forget(setting, ws.problem, ws.original, int(seed), forget_class=forget_class,
                         forget_count=int(forget_count))
    return np.sort(ws.train_ids[np.asarray(rows, np.int64)])


def validate_forget(ws: Workspace, forget_ids) -> tuple[np.ndarray, np.ndarray]:
    """(forget ids, retain ids), both global and sorted; ValueError with a clear message when the
    forget set is empty, holds non-training points, or is the whole training set."""
    ids = np.unique(np.asarray(list(forget_ids), np.int64))
    if len(ids) == 0:
        raise ValueError("The forget set is empty: select training points on the Playground, or pick a "
                         "scenario that finds points to forget.")
    train = ws.train_ids
    bad = ids[~np.isin(ids, train)]
    if len(bad):
        raise ValueError(f"Points {bad[:5].tolist()} are not training points (test points cannot be "
                         f"forgotten); remove them from the forget set.")
    retain = np.setdiff1d(train, ids)
    if len(retain) == 0:
        raise ValueError("The forget set is the whole training set: a model retrained on nothing is undefined. "
                         "Forget fewer points.")
    return ids, retain


# --- running -------------------------------------------------------------------------------------

def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // max(1, int(b)))


def expected_steps(method: str, hp: dict, n_forget: int, n_retain: int, original: nn.Module | None = None) -> int:
    """How many optimiser steps ``method`` will take (for a progress bar; not a promise)."""
    if method == "jit":
        return int(hp["epochs"]) * _ceil_div(n_forget, hp["batch_size"])
    if method == "retrain":
        recipe = dict(FIT_DEFAULTS, **getattr(original, "fit_recipe", {}))
        recipe.update({k: v for k, v in hp.items() if k in ("epochs", "batch_size") and v is not None})
        return int(recipe["epochs"]) * _ceil_div(n_retain, recipe["batch_size"])
    if method == "random_label":
        return int(hp["epochs"]) * _ceil_div(n_retain + n_forget, hp["batch_size"])
    if method in ("ssd", "lf_ssd"):  # one edit, no optimiser steps
        return 1
    if method == "gkt":
        return int(hp["n_iterations"]) * int(hp["n_student_iter"])  # at most: gated batches may be skipped
    if "epochs" in hp and "batch_size" in hp:
        return int(hp["epochs"]) * _ceil_div(n_retain, hp["batch_size"])
    return 1


def hyperparameters_for(methods, overrides: dict | None = None) -> dict[str, dict]:
    """Each method's defaults with ``overrides[method]`` applied (unknown names are an error)."""
    overrides = overrides or {}
    out = {}
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
        hp = METHODS[m].defaults()
        extra = set(overrides.get(m, {})) - set(hp)
        if extra:
            raise ValueError(f"{m} has no hyperparameter(s) {', '.join(sorted(extra))}")
        hp.update(overrides.get(m, {}))
        out[m] = hp
    return out


def result_key(ws: Workspace, forget_ids, methods, overrides: dict | None = None) -> tuple:
    """A hashable key for one comparison: the forget set, the methods and their hyperparameters.
    (The workspace's original model is checked separately: see ``is_current``.)"""
    hps = hyperparameters_for([REFERENCE, *[m for m in methods if m != REFERENCE]], overrides)
    return (tuple(int(i) for i in np.unique(np.asarray(list(forget_ids), np.int64))),
            tuple(m for m in methods if m != REFERENCE),
            tuple((m, tuple(sorted((k, repr(v)) for k, v in hp.items()))) for m, hp in hps.items()))


def is_current(comp: Comparison | None, ws: Workspace) -> bool:
    """Whether ``comp`` was computed from this workspace's current original model."""
    return comp is not None and comp.original is ws.original


def run_comparison(ws: Workspace, forget_ids, methods, overrides: dict | None = None, *,
                   progress: Progress | None = None, device: str = "cpu") -> Comparison:
    """Retrain once (the reference), then run each of ``methods`` from ``ws.original`` on the same
    forget set, and evaluate every model (original, retrain, methods) against the retrained one.

    ``overrides``: {method: {hyperparameter: value}} on top of the defaults. ``progress(done, total,
    method, step, loss)`` runs after every optimiser step of every method (``total`` is the expected
    number of steps over all of them). A method whose loss becomes non-finite or whose model
    collapses to one class is recorded with ``error`` set and no metrics, instead of raising; a
    failure of the reference (retrain) raises.
    """
    if not ws.trained:
        raise ValueError("train the model first")
    forget_ids, retain_ids = validate_forget(ws, forget_ids)
    methods = list(dict.fromkeys(m for m in methods if m != REFERENCE))
    hps = hyperparameters_for([REFERENCE, *methods], overrides)
    forget, retain = ws.pairs(forget_ids), ws.pairs(retain_ids)
    original = ws.original
    plan = [REFERENCE, *methods]
    totals = {m: expected_steps(m, hps[m], len(forget_ids), len(retain_ids), original) for m in plan}
    total = sum(totals.values())
    done = [0]

    def run(name: str) -> MethodRun:
        def callback(step: int, loss: float, model: nn.Module) -> None:
            if not math.isfinite(loss):
                raise Diverged(f"the loss became {loss} at step {step}", step)
            done[0] += 1
            if progress is not None:
                progress(min(done[0], total), total, name, step, loss)

        start = done[0]
        needs_retain = METHODS[name].needs != "forget"
        try:
            res = unlearn(name, original, forget=forget, retain=retain if needs_retain else None, device=device,
                          callback=callback, **hps[name])
            model = res.model.cpu().eval()
            check_health(model, *retain)
        except (Diverged, ValueError) as err:
            done[0] = start + totals[name]
            if name == REFERENCE:
                raise
            kind = "diverged" if isinstance(err, Diverged) else "failed"
            return MethodRun(name, None, float("nan"), int(getattr(err, "step", 0) or 0), hps[name],
                             error=f"{kind}: {err}")
        done[0] = start + totals[name]  # keep the bar honest when the estimate was off
        return MethodRun(name, model, float(res.seconds), len(res.history), res.hyperparameters, res.history)

    reference = run(REFERENCE)
    runs = {m: run(m) for m in methods}
    kw = dict(retain=retain, forget=forget, test=ws.test, reference=reference.model, bounds=ws.bounds)
    original_metrics = evaluate(original, **kw)
    reference.metrics = evaluate(reference.model, **kw)
    for r in runs.values():
        if r.ok:
            r.metrics = evaluate(r.model, **kw)
    return Comparison(forget_ids, methods, original, original_metrics, reference, runs)


# --- the table -----------------------------------------------------------------------------------

def metrics_of(comp: Comparison, name: str) -> dict:
    if name == ORIGINAL:
        return comp.original_metrics
    if name == REFERENCE:
        return comp.reference.metrics
    return comp.runs[name].metrics


def comparison_table(comp: Comparison) -> pd.DataFrame:
    """One row per model (original, retrain, methods), indexed by name.

    Columns, in this order: the accuracies and the MIA, each with its direction in the name
    (percent) and followed by its gap to retrain ("Δ ...": model - retrain, percentage points);
    ``seconds`` (the method alone, evaluation excluded; NaN for the original); the distances to the
    retrained model (JS in [0, 1], boundary disagreement in percent); ``steps`` (optimiser steps)
    and ``status`` ("before", "reference", "ok", or why it failed). A failed method's metrics are NaN.
    """
    ref = comp.reference.metrics
    records = {}
    for name in comp.rows:
        m = metrics_of(comp, name)
        row = {}
        for key, col, scale in METRIC_COLUMNS:
            if key not in GAP_METRICS:
                continue
            row[col] = m.get(key, float("nan")) * scale
            row[GAP_METRICS[key]] = (m[key] - ref[key]) * 100.0 if key in m else float("nan")
        if name == ORIGINAL:
            row.update(seconds=float("nan"), steps=0, status="before")
        elif name == REFERENCE:
            row.update(seconds=comp.reference.seconds, steps=comp.reference.steps, status="reference")
        else:
            r = comp.runs[name]
            row.update(seconds=r.seconds, steps=r.steps, status="ok" if r.ok else r.error)
        for key, col, scale in METRIC_COLUMNS:
            if key not in GAP_METRICS:
                row[col] = m.get(key, float("nan")) * scale
        records[name] = row
    df = pd.DataFrame.from_dict(records, orient="index")
    df = df[[c for c in df.columns if c not in ("steps", "status")] + ["steps", "status"]]
    df.index.name = "model"
    return df


def gap_frame(comp: Comparison) -> pd.DataFrame:
    """Long table for the gap chart: (model, metric, gap) with gap = model - retrain in points for
    the accuracies and MIA, and the boundary disagreement (already a distance to retrain)."""
    table = comparison_table(comp)
    cols = list(GAP_METRICS.values()) + ["boundary disagree % ↓"]
    rows = []
    for name in [ORIGINAL, *comp.methods]:
        for col in cols:
            label = "boundary disagree %" if col.startswith("boundary") else col.replace("Δ ", "") + (" gap" if "MIA" in col else " acc gap")
            rows.append(dict(model=name, metric=label, gap=float(table.loc[name, col])))
    return pd.DataFrame(rows)


# --- the grid ------------------------------------------------------------------------------------

def boundary_layers(ws: Workspace, comp: Comparison, band: RetrainBand | None = None) -> list[tuple[str, Layers | None]]:
    """(name, canvas layers) per row of the table, in order; None for a failed method. Each model is
    shown with the retrained model as its ghost (the reference itself without one). With ``band``
    (``ws.retrain_band(k, comp.forget_ids)``) the ghost is the K retrains' majority, and cells where
    they disagree among themselves are marked apart (``Layers.disagreement``), the reference included."""
    out = []
    for name in comp.rows:
        model = comp.model(name)
        if model is None:
            out.append((name, None))
        elif band is not None:
            now = ws.layers(model)
            out.append((name, band_layers(now.shade, now.cls, band)))
        else:
            out.append((name, ws.layers(model, None if name == REFERENCE else comp.reference.model)))
    return out
