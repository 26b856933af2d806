"""Batched ensembles (torch.func stack + vmap) against K models run one at a time with the same seeds."""
import numpy as np
import pytest
import torch
from torch import nn

import toy_data
from unlearn_core import MLP, SmallCNN, fit, unlearn
from unlearn_core.ensemble import Ensemble, fit_ensemble, unlearn_ensemble

SEEDS = [3, 7, 11]


def max_diff(a: nn.Module, b: nn.Module) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)


@pytest.fixture(scope="module")
def data():
    X, y = toy_data.make_dataset("blobs", n_samples=150, seed=2, classes=3)
    return X, y


@pytest.fixture(scope="module")
def trained(data):
    X, y = data
    ens = fit_ensemble(lambda s: MLP(2, 3, hidden=(16, 16), seed=s), X, y, seeds=SEEDS, epochs=8, lr=0.01,
                       batch_size=32, device="cpu")
    seq = []
    for s in SEEDS:
        m = MLP(2, 3, hidden=(16, 16), seed=s)
        fit(m, X, y, epochs=8, lr=0.01, batch_size=32, seed=s, device="cpu")
        seq.append(m)
    return ens, seq


def test_fit_ensemble_equals_sequential_fit(trained, data):
    ens, seq = trained
    assert len(ens) == 3 and ens.seeds == SEEDS
    for k, m in enumerate(seq):
        assert max_diff(ens.member(k), m) < 1e-5
    # and the batched forward agrees with each model's own
    X = torch.as_tensor(data[0])
    logits = ens.logits(X)
    assert logits.shape == (3, len(X), 3)
    for k, m in enumerate(seq):
        with torch.no_grad():
            assert torch.allclose(logits[k], m(X), atol=1e-4)
    # members really differ (different seeds), so equality above is not trivial
    assert max_diff(seq[0], seq[1]) > 1e-2
    assert ens.member(0).fit_recipe == seq[0].fit_recipe


def test_fit_ensemble_equals_sequential_for_a_cnn():
    X = torch.randn(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(40) % 4
    ens = fit_ensemble(lambda s: SmallCNN(1, 4, width=4, seed=s), X, y, seeds=[0, 1], epochs=2, batch_size=16,
                       device="cpu")
    for k, s in enumerate([0, 1]):
        m = SmallCNN(1, 4, width=4, seed=s)
        fit(m, X, y, epochs=2, batch_size=16, seed=s, device="cpu")
        assert max_diff(ens.member(k), m) < 1e-5


def test_callback_reports_member_means(data):
    X, y = data
    seen = []
    fit_ensemble(lambda s: MLP(2, 3, hidden=(8,), seed=s), X, y, seeds=[0, 1], epochs=3, device="cpu",
                 callback=lambda e, entry: seen.append(entry))
    assert [e["epoch"] for e in seen] == [1, 2, 3]
    assert all(0 <= e["acc"] <= 1 and e["loss"] > 0 for e in seen)


@pytest.mark.parametrize("method,hp", [
    ("jit", {}),
    ("jit", dict(normalize_step="probe", batch_size=2)),
    ("jit", dict(normalize_step="off", lr=1e-3, reduction="sum", batch_size=3, n_samples=5)),
    ("jit", dict(normalize_step="probe", reduction="sum", batch_size=3)),
    ("jit", dict(gradient="full", normalize_step="off", lr=1e-2, n_samples=5)),
    ("jit", dict(scale_noise=False, normalize_step="off", lr=1e-3)),
    ("retrain", dict(epochs=3)),
    ("finetune", dict(epochs=2)),
    ("random_label", dict(epochs=2)),
    ("neggrad_plus", dict(epochs=2)),
])
def test_unlearn_ensemble_equals_unlearn_per_member(trained, data, method, hp):
    ens, _ = trained
    X, y = data
    forget, retain = (X[:9], y[:9]), (X[9:], y[9:])
    before = {k: v.clone() for k, v in ens.params.items()}
    res = unlearn_ensemble(method, ens, forget=forget, retain=retain, device="cpu", **hp)
    assert res.batched == (method != "neggrad_plus")
    assert all(torch.equal(before[k], ens.params[k]) for k in before), "the input ensemble must be left untouched"
    assert res.losses.shape[1] == len(SEEDS) and torch.isfinite(res.losses).all()
    moved = 0.0
    for k, s in enumerate(SEEDS):
        ref = unlearn(method, ens.member(k), forget=forget, retain=retain, device="cpu", seed=s, **hp)
        assert max_diff(res.ensemble.member(k), ref.model) < 1e-5
        moved = max(moved, max_diff(res.ensemble.member(k), ens.member(k)))
        assert np.allclose(res.losses[:len(ref.history), k].numpy(), [h["loss"] for h in ref.history], atol=1e-5)
    assert moved > 1e-6, "the method must change the members"


def test_authors_jit_options_fall_back_to_a_loop(trained, data):
    ens, _ = trained
    X, _ = data
    res = unlearn_ensemble("jit", ens, forget=(X[:4], np.zeros(4)), device="cpu", reproduce_authors=True, lr=1e-4)
    assert not res.batched and len(res.ensemble) == len(SEEDS)


def test_bad_input_is_refused(trained, data):
    ens, _ = trained
    X, y = data
    with pytest.raises(ValueError, match="do not pass seed"):
        unlearn_ensemble("jit", ens, forget=(X[:3], y[:3]), seed=1)
    with pytest.raises(ValueError, match="no hyperparameter"):
        unlearn_ensemble("jit", ens, forget=(X[:3], y[:3]), sigmaa=1)
    with pytest.raises(ValueError, match="needs the retain set"):
        unlearn_ensemble("finetune", ens, forget=(X[:3], y[:3]))
    with pytest.raises(ValueError, match="forget set is empty"):
        unlearn_ensemble("jit", ens, forget=(X[:0], y[:0]))
    bn = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="BatchNorm"):
        Ensemble.from_models([bn, bn])
    with pytest.raises(ValueError, match="same architecture"):
        Ensemble.from_models([MLP(2, 2, hidden=(4,)), MLP(2, 2, hidden=(5, 5))])
    with pytest.raises(ValueError, match="at least one seed"):
        fit_ensemble(lambda s: MLP(2, 3), X, y, seeds=[])


def test_subset_and_clone_are_independent(trained):
    ens, _ = trained
    sub = ens.subset([2, 0])
    assert sub.seeds == [SEEDS[2], SEEDS[0]]
    assert max_diff(sub.member(0), ens.member(2)) == 0
    c = ens.clone()
    next(iter(c.params.values())).add_(1.0)
    assert max_diff(c.member(0), ens.member(0)) > 0.5
