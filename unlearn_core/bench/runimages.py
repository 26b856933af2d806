"""The image branch of the CLI: flags to a ``BenchConfig``, a progress bar, the outputs and warnings."""
from __future__ import annotations

import os
import sys

from tqdm import tqdm

from unlearn_core.bench.plots import write_gap_html
from unlearn_core.images.bench import DEFAULT_MODEL, BenchConfig, BenchProgress, run_benchmark, slug, write_outputs
from unlearn_core.images.splits import SETTINGS
from unlearn_core.report import write_json


def run_images(args, parser, overrides: dict[str, dict]) -> int:
    """The image branch of ``python -m unlearn_core.bench`` (flags in ``cli.build_parser``; ``overrides``
    are the parsed ``--set`` items, {method: {name: value}})."""
    try:
        settings = SETTINGS if args.setting == "all" else tuple(s.strip() for s in args.setting.split(","))
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods else None
        arch = args.model or DEFAULT_MODEL[args.dataset]
        cfg = BenchConfig(dataset=args.dataset, data_dir=args.data_dir, model=args.model,
                          model_factory=args.model_factory, checkpoint=args.checkpoint, settings=settings,
                          targets=tuple(args.target.split(",")) if args.target else None,
                          forget_count=args.forget_count, methods=methods, seeds=tuple(args.seeds),
                          device=args.device,
                          out_dir=args.out or os.path.join("results", f"{args.dataset}-{slug(args.model_factory or arch)}"),
                          train_epochs=args.train_epochs, train_lr=args.train_lr,
                          train_batch_size=args.train_batch_size, amp=args.amp, overrides=overrides)
        with tqdm(total=1, desc="runs", file=sys.stderr, delay=0.5, disable=args.quiet) as bar:
            def progress(event: BenchProgress):
                bar.total = event.total
                bar.n = event.done
                bar.set_postfix_str(event.text[:60])
                bar.refresh()
            result = run_benchmark(cfg, progress=progress)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    rows = result.rows
    md = write_outputs(rows, cfg.out_dir)
    if rows and not args.no_plot:
        write_gap_html(rows, cfg.out_dir)
    print(md)
    weak = sorted({(r["setting"], r["seed"], r["acc_test"]) for r in rows
                   if r["method"] == "original" and r["acc_test"] < 0.5})
    for setting, seed, acc in weak:
        print(f"\nwarning: the original model ({setting}, seed {seed}) reaches only {100 * acc:.0f}% test accuracy: "
              "it is undertrained, so unlearning results mean little; raise --train-epochs")
    failed = sorted({(r["method"], r["error"]) for r in rows if r.get("error")})
    for m, err in failed:
        print(f"\n{m} did not run: {err}")
    print("\nforget acc and both MIAs: the target is retrain's value, not 0. entropy MIA = share of D_f called "
          "'member' (the paper's); loss MIA = loss-LR attack accuracy D_f vs test (NeurIPS 2023 kit; 50% = "
          "indistinguishable from unseen data). Seconds exclude evaluation; retrain's are the oracle's training time.")
    print(f"\nwrote {cfg.out_dir}/table.md, results.csv, results.json" + ("" if args.no_plot else ", gap.html"))
    if args.json:
        write_json(args.json, rows)
    return 0
