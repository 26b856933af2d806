"""Forgetting audits on images: K models per sample with the image bench's trainer, scored by ``unlearn_core.audit``.

The 2-D audit (``unlearn_core.audit.run_audit``) trains its K-model samples at once as batched ensembles.
An image model is too large for that, so here every model of the audit is one **member**: one training
(a reference or floor retrain, or an original under the "originals" protocol) or one unlearning run (a
method applied to an original with its own seed), measured on the audit's sets. A member returns only
what the scoring needs (``unlearn_core.audit.Outputs``: the logit-scaled confidences on the forget set
and on a sample of retained images, and its numbers of correct predictions on the retain, forget and
test sets), never the model, so the members of an audit can run anywhere: one after another in this
process (the serial engine, ``run_members``) or as Ray tasks (``unlearn_core.bench.engine``).
``score_members`` stacks the members' outputs into samples and scores them with the code the 2-D audit
uses (``unlearn_core.audit.score_samples``).

What is trained for one cell (setting, target, seed) with K models per sample (``plan_members``):

- the **reference**: K retrains on the retain set, with seeds seed*3K + K + k and the bench's recipe;
- the **floor**: K more retrains (seeds seed*3K + 2K + k), judged against the reference: what a perfect
  method scores with K models;
- per method, K unlearned models (seeds seed*3K + k). Under ``"challenge"`` they are K runs of the method
  on the bench's original (trained with the seed, as the bench's original row); the ceiling is that
  original, measured once and counted K times. Under ``"originals"`` original k is trained with seed
  seed*3K + k (K more trainings), is the ceiling's member k and is unlearned by every method with the
  same seed.

So one cell costs 2K trainings (K more under "originals") and K unlearning runs per method; the seeds
are ``unlearn_core.audit.member_seeds``, the 2-D audit's.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from unlearn_core.audit import PROTOCOLS, Outputs, audit_rows, member_seeds, method_error, score_samples
from unlearn_core.images.train import ImageRecipe, train_images
from unlearn_core.methods import unlearn
from unlearn_core.training import predict_logits

#: Retained training images audited the same way as the forget set (the 2-D audit's default).
AUDIT_RETAIN_SAMPLE = 20
#: The roles of the members: retrains (reference, floor), originals (the ceiling), unlearned models (method).
ROLES = ("reference", "floor", "original", "method")


@dataclass(frozen=True)
class Member:
    """One model of an audit: its role (``ROLES``), its index k < K, its seed (the training seed of a
    retrain or an original, the unlearning seed of a method's member) and, for a method's member, the method."""
    role: str
    k: int
    seed: int
    method: str | None = None

    @property
    def label(self) -> str:
        return f"{self.method or self.role} {self.k}"


@dataclass
class AuditData:
    """What every member of one cell's audit is trained and measured on: the normalised training images and
    labels, the test set, and the audit's rows (``unlearn_core.audit.audit_rows``)."""
    X: torch.Tensor
    y: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor
    forget_rows: np.ndarray
    retain_rows: np.ndarray
    retain_sample_rows: np.ndarray


def audit_data(X, y, X_test, y_test, forget_rows, seed: int, retain_sample: int = AUDIT_RETAIN_SAMPLE) -> AuditData:
    """The audit's data for a forget set of training rows; the retain sample is drawn with ``seed``."""
    rows_f, rows_r, rows_rs = audit_rows(forget_rows, len(X), seed, retain_sample)
    return AuditData(X, torch.as_tensor(y), X_test, torch.as_tensor(y_test), rows_f, rows_r, rows_rs)


def check_audit(K: int, protocol: str) -> None:
    """ValueError for K < 4 or an unknown protocol (the CLI's words)."""
    if int(K) < 4:
        raise ValueError(f"the audit needs K >= 4 models per sample (64 is the usual figure), got {K}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown audit protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


def plan_members(seed: int, K: int, protocol: str, methods: Sequence[str], *, floor: bool = True,
                 ceiling: bool = True) -> list[Member]:
    """The members of one cell's audit, in the order the serial engine runs them and an engine submits them.

    The reference always; the floor with ``floor``, the ceiling with ``ceiling``; K members per method.
    Ordered by k (the challenge's ceiling, the one original measured, first), so that under "originals"
    the serial engine holds one original at a time."""
    check_audit(K, protocol)
    seeds = member_seeds(seed, K, protocol)
    challenge = protocol == "challenge"
    out = [Member("original", 0, seeds["original"][0])] if challenge and ceiling else []
    for k in range(K):
        out.append(Member("reference", k, seeds["retrain"][k]))
        if floor:
            out.append(Member("floor", k, seeds["floor"][k]))
        if not challenge and (ceiling or methods):
            out.append(Member("original", k, seeds["original"][k]))
        out += [Member("method", k, seeds["method"][k], m) for m in methods]
    return out


def cost(K: int, protocol: str, n_methods: int) -> dict[str, int]:
    """What one cell's audit trains: {"trainings": full trainings with the bench's recipe, "unlearning": runs}."""
    return dict(trainings=2 * K + (K if protocol == "originals" else 0), unlearning=K * n_methods)


def measure(model: nn.Module, data: AuditData) -> Outputs:
    """One model's outputs on the audit's sets (in eval mode, batched)."""
    t = lambda rows: torch.as_tensor(np.asarray(rows, dtype=np.int64))  # noqa: E731
    lf = predict_logits(model, data.X[t(data.forget_rows)])
    lrs = predict_logits(model, data.X[t(data.retain_sample_rows)])
    yf, yrs = data.y[t(data.forget_rows)], data.y[t(data.retain_sample_rows)]
    lr = predict_logits(model, data.X[t(data.retain_rows)])
    lt = predict_logits(model, data.X_test)
    correct = [int((lr.argmax(-1) == data.y[t(data.retain_rows)]).sum()), int((lf.argmax(-1) == yf).sum()),
               int((lt.argmax(-1) == data.y_test).sum())]
    return Outputs.of_logits(lf, yf.numpy(), lrs, yrs.numpy(), [correct],
                             (len(data.retain_rows), len(data.forget_rows), len(data.y_test)))


def run_member(member: Member, *, make_model: Callable[[int], nn.Module], recipe: ImageRecipe, data: AuditData,
               original: nn.Module | None = None, device="cpu", profile: str = "image",
               hp: dict | None = None) -> tuple[dict, nn.Module | None]:
    """Train or unlearn one member and measure it: ({"outputs": Outputs or None, "seconds", "error"}, model).

    ``make_model(seed)`` builds a fresh seeded model. Retrains train on the retain rows with ``recipe``
    and their seed. An "original" member with ``original`` given measures it (the challenge's ceiling);
    without, it trains original k on the whole training set and also returns the model (the method
    members of its k unlearn it). A method's member unlearns ``original`` with its seed and ``hp`` (the
    bench's hyperparameters; their seed is replaced). A method that refuses its inputs (ValueError)
    gives an ``error``, not an exception."""
    t0 = time.perf_counter()
    rows = data.retain_rows if member.role in ("reference", "floor") else None
    if member.role in ("reference", "floor") or (member.role == "original" and original is None):
        model = make_model(member.seed)
        X, y = (data.X, data.y) if rows is None else (data.X[torch.as_tensor(rows)], data.y[torch.as_tensor(rows)])
        train_images(model, X, y, recipe, seed=member.seed, device=device)
        out = dict(outputs=measure(model, data), seconds=time.perf_counter() - t0, error=None)
        return out, (model if member.role == "original" else None)
    if member.role == "original":
        return dict(outputs=measure(original, data), seconds=0.0, error=None), None
    if member.role != "method" or original is None:
        raise ValueError(f"audit member {member}: a method's member needs the original it unlearns")
    tf, tr = torch.as_tensor(data.forget_rows), torch.as_tensor(data.retain_rows)
    given = {k: v for k, v in (hp or {}).items() if k != "seed"}
    try:
        res = unlearn(member.method, original, forget=(data.X[tf], data.y[tf]), retain=(data.X[tr], data.y[tr]),
                      device=device, profile=profile, seed=member.seed, **given)
    except ValueError as err:
        return dict(outputs=None, seconds=float("nan"), error=method_error(member.method, err)), None
    return dict(outputs=measure(res.model, data), seconds=res.seconds, error=None), None


def run_members(members: Sequence[Member], *, original: nn.Module, protocol: str,
                run: Callable[[Member, nn.Module | None], tuple[dict, nn.Module | None]],
                progress: Callable[[int, int, Member], None] | None = None) -> dict[Member, dict]:
    """Every member in order, in this process (the serial engine): ``run(member, original)`` is
    ``run_member`` with the cell's arguments. Under "challenge" every member gets ``original``; under
    "originals" the original of the current k is trained by its member and kept until the next k."""
    results: dict[Member, dict] = {}
    trained: dict[int, nn.Module] = {}
    for i, mem in enumerate(members):
        if protocol == "challenge":
            src = original
        else:
            src = None if mem.role == "original" else trained.get(mem.k)
        res, model = run(mem, src)
        if model is not None:
            trained = {mem.k: model}
        results[mem] = res
        if progress is not None:
            progress(i + 1, len(members), mem)
    return results


def score_members(K: int, protocol: str, seed: int, data: AuditData, results: dict[Member, dict],
                  methods: Sequence[str]):
    """The ``unlearn_core.audit.AuditResult`` of one cell from its members' results (any order; an engine's).

    The floor and the ceiling are scored when their members are in ``results``; a method with a member
    that gave an error is reported in ``errors``."""
    by: dict[tuple, dict] = {(m.role, m.method, m.k): r for m, r in results.items()}
    seconds: dict[str, float] = {}

    def sample(role: str, method: str | None = None) -> Outputs | None:
        got = [by.get((role, method, k)) for k in range(K)]
        if role == "original" and protocol == "challenge":
            return by[("original", None, 0)]["outputs"].repeat(K) if ("original", None, 0) in by else None
        if any(g is None for g in got):
            return None
        seconds[method or role] = float(sum(g["seconds"] for g in got))
        return Outputs.stack([g["outputs"] for g in got])

    reference = sample("reference")
    if reference is None:
        raise ValueError("the audit's reference retrains are missing")
    outs: dict = {}
    for m in methods:
        got = [by.get(("method", m, k)) for k in range(K)]
        if any(g is None for g in got):
            continue
        err = next((g["error"] for g in got if g["error"]), None)
        if err:
            outs[m] = err
        else:
            secs = float(sum(g["seconds"] for g in got))
            outs[m] = (Outputs.stack([g["outputs"] for g in got]), secs if math.isfinite(secs) else float("nan"),
                       False)
    return score_samples(K, data.forget_rows, data.retain_sample_rows, reference, sample("floor"),
                         sample("original"), outs, seeds=member_seeds(seed, K, protocol), protocol=protocol,
                         seconds=seconds)
