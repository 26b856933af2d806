import numpy as np
import pytest
import torch
from torch import nn

import toy_data
from unlearn_core import MLP, SmallCNN, fit, reinitialize
from unlearn_core.metrics import accuracy
from conftest import state_equal


def test_mlp_shapes_and_config():
    m = MLP(2, 4, hidden=(8, 8, 8), activation="tanh")
    out = m(torch.zeros(5, 2))
    assert out.shape == (5, 4)
    assert sum(isinstance(l, nn.Linear) for l in m.modules()) == 4
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(activation="swish")
    with pytest.raises(ValueError, match="n_classes"):
        MLP(n_classes=1)


def test_fit_sets_standardisation_from_training_data():
    X, y = toy_data.make_dataset("blobs", n_samples=200, seed=0, classes=3)
    m = MLP(2, 3, seed=0)
    assert not bool(m.standardize.ready)
    fit(m, X, y, epochs=1, seed=0, device="cpu")
    assert bool(m.standardize.ready)
    np.testing.assert_allclose(m.standardize.mean.numpy(), X.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.standardize.std.numpy(), X.std(0), rtol=1e-4)
    # A second fit (fine-tuning) keeps the statistics of the original data.
    before = m.standardize.mean.clone()
    fit(m, X[:50] + 10, y[:50], epochs=1, seed=0, device="cpu")
    assert torch.equal(m.standardize.mean, before)


def test_fit_is_deterministic_for_a_seed_and_records_recipe():
    X, y = toy_data.make_dataset("moons", n_samples=200, seed=0)
    a, b, c = MLP(seed=3), MLP(seed=3), MLP(seed=3)
    ha = fit(a, X, y, epochs=5, seed=7, device="cpu")
    hb = fit(b, X, y, epochs=5, seed=7, device="cpu")
    fit(c, X, y, epochs=5, seed=8, device="cpu")
    assert state_equal(a, b) and ha == hb
    assert not state_equal(a, c)
    assert len(ha) == 5 and set(ha[0]) == {"epoch", "loss", "acc"}
    assert a.fit_recipe["epochs"] == 5 and a.fit_recipe["batch_size"] == 64


def test_default_recipe_fits_moons(moons):
    assert accuracy(moons["model"], moons["Xtr"], moons["ytr"]) >= 0.95
    assert accuracy(moons["model"], moons["Xte"], moons["yte"]) >= 0.9


def test_fit_callback_per_epoch():
    X, y = toy_data.make_dataset("moons", n_samples=100, seed=0)
    seen = []
    fit(MLP(seed=0), X, y, epochs=3, seed=0, device="cpu", callback=lambda e, entry, m: seen.append((e, entry["loss"])))
    assert [e for e, _ in seen] == [1, 2, 3]


@pytest.mark.parametrize("bad, match", [
    (dict(epochs=-1), "epochs"), (dict(lr=0), "lr"), (dict(batch_size=0), "batch_size"),
])
def test_fit_rejects_bad_recipe(bad, match):
    X, y = toy_data.make_dataset("moons", n_samples=50, seed=0)
    with pytest.raises(ValueError, match=match):
        fit(MLP(), X, y, **{**dict(epochs=1, seed=0, device="cpu"), **bad})


def test_fit_rejects_bad_data():
    X, y = toy_data.make_dataset("moons", n_samples=50, seed=0)
    with pytest.raises(ValueError, match="only 2 outputs"):
        fit(MLP(), X, y + 1, epochs=1, device="cpu")
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fit(MLP(), Xn, y, epochs=1, device="cpu")
    with pytest.raises(ValueError, match="match X"):
        fit(MLP(), X, y[:-1], epochs=1, device="cpu")
    with pytest.raises(ValueError, match="no CUDA GPU|cuda"):
        if torch.cuda.is_available():
            raise ValueError("cuda present: nothing to check")
        fit(MLP(), X, y, epochs=1, device="cuda")


def test_reinitialize_resets_every_parameter_deterministically():
    m = SmallCNN(seed=0)
    trained = {k: v.clone() for k, v in m.state_dict().items()}
    with torch.no_grad():
        for p in m.parameters():
            p.add_(1.0)
    rng_before = torch.get_rng_state()
    reinitialize(m, 0)
    assert torch.equal(torch.get_rng_state(), rng_before), "global RNG must be untouched"
    for k, v in m.state_dict().items():
        assert torch.equal(v, trained[k]), k
    reinitialize(m, 1)
    assert all(not torch.equal(v, trained[k]) for k, v in m.state_dict().items() if v.numel() > 1)


def test_reinitialize_refuses_modules_it_cannot_reset():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

    with pytest.raises(TypeError, match="reset_parameters"):
        reinitialize(nn.Sequential(nn.Linear(2, 3), Odd()), 0)


def test_small_cnn_on_digits_shape():
    out = SmallCNN()(torch.zeros(4, 1, 8, 8))
    assert out.shape == (4, 10)
