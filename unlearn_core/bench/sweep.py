"""The sweep that chose JiT's 2-D defaults: ``python -m unlearn_core.bench --sweep``.

Datasets moons, circles, blobs, spirals (600 points each, their default noise); four forget
scenarios per dataset: high-information points (alpha(x) < 0.5 at radius 0.3, memorised by the
original model, at most 20), a region holding ~10% of one class, 20 random points, and a whole
class (class 0). Per seed: one original model, one retrained model per scenario, and a JiT run
per grid configuration. The cells, (dataset, seed), run in this process or as Ray tasks
(``--engine ray``, ``unlearn_core.bench.engine``).

Target (high_info and region): JiT moves forget-set accuracy at least halfway from the original
toward the retrained model (progress = (orig - jit) / (orig - retrain) >= 0.5), while retain
accuracy drops at most 5 points. When original and retrained forget accuracy differ by less than
5 points there is nothing to move, and the target is JiT staying within 5 points of retrain.
All figures are means over seeds.
"""
from __future__ import annotations

import itertools
import sys

import numpy as np
import torch
from tqdm import tqdm

from unlearn_core.bench.engine import ENGINE_FLAGS, RayEngine, engine_options, run_sweep_grid
from unlearn_core.methods import DEFAULTS, unlearn
from unlearn_core.problem import ModelRecipe, choose_forget, make_problem, split, train_original
from unlearn_core.report import write_json
from unlearn_core.training import predict_logits

DATASETS = ("moons", "circles", "blobs", "spirals")
SCENARIOS = {
    "high_info": dict(setting="high_info"),
    "region": dict(setting="region"),
    "random20": dict(setting="random", forget_count=20),
    "full_class": dict(setting="full_class", forget_class=0),
}
TARGETED = ("high_info", "region")
TOL = 0.05
#: The bench flags the sweep reads; ``--sweep`` refuses every other flag (the sweep would ignore it).
SWEEP_FLAGS = ("--sweep", "--seeds", "--hidden", "--activation", "--epochs", "--lr", "--batch-size", "--device",
               "--json", "--quiet", "--threads", *ENGINE_FLAGS)


def grid() -> list[dict]:
    """The configurations tried: the scale-free step (ours) and the paper's plain SGD."""
    out = []
    for sigma, lr, bs in itertools.product((0.1, 0.25, 0.5), (0.05, 0.1, 0.2), (1, 4)):
        out.append(dict(sigma=sigma, lr=lr, batch_size=bs, normalize_step="first"))
    for sigma, lr, bs in itertools.product((0.1, 0.25, 0.5), (0.01, 0.02, 0.05, 0.1, 0.2, 0.5), (1, 4)):
        out.append(dict(sigma=sigma, lr=lr, batch_size=bs, normalize_step="probe"))
    for sigma, lr, bs in itertools.product((0.1, 0.25, 0.5), (1e-4, 3e-4, 1e-3, 3e-3), (1, 4)):
        out.append(dict(sigma=sigma, lr=lr, batch_size=bs, normalize_step="off"))
    return out


def _label(cfg: dict) -> str:
    step = {"first": "scale-free (first step)", "probe": "scale-free (probe)"}.get(cfg["normalize_step"], "plain SGD")
    return f"{step} sigma={cfg['sigma']} lr={cfg['lr']:g} batch={cfg['batch_size']}"


def judge(orig_f: float, retrain_f: float, jit_f: float, orig_r: float, jit_r: float) -> tuple[float, bool]:
    """(progress toward retrain on forget accuracy, pass) for one dataset x scenario (means)."""
    gap = orig_f - retrain_f
    drop_ok = orig_r - jit_r <= TOL + 1e-9
    if abs(gap) < TOL:
        return float("nan"), drop_ok and abs(jit_f - retrain_f) <= TOL + 1e-9
    progress = (orig_f - jit_f) / gap
    return progress, drop_ok and progress >= 0.5


def collect_cell(ds: str, seed: int, recipe, device="cpu", configs=None, progress=None) -> list[dict]:
    """One cell of the sweep, (dataset, seed): its original, a retrain per scenario and a JiT run per
    configuration; one record per (scenario, config). ``progress()`` after each scenario."""
    configs = grid() if configs is None else configs
    base = {k: v for k, v in DEFAULTS["toy2d"]["jit"].items() if k not in ("sigma", "lr", "batch_size", "normalize_step", "seed")}
    records = []
    problem = make_problem(ds)
    Xtr = torch.as_tensor(problem.X_train)
    original = train_original(problem, recipe, seed, device)
    pred_o = predict_logits(original, Xtr).argmax(1).numpy()
    for scen, kw in SCENARIOS.items():
        rows = choose_forget(kw["setting"], problem, original, seed,
                             **{k: v for k, v in kw.items() if k != "setting"})
        forget, retain = split(problem, rows)
        mask = np.zeros(len(Xtr), bool)
        mask[rows] = True
        ytr = problem.y_train

        def accs(pred):
            return float((pred[mask] == ytr[mask]).mean()), float((pred[~mask] == ytr[~mask]).mean())

        ref = unlearn("retrain", original, forget=forget, retain=retain, device=device, seed=seed)
        rec = dict(dataset=ds, scenario=scen, seed=seed, n_forget=int(mask.sum()))
        of, orr = accs(pred_o)
        rf, rr = accs(predict_logits(ref.model, Xtr).argmax(1).numpy())
        for ci, cfg in enumerate(configs):
            res = unlearn("jit", original, forget=forget, device=device, seed=seed, **base, **cfg)
            jf, jr = accs(predict_logits(res.model, Xtr).argmax(1).numpy())
            records.append(dict(rec, config=ci, orig_f=of, orig_r=orr, retrain_f=rf, retrain_r=rr,
                                jit_f=jf, jit_r=jr, seconds=res.seconds))
        if progress is not None:
            progress()
    return records


def cells(seeds) -> list[tuple[str, int]]:
    """The sweep's cells, (dataset, seed), in the order their records are listed."""
    return [(ds, int(seed)) for ds in DATASETS for seed in seeds]


def collect(seeds, recipe, device="cpu", progress=None, configs=None) -> list[dict]:
    """Run everything in this process; one record per (dataset, scenario, seed, config)."""
    records = []
    for ds, seed in cells(seeds):
        records += collect_cell(ds, seed, recipe, device, configs,
                                progress=progress.update if progress is not None else None)
    return records


def summarise(records: list[dict], configs: list[dict]):
    """Per config: the per-(dataset, scenario) means, progress and pass flags; configs ranked."""
    keys = ("orig_f", "orig_r", "retrain_f", "retrain_r", "jit_f", "jit_r", "n_forget")
    by_cfg = {}
    for ci in range(len(configs)):
        cells = {}
        for ds, scen in itertools.product(DATASETS, SCENARIOS):
            sub = [r for r in records if r["config"] == ci and r["dataset"] == ds and r["scenario"] == scen]
            if not sub:
                continue
            mean = {k: float(np.mean([r[k] for r in sub])) for k in keys}
            mean["progress"], mean["pass"] = judge(mean["orig_f"], mean["retrain_f"], mean["jit_f"],
                                                   mean["orig_r"], mean["jit_r"])
            cells[ds, scen] = mean
        targeted = sum(c["pass"] for (ds, scen), c in cells.items() if scen in TARGETED)
        everything = sum(c["pass"] for c in cells.values())
        drop = float(np.mean([c["orig_r"] - c["jit_r"] for c in cells.values()]))
        by_cfg[ci] = dict(cells=cells, targeted=targeted, all=everything, mean_drop=drop)
    ranking = sorted(by_cfg, key=lambda ci: (-by_cfg[ci]["targeted"], -by_cfg[ci]["all"], by_cfg[ci]["mean_drop"]))
    return by_cfg, ranking


def detail_table(cells: dict) -> str:
    lines = ["| dataset | scenario | forgotten | forget acc: original → JiT (retrain) | progress | "
             "retain acc: original → JiT (retrain) | target met |", "|---|---|---|---|---|---|---|"]
    for (ds, scen), c in cells.items():
        prog = "n/a (nothing to move)" if np.isnan(c["progress"]) else f"{c['progress']:.2f}"
        target = ("yes" if c["pass"] else "**no**") if scen in TARGETED else ("(yes)" if c["pass"] else "(no)")
        lines.append(f"| {ds} | {scen} | {c['n_forget']:.0f} | {100 * c['orig_f']:.1f} → {100 * c['jit_f']:.1f} "
                     f"({100 * c['retrain_f']:.1f}) | {prog} | {100 * c['orig_r']:.1f} → {100 * c['jit_r']:.1f} "
                     f"({100 * c['retrain_r']:.1f}) | {target} |")
    return "\n".join(lines)


def run_sweep(args) -> int:
    recipe = ModelRecipe(tuple(args.hidden), args.activation, args.epochs, args.lr, args.batch_size)
    configs = grid()
    n_targeted = len(DATASETS) * len(TARGETED)
    try:
        opts = engine_options(args)
    except ValueError as err:
        print(f"python -m unlearn_core.bench: error: {err}", file=sys.stderr)
        return 2
    with tqdm(total=len(DATASETS) * len(args.seeds) * len(SCENARIOS), desc="sweep", file=sys.stderr,
              disable=args.quiet) as bar:
        if opts.engine == "ray":
            engine = RayEngine(opts)
            try:
                records = run_sweep_grid(collect_cell, cells(args.seeds), (recipe, args.device, configs), engine,
                                         progress=lambda: bar.update(len(SCENARIOS)))
            finally:
                engine.close()
        else:
            records = collect(args.seeds, recipe, args.device, bar, configs)
    by_cfg, ranking = summarise(records, configs)
    print(f"JiT sweep: {len(configs)} configurations x {len(DATASETS)} datasets x {len(SCENARIOS)} scenarios "
          f"x seeds {','.join(map(str, args.seeds))}; n_samples={DEFAULTS['toy2d']['jit']['n_samples']}, one epoch.")
    print("\nTop configurations (targets met on high_info + region, of %d; all scenarios, of %d):\n" %
          (n_targeted, len(DATASETS) * len(SCENARIOS)))
    print("| configuration | targets met | all scenarios | mean retain drop (points) |\n|---|---|---|---|")
    for ci in ranking[:10]:
        b = by_cfg[ci]
        print(f"| {_label(configs[ci])} | {b['targeted']}/{n_targeted} | {b['all']}/{len(DATASETS) * len(SCENARIOS)} "
              f"| {100 * b['mean_drop']:.1f} |")
    best = ranking[0]
    print(f"\nBest: {_label(configs[best])}\n")
    print(detail_table(by_cfg[best]["cells"]))
    for family in ("off", "first", "probe"):
        ci = [c for c in ranking if configs[c]["normalize_step"] == family][0]
        if ci == best:
            continue
        print(f"\nBest {_label(configs[ci]).split(' sigma')[0]}: {_label(configs[ci])}\n")
        print(detail_table(by_cfg[ci]["cells"]))
    if args.json:
        write_json(args.json, {"configs": configs, "records": records, "ranking": ranking})
    return 0
