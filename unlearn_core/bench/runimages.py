"""The image branch of the CLI: flags to a ``BenchConfig``, an engine, a progress bar, the outputs and warnings."""
from __future__ import annotations

import math
import os
import sys

from tqdm import tqdm

from unlearn_core.audit import EPSILON_CAP
from unlearn_core.bench.engine import RayEngine, engine_options, run_image_grid
from unlearn_core.bench.plots import write_gap_html
from unlearn_core.images.bench import (BenchConfig, plan_benchmark, resolve_architecture, run_benchmark, slug,
                                       write_outputs)
from unlearn_core.images.splits import SETTINGS
from unlearn_core.report import write_json


def audit_note(rows: list[dict], K: int, protocol: str) -> str:
    """The lines under the table that say how the audit was run and how to read its columns, naming
    the rows whose K models had no spread (their ε is the cap by construction, not a measurement)."""
    how = {"challenge": f"protocol challenge (NeurIPS 2023): one original per seed, unlearned {K} times with "
                        f"{K} seeds, against {K} retrains",
           "originals": f"protocol originals: {K} originals per seed, each unlearned once, against {K} retrains"}
    lines = [f"audit with K={K} models per sample, {how[protocol]}: F = mean challenge points over the forget set "
             f"(1 = indistinguishable from retraining; with K models even a second set of retrained models, the "
             f"retrain row, scores only about this floor); final = F x retain-acc ratio x test-acc ratio; "
             f"ε = per-example epsilon (0 ideal, cap {EPSILON_CAP:g}); U-LiRA = likelihood-ratio attack accuracy "
             f"(0.5 ideal); the original row is the ceiling (no unlearning)."]
    flat = list(dict.fromkeys(r["method"] for r in rows if r.get("audit_no_spread")))
    if flat:
        why = ("under the challenge protocol a deterministic method (and the ceiling, K copies of one model) gives "
               "K identical models" if protocol == "challenge" else "the K models were identical")
        lines.append(f"no spread: {', '.join(flat)}: {why}, so every point's ε is the cap {EPSILON_CAP:g} by the "
                     f"spread rule and F is 0 by construction, not a measurement of forgetting"
                     + ("; --audit-protocol originals measures them against the spread of training."
                        if protocol == "challenge" else "."))
    capped = {}
    for r in rows:
        if r.get("audit_spread_capped") and not r.get("audit_no_spread"):
            c = capped.setdefault(r["method"], [0, 0])
            c[0] += int(r["audit_spread_capped"])
            c[1] += int(r["n_forget"])
    if capped:
        lines.append("spread rule: " + "; ".join(f"{m} {a} of {b} forget points" for m, (a, b) in capped.items())
                     + f" at ε = {EPSILON_CAP:g} because one sample's spread over the K models is under 1% of the "
                       "other's (the challenge's rule: models that barely vary are told apart outright).")
    return "\n".join(lines)


def run_images(args, parser, overrides: dict[str, dict]) -> int:
    """The image branch of ``python -m unlearn_core.bench`` (flags in ``cli.build_parser``; ``overrides``
    are the parsed ``--set`` items, {method: {name: value}}). Exit 130 on Ctrl-C (finished runs are kept)."""
    engine = None
    try:
        opts = engine_options(args)
        settings = SETTINGS if args.setting == "all" else tuple(s.strip() for s in args.setting.split(","))
        methods = tuple(m.strip() for m in args.methods.split(",") if m.strip()) if args.methods else None
        cfg = BenchConfig(dataset=args.dataset, data_dir=args.data_dir, model=args.model,
                          model_factory=args.model_factory, checkpoint=args.checkpoint, settings=settings,
                          targets=tuple(args.target.split(",")) if args.target else None,
                          forget_count=args.forget_count, methods=methods, seeds=tuple(args.seeds),
                          device=args.device, out_dir=args.out,
                          train_epochs=args.train_epochs, train_lr=args.train_lr,
                          train_batch_size=args.train_batch_size, amp=args.amp, overrides=overrides,
                          audit=int(args.audit or 0), audit_protocol=args.audit_protocol)
        if not cfg.out_dir:
            cfg.out_dir = os.path.join("results", f"{args.dataset}-{slug(resolve_architecture(cfg))}")
        with tqdm(total=1, desc="runs", file=sys.stderr, delay=0.5, disable=args.quiet) as bar:
            def show(done: int, total: int, text: str) -> None:
                bar.total = total
                bar.n = done
                bar.set_postfix_str(text[:60])
                bar.refresh()

            if opts.engine == "ray":
                engine = RayEngine(opts)
                device = "cuda" if engine.gpus_per_task > 0 else "cpu"
                if args.device not in ("auto", device):
                    raise ValueError(f"--device {args.device} with --gpus-per-task {engine.gpus_per_task:g}: the "
                                     f"tasks run on {device}; drop --device or change --gpus-per-task")
                plan = plan_benchmark(cfg, device=device)
                result = run_image_grid(plan, engine, progress=show)
            else:
                result = run_benchmark(cfg, progress=lambda e: show(e.done, e.total, e.text))
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ninterrupted: every finished run is kept in {cfg.out_dir}/runs; rerun the same command to "
              "continue", file=sys.stderr)
        return 130
    finally:
        if engine is not None:
            engine.close()
    rows = result.rows
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    md = write_outputs(rows, cfg.out_dir)
    if rows and not args.no_plot:
        write_gap_html(rows, cfg.out_dir)
    print(md)
    weak = sorted({(r["setting"], r["seed"], r["acc_test"]) for r in rows
                   if r["method"] == "original" and not math.isnan(r["acc_test"]) and r["acc_test"] < 0.5})
    for setting, seed, acc in weak:
        print(f"\nwarning: the original model ({setting}, seed {seed}) reaches only {100 * acc:.0f}% test accuracy: "
              "it is undertrained, so unlearning results mean little; raise --train-epochs")
    failed = sorted({(r["method"], r["error"]) for r in rows if r.get("error")})
    for m, err in failed:
        print(f"\n{m} did not run: {err}")
    if cfg.audit:
        print("\n" + audit_note(rows, cfg.audit, cfg.audit_protocol))
        for m, err in sorted({(r["method"], r["audit_error"]) for r in rows if r.get("audit_error")}):
            print(f"{m}: no audit scores: {err}")
    print("\nforget acc and both MIAs: the target is retrain's value, not 0. entropy MIA = share of D_f called "
          "'member' (the paper's); loss MIA = loss-LR attack accuracy D_f vs test (NeurIPS 2023 kit; 50% = "
          "indistinguishable from unseen data). Seconds exclude evaluation; retrain's are the oracle's training time.")
    print(f"\nwrote {cfg.out_dir}/table.md, results.csv, results.json" + ("" if args.no_plot else ", gap.html"))
    if args.json:
        write_json(args.json, rows)
    failures = sum(1 for r in rows if r.get("failed"))
    if failures:
        print(f"\n{failures} run(s) failed (rows with 'failed'); rerun the same command to retry them",
              file=sys.stderr)
        return 1
    return 0
