"""The image bench's grid under the serial engine and under Ray on this machine, and a paper-on-a-cluster plan.

Workload: the digits grid of the bench (default: full_class and random, seeds 0 and 1, methods jit, finetune
and random_label, the full 30-epoch recipe; tests/test_engine.py runs the same grid at 1 epoch). Measured:

- *serial*: ``run_benchmark`` in this process (torch's own thread count, as the CLI without ``--threads``);
- *ray*: a local Ray started here (``ray.init(num_cpus=N)``, one CPU and one torch thread per task),
  then ``run_image_grid``; Ray's start-up is timed apart, and so is its per-task overhead (the mean round
  trip of an empty task, after a warm-up);
- whether the two engines gave the same rows (seconds aside).

Then the plan: the paper's CIFAR grid (3 settings x 5 targets x 12 methods x S seeds) as Ray tasks, the
GPU time per task scaled from this run by FLOPs (``torch.utils.flop_counter``: the SmallCNN on 1x8x8 digits
against VGG11 on 3x32x32 CIFAR, and the training-set sizes and epochs), with an *assumed* sustained GPU
throughput (``--gpu-tflops``, stated in the report; replace it by a measurement when a GPU is lent), and
the wall time on 1, 8 and 64 GPUs.

Run from the repo root::

    python benchmarks/engine_speed.py                  # a few minutes on 2 cores
    python benchmarks/engine_speed.py --write-docs     # and write the report into docs/speed.md
"""
from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from _env import Lines, add_threads_flag, add_write_docs_flag, apply_threads, check_doc_section, write_docs  # noqa: E402

from unlearn_core.bench.engine import EngineOptions, RayEngine, run_image_grid  # noqa: E402
from unlearn_core.images.bench import BenchConfig, plan_benchmark, run_benchmark  # noqa: E402
from unlearn_core.images.train import recipe_for  # noqa: E402
from unlearn_core.images.zoo import build_model  # noqa: E402
from unlearn_core.report import strict_json  # noqa: E402


def forward_flops(arch: str, n_classes: int, in_shape) -> float:
    """FLOPs of one image's forward pass (torch's counter: 2 per multiply-add)."""
    model = build_model(arch, n_classes, in_shape, seed=0).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(1, *in_shape))
    return float(counter.get_total_flops())


def noop() -> int:
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--settings", default="full_class,random")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--methods", default="jit,finetune,random_label")
    ap.add_argument("--train-epochs", type=int, default=None, help="default: the digits recipe's 30")
    ap.add_argument("--ray-cpus", type=int, default=os.cpu_count(), help="CPUs of the local Ray (default: all)")
    ap.add_argument("--gpu-tflops", type=float, default=25.0,
                    help="ASSUMED sustained training throughput of one GPU on VGG11 at 32x32 (TFLOP/s), for the plan")
    ap.add_argument("--plan-seeds", type=int, default=3)
    add_threads_flag(ap)
    add_write_docs_flag(ap, "engine_speed")
    args = ap.parse_args()
    apply_threads(ap, args)
    if args.write_docs:
        check_doc_section(ap, "engine_speed")
    out = Lines()
    settings = tuple(args.settings.split(","))
    seeds = tuple(int(s) for s in args.seeds.split(","))
    methods = tuple(args.methods.split(","))
    tmp = tempfile.mkdtemp(prefix="engine_speed-")

    def cfg(name):
        return BenchConfig(dataset="digits", settings=settings, methods=methods, seeds=seeds, device="cpu",
                           out_dir=os.path.join(tmp, name), train_epochs=args.train_epochs)

    plan = plan_benchmark(cfg("probe"))
    cells, runs = len(plan.jobs), len(plan.jobs) * len(plan.names)
    out(f"- digits grid: settings {','.join(settings)}, seeds {args.seeds}, methods {args.methods}: {cells} cells, "
        f"{runs} runs; recipe {plan.recipe.epochs} epochs")

    t0 = time.perf_counter()
    serial = run_benchmark(cfg("serial"))
    t_serial = time.perf_counter() - t0

    t0 = time.perf_counter()
    engine = RayEngine(EngineOptions("ray", None, 1.0, 0.0, 2), num_cpus=args.ray_cpus)
    t_start = time.perf_counter() - t0
    try:
        task = engine.remote(noop)
        engine.ray.get([task.remote() for _ in range(4)])  # warm-up: the workers start
        n = 50
        t0 = time.perf_counter()
        for _ in range(n):
            engine.ray.get(task.remote())
        t_task = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        on_ray = run_image_grid(plan_benchmark(cfg("ray"), device="cpu"), engine)
        t_ray = time.perf_counter() - t0
    finally:
        engine.close()

    def same(rows):
        return strict_json([{k: v for k, v in r.items() if k != "seconds"} for r in rows])

    out("\n| engine | wall s | vs serial |\n|---|---:|---:|")
    out(f"| serial (torch {torch.get_num_threads()} threads) | {t_serial:.1f} | 1.00x |")
    out(f"| ray, {args.ray_cpus} CPUs, 1 per task (grid only) | {t_ray:.1f} | {t_serial / t_ray:.2f}x |")
    out(f"| ray, start-up included | {t_ray + t_start:.1f} | {t_serial / (t_ray + t_start):.2f}x |")
    out(f"\n- Ray start-up (`ray.init`, local): {t_start:.1f} s; per-task overhead (empty task round trip, "
        f"warm workers): {1000 * t_task:.1f} ms")
    out(f"- same rows under both engines (seconds aside): {'yes' if same(serial.rows) == same(on_ray.rows) else 'no'}"
        " (serial ran with torch's thread count; tests/test_engine.py checks equality with one thread each)")

    # ---- the plan: the paper's CIFAR grid on a cluster -----------------------------------------------------
    orig_rows = [r for r in serial.rows if r["method"] == "retrain"]
    t_retrain = sum(r["seconds"] for r in orig_rows) / len(orig_rows)  # one digits training, measured
    method_rows = [r for r in serial.rows if r["method"] not in ("original", "retrain") and r["seconds"] == r["seconds"]]
    per_cell_methods = sum(r["seconds"] for r in method_rows) / cells
    ratio = per_cell_methods / t_retrain
    digits_n, digits_epochs = 1347, plan.recipe.epochs
    f_digits = forward_flops("smallcnn", 10, (1, 8, 8))
    f_vgg = forward_flops("vgg11", 100, (3, 32, 32))
    cifar_epochs = recipe_for("cifar100", "vgg11").epochs
    train_flops = 3 * f_vgg * 50_000 * cifar_epochs  # forward + backward = 3 forwards, per image and epoch
    digits_flops = 3 * f_digits * digits_n * digits_epochs
    cpu_rate = digits_flops / t_retrain
    gpu_rate = args.gpu_tflops * 1e12
    t_train_gpu = train_flops / gpu_rate  # one CIFAR training (an original, or a retrain) on one GPU
    t_cell_gpu = t_train_gpu * (1 + ratio * 12 / len(methods))  # the retrain and 12 methods, scaled from digits
    settings_targets = 3 * 5
    n_cells = settings_targets * args.plan_seeds
    n_orig = 2 * args.plan_seeds  # CIFAR-100 (full_class, random) and CIFAR-20 (sub_class) originals per seed
    out(f"\nPlan for the paper's CIFAR grid (3 settings x 5 targets x 12 methods x {args.plan_seeds} seeds), "
        "VGG11 at 32x32, 50 epochs:")
    out(f"\n- measured here: one digits training ({digits_epochs} epochs, SmallCNN) {t_retrain:.2f} s = "
        f"{digits_flops / 1e12:.3f} TFLOP ({cpu_rate / 1e9:.1f} GFLOP/s on this CPU); the {len(methods)} methods of a "
        f"cell together cost {ratio:.2f} trainings")
    out(f"- FLOPs per image forward: SmallCNN 1x8x8 {f_digits / 1e6:.3f} MFLOP, VGG11 3x32x32 {f_vgg / 1e6:.0f} MFLOP; "
        f"one CIFAR training = {train_flops / 1e15:.1f} PFLOP")
    out(f"- **assumed** sustained GPU throughput {args.gpu_tflops:g} TFLOP/s (not measured: no GPU was lent): one "
        f"training {t_train_gpu / 60:.1f} min; one cell (retrain + 12 methods, the methods scaled as {ratio:.2f} "
        f"trainings per {len(methods)} methods) {t_cell_gpu / 60:.1f} min = {t_cell_gpu / 3600:.2f} GPU-hours")
    out(f"- tasks: {n_orig} originals, then {n_cells} cells ({n_cells * 14} runs); total "
        f"{(n_orig * t_train_gpu + n_cells * t_cell_gpu) / 3600:.1f} GPU-hours")
    out("\n| GPUs (1 per task) | wall time |\n|---:|---:|")
    for g in (1, 8, 64):
        wall = math.ceil(n_orig / g) * t_train_gpu + math.ceil(n_cells / g) * t_cell_gpu
        out(f"| {g} | {wall / 3600:.1f} h |")
    out(f"\nWith 64 GPUs the grid is {n_orig + n_cells} tasks, so {64 - n_cells} GPUs idle during the cells: the "
        "wall time is one original plus one cell. Split the 12 methods of a cell into separate tasks to use more.")
    shutil.rmtree(tmp, ignore_errors=True)
    if args.write_docs:
        write_docs("engine_speed", out.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
