"""The unlearning methods behind one call, ``unlearn``, and their default hyperparameters.

Every method works on a deep copy of the model (the input model is never touched), reports the
loss of every optimiser step, and is timed alone (evaluation excluded).

Data a method needs: "forget" = zero-shot (the forget set only), "retain" = forget and retain
sets (or the retain set alone), "full" = the whole training set.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
import torch.nn.functional as F

from unlearn_core.data import as_xy, resolve_device
from unlearn_core.images.train import train_images
from unlearn_core.methods import baselines
from unlearn_core.methods.jit import jit
from unlearn_core.models import reinitialize
from unlearn_core.training import FIT_DEFAULTS, check_labels, init_input_stats, n_outputs, train_loop

# ---------------------------------------------------------------------------------------------
# Default hyperparameters: the one table. "toy2d" = the 2-D MLP of the teaching app, with inputs
# standardised inside the model (sigma is in standardised units). The JiT values come from the
# sweep in README.md (`python -m unlearn_core.bench --sweep`).
# ---------------------------------------------------------------------------------------------
DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "toy2d": {
        "jit": dict(sigma=0.25, n_samples=25, lr=0.1, epochs=1, batch_size=4, normalize_step="first",
                    accumulate_grad=False, reduction="mean", train_mode=False, clamp=False,
                    reproduce_authors=False, amp=False, chunk_size=None, seed=0),
        "retrain": dict(epochs=None, lr=None, batch_size=None, weight_decay=None, seed=0),
        "finetune": dict(epochs=20, lr=1e-3, batch_size=64, seed=0),
        "neggrad_plus": dict(epochs=10, lr=1e-3, batch_size=64, alpha=0.9, seed=0),
        "random_label": dict(epochs=10, lr=1e-3, batch_size=64, seed=0),
        # Bad Teacher, SSD, LF-SSD, SCRUB, UNSIR, EMMN, GKT: budgets for small 2-D models, each value's
        # source commented in unlearn_core/baselines.py (BASELINE_DEFAULTS)
        **{name: dict(hp) for name, hp in baselines.BASELINE_DEFAULTS.items()},
    },
}


# ---------------------------------------------------------------------------------------------
# Image profiles "<arch>/<setting>": arch in ARCHS (plus "image" for users' own models), setting in
# full_class, sub_class, random. One readable table per method below; DEFAULTS gets one entry per
# profile. JiT on VGG11 and ViT: the paper's sigma / lr / forget batch (PAPER.md section 3), with the
# loss summed over the batch as in the authors' code (their lr assumes it) but gradients zeroed every
# step (the fix; their code accumulates). ResNet18 is not configured in the paper: its values, like
# SmallCNN's (digits), are this project's choices (README: how they were picked).
# ---------------------------------------------------------------------------------------------
ARCHS = ("smallcnn", "resnet18", "vgg11", "vit", "image")
IMAGE_SETTINGS = ("full_class", "sub_class", "random")

#: (arch, setting) -> (sigma, lr, forget batch size, reduction) for JiT on images.
IMAGE_JIT: dict[tuple[str, str], tuple[float, float, int, str]] = {
    ("vgg11", "full_class"): (0.5, 3e-4, 128, "sum"),   # paper
    ("vgg11", "sub_class"): (0.01, 3e-4, 64, "sum"),    # paper
    ("vgg11", "random"): (0.01, 3e-4, 128, "sum"),      # paper
    ("vit", "full_class"): (0.8, 1.5, 128, "sum"),      # paper (ViT-B/16 at 224^2; ours is a small ViT)
    ("vit", "sub_class"): (1.5, 0.5, 64, "sum"),        # paper
    ("vit", "random"): (0.5, 0.1, 128, "sum"),          # paper
    ("resnet18", "full_class"): (0.5, 3e-4, 128, "sum"),  # ours: VGG11's values (not in the paper)
    ("resnet18", "sub_class"): (0.01, 3e-4, 64, "sum"),   # ours
    ("resnet18", "random"): (0.01, 3e-4, 128, "sum"),     # ours
    ("smallcnn", "full_class"): (0.1, 1e-3, 128, "sum"),  # ours: scripts/digits_jit_sweep.py (README)
    ("smallcnn", "sub_class"): (0.1, 1e-3, 32, "sum"),    # ours: same sweep
    ("smallcnn", "random"): (0.5, 3e-4, 8, "mean"),       # ours: same sweep (nothing beats doing nothing here)
}

#: Training-based baselines on images: Adam, as their 2-D versions; budgets are our choices (the
#: authors' finetune ran 5 epochs of SGD 0.02).
IMAGE_TRAINING: dict[str, dict[str, Any]] = {
    "finetune": dict(epochs=5, lr=1e-3, batch_size=128),
    "neggrad_plus": dict(epochs=5, lr=1e-4, batch_size=128, alpha=0.99),
    "random_label": dict(epochs=3, lr=1e-3, batch_size=128),
}


#: Per-setting values of the baselines on images (the JiT authors' runs, PAPER.md section 8): SCRUB's
#: alpha / gamma are 0.001 / 0.99 for full-class and 1 / 5 elsewhere; SSD's selection weight alpha is 1
#: for full-class (alpha = 10 selects nothing when |D| / |D_f| <= 10) and SSD's own 10 elsewhere.
#: The budgets: the authors' (PAPER_DEFAULTS) for CIFAR-size models, the small-model ones
#: (BASELINE_DEFAULTS) for the digits SmallCNN.
IMAGE_BASELINES: dict[tuple[str, str], dict[str, Any]] = {
    ("scrub", "full_class"): dict(alpha=0.001, gamma=0.99),
    ("scrub", "sub_class"): dict(alpha=1.0, gamma=5.0),
    ("scrub", "random"): dict(alpha=1.0, gamma=5.0),
    ("ssd", "full_class"): dict(alpha=1.0, lam=1.0),
    ("ssd", "sub_class"): dict(alpha=10.0, lam=1.0),
    ("ssd", "random"): dict(alpha=10.0, lam=1.0),
    ("lf_ssd", "full_class"): dict(alpha=1.0, lam=1.0),
    ("lf_ssd", "sub_class"): dict(alpha=10.0, lam=1.0),
    ("lf_ssd", "random"): dict(alpha=10.0, lam=1.0),
}


def _image_profile(arch: str, setting: str) -> dict[str, dict[str, Any]]:
    jit_arch = arch if (arch, setting) in IMAGE_JIT else "vgg11"
    sigma, lr, batch, reduction = IMAGE_JIT[(jit_arch, setting)]
    prof = {
        "jit": dict(DEFAULTS["toy2d"]["jit"], sigma=sigma, lr=lr, batch_size=batch, reduction=reduction,
                    normalize_step=False),
        "retrain": dict(DEFAULTS["toy2d"]["retrain"]),
    }
    for name, hp in IMAGE_TRAINING.items():
        prof[name] = dict(hp, seed=0)
    source = baselines.BASELINE_DEFAULTS if arch == "smallcnn" else baselines.PAPER_DEFAULTS
    for name in baselines.RUNS:
        prof[name] = dict(source[name], **IMAGE_BASELINES.get((name, setting), {}))
    return prof


for _arch in ARCHS:
    for _setting in IMAGE_SETTINGS:
        DEFAULTS[f"{_arch}/{_setting}"] = _image_profile(_arch, _setting)


def defaults_for(arch: str, setting: str, dataset: str | None = None) -> str:
    """The DEFAULTS profile for an image model: ``"<arch>/<setting>"`` ("image/<setting>" for unknown archs)."""
    if setting not in IMAGE_SETTINGS:
        raise ValueError(f"image settings are {', '.join(IMAGE_SETTINGS)}, got {setting!r}")
    return f"{arch if arch in ARCHS else 'image'}/{setting}"


@dataclass(frozen=True)
class Method:
    name: str
    needs: str  # "forget" (zero-shot), "retain", "full"
    summary: str
    run: Callable[..., list[torch.Tensor]] = field(repr=False)

    @property
    def zero_shot(self) -> bool:
        return self.needs == "forget"

    def defaults(self, profile: str = "toy2d") -> dict[str, Any]:
        return dict(DEFAULTS[profile][self.name])


@dataclass
class UnlearnResult:
    model: nn.Module
    history: list[dict]  # one {"step", "loss"} per optimiser step
    seconds: float  # the method alone; evaluation excluded
    method: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)


# --- the methods: each takes (model, forget, retain, callback, **hp) and returns step losses ---

def _run_jit(model, forget, retain, on_step, **hp):
    return jit(model, forget[0], callback=on_step, **hp)


def _steps_recorder(on_step, model):
    losses: list[torch.Tensor] = []

    def record(step: int, loss: torch.Tensor) -> None:
        losses.append(loss)
        if on_step is not None:
            on_step(step, float(loss), model)
    return losses, record


def _run_retrain(model, forget, retain, on_step, *, epochs, lr, batch_size, weight_decay, seed):
    """Retrain from scratch: re-initialise *every* parameter, then the original recipe on D_r."""
    saved = dict(getattr(model, "fit_recipe", {}) or {})
    if saved.get("trainer") == "image":  # an image model: its own recipe (optimiser, schedule, augmentation)
        given = dict(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay)
        saved.update({k: v for k, v in given.items() if v is not None})
        reinitialize(model, seed)
        losses, record = _steps_recorder(on_step, model)
        dev = next(model.parameters()).device
        hist = train_images(model, *retain, saved, seed=seed, device=dev,
                            callback=lambda e, entry, m: record(e, torch.tensor(entry["loss"])))
        return losses if hist else []
    recipe = dict(FIT_DEFAULTS, **saved)
    given = dict(epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay)
    recipe.update({k: v for k, v in given.items() if v is not None})
    reinitialize(model, seed)
    losses, record = _steps_recorder(on_step, model)
    X, y = retain
    init_input_stats(model, X)
    train_loop(model, X, y, epochs=recipe["epochs"], lr=recipe["lr"], batch_size=recipe["batch_size"],
               seed=seed, weight_decay=recipe["weight_decay"], on_step=record)
    model.fit_recipe = dict(recipe, optimizer="adam")
    return losses


def _run_finetune(model, forget, retain, on_step, *, epochs, lr, batch_size, seed):
    """Fine-tune on the retain set only (catastrophic forgetting of D_f)."""
    losses, record = _steps_recorder(on_step, model)
    train_loop(model, *retain, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, on_step=record)
    return losses


def _run_neggrad_plus(model, forget, retain, on_step, *, epochs, lr, batch_size, alpha, seed):
    """NegGrad+: alpha * CE(retain batch) - (1 - alpha) * CE(forget batch), one step per retain batch."""
    if not 0 <= float(alpha) <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    Xf, yf = forget
    gen = torch.Generator().manual_seed(int(seed) + 1)
    state = {"order": torch.randperm(len(Xf), generator=gen).to(Xf.device), "pos": 0}

    def next_forget(k: int) -> torch.Tensor:
        out = []
        while k > 0:
            if state["pos"] >= len(Xf):
                state["order"], state["pos"] = torch.randperm(len(Xf), generator=gen).to(Xf.device), 0
            take = state["order"][state["pos"]:state["pos"] + k]
            state["pos"] += len(take)
            k -= len(take)
            out.append(take)
        return torch.cat(out)

    def batch_loss(m, xb, yb):
        logits = m(xb)
        idx = next_forget(min(len(xb), len(Xf)))
        loss_f = F.cross_entropy(m(Xf[idx]), yf[idx])
        return float(alpha) * F.cross_entropy(logits, yb) - (1 - float(alpha)) * loss_f, logits

    losses, record = _steps_recorder(on_step, model)
    train_loop(model, *retain, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
               batch_loss=batch_loss, on_step=record)
    return losses


def wrong_labels(y: torch.Tensor, n_classes: int, seed: int) -> torch.Tensor:
    """A uniformly random label other than the true one, for each entry of y (seeded)."""
    gen = torch.Generator().manual_seed(int(seed) + 2)
    shift = torch.randint(1, n_classes, (len(y),), generator=gen).to(y.device)
    return (y + shift) % n_classes


def _run_random_label(model, forget, retain, on_step, *, epochs, lr, batch_size, seed):
    """Random-label (Amnesiac): train on D_r plus D_f relabelled with random *wrong* classes."""
    Xf, yf = forget
    wrong = wrong_labels(yf, n_outputs(model, Xf), seed)
    X = torch.cat([retain[0], Xf])
    y = torch.cat([retain[1], wrong])
    losses, record = _steps_recorder(on_step, model)
    train_loop(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, on_step=record)
    return losses


METHODS: dict[str, Method] = {m.name: m for m in [
    Method("jit", "forget", "JiT (Foster et al. 2024): smooth the model around each forget point by "
           "minimising a Monte-Carlo local Lipschitz estimate; zero-shot", _run_jit),
    Method("retrain", "retain", "Retrain from scratch on the retain set with the original recipe: the oracle",
           _run_retrain),
    Method("finetune", "retain", "Fine-tune on the retain set", _run_finetune),
    Method("neggrad_plus", "retain", "NegGrad+: gradient ascent on the forget set plus descent on the retain set",
           _run_neggrad_plus),
    Method("random_label", "retain", "Random-label (Amnesiac): train on retain plus forget with wrong labels",
           _run_random_label),
]}
# The other baselines (unlearn_core.methods.baselines): Bad Teacher, SSD, LF-SSD, SCRUB, UNSIR, EMMN, GKT.
for _name, _run in baselines.RUNS.items():
    METHODS[_name] = Method(_name, baselines.NEEDS[_name], baselines.SUMMARY[_name], _run)


def list_methods(profile: str = "toy2d") -> dict[str, dict[str, Any]]:
    """name -> {"needs", "zero_shot", "summary", "defaults"} for every method."""
    return {name: {"needs": m.needs, "zero_shot": m.zero_shot, "summary": m.summary,
                   "defaults": m.defaults(profile)} for name, m in METHODS.items()}


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def unlearn(method: str, model: nn.Module, *, forget, retain=None, device="auto",
            callback: Callable[[int, float, nn.Module], None] | None = None, profile: str = "toy2d",
            **hyperparameters) -> UnlearnResult:
    """Apply an unlearning method to a copy of ``model``.

    forget / retain: (X, y) pairs of arrays or tensors, X [n, ...] of any input shape.
    ``hyperparameters`` override the method's defaults for ``profile`` (see ``list_methods``);
    an unknown name is an error. ``callback(step, loss, model)`` runs after every optimiser step.
    Returns ``UnlearnResult(model, history, seconds)``: a new model (the input is untouched), one
    ``{"step", "loss"}`` per step, and the method's wall-clock seconds (evaluation excluded).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if profile not in DEFAULTS:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(DEFAULTS)}")
    spec = METHODS[method]
    hp = spec.defaults(profile)
    unknown = sorted(set(hyperparameters) - set(hp))
    if unknown:
        raise ValueError(f"{method} has no hyperparameter(s) {', '.join(unknown)}; "
                         f"it takes {', '.join(sorted(hp))}")
    hp.update(hyperparameters)
    Xf, yf = as_xy(forget, "forget")
    if len(Xf) == 0:
        raise ValueError("the forget set is empty; select at least one point to forget")
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
