"""The Forgetting audit page's numbers: inputs for ``unlearn_core.audit.run_audit``, the table, one point.

The audit trains 2K models retrained without the forget set (K as the reference, K more for the
floor) and K unlearned models per method, and scores every forget point by the NeurIPS 2023
challenge's per-example epsilon (see ``unlearn_core.audit``). ``PROTOCOLS``: the challenge's (one
original unlearned K times with K seeds, the default) or K originals unlearned once each. The
figures and explanations are drawn by ``ui.views.audit``.

    kw = audit_inputs(ws, forget_ids)                 # make_model, train, forget_rows, test, recipe, seed
    result = run_audit(**kw, K=64, methods=["jit"], overrides=..., progress=..., protocol="challenge")
    epsilon_view(ws, result, "jit")                   # the epsilons of the audited points, to colour them
    point_view(ws, result, "jit", pid)                # one point: unlearned vs retrained confidences
    summary_table(result)                             # one row per method, plus floor and ceiling
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from unlearn_core import METHODS, MLP
from unlearn_core.audit import (EPSILON_CAP, AuditResult, Threshold, epsilon_points, per_example_epsilon,
                                ulira_accuracy)

from .events import selected_ids
from .workspace import Workspace

K_CHOICES = (8, 16, 32, 64, 128)
DEFAULT_K = 64  # the figure: epsilon resolves up to ceil(ln 63) = 5
FLOOR, CEILING = "retrain", "original"  # names of the two reference rows in AuditResult.scores
SCENARIOS = {"random": "random points", "high_info": "high-information points",
             "region": "a region at a class edge"}
#: Where the K unlearned models come from (unlearn_core.audit.PROTOCOLS), as the page names them.
PROTOCOLS = {"challenge": "one original, unlearned K times (NeurIPS 2023 challenge)",
             "originals": "K originals, unlearned once each"}
DEFAULT_PROTOCOL = "challenge"  # the challenge's own protocol: the page's score is the challenge's score
NOTE = "note"  # the summary table's last column: why a row's ε is the cap by construction

#: (summary key, column name with its direction, scale). ↑ higher is better, ↓ lower is better,
#: (→ 0.5) the ideal value.
COLUMNS = [
    ("forget_quality", "forget quality F (↑, 1 = like retrain)", 1.0),
    ("final_score", "final score ↑", 1.0),
    ("eps_mean", "mean ε (↓)", 1.0),
    ("eps_median", "median ε (↓)", 1.0),
    ("ulira_acc", "U-LiRA acc (→ 0.5)", 1.0),
    ("eps_retain_mean", "retain-sample ε (↓)", 1.0),
    ("acc_retain", "retain acc %", 100.0),
    ("acc_forget", "forget acc %", 100.0),
    ("acc_test", "test acc %", 100.0),
    ("acc_test_worst", "worst model's test acc %", 100.0),
    ("seconds", "seconds", 1.0),
]


# --- inputs ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelFactory:
    """``make_model(seed)`` for run_audit: the workspace's MLP architecture, initialised from ``seed``."""
    n_classes: int
    width: int
    depth: int
    activation: str

    def __call__(self, seed: int) -> MLP:
        return MLP(2, self.n_classes, (self.width,) * self.depth, self.activation, seed=int(seed))


def train_rows(ws: Workspace, ids) -> np.ndarray:
    """Positions in ``ws.train_ids`` (rows of the training arrays) of global training-point ids."""
    pos = {int(g): i for i, g in enumerate(ws.train_ids)}
    ids = [int(i) for i in np.asarray(list(ids), np.int64)]
    bad = [i for i in ids if i not in pos]
    if bad:
        raise ValueError(f"Points {bad[:5]} are not training points (test points cannot be forgotten).")
    return np.asarray([pos[i] for i in ids], np.int64)


def validate_forget(ws: Workspace, forget_ids) -> np.ndarray:
    """The sorted global forget ids; ValueError with a clear message when the set is empty, holds
    points that are not training points, or is the whole training set."""
    ids = np.unique(np.asarray(list(forget_ids), np.int64))
    if len(ids) == 0:
        raise ValueError("The forget set is empty: select training points on the Playground, or pick a "
                         "scenario that finds points to forget.")
    train_rows(ws, ids)
    if len(np.setdiff1d(ws.train_ids, ids)) == 0:
        raise ValueError("The forget set is the whole training set: a model retrained on nothing is undefined. "
                         "Forget fewer points.")
    return ids


def audit_inputs(ws: Workspace, forget_ids) -> dict:
    """``run_audit``'s data arguments for forgetting the global ids ``forget_ids`` of ``ws``: make_model
    (the workspace's architecture), train = (X, y) of the training split, forget_rows (positions of the
    ids in ``ws.train_ids``), test, recipe (the workspace's training recipe) and seed (its seed)."""
    ids = validate_forget(ws, forget_ids)
    cfg = ws.model_cfg
    return dict(make_model=ModelFactory(int(ws.n_classes), int(cfg.width), int(cfg.depth), str(cfg.activation)),
                train=ws.pairs(ws.train_ids), forget_rows=train_rows(ws, ids), test=ws.test,
                recipe=dict(epochs=int(cfg.epochs), lr=float(cfg.lr), batch_size=int(cfg.batch_size)),
                seed=int(cfg.seed))


def jit_overrides(values: dict) -> dict:
    """JiT hyperparameters as run_audit's overrides: only those that differ from the core's defaults."""
    d = METHODS["jit"].defaults()
    return {k: v for k, v in values.items() if k in d and k != "seed" and v != d[k]}


def data_identity(ws: Workspace) -> str:
    """A digest of what the audit trains on: points, labels, split, classes and the model recipe."""
    h = hashlib.sha1()
    for arr in (ws.X, ws.y, ws.train_ids, ws.test_ids):
        a = np.ascontiguousarray(arr)
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    cfg = ws.model_cfg
    h.update(repr((int(ws.n_classes), cfg.width, cfg.depth, cfg.activation, cfg.epochs, float(cfg.lr),
                   cfg.batch_size, cfg.seed)).encode())
    return h.hexdigest()


def cache_key(ws: Workspace, forget_ids, methods, overrides: dict | None, K: int, device: str = "cpu",
              protocol: str = DEFAULT_PROTOCOL) -> tuple:
    """Hashable key of one audit: data identity, forget ids, methods, their hyperparameters, K, device, protocol."""
    overrides = overrides or {}
    methods = tuple(m for m in dict.fromkeys(methods) if m != FLOOR)
    hps = []
    for m in methods:
        hp = METHODS[m].defaults()
        hp.update(overrides.get(m, {}))
        hp.pop("seed", None)
        hps.append((m, tuple(sorted((k, repr(v)) for k, v in hp.items()))))
    ids = tuple(int(i) for i in np.unique(np.asarray(list(forget_ids), np.int64)))
    return (data_identity(ws), ids, methods, tuple(hps), int(K), str(device), str(protocol))


def n_trained(K: int, protocol: str = DEFAULT_PROTOCOL) -> int:
    """Models the audit trains from scratch: the originals (1 or K) and the 2K retrains."""
    return (1 if protocol == "challenge" else int(K)) + 2 * int(K)


def estimate_seconds(K: int, n_train: int, epochs: int, n_methods: int = 1, protocol: str = DEFAULT_PROTOCOL) -> float:
    """Rough wall time of an audit on one CPU thread (measured with the originals protocol, 3K models trained:
    600 moons points, 200 epochs, 2x64 MLP, JiT: K=8 about 6 s, K=32 about 12 s, K=64 about 22 s; finetune and
    random_label add about 1 s each at K=64). The training term scales with the models trained (``n_trained``)."""
    work = max(1, int(n_train)) * max(1, int(epochs)) / (450 * 200)
    return 0.7 + work * (2.5 + 0.29 * n_trained(K, protocol) / 3) + 0.015 * int(K) * max(0, int(n_methods))


def progress_text(stage: str, K: int, protocol: str = DEFAULT_PROTOCOL) -> str:
    """What the progress bar says during ``stage`` (run_audit's progress stages)."""
    challenge = protocol == "challenge"
    if stage == "original":
        return "Training the original model…" if challenge else f"Training {K} original models at once…"
    if stage == "retrain":
        return (f"Retraining {2 * K} models without the forget set ({K} as the reference, {K} for the floor)…")
    if challenge:
        return f"Unlearning {K} copies of the original with {stage}, one seed each, then scoring…"
    return f"Unlearning with {stage} on all {K} original models, then scoring…"


# --- what a result shows -----------------------------------------------------------------------------

def role_label(result: AuditResult, name: str) -> str:
    """The table's / selector's label of a row: methods by name, the two references spelled out. "Floor" and
    "ceiling" are ε's (lowest and highest); F runs the other way (the floor has the highest F), so the labels
    say which is the best and which is doing nothing."""
    role = result.scores[name].role
    if role == "floor":
        return "retrain again (ε floor: the best F K models show)"
    if role == "ceiling":
        return "original, not unlearned (ε ceiling: F of doing nothing)"
    return name


def display_order(result: AuditResult) -> list[str]:
    """Row order: the ceiling, the floor, then the methods (as the Compare page: original, retrain, methods)."""
    refs = [n for n in (CEILING, FLOOR) if n in result.scores]
    return refs + [n for n in result.scores if n not in refs]


def summary_table(result: AuditResult) -> pd.DataFrame:
    """One row per method plus the floor and the ceiling, with the columns of ``COLUMNS``."""
    rows = {r["method"]: r for r in result.table_rows()}
    data = []
    for name in display_order(result):
        r = rows[name]
        entry = {"row": role_label(result, name)}
        for key, col, scale in COLUMNS:
            v = r[key]
            entry[col] = float(v) * scale if v is not None else float("nan")
        if result.scores[name].role != "method":
            entry["seconds"] = float("nan")  # no method ran
        entry[NOTE] = row_note(result, name)
        data.append(entry)
    df = pd.DataFrame(data).set_index("row")
    df.index.name = None
    return df


def row_note(result: AuditResult, name: str) -> str:
    """The summary table's note for a row whose K models had no spread (empty otherwise)."""
    s = result.scores[name]
    if not s.no_spread:
        return ""
    who = ("K copies of one model" if s.role == "ceiling" else
           "deterministic: its K copies are identical" if result.protocol == "challenge" else
           "its K models are identical")
    return f"no spread ({who}): ε = {EPSILON_CAP:g} by construction"


def protocol_notes(result: AuditResult) -> list[str]:
    """What the protocol means for this result (markdown): which rows have no spread, and why."""
    flat = [n for n in display_order(result) if result.scores[n].no_spread]
    if not flat:
        return []
    names = ", ".join(role_label(result, n) for n in flat)
    if result.protocol == "challenge":
        return [f"**No spread: {names}.** Under the challenge's protocol the K unlearned models are copies of one "
                f"original that differ only by the method's seed. A deterministic method (SSD, LF-SSD) ignores the "
                f"seed, and the ceiling is the original itself, so their K models are identical: next to the spread "
                f"of the retrained models, the challenge's spread rule sets every point's ε to the cap "
                f"{EPSILON_CAP:g}, and F is 0 **by construction, not by measurement**. Choose “"
                f"{PROTOCOLS['originals']}” to measure them against the spread of training."]
    return [f"**No spread: {names}.** Their K models are identical, so every point's ε is the cap "
            f"{EPSILON_CAP:g} by the spread rule."]


def findings(result: AuditResult) -> list[str]:
    """Plain-language verdicts per audited method, read off the numbers (markdown strings)."""
    floor, ceiling = result.scores[FLOOR], result.scores[CEILING]
    out = []
    for name, s in result.scores.items():
        if s.role != "method":
            continue
        exposed = int((s.eps >= result.eps_max).sum())
        line = (f"**{name}**: F = {s.F:.3f} (higher is better: retraining again reaches {floor.F:.3f}, doing "
                f"nothing {ceiling.F:.3f}); "
                f"{exposed} of {len(s.eps)} forget points at ε ≥ {result.eps_max:g}, where a point earns nothing.")
        if s.no_spread:
            line += (" **No spread**: its K models are identical, so every ε is the cap by the spread rule; F says "
                     "nothing about forgetting here" + (" (a deterministic method under the challenge's protocol)."
                                                       if result.protocol == "challenge" else "."))
            out.append(line)
            continue
        if ceiling.no_spread:  # the challenge protocol's ceiling: one model K times, at the cap by construction
            if s.F >= floor.F - 1e-12:
                line += " As close to retraining as K models can tell (at the floor)."
            else:
                line += (f" It reaches {100 * s.F / max(floor.F, 1e-12):.0f}% of the floor's F (the ceiling, K copies "
                         "of one original, sits at 0 by construction under this protocol).")
        elif s.F < ceiling.F:
            line += (" **Worse than not unlearning at all**: its models are *easier* to tell from retrained models "
                     "than the untouched originals are, because the method moves them in a way retraining never "
                     "does.")
        elif s.F >= floor.F - 1e-12:
            line += " As close to retraining as K models can tell (at the floor)."
        else:
            share = (s.F - ceiling.F) / max(floor.F - ceiling.F, 1e-12)
            line += f" It closes {100 * share:.0f}% of the gap from the original models to the floor."
        ref_test = result.reference["acc_test"]
        if s.acc_test < ref_test - 0.05:
            line += (f" **It damages the model**: test accuracy {100 * s.acc_test:.1f}% against "
                     f"{100 * ref_test:.1f}% for retraining (a collapsed model is trivially 'different').")
        if len(s.eps_retain) and np.mean(s.eps_retain) > np.mean(floor.eps_retain) + 0.5:
            line += (f" It also disturbs retained points: mean ε on the retain sample is "
                     f"{np.mean(s.eps_retain):.2f}, against {np.mean(floor.eps_retain):.2f} for the floor.")
        out.append(line)
    return out


def audited_ids(ws: Workspace, result: AuditResult) -> tuple[np.ndarray, np.ndarray]:
    """(global ids of the forget points, global ids of the audited retain sample), in the result's order."""
    tr = ws.train_ids
    return tr[np.asarray(result.forget_rows, np.int64)], tr[np.asarray(result.retain_rows, np.int64)]


@dataclass
class PointView:
    """One audited point under one method: its confidences and the attack that best separates them."""
    point_id: int  # global id
    kind: str  # "forget" or "retain" (a point of the audited retain sample)
    label: int
    method: str
    method_label: str
    K: int
    unlearned: np.ndarray  # [K] logit-scaled confidence under the method's K models
    retrained: np.ndarray  # [K] under the K reference retrains
    original: np.ndarray  # [K] under the K originals
    eps: float
    points: float
    threshold: Threshold | None
    ulira: float
    eps_max: float


def point_view(ws: Workspace, result: AuditResult, method: str, point_id: int) -> PointView:
    """The audit of one point (a forget point or one of the retain sample) under ``method``
    (a method name, ``FLOOR`` or ``CEILING``). KeyError if the point was not audited."""
    f_ids, r_ids = audited_ids(ws, result)
    s = result.scores[method]
    hit = np.flatnonzero(f_ids == int(point_id))
    if len(hit):
        j = int(hit[0])
        U, R, O = s.conf_forget[:, j], result.reference["conf_forget"][:, j], result.scores[CEILING].conf_forget[:, j]
        eps, thr, ul, kind = float(s.eps[j]), s.thresholds[j], float(s.ulira[j]), "forget"
    else:
        hit = np.flatnonzero(r_ids == int(point_id))
        if not len(hit):
            raise KeyError(f"point {point_id} was not audited")
        j = int(hit[0])
        U, R, O = s.conf_retain[:, j], result.reference["conf_retain"][:, j], result.scores[CEILING].conf_retain[:, j]
        # The core keeps no rule for retained points; the same estimator on the same samples finds it.
        e, rules = per_example_epsilon(U[:, None], R[:, None], return_thresholds=True)
        eps, thr, kind = float(e[0]), rules[0], "retain"
        ul = float(ulira_accuracy(U[:, None], R[:, None])[0])
    return PointView(int(point_id), kind, int(ws.y[int(point_id)]), method, role_label(result, method), result.K,
                     np.asarray(U, float), np.asarray(R, float), np.asarray(O, float), eps,
                     float(epsilon_points([eps], result.K)[0]), thr, ul, result.eps_max)


def pick_point(event, ws: Workspace, result: AuditResult, current: int | None) -> int | None:
    """The point to show after a canvas event: the clicked audited point, else ``current`` if it was
    audited, else None (the caller then shows the largest epsilon)."""
    f_ids, r_ids = audited_ids(ws, result)
    audited = set(f_ids.tolist()) | set(r_ids.tolist())
    ids, _ = selected_ids(event)
    clicked = [i for i in ids if i in audited]
    if clicked:
        return int(clicked[0])
    return int(current) if current is not None and int(current) in audited else None


def default_point(ws: Workspace, result: AuditResult, method: str) -> int:
    """The forget point with the largest epsilon under ``method`` (the first one on ties)."""
    f_ids, _ = audited_ids(ws, result)
    return int(f_ids[int(np.argmax(result.scores[method].eps))])


@dataclass
class EpsilonView:
    """One method's epsilons on the audited points, as the epsilon canvas shows them."""
    method: str
    K: int
    eps_max: float
    forget_ids: np.ndarray  # global ids of the forget points
    retain_ids: np.ndarray  # global ids of the audited retain sample
    eps: np.ndarray  # [forget] epsilon of each forget point
    points: np.ndarray  # [forget] the challenge's points of each
    ulira: np.ndarray  # [forget] U-LiRA accuracy of each
    eps_retain: np.ndarray  # [retain] epsilon of each retained point
    points_retain: np.ndarray  # [retain]


def epsilon_view(ws: Workspace, result: AuditResult, method: str) -> EpsilonView:
    """The epsilons, points and U-LiRA accuracies of the audited points under ``method`` (a method name,
    ``FLOOR`` or ``CEILING``)."""
    f_ids, r_ids = audited_ids(ws, result)
    s = result.scores[method]
    r_pts = epsilon_points(s.eps_retain, result.K) if len(s.eps_retain) else np.zeros(0)
    return EpsilonView(method, result.K, result.eps_max, f_ids, r_ids, np.asarray(s.eps),
                       epsilon_points(s.eps, result.K), np.asarray(s.ulira), np.asarray(s.eps_retain), r_pts)
