"""The 2-D bench: per seed, the original, retrain (always), each method, and optionally an audit.

Rows are plain dicts (``unlearn_core.report`` turns them into tables); the CLI
(``unlearn_core.bench.cli``) parses flags and prints.
"""
from __future__ import annotations

from unlearn_core.audit import run_audit
from unlearn_core.methods import METHODS, unlearn
from unlearn_core.methods.spec import not_applicable
from unlearn_core.metrics import evaluate
from unlearn_core.problem import ModelRecipe, Problem, choose_forget, split, train_original

#: The methods the 2-D bench runs when --methods is not given.
DEFAULT_2D_METHODS = ("jit", "retrain", "finetune", "neggrad_plus", "random_label")


def run_seed(problem: Problem, recipe: ModelRecipe, seed: int, setting: str, methods: list[str],
             overrides: dict[str, dict], device: str = "cpu", progress=None, audit: int = 0,
             audit_protocol: str = "challenge", **forget_kw) -> list[dict]:
    """One seed: original, retrain (always), then each method. Returns JSON rows.

    With ``audit=K`` the seed's forget set is also audited with K models per sample
    (``unlearn_core.audit.run_audit``, protocol ``audit_protocol``): method rows get the method's
    scores, the retrain row the floor (retrain vs retrain) and the original row the ceiling (no unlearning).
    """
    original = train_original(problem, recipe, seed, device)
    rows_f = choose_forget(setting, problem, original, seed, **forget_kw)
    forget, retain = split(problem, rows_f)
    test = problem.test
    tick = progress.update if progress is not None else (lambda n=1: None)
    tick()
    base = dict(dataset=problem.dataset, setting=setting, seed=seed, n_forget=int(len(rows_f)))
    results = {}
    ref = unlearn("retrain", original, forget=forget, retain=retain, device=device, seed=seed,
                  **overrides.get("retrain", {}))
    results["retrain"] = ref
    tick()
    # A class-level method (UNSIR, EMMN, GKT) has no meaning in the random setting: an n/a row, not a run.
    na = {m: not_applicable(METHODS[m], setting) for m in methods if m in METHODS}
    for m in methods:
        if m == "retrain":
            continue
        if not na.get(m):
            hp = dict(overrides.get(m, {}))
            hp.setdefault("seed", seed)
            results[m] = unlearn(m, original, forget=forget, retain=retain, device=device, **hp)
        tick()
    rows = []
    kw = dict(retain=retain, forget=forget, test=test, reference=ref.model, bounds=problem.bounds)
    rows.append(dict(base, method="original", seconds=0.0, steps=0, hyperparameters=dict(vars(recipe)),
                     **evaluate(original, **kw)))
    for m in ["retrain"] + [m for m in methods if m != "retrain"]:
        if m != "retrain" and na.get(m):
            blank = {k: float("nan") for k in rows[0]
                     if k not in base and k not in ("method", "steps", "hyperparameters")}
            rows.append(dict(base, method=m, **blank, steps=0, hyperparameters={}, na=na[m],
                             error=f"n/a: {na[m]} ({m} forgets whole classes; the {setting} setting has none)"))
            continue
        r = results[m]
        rows.append(dict(base, method=m, seconds=r.seconds, steps=len(r.history),
                         hyperparameters=r.hyperparameters, **evaluate(r.model, **kw)))
    if audit:
        ran = [m for m in methods if not na.get(m)]
        add_audit(rows, problem, recipe, seed, rows_f, ran, overrides, int(audit), device, audit_protocol)
        tick()
    return rows


def add_audit(rows: list[dict], problem: Problem, recipe: ModelRecipe, seed: int, rows_f, methods, overrides,
              K: int, device, protocol: str = "challenge") -> None:
    """Audit one seed's forget set with K models per sample and add the scores to its rows in place.

    ``protocol`` is run_audit's: "challenge" unlearns K copies of one original trained with ``seed``
    (the same recipe and seed as the bench's original row), "originals" K originals once each.
    ``row["audit_no_spread"]`` is True where the row's K models were identical (a deterministic
    method, or the ceiling, under the challenge protocol): its epsilons are the cap by construction.
    """
    res = run_audit(lambda s: recipe.build(problem.n_classes, s),
                    (problem.X_train, problem.y_train), rows_f, problem.test, K=K, methods=methods,
                    recipe=recipe.fit_kwargs(),
                    overrides=overrides, seed=seed, device=device, protocol=protocol)
    for row in rows:
        s = res.scores.get(row["method"])
        if s is None:
            continue
        summ = s.summary()
        row.update(audit_F=summ["forget_quality"], audit_final=summ["final_score"], audit_eps_mean=summ["eps_mean"],
                   audit_ulira=summ["ulira_acc"], audit_retain_F=summ["retain_quality"],
                   audit_no_spread=s.no_spread, audit_spread_capped=s.spread_capped,
                   audit=dict(K=K, protocol=res.protocol, role=s.role, no_spread=s.no_spread, eps=s.eps.tolist(),
                              ulira=s.ulira.tolist(),
                              eps_retain=s.eps_retain.tolist(), forget_rows=res.forget_rows.tolist(),
                              retain_rows=res.retain_rows.tolist(), seconds=s.seconds, batched=s.batched))
