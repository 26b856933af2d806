"""Session files: a playground ``Workspace`` as a JSON document, and back (validated).

    session_to_json(ws, metrics=None) -> str     a Workspace as a JSON document (no pickle)
    session_from_json(text) -> Workspace         validated; ValueError (SessionFileError) otherwise
    load_session(text) -> (Workspace, metrics)   the same, with the metrics saved beside it

The format and its reader live in ``unlearn_core.session_file`` (the bench replays these files with
``--session``); this module turns a Workspace into a document and a checked document into a Workspace.
A file may hold what the app itself can produce, no more: ``LIMITS`` are the app's grid, frames, forget
requests, points and model sizes, and the arrays' declared shapes are checked against them before any
of them is decoded, so an upload can never make the server allocate more than ``MAX_DECODED`` bytes.
"""
from __future__ import annotations

import datetime as _dt
import json

import numpy as np

from toy_data import MAX_CSV_ROWS, MAX_SAMPLES
from unlearn_core.problem import Problem
from unlearn_core.session_file import (
    FORMAT,
    MAX_BYTES,
    VERSION,
    Reader,
    SessionFileError,
    SessionLimits,
    model_doc,
    plain_json,
    read_session,
    tensor_doc,
)

from .config import LIMITS as CONTROL_LIMITS
from .config import MAX_CLASSES as APP_CLASSES
from .config import from_query, to_query
from .grids import GridSpec
from .workspace import (
    GRID_RESOLUTION,
    MAX_FRAMES,
    MAX_STEPS,
    ForgetStep,
    ModelConfig,
    Workspace,
)

__all__ = ["LIMITS", "MAX_DECODED", "SessionFileError", "load_session", "session_from_json", "session_to_json"]

#: What a session file may hold: what this app can produce (its controls' largest model, its classes,
#: grid, frames per request, forget requests, and any dataset it can hold).
LIMITS = SessionLimits(points=max(MAX_SAMPLES, MAX_CSV_ROWS), classes=APP_CLASSES,
                       width=int(CONTROL_LIMITS["width"].hi), depth=int(CONTROL_LIMITS["depth"].hi),
                       epochs=int(CONTROL_LIMITS["fit_epochs"].hi), resolution=GRID_RESOLUTION, frames=MAX_FRAMES,
                       steps=MAX_STEPS)
MAX_POINTS, MAX_CLASSES, MAX_RESOLUTION = LIMITS.points, LIMITS.classes, LIMITS.resolution
#: The app's largest model's parameters (199,172) and the bytes of arrays one file may decode (about 61 MB).
MAX_PARAMS, MAX_DECODED = LIMITS.params, LIMITS.decoded


def session_to_json(ws: Workspace, *, metrics: dict | None = None) -> str:
    """The workspace as a JSON document (see the module docstring); ``metrics`` ride along.

    ValueError if a model has non-finite weights, ``metrics`` holds something that is not JSON
    (numbers, strings, lists, dicts; numpy scalars and arrays are converted), the file would
    exceed ``MAX_BYTES``, or anything else would keep it from loading back (it is checked).
    """
    p = ws.problem
    cfg = ws.model_cfg
    steps = []
    for i, s in enumerate(ws.steps):
        frames = np.stack([np.stack([np.asarray(sh, np.uint8), np.asarray(c, np.uint8)]) for sh, c in s.frames]) \
            if s.frames else np.zeros((0, 2, 0, 0), np.uint8)
        steps.append({
            "ids": [int(j) for j in np.asarray(s.ids).tolist()],
            "method": s.method,
            "hyperparameters": plain_json(dict(s.hyperparameters), f"steps[{i}].hyperparameters"),
            "model": model_doc(s.model, f"the model after step {i + 1}"),
            "history": plain_json(list(s.history), f"steps[{i}].history"),
            "seconds": plain_json(float(s.seconds), f"steps[{i}].seconds"),
            "device": str(s.device),
            "frame_steps": [int(k) for k in s.frame_steps],
            "frames": tensor_doc(frames, compress=True),
        })
    grid = None if ws.grid is None else {"bounds": [float(b) for b in ws.grid.bounds],
                                         "resolution": int(ws.grid.resolution)}
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "data": {
            "dataset": str(p.dataset),
            "source": str(ws.source),
            "n_classes": int(p.n_classes),
            "X": tensor_doc(np.asarray(p.X, np.float32)),
            "y": [int(v) for v in np.asarray(p.y).tolist()],
            "train_ids": [int(v) for v in np.asarray(p.train_idx).tolist()],
            "test_ids": [int(v) for v in np.asarray(p.test_idx).tolist()],
        },
        "model_config": {"width": int(cfg.width), "depth": int(cfg.depth), "activation": str(cfg.activation),
                         "epochs": int(cfg.epochs), "lr": float(cfg.lr), "batch_size": int(cfg.batch_size),
                         "seed": int(cfg.seed)},
        "grid": grid,
        "selection": sorted(int(i) for i in ws.selection),
        "original": None if ws.original is None else model_doc(ws.original, "the original model"),
        "fit_history": plain_json(list(ws.fit_history), "fit_history"),
        "steps": steps,
        "metrics": plain_json(dict(metrics or {}), "metrics"),
    }
    text = json.dumps(doc, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_BYTES:
        raise ValueError(f"the session would take {len(text) / 2**20:.1f} MB, over the {MAX_BYTES / 2**20:g} MB "
                         f"limit of a session file; use fewer points or undo some forget steps")
    try:  # a saved file must load back (~10 ms): catch what the reader would refuse now, not later
        load_session(text)
    except SessionFileError as err:
        raise ValueError(f"cannot save the session: it would not load back ({err.path}: {err.problem})") from None
    return text


def _saved_config(r: Reader, v, path: str) -> dict[str, str]:
    """The page's settings saved beside a session (``config.to_query``'s strings), checked and put back in
    that canonical form, so that ``config.from_query`` on them cannot fail after the session is swapped in."""
    v = r.obj(v, path)
    if len(v) > 200:
        raise SessionFileError(path, f"has {len(v)} keys, more than the limit of 200")
    query = {}
    for key, x in v.items():
        p = f"{path}[{json.dumps(key[:40])}]"
        r.str_(key, p, 40)
        if isinstance(x, list):  # from_query reads the last of repeated parameters
            x = r.lst(x, p, 20)[-1] if x else None
        if x is None:
            continue
        if isinstance(x, bool):
            x = "true" if x else "false"
        elif isinstance(x, (int, float)):
            x = repr(r.num(x, p))
        query[key] = r.str_(x, p, 200)
    try:
        cfg, _ = from_query(query)
        return to_query(cfg)
    except (ValueError, TypeError, KeyError, OverflowError) as err:  # not expected: from_query clamps and notes
        raise SessionFileError(path, f"the saved settings cannot be read ({err})") from None


def load_session(text: str | bytes) -> tuple[Workspace, dict]:
    """(Workspace, metrics) from a session file's text (str or bytes): a new Workspace, returned only
    when all of the file checks out (``unlearn_core.session_file.read_session`` with this app's
    ``LIMITS``: everything is checked before any array is decoded). A saved ``metrics["config"]``
    comes back in ``config.to_query``'s form. Raises ``SessionFileError`` (a ValueError) naming what is
    wrong, where (a JSON path such as ``$.steps[1].ids[3]``) and what to do; never anything else for
    any str or bytes.
    """
    def check_metrics(metrics: dict) -> dict:
        if "config" in metrics:
            metrics = dict(metrics, config=_saved_config(Reader(LIMITS), metrics["config"], '$.metrics["config"]'))
        return metrics

    doc = read_session(text, LIMITS, check_metrics)
    grid = None if doc.grid is None else GridSpec(*doc.grid)
    steps = [ForgetStep(ids=s.ids, method=s.method, hyperparameters=s.hyperparameters, model=s.model,
                        history=s.history, seconds=s.seconds, frames=s.frames, frame_steps=s.frame_steps,
                        device=s.device) for s in doc.steps]
    problem = Problem(doc.dataset, doc.X, doc.y, doc.train_ids, doc.test_ids, doc.n_classes)
    ws = Workspace(problem=problem, source=doc.source, model_cfg=ModelConfig(**doc.model_config),
                   original=doc.original, fit_history=doc.fit_history, steps=steps,
                   selection={int(i) for i in doc.selection}, grid=grid)
    return ws, doc.metrics


def session_from_json(text: str | bytes) -> Workspace:
    """The Workspace saved by ``session_to_json`` (same points, models, steps, selection).
    ValueError (``SessionFileError``) with what, where and what to do if the file is not valid."""
    return load_session(text)[0]
