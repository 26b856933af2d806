"""Batched model ensembles: K copies of one architecture trained, unlearned and evaluated at once.

The K models' parameters are stacked along a new leading dimension (``torch.func.stack_module_state``)
and one forward runs all of them through ``torch.vmap(torch.func.functional_call(...))``. Every
operation the training recipe uses is elementwise per model, so a stacked run is the K sequential
runs done side by side:

- Adam is elementwise, so one ``torch.optim.Adam`` over the stacked tensors applies each model's
  own Adam update; the loss is the *sum* of the K models' mean losses, whose gradient with respect
  to model k's slice is model k's own gradient.
- Each model k keeps its own shuffling generator (seeded with ``seeds[k]``), exactly as ``fit`` and
  ``train_loop`` seed theirs, and its own JiT noise generator, so member k of a batched run matches
  the sequential run with seed ``seeds[k]`` (tests check this, to float rounding).

``fit_ensemble(make_model, X, y, seeds=...)`` is K calls of ``fit(make_model(s), X, y, seed=s)``;
``unlearn_ensemble(method, ens, forget=..., retain=...)`` is K calls of ``unlearn`` (JiT, retrain,
finetune and random_label batched; other methods fall back to a plain loop over the members).
``Ensemble.repeat(seeds)`` stacks K copies of one model, so one original can be unlearned K times
with K seeds at once (the NeurIPS 2023 challenge's protocol, ``unlearn_core.audit``).

Limits: models with BatchNorm (running statistics updated in place) cannot be stacked, and models with
active dropout cannot be trained stacked (vmap draws no random masks); use a loop.

Randomness: every draw comes from generators seeded with the members' seeds (shuffles, JiT noise,
``models.reinitialize`` for retrain), never from torch's global one.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state

from unlearn_core.data import as_xy, require_forget, resolve_device
from unlearn_core.methods import METHODS, unlearn
from unlearn_core.methods.jit import TOY2D as JIT_DEFAULTS, jit_loss
from unlearn_core.methods.random_label import wrong_labels
from unlearn_core.models import input_center, input_scale, reinitialize
from unlearn_core.training import FIT_DEFAULTS, check_recipe, fit, check_labels, init_input_stats, n_outputs


def _check_stackable(model: nn.Module) -> None:
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            raise ValueError(f"cannot batch models with BatchNorm ({name or type(m).__name__}): its running "
                             "statistics change in place during training; train such models one by one")


@dataclass
class Ensemble:
    """K models of one architecture, their parameters and buffers stacked along dim 0.

    ``template`` is a copy of the architecture on the meta device (no storage); ``params`` and
    ``buffers`` map state names to tensors of shape [K, ...]; ``seeds[k]`` names member k.
    """
    template: nn.Module
    params: dict[str, torch.Tensor]
    buffers: dict[str, torch.Tensor]
    seeds: list[int]
    attrs: dict[str, Any] = field(default_factory=dict)  # e.g. fit_recipe, carried to members

    @classmethod
    def from_models(cls, models: Sequence[nn.Module], seeds: Sequence[int] | None = None) -> "Ensemble":
        models = list(models)
        if not models:
            raise ValueError("an ensemble needs at least one model")
        for m in models:
            _check_stackable(m)
        keys = [tuple(m.state_dict().keys()) for m in models]
        if any(k != keys[0] for k in keys):
            raise ValueError("all models of an ensemble must have the same architecture")
        params, buffers = stack_module_state(models)
        params = {k: v.detach() for k, v in params.items()}
        template = copy.deepcopy(models[0]).to("meta")
        seeds = list(range(len(models))) if seeds is None else [int(s) for s in seeds]
        if len(seeds) != len(models):
            raise ValueError(f"{len(seeds)} seeds for {len(models)} models")
        attrs = {"fit_recipe": dict(models[0].fit_recipe)} if hasattr(models[0], "fit_recipe") else {}
        return cls(template, params, buffers, seeds, attrs)

    def __len__(self) -> int:
        return len(self.seeds)

    @property
    def device(self) -> torch.device:
        return next(iter(self.params.values())).device

    def clone(self) -> "Ensemble":
        return Ensemble(self.template, {k: v.detach().clone() for k, v in self.params.items()},
                        {k: v.clone() for k, v in self.buffers.items()}, list(self.seeds), copy.deepcopy(self.attrs))

    def member(self, k: int) -> nn.Module:
        """Member k as a standalone model (a new module on the ensemble's device, eval mode)."""
        model = copy.deepcopy(self.template).to_empty(device=self.device)
        state = {n: t[k] for n, t in {**self.params, **self.buffers}.items()}
        model.load_state_dict(state)
        for name, value in self.attrs.items():
            setattr(model, name, copy.deepcopy(value))
        return model.eval()

    def subset(self, index: Sequence[int]) -> "Ensemble":
        """The members at ``index`` (shared storage is copied)."""
        idx = torch.as_tensor(list(index), dtype=torch.long, device=self.device)
        return Ensemble(self.template, {k: v[idx].clone() for k, v in self.params.items()},
                        {k: v[idx].clone() for k, v in self.buffers.items()},
                        [self.seeds[int(i)] for i in idx], copy.deepcopy(self.attrs))

    def repeat(self, seeds: Sequence[int]) -> "Ensemble":
        """len(seeds) copies of this one-member ensemble (the same weights), member k named seeds[k].

        The challenge protocol's K copies of one original: ``unlearn_ensemble`` then unlearns each
        copy with its own seed, so the members differ only by the method's randomness.
        """
        if len(self) != 1:
            raise ValueError(f"repeat copies a one-member ensemble; this one has {len(self)} members")
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise ValueError("repeat needs at least one seed")
        n = len(seeds)
        return Ensemble(self.template, {k: v.expand(n, *v.shape[1:]).clone() for k, v in self.params.items()},
                        {k: v.expand(n, *v.shape[1:]).clone() for k, v in self.buffers.items()},
                        seeds, copy.deepcopy(self.attrs))

    def members(self) -> list[nn.Module]:
        return [self.member(k) for k in range(len(self))]

    def forward_fn(self) -> Callable:
        """f(params, buffers, x) -> logits for one member's slices; vmap it over dim 0."""
        template = self.template

        def f(p, b, x):
            return functional_call(template, (p, b), (x,))
        return f

    @torch.no_grad()
    def logits(self, X: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        """Logits of every member for the shared inputs X [n, ...]: [K, n, C] float32 on the CPU."""
        X = torch.as_tensor(X, dtype=torch.float32)
        self.template.eval()
        fwd = torch.vmap(self.forward_fn(), in_dims=(0, 0, None))
        out = [fwd(self.params, self.buffers, X[i:i + batch_size].to(self.device)).float().cpu()
               for i in range(0, len(X), batch_size)]
        return torch.cat(out, 1) if out else torch.empty(len(self), 0, 0)


def train_ensemble(ens: Ensemble, X: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float, batch_size: int,
                   weight_decay: float = 0.0,
                   on_epoch: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None) -> torch.Tensor:
    """``train_loop`` for every member at once, in place: Adam + cross-entropy, member k shuffled by seeds[k].

    X [n, ...] is shared; y is [n] (shared) or [K, n] (one labelling per member). Returns the
    per-step mean losses as a [steps, K] tensor. ``on_epoch(epoch, loss[K], acc[K])`` runs after
    each epoch with the members' mean training loss and accuracy.
    """
    check_recipe(epochs, lr, batch_size)
    for name, m in ens.template.named_modules():
        if isinstance(m, nn.Dropout) and m.p > 0:
            raise ValueError(f"cannot train a batched ensemble of models with dropout ({name}, p={m.p}): vmap draws "
                             "no random masks; train such models one by one (batched=False)")
    K, n, dev = len(ens), len(X), ens.device
    y2 = y.unsqueeze(0).expand(K, n) if y.ndim == 1 else y
    params = {k: v.detach().clone().requires_grad_(True) for k, v in ens.params.items()}
    opt = torch.optim.Adam(list(params.values()), lr=float(lr), weight_decay=float(weight_decay))
    gens = [torch.Generator().manual_seed(int(s)) for s in ens.seeds]
    fwd = torch.vmap(ens.forward_fn(), in_dims=(0, 0, 0))
    ens.template.train()
    losses: list[torch.Tensor] = []
    for epoch in range(int(epochs)):
        order = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(dev)  # [K, n]
        loss_sum = torch.zeros(K, device=dev)
        correct = torch.zeros(K, device=dev)
        for start in range(0, n, int(batch_size)):
            idx = order[:, start:start + int(batch_size)]  # [K, B]
            xb, yb = X[idx], torch.gather(y2, 1, idx)
            logits = fwd(params, ens.buffers, xb)  # [K, B, C]
            per = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none").view(idx.shape)
            loss = per.mean(1)  # [K]: each member's own batch-mean loss
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
            losses.append(loss.detach())
            if on_epoch is not None:
                loss_sum += loss.detach() * idx.shape[1]
                correct += (logits.detach().argmax(2) == yb).sum(1)
        if on_epoch is not None:
            on_epoch(epoch + 1, (loss_sum / n).cpu(), (correct / n).cpu())
    ens.params = {k: v.detach() for k, v in params.items()}
    ens.template.eval()
    return torch.stack(losses) if losses else torch.empty(0, K)


def fit_ensemble(make_model: Callable[[int], nn.Module], X, y, *, seeds: Sequence[int],
                 epochs: int = FIT_DEFAULTS["epochs"], lr: float = FIT_DEFAULTS["lr"],
                 batch_size: int = FIT_DEFAULTS["batch_size"], weight_decay: float = FIT_DEFAULTS["weight_decay"],
                 device="auto", callback: Callable[[int, dict], None] | None = None,
                 batched: bool = True) -> Ensemble:
    """Train ``make_model(s)`` for every seed s at once: member k equals ``fit(make_model(s_k), X, y, seed=s_k)``.

    ``make_model(seed)`` must build (and initialise from the seed) a fresh model. ``callback(epoch,
    entry)`` runs after each epoch with ``{"epoch", "loss", "acc"}`` (means over the members).
    ``batched=False`` trains the members one after another with ``fit`` (the baseline the speed
    benchmark compares against; ``callback`` then sees each member's epochs in turn).
    """
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("fit_ensemble needs at least one seed")
    X, y = as_xy((X, y), "training data")
    if len(X) == 0:
        raise ValueError("training data is empty")
    dev = resolve_device(device)
    X, y = X.to(dev), y.to(dev)
    models = []
    for s in seeds:
        m = make_model(s).to(dev)
        init_input_stats(m, X)
        models.append(m)
    check_labels(models[0], X, y, "training data")
    if not batched:
        for i, (m, s) in enumerate(zip(models, seeds)):
            fit(m, X, y, epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay, seed=s, device=dev,
                callback=None if callback is None else
                (lambda e, entry, _m, i=i: callback(i * int(epochs) + e, dict(entry))))
        return Ensemble.from_models(models, seeds)
    ens = Ensemble.from_models(models, seeds)

    def on_epoch(epoch, loss, acc):
        callback(epoch, {"epoch": epoch, "loss": float(loss.mean()), "acc": float(acc.mean())})

    train_ensemble(ens, X, y, epochs=epochs, lr=lr, batch_size=batch_size, weight_decay=weight_decay,
                   on_epoch=on_epoch if callback is not None else None)
    ens.attrs["fit_recipe"] = dict(epochs=int(epochs), lr=float(lr), batch_size=int(batch_size),
                                   weight_decay=float(weight_decay), optimizer="adam")
    return ens


# --- JiT on every member at once ----------------------------------------------------------------

def _member_norms(grads: list[torch.Tensor]) -> torch.Tensor:
    """Per-member global L2 norm of stacked gradients [K, ...] -> [K], at least 1e-12."""
    per = torch.stack([g.flatten(1).norm(dim=1) for g in grads], 1)  # [K, tensors]
    return per.norm(dim=1).clamp_min(1e-12)


def jit_ensemble(ens: Ensemble, X: torch.Tensor, *, sigma: float = JIT_DEFAULTS["sigma"],
                 n_samples: int = JIT_DEFAULTS["n_samples"], lr: float = JIT_DEFAULTS["lr"],
                 epochs: int = JIT_DEFAULTS["epochs"], batch_size: int = JIT_DEFAULTS["batch_size"],
                 normalize_step: str = JIT_DEFAULTS["normalize_step"], reduction: str = JIT_DEFAULTS["reduction"],
                 clamp: bool = JIT_DEFAULTS["clamp"], gradient: str = JIT_DEFAULTS["gradient"],
                 scale_noise: bool = JIT_DEFAULTS["scale_noise"], seeds: Sequence[int] | None = None,
                 callback: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """``jit`` on every member at once, in place; member k draws its noise from a generator seeded seeds[k].

    Same arguments and meaning as ``unlearn_core.methods.jit.jit`` (eval mode, fresh gradient every step);
    the authors' gradient accumulation and train-mode options are not batched (use a loop).
    Returns the per-step losses as [steps, K]; ``callback(step, losses[K])`` after every step.
    """
    hp = METHODS["jit"].check(dict(sigma=sigma, n_samples=n_samples, lr=lr, epochs=epochs, batch_size=batch_size,
                                   normalize_step=normalize_step, reduction=reduction, clamp=clamp,
                                   gradient=gradient, scale_noise=scale_noise))
    sigma, n_samples, lr, epochs, batch_size = hp["sigma"], hp["n_samples"], hp["lr"], hp["epochs"], hp["batch_size"]
    normalize_step = hp["normalize_step"]
    K, dev = len(ens), ens.device
    seeds = ens.seeds if seeds is None else [int(s) for s in seeds]
    gens = [torch.Generator(device=dev).manual_seed(int(s)) for s in seeds]
    f = ens.forward_fn()
    ens.template.eval()
    scale_key = _buffer_key(ens, "scale")
    center_key = _buffer_key(ens, "center")

    def member_losses(red: str):
        def member_loss(p, b, x, noise):
            model = lambda inp: f(p, b, inp)  # noqa: E731  (jit_loss only calls the model)
            scale = b[scale_key].reshape(x.shape[1:]) if scale_key and scale_noise else None
            return jit_loss(model, x, noise, scale=scale, clamp=clamp, reduction=red, gradient=gradient)
        return torch.vmap(member_loss, in_dims=(0, 0, 0, 0))

    batched_loss = member_losses(reduction)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in ens.params.items()}
    names = list(params)
    step_size: torch.Tensor | None = None
    if normalize_step == "off":
        step_size = torch.full((K,), float(lr), device=dev)
    elif normalize_step == "probe":
        if not (scale_key and center_key and scale_noise):
            raise ValueError("normalize_step='probe' needs a model that declares input_center() and input_scale()")
        d = X.shape[1:]
        probes, noises = [], []
        for k, g in enumerate(gens):
            z = torch.randn((256, *d), generator=g, device=dev, dtype=X.dtype)
            probes.append(ens.buffers[center_key][k].reshape(d) + z * ens.buffers[scale_key][k].reshape(d))
            noises.append(torch.randn((int(n_samples), 256, *d), generator=g, device=dev, dtype=X.dtype) * float(sigma))
        loss = member_losses("mean")(params, ens.buffers, torch.stack(probes), torch.stack(noises))
        grads = torch.autograd.grad(loss.sum(), [params[n] for n in names], allow_unused=True)
        per_batch = int(batch_size) if reduction == "sum" else 1  # as jit(): a summed loss is batch_size means
        step_size = float(lr) / (_member_norms([g for g in grads if g is not None]) * per_batch)
    losses: list[torch.Tensor] = []
    step = 0
    for _ in range(int(epochs)):
        for start in range(0, len(X), int(batch_size)):
            x = X[start:start + int(batch_size)]
            noise = torch.stack([torch.randn((int(n_samples), *x.shape), generator=g, device=dev, dtype=x.dtype)
                                 for g in gens]).mul_(float(sigma))
            xs = x.unsqueeze(0).expand(K, *x.shape)
            loss = batched_loss(params, ens.buffers, xs, noise)  # [K]
            grads = torch.autograd.grad(loss.sum(), [params[n] for n in names], allow_unused=True)
            live = [(params[n], g) for n, g in zip(names, grads) if g is not None]
            if step_size is None:  # "first": fixed once, from each member's first gradient
                step_size = float(lr) / _member_norms([g for _, g in live])
            with torch.no_grad():
                for p, g in live:
                    p.sub_(g * step_size.view(-1, *([1] * (g.ndim - 1))))
            step += 1
            losses.append(loss.detach())
            if callback is not None:
                callback(step, losses[-1])
    ens.params = {k: v.detach() for k, v in params.items()}
    return torch.stack(losses)


def _buffer_key(ens: Ensemble, what: str) -> str | None:
    """The stacked buffer holding the model's declared input scale / centre, found by identity."""
    probe = copy.deepcopy(ens.template)
    fn = input_scale if what == "scale" else input_center
    target = fn(probe)
    if target is None:
        return None
    for name, buf in probe.named_buffers():
        if buf is target:
            return name
    raise ValueError(f"the model's input_{what}() is not one of its buffers, so it cannot be batched")


# --- any method on every member -----------------------------------------------------------------

@dataclass
class EnsembleResult:
    ensemble: Ensemble
    losses: torch.Tensor  # [steps, K] (NaN-padded when members took different numbers of steps)
    seconds: float  # the method alone, all K members; evaluation excluded
    batched: bool  # True when the members ran at once, False for a loop over members
    method: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)


BATCHED = ("jit", "retrain", "finetune", "random_label")


def unlearn_ensemble(method: str, ens: Ensemble, *, forget, retain=None, device="auto", profile: str = "toy2d",
                     batched: bool = True, callback: Callable[[int, torch.Tensor], None] | None = None,
                     **hyperparameters) -> EnsembleResult:
    """Apply ``method`` to every member of ``ens``; member k equals ``unlearn(method, member_k, seed=seeds[k])``.

    ``ens`` is left untouched. Hyperparameters work as in ``unlearn`` except ``seed``: member k
    always uses its own seed (``ens.seeds[k]``). JiT (in its default, eval-mode form), retrain,
    finetune and random_label run batched; the rest, and ``batched=False``, loop over members.
    ``callback(step, losses[K])`` runs after every batched step (after every member in a loop).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    spec = METHODS[method]
    hp = spec.defaults(profile)
    if "seed" in hyperparameters:
        raise ValueError("unlearn_ensemble gives member k the seed ens.seeds[k]; do not pass seed")
    hp.update(spec.check(hyperparameters))
    hp.pop("seed", None)
    Xf, yf = require_forget(forget)
    if spec.needs != "forget":
        if retain is None:
            raise ValueError(f"{method} needs the retain set (retain=(X, y))")
        Xr, yr = as_xy(retain, "retain")
        if len(Xr) == 0:
            raise ValueError(f"{method} needs a non-empty retain set")
    dev = resolve_device(device)
    src = ens if ens.device == dev else _moved(ens, dev)
    jit_batchable = method == "jit" and not (hp.get("accumulate_grad") or hp.get("train_mode")
                                            or hp.get("reproduce_authors") or hp.get("amp"))
    if not batched or method not in BATCHED or (method == "jit" and not jit_batchable):
        return _loop(method, src, forget, retain, dev, profile, callback, hp)
    new = src.clone()
    Xf, yf = Xf.to(dev), yf.to(dev)
    _sync(dev)
    t0 = time.perf_counter()
    if method == "jit":
        losses = jit_ensemble(new, Xf, sigma=hp["sigma"], n_samples=hp["n_samples"], lr=hp["lr"],
                              epochs=hp["epochs"], batch_size=hp["batch_size"], normalize_step=hp["normalize_step"],
                              reduction=hp["reduction"], clamp=hp["clamp"], gradient=hp["gradient"],
                              scale_noise=hp["scale_noise"], callback=callback)
    else:
        Xr, yr = Xr.to(dev), yr.to(dev)
        if method == "retrain":
            recipe = dict(FIT_DEFAULTS, **new.attrs.get("fit_recipe", {}))
            recipe.update({k: hp[k] for k in ("epochs", "lr", "batch_size", "weight_decay") if hp[k] is not None})
            fresh = []
            for s in new.seeds:
                m = reinitialize(copy.deepcopy(src.template).to_empty(device=dev), s)
                init_input_stats(m, Xr)
                fresh.append(m)
            new = Ensemble.from_models(fresh, new.seeds)
            losses = train_ensemble(new, Xr, yr, epochs=recipe["epochs"], lr=recipe["lr"],
                                    batch_size=recipe["batch_size"], weight_decay=recipe["weight_decay"])
            new.attrs["fit_recipe"] = dict(recipe, optimizer="adam")
        elif method == "finetune":
            losses = train_ensemble(new, Xr, yr, epochs=hp["epochs"], lr=hp["lr"], batch_size=hp["batch_size"])
        else:  # random_label: D_r plus D_f relabelled with a random wrong class, drawn per member's seed
            C = n_outputs(src.member(0), Xf)
            wrong = torch.stack([wrong_labels(yf, C, s) for s in new.seeds])  # [K, n_f]
            X = torch.cat([Xr, Xf])
            y = torch.cat([yr.unsqueeze(0).expand(len(new), -1), wrong], 1)
            losses = train_ensemble(new, X, y, epochs=hp["epochs"], lr=hp["lr"], batch_size=hp["batch_size"])
    _sync(dev)
    seconds = time.perf_counter() - t0
    return EnsembleResult(new, losses.float().cpu(), seconds, True, method, hp)


def _loop(method, ens, forget, retain, dev, profile, callback, hp) -> EnsembleResult:
    members, histories, seconds = [], [], 0.0
    for k, s in enumerate(ens.seeds):
        r = unlearn(method, ens.member(k), forget=forget, retain=retain, device=dev, profile=profile, seed=s, **hp)
        members.append(r.model)
        histories.append([h["loss"] for h in r.history])
        seconds += r.seconds
        if callback is not None:
            callback(k + 1, torch.tensor([h[-1] if h else float("nan") for h in histories]))
    steps = max((len(h) for h in histories), default=0)
    losses = torch.full((steps, len(members)), float("nan"))
    for k, h in enumerate(histories):
        losses[:len(h), k] = torch.tensor(h)
    out = Ensemble.from_models(members, ens.seeds)
    return EnsembleResult(out, losses, seconds, False, method, hp)


def _moved(ens: Ensemble, dev: torch.device) -> Ensemble:
    return Ensemble(ens.template, {k: v.to(dev) for k, v in ens.params.items()},
                    {k: v.to(dev) for k, v in ens.buffers.items()}, list(ens.seeds), dict(ens.attrs))


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
