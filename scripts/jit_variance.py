"""JiT's spread on the digits CNN: over noise seeds, over model seeds, and the n_samples / time trade-off.

Full-class forgetting of digit 3 with the SmallCNN and the digits JiT defaults
(``DEFAULTS["smallcnn/full_class"]["jit"]``). For each model seed (the original trained with the bench's
recipe and that seed; cached under ``--cache``) and each JiT noise seed, JiT runs with N perturbations
per point for each N in ``--n``. Retraining forgets the class by construction (a model that never saw
digit 3 never predicts it: forget accuracy 0), so forget accuracy is read against 0 and retain
accuracy against the original's.

Reported per N: forget and retain test accuracy as mean ± std over all runs, the spread that noise
alone gives (the mean over models of the std over noise seeds), the spread between models (the std
of the per-model means), and JiT's seconds per run.

    python scripts/jit_variance.py                       # 3 models x 3 noise seeds x N in 25, 100
    python scripts/jit_variance.py --models 3 --noise 5 --n 25,100,200 --write-docs

With ``--write-docs`` the report replaces the ``jit_variance`` section of docs/defaults.md. Not a speed
benchmark: times are only as good as the machine is quiet.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for path in (ROOT, os.path.join(ROOT, "benchmarks")):
    if path not in sys.path:
        sys.path.insert(0, path)

import torch  # noqa: E402

from _env import command_line, cpu_model, load_average, write_doc_section  # noqa: E402
from unlearn_core import unlearn  # noqa: E402
from unlearn_core.images.bench import evaluate_images, load_variant, trained_model  # noqa: E402
from unlearn_core.images.splits import make_split  # noqa: E402
from unlearn_core.images.train import recipe_for  # noqa: E402
from unlearn_core.methods import DEFAULTS  # noqa: E402

DOC = os.path.join(ROOT, "docs", "defaults.md")
SECTION = "jit_variance"


def spread(table: dict[tuple[int, int], float], models, noises) -> tuple[float, float, float, float]:
    """(mean, std over all runs, mean within-model std over noise seeds, std of the per-model means)."""
    values = [table[m, s] for m in models for s in noises]
    within = [statistics.stdev([table[m, s] for s in noises]) for m in models] if len(noises) > 1 else [0.0]
    means = [statistics.mean(table[m, s] for s in noises) for m in models]
    between = statistics.stdev(means) if len(models) > 1 else 0.0
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0), \
        statistics.mean(within), between


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=3, help="model seeds 0..K-1")
    ap.add_argument("--noise", type=int, default=3, help="JiT noise seeds 0..S-1")
    ap.add_argument("--n", default="25,100", help="comma list of n_samples")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default=os.path.join(ROOT, "results", "jit_variance_models"),
                    help="where the trained originals are cached (weights-only checkpoints)")
    ap.add_argument("--write-docs", action="store_true", help=f"replace the '{SECTION}' section of docs/defaults.md")
    args = ap.parse_args(argv)
    ns = [int(v) for v in args.n.split(",") if v.strip()]
    if args.models < 1 or args.noise < 1 or not ns or min(ns) < 1:
        ap.error("--models, --noise and every --n must be >= 1")
    torch.set_num_threads(args.threads)
    out = []

    def say(text=""):
        print(text, flush=True)
        out.append(text)

    loaded = load_variant("digits", "full_class", None)
    split = make_split(loaded.data, "full_class", "3", seed=0)
    recipe = recipe_for("digits", "smallcnn")
    hp = dict(DEFAULTS["smallcnn/full_class"]["jit"])
    ft = torch.as_tensor(split.forget_train)
    forget = (loaded.Xtr[ft], loaded.data.y_train[ft])
    models, noises = list(range(args.models)), list(range(args.noise))
    originals = {m: trained_model(loaded, "smallcnn", recipe, m, "cpu", args.cache) for m in models}
    base = {m: evaluate_images(originals[m], loaded, split) for m in models}
    forget_acc = {n: {} for n in ns}
    retain_acc = {n: {} for n in ns}
    seconds = {n: [] for n in ns}
    for n in ns:
        for m in models:
            for s in noises:
                t0 = time.perf_counter()
                res = unlearn("jit", originals[m], forget=forget, device="cpu", profile="smallcnn/full_class",
                              **dict(hp, n_samples=n, seed=s))
                seconds[n].append(time.perf_counter() - t0)
                r = evaluate_images(res.model, loaded, split)
                forget_acc[n][m, s], retain_acc[n][m, s] = 100 * r["acc_forget"], 100 * r["acc_retain"]
    say(f"Digits SmallCNN, full class (digit 3, {len(ft)} training images), JiT defaults "
        f"sigma {hp['sigma']}, lr {hp['lr']:g}, batch {hp['batch_size']}, reduction {hp['reduction']}, "
        f"gradient {hp['gradient']}; {len(models)} model seeds x {len(noises)} noise seeds. Retraining: forget 0 "
        f"(by construction). Originals: forget "
        f"{statistics.mean(100 * base[m]['acc_forget'] for m in models):.1f}, retain "
        f"{statistics.mean(100 * base[m]['acc_retain'] for m in models):.1f} (test accuracy %, mean over models).")
    say()
    say("| N | forget acc % (mean ± std) | noise spread | model spread | retain acc % (mean ± std) | noise spread "
        "| model spread | JiT seconds / run |")
    say("|---:|---|---:|---:|---|---:|---:|---:|")
    for n in ns:
        fm, fs, fw, fb = spread(forget_acc[n], models, noises)
        rm, rs, rw, rb = spread(retain_acc[n], models, noises)
        say(f"| {n} | {fm:.1f} ± {fs:.1f} | {fw:.1f} | {fb:.1f} | {rm:.1f} ± {rs:.1f} | {rw:.1f} | {rb:.1f} | "
            f"{statistics.mean(seconds[n]):.2f} |")
    say()
    say("Per run, forget / retain % (rows: model seed; columns: noise seed):")
    for n in ns:
        say()
        say(f"N = {n}: " + "; ".join(
            f"model {m}: " + ", ".join(f"{forget_acc[n][m, s]:.0f}/{retain_acc[n][m, s]:.0f}" for s in noises)
            for m in models))
    say()
    say(f"Noise spread = mean over models of the std over noise seeds; model spread = std of the per-model means. "
        f"Command: `{command_line()}`; {cpu_model()}, torch {torch.__version__}, {args.threads} threads, "
        f"{load_average()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")
    if args.write_docs:
        write_doc_section(SECTION, "\n".join(out), DOC)
        print(f"\nwrote the {SECTION} section of {os.path.relpath(DOC, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
