"""JiT throughput on CIFAR-shaped inputs (forget images per second): ResNet18 and VGG11, batched vs sequential.

The paper's scale: a forget set of 500 images (one CIFAR-100 class), N = 25 perturbations, forget
batches of 128 (the paper's full-class batch) and 8. Inputs are synthetic [n, 3, 32, 32] tensors
(speed does not depend on the pixels) and the models are freshly initialised
(``unlearn_core.images.zoo``). Three implementations side by side, interleaved, in one run:

- sequential: the authors' style (``unlearn_core.jit_sequential.jit_sequential``): N separate
  forwards per batch, noise drawn on the CPU and copied over, a host sync every step;
- batched: ``unlearn_core.methods.jit.jit`` in float32 (the N*B perturbed copies in one chunked no-grad
  forward, noise drawn on the device, no syncs);
- batched+: the same with bf16 autocast and channels_last (CUDA only).

The target is batched+ at least 10x sequential at N = 25 on a GPU. On a CPU the work is
compute-bound and batching gains little (docs/speed.md), so the CPU run is a smoke check.

    python benchmarks/jit_cifar_speed.py --device cuda
    python benchmarks/jit_cifar_speed.py --device cuda --write-docs               # and into docs/speed.md
    python benchmarks/jit_cifar_speed.py --device cpu --forget 16 --repeats 1     # smoke check

``--write-docs`` replaces the ``jit_cifar_speed`` section of docs/speed.md with the report; that
section holds GPU figures, so it is refused with ``--device cpu``.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402

from _env import (Lines, add_threads_flag, add_write_docs_flag, apply_threads, check_doc_section,  # noqa: E402
                  cpu_model, load_average, write_docs)
from jit_speed import timed  # noqa: E402

from unlearn_core.methods.jit import jit  # noqa: E402
from unlearn_core.jit_sequential import jit_sequential  # noqa: E402
from unlearn_core.images.zoo import build_model  # noqa: E402

SIGMA, LR = 0.5, 3e-4  # the paper's VGG full-class values (speed does not depend on them)
TARGET = 10.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--models", default="resnet18,vgg11")
    ap.add_argument("--forget", type=int, default=500, help="forget images (a CIFAR-100 class: 500)")
    ap.add_argument("--batches", default="128,8", help="forget batch sizes")
    ap.add_argument("--n", type=int, default=25)
    ap.add_argument("--repeats", type=int, default=3)
    add_threads_flag(ap)
    add_write_docs_flag(ap, "jit_cifar_speed")
    args = ap.parse_args(argv)
    apply_threads(ap, args)
    if args.device == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda was requested but no CUDA GPU is available")
    if args.write_docs:
        if args.device != "cuda":
            ap.error("--write-docs writes GPU runs only (the docs section holds GPU figures); use --device cuda")
        check_doc_section(ap, "jit_cifar_speed")
    out = Lines()
    dev = torch.device(args.device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU: {cpu_model()}"
    print(f"# JiT on CIFAR-shaped inputs: {name}; torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"{load_average()}")
    out(f"- forget {args.forget} synthetic [3, 32, 32] images, N={args.n}, sigma={SIGMA}, lr={LR} (plain SGD), "
        f"freshly initialised models (100 classes), median of {args.repeats}; batched+ = bf16 autocast and "
        f"channels_last")
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    gen = torch.Generator().manual_seed(0)
    F = torch.randn(args.forget, 3, 32, 32, generator=gen).to(dev)
    out("\n| model | batch | sequential img/s | batched img/s | batched+ img/s | batched / seq | batched+ / seq |")
    out("|---|---:|---:|---:|---:|---:|---:|")
    worst = None
    for arch in [m.strip() for m in args.models.split(",") if m.strip()]:
        base = build_model(arch, 100, (3, 32, 32), seed=0).to(dev).eval()
        fast = copy.deepcopy(base).to(memory_format=torch.channels_last)
        Fcl = F.contiguous(memory_format=torch.channels_last)
        for batch in [int(b) for b in args.batches.split(",")]:
            kw = dict(sigma=SIGMA, n_samples=args.n, lr=LR, batch_size=batch, seed=0)
            runs = {
                "seq": lambda: jit_sequential(copy.deepcopy(base), F, **kw),
                "bat": lambda: jit(copy.deepcopy(base), F, normalize_step="off", **kw),
            }
            if dev.type == "cuda":
                runs["fast"] = lambda: jit(copy.deepcopy(fast), Fcl, amp=True, normalize_step="off", **kw)
            for fn in runs.values():  # warm-up (cudnn autotuning, allocator)
                timed(fn, dev)
            times = {k: [] for k in runs}
            for r in range(args.repeats):
                for k in (list(runs) if r % 2 == 0 else list(runs)[::-1]):
                    times[k].append(timed(runs[k], dev)[0])
            med = {k: statistics.median(v) for k, v in times.items()}
            ips = {k: args.forget / v for k, v in med.items()}
            fast_ips = ips.get("fast")
            best = fast_ips if fast_ips is not None else ips["bat"]
            ratio = best / ips["seq"]
            worst = ratio if worst is None else min(worst, ratio)
            fast_cell = "n/a (CPU)" if fast_ips is None else f"{fast_ips:.0f}"
            fast_ratio = "n/a" if fast_ips is None else f"{fast_ips / ips['seq']:.1f}x"
            out(f"| {arch} | {batch} | {ips['seq']:.0f} | {ips['bat']:.0f} | {fast_cell} | "
                f"{ips['bat'] / ips['seq']:.1f}x | {fast_ratio} |")
    if dev.type == "cuda":
        out(f"\ntarget: batched+ >= {TARGET:.0f}x sequential in every row: "
            f"**{'met' if worst >= TARGET else 'NOT met'}** (worst {worst:.1f}x)")
    else:
        out("\nCPU run: a smoke check; the 10x target is for a GPU.")
    if args.write_docs:
        write_docs("jit_cifar_speed", out.text(), dev)
    return 0


if __name__ == "__main__":
    sys.exit(main())
