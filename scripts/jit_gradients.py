"""What each JiT step does: the detached gradient (the authors' code) against the full one (the paper's loss).

JiT's loss per forget input x, with N perturbations xi_j ~ N(0, sigma^2 I) (in the model's standardised
input units when it declares them), is

    l(x) = (1/N) sum_j ||f(x) - f(x + xi_j)||_2 / ||xi_j||_2

``gradient="detached"`` treats the perturbed outputs as constants; ``gradient="full"`` differentiates
both branches, i.e. is descent on l. This script measures, on two models:

(a) the 2-D moons MLP (the app's default data and recipe) with the high-information forget set, and
(b) the digits SmallCNN, trained briefly, forgetting every training image of one digit:

1. the cosine between the detached gradient and the full gradient of l over the forget set, for
   several sigma, with the same noise for both (and, as a check that each direction is stable, the
   cosine between the gradients of the two halves of the noise draws);
2. l on the forget set (fresh noise, large N) before and after a run of each gradient at a few
   learning rates (plain SGD, ``normalize_step="off"``, and for the MLP also its default scale-free
   ``"first"``);
3. forget / retain (/ test) accuracy after each run, with retraining from scratch on the retain set
   (``unlearn("retrain", ...)``) as the target.

Seeded and deterministic on the CPU. Prints a markdown report; ``--write-docs`` also writes it between
``<!-- BEGIN jit_gradients -->`` and ``<!-- END jit_gradients -->`` in docs/api.md.

    python scripts/jit_gradients.py                 # about 40 s on one CPU thread (the default)
    python scripts/jit_gradients.py --quick         # about 15 s: fewer draws, sigmas and lrs
    python scripts/jit_gradients.py --write-docs    # also rewrite the docs/api.md section
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _p in (ROOT, os.path.join(ROOT, "benchmarks")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import _env  # noqa: E402  (first: it records the load average at start)
import torch  # noqa: E402

from unlearn_core import fit, unlearn  # noqa: E402
from unlearn_core.images.data import load_digits  # noqa: E402
from unlearn_core.methods.jit import jit_loss, scale_for  # noqa: E402
from unlearn_core.models import SmallCNN  # noqa: E402
from unlearn_core.problem import ModelRecipe, choose_forget, make_problem, split  # noqa: E402

SECTION = "jit_gradients"
API_DOC = os.path.join(ROOT, "docs", "api.md")

# ---------------------------------------------------------------------------------------------
# Configuration: full run, then what --quick changes.
# ---------------------------------------------------------------------------------------------
SEED = 0
MLP = dict(sigmas=(0.1, 0.25, 0.5), n_cos=4000, n_lip=2000, run_sigma=0.25, n_samples=25, batch_size=4,
           reduction="mean", runs=(("off", (0.03, 0.1, 0.3)), ("first", (0.03, 0.1, 0.3))))
DIGITS = dict(sigmas=(0.1, 0.25, 0.5), n_cos=100, n_lip=100, run_sigma=0.1, n_samples=25, batch_size=128,
              reduction="sum", runs=(("off", (3e-4, 1e-3, 3e-3, 1e-2)),), forget_digit=3, fit_epochs=6, width=16)
QUICK = dict(mlp=dict(sigmas=(0.1, 0.5), n_cos=1000, n_lip=500, runs=(("off", (0.1,)), ("first", (0.1,)))),
             digits=dict(sigmas=(0.1,), n_cos=26, n_lip=50, runs=(("off", (1e-3,)),), fit_epochs=2))
CHUNK_ELEMENTS = 1 << 18  # perturbed input elements per forward/backward when measuring (caps memory on the CNN)


# ---------------------------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------------------------

def noise_like(x: torch.Tensor, n: int, sigma: float, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn((n, *x.shape), generator=gen, dtype=x.dtype) * float(sigma)


def flat_grad(model, x, noise, scale, gradient: str, reduction: str) -> torch.Tensor:
    """Gradient of the JiT loss (mean over all N draws of ``noise``), accumulated over chunks of draws."""
    params = [p for p in model.parameters() if p.requires_grad]
    total = [torch.zeros_like(p) for p in params]
    n, rows = len(noise), max(1, CHUNK_ELEMENTS // x.numel())
    for start in range(0, n, rows):
        part = noise[start:start + rows]
        loss = jit_loss(model, x, part, scale=scale, reduction=reduction, gradient=gradient) * (len(part) / n)
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        for t, g in zip(total, grads):
            if g is not None:
                t.add_(g)
    return torch.cat([t.flatten() for t in total])


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))


def cosine_rows(model, x, sigmas, n, reduction: str) -> list[tuple]:
    """Per sigma: cos(detached, full), and each gradient's cos between the two halves of the noise draws."""
    model.eval()
    scale = scale_for(model, x)
    rows = []
    for k, sigma in enumerate(sigmas):
        noise = noise_like(x, n, sigma, SEED + 100 + k)
        h = n // 2
        g = {}
        for grad in ("detached", "full"):
            a = flat_grad(model, x, noise[:h], scale, grad, reduction)
            b = flat_grad(model, x, noise[h:], scale, grad, reduction)
            g[grad] = (a * h + b * (n - h)) / n, cos(a, b)
        rows.append((sigma, cos(g["detached"][0], g["full"][0]), g["detached"][1], g["full"][1]))
    return rows


def lipschitz(model, x, sigma: float, n: int, seed: int) -> float:
    """The JiT loss l, averaged over the forget set, with fresh noise (n draws per point)."""
    model.eval()
    scale = scale_for(model, x)
    noise, rows = noise_like(x, n, sigma, seed), max(1, CHUNK_ELEMENTS // x.numel())
    with torch.no_grad():
        vals = [jit_loss(model, x, noise[s:s + rows], scale=scale, reduction="mean") * len(noise[s:s + rows])
                for s in range(0, n, rows)]
    return float(sum(vals) / n)


def accuracy(model, X, y) -> float:
    model.eval()
    with torch.no_grad():
        return 100.0 * float((model(torch.as_tensor(X)).argmax(1) == torch.as_tensor(y)).float().mean())


def accs(model, forget, retain, test) -> tuple[float, float, float]:
    return accuracy(model, *forget), accuracy(model, *retain), accuracy(model, *test)


def run_table(model, forget, retain, test, cfg, profile: str, lip_seed: int, lines) -> None:
    """Runs of each gradient at each step setting; l before/after and accuracies, retrain as the target."""
    Xf = torch.as_tensor(forget[0])
    sig, n_lip = cfg["run_sigma"], cfg["n_lip"]
    lip0 = lipschitz(model, Xf, sig, n_lip, lip_seed)
    rt = unlearn("retrain", model, forget=forget, retain=retain, device="cpu", profile=profile, seed=SEED).model
    lines(f"ℓ on the forget set at σ {sig} (N={n_lip} fresh draws per point), and accuracy (%) on the "
          f"forget / retain training points and the test set. Runs: σ {sig}, N {cfg['n_samples']}, "
          f"forget batch {cfg['batch_size']} ({cfg['reduction']} over the batch), one pass, noise seed {SEED}.")
    lines()
    lines("| run | gradient | step | lr | ℓ before | ℓ after | forget | retain | test |")
    lines("|---|---|---|---:|---:|---:|---:|---:|---:|")
    f, r, t = accs(model, forget, retain, test)
    lines(f"| original | | | | {lip0:.3f} | | {f:.1f} | {r:.1f} | {t:.1f} |")
    f, r, t = accs(rt, forget, retain, test)
    lines(f"| retrain (target) | | | | | {lipschitz(rt, Xf, sig, n_lip, lip_seed):.3f} | {f:.1f} | {r:.1f} | {t:.1f} |")
    for step, lrs in cfg["runs"]:
        for grad in ("detached", "full"):
            for lr in lrs:
                new = unlearn("jit", model, forget=forget, device="cpu", profile=profile, sigma=sig,
                              n_samples=cfg["n_samples"], batch_size=cfg["batch_size"], reduction=cfg["reduction"],
                              normalize_step=step, gradient=grad, lr=lr, seed=SEED).model
                lip1 = lipschitz(new, Xf, sig, n_lip, lip_seed)
                f, r, t = accs(new, forget, retain, test)
                lines(f"| JiT | {grad} | {step} | {lr:g} | {lip0:.3f} | {lip1:.3f} | {f:.1f} | {r:.1f} | {t:.1f} |")
    lines()


def cosine_table(model, x, cfg, lines) -> None:
    lines(f"Cosine between the detached and the full gradient of ℓ over the forget set (same noise for both, "
          f"N={cfg['n_cos']} draws per point). The stability columns are the cosine between the gradients of "
          f"the two halves of the draws (N={cfg['n_cos'] // 2} each): near 1 means the direction is not noise.")
    lines()
    lines("| σ | cos(detached, full) | stability, detached | stability, full |")
    lines("|---:|---:|---:|---:|")
    for sigma, c, sd, sf in cosine_rows(model, x, cfg["sigmas"], cfg["n_cos"], cfg["reduction"]):
        lines(f"| {sigma:g} | {c:+.3f} | {sd:.3f} | {sf:.3f} |")
    lines()


# ---------------------------------------------------------------------------------------------
# The two problems
# ---------------------------------------------------------------------------------------------

def moons(cfg, lines) -> None:
    problem = make_problem("moons", n_samples=600, data_seed=0)
    recipe = ModelRecipe()
    model = recipe.build(problem.n_classes, SEED)
    fit(model, problem.X_train, problem.y_train, seed=SEED, device="cpu", **recipe.fit_kwargs())
    rows = choose_forget("high_info", problem, model, SEED)
    forget, retain = split(problem, rows)
    lines(f"### Moons MLP (600 points, default recipe), high-information forget set ({len(rows)} points)")
    lines()
    cosine_table(model, torch.as_tensor(forget[0]), cfg, lines)
    run_table(model, forget, retain, problem.test, cfg, "toy2d", SEED + 7, lines)


def digits(cfg, lines) -> None:
    data = load_digits(seed=SEED)
    Xtr, Xte = data.normalize(data.X_train), data.normalize(data.X_test)
    ytr, yte = data.y_train, data.y_test
    model = SmallCNN(1, data.n_classes, width=cfg["width"], seed=SEED)
    fit(model, Xtr, ytr, epochs=cfg["fit_epochs"], lr=1e-2, batch_size=64, seed=SEED, device="cpu")
    mask = (ytr == cfg["forget_digit"]).numpy()
    forget, retain = (Xtr[mask], ytr[mask]), (Xtr[~mask], ytr[~mask])
    lines(f"### Digits SmallCNN (width {cfg['width']}, {cfg['fit_epochs']} epochs of Adam), forget every "
          f"training image of digit {cfg['forget_digit']} ({int(mask.sum())} images)")
    lines()
    lines("Inputs are normalised per channel; the CNN declares no input scale, so σ is in normalised units. "
          "Test accuracy is over all ten digits.")
    lines()
    cosine_table(model, forget[0], cfg, lines)
    run_table(model, forget, retain, (Xte, yte), cfg, "smallcnn/full_class", SEED + 7, lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="fewer noise draws, sigmas and lrs, and a shorter-trained CNN (about 15 s)")
    ap.add_argument("--write-docs", action="store_true",
                    help="also replace the 'jit_gradients' section of docs/api.md with this run's report")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch.set_num_threads (default 1: these models are small, and on a shared 2-core machine "
                         "one thread trained the MLP about 10x faster than two)")
    args = ap.parse_args(argv)
    _env.apply_threads(ap, args)
    if args.write_docs:
        _env.check_doc_section(ap, SECTION, API_DOC)
    mlp_cfg, dig_cfg = dict(MLP), dict(DIGITS)
    if args.quick:
        mlp_cfg.update(QUICK["mlp"])
        dig_cfg.update(QUICK["digits"])
    t0 = time.perf_counter()
    lines = _env.Lines()
    moons(mlp_cfg, lines)
    digits(dig_cfg, lines)
    lines(f"Total runtime: {time.perf_counter() - t0:.0f} s.")
    if args.write_docs:
        _env.write_docs(SECTION, lines.text(), path=API_DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
