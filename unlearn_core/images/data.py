"""Image data for the full-scale benchmarks: loaders, the paper's forgetting settings, augmentation.

Everything a loader returns is an :class:`ImageData`: float32 images ``[n, C, H, W]`` with values
in [0, 1] (not normalised; call ``data.normalize(x)`` or put the statistics in the model), int64
labels in the label space the model predicts, and, when the model predicts coarse labels, the
fine labels beside them (CIFAR-20, digits with ``labels="parity"``).

Datasets (see PAPER.md section 5):

- ``load_digits()``: scikit-learn's bundled 8x8 digits (1x8x8), no download; ``labels="parity"``
  makes the model predict even/odd with the digit as the fine label: the digits analogue of
  CIFAR-20's sub-class setting.
- ``load_cifar("cifar10" | "cifar100" | "cifar20", data_dir)``: the official "python version"
  files, read from the .tar.gz without extracting or from the extracted folder. The files are
  Python pickles; they are read with a restricted unpickler that only rebuilds numpy arrays and
  refuses anything else with :class:`UnsafeFileError` (a pickle can otherwise run any code).
- ``load_folder(path)``: one subfolder per class (e.g. Pins faces), resized to ``size x size``.

Settings (``make_split``, PAPER.md sections 5-6): ``full_class``, ``sub_class`` and ``random``,
as index arrays into ``X_train`` / ``X_test``; ``PAPER_TARGETS`` holds the paper's classes.

Augmentation (``augment``, tensor ops only): random crop with zero padding plus horizontal flip,
for *training* the original model and the retrained oracle only. Unlearning and evaluation see
the plain images (no augmentation), as in the paper's code.

``write_fake_cifar`` and ``write_fake_folder`` write tiny datasets in the real on-disk formats
for tests and smoke runs. Nothing here prints or downloads.
"""
from __future__ import annotations

import io
import os
import pickle
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: CIFAR-100's 100 fine class names, in label order (as in the archive's meta file).
CIFAR100_FINE_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)

#: CIFAR-100's 20 coarse (superclass) names, in label order; CIFAR-20 predicts these.
CIFAR100_COARSE_CLASSES = (
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2",
)

# The CIFAR-100 superclass table (Krizhevsky 2009, and the dataset page), five fine classes each.
_SUPERCLASS_TABLE = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}

#: ``CIFAR100_COARSE_OF_FINE[f]`` = the coarse label (0..19) of fine label ``f`` (0..99).
CIFAR100_COARSE_OF_FINE = tuple(
    CIFAR100_COARSE_CLASSES.index(next(c for c, fines in _SUPERCLASS_TABLE.items() if fine in fines))
    for fine in CIFAR100_FINE_CLASSES)

#: The classes the paper forgets (PAPER.md section 5). Full-class on CIFAR-20 forgets the
#: superclasses of the five fine classes; sub-class forgets the fine class from a CIFAR-20 model.
PAPER_TARGETS = {
    "cifar100": {"full_class": ["rocket", "mushroom", "baby", "lamp", "sea"]},
    "cifar20": {"full_class": ["vehicles_2", "fruit_and_vegetables", "people", "household_electrical_devices",
                               "large_natural_outdoor_scenes"],
                "sub_class": ["rocket", "mushroom", "baby", "lamp", "sea"]},
}

#: The paper's short names for the CIFAR-20 superclasses, accepted wherever a class name is.
PAPER_ALIASES = {
    "vehicle2": "vehicles_2", "veg": "fruit_and_vegetables", "electrical_devices": "household_electrical_devices",
    "natural_scenes": "large_natural_outdoor_scenes",
}

#: The random setting's forget-set size on CIFAR: 0.00165 of 50,000 training images (PAPER.md section 5).
PAPER_N_RANDOM = 83
#: The random setting's forget share on datasets the paper does not use (digits, folders): 2% of training.
DEFAULT_RANDOM_SHARE = 0.02

SETTINGS = ("full_class", "sub_class", "random")
DATASETS = ("digits", "digits_parity", "cifar10", "cifar20", "cifar100", "folder")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class UnsafeFileError(ValueError):
    """A data file asked to run or import something a dataset file never needs; nothing was executed."""


# --------------------------------------------------------------------------------------------
# The dataset container
# --------------------------------------------------------------------------------------------

@dataclass(repr=False, eq=False)
class ImageData:
    """An image classification dataset split into train and test.

    - ``X_train`` [n_train, C, H, W], ``X_test`` [n_test, C, H, W]: float32 in [0, 1], not normalised.
    - ``y_train`` [n_train], ``y_test`` [n_test]: int64 labels 0..n_classes-1, the labels the model
      predicts; ``class_names[k]`` names label k.
    - ``fine_train`` / ``fine_test`` (int64, same lengths) and ``fine_names``: the finer labels when
      the model predicts coarse ones (CIFAR-20: the 100 CIFAR-100 classes; digits parity: the
      digit); None otherwise.
    - ``mean``, ``std``: per-channel statistics of the training images (population std, in the
      [0, 1] scale); ``normalize`` applies them.
    - ``augment_kwargs``: the keyword arguments of ``augment`` for training on this dataset
      (see ``train_transform``).
    - ``source``: where the data was read from (a path, or "sklearn").
    """
    name: str
    X_train: torch.Tensor
    y_train: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    fine_train: torch.Tensor | None = None
    fine_test: torch.Tensor | None = None
    fine_names: tuple[str, ...] | None = None
    augment_kwargs: dict = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        self.class_names = tuple(str(c) for c in self.class_names)
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        for split in ("train", "test"):
            X, y = getattr(self, f"X_{split}"), getattr(self, f"y_{split}")
            if not isinstance(X, torch.Tensor) or X.ndim != 4 or X.dtype != torch.float32:
                raise ValueError(f"ImageData {self.name!r}: X_{split} must be a float32 tensor [n, C, H, W], got "
                                 f"{type(X).__name__} {getattr(X, 'dtype', '')} {tuple(getattr(X, 'shape', ()))}")
            if not isinstance(y, torch.Tensor) or y.dtype != torch.int64 or tuple(y.shape) != (len(X),):
                raise ValueError(f"ImageData {self.name!r}: y_{split} must be an int64 tensor [{len(X)}], got "
                                 f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}")
            if len(y) and (int(y.min()) < 0 or int(y.max()) >= len(self.class_names)):
                raise ValueError(f"ImageData {self.name!r}: y_{split} holds labels outside 0..{len(self.class_names) - 1} "
                                 f"(there are {len(self.class_names)} class names)")
        if tuple(self.X_train.shape[1:]) != tuple(self.X_test.shape[1:]):
            raise ValueError(f"ImageData {self.name!r}: train images are {tuple(self.X_train.shape[1:])} but test images "
                             f"are {tuple(self.X_test.shape[1:])}")
        C = self.X_train.shape[1]
        if len(self.mean) != C or len(self.std) != C or min(self.std, default=1.0) <= 0:
            raise ValueError(f"ImageData {self.name!r}: mean and std need {C} values (one per channel, std > 0), got "
                             f"{self.mean} and {self.std}")
        fine = (self.fine_train is not None, self.fine_test is not None, self.fine_names is not None)
        if any(fine) and not all(fine):
            raise ValueError(f"ImageData {self.name!r}: give fine_train, fine_test and fine_names together, or none")
        if all(fine):
            self.fine_names = tuple(str(c) for c in self.fine_names)
            for split in ("train", "test"):
                f, y = getattr(self, f"fine_{split}"), getattr(self, f"y_{split}")
                if not isinstance(f, torch.Tensor) or f.dtype != torch.int64 or f.shape != y.shape:
                    raise ValueError(f"ImageData {self.name!r}: fine_{split} must be an int64 tensor [{len(y)}]")
                if len(f) and (int(f.min()) < 0 or int(f.max()) >= len(self.fine_names)):
                    raise ValueError(f"ImageData {self.name!r}: fine_{split} holds labels outside "
                                     f"0..{len(self.fine_names) - 1}")

    @property
    def n_classes(self) -> int:
        """Number of classes the model predicts (``len(class_names)``)."""
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, int, int]:
        """One image's shape (C, H, W)."""
        return tuple(int(s) for s in self.X_train.shape[1:])

    @property
    def has_fine(self) -> bool:
        """True when fine labels are present (the model predicts coarse labels)."""
        return self.fine_train is not None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` per channel, for x [..., C, H, W] in [0, 1]; returns a new tensor on x's device."""
        if not isinstance(x, torch.Tensor) or x.ndim < 3 or x.shape[-3] != len(self.mean):
            raise ValueError(f"normalize expects a tensor [..., {len(self.mean)}, H, W], got "
                             f"{tuple(getattr(x, 'shape', ())) or type(x).__name__}")
        dtype = x.dtype if x.dtype.is_floating_point else torch.float32
        mean = torch.tensor(self.mean, dtype=dtype, device=x.device).view(-1, 1, 1)
        std = torch.tensor(self.std, dtype=dtype, device=x.device).view(-1, 1, 1)
        return (x.to(dtype) - mean) / std

    def coarse_of_fine(self) -> np.ndarray:
        """int64 [n_fine]: the predicted (coarse) label of each fine class, read from the training labels.

        -1 for a fine class without training images. Raises when the data has no fine labels.
        """
        if not self.has_fine:
            raise ValueError(f"{self.name!r} has no fine labels: its model predicts the fine classes directly")
        out = np.full(len(self.fine_names), -1, dtype=np.int64)
        out[self.fine_train.numpy()] = self.y_train.numpy()
        return out

    def __repr__(self) -> str:
        fine = f", {len(self.fine_names)} fine classes" if self.has_fine else ""
        return (f"ImageData({self.name!r}: {len(self.X_train)} train / {len(self.X_test)} test images of "
                f"{'x'.join(map(str, self.shape))}, {self.n_classes} classes{fine})")


def _channel_stats(images: np.ndarray, scale: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Exact per-channel mean and population std of integer images [n, C, ...] divided by ``scale``.

    Uses value histograms (no float copy of the data), so it is exact and light on 50k CIFAR images.
    """
    n, C = images.shape[:2]
    means, stds = [], []
    for c in range(C):
        counts = np.bincount(np.ascontiguousarray(images[:, c]).ravel(), minlength=1).astype(np.float64)
        values = np.arange(len(counts), dtype=np.float64) / scale
        total = counts.sum()
        if total == 0:
            means.append(0.0)
            stds.append(1.0)
            continue
        m = float((counts * values).sum() / total)
        var = float((counts * (values - m) ** 2).sum() / total)
        means.append(m)
        stds.append(var ** 0.5 if var > 1e-12 else 1.0)
    return tuple(means), tuple(stds)


def _to_float(images: np.ndarray, scale: float) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).to(torch.float32).div_(scale)


def _labels(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.int64))


# --------------------------------------------------------------------------------------------
# Augmentation
# --------------------------------------------------------------------------------------------

def train_transform(name: str) -> dict:
    """The ``augment`` keyword arguments for training on dataset ``name``.

    CIFAR (and folders of 32x32 images): 4-pixel zero-padded random crop + horizontal flip, the
    standard CIFAR recipe. Digits: a 1-pixel crop and no flip (a mirrored digit is another
    symbol). Only for training the original model and the retrained oracle: unlearning and
    evaluation use the plain images.
    """
    key = str(name).lower().replace("-", "_")
    if key.startswith("digits"):
        return {"crop_pad": 1, "flip": False}
    if key in ("cifar10", "cifar20", "cifar100", "folder"):
        return {"crop_pad": 4, "flip": True}
    raise ValueError(f"no training transform for dataset {name!r}; known: {', '.join(DATASETS)}")


def augment(x: torch.Tensor, generator: torch.Generator, *, crop_pad: int = 4, flip: bool = True) -> torch.Tensor:
    """Random crop with zero padding and random horizontal flip of a batch x [B, C, H, W].

    Each image is padded with ``crop_pad`` zeros on every side and a random H x W window is cut
    out (offsets 0..2*crop_pad, uniform); with ``flip`` each image is mirrored left-right with
    probability 1/2. Apply it to the [0, 1] images *before* ``normalize`` (zero padding is black,
    as in torchvision's RandomCrop on PIL images). One vectorised gather, no per-sample loop.
    Deterministic given the generator's state; the random draws are made on the generator's device.
    Returns a new tensor [B, C, H, W] (x itself when crop_pad is 0 and flip is False).
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        raise ValueError(f"augment expects a batch tensor [B, C, H, W], got "
                         f"{tuple(getattr(x, 'shape', ())) or type(x).__name__}")
    if not isinstance(generator, torch.Generator):
        raise ValueError("augment needs a torch.Generator (e.g. torch.Generator().manual_seed(0)) so that it is "
                         f"reproducible, got {type(generator).__name__}")
    if isinstance(crop_pad, bool) or int(crop_pad) != crop_pad or crop_pad < 0:
        raise ValueError(f"crop_pad must be a non-negative integer (pixels of padding), got {crop_pad!r}")
    pad = int(crop_pad)
    if pad == 0 and not flip:
        return x
    B, C, H, W = x.shape
    gdev = generator.device
    oy = torch.randint(0, 2 * pad + 1, (B,), generator=generator, device=gdev).to(x.device)
    ox = torch.randint(0, 2 * pad + 1, (B,), generator=generator, device=gdev).to(x.device)
    cols = torch.arange(W, device=x.device).expand(B, W)
    if flip:
        flipped = torch.rand((B,), generator=generator, device=gdev).to(x.device) < 0.5
        cols = torch.where(flipped[:, None], (W - 1) - cols, cols)
    padded = F.pad(x, (pad, pad, pad, pad)) if pad else x
    rows = oy[:, None] + torch.arange(H, device=x.device)  # [B, H]
    cols = ox[:, None] + cols  # [B, W]
    b = torch.arange(B, device=x.device)[:, None, None, None]
    c = torch.arange(C, device=x.device)[None, :, None, None]
    return padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]


# --------------------------------------------------------------------------------------------
# Digits
# --------------------------------------------------------------------------------------------

def load_digits(labels: str = "digits", *, seed: int = 0, test_size: float = 0.25) -> ImageData:
    """scikit-learn's 8x8 digits (1,797 images, bundled, no download) as 1x8x8 images in [0, 1].

    Pixel values 0..16 are divided by 16. A stratified (by digit) train/test split with
    ``test_size`` 0.25 and ``seed`` (1,347 / 450 images at the defaults; the same split for both
    label modes). ``labels="digits"``: 10 classes "0".."9". ``labels="parity"``: the model
    predicts "even"/"odd" and ``fine_*`` hold the digit: the digits analogue of CIFAR-20's
    sub-class setting (forget one digit from a parity model).
    """
    if labels not in ("digits", "parity"):
        raise ValueError(f"labels must be 'digits' or 'parity', got {labels!r}")
    if not 0 < float(test_size) < 1:
        raise ValueError(f"test_size must be between 0 and 1 (a share of the 1,797 images), got {test_size}")
    from sklearn.datasets import load_digits as _sk_digits
    from sklearn.model_selection import train_test_split

    d = _sk_digits()
    images = np.asarray(d.images, dtype=np.int64)[:, None]  # [n, 1, 8, 8], values 0..16
    digit = np.asarray(d.target, dtype=np.int64)
    tr, te = train_test_split(np.arange(len(digit)), test_size=float(test_size), stratify=digit,
                              random_state=int(seed))
    tr, te = np.sort(tr), np.sort(te)
    mean, std = _channel_stats(images[tr], 16.0)
    digit_names = tuple(str(k) for k in range(10))
    common = dict(X_train=_to_float(images[tr], 16.0), X_test=_to_float(images[te], 16.0), mean=mean, std=std,
                  augment_kwargs=train_transform("digits"), source="sklearn.datasets.load_digits")
    if labels == "digits":
        return ImageData(name="digits", y_train=_labels(digit[tr]), y_test=_labels(digit[te]),
                         class_names=digit_names, **common)
    return ImageData(name="digits_parity", y_train=_labels(digit[tr] % 2), y_test=_labels(digit[te] % 2),
                     class_names=("even", "odd"), fine_train=_labels(digit[tr]), fine_test=_labels(digit[te]),
                     fine_names=digit_names, **common)


# --------------------------------------------------------------------------------------------
# CIFAR: restricted unpickling and the on-disk layouts
# --------------------------------------------------------------------------------------------

def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _latin1_encode(text, encoding="latin1"):
    """Python 3 writes bytes in protocol-2 pickles as _codecs.encode(text, "latin1"); only that is allowed."""
    if not isinstance(text, str) or str(encoding).lower().replace("-", "") != "latin1":
        raise UnsafeFileError(f"refused _codecs.encode with {type(text).__name__} / {encoding!r}: a CIFAR file only "
                              "encodes bytes as latin1 text")
    return text.encode("latin1")


# (module, name) -> object. Exactly what the official files reference: ndarray reconstruction
# (written as numpy.core.multiarray by the numpy of the time, numpy._core.multiarray by numpy 2);
# plus the latin1 bytes encoding of Python 3's protocol-2 pickles (for re-saved files).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct(),
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, numbers, bytes/str and numpy arrays; refuses every other global."""

    def __init__(self, file, source: str):
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str):
        obj = _ALLOWED_GLOBALS.get((module, name))
        if obj is None:
            raise UnsafeFileError(
                f"{self.source}: refused to load {module}.{name} from this pickle; a CIFAR file only holds numpy "
                f"arrays, lists and strings, so this is not a genuine CIFAR 'python version' file (it may have "
                f"been tampered with). Nothing in it was run. Download the original from {CIFAR_URL}")
        return obj

    def persistent_load(self, pid):
        raise UnsafeFileError(f"{self.source}: refused a persistent id in this pickle; not a genuine CIFAR file")


def _unpickle(raw: bytes, source: str) -> dict:
    try:
        obj = _RestrictedUnpickler(io.BytesIO(raw), source).load()
    except UnsafeFileError as err:
        msg = str(err)
        raise UnsafeFileError(msg if msg.startswith(source) else f"{source}: {msg}") from None
    except Exception as err:  # truncated or corrupt pickles raise many kinds of errors
        raise ValueError(f"{source} is not a readable CIFAR pickle ({type(err).__name__}: {err}); the file may be "
                         f"damaged: download the 'python version' again from {CIFAR_URL}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{source} holds a {type(obj).__name__}, expected the dict of a CIFAR batch or meta file")
    return obj


def _get(d: dict, key: str, source: str):
    """d[key] for a key stored as bytes (official files, encoding='bytes') or as str."""
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    have = ", ".join(sorted(k.decode() if isinstance(k, bytes) else str(k) for k in d))
    raise ValueError(f"{source} has no '{key}' entry (it has: {have}); not a CIFAR 'python version' file of the "
                     f"expected kind")


def _names(d: dict, key: str, source: str, expected: int) -> tuple[str, ...]:
    raw = _get(d, key, source)
    names = tuple((n.decode("utf-8") if isinstance(n, bytes) else str(n)).strip() for n in raw)
    if len(names) != expected:
        raise ValueError(f"{source}: '{key}' lists {len(names)} names, expected {expected}")
    return names


def _batch(d: dict, label_keys: Sequence[str], source: str, n_labels: Sequence[int]) -> tuple[np.ndarray, list]:
    data = _get(d, "data", source)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{source}: 'data' must be a uint8 array [n, 3072] (32x32 RGB rows), got "
                         f"{type(data).__name__} {getattr(data, 'dtype', '')} {getattr(data, 'shape', '')}")
    out = []
    for key, k in zip(label_keys, n_labels):
        lab = np.asarray(_get(d, key, source))
        if lab.shape != (len(data),) or not np.issubdtype(lab.dtype, np.integer):
            raise ValueError(f"{source}: '{key}' must hold {len(data)} integer labels, got shape {lab.shape}")
        if len(lab) and (lab.min() < 0 or lab.max() >= k):
            raise ValueError(f"{source}: '{key}' holds labels outside 0..{k - 1}")
        out.append(lab.astype(np.int64))
    return data, out


_CIFAR_LAYOUT = {
    "cifar10": dict(title="CIFAR-10", archive="cifar-10-python.tar.gz", folder="cifar-10-batches-py",
                    train=tuple(f"data_batch_{i}" for i in range(1, 6)), test=("test_batch",), meta="batches.meta",
                    listing="data_batch_1..5, test_batch, batches.meta"),
    "cifar100": dict(title="CIFAR-100", archive="cifar-100-python.tar.gz", folder="cifar-100-python",
                     train=("train",), test=("test",), meta="meta", listing="train, test, meta"),
}


def _missing_message(layout: dict, where: Path) -> str:
    return (f"no {layout['title']} data in {where}: expected {layout['archive']} or {layout['folder']}/ "
            f"({layout['listing']}) — download the 'python version' from {CIFAR_URL}")


def _locate(layout: dict, data_dir) -> tuple[str, Path]:
    """("dir", folder) or ("tar", archive) for data_dir = archive, extracted folder, or a folder holding one."""
    if data_dir is None:
        raise ValueError(f"{layout['title']} needs data_dir: a folder holding {layout['archive']} or "
                         f"{layout['folder']}/ — download the 'python version' from {CIFAR_URL}")
    p = Path(data_dir).expanduser()
    if not p.exists():
        raise ValueError(f"{_missing_message(layout, p)} (the path does not exist)")
    if p.is_file():
        if not tarfile.is_tarfile(p):
            raise ValueError(f"{p} is not a tar archive; expected {layout['archive']} or the folder "
                             f"{layout['folder']}/ ({layout['listing']})")
        return "tar", p
    if (p / layout["meta"]).is_file() or p.name == layout["folder"]:
        return "dir", p
    if (p / layout["folder"]).is_dir():
        return "dir", p / layout["folder"]
    if (p / layout["archive"]).is_file():
        return "tar", p / layout["archive"]
    raise ValueError(_missing_message(layout, p))


def _read_cifar_files(layout: dict, data_dir) -> dict[str, tuple[bytes, str]]:
    """{file name: (raw bytes, description of where it came from)} for the layout's train, test and meta files."""
    wanted = (*layout["train"], *layout["test"], layout["meta"])
    kind, where = _locate(layout, data_dir)
    found: dict[str, tuple[bytes, str]] = {}
    if kind == "dir":
        for name in wanted:
            f = where / name
            if f.is_file():
                found[name] = (f.read_bytes(), str(f))
    else:
        try:
            with tarfile.open(where, mode="r|*") as tf:  # streamed: one pass, nothing extracted to disk
                for member in tf:
                    parts = member.name.replace("\\", "/").strip("/").split("/")
                    if (member.isfile() and parts[-1] in wanted and parts[-1] not in found
                            and (len(parts) == 1 or parts[-2] == layout["folder"])):
                        found[parts[-1]] = (tf.extractfile(member).read(), f"{where}:{member.name}")
        except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
            raise ValueError(f"could not read the archive {where} ({type(err).__name__}: {err}); it may be "
                             f"truncated: download the 'python version' again from {CIFAR_URL}") from None
    missing = [n for n in wanted if n not in found]
    if missing:
        inside = f"{layout['folder']}/ inside " if kind == "tar" else ""
        raise ValueError(f"incomplete {layout['title']} data in {inside}{where}: missing {', '.join(missing)} "
                         f"(expected {layout['listing']}) — download the 'python version' from {CIFAR_URL}")
    return found


def _normalise_kind(kind: str) -> str:
    key = str(kind).lower().replace("-", "").replace("_", "")
    if key not in ("cifar10", "cifar100", "cifar20"):
        raise ValueError(f"unknown CIFAR kind {kind!r}; choose cifar10, cifar100 or cifar20")
    return key


def load_cifar(kind: str, data_dir) -> ImageData:
    """CIFAR-10, CIFAR-100 or CIFAR-20 from the official "python version" files.

    ``data_dir``: the archive (cifar-10-python.tar.gz / cifar-100-python.tar.gz, read in one
    streamed pass without extracting), the extracted folder (cifar-10-batches-py/ with
    data_batch_1..5, test_batch, batches.meta; cifar-100-python/ with train, test, meta), or a
    folder holding either. Images: rows of 3072 uint8 (R, G, B planes of 32x32, row-major) ->
    [n, 3, 32, 32] float32 / 255; 50,000 train and 10,000 test images for the real data.

    ``cifar20`` is CIFAR-100's images under the 20 coarse labels (y = coarse, ``fine_*`` = the
    100 fine labels). Class names come from the meta file. The pickles are read with a restricted
    unpickler: anything but numpy arrays raises :class:`UnsafeFileError` without running it.
    mean/std are computed from the training images (CIFAR-10: about (0.491, 0.482, 0.447) /
    (0.247, 0.243, 0.262)).
    """
    kind = _normalise_kind(kind)
    layout = _CIFAR_LAYOUT["cifar10" if kind == "cifar10" else "cifar100"]
    files = _read_cifar_files(layout, data_dir)
    meta = _unpickle(*files[layout["meta"]])
    if kind == "cifar10":
        names = _names(meta, "label_names", files[layout["meta"]][1], 10)
        keys, sizes = ("labels",), (10,)
    else:
        fine_names = _names(meta, "fine_label_names", files[layout["meta"]][1], 100)
        coarse_names = _names(meta, "coarse_label_names", files[layout["meta"]][1], 20)
        keys, sizes = ("fine_labels", "coarse_labels"), (100, 20)

    def read(split: str):
        datas, labs = [], [[] for _ in keys]
        for fname in layout[split]:
            raw, source = files.pop(fname)  # drop the raw bytes once unpickled
            data, lab = _batch(_unpickle(raw, source), keys, source, sizes)
            datas.append(data)
            for acc, a in zip(labs, lab):
                acc.append(a)
        return np.concatenate(datas).reshape(-1, 3, 32, 32), [np.concatenate(a) for a in labs]

    train, train_labels = read("train")
    test, test_labels = read("test")
    mean, std = _channel_stats(train, 255.0)
    common = dict(name=kind, X_train=_to_float(train, 255.0), X_test=_to_float(test, 255.0), mean=mean, std=std,
                  augment_kwargs=train_transform(kind), source=str(Path(data_dir).expanduser()))
    if kind == "cifar10":
        return ImageData(y_train=_labels(train_labels[0]), y_test=_labels(test_labels[0]), class_names=names, **common)
    if kind == "cifar100":
        return ImageData(y_train=_labels(train_labels[0]), y_test=_labels(test_labels[0]), class_names=fine_names,
                         **common)
    fine = np.concatenate([train_labels[0], test_labels[0]])
    coarse = np.concatenate([train_labels[1], test_labels[1]])
    pairs = np.unique(np.stack([fine, coarse], 1), axis=0)
    if len(pairs) != len(np.unique(pairs[:, 0])):
        bad = [int(f) for f in np.unique(pairs[:, 0]) if (pairs[:, 0] == f).sum() > 1]
        raise ValueError(f"{data_dir}: fine classes {[fine_names[f] for f in bad[:5]]} appear under more than one "
                         "coarse label; the files are inconsistent")
    return ImageData(y_train=_labels(train_labels[1]), y_test=_labels(test_labels[1]), class_names=coarse_names,
                     fine_train=_labels(train_labels[0]), fine_test=_labels(test_labels[0]), fine_names=fine_names,
                     **common)


# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------

def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_EXTENSIONS)


def _class_folders(root: Path) -> list[Path]:
    return sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name)


def _read_image(f: Path, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(f) as im:
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
    except Exception as err:  # Pillow raises OSError, ValueError, SyntaxError, DecompressionBombError...
        raise ValueError(f"could not read image {f} ({type(err).__name__}: {err}); delete or replace the file") from None


def _collect(root: Path, names: Sequence[str] | None = None) -> tuple[list[str], list[Path], np.ndarray]:
    """Class names (sorted subfolders, or ``names`` to look up), files, and their labels."""
    folders = _class_folders(root)
    if names is None:
        if not folders:
            loose = _image_files(root)
            hint = (f" (it holds {len(loose)} images directly; put them in one subfolder per class)" if loose else "")
            raise ValueError(f"no class subfolders in {root}: expected one subfolder per class holding images "
                             f"({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}){hint}")
        names = [d.name for d in folders]
    else:
        unknown = sorted({d.name for d in folders} - set(names))
        if unknown:
            raise ValueError(f"{root} has class folders {unknown} that the training folder lacks; the classes "
                             f"must be the same in train/ and test/ (train has: {', '.join(names)})")
    files, labels = [], []
    for d in folders:
        imgs = _image_files(d)
        if not imgs:
            raise ValueError(f"class folder {d} holds no images ({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}); "
                             "add images or remove the folder")
        files += imgs
        labels += [names.index(d.name)] * len(imgs)
    return list(names), files, np.asarray(labels, dtype=np.int64)


def load_folder(path, size: int = 32, test_fraction: float = 0.2, seed: int = 0) -> ImageData:
    """A folder of images with one subfolder per class (e.g. the Pins faces dataset).

    Class names are the sorted subfolder names; images (png, jpg, jpeg, bmp, gif, webp; other
    files are ignored) are converted to RGB and resized to ``size`` x ``size`` (bilinear, aspect
    ratio not kept) -> [n, 3, size, size] in [0, 1]. Split: stratified by class with ``seed``:
    each class puts round(test_fraction * count) images in test, at least one when it has two or
    more and never all of them. If ``path`` holds ``train/`` and ``test/`` folders (each with one
    subfolder per class), that split is used as given and ``test_fraction`` is ignored.
    Errors name the folder or file: no class folders, a class without images, an unreadable image.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist or is not a folder")
    if isinstance(size, bool) or int(size) != size or size < 1:
        raise ValueError(f"size must be a positive integer (pixels), got {size!r}")
    size = int(size)
    if (root / "train").is_dir() and (root / "test").is_dir():
        names, tr_files, y_tr = _collect(root / "train")
        _, te_files, y_te = _collect(root / "test", names)
    else:
        if not 0 < float(test_fraction) < 1:
            raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
        names, files, y = _collect(root)
        rng = np.random.default_rng(int(seed))
        test_idx = []
        for k in range(len(names)):
            members = np.flatnonzero(y == k)
            n_test = int(round(float(test_fraction) * len(members)))
            n_test = min(len(members) - 1, max(1 if len(members) >= 2 else 0, n_test))
            test_idx.append(rng.permutation(members)[:n_test])
        is_test = np.zeros(len(y), dtype=bool)
        is_test[np.concatenate(test_idx)] = True
        tr_files, te_files = [f for f, t in zip(files, is_test) if not t], [f for f, t in zip(files, is_test) if t]
        y_tr, y_te = y[~is_test], y[is_test]
    if len(names) < 2:
        raise ValueError(f"{root} holds a single class ({names[0]}); a classifier needs at least two class folders")
    empty = np.zeros((0, 3, size, size), dtype=np.uint8)
    train = np.stack([_read_image(f, size) for f in tr_files]) if tr_files else empty
    test = np.stack([_read_image(f, size) for f in te_files]) if te_files else empty
    mean, std = _channel_stats(train, 255.0)
    aug = {"crop_pad": max(1, size // 8), "flip": True}
    return ImageData(name="folder", X_train=_to_float(train, 255.0), y_train=_labels(y_tr), X_test=_to_float(test, 255.0),
                     y_test=_labels(y_te), class_names=tuple(names), mean=mean, std=std, augment_kwargs=aug,
                     source=str(root))


def load_dataset(name: str, data_dir=None, **kw) -> ImageData:
    """Dispatch by name: digits, digits_parity, cifar10, cifar20, cifar100, folder.

    ``data_dir`` is needed for CIFAR (see ``load_cifar``) and folders (the image folder); digits
    are bundled with scikit-learn and ignore it. ``kw`` goes to the loader (e.g. ``seed``,
    ``labels`` for digits; ``size``, ``test_fraction``, ``seed`` for folders).
    """
    key = str(name).lower().replace("-", "_")
    if key in ("digits", "digits_parity"):
        if key == "digits_parity":
            kw.setdefault("labels", "parity")
        return load_digits(**kw)
    if key.replace("_", "") in ("cifar10", "cifar20", "cifar100"):
        if kw:
            raise ValueError(f"{name} takes no options (got {', '.join(sorted(kw))}): CIFAR comes with a fixed "
                             "train/test split")
        return load_cifar(key.replace("_", ""), data_dir)
    if key == "folder":
        if data_dir is None:
            raise ValueError("dataset 'folder' needs data_dir: a folder with one subfolder of images per class")
        return load_folder(data_dir, **kw)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


# --------------------------------------------------------------------------------------------
# Forgetting settings
# --------------------------------------------------------------------------------------------

@dataclass(repr=False, eq=False)
class Split:
    """Which images to forget and which to keep, as sorted int64 row indices.

    - ``forget_train`` / ``retain_train``: into ``X_train``; disjoint, together all of it.
    - ``forget_test`` / ``retain_test``: into ``X_test``; disjoint, together all of it. Forget
      accuracy on full_class / sub_class is measured on ``forget_test``; in the random setting
      ``forget_test`` is empty and the forget accuracy is taken on ``forget_train`` itself
      (PAPER.md section 6), with ``retain_test`` = the whole test set.
    Labels for scoring are always the predicted labels (``y_*``): in sub_class the forgotten fine
    class's images are scored against their coarse label.
    """
    forget_train: np.ndarray
    retain_train: np.ndarray
    forget_test: np.ndarray
    retain_test: np.ndarray
    description: str
    setting: str = ""
    target: str | None = None

    def __repr__(self) -> str:
        return (f"Split({self.setting}: forget {len(self.forget_train)} train / {len(self.forget_test)} test, "
                f"retain {len(self.retain_train)} train / {len(self.retain_test)} test)")


def _resolve_target(target, names: Sequence[str], what: str) -> int:
    """Index of ``target`` in ``names``: a name (exact, then a paper alias, then case-insensitive), an
    index, or a string of digits that is no class's name (read as an index, for command lines)."""
    names = list(names)
    shown = ", ".join(names)
    if target is None:
        raise ValueError(f"this setting needs a target {what}: one of {shown} (or its index)")
    if isinstance(target, (bool, np.bool_)):
        raise ValueError(f"target must be a {what} name or index, got {target!r}")
    if isinstance(target, (int, np.integer)):
        if not 0 <= int(target) < len(names):
            raise ValueError(f"{what} index {int(target)} does not exist; valid indices are 0..{len(names) - 1} "
                             f"({shown})")
        return int(target)
    if isinstance(target, str):
        for cand in (target, PAPER_ALIASES.get(target)):
            if cand is not None and cand in names:
                return names.index(cand)
        lowered = [n.lower() for n in names]
        if target.lower() in lowered:
            return lowered.index(target.lower())
        if target.strip().isdigit():  # "69" from a command line: an index when no class has that name
            return _resolve_target(int(target), names, what)
        raise ValueError(f"{what} {target!r} does not exist; valid names are: {shown}")
    raise ValueError(f"target must be a {what} name or index, got {type(target).__name__}")


def _indices(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask).astype(np.int64)


def make_split(data: ImageData, setting: str, target=None, *, seed: int = 0, n_random: int | None = None) -> Split:
    """The paper's forgetting settings on ``data`` (PAPER.md sections 5-6).

    - ``full_class``: forget every training image of class ``target`` (a name such as "rocket",
      a paper alias such as "vehicle2", or an index into ``class_names``, also as a string of
      digits when no class is named so); ``forget_test`` = the
      class's test images; retain = the other classes.
    - ``sub_class``: the model predicts coarse labels and ``target`` is a fine class (a name or
      an index into ``fine_names``; the data needs fine labels: cifar20, digits_parity). Forget
      its training images; ``forget_test`` = its test images, scored against their coarse label;
      retain = everything else (its sibling fine classes keep the coarse class alive).
    - ``random``: forget ``n_random`` training images drawn uniformly with ``seed`` (default: 83 on
      CIFAR, as the paper; 2% of the training set, at least 1, elsewhere). ``forget_test`` is
      empty (forget accuracy is measured on the forgotten training images), ``retain_test`` =
      the whole test set. ``target`` must be None.
    """
    if not isinstance(data, ImageData):
        raise ValueError(f"make_split needs an ImageData (from load_dataset), got {type(data).__name__}")
    y_tr, y_te = data.y_train.numpy(), data.y_test.numpy()
    n_tr, n_te = len(y_tr), len(y_te)
    if setting == "full_class":
        k = _resolve_target(target, data.class_names, "class")
        forget_tr, forget_te = y_tr == k, y_te == k
        name = data.class_names[k]
        desc = (f"full_class on {data.name}: forget class {name!r} ({k}): {int(forget_tr.sum())} training images; "
                f"forget-test = its {int(forget_te.sum())} test images; retain = the other classes")
    elif setting == "sub_class":
        if not data.has_fine:
            raise ValueError(f"sub_class needs a dataset whose model predicts coarse labels and keeps the fine ones "
                             f"(cifar20, or load_digits(labels='parity')); {data.name!r} has no fine labels: use "
                             "full_class to forget one of its classes")
        k = _resolve_target(target, data.fine_names, "fine class")
        forget_tr, forget_te = data.fine_train.numpy() == k, data.fine_test.numpy() == k
        name = data.fine_names[k]
        parents = np.unique(np.concatenate([y_tr[forget_tr], y_te[forget_te]]))
        parent = ", ".join(repr(data.class_names[p]) for p in parents) or "?"
        desc = (f"sub_class on {data.name}: forget fine class {name!r} ({k}) of coarse class {parent}: "
                f"{int(forget_tr.sum())} training images; forget-test = its {int(forget_te.sum())} test images, "
                "scored against the coarse label; retain = everything else")
    elif setting == "random":
        if target is not None:
            raise ValueError(f"the random setting takes no target (got {target!r}); set n_random and seed instead")
        if n_random is None:
            n_random = (PAPER_N_RANDOM if data.name.startswith("cifar")
                        else max(1, int(round(DEFAULT_RANDOM_SHARE * n_tr))))
        if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or not 1 <= n_random < n_tr:
            raise ValueError(f"n_random must be an integer from 1 to {n_tr - 1} (the training set has {n_tr} images "
                             f"and at least one must be retained), got {n_random!r}")
        chosen = np.random.default_rng(int(seed)).choice(n_tr, int(n_random), replace=False)
        forget_tr = np.zeros(n_tr, dtype=bool)
        forget_tr[chosen] = True
        forget_te = np.zeros(n_te, dtype=bool)
        name = None
        desc = (f"random on {data.name}: forget {int(n_random)} random training images (seed {int(seed)}); forget "
                "accuracy on those images themselves; forget-test empty, retain-test = the whole test set")
    else:
        raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    if not forget_tr.any():
        raise ValueError(f"{setting} target {name!r} has no training images in {data.name!r}: nothing to forget")
    if forget_tr.all():
        raise ValueError(f"{setting} target {name!r} covers every training image of {data.name!r}: forgetting it "
                         "would leave nothing to retain")
    return Split(forget_train=_indices(forget_tr), retain_train=_indices(~forget_tr), forget_test=_indices(forget_te),
                 retain_test=_indices(~forget_te), description=desc, setting=setting, target=name)


# --------------------------------------------------------------------------------------------
# Writers for tests and smoke runs
# --------------------------------------------------------------------------------------------

class _Py2Pickler(pickle._Pickler):
    """Writes pickles as the official (Python 2 era) CIFAR files are: protocol 2, every string a
    Python 2 ``str`` (BINSTRING opcodes, read back as bytes with encoding="bytes"), and arrays
    rebuilt through ``numpy.core.multiarray._reconstruct``."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj) -> None:
        raw = obj.encode("latin-1") if isinstance(obj, str) else bytes(obj)
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + len(raw).to_bytes(4, "little") + raw)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str

    def save_global(self, obj, name=None) -> None:
        if obj is _ALLOWED_GLOBALS[("numpy._core.multiarray", "_reconstruct")]:
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
        else:
            super().save_global(obj, name)


def _dumps_cifar(obj: dict) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _fake_images(labels: np.ndarray, n_classes: int, rng: np.random.Generator, size: int) -> np.ndarray:
    """uint8 [n, 3, size, size]: a colour per class plus noise, so a model can learn something."""
    palette = np.random.default_rng(12345).integers(30, 226, size=(n_classes, 3))
    noise = rng.integers(-30, 31, size=(len(labels), 3, size, size))
    return np.clip(palette[labels][:, :, None, None] + noise, 0, 255).astype(np.uint8)


def _spread_labels(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """n labels covering every class as evenly as possible (each class once n >= k), shuffled."""
    return rng.permutation(np.arange(n) % k).astype(np.int64)


def write_fake_cifar(path, kind: str = "cifar10", n_train: int = 500, n_test: int = 100, seed: int = 0,
                     as_archive: bool = True) -> Path:
    """Write a tiny CIFAR dataset in the official "python version" format; returns what was written.

    ``kind`` cifar10 writes ``path/cifar-10-python.tar.gz`` (or the folder
    ``path/cifar-10-batches-py/`` with data_batch_1..5, test_batch, batches.meta when
    ``as_archive`` is False); cifar100 and cifar20 write ``cifar-100-python.tar.gz`` /
    ``cifar-100-python/`` (train, test, meta). Each file is a pickled dict with bytes keys as in
    the real files (b'data' uint8 [n, 3072], b'labels' or b'fine_labels' + b'coarse_labels' with
    coarse = ``CIFAR100_COARSE_OF_FINE[fine]``, b'filenames', b'batch_label'; meta with the real
    class names). Labels cycle through all classes (each appears once n >= n_classes); images are
    a colour per class plus noise. Deterministic in ``seed``.
    """
    kind = _normalise_kind(kind)
    if int(n_train) < 1 or int(n_test) < 1:
        raise ValueError(f"n_train and n_test must be at least 1, got {n_train} and {n_test}")
    layout = _CIFAR_LAYOUT["cifar10" if kind == "cifar10" else "cifar100"]
    rng = np.random.default_rng(int(seed))
    files: dict[str, bytes] = {}
    if kind == "cifar10":
        files["batches.meta"] = _dumps_cifar({b"num_cases_per_batch": 10000,
                                              b"label_names": [n.encode() for n in CIFAR10_CLASSES],
                                              b"num_vis": 3072})
        parts = [("train", layout["train"], int(n_train)), ("test", layout["test"], int(n_test))]
        for split, names, n in parts:
            labels = _spread_labels(n, 10, rng)
            data = _fake_images(labels, 10, rng, 32).reshape(n, 3072)
            for i, (fname, idx) in enumerate(zip(names, np.array_split(np.arange(n), len(names)))):
                title = f"training batch {i + 1} of 5" if split == "train" else "testing batch 1 of 1"
                files[fname] = _dumps_cifar({
                    b"batch_label": title.encode(), b"labels": [int(v) for v in labels[idx]], b"data": data[idx],
                    b"filenames": [f"{CIFAR10_CLASSES[v]}_s_{j:06d}.png".encode() for j, v in zip(idx, labels[idx])]})
    else:
        coarse_of = np.asarray(CIFAR100_COARSE_OF_FINE, dtype=np.int64)
        files["meta"] = _dumps_cifar({b"fine_label_names": [n.encode() for n in CIFAR100_FINE_CLASSES],
                                      b"coarse_label_names": [n.encode() for n in CIFAR100_COARSE_CLASSES]})
        for split, n in (("train", int(n_train)), ("test", int(n_test))):
            fine = _spread_labels(n, 100, rng)
            files[split] = _dumps_cifar({
                b"filenames": [f"{CIFAR100_FINE_CLASSES[v]}_s_{j:06d}.png".encode() for j, v in enumerate(fine)],
                b"batch_label": f"{'training' if split == 'train' else 'testing'} batch 1 of 1".encode(),
                b"fine_labels": [int(v) for v in fine], b"coarse_labels": [int(v) for v in coarse_of[fine]],
                b"data": _fake_images(fine, 100, rng, 32).reshape(n, 3072)})
    root = Path(path).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    if not as_archive:
        folder = root / layout["folder"]
        folder.mkdir(exist_ok=True)
        for fname, raw in files.items():
            (folder / fname).write_bytes(raw)
        return folder
    archive = root / layout["archive"]
    with tarfile.open(archive, "w:gz") as tf:
        d = tarfile.TarInfo(layout["folder"])
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
        tf.addfile(d)
        for fname, raw in files.items():
            info = tarfile.TarInfo(f"{layout['folder']}/{fname}")
            info.size, info.mode, info.mtime = len(raw), 0o644, 0
            tf.addfile(info, io.BytesIO(raw))
    return archive


def write_fake_folder(path, classes=3, per_class: int = 10, size: int = 16, seed: int = 0) -> Path:
    """Write ``path/<class>/img_XXX.png`` images (RGB, size x size) for ``load_folder``; returns ``path``.

    ``classes``: a count (names class_0, class_1, ...) or a sequence of names. Images are a colour
    per class plus noise; deterministic in ``seed``.
    """
    from PIL import Image

    names = [f"class_{i}" for i in range(int(classes))] if isinstance(classes, (int, np.integer)) else list(classes)
    if not names or int(per_class) < 1 or int(size) < 1:
        raise ValueError(f"need at least one class, per_class >= 1 and size >= 1; got {len(names)} classes, "
                         f"per_class {per_class}, size {size}")
    bad = [n for n in names if not n or os.sep in n or n.startswith(".")]
    if bad:
        raise ValueError(f"class names must be plain folder names, got {bad}")
    root = Path(path).expanduser()
    rng = np.random.default_rng(int(seed))
    for k, name in enumerate(names):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        imgs = _fake_images(np.full(int(per_class), k), len(names), rng, int(size))
        for i, img in enumerate(imgs):
            Image.fromarray(img.transpose(1, 2, 0)).save(folder / f"img_{i:03d}.png")
    return root
