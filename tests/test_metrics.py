import math

import numpy as np
import pytest
import torch
from torch import nn

from unlearn_core.metrics import (accuracy, boundary_disagreement, entropy, entropy_mia, evaluate,
                                  js_divergence, mean_js)


class Identity(nn.Module):
    """Logits = the input itself (so each test picks the model's confidence by picking inputs)."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x + 0 * self.dummy


class Threshold(nn.Module):
    """Predicts class 1 where x0 > t, else class 0 (logits +-10)."""

    def __init__(self, t):
        super().__init__()
        self.t = nn.Parameter(torch.tensor(float(t)))

    def forward(self, x):
        s = torch.where(x[:, 0] > self.t, 10.0, -10.0)
        return torch.stack([-s, s], 1)


def test_accuracy_known():
    X = np.array([[1, 0], [0, 1], [2, 0], [0, 3]], np.float32)
    y = np.array([0, 1, 1, 1])
    assert accuracy(Identity(), X, y) == 0.75
    assert math.isnan(accuracy(Identity(), np.zeros((0, 2), np.float32), np.zeros(0, np.int64)))


def test_entropy_known_values():
    e = entropy(torch.tensor([[0.0, 0.0], [100.0, 0.0], [0.0, 0.0, 0.0, 0.0]][:2]))
    assert float(e[0]) == pytest.approx(math.log(2))
    assert float(e[1]) == pytest.approx(0.0, abs=1e-6)


def test_entropy_mia_members_vs_non_members():
    rng = np.random.default_rng(0)
    confident = np.column_stack([rng.uniform(8, 12, 200), np.zeros(200)]).astype(np.float32)
    unsure = np.column_stack([rng.uniform(-0.3, 0.3, 200), np.zeros(200)]).astype(np.float32)
    y = np.zeros(200, np.int64)
    m = Identity()
    # Forget points as confident as the retain (training) points: all called members.
    assert entropy_mia(m, retain=(confident, y), forget=(confident[:50], y[:50]), test=(unsure, y)) == 1.0
    # Forget points as unsure as the test points: none called members.
    assert entropy_mia(m, retain=(confident, y), forget=(unsure[:50], y[:50]), test=(unsure, y)) == 0.0


def test_js_divergence_bounds():
    p = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.2, 0.8]])
    q = torch.tensor([[0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    js = js_divergence(p, q)
    assert js.tolist() == pytest.approx([1.0, 0.0, 0.0], abs=1e-6)


def test_mean_js_of_a_model_with_itself_is_zero():
    X = torch.randn(20, 2)
    assert mean_js(Identity(), Identity(), X) == pytest.approx(0.0, abs=1e-7)


def test_boundary_disagreement_known_fraction():
    box = (-1.0, 1.0, -1.0, 1.0)
    assert boundary_disagreement(Threshold(0.0), Threshold(0.0), box) == 0.0
    # Boundaries at x=0 and x=0.5 disagree on the strip 0 < x <= 0.5: a quarter of the box.
    assert boundary_disagreement(Threshold(0.0), Threshold(0.5), box, resolution=201) == pytest.approx(0.25, abs=0.01)


def test_evaluate_keys_and_reference_terms():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (100, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    m, ref = Threshold(0.0), Threshold(0.5)
    out = evaluate(m, retain=(X[:60], y[:60]), forget=(X[60:70], y[60:70]), test=(X[70:], y[70:]),
                   reference=ref, bounds=(-1, 1, -1, 1))
    assert set(out) == {"acc_retain", "acc_forget", "acc_test", "mia", "js_forget", "js_test", "boundary_disagreement"}
    assert out["acc_retain"] == 1.0 and out["acc_test"] == 1.0
    assert 0 < out["boundary_disagreement"] < 0.5
    plain = evaluate(m, retain=(X[:60], y[:60]), forget=(X[60:70], y[60:70]), test=(X[70:], y[70:]))
    assert set(plain) == {"acc_retain", "acc_forget", "acc_test", "mia"}
