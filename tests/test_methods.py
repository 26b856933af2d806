import math

import numpy as np
import pytest
import torch

from unlearn_core import METHODS, MLP, fit, list_methods, unlearn
from unlearn_core.metrics import accuracy
from conftest import snapshot, state_equal

SMALL = {
    "jit": dict(),
    "retrain": dict(epochs=5),
    "finetune": dict(epochs=2),
    "neggrad_plus": dict(epochs=2),
    "random_label": dict(epochs=2),
    "bad_teacher": dict(epochs=1),
    "ssd": dict(),
    "lf_ssd": dict(),
    "scrub": dict(epochs=2, msteps=1),
    "unsir": dict(noise_steps=3, impair_epochs=1, repair_epochs=1),
    "emmn": dict(max_noise_steps=3, min_noise_steps=3, impair_epochs=1, repair_epochs=1),
    "gkt": dict(n_iterations=3),
}
# EMMN and GKT refuse a forget set that spans every class; SSD and LF-SSD are checked on a whole class too,
# where the forget set's importances stand out from the whole data's.
CLASS_FORGET = ("emmn", "gkt", "ssd", "lf_ssd")


def test_every_method_is_registered_with_needs_and_defaults():
    info = list_methods()
    assert set(info) == set(METHODS) == set(SMALL)
    assert info["jit"]["needs"] == "forget" and info["jit"]["zero_shot"]
    assert {m for m in info if info[m]["zero_shot"]} == {"jit", "emmn", "gkt"}
    assert {m for m in info if info[m]["needs"] == "full"} == {"ssd", "lf_ssd"}
    for name in ("sigma", "n_samples", "lr", "epochs", "batch_size", "accumulate_grad", "reduction", "train_mode"):
        assert name in info["jit"]["defaults"]


@pytest.mark.parametrize("method", sorted(SMALL))
def test_method_end_to_end(tiny, method):
    before = snapshot(tiny["model"])
    steps = []
    forget, retain = tiny["forget"], tiny["retain"]
    if method in CLASS_FORGET:
        X, y = tiny["X"], tiny["y"]
        forget, retain = (X[y == 0], y[y == 0]), (X[y != 0], y[y != 0])
    res = unlearn(method, tiny["model"], forget=forget, retain=retain, device="cpu",
                  callback=lambda s, loss, m: steps.append(s), **SMALL[method])
    assert all(torch.equal(before[k], v) for k, v in tiny["model"].state_dict().items()), "input model changed"
    assert res.model is not tiny["model"] and not state_equal(res.model, tiny["model"])
    assert len(res.history) >= 1 and steps == [h["step"] for h in res.history]
    assert all(math.isfinite(h["loss"]) for h in res.history)
    assert res.seconds > 0 and res.method == method
    assert res.hyperparameters["seed"] == 0
    out = res.model(torch.as_tensor(tiny["X"][:4]))
    assert out.shape == (4, 3) and torch.isfinite(out).all()


def test_step_counts_follow_the_recipe(tiny):
    n_r = len(tiny["retain"][1])
    res = unlearn("finetune", tiny["model"], forget=tiny["forget"], retain=tiny["retain"], device="cpu",
                  epochs=3, batch_size=16)
    assert len(res.history) == 3 * math.ceil(n_r / 16)
    res = unlearn("jit", tiny["model"], forget=tiny["forget"], device="cpu", batch_size=4, epochs=1)
    assert len(res.history) == math.ceil(6 / 4)


def test_retrain_is_from_scratch_with_the_original_recipe(tiny):
    """Retrain with the same seed equals a fresh model fitted on the retain set with the recorded recipe."""
    res = unlearn("retrain", tiny["model"], forget=tiny["forget"], retain=tiny["retain"], device="cpu", seed=3)
    assert res.model.fit_recipe["epochs"] == tiny["model"].fit_recipe["epochs"] == 20
    fresh = MLP(2, 3, hidden=(16,), seed=3)
    fit(fresh, *tiny["retain"], epochs=20, seed=3, device="cpu")
    assert state_equal(res.model, fresh)
    assert len(res.history) == 20 * math.ceil(len(tiny["retain"][1]) / 64)


def test_retrain_forgets_a_whole_class():
    import toy_data
    X, y = toy_data.make_dataset("blobs", n_samples=300, seed=0, classes=3)
    model = MLP(2, 3, seed=0)
    fit(model, X, y, epochs=30, seed=0, device="cpu")
    f = y == 2
    res = unlearn("retrain", model, forget=(X[f], y[f]), retain=(X[~f], y[~f]), device="cpu")
    assert accuracy(model, X[f], y[f]) > 0.9
    assert accuracy(res.model, X[f], y[f]) == 0.0
    assert accuracy(res.model, X[~f], y[~f]) > 0.9


def test_random_label_draws_wrong_labels_only():
    from unlearn_core.methods.random_label import wrong_labels
    y = torch.arange(1000) % 4
    w = wrong_labels(y, 4, seed=0)
    assert (w != y).all() and w.min() >= 0 and w.max() <= 3
    assert set(w[y == 0].tolist()) == {1, 2, 3}  # every other class occurs
    assert torch.equal(w, wrong_labels(y, 4, seed=0)) and not torch.equal(w, wrong_labels(y, 4, seed=1))


def test_random_label_moves_isolated_forget_points(tiny):
    import toy_data
    X, y = toy_data.make_dataset("blobs", n_samples=200, seed=0, classes=2)
    model = MLP(2, 2, seed=0)
    fit(model, X, y, epochs=30, seed=0, device="cpu")
    far = (X[y == 0][:5] * 0 + X[y == 0].mean(0) + 3 * (X[y == 0].mean(0) - X[y == 1].mean(0)))
    far = far + np.arange(5)[:, None].astype(np.float32) * 0.01
    res = unlearn("random_label", model, forget=(far, np.zeros(5, np.int64)), retain=(X, y), device="cpu",
                  epochs=40, lr=1e-2)
    assert accuracy(model, far, np.zeros(5, np.int64)) == 1.0
    assert accuracy(res.model, far, np.zeros(5, np.int64)) == 0.0


def test_errors_are_clear(tiny):
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        unlearn("nope", tiny["model"], forget=tiny["forget"])
    with pytest.raises(ValueError, match="needs the retain set"):
        unlearn("finetune", tiny["model"], forget=tiny["forget"])
    with pytest.raises(ValueError, match="has no hyperparameter.*sigmaa"):
        unlearn("jit", tiny["model"], forget=tiny["forget"], sigmaa=1.0)
    with pytest.raises(ValueError, match="forget set is empty"):
        unlearn("jit", tiny["model"], forget=(np.zeros((0, 2), np.float32), np.zeros(0, np.int64)))
    with pytest.raises(ValueError, match="non-empty retain"):
        unlearn("retrain", tiny["model"], forget=tiny["forget"], retain=(np.zeros((0, 2), np.float32), np.zeros(0)))
    with pytest.raises(ValueError, match="only 3 outputs"):
        unlearn("jit", tiny["model"], forget=(tiny["forget"][0], tiny["forget"][1] + 5))
    with pytest.raises(ValueError, match=r"\(X, y\) pair"):
        unlearn("jit", tiny["model"], forget=tiny["forget"][0])
    with pytest.raises(ValueError, match="alpha"):
        unlearn("neggrad_plus", tiny["model"], forget=tiny["forget"], retain=tiny["retain"], alpha=2.0)


# --- the registry: one file per method, its constraints beside its defaults ------------------------

def test_every_default_and_widget_satisfies_its_constraints():
    from unlearn_core.methods import DEFAULTS

    for profile, table in DEFAULTS.items():
        assert set(table) == set(METHODS), profile
        for name, hp in table.items():
            assert METHODS[name].check(hp) == hp, (profile, name)
    for name, spec in METHODS.items():
        for key, p in spec.params.items():
            if isinstance(p.widget, tuple):
                lo, hi, step = p.widget
                assert lo < hi and step > 0, (name, key)
                p.check(name, key, lo), p.check(name, key, hi)  # the slider never offers an invalid value
                default = spec.toy2d[key]
                assert default is None or lo <= default <= hi, f"{name}.{key}: default {default} outside {p.widget}"
            assert p.label or p.widget is None, f"{name}.{key} is shown in the app without a label"


@pytest.mark.parametrize("name, key, value, message", [
    ("jit", "sigma", 0.0, r"jit: sigma must be a number > 0, got 0.0"),
    ("jit", "n_samples", 2.5, r"jit: n_samples must be an integer >= 1, got 2.5"),
    ("jit", "normalize_step", False, r"jit: normalize_step must be a value one of 'off', 'first', 'probe', got False"),
    ("jit", "clamp", "yes", r"jit: clamp must be a boolean True or False, got 'yes'"),
    ("neggrad_plus", "alpha", 1.5, r"neggrad_plus: alpha must be a number in \[0, 1\], got 1.5"),
    ("gkt", "threshold", 0.0, r"gkt: threshold must be a number in \(0, 1\], got 0.0"),
    ("scrub", "max_grad_norm", float("nan"), r"scrub: max_grad_norm must be a number > 0 \(or None\), got nan"),
])
def test_a_bad_value_says_what_is_valid(name, key, value, message):
    with pytest.raises(ValueError, match=message):
        METHODS[name].check({key: value})


def test_values_are_converted_to_their_kind():
    assert METHODS["jit"].check({"n_samples": 5.0, "lr": 1, "chunk_size": None, "clamp": 1}) == \
        {"n_samples": 5, "lr": 1.0, "chunk_size": None, "clamp": True}
    assert type(METHODS["jit"].check({"lr": 1})["lr"]) is float


def test_jit_keyword_defaults_are_the_2d_profile():
    import inspect

    from unlearn_core.methods.jit import TOY2D, jit

    sig = inspect.signature(jit).parameters
    assert {k: sig[k].default for k in TOY2D} == TOY2D
    assert METHODS["jit"].defaults() == TOY2D


def test_image_profiles_follow_each_method_file():
    from unlearn_core.methods import DEFAULTS, defaults_for

    assert DEFAULTS[defaults_for("vgg11", "full_class")]["jit"]["sigma"] == 0.5  # the paper's
    assert DEFAULTS[defaults_for("mynet", "random")] == DEFAULTS["image/random"]
    assert DEFAULTS["vgg11/full_class"]["ssd"]["alpha"] == 1.0 and DEFAULTS["vgg11/random"]["ssd"]["alpha"] == 10.0
    assert DEFAULTS["smallcnn/random"]["bad_teacher"] == METHODS["bad_teacher"].toy2d
    assert DEFAULTS["vgg11/random"]["bad_teacher"]["batch_size"] == 256  # the authors' budget
    with pytest.raises(ValueError, match="image settings"):
        defaults_for("vgg11", "region")
