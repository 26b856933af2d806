"""Image data for the full-scale benchmarks: the dataset container, the loaders, augmentation.

Everything a loader returns is an :class:`ImageData`: float32 images ``[n, C, H, W]`` with values
in [0, 1] (not normalised; call ``data.normalize(x)`` or put the statistics in the model), int64
labels in the label space the model predicts, and, when the model predicts coarse labels, the
fine labels beside them (CIFAR-20, digits with ``labels="parity"``).

Datasets (see PAPER.md section 5):

- ``load_digits()``: scikit-learn's bundled 8x8 digits (1x8x8), no download; ``labels="parity"``
  makes the model predict even/odd with the digit as the fine label: the digits analogue of
  CIFAR-20's sub-class setting.
- ``load_cifar("cifar10" | "cifar100" | "cifar20", data_dir)``: the official "python version"
  files, read by ``unlearn_core.images.cifar`` (from the .tar.gz without extracting or from the
  extracted folder, with a restricted unpickler that refuses anything but numpy arrays with
  :class:`~unlearn_core.images.cifar.UnsafeFileError`).
- ``load_folder(path)``: one subfolder per class (e.g. Pins faces), resized to ``size x size``;
  bounded before anything is decoded: at most ``MAX_FOLDER_IMAGES`` images of at most
  ``MAX_IMAGE_FILE_BYTES`` each, ``size`` at most ``MAX_IMAGE_SIZE``.
- ``check_data_dir(dataset, data_dir)``: a cheap check (no image decoded) that a path can hold the
  data, failing with the loader's own message; ``folder_classes(path)``: an image folder's classes.

Augmentation (``augment``, tensor ops only): random crop with zero padding plus horizontal flip,
for *training* the original model and the retrained oracle only. Unlearning and evaluation see
the plain images (no augmentation), as in the paper's code.

The paper's forgetting settings on an ``ImageData`` are in ``unlearn_core.images.splits``; writers
of tiny datasets in the real on-disk formats (for tests and smoke runs) in ``unlearn_core.testing``.
scikit-learn and Pillow are imported inside the loaders that use them (``load_digits``, the image
reader): scikit-learn takes about a second to import and Pillow is not a dependency of the core, so
CIFAR users need neither. Nothing here prints or downloads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from unlearn_core.images.cifar import CIFAR_KINDS, locate, read_cifar

DATASETS = ("digits", "digits_parity", *CIFAR_KINDS, "folder")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: Bounds of an image folder, checked before any image is decoded (the arrays then stay under ~4 GB at size 64).
MAX_FOLDER_IMAGES = 200_000
MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024
MAX_IMAGE_SIZE = 512


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
    if key in (*CIFAR_KINDS, "folder"):
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
    # Imported here, not at the top: scikit-learn takes about a second to import (see the module docstring).
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
# CIFAR
# --------------------------------------------------------------------------------------------

def load_cifar(kind: str, data_dir) -> ImageData:
    """CIFAR-10, CIFAR-100 or CIFAR-20 from the official "python version" files.

    ``data_dir``: the archive (cifar-10-python.tar.gz / cifar-100-python.tar.gz, read in one
    streamed pass without extracting), the extracted folder (cifar-10-batches-py/ with
    data_batch_1..5, test_batch, batches.meta; cifar-100-python/ with train, test, meta), or a
    folder holding either. Images: rows of 3072 uint8 (R, G, B planes of 32x32, row-major) ->
    [n, 3, 32, 32] float32 / 255; 50,000 train and 10,000 test images for the real data.

    ``cifar20`` is CIFAR-100's images under the 20 coarse labels (y = coarse, ``fine_*`` = the
    100 fine labels). Class names come from the meta file. The pickles are read with a restricted
    unpickler (``unlearn_core.images.cifar.read_cifar``): anything but numpy arrays raises
    ``UnsafeFileError`` without running it. mean/std are computed from the training images
    (CIFAR-10: about (0.491, 0.482, 0.447) / (0.247, 0.243, 0.262)).
    """
    raw = read_cifar(kind, data_dir)
    mean, std = _channel_stats(raw.train, 255.0)
    fine = {}
    if raw.fine_names is not None:
        fine = dict(fine_train=_labels(raw.train_fine), fine_test=_labels(raw.test_fine), fine_names=raw.fine_names)
    return ImageData(name=raw.kind, X_train=_to_float(raw.train, 255.0), X_test=_to_float(raw.test, 255.0), mean=mean,
                     std=std, augment_kwargs=train_transform(raw.kind), source=str(Path(data_dir).expanduser()),
                     y_train=_labels(raw.train_labels), y_test=_labels(raw.test_labels), class_names=raw.class_names,
                     **fine)

# --------------------------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------------------------

def _image_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir()
                  if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_EXTENSIONS)


def _class_folders(root: Path) -> list[Path]:
    return sorted((d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name)


def _read_image(f: Path, size: int) -> np.ndarray:
    from PIL import Image  # Pillow is only needed for image folders (see the module docstring)

    try:
        if f.stat().st_size > MAX_IMAGE_FILE_BYTES:
            raise ValueError(f"image {f} is {f.stat().st_size:,} bytes, more than the {MAX_IMAGE_FILE_BYTES:,} "
                             "allowed; shrink or remove it")
    except OSError as err:
        raise ValueError(f"could not read image {f} ({err.strerror or err})") from None
    try:
        with Image.open(f) as im:
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8).transpose(2, 0, 1)
    except Exception as err:  # Pillow raises OSError, ValueError, SyntaxError, DecompressionBombError...
        raise ValueError(f"could not read image {f} ({type(err).__name__}: {err}); delete or replace the file") from None


def _no_class_folders(root: Path) -> str:
    loose = _image_files(root)
    hint = (f" (it holds {len(loose)} images directly; put them in one subfolder per class)" if loose else "")
    return (f"no class subfolders in {root}: expected one subfolder per class holding images "
            f"({', '.join(e[1:] for e in IMAGE_EXTENSIONS)}){hint}")


def _collect(root: Path, names: Sequence[str] | None = None) -> tuple[list[str], list[Path], np.ndarray]:
    """Class names (sorted subfolders, or ``names`` to look up), files, and their labels."""
    folders = _class_folders(root)
    if names is None:
        if not folders:
            raise ValueError(_no_class_folders(root))
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
    if isinstance(size, bool) or int(size) != size or not 1 <= size <= MAX_IMAGE_SIZE:
        raise ValueError(f"size must be an integer from 1 to {MAX_IMAGE_SIZE} (pixels), got {size!r}")
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
    if len(tr_files) + len(te_files) > MAX_FOLDER_IMAGES:
        raise ValueError(f"{root} holds {len(tr_files) + len(te_files):,} images, more than the {MAX_FOLDER_IMAGES:,} "
                         "the bench reads; use a subset")
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
    if key.replace("_", "") in CIFAR_KINDS:
        if kw:
            raise ValueError(f"{name} takes no options (got {', '.join(sorted(kw))}): CIFAR comes with a fixed "
                             "train/test split")
        return load_cifar(key.replace("_", ""), data_dir)
    if key == "folder":
        if data_dir is None:
            raise ValueError("dataset 'folder' needs data_dir: a folder with one subfolder of images per class")
        return load_folder(data_dir, **kw)
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def folder_classes(path) -> list[str]:
    """The class names ``load_folder(path)`` would use (sorted subfolders of ``path``, or of ``path/train``
    when it holds train/ and test/), without reading an image; ValueError with ``load_folder``'s
    message when there are none."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist or is not a folder")
    if (root / "train").is_dir() and (root / "test").is_dir():
        root = root / "train"
    folders = _class_folders(root)
    if not folders:
        raise ValueError(_no_class_folders(root))
    return [d.name for d in folders]


def check_data_dir(dataset: str, data_dir) -> str:
    """A cheap check (no image is decoded) that ``data_dir`` can hold ``dataset``; returns what was found.

    CIFAR: the archive, the extracted folder or a folder holding either (``cifar.locate``); an image
    folder: class subfolders (``folder_classes``); digits need no path ("" is returned). Raises
    ValueError with the loader's own message otherwise. Loading can still fail later (a damaged
    archive, an unreadable image), with the loader's message.
    """
    key = str(dataset).lower().replace("-", "_")
    if key in ("digits", "digits_parity"):
        return ""
    if key.replace("_", "") in CIFAR_KINDS:
        form, where = locate(key.replace("_", ""), data_dir)
        return f"{'archive' if form == 'tar' else 'folder'} {where}"
    if key == "folder":
        if data_dir is None:
            raise ValueError("dataset 'folder' needs data_dir: a folder with one subfolder of images per class")
        names = folder_classes(data_dir)
        return f"{len(names)} class folders in {Path(data_dir).expanduser()}"
    raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
