"""The server-wide cache of trained models (issue 14, part 8): one training per configuration, shared
read-only, each session with its own copy of the weights, bounded by bytes."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from ui.state import cache, workspace
from ui.state.cache import SharedCache, fingerprint, nbytes
from ui.state.workspace import ModelConfig, new_workspace


@pytest.fixture
def models(monkeypatch):
    """A fresh, empty cache for the test (the module's one is shared by the whole process)."""
    fresh = SharedCache(64 * 2**20)
    monkeypatch.setattr(workspace, "MODELS", fresh)
    return fresh


def small(seed=0, epochs=5, n=120, **kw):
    return new_workspace("moons", n_samples=n, seed=seed,
                         model_cfg=ModelConfig(width=8, depth=1, epochs=epochs, seed=seed, **kw))


def weights(model):
    return [t.clone() for t in model.state_dict().values()]


def test_same_configuration_trains_once_and_each_session_gets_its_own_copy(models):
    a, b = small(), small()
    calls = []
    a.train(callback=lambda *args: calls.append(1))
    assert len(calls) == 5 and models.stats()["misses"] == 1
    b.train(callback=lambda *args: calls.append(1))
    assert len(calls) == 5 and models.stats()["hits"] == 1  # no training, no callbacks
    assert a.original is not b.original
    for x, y in zip(a.original.state_dict().values(), b.original.state_dict().values()):
        assert torch.equal(x, y) and x.data_ptr() != y.data_ptr()
    assert a.fit_history == b.fit_history and a.fit_history is not b.fit_history
    assert b.original.fit_recipe == a.original.fit_recipe
    with torch.no_grad():  # one session changing its weights changes nobody else's
        next(a.original.parameters()).add_(1.0)
    c = small()
    c.train()
    for x, y in zip(b.original.state_dict().values(), c.original.state_dict().values()):
        assert torch.equal(x, y)


def test_a_cached_model_is_the_model_a_solo_run_trains(models, monkeypatch):
    a = small(seed=3)
    a.train()
    monkeypatch.setattr(workspace, "MODELS", SharedCache(0))  # switched off: trains itself
    b = small(seed=3)
    b.train()
    for x, y in zip(a.original.state_dict().values(), b.original.state_dict().values()):
        assert torch.equal(x, y)


@pytest.mark.parametrize("change", [dict(seed=1), dict(epochs=6), dict(n=140), dict(lr=0.02),
                                    dict(activation="tanh"), dict(batch_size=16)])
def test_the_key_covers_what_determines_training(change):
    base = small()
    other = small(**change)
    assert base.training_key() != other.training_key()
    assert base.training_key() == small().training_key()
    assert base.training_key("cpu") != base.training_key("cuda")


def test_the_key_covers_the_points_and_labels():
    a, b = small(), small()
    b.problem.y[b.train_ids[0]] = 1 - b.problem.y[b.train_ids[0]]
    assert a.training_key() != b.training_key()
    c = small()
    c.problem.X[c.train_ids[0], 0] += 1e-6
    assert a.training_key() != c.training_key()


def test_concurrent_sessions_train_once(models):
    wss = [small(seed=7) for _ in range(6)]
    start = threading.Barrier(len(wss))
    errors = []

    def run(ws):
        try:
            start.wait()
            ws.train()
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=run, args=(ws,)) for ws in wss]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert models.stats()["misses"] == 1 and models.stats()["hits"] == 5
    first = weights(wss[0].original)
    for ws in wss[1:]:
        assert all(torch.equal(x, y) for x, y in zip(first, weights(ws.original)))


def test_retrains_and_bands_are_shared(models):
    a, b = small(), small()
    a.train()
    b.train()
    ids = a.train_ids[:5]
    ra = a.retrain_without(ids)
    misses = models.stats()["misses"]
    rb = b.retrain_without(ids)
    assert models.stats()["misses"] == misses and ra is not rb
    assert all(torch.equal(x, y) for x, y in zip(weights(ra), weights(rb)))
    assert fingerprint(ra) == fingerprint(rb)
    for ws in (a, b):
        ws.select(ids)
        ws.forget("jit")
    band_a = a.retrain_band(2)
    misses = models.stats()["misses"]
    band_b = b.retrain_band(2)
    assert models.stats()["misses"] == misses
    assert band_a is not band_b and np.array_equal(band_a.shares, band_b.shares)
    assert a.retrained() is not b.retrained()


def test_lru_by_bytes():
    c = SharedCache(1000)
    for i in range(5):
        c.put(f"k{i}", np.zeros(300, np.uint8), 300)
    assert c.stats()["bytes"] <= 1000 and len(c) == 3 and c.stats()["evictions"] == 2
    assert c.get("k0") is None and c.get("k4") is not None
    c.get("k2")  # recently used: kept
    c.put("k5", np.zeros(300, np.uint8), 300)
    assert c.get("k2") is not None and c.get("k3") is None
    c.put("huge", np.zeros(5000, np.uint8), 5000)  # larger than the budget: returned, not kept
    assert c.get("huge") is None and c.stats()["bytes"] <= 1000


def test_a_failed_computation_is_not_cached():
    c = SharedCache(10_000)

    def boom():
        raise ValueError("diverged")

    with pytest.raises(ValueError):
        c.get_or_make("k", boom)
    assert c.get("k") is None
    assert c.get_or_make("k", lambda: np.ones(3)).sum() == 3


def test_sizes_and_budget_from_the_environment(monkeypatch):
    ws = small()
    ws.train()
    n = sum(p.numel() * 4 for p in ws.original.state_dict().values())
    assert n <= nbytes(ws.original) <= n + 2048
    monkeypatch.setenv(cache.CACHE_ENV, "12")
    assert cache.budget_bytes() == 12 * 2**20
    monkeypatch.setenv(cache.CACHE_ENV, "lots")
    assert cache.budget_bytes() == cache.DEFAULT_MB * 2**20
