import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from unlearn_core import SmallCNN, jit, jit_loss, unlearn
from unlearn_core.methods.jit import scale_for
from unlearn_core.jit_sequential import jit_loss_sequential, jit_sequential
from conftest import requires_cuda, snapshot, state_equal


def distance(model, before) -> float:
    """L2 distance in parameter space between the model and a list of parameter tensors."""
    return math.sqrt(sum(float(((p.detach() - q) ** 2).sum()) for p, q in zip(model.parameters(), before)))


def forget_of(moons, k=12):
    return torch.as_tensor(moons["Xtr"][:k]), torch.as_tensor(moons["ytr"][:k])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_batched_loss_equals_sequential_loop_on_same_noise(moons, reduction):
    model = moons["model"]
    x, _ = forget_of(moons, 7)
    noise = torch.randn(25, *x.shape, generator=torch.Generator().manual_seed(0)) * 0.3
    scale = scale_for(model, x)
    a = jit_loss(model, x, noise, scale=scale, reduction=reduction)
    b = jit_loss_sequential(model, x, noise, scale=scale, reduction=reduction)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    # ... and the same gradient through the clean branch.
    ga = torch.autograd.grad(a, list(model.parameters()))
    gb = torch.autograd.grad(b, list(model.parameters()))
    for u, v in zip(ga, gb):  # float32 sums in another order: about 1e-5 apart on some CPUs
        torch.testing.assert_close(u, v, rtol=1e-4, atol=2e-5)


def test_loss_matches_formula_by_hand():
    """mean_j ||f(x) - f(x+xi_j)|| / ||xi_j|| for a linear model f(x) = W x: = mean_j ||W xi_j|| / ||xi_j||."""
    lin = nn.Linear(3, 2, bias=True)
    x = torch.randn(1, 3)
    noise = torch.randn(5, 1, 3)
    expected = torch.stack([(lin.weight @ n[0]).norm() / n[0].norm() for n in noise]).mean()
    torch.testing.assert_close(jit_loss(lin, x, noise), expected)


def test_chunked_forward_equals_single_forward(moons):
    model = moons["model"]
    x, _ = forget_of(moons, 9)
    noise = torch.randn(25, *x.shape, generator=torch.Generator().manual_seed(1)) * 0.5
    scale = scale_for(model, x)
    full = jit_loss(model, x, noise, scale=scale)
    chunked = jit_loss(model, x, noise, scale=scale, chunk_size=7)
    torch.testing.assert_close(full, chunked)


def test_full_run_matches_sequential_reference_run(moons):
    """The fast loop and the authors'-style loop take the same steps given the same noise stream."""
    X, _ = forget_of(moons, 8)
    a, b = copy.deepcopy(moons["model"]), copy.deepcopy(moons["model"])
    # jit draws noise from a device generator; on the CPU that is the same stream as torch.Generator.
    la = jit(a, X, sigma=0.3, n_samples=10, lr=1e-3, batch_size=2, seed=5, normalize_step="off")
    lb = jit_sequential(b, X, sigma=0.3, n_samples=10, lr=1e-3, batch_size=2, seed=5)
    np.testing.assert_allclose([float(v) for v in la], lb, rtol=1e-4)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-6)


def test_loss_falls_on_the_forget_set(moons):
    model = copy.deepcopy(moons["model"])
    X, _ = forget_of(moons, 20)
    noise = torch.randn(50, *X.shape, generator=torch.Generator().manual_seed(3)) * 0.25
    scale = scale_for(model, X)
    with torch.no_grad():
        before = float(jit_loss(model, X, noise, scale=scale))
    jit(model, X, sigma=0.25, n_samples=25, lr=0.3, batch_size=4, normalize_step="first", epochs=3, seed=0)
    with torch.no_grad():
        after = float(jit_loss(model, X, noise, scale=scale))
    assert after < 0.8 * before


def test_callback_once_per_step_and_history(moons):
    X, y = forget_of(moons, 10)
    calls = []
    res = unlearn("jit", moons["model"], forget=(X, y), device="cpu", batch_size=3, epochs=2,
                  callback=lambda step, loss, model: calls.append((step, loss, model)))
    steps = 2 * math.ceil(10 / 3)
    assert [c[0] for c in calls] == list(range(1, steps + 1))
    assert len(res.history) == steps and [h["step"] for h in res.history] == list(range(1, steps + 1))
    assert all(isinstance(c[1], float) and math.isfinite(c[1]) for c in calls)
    assert [c[1] for c in calls] == pytest.approx([h["loss"] for h in res.history])
    assert calls[0][2] is res.model
    assert res.seconds > 0


def test_input_model_untouched(moons):
    before = snapshot(moons["model"])
    res = unlearn("jit", moons["model"], forget=forget_of(moons), device="cpu")
    after = moons["model"].state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert res.model is not moons["model"]
    assert not state_equal(res.model, moons["model"])


def test_zero_grad_per_step_vs_authors_accumulation(moons):
    """Per-step zeroing: theta2 = theta1 - lr*g2. The authors' accumulation: theta2 = theta1 - lr*(g1 + g2)."""
    X, _ = forget_of(moons, 2)
    base = moons["model"]
    lr, sigma = 1e-3, 0.3
    gen = torch.Generator().manual_seed(0)
    n1 = torch.randn(5, 1, 2, generator=gen) * sigma
    n2 = torch.randn(5, 1, 2, generator=gen) * sigma
    scale = scale_for(base, X)

    def grads(model, x, noise):
        return torch.autograd.grad(jit_loss(model, x, noise, scale=scale), list(model.parameters()))

    m = copy.deepcopy(base)
    g1 = grads(m, X[:1], n1)
    with torch.no_grad():
        for p, g in zip(m.parameters(), g1):
            p -= lr * g
    g2 = grads(m, X[1:2], n2)
    theta1 = [p.detach().clone() for p in m.parameters()]
    fixed_expected = [t - lr * b for t, b in zip(theta1, g2)]
    acc_expected = [t - lr * (a + b) for t, a, b in zip(theta1, g1, g2)]

    fixed, acc = copy.deepcopy(base), copy.deepcopy(base)
    jit(fixed, X, sigma=sigma, n_samples=5, lr=lr, batch_size=1, seed=0, normalize_step="off")
    jit(acc, X, sigma=sigma, n_samples=5, lr=lr, batch_size=1, seed=0, accumulate_grad=True, normalize_step="off")
    for p, e in zip(fixed.parameters(), fixed_expected):
        torch.testing.assert_close(p.detach(), e, rtol=1e-5, atol=1e-7)
    for p, e in zip(acc.parameters(), acc_expected):
        torch.testing.assert_close(p.detach(), e, rtol=1e-5, atol=1e-7)


def test_sum_reduction_scales_with_batch(moons):
    x, _ = forget_of(moons, 6)
    noise = torch.randn(10, *x.shape, generator=torch.Generator().manual_seed(0)) * 0.2
    m = moons["model"]
    s = jit_loss(m, x, noise, reduction="sum")
    mu = jit_loss(m, x, noise, reduction="mean")
    torch.testing.assert_close(s, mu * 6)


def test_normalize_step_first_step_has_length_lr(moons):
    X, _ = forget_of(moons, 1)
    m = copy.deepcopy(moons["model"])
    before = [p.detach().clone() for p in m.parameters()]
    jit(m, X, sigma=0.25, n_samples=25, lr=0.05, normalize_step="first", seed=0)
    assert distance(m, before) == pytest.approx(0.05, rel=1e-4)


def test_train_mode_option_uses_dropout():
    net = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 2))
    X = torch.randn(4, 2)
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    torch.manual_seed(0)
    la = jit(a, X, sigma=0.1, n_samples=5, lr=1e-3, batch_size=1, seed=0, normalize_step="off")
    torch.manual_seed(0)
    lb = jit(b, X, sigma=0.1, n_samples=5, lr=1e-3, batch_size=1, seed=0, train_mode=True, normalize_step="off")
    # Eval mode: the loss is deterministic given the noise; train mode adds a dropout term.
    assert not torch.allclose(torch.stack(la), torch.stack(lb))
    assert not a.training and not b.training


def test_clamp_keeps_perturbations_in_batch_range():
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 2)

        def forward(self, x):
            seen.append(x.detach().clone())
            return self.lin(x)

    x = torch.rand(3, 4)
    noise = torch.randn(6, 3, 4) * 5
    jit_loss(Spy(), x, noise, clamp=True)
    pert = seen[0]
    assert pert.min() >= x.min() - 1e-6 and pert.max() <= x.max() + 1e-6


def test_any_module_and_image_shapes():
    cnn = SmallCNN(seed=0)
    X = torch.randn(5, 1, 8, 8)
    before = snapshot(cnn)
    res = unlearn("jit", cnn, forget=(X, torch.zeros(5, dtype=torch.long)), device="cpu",
                  sigma=0.5, lr=1e-3, batch_size=2, normalize_step="off")
    assert len(res.history) == 3
    assert all(torch.equal(before[k], v) for k, v in cnn.state_dict().items())
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    res = unlearn("jit", plain, forget=(X, torch.zeros(5, dtype=torch.long)), device="cpu", batch_size=5)
    assert len(res.history) == 1 and math.isfinite(res.history[0]["loss"])


def test_reproduce_authors_sets_every_option_and_switches_off_ours(moons):
    X, _ = forget_of(moons, 4)
    a, b = copy.deepcopy(moons["model"]), copy.deepcopy(moons["model"])
    # the 2-D defaults ask for the scale-free step and standardised noise: reproduce_authors overrides both
    jit(a, X, sigma=0.3, n_samples=5, lr=1e-5, batch_size=2, seed=0, reproduce_authors=True, normalize_step="first",
        gradient="full")
    jit(b, X, sigma=0.3, n_samples=5, lr=1e-5, batch_size=2, seed=0, accumulate_grad=True, reduction="sum",
        train_mode=True, clamp=True, normalize_step="off", scale_noise=False, gradient="detached")
    assert state_equal(a, b) and not state_equal(a, moons["model"])


def authors_modify_weight(model, X, *, sigma, n_samples, lr, batch_size, seed):
    """A line-by-line transcription of the authors' ``Lipschitz.modify_weight`` loop (jwf40/Information-Theoretic-
    Unlearning, src/lipschitz.py; reference/PAPER.md sections 1-2), with one change: the noise is drawn from a seeded
    generator, N draws per batch in one call, so that it equals the library's draws."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    model.train()                                       # left in train mode
    optimizer.zero_grad()                               # once, before the loop
    for start in range(0, len(X), batch_size):          # unshuffled forget batches, one pass
        x = X[start:start + batch_size]
        noise = torch.randn((n_samples, *x.shape), generator=gen)
        out = model(x)                                  # the clean forward, with graph
        loss = torch.tensor(0.0)
        for i in range(n_samples):
            with torch.no_grad():                       # the perturbed branch is detached
                x_p = x + sigma * noise[i]              # noise in input units
                x_p = torch.clamp(x_p, min=torch.min(x), max=torch.max(x))  # batch-global clamp
                out_p = model(x_p)
            diff = torch.sqrt(torch.sum((out - out_p) ** 2, dim=1))
            in_diff = torch.sqrt(torch.sum((x - x_p).reshape(len(x), -1) ** 2, dim=1))  # post-clamp distance
            loss += torch.sum(diff / in_diff)           # summed over the batch
        loss /= n_samples                               # mean over N
        loss.backward()
        optimizer.step()                                # no zero_grad: the gradients accumulate


def test_reproduce_authors_matches_a_literal_transcription_of_their_loop(moons):
    """On the project's MLP (no dropout, no BatchNorm; it standardises inside, which the authors' noise ignores)."""
    X, _ = forget_of(moons, 10)
    ours, theirs = copy.deepcopy(moons["model"]), copy.deepcopy(moons["model"])
    hp = dict(sigma=0.3, n_samples=7, lr=3e-4, batch_size=5, seed=3)  # two accumulated steps
    jit(ours, X, reproduce_authors=True, **hp)
    authors_modify_weight(theirs, X, **hp)
    moved = max(float((p - q).detach().abs().max()) for p, q in zip(ours.parameters(), moons["model"].parameters()))
    assert moved > 1e-2, "the runs barely moved: the comparison would prove little"
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6, msg=f"{name} differs from the authors' loop")


def test_full_gradient_is_the_autograd_gradient_of_the_literal_formula(moons):
    model = moons["model"]
    x, _ = forget_of(moons, 5)
    noise = torch.randn(9, *x.shape, generator=torch.Generator().manual_seed(1)) * 0.25
    scale = scale_for(model, x)
    params = list(model.parameters())
    got = torch.autograd.grad(jit_loss(model, x, noise, scale=scale, gradient="full"), params)
    # l(x) = (1/N) sum_j ||f(x) - f(x + scale xi_j)|| / ||xi_j||, averaged over the batch, every branch differentiated
    terms = [(model(x) - model(x + noise[j] * scale)).norm(dim=1) / noise[j].norm(dim=1) for j in range(len(noise))]
    want = torch.autograd.grad(torch.stack(terms).mean(0).mean(), params)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-4, atol=1e-6)
    detached = torch.autograd.grad(jit_loss(model, x, noise, scale=scale, gradient="detached"), params)
    assert any(not torch.allclose(g, d, atol=1e-4) for g, d in zip(got, detached)), "the two gradients coincide"


def test_probe_step_with_a_summed_loss_is_not_batch_size_times_too_long(moons):
    """The probe norm is of a batch-mean loss: with reduction="sum" the first step must keep length ~lr."""
    X, _ = forget_of(moons, 8)
    lengths = {}
    for reduction in ("mean", "sum"):
        m = copy.deepcopy(moons["model"])
        before = [p.detach().clone() for p in m.parameters()]
        jit(m, X, sigma=0.25, n_samples=25, lr=0.05, batch_size=8, normalize_step="probe", reduction=reduction, seed=0)
        lengths[reduction] = float(torch.linalg.vector_norm(torch.cat([(p - b).detach().flatten() for p, b in
                                                                        zip(m.parameters(), before)])))
    assert lengths["sum"] == pytest.approx(lengths["mean"], rel=1e-4)


@pytest.mark.parametrize("bad, match", [
    (dict(sigma=0), "sigma"), (dict(n_samples=0), "n_samples"), (dict(lr=-1), "lr"),
    (dict(batch_size=0), "batch_size"), (dict(reduction="max"), "reduction"), (dict(amp=True), "CUDA"),
])
def test_bad_hyperparameters(moons, bad, match):
    if "amp" in bad and torch.cuda.is_available():
        pytest.skip("amp is valid with a GPU")
    with pytest.raises(ValueError, match=match):
        unlearn("jit", moons["model"], forget=forget_of(moons), device="cpu", **bad)


def test_cpu_runs_are_deterministic(moons):
    a = unlearn("jit", moons["model"], forget=forget_of(moons), device="cpu", seed=4)
    b = unlearn("jit", moons["model"], forget=forget_of(moons), device="cpu", seed=4)
    c = unlearn("jit", moons["model"], forget=forget_of(moons), device="cpu", seed=5)
    assert state_equal(a.model, b.model) and a.history == b.history
    assert not state_equal(a.model, c.model)


@requires_cuda
@pytest.mark.gpu
@pytest.mark.parametrize("amp", [False, True])
def test_cuda_path(moons, amp):
    X, y = forget_of(moons, 16)
    res = unlearn("jit", moons["model"], forget=(X, y), device="cuda", amp=amp, batch_size=4)
    assert next(res.model.parameters()).device.type == "cuda"
    assert len(res.history) == 4 and all(math.isfinite(h["loss"]) for h in res.history)
    # The same run on the CPU gives a loss of the same size (different RNG streams, bf16).
    cpu = unlearn("jit", moons["model"], forget=(X, y), device="cpu", batch_size=4)
    assert res.history[0]["loss"] == pytest.approx(cpu.history[0]["loss"], rel=0.3)


def test_probe_normalised_step(moons):
    """'first': every forget set's first step has length lr. 'probe': lr is the step length for typical
    inputs, so the first step's length depends on how steep the logits are at the forget point."""
    model = moons["model"]
    X = moons["Xtr"]
    with torch.no_grad():
        p = torch.softmax(model(torch.as_tensor(X)), 1).max(1).values.numpy()
    sharp, flat = int(np.argmin(p)), int(np.argmax(p))

    def first_step(i, mode):
        m = copy.deepcopy(model)
        before = [q.detach().clone() for q in m.parameters()]
        jit(m, torch.as_tensor(X[i:i + 1]), sigma=0.25, n_samples=25, lr=0.05, normalize_step=mode, seed=0)
        return distance(m, before)

    assert first_step(sharp, "first") == pytest.approx(0.05, rel=1e-4)
    assert first_step(flat, "first") == pytest.approx(0.05, rel=1e-4)
    a, b = first_step(sharp, "probe"), first_step(flat, "probe")
    assert a > 0 and b > 0 and not a == pytest.approx(b, rel=0.2)
    with pytest.raises(ValueError, match="input_center"):
        jit(nn.Sequential(nn.Linear(2, 2)), torch.randn(3, 2), sigma=0.1, n_samples=3, lr=0.1, normalize_step="probe")
    with pytest.raises(ValueError, match="normalize_step"):
        jit(copy.deepcopy(model), torch.randn(3, 2), sigma=0.1, n_samples=3, lr=0.1, normalize_step="weird")
