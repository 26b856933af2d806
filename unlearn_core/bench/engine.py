"""Execution engines for the bench's grids: ``serial`` (in this process, the default) and ``ray``.

``--engine serial`` is today's bench: one cell after another, and Ray is never imported.
``--engine ray`` runs the same cells as Ray tasks: on a local Ray over this machine's CPUs and GPUs, or
on a running cluster with ``--address`` (or ``RAY_ADDRESS``; ``auto`` joins the cluster this machine
belongs to). No scheduler of our own: Ray places the tasks, retries them and moves their data.

The image grid (``run_image_grid``):

- one Ray task per (variant, seed) trains the **original** (or the driver loads ``--checkpoint``); its
  weights travel as a state dict through the object store, so an original is trained once and shared
  by every cell of that seed, never recomputed per cell;
- one Ray task per **cell** (seed, setting, target) trains the retrain and runs every method still to
  do (``unlearn_core.images.bench.run_job``, the code the serial engine runs), and returns the rows;
- the **driver alone** writes ``OUT/runs/*.json``, atomically, as cells finish (``ray.wait``), with the
  same keys as the serial engine: a rerun with the same ``--out`` resumes whichever engine wrote them;
- a task whose worker dies (killed, out of memory) is retried ``--task-retries`` times, then its runs
  become failed rows with the error (shown in the table, retried by a rerun) and the grid goes on;
- Ctrl-C cancels the outstanding tasks; every finished run is already on disk.

Nothing needs a shared filesystem: the data travels once per variant through the object store, the
originals as state dicts, the rows back to the driver. A worker caches retrains in the same
``OUT/models`` path on its own node (the driver's folder on a one-machine Ray).

With ``--audit K`` every model of a cell's forgetting audit is a task too (``audit_task``,
``audit_original_task``: 2K retrains, K originals under "originals", K unlearning runs per method); they
return confidences and counts, never models, and the driver scores the audit before it writes the rows.

The 2-D sweep (``run_sweep_grid``): one task per (dataset, seed), the records returned to the driver.

The resources of a task: ``--cpus-per-task`` (default 1) and ``--gpus-per-task`` (fractions allowed;
default 1 when the cluster has GPUs, else 0). Each task runs torch with as many threads as CPUs it holds,
so a grid gives the same rows under ``serial --threads 1`` and ``ray`` on the CPU.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from typing import Callable

import torch

import toy_data
import unlearn_core
from unlearn_core.images.bench import (BenchResult, Plan, add_audit, failed_rows, model_from_package,
                                       model_package, original_model, record, run_audit_member, run_job, sort_rows,
                                       stored_runs)

ENGINES = ("serial", "ray")
#: Bounds of the engine flags (every size has one).
MAX_TASK_CPUS = 1024
MAX_TASK_GPUS = 64
MAX_RETRIES = 20


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """The engine's flags, as one group of ``parser``."""
    g = parser.add_argument_group("execution engine", "where the grid runs (docs/cluster.md)")
    g.add_argument("--engine", choices=ENGINES, default="serial",
                   help="serial: one cell after another in this process; ray: cells as Ray tasks, on a local Ray "
                        "or on a cluster (--address); image grids and --sweep")
    g.add_argument("--address", default=None, metavar="ADDR",
                   help="--engine ray: join this Ray cluster ('auto': the one this machine belongs to; default: "
                        "RAY_ADDRESS, else start a local Ray)")
    g.add_argument("--cpus-per-task", type=float, default=None, metavar="N",
                   help=f"--engine ray: CPUs per task, in (0, {MAX_TASK_CPUS}] (default 1); torch runs that many threads")
    g.add_argument("--gpus-per-task", type=float, default=None, metavar="N",
                   help=f"--engine ray: GPUs per task, in [0, {MAX_TASK_GPUS}], fractions allowed (default 1 when the "
                        "cluster has GPUs, else 0)")
    g.add_argument("--task-retries", type=int, default=None, metavar="N",
                   help=f"--engine ray: retries of a task whose worker dies, 0-{MAX_RETRIES} (default 2)")


#: The engine flags, for commands that refuse flags they would ignore (``--sweep``).
ENGINE_FLAGS = ("--engine", "--address", "--cpus-per-task", "--gpus-per-task", "--task-retries")


@dataclasses.dataclass
class EngineOptions:
    engine: str = "serial"
    address: str | None = None
    cpus_per_task: float = 1.0
    gpus_per_task: float | None = None  # None: 1 when the cluster has GPUs, else 0
    task_retries: int = 2


def engine_options(args) -> EngineOptions:
    """The engine flags of ``args`` checked; ValueError naming the flag. ``--address`` and the per-task
    flags belong to ``--engine ray``."""
    engine = getattr(args, "engine", "serial") or "serial"
    given = {f: getattr(args, f.lstrip("-").replace("-", "_"), None) for f in ENGINE_FLAGS[1:]}
    if engine == "serial":
        extra = [f for f, v in given.items() if v is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)} belong to --engine ray; add --engine ray or leave them out")
        return EngineOptions()
    cpus, gpus, retries = given["--cpus-per-task"], given["--gpus-per-task"], given["--task-retries"]
    if cpus is not None and not (0 < cpus <= MAX_TASK_CPUS):
        raise ValueError(f"--cpus-per-task must be in (0, {MAX_TASK_CPUS}], got {cpus:g}")
    if gpus is not None and not (0 <= gpus <= MAX_TASK_GPUS):
        raise ValueError(f"--gpus-per-task must be in [0, {MAX_TASK_GPUS}], got {gpus:g}")
    if gpus is not None and gpus > 1 and gpus != int(gpus):
        raise ValueError(f"--gpus-per-task above 1 must be a whole number, got {gpus:g}")
    if retries is not None and not (0 <= retries <= MAX_RETRIES):
        raise ValueError(f"--task-retries must be in [0, {MAX_RETRIES}], got {retries}")
    address = given["--address"] or os.environ.get("RAY_ADDRESS") or None
    return EngineOptions("ray", address, 1.0 if cpus is None else float(cpus), gpus,
                         2 if retries is None else int(retries))


# ----------------------------------------------------------------------------------------------------------
# Ray: start or join, and the tasks
# ----------------------------------------------------------------------------------------------------------

def _code_roots() -> list[str]:
    return [os.path.dirname(os.path.abspath(unlearn_core.__file__)), os.path.dirname(os.path.abspath(toy_data.__file__))]


class RayEngine:
    """A connection to Ray: a local instance (no address) or a cluster (an address). ``close`` disconnects
    (and stops a local instance this engine started)."""

    def __init__(self, opts: EngineOptions, *, num_cpus: int | None = None):
        import ray  # only --engine ray imports Ray

        self.ray = ray
        self.opts = opts
        self.started_at = time.perf_counter()
        self.owned = not ray.is_initialized()
        if self.owned:
            env = {"PYTHONDONTWRITEBYTECODE": "1"}
            if opts.address:  # a cluster: ship this project's code with the job (no shared filesystem needed)
                runtime_env = {"py_modules": _code_roots(), "env_vars": env}
            else:  # a local Ray: the workers import the driver's own files
                env["PYTHONPATH"] = os.pathsep.join(p for p in [*sys.path, os.getcwd()] if p)
                runtime_env = {"env_vars": env}
            ray.init(address=opts.address, num_cpus=None if opts.address else num_cpus, include_dashboard=False,
                     log_to_driver=False, runtime_env=runtime_env, configure_logging=False)
        self.start_seconds = time.perf_counter() - self.started_at
        gpus = ray.cluster_resources().get("GPU", 0)
        self.gpus_per_task = opts.gpus_per_task if opts.gpus_per_task is not None else (1.0 if gpus else 0.0)
        if self.gpus_per_task > gpus:
            raise ValueError(f"--gpus-per-task {self.gpus_per_task:g} but the Ray cluster has {gpus:g} GPUs")
        self.threads = max(1, int(math.floor(opts.cpus_per_task)))

    def remote(self, fn: Callable, *, num_returns: int = 1):
        """``fn`` as a Ray task with this engine's resources and retries."""
        return self.ray.remote(fn).options(num_cpus=self.opts.cpus_per_task, num_gpus=self.gpus_per_task,
                                           max_retries=self.opts.task_retries, retry_exceptions=True,
                                           num_returns=num_returns)

    def close(self) -> None:
        if self.owned and self.ray.is_initialized():
            self.ray.shutdown()


def _threads(n: int) -> None:
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


def original_task(plan: Plan, loaded, seed: int, threads: int) -> dict:
    """A Ray task: train (or load from the worker's cache) the original of ``seed``; its state dict back."""
    _threads(threads)
    plan = dataclasses.replace(plan, device=_worker_device(plan))
    return model_package(original_model(plan, loaded, seed, cache_dir=plan.models_dir))


def cell_task(plan: Plan, job, loaded, original: dict, todo: list[str], threads: int) -> list[dict]:
    """A Ray task: one cell (its retrain and every run in ``todo``); its rows back, nothing written."""
    _threads(threads)
    plan = dataclasses.replace(plan, device=_worker_device(plan))
    job = dataclasses.replace(job, loaded=loaded)
    shape = tuple(loaded.Xtr.shape[1:])
    model = model_from_package(original, plan.arch, loaded.data.n_classes, shape, plan.device)
    rows, _ = run_job(plan, job, model, todo, cache_dir=plan.models_dir)
    return rows


def _task_model(plan: Plan, loaded, package: dict | None):
    if package is None:
        return None
    return model_from_package(package, plan.arch, loaded.data.n_classes, tuple(loaded.Xtr.shape[1:]), plan.device)


def audit_task(plan: Plan, job, loaded, original: dict | None, member, threads: int) -> dict:
    """A Ray task: one member of a cell's audit (a retrain, or an unlearning run of ``original``, or the
    challenge's ceiling); only its outputs back (``unlearn_core.audit.Outputs``: confidences, counts)."""
    _threads(threads)
    plan = dataclasses.replace(plan, device=_worker_device(plan))
    job = dataclasses.replace(job, loaded=loaded)
    result, _ = run_audit_member(plan, job, member, _task_model(plan, loaded, original))
    return result


def audit_original_task(plan: Plan, job, loaded, member, threads: int) -> tuple[dict, dict]:
    """A Ray task with two returns: original k of an "originals" audit trained and measured (its outputs, for
    the driver) and its state dict, which stays in the object store for the method members of its k."""
    _threads(threads)
    plan = dataclasses.replace(plan, device=_worker_device(plan))
    job = dataclasses.replace(job, loaded=loaded)
    result, model = run_audit_member(plan, job, member, None)
    return result, model_package(model)


def _worker_device(plan: Plan) -> str:
    """The planned device type on this worker ("cuda" is the GPU Ray gave the task: CUDA_VISIBLE_DEVICES)."""
    return "cuda" if torch.device(plan.device).type == "cuda" else "cpu"


def _error_text(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    last = [line for line in text if line.strip()][-1] if text else ""
    return f"task failed after retries: {type(err).__name__}: {last[:300]}"


# ----------------------------------------------------------------------------------------------------------
# The image grid
# ----------------------------------------------------------------------------------------------------------

def run_image_grid(plan: Plan, engine: RayEngine, *, progress: Callable[[int, int, str], None] | None = None,
                   cell_fn: Callable = cell_task, member_fn: Callable = audit_task) -> BenchResult:
    """Every cell of ``plan`` as Ray tasks on ``engine``; the driver writes the runs as cells finish.

    With ``plan.cfg.audit`` (K) every member of a cell's audit is one more task (``audit_task``; under the
    "originals" protocol ``audit_original_task`` trains original k, whose state dict stays in the object
    store for the unlearning members of its k), submitted in the serial engine's order. A member returns
    its outputs only (``unlearn_core.audit.Outputs``); the driver scores the audit (``add_audit``) when
    the cell and all its members are back, then writes the rows. A member that fails after its retries
    fails the cell's runs, as a cell task does.

    ``progress(done, total, text)`` after every finished cell (the CLI's one bar). ``cell_fn`` is the
    task body (``cell_task``; tests wrap it to kill a worker), ``member_fn`` the audit member's (``audit_task``). Ctrl-C (KeyboardInterrupt) cancels the
    outstanding tasks and is raised again; what finished is on disk."""
    ray = engine.ray
    total = len(plan.jobs) * len(plan.names)
    done_count = 0
    rows: list[dict] = []
    notes: list[str] = []
    # what every task gets: the plan without the data (that travels once per variant), the cache folder absolute
    light = dataclasses.replace(plan, jobs=[], cfg=dataclasses.replace(
        plan.cfg, out_dir=os.path.abspath(plan.cfg.out_dir) if plan.cfg.out_dir else None))
    loaded_refs: dict = {}
    originals: dict = {}
    cells: list[dict] = []  # per cell: job, todo, rows, the audit's results, how many refs it still waits for
    pending: dict = {}  # ObjectRef -> (cell index, None for the cell's rows or the audit member)
    train = engine.remote(original_task)
    cell = engine.remote(cell_fn)
    member_task = engine.remote(member_fn)
    original_member = engine.remote(audit_original_task, num_returns=2)

    def tell(text: str) -> None:
        if progress is not None:
            progress(done_count, total, text)

    for job in plan.jobs:
        done, todo, why = stored_runs(plan, job)
        notes += why
        rows += done.values()
        done_count += len(done)
        if not todo:
            continue
        variant = job.loaded.variant
        if variant not in loaded_refs:
            loaded_refs[variant] = ray.put(job.loaded)
        key = (variant, job.seed)
        if key not in originals:
            if plan.cfg.checkpoint:  # the driver reads the checkpoint; its weights travel as a state dict
                originals[key] = ray.put(model_package(original_model(dataclasses.replace(plan, device="cpu"),
                                                                      job.loaded, job.seed)))
            else:
                originals[key] = train.remote(light, loaded_refs[variant], job.seed, engine.threads)
        bare = dataclasses.replace(job, loaded=None)
        i = len(cells)
        ref = cell.remote(light, bare, loaded_refs[variant], originals[key], todo, engine.threads)
        pending[ref] = (i, None)
        members = plan.audit_members(job, todo)
        trained: dict = {}  # "originals": k -> the ObjectRef of original k's state dict
        for mem in members:  # one task per member, in the serial engine's order
            if mem.role == "original" and plan.cfg.audit_protocol == "originals":
                ref, trained[mem.k] = original_member.remote(light, bare, loaded_refs[variant], mem, engine.threads)
            else:
                src = None if mem.role in ("reference", "floor") else (
                    originals[key] if plan.cfg.audit_protocol == "challenge" else trained[mem.k])
                ref = member_task.remote(light, bare, loaded_refs[variant], src, mem, engine.threads)
            pending[ref] = (i, mem)
        cells.append(dict(job=job, todo=todo, rows=None, results={}, waiting=1 + len(members), error=None,
                          audited=bool(members)))
    tell(f"{len(cells)} cells submitted")
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i, mem = pending.pop(ref)
                c = cells[i]
                try:
                    value = ray.get(ref)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as err:  # noqa: BLE001 - a task failed after its retries: the cell's runs fail
                    value, c["error"] = None, c["error"] or _error_text(err)
                if mem is None:
                    c["rows"] = value
                else:
                    c["results"][mem] = value
                c["waiting"] -= 1
                if c["waiting"]:
                    continue
                job, todo = c["job"], c["todo"]
                if c["error"]:
                    new = failed_rows(plan, job, todo, c["error"])
                else:
                    new = c["rows"]
                    if c["audited"]:
                        add_audit(plan, job, new, c["results"])
                for row in new:
                    record(plan, row)
                rows += new
                done_count += len(new)
                tell(f"{job.setting} {job.label}, seed {job.seed}: done")
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return BenchResult(sort_rows(plan, rows), plan.jobs, {}, notes)


# ----------------------------------------------------------------------------------------------------------
# The 2-D sweep
# ----------------------------------------------------------------------------------------------------------

def sweep_task(fn: Callable, dataset: str, seed: int, args: tuple, threads: int) -> list[dict]:
    _threads(threads)
    return fn(dataset, seed, *args)


def run_sweep_grid(fn: Callable, cells: list[tuple[str, int]], args: tuple, engine: RayEngine, *,
                   progress: Callable[[], None] | None = None) -> list[dict]:
    """``fn(dataset, seed, *args) -> records`` for every (dataset, seed) cell as Ray tasks; the records in
    the cells' order. ``progress()`` after every finished cell. Ctrl-C cancels what is outstanding."""
    ray = engine.ray
    task = engine.remote(sweep_task)
    refs = [task.remote(fn, ds, seed, args, engine.threads) for ds, seed in cells]
    out: dict = {}
    pending = {ref: i for i, ref in enumerate(refs)}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                out[pending.pop(ref)] = ray.get(ref)
                if progress is not None:
                    progress()
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    return [r for i in range(len(cells)) for r in out[i]]


def engine_refusal(args) -> str | None:
    """Why the 2-D bench (not ``--sweep``) refuses the engine flags given, or None: it runs in this process."""
    given = [f for f in ENGINE_FLAGS[1:] if getattr(args, f.lstrip("-").replace("-", "_"), None) is not None]
    if getattr(args, "engine", "serial") != "serial":
        given.insert(0, f"--engine {args.engine}")
    if given:
        return (f"{', '.join(given)}: the 2-D bench runs in this process; engines run the image grids and --sweep "
                "(docs/cluster.md)")
    return None
