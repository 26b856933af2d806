"""The forgetting audit: was each forget point really forgotten, judged against the retrain distribution?

Population MIAs (one attacker for all points, as the paper's entropy MIA) overstate privacy
(Hayes et al., arXiv 2403.01218). The strong tests compare, *per point*, the distribution of a
statistic over many unlearned models with its distribution over many models retrained without the
point. Here, with K models of each (trained at once by ``unlearn_core.ensemble``):

- the statistic is the logit-scaled confidence s = log p_y - log(1 - p_y), computed stably from
  the logits (``logit_confidence``);
- ``per_example_epsilon``: the NeurIPS 2023 unlearning challenge's per-example epsilon
  (google-deepmind/unlearning_evaluation, ``metric.py``): single- and double-threshold attacks
  on a grid of 100 thresholds per unit of s, delta = 1e-5, clipped to [0, 50]; 0 means the two
  samples cannot be told apart, 50 (the cap) means they separate perfectly;
- ``epsilon_points`` / ``forget_quality``: the challenge's buckets (0.5 wide up to
  ceil(ln(K - 1)), bucket k earns 2^-k points) and F, the mean points over the forget set
  (1 = indistinguishable from retraining); ``final_score`` = F x (RA_U / RA_R) x (TA_U / TA_R);
- ``ulira_accuracy``: a U-LiRA-style likelihood-ratio attack: a Gaussian fitted to each sample
  on half of the models, and the accuracy of the ratio test on the other half (two folds,
  balanced); 0.5 = indistinguishable, 1 = always told apart.

``run_audit`` does the whole experiment: 2K retrains (K as the reference and K more for the
floor: what a perfect method scores with K models), K unlearned models per method, and the scores
for the forget set and for a sample of retained points (unlearning can disturb those too). The
original models, not unlearned at all, are the ceiling. Two protocols (``PROTOCOLS``) say where the
K unlearned models come from:

- ``"challenge"`` (the default; google-deepmind/unlearning_evaluation, ``main.py:144-180``): *one*
  original, trained with the run's seed, is copied K times and each copy unlearned with its own
  seed, so the K models differ only by the method's randomness. A deterministic method (SSD,
  LF-SSD) and the ceiling (K copies of one model) then have no spread at all: every point's epsilon
  is the cap by the spread rule, whatever the method did (``Scores.no_spread`` flags it);
- ``"originals"``: K originals trained with K seeds, each unlearned once, so the spread of
  training is part of what is measured.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

from unlearn_core.data import as_xy, resolve_device
from unlearn_core.ensemble import Ensemble, fit_ensemble, unlearn_ensemble
from unlearn_core.methods import METHODS
from unlearn_core.training import FIT_DEFAULTS

DELTA = 1e-5
EPSILON_CAP = 50.0
THRESHOLDS_PER_UNIT = 100
BAND_BUFFER = 2.0
#: Where the K unlearned models come from (see the module docstring); "challenge" is the default.
PROTOCOLS = ("challenge", "originals")
#: A sample whose spread (max - min) over the K models is at most this (relative to 1 + |s|) counts as
#: no spread at all: K identical models.
NO_SPREAD_TOL = 1e-6


# --- the statistic ------------------------------------------------------------------------------

def logit_confidence(logits, y) -> np.ndarray:
    """s = log p_y - log(1 - p_y) for logits [..., n, C] and labels y [n]; float64 [..., n].

    Computed as logit_y - logsumexp(other logits), which is exact and finite where the softmax
    would round p_y to 1.
    """
    z = torch.as_tensor(logits).double()
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    idx = y.expand(*z.shape[:-1]).unsqueeze(-1)
    correct = z.gather(-1, idx).squeeze(-1)
    others = z.scatter(-1, idx, float("-inf"))
    return (correct - torch.logsumexp(others, -1)).numpy()


# --- per-example epsilon ------------------------------------------------------------------------

@dataclass
class Threshold:
    """The attack that achieved a point's epsilon: "single" (positive iff s >= right) or "band"
    (positive iff left <= s <= right); ``positive`` names which sample the rule calls positive."""
    kind: str
    left: float | None
    right: float | None
    positive: str  # "unlearned" or "retrained"
    fpr: float
    fnr: float

    def to_dict(self) -> dict:
        return dict(kind=self.kind, left=self.left, right=self.right, positive=self.positive,
                    fpr=self.fpr, fnr=self.fnr)


def _eps_from_rates(fpr: np.ndarray, fnr: np.ndarray, delta: float) -> np.ndarray:
    """Epsilon per threshold: inf where both rates are 0, NaN (discarded) where exactly one is."""
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(1 - delta - fpr) - np.log(fnr)
        b = np.log(1 - delta - fnr) - np.log(fpr)
    both_nan = np.isnan(a) & np.isnan(b)
    eps = np.where(both_nan, np.nan, np.fmax(a, b))
    eps = np.clip(eps, 0, None)
    eps = np.where((fpr == 0) & (fnr == 0), np.inf, eps)
    eps = np.where(((fpr == 0) ^ (fnr == 0)), np.nan, eps)
    return eps


def _count_le(sorted_vals: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_vals, t, side="right")


def _count_lt(sorted_vals: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.searchsorted(sorted_vals, t, side="left")


def _one_epsilon(pos: np.ndarray, neg: np.ndarray, delta: float, cap: float):
    """Epsilon for one example from its positive (larger median) and negative samples."""
    pos_diff, neg_diff = float(np.ptp(pos)), float(np.ptp(neg))
    largest, smallest = max(pos_diff, neg_diff), min(pos_diff, neg_diff)
    if largest > 0 and smallest / largest < 0.01:
        # One sample is a spike next to a spread one: the challenge assigns the cap outright.
        return cap, None
    ps, ns = np.sort(pos), np.sort(neg)
    # Single threshold: positive iff s >= t, t on the pooled range.
    lo, hi = min(ps[0], ns[0]), max(ps[-1], ns[-1])
    t = np.linspace(lo, hi, int(math.ceil((hi - lo) * THRESHOLDS_PER_UNIT)))
    tpr_s = 1 - _count_lt(ps, t) / len(ps)
    fpr_s = 1 - _count_lt(ns, t) / len(ns)
    # Double threshold (band): the peakier sample is positive iff left <= s <= right.
    bp, bn, swapped = ps, ns, False
    if pos_diff >= neg_diff:
        bp, bn, swapped = ns, ps, True
    width = smallest
    r_lo, r_hi = bp[0] + width - BAND_BUFFER, bp[-1] + BAND_BUFFER
    right = np.linspace(r_lo, r_hi, int(math.ceil((r_hi - r_lo) * THRESHOLDS_PER_UNIT)))
    n_left = int(math.ceil(2 * BAND_BUFFER * THRESHOLDS_PER_UNIT))
    left = np.linspace(right - width - BAND_BUFFER, right - width + BAND_BUFFER, n_left, axis=1)  # [R, L]
    rr = np.broadcast_to(right[:, None], left.shape)

    def inside(vals):
        return np.clip(_count_le(vals, rr) - _count_lt(vals, left), 0, None) / len(vals)
    tpr_d, fpr_d = inside(bp).ravel(), inside(bn).ravel()
    fpr = np.concatenate([fpr_d, fpr_s])
    fnr = np.concatenate([1 - tpr_d, 1 - tpr_s])
    eps = _eps_from_rates(fpr, fnr, delta)
    if np.all(np.isnan(eps)):
        return 0.0, None
    best = int(np.nanargmax(eps))
    value = float(min(np.nanmax(eps), cap))
    n_band = len(fpr_d)
    if best < n_band:
        i, j = divmod(best, left.shape[1])
        thr = Threshold("band", float(left[i, j]), float(right[i]), "neg" if swapped else "pos",
                        float(fpr[best]), float(fnr[best]))
    else:
        thr = Threshold("single", None, float(t[best - n_band]), "pos", float(fpr[best]), float(fnr[best]))
    return value, thr


def per_example_epsilon(unlearned, retrained, *, delta: float = DELTA, cap: float = EPSILON_CAP,
                        return_thresholds: bool = False):
    """The challenge's per-example epsilon for samples ``unlearned`` [N, n] and ``retrained`` [M, n].

    Row = model, column = example; values are logit-scaled confidences. Per example, the sample
    with the larger median is "positive"; every single- and double-threshold rule on the grid gives
    an FPR (over the negative models) and an FNR (over the positive ones), hence
    eps = max(log(1 - delta - FPR) - log FNR, log(1 - delta - FNR) - log FPR), floored at 0;
    rules where exactly one rate is 0 are discarded (too few models to say), both 0 means perfect
    separation (infinite). The example's epsilon is the maximum, clipped to [0, cap]. Returns
    eps [n] (and, with ``return_thresholds``, the winning rule per example, None where the
    spread rule or a tie decided).
    """
    U = np.asarray(unlearned, dtype=np.float64)
    R = np.asarray(retrained, dtype=np.float64)
    if U.ndim != 2 or R.ndim != 2 or U.shape[1] != R.shape[1]:
        raise ValueError(f"expected [models, examples] arrays with the same number of examples, "
                         f"got {U.shape} and {R.shape}")
    if len(U) < 2 or len(R) < 2:
        raise ValueError("per-example epsilon needs at least 2 models in each sample")
    if not (np.isfinite(U).all() and np.isfinite(R).all()):
        raise ValueError("confidences must be finite")
    eps = np.zeros(U.shape[1])
    rules: list[Threshold | None] = []
    for i in range(U.shape[1]):
        u, r = U[:, i], R[:, i]
        retrain_pos = np.median(r) > np.median(u)
        pos, neg = (r, u) if retrain_pos else (u, r)
        eps[i], thr = _one_epsilon(pos, neg, delta, cap)
        if thr is not None:
            thr.positive = {"pos": "retrained" if retrain_pos else "unlearned",
                            "neg": "unlearned" if retrain_pos else "retrained"}[thr.positive]
        rules.append(thr)
    eps = np.clip(eps, 0, cap)
    return (eps, rules) if return_thresholds else eps


def epsilon_max(n_models: int) -> float:
    """ceil(ln(N - 1)): the largest epsilon N models can resolve (7 for N = 512, 5 for N = 64)."""
    if n_models < 3:
        raise ValueError("the challenge's buckets need at least 3 models")
    return float(math.ceil(math.log(n_models - 1)))


def epsilon_points(eps, n_models: int) -> np.ndarray:
    """The challenge's points per example: bucket k = [0.5k, 0.5k + 0.5) earns 2^-k; eps >= eps_max earns 0."""
    eps = np.asarray(eps, dtype=np.float64)
    top = epsilon_max(n_models)
    k = np.floor(eps / 0.5)
    pts = np.power(0.5, k)
    return np.where(eps < top, pts, 0.0)


def forget_quality(eps, n_models: int) -> float:
    """F: mean points over the examples (1 = every example indistinguishable from retraining)."""
    pts = epsilon_points(eps, n_models)
    return float(pts.mean()) if len(pts) else float("nan")


def final_score(F: float, acc_retain_u: float, acc_retain_r: float, acc_test_u: float, acc_test_r: float) -> float:
    """The challenge's final score: F x (RA_U / RA_R) x (TA_U / TA_R)."""
    return float(F * (acc_retain_u / acc_retain_r) * (acc_test_u / acc_test_r))


# --- U-LiRA-style likelihood-ratio attack -------------------------------------------------------

def _gauss_loglik(x, mu, sd):
    return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd)


def ulira_accuracy(unlearned, retrained) -> np.ndarray:
    """Per-example accuracy of a likelihood-ratio attack telling unlearned from retrained models.

    Two folds: Gaussians are fitted to each sample's even-indexed models and tested on the
    odd-indexed ones, then the other way round. Each held-out model is called "unlearned" when
    N(s; mu_U, sd_U) > N(s; mu_R, sd_R) (ties count half); the accuracy is balanced over the two
    samples. 0.5 = the attack does no better than a coin; 1 = it is always right.
    """
    U = np.asarray(unlearned, dtype=np.float64)
    R = np.asarray(retrained, dtype=np.float64)
    if len(U) < 4 or len(R) < 4:
        raise ValueError("the likelihood-ratio attack needs at least 4 models in each sample")
    accs = []
    for fit_sl, test_sl in ((slice(0, None, 2), slice(1, None, 2)), (slice(1, None, 2), slice(0, None, 2))):
        fu, fr = U[fit_sl], R[fit_sl]
        mu_u, mu_r = fu.mean(0), fr.mean(0)
        floor = 1e-3 * (1 + np.maximum(np.abs(mu_u), np.abs(mu_r)))
        sd_u, sd_r = np.maximum(fu.std(0), floor), np.maximum(fr.std(0), floor)

        def says_unlearned(x):
            d = _gauss_loglik(x, mu_u, sd_u) - _gauss_loglik(x, mu_r, sd_r)
            return np.where(d > 0, 1.0, np.where(d < 0, 0.0, 0.5))
        tpr = says_unlearned(U[test_sl]).mean(0)
        tnr = 1 - says_unlearned(R[test_sl]).mean(0)
        accs.append(0.5 * (tpr + tnr))
    return np.mean(accs, 0)


# --- the whole experiment -----------------------------------------------------------------------

@dataclass
class Scores:
    """One sample of K models judged against the retrained reference, on the forget set and a retain sample."""
    name: str
    role: str  # "method", "floor" (retrain vs retrain), "ceiling" (the original, not unlearned)
    conf_forget: np.ndarray  # [K, n_forget] logit-scaled confidences
    conf_retain: np.ndarray  # [K, n_retain_sample]
    eps: np.ndarray  # [n_forget]
    thresholds: list  # [n_forget] Threshold or None
    ulira: np.ndarray  # [n_forget]
    eps_retain: np.ndarray  # [n_retain_sample]
    acc_retain: float  # mean over the K models
    acc_forget: float
    acc_test: float
    seconds: float  # the method on all K models (0 for floor and ceiling)
    acc_test_worst: float = float("nan")  # the worst member's test accuracy (one diverged run shows here)
    batched: bool = True
    no_spread: bool = False  # the K models give identical confidences: epsilon is the cap by the spread rule
    spread_capped: int = 0  # forget points whose epsilon is the cap by the spread rule (one sample's spread < 1%)
    F: float = float("nan")
    F_retain: float = float("nan")
    final: float = float("nan")

    def summary(self) -> dict[str, float]:
        return dict(forget_quality=self.F, final_score=self.final, eps_mean=float(np.mean(self.eps)),
                    eps_median=float(np.median(self.eps)), ulira_acc=float(np.mean(self.ulira)),
                    retain_quality=self.F_retain, eps_retain_mean=float(np.mean(self.eps_retain)) if len(self.eps_retain) else float("nan"),
                    acc_retain=self.acc_retain, acc_forget=self.acc_forget, acc_test=self.acc_test,
                    acc_test_worst=self.acc_test_worst, seconds=self.seconds, no_spread=self.no_spread,
                    spread_capped=self.spread_capped)


@dataclass
class AuditResult:
    K: int
    forget_rows: np.ndarray  # rows of the training set audited as forgotten
    retain_rows: np.ndarray  # the sample of retained rows audited
    reference: dict[str, Any]  # the retrained reference: conf_forget, conf_retain, acc_* (means)
    scores: dict[str, Scores]  # method name -> Scores; plus "retrain" (floor) and "original" (ceiling)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage
    seeds: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # method -> why it could not be scored (e.g. it diverged)
    protocol: str = "challenge"  # where the K unlearned models come from (PROTOCOLS)

    @property
    def eps_max(self) -> float:
        return epsilon_max(self.K)

    def table_rows(self) -> list[dict]:
        return [dict(method=name, role=s.role, **s.summary()) for name, s in self.scores.items()]

    def to_dict(self) -> dict:
        """JSON-ready: summaries and the per-point epsilons and attack accuracies."""
        out = dict(K=self.K, protocol=self.protocol, delta=DELTA, eps_max=self.eps_max,
                   forget_rows=self.forget_rows.tolist(), retain_rows=self.retain_rows.tolist(), seconds=self.seconds, seeds=self.seeds,
                   errors=self.errors, methods={})
        for name, s in self.scores.items():
            out["methods"][name] = dict(role=s.role, batched=s.batched, **s.summary(), eps=s.eps.tolist(),
                                        ulira=s.ulira.tolist(), eps_retain=s.eps_retain.tolist())
        return out


def _mean_acc(logits: torch.Tensor, y) -> float:
    if logits.shape[1] == 0:
        return float("nan")
    return float((logits.argmax(-1) == torch.as_tensor(np.asarray(y), dtype=torch.long)).double().mean())


def _judge(name, role, ens: Ensemble, ref: dict, data: dict, seconds: float, batched: bool = True) -> Scores:
    cf = logit_confidence(ens.logits(data["Xf"]), data["yf"])
    cr = logit_confidence(ens.logits(data["Xrs"]), data["yrs"])
    eps, rules = per_example_epsilon(cf, ref["conf_forget"], return_thresholds=True)
    eps_r = per_example_epsilon(cr, ref["conf_retain"]) if cr.shape[1] else np.zeros(0)
    K = len(ens)
    s = Scores(name, role, cf, cr, eps, rules, ulira_accuracy(cf, ref["conf_forget"]), eps_r,
               acc_retain=_mean_acc(ens.logits(data["Xr"]), data["yr"]),
               acc_forget=_mean_acc(ens.logits(data["Xf"]), data["yf"]),
               acc_test=_mean_acc(ens.logits(data["Xt"]), data["yt"]), seconds=seconds, batched=batched)
    per_member = (ens.logits(data["Xt"]).argmax(-1) == torch.as_tensor(data["yt"])).double().mean(1)
    s.acc_test_worst = float(per_member.min())
    s.spread_capped = int(sum(1 for e, r in zip(eps, rules) if r is None and e >= EPSILON_CAP))
    s.no_spread = bool(np.all(np.ptp(cf, axis=0) <= NO_SPREAD_TOL * (1 + np.abs(cf).max(0))))
    s.F = forget_quality(eps, K)
    s.F_retain = forget_quality(eps_r, K) if len(eps_r) else float("nan")
    s.final = final_score(s.F, s.acc_retain, ref["acc_retain"], s.acc_test, ref["acc_test"])
    return s


def run_audit(make_model: Callable[[int], nn.Module], train, forget_rows, test, *, K: int = 64,
              methods: Sequence[str] = ("jit",), recipe: dict | None = None, overrides: dict | None = None,
              seed: int = 0, retain_sample: int = 20, device="cpu", profile: str = "toy2d",
              progress: Callable[[str, float], None] | None = None, batched: bool = True,
              protocol: str = "challenge") -> AuditResult:
    """The audit of ``methods`` for forgetting ``forget_rows`` of ``train``, with K models per sample.

    make_model(seed) builds a fresh, seeded model; ``recipe`` is fit's epochs / lr / batch_size
    (default ``FIT_DEFAULTS``); ``overrides[method]`` are hyperparameters. Member seeds (k < K):
    reference retrains seed*3K + K + k, floor retrains seed*3K + 2K + k, method member k unlearns
    with seed*3K + k. ``protocol="challenge"`` (the NeurIPS 2023 challenge's): one original,
    trained with ``seed``, copied K times, copy k unlearned with its seed; ``"originals"``: original
    k trained with seed*3K + k and unlearned with that same seed. ``result.seeds`` lists them all.
    ``progress(stage, fraction)`` reports. ``batched=False`` trains and unlearns the models one at
    a time instead (same models, same scores; the speed benchmark's baseline).
    """
    K = int(K)
    if K < 4:
        raise ValueError(f"the audit needs K >= 4 models per sample (64 or more for a meaningful epsilon), got {K}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown audit protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    challenge = protocol == "challenge"
    methods = [m for m in methods if m != "retrain"]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        raise ValueError(f"unknown method(s) {', '.join(bad)}; choose from {', '.join(METHODS)}")
    X, y = as_xy(train, "training data")
    Xt, yt = as_xy(test, "test")
    rows_f = np.unique(np.asarray(forget_rows, dtype=np.int64))
    if len(rows_f) == 0:
        raise ValueError("the forget set is empty; choose at least one point to audit")
    if rows_f.min() < 0 or rows_f.max() >= len(X):
        raise ValueError(f"forget rows must lie in 0..{len(X) - 1}")
    mask = np.zeros(len(X), bool)
    mask[rows_f] = True
    if mask.all():
        raise ValueError("the forget set is the whole training set; nothing would be left to retrain on")
    rows_r = np.flatnonzero(~mask)
    gen = np.random.default_rng(seed)
    rows_rs = np.sort(gen.choice(rows_r, size=min(int(retain_sample), len(rows_r)), replace=False))
    dev = resolve_device(device)
    recipe = dict(FIT_DEFAULTS, **(recipe or {}))
    fit_kw = dict(epochs=recipe["epochs"], lr=recipe["lr"], batch_size=recipe["batch_size"],
                  weight_decay=recipe.get("weight_decay", 0.0), device=dev, batched=batched)
    overrides = overrides or {}
    tf, tr = torch.as_tensor(rows_f), torch.as_tensor(rows_r)
    data = dict(Xf=X[tf], yf=y[tf].numpy(), Xr=X[tr], yr=y[tr].numpy(), Xt=Xt, yt=yt.numpy(),
                Xrs=X[torch.as_tensor(rows_rs)], yrs=y[torch.as_tensor(rows_rs)].numpy())
    base = seed * 3 * K
    method_seeds = list(range(base, base + K))
    seeds = dict(original=[int(seed)] if challenge else method_seeds, method=method_seeds,
                 retrain=list(range(base + K, base + 2 * K)), floor=list(range(base + 2 * K, base + 3 * K)))
    n_orig = len(seeds["original"])
    # Work units for the progress bar: a training epoch of K models counts 1 (2 for the 2K retrains; the
    # challenge protocol's one original, 1/K).
    units = {"original": max(1, recipe["epochs"] * n_orig // K), "retrain": 2 * recipe["epochs"]}
    units.update({m: max(1, recipe["epochs"] // 10) for m in methods})
    total, done = float(sum(units.values())), [0.0]
    seconds: dict[str, float] = {}

    def report(stage: str, frac: float) -> None:
        if progress is not None:
            progress(stage, min(1.0, (done[0] + frac * units[stage]) / total))

    def finish(stage: str, t0: float, t1: float | None = None) -> None:
        seconds[stage] = (time.perf_counter() if t1 is None else t1) - t0
        done[0] += units[stage]
        report(stage, 0.0)

    t0 = time.perf_counter()
    originals = fit_ensemble(make_model, X, y, seeds=seeds["original"], **fit_kw,
                             callback=lambda e, _: report("original",
                                                          e / max(1, recipe["epochs"] * (1 if batched else n_orig))))
    if challenge:  # K copies of the one original, copy k to be unlearned with method seed k
        originals = originals.repeat(method_seeds)
    finish("original", t0)
    t0 = time.perf_counter()
    retrains = fit_ensemble(make_model, X[tr], y[tr], seeds=seeds["retrain"] + seeds["floor"], **fit_kw,
                            callback=lambda e, _: report("retrain", e / max(1, recipe["epochs"] * (1 if batched else 2 * K))))
    finish("retrain", t0)
    reference_ens, floor_ens = retrains.subset(range(K)), retrains.subset(range(K, 2 * K))
    ref = dict(conf_forget=logit_confidence(reference_ens.logits(data["Xf"]), data["yf"]),
               conf_retain=logit_confidence(reference_ens.logits(data["Xrs"]), data["yrs"]),
               acc_retain=_mean_acc(reference_ens.logits(data["Xr"]), data["yr"]),
               acc_forget=_mean_acc(reference_ens.logits(data["Xf"]), data["yf"]),
               acc_test=_mean_acc(reference_ens.logits(Xt), data["yt"]))
    forget = (data["Xf"], y[tf])
    retain = (data["Xr"], y[tr])
    scores: dict[str, Scores] = {}
    errors: dict[str, str] = {}
    for m in methods:
        t0 = time.perf_counter()
        hp = {k: v for k, v in overrides.get(m, {}).items() if k != "seed"}
        try:
            res = unlearn_ensemble(m, originals, forget=forget, retain=retain, device=dev, profile=profile,
                                   batched=batched, callback=lambda step, _l, m=m: report(m, 0.5), **hp)
            t1 = time.perf_counter()
            scores[m] = _judge(m, "method", res.ensemble, ref, data, res.seconds, res.batched)
        except ValueError as err:
            if "finite" in str(err):  # a step so large that the outputs are no longer finite
                errors[m] = (f"{m} could not be scored: its models' outputs on the forget set are not finite "
                             f"(the method diverged); try a smaller step")
            else:  # the method refused this forget set (e.g. EMMN / GKT when every class is forgotten)
                errors[m] = f"{m} could not run: {err}"
            t1 = time.perf_counter()
        seconds[f"score {m}"] = time.perf_counter() - t1
        finish(m, t0, t1)
    t0 = time.perf_counter()
    scores["retrain"] = _judge("retrain", "floor", floor_ens, ref, data, 0.0)
    scores["original"] = _judge("original", "ceiling", originals, ref, data, 0.0)
    seconds["score floor and ceiling"] = time.perf_counter() - t0
    return AuditResult(K, rows_f, rows_rs, ref, scores, seconds, seeds, errors, protocol)
