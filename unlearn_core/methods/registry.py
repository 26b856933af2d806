"""The unlearning methods behind one call, ``unlearn``, and their defaults per profile.

Each method lives in its own file (``methods/<name>.py``) with its code, its defaults, its
parameter constraints and its one-line help, ending in a ``SPEC``. This module only collects them:

- ``METHODS``: name -> ``MethodSpec`` (``.run``, ``.params``, ``.summary``, ``.needs``, ``.defaults()``);
- ``DEFAULTS``: profile -> name -> hyperparameters. Profiles: "toy2d" (the 2-D MLP of the app and
  the 2-D bench) and "<arch>/<setting>" for images (arch in ``ARCHS``, "image" for users' own
  models; setting in ``IMAGE_SETTINGS``);
- ``unlearn``: validate everything, then run one method on a copy of the model.

Every method works on a deep copy of the model (the input model is never touched), reports the
loss of every optimiser step, and is timed alone (evaluation excluded).

Data a method needs: "forget" = zero-shot (the forget set only), "retain" = forget and retain
sets, "full" = the whole training set (retain and forget).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn

from unlearn_core.data import as_xy, require_forget, resolve_device
from unlearn_core.methods import (bad_teacher, emmn, finetune, gkt, jit, lf_ssd, neggrad_plus, random_label, retrain,
                                  scrub, ssd, unsir)
from unlearn_core.methods.spec import ARCHS, IMAGE_SETTINGS, MethodSpec
from unlearn_core.training import check_labels

#: The methods, in the order tables and menus list them.
METHODS: dict[str, MethodSpec] = {spec.name: spec for spec in (
    jit.SPEC, retrain.SPEC, finetune.SPEC, neggrad_plus.SPEC, random_label.SPEC, bad_teacher.SPEC, ssd.SPEC,
    lf_ssd.SPEC, scrub.SPEC, unsir.SPEC, emmn.SPEC, gkt.SPEC)}

#: profile -> method -> hyperparameters, assembled from the method files.
DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {"toy2d": {name: dict(m.toy2d) for name, m in METHODS.items()}}
for _arch in ARCHS:
    for _setting in IMAGE_SETTINGS:
        DEFAULTS[f"{_arch}/{_setting}"] = {name: m.defaults_for(_arch, _setting) for name, m in METHODS.items()}
for _profile in DEFAULTS.values():  # every table value must satisfy its method's constraints
    for _name, _hp in _profile.items():
        METHODS[_name].check(_hp)


def defaults_for(arch: str, setting: str) -> str:
    """The DEFAULTS profile for an image model: ``"<arch>/<setting>"`` ("image/<setting>" for unknown archs)."""
    if setting not in IMAGE_SETTINGS:
        raise ValueError(f"image settings are {', '.join(IMAGE_SETTINGS)}, got {setting!r}")
    return f"{arch if arch in ARCHS else 'image'}/{setting}"


@dataclass
class UnlearnResult:
    model: nn.Module
    history: list[dict]  # one {"step", "loss"} per optimiser step
    seconds: float  # the method alone; evaluation excluded
    method: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)


def list_methods(profile: str = "toy2d") -> dict[str, dict[str, Any]]:
    """name -> {"needs", "zero_shot", "summary", "defaults"} for every method."""
    return {name: {"needs": m.needs, "zero_shot": m.zero_shot, "summary": m.summary,
                   "defaults": dict(DEFAULTS[profile][name])} for name, m in METHODS.items()}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def unlearn(method: str, model: nn.Module, *, forget, retain=None, device="auto",
            callback: Callable[[int, float, nn.Module], None] | None = None, profile: str = "toy2d",
            **hyperparameters) -> UnlearnResult:
    """Apply an unlearning method to a copy of ``model``.

    forget / retain: (X, y) pairs of arrays or tensors, X [n, ...] of any input shape.
    ``hyperparameters`` override the method's defaults for ``profile`` (see ``list_methods``);
    an unknown name or a value outside its range is an error (``METHODS[method].params`` says
    what each takes). ``callback(step, loss, model)`` runs after every optimiser step.
    Returns ``UnlearnResult(model, history, seconds)``: a new model (the input is untouched), one
    ``{"step", "loss"}`` per step, and the method's wall-clock seconds (evaluation excluded).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if profile not in DEFAULTS:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(DEFAULTS)}")
    spec = METHODS[method]
    hp = dict(DEFAULTS[profile][method])
    hp.update(spec.check(hyperparameters))
    Xf, yf = require_forget(forget)
    if spec.needs != "forget":
        if retain is None:
            raise ValueError(f"{method} needs the retain set (retain=(X, y)); only zero-shot methods "
                             f"({', '.join(n for n, m in METHODS.items() if m.zero_shot)}) work without it")
        Xr, yr = as_xy(retain, "retain")
        if len(Xr) == 0:
            raise ValueError(f"{method} needs a non-empty retain set; forgetting everything leaves nothing to train on")
        if Xr.shape[1:] != Xf.shape[1:]:
            raise ValueError(f"retain inputs have shape {tuple(Xr.shape[1:])} but forget inputs {tuple(Xf.shape[1:])}")
    dev = resolve_device(device)
    new = copy.deepcopy(model).to(dev)
    Xf, yf = Xf.to(dev), yf.to(dev)
    check_labels(new, Xf, yf, "forget")
    retain_t = None
    if spec.needs != "forget":
        retain_t = (Xr.to(dev), yr.to(dev))
        check_labels(new, *retain_t, "retain")
    _sync(dev)
    t0 = time.perf_counter()
    losses = spec.run(new, (Xf, yf), retain_t, callback, **hp)
    _sync(dev)
    seconds = time.perf_counter() - t0
    values = torch.stack(losses).float().cpu().tolist() if losses else []
    history = [{"step": i + 1, "loss": v} for i, v in enumerate(values)]
    return UnlearnResult(model=new.eval(), history=history, seconds=seconds, method=method, hyperparameters=hp)
