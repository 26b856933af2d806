"""Writers of tiny datasets in the real on-disk formats, for tests and smoke runs.

    write_fake_cifar(tmp, "cifar100", n_train=400, n_test=200)   # tmp/cifar-100-python.tar.gz
    write_fake_folder(tmp / "faces", classes=["ann", "bob"])      # tmp/faces/<class>/img_000.png

The CIFAR files are pickled exactly as the official (Python 2 era) "python version" files are, so
that ``unlearn_core.images.cifar`` reads them through the same restricted unpickler as the real
data. Images are a colour per class plus noise (a model can learn something); everything is
deterministic in ``seed``. Not used by the library itself. Pillow is imported inside
``write_fake_folder`` only (it is not a dependency of the core).
"""
from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

from unlearn_core.images.cifar import (CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_COARSE_OF_FINE,
                                       CIFAR100_FINE_CLASSES, cifar_kind, layout_for)

try:
    from numpy._core.multiarray import _reconstruct as _np_reconstruct  # numpy >= 2
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct


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
        if obj is _np_reconstruct:
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
    kind = cifar_kind(kind)
    if int(n_train) < 1 or int(n_test) < 1:
        raise ValueError(f"n_train and n_test must be at least 1, got {n_train} and {n_test}")
    layout = layout_for(kind)
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
    from PIL import Image  # Pillow: only for this writer (see the module docstring)

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
