"""Selective Synaptic Dampening (Foster et al. 2024, arXiv 2308.07707).

No optimiser: importances (diagonal Fisher from per-sample gradients) over D = D_r u D_f and
over D_f; every parameter far more important to D_f than to D is dampened. ``importances`` and
``dampen`` are shared with LF-SSD (``lf_ssd.py``).

Sources of the defaults: [code] = the authors' or the JiT authors' public code; [ours] = our choice.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from unlearn_core.methods.common import Steps, device_of
from unlearn_core.methods.spec import MethodSpec, Param

TOY2D = dict(
    alpha=1.0,             # [code] the JiT authors' full-class runs pass alpha = lambda = 1. SSD's own value
                           #        (10, ResNet18) selects nothing when |D| / |D_f| <= alpha, i.e. in any
                           #        full-class forgetting with <= 10 balanced classes (imp_D >= imp_f |D_f|/|D|)
    lam=1.0,               # [code] dampening constant lambda = 1
    chunk_size=64,         # [ours] samples per vmap chunk: memory only, the result does not depend on it
    seed=0,                # unused: SSD is deterministic
)
#: SSD's own alpha (CIFAR-scale models).
PAPER = dict(TOY2D, alpha=10.0)


def image_defaults(arch: str, setting: str) -> dict:
    """The JiT authors' runs (PAPER.md section 8): alpha 1 for full-class (alpha = 10 selects nothing when
    |D| / |D_f| <= 10), SSD's own 10 elsewhere; lambda 1."""
    base = TOY2D if arch == "smallcnn" else PAPER
    return dict(base, alpha=1.0 if setting == "full_class" else 10.0, lam=1.0)


PARAMS = {
    "alpha": Param("float", "Selection: dampen a parameter when its D_f importance exceeds alpha times its D one.",
                   low=0, low_open=True, label="α (selection)", widget=(0.1, 50.0, 0.1)),
    "lam": Param("float", "Dampening constant λ: θ *= min(λ · imp_D / imp_f, 1).", low=0, label="λ (dampening)",
                 widget=(0.0, 5.0, 0.1)),
    "chunk_size": Param("int", "Samples per vmap chunk (memory only; the result does not depend on it).", low=1),
    "seed": Param("int", "Unused: the method is deterministic."),
}


def importances(model: nn.Module, X: torch.Tensor, y: torch.Tensor | None = None, *, kind: str = "fisher",
                chunk_size: int = 64) -> dict[str, torch.Tensor]:
    """Per-parameter importances over the samples of X, from *per-sample* gradients.

    ``kind="fisher"`` (SSD): mean over samples of the squared gradient of the cross-entropy
    (needs ``y``). ``kind="label_free"`` (LF-SSD): mean over samples of the absolute gradient of
    the squared l2 norm of the logits (the LFSSD README's change: ``||f(x)||^2`` and ``|grad|``).
    Per-sample gradients (``torch.func.vmap(grad)``, ``chunk_size`` samples at a time) make the
    result independent of batch order and batch size, unlike the authors' batch-mean gradients
    squared (EVALUATION.md section 2). Sums are accumulated in float64. The model is evaluated in
    eval mode (as the authors do) and left in the mode it was in.
    """
    if kind not in ("fisher", "label_free"):
        raise ValueError(f"kind must be 'fisher' or 'label_free', got {kind!r}")
    if kind == "fisher" and y is None:
        raise ValueError("the Fisher importance needs labels y")
    if isinstance(chunk_size, bool) or int(chunk_size) != chunk_size or int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    chunk_size = int(chunk_size)
    if len(X) == 0:
        raise ValueError("cannot compute importances over an empty set")
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())

    def sample_loss(p, x, t):
        out = functional_call(model, (p, buffers), (x.unsqueeze(0),))
        if kind == "fisher":
            return F.cross_entropy(out, t.unsqueeze(0))
        return out.pow(2).sum()

    per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))
    labels = y if y is not None else torch.zeros(len(X), dtype=torch.long, device=X.device)
    acc = {k: torch.zeros(p.shape, dtype=torch.float64, device=p.device) for k, p in params.items()}
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(X), chunk_size):
            grads = per_sample(params, X[start:start + chunk_size], labels[start:start + chunk_size])
            for k, g in grads.items():
                g = g.double()
                acc[k] += (g.pow(2) if kind == "fisher" else g.abs()).sum(0)
    finally:
        model.train(was_training)
    return {k: (a / len(X)).to(params[k].dtype) for k, a in acc.items()}


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


def run_dampening(kind, model, forget, retain, on_step, alpha, lam, chunk_size):
    Xf, yf = forget
    Xr, yr = retain
    X = torch.cat([Xr, Xf])
    y = torch.cat([yr, yf]) if kind == "fisher" else None
    imp_full = importances(model, X, y, kind=kind, chunk_size=chunk_size)
    imp_forget = importances(model, Xf, yf if kind == "fisher" else None, kind=kind, chunk_size=chunk_size)
    dampen(model, imp_full, imp_forget, alpha=alpha, lam=lam)
    model.eval()
    with torch.no_grad():
        loss = torch.cat([F.cross_entropy(model(Xf[i:i + 4096]), yf[i:i + 4096], reduction="none")
                          for i in range(0, len(Xf), 4096)]).mean()
    steps = Steps(on_step, model)
    steps(loss)
    return steps.losses


def run_ssd(model, forget, retain, on_step, *, alpha, lam, chunk_size, seed):
    """Selective Synaptic Dampening (Foster et al. 2024, arXiv 2308.07707).

    Importances: diagonal Fisher (mean per-sample squared CE gradient) over D = D_r u D_f and
    over D_f (see ``importances``). Each parameter with imp_f > ``alpha`` * imp_D is multiplied by
    min(``lam`` * imp_D / imp_f, 1). No optimiser: the history has one entry, the forget-set
    cross-entropy after the edit. Deterministic (``seed`` is unused).
    """
    return run_dampening("fisher", model, forget, retain, on_step, alpha, lam, chunk_size)


SPEC = MethodSpec(
    name="ssd", needs="full", run=run_ssd, params=PARAMS, toy2d=TOY2D, image=image_defaults,
    summary="SSD (Foster et al. 2024): dampen parameters far more important (per-sample Fisher) to D_f than to D",
)
