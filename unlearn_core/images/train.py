"""Training image classifiers: the original recipe, reused exactly by "retrain", with checkpoints and resume.

``train_images(model, X, y, recipe, seed=...)`` trains in place on *normalised* images X [n, C, H, W]
with the recipe's optimiser (SGD with momentum and weight decay, or Adam), schedule (OneCycle, as
the paper's originals, or constant), and training-time augmentation (random crop with padding and
horizontal flip, per dataset; never at unlearning or evaluation time). ``fit_recipe`` is recorded on
the model, so ``unlearn("retrain", ...)`` repeats the same recipe from a full re-initialisation.

The recipes live in one place, at the top of this file: ``RECIPE_DEFAULTS`` (``ImageRecipe``'s own
defaults) and ``RECIPES``, what each dataset / architecture changes; ``recipe_for(dataset, arch)``
combines them. The bench, ``python -m unlearn_core.pretrain`` and the app read them from here.

Reproducible and resumable: shuffling, augmentation and the zoo's dropout (``models.dropout_rng``, one
stream per epoch) draw from generators seeded with ``seed``, never from torch's global one;
with ``checkpoint=PATH`` the model, optimiser, schedule, epoch and generator states are written
atomically after every epoch (``unlearn_core.images.checkpoints.save_checkpoint``: tensors and plain containers
only, loaded with ``weights_only=True``), and ``resume=True`` continues from the last finished
epoch: a run killed and resumed ends with the same weights as an uninterrupted one (on the CPU).

GPU: batches travel from pinned host memory with ``non_blocking``; ``amp`` runs the forward in
bf16 autocast; ``channels_last`` switches convolutional models to the NHWC layout.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn
import torch.nn.functional as F

from unlearn_core.data import as_xy, resolve_device
from unlearn_core.images.data import augment
from unlearn_core.images.checkpoints import load_checkpoint, save_checkpoint
from unlearn_core.models import dropout_rng, stream_seed
from unlearn_core.training import check_labels


# ----------------------------------------------------------------------------------------------------------
# The recipes: one table
# ----------------------------------------------------------------------------------------------------------

#: Every field of a recipe and its default: ``ImageRecipe()`` is exactly this, and each ``RECIPES`` row
#: changes only what it names. The optimiser, schedule and batch are the paper's originals (PAPER.md
#: section 3: SGD with momentum 0.9 and weight decay 5e-4, OneCycle, batch 64); 30 epochs at a peak lr of
#: 0.05 is our budget for the small datasets (digits, image folders), as in RECIPES.
RECIPE_DEFAULTS: dict = dict(
    epochs=30,
    lr=0.05,              # the peak learning rate of OneCycle, or the constant rate
    batch_size=64,
    optimizer="sgd",      # "sgd" (momentum, weight decay) or "adam"
    momentum=0.9,
    weight_decay=5e-4,
    schedule="onecycle",  # "onecycle" or "constant"
    crop_pad=4,           # random-crop padding in pixels (0 = none)
    flip=True,            # random horizontal flips (off for digits: a flipped digit is another symbol)
    amp=False,            # bf16 autocast (CUDA only)
    channels_last=False,
)

#: What the recipe of each (dataset, architecture) changes from RECIPE_DEFAULTS ("*": any architecture).
#: The original model and the retrained oracle share it. The paper's originals run OneCycle to a peak of
#: 0.1 and train VGG for 210/50/25 epochs on CIFAR-100/20/10 (PAPER.md section 3); CIFAR-100's 50 epochs
#: are our shorter budget. Digits: a 1-pixel crop and no flip (a mirrored digit is another symbol).
RECIPES: dict[tuple[str, str], dict] = {
    ("digits", "*"): dict(crop_pad=1, flip=False),
    ("cifar10", "*"): dict(epochs=25, lr=0.1),
    ("cifar20", "*"): dict(epochs=50, lr=0.1),
    ("cifar100", "*"): dict(epochs=50, lr=0.1),
    ("folder", "*"): dict(),
}


@dataclass
class ImageRecipe:
    """The training recipe of an image classifier (original and retrain alike); defaults: ``RECIPE_DEFAULTS``."""
    epochs: int = RECIPE_DEFAULTS["epochs"]
    lr: float = RECIPE_DEFAULTS["lr"]
    batch_size: int = RECIPE_DEFAULTS["batch_size"]
    optimizer: str = RECIPE_DEFAULTS["optimizer"]
    momentum: float = RECIPE_DEFAULTS["momentum"]
    weight_decay: float = RECIPE_DEFAULTS["weight_decay"]
    schedule: str = RECIPE_DEFAULTS["schedule"]
    crop_pad: int = RECIPE_DEFAULTS["crop_pad"]
    flip: bool = RECIPE_DEFAULTS["flip"]
    amp: bool = RECIPE_DEFAULTS["amp"]
    channels_last: bool = RECIPE_DEFAULTS["channels_last"]

    def __post_init__(self):
        if int(self.epochs) < 0 or int(self.batch_size) < 1 or not float(self.lr) > 0:
            raise ValueError(f"recipe needs epochs >= 0, batch_size >= 1 and lr > 0, got {self.epochs}, "
                             f"{self.batch_size}, {self.lr}")
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.schedule not in ("onecycle", "constant"):
            raise ValueError(f"schedule must be 'onecycle' or 'constant', got {self.schedule!r}")

    def to_dict(self) -> dict:
        return dict(asdict(self), trainer="image")

    @classmethod
    def from_dict(cls, d: dict) -> "ImageRecipe":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


def recipe_for(dataset: str, arch: str, **overrides) -> ImageRecipe:
    """The recipe for ``dataset`` and architecture ``arch``: RECIPE_DEFAULTS, then the ``RECIPES`` row
    (the exact (dataset, arch) row if there is one, else (dataset, "*")), then ``overrides`` that are
    not None (e.g. the CLI's --train-epochs)."""
    row = RECIPES[(dataset, arch)] if (dataset, arch) in RECIPES else RECIPES[(dataset, "*")]
    return ImageRecipe(**dict(row, **{k: v for k, v in overrides.items() if v is not None}))


def _optimizer(model: nn.Module, recipe: ImageRecipe) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=float(recipe.lr), momentum=float(recipe.momentum),
                               weight_decay=float(recipe.weight_decay))
    return torch.optim.Adam(params, lr=float(recipe.lr), weight_decay=float(recipe.weight_decay))


def _schedule(opt, recipe: ImageRecipe, steps_per_epoch: int):
    if recipe.schedule == "onecycle" and recipe.epochs > 0:
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=float(recipe.lr), epochs=int(recipe.epochs),
                                                   steps_per_epoch=max(1, steps_per_epoch))
    return None


def augment_batch(x: torch.Tensor, gen: torch.Generator, crop_pad: int, flip: bool) -> torch.Tensor:
    """Random crop (zero padding in normalised space, i.e. the mean colour) and horizontal flip, batched."""
    if crop_pad <= 0 and not flip:
        return x
    return augment(x, gen, crop_pad=int(crop_pad), flip=bool(flip))


def train_images(model: nn.Module, X, y, recipe: ImageRecipe | dict | None = None, *, seed: int = 0,
                 device="auto", checkpoint: str | None = None, resume: bool = False,
                 checkpoint_meta: dict | None = None,
                 callback: Callable[[int, dict, nn.Module], None] | None = None) -> list[dict]:
    """Train ``model`` in place on normalised images X [n, C, H, W] with labels y [n]; return per-epoch history.

    ``callback(epoch, {"epoch", "loss", "acc", "lr", "seconds"}, model)`` runs after each epoch
    (``seconds``: training time so far, summed over resumed sessions; checkpoint writes excluded). With
    ``checkpoint`` the state is saved after each epoch; with ``resume`` (and an existing
    checkpoint) training continues after its last epoch (the recipe must match the checkpoint's).
    The model ends in eval mode on ``device`` with ``model.fit_recipe`` set.
    """
    recipe = ImageRecipe.from_dict(recipe) if isinstance(recipe, dict) else (recipe or ImageRecipe())
    X, y = as_xy((X, y), "training images")
    if X.ndim != 4:
        raise ValueError(f"training images must have shape [n, C, H, W], got {tuple(X.shape)}")
    if len(X) == 0:
        raise ValueError("training images are empty")
    dev = resolve_device(device)
    if recipe.amp and dev.type != "cuda":
        raise ValueError("amp (bf16 autocast) is offered on CUDA only; set amp=False on the CPU")
    model.to(dev)
    if recipe.channels_last:
        model.to(memory_format=torch.channels_last)
    check_labels(model, X[:1].to(dev), y.to(dev), "training labels")
    if dev.type == "cuda":
        X, y = X.pin_memory(), y.pin_memory()
    n, bs = len(X), int(recipe.batch_size)
    steps = (n + bs - 1) // bs
    opt = _optimizer(model, recipe)
    sched = _schedule(opt, recipe, steps)
    order_gen = torch.Generator().manual_seed(int(seed))
    aug_gen = torch.Generator(device=dev).manual_seed(int(seed) + 1)
    history: list[dict] = []
    start = 0
    if resume and checkpoint and os.path.exists(checkpoint):
        ck = load_checkpoint(checkpoint)
        saved = (ck.get("extra") or {}).get("recipe")
        if saved is not None and ImageRecipe.from_dict(saved) != recipe:
            raise ValueError(f"cannot resume from {checkpoint}: it was trained with recipe {saved}, not {recipe.to_dict()}; "
                             "use the same recipe or start afresh without --resume")
        model.load_state_dict(ck["state_dict"])
        if ck.get("optimizer"):
            opt.load_state_dict(ck["optimizer"])
        extra = ck.get("extra") or {}
        if sched is not None and extra.get("scheduler"):
            sched.load_state_dict(extra["scheduler"])
        order_gen.set_state(extra["order_gen"])
        aug_gen.set_state(extra["aug_gen"].to(aug_gen.get_state().device))
        history = list(extra.get("history", []))
        start = int((ck.get("meta") or {}).get("epoch", len(history)))
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if recipe.amp else contextlib.nullcontext
    for epoch in range(start, int(recipe.epochs)):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=order_gen)
        loss_sum = torch.zeros((), device=dev)
        correct = torch.zeros((), device=dev, dtype=torch.int64)
        # Dropout masks: a stream per epoch, so a resumed run draws what the uninterrupted one did.
        with dropout_rng(stream_seed(seed, 100 + epoch)):
            for i in range(0, n, bs):
                idx = order[i:i + bs]
                xb = X[idx].to(dev, non_blocking=True)
                yb = y[idx].to(dev, non_blocking=True)
                xb = augment_batch(xb, aug_gen, recipe.crop_pad, recipe.flip)
                if recipe.channels_last:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                with autocast():
                    logits = model(xb)
                    loss = F.cross_entropy(logits.float(), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if sched is not None:
                    sched.step()
                loss_sum += loss.detach() * len(idx)
                correct += (logits.detach().argmax(1) == yb).sum()
        spent = (history[-1]["seconds"] if history else 0.0) + time.perf_counter() - t0
        entry = {"epoch": epoch + 1, "loss": float(loss_sum) / n, "acc": float(correct) / n,
                 "lr": float(opt.param_groups[0]["lr"]), "seconds": spent}
        history.append(entry)
        model.eval()
        if checkpoint:
            save_checkpoint(checkpoint, model, optimizer=opt,
                            meta=dict(checkpoint_meta or {}, epoch=epoch + 1, epochs=int(recipe.epochs)),
                            extra=dict(recipe=recipe.to_dict(), history=history,
                                       scheduler=sched.state_dict() if sched is not None else None,
                                       order_gen=order_gen.get_state(), aug_gen=aug_gen.get_state().cpu()))
        if callback is not None:
            callback(epoch + 1, entry, model)
    model.eval()
    model.fit_recipe = recipe.to_dict()
    model.fit_history = history
    return history
