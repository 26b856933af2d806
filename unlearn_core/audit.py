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

Training the models and scoring them are apart: a sample of K models is measured into ``Outputs``
(confidences on the forget set and the retain sample, numbers of correct predictions), and
``score_samples`` scores a reference, a floor, a ceiling and the methods' samples from them. The 2-D
audit (``run_audit``, batched ensembles) and the image audit (``unlearn_core.images.audit``, one model per
member, serial or on Ray) share that scoring and the member seeds (``member_seeds``).

``run_audit`` does the whole experiment on 2-D data: 2K retrains (K as the reference and K more for the
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

    def row_fields(self, name: str) -> dict | None:
        """The audit's columns for the bench row of ``name`` (a method, "retrain": the floor, "original": the
        ceiling), as both benches write them; None when it was not scored (``errors`` says why)."""
        s = self.scores.get(name)
        if s is None:
            return None
        summ = s.summary()
        return dict(audit_F=summ["forget_quality"], audit_final=summ["final_score"], audit_eps_mean=summ["eps_mean"],
                    audit_ulira=summ["ulira_acc"], audit_retain_F=summ["retain_quality"],
                    audit_no_spread=s.no_spread, audit_spread_capped=s.spread_capped,
                    audit=dict(K=self.K, protocol=self.protocol, role=s.role, no_spread=s.no_spread,
                               eps=s.eps.tolist(), ulira=s.ulira.tolist(), eps_retain=s.eps_retain.tolist(),
                               forget_rows=self.forget_rows.tolist(), retain_rows=self.retain_rows.tolist(),
                               seconds=s.seconds, batched=s.batched))

    def to_dict(self) -> dict:
        """JSON-ready: summaries and the per-point epsilons and attack accuracies."""
        out = dict(K=self.K, protocol=self.protocol, delta=DELTA, eps_max=self.eps_max,
                   forget_rows=self.forget_rows.tolist(), retain_rows=self.retain_rows.tolist(), seconds=self.seconds, seeds=self.seeds,
                   errors=self.errors, methods={})
        for name, s in self.scores.items():
            out["methods"][name] = dict(role=s.role, batched=s.batched, **s.summary(), eps=s.eps.tolist(),
                                        ulira=s.ulira.tolist(), eps_retain=s.eps_retain.tolist())
        return out


def audit_rows(forget_rows, n_train: int, seed: int, retain_sample: int = 20):
    """(forget rows, retain rows, the retain sample audited) of a training set of ``n_train`` examples:
    the forget rows sorted and unique, the retain rows every other row, and ``retain_sample`` of those
    drawn with ``numpy.random.default_rng(seed)``. ValueError for an empty forget set, rows out of range
    or a forget set that is the whole training set."""
    rows_f = np.unique(np.asarray(forget_rows, dtype=np.int64))
    if len(rows_f) == 0:
        raise ValueError("the forget set is empty; choose at least one point to audit")
    if rows_f.min() < 0 or rows_f.max() >= n_train:
        raise ValueError(f"forget rows must lie in 0..{n_train - 1}")
    mask = np.zeros(n_train, bool)
    mask[rows_f] = True
    if mask.all():
        raise ValueError("the forget set is the whole training set; nothing would be left to retrain on")
    rows_r = np.flatnonzero(~mask)
    gen = np.random.default_rng(seed)
    rows_rs = np.sort(gen.choice(rows_r, size=min(int(retain_sample), len(rows_r)), replace=False))
    return rows_f, rows_r, rows_rs


def member_seeds(seed: int, K: int, protocol: str = "challenge") -> dict[str, list[int]]:
    """The seeds of an audit's models (k < K): method member k unlearns with seed*3K + k, reference retrain
    k trains with seed*3K + K + k, floor retrain k with seed*3K + 2K + k; the original is trained with
    ``seed`` under "challenge" (one model) and original k with seed*3K + k under "originals". The 2-D and
    the image audits share them."""
    base = int(seed) * 3 * int(K)
    method = list(range(base, base + K))
    return dict(original=[int(seed)] if protocol == "challenge" else method, method=method,
                retrain=list(range(base + K, base + 2 * K)), floor=list(range(base + 2 * K, base + 3 * K)))


#: The sets each model of the audit is measured on: the retain set, the forget set, the test set.
ACC_SETS = ("retain", "forget", "test")


@dataclass
class Outputs:
    """What the scoring needs from a sample of K models, and nothing more: small enough to travel between
    processes (an engine's task returns one model's, ``K = 1``; ``stack`` joins them).

    ``conf_forget`` [K, n_forget] and ``conf_retain`` [K, n_retain_sample]: logit-scaled confidences;
    ``correct`` [K, 3]: each model's number of correct predictions on the retain set, the forget set and
    the test set (``ACC_SETS``), of ``counts`` examples."""
    conf_forget: np.ndarray
    conf_retain: np.ndarray
    correct: np.ndarray
    counts: tuple

    def __len__(self) -> int:
        return len(self.conf_forget)

    def acc(self, which: str) -> float:
        """The accuracy on ``which`` (ACC_SETS) over all K models' predictions (NaN for an empty set)."""
        n = int(self.counts[ACC_SETS.index(which)])
        if n == 0:
            return float("nan")
        return int(self.correct[:, ACC_SETS.index(which)].sum()) / (len(self) * n)

    def acc_members(self, which: str) -> np.ndarray:
        """Each model's accuracy on ``which`` [K]."""
        n = int(self.counts[ACC_SETS.index(which)])
        return np.array([int(c) / n if n else float("nan") for c in self.correct[:, ACC_SETS.index(which)]])

    @classmethod
    def of_logits(cls, logits_forget, y_forget, logits_retain_sample, y_retain_sample, correct, counts) -> "Outputs":
        """One or more models' outputs from their logits on the forget set and the retain sample ([..., n, C])."""
        return cls(np.atleast_2d(logit_confidence(logits_forget, y_forget)),
                   np.atleast_2d(logit_confidence(logits_retain_sample, y_retain_sample)),
                   np.atleast_2d(np.asarray(correct, dtype=np.int64)), tuple(int(c) for c in counts))

    @classmethod
    def stack(cls, parts: Sequence["Outputs"]) -> "Outputs":
        """The K models of ``parts`` (each one or more models on the same examples) as one sample."""
        return cls(np.concatenate([p.conf_forget for p in parts]), np.concatenate([p.conf_retain for p in parts]),
                   np.concatenate([p.correct for p in parts]), parts[0].counts)

    def repeat(self, K: int) -> "Outputs":
        """One model's outputs K times (the challenge protocol's ceiling: K copies of one original)."""
        return Outputs.stack([self] * int(K))

    def to_dict(self) -> dict:
        return dict(conf_forget=self.conf_forget.tolist(), conf_retain=self.conf_retain.tolist(),
                    correct=self.correct.tolist(), counts=list(self.counts))


def _correct(logits: torch.Tensor, y) -> np.ndarray:
    """[K] numbers of correct predictions of logits [K, n, C]."""
    return (logits.argmax(-1) == torch.as_tensor(np.asarray(y), dtype=torch.long)).sum(-1).numpy()


def ensemble_outputs(ens: Ensemble, data: dict) -> Outputs:
    """The K models of an ensemble on the audit's sets (``data``: Xf, yf, Xrs, yrs, Xr, yr, Xt, yt)."""
    correct = np.stack([_correct(ens.logits(data[x]), data[y]) for x, y in (("Xr", "yr"), ("Xf", "yf"), ("Xt", "yt"))],
                       axis=1)
    return Outputs(logit_confidence(ens.logits(data["Xf"]), data["yf"]),
                   logit_confidence(ens.logits(data["Xrs"]), data["yrs"]), correct,
                   (len(data["yr"]), len(data["yf"]), len(data["yt"])))


def reference_of(out: Outputs) -> dict:
    """The retrained reference every sample is judged against: its confidences and mean accuracies."""
    return dict(conf_forget=out.conf_forget, conf_retain=out.conf_retain, acc_retain=out.acc("retain"),
                acc_forget=out.acc("forget"), acc_test=out.acc("test"))


def judge(name: str, role: str, out: Outputs, ref: dict, seconds: float, batched: bool = True) -> Scores:
    """Score one sample of K models against the reference (``reference_of``). ValueError when the
    confidences are not finite (a diverged method)."""
    cf, cr = out.conf_forget, out.conf_retain
    eps, rules = per_example_epsilon(cf, ref["conf_forget"], return_thresholds=True)
    eps_r = per_example_epsilon(cr, ref["conf_retain"]) if cr.shape[1] else np.zeros(0)
    K = len(out)
    s = Scores(name, role, cf, cr, eps, rules, ulira_accuracy(cf, ref["conf_forget"]), eps_r,
               acc_retain=out.acc("retain"), acc_forget=out.acc("forget"), acc_test=out.acc("test"),
               seconds=seconds, batched=batched)
    s.acc_test_worst = float(out.acc_members("test").min())
    s.spread_capped = int(sum(1 for e, r in zip(eps, rules) if r is None and e >= EPSILON_CAP))
    s.no_spread = bool(np.all(np.ptp(cf, axis=0) <= NO_SPREAD_TOL * (1 + np.abs(cf).max(0))))
    s.F = forget_quality(eps, K)
    s.F_retain = forget_quality(eps_r, K) if len(eps_r) else float("nan")
    s.final = final_score(s.F, s.acc_retain, ref["acc_retain"], s.acc_test, ref["acc_test"])
    return s


def method_error(method: str, err: Exception) -> str:
    """Why a method's sample could not be scored, in words (``AuditResult.errors``)."""
    if "finite" in str(err):  # a step so large that the outputs are no longer finite
        return (f"{method} could not be scored: its models' outputs on the forget set are not finite "
                f"(the method diverged); try a smaller step")
    return f"{method} could not run: {err}"  # the method refused this forget set (e.g. EMMN / GKT)


def score_samples(K: int, forget_rows, retain_rows, reference: Outputs, floor: Outputs | None,
                  ceiling: Outputs | None, methods: dict, *, seeds: dict, protocol: str = "challenge",
                  seconds: dict | None = None, errors: dict | None = None) -> AuditResult:
    """The audit's scores from the outputs of its samples (the 2-D and the image audits share this).

    ``methods``: {name: (Outputs, seconds, batched)}, or {name: error text} for a method whose models
    could not be made (it refused the forget set). A sample whose confidences are not finite is reported
    in ``errors``; floor and ceiling may be None (not audited)."""
    ref = reference_of(reference)
    seconds = dict(seconds or {})
    errors = dict(errors or {})
    scores: dict[str, Scores] = {}
    for m, got in methods.items():
        t0 = time.perf_counter()
        if isinstance(got, str):
            errors[m] = got
        else:
            out, secs, batched = got
            try:
                scores[m] = judge(m, "method", out, ref, secs, batched)
            except ValueError as err:
                errors[m] = method_error(m, err)
        seconds[f"score {m}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if floor is not None:
        scores["retrain"] = judge("retrain", "floor", floor, ref, 0.0)
    if ceiling is not None:
        scores["original"] = judge("original", "ceiling", ceiling, ref, 0.0)
    seconds["score floor and ceiling"] = time.perf_counter() - t0
    return AuditResult(int(K), np.asarray(forget_rows), np.asarray(retain_rows), ref, scores, seconds, seeds, errors,
                       protocol)


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
    rows_f, rows_r, rows_rs = audit_rows(forget_rows, len(X), seed, retain_sample)
    dev = resolve_device(device)
    recipe = dict(FIT_DEFAULTS, **(recipe or {}))
    fit_kw = dict(epochs=recipe["epochs"], lr=recipe["lr"], batch_size=recipe["batch_size"],
                  weight_decay=recipe.get("weight_decay", 0.0), device=dev, batched=batched)
    overrides = overrides or {}
    tf, tr = torch.as_tensor(rows_f), torch.as_tensor(rows_r)
    data = dict(Xf=X[tf], yf=y[tf].numpy(), Xr=X[tr], yr=y[tr].numpy(), Xt=Xt, yt=yt.numpy(),
                Xrs=X[torch.as_tensor(rows_rs)], yrs=y[torch.as_tensor(rows_rs)].numpy())
    seeds = member_seeds(seed, K, protocol)
    method_seeds = seeds["method"]
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
    reference = ensemble_outputs(reference_ens, data)
    forget = (data["Xf"], y[tf])
    retain = (data["Xr"], y[tr])
    outputs: dict = {}
    for m in methods:
        t0 = time.perf_counter()
        hp = {k: v for k, v in overrides.get(m, {}).items() if k != "seed"}
        try:
            res = unlearn_ensemble(m, originals, forget=forget, retain=retain, device=dev, profile=profile,
                                   batched=batched, callback=lambda step, _l, m=m: report(m, 0.5), **hp)
            outputs[m] = (ensemble_outputs(res.ensemble, data), res.seconds, res.batched)
        except ValueError as err:  # the method refused this forget set (e.g. EMMN / GKT when every class is forgotten)
            outputs[m] = method_error(m, err)
        finish(m, t0)
    return score_samples(K, rows_f, rows_rs, reference, ensemble_outputs(floor_ens, data),
                         ensemble_outputs(originals, data), outputs, seeds=seeds, protocol=protocol, seconds=seconds)
