"""Training: ``fit`` (the original recipe, reused by retraining) and a shared mini-batch loop."""
from __future__ import annotations

from typing import Callable, Iterator

import torch
from torch import nn
import torch.nn.functional as F

from unlearn_core.data import as_xy, resolve_device
from unlearn_core.models import Standardize, dropout_rng, stream_seed

#: The default 2-D training recipe (Adam). ``fit`` records the recipe it used on the model as
#: ``model.fit_recipe`` so that "retrain" can repeat it exactly.
FIT_DEFAULTS = dict(epochs=200, lr=0.01, batch_size=64, weight_decay=0.0)


def batches(n: int, batch_size: int, generator: torch.Generator | None, device: torch.device) -> Iterator[torch.Tensor]:
    """Index batches over ``range(n)``: shuffled with ``generator``, in order when it is None."""
    order = torch.randperm(n, generator=generator).to(device) if generator is not None else torch.arange(n, device=device)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]


def check_recipe(epochs: int, lr: float, batch_size: int) -> None:
    if int(epochs) < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if not (float(lr) > 0):
        raise ValueError(f"lr must be positive, got {lr}")
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")


def init_input_stats(model: nn.Module, X: torch.Tensor) -> None:
    """Give every ``Standardize`` stage whose statistics are unset the statistics of X."""
    for m in model.modules():
        if isinstance(m, Standardize) and not bool(m.ready):
            m.set_stats(X)


def n_outputs(model: nn.Module, X: torch.Tensor) -> int:
    """Number of logits the model gives for one input like X[0]."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(X[:1])
    model.train(was_training)
    if out.ndim != 2:
        raise ValueError(f"the model must return logits of shape [batch, n_classes], got {tuple(out.shape)}")
    return int(out.shape[1])


def check_labels(model: nn.Module, X: torch.Tensor, y: torch.Tensor, name: str) -> None:
    c = n_outputs(model, X)
    if len(y) and int(y.max()) >= c:
        raise ValueError(f"{name} has label {int(y.max())} but the model has only {c} outputs "
                         f"(labels must be 0..{c - 1}); build the model with n_classes={int(y.max()) + 1}")


def fit(model: nn.Module, X, y, *, epochs: int = FIT_DEFAULTS["epochs"], lr: float = FIT_DEFAULTS["lr"],
        batch_size: int = FIT_DEFAULTS["batch_size"], seed: int = 0, device="auto",
        weight_decay: float = FIT_DEFAULTS["weight_decay"],
        callback: Callable[[int, dict, nn.Module], None] | None = None) -> list[dict]:
    """Train ``model`` in place with Adam and cross-entropy; return the per-epoch history.

    X: [n, ...] float inputs; y: [n] int labels. Shuffling (and the library's dropout) use
    ``torch.Generator`` objects seeded from ``seed``, never torch's global one, so the same seed gives the
    same model on CPU, whatever other threads do (weights are not re-initialised here:
    construct the model with a seed, or call ``reinitialize``). A ``Standardize`` stage whose
    statistics are unset gets them from X. The model is moved to ``device`` and left in eval mode.
    ``callback(epoch, entry, model)`` runs after each epoch; ``entry`` is
    ``{"epoch", "loss", "acc"}`` (mean training loss and accuracy over the epoch).
    Returns the list of those entries.
    """
    check_recipe(epochs, lr, batch_size)
    X, y = as_xy((X, y), "training data")
    if len(X) == 0:
        raise ValueError("training data is empty")
    dev = resolve_device(device)
    model.to(dev)
    X, y = X.to(dev), y.to(dev)
    init_input_stats(model, X)
    check_labels(model, X, y, "training data")
    history: list[dict] = []

    def on_epoch(epoch: int, loss: float, acc: float) -> None:
        entry = {"epoch": epoch, "loss": loss, "acc": acc}
        history.append(entry)
        if callback is not None:
            callback(epoch, entry, model)

    train_loop(model, X, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed,
               weight_decay=weight_decay, on_epoch=on_epoch)
    model.fit_recipe = dict(epochs=int(epochs), lr=float(lr), batch_size=int(batch_size),
                            weight_decay=float(weight_decay), optimizer="adam")
    return history


def cross_entropy_loss(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logits = model(xb)
    return F.cross_entropy(logits, yb), logits


def train_loop(model: nn.Module, X: torch.Tensor, y: torch.Tensor, *, epochs: int, lr: float, batch_size: int,
               seed: int, weight_decay: float = 0.0, batch_loss=cross_entropy_loss,
               on_step: Callable[[int, torch.Tensor], None] | None = None,
               on_epoch: Callable[[int, float, float], None] | None = None) -> None:
    """The mini-batch Adam loop shared by ``fit`` and the training-based baselines.

    X, y are tensors already on the model's device. Each epoch visits X in an order shuffled by a
    generator seeded with ``seed``; the model's ``models.Dropout`` layers draw from a stream of ``seed``
    too (``dropout_rng``), so nothing comes from torch's global generator. ``batch_loss(model, xb, yb) -> (loss, logits)`` (default:
    cross-entropy). ``on_step(step, loss)`` gets the detached loss tensor after every optimiser
    step; ``on_epoch(epoch, mean_loss, accuracy)`` gets floats after every epoch. The model is in
    train mode during the loop and in eval mode after it.
    """
    check_recipe(epochs, lr, batch_size)
    dev = X.device
    opt = torch.optim.Adam(model.parameters(), lr=float(lr), weight_decay=float(weight_decay))
    gen = torch.Generator().manual_seed(int(seed))
    model.train()
    step = 0
    with dropout_rng(stream_seed(seed, 1)):
        for epoch in range(int(epochs)):
            loss_sum = torch.zeros((), device=dev)
            correct = torch.zeros((), device=dev, dtype=torch.int64)
            for idx in batches(len(X), int(batch_size), gen, dev):
                loss, logits = batch_loss(model, X[idx], y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                if on_step is not None:
                    on_step(step, loss.detach())
                if on_epoch is not None:
                    loss_sum += loss.detach() * len(idx)
                    correct += (logits.detach().argmax(1) == y[idx]).sum()
            if on_epoch is not None:
                on_epoch(epoch + 1, float(loss_sum) / len(X), float(correct) / len(X))
    model.eval()


@torch.no_grad()
def predict_logits(model: nn.Module, X: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """Logits for X in eval mode, batched; returned on the CPU as float32."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    out = [model(X[i:i + batch_size].to(dev)).float().cpu() for i in range(0, len(X), batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)
