"""Selective Synaptic Dampening (Foster et al. 2024, arXiv 2308.07707).

No optimiser: importances (a diagonal Fisher) over D = D_r u D_f and over D_f; every parameter far
more important to D_f than to D is dampened. Two ways to compute the importance (``importance``):

- "batch_mean" (default, the authors' ``calc_importance``): in batches of ``batch_size`` taken in
  order from D = D_r then D_f (their unshuffled ``full_train_dl``) and from D_f, square the
  gradient of the batch-*mean* loss and average over the batches. The result depends on the batch
  size and the order of the data.
- "per_sample": average the per-sample squared gradients (``torch.func.vmap``). Order-free and
  independent of ``chunk_size``; but then imp_D >= imp_f |D_f| / |D|, so alpha >= |D| / |D_f|
  can select no parameter (reference/PAPER.md, section 10).

``importances`` and ``dampen`` are shared with LF-SSD (``lf_ssd.py``).

Sources of the defaults: [code] = the authors' or the JiT authors' public code; [ours] = our choice.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from unlearn_core.methods.common import Steps, device_of
from unlearn_core.methods.spec import MethodSpec, Param

IMPORTANCES = ("batch_mean", "per_sample")

TOY2D = dict(
    alpha=1.0,             # [code] the JiT authors' full-class runs pass alpha = lambda = 1
    lam=1.0,               # [code] dampening constant lambda = 1
    importance="batch_mean",  # [code] the authors' calc_importance: the batch-mean gradient, squared,
                           #        averaged over batches (reference/PAPER.md, section 10)
    batch_size=128,        # [code] the JiT authors' loader batch size for full-class and random
                           #        (reference/PAPER.md, section 3: one batch size feeds forget_train_dl
                           #        and full_train_dl); sub-class uses 64
    chunk_size=64,         # [ours] per_sample only: samples per vmap chunk (memory only; the result does
                           #        not depend on it)
    seed=0,                # unused: SSD is deterministic
)
#: SSD's own values (Foster et al., ResNet18): alpha 10, lambda 1.
PAPER = dict(TOY2D, alpha=10.0)


def image_defaults(arch: str, setting: str) -> dict:
    """The JiT authors' SSD values per setting (reference/PAPER.md, sections 3, 8 and 10). ViT uses its own
    values where the JiT authors give them, every other architecture the VGG ones."""
    out = dict(TOY2D)
    if setting == "full_class":
        out.update(alpha=1.0, lam=1.0)         # [code] full class lambda = alpha = 1 (PAPER.md section 8)
    elif setting == "sub_class":
        out.update(alpha=5.0, lam=6.0,         # [code] VGG sub-class: lambda 6, alpha 5
                   batch_size=64)              #        (forget_subclass_main.py:180-181); batch 64 (PAPER.md s. 3)
        # ViT sub-class: the JiT authors' value is not recorded in PAPER.md; the VGG values are used [ours].
    elif arch == "vit":
        out.update(alpha=3.5, lam=1.0)         # [code] ViT random: alpha 3.5 (PAPER.md section 10); lambda not
                                               #        recorded there, SSD's own 1 [ours]
    else:
        out.update(alpha=10.0, lam=4.0)        # [code] VGG random: lambda 4, alpha 10 (forget_random_main.py:154-155)
    return out


PARAMS = {
    "alpha": Param("float", "Selection: dampen a parameter when its D_f importance exceeds alpha times its D one.",
                   low=0, low_open=True, label="α (selection)", widget=(0.1, 50.0, 0.1)),
    "lam": Param("float", "Dampening constant λ: θ *= min(λ · imp_D / imp_f, 1).", low=0, label="λ (dampening)",
                 widget=(0.0, 5.0, 0.1)),
    "importance": Param("choice", "How importances are computed: 'batch_mean' squares each batch's mean gradient "
                                  "(the authors' code), 'per_sample' averages per-sample squared gradients.",
                        choices=IMPORTANCES, label="Importance", widget="select"),
    "batch_size": Param("int", "batch_mean only: samples per batch (the result depends on it).", low=1,
                        label="Batch size", widget=(1, 512, 1)),
    "chunk_size": Param("int", "per_sample only: samples per vmap chunk (memory only; the result does not depend "
                               "on it).", low=1),
    "seed": Param("int", "Unused: the method is deterministic."),
}


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def importances(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None, *, kind: str = "fisher",
                method: str = "per_sample", batch_size: int = 128, chunk_size: int = 64) -> dict[str, torch.Tensor]:
    """Per-parameter importances over the samples of X.

    ``kind="fisher"`` (SSD): squared gradients of the cross-entropy (needs ``y``).
    ``kind="label_free"`` (LF-SSD): absolute gradients of the squared l2 norm of the logits (the
    LFSSD README's change: ``||f(x)||^2`` and ``|grad|``).

    ``method="batch_mean"`` (the authors' ``calc_importance``): X is cut in order into batches of
    ``batch_size`` (the last one may be smaller); per batch, the gradient g_b of the batch-*mean*
    loss, then g_b^2 (or |g_b|); the importance is the mean over batches. It depends on the order of
    X and on ``batch_size``. ``method="per_sample"``: the mean over samples of the per-sample squared
    (or absolute) gradients (``torch.func.vmap(grad)``, ``chunk_size`` samples at a time), which does
    not depend on the order of X nor on ``chunk_size``.

    Sums are accumulated in float64. The model is evaluated in eval mode (as the authors do) and left
    in the mode it was in; its ``.grad`` fields are not touched.
    """
    if kind not in ("fisher", "label_free"):
        raise ValueError(f"kind must be 'fisher' or 'label_free', got {kind!r}")
    if method not in IMPORTANCES:
        raise ValueError(f"method must be one of {', '.join(IMPORTANCES)}, got {method!r}")
    if kind == "fisher" and y is None:
        raise ValueError("the Fisher importance needs labels y")
    chunk_size = _check_size("chunk_size", chunk_size)
    batch_size = _check_size("batch_size", batch_size)
    if len(X) == 0:
        raise ValueError("cannot compute importances over an empty set")
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())
    labels = y if y is not None else torch.zeros(len(X), dtype=torch.long, device=X.device)

    def loss_of(p, x, t):  # mean over the rows of x
        out = functional_call(model, (p, buffers), (x,))
        if kind == "fisher":
            return F.cross_entropy(out, t)
        return out.pow(2).sum(1).mean()

    def transform(g):
        return g.pow(2) if kind == "fisher" else g.abs()

    acc = {k: torch.zeros(p.shape, dtype=torch.float64, device=p.device) for k, p in params.items()}
    was_training = model.training
    model.eval()
    try:
        if method == "batch_mean":
            batch_grad = grad(loss_of)
            n_batches = 0
            for start in range(0, len(X), batch_size):
                grads = batch_grad(params, X[start:start + batch_size], labels[start:start + batch_size])
                for k, g in grads.items():
                    acc[k] += transform(g.double())
                n_batches += 1
            denom = n_batches
        else:
            per_sample = vmap(grad(lambda p, x, t: loss_of(p, x.unsqueeze(0), t.unsqueeze(0))), in_dims=(None, 0, 0))
            for start in range(0, len(X), chunk_size):
                grads = per_sample(params, X[start:start + chunk_size], labels[start:start + chunk_size])
                for k, g in grads.items():
                    acc[k] += transform(g.double()).sum(0)
            denom = len(X)
    finally:
        model.train(was_training)
    return {k: (a / denom).to(params[k].dtype) for k, a in acc.items()}


@torch.no_grad()
def dampen(model: nn.Module, imp_full: dict[str, torch.Tensor], imp_forget: dict[str, torch.Tensor], *,
           alpha: float, lam: float) -> torch.Tensor:
    """SSD's edit: where imp_f > alpha * imp_D, theta *= min(lam * imp_D / imp_f, 1).
    Returns the fraction of parameters changed (a 0-d tensor)."""
    changed = torch.zeros((), dtype=torch.float64, device=device_of(model))
    total = 0
    for name, p in model.named_parameters():
        if name not in imp_full:
            continue
        d, f = imp_full[name], imp_forget[name]
        selected = f > alpha * d
        factor = torch.where(selected, (lam * d / torch.where(selected, f, torch.ones_like(f))).clamp(max=1.0),
                             torch.ones_like(f))
        p.mul_(factor)
        changed += (factor < 1).sum()
        total += p.numel()
    return changed / max(total, 1)


def run_dampening(kind, model, forget, retain, on_step, alpha, lam, importance, batch_size, chunk_size):
    Xf, yf = forget
    Xr, yr = retain
    X = torch.cat([Xr, Xf])  # the authors' full_train_dl: ConcatDataset(retain, forget), unshuffled
    y = torch.cat([yr, yf]) if kind == "fisher" else None
    kw = dict(kind=kind, method=importance, batch_size=batch_size, chunk_size=chunk_size)
    imp_full = importances(model, X, y, **kw)
    imp_forget = importances(model, Xf, yf if kind == "fisher" else None, **kw)
    dampen(model, imp_full, imp_forget, alpha=alpha, lam=lam)
    model.eval()
    with torch.no_grad():
        loss = torch.cat([F.cross_entropy(model(Xf[i:i + 4096]), yf[i:i + 4096], reduction="none")
                          for i in range(0, len(Xf), 4096)]).mean()
    steps = Steps(on_step, model)
    steps(loss)
    return steps.losses


def run_ssd(model, forget, retain, on_step, *, alpha, lam, importance, batch_size, chunk_size, seed):
    """Selective Synaptic Dampening (Foster et al. 2024, arXiv 2308.07707).

    Importances: diagonal Fisher over D = D_r u D_f (in that order) and over D_f, computed as
    ``importance`` says (see ``importances``: "batch_mean", the authors' way, in batches of
    ``batch_size``; or "per_sample", in vmap chunks of ``chunk_size``). Each parameter with
    imp_f > ``alpha`` * imp_D is multiplied by min(``lam`` * imp_D / imp_f, 1). No optimiser: the
    history has one entry, the forget-set cross-entropy after the edit. Deterministic (``seed`` is
    unused).
    """
    return run_dampening("fisher", model, forget, retain, on_step, alpha, lam, importance, batch_size, chunk_size)


SPEC = MethodSpec(
    name="ssd", needs="full", run=run_ssd, params=PARAMS, toy2d=TOY2D, image=image_defaults,
    summary="SSD (Foster et al. 2024): dampen parameters far more important (Fisher) to D_f than to D",
)
