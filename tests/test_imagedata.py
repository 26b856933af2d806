"""unlearn_core.images (cifar, data, splits): loaders on generated files in the official formats, safety,
settings, augmentation."""
import os
import pickle
import tarfile

import numpy as np
import pytest
import torch

from unlearn_core.images.cifar import (CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_COARSE_OF_FINE,
                                       CIFAR100_FINE_CLASSES, UnsafeFileError)
from unlearn_core.images.data import (ImageData, augment, check_data_dir, folder_classes, load_cifar, load_dataset,
                                      load_digits, load_folder, train_transform)
from unlearn_core.images.splits import PAPER_TARGETS, make_split
from unlearn_core.testing import write_fake_cifar, write_fake_folder

# The fine -> coarse array as published in many codebases (index = fine label), typed independently
# of the superclass table the module derives its constant from.
KNOWN_COARSE_OF_FINE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11,
    6, 11, 5, 10, 7, 6, 13, 15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5,
    5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4, 17, 4, 2, 0, 17, 4, 18, 17,
    10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13, 15, 13,
    16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]

N_TRAIN, N_TEST = 300, 120


@pytest.fixture(scope="module")
def cifar_files(tmp_path_factory):
    """{(kind, as_archive): path written by write_fake_cifar}."""
    root = tmp_path_factory.mktemp("imgdata_cifar")
    return {(kind, arch): write_fake_cifar(root / f"{kind}_{int(arch)}", kind, N_TRAIN, N_TEST, seed=1, as_archive=arch)
            for kind in ("cifar10", "cifar100") for arch in (True, False)}


@pytest.fixture(scope="module")
def cifar20(cifar_files):
    return load_cifar("cifar20", cifar_files[("cifar100", True)])


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def parity():
    return load_digits(labels="parity")


def _raw_batches(path):
    """The official files' dicts, read with plain pickle (safe: the test wrote them itself)."""
    if path.is_file():
        with tarfile.open(path) as tf:
            return {m.name.split("/")[-1]: pickle.loads(tf.extractfile(m).read(), encoding="bytes")
                    for m in tf.getmembers() if m.isfile()}
    return {f.name: pickle.loads(f.read_bytes(), encoding="bytes") for f in path.iterdir()}


# ---- the CIFAR-100 class tables ---------------------------------------------------------------

def test_cifar100_mapping_sanity():
    assert len(CIFAR100_FINE_CLASSES) == 100 and len(set(CIFAR100_FINE_CLASSES)) == 100
    assert len(CIFAR100_COARSE_CLASSES) == 20
    assert list(CIFAR100_COARSE_OF_FINE) == KNOWN_COARSE_OF_FINE
    assert np.bincount(CIFAR100_COARSE_OF_FINE, minlength=20).tolist() == [5] * 20
    fine = CIFAR100_FINE_CLASSES.index
    coarse = CIFAR100_COARSE_CLASSES.index
    for f, c, fi, ci in [("rocket", "vehicles_2", 69, 19), ("mushroom", "fruit_and_vegetables", 51, 4),
                         ("baby", "people", 2, 14), ("lamp", "household_electrical_devices", 40, 5),
                         ("sea", "large_natural_outdoor_scenes", 71, 10)]:
        assert fine(f) == fi and coarse(c) == ci and CIFAR100_COARSE_OF_FINE[fi] == ci
    # The paper's full-class CIFAR-20 targets are the superclasses of its sub-class targets.
    t = PAPER_TARGETS["cifar20"]
    assert [CIFAR100_COARSE_CLASSES[CIFAR100_COARSE_OF_FINE[fine(f)]] for f in t["sub_class"]] == t["full_class"]
    assert t["sub_class"] == PAPER_TARGETS["cifar100"]["full_class"]


# ---- CIFAR loaders -------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", [True, False], ids=["archive", "folder"])
@pytest.mark.parametrize("kind", ["cifar10", "cifar100", "cifar20"])
def test_load_cifar_shapes_names_ranges(cifar_files, kind, arch):
    path = cifar_files[("cifar10" if kind == "cifar10" else "cifar100", arch)]
    d = load_cifar(kind, path)
    assert d.name == kind and d.shape == (3, 32, 32)
    assert d.X_train.shape == (N_TRAIN, 3, 32, 32) and d.X_test.shape == (N_TEST, 3, 32, 32)
    assert d.X_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert 0 <= float(d.X_train.min()) and float(d.X_train.max()) <= 1
    expected = {"cifar10": CIFAR10_CLASSES, "cifar100": CIFAR100_FINE_CLASSES, "cifar20": CIFAR100_COARSE_CLASSES}
    assert d.class_names == expected[kind] and d.n_classes == len(expected[kind])
    assert d.augment_kwargs == {"crop_pad": 4, "flip": True}
    # Pixels and labels are exactly the files' rows (R, G, B planes of 32x32, row-major), in file order.
    raw = _raw_batches(path)
    if kind == "cifar10":
        rows = np.concatenate([raw[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
        labels = sum((raw[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    else:
        rows = raw["train"][b"data"]
        labels = raw["train"][b"coarse_labels" if kind == "cifar20" else b"fine_labels"]
    assert d.y_train.tolist() == labels
    assert torch.equal(d.X_train, torch.from_numpy(rows.reshape(-1, 3, 32, 32)).float() / 255)
    assert round(float(d.X_train[7, 1, 2, 5]) * 255) == rows[7, 1024 + 2 * 32 + 5]  # plane 1 (G), row 2, col 5
    # Every class is present (the writer cycles through them) and mean/std are the training images'.
    assert len(d.y_train.unique()) == d.n_classes
    assert np.allclose(d.mean, d.X_train.double().mean((0, 2, 3)).numpy())
    assert np.allclose(d.std, d.X_train.double().std((0, 2, 3), unbiased=False).numpy())
    if kind == "cifar20":
        assert d.fine_names == CIFAR100_FINE_CLASSES
        assert torch.equal(d.y_train, torch.tensor(KNOWN_COARSE_OF_FINE)[d.fine_train])
        assert torch.equal(d.y_test, torch.tensor(KNOWN_COARSE_OF_FINE)[d.fine_test])
        assert d.coarse_of_fine().tolist() == KNOWN_COARSE_OF_FINE
    else:
        assert d.fine_train is None and not d.has_fine


def test_cifar_data_dir_forms_agree(cifar_files, tmp_path):
    archive, folder = cifar_files[("cifar10", True)], cifar_files[("cifar10", False)]
    ref = load_cifar("cifar10", archive)
    for where in (archive.parent, folder, folder.parent, str(folder)):
        d = load_cifar("CIFAR-10", where)
        assert torch.equal(d.X_train, ref.X_train) and torch.equal(d.y_test, ref.y_test)
    assert torch.equal(load_dataset("cifar20", archive.parent.parent / "cifar100_1").y_train,
                       load_cifar("cifar20", cifar_files[("cifar100", True)]).y_train)


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar_str_keys_and_numpy2_pickles(cifar_files, tmp_path, protocol):
    """Files re-saved by Python 3 (str keys, numpy._core paths, protocol 2 or 4) load the same."""
    src = cifar_files[("cifar100", False)]
    dst = tmp_path / "cifar-100-python"
    dst.mkdir()
    for name, obj in _raw_batches(src).items():
        obj = {k.decode(): v for k, v in obj.items()}
        for key in ("fine_label_names", "coarse_label_names"):
            if key in obj:
                obj[key] = [n.decode() for n in obj[key]]
        (dst / name).write_bytes(pickle.dumps(obj, protocol=protocol))
    a, b = load_cifar("cifar20", dst), load_cifar("cifar20", src)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.fine_test, b.fine_test)
    assert a.class_names == b.class_names


class _Evil:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


@pytest.mark.parametrize("how", ["os.system", "builtins.eval"])
@pytest.mark.parametrize("arch", [True, False], ids=["archive", "folder"])
def test_malicious_pickle_is_refused_and_not_run(tmp_path, how, arch):
    marker = tmp_path / "pwned"
    if how == "os.system":
        evil = _Evil(os.system, f"touch {marker}")
    else:
        evil = _Evil(eval, f"open({str(marker)!r}, 'w').close()")
    folder = write_fake_cifar(tmp_path / "c", "cifar10", 20, 10, as_archive=False)
    protocol = 2 if how == "os.system" else 4
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": evil, b"labels": [0]}, protocol=protocol))
    target = folder
    if arch:
        target = tmp_path / "cifar-10-python.tar.gz"
        with tarfile.open(target, "w:gz") as tf:
            tf.add(folder, arcname="cifar-10-batches-py")
    with pytest.raises(UnsafeFileError, match=r"refused to load ((posix|os|nt)\.system|builtins\.eval)") as err:
        load_cifar("cifar10", target)
    assert "test_batch" in str(err.value) and isinstance(err.value, ValueError)
    assert not marker.exists()


def test_codecs_encode_only_as_latin1(tmp_path):
    """_codecs.encode (Python 3's way to pickle bytes in protocol 2) is allowed for latin1 only."""
    folder = write_fake_cifar(tmp_path / "c", "cifar10", 20, 10, as_archive=False)
    # _codecs.encode("x", "utf-7"), hand-assembled: PROTO 2, GLOBAL, BINUNICODE x2, TUPLE2, REDUCE, STOP.
    (folder / "test_batch").write_bytes(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00utf-7\x86R.")
    with pytest.raises(UnsafeFileError, match="test_batch: refused _codecs.encode with str / 'utf-7'"):
        load_cifar("cifar10", folder)


def test_cifar_missing_and_damaged_files(tmp_path, cifar_files):
    with pytest.raises(ValueError) as err:
        load_cifar("cifar10", tmp_path)
    msg = str(err.value)
    for part in (str(tmp_path), "cifar-10-python.tar.gz", "cifar-10-batches-py/", "data_batch_1..5", "test_batch",
                 "batches.meta", "https://www.cs.toronto.edu/~kriz/cifar.html"):
        assert part in msg
    with pytest.raises(ValueError, match=r"cifar-100-python.tar.gz or cifar-100-python/ \(train, test, meta\)"):
        load_cifar("cifar100", tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        load_cifar("cifar10", tmp_path / "nope")
    with pytest.raises(ValueError, match="unknown CIFAR kind"):
        load_cifar("cifar11", tmp_path)
    folder = write_fake_cifar(tmp_path / "partial", "cifar10", 20, 10, as_archive=False)
    (folder / "data_batch_3").unlink()
    with pytest.raises(ValueError, match=r"incomplete CIFAR-10 data in .*: missing data_batch_3 "):
        load_cifar("cifar10", folder)
    (folder / "data_batch_3").write_bytes(b"\x80\x02}q\x00(U")  # truncated pickle
    with pytest.raises(ValueError, match="data_batch_3 is not a readable CIFAR pickle"):
        load_cifar("cifar10", folder)
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(cifar_files[("cifar10", True)].read_bytes()[:3000])
    with pytest.raises(ValueError, match="could not read the archive|incomplete|not a tar archive"):
        load_cifar("cifar10", bad)


def test_load_dataset_dispatch(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'mnist'; choose one of digits, .*cifar10"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="CIFAR-100 needs data_dir: a folder holding cifar-100-python.tar.gz"):
        load_dataset("cifar20")
    with pytest.raises(ValueError, match=r"cifar10 takes no options \(got seed\)"):
        load_dataset("cifar10", tmp_path, seed=0)
    with pytest.raises(ValueError, match="'folder' needs data_dir"):
        load_dataset("folder")
    assert load_dataset("digits_parity").class_names == ("even", "odd")
    assert load_dataset("digits", seed=1).n_classes == 10


def test_check_data_dir_uses_the_loaders_messages(tmp_path, cifar_files):
    """The cheap check (no image decoded) accepts what the loaders read and fails with their messages."""
    archive, folder = cifar_files[("cifar10", True)], cifar_files[("cifar10", False)]
    assert check_data_dir("cifar10", archive) == f"archive {archive}"
    assert check_data_dir("CIFAR-10", archive.parent) == f"archive {archive}"
    assert check_data_dir("cifar10", folder) == f"folder {folder}"
    assert check_data_dir("digits", None) == ""
    for dataset, where in (("cifar100", tmp_path), ("cifar10", tmp_path / "nope"), ("cifar20", None)):
        with pytest.raises(ValueError) as err:
            check_data_dir(dataset, where)
        with pytest.raises(ValueError) as loader:
            load_dataset(dataset, where)
        assert str(err.value) == str(loader.value)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "loose.png").write_bytes(b"")
    with pytest.raises(ValueError) as err:
        check_data_dir("folder", tmp_path / "empty")
    with pytest.raises(ValueError) as loader:
        load_folder(tmp_path / "empty")
    assert str(err.value) == str(loader.value) and "holds 1 images directly" in str(err.value)
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        check_data_dir("mnist", tmp_path)
    write_fake_folder(tmp_path / "split" / "train", ["b", "a"], per_class=1, size=4)
    write_fake_folder(tmp_path / "split" / "test", ["b", "a"], per_class=1, size=4)
    assert folder_classes(tmp_path / "split") == ["a", "b"] == list(load_folder(tmp_path / "split", size=4).class_names)
    assert check_data_dir("folder", tmp_path / "split") == f"2 class folders in {tmp_path / 'split'}"


# ---- folders --------------------------------------------------------------------------------------

def test_load_folder(tmp_path):
    root = write_fake_folder(tmp_path / "imgs", ["zebra", "apple", "mango"], per_class=10, size=20, seed=0)
    d = load_folder(root, size=12, test_fraction=0.2, seed=0)
    assert d.class_names == ("apple", "mango", "zebra") and d.shape == (3, 12, 12)
    assert len(d.X_train) == 24 and len(d.X_test) == 6
    assert np.bincount(d.y_test.numpy()).tolist() == [2, 2, 2]
    assert 0 <= float(d.X_train.min()) and float(d.X_train.max()) <= 1
    again = load_folder(root, size=12, test_fraction=0.2, seed=0)
    assert torch.equal(again.X_test, d.X_test)
    assert not torch.equal(load_folder(root, size=12, seed=1).X_test, d.X_test)
    # train/ + test/ layout is used as given.
    write_fake_folder(tmp_path / "split" / "train", ["a", "b"], per_class=4, size=8)
    write_fake_folder(tmp_path / "split" / "test", ["a", "b"], per_class=2, size=8, seed=1)
    s = load_folder(tmp_path / "split", size=8)
    assert (len(s.X_train), len(s.X_test), s.class_names) == (8, 4, ("a", "b"))


def test_load_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class subfolders in .*empty"):
        load_folder(tmp_path / "empty")
    root = write_fake_folder(tmp_path / "x", ["cat", "dog"], per_class=3, size=8)
    (root / "owl").mkdir()
    with pytest.raises(ValueError, match=r"class folder .*owl holds no images"):
        load_folder(root)
    (root / "owl").rmdir()
    (root / "dog" / "broken.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"could not read image .*dog.broken\.png"):
        load_folder(root)
    with pytest.raises(ValueError, match="does not exist"):
        load_folder(tmp_path / "missing")


# ---- digits -----------------------------------------------------------------------------------------

def test_digits(digits, parity):
    assert digits.shape == (1, 8, 8) and digits.n_classes == 10
    assert (len(digits.X_train), len(digits.X_test)) == (1347, 450)
    assert float(digits.X_train.min()) == 0 and float(digits.X_train.max()) == 1
    assert digits.augment_kwargs == {"crop_pad": 1, "flip": False} == train_transform("digits")
    per_class = np.bincount(digits.y_train.numpy()) + np.bincount(digits.y_test.numpy())
    assert (np.abs(np.bincount(digits.y_test.numpy()) - per_class / 4) <= 1).all()  # stratified
    assert torch.equal(parity.X_train, digits.X_train)  # same split in both label modes
    assert torch.equal(parity.fine_train, digits.y_train) and torch.equal(parity.y_train, digits.y_train % 2)
    assert parity.class_names == ("even", "odd") and parity.fine_names == tuple("0123456789")
    z = digits.normalize(digits.X_train)
    assert abs(float(z.mean())) < 1e-4 and abs(float(z.std(unbiased=False)) - 1) < 1e-4
    assert not torch.equal(load_digits(seed=1).y_test, digits.y_test)


# ---- settings -----------------------------------------------------------------------------------------

def _check_partition(d, s):
    for a, b, n in ((s.forget_train, s.retain_train, len(d.X_train)), (s.forget_test, s.retain_test, len(d.X_test))):
        assert a.dtype == np.int64 and b.dtype == np.int64
        assert len(np.intersect1d(a, b)) == 0
        assert np.array_equal(np.sort(np.concatenate([a, b])), np.arange(n))


def test_full_class(digits, cifar20, cifar_files):
    s = make_split(digits, "full_class", 3)
    _check_partition(digits, s)
    assert np.array_equal(s.forget_train, np.flatnonzero(digits.y_train.numpy() == 3))
    assert np.array_equal(s.forget_test, np.flatnonzero(digits.y_test.numpy() == 3))
    assert np.array_equal(make_split(digits, "full_class", "3").forget_train, s.forget_train)
    c100 = load_cifar("cifar100", cifar_files[("cifar100", False)])
    for t in PAPER_TARGETS["cifar100"]["full_class"]:
        s = make_split(c100, "full_class", t)
        _check_partition(c100, s)
        k = CIFAR100_FINE_CLASSES.index(t)
        assert (c100.y_train[s.forget_train] == k).all() and (c100.y_train[s.retain_train] != k).all()
        assert (c100.y_test[s.forget_test] == k).all() and (c100.y_test[s.retain_test] != k).all()
    assert np.array_equal(make_split(c100, "full_class", "69").forget_train, make_split(c100, "full_class", 69).forget_train)
    assert make_split(c100, "full_class", "ROCKET").target == "rocket"
    for t, alias in zip(PAPER_TARGETS["cifar20"]["full_class"],
                        ["vehicle2", "veg", "people", "electrical_devices", "natural_scenes"]):
        s = make_split(cifar20, "full_class", alias)
        k = CIFAR100_COARSE_CLASSES.index(t)
        assert s.target == t and len(s.forget_train) == (cifar20.y_train == k).sum()
        assert (cifar20.y_train[s.forget_train] == k).all() and (cifar20.y_test[s.forget_test] == k).all()


def test_sub_class(cifar20, parity):
    for t in PAPER_TARGETS["cifar20"]["sub_class"]:
        s = make_split(cifar20, "sub_class", t)
        _check_partition(cifar20, s)
        f = CIFAR100_FINE_CLASSES.index(t)
        assert (cifar20.fine_train[s.forget_train] == f).all() and (cifar20.fine_train[s.retain_train] != f).all()
        assert (cifar20.fine_test[s.forget_test] == f).all() and (cifar20.fine_test[s.retain_test] != f).all()
        # Scored against the superclass; the sibling fine classes keep it in the retain set.
        assert (cifar20.y_test[s.forget_test] == KNOWN_COARSE_OF_FINE[f]).all()
        assert (cifar20.y_train[s.retain_train] == KNOWN_COARSE_OF_FINE[f]).any()
    s = make_split(parity, "sub_class", 4)
    _check_partition(parity, s)
    assert (parity.fine_train[s.forget_train] == 4).all() and (parity.y_train[s.forget_train] == 0).all()
    assert len(s.forget_train) == (parity.fine_train == 4).sum()


def test_random(digits, cifar20):
    s = make_split(cifar20, "random", seed=3)
    assert len(s.forget_train) == 83 and len(s.forget_test) == 0 and len(s.retain_test) == N_TEST
    _check_partition(cifar20, s)
    assert np.array_equal(make_split(cifar20, "random", seed=3).forget_train, s.forget_train)
    assert not np.array_equal(make_split(cifar20, "random", seed=4).forget_train, s.forget_train)
    s = make_split(digits, "random")
    assert len(s.forget_train) == round(0.02 * 1347)
    assert len(make_split(digits, "random", n_random=5).forget_train) == 5
    for bad in (0, 1347, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_random must be an integer from 1 to 1346"):
            make_split(digits, "random", n_random=bad)
    with pytest.raises(ValueError, match="takes no target"):
        make_split(digits, "random", 3)


def test_split_errors(digits, cifar20):
    with pytest.raises(ValueError, match="unknown setting 'region'; choose one of full_class, sub_class, random"):
        make_split(digits, "region", 1)
    with pytest.raises(ValueError, match="class 'rocket' does not exist; valid names are: 0, 1, 2"):
        make_split(digits, "full_class", "rocket")
    with pytest.raises(ValueError, match="class index 10 does not exist; valid indices are 0..9"):
        make_split(digits, "full_class", 10)
    with pytest.raises(ValueError, match="class index 12 does not exist; valid indices are 0..9"):
        make_split(digits, "full_class", "12")
    with pytest.raises(ValueError, match="needs a target class"):
        make_split(digits, "full_class")
    with pytest.raises(ValueError, match="fine class 'vehicles_2' does not exist; valid names are: apple"):
        make_split(cifar20, "sub_class", "vehicles_2")
    with pytest.raises(ValueError, match="sub_class needs .*cifar20.*'digits' has no fine labels"):
        make_split(digits, "sub_class", 3)
    one_class = ImageData(name="tiny", X_train=torch.zeros(4, 1, 2, 2), y_train=torch.zeros(4, dtype=torch.int64),
                          X_test=torch.zeros(2, 1, 2, 2), y_test=torch.tensor([0, 1]), class_names=("a", "b"),
                          mean=(0.0,), std=(1.0,))
    with pytest.raises(ValueError, match="covers every training image"):
        make_split(one_class, "full_class", "a")
    with pytest.raises(ValueError, match="'b' has no training images"):
        make_split(one_class, "full_class", "b")


# ---- augmentation -----------------------------------------------------------------------------------

def _reference_augment(x, pad, oy, ox, flipped):
    p = torch.nn.functional.pad(x, (pad,) * 4)
    out = torch.stack([p[i, :, oy[i]:oy[i] + x.shape[2], ox[i]:ox[i] + x.shape[3]] for i in range(len(x))])
    return torch.stack([o.flip(-1) if f else o for o, f in zip(out, flipped)])


def test_augment(cifar20, digits):
    x = cifar20.X_train[:64]
    a = augment(x, torch.Generator().manual_seed(0), **cifar20.augment_kwargs)
    b = augment(x, torch.Generator().manual_seed(0), **cifar20.augment_kwargs)
    c = augment(x, torch.Generator().manual_seed(1), **cifar20.augment_kwargs)
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, x)
    # Equal to a per-sample loop with the same draws (crop offsets, then flips).
    g = torch.Generator().manual_seed(0)
    oy, ox = torch.randint(0, 9, (64,), generator=g), torch.randint(0, 9, (64,), generator=g)
    flipped = torch.rand((64,), generator=g) < 0.5
    assert torch.equal(a, _reference_augment(x, 4, oy, ox, flipped))
    # Flip only: each image is itself or its mirror, and both occur.
    f = augment(x, torch.Generator().manual_seed(2), crop_pad=0)
    same = (f == x).flatten(1).all(1)
    mirrored = (f == x.flip(-1)).flatten(1).all(1)
    assert (same | mirrored).all() and same.any() and mirrored.any()
    # Digits: a 1-pixel shift, never mirrored.
    xd = digits.X_train[:32]
    ad = augment(xd, torch.Generator().manual_seed(0), **digits.augment_kwargs)
    g = torch.Generator().manual_seed(0)
    oy, ox = torch.randint(0, 3, (32,), generator=g), torch.randint(0, 3, (32,), generator=g)
    assert torch.equal(ad, _reference_augment(xd, 1, oy, ox, [False] * 32))
    assert augment(xd, torch.Generator(), crop_pad=0, flip=False) is xd
    with pytest.raises(ValueError, match=r"batch tensor \[B, C, H, W\]"):
        augment(xd[0], torch.Generator())
    with pytest.raises(ValueError, match="torch.Generator"):
        augment(xd, 0)
    with pytest.raises(ValueError, match="crop_pad must be a non-negative integer"):
        augment(xd, torch.Generator(), crop_pad=-1)
    with pytest.raises(ValueError, match="no training transform for dataset 'mnist'"):
        train_transform("mnist")


def test_imagedata_validation_and_normalize(cifar20):
    z = cifar20.normalize(cifar20.X_train)
    assert torch.allclose(z.mean((0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(z.std((0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    with pytest.raises(ValueError, match=r"normalize expects a tensor \[\.\.\., 3, H, W\]"):
        cifar20.normalize(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="y_train holds labels outside 0..1"):
        ImageData(name="t", X_train=torch.zeros(2, 1, 2, 2), y_train=torch.tensor([0, 2]), X_test=torch.zeros(1, 1, 2, 2),
                  y_test=torch.tensor([0]), class_names=("a", "b"), mean=(0.0,), std=(1.0,))
    assert "cifar20" in repr(cifar20) and "20 classes" in repr(cifar20)
