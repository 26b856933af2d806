"""The forgetting audit, batched (torch.func ensembles) vs one model at a time, side by side.

Workload (the issue's): 600 moons training points (``make_problem("moons", n_samples=800)``, 75/25
split), the default 2x64 MLP and recipe (Adam, 200 epochs, batch 64), 20 random forget points, K
models per sample: K originals, 2K retrains (K for the reference, K for the floor), JiT on the K
originals, and the scoring (per-example epsilon, U-LiRA, accuracies) of JiT, the floor and the
ceiling. ``run_audit(batched=True)`` trains each group as one stacked model; ``batched=False`` runs
``fit`` and ``unlearn`` once per model and then scores the same way. Both runs must give the same
models: the script prints the largest confidence difference between them.

Run from the repo root::

    python benchmarks/audit_speed.py                 # K = 64, torch's default threads
    python benchmarks/audit_speed.py --threads 1
    python benchmarks/audit_speed.py --K 16 --skip-sequential
    python benchmarks/audit_speed.py --write-docs    # and write the report into docs/speed.md

``--write-docs`` replaces the ``audit_speed`` section of docs/speed.md with the report; it needs the
full comparison (not with ``--skip-sequential``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _env import (Lines, add_threads_flag, add_write_docs_flag, apply_threads, check_doc_section,  # noqa: E402
                  cpu_model, load_average, write_docs)

from unlearn_core import MLP, scenarios  # noqa: E402
from unlearn_core.audit import run_audit  # noqa: E402
from unlearn_core.problem import make_problem  # noqa: E402

TARGET_S = 30.0
TARGET_RATIO = 4.0


def one(problem, rows, K: int, batched: bool):
    t0 = time.perf_counter()
    res = run_audit(lambda s: MLP(2, problem.n_classes, seed=s), (problem.X_train, problem.y_train), rows,
                    problem.test, K=K, methods=["jit"], device="cpu", batched=batched,
                    protocol="originals")  # K originals, 2K retrains, K unlearned: the workload timed here
    return time.perf_counter() - t0, res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--K", type=int, default=64)
    ap.add_argument("--forget", type=int, default=20)
    ap.add_argument("--skip-sequential", action="store_true", help="time the batched audit only")
    add_threads_flag(ap)
    add_write_docs_flag(ap, "audit_speed")
    args = ap.parse_args()
    apply_threads(ap, args)
    if args.write_docs:
        if args.skip_sequential:
            ap.error("--write-docs writes the full comparison only; drop --skip-sequential")
        check_doc_section(ap, "audit_speed")
    out = Lines()
    problem = make_problem("moons", n_samples=800)
    rows = scenarios.random_points(len(problem.y_train), args.forget, 0)
    print(f"# audit speed: torch {torch.__version__}, {torch.get_num_threads()} thread(s), {cpu_model()}, "
          f"{load_average()}")
    out(f"- {len(problem.y_train)} moons training points, 2x64 MLP, 200 epochs, {args.forget} random forget points, "
        f"K={args.K} models per sample; JiT with its 2-D defaults")
    one(problem, rows, 4, True)  # warm-up: lazy imports (torch.func, the optimiser), allocator
    secs_b, res_b = one(problem, rows, args.K, True)
    out("\n| stage | batched s |" + ("" if args.skip_sequential else " one-by-one s | ratio |"))
    out("|---|---:|" + ("" if args.skip_sequential else "---:|---:|"))
    if args.skip_sequential:
        for stage, s in res_b.seconds.items():
            out(f"| {stage} | {s:.2f} |")
        out(f"| **whole audit** | **{secs_b:.2f}** |")
    else:
        secs_s, res_s = one(problem, rows, args.K, False)
        for stage, s in res_b.seconds.items():
            t = res_s.seconds.get(stage, float("nan"))
            out(f"| {stage} | {s:.2f} | {t:.2f} | {t / s:.1f}x |")
        out(f"| **whole audit** | **{secs_b:.2f}** | **{secs_s:.2f}** | **{secs_s / secs_b:.1f}x** |")
        diff = max(float(np.abs(res_b.scores[n].conf_forget - res_s.scores[n].conf_forget).max()) for n in res_b.scores)
        out(f"\nlargest |Δ confidence| between the batched and one-by-one models: {diff:.2e}")
        out(f"\ntarget: whole audit < {TARGET_S:.0f} s and >= {TARGET_RATIO:.0f}x faster than one by one: "
            f"**{'met' if secs_b < TARGET_S and secs_s / secs_b >= TARGET_RATIO else 'NOT met'}**")
    s = res_b.scores
    out("\nThe batched run's scores (retrain = the floor, original = the ceiling):")
    out("\n| model sample | F | mean ε | U-LiRA acc |\n|---|---:|---:|---:|")
    for name in s:
        out(f"| {name} ({s[name].role}) | {s[name].F:.3f} | {s[name].eps.mean():.2f} | {s[name].ulira.mean():.3f} |")
    if args.write_docs:
        write_docs("audit_speed", out.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
