"""The forgetting audit: epsilon, points, U-LiRA on samples with known answers; run_audit end to end."""
import json
import math

import numpy as np
import pytest
import torch

import toy_data
from unlearn_core import MLP, fit, scenarios, unlearn
from unlearn_core.audit import (EPSILON_CAP, PROTOCOLS, epsilon_max, epsilon_points, final_score, forget_quality,
                                logit_confidence, per_example_epsilon, run_audit, ulira_accuracy)
from unlearn_core.ensemble import fit_ensemble


def brute_force_epsilon(u, r, delta=1e-5):
    """An independent, literal transcription of the challenge's rules (slow: one comparison per model and threshold)."""
    pos, neg = (r, u) if np.median(r) > np.median(u) else (u, r)
    pd, nd = np.ptp(pos), np.ptp(neg)
    if max(pd, nd) > 0 and min(pd, nd) / max(pd, nd) < 0.01:
        return EPSILON_CAP
    lo, hi = min(pos.min(), neg.min()), max(pos.max(), neg.max())
    rates = [(np.mean(neg >= t), np.mean(pos < t)) for t in np.linspace(lo, hi, math.ceil((hi - lo) * 100))]
    peaky, wide = (neg, pos) if pd >= nd else (pos, neg)
    w = min(pd, nd)
    r_lo, r_hi = peaky.min() + w - 2, peaky.max() + 2
    for right in np.linspace(r_lo, r_hi, math.ceil((r_hi - r_lo) * 100)):
        left = np.linspace(right - w - 2, right - w + 2, 400)[:, None]  # one row per left threshold
        fpr = np.mean((wide >= left) & (wide <= right), axis=1)
        fnr = 1 - np.mean((peaky >= left) & (peaky <= right), axis=1)
        rates += list(zip(fpr, fnr))
    fpr, fnr = np.array(rates).T
    if np.any((fpr == 0) & (fnr == 0)):
        return EPSILON_CAP
    keep = (fpr > 0) & (fnr > 0)  # exactly one rate at 0: discarded
    with np.errstate(all="ignore"):
        e = np.fmax(np.log(1 - delta - fpr[keep]) - np.log(fnr[keep]), np.log(1 - delta - fnr[keep]) - np.log(fpr[keep]))
    best = max(0.0, float(np.nanmax(e))) if np.any(~np.isnan(e)) else 0.0
    return min(best, EPSILON_CAP)


def test_epsilon_matches_a_literal_transcription_of_the_rules():
    rng = np.random.default_rng(1)
    for _ in range(5):
        u = rng.normal(rng.uniform(-1.5, 1.5), rng.uniform(0.3, 2), 12)
        r = rng.normal(0, 1, 12)
        assert per_example_epsilon(u[:, None], r[:, None])[0] == pytest.approx(brute_force_epsilon(u, r), abs=1e-9)


def test_identical_samples_give_zero_and_separated_give_the_cap():
    rng = np.random.default_rng(0)
    A = rng.normal(0, 1, (64, 10))
    assert np.allclose(per_example_epsilon(A, A.copy()), 0, atol=1e-4)
    assert np.all(per_example_epsilon(A + 20, A) == EPSILON_CAP)
    assert np.all(per_example_epsilon(A, A + 20) == EPSILON_CAP)
    # both samples constant: equal -> 0, different -> the cap
    c = np.ones((16, 1))
    assert per_example_epsilon(c, c)[0] == pytest.approx(0, abs=1e-4)
    assert per_example_epsilon(c, c + 1)[0] == EPSILON_CAP
    # the spread rule: a spike next to a spread sample is the cap
    assert per_example_epsilon(np.full((64, 1), 0.3), A[:, :1])[0] == EPSILON_CAP


@pytest.mark.slow
def test_epsilon_grows_with_the_shift_and_iid_samples_sit_at_the_estimators_floor():
    rng = np.random.default_rng(2)
    R = rng.normal(0, 1, (64, 40))
    same = per_example_epsilon(rng.normal(0, 1, (64, 40)), R).mean()
    small = per_example_epsilon(rng.normal(1.0, 1, (64, 40)), R).mean()
    big = per_example_epsilon(rng.normal(2.5, 1, (64, 40)), R).mean()
    # A max over thousands of thresholds with 64 models: i.i.d. samples score about 1.5, not 0 (the
    # audit's floor row shows this), far below the resolvable maximum ceil(ln 63) = 5.
    assert 0.5 < same < 2.5 < small < big
    assert big > 3.0


def test_thresholds_describe_the_winning_attack():
    rng = np.random.default_rng(3)
    U, R = rng.normal(3, 1, (64, 3)), rng.normal(0, 1, (64, 3))
    eps, rules = per_example_epsilon(U, R, return_thresholds=True)
    for e, rule in zip(eps, rules):
        assert rule.kind in ("single", "band") and rule.positive in ("unlearned", "retrained")
        assert 0 <= rule.fpr <= 1 and 0 <= rule.fnr <= 1
        recomputed = max(np.log(1 - 1e-5 - rule.fpr) - np.log(rule.fnr), np.log(1 - 1e-5 - rule.fnr) - np.log(rule.fpr))
        assert recomputed == pytest.approx(e, rel=1e-9)


def test_points_buckets_and_forget_quality():
    assert epsilon_max(512) == 7 and epsilon_max(64) == 5
    pts = epsilon_points([0, 0.49, 0.5, 0.99, 1.0, 4.6, 5.0, 50], 64)
    assert pts.tolist() == [1, 1, 0.5, 0.5, 0.25, 0.5 ** 9, 0, 0]
    assert forget_quality([0, 0, 50, 50], 64) == 0.5
    assert final_score(0.5, 0.9, 1.0, 0.8, 0.8) == pytest.approx(0.45)
    with pytest.raises(ValueError, match="at least 3 models"):
        epsilon_max(2)


def test_ulira_accuracy_half_for_identical_one_for_separated():
    rng = np.random.default_rng(4)
    R = rng.normal(0, 1, (64, 50))
    assert ulira_accuracy(rng.normal(0, 1, (64, 50)), R).mean() == pytest.approx(0.5, abs=0.05)
    assert np.all(ulira_accuracy(rng.normal(8, 1, (64, 50)), R) == 1.0)
    assert np.all(ulira_accuracy(R.copy(), R) == 0.5)  # the very same values: ties everywhere
    mid = ulira_accuracy(rng.normal(1.0, 1, (64, 50)), R).mean()
    assert 0.6 < mid < 0.8  # two unit Gaussians one sd apart: the Bayes accuracy is 0.69


def test_logit_confidence_is_stable_and_exact():
    logits = np.array([[[2.0, 0.0, -1.0], [100.0, 0.0, 0.0]]])  # [1 model, 2 examples, 3 classes]
    s = logit_confidence(logits, [0, 0])
    p = np.exp(2) / (np.exp(2) + 1 + np.exp(-1))
    assert s[0, 0] == pytest.approx(np.log(p) - np.log(1 - p))
    assert s[0, 1] == pytest.approx(100 - np.log(2))  # finite although p_y rounds to 1


def test_bad_samples_are_refused():
    with pytest.raises(ValueError, match="same number of examples"):
        per_example_epsilon(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="finite"):
        per_example_epsilon(np.full((4, 1), np.nan), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="at least 4 models"):
        ulira_accuracy(np.zeros((2, 1)), np.zeros((2, 1)))


@pytest.fixture(scope="module")
def small_audit():
    X, y = toy_data.make_dataset("moons", n_samples=160, seed=0)
    Xtr, Xte, ytr, yte, _, _ = toy_data.train_test_split(X, y, seed=0)
    rows = scenarios.random_points(len(ytr), 6, 0)
    stages = []
    res = run_audit(lambda s: MLP(2, 2, hidden=(16, 16), seed=s), (Xtr, ytr), rows, (Xte, yte), K=8,
                    methods=["jit", "finetune", "neggrad_plus"], recipe=dict(epochs=15),
                    overrides={"finetune": dict(epochs=2), "neggrad_plus": dict(epochs=2)}, retain_sample=5,
                    progress=lambda stage, f: stages.append((stage, f)))
    return res, stages, rows


def test_run_audit_end_to_end(small_audit):
    res, stages, rows = small_audit
    assert res.K == 8 and sorted(res.forget_rows.tolist()) == sorted(rows.tolist())
    assert len(res.retain_rows) == 5 and not set(res.retain_rows) & set(rows)
    assert list(res.scores) == ["jit", "finetune", "neggrad_plus", "retrain", "original"]
    assert res.scores["retrain"].role == "floor" and res.scores["original"].role == "ceiling"
    assert not res.scores["neggrad_plus"].batched and res.scores["jit"].batched
    for s in res.scores.values():
        assert s.conf_forget.shape == (8, 6) and s.conf_retain.shape == (8, 5)
        assert s.eps.shape == (6,) and np.all((s.eps >= 0) & (s.eps <= EPSILON_CAP))
        assert np.all((s.ulira >= 0) & (s.ulira <= 1))
        assert 0 <= s.F <= 1 and 0 <= s.acc_retain <= 1 and 0 <= s.acc_test_worst <= s.acc_test
    # seeds: originals, reference retrains and floor retrains never share a member
    assert not set(res.seeds["original"]) & set(res.seeds["retrain"]) and not set(res.seeds["retrain"]) & set(res.seeds["floor"])
    # progress reaches 1 and never goes back
    fr = [f for _, f in stages]
    assert fr == sorted(fr) and fr[-1] == pytest.approx(1.0)
    assert {"original", "retrain", "jit"} <= {s for s, _ in stages}
    # the JSON form round-trips through json
    d = json.loads(json.dumps(res.to_dict()))
    assert d["K"] == 8 and len(d["methods"]["jit"]["eps"]) == 6 and d["eps_max"] == 2


def test_run_audit_refuses_bad_requests():
    X, y = toy_data.make_dataset("moons", n_samples=40, seed=0)
    mk = lambda s: MLP(2, 2, hidden=(4,), seed=s)  # noqa: E731
    with pytest.raises(ValueError, match="K >= 4"):
        run_audit(mk, (X, y), [0], (X, y), K=2)
    with pytest.raises(ValueError, match="empty"):
        run_audit(mk, (X, y), [], (X, y), K=4)
    with pytest.raises(ValueError, match="whole training set"):
        run_audit(mk, (X, y), np.arange(40), (X, y), K=4)
    with pytest.raises(ValueError, match="unknown method"):
        run_audit(mk, (X, y), [0], (X, y), K=4, methods=["nope"])
    with pytest.raises(ValueError, match="must lie in"):
        run_audit(mk, (X, y), [99], (X, y), K=4)
    with pytest.raises(ValueError, match="unknown audit protocol"):
        run_audit(mk, (X, y), [0], (X, y), K=4, protocol="nope")


@pytest.mark.slow
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_batched_and_one_by_one_audits_agree(protocol):
    X, y = toy_data.make_dataset("moons", n_samples=100, seed=1)
    Xtr, Xte, ytr, yte, _, _ = toy_data.train_test_split(X, y, seed=1)
    kw = dict(K=5, methods=["jit"], recipe=dict(epochs=6), retain_sample=4, protocol=protocol)
    mk = lambda s: MLP(2, 2, hidden=(8,), seed=s)  # noqa: E731
    a = run_audit(mk, (Xtr, ytr), [0, 3, 9], (Xte, yte), **kw)
    b = run_audit(mk, (Xtr, ytr), [0, 3, 9], (Xte, yte), batched=False, **kw)
    assert not b.scores["jit"].batched and a.scores["jit"].batched
    for name in a.scores:
        assert np.allclose(a.scores[name].conf_forget, b.scores[name].conf_forget, atol=1e-3)
        assert a.scores[name].acc_test == b.scores[name].acc_test


def test_a_method_that_refuses_the_forget_set_is_reported_and_the_rest_kept():
    X, y = toy_data.make_dataset("moons", n_samples=100, seed=1)
    Xtr, Xte, ytr, yte, _, _ = toy_data.train_test_split(X, y, seed=1)
    rows = [int(np.flatnonzero(ytr == 0)[0]), int(np.flatnonzero(ytr == 1)[0])]  # both classes: EMMN refuses
    res = run_audit(lambda s: MLP(2, 2, hidden=(8,), seed=s), (Xtr, ytr), rows, (Xte, yte), K=4,
                    methods=["emmn", "jit"], recipe=dict(epochs=4), retain_sample=3)
    assert "emmn" in res.errors and "could not run" in res.errors["emmn"]
    assert "jit" in res.scores and "emmn" not in res.scores and res.to_dict()["errors"] == res.errors


# --- the two protocols ----------------------------------------------------------------------------

TINY_MLP = dict(hidden=(8,))


@pytest.fixture(scope="module")
def tiny():
    X, y = toy_data.make_dataset("moons", n_samples=100, seed=1)
    Xtr, Xte, ytr, yte, _, _ = toy_data.train_test_split(X, y, seed=1)
    return (Xtr, ytr), (Xte, yte), [0, 3, 9, 20]


def _audit(tiny, protocol, methods=("jit",), seed=1):
    train, test, rows = tiny
    return run_audit(lambda s: MLP(2, 2, seed=s, **TINY_MLP), train, rows, test, K=4, methods=list(methods),
                     recipe=dict(epochs=5), retain_sample=3, seed=seed, protocol=protocol)


def test_both_protocols_run_and_say_which_they_are(tiny):
    a, b = _audit(tiny, "challenge"), _audit(tiny, "originals")
    assert a.protocol == "challenge" and b.protocol == "originals"
    assert json.loads(json.dumps(a.to_dict()))["protocol"] == "challenge"
    # challenge: one original, trained with the run's seed; originals: K of them, seeds seed*3K + k
    assert a.seeds["original"] == [1] and b.seeds["original"] == list(range(12, 16))
    assert a.seeds["method"] == b.seeds["method"] == list(range(12, 16))
    for res in (a, b):
        assert list(res.scores) == ["jit", "retrain", "original"]
        assert set(res.seeds["method"]).isdisjoint(res.seeds["retrain"] + res.seeds["floor"])
        assert set(res.seeds["original"]).isdisjoint(res.seeds["retrain"] + res.seeds["floor"])
        assert res.scores["jit"].conf_forget.shape == (4, 4) and not res.scores["jit"].no_spread
    # the retrained reference and floor do not depend on the protocol
    assert np.array_equal(a.reference["conf_forget"], b.reference["conf_forget"])
    assert np.array_equal(a.scores["retrain"].eps, b.scores["retrain"].eps)
    assert run_audit.__kwdefaults__["protocol"] == "challenge"


def test_challenge_unlearns_copies_of_one_original_each_with_its_own_seed(tiny):
    train, test, rows = tiny
    res = _audit(tiny, "challenge")
    # Before unlearning (the ceiling row) every member is the same model: identical confidences.
    ceiling = res.scores["original"].conf_forget
    assert np.array_equal(ceiling, np.broadcast_to(ceiling[:1], ceiling.shape))
    assert res.scores["original"].no_spread and np.all(res.scores["original"].eps == EPSILON_CAP)
    # The one original is the bench's: fit(make_model(seed), seed=seed) with the same recipe ...
    X, y = train
    original = MLP(2, 2, seed=1, **TINY_MLP)
    fit(original, X, y, epochs=5, seed=1, device="cpu")
    one = fit_ensemble(lambda s: MLP(2, 2, seed=s, **TINY_MLP), X, y, seeds=[1], epochs=5, device="cpu")
    copies = one.repeat(res.seeds["method"])
    assert copies.seeds == res.seeds["method"]
    for k in range(len(copies)):
        assert all(torch.equal(v[k], v[0]) for v in copies.params.values())
    Xf, yf = torch.as_tensor(X[rows], dtype=torch.float32), np.asarray(y[rows])
    assert np.allclose(logit_confidence(copies.logits(Xf), yf), ceiling, atol=1e-4)
    assert np.allclose(logit_confidence(original(Xf).detach()[None], yf)[0], ceiling[0], atol=1e-4)
    # ... and member k after unlearning is unlearn(jit, that original, seed=s_k): the copies differ only there.
    keep = np.setdiff1d(np.arange(len(X)), rows)
    for k, s in enumerate(res.seeds["method"]):
        r = unlearn("jit", original, forget=(Xf, yf), retain=(X[keep], y[keep]), device="cpu", seed=s)
        assert np.allclose(logit_confidence(r.model(Xf).detach()[None], yf)[0],
                           res.scores["jit"].conf_forget[k], atol=1e-4)
    assert np.ptp(res.scores["jit"].conf_forget, axis=0).max() > 1e-4  # the seeds do spread the copies
    # Under "originals" the ceiling's members are K different models.
    assert np.ptp(_audit(tiny, "originals", methods=()).scores["original"].conf_forget, axis=0).min() > 1e-3


def test_a_deterministic_method_under_challenge_has_no_spread_and_hits_the_cap(tiny):
    a = _audit(tiny, "challenge", methods=("ssd",))
    ssd = a.scores["ssd"]
    assert ssd.no_spread and np.all(ssd.eps == EPSILON_CAP) and ssd.F == 0.0
    assert ssd.spread_capped == len(ssd.eps) and all(t is None for t in ssd.thresholds)
    assert a.to_dict()["methods"]["ssd"]["no_spread"] is True
    # The same method against K different originals has a spread and a measured epsilon.
    b = _audit(tiny, "originals", methods=("ssd",))
    assert not b.scores["ssd"].no_spread and not b.scores["original"].no_spread
    assert not a.scores["retrain"].no_spread
