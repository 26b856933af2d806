"""Safe checkpoints for image models: weights only, written atomically, loaded strictly.

Checkpoints (``save_checkpoint`` / ``load_checkpoint`` / ``load_model``) hold only tensors and plain Python
values and are always read with ``torch.load(weights_only=True)``: a file carrying arbitrary pickled
objects (whose loading could run code) is refused with ``UnsafeCheckpointError`` and nothing in it runs.
The format::

    {"format": "unlearn_core.checkpoint/1",
     "state_dict": model.state_dict(),
     "meta": {"architecture": "resnet18" | None, "n_classes": 10, "in_shape": (3, 32, 32),
              "options": {...constructor arguments...}, "model_class": "module.Class",
              "torch_version": "...", "fit_recipe": {...} (when the model has one),
              ...anything the caller adds, e.g. "dataset", "epoch"},
     "optimizer": optimizer.state_dict() or None,
     "extra": caller's plain data or None}

Zoo models (``unlearn_core.images.zoo``) are rebuilt from the recorded meta. Users' own models:
``load_model(path, factory="package.module:make_model")`` (the convention of ``zoo.build_from_factory``).
A factory named inside a checkpoint's meta is recorded for information only and never imported
automatically: importing a module named by an untrusted file would undo the point of weights-only loading.
"""
from __future__ import annotations

import operator
import os
import pickle
import re
import tempfile
import warnings
from collections import OrderedDict
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from unlearn_core.images.zoo import (ARCHITECTURES, architecture_meta, build_from_factory, build_model,
                                     canonical_name, check_in_shape)

FORMAT = "unlearn_core.checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or does not fit the model it should load into."""


class UnsafeCheckpointError(CheckpointError):
    """A file that ``torch.load(weights_only=True)`` refuses: it holds arbitrary pickled objects."""


_PLAIN = (bool, int, float, str, type(None))


def _check_plain(value: Any, where: str) -> None:
    """Raise unless value is tensors / plain Python values in lists, tuples and dicts (recursively)."""
    t = type(value)
    if t in _PLAIN or t in (torch.Tensor, nn.Parameter, torch.Size):
        return
    if t in (list, tuple):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    if t in (dict, OrderedDict):
        for k, v in value.items():
            if type(k) not in _PLAIN:
                raise CheckpointError(f"{where} has a key of type {type(k).__name__} ({k!r}); checkpoint "
                                      "dictionaries need str, int, float, bool or None keys")
            _check_plain(v, f"{where}[{k!r}]")
        return
    hint = " (convert with .tolist() or torch.as_tensor)" if t.__module__.startswith("numpy") else ""
    raise CheckpointError(f"{where} is a {t.__module__}.{t.__qualname__}; a checkpoint holds only tensors, "
                          f"numbers, strings, None and lists / tuples / dicts of them{hint}, so that it loads "
                          "with torch.load(weights_only=True)")


def _file_mode(path: str) -> int:
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def save_checkpoint(path: str | os.PathLike, model: nn.Module, *, meta: Mapping[str, Any],
                    optimizer: torch.optim.Optimizer | None = None, extra: Any = None) -> str:
    """Write ``model``'s weights and ``meta`` to ``path`` atomically; return the path written.

    The file is a ``torch.save`` of {"format": "unlearn_core.checkpoint/1", "state_dict", "meta",
    "optimizer", "extra"} holding only tensors and plain values (checked first, naming the offending
    entry), so ``load_checkpoint`` reads it with ``weights_only=True``. It is written to a temporary file
    in the same folder, flushed to disk and renamed over ``path`` (``os.replace``): a crash leaves the
    old file or the new one, never half of one, and no temporary file stays behind.

    ``meta``: what the caller knows, e.g. {"in_shape": (3, 32, 32), "dataset": "cifar10", "epoch": 30}.
    For zoo models "architecture", "n_classes" and "options" (constructor arguments) are filled in, and
    "in_shape" for a ViT; values given must agree with the model (CheckpointError otherwise). Give
    "in_shape" (one input's shape without the batch; ``load_model`` rebuilds the model for it) and, for
    models outside the zoo, "n_classes"; left out, they are stored as None and ``load_model`` asks for
    them. A model outside the zoo may name its "factory" ("package.module:function"; an "architecture"
    containing a colon is taken as the factory): recorded only, ``load_model`` needs ``factory=``.
    The model's ``fit_recipe`` (recorded by ``fit``, used by "retrain") is kept as meta["fit_recipe"].
    ``optimizer``: saved as ``optimizer.state_dict()``. ``extra``: any further plain data.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"save_checkpoint needs a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(meta, Mapping):
        raise CheckpointError(f"meta must be a dict (e.g. {{'in_shape': (3, 32, 32), 'dataset': 'cifar10'}}), "
                              f"got {type(meta).__name__}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save checkpoint {path!r}: folder {folder!r} does not exist; create it first")

    full: dict[str, Any] = {"architecture": None, "n_classes": None, "in_shape": None,
                            "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
                            "torch_version": str(torch.__version__)}
    inferred: dict[str, Any] = architecture_meta(model)
    arch = inferred.get("architecture")
    recipe = getattr(model, "fit_recipe", None)
    if isinstance(recipe, dict):
        try:
            _check_plain(recipe, "fit_recipe")
            inferred["fit_recipe"] = dict(recipe)
        except CheckpointError:
            pass  # an optional convenience: a recipe that is not plain data is left out
    given = dict(meta)
    if isinstance(given.get("architecture"), str) and ":" in given["architecture"]:
        # A factory spec given as the architecture (as a CLI may record it): keep it as the factory.
        given.setdefault("factory", given["architecture"])
        given["architecture"] = arch
    elif given.get("architecture") is not None and arch is not None:
        given["architecture"] = canonical_name(given["architecture"])
    if given.get("in_shape") is not None:
        given["in_shape"] = check_in_shape(given["in_shape"])
    if given.get("n_classes") is not None:
        given["n_classes"] = operator.index(given["n_classes"])
    for key in ("architecture", "n_classes", "in_shape", "options"):
        if given.get(key) is not None and key in inferred and given[key] != inferred[key]:
            raise CheckpointError(f"meta[{key!r}] = {given[key]!r} disagrees with the model, which has "
                                  f"{inferred[key]!r}; leave it out (it is filled in) or fix it")
    full.update(inferred)
    full.update({k: v for k, v in given.items() if v is not None or k not in inferred})
    if arch is not None and full["in_shape"] is not None and full["in_shape"][0] != model.config["in_channels"]:
        raise CheckpointError(f"meta['in_shape'] = {full['in_shape']} has {full['in_shape'][0]} channels but the "
                              f"model takes {model.config['in_channels']}")
    if full.get("factory") is not None and not isinstance(full["factory"], str):
        raise CheckpointError("meta['factory'] must be a 'package.module:function' string")

    payload = {"format": FORMAT, "state_dict": model.state_dict(), "meta": full,
               "optimizer": optimizer.state_dict() if optimizer is not None else None, "extra": extra}
    for key in ("state_dict", "meta", "optimizer", "extra"):
        _check_plain(payload[key], key)

    mode = _file_mode(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); not possible everywhere, and not needed for correctness
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely; return {"format", "state_dict", "meta", "optimizer", "extra"}.

    Always ``torch.load(path, map_location=map_location, weights_only=True)``: only tensors and plain
    Python values are rebuilt and no code in the file runs. A file that needs more (an arbitrary
    pickle, e.g. a whole pickled model, or one whose ``__reduce__`` calls ``os.system``) raises
    ``UnsafeCheckpointError`` and nothing in it is executed. Accepts the format ``save_checkpoint``
    writes and a bare state_dict (``torch.save(model.state_dict(), path)``: a dict of name -> tensor),
    returned with format, meta, optimizer and extra None. A missing file raises FileNotFoundError; an
    empty, truncated or foreign file raises ``CheckpointError``.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint {path!r} does not exist (looked in {os.path.abspath(path)!r})")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint path {path!r} is a folder; name the checkpoint file inside it")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*pickle protocol.*")
            obj = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - sorted into the two cases below
        text = str(e)
        if isinstance(e, pickle.UnpicklingError) and ("weights only load failed" in text.lower() or "GLOBAL" in text):
            found = re.search(r"(unsupported GLOBAL \S+|Unsupported global: GLOBAL \S+|Unsupported operand \S+)", text)
            reason = f" ({found.group(1)})" if found else ""
            raise UnsafeCheckpointError(
                f"{path!r} is not a weights-only checkpoint: it contains pickled Python objects beyond tensors "
                f"and plain values{reason}, which could run code when loaded. It was refused and nothing in it "
                "was executed. If you trust its source, load it there and re-save the weights with "
                "torch.save(model.state_dict(), path) or unlearn_core.images.checkpoints.save_checkpoint") from None
        raise CheckpointError(f"cannot read checkpoint {path!r}: {type(e).__name__}: {str(e)[:300] or 'empty file'}. "
                              "The file is empty, truncated or not written by torch.save; save it again") from None
    if isinstance(obj, Mapping) and "format" in obj:
        fmt = obj["format"]
        if fmt != FORMAT:
            raise CheckpointError(f"{path!r} has checkpoint format {fmt!r}; this version of unlearn_core reads "
                                  f"{FORMAT!r} (and bare state_dicts)")
        missing = [k for k in ("state_dict", "meta") if k not in obj]
        if missing or not isinstance(obj["state_dict"], Mapping) or not isinstance(obj["meta"], Mapping):
            raise CheckpointError(f"{path!r} says it is {FORMAT} but its 'state_dict' or 'meta' is missing or not "
                                  "a dict; the file is damaged")
        meta = dict(obj["meta"])
        if meta.get("in_shape") is not None:
            meta["in_shape"] = tuple(meta["in_shape"])
        return {"format": fmt, "state_dict": obj["state_dict"], "meta": meta,
                "optimizer": obj.get("optimizer"), "extra": obj.get("extra")}
    if _is_state_dict(obj):
        return {"format": None, "state_dict": obj, "meta": None, "optimizer": None, "extra": None}
    what = f"a dict with keys {sorted(map(str, obj))[:10]}" if isinstance(obj, Mapping) else f"a {type(obj).__name__}"
    raise CheckpointError(f"{path!r} holds {what}: neither an unlearn_core checkpoint nor a bare state_dict "
                          "(a dict of parameter name -> tensor). If the weights sit under one key, load the file "
                          "with torch.load(path, weights_only=True) and save that dict on its own")


def _state_dict_problems(model: nn.Module, state: Mapping[str, torch.Tensor]) -> list[str]:
    own = model.state_dict()
    problems = []
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing:
        problems.append(f"{len(missing)} entries missing from the checkpoint: {', '.join(missing[:10])}"
                        + (" ..." if len(missing) > 10 else ""))
    if unexpected:
        problems.append(f"{len(unexpected)} entries in the checkpoint that the model lacks: "
                        f"{', '.join(unexpected[:10])}" + (" ..." if len(unexpected) > 10 else ""))
    for k, v in own.items():
        if k in state and isinstance(v, torch.Tensor) and isinstance(state[k], torch.Tensor) \
                and state[k].shape != v.shape:
            problems.append(f"parameter {k!r} has shape {list(state[k].shape)} in the checkpoint but "
                            f"{list(v.shape)} in the model")
    return problems


def load_model(path: str | os.PathLike, *, factory: str | Callable[..., nn.Module] | None = None,
               architecture: str | None = None, n_classes: int | None = None,
               in_shape: Sequence[int] | None = None, map_location: Any = "cpu") -> nn.Module:
    """Rebuild a model and load its weights from a checkpoint (strictly); returned in eval mode on CPU.

    The architecture comes from, in order: ``factory`` (a users' model: ``"package.module:function"`` or a
    callable, called as in ``build_from_factory``), ``architecture`` (a zoo name, for bare state_dicts),
    or the checkpoint's meta["architecture"] (zoo models saved by ``save_checkpoint``, with their recorded
    options). ``n_classes`` and ``in_shape`` default to the checkpoint's meta; passing them overrides it
    (and a mismatch with the weights then fails, naming the parameter). The state_dict must fit exactly
    (``strict=True``): missing or unexpected entries and shape mismatches are all listed in one
    ``CheckpointError``. meta["fit_recipe"] is restored as ``model.fit_recipe``. Move the model with
    ``.to(device)``; call ``.train()`` to train it.
    """
    ckpt = load_checkpoint(path, map_location=map_location)
    meta = ckpt["meta"] or {}
    nc = n_classes if n_classes is not None else meta.get("n_classes")
    shape = in_shape if in_shape is not None else meta.get("in_shape")
    where = "the checkpoint holds a bare state_dict without meta" if ckpt["meta"] is None else \
        "the checkpoint's meta does not record it"
    if nc is None or shape is None:
        need = [n for n, v in (("n_classes", nc), ("in_shape", shape)) if v is None]
        raise CheckpointError(f"cannot rebuild the model from {os.fspath(path)!r}: pass {' and '.join(need)}=... "
                              f"({where})")
    if factory is not None:
        model = build_from_factory(factory, nc, shape)
        built = f"factory {factory if isinstance(factory, str) else getattr(factory, '__qualname__', factory)!r}"
    else:
        arch = architecture if architecture is not None else meta.get("architecture")
        if isinstance(arch, str) and ":" in arch and architecture is None:
            meta = dict(meta, factory=meta.get("factory") or arch)
            arch = None
        if arch is None:
            hint = ""
            if meta.get("factory"):
                hint = (f" It was saved from factory {meta['factory']!r}; pass factory={meta['factory']!r} if you "
                        "trust that module (it is never imported on the file's say-so).")
            elif meta.get("model_class"):
                hint = f" It holds a {meta['model_class']}."
            raise CheckpointError(f"cannot tell which model to build for {os.fspath(path)!r}: pass factory="
                                  "'package.module:function' for your own model, or architecture= one of "
                                  f"{sorted(ARCHITECTURES)}.{hint}")
        key = canonical_name(arch)
        options = dict(meta.get("options") or {}) if key == meta.get("architecture") else {}
        model = build_model(key, nc, shape, **options)
        built = f"{key} (n_classes={int(nc)}, in_shape={tuple(check_in_shape(shape))})"
    problems = _state_dict_problems(model, ckpt["state_dict"])
    if problems:
        hint = ""
        if n_classes is not None and meta.get("n_classes") not in (None, n_classes):
            hint = f" The checkpoint was saved with n_classes={meta['n_classes']}, not {n_classes}."
        elif in_shape is not None and meta.get("in_shape") not in (None, tuple(in_shape)):
            hint = f" The checkpoint was saved with in_shape={meta['in_shape']}, not {tuple(in_shape)}."
        raise CheckpointError(f"the weights in {os.fspath(path)!r} do not fit the model built, {built}: "
                              + "; ".join(problems) + "." + hint)
    model.load_state_dict(ckpt["state_dict"], strict=True)
    if isinstance(meta.get("fit_recipe"), Mapping):
        model.fit_recipe = dict(meta["fit_recipe"])
    return model.eval()


__all__ = ["FORMAT", "CheckpointError", "UnsafeCheckpointError", "save_checkpoint", "load_checkpoint", "load_model"]
