"""Metrics: accuracies, the paper's entropy MIA, and distances to the retrained model.

Directions (always shown next to the retrained model's value):
- acc_retain, acc_test: higher is better; acc_forget: the target is the retrained model's value.
- mia ("entropy-LR MIA", as in the JiT/SSD code): the fraction of forget samples that a logistic
  regression on softmax entropy calls "member" (trained on retain-train = member vs test =
  non-member, class-balanced). Target: the retrained model's value, not 0.
- js_forget / js_test: mean Jensen-Shannon divergence (base 2, in [0, 1]) between the model's and
  the reference (retrained) model's predicted distributions; 0 = identical predictions.
- boundary_disagreement: the share of a grid over the 2-D input box where the two models'
  predicted classes differ; 0 = same decision regions.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from unlearn_core.data import as_tensor, as_xy
from unlearn_core.training import predict_logits


def accuracy(model: nn.Module, X, y) -> float:
    """Sample-weighted accuracy; NaN for an empty set."""
    X, y = as_xy((X, y), "data")
    if len(X) == 0:
        return float("nan")
    return float((predict_logits(model, X).argmax(1) == y).float().mean())


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """Softmax entropy per row (natural log), computed stably from logits."""
    logp = torch.log_softmax(logits.float(), dim=1)
    return -(logp.exp() * logp).sum(1)


def entropy_mia(model: nn.Module, *, retain, forget, test) -> float:
    """The paper's MIA: share of the forget set predicted "member" by an entropy-LR attack.

    As in the authors' code (from "bad teaching", arXiv 2205.08096): feature = softmax entropy;
    class-balanced logistic regression with retain-train = 1 and test = 0; the score is the
    fraction of forget samples predicted 1. (Their ``multi_class="multinomial"`` is dropped: the
    task is binary and recent scikit-learn removed the option.)
    """
    from sklearn.linear_model import LogisticRegression

    Xr, _ = as_xy(retain, "retain")
    Xf, _ = as_xy(forget, "forget")
    Xt, _ = as_xy(test, "test")
    if len(Xf) == 0:
        return float("nan")
    if len(Xr) == 0 or len(Xt) == 0:
        raise ValueError("the entropy MIA needs non-empty retain and test sets")
    e_r = entropy(predict_logits(model, Xr)).numpy()
    e_t = entropy(predict_logits(model, Xt)).numpy()
    e_f = entropy(predict_logits(model, Xf)).numpy()
    feats = np.concatenate([e_r, e_t]).reshape(-1, 1).astype(np.float64)
    labels = np.concatenate([np.ones(len(e_r)), np.zeros(len(e_t))])
    clf = LogisticRegression(class_weight="balanced", solver="lbfgs")
    clf.fit(feats, labels)
    return float(clf.predict(e_f.reshape(-1, 1).astype(np.float64)).mean())


def per_sample_loss(model: nn.Module, X, y) -> np.ndarray:
    """Cross-entropy loss per sample (batched evaluation, eval mode), float64 [n]."""
    X, y = as_xy((X, y), "data")
    if len(X) == 0:
        return np.zeros(0)
    logits = predict_logits(model, X)
    return torch.nn.functional.cross_entropy(logits.double(), y, reduction="none").numpy()


def loss_mia(model: nn.Module, *, forget, test, n_splits: int = 10, seed: int = 0) -> float:
    """The NeurIPS 2023 starting kit's MIA: accuracy of a loss-threshold attack telling D_f from test data.

    Feature = per-sample cross-entropy; the larger of the two sets is subsampled (seeded) to the
    size of the smaller; logistic regression scored by ``n_splits`` stratified shuffle splits
    (10% held out). Target: the retrained model's value (about 0.5 when D_f looks like unseen data),
    not 0. NaN when either set has fewer than 5 samples (too few to cross-validate).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score

    lf = per_sample_loss(model, *forget)
    lt = per_sample_loss(model, *test)
    k = min(len(lf), len(lt))
    if k < 5:
        return float("nan")
    rng = np.random.default_rng(seed)
    lf = lf[rng.permutation(len(lf))[:k]]
    lt = lt[rng.permutation(len(lt))[:k]]
    feats = np.concatenate([lt, lf]).reshape(-1, 1)
    labels = np.concatenate([np.zeros(k), np.ones(k)])
    cv = StratifiedShuffleSplit(n_splits=n_splits, test_size=max(0.1, 2 / (2 * k)), random_state=seed)
    return float(cross_val_score(LogisticRegression(), feats, labels, cv=cv, scoring="accuracy").mean())


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Per-row Jensen-Shannon divergence (base 2, in [0, 1]) between probability rows p and q."""
    m = 0.5 * (p + q)

    def kl(a, b):
        return torch.where(a > 0, a * (torch.log2(a.clamp_min(1e-30)) - torch.log2(b.clamp_min(1e-30))), 0.0).sum(1)
    return (0.5 * kl(p, m) + 0.5 * kl(q, m)).clamp_min(0.0)


def mean_js(model: nn.Module, reference: nn.Module, X) -> float:
    X = as_tensor(X, dtype=torch.float32, name="X")
    if len(X) == 0:
        return float("nan")
    p = torch.softmax(predict_logits(model, X), 1)
    q = torch.softmax(predict_logits(reference, X), 1)
    return float(js_divergence(p, q).mean())


def grid(bounds: tuple[float, float, float, float], resolution: int = 100) -> torch.Tensor:
    """A resolution x resolution grid over (x0, x1, y0, y1), as [resolution**2, 2] points (row-major, y outer)."""
    x0, x1, y0, y1 = (float(b) for b in bounds)
    if not (x1 > x0 and y1 > y0):
        raise ValueError(f"grid bounds must satisfy x0 < x1 and y0 < y1, got {bounds}")
    gx = torch.linspace(x0, x1, int(resolution))
    gy = torch.linspace(y0, y1, int(resolution))
    yy, xx = torch.meshgrid(gy, gx, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


def data_bounds(X, margin: float = 0.1) -> tuple[float, float, float, float]:
    """The box around 2-D points X, widened by ``margin`` of its size on every side."""
    X = np.asarray(X, dtype=np.float64)
    lo, hi = X.min(0), X.max(0)
    pad = (hi - lo) * margin + 1e-6
    return (float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1]))


def boundary_disagreement(model: nn.Module, reference: nn.Module, bounds, resolution: int = 100) -> float:
    """Share of a ``resolution``^2 grid over ``bounds`` where the two models predict different classes."""
    G = grid(bounds, resolution)
    a = predict_logits(model, G).argmax(1)
    b = predict_logits(reference, G).argmax(1)
    return float((a != b).float().mean())


def evaluate(model: nn.Module, *, retain, forget, test, reference: nn.Module | None = None,
             bounds=None, resolution: int = 100) -> dict[str, float]:
    """acc_retain, acc_forget, acc_test and mia for ``model``.

    retain / forget: the retain and forget *training* sets; test: held-out data. With a
    ``reference`` (the retrained model) adds js_forget and js_test, and with 2-D ``bounds``
    (x0, x1, y0, y1) also boundary_disagreement on a ``resolution``^2 grid.
    """
    out = {
        "acc_retain": accuracy(model, *retain),
        "acc_forget": accuracy(model, *forget),
        "acc_test": accuracy(model, *test),
        "mia": entropy_mia(model, retain=retain, forget=forget, test=test),
    }
    if reference is not None:
        out["js_forget"] = mean_js(model, reference, forget[0])
        out["js_test"] = mean_js(model, reference, test[0])
        if bounds is not None:
            out["boundary_disagreement"] = boundary_disagreement(model, reference, bounds, resolution)
    return out
