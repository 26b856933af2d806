"""How the digits (SmallCNN) JiT defaults are chosen: a grid over sigma, lr and the forget batch size,
scored over several model seeds and several JiT noise seeds.

For each image setting (full_class digit 3, sub_class digit 3 on parity labels, random 2%) and each model
seed: train the original and the retrained oracle with the bench's recipe and that seed (cached under
``--cache``), then run JiT for every grid point and every noise seed. A run's score is its mean absolute
gap to that seed's retrain over forget, retain and test accuracy (percentage points; lower is closer to
retraining). A grid point is ranked by its mean score over all (model seed, noise seed) runs; the table
gives that mean ± its std, the forget / retain accuracy (mean ± std), and the spread that noise alone
gives (mean over models of the std over noise seeds). The original (doing nothing) is scored the same
way, so a reader sees whether any setting beats it.

    python scripts/digits_jit_sweep.py                           # 3 model seeds x 3 noise seeds
    python scripts/digits_jit_sweep.py --models 3 --noise 3 --write-docs

With ``--write-docs`` the report replaces the ``digits_jit_sweep`` section of docs/defaults.md. Not a speed
benchmark.
"""
from __future__ import annotations

import argparse
import itertools
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
from unlearn_core.images.bench import DEFAULT_TARGET, evaluate_images, load_variant, trained_model  # noqa: E402
from unlearn_core.images.splits import make_split  # noqa: E402
from unlearn_core.images.train import recipe_for  # noqa: E402
from unlearn_core.methods import DEFAULTS  # noqa: E402

DOC = os.path.join(ROOT, "docs", "defaults.md")
SECTION = "digits_jit_sweep"
SIGMAS = (0.1, 0.5, 1.0)
LRS = (3e-4, 1e-3, 3e-3, 1e-2)
BATCHES = ((128, "sum"), (32, "sum"), (8, "mean"))
KEYS = ("acc_forget", "acc_retain", "acc_test")
SHOWN = 8  # grid points listed per setting


def gap(m: dict, ref: dict) -> float:
    return sum(abs(m[k] - ref[k]) for k in KEYS) / len(KEYS) * 100


def stats(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def noise_spread(table: dict, models, noises) -> float:
    if len(noises) < 2:
        return 0.0
    return statistics.mean(statistics.stdev(table[m, s] for s in noises) for m in models)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=3, help="model seeds 0..K-1")
    ap.add_argument("--noise", type=int, default=3, help="JiT noise seeds 0..S-1")
    ap.add_argument("--settings", default="full_class,sub_class,random")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cache", default=os.path.join(ROOT, "results", "digits_sweep_models"),
                    help="where the trained originals and retrains are cached (weights-only checkpoints)")
    ap.add_argument("--write-docs", action="store_true", help=f"replace the '{SECTION}' section of docs/defaults.md")
    args = ap.parse_args(argv)
    if not 1 <= args.models <= 10 or not 1 <= args.noise <= 10:
        ap.error("--models and --noise must be between 1 and 10")
    torch.set_num_threads(args.threads)
    models, noises = list(range(args.models)), list(range(args.noise))
    out: list[str] = []
    t_start = time.perf_counter()

    def say(text=""):
        print(text, flush=True)
        out.append(text)

    recipe = recipe_for("digits", "smallcnn")
    for setting in [s.strip() for s in args.settings.split(",") if s.strip()]:
        loaded = load_variant("digits", setting, None)
        split = make_split(loaded.data, setting, DEFAULT_TARGET.get(("digits", setting)), seed=0)
        ft = torch.as_tensor(split.forget_train)
        forget = (loaded.Xtr[ft], loaded.data.y_train[ft])
        refs, originals, base = {}, {}, {}
        for m in models:
            originals[m] = trained_model(loaded, "smallcnn", recipe, m, "cpu", args.cache)
            retrained = trained_model(loaded, "smallcnn", recipe, m, "cpu", args.cache,
                                      retain_idx=split.retain_train, tag=f"retrain-{setting}")
            refs[m] = evaluate_images(retrained, loaded, split)
            base[m] = evaluate_images(originals[m], loaded, split)
        profile = f"smallcnn/{setting}"
        default = DEFAULTS[profile]["jit"]
        ranked = []
        for sigma, lr, (batch, red) in itertools.product(SIGMAS, LRS, BATCHES):
            hp = dict(default, sigma=sigma, lr=lr, batch_size=batch, reduction=red)
            scores, fac, rac, failed = {}, [], [], 0
            for m in models:
                for s in noises:
                    res = unlearn("jit", originals[m], forget=forget, device="cpu", profile=profile,
                                  **dict(hp, seed=s))
                    r = evaluate_images(res.model, loaded, split)
                    if "error" in r:
                        failed += 1
                        continue
                    scores[m, s] = gap(r, refs[m])
                    fac.append(100 * r["acc_forget"])
                    rac.append(100 * r["acc_retain"])
            if failed:
                ranked.append((float("inf"), 0.0, 0.0, sigma, lr, batch, red, None, None, failed))
                continue
            g, gs = stats(list(scores.values()))
            ranked.append((g, gs, noise_spread(scores, models, noises), sigma, lr, batch, red,
                           stats(fac), stats(rac), 0))
        ranked.sort(key=lambda r: r[0])
        rf, rr = stats([100 * refs[m]["acc_forget"] for m in models]), stats([100 * refs[m]["acc_retain"] for m in models])
        of, orr = stats([100 * base[m]["acc_forget"] for m in models]), stats([100 * base[m]["acc_retain"] for m in models])
        nothing = stats([gap(base[m], refs[m]) for m in models])
        say(f"### {setting} ({len(ft)} forget images)")
        say()
        say(f"Retrain: forget {rf[0]:.1f} ± {rf[1]:.1f}, retain {rr[0]:.1f} ± {rr[1]:.1f}. Original (doing nothing): "
            f"forget {of[0]:.1f} ± {of[1]:.1f}, retain {orr[0]:.1f} ± {orr[1]:.1f}, gap {nothing[0]:.1f} ± "
            f"{nothing[1]:.1f} pp. Current default: sigma {default['sigma']}, lr {default['lr']:g}, batch "
            f"{default['batch_size']} ({default['reduction']}).")
        say()
        say("| rank | mean gap (pp) | noise spread | sigma | lr | batch | reduction | forget % | retain % |")
        say("|---:|---|---:|---:|---:|---:|---|---|---|")
        cur = None
        for i, row in enumerate(ranked):
            g, gs, ns, sigma, lr, batch, red, fa, ra, failed = row
            is_default = (sigma, lr, batch, red) == (default["sigma"], default["lr"], default["batch_size"],
                                                     default["reduction"])
            if is_default:
                cur = i + 1
            if i < SHOWN or is_default:
                if failed:
                    say(f"| {i + 1} | {failed} runs diverged | | {sigma} | {lr:g} | {batch} | {red} | | |")
                else:
                    say(f"| {i + 1}{' (default)' if is_default else ''} | {g:.1f} ± {gs:.1f} | {ns:.1f} | {sigma} | "
                        f"{lr:g} | {batch} | {red} | {fa[0]:.1f} ± {fa[1]:.1f} | {ra[0]:.1f} ± {ra[1]:.1f} |")
        say()
        say(f"The current default ranks {cur} of {len(ranked)}.")
        say()
    say(f"Gap = mean |accuracy - retrain's| over forget, retain and test, per (model seed, noise seed) run against "
        f"that model seed's retrain; mean ± std over {len(models)} model seeds x {len(noises)} noise seeds; noise "
        f"spread = mean over models of the gap's std over noise seeds. Command: `{command_line()}`; {cpu_model()}, "
        f"torch {torch.__version__}, {args.threads} thread(s), {load_average()}; "
        f"{(time.perf_counter() - t_start) / 60:.0f} min; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.")
    if args.write_docs:
        write_doc_section(SECTION, "\n".join(out), DOC)
        print(f"\nwrote the {SECTION} section of {os.path.relpath(DOC, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
