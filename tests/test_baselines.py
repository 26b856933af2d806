"""The further baselines (unlearn_core/methods/<name>.py): contract, determinism, forgetting, SSD details."""
import copy
import inspect
import math

import pytest
import torch

import toy_data
from unlearn_core import MLP, SmallCNN, fit
from unlearn_core.methods import DEFAULTS, METHODS as SPECS, unlearn
from unlearn_core.methods import gkt, ssd, unsir
from unlearn_core.metrics import accuracy
from conftest import snapshot, state_equal

METHODS = ["bad_teacher", "emmn", "gkt", "lf_ssd", "scrub", "ssd", "unsir"]

# Small budgets: the contract tests only need a few steps of each method.
FAST = {
    "bad_teacher": dict(epochs=2),
    "ssd": dict(),
    "lf_ssd": dict(),
    "scrub": dict(epochs=2, msteps=1),
    "unsir": dict(n_noise=16, noise_steps=5, impair_epochs=1, repair_epochs=1),
    "emmn": dict(n_noise=16, max_noise_steps=5, min_noise_steps=5, impair_epochs=1, repair_epochs=1),
    "gkt": dict(n_iterations=4, n_student_iter=3, batch_size=32, generator_width=32, z_dim=16),
}

# Full-class forgetting of class 0 on the 150-point blobs. Where BASELINE_DEFAULTS are too gentle for
# 100 retain points, the override and the reason are given.
FORGET = {
    "bad_teacher": dict(epochs=50, lr=1e-2),   # defaults: 3 steps an epoch on 65 points, forget acc stays 0.96
    "lf_ssd": dict(lam=0.1),                   # defaults (lam=1) only take forget acc from 0.96 to 0.76
    "scrub": dict(lr=0.05, epochs=5, msteps=3),  # defaults: 0.64
    "unsir": dict(),
    "emmn": dict(),
    "gkt": dict(),
}


def hp(name, **over):
    out = SPECS[name].defaults()
    out.update(over)
    return out


@pytest.fixture(scope="module")
def blobs():
    X, y = toy_data.make_dataset("blobs", n_samples=150, seed=1, classes=3)
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    model = MLP(2, 3, hidden=(16,), seed=0)
    fit(model, X, y, epochs=30, seed=0, device="cpu")
    f = y == 0
    return dict(X=X, y=y, model=model, forget=(X[f], y[f]), retain=(X[~f], y[~f]))


@pytest.fixture(scope="module")
def digits():
    """Digits-shaped [n, 1, 8, 8] inputs: random class prototypes plus noise, so the CNN can be confident."""
    g = torch.Generator().manual_seed(0)
    protos = torch.randn(4, 1, 8, 8, generator=g)
    y = torch.arange(64) % 4
    X = 1.5 * protos[y] + torch.randn(64, 1, 8, 8, generator=g)
    model = SmallCNN(1, 4, width=4, seed=0)
    fit(model, X, y, epochs=25, lr=0.01, seed=0, device="cpu")
    f = y == 0
    return dict(X=X, y=y, model=model, forget=(X[f], y[f]), retain=(X[~f], y[~f]))


def run(name, data, on_step=None, model=None, **over):
    m = copy.deepcopy(data["model"] if model is None else model)
    retain = None if SPECS[name].needs == "forget" else data["retain"]
    losses = SPECS[name].run(m, data["forget"], retain, on_step, **hp(name, **{**FAST[name], **over}))
    return m, losses


# --- the tables ---------------------------------------------------------------------------------

def test_each_method_file_declares_its_defaults_params_and_help():
    for name in METHODS:
        spec = SPECS[name]
        params = inspect.signature(spec.run).parameters
        assert list(params)[:4] == ["model", "forget", "retain", "on_step"]
        kw = {k for k, p in params.items() if p.kind is p.KEYWORD_ONLY}
        assert kw == set(spec.toy2d) == set(spec.params) == set(spec.defaults("vgg11/random")), name
        assert spec.toy2d["seed"] == 0
        assert spec.needs in ("forget", "retain", "full")
        assert spec.summary and "\n" not in spec.summary
        assert all(p.help and "\n" not in p.help for p in spec.params.values()), name
    assert SPECS["ssd"].needs == SPECS["lf_ssd"].needs == "full"
    assert SPECS["emmn"].needs == SPECS["gkt"].needs == "forget"
    assert SPECS["emmn"].full_class_only and SPECS["gkt"].full_class_only and not SPECS["scrub"].full_class_only
    assert {n for n, s in SPECS.items() if s.class_level} == {"unsir", "emmn", "gkt"}


def test_ssd_image_defaults_are_the_jit_authors_per_setting():
    d = {p: DEFAULTS[p]["ssd"] for p in ("vgg11/full_class", "vgg11/sub_class", "vgg11/random", "vit/random",
                                         "vit/full_class", "smallcnn/full_class")}
    assert all(v["importance"] == "batch_mean" for v in d.values())
    assert (d["vgg11/full_class"]["alpha"], d["vgg11/full_class"]["lam"]) == (1.0, 1.0)
    assert (d["vit/full_class"]["alpha"], d["smallcnn/full_class"]["lam"]) == (1.0, 1.0)
    sub, rnd = d["vgg11/sub_class"], d["vgg11/random"]
    assert (sub["alpha"], sub["lam"], sub["batch_size"]) == (5, 6, 64)
    assert (rnd["alpha"], rnd["lam"], rnd["batch_size"]) == (10, 4, 128)
    assert d["vit/random"]["alpha"] == 3.5
    assert DEFAULTS["vgg11/random"]["lf_ssd"] == d["vgg11/random"]
    assert SPECS["ssd"].defaults()["importance"] == "batch_mean"


def test_unsir_image_defaults_are_the_jit_authors_and_the_notebook_is_kept():
    for arch in ("smallcnn", "vgg11", "vit", "image"):
        full, sub = DEFAULTS[f"{arch}/full_class"]["unsir"], DEFAULTS[f"{arch}/sub_class"]["unsir"]
        assert (full["n_noise"], full["noise_steps"], full["batch_size"]) == (32, 25, 32)
        assert full["impair_lr"] == full["repair_lr"] == 1e-4 and full["impair_epochs"] == full["repair_epochs"] == 1
        assert sub["noise_steps"] == 250 and dict(sub, noise_steps=25) == full
    assert SPECS["unsir"].defaults() == unsir.TOY2D  # the 2-D profile keeps its small-model values
    assert SPECS["unsir"].check(unsir.PAPER_NOTEBOOK) == unsir.PAPER_NOTEBOOK
    assert unsir.PAPER_NOTEBOOK["n_noise"] == 256 and unsir.PAPER_NOTEBOOK["impair_lr"] == 0.02


# --- the contract, for every method ---------------------------------------------------------------

@pytest.mark.parametrize("name", METHODS)
def test_contract_on_2d_blobs(blobs, name):
    calls = []
    rng = torch.get_rng_state()
    m, losses = run(name, blobs, on_step=lambda s, loss, model: calls.append((s, loss, model)))
    assert torch.equal(rng, torch.get_rng_state()), "the global RNG was used without forking"
    assert len(losses) >= 1 and len(calls) == len(losses)
    assert [c[0] for c in calls] == list(range(1, len(losses) + 1))
    assert all(isinstance(t, torch.Tensor) and t.ndim == 0 and not t.requires_grad for t in losses)
    assert all(math.isfinite(float(t)) for t in losses)
    assert [c[1] for c in calls] == [float(t) for t in losses]
    assert all(c[2] is m for c in calls)
    assert not m.training
    assert not state_equal(m, blobs["model"]), "the model did not change"
    out = m(blobs["X"][:5])
    assert out.shape == (5, 3) and torch.isfinite(out).all()
    # same seed, same model
    m2, losses2 = run(name, blobs)
    assert state_equal(m, m2)
    assert torch.equal(torch.stack(losses), torch.stack(losses2))


@pytest.mark.parametrize("name", [n for n in METHODS if n not in ("ssd", "lf_ssd")])
def test_another_seed_gives_another_model(blobs, name):
    m0, _ = run(name, blobs)
    m1, _ = run(name, blobs, seed=1)
    assert not state_equal(m0, m1)


@pytest.mark.parametrize("name", METHODS)
def test_image_shaped_inputs(digits, name):
    calls = []
    before = snapshot(digits["model"])
    m, losses = run(name, digits, on_step=lambda s, loss, model: calls.append(s))
    assert all(torch.equal(before[k], v) for k, v in digits["model"].state_dict().items())
    assert len(calls) == len(losses) >= 1 and all(math.isfinite(float(t)) for t in losses)
    assert not m.training and not state_equal(m, digits["model"])
    assert m(digits["X"][:3]).shape == (3, 4)


# --- forgetting a whole class -------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(FORGET))
@pytest.mark.slow
def test_full_class_forgetting_lowers_forget_accuracy(blobs, name):
    before_f = accuracy(blobs["model"], *blobs["forget"])
    assert before_f > 0.9
    m = copy.deepcopy(blobs["model"])
    retain = None if SPECS[name].needs == "forget" else blobs["retain"]
    SPECS[name].run(m, blobs["forget"], retain, None, **hp(name, **FORGET[name]))
    assert accuracy(m, *blobs["forget"]) <= 0.5
    assert accuracy(m, *blobs["retain"]) >= 0.8


@pytest.mark.xfail(strict=True, reason="SSD (CE Fisher) does not forget class 0 of the tiny 3-class blobs MLP: "
                   "the class-0-only hidden units it dampens are not what class 0 relies on (forget acc 0.96 -> 0.98; "
                   "a smaller lambda hurts the retain classes first). It does forget on image-shaped data below.")
def test_ssd_forgets_class_0_of_blobs(blobs):
    m = copy.deepcopy(blobs["model"])
    ssd.run_ssd(m, blobs["forget"], blobs["retain"], None, **hp("ssd", importance="per_sample"))
    assert accuracy(m, *blobs["forget"]) <= 0.5


def test_ssd_forgets_a_class_of_the_digits_shaped_problem(digits):
    """Per-sample importances at alpha 1 forget class 0 and keep the others; the authors' batch-mean
    importances (one batch of 64 over D, whose mean gradient nearly cancels) dampen far more and
    also take the retained classes down (measured: 80% of parameters, retain 0.33)."""
    assert accuracy(digits["model"], *digits["forget"]) == 1.0
    m = copy.deepcopy(digits["model"])
    ssd.run_ssd(m, digits["forget"], digits["retain"], None, **hp("ssd", importance="per_sample"))
    assert accuracy(m, *digits["forget"]) <= 0.5
    assert accuracy(m, *digits["retain"]) >= 0.7
    b = copy.deepcopy(digits["model"])
    ssd.run_ssd(b, digits["forget"], digits["retain"], None, **hp("ssd"))
    assert accuracy(b, *digits["forget"]) <= 0.5
    assert accuracy(b, *digits["retain"]) < accuracy(m, *digits["retain"])


def test_per_sample_importances_select_nothing_at_alpha_d_over_df_but_batch_mean_ones_do(digits):
    """imp_D = (|D_r| imp_r + |D_f| imp_f) / |D| >= imp_f |D_f| / |D| for per-sample importances, so
    alpha >= |D| / |D_f| selects no parameter (reference/PAPER.md, section 10); the authors' batch-mean
    importances have no such bound."""
    (Xf, yf), (Xr, yr) = digits["forget"], digits["retain"]
    X, y = torch.cat([Xr, Xf]), torch.cat([yr, yf])
    alpha = len(X) / len(Xf)
    changed = {}
    for method in ("per_sample", "batch_mean"):
        imp_d = ssd.importances(digits["model"], X, y, method=method, batch_size=128)
        imp_f = ssd.importances(digits["model"], Xf, yf, method=method, batch_size=128)
        changed[method] = float(ssd.dampen(copy.deepcopy(digits["model"]), imp_d, imp_f, alpha=alpha, lam=1.0))
    assert changed["per_sample"] == 0.0
    assert changed["batch_mean"] > 0.1


# --- SSD / LF-SSD details -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["fisher", "label_free"])
def test_importances_are_per_sample_and_order_free(blobs, kind):
    model, X, y = blobs["model"], blobs["X"], blobs["y"]
    labels = y if kind == "fisher" else None
    imp = ssd.importances(model, X, labels, kind=kind, method="per_sample", chunk_size=64)
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(3))
    shuffled = ssd.importances(model, X[perm], None if labels is None else labels[perm], kind=kind,
                               method="per_sample", chunk_size=7, batch_size=5)
    for k in imp:  # float32 per-sample gradients in other vmap chunk sizes: a few 1e-6 relative on some CPUs
        torch.testing.assert_close(imp[k], shuffled[k], rtol=1e-5, atol=0)
    # the naive per-sample loop
    ref = {k: torch.zeros_like(p) for k, p in model.named_parameters()}
    for i in range(len(X)):
        model.zero_grad()
        out = model(X[i:i + 1])
        loss = torch.nn.functional.cross_entropy(out, y[i:i + 1]) if kind == "fisher" else out.pow(2).sum()
        loss.backward()
        for k, p in model.named_parameters():
            ref[k] += (p.grad.pow(2) if kind == "fisher" else p.grad.abs()) / len(X)
    model.zero_grad(set_to_none=True)
    for k in imp:
        torch.testing.assert_close(imp[k], ref[k], rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("kind", ["fisher", "label_free"])
def test_batch_mean_importances_match_a_hand_computation(kind):
    """The authors' calc_importance on a bias-free linear model, by hand: batches of 2 in order, the
    gradient of the batch-mean loss, squared (fisher) or absolute (label_free), averaged over batches."""
    g = torch.Generator().manual_seed(0)
    lin = torch.nn.Linear(3, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(2, 3, generator=g))
    X, y = torch.randn(5, 3, generator=g), torch.tensor([0, 1, 1, 0, 1])
    W = lin.weight.detach().double()
    batches = [slice(0, 2), slice(2, 4), slice(4, 5)]  # batch size 2: the last batch has one sample
    want = torch.zeros(2, 3, dtype=torch.float64)
    for b in batches:
        xb, yb = X[b].double(), y[b]
        out = xb @ W.T
        if kind == "fisher":  # d mean CE / dW = (softmax - onehot)^T x / B
            gW = (torch.softmax(out, 1) - torch.nn.functional.one_hot(yb, 2).double()).T @ xb / len(xb)
            want += gW.pow(2)
        else:  # d mean ||Wx||^2 / dW = 2 (Wx)^T x / B
            want += (2 * out.T @ xb / len(xb)).abs()
    want /= len(batches)
    got = ssd.importances(lin, X, y if kind == "fisher" else None, kind=kind, method="batch_mean", batch_size=2)
    torch.testing.assert_close(got["weight"].double(), want, rtol=1e-5, atol=1e-8)
    assert lin.weight.grad is None, "the model's .grad was touched"
    # one batch of everything differs from batches of 2 (the result depends on the batch size)
    whole = ssd.importances(lin, X, y if kind == "fisher" else None, kind=kind, method="batch_mean", batch_size=8)
    assert not torch.allclose(whole["weight"], got["weight"])


@pytest.mark.parametrize("name", ["ssd", "lf_ssd"])
def test_ssd_result_does_not_depend_on_data_order(blobs, name):
    """With per-sample importances (the authors' batch-mean ones depend on the order of the data)."""
    Xr, yr = blobs["retain"]
    perm = torch.randperm(len(Xr), generator=torch.Generator().manual_seed(5))
    a, _ = run(name, blobs, importance="per_sample")
    b = copy.deepcopy(blobs["model"])
    SPECS[name].run(b, blobs["forget"], (Xr[perm], yr[perm]), None, **hp(name, importance="per_sample",
                                                                         chunk_size=13))
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, rtol=1e-6, atol=1e-7, msg=k)


def test_dampen_follows_the_rule():
    lin = torch.nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[2.0, 3.0]]))
    imp_d = {"weight": torch.tensor([[1.0, 1.0]])}
    imp_f = {"weight": torch.tensor([[20.0, 5.0]])}
    frac = ssd.dampen(lin, imp_d, imp_f, alpha=10.0, lam=1.0)
    # first: 20 > 10 * 1 -> selected, times min(1 * 1 / 20, 1); second: 5 < 10 -> kept
    torch.testing.assert_close(lin.weight, torch.tensor([[0.1, 3.0]]))
    assert float(frac) == 0.5


def test_lf_ssd_uses_no_labels(blobs):
    """Scrambling the labels changes nothing: LF-SSD's edit is label-free."""
    a, _ = run("lf_ssd", blobs)
    (Xf, yf), (Xr, yr) = blobs["forget"], blobs["retain"]
    b = copy.deepcopy(blobs["model"])
    SPECS['lf_ssd'].run(b, (Xf, yf), (Xr, (yr + 1) % 3), None, **hp("lf_ssd"))
    assert state_equal(a, b)


# --- noise, gate, helpers -----------------------------------------------------------------------

def test_learned_noise_maximises_or_minimises_the_error(blobs):
    model = blobs["model"]
    labels = torch.zeros(32, dtype=torch.long)

    def ce(x):
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(model(x), labels))

    start = unsir.learn_noise(model, labels, (2,), maximise=True, steps=0, lr=0.1, l2=0.1,
                          gen=torch.Generator().manual_seed(0))
    up = unsir.learn_noise(model, labels, (2,), maximise=True, steps=40, lr=0.1, l2=0.1,
                       gen=torch.Generator().manual_seed(0))
    down = unsir.learn_noise(model, labels, (2,), maximise=False, steps=40, lr=0.1, l2=0.0,
                         gen=torch.Generator().manual_seed(0))
    assert ce(up) > ce(start) > ce(down)
    assert all(p.grad is None for p in model.parameters())


def test_per_class_subset_is_seeded_and_capped():
    y = torch.tensor([0] * 10 + [1] * 3 + [2] * 7)
    a = unsir.per_class_subset(y, 5, torch.Generator().manual_seed(0))
    b = unsir.per_class_subset(y, 5, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and len(set(a.tolist())) == len(a)
    assert torch.bincount(y[a]).tolist() == [5, 3, 5]


def test_apply_gate():
    logits = torch.tensor([[10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0], [0.0, 0.0, 0.0]])
    keep = gkt.apply_gate(logits, torch.tensor([0]), 0.01)
    assert keep.tolist() == [False, True, True, False]
    keep = gkt.apply_gate(logits, torch.tensor([0, 2]), 0.01)
    assert keep.tolist() == [False, True, False, False]


def test_gkt_student_starts_fresh_but_keeps_input_statistics(blobs):
    m, _ = run("gkt", blobs)
    assert torch.equal(m.standardize.mean, blobs["model"].standardize.mean)
    assert torch.equal(m.standardize.std, blobs["model"].standardize.std)


def test_zero_shot_methods_need_no_retain_set(blobs):
    for name in ("emmn", "gkt"):
        res = unlearn(name, blobs["model"], forget=blobs["forget"], device="cpu", **FAST[name])
        assert res.history and all(math.isfinite(h["loss"]) for h in res.history), name
        assert not state_equal(res.model, blobs["model"]), f"{name} changed nothing"


# --- errors -------------------------------------------------------------------------------------

def test_emmn_and_gkt_refuse_to_forget_every_class(blobs):
    everything = (blobs["X"], blobs["y"])
    for name in ("emmn", "gkt"):
        with pytest.raises(ValueError, match="at least one class that is not forgotten"):
            SPECS[name].run(copy.deepcopy(blobs["model"]), everything, None, None, **hp(name, **FAST[name]))


def test_gkt_with_an_unsure_teacher_says_so(digits):
    untrained = SmallCNN(1, 4, width=4, seed=1)  # about 1/4 for every class: everything is gated out
    with pytest.raises(ValueError, match="never trained"):
        gkt.run_gkt(untrained, digits["forget"], None, None, **hp("gkt", **FAST["gkt"]))


@pytest.mark.parametrize("name", ["bad_teacher", "ssd", "lf_ssd", "scrub", "unsir"])
def test_methods_needing_data_reject_a_missing_or_mismatched_retain_set(blobs, name):
    m = blobs["model"]
    with pytest.raises(ValueError, match="retain"):
        unlearn(name, m, forget=blobs["forget"], device="cpu", **FAST[name])
    Xr, yr = blobs["retain"]
    with pytest.raises(ValueError, match="shape"):
        unlearn(name, m, forget=blobs["forget"], retain=(Xr[:, :1], yr), device="cpu", **FAST[name])
    with pytest.raises(ValueError, match="retain"):
        unlearn(name, m, forget=blobs["forget"], retain=(Xr[:0], yr[:0]), device="cpu", **FAST[name])


@pytest.mark.parametrize("name", METHODS)
def test_empty_forget_set_is_an_error(blobs, name):
    Xf, yf = blobs["forget"]
    with pytest.raises(ValueError, match="empty"):
        unlearn(name, blobs["model"], forget=(Xf[:0], yf[:0]), retain=blobs["retain"], device="cpu", **FAST[name])


@pytest.mark.parametrize("name, bad", [
    ("bad_teacher", dict(retain_fraction=0.0)), ("bad_teacher", dict(retain_fraction=1.5)),
    ("bad_teacher", dict(lr=-1e-3)), ("bad_teacher", dict(batch_size=0)), ("bad_teacher", dict(epochs=1.5)),
    ("ssd", dict(alpha=0.0)), ("ssd", dict(lam=-1.0)), ("lf_ssd", dict(chunk_size=0)),
    ("ssd", dict(importance="mean")), ("lf_ssd", dict(batch_size=0)),
    ("scrub", dict(temperature=0.0)), ("scrub", dict(msteps=-1)), ("scrub", dict(max_grad_norm=0.0)),
    ("unsir", dict(n_noise=0)), ("unsir", dict(noise_l2=-0.1)), ("unsir", dict(retain_per_class=0)),
    ("emmn", dict(noise_lr=0.0)), ("emmn", dict(noise_copies=0)),
    ("gkt", dict(threshold=0.0)), ("gkt", dict(threshold=1.5)), ("gkt", dict(batch_size=1)),
    ("gkt", dict(n_student_iter=-1)),
])
def test_bad_hyperparameters_are_errors(blobs, name, bad):
    m = blobs["model"]
    before = snapshot(m)
    retain = None if SPECS[name].needs == "forget" else blobs["retain"]
    key = next(iter(bad))
    with pytest.raises(ValueError, match=f"{name}: {key} must be"):
        unlearn(name, m, forget=blobs["forget"], retain=retain, device="cpu", **{**FAST[name], **bad})
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items()), "changed before failing"
