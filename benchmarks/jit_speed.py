"""Speed of batched JiT (``unlearn_core.methods.jit.jit``) against the sequential reference (``jit_sequential``).

Both run side by side in one process, interleaved, on the same model, forget set and
hyperparameters: plain SGD (``normalize_step="off"``), ``reduction="mean"``, eval mode, gradients
zeroed every step, N perturbations per forget input (``--n``, default 25). Every run starts from a
fresh ``copy.deepcopy`` of the trained model; each configuration is warmed up once, then timed
``--repeats`` times (default 5) and the median is reported.

Workloads:
  1. 2-D MLP ``MLP(2, 2, hidden=(64, 64))`` trained with ``fit`` (default recipe, seed 0) on 600
     moons points; forget sets of 20 and 150 random training points; batch 1 and 8.
  2. ``SmallCNN`` on sklearn's digits (1x8x8, scaled to [0, 1] then standardised), trained
     briefly with ``fit``; forget set = all training images of one class; batch 32 and 8.

The "floor" is the bare work JiT must do: per forget batch, one no-grad forward of the N*B
perturbed rows (chunked as JiT chunks them) plus one forward+backward over the B clean rows,
with no optimiser, RNG or bookkeeping. "batched / floor" is JiT's overhead over that.
On the CPU both implementations draw the same noise, so their loss trajectories must agree;
the "max |dloss|" column checks that.

Run from the repo root::

    python benchmarks/jit_speed.py               # full run (about 1-2 minutes on 2 cores)
    python benchmarks/jit_speed.py --quick       # smoke check: 1 repeat, small forget sets
    python benchmarks/jit_speed.py --device cuda --n 25 --repeats 5
    python benchmarks/jit_speed.py --threads 1   # pin torch's thread count
    python benchmarks/jit_speed.py --threads 1 --write-docs   # and write the report into docs/speed.md

Absolute times are only as good as the machine is quiet (the header prints the load average);
the ratios, measured interleaved in one run, are the point. ``--write-docs`` replaces the
``jit_speed`` section of docs/speed.md with the report (not allowed with ``--quick``).
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from _env import (Lines, add_threads_flag, add_write_docs_flag, apply_threads, check_doc_section,  # noqa: E402
                  cpu_model, load_average, write_docs)

import toy_data  # noqa: E402
from unlearn_core.methods.jit import MAX_CHUNK_ELEMENTS, scale_for, jit  # noqa: E402
from unlearn_core.jit_sequential import jit_sequential  # noqa: E402
from unlearn_core.models import MLP, SmallCNN  # noqa: E402
from unlearn_core.training import fit, predict_logits  # noqa: E402

SIGMA = 0.5   # in the model's input scale (standardised units for the MLP)
LR = 1e-3     # plain SGD step; small, so both trajectories stay well conditioned


# ----------------------------------------------------------------------------- environment

def print_header(device: torch.device, args, out: Lines) -> None:
    print("# JiT speed: batched vs sequential")
    print()
    print(f"- torch {torch.__version__}, threads {torch.get_num_threads()}, CPU: {cpu_model()} "
          f"({os.cpu_count()} logical CPUs, {load_average()} at start)")
    if device.type == "cuda":
        print(f"- device: cuda ({torch.cuda.get_device_name(device)})")
    else:
        print("- device: cpu")
    out(f"- N={args.n}, sigma={SIGMA}, lr={LR} (plain SGD), reduction=mean, eval mode, "
        f"repeats={args.repeats} (median){', quick' if args.quick else ''}")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------- workloads

def mlp_workload(device: torch.device):
    X, y = toy_data.make_dataset("moons", n_samples=600, seed=0)
    model = MLP(2, 2, hidden=(64, 64), seed=0)
    fit(model, X, y, seed=0, device=device)
    acc = float((predict_logits(model, torch.as_tensor(X)).argmax(1).numpy() == y).mean())
    return model, torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y), acc


def load_digits_tensors():
    from sklearn.datasets import load_digits

    d = load_digits()
    X = (d.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    Xtr, Xte, ytr, yte, _, _ = toy_data.train_test_split(X, y, seed=0)
    mean, std = float(Xtr.mean()), float(Xtr.std())
    Xtr, Xte = (Xtr - mean) / std, (Xte - mean) / std
    return (torch.as_tensor(Xtr), torch.as_tensor(ytr), torch.as_tensor(Xte), torch.as_tensor(yte))


def cnn_workload(device: torch.device, epochs: int):
    Xtr, ytr, Xte, yte = load_digits_tensors()
    model = SmallCNN(seed=0)
    fit(model, Xtr, ytr, epochs=epochs, lr=3e-3, batch_size=64, seed=0, device=device)
    acc = float((predict_logits(model, Xte).argmax(1) == yte).float().mean())
    return model, Xtr, ytr, acc


# ----------------------------------------------------------------------------- timed runs

def run_batched(model, F, n, batch):
    return jit(model, F, sigma=SIGMA, n_samples=n, lr=LR, batch_size=batch, seed=0,
               normalize_step="off", reduction="mean")


def run_sequential(model, F, n, batch):
    return jit_sequential(model, F, sigma=SIGMA, n_samples=n, lr=LR, batch_size=batch, seed=0,
                          reduction="mean")


def make_floor(model, F, n, batch):
    """A closure doing JiT's bare work on ``model`` over forget set F (inputs prepared up front)."""
    gen = torch.Generator(device=F.device).manual_seed(1)
    scale = scale_for(model, F)
    batches = []
    for start in range(0, len(F), batch):
        x = F[start:start + batch]
        noise = torch.randn((n, *x.shape), generator=gen, device=F.device) * SIGMA
        step = noise if scale is None else noise * scale
        flat = (x.unsqueeze(0) + step).reshape(n * len(x), *x.shape[1:])
        rows = max(1, MAX_CHUNK_ELEMENTS // max(1, flat[0].numel()))
        batches.append((x, [flat[i:i + rows] for i in range(0, len(flat), rows)]))
    params = [p for p in model.parameters() if p.requires_grad]
    model.eval()

    def floor():
        for x, chunks in batches:
            with torch.no_grad():
                for c in chunks:
                    model(c)
            torch.autograd.grad(model(x).sum(), params)

    return floor


def timed(fn, device) -> tuple[float, object]:
    sync(device)
    t0 = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - t0, out


def bench_config(model, F, n, batch, repeats, device):
    """Interleaved timings (seconds, medians) of sequential, batched and floor; and a loss check."""
    def seq():
        m = copy.deepcopy(model)
        return timed(lambda: run_sequential(m, F, n, batch), device)

    def bat():
        m = copy.deepcopy(model)
        return timed(lambda: run_batched(m, F, n, batch), device)

    floor_fn = make_floor(copy.deepcopy(model), F, n, batch)

    def flo():
        return timed(floor_fn, device)

    runners = {"seq": seq, "bat": bat, "floor": flo}
    # Warm-up, and the loss check from the warm-up runs.
    _, l_seq = seq()
    _, l_bat = bat()
    flo()
    dloss = None
    if device.type == "cpu":  # same seeded CPU generator -> same noise -> same trajectory
        dloss = max(abs(float(a) - float(b)) for a, b in zip(l_seq, l_bat))
    times = {k: [] for k in runners}
    order = list(runners)
    for r in range(repeats):
        for k in (order if r % 2 == 0 else order[::-1]):
            times[k].append(runners[k]()[0])
    return {k: statistics.median(v) for k, v in times.items()}, dloss


# ----------------------------------------------------------------------------- main

def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--n", type=int, default=25, help="perturbations per forget input (N)")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats per configuration (median)")
    ap.add_argument("--quick", action="store_true", help="smoke check: 1 repeat, small forget sets")
    ap.add_argument("--cnn-epochs", type=int, default=15, help="training epochs of the digits CNN")
    add_threads_flag(ap)
    add_write_docs_flag(ap, "jit_speed")
    args = ap.parse_args(argv)
    apply_threads(ap, args)
    if args.n < 1 or args.repeats < 1:
        ap.error("--n and --repeats must be >= 1")
    if args.write_docs:
        if args.quick:
            ap.error("--write-docs writes full runs only; drop --quick")
        check_doc_section(ap, "jit_speed")
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda was requested but no CUDA GPU is available")
    if args.quick:
        args.repeats = 1
    device = torch.device(args.device)
    out = Lines()
    print_header(device, args, out)

    rows = []
    rng = np.random.default_rng(0)

    t0 = time.perf_counter()
    mlp, X, y, acc = mlp_workload(device)
    out(f"- MLP trained on 600 moons points in {time.perf_counter() - t0:.1f} s, train accuracy {acc:.3f}")
    sizes = (20, 50) if args.quick else (20, 150)
    for size in sizes:
        idx = torch.as_tensor(np.sort(rng.choice(len(X), size=size, replace=False)))
        F = X[idx].to(device)
        for batch in (1, 8):
            t, d = bench_config(mlp, F, args.n, batch, args.repeats, device)
            rows.append(("2-D MLP (moons)", size, batch, t, d))

    t0 = time.perf_counter()
    cnn, Xtr, ytr, acc = cnn_workload(device, 3 if args.quick else args.cnn_epochs)
    out(f"- digits CNN trained in {time.perf_counter() - t0:.1f} s, test accuracy {acc:.3f}")
    cls = 0
    F = Xtr[ytr == cls]
    if args.quick:
        F = F[:48]
    F = F.to(device)
    for batch in (32, 8):
        t, d = bench_config(cnn, F, args.n, batch, args.repeats, device)
        rows.append((f"digits CNN (class {cls})", len(F), batch, t, d))
    out()

    out("| workload | forget size | batch | N | sequential ms | batched ms | speed-up (seq/batched) "
        "| floor ms | batched / floor | max abs dloss |")
    out("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, size, batch, t, d in rows:
        check = "n/a (cuda noise)" if d is None else f"{d:.1e}"
        out(f"| {name} | {size} | {batch} | {args.n} | {1e3 * t['seq']:.1f} | {1e3 * t['bat']:.1f} "
            f"| {t['seq'] / t['bat']:.2f}x | {1e3 * t['floor']:.1f} | {t['bat'] / t['floor']:.2f}x | {check} |")
    out()
    out("speed-up = sequential / batched (higher is better); batched / floor = JiT time over the bare "
        "forward/backward work (1.00x = no overhead); max abs dloss = largest per-step loss "
        "difference between the two implementations (same noise on the CPU).")
    if args.write_docs:
        write_docs("jit_speed", out.text(), device)


if __name__ == "__main__":
    main()
