"""Models: the 2-D MLP (with built-in input standardisation) and a small CNN for 8x8 digits, and the
seeded initialisation and dropout every model of the library uses.

Both are plain ``torch.nn.Module`` classifiers returning logits. Nothing here is special to the
unlearning methods: ``unlearn`` accepts any classifier. The one optional protocol a model may
offer is ``input_scale()``: a tensor broadcastable to one input, giving the scale in which JiT's
``sigma`` is measured (the MLP returns its per-feature standard deviation, so ``sigma`` means the
same thing on every dataset), with ``input_center()`` (the per-feature mean) beside it.

Randomness (docs: "Randomness is explicit"). The app runs its sessions as threads of one process, so
nothing here seeds or draws from torch's process-wide generator when a seed is given:

- ``reinitialize(model, seed)`` draws every parameter from one ``torch.Generator`` seeded with ``seed``,
  with PyTorch's default distributions for its built-in layers (``init_linear_`` etc., the same numbers
  as ``torch.manual_seed(seed)`` followed by ``reset_parameters()`` on the CPU) and
  ``reset_parameters(generator=...)`` for modules that accept a generator. A module whose
  ``reset_parameters()`` takes no generator may still be reset if it draws nothing at random;
  if it does draw, ``reinitialize`` raises TypeError rather than touch the global generator.
- A model built with a ``seed`` (``MLP``, ``SmallCNN``, the image zoo) is built on the meta device
  (no draws) and then initialised by ``reinitialize`` (``seeded_construction``). With ``seed=None`` it
  is built as any PyTorch module is, from torch's global generator.
- ``Dropout`` (what the library's models use instead of ``nn.Dropout``) draws its masks from the
  generator of the innermost ``dropout_rng(seed)`` block of the *current thread*; the library's
  training and unlearning loops open one. Outside such a block it is ``nn.Dropout`` (global RNG).
  Models from elsewhere with ``nn.Dropout`` or ``F.dropout`` keep drawing from torch's global
  generator in train mode: such runs are reproducible only when nothing else draws concurrently.
"""
from __future__ import annotations

import contextlib
import contextvars
import inspect
import math
from typing import Callable, Iterator, Sequence

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


# ----------------------------------------------------------------------------------------------------------
# Seeded initialisation
# ----------------------------------------------------------------------------------------------------------


def draw_into(tensor: torch.Tensor, draw: Callable[[torch.Tensor], object]) -> torch.Tensor:
    """Fill ``tensor`` in place with ``draw(t)``, where ``t`` is a contiguous CPU tensor of the same shape and dtype.

    So a CPU ``torch.Generator`` serves parameters on any device, and the numbers do not depend on the
    device or the memory format (a contiguous CPU tensor is filled directly).
    """
    if tensor.is_meta:                      # built by seeded_construction: nothing to fill (and no draw)
        return tensor
    with torch.no_grad():
        if tensor.device.type == "cpu" and tensor.is_contiguous():
            draw(tensor)
        else:
            tmp = torch.empty(tuple(tensor.shape), dtype=tensor.dtype, device="cpu")
            draw(tmp)
            tensor.copy_(tmp)
    return tensor


def init_linear_(module: nn.Module, generator: torch.Generator | None) -> None:
    """PyTorch's default init of ``nn.Linear`` and ``nn.Conv*d``, drawn from ``generator``: weight
    kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    draw_into(module.weight, lambda t: nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=generator))
    if getattr(module, "bias", None) is not None:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        draw_into(module.bias, lambda t: nn.init.uniform_(t, -bound, bound, generator=generator))


def _init_bilinear(module: nn.Bilinear, generator: torch.Generator | None) -> None:
    bound = 1 / math.sqrt(module.weight.size(1))
    draw_into(module.weight, lambda t: nn.init.uniform_(t, -bound, bound, generator=generator))
    if module.bias is not None:
        draw_into(module.bias, lambda t: nn.init.uniform_(t, -bound, bound, generator=generator))


def _init_embedding(module: nn.Embedding | nn.EmbeddingBag, generator: torch.Generator | None) -> None:
    draw_into(module.weight, lambda t: nn.init.normal_(t, generator=generator))
    if module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].fill_(0)


def _init_multihead_attention(module: nn.MultiheadAttention, generator: torch.Generator | None) -> None:
    if module._qkv_same_embed_dim:
        draw_into(module.in_proj_weight, lambda t: nn.init.xavier_uniform_(t, generator=generator))
    else:
        for w in (module.q_proj_weight, module.k_proj_weight, module.v_proj_weight):
            draw_into(w, lambda t: nn.init.xavier_uniform_(t, generator=generator))
    if module.in_proj_bias is not None:
        nn.init.constant_(module.in_proj_bias, 0.0)
        nn.init.constant_(module.out_proj.bias, 0.0)
    for b in (module.bias_k, module.bias_v):
        if b is not None:
            draw_into(b, lambda t: nn.init.xavier_normal_(t, generator=generator))


def _init_recurrent(module: nn.Module, generator: torch.Generator | None) -> None:
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for w in module.parameters():
        draw_into(w, lambda t: nn.init.uniform_(t, -stdv, stdv, generator=generator))


def _init_transformer(module: nn.Transformer, generator: torch.Generator | None) -> None:
    for p in module.parameters():
        if p.dim() > 1:
            draw_into(p, lambda t: nn.init.xavier_uniform_(t, generator=generator))


#: PyTorch's own reset functions that draw at random -> the same initialisation from a passed generator.
#: Keyed by the function itself, so a subclass that overrides ``reset_parameters`` is not mistaken for its base.
_BUILTIN_INIT: dict[Callable, Callable[[nn.Module, torch.Generator | None], None]] = {
    nn.Linear.reset_parameters: init_linear_,
    nn.modules.conv._ConvNd.reset_parameters: init_linear_,
    nn.Bilinear.reset_parameters: _init_bilinear,
    nn.Embedding.reset_parameters: _init_embedding,
    nn.EmbeddingBag.reset_parameters: _init_embedding,
    nn.MultiheadAttention._reset_parameters: _init_multihead_attention,
    nn.RNNBase.reset_parameters: _init_recurrent,
    nn.modules.rnn.RNNCellBase.reset_parameters: _init_recurrent,
    nn.Transformer._reset_parameters: _init_transformer,
}


#: PyTorch's own reset functions that draw nothing (constants), called as they are.
_DRAWS_NOTHING: set[Callable] = {
    nn.modules.batchnorm._NormBase.reset_parameters,
    nn.LayerNorm.reset_parameters,
    nn.GroupNorm.reset_parameters,
    nn.PReLU.reset_parameters,
}
if hasattr(nn, "RMSNorm"):
    _DRAWS_NOTHING.add(nn.RMSNorm.reset_parameters)


class GlobalDrawError(TypeError):
    """Raised when code run under ``no_global_draws`` draws from torch's process-wide generator."""


def _on_meta(args, kwargs) -> bool:
    """True for an operator on the meta device (shapes only: it draws nothing)."""
    dev = kwargs.get("device")
    if dev is not None and torch.device(dev).type == "meta":
        return True
    return any(isinstance(a, torch.Tensor) and a.is_meta for a in args)


class _NoGlobalDraws(TorchDispatchMode):
    """Refuses every random operator called without an explicit generator (in this thread only)."""

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if (torch.Tag.nondeterministic_seeded in func.tags and kwargs.get("generator") is None
                and not _on_meta(args, kwargs)):
            raise GlobalDrawError(f"{self.what} drew from torch's global random generator ({func}); "
                                  "pass a torch.Generator instead")
        return func(*args, **kwargs)


def no_global_draws(what: str = "this code"):
    """A context in which any random torch operator without ``generator=`` raises ``GlobalDrawError``.

    Thread-local (a dispatch mode): other threads are not affected. ``reinitialize`` runs the resets it
    does not know under it; the tests use it to check that seeded runs never touch torch's global generator.
    """
    return _NoGlobalDraws(what)


def _takes_generator(fn: Callable) -> bool:
    try:
        return "generator" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def reset_module(module: nn.Module, generator: torch.Generator, name: str = "") -> None:
    """Re-initialise ``module``'s own parameters (not its children's) from ``generator``.

    PyTorch's built-in layers get their default distributions (see ``_BUILTIN_INIT``); a module whose
    ``reset_parameters`` accepts ``generator=`` gets it; any other ``reset_parameters()`` /
    ``_reset_parameters()`` is called as is, under ``no_global_draws``: it must not draw at random
    (``GlobalDrawError``, a TypeError, otherwise).
    A module with parameters of its own and no reset method is a TypeError.
    """
    label = name or type(module).__name__
    reset = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters", None)
    if not callable(reset):
        if list(module.parameters(recurse=False)):
            raise TypeError(
                f"cannot re-initialise submodule {label!r}: it has parameters but no reset_parameters(); "
                "add one so that retraining starts from scratch")
        return
    fn = getattr(type(module), reset.__name__, None)
    builtin = _BUILTIN_INIT.get(fn)
    if builtin is not None:
        builtin(module, generator)
    elif fn in _DRAWS_NOTHING:
        reset()
    elif _takes_generator(reset):
        reset(generator=generator)
    else:
        try:
            with no_global_draws(f"re-initialising {label!r}"):
                reset()
        except GlobalDrawError as e:
            raise GlobalDrawError(
                f"cannot re-initialise submodule {label!r} ({type(module).__name__}) reproducibly: its "
                f"{reset.__name__}() draws from torch's global random generator, which other threads share. "
                "Give it a 'generator' argument, e.g. def reset_parameters(self, generator=None), and pass "
                "generator=generator to the torch.nn.init functions it calls") from e


def reinitialize(model: nn.Module, seed: int | torch.Generator) -> nn.Module:
    """Re-initialise *every* parameter of ``model`` in place (recursively), deterministically.

    Every submodule is reset (``reset_module``) from one CPU ``torch.Generator`` seeded with ``seed`` (or
    the generator passed), in ``named_modules`` order; torch's global generator is neither seeded nor
    drawn from, so the same seed gives the same weights whatever other threads do, on any device. (The
    authors' "retrain" reset only the top-level children, i.e. the head; this resets the backbone too.)
    Raises if a submodule owns parameters but offers no way to reset them, rather than silently keeping
    trained weights, and if a reset would draw from the global generator.
    """
    gen = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    for name, module in model.named_modules():
        reset_module(module, gen, name)
    return model


@contextlib.contextmanager
def seeded_construction(module: nn.Module, seed: int | None) -> Iterator[None]:
    """Build ``module``'s layers inside this block; with a seed, without drawing from the global generator.

    ``seed`` None: nothing changes (PyTorch's default construction, from the global generator). With a
    seed, the layers are built on the meta device (no storage, no draws); after the block every
    parameter and buffer is allocated on the device that was the default on entry and set by
    ``reinitialize(module, seed)``. Every buffer must therefore be set by some ``reset_parameters``
    (BatchNorm's running statistics and ``Standardize``'s statistics are).
    """
    if seed is None:
        yield
        return
    device = torch.empty(0).device          # the default device: cpu, or a torch.device(...) block's
    with torch.device("meta"):
        yield
    _materialize(module, device)
    reinitialize(module, seed)


def _materialize(module: nn.Module, device: torch.device) -> None:
    """Give every meta parameter and buffer of ``module`` uninitialised storage on ``device`` (shared ones
    stay shared). ``Module.to_empty`` does the same, but its first call imports torch's symbolic-shape
    machinery, seconds on a small machine."""
    memo: dict[int, torch.Tensor] = {}
    for m in module.modules():
        for name, t in (list(m.named_parameters(recurse=False, remove_duplicate=False))
                        + list(m.named_buffers(recurse=False, remove_duplicate=False))):
            if not t.is_meta:
                continue
            new = memo.get(id(t))
            if new is None:
                new = torch.empty(tuple(t.shape), dtype=t.dtype, device=device)
                if isinstance(t, nn.Parameter):
                    new = nn.Parameter(new, requires_grad=t.requires_grad)
                memo[id(t)] = new
            setattr(m, name, new)


# ----------------------------------------------------------------------------------------------------------
# Seeded dropout
# ----------------------------------------------------------------------------------------------------------


class _DropoutStreams:
    """One generator per device, all seeded from one seed, created when first used."""

    def __init__(self, seed: int):
        self.seed = int(seed) % (2 ** 63)
        self.generators: dict[torch.device, torch.Generator] = {}

    def on(self, device: torch.device) -> torch.Generator:
        gen = self.generators.get(device)
        if gen is None:
            gen = self.generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return gen


_DROPOUT_STREAMS: contextvars.ContextVar[_DropoutStreams | None] = contextvars.ContextVar(
    "unlearn_core_dropout_streams", default=None)


@contextlib.contextmanager
def dropout_rng(seed: int) -> Iterator[None]:
    """Within this block, in this thread, every ``Dropout`` draws its masks from generators seeded with ``seed``.

    Blocks nest (the innermost wins) and are per thread (a ``contextvars`` variable), so concurrent app
    sessions never share a stream. The library's loops open one: ``train_loop`` / ``fit``, the image
    trainer (one per epoch), and every unlearning method that runs the model in train mode.
    """
    token = _DROPOUT_STREAMS.set(_DropoutStreams(seed))
    try:
        yield
    finally:
        _DROPOUT_STREAMS.reset(token)


def stream_seed(seed: int, stream: int) -> int:
    """A seed for one use (``stream``) of a run's ``seed``, kept apart from the run's other uses."""
    return (int(seed) * 1_000_003 + int(stream)) % (2 ** 63)


class Dropout(nn.Dropout):
    """``nn.Dropout`` (same arguments, no parameters) whose masks come from the current ``dropout_rng`` block.

    In train mode with ``p > 0`` inside a ``dropout_rng(seed)`` block: each element is kept with
    probability 1 - p, from that block's generator on the input's device, and scaled by 1 / (1 - p).
    Outside any block, or in eval mode, exactly ``nn.Dropout``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        streams = _DROPOUT_STREAMS.get()
        if streams is None or not self.training or self.p == 0:
            return super().forward(x)
        if self.p >= 1:
            return x * 0
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=streams.on(x.device))
        return x * keep / (1 - self.p)


# ----------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------


class Standardize(nn.Module):
    """``(x - mean) / std`` with buffers, so the statistics travel with ``state_dict``.

    The statistics start unset (mean 0, std 1, ``ready`` False); ``fit`` sets them from the
    training inputs the first time it trains the model (``set_stats``).
    """

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))

    @torch.no_grad()
    def set_stats(self, X: torch.Tensor) -> None:
        X = X.to(self.mean.device, torch.float32).reshape(len(X), -1)
        self.mean.copy_(X.mean(0))
        # A constant feature gets std 1 rather than a division by zero.
        std = X.std(0, unbiased=False)
        self.std.copy_(torch.where(std > 1e-8, std, torch.ones_like(std)))
        self.ready.fill_(True)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:  # draws nothing
        self.mean.zero_()
        self.std.fill_(1.0)
        self.ready.fill_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class MLP(nn.Module):
    """Fully connected classifier for 2-D points (or any flat input).

    ``MLP(in_dim=2, n_classes=2, hidden=(64, 64), activation="relu")``: input [B, in_dim],
    output logits [B, n_classes]. The first stage standardises the inputs with statistics taken
    from the training data by ``fit``.
    """

    def __init__(self, in_dim: int = 2, n_classes: int = 2, hidden: Sequence[int] = (64, 64),
                 activation: str = "relu", seed: int | None = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        if int(n_classes) < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        hidden = tuple(int(h) for h in hidden)
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden layer widths must be positive, got {hidden}")
        self.config = dict(in_dim=int(in_dim), n_classes=int(n_classes), hidden=hidden, activation=activation)
        with seeded_construction(self, seed):
            self.standardize = Standardize(in_dim)
            layers: list[nn.Module] = []
            width = in_dim
            for h in hidden:
                layers += [nn.Linear(width, h), ACTIVATIONS[activation]()]
                width = h
            layers.append(nn.Linear(width, n_classes))
            self.net = nn.Sequential(*layers)

    def input_scale(self) -> torch.Tensor:
        return self.standardize.std

    def input_center(self) -> torch.Tensor:
        return self.standardize.mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.standardize(x))


class SmallCNN(nn.Module):
    """A small CNN for 1x8x8 images (sklearn's digits): two 3x3 convs, pooling, a linear head."""

    def __init__(self, in_channels: int = 1, n_classes: int = 10, width: int = 32, seed: int | None = None):
        super().__init__()
        self.config = dict(in_channels=in_channels, n_classes=n_classes, width=width)
        with seeded_construction(self, seed):
            self.features = nn.Sequential(
                nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(),
                nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(2 * width, 2 * width, 3, padding=1), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
            )
            self.head = nn.Linear(2 * width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def input_scale(model: nn.Module) -> torch.Tensor | None:
    """The model's declared input scale (see the module docstring), or None."""
    fn = getattr(model, "input_scale", None)
    return fn() if callable(fn) else None


def input_center(model: nn.Module) -> torch.Tensor | None:
    """The model's declared input centre (see the module docstring), or None."""
    fn = getattr(model, "input_center", None)
    return fn() if callable(fn) else None
