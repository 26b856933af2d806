"""JiT: zero-shot unlearning with a Monte-Carlo estimate of the local Lipschitz constant.

Foster et al., "An Information Theoretic Approach to Machine Unlearning" (arXiv 2402.01401).
For each forget input x, with N perturbations xi_j ~ N(0, sigma^2 I):

    l(x) = (1/N) sum_j ||f(x) - f(x + xi_j)||_2 / ||xi_j||_2        (f = logits)

and the parameters take plain SGD steps, one step per forget mini-batch, one pass. Which
gradient of l the step follows is the ``gradient`` option, and the two differ in kind
(reference/PAPER.md section 10; ``python scripts/jit_gradients.py`` measures them here):

- ``"detached"`` (the authors' code, the default): the perturbed outputs f(x + xi_j) are
  constants and the gradient flows through the clean branch f(x) only. This is *not* descent on
  l: its cosine with the true gradient of l was -0.24..-0.36 on the digits CNN and +0.16..-0.48
  on a moons MLP (sigma 0.1..0.5), and on the digits CNN it raised l at every lr tried. It pulls
  f(x) towards the mean of its noisy neighbours' outputs, a local consistency target: a forget
  point that sits in the other class's territory is pulled across.
- ``"full"`` (the paper's Algorithm 1 read literally): the ratio is differentiated through both
  branches, so the step is descent on l. It lowered l in every run; on the digits CNN it did not
  forget the class before retain accuracy collapsed, while on moons it forgot as many of three
  high-information points as the detached step, at more retain cost.

Speed: with ``"detached"`` the N perturbed copies of a batch go through the model as one batched,
no-grad forward (chunked to cap memory); ``"full"`` keeps their graph. Noise is drawn on the
model's device from a seeded generator; the loop has no per-sample Python, no deepcopy and no
host syncs unless a callback asks for the loss.

Differences from the authors' code (reference/PAPER.md) and how to reproduce it:
- Fixed here: gradients are zeroed before every step. Their code zeroes once before the loop,
  so step t applies the sum of all gradients so far. ``accumulate_grad=True`` reproduces that.
- ``reduction="mean"`` (default) averages the per-sample loss over the batch, so the step does
  not depend on the forget batch size; their code sums (``reduction="sum"``).
- ``train_mode=False`` (default) runs the model in eval mode (no dropout; BatchNorm uses its
  running statistics). Their code leaves it in train mode (``train_mode=True``); the library's
  ``models.Dropout`` layers then draw masks from a stream of ``seed`` (``models.dropout_rng``), while
  plain ``nn.Dropout`` layers of other models draw from torch's global generator.
- ``clamp=True`` clamps x + xi to the batch-global [min, max] as their code does; the
  denominator is then the post-clamp distance, as in theirs. Off by default.
- ``scale_noise=False`` draws the noise in input units, as their code does (see Scale).
- ``reproduce_authors=True`` switches on all of these, and switches off what their code does not
  have: ``normalize_step`` becomes "off" and ``gradient`` "detached". A test checks the result
  against a line-by-line transcription of their ``Lipschitz.modify_weight`` loop.

Scale: when the model declares ``input_scale()`` (the project's MLP returns the per-feature
standard deviation of its training inputs) and ``scale_noise`` is on, xi is drawn as
sigma * scale * N(0, I) and distances are measured in those standardised units, so sigma means
the same on every dataset.

Extension (ours, not the paper's): a scale-free step. Plain SGD's useful learning rate depends on
how sharp the model is and on 1/sigma. With ``normalize_step`` every gradient is divided by a
reference gradient norm fixed before the first step, so ``lr`` becomes a step length in
parameter space:
- ``"probe"``: the norm of the JiT-loss gradient at 256 probe inputs drawn from N(centre, scale^2)
  (the model's declared input statistics: no data is used, so the method stays zero-shot),
  times the batch size when the loss is summed over the batch. The forget points' own sharpness
  still sets their step relative to a typical input: points in flat regions (low information)
  move the model little, as in the paper.
- ``"first"``: the norm of the first step's gradient (works for any model, but rescales a
  flat-region forget set to full-size steps).
``"off"`` is the paper's plain SGD. The defaults below (``TOY2D``: the 2-D profile, which ``jit``'s
own keyword defaults repeat; ``IMAGE``: per architecture and setting) say which each profile uses.
"""
from __future__ import annotations

import contextlib
from typing import Callable

import torch
from torch import nn

from unlearn_core.methods.spec import MethodSpec, Param
from unlearn_core.models import dropout_rng, input_center, input_scale, stream_seed

# ---------------------------------------------------------------------------------------------
# Defaults. "toy2d" = the 2-D MLP of the teaching app, with inputs standardised inside the model
# (sigma is in standardised units); picked by the sweep (docs/defaults.md,
# `python -m unlearn_core.bench --sweep`): the scale-free step ("first") with sigma 0.25, lr 0.1,
# forget batch 4 met the most targets.
# ---------------------------------------------------------------------------------------------
#: gradient "detached" in every profile: the step that forgets (module docstring; measured by
#: scripts/jit_gradients.py, docs/api.md: what JiT's step does). "full" lowers the Lipschitz estimate
#: but did not forget on the digits CNN before retain accuracy collapsed.
TOY2D = dict(sigma=0.25, n_samples=25, lr=0.1, epochs=1, batch_size=4, normalize_step="first",
             gradient="detached", accumulate_grad=False, reduction="mean", train_mode=False, clamp=False,
             scale_noise=True, reproduce_authors=False, amp=False, chunk_size=None, seed=0)

#: Images: (arch, setting) -> (sigma, lr, forget batch size, reduction), plain SGD (normalize_step "off").
#: VGG11 and ViT: the paper's sigma / lr / forget batch (PAPER.md section 3), with the loss summed over
#: the batch as in the authors' code (their lr assumes it) but gradients zeroed every step (the fix;
#: their code accumulates). ResNet18 is not configured in the paper: its values, like SmallCNN's
#: (digits), are this project's choices (docs/defaults.md: how they were picked).
IMAGE: dict[tuple[str, str], tuple[float, float, int, str]] = {
    ("vgg11", "full_class"): (0.5, 3e-4, 128, "sum"),   # paper
    ("vgg11", "sub_class"): (0.01, 3e-4, 64, "sum"),    # paper
    ("vgg11", "random"): (0.01, 3e-4, 128, "sum"),      # paper
    ("vit", "full_class"): (0.8, 1.5, 128, "sum"),      # paper (ViT-B/16 at 224^2; ours is a small ViT)
    ("vit", "sub_class"): (1.5, 0.5, 64, "sum"),        # paper
    ("vit", "random"): (0.5, 0.1, 128, "sum"),          # paper
    ("resnet18", "full_class"): (0.5, 3e-4, 128, "sum"),  # ours: VGG11's values (not in the paper)
    ("resnet18", "sub_class"): (0.01, 3e-4, 64, "sum"),   # ours
    ("resnet18", "random"): (0.01, 3e-4, 128, "sum"),     # ours
    # ours: scripts/digits_jit_sweep.py, ranked by the mean gap to retrain over 3 model x 3 noise seeds
    # (docs/defaults.md). full_class: the closest setting, yet it still costs retain accuracy; sub_class and
    # random: nothing beats doing nothing, these are the least harmful.
    ("smallcnn", "full_class"): (0.5, 1e-2, 8, "mean"),
    ("smallcnn", "sub_class"): (0.1, 3e-3, 8, "mean"),
    ("smallcnn", "random"): (0.5, 3e-4, 8, "mean"),
}

NORMALIZE_STEPS = ("off", "first", "probe")
GRADIENTS = ("detached", "full")

PARAMS = {
    "sigma": Param("float", "Std of the Gaussian perturbations around each forget point (in the model's "
                            "standardised input units when it declares them): the radius of the neighbourhood JiT compares f(x) with.",
                   low=0, low_open=True, label="σ (noise scale)", widget=(0.01, 2.0, 0.01)),
    "n_samples": Param("int", "Monte-Carlo perturbations per forget point for the Lipschitz estimate.", low=1,
                       label="N (perturbations)", widget=(1, 200, 1)),
    "lr": Param("float", "SGD step; with a scale-free step (normalize_step first/probe) the step length relative "
                         "to the reference gradient norm. Too large collapses the model.",
                low=0, low_open=True, label="Step size", widget=(1e-3, 10.0, 1e-3)),
    "epochs": Param("int", "Passes over the forget set (the paper: 1).", low=1, label="Epochs", widget=(1, 20, 1)),
    "batch_size": Param("int", "Forget points per optimiser step; smaller batches give more steps (frames).", low=1,
                        label="Batch size", widget=(1, 64, 1)),
    "normalize_step": Param("choice", "off: the paper's plain SGD; first: scale-free, lr relative to the first "
                                      "gradient's norm; probe: relative to the gradient norm at probe inputs.",
                            choices=NORMALIZE_STEPS, label="Step scaling", widget="select"),
    "gradient": Param("choice", "detached: the perturbed outputs are constants (the authors' code; pulls f(x) towards "
                                "its neighbours' outputs); full: descent on the Lipschitz estimate itself (the paper "
                                "read literally; smooths f).", choices=GRADIENTS, label="Gradient", widget="select"),
    "accumulate_grad": Param("bool", "Never zero the gradients (the authors' code)."),
    "reduction": Param("choice", "Per-sample losses averaged (mean) or summed (sum, the authors') over the batch.",
                       choices=("mean", "sum")),
    "train_mode": Param("bool", "Run the model in train mode (dropout on, BatchNorm batch statistics; the authors')."),
    "clamp": Param("bool", "Clamp perturbed inputs to the batch-global [min, max] (the authors')."),
    "scale_noise": Param("bool", "Draw the noise in the model's standardised input units when it declares them "
                                 "(off: input units, the authors')."),
    "reproduce_authors": Param("bool", "The authors' code: accumulated gradients, summed loss, train mode, clamp, "
                                       "input-unit noise, plain SGD, detached gradient."),
    "amp": Param("bool", "bf16 autocast (CUDA only)."),
    "chunk_size": Param("int", "Perturbed rows per forward call (None: about 4M input elements).", low=1,
                        optional=True),
    "seed": Param("int", "Seed of the perturbations."),
}


def image_defaults(arch: str, setting: str) -> dict:
    """JiT's defaults for an image model (unknown architectures take VGG11's, the paper's)."""
    sigma, lr, batch, reduction = IMAGE.get((arch, setting)) or IMAGE[("vgg11", setting)]
    return dict(TOY2D, sigma=sigma, lr=lr, batch_size=batch, reduction=reduction, normalize_step="off")


#: Cap on the number of perturbed input *elements* per forward call (sets the chunk size).
MAX_CHUNK_ELEMENTS = 1 << 22


def _autocast(device: torch.device, amp: bool):
    if amp:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def scale_for(model: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
    """The model's declared input scale shaped like one input of x (a 0-d tensor if scalar), or None."""
    s = input_scale(model)
    if s is None:
        return None
    s = s.to(x.device, x.dtype)
    if s.numel() == 1:
        return s.reshape(())
    return s.reshape(x.shape[1:])


def perturbed_outputs(model: nn.Module, x_pert: torch.Tensor, *, chunk_size: int | None = None,
                      amp: bool = False, grad: bool = False) -> torch.Tensor:
    """Model outputs for x_pert [N, B, ...] as [N, B, C], batched over N*B rows; no graph unless ``grad``."""
    n, b = x_pert.shape[:2]
    flat = x_pert.reshape(n * b, *x_pert.shape[2:])
    per_row = max(1, flat[0].numel())
    rows = int(chunk_size) if chunk_size else max(1, MAX_CHUNK_ELEMENTS // per_row)
    with torch.set_grad_enabled(grad and torch.is_grad_enabled()), _autocast(flat.device, amp):
        outs = [model(flat[i:i + rows]) for i in range(0, len(flat), rows)]
    out = outs[0] if len(outs) == 1 else torch.cat(outs)
    return out.float().reshape(n, b, -1)


def jit_loss(model: nn.Module, x: torch.Tensor, noise: torch.Tensor, *, scale: torch.Tensor | None = None,
             clamp: bool = False, reduction: str = "mean", chunk_size: int | None = None,
             amp: bool = False, gradient: str = "detached") -> torch.Tensor:
    """The JiT loss for one batch.

    x: [B, ...] clean inputs. noise: [N, B, ...] perturbations in *scaled* units (already
    multiplied by sigma). The perturbed input is x + noise * scale (scale: the model's input
    scale, or None for 1), optionally clamped to the batch-global [min(x), max(x)]. The ratio's
    denominator is the distance actually travelled, measured in scaled units. ``gradient``:
    "detached" = the gradient flows through f(x) only (the perturbed outputs are constants);
    "full" = through both branches. Returns a scalar: the per-sample mean over N, then mean or
    sum over B.
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {', '.join(GRADIENTS)}, got {gradient!r}")
    step = noise if scale is None else noise * scale
    x_pert = x.unsqueeze(0) + step
    if clamp:
        x_pert = x_pert.clamp(x.min(), x.max())
        moved = x_pert - x.unsqueeze(0)
        moved = moved if scale is None else moved / scale
    else:
        moved = noise
    dist = moved.flatten(2).norm(dim=2)  # [N, B]
    f_pert = perturbed_outputs(model, x_pert, chunk_size=chunk_size, amp=amp, grad=gradient == "full")
    with _autocast(x.device, amp):
        f_x = model(x)
    ratio = (f_x.float().unsqueeze(0) - f_pert).norm(dim=2) / dist.clamp_min(1e-12)
    per_sample = ratio.mean(0)
    return per_sample.mean() if reduction == "mean" else per_sample.sum()


def probe_grad_norm(model: nn.Module, X: torch.Tensor, params, gen: torch.Generator, *, sigma: float,
                    n_samples: int, scale, clamp: bool, chunk_size, amp: bool, gradient: str = "detached",
                    n_probes: int = 256) -> float:
    """Norm of the (batch-mean) JiT-loss gradient at probe inputs drawn from the model's input statistics."""
    center = input_center(model)
    if center is None or scale is None:
        raise ValueError("normalize_step='probe' needs a model that declares input_center() and input_scale() "
                         "(the project's MLP does); use normalize_step='first' for other models")
    center = center.to(X.device, X.dtype).reshape(X.shape[1:])
    z = torch.randn((n_probes, *X.shape[1:]), generator=gen, device=X.device, dtype=X.dtype)
    probes = center + z * scale
    noise = torch.randn((n_samples, *probes.shape), generator=gen, device=X.device, dtype=X.dtype) * sigma
    loss = jit_loss(model, probes, noise, scale=scale, clamp=clamp, reduction="mean", chunk_size=chunk_size, amp=amp,
                    gradient=gradient)
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return _global_norm([g for g in grads if g is not None])


def _global_norm(grads: list[torch.Tensor]) -> float:
    """The L2 norm of all gradients together, as a float (one host sync), at least 1e-12."""
    return max(float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))), 1e-12)


def jit(model: nn.Module, X: torch.Tensor, *, sigma: float = TOY2D["sigma"], n_samples: int = TOY2D["n_samples"],
        lr: float = TOY2D["lr"], epochs: int = TOY2D["epochs"], batch_size: int = TOY2D["batch_size"],
        seed: int = TOY2D["seed"], accumulate_grad: bool = TOY2D["accumulate_grad"],
        reduction: str = TOY2D["reduction"], train_mode: bool = TOY2D["train_mode"], clamp: bool = TOY2D["clamp"],
        reproduce_authors: bool = TOY2D["reproduce_authors"], normalize_step: str = TOY2D["normalize_step"],
        gradient: str = TOY2D["gradient"], scale_noise: bool = TOY2D["scale_noise"], amp: bool = TOY2D["amp"],
        chunk_size: int | None = TOY2D["chunk_size"],
        callback: Callable[[int, float, nn.Module], None] | None = None) -> list[torch.Tensor]:
    """Run JiT on ``model`` in place over the forget inputs X [n, ...] (labels are not used).

    Batches are taken in order (unshuffled), ``epochs`` passes (the paper: 1). Returns the loss of
    every optimiser step (detached tensors). ``callback(step, loss, model)`` runs after each step.
    The keyword defaults are the 2-D profile's (``TOY2D``); every value is checked against
    ``PARAMS``. See the module docstring for the options.
    """
    hp = SPEC.check(dict(sigma=sigma, n_samples=n_samples, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed,
                         accumulate_grad=accumulate_grad, reduction=reduction, train_mode=train_mode, clamp=clamp,
                         reproduce_authors=reproduce_authors, normalize_step=normalize_step, gradient=gradient,
                         scale_noise=scale_noise, amp=amp, chunk_size=chunk_size))
    sigma, n_samples, lr, epochs, batch_size = hp["sigma"], hp["n_samples"], hp["lr"], hp["epochs"], hp["batch_size"]
    normalize_step, gradient = hp["normalize_step"], hp["gradient"]
    if reproduce_authors:  # everything their loop does, and nothing it does not
        accumulate_grad, reduction, train_mode, clamp, scale_noise = True, "sum", True, True, False
        normalize_step, gradient = "off", "detached"
    dev = X.device
    if amp and dev.type != "cuda":
        raise ValueError("amp (bf16 autocast) is offered on CUDA only; pass amp=False on the CPU")
    params = [p for p in model.parameters() if p.requires_grad]
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    scale = scale_for(model, X) if scale_noise else None
    model.train(bool(train_mode))
    with dropout_rng(stream_seed(seed, 7919)):  # train_mode: the library's Dropout draws seeded masks
        losses: list[torch.Tensor] = []
        step_size: float | None = float(lr) if normalize_step == "off" else None
        if normalize_step == "probe":  # the probe norm is of a batch-mean loss: a summed loss is batch_size times it
            reference = probe_grad_norm(model, X, params, gen, sigma=float(sigma), n_samples=int(n_samples),
                                        scale=scale, clamp=clamp, chunk_size=chunk_size, amp=amp, gradient=gradient)
            step_size = float(lr) / (reference * (int(batch_size) if reduction == "sum" else 1))
        step = 0
        for p in params:
            p.grad = None
        for _ in range(int(epochs)):
            for start in range(0, len(X), int(batch_size)):
                x = X[start:start + int(batch_size)]
                noise = torch.randn((int(n_samples), *x.shape), generator=gen, device=dev, dtype=x.dtype)
                noise.mul_(float(sigma))
                if not accumulate_grad:
                    for p in params:
                        p.grad = None
                loss = jit_loss(model, x, noise, scale=scale, clamp=clamp, reduction=reduction,
                                chunk_size=chunk_size, amp=amp, gradient=gradient)
                loss.backward()
                live = [p for p in params if p.grad is not None]
                grads = [p.grad for p in live]
                if step_size is None:  # normalize_step="first": fixed once, from the first gradient
                    step_size = float(lr) / _global_norm(grads)
                with torch.no_grad():  # plain SGD, exactly torch.optim.SGD(lr) without momentum
                    torch._foreach_add_(live, grads, alpha=-step_size)
                step += 1
                losses.append(loss.detach())
                if callback is not None:
                    callback(step, float(losses[-1]), model)
    model.eval()
    return losses


def run(model, forget, retain, on_step, **hp):
    """The registry's entry: JiT on the forget inputs (labels and the retain set are not used)."""
    return jit(model, forget[0], callback=on_step, **hp)


SPEC = MethodSpec(
    name="jit", needs="forget", run=run, params=PARAMS, toy2d=TOY2D, image=image_defaults,
    summary="JiT (Foster et al. 2024): zero-shot; SGD steps from a Monte-Carlo local Lipschitz estimate around each "
            "forget point (gradient 'detached', the authors' code: pulls f(x) towards its noisy neighbours' outputs; "
            "'full': descent on the estimate)",
)
