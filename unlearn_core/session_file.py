"""Playground session files, read and checked: the format both the app and the bench read.

    read_session(text, limits) -> SessionDoc     validated; SessionFileError (a ValueError) otherwise
    tensor_doc(arr), plain_json(x), model_doc(model, name)    the writer's pieces (ui.state.session)

Session file (format "jit-playground-session", version 1), one JSON object:
    format, version, created (ISO time, informative)
    data:         dataset, source, n_classes, X (tensor float32 [n, 2]), y (int list), train_ids, test_ids
    model_config: width, depth, activation, epochs, lr, batch_size, seed (an MLP: ``ModelRecipe``)
    grid:         null or {bounds: [x0, x1, y0, y1], resolution}
    selection:    global ids selected to forget next
    original:     null or a model: {state: {name: tensor}, fit_recipe: {...} or null}
    fit_history:  [{epoch, loss, acc}, ...]
    steps:        [{ids, method, hyperparameters, model, history, seconds, device, frame_steps,
                    frames (tensor uint8 [frames, 2, r, r], zlib: (shade, class) grids)}, ...]
    metrics:      whatever the caller passed (JSON numbers, strings, lists, objects)
A tensor is {dtype, shape, data: base64 of the little-endian bytes[, compression: "zlib"]}. Weights
are stored bit for bit, so a loaded model predicts exactly what the saved one did. Non-finite
numbers in histories and metrics are written as null.

The app writes these files (``ui.state.session``) and restores a workspace from them; the bench
replays one as a table (``python -m unlearn_core.bench --session FILE``). Both read them here.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from dataclasses import dataclass, field
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from unlearn_core.methods import METHODS
from unlearn_core.models import ACTIVATIONS
from unlearn_core.problem import ModelRecipe

FORMAT = "jit-playground-session"
VERSION = 1
MAX_BYTES = 50 * 1024 * 1024  # the whole file
MAX_JSON_VALUES = 1_500_000  # separators (",", ":") in the text: bounds the objects json.loads builds
MAX_HISTORY = 100_000  # entries over all the histories of a file (one per epoch or optimiser step)
MAX_NESTING = 20  # in metrics and hyperparameters
MAX_WIDTH, MAX_DEPTH = 4096, 16  # sanity bounds; a model's size is bounded by SessionLimits.params
MAX_INT = 2**63  # integers in metrics, hyperparameters and histories (|v| < MAX_INT)
SOURCES = ("generated", "csv", "drawn", "session")
_DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64),
           "int64": (np.int64, torch.int64), "uint8": (np.uint8, torch.uint8), "bool": (np.bool_, torch.bool)}
_TORCH_NAMES = {t: name for name, (_, t) in _DTYPES.items()}
_RECIPE_KEYS = {"epochs", "lr", "batch_size", "weight_decay", "optimizer"}


def mlp_params(width: int, depth: int, n_classes: int) -> int:
    """Parameters of the 2-D MLP with ``depth`` hidden layers of ``width`` on ``n_classes`` classes."""
    widths = [2] + [width] * depth + [n_classes]
    return sum(a * b + b for a, b in zip(widths, widths[1:]))


def build_mlp(cfg: dict, n_classes: int) -> nn.Module:
    """The MLP a session's ``model_config`` describes, initialised with its seed."""
    recipe = ModelRecipe(hidden=(cfg["width"],) * cfg["depth"], activation=cfg["activation"], epochs=cfg["epochs"],
                         lr=cfg["lr"], batch_size=cfg["batch_size"])
    return recipe.build(n_classes, cfg["seed"])


@dataclass(frozen=True)
class SessionLimits:
    """What a session file may hold; checked before any array is decoded. The defaults are what the
    playground can produce (its widest and deepest MLP, 4 classes, its 100 x 100 grid, 60 frames per
    request, 30 requests, 50,000 points, 1,000 training epochs; tests/test_session_bounds.py checks
    them against the app's own limits), so every file the app saves reads back here."""
    points: int = 50_000
    classes: int = 4
    width: int = 256
    depth: int = 4
    epochs: int = 1_000
    resolution: int = 100
    frames: int = 60
    steps: int = 30
    max_decoded: int | None = None  # None: what the limits above allow (``decoded``)

    @property
    def params(self) -> int:
        """The largest model's parameters (the widest, deepest MLP on the most classes)."""
        return mlp_params(self.width, self.depth, self.classes)

    @property
    def decoded(self) -> int:
        """Bytes of arrays one file may decode: the points, the original and ``steps`` models of ``params``
        float32 weights, ``steps`` x ``frames`` (shade, class) uint8 grids (about 61 MB by default)."""
        if self.max_decoded is not None:
            return self.max_decoded
        return (self.points * 2 * 4 + (self.steps + 1) * self.params * 4
                + self.steps * self.frames * 2 * self.resolution ** 2)


@dataclass
class SessionStep:
    """One forget request as saved: the global ids forgotten, the method and the hyperparameters it
    ran with, the model after it, its loss history, time, device and the canvas frames."""
    ids: np.ndarray
    method: str
    hyperparameters: dict
    model: nn.Module
    history: list[dict]
    seconds: float
    device: str
    frame_steps: list[int]
    frames: list[tuple[np.ndarray, np.ndarray]]


@dataclass
class SessionDoc:
    """A checked session file. Ids are global (rows of ``X``); ``grid`` is ((x0, x1, y0, y1), resolution)."""
    dataset: str
    source: str
    n_classes: int
    X: np.ndarray
    y: np.ndarray
    train_ids: np.ndarray
    test_ids: np.ndarray
    model_config: dict  # width, depth, activation, epochs, lr, batch_size, seed
    grid: tuple | None
    original: nn.Module | None
    fit_history: list[dict]
    steps: list[SessionStep] = field(default_factory=list)
    selection: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    metrics: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Writing: the pieces of a session document
# ---------------------------------------------------------------------------------------------


def tensor_doc(arr, *, compress: bool = False) -> dict:
    a = arr.detach().cpu().numpy() if isinstance(arr, torch.Tensor) else np.asarray(arr)
    name = {np.dtype(np_t): n for n, (np_t, _) in _DTYPES.items()}.get(a.dtype)
    if name is None:
        raise ValueError(f"cannot store an array of dtype {a.dtype}")
    raw = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    out = {"dtype": name, "shape": [int(s) for s in a.shape]}
    if compress:
        raw = zlib.compress(raw, 6)
        out["compression"] = "zlib"
    out["data"] = base64.b64encode(raw).decode("ascii")
    return out


def plain_json(x, where: str, depth: int = 0):
    """JSON-ready copy of metrics/histories: numpy/torch scalars to numbers, non-finite to null."""
    if depth > MAX_NESTING:
        raise ValueError(f"{where} is nested more than {MAX_NESTING} levels deep")
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    if isinstance(x, np.ndarray):
        x = x.tolist()
    elif isinstance(x, np.generic):
        x = x.item()
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): plain_json(v, f"{where}[{k!r}]", depth + 1) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain_json(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(x)]
    raise ValueError(f"{where} is a {type(x).__name__}; a session file holds numbers, strings, lists and dicts")



def model_doc(model, name: str) -> dict:
    state = model.state_dict()
    for k, v in state.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise ValueError(f"cannot save the session: {name} has non-finite weights ({k}); the training "
                             f"diverged. Lower the learning rate and train again, or undo the step.")
    recipe = getattr(model, "fit_recipe", None)
    return {"state": {k: tensor_doc(v) for k, v in state.items()},
            "fit_recipe": plain_json(dict(recipe), f"{name}.fit_recipe") if recipe is not None else None}



DAMAGED = "The file is damaged or was edited by hand: save the session again from the app."
TOO_LARGE = "Session files this large are not supported: this app never saves one."


class SessionFileError(ValueError):
    """A session file that cannot be loaded. ``path`` is where in the JSON (``$.steps[0].ids``)."""

    def __init__(self, path: str, problem: str, todo: str = DAMAGED):
        self.path = path
        self.problem = problem
        super().__init__(f"Cannot load the session file: at {path}: {problem}. {todo}")


@dataclass
class _Array:
    """An array whose dtype and shape were checked and whose bytes are counted, not decoded yet."""
    path: str
    name: str
    dims: tuple[int, ...]
    text: str
    compressed: bool

    @property
    def size(self) -> int:
        return math.prod(self.dims) * np.dtype(_DTYPES[self.name][0]).itemsize

    def decode(self, *, copy: bool = True) -> np.ndarray:
        """The array (a writable copy, or with ``copy=False`` a read-only view of the decoded bytes)."""
        path, size = self.path, self.size
        try:
            raw = base64.b64decode(self.text, validate=True)
        except (binascii.Error, ValueError) as err:
            raise SessionFileError(f"{path}.data", f"not valid base64 ({err})") from None
        if self.compressed:
            try:
                dec = zlib.decompressobj()
                raw = dec.decompress(raw, size + 1)  # never more than the shape says (+1 to notice a longer stream)
                if not dec.eof:
                    raise zlib.error("incomplete or longer than the shape says")
            except zlib.error as err:
                raise SessionFileError(f"{path}.data", f"the zlib stream is damaged ({err})") from None
        if len(raw) != size:
            raise SessionFileError(f"{path}.data", f"{len(raw)} bytes of data, but shape {list(self.dims)} of "
                                                   f"{self.name} needs {size}")
        np_t = np.dtype(_DTYPES[self.name][0])
        arr = np.frombuffer(raw, np_t.newbyteorder("<")).reshape(self.dims)
        arr = arr.astype(np_t, copy=copy or arr.dtype != np_t)
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))[0].tolist()
            raise SessionFileError(path, f"non-finite value {arr[tuple(bad)]} at index {bad}")
        return arr


class Reader:
    """Typed accessors that raise ``SessionFileError`` with the JSON path of what is wrong."""

    def __init__(self, limits: SessionLimits) -> None:
        self.limits = limits
        self.declared = 0  # bytes of the arrays seen so far, from their declared shapes
        self.history_entries = 0

    def obj(self, v, path: str, required: tuple[str, ...] = ()) -> dict:
        if not isinstance(v, dict):
            raise SessionFileError(path, f"expected a JSON object, found {_kind(v)}")
        missing = [k for k in required if k not in v]
        if missing:
            raise SessionFileError(path, f"missing key{'s' if len(missing) > 1 else ''} "
                                         f"{', '.join(repr(k) for k in missing)}")
        return v

    def lst(self, v, path: str, max_len: int, todo: str = DAMAGED) -> list:
        if not isinstance(v, list):
            raise SessionFileError(path, f"expected a JSON list, found {_kind(v)}")
        if len(v) > max_len:
            raise SessionFileError(path, f"has {len(v)} entries, more than the limit of {max_len}", todo)
        return v

    def str_(self, v, path: str, max_len: int = 200) -> str:
        if not isinstance(v, str):
            raise SessionFileError(path, f"expected a string, found {_kind(v)}")
        if len(v) > max_len:
            raise SessionFileError(path, f"the string has {len(v)} characters, more than {max_len}")
        return v

    def int_(self, v, path: str, lo: int, hi: int) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise SessionFileError(path, f"expected an integer, found {_kind(v)}")
        if not lo <= v <= hi:
            raise SessionFileError(path, f"{_short(v)} is out of range {lo}..{hi}")
        return v

    def num(self, v, path: str, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise SessionFileError(path, f"expected a number, found {_kind(v)}")
        try:
            v = float(v)
        except OverflowError:  # an integer with hundreds of digits
            raise SessionFileError(path, f"{_short(v)} is too large a number") from None
        if not math.isfinite(v):
            raise SessionFileError(path, f"{v} is not a finite number")
        if v < lo or v > hi or (lo_open and v == lo):
            raise SessionFileError(path, f"{v} is out of range {'(' if lo_open else '['}{lo}, {hi}]")
        return v

    def ids(self, v, path: str, n: int, allowed: np.ndarray | None = None, what: str = "") -> np.ndarray:
        v = self.lst(v, path, self.limits.points)
        for i, x in enumerate(v):
            if isinstance(x, bool) or not isinstance(x, int):
                raise SessionFileError(f"{path}[{i}]", f"expected a point id (an integer), found {_kind(x)}")
            if not 0 <= x < n:
                raise SessionFileError(f"{path}[{i}]", f"point id {_short(x)} is out of range 0..{n - 1} "
                                                       f"(the file has {n} points)")
        arr = np.asarray(v, np.int64).reshape(-1)
        uniq, counts = np.unique(arr, return_counts=True)
        if len(uniq) != len(arr):
            raise SessionFileError(path, f"point id {int(uniq[counts > 1][0])} appears more than once")
        if allowed is not None:
            bad = arr[~np.isin(arr, allowed)]
            if len(bad):
                raise SessionFileError(f"{path}[{v.index(int(bad[0]))}]", f"point {int(bad[0])} {what}")
        return arr

    def tensor(self, v, path: str, dtype: str | None = None, shape: tuple | None = None, why: str = "") -> _Array:
        """Check an array's dtype, shape and the type of its data, and count its bytes (phase 1)."""
        v = self.obj(v, path, ("dtype", "shape", "data"))
        name = self.str_(v["dtype"], f"{path}.dtype")
        if name not in _DTYPES:
            raise SessionFileError(f"{path}.dtype", f"unknown dtype {_short(name)} (known: {', '.join(_DTYPES)})")
        if dtype is not None and name != dtype:
            raise SessionFileError(f"{path}.dtype", f"expected dtype {dtype}, found {name}")
        dims = self.lst(v["shape"], f"{path}.shape", 8)
        dims = tuple(self.int_(d, f"{path}.shape[{i}]", 0, 2**31) for i, d in enumerate(dims))
        if shape is not None:
            ok = len(dims) == len(shape) and all(s is None or s == d for s, d in zip(shape, dims))
            if not ok:
                want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
                raise SessionFileError(f"{path}.shape", f"expected shape {want}{why}, found {list(dims)}")
        comp = v.get("compression")
        if comp is not None and comp != "zlib":
            raise SessionFileError(f"{path}.compression", f"unknown compression {_short(comp)} (known: zlib)")
        text = self.str_(v["data"], f"{path}.data", 4 * MAX_BYTES)
        arr = _Array(path, name, dims, text, comp is not None)
        if self.declared + arr.size > self.limits.decoded:
            raise SessionFileError(path, f"the arrays would take more than {self.limits.decoded / 2**20:g} MB in memory",
                                   TOO_LARGE)
        self.declared += arr.size
        return arr

    def plain(self, v, path: str, depth: int = 0):
        """Any JSON value with finite numbers (metrics, hyperparameters, histories)."""
        if depth > MAX_NESTING:
            raise SessionFileError(path, f"nested more than {MAX_NESTING} levels deep")
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            if not -MAX_INT < v < MAX_INT:
                raise SessionFileError(path, f"{_short(v)} is too large a number")
            return v
        if isinstance(v, float):
            if not math.isfinite(v):
                raise SessionFileError(path, f"{v} is not a finite number")
            return v
        if isinstance(v, list):
            return [self.plain(x, f"{path}[{i}]", depth + 1) for i, x in enumerate(v)]
        if isinstance(v, dict):
            return {k: self.plain(x, f"{path}[{json.dumps(k)}]", depth + 1) for k, x in v.items()}
        raise SessionFileError(path, f"unexpected {_kind(v)}")

    def history(self, v, path: str, keys: tuple[str, ...]) -> list[dict]:
        v = self.lst(v, path, MAX_HISTORY)
        self.history_entries += len(v)
        if self.history_entries > MAX_HISTORY:
            raise SessionFileError(path, f"the file's histories hold more than {MAX_HISTORY:,} entries", TOO_LARGE)
        out = []
        for i, e in enumerate(v):
            e = self.obj(e, f"{path}[{i}]", keys)
            entry = {}
            for k, x in e.items():
                if x is not None:
                    x = self.num(x, f"{path}[{i}].{k}", -MAX_INT, MAX_INT)
                    x = int(x) if isinstance(e[k], int) else x
                entry[k] = x
            out.append(entry)
        return out


def _kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, float) and not math.isfinite(v):
        return f"the non-finite number {v}"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object"}.get(type(v), type(v).__name__)


def _short(v, n: int = 60) -> str:
    text = repr(v) if not isinstance(v, int) or abs(v) < 10**40 else f"an integer of {len(str(abs(v)))} digits"
    return text if len(text) <= n else text[:n - 3] + "..."


def _parse(text) -> dict:
    if isinstance(text, (bytes, bytearray, memoryview)):
        if len(text) > MAX_BYTES:
            raise SessionFileError("$", f"the file has {len(text) / 2**20:.1f} MB, more than the "
                                        f"{MAX_BYTES / 2**20:g} MB limit", "Choose a smaller session file.")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise SessionFileError("$", f"the file is not UTF-8 text ({err.reason} at byte {err.start})",
                                   "Choose a .json session file saved by the playground.") from None
    if not isinstance(text, str):
        raise TypeError(f"session_from_json takes str or bytes, got {type(text).__name__}")
    if len(text) > MAX_BYTES:
        raise SessionFileError("$", f"the file has {len(text) / 2**20:.1f} MB, more than the "
                                    f"{MAX_BYTES / 2**20:g} MB limit", "Choose a smaller session file.")
    # json.loads builds a Python object per value (up to ~60 bytes for 2 characters of text): bound their
    # number first. Saved sessions hold their arrays as base64 strings, so they have few separators.
    values = text.count(",") + text.count(":")
    if values > MAX_JSON_VALUES:
        raise SessionFileError("$", f"the file holds about {values:,} JSON values, more than the "
                                    f"{MAX_JSON_VALUES:,} a session file can hold", TOO_LARGE)
    try:
        doc = json.loads(text)  # NaN/Infinity parse as floats; the checks below reject them with a path
    except json.JSONDecodeError as err:
        raise SessionFileError("$", f"not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})",
                               "Choose a .json session file saved by the playground.") from None
    except RecursionError:
        raise SessionFileError("$", "the JSON is nested too deeply") from None
    except ValueError as err:  # e.g. an integer with too many digits
        raise SessionFileError("$", f"not valid JSON ({err})",
                               "Choose a .json session file saved by the playground.") from None
    if not isinstance(doc, dict):
        raise SessionFileError("$", f"expected a JSON object, found {_kind(doc)}")
    fmt = doc.get("format")
    if fmt != FORMAT:
        raise SessionFileError("$.format", f"expected {FORMAT!r}, found {_short(fmt)}: this is not a playground "
                                           f"session file", "Choose a .json file saved with 'Save session'.")
    ver = doc.get("version")
    if type(ver) is not int or ver != VERSION:
        raise SessionFileError("$.version", f"format version {_short(ver)}, but this app reads version {VERSION}",
                               "Open it with the version of the app that saved it, or update the app.")
    return doc



# ---------------------------------------------------------------------------------------------
# Reading and validation
#
# Three phases, so that nothing is half-done: (1) check the whole document's structure, numbers and
# the arrays' declared dtypes and shapes, adding up the bytes they would take (no array is decoded);
# (2) decode the arrays (base64, zlib) and check their values; (3) build the models. Any problem raises
# SessionFileError (a ValueError) with its JSON path; nothing of the caller's is touched.
# ---------------------------------------------------------------------------------------------


def _model_config(r: Reader, v, path: str) -> dict:
    v = r.obj(v, path, ("width", "depth", "activation", "epochs", "lr", "batch_size", "seed"))
    act = r.str_(v["activation"], f"{path}.activation")
    if act not in ACTIVATIONS:
        raise SessionFileError(f"{path}.activation", f"unknown activation {_short(act)} "
                                                     f"(known: {', '.join(ACTIVATIONS)})")
    lim = r.limits  # width and depth: sanity bounds; the model's size is bounded by lim.params
    return {"width": r.int_(v["width"], f"{path}.width", 1, MAX_WIDTH),
            "depth": r.int_(v["depth"], f"{path}.depth", 0, MAX_DEPTH), "activation": act,
            "epochs": r.int_(v["epochs"], f"{path}.epochs", 0, lim.epochs),
            "lr": r.num(v["lr"], f"{path}.lr", 0.0, 1e6, lo_open=True),
            "batch_size": r.int_(v["batch_size"], f"{path}.batch_size", 1, lim.points),
            "seed": r.int_(v["seed"], f"{path}.seed", 0, 2**63 - 1)}


@dataclass
class _Model:
    """A model's checked weights (not decoded yet) and training recipe."""
    arrays: dict[str, _Array]
    recipe: dict | None


class _ModelReader:
    """Checks models of one config (phase 1) and builds them from their decoded weights (phase 3)."""

    def __init__(self, r: Reader, cfg: dict, n_classes: int, path: str):
        n = mlp_params(cfg["width"], cfg["depth"], n_classes)
        if n > r.limits.params:
            raise SessionFileError(path, f"a {cfg['depth']} x {cfg['width']} model has {n:,} parameters, too many "
                                         f"for a session file (the app's largest model has {r.limits.params:,})",
                                   TOO_LARGE)
        self.r, self.cfg, self.k = r, cfg, n_classes
        self.template = {name: (tuple(t.shape), t.dtype) for name, t in build_mlp(cfg, n_classes).state_dict().items()}

    def check(self, v, path: str) -> _Model:
        r = self.r
        v = r.obj(v, path, ("state",))
        state = r.obj(v["state"], f"{path}.state")
        missing = [k for k in self.template if k not in state]
        extra = [k for k in state if k not in self.template]
        if missing or extra:
            what = []
            if missing:
                what.append(f"missing {', '.join(missing[:4])}")
            if extra:
                what.append(f"unexpected {', '.join(_short(k, 40) for k in extra[:4])}")
            raise SessionFileError(f"{path}.state", f"the weights do not fit the model config "
                                   f"({self.cfg['depth']} x {self.cfg['width']} {self.cfg['activation']}, {self.k} classes): "
                                   + "; ".join(what))
        arrays = {name: r.tensor(state[name], f"{path}.state[{json.dumps(name)}]", _TORCH_NAMES[dtype], shape,
                                 f" (the model in $.model_config: depth {self.cfg['depth']}, width {self.cfg['width']}, "
                                 f"{self.k} classes)")
                  for name, (shape, dtype) in self.template.items()}
        recipe = None
        if v.get("fit_recipe") is not None:
            recipe = self.recipe(v["fit_recipe"], f"{path}.fit_recipe")
        return _Model(arrays, recipe)

    def build(self, m: _Model, weights: dict[str, np.ndarray]):
        model = build_mlp(self.cfg, self.k)
        model.load_state_dict({name: torch.from_numpy(arr) for name, arr in weights.items()}, strict=True)
        model.eval()
        if m.recipe is not None:
            model.fit_recipe = m.recipe
        return model

    def recipe(self, v, path: str) -> dict:
        r = self.r
        v = r.obj(v, path)
        extra = sorted(set(v) - _RECIPE_KEYS)
        if extra:
            raise SessionFileError(f"{path}", f"unknown key {_short(extra[0], 40)} "
                                              f"(known: {', '.join(sorted(_RECIPE_KEYS))})")
        out = {}
        if "epochs" in v:
            out["epochs"] = r.int_(v["epochs"], f"{path}.epochs", 0, r.limits.epochs)
        if "lr" in v:
            out["lr"] = r.num(v["lr"], f"{path}.lr", 0.0, 1e6, lo_open=True)
        if "batch_size" in v:
            out["batch_size"] = r.int_(v["batch_size"], f"{path}.batch_size", 1, r.limits.points)
        if "weight_decay" in v:
            out["weight_decay"] = r.num(v["weight_decay"], f"{path}.weight_decay", 0.0, 1e6)
        if "optimizer" in v:
            out["optimizer"] = r.str_(v["optimizer"], f"{path}.optimizer", 40)
            if out["optimizer"] != "adam":
                raise SessionFileError(f"{path}.optimizer", f"unknown optimizer {out['optimizer']!r} (known: adam)")
        return out



@dataclass
class _Step:
    ids: np.ndarray
    method: str
    hyperparameters: dict
    model: _Model
    history: list[dict]
    seconds: float
    device: str
    frame_steps: list[int]
    frames: _Array | None


def read_session(text: str | bytes, limits: SessionLimits | None = None,
                 check_metrics: Callable[[dict], dict] | None = None) -> SessionDoc:
    """The session file's contents (``SessionDoc``), returned only when all of the file checks out.

    Everything is checked before anything is built: the structure, every number, and the arrays'
    dtypes and shapes against ``limits`` (the grid, frames per request, forget requests, points,
    model sizes; at most ``limits.decoded`` bytes of arrays in all) before any array is decoded.
    ``check_metrics(metrics) -> metrics`` may check (raising ``SessionFileError``) and rewrite the
    metrics saved beside the session before any array is decoded. Raises ``SessionFileError`` (a
    ValueError) naming what is wrong, where (a JSON path such as ``$.steps[1].ids[3]``) and what to do;
    never anything else for any str or bytes. ``limits`` default to ``SessionLimits()``.
    """
    limits = limits or SessionLimits()
    doc = _parse(text)
    r = Reader(limits)
    for key in ("data", "model_config", "grid", "selection", "original", "fit_history", "steps"):
        if key not in doc:
            raise SessionFileError("$", f"missing key {key!r}")

    # --- phase 1: structure, numbers, declared shapes (nothing decoded) -----------------------
    d = r.obj(doc["data"], "$.data", ("dataset", "source", "n_classes", "X", "y", "train_ids", "test_ids"))
    dataset = r.str_(d["dataset"], "$.data.dataset")
    source = r.str_(d["source"], "$.data.source")
    if source not in SOURCES:
        raise SessionFileError("$.data.source", f"unknown source {_short(source)} (known: {', '.join(SOURCES)})")
    k = r.int_(d["n_classes"], "$.data.n_classes", 2, limits.classes)
    x_doc = r.obj(d["X"], "$.data.X", ("dtype", "shape", "data"))
    dims = x_doc["shape"]
    if isinstance(dims, list) and len(dims) == 2 and type(dims[0]) is int and not 1 <= dims[0] <= limits.points:
        n = dims[0]
        raise SessionFileError("$.data.X", f"{_short(n)} points; a session holds 1 to {limits.points:,}",
                               "Choose a smaller session file." if n > 0 else DAMAGED)
    X_arr = r.tensor(x_doc, "$.data.X", "float32", (None, 2))
    n = X_arr.dims[0]
    y_list = r.lst(d["y"], "$.data.y", limits.points)
    if len(y_list) != n:
        raise SessionFileError("$.data.y", f"{len(y_list)} labels for {n} points (X has {n} rows)")
    for i, c in enumerate(y_list):
        if isinstance(c, bool) or not isinstance(c, int):
            raise SessionFileError(f"$.data.y[{i}]", f"expected a class label (an integer), found {_kind(c)}")
        if not 0 <= c < k:
            raise SessionFileError(f"$.data.y[{i}]", f"label {_short(c)} is out of range 0..{k - 1} "
                                                     f"(n_classes = {k})")
    y = np.asarray(y_list, np.int64).reshape(-1)
    train = r.ids(d["train_ids"], "$.data.train_ids", n)
    test = r.ids(d["test_ids"], "$.data.test_ids", n)
    if len(train) == 0:
        raise SessionFileError("$.data.train_ids", "no training point")
    both = np.intersect1d(train, test)
    if len(both):
        raise SessionFileError("$.data.test_ids", f"point {int(both[0])} is in both the training and the test split")

    cfg = _model_config(r, doc["model_config"], "$.model_config")
    grid = None
    if doc["grid"] is not None:
        g = r.obj(doc["grid"], "$.grid", ("bounds", "resolution"))
        b = r.lst(g["bounds"], "$.grid.bounds", 4)
        if len(b) != 4:
            raise SessionFileError("$.grid.bounds", f"expected 4 numbers [x0, x1, y0, y1], found {len(b)}")
        b = tuple(r.num(x, f"$.grid.bounds[{i}]", -1e30, 1e30) for i, x in enumerate(b))
        if not (b[0] < b[1] and b[2] < b[3]):
            raise SessionFileError("$.grid.bounds", f"{list(b)} is not an extent [x0, x1, y0, y1] with x0 < x1, y0 < y1")
        grid = (b, r.int_(g["resolution"], "$.grid.resolution", 2, limits.resolution))

    fit_history: list[dict] = r.history(doc["fit_history"], "$.fit_history", ())
    models, original = None, None
    if doc["original"] is not None:
        models = _ModelReader(r, cfg, k, "$.original")
        original = models.check(doc["original"], "$.original")
    steps_doc = r.lst(doc["steps"], "$.steps", limits.steps,
                      f"The app keeps at most {limits.steps} forget requests per session.")
    if steps_doc and original is None:
        raise SessionFileError("$.steps", f"{len(steps_doc)} forget steps but no original model ($.original is null)")
    steps: list[_Step] = []
    gone = np.zeros(0, np.int64)
    for i, sd in enumerate(steps_doc):
        p = f"$.steps[{i}]"
        sd = r.obj(sd, p, ("ids", "method", "hyperparameters", "model", "history", "seconds", "frame_steps", "frames"))
        ids = r.ids(sd["ids"], f"{p}.ids", n, np.setdiff1d(train, gone),
                    "is not a training point still there to forget (a test point, or forgotten in an earlier step)")
        if len(ids) == 0:
            raise SessionFileError(f"{p}.ids", "a forget step must forget at least one point")
        method = r.str_(sd["method"], f"{p}.method")
        if method not in METHODS:
            raise SessionFileError(f"{p}.method", f"unknown method {_short(method)} (known: {', '.join(METHODS)})")
        hp = r.plain(r.obj(sd["hyperparameters"], f"{p}.hyperparameters"), f"{p}.hyperparameters")
        model = models.check(sd["model"], f"{p}.model")
        history = r.history(sd["history"], f"{p}.history", ())
        seconds = r.num(sd["seconds"], f"{p}.seconds", 0.0, 1e9)
        device = r.str_(sd.get("device", "cpu"), f"{p}.device", 40)
        fsteps = r.lst(sd["frame_steps"], f"{p}.frame_steps", limits.frames)
        fsteps = [r.int_(s, f"{p}.frame_steps[{j}]", 0, 2**31) for j, s in enumerate(fsteps)]
        frames = None
        if fsteps:
            if grid is None:
                raise SessionFileError(f"{p}.frames", "frames need a grid, but $.grid is null")
            res = grid[1]
            frames = r.tensor(sd["frames"], f"{p}.frames", "uint8", (len(fsteps), 2, res, res),
                              f" (one (shade, class) pair per entry of {p}.frame_steps, on the {res} x {res} grid)")
        else:
            r.tensor(sd["frames"], f"{p}.frames", "uint8", (0, 2, None, None))
        steps.append(_Step(ids, method, hp, model, history, seconds, device, fsteps, frames))
        gone = np.union1d(gone, ids)

    selection = r.ids(doc["selection"], "$.selection", n, np.setdiff1d(train, gone),
                      "cannot be selected: it is a test point or already forgotten")
    metrics = doc.get("metrics")
    metrics = {} if metrics is None else r.plain(r.obj(metrics, "$.metrics"), "$.metrics")
    if check_metrics is not None:
        metrics = check_metrics(metrics)

    # --- phase 2: decode the arrays (at most limits.decoded bytes, counted above) and check their values
    X = X_arr.decode()
    weights = []
    for m in ([original] if original is not None else []) + [s.model for s in steps]:
        weights.append({name: a.decode() for name, a in m.arrays.items()})
    frame_lists: list[list[tuple[np.ndarray, np.ndarray]]] = []
    for s in steps:
        if s.frames is None:
            frame_lists.append([])
            continue
        arr = s.frames.decode()  # one block; the frames are views into it (as Workspace.forget keeps them)
        if arr[:, 1].max(initial=0) >= k:
            raise SessionFileError(s.frames.path, f"class grid holds class {int(arr[:, 1].max())}, but "
                                                  f"n_classes = {k}")
        frame_lists.append([(arr[j, 0], arr[j, 1]) for j in range(len(arr))])

    # --- phase 3: build --------------------------------------------------------------------------
    built = [models.build(m, w) for m, w in zip(([original] if original is not None else []) +
                                                 [s.model for s in steps], weights)]
    original_model = built[0] if original is not None else None
    out_steps = [SessionStep(ids=s.ids, method=s.method, hyperparameters=s.hyperparameters, model=model,
                             history=s.history, seconds=s.seconds, frames=frames, frame_steps=s.frame_steps,
                             device=s.device)
                 for s, model, frames in zip(steps, built[1:], frame_lists)]
    return SessionDoc(dataset=dataset, source=source, n_classes=k, X=X, y=y, train_ids=train, test_ids=test,
                      model_config=cfg, grid=grid, original=original_model, fit_history=fit_history,
                      steps=out_steps, selection=selection, metrics=metrics)
