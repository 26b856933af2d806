"""Time to train the default 2-D MLP with ``fit`` and its default recipe (``FIT_DEFAULTS``).

Main case: ``MLP(2, 2)`` on all 600 moons points (``toy_data.make_dataset("moons", n_samples=600,
seed=0)``). One short warm-up fit, then ``--repeats`` fits (default 5) with seeds 0..R-1 (model
initialisation and shuffling); prints each fit's seconds and final train accuracy, the median and
min/max, and whether the target (median < 2 s at >= 95% train accuracy on every seed) is met.
Context lines follow for circles (2 classes) and spirals (3 classes), same recipe.

Run from the repo root::

    python benchmarks/fit_speed.py
    python benchmarks/fit_speed.py --repeats 3 --threads 2
    python benchmarks/fit_speed.py --threads 1 --write-docs   # and write the report into docs/speed.md

The header prints torch's thread count and the load average: with other jobs on the machine,
torch's worker threads wait on each other and the times balloon, so compare on a quiet machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

from _env import (Lines, add_threads_flag, add_write_docs_flag, apply_threads, check_doc_section,  # noqa: E402
                  cpu_model, load_average, write_docs)

import toy_data  # noqa: E402
from unlearn_core.models import MLP  # noqa: E402
from unlearn_core.training import FIT_DEFAULTS, fit, predict_logits  # noqa: E402

TARGET_S = 2.0
TARGET_ACC = 0.95


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fits(name: str, classes: int | None, repeats: int, device: torch.device):
    """Fit seeds 0..repeats-1 on 600 points of ``name``; return [(seconds, train accuracy)]."""
    X, y = toy_data.make_dataset(name, n_samples=600, seed=0, classes=classes)
    n_classes = int(y.max()) + 1
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    # Warm-up: a short fit (allocator, kernels, lazy imports).
    fit(MLP(2, n_classes, seed=0), X, y, epochs=5, seed=0, device=device)
    out = []
    for seed in range(repeats):
        model = MLP(2, n_classes, seed=seed)
        sync(device)
        t0 = time.perf_counter()
        fit(model, X, y, seed=seed, device=device)
        sync(device)
        secs = time.perf_counter() - t0
        acc = float((predict_logits(model, Xt).argmax(1) == yt).float().mean())
        out.append((secs, acc))
    return out


def row(label: str, results) -> str:
    """One markdown table row: median (min-max) seconds and the train-accuracy range."""
    secs = [s for s, _ in results]
    accs = [a for _, a in results]
    return (f"| {label} | {statistics.median(secs):.2f} ({min(secs):.2f}-{max(secs):.2f}) "
            f"| {min(accs):.3f}-{max(accs):.3f} |")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5, help="timed fits (seeds 0..R-1)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    add_threads_flag(ap)
    add_write_docs_flag(ap, "fit_speed")
    args = ap.parse_args(argv)
    apply_threads(ap, args)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    if args.write_docs:
        check_doc_section(ap, "fit_speed")
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda was requested but no CUDA GPU is available")
    device = torch.device(args.device)
    out = Lines()

    print("# fit speed: default 2-D MLP, default recipe")
    print()
    dev_name = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "cpu"
    print(f"- torch {torch.__version__}, threads {torch.get_num_threads()}, CPU: {cpu_model()} "
          f"({os.cpu_count()} logical CPUs, {load_average()} at start), device: {dev_name}")
    out(f"- recipe: {FIT_DEFAULTS} (Adam), MLP(2, k) hidden (64, 64), 600 points, all used for training; "
        f"{args.repeats} fits (seeds 0..{args.repeats - 1}) after a warm-up")
    out()

    results = time_fits("moons", None, args.repeats, device)
    out("| dataset | seconds per fit: median (min-max) | train accuracy (min-max) |")
    out("|---|---:|---:|")
    out(row("moons (2 classes)", results))
    med = statistics.median(s for s, _ in results)
    ok = med < TARGET_S and min(a for _, a in results) >= TARGET_ACC
    for name, classes in (("circles", None), ("spirals", 3)):
        res = time_fits(name, classes, args.repeats, device)
        k = f"{classes} classes" if classes else "2 classes"
        out(row(f"{name} ({k})", res))
    out()
    out("moons, seed by seed: " + "; ".join(f"seed {seed} {secs:.2f} s ({acc:.3f})"
                                            for seed, (secs, acc) in enumerate(results)))
    out()
    out(f"target (moons): median < {TARGET_S:g} s at >= {TARGET_ACC:.0%} train accuracy on every seed: "
        f"**{'met' if ok else 'NOT met'}** (median {med:.2f} s, worst train accuracy "
        f"{min(a for _, a in results):.3f}); circles and spirals are context, same recipe.")
    if args.write_docs:
        write_docs("fit_speed", out.text(), device)


if __name__ == "__main__":
    main()
