"""What a Playground link carries beyond the configuration: the points (when they are not generated) and the
forget history, as URL-safe text. Pure functions, no Streamlit.

``data=`` (``encode_data`` / ``decode_data``): drawn or uploaded points, zlib-compressed and URL-safe base64
(no padding). The binary block, little-endian:

    u8 format (0: float32 coordinates, 1: uint16 coordinates quantised over the points' range)
    u8 kind (0: drawn, 1: CSV)   u8 n_classes   u8 ordered (1: the training split is in id order)
    u16 n   f32[4] canvas bounds (x0, x1, y0, y1)
    format 0: f32[2n] x, y per point        format 1: f32[4] range (x0, x1, y0, y1), u16[2n]
    u8[n] label | 0x80 for a test point
    ordered 0: u16[n_train] the training ids in training order

Point ids are row indices, so the order of the points is kept exactly (a forget history names them). The
order of the training split matters too (training shuffles positions with its seed), hence ``ordered``.
Coordinates are exact (float32, as the app holds them) when the link stays under ``MAX_DATA_CHARS``;
otherwise they are quantised to 1/65535 of the points' range (the page says so: the retrained model may
then differ in the last digits), and a drawing too large even then cannot travel in a link at all.

``hist=`` (``encode_history`` / ``decode_history``): the forget requests, zlib-compressed JSON
``[{"m": method, "ids": [first id, gaps...], "hp": {changed hyperparameters}}, ...]``: the hyperparameters
the run actually used (after the JiT stretch), as differences from the method's defaults. Replaying them on
the same data and configuration repeats the runs (training and every method are seeded).

Everything decoded is checked before anything is built: the text's length and alphabet, the decompressed
size (``zlib.decompressobj`` with ``max_length``: a zip bomb stops at the bound), the exact layout, every
number. A bad link raises ``ValueError`` with a message that says what is wrong; nothing is half-applied.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from unlearn_core import METHODS

from .config import MAX_CLASSES
from .workspace import MAX_STEPS

#: Sizes, chosen so that the whole link stays under about 8 kB (what browsers, proxies and chat tools keep):
#: the configuration takes about 300 characters, the data and the history share the rest.
MAX_LINK_CHARS = 7500
MAX_DATA_CHARS = 6000
MAX_HISTORY_CHARS = 4000
MAX_LINK_POINTS = 2000  # the most points a link may carry (the Playground's own generator goes to 2000)
MAX_ABS_COORD = 1e6  # drawn and CSV points are plain numbers on a canvas; anything beyond is not ours
_MAX_DATA_BYTES = 8 + 16 + 16 + 2 * 4 * MAX_LINK_POINTS + MAX_LINK_POINTS + 2 * MAX_LINK_POINTS  # the biggest block
_MAX_HISTORY_BYTES = 256 * 1024  # a history of MAX_STEPS requests of MAX_LINK_POINTS ids each fits easily
_B64 = re.compile(r"^[A-Za-z0-9_-]*$")
KINDS = ("drawn", "csv")


@dataclass(frozen=True)
class LinkData:
    """Points a link carries: X float32 [n, 2], y int64 [n], the split (train ids in training order, test ids
    ascending), the number of classes, the canvas bounds, where they came from, and whether the coordinates
    were rounded on the way (``quantised``)."""
    X: np.ndarray
    y: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    n_classes: int
    bounds: tuple[float, float, float, float]
    kind: str = "drawn"
    quantised: bool = False


@dataclass(frozen=True)
class LinkStep:
    """One forget request a link carries: the method, the global ids forgotten (ascending) and every
    hyperparameter the run used (the method's defaults with the recorded changes)."""
    method: str
    ids: tuple[int, ...]
    hyperparameters: dict


# --- text <-> bytes ------------------------------------------------------------------------------------------
def _pack(raw: bytes) -> str:
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")


def _unpack(text, what: str, max_chars: int, max_bytes: int) -> bytes:
    """Bytes from a link's text, bounded before and while decompressing."""
    if not isinstance(text, str):
        raise ValueError(f"the link's {what} is not text")
    if not text:
        raise ValueError(f"the link's {what} is empty")
    if len(text) > max_chars:
        raise ValueError(f"the link's {what} is {len(text)} characters long; a link carries at most {max_chars}")
    if not _B64.match(text):
        raise ValueError(f"the link's {what} has characters that are not URL-safe base64 (it may have been cut or "
                         f"changed when it was copied)")
    if len(text) % 4 == 1:
        raise ValueError(f"the link's {what} is truncated (its base64 ends in the middle of a byte)")
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise ValueError(f"the link's {what} is not valid base64 ({err})") from None
    d = zlib.decompressobj()
    try:
        raw = d.decompress(packed, max_bytes + 1)
    except zlib.error:
        raise ValueError(f"the link's {what} is not valid compressed data (it may have been cut when it was "
                         f"copied)") from None
    if len(raw) > max_bytes or d.unconsumed_tail:
        raise ValueError(f"the link's {what} unpacks to more than {max_bytes} bytes, more than the app ever writes")
    if not d.eof:
        raise ValueError(f"the link's {what} is truncated (the compressed data ends early)")
    if d.unused_data:
        raise ValueError(f"the link's {what} has {len(d.unused_data)} stray bytes after its end")
    return raw


# --- data -----------------------------------------------------------------------------------------------------
def encode_data(X, y, train_idx, test_idx, *, n_classes: int, bounds, kind: str = "drawn",
                max_chars: int = MAX_DATA_CHARS) -> tuple[str, bool] | None:
    """(text, quantised) for the ``data=`` parameter, or None when the points do not fit in ``max_chars``
    even quantised (then the session file is the way to share them). Exact float32 when it fits.

    ValueError for points the link format cannot describe (more than MAX_LINK_POINTS, non-finite, labels
    outside 0..n_classes-1, a split that is not a partition of the ids)."""
    X = np.asarray(X, np.float32).reshape(-1, 2)
    y = np.asarray(y, np.int64).reshape(-1)
    tr = np.asarray(train_idx, np.int64).reshape(-1)
    te = np.asarray(test_idx, np.int64).reshape(-1)
    n = len(y)
    if len(X) != n:
        raise ValueError(f"{len(X)} points but {n} labels")
    if not 1 <= n <= MAX_LINK_POINTS:
        raise ValueError(f"a link carries 1 to {MAX_LINK_POINTS} points, not {n}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not 2 <= int(n_classes) <= MAX_CLASSES:
        raise ValueError(f"a link carries 2 to {MAX_CLASSES} classes, not {n_classes}")
    if not np.isfinite(X).all() or np.abs(X).max() > MAX_ABS_COORD:
        raise ValueError(f"coordinates must be finite and within ±{MAX_ABS_COORD:g}")
    if y.min() < 0 or y.max() >= int(n_classes):
        raise ValueError(f"labels must be in 0..{int(n_classes) - 1}")
    if not np.array_equal(np.sort(np.concatenate([tr, te])), np.arange(n)):
        raise ValueError("the train and test ids must split the points exactly")
    b = np.asarray(bounds, np.float32).reshape(-1)
    if len(b) != 4 or not np.isfinite(b).all():
        raise ValueError("bounds must be 4 finite numbers (x0, x1, y0, y1)")
    ordered = bool(np.all(np.diff(tr) > 0))
    flags = y.astype(np.uint8)
    flags[te] |= 0x80
    order = b"" if ordered else tr.astype("<u2").tobytes()
    head = struct.pack("<BBBBH", 0, KINDS.index(kind), int(n_classes), int(ordered), n) + b.astype("<f4").tobytes()
    exact = head + X.astype("<f4").tobytes() + flags.tobytes() + order
    text = _pack(exact)
    if len(text) <= max_chars:
        return text, False
    lo, hi = X.min(0), X.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.round((X - lo) / span * 65535).clip(0, 65535).astype("<u2")
    rng = np.array([lo[0], hi[0], lo[1], hi[1]], "<f4")
    head = struct.pack("<BBBBH", 1, KINDS.index(kind), int(n_classes), int(ordered), n) + b.astype("<f4").tobytes()
    text = _pack(head + rng.tobytes() + q.tobytes() + flags.tobytes() + order)
    return (text, True) if len(text) <= max_chars else None


def decode_data(text) -> LinkData:
    """The points of a ``data=`` parameter, checked completely; ValueError says what is wrong."""
    raw = _unpack(text, "data", MAX_DATA_CHARS, _MAX_DATA_BYTES)
    if len(raw) < 22:
        raise ValueError(f"the link's data is {len(raw)} bytes, too short to hold its header")
    fmt, kind, k, ordered, n = struct.unpack_from("<BBBBH", raw, 0)
    if fmt not in (0, 1):
        raise ValueError(f"the link's data has format {fmt}, which this app does not know (0 or 1)")
    if kind >= len(KINDS):
        raise ValueError(f"the link's data has source {kind}, which this app does not know")
    if not 2 <= k <= MAX_CLASSES:
        raise ValueError(f"the link's data has {k} classes; the Playground shows 2 to {MAX_CLASSES}")
    if ordered not in (0, 1):
        raise ValueError(f"the link's data has order flag {ordered}, not 0 or 1")
    if not 1 <= n <= MAX_LINK_POINTS:
        raise ValueError(f"the link's data has {n} points; a link carries 1 to {MAX_LINK_POINTS}")
    bounds = np.frombuffer(raw, "<f4", 4, 6).astype(np.float64)
    pos = 22
    coord_bytes = 8 * n if fmt == 0 else 16 + 4 * n
    fixed = pos + coord_bytes + n
    if len(raw) < fixed:
        raise ValueError(f"the link's data is {len(raw)} bytes; {n} points need at least {fixed}")
    if fmt == 0:
        X = np.frombuffer(raw, "<f4", 2 * n, pos).reshape(n, 2).astype(np.float32)
    else:
        rng = np.frombuffer(raw, "<f4", 4, pos).astype(np.float64)
        if not np.isfinite(rng).all() or rng[0] > rng[1] or rng[2] > rng[3] or np.abs(rng).max() > MAX_ABS_COORD:
            raise ValueError("the link's data has a coordinate range that is not finite and ordered")
        q = np.frombuffer(raw, "<u2", 2 * n, pos + 16).reshape(n, 2).astype(np.float64) / 65535
        lo, span = rng[[0, 2]], rng[[1, 3]] - rng[[0, 2]]
        X = (lo + q * span).astype(np.float32)
    pos += coord_bytes
    if not np.isfinite(X).all() or np.abs(X).max() > MAX_ABS_COORD:
        raise ValueError(f"the link's data has coordinates that are not finite or beyond ±{MAX_ABS_COORD:g}")
    flags = np.frombuffer(raw, np.uint8, n, pos)
    pos += n
    if (flags & 0x7F).max() >= k:
        bad = int(np.argmax((flags & 0x7F) >= k))
        raise ValueError(f"the link's data gives point {bad} the label {int(flags[bad] & 0x7F)}; the data has "
                         f"classes 0..{k - 1}")
    y = (flags & 0x7F).astype(np.int64)
    is_test = (flags & 0x80) != 0
    n_train = int((~is_test).sum())
    if ordered:
        tr = np.flatnonzero(~is_test).astype(np.int64)
    else:
        if len(raw) < pos + 2 * n_train:
            raise ValueError(f"the link's data is truncated: the order of its {n_train} training points is missing")
        tr = np.frombuffer(raw, "<u2", n_train, pos).astype(np.int64)
        pos += 2 * n_train
        if not np.array_equal(np.sort(tr), np.flatnonzero(~is_test)):
            raise ValueError("the link's data has a training order that is not a permutation of its training points")
    if len(raw) != pos:
        raise ValueError(f"the link's data has {len(raw) - pos} stray bytes after its end")
    if not np.isfinite(bounds).all() or not (bounds[0] < bounds[1] and bounds[2] < bounds[3]) \
            or np.abs(bounds).max() > 10 * MAX_ABS_COORD:
        raise ValueError("the link's data has canvas bounds that are not finite and increasing")
    return LinkData(X, y, tr, np.flatnonzero(is_test).astype(np.int64), int(k),
                    tuple(float(v) for v in bounds), KINDS[kind], fmt == 1)


# --- history --------------------------------------------------------------------------------------------------
def _changed(method: str, hp: dict) -> dict:
    """The hyperparameters of a run that differ from the method's defaults (JSON values)."""
    defaults = METHODS[method].defaults()
    out = {}
    for k, v in sorted(hp.items()):
        if k in defaults and v == defaults[k] and type(v) is type(defaults[k]):
            continue
        out[k] = v.item() if isinstance(v, np.generic) else v
    return out


def encode_history(steps, *, max_chars: int = MAX_HISTORY_CHARS) -> str | None:
    """The ``hist=`` text for ``steps`` (objects with ``method``, ``ids`` and ``hyperparameters``, such as
    ``Workspace.steps``), or None when there are none or they do not fit in ``max_chars``."""
    if not steps:
        return None
    doc = []
    for s in steps:
        ids = sorted({int(i) for i in np.asarray(s.ids).reshape(-1)})
        gaps = ids[:1] + [b - a for a, b in zip(ids, ids[1:])]
        doc.append({"m": s.method, "ids": gaps, "hp": _changed(s.method, dict(s.hyperparameters))})
    text = _pack(json.dumps(doc, separators=(",", ":"), allow_nan=False).encode())
    return text if len(text) <= max_chars else None


def _check_hp(i: int, method: str, hp) -> dict:
    """Every hyperparameter of step ``i``: the method's defaults with the link's changes, each one checked
    against its Param and, for the ones the page has a widget for, the widget's upper limit (a link cannot ask
    for more work than the page can); the others cannot change (the page never changes them)."""
    where = f"forget request {i + 1} ({method})"
    if not isinstance(hp, dict):
        raise ValueError(f"{where}: the hyperparameters are not a mapping")
    spec = METHODS[method]
    unknown = sorted(str(k) for k in hp if k not in spec.params)
    if unknown:
        raise ValueError(f"{where}: unknown hyperparameter(s) {', '.join(unknown)}")
    full = spec.defaults()
    for k, v in hp.items():
        p = spec.params[k]
        if p.widget is None:
            raise ValueError(f"{where}: {k} cannot be changed on this page (it stays {full[k]!r}), the link says {v!r}")
        if isinstance(v, (list, dict)) or v is None:
            raise ValueError(f"{where}: {k} must be a single value, the link says {v!r}")
        try:
            v = p.check(method, k, v)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        if isinstance(p.widget, tuple) and v > p.widget[1]:
            raise ValueError(f"{where}: {k} = {v:g} is above the page's limit {p.widget[1]:g}")
        full[k] = v
    return full


def decode_history(text) -> list[LinkStep]:
    """The forget requests of a ``hist=`` parameter, checked completely (methods, ids, hyperparameters; the
    ids against the data by ``check_history``); ValueError says what is wrong."""
    raw = _unpack(text, "history", MAX_HISTORY_CHARS, _MAX_HISTORY_BYTES)
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("the link's history is nested too deeply to be a forget history") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"the link's history is not valid JSON ({err})") from None
    if not isinstance(doc, list):
        raise ValueError("the link's history is not a list of forget requests")
    if not 1 <= len(doc) <= MAX_STEPS:
        raise ValueError(f"the link's history has {len(doc)} forget requests; a session holds 1 to {MAX_STEPS}")
    out = []
    for i, s in enumerate(doc):
        if not isinstance(s, dict) or set(s) != {"m", "ids", "hp"}:
            raise ValueError(f"forget request {i + 1} of the link is not {{m, ids, hp}}")
        method = s["m"]
        if not isinstance(method, str) or method not in METHODS:
            raise ValueError(f"forget request {i + 1} names the method {method!r}, which this app does not have")
        gaps = s["ids"]
        if not isinstance(gaps, list) or not 1 <= len(gaps) <= MAX_LINK_POINTS:
            raise ValueError(f"forget request {i + 1} must name 1 to {MAX_LINK_POINTS} point ids")
        if not all(type(g) is int for g in gaps):
            raise ValueError(f"forget request {i + 1} has point ids that are not whole numbers")
        if gaps[0] < 0 or any(g < 1 for g in gaps[1:]):
            raise ValueError(f"forget request {i + 1} has point ids out of order or repeated")
        ids = np.cumsum(np.asarray(gaps, np.int64)) if max(gaps) < MAX_LINK_POINTS else None
        if ids is None or ids[-1] >= MAX_LINK_POINTS:
            raise ValueError(f"forget request {i + 1} names a point id beyond {MAX_LINK_POINTS - 1}")
        out.append(LinkStep(method, tuple(int(v) for v in ids), _check_hp(i, method, s["hp"])))
    return out


def check_history(steps: list[LinkStep], train_ids, n_points: int) -> None:
    """ValueError unless every request forgets training points of these data that no earlier request forgot
    and leaves at least one training point (the checks ``Workspace.check_forget`` makes, all done before
    the first request runs, so that a link is replayed whole or not at all)."""
    train = set(int(i) for i in np.asarray(train_ids).reshape(-1))
    gone: set[int] = set()
    for i, s in enumerate(steps):
        out = [j for j in s.ids if j >= n_points]
        if out:
            raise ValueError(f"forget request {i + 1} names point {out[0]}, but the data has {n_points} points")
        test = [j for j in s.ids if j not in train]
        if test:
            raise ValueError(f"forget request {i + 1} names point {test[0]}, which is not a training point")
        again = [j for j in s.ids if j in gone]
        if again:
            raise ValueError(f"forget request {i + 1} names point {again[0]}, forgotten already by an earlier one")
        gone |= set(s.ids)
        if not train - gone:
            raise ValueError(f"forget request {i + 1} would forget every remaining training point")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number a link may carry")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"{text} is not a finite number")
    return v


# --- a whole link ---------------------------------------------------------------------------------------------
def read_link(params) -> tuple[LinkData | None, list[LinkStep] | None]:
    """(data, history) of a link's query parameters (a mapping of strings; None where absent), both checked
    before either is returned; ValueError for anything wrong in either."""
    q = {k: (v[-1] if isinstance(v, (list, tuple)) and v else v) for k, v in dict(params).items()}
    data = decode_data(q["data"]) if "data" in q else None
    hist = decode_history(q["hist"]) if "hist" in q else None
    if data is not None and hist is not None:
        check_history(hist, data.train_idx, len(data.y))
    return data, hist


def link_params(ws, *, max_chars: int = MAX_LINK_CHARS) -> tuple[dict[str, str], list[str]]:
    """The ``data`` and ``hist`` query parameters for a workspace (points unless generated, forget requests if
    any), and notes on what a link cannot carry (too large: the session file carries it instead)."""
    out, notes = {}, []
    if ws.source != "generated" and len(ws.y):
        try:
            enc = encode_data(ws.X, ws.y, ws.train_ids, ws.test_ids, n_classes=ws.n_classes,
                              bounds=ws.gridspec.bounds, kind="csv" if ws.source == "csv" else "drawn")
            why = f"too many for a link (about {MAX_LINK_POINTS // 2} fit)"
        except ValueError as err:
            enc, why = None, f"not something a link can carry ({err})"
        if enc is None:  # without its points a history means nothing: neither travels
            notes.append(f"The {len(ws.y)} points are {why}, so this link carries the configuration only"
                         f"{' (not the forget requests)' if ws.steps else ''}.")
            return {}, notes
        out["data"] = enc[0]
        if enc[1]:
            notes.append("The link carries the points rounded to 1/65535 of their range (exact ones would not fit), "
                         "so the model trained from it can differ slightly. The session file is exact.")
    if ws.steps:
        hist = encode_history(ws.steps)
        if hist is None or sum(len(v) for v in out.values()) + len(hist) > max_chars:
            notes.append(f"The {len(ws.steps)} forget requests are too long for a link, so it carries none of them. "
                         f"Share the session file to pass them on.")
        else:
            out["hist"] = hist
    return out, notes


def replay(ws, steps: list[LinkStep], *, device: str = "cpu", on_step=None) -> None:
    """Run a link's forget requests on ``ws`` (trained, with no history yet), in order, with the recorded
    hyperparameters: the same requests on the same data and configuration give the same models. All or
    nothing: on any failure the history is cleared and ValueError says which request failed and why.
    ``on_step(i, n)`` runs before request i (0-based) of n.

    A replayed request keeps only its last frame (the model after it): the link opens on the result, not on
    an animation, and the canvas then has no run to play before it has laid itself out."""
    if not ws.trained:
        raise ValueError("the model is not trained, so the link's forget requests cannot run")
    check_history(steps, ws.train_ids, len(ws.y))
    ws.reset()
    try:
        for i, s in enumerate(steps):
            if on_step is not None:
                on_step(i, len(steps))
            ws.selection = set(s.ids)
            try:
                step = ws.forget(s.method, dict(s.hyperparameters), device=device)
            except (ValueError, RuntimeError) as err:  # Diverged is a RuntimeError
                raise ValueError(f"forget request {i + 1} ({s.method}) failed: {err}") from None
            step.frames, step.frame_steps = step.frames[-1:], step.frame_steps[-1:]
    except ValueError:
        ws.reset()
        raise
