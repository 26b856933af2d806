"""The 2-D bench: per seed, the original, retrain (always), each method, and optionally an audit.

Rows are plain dicts (``unlearn_core.report`` turns them into tables); the CLI
(``unlearn_core.bench.cli``) parses flags and prints. The data is a ``toy_data`` dataset, or the
user's own points (``csv_problem``: an ``x,y,label`` file read by the app's validated loader).
"""
from __future__ import annotations

import os

import numpy as np
import torch

import toy_data
from unlearn_core import scenarios
from unlearn_core.audit import run_audit
from unlearn_core.methods import METHODS, unlearn
from unlearn_core.methods.spec import not_applicable
from unlearn_core.metrics import evaluate
from unlearn_core.problem import ModelRecipe, Problem, choose_forget, split, train_original
from unlearn_core.training import predict_logits

#: The methods the 2-D bench runs when --methods is not given.
DEFAULT_2D_METHODS = ("jit", "retrain", "finetune", "neggrad_plus", "random_label")
#: ``--dataset csv``: the user's own 2-D points, from ``--data-dir points.csv``.
CSV_DATASET = "csv"


def csv_problem(path, *, data_seed: int = 0, test_size: float = 0.25, keep_in_train=None) -> Problem:
    """The user's ``x,y,label`` CSV file as a 2-D problem, read by the loader the app uses
    (``toy_data.load_csv_with_labels``: sizes, values and labels checked, every error a message with
    the row and column). Split as a generated dataset is (``toy_data.train_test_split``, stratified,
    seeded by ``data_seed``); ``keep_in_train`` are point indices in file order (0 = the first point).
    ValueError naming ``--data-dir`` when the file cannot be used."""
    where = os.path.expanduser(str(path))
    if not os.path.exists(where):
        raise ValueError(f"--data-dir {path}: the file does not exist")
    if not os.path.isfile(where):
        raise ValueError(f"--data-dir {path}: is not a file; --dataset csv reads one x,y,label CSV file")
    try:
        X, y, names = toy_data.load_csv_with_labels(where)
    except OSError as err:
        raise ValueError(f"--data-dir {path}: cannot read the file ({err.strerror or err})") from None
    except ValueError as err:
        raise ValueError(f"--data-dir {path}: {err}") from None
    n = len(y)
    bad = [i for i in keep_in_train or () if i >= n]
    if bad:
        raise ValueError(f"--forget-indices: {bad[0]} is out of range; {path} has {n} points (0..{n - 1})")
    counts = np.bincount(y, minlength=len(names))
    if n < 8 or counts.min() < 2:
        small = names[int(counts.argmin())]
        raise ValueError(f"--data-dir {path}: {n} points, class {small!r} with {int(counts.min())}; the bench needs "
                         "at least 8 points and 2 per class to split them into train and test")
    *_, tr, te = toy_data.train_test_split(X, y, test_size=test_size, seed=data_seed, keep_in_train=keep_in_train)
    return Problem(CSV_DATASET, X, y, np.asarray(tr), np.asarray(te), len(names))


#: high_info (alpha(x)) and region's automatic box compare every pair of training points (n x n arrays):
#: at most this many training points for them.
PAIRWISE_MAX_POINTS = 4_000

#: The flag that chooses each setting's forget set, named in its errors.
FORGET_FLAGS = {"full_class": "--forget-class", "random": "--forget-count", "region": "--forget-region",
                "indices": "--forget-indices", "high_info": "--tau, --radius"}


def forget_rows(setting: str, problem: Problem, model, seed: int, **forget_kw):
    """``problem.choose_forget``, with its errors naming the setting's flag (``FORGET_FLAGS``)."""
    try:
        return choose_forget(setting, problem, model, seed, **forget_kw)
    except ValueError as err:
        text = str(err)
        raise ValueError(text if text.startswith("--") else f"{FORGET_FLAGS.get(setting, '--setting')}: {text}") \
            from None


def check_forget_setting(setting: str, problem: Problem, seed: int, **forget_kw) -> None:
    """The forget selection checked before any training: its bounds, and a selection where it needs no model
    (high_info: the points with alpha < tau before the model's filter; none there means none after it).
    ValueError naming the flag."""
    n = len(problem.train_idx)
    if (setting == "high_info" or (setting == "region" and forget_kw.get("forget_region") is None)) \
            and n > PAIRWISE_MAX_POINTS:
        what = "high_info compares" if setting == "high_info" else "region without --forget-region compares"
        raise ValueError(f"--setting {what} every pair of training points: at most {PAIRWISE_MAX_POINTS:,} training "
                         f"points, this run has {n:,}; lower --n-samples"
                         + (" or give --forget-region" if setting == "region" else ""))
    if setting == "high_info":
        try:
            scenarios.high_information(problem.X_train, problem.y_train, tau=forget_kw.get("tau", 0.5),
                                       radius=forget_kw.get("radius", 0.3))
        except ValueError as err:
            raise ValueError(f"{FORGET_FLAGS[setting]}: {err}") from None
    else:
        split(problem, forget_rows(setting, problem, None, seed, **forget_kw))


def diverged(model, X) -> bool:
    """True when ``model``'s outputs on ``X`` are no longer finite (a step too large)."""
    with torch.no_grad():
        return not bool(torch.isfinite(predict_logits(model, torch.as_tensor(X))).all())


def run_seed(problem: Problem, recipe: ModelRecipe, seed: int, setting: str, methods: list[str],
             overrides: dict[str, dict], device: str = "cpu", progress=None, audit: int = 0,
             audit_protocol: str = "challenge", **forget_kw) -> list[dict]:
    """One seed: original, retrain (always), then each method. Returns JSON rows.

    With ``audit=K`` the seed's forget set is also audited with K models per sample
    (``unlearn_core.audit.run_audit``, protocol ``audit_protocol``): method rows get the method's
    scores, the retrain row the floor (retrain vs retrain) and the original row the ceiling (no unlearning).
    """
    original = train_original(problem, recipe, seed, device)
    if diverged(original, problem.X):
        raise ValueError(f"the original model diverged with --lr {recipe.lr:g} (seed {seed}): its outputs are no "
                         "longer finite; lower --lr")
    rows_f = forget_rows(setting, problem, original, seed, **forget_kw)
    forget, retain = split(problem, rows_f)
    test = problem.test
    tick = progress.update if progress is not None else (lambda n=1: None)
    tick()
    base = dict(dataset=problem.dataset, setting=setting, seed=seed, n_forget=int(len(rows_f)))
    results = {}
    ref = unlearn("retrain", original, forget=forget, retain=retain, device=device, seed=seed,
                  **overrides.get("retrain", {}))
    results["retrain"] = ref
    tick()
    # A class-level method (UNSIR, EMMN, GKT) has no meaning in the random setting: an n/a row, not a run.
    na = {m: not_applicable(METHODS[m], setting) for m in methods if m in METHODS}
    for m in methods:
        if m == "retrain":
            continue
        if not na.get(m):
            hp = dict(overrides.get(m, {}))
            hp.setdefault("seed", seed)
            results[m] = unlearn(m, original, forget=forget, retain=retain, device=device, **hp)
        tick()
    rows = []
    kw = dict(retain=retain, forget=forget, test=test, reference=ref.model, bounds=problem.bounds)
    rows.append(dict(base, method="original", seconds=0.0, steps=0, hyperparameters=dict(vars(recipe)),
                     **evaluate(original, **kw)))
    blank = {k: float("nan") for k in rows[0] if k not in base and k not in ("method", "steps", "hyperparameters")}
    for m in ["retrain"] + [m for m in methods if m != "retrain"]:
        if m != "retrain" and na.get(m):
            rows.append(dict(base, method=m, **blank, steps=0, hyperparameters={}, na=na[m],
                             error=f"n/a: {na[m]} ({m} forgets whole classes; the {setting} setting has none)"))
            continue
        r = results[m]
        if diverged(r.model, problem.X):  # no metric means anything: a failure row, said under the table
            rows.append(dict(base, method=m, **dict(blank, seconds=r.seconds), steps=len(r.history),
                             hyperparameters=r.hyperparameters,
                             error=f"diverged: {m}'s outputs are no longer finite (try a smaller lr)"))
            continue
        rows.append(dict(base, method=m, seconds=r.seconds, steps=len(r.history),
                         hyperparameters=r.hyperparameters, **evaluate(r.model, **kw)))
    if audit:
        ran = [m for m in methods if not na.get(m)]
        add_audit(rows, problem, recipe, seed, rows_f, ran, overrides, int(audit), device, audit_protocol)
        tick()
    return rows


def add_audit(rows: list[dict], problem: Problem, recipe: ModelRecipe, seed: int, rows_f, methods, overrides,
              K: int, device, protocol: str = "challenge") -> None:
    """Audit one seed's forget set with K models per sample and add the scores to its rows in place.

    ``protocol`` is run_audit's: "challenge" unlearns K copies of one original trained with ``seed``
    (the same recipe and seed as the bench's original row), "originals" K originals once each.
    ``row["audit_no_spread"]`` is True where the row's K models were identical (a deterministic
    method, or the ceiling, under the challenge protocol): its epsilons are the cap by construction.
    """
    res = run_audit(lambda s: recipe.build(problem.n_classes, s),
                    (problem.X_train, problem.y_train), rows_f, problem.test, K=K, methods=methods,
                    recipe=recipe.fit_kwargs(),
                    overrides=overrides, seed=seed, device=device, protocol=protocol)
    for row in rows:
        fields = res.row_fields(row["method"])
        if fields is not None:
            row.update(fields)
