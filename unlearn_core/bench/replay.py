"""Replay a playground session as a bench run: ``python -m unlearn_core.bench --session FILE``.

A session file (saved by the app's **Session (JSON)** button; format in ``unlearn_core.session_file``)
holds the data and its split, the original model's weights, and the forget history: for each request,
the points forgotten, the method and the hyperparameters it ran with, and the model after it. The
replay:

1. starts from the saved original (its weights, bit for bit);
2. runs each forget request again, in order, with its method and recorded hyperparameters (the same
   retain set the app used: the training points not forgotten so far), and measures how far the replayed
   model is from the one the app saved (the largest logit difference over all points);
3. retrains from scratch without every forgotten point, once per ``--seeds`` seed (the oracle and its
   spread);
4. optionally runs other methods (``--methods``) on the session's whole forget set, from the original,
   once per seed: how would they have done on this classroom demo?

Rows are the 2-D bench's (``unlearn_core.report`` tables, ``--json``), with setting ``session``:
``original``, ``retrain`` (per seed), ``saved`` (the app's final model), ``replayed`` (the replay's), and
one row per extra method and seed.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from unlearn_core.methods import METHODS, unlearn
from unlearn_core.metrics import evaluate
from unlearn_core.problem import Problem
from unlearn_core.session_file import MAX_BYTES, SessionDoc, SessionLimits, read_session
from unlearn_core.training import predict_logits

#: The setting named in the rows of a replay.
SESSION_SETTING = "session"


def read_session_file(path: str, limits: SessionLimits | None = None) -> SessionDoc:
    """The checked session file at ``path``; ValueError naming ``--session`` and what is wrong."""
    where = os.path.expanduser(str(path))
    if not os.path.exists(where):
        raise ValueError(f"--session {path}: the file does not exist")
    if not os.path.isfile(where):
        raise ValueError(f"--session {path}: is not a file; give a session JSON saved by the app's "
                         "'Session (JSON)' button")
    try:
        with open(where, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)  # never more than a session file may hold
    except OSError as err:
        raise ValueError(f"--session {path}: cannot read the file ({err.strerror or err})") from None
    try:
        doc = read_session(data, limits or SessionLimits())
    except ValueError as err:
        raise ValueError(f"--session {path}: {err}") from None
    if not doc.steps:
        raise ValueError(f"--session {path}: the session holds no forget request, so there is nothing to replay; "
                         "forget points in the app (press Forget), then save the session again")
    return doc


def max_logit_gap(a, b, X) -> float:
    """The largest |logit difference| of two models over the points ``X``."""
    with torch.no_grad():
        X = torch.as_tensor(X)
        return float((predict_logits(a, X) - predict_logits(b, X)).abs().max())


def replay_session(doc: SessionDoc, *, seeds: list[int], methods: list[str] = (), overrides: dict | None = None,
                   device: str = "cpu", progress=None) -> tuple[list[dict], list[dict]]:
    """(rows, requests): the replay's JSON rows (see the module docstring) and, per forget request,
    {request, method, n_points, steps, seconds, max_logit_gap} where ``max_logit_gap`` compares the
    replayed model with the saved one after that request (0.0: reproduced exactly)."""
    overrides = overrides or {}
    tick = progress.update if progress is not None else (lambda n=1: None)
    X, y = doc.X, doc.y
    pairs = lambda ids: (X[np.asarray(ids, np.int64)], y[np.asarray(ids, np.int64)])
    original = doc.original  # a file with forget requests always holds its original (read_session checks)
    model, gone, requests = original, np.zeros(0, np.int64), []
    for i, step in enumerate(doc.steps, 1):
        gone = np.union1d(gone, step.ids)
        retain = np.setdiff1d(doc.train_ids, gone)
        needs_retain = METHODS[step.method].needs != "forget"
        res = unlearn(step.method, model, forget=pairs(step.ids), retain=pairs(retain) if needs_retain else None,
                      device=device, **step.hyperparameters)
        model = res.model.cpu().eval()
        requests.append(dict(request=i, method=step.method, n_points=int(len(step.ids)), steps=len(res.history),
                             seconds=res.seconds, saved_steps=len(step.history),
                             max_logit_gap=max_logit_gap(model, step.model, X)))
        tick()
    retain_ids = np.setdiff1d(doc.train_ids, gone)
    forget, retain, test = pairs(gone), pairs(retain_ids), pairs(doc.test_ids)
    problem = Problem(doc.dataset, X, y, doc.train_ids, doc.test_ids, doc.n_classes)
    history = " → ".join(dict.fromkeys(s.method for s in doc.steps))
    rows: list[dict] = []
    for seed in seeds:
        ref = unlearn("retrain", original, forget=forget, retain=retain, device=device, seed=seed,
                      **overrides.get("retrain", {}))
        tick()
        kw = dict(retain=retain, forget=forget, test=test, reference=ref.model, bounds=problem.bounds)
        base = dict(dataset=doc.dataset, setting=SESSION_SETTING, seed=int(seed), n_forget=int(len(gone)))
        rows.append(dict(base, method="original", seconds=0.0, steps=0, hyperparameters=dict(doc.model_config),
                         **evaluate(original, **kw)))
        rows.append(dict(base, method="retrain", seconds=ref.seconds, steps=len(ref.history),
                         hyperparameters=ref.hyperparameters, **evaluate(ref.model, **kw)))
        saved = doc.steps[-1]
        rows.append(dict(base, method="saved", seconds=float(sum(s.seconds for s in doc.steps)),
                         steps=int(sum(len(s.history) for s in doc.steps)), history=history,
                         hyperparameters=[dict(s.hyperparameters) for s in doc.steps], **evaluate(saved.model, **kw)))
        rows.append(dict(base, method="replayed", seconds=float(sum(r["seconds"] for r in requests)),
                         steps=int(sum(r["steps"] for r in requests)), history=history,
                         hyperparameters=[dict(s.hyperparameters) for s in doc.steps], **evaluate(model, **kw)))
        for m in methods:
            if m == "retrain":
                continue
            hp = dict(overrides.get(m, {}))
            hp.setdefault("seed", seed)
            res = unlearn(m, original, forget=forget, retain=retain, device=device, **hp)
            rows.append(dict(base, method=m, seconds=res.seconds, steps=len(res.history),
                             hyperparameters=res.hyperparameters, **evaluate(res.model, **kw)))
            tick()
    return rows, requests


def requests_text(requests: list[dict]) -> str:
    """The lines under the table: each request replayed, and whether it reproduced the app's model."""
    lines = []
    for r in requests:
        same = ("reproduced exactly" if r["max_logit_gap"] == 0.0 else
                f"largest logit difference from the saved model {r['max_logit_gap']:.3g}")
        lines.append(f"request {r['request']}: {r['method']} forgot {r['n_points']} point(s) in {r['steps']} "
                     f"optimiser steps ({r['seconds']:.3f} s; the app took {r['saved_steps']}): {same}")
    return "\n".join(lines)
