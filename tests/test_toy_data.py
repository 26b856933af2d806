"""Tests for the synthetic dataset generators and train_test_split."""

import numpy as np
import pytest

from toy_data import (
    DATASET_INFO,
    DATASETS,
    MAX_SAMPLES,
    dataset_info,
    make_dataset,
    train_test_split,
)

NAMES = ["moons", "circles", "blobs", "spirals", "xor", "gaussian_quantiles"]
VARIABLE = ["blobs", "spirals", "gaussian_quantiles"]
FIXED = ["moons", "circles", "xor"]


# --------------------------------------------------------------------------
# Registry and metadata
# --------------------------------------------------------------------------


def test_registry_names():
    assert list(DATASETS) == NAMES
    assert list(DATASET_INFO) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_dataset_info(name):
    info = dataset_info(name)
    assert info.name == name
    assert info.takes_classes == (name in VARIABLE)
    assert info.min_classes <= info.default_classes <= info.max_classes
    if name in VARIABLE:
        assert (info.min_classes, info.max_classes) == (2, 8)
    else:
        assert (info.min_classes, info.default_classes, info.max_classes) == (2, 2, 2)
    assert 0 < info.default_noise <= info.max_noise


def test_default_noise_values():
    noise = {name: info.default_noise for name, info in DATASET_INFO.items()}
    assert noise == {
        "moons": 0.2,
        "circles": 0.1,
        "blobs": 1.0,
        "spirals": 0.15,
        "xor": 0.15,
        "gaussian_quantiles": 0.1,
    }


def test_dataset_info_unknown_name():
    with pytest.raises(ValueError, match="Unknown dataset 'nope'.*'moons'"):
        dataset_info("nope")


# --------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_samples", [600, 101])
def test_shapes_dtypes_and_labels(name, n_samples):
    X, y = make_dataset(name, n_samples=n_samples)
    k = dataset_info(name).default_classes
    assert X.shape == (n_samples, 2) and X.dtype == np.float32
    assert y.shape == (n_samples,) and y.dtype == np.int64
    assert np.isfinite(X).all()
    assert set(np.unique(y)) == set(range(k))


@pytest.mark.parametrize("name", NAMES)
def test_registry_function_matches_make_dataset(name):
    X1, y1 = DATASETS[name](n_samples=50, seed=3)
    X2, y2 = make_dataset(name, n_samples=50, seed=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_seed(name):
    X1, y1 = make_dataset(name, seed=7)
    X2, y2 = make_dataset(name, seed=7)
    X3, y3 = make_dataset(name, seed=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("n_samples", [16, 97, 600, 1001])
def test_balanced_classes(name, n_samples):
    k = dataset_info(name).default_classes
    _, y = make_dataset(name, n_samples=n_samples)
    counts = np.bincount(y, minlength=k)
    assert counts.max() - counts.min() <= 1
    assert counts.sum() == n_samples


@pytest.mark.parametrize("name", NAMES)
def test_rows_are_shuffled(name):
    _, y = make_dataset(name, n_samples=200)
    # Sorted labels would mean class-by-class order; shuffled data has many label changes.
    assert np.count_nonzero(np.diff(y)) > 20


@pytest.mark.parametrize("name", VARIABLE)
@pytest.mark.parametrize("classes", [2, 3, 5, 8])
def test_classes_parameter(name, classes):
    X, y = make_dataset(name, n_samples=97, classes=classes)
    assert np.array_equal(np.unique(y), np.arange(classes))
    counts = np.bincount(y)
    assert counts.max() - counts.min() <= 1
    assert X.shape == (97, 2)


@pytest.mark.parametrize("name", FIXED)
def test_fixed_datasets_accept_two_classes(name):
    _, y = make_dataset(name, n_samples=40, classes=2)
    assert set(np.unique(y)) == {0, 1}


@pytest.mark.parametrize("name", FIXED)
def test_fixed_datasets_reject_other_classes(name):
    with pytest.raises(ValueError, match="always has 2 classes.*'blobs', 'spirals', 'gaussian_quantiles'"):
        make_dataset(name, classes=3)


@pytest.mark.parametrize("name", NAMES)
def test_zero_noise(name):
    X, y = make_dataset(name, n_samples=100, noise=0)
    assert np.isfinite(X).all()
    assert len(np.unique(y)) == dataset_info(name).default_classes


def test_zero_noise_shapes_are_exact():
    X, y = make_dataset("circles", n_samples=100, noise=0.0)
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(radius[y == 1], 0.5, rtol=1e-6)

    X, y = make_dataset("xor", n_samples=200, noise=0.0)
    assert np.all((X[:, 0] * X[:, 1] < 0) == (y == 1))
    assert np.abs(X).max() <= 1.0

    X, y = make_dataset("gaussian_quantiles", n_samples=300, noise=0.0, classes=3)
    radius = np.hypot(X[:, 0], X[:, 1])
    assert radius[y == 0].max() <= radius[y == 1].min()
    assert radius[y == 1].max() <= radius[y == 2].min()


def test_noise_changes_spread():
    X_small, _ = make_dataset("blobs", noise=0.1, classes=2)
    X_large, _ = make_dataset("blobs", noise=2.0, classes=2)
    assert X_large.std() > X_small.std()


def test_default_noise_is_used_for_none():
    for name in NAMES:
        X1, _ = make_dataset(name, noise=None)
        X2, _ = make_dataset(name, noise=dataset_info(name).default_noise)
        np.testing.assert_array_equal(X1, X2)


def test_extreme_sample_counts():
    X, y = make_dataset("blobs", n_samples=16, classes=8)
    assert np.array_equal(np.bincount(y), [2] * 8)
    X, y = make_dataset("moons", n_samples=MAX_SAMPLES)
    assert X.shape == (MAX_SAMPLES, 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "moon"}, r"Unknown dataset 'moon'\. Valid names are: 'moons', 'circles'"),
        ({"name": None}, "Unknown dataset None"),
        ({"n_samples": 3}, r"n_samples must be an integer between 4 and 50000, got 3"),
        ({"n_samples": 50_001}, "n_samples must be an integer between 4 and 50000"),
        ({"n_samples": 600.0}, "n_samples must be an integer"),
        ({"n_samples": True}, "n_samples must be an integer"),
        ({"name": "blobs", "classes": 8, "n_samples": 15}, "between 16 and 50000"),
        ({"noise": -0.1}, r"noise must be a finite number >= 0, got -0\.1"),
        ({"noise": float("nan")}, "noise must be a finite number"),
        ({"noise": float("inf")}, "noise must be a finite number"),
        ({"noise": "0.1"}, "noise must be a finite number"),
        ({"seed": -1}, "seed must be a non-negative integer, got -1"),
        ({"seed": 1.5}, "seed must be a non-negative integer"),
        ({"name": "blobs", "classes": 1}, "classes must be an integer between 2 and 8, got 1"),
        ({"name": "spirals", "classes": 9}, "classes must be an integer between 2 and 8, got 9"),
        ({"name": "gaussian_quantiles", "classes": 2.5}, "classes must be an integer"),
        ({"name": "xor", "classes": 4}, "Dataset 'xor' always has 2 classes, got classes=4"),
    ],
)
def test_bad_arguments(kwargs, message):
    kwargs = {"name": "moons", **kwargs}
    with pytest.raises(ValueError, match=message):
        make_dataset(**kwargs)


def test_numpy_integer_arguments_accepted():
    X, y = make_dataset("blobs", n_samples=np.int64(60), seed=np.int32(2), classes=np.int64(4))
    assert X.shape == (60, 2) and len(np.unique(y)) == 4


# --------------------------------------------------------------------------
# train_test_split
# --------------------------------------------------------------------------


@pytest.fixture
def data():
    return make_dataset("blobs", n_samples=301, classes=3, seed=1)


def test_split_sizes_and_partition(data):
    X, y = data
    X_tr, X_te, y_tr, y_te, tr, te = train_test_split(X, y, test_size=0.25, seed=0)
    assert len(te) == round(0.25 * 301)
    assert len(tr) + len(te) == 301
    assert tr.dtype == np.int64 and te.dtype == np.int64
    assert np.intersect1d(tr, te).size == 0
    assert np.array_equal(np.union1d(tr, te), np.arange(301))
    assert np.all(np.diff(tr) > 0) and np.all(np.diff(te) > 0)
    np.testing.assert_array_equal(X_tr, X[tr])
    np.testing.assert_array_equal(X_te, X[te])
    np.testing.assert_array_equal(y_tr, y[tr])
    np.testing.assert_array_equal(y_te, y[te])
    assert X_tr.dtype == np.float32 and y_tr.dtype == np.int64


@pytest.mark.parametrize("test_size", [0.1, 0.25, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_is_stratified(data, test_size, seed):
    X, y = data
    *_, y_te, _, te = train_test_split(X, y, test_size=test_size, seed=seed)
    assert len(te) == round(test_size * len(y))
    for label in np.unique(y):
        expected = test_size * np.count_nonzero(y == label)
        assert abs(np.count_nonzero(y_te == label) - expected) <= 1


def test_split_is_deterministic(data):
    X, y = data
    first = train_test_split(X, y, seed=5)
    second = train_test_split(X, y, seed=5)
    other = train_test_split(X, y, seed=6)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[5], other[5])


def test_split_without_stratify(data):
    X, y = data
    *_, tr, te = train_test_split(X, y, test_size=0.3, stratify=False, seed=0)
    assert len(te) == round(0.3 * 301)
    assert np.array_equal(np.union1d(tr, te), np.arange(301))
    assert set(np.unique(y[tr])) == {0, 1, 2}


@pytest.mark.parametrize("stratify", [True, False])
def test_keep_in_train_is_honoured(data, stratify):
    X, y = data
    keep = [0, 5, 17, 42, 300, 5]
    *_, tr, te = train_test_split(X, y, seed=0, keep_in_train=keep, stratify=stratify)
    assert set(keep) <= set(tr.tolist())
    assert not set(keep) & set(te.tolist())
    assert np.array_equal(np.union1d(tr, te), np.arange(301))


def test_keep_in_train_accepts_arrays_and_generators(data):
    X, y = data
    keep = np.arange(0, 301, 7)
    a = train_test_split(X, y, keep_in_train=keep)[4]
    b = train_test_split(X, y, keep_in_train=(int(i) for i in keep))[4]
    np.testing.assert_array_equal(a, b)
    assert set(keep.tolist()) <= set(a.tolist())


def test_keep_in_train_replays_selection(data):
    """Forget rows chosen from a training split stay in training when the split is redone."""
    X, y = data
    *_, tr, _ = train_test_split(X, y, seed=3)
    forget = tr[:20]
    *_, tr2, _ = train_test_split(X, y, seed=3, keep_in_train=forget)
    assert set(forget.tolist()) <= set(tr2.tolist())


def test_every_class_keeps_a_training_point():
    X = np.zeros((5, 2), dtype=np.float32)
    y = np.array([0, 0, 0, 0, 1])
    for stratify in (True, False):
        for seed in range(10):
            *_, y_tr, _, _, _ = train_test_split(X, y, test_size=0.8, seed=seed, stratify=stratify)
            assert set(y_tr.tolist()) == {0, 1}


def test_split_accepts_string_labels():
    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.array(["cat", "dog"] * 10)
    *_, y_tr, y_te, tr, te = train_test_split(X, y, test_size=0.5)
    assert sorted(y_te.tolist()).count("cat") == 5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"y": np.zeros(10)}, "same number of rows, got 12 and 10"),
        ({"y": np.zeros((12, 1))}, "y a 1-D label array"),
        ({"X": np.zeros((1, 2)), "y": np.zeros(1)}, "at least 2 rows"),
        ({"test_size": 0.0}, r"strictly between 0 and 1, got 0\.0"),
        ({"test_size": 1.0}, "strictly between 0 and 1"),
        ({"test_size": 3}, "strictly between 0 and 1"),
        ({"test_size": "0.2"}, "strictly between 0 and 1"),
        ({"seed": -3}, "seed must be a non-negative integer"),
        ({"keep_in_train": [0, 12]}, r"index 12, which is out of range for 12 rows \(valid: 0\.\.11\)"),
        ({"keep_in_train": [-1]}, "index -1, which is out of range"),
        ({"keep_in_train": [0.5]}, "integer row indices"),
        ({"keep_in_train": [[0, 1]]}, "integer row indices"),
        ({"keep_in_train": 3}, "iterable of integer row indices"),
        ({"keep_in_train": range(12)}, "test split would be empty"),
    ],
)
def test_split_bad_inputs(kwargs, message):
    args = {"X": np.zeros((12, 2)), "y": np.arange(12) % 2, **kwargs}
    with pytest.raises(ValueError, match=message):
        train_test_split(**args)
