"""Image classifiers for the benchmarks (ResNet18, the authors' "VGG16", a small ViT), their registry, users' models.

Every model here is a plain ``torch.nn.Module`` written in this project (torchvision is not used): input
[B, C, H, W] float, output logits [B, n_classes]. Each takes ``seed``: when given, the model is built without
drawing from torch's global generator and every parameter (and BatchNorm's running statistics) is set by
``unlearn_core.models.reinitialize(model, seed)`` from a ``torch.Generator`` (``seeded_construction``), so the
same seed gives the same weights whatever other threads do, and "retrain" can re-initialise the whole
network, backbone included (reference/PAPER.md section 7). Dropout layers are ``unlearn_core.models.Dropout``:
seeded masks inside the library's training and unlearning loops. Each keeps its constructor arguments in
``model.config``.

    from unlearn_core.images.zoo import build_model
    from unlearn_core.images.checkpoints import save_checkpoint, load_model

    model = build_model("resnet18", n_classes=10, in_shape=(3, 32, 32), seed=0)
    save_checkpoint("ckpt/resnet.pt", model, meta={"in_shape": (3, 32, 32), "dataset": "cifar10", "epoch": 30})
    same = load_model("ckpt/resnet.pt")          # rebuilt from the recorded meta, weights loaded strictly

Architectures (``ARCHITECTURES``: the one list of them, which the CLI, the methods' defaults and the app
read; parameter counts for 10 classes at the default sizes):

- ``smallcnn``: ``unlearn_core.models.SmallCNN``, for 1x8x8 digits (any input of at least 2x2).
- ``resnet18``: ResNet-18 with the CIFAR stem (3x3 conv, stride 1, no max-pool), BatchNorm: 11,173,962.
  Works from 1x1 inputs up (8x8 digits end in a 1x1 map).
- ``vgg11`` (alias ``vgg16``): the authors' "VGG16", which is torchvision's VGG11 without BatchNorm,
  here with a 512-wide classifier: 9,750,922 (see ``VGG11``).
- ``vit``: a small ViT trained from scratch (patch 4 on 32x32, dim 192, depth 6): 1,806,538.
  The paper fine-tuned ImageNet's ViT-B/16 at 224x224 (86M parameters); this one's numbers are not the
  paper's (see ``ViT``).

BatchNorm and JiT. ResNet18 is the only model here with BatchNorm, and it is not configured in the paper
(the authors' code errors for it; BN is reported to clash with the method), so its JiT sigma / lr are
this project's choices, not the paper's. JiT (``unlearn_core.methods.jit``) runs the model in eval mode by
default (``train_mode=False``): BN then normalises with its running statistics, every input is treated
on its own, and the N perturbed forwards leave the running statistics untouched. In train mode (the
authors' code, ``train_mode=True``) BN would normalise each chunk of perturbed copies by that chunk's own
mean and variance, so f(x + xi) depends on the other copies in the batch, and every forward would update
the running statistics: the model would change away from the forget points, through buffers no gradient
step accounts for. Batched ensembles (``torch.func`` vmap in ``unlearn_core.ensemble``) refuse BN models;
train and unlearn ResNet18 one model at a time.

Users' own models: ``build_from_factory("package.module:make_model", n_classes, in_shape, seed)`` (the
calling convention is in ``build_from_factory``). Saving and loading any of these models, weights only:
``unlearn_core.images.checkpoints``.
"""
from __future__ import annotations

import importlib
import inspect
import operator
import re
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from unlearn_core.models import Dropout, SmallCNN, draw_into, reinitialize, seeded_construction


# ----------------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------------


class KaimingConv2d(nn.Conv2d):
    """``nn.Conv2d`` initialised as torchvision's ResNet and VGG do: Kaiming normal (fan_out, ReLU), zero bias.

    Same parameters and ``state_dict`` keys as ``nn.Conv2d``; only ``reset_parameters`` differs, so
    ``reinitialize`` repeats this initialisation. (PyTorch's default conv init shrinks the signal by
    about 6x in variance per ReLU layer, which stalls an 8-conv, BN-free VGG.)
    """

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        draw_into(self.weight, lambda t: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu",
                                                                 generator=generator))
        if self.bias is not None:
            nn.init.zeros_(self.bias)


def _check_common(name: str, n_classes: int, in_channels: int) -> None:
    if int(n_classes) < 2:
        raise ValueError(f"{name}: n_classes must be at least 2, got {n_classes}")
    if int(in_channels) < 1:
        raise ValueError(f"{name}: in_channels must be at least 1, got {in_channels}")


def _check_input(name: str, x: torch.Tensor, in_channels: int) -> None:
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"{name} expects images [batch, {in_channels}, height, width], got a tensor of shape "
                         f"{tuple(x.shape)}; reshape the input (flat rows need .reshape(-1, C, H, W))")


# ----------------------------------------------------------------------------------------------------------
# ResNet18
# ----------------------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with BatchNorm, identity or 1x1-conv+BN shortcut.

    [B, in_planes, H, W] -> [B, planes, ceil(H / stride), ceil(W / stride)].
    """

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = KaimingConv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = KaimingConv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(KaimingConv2d(in_planes, planes, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """ResNet-18 for small images: the CIFAR stem, BasicBlocks [2, 2, 2, 2], BatchNorm, linear head.

    ``ResNet18(n_classes, in_channels=3, width=64, seed=None)``: input [B, in_channels, H, W] with H, W >= 1,
    output logits [B, n_classes]. Stem: 3x3 conv stride 1 + BN + ReLU, no max-pool (ImageNet's 7x7 stride-2
    stem and pool would shrink a 32x32 image to 8x8 at once). Stages of width w, 2w, 4w, 8w
    (64-128-256-512 at the default) with strides 1, 2, 2, 2, then adaptive average pooling to 1x1 and
    Linear(8w, n_classes). 32x32 ends in a 4x4 map; 8x8 digits in 1x1.
    Parameters: 11,173,962 for 10 classes at width 64 (torchvision's ImageNet ResNet-18 has 11.69M
    with 1000 classes). Layer names follow torchvision's (conv1, bn1, layer1.0.conv1, ..., fc).
    Initialisation as torchvision's: Kaiming normal (fan_out) convs, BN weight 1 / bias 0, default Linear.
    Not configured in the paper; see the module docstring on BatchNorm and JiT.
    """

    def __init__(self, n_classes: int = 10, in_channels: int = 3, width: int = 64, seed: int | None = None):
        super().__init__()
        _check_common("ResNet18", n_classes, in_channels)
        if int(width) < 1:
            raise ValueError(f"ResNet18: width must be at least 1, got {width}")
        n_classes, in_channels, width = int(n_classes), int(in_channels), int(width)
        self.config = dict(n_classes=n_classes, in_channels=in_channels, width=width)
        with seeded_construction(self, seed):
            self.conv1 = KaimingConv2d(in_channels, width, 3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            stages, planes = [], width
            for mult, stride in [(1, 1), (2, 2), (4, 2), (8, 2)]:
                out = width * mult
                stages.append(nn.Sequential(BasicBlock(planes, out, stride), BasicBlock(out, out, 1)))
                planes = out
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(planes, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input("ResNet18", x, self.config["in_channels"])
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


# ----------------------------------------------------------------------------------------------------------
# VGG11 (the authors' "VGG16")
# ----------------------------------------------------------------------------------------------------------

VGG11_CONFIG: tuple = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")


class MaxPoolIfFits(nn.MaxPool2d):
    """2x2 max-pool that passes the input through unchanged when it is already under 2 pixels on a side.

    So VGG11 runs on any input of at least 1x1: a 32x32 image goes through all five pools (as in
    torchvision) and ends at 1x1; an 8x8 digit goes through the first three and skips the last two.
    """

    def __init__(self):
        super().__init__(kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] < 2 or x.shape[-2] < 2:
            return x
        return super().forward(x)


class _NormalLinear(nn.Linear):
    """``nn.Linear`` initialised as torchvision's VGG classifier: weights N(0, 0.01^2), zero bias."""

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        draw_into(self.weight, lambda t: nn.init.normal_(t, 0.0, 0.01, generator=generator))
        nn.init.zeros_(self.bias)


class _KaimingLinear(nn.Linear):
    """``nn.Linear`` with Kaiming normal weights (fan_in, ReLU) and zero bias (VGG11's hidden layers)."""

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        draw_into(self.weight, lambda t: nn.init.kaiming_normal_(t, mode="fan_in", nonlinearity="relu",
                                                                 generator=generator))
        nn.init.zeros_(self.bias)


class VGG11(nn.Module):
    """VGG-11 without BatchNorm, sized for 32x32 images: the model the paper calls "VGG16".

    ``VGG11(n_classes, in_channels=3, dropout=0.5, width=64, seed=None)``: input [B, in_channels, H, W]
    with H, W >= 1, output logits [B, n_classes].

    Features: configuration [64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M] (channel counts
    scaled by width / 64), each number a 3x3 conv (padding 1, bias) + ReLU, each M a 2x2 max-pool that is
    skipped when the map is already 1 pixel on a side (``MaxPoolIfFits``; 8x8 digits skip the last two).
    Then adaptive average pooling to 1x1 and the classifier
    Linear(512, 512) - ReLU - Dropout - Linear(512, 512) - ReLU - Dropout - Linear(512, n_classes)
    (hidden width 8 * width). Parameters: 9,750,922 for 10 classes.

    Choice (ours): torchvision's VGG pools to 7x7 and uses a 25088 -> 4096 -> 4096 classifier sized for
    224x224 inputs; on a 32x32 image the map is already 1x1, so that pooling just copies each value 49
    times, and its classifier alone holds about 120M parameters. The authors trained exactly that
    (torchvision VGG11, 1000 outputs, plus Linear(1000, C)) from scratch on 32x32 images; here the
    classifier keeps its shape (Linear-ReLU-Dropout twice, then the head) at width 512. Dropout is
    active in train mode only (JiT's default eval mode turns it off; see ``unlearn_core.methods.jit``).
    Initialisation: convs as torchvision (Kaiming normal, fan_out), hidden Linear layers Kaiming
    normal (fan_in; torchvision's N(0, 0.01) suits its 25088-wide input, not 512), head N(0, 0.01).
    """

    def __init__(self, n_classes: int = 10, in_channels: int = 3, dropout: float = 0.5, width: int = 64,
                 seed: int | None = None):
        super().__init__()
        _check_common("VGG11", n_classes, in_channels)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"VGG11: dropout must be in [0, 1), got {dropout}")
        if int(width) < 1:
            raise ValueError(f"VGG11: width must be at least 1, got {width}")
        n_classes, in_channels, width = int(n_classes), int(in_channels), int(width)
        self.config = dict(n_classes=n_classes, in_channels=in_channels, dropout=float(dropout), width=width)
        layers: list[nn.Module] = []
        channels = in_channels
        with seeded_construction(self, seed):
            for item in VGG11_CONFIG:
                if item == "M":
                    layers.append(MaxPoolIfFits())
                else:
                    out = max(1, item * width // 64)
                    layers += [KaimingConv2d(channels, out, 3, padding=1), nn.ReLU()]
                    channels = out
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            hidden = 8 * width
            self.classifier = nn.Sequential(
                _KaimingLinear(channels, hidden), nn.ReLU(), Dropout(dropout),
                _KaimingLinear(hidden, hidden), nn.ReLU(), Dropout(dropout),
                _NormalLinear(hidden, n_classes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input("VGG11", x, self.config["in_channels"])
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


# ----------------------------------------------------------------------------------------------------------
# ViT
# ----------------------------------------------------------------------------------------------------------


class TokenParams(nn.Module):
    """The ViT's class token [1, 1, dim] and learned position embeddings [1, 1 + n_patches, dim].

    ``reset_parameters`` draws both from a normal truncated at +-2 std with std 0.02 (as timm does for the
    position embeddings), so ``reinitialize`` resets them too.
    """

    def __init__(self, n_patches: int, dim: int):
        super().__init__()
        self.cls_token = nn.Parameter(torch.empty(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.empty(1, 1 + n_patches, dim))
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        for p in (self.cls_token, self.pos_embed):
            draw_into(p, lambda t: nn.init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04, generator=generator))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """[B, n_patches, dim] -> [B, 1 + n_patches, dim]: class token prepended, positions added."""
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        return torch.cat([cls, patches], dim=1) + self.pos_embed


class Attention(nn.Module):
    """Multi-head self-attention, batch first: [B, T, dim] -> [B, T, dim].

    One Linear makes q, k, v; softmax(q k^T / sqrt(head_dim)) v is written out (attention dropout in
    train mode only); a Linear projects back. Written out rather than ``nn.MultiheadAttention`` (which
    switches to a fused kernel for no-grad eval forwards, while JiT compares one grad forward with
    no-grad ones) or ``F.scaled_dot_product_attention`` (whose backend choice varies with device and
    inputs, and which has no vmap batching rule on the CPU, so ``unlearn_core.ensemble`` would fall
    back to a slow loop): one code path everywhere. At 65 tokens the written-out form costs little.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.attn_drop = Dropout(dropout)
        self.proj_drop = Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        attn = torch.softmax((q * (q.shape[-1] ** -0.5)) @ k.transpose(-2, -1), dim=-1)   # [B, heads, T, T]
        out = self.attn_drop(attn) @ v                             # [B, heads, T, hd]
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, t, d)))


class Block(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x)) with GELU. [B, T, dim] -> same."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), Dropout(dropout),
                                 nn.Linear(mlp_dim, dim), Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """A small Vision Transformer for 32x32 images, trained from scratch. No BatchNorm (LayerNorm only).

    ``ViT(n_classes, image_size=32, patch_size=4, in_channels=3, dim=192, depth=6, heads=3, mlp_dim=384,
    dropout=0.0, seed=None)``: input [B, in_channels, image_size, image_size], output logits [B, n_classes].
    Patch embedding Conv2d(in_channels, dim, patch_size, stride=patch_size) -> (image_size / patch_size)^2
    tokens (64 at the defaults), a learned class token and position embeddings (``TokenParams``),
    dropout, ``depth`` pre-norm blocks (``Block``), a final LayerNorm, and Linear(dim, n_classes) on the
    class token. Parameters: 1,806,538 for 10 classes at the defaults.

    Not the paper's model: the paper fine-tuned ImageNet's ViT-B/16 (``google/vit-base-patch16-224``,
    86M parameters, 16x16 patches at 224x224, CIFAR images resized) with a new head, for 8-9 epochs.
    No pretrained weights are used here, and a small ViT trained from scratch on CIFAR-sized data is a
    much weaker, differently shaped model, so its JiT results (and sensible sigma / lr, given the
    input dimension is 3072 rather than 150,528) are not the paper's.
    """

    def __init__(self, n_classes: int = 10, image_size: int = 32, patch_size: int = 4, in_channels: int = 3,
                 dim: int = 192, depth: int = 6, heads: int = 3, mlp_dim: int = 384, dropout: float = 0.0,
                 seed: int | None = None):
        super().__init__()
        _check_common("ViT", n_classes, in_channels)
        image_size, patch_size = int(image_size), int(patch_size)
        if patch_size < 1 or image_size < patch_size or image_size % patch_size:
            raise ValueError(f"ViT: image_size ({image_size}) must be a positive multiple of patch_size "
                             f"({patch_size}); pick a patch size that divides the image side")
        if int(dim) < 1 or int(heads) < 1 or int(dim) % int(heads):
            raise ValueError(f"ViT: dim ({dim}) must be a positive multiple of heads ({heads})")
        if int(depth) < 0 or int(mlp_dim) < 1:
            raise ValueError(f"ViT: depth must be >= 0 and mlp_dim >= 1, got depth={depth}, mlp_dim={mlp_dim}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"ViT: dropout must be in [0, 1), got {dropout}")
        self.config = dict(n_classes=int(n_classes), image_size=image_size, patch_size=patch_size,
                           in_channels=int(in_channels), dim=int(dim), depth=int(depth), heads=int(heads),
                           mlp_dim=int(mlp_dim), dropout=float(dropout))
        dim = int(dim)
        with seeded_construction(self, seed):
            self.patch_embed = nn.Conv2d(int(in_channels), dim, patch_size, stride=patch_size)
            self.tokens = TokenParams((image_size // patch_size) ** 2, dim)
            self.pos_drop = Dropout(float(dropout))
            self.blocks = nn.Sequential(*[Block(dim, int(heads), int(mlp_dim), float(dropout))
                                          for _ in range(int(depth))])
            self.norm = nn.LayerNorm(dim)
            self.head = nn.Linear(dim, int(n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, s = self.config["in_channels"], self.config["image_size"]
        if x.ndim != 4 or tuple(x.shape[1:]) != (c, s, s):
            raise ValueError(f"ViT expects images [batch, {c}, {s}, {s}] (its position embeddings are fixed to "
                             f"that size), got {tuple(x.shape)}; resize the images or build the ViT with "
                             "image_size matching them")
        patches = self.patch_embed(x).flatten(2).transpose(1, 2)          # [B, n_patches, dim]
        z = self.blocks(self.pos_drop(self.tokens(patches)))               # [B, 1 + n_patches, dim]
        return self.head(self.norm(z[:, 0]))


# ----------------------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------------------

#: name -> one-line description. Names are case-insensitive; ``ALIASES`` maps other names onto these.
ARCHITECTURES: dict[str, str] = {
    "smallcnn": "small CNN for 1x8x8 digits: three 3x3 convs, one max-pool, linear head (unlearn_core.models)",
    "resnet18": "ResNet-18, CIFAR stem (3x3 stride 1, no max-pool), BatchNorm, 11.2M parameters; not in the paper",
    "vgg11": "VGG-11 without BatchNorm, 512-wide classifier with dropout: the paper's 'VGG16', 9.8M parameters",
    "vit": "small ViT from scratch (patch 4, dim 192, depth 6), 1.8M; the paper fine-tuned ImageNet ViT-B/16",
}

#: other names -> canonical name. "vgg16" is what the paper and the authors' code call their VGG11.
ALIASES: dict[str, str] = {"vgg16": "vgg11"}

_CLASSES: dict[str, type] = {"smallcnn": SmallCNN, "resnet18": ResNet18, "vgg11": VGG11, "vit": ViT}
# Constructor arguments that build_model derives from n_classes / in_shape (not "options").
_DERIVED = {"n_classes", "in_channels", "image_size"}


def canonical_name(name: str) -> str:
    """``name`` as its ``ARCHITECTURES`` key (lower case, aliases resolved); ValueError if unknown."""
    if not isinstance(name, str):
        raise ValueError(f"architecture name must be a string, got {type(name).__name__}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in ARCHITECTURES:
        known = sorted(ARCHITECTURES) + [f"{a} (= {b})" for a, b in ALIASES.items()]
        raise ValueError(f"unknown architecture {name!r}; choose one of {', '.join(known)}, or build your own "
                         "model with build_from_factory('package.module:factory', ...)")
    return key


def check_in_shape(in_shape: Any) -> tuple[int, ...]:
    """``in_shape`` as a tuple of positive ints: the shape of ONE input, without the batch dimension."""
    try:
        shape = tuple(operator.index(s) for s in in_shape)
        ok = len(shape) >= 1 and all(s >= 1 for s in shape)
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"in_shape must be the shape of one input without the batch dimension, as positive "
                         f"integers, e.g. (3, 32, 32) for CIFAR or (1, 8, 8) for digits; got {in_shape!r}")
    return shape


def build_model(name: str, n_classes: int, in_shape: Sequence[int], seed: int | None = None,
                **options: Any) -> nn.Module:
    """Build a zoo model for inputs of shape ``in_shape`` (C, H, W) and ``n_classes`` outputs.

    ``name``: a key of ``ARCHITECTURES`` or ``ALIASES`` ("vgg16" builds ``VGG11``, the model the paper
    calls VGG16). ``in_shape``: one input's shape without the batch, e.g. (3, 32, 32) or (1, 8, 8); its
    channel count becomes ``in_channels``. ``options``: further constructor arguments (``width`` for
    smallcnn / resnet18 / vgg11, ``dropout`` for vgg11, ``patch_size``, ``dim``, ``depth``, ``heads``,
    ``mlp_dim``, ``dropout`` for vit). For "vit", ``image_size`` is the (square) input side, and the patch
    size defaults to 4 for sides of 16 and more and to 2 below (so 8x8 digits make 16 tokens).
    ``seed``: when given, every parameter is set by ``reinitialize(model, seed)``.
    """
    key = canonical_name(name)
    shape = check_in_shape(in_shape)
    if len(shape) != 3:
        raise ValueError(f"{key} takes images: in_shape must be (channels, height, width), got {shape}; "
                         "for flat inputs use unlearn_core.models.MLP")
    if int(n_classes) < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    c, h, w = shape
    cls = _CLASSES[key]
    bad = sorted(set(options) & (_DERIVED | {"seed"}))
    if bad:
        raise ValueError(f"build_model sets {', '.join(bad)} itself (from n_classes, in_shape and seed); "
                         "do not pass them as options")
    kwargs: dict[str, Any] = dict(n_classes=int(n_classes), in_channels=c)
    if key == "smallcnn" and (h < 2 or w < 2):
        raise ValueError(f"smallcnn needs inputs of at least 2x2 (it max-pools once), got {h}x{w}")
    if key == "vit":
        if h != w:
            raise ValueError(f"vit takes square images, got {h}x{w}; resize or crop them to a square")
        patch = int(options.setdefault("patch_size", 4 if h >= 16 else 2))
        if patch < 1 or h % patch:
            raise ValueError(f"vit: the image side {h} is not a multiple of patch_size {patch}; pass "
                             "patch_size=... that divides it")
        kwargs["image_size"] = h
    try:
        model = cls(**kwargs, **options, seed=seed)
    except TypeError as e:
        accepted = [p for p in inspect.signature(cls).parameters if p not in _DERIVED | {"seed"}]
        raise ValueError(f"bad options for {key} ({cls.__name__}): {e}; it accepts {', '.join(accepted)}") from None
    return model


def architecture_of(model: nn.Module) -> str | None:
    """The ``ARCHITECTURES`` name of a zoo model (exact class, not subclasses), else None."""
    for key, cls in _CLASSES.items():
        if type(model) is cls:
            return key
    return None




def architecture_meta(model: nn.Module) -> dict[str, Any]:
    """What rebuilds a zoo model: {"architecture", "n_classes", "options"} (the constructor arguments that
    ``build_model`` does not derive from n_classes / in_shape), plus "in_shape" for a ViT (its input size
    is fixed); {} for a model outside the zoo. Checkpoints record it in their meta."""
    arch = architecture_of(model)
    if arch is None:
        return {}
    config = dict(model.config)
    out: dict[str, Any] = {"architecture": arch, "n_classes": config["n_classes"],
                           "options": {k: v for k, v in config.items() if k not in _DERIVED}}
    if arch == "vit":
        out["in_shape"] = (config["in_channels"], config["image_size"], config["image_size"])
    return out

# ----------------------------------------------------------------------------------------------------------
# Users' own models
# ----------------------------------------------------------------------------------------------------------


class FactoryError(ValueError):
    """A factory spec that cannot be imported, found, or called as a model factory."""


def load_factory(spec: str) -> Callable[..., nn.Module]:
    """Import and return the callable named by ``"package.module:attribute"`` (attribute may be dotted).

    The module is imported with ``importlib`` (so it must be importable: installed, or its folder on
    ``sys.path`` / ``PYTHONPATH``). Raises ``FactoryError`` (a ValueError) for a malformed spec, a module
    that cannot be imported, a missing attribute, or an attribute that is not callable. Importing a
    module runs its code: only name modules you trust.
    """
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise FactoryError(f"a factory spec looks like 'package.module:function', got {spec!r}")
    module_name, attr = (part.strip() for part in spec.split(":"))
    ident = r"[A-Za-z_][A-Za-z0-9_]*"
    if not re.fullmatch(rf"{ident}(\.{ident})*", module_name) or not re.fullmatch(rf"{ident}(\.{ident})*", attr):
        raise FactoryError(f"a factory spec looks like 'package.module:function' (dotted Python names on both "
                           f"sides of one colon), got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name and module_name.split(".")[:len(e.name.split("."))] == e.name.split("."):
            raise FactoryError(f"cannot import module {module_name!r} from factory spec {spec!r}: no module named "
                               f"{e.name!r}; check the spelling, and that the module is installed or its folder "
                               "is on sys.path (PYTHONPATH)") from None
        raise FactoryError(f"module {module_name!r} (factory spec {spec!r}) was found but importing it failed: "
                           f"it needs {e.name!r}, which is not installed") from e
    except Exception as e:  # noqa: BLE001 - the module's own import-time error, reported with its cause
        raise FactoryError(f"importing module {module_name!r} (factory spec {spec!r}) raised "
                           f"{type(e).__name__}: {e}") from e
    obj: Any = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            where = module_name if i == 0 else f"{module_name}:{'.'.join(attr.split('.')[:i])}"
            names = sorted(n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n, None)))
            raise FactoryError(f"{where!r} has no attribute {part!r} (factory spec {spec!r}); callables it "
                               f"defines: {', '.join(names[:20]) or 'none'}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise FactoryError(f"factory spec {spec!r} names a {type(obj).__name__}, not a callable; name a function "
                           "or class that returns an nn.Module")
    return obj


def build_from_factory(spec: str | Callable[..., nn.Module], n_classes: int, in_shape: Sequence[int],
                       seed: int | None = None, *, check: bool = True) -> nn.Module:
    """Build a user's model with a factory and check it: the calling convention for users' own models.

    Convention: ``factory(n_classes=<int>, in_shape=<tuple of ints>) -> nn.Module``, called with exactly
    these two keyword arguments (``in_shape`` is one input's shape without the batch, e.g. (3, 32, 32)).
    The module must return logits [B, n_classes] for inputs [B, *in_shape]. ``spec`` is a
    ``"package.module:function"`` string (see ``load_factory``) or the callable itself.
    When ``seed`` is given, the model is then re-initialised with ``reinitialize(model, seed)``, which
    needs ``reset_parameters()`` on every submodule that owns parameters, taking ``generator=`` if it draws
    at random (PyTorch's own layers are handled; it raises TypeError naming the submodule otherwise). The
    factory's own construction draws from torch's global generator; those values are all overwritten. With ``check`` (default), one eval-mode forward of a zero input [1, *in_shape]
    verifies the output shape (the model's mode is restored; BatchNorm statistics are not touched).
    """
    factory = load_factory(spec) if isinstance(spec, str) else spec
    if not callable(factory):
        raise FactoryError(f"factory must be a 'package.module:function' string or a callable, got "
                           f"{type(spec).__name__}")
    shape = check_in_shape(in_shape)
    if int(n_classes) < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    label = spec if isinstance(spec, str) else getattr(factory, "__qualname__", repr(factory))
    try:
        model = factory(n_classes=int(n_classes), in_shape=shape)
    except TypeError as e:
        raise FactoryError(f"calling factory {label!r} as factory(n_classes={int(n_classes)}, in_shape={shape}) "
                           f"failed: {e}. A factory must accept these two keyword arguments") from e
    if not isinstance(model, nn.Module):
        raise FactoryError(f"factory {label!r} returned a {type(model).__name__}, not a torch.nn.Module")
    if seed is not None:
        reinitialize(model, seed)
    if check:
        param = next(iter(model.parameters()), None)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(torch.zeros(1, *shape, device=param.device if param is not None else "cpu"))
        except Exception as e:  # noqa: BLE001 - re-raised with what was being tried
            raise FactoryError(f"the model from factory {label!r} failed on an input of shape [1, *{shape}]: "
                               f"{type(e).__name__}: {e}") from e
        finally:
            model.train(was_training)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, int(n_classes)):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise FactoryError(f"the model from factory {label!r} must return logits [batch, {int(n_classes)}] "
                               f"for inputs [batch, *{shape}], got {got}")
    return model


__all__ = ["ARCHITECTURES", "ALIASES", "ResNet18", "VGG11", "ViT", "SmallCNN", "BasicBlock", "KaimingConv2d",
           "MaxPoolIfFits", "TokenParams", "Attention", "Block", "build_model", "canonical_name", "check_in_shape",
           "architecture_of", "architecture_meta", "load_factory", "build_from_factory", "FactoryError"]
