import numpy as np
import pytest

import toy_data
from unlearn_core import scenarios


def test_information_on_a_constructed_layout():
    # Three points of class 0 close together, one class-1 point among them, one far away.
    X = np.array([[0, 0], [0.1, 0], [0, 0.1], [0.05, 0.05], [10, 10]], np.float64)
    y = np.array([0, 0, 0, 1, 0])
    alpha = scenarios.information(X, y, radius=0.05)  # radius in standardised units
    assert alpha[3] == 0.0  # the class-1 point: all its neighbours are class 0
    assert alpha[0] == pytest.approx(2 / 3)  # neighbours: two class 0, one class 1
    assert np.isnan(alpha[4])  # no neighbours


def test_full_class_random_region():
    X, y = toy_data.make_dataset("blobs", n_samples=120, seed=0, classes=3)
    idx = scenarios.full_class(y, 1)
    assert (y[idx] == 1).all() and len(idx) == (y == 1).sum()
    with pytest.raises(ValueError, match="class 7 does not exist"):
        scenarios.full_class(y, 7)
    r = scenarios.random_points(120, 20, seed=0)
    assert len(np.unique(r)) == 20 and np.array_equal(r, scenarios.random_points(120, 20, seed=0))
    with pytest.raises(ValueError, match="between 1 and 120"):
        scenarios.random_points(120, 500)
    box = (X[:, 0].min(), np.median(X[:, 0]), X[:, 1].min(), X[:, 1].max())
    inside = scenarios.region(X, box)
    assert ((X[inside, 0] >= box[0]) & (X[inside, 0] <= box[1])).all()
    with pytest.raises(ValueError, match="holds no training points"):
        scenarios.region(X, (100, 101, 100, 101))


def test_auto_region_holds_about_a_tenth_of_the_class():
    X, y = toy_data.make_dataset("moons", n_samples=600, seed=0)
    for seed in range(5):
        box = scenarios.auto_region(X, y, cls=0, share=0.1, seed=seed)
        idx = scenarios.region(X, box)
        share = (y[idx] == 0).sum() / (y == 0).sum()
        assert 0.1 <= share <= 0.15


def test_high_information_points_are_surrounded_by_the_other_class():
    X, y = toy_data.make_dataset("moons", n_samples=600, noise=0.3, seed=0)
    idx = scenarios.high_information(X, y, tau=0.5, radius=0.3, max_count=20)
    alpha = scenarios.information(X, y, 0.3)
    assert 1 <= len(idx) <= 20 and (alpha[idx] < 0.5).all()
    none_correct = np.zeros(len(y), bool)
    with pytest.raises(ValueError, match="no training point"):
        scenarios.high_information(X, y, correct=none_correct)
