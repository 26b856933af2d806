"""Reading the official CIFAR-10 / CIFAR-100 "python version" files, safely, as numpy arrays.

The files are Python pickles (a pickle can run any code when loaded), so they are read with a
restricted unpickler that only rebuilds dicts, lists, numbers, strings and numpy arrays, and refuses
anything else with :class:`UnsafeFileError` before it runs. The archive (.tar.gz) is read in one
streamed pass without extracting; the extracted folder works too, and so does a folder holding either.
Sizes are bounded before anything is read: an archive member or file larger than ``MAX_MEMBER_BYTES``
(checked from the tar header or the file's size, so a small archive declaring a huge member fails at
once), more than ``MAX_ARCHIVE_MEMBERS`` members, more than ``MAX_ARCHIVE_BYTES`` in all, or an
extended tar header (pax, GNU long name) over ``MAX_TAR_HEADER_BYTES`` is refused with a message;
reads are capped at the declared size.

    arrays = read_cifar("cifar20", "~/data/cifar-100-python.tar.gz")   # CifarArrays: uint8 images, labels
    locate("cifar10", "~/data")                                        # cheap: where the files are, or ValueError

``unlearn_core.images.data.load_cifar`` turns a :class:`CifarArrays` into an ``ImageData``.
Here: the class tables (the CIFAR-100 superclass table included), the on-disk layouts
(``LAYOUTS``), and the reader. No torch, nothing printed or downloaded.
"""
from __future__ import annotations

import io
import pickle
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

try:
    from numpy._core.multiarray import _reconstruct as _np_reconstruct  # numpy >= 2
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct

CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"

#: The CIFAR dataset names; "cifar20" is CIFAR-100's images under its 20 coarse labels.
CIFAR_KINDS = ("cifar10", "cifar20", "cifar100")

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

#: The official files, per archive ("cifar10"; "cifar100" also serves cifar20): the archive and folder
#: names, the train / test batch files, the meta file, and how a message lists them.
LAYOUTS = {
    "cifar10": dict(title="CIFAR-10", archive="cifar-10-python.tar.gz", folder="cifar-10-batches-py",
                    train=tuple(f"data_batch_{i}" for i in range(1, 6)), test=("test_batch",), meta="batches.meta",
                    listing="data_batch_1..5, test_batch, batches.meta"),
    "cifar100": dict(title="CIFAR-100", archive="cifar-100-python.tar.gz", folder="cifar-100-python",
                     train=("train",), test=("test",), meta="meta", listing="train, test, meta"),
}


#: The largest archive member or file read (CIFAR-100's ``train``, the largest official file, is 155 MB).
MAX_MEMBER_BYTES = 256 * 1024 * 1024
#: The most members an archive may hold (the official archives hold 9 and 5, folders included).
MAX_ARCHIVE_MEMBERS = 1_000
#: The most bytes of members (as their headers declare them) streamed through, wanted or not.
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
#: The largest extended header (a pax header or a GNU long name), which tarfile reads whole into memory.
MAX_TAR_HEADER_BYTES = 1024 * 1024


class UnsafeFileError(ValueError):
    """A data file asked to run or import something a dataset file never needs; nothing was executed."""


def cifar_kind(kind: str) -> str:
    """``kind`` as one of ``CIFAR_KINDS`` ("CIFAR-10", "cifar_100" are accepted); ValueError otherwise."""
    key = str(kind).lower().replace("-", "").replace("_", "")
    if key not in CIFAR_KINDS:
        raise ValueError(f"unknown CIFAR kind {kind!r}; choose cifar10, cifar100 or cifar20")
    return key


def layout_for(kind: str) -> dict:
    """The ``LAYOUTS`` entry holding ``kind``'s files (cifar20 reads CIFAR-100's)."""
    return LAYOUTS["cifar10" if cifar_kind(kind) == "cifar10" else "cifar100"]


# --------------------------------------------------------------------------------------------
# Restricted unpickling
# --------------------------------------------------------------------------------------------

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
    ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct,
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


# --------------------------------------------------------------------------------------------
# Where the files are
# --------------------------------------------------------------------------------------------

class _CappedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses an extended header (pax, GNU long name) declaring more than
    ``MAX_TAR_HEADER_BYTES``, before tarfile reads that header whole into memory."""

    def _proc_member(self, tarfile_):
        extended = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                    tarfile.SOLARIS_XHDTYPE)
        if self.type in extended and self.size > MAX_TAR_HEADER_BYTES:
            raise ValueError(f"the archive {tarfile_.name or ''} has an extended tar header of {self.size:,} bytes, "
                             f"more than the {MAX_TAR_HEADER_BYTES:,} allowed; refused without reading it. Not a "
                             f"genuine CIFAR 'python version' archive: download the original from {CIFAR_URL}")
        return super()._proc_member(tarfile_)


def _is_tar(path: Path) -> bool:
    """Whether ``path`` opens as a (compressed) tar archive: its first header, read with the caps."""
    try:
        with tarfile.open(path, mode="r|*", tarinfo=_CappedTarInfo):
            return True
    except (tarfile.TarError, EOFError, OSError, zlib.error):
        return False


def _missing_message(layout: dict, where: Path) -> str:
    return (f"no {layout['title']} data in {where}: expected {layout['archive']} or {layout['folder']}/ "
            f"({layout['listing']}) — download the 'python version' from {CIFAR_URL}")


def locate(kind: str, data_dir) -> tuple[str, Path]:
    """Where ``kind``'s files are, without reading them: ("tar", archive) or ("dir", folder).

    ``data_dir``: the archive, the extracted folder, or a folder holding either. ValueError with what
    was expected and where to download it otherwise (the messages ``read_cifar`` gives)."""
    layout = layout_for(kind)
    if data_dir is None:
        raise ValueError(f"{layout['title']} needs data_dir: a folder holding {layout['archive']} or "
                         f"{layout['folder']}/ — download the 'python version' from {CIFAR_URL}")
    p = Path(data_dir).expanduser()
    if not p.exists():
        raise ValueError(f"{_missing_message(layout, p)} (the path does not exist)")
    if p.is_file():
        if not _is_tar(p):
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


def _too_big(source: str, size: int) -> ValueError:
    return ValueError(f"{source} is {size:,} bytes, more than the {MAX_MEMBER_BYTES:,} bytes any CIFAR file needs "
                      f"(the largest, CIFAR-100's train, is about 155 MB); refused without reading it. This is not a "
                      f"genuine CIFAR 'python version' file: download the original from {CIFAR_URL}")


def _read_capped(fh, size: int, source: str) -> bytes:
    """Exactly ``size`` bytes from ``fh`` (at most ``MAX_MEMBER_BYTES``), never more."""
    if size > MAX_MEMBER_BYTES:
        raise _too_big(source, size)
    raw = fh.read(size + 1)
    if len(raw) != size:
        raise ValueError(f"{source}: read {len(raw):,} bytes where {size:,} were declared; the file changed while "
                         "it was read or is damaged")
    return raw


def _read_files(kind: str, data_dir) -> dict[str, tuple[bytes, str]]:
    """{file name: (raw bytes, description of where it came from)} for the layout's train, test and meta files.

    Every size is checked before reading (``MAX_MEMBER_BYTES``, ``MAX_ARCHIVE_MEMBERS``, ``MAX_ARCHIVE_BYTES``)."""
    layout = layout_for(kind)
    wanted = (*layout["train"], *layout["test"], layout["meta"])
    form, where = locate(kind, data_dir)
    found: dict[str, tuple[bytes, str]] = {}
    if form == "dir":
        for name in wanted:
            f = where / name
            if f.is_file():
                try:
                    with open(f, "rb") as fh:
                        found[name] = (_read_capped(fh, f.stat().st_size, str(f)), str(f))
                except OSError as err:
                    raise ValueError(f"cannot read {f} ({err.strerror or err}); check its permissions") from None
    else:
        try:
            # streamed: one pass, nothing extracted to disk; extended headers capped (_CappedTarInfo)
            with tarfile.open(where, mode="r|*", tarinfo=_CappedTarInfo) as tf:
                declared = 0
                for count, member in enumerate(tf, 1):
                    source = f"{where}:{member.name}"
                    if count > MAX_ARCHIVE_MEMBERS:
                        raise ValueError(f"the archive {where} holds more than {MAX_ARCHIVE_MEMBERS:,} members; a "
                                         f"CIFAR archive holds fewer than 10. Not a genuine CIFAR 'python version' "
                                         f"archive: download the original from {CIFAR_URL}")
                    if member.size > MAX_MEMBER_BYTES:  # from the header: nothing of it has been read
                        raise _too_big(source, member.size)
                    declared += member.size
                    if declared > MAX_ARCHIVE_BYTES:
                        raise ValueError(f"the archive {where} unpacks to more than {MAX_ARCHIVE_BYTES:,} bytes; a "
                                         f"CIFAR archive unpacks to under 200 MB. Refused: download the original "
                                         f"from {CIFAR_URL}")
                    parts = member.name.replace("\\", "/").strip("/").split("/")
                    if (member.isfile() and parts[-1] in wanted and parts[-1] not in found
                            and (len(parts) == 1 or parts[-2] == layout["folder"])):
                        found[parts[-1]] = (_read_capped(tf.extractfile(member), member.size, source), source)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as err:
            raise ValueError(f"could not read the archive {where} ({type(err).__name__}: {err}); it may be "
                             f"truncated: download the 'python version' again from {CIFAR_URL}") from None
    missing = [n for n in wanted if n not in found]
    if missing:
        inside = f"{layout['folder']}/ inside " if form == "tar" else ""
        raise ValueError(f"incomplete {layout['title']} data in {inside}{where}: missing {', '.join(missing)} "
                         f"(expected {layout['listing']}) — download the 'python version' from {CIFAR_URL}")
    return found


# --------------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------------

@dataclass(repr=False, eq=False)
class CifarArrays:
    """One CIFAR dataset as read from the files, before any conversion.

    - ``train`` [n_train, 3, 32, 32], ``test`` [n_test, 3, 32, 32]: uint8, in file order.
    - ``train_labels`` / ``test_labels``: int64, the labels the model predicts (CIFAR-10's; CIFAR-100's
      fine labels; CIFAR-20's coarse labels), named by ``class_names``.
    - ``train_fine`` / ``test_fine`` and ``fine_names``: CIFAR-20's 100 fine labels; None otherwise.
    """
    kind: str
    train: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    train_fine: np.ndarray | None = None
    test_fine: np.ndarray | None = None
    fine_names: tuple[str, ...] | None = None


def read_cifar(kind: str, data_dir) -> CifarArrays:
    """CIFAR-10, CIFAR-100 or CIFAR-20 from the official "python version" files, as uint8 arrays.

    ``data_dir``: as ``locate``. Images: rows of 3072 uint8 (R, G, B planes of 32x32, row-major) ->
    [n, 3, 32, 32]; 50,000 train and 10,000 test images for the real data. Class names come from the
    meta file. ``cifar20`` is CIFAR-100's images under the 20 coarse labels, with the fine labels kept
    (a fine class under two coarse labels is refused: the files are inconsistent). The pickles are read
    with the restricted unpickler: anything but numpy arrays raises :class:`UnsafeFileError` without
    running it; damaged or incomplete files raise ValueError naming the file.
    """
    kind = cifar_kind(kind)
    layout = layout_for(kind)
    files = _read_files(kind, data_dir)
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
    if kind == "cifar10":
        return CifarArrays(kind, train, test, train_labels[0], test_labels[0], names)
    if kind == "cifar100":
        return CifarArrays(kind, train, test, train_labels[0], test_labels[0], fine_names)
    fine = np.concatenate([train_labels[0], test_labels[0]])
    coarse = np.concatenate([train_labels[1], test_labels[1]])
    pairs = np.unique(np.stack([fine, coarse], 1), axis=0)
    if len(pairs) != len(np.unique(pairs[:, 0])):
        bad = [int(f) for f in np.unique(pairs[:, 0]) if (pairs[:, 0] == f).sum() > 1]
        raise ValueError(f"{data_dir}: fine classes {[fine_names[f] for f in bad[:5]]} appear under more than one "
                         "coarse label; the files are inconsistent")
    return CifarArrays(kind, train, test, train_labels[1], test_labels[1], coarse_names,
                       train_fine=train_labels[0], test_fine=test_labels[0], fine_names=fine_names)
