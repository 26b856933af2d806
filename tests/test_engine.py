"""The execution engines (issue 13): serial and Ray give the same rows, resume across engines, survive a
killed worker, and join a (simulated) two-node cluster by address. All on the CPU with a real local Ray
(``local_mode`` is gone in Ray 2.60); one Ray instance is shared by the module."""
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import ray  # noqa: F401 - requirements-ray.txt; CI installs it, so these tests never skip

from unlearn_core.bench.cli import main
from unlearn_core.bench import sweep
from unlearn_core.bench.engine import EngineOptions, RayEngine, cell_task, run_image_grid, run_sweep_grid
from unlearn_core.images.bench import BenchConfig, collect, plan_benchmark, run_benchmark
from unlearn_core.problem import ModelRecipe
from unlearn_core.report import strict_json


ROOT = Path(__file__).resolve().parent.parent
FAST = {"finetune": {"epochs": 1}, "random_label": {"epochs": 1}}


def config(out, **kw) -> BenchConfig:
    base = dict(dataset="digits", settings=("full_class", "random"), methods=("jit", "finetune", "random_label"),
                seeds=(0, 1), device="cpu", out_dir=str(out), train_epochs=1, overrides=FAST)
    base.update(kw)
    return BenchConfig(**base)


def comparable(rows):
    """Rows without the wall-clock seconds (the only field allowed to differ between engines), as strict
    JSON data (NaN -> None, so that two NaNs compare equal)."""
    return strict_json([{k: v for k, v in r.items() if k != "seconds"} for r in rows])


def stamps(folder) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in sorted(Path(folder).iterdir())}


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "digits", "--address", "auto"], "--address belong to --engine ray"),
    (["--dataset", "digits", "--engine", "ray", "--gpus-per-task", "-1"], "--gpus-per-task must be in [0, 64]"),
    (["--dataset", "digits", "--engine", "ray", "--cpus-per-task", "0"], "--cpus-per-task must be in (0, 1024]"),
    (["--dataset", "digits", "--engine", "ray", "--task-retries", "99"], "--task-retries must be in [0, 20]"),
    (["--dataset", "moons", "--engine", "ray"], "the 2-D bench runs in this process"),
])
def test_engine_flags_are_checked_before_anything_starts(argv, message, tmp_path, capsys):
    out = ["--out", str(tmp_path / "o")] if "digits" in argv else []
    try:
        code = main([*argv, "--seeds", "0", *out, "--quiet"])
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o" / "models").exists()


def test_the_serial_engine_never_imports_ray():
    code = textwrap.dedent("""
        import sys
        from unlearn_core.bench.cli import main
        assert main(["--dataset", "digits", "--methods", "magic", "--quiet", "--no-plot"]) == 2
        assert "ray" not in sys.modules, "ray imported"
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def engine():
    eng = RayEngine(EngineOptions("ray", None, 1.0, 0.0, 2), num_cpus=2)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def both(engine, tmp_path_factory):
    """The tiny grid (2 settings x 2 seeds x 3 methods) under both engines."""
    root = tmp_path_factory.mktemp("engines")
    serial = run_benchmark(config(root / "serial"))
    on_ray = run_image_grid(plan_benchmark(config(root / "ray"), device="cpu"), engine)
    return root, serial, on_ray


CLUSTER_SCRIPT = textwrap.dedent("""
    import json, sys
    from ray.cluster_utils import Cluster
    from unlearn_core.bench.cli import main

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    nodes = len(cluster.list_all_nodes())
    code = main(["--dataset", "digits", "--setting", "full_class", "--methods", "jit", "--seeds", "0,1",
                 "--train-epochs", "1", "--out", sys.argv[1], "--quiet", "--no-plot", "--device", "cpu",
                 "--engine", "ray", "--address", cluster.address])
    cluster.shutdown()
    print(json.dumps({"code": code, "nodes": nodes}))
""")


@pytest.mark.slow
def test_a_two_node_cluster_joined_by_address(both, tmp_path):
    """Two Ray nodes on this machine (``ray.cluster_utils.Cluster``); the bench joins by --address and ships
    its code with the job (runtime_env py_modules: no shared filesystem assumed); the rows equal the
    serial engine's for the same cells."""
    out = tmp_path / "cluster"
    proc = subprocess.run([sys.executable, "-c", CLUSTER_SCRIPT, str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, RAY_ADDRESS=""))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"code": 0, "nodes": 2}, proc.stdout[-2000:]
    rows = json.loads((out / "results.json").read_text())
    assert len(rows) == 6 and not any(r.get("error") for r in rows)
    _, serial, _ = both
    same_cells = [r for r in serial.rows if r["setting"] == "full_class" and r["method"] in ("original", "retrain", "jit")]
    assert comparable(rows) == comparable(same_cells)


def test_ray_gives_the_serial_rows(both):
    root, serial, on_ray = both
    assert len(serial.rows) == 20 and not any(r.get("failed") for r in on_ray.rows)
    assert comparable(on_ray.rows) == comparable(serial.rows)
    assert comparable(collect(str(root / "ray"))) == comparable(collect(str(root / "serial")))


def test_resume_across_engines(both, engine, tmp_path):
    root, serial, _ = both
    # serial wrote it, Ray resumes: only the deleted runs are recomputed
    out = tmp_path / "s2r"
    shutil.copytree(root / "serial", out)
    for name in ("full_class__3__seed1__jit.json", "random__27_random__seed0__finetune.json"):
        (out / "runs" / name).unlink()
    kept = stamps(out / "runs")
    result = run_image_grid(plan_benchmark(config(out), device="cpu"), engine)
    assert not result.notes
    now = stamps(out / "runs")
    assert {k: now[k] for k in kept} == kept and len(now) == 20
    assert comparable(result.rows) == comparable(serial.rows)
    # Ray wrote it, serial resumes: nothing to do, nothing rewritten
    out2 = tmp_path / "r2s"
    shutil.copytree(root / "ray", out2)
    kept = stamps(out2 / "runs")
    result = run_benchmark(config(out2))
    assert not result.notes and stamps(out2 / "runs") == kept
    assert comparable(result.rows) == comparable(serial.rows)


def die(plan, job, loaded, original, todo, threads):
    """A cell task whose worker process is killed: once for seed 0 (a marker file remembers it), every
    time for seed 1."""
    marker = Path(plan.cfg.out_dir) / f"killed-seed{job.seed}"
    if job.seed == 1 or not marker.exists():
        marker.write_text("killed")
        os._exit(1)
    return cell_task(plan, job, loaded, original, todo, threads)


@pytest.mark.slow
def test_a_killed_worker_is_retried_a_cell_that_keeps_dying_is_reported_and_nothing_finished_is_lost(engine, tmp_path):
    cfg = config(tmp_path / "o", settings=("full_class",), methods=("jit",))
    twice = RayEngine(dataclasses.replace(engine.opts, task_retries=1))  # joins the running Ray
    result = run_image_grid(plan_benchmark(cfg, device="cpu"), twice, cell_fn=die)
    assert (tmp_path / "o" / "killed-seed0").exists()
    assert all(not r.get("error") for r in result.rows if r["seed"] == 0), "seed 0 was retried and finished"
    failed = [r for r in result.rows if r.get("failed")]
    assert {(r["seed"], r["method"]) for r in failed} == {(1, "original"), (1, "retrain"), (1, "jit")}
    assert all("task failed after retries" in r["error"] for r in failed)
    assert len(collect(str(tmp_path / "o"))) == 6  # the failed rows are on disk, marked failed
    kept = {k: v for k, v in stamps(tmp_path / "o" / "runs").items() if "seed0" in k}
    result = run_benchmark(cfg)  # a rerun (here: serial) retries the failed cell and keeps the rest
    assert sum("failed run" in n for n in result.notes) == 3
    assert not any(r.get("failed") for r in result.rows)
    assert {k: v for k, v in stamps(tmp_path / "o" / "runs").items() if "seed0" in k} == kept


def test_the_sweep_cells_on_ray_give_the_serial_records(engine):
    """The 2-D sweep's (dataset, seed) cells as Ray tasks (``--sweep --engine ray``); one configuration here."""
    recipe = ModelRecipe(hidden=(16,), epochs=5)
    configs = sweep.grid()[:1]
    cells = [("moons", 0), ("blobs", 1)]
    on_ray = run_sweep_grid(sweep.collect_cell, cells, (recipe, "cpu", configs), engine)
    serial = [r for ds, seed in cells for r in sweep.collect_cell(ds, seed, recipe, "cpu", configs)]
    assert len(on_ray) == 2 * len(sweep.SCENARIOS)
    assert comparable(on_ray) == comparable(serial)


def _sigint_as_at_a_terminal() -> None:
    """In the command's process before it starts Python: SIGINT back to its default. A test run started as a
    background job (as CI may start it) ignores SIGINT, the command inherits that, and Python then installs no
    Ctrl-C handler: the grid ran to the end and exited 0 despite the signal."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.slow
def test_ctrl_c_cancels_the_outstanding_tasks_and_keeps_every_finished_run(tmp_path):
    """``python -m unlearn_core.bench --engine ray`` as a command, interrupted (SIGINT) once a cell is on disk."""
    import ray

    ray.shutdown()  # the module's in-process Ray (the ``engine`` fixture) is done: its CPUs go to the command's own
    out = tmp_path / "o"
    argv = ["-m", "unlearn_core.bench", "--dataset", "digits", "--setting", "full_class", "--methods", "jit",
            "--seeds", "0,1,2,3,4,5", "--train-epochs", "1", "--out", str(out), "--quiet", "--no-plot", "--device",
            "cpu", "--engine", "ray", "--cpus-per-task", "1"]
    # 6 cells on 2 CPUs: when the first run file appears, at least two rounds of cells are still to come (with 3
    # seeds, a fast machine finished the whole grid before the signal arrived and exited 0)
    proc = subprocess.Popen([sys.executable, *argv], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, RAY_ADDRESS=""), preexec_fn=_sigint_as_at_a_terminal)
    runs = out / "runs"
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.exists() and any(p.suffix == ".json" for p in runs.iterdir()):
            break
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
    finished = {p.name: p.read_text() for p in runs.iterdir()}
    assert finished and all(json.loads(t)["method"] for t in finished.values()), "every file is a whole run"
    assert len(finished) < 18, "the grid finished before the interrupt: nothing was cancelled"
    result = run_benchmark(config(out, settings=("full_class",), methods=("jit",), seeds=tuple(range(6)),
                                  overrides={}))
    assert not result.notes and len(result.rows) == 18
    assert all((runs / name).read_text() == text for name, text in finished.items()), "finished runs were kept"
