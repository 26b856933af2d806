"""The image bench never reports a different experiment than the one asked for (issue 14, part 2 and 6).

Every cached model and run is keyed by what determines it; a rerun reuses a stored run only when its
key is equal, says which field differed otherwise, retries failed runs, names damaged files; the
architecture comes from ``--checkpoint``; two writers sharing an ``--out`` never corrupt it; the JSON
is strict (null, not NaN) and results.json has its siblings' permissions. Tiny digits runs (1 epoch)."""
import json
import os
import shutil
import stat
import threading

import pytest
import torch

from unlearn_core.bench.cli import main
from unlearn_core.images import bench as image_bench
from unlearn_core.images.bench import (BenchConfig, DamagedRunError, collect, plan_benchmark, run_benchmark,
                                       write_outputs)
from unlearn_core.images.checkpoints import save_checkpoint
from unlearn_core.images.zoo import build_model
from unlearn_core.report import write_json


def config(out, **kw) -> BenchConfig:
    base = dict(dataset="digits", settings=("full_class",), methods=("jit", "finetune"), seeds=(0,), device="cpu",
                out_dir=str(out), train_epochs=1, overrides={"finetune": {"epochs": 1}})
    base.update(kw)
    return BenchConfig(**base)


def stamps(folder) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """One finished tiny run; each test works on its own copy."""
    out = tmp_path_factory.mktemp("keys") / "base"
    result = run_benchmark(config(out))
    assert len(result.rows) == 4 and not result.notes
    return out


@pytest.fixture
def out(done, tmp_path):
    dest = tmp_path / "out"
    shutil.copytree(done, dest)
    return dest


def test_a_same_rerun_reuses_everything(out):
    runs, models = stamps(out / "runs"), stamps(out / "models")
    result = run_benchmark(config(out))
    assert not result.notes
    assert stamps(out / "runs") == runs and stamps(out / "models") == models
    assert all(r["key"] == json.loads((out / "runs" / f"full_class__3__seed0__{r['method']}.json").read_text())["key"]
               for r in result.rows)


def test_a_different_recipe_is_recomputed_and_the_field_named(out):
    """Issue 14: a rerun with --train-epochs 3 on an --out made with 1 epoch reused the 1-epoch runs."""
    before = {r["method"]: r for r in collect(out)}
    result = run_benchmark(config(out, train_epochs=2))
    assert len(result.notes) == 4 and all("recipe (epochs 1 -> 2)" in n and "recomputed" in n for n in result.notes)
    assert {r["method"] for r in result.rows} == {"original", "retrain", "jit", "finetune"}
    after = {r["method"]: r for r in collect(out)}
    for m in after:
        assert after[m]["key"]["recipe"]["epochs"] == 2 and after[m]["key"] != before[m]["key"]
    assert len([p for p in (out / "models").iterdir() if p.name.startswith("original")]) == 2  # a new model file


def test_a_different_hyperparameter_recomputes_that_method_only(out):
    runs = stamps(out / "runs")
    result = run_benchmark(config(out, overrides={"finetune": {"epochs": 2}}))
    assert len(result.notes) == 1 and "finetune.json" in result.notes[0]
    assert "hyperparameters (epochs 1 -> 2)" in result.notes[0]
    fine = next(r for r in result.rows if r["method"] == "finetune")
    assert fine["hyperparameters"]["epochs"] == 2
    changed = {k for k, v in stamps(out / "runs").items() if runs[k] != v}
    assert changed == {"full_class__3__seed0__finetune.json"}


def test_a_run_under_another_method_version_is_recomputed(out, monkeypatch):
    monkeypatch.setattr(image_bench, "method_version", lambda m: "edited" if m == "jit" else "same")
    result = run_benchmark(config(out))
    named = [n for n in result.notes if "jit.json" in n]
    assert named and "code" in named[0]


def test_a_failed_run_is_not_final_and_a_rerun_retries_it(out, monkeypatch):
    """Issue 14: a failed run was cached, so a rerun kept reporting the old failure."""
    (out / "runs" / "full_class__3__seed0__finetune.json").unlink()
    real = image_bench.unlearn

    def crash(method, *a, **kw):
        if method == "finetune":
            raise RuntimeError("CUDA out of memory (simulated)")
        return real(method, *a, **kw)

    monkeypatch.setattr(image_bench, "unlearn", crash)
    result = run_benchmark(config(out))
    row = next(r for r in result.rows if r["method"] == "finetune")
    assert row["failed"] is True and "out of memory" in row["error"]
    stored = json.loads((out / "runs" / "full_class__3__seed0__finetune.json").read_text())
    assert stored["failed"] is True and stored["acc_test"] is None  # on disk, strict JSON
    monkeypatch.setattr(image_bench, "unlearn", real)
    result = run_benchmark(config(out))
    assert any("failed run" in n and "retried" in n for n in result.notes)
    row = next(r for r in result.rows if r["method"] == "finetune")
    assert "failed" not in row and "error" not in row and row["acc_test"] > 0


def test_a_damaged_run_file_is_named_and_recomputed(out):
    victim = out / "runs" / "full_class__3__seed0__jit.json"
    victim.write_text('{"method": "jit", "acc_te')
    with pytest.raises(DamagedRunError, match="full_class__3__seed0__jit.json"):
        collect(out)
    result = run_benchmark(config(out))
    assert any(str(victim) in n and "damaged" in n for n in result.notes)
    assert json.loads(victim.read_text())["method"] == "jit"


def test_the_cli_prints_what_it_recomputed(out, capsys):
    code = main(["--dataset", "digits", "--setting", "full_class", "--methods", "jit,finetune", "--seeds", "0",
                 "--train-epochs", "2", "--out", str(out), "--quiet", "--threads", "1", "--set", "finetune.epochs=1",
                 "--device", "cpu", "--no-plot"])
    err = capsys.readouterr().err
    assert code == 0 and "recipe (epochs 1 -> 2)" in err and "full_class__3__seed0__jit.json" in err


@pytest.fixture
def resnet_checkpoint(tmp_path):
    model = build_model("resnet18", 10, (1, 8, 8), seed=0)
    return str(save_checkpoint(tmp_path / "resnet.pt", model, meta={"in_shape": (1, 8, 8), "dataset": "digits"}))


def test_the_architecture_comes_from_the_checkpoint(resnet_checkpoint, tmp_path):
    """Issue 14: --checkpoint with a ResNet-18 and no --model compared it against a SmallCNN retrain."""
    plan = plan_benchmark(config(tmp_path / "o", checkpoint=resnet_checkpoint))
    assert plan.arch == "resnet18"
    job = plan.jobs[0]
    assert plan.retrain_key(job)["architecture"] == "resnet18" and plan.run_key(job, "jit")["architecture"] == "resnet18"
    assert plan.original_key(job.loaded, 0)["checkpoint"]  # the file's hash, not the recipe
    with pytest.raises(ValueError, match="holds a resnet18 but --model smallcnn"):
        plan_benchmark(config(tmp_path / "o", checkpoint=resnet_checkpoint, model="smallcnn"))
    bare = tmp_path / "bare.pt"
    torch.save(build_model("smallcnn", 10, (1, 8, 8), seed=0).state_dict(), bare)
    with pytest.raises(ValueError, match="bare state_dict"):
        plan_benchmark(config(tmp_path / "o", checkpoint=str(bare)))
    assert plan_benchmark(config(tmp_path / "o", checkpoint=str(bare), model="smallcnn")).arch == "smallcnn"


def test_a_checkpoint_against_another_model_exits_2_naming_both(resnet_checkpoint, tmp_path, capsys):
    code = main(["--dataset", "digits", "--checkpoint", resnet_checkpoint, "--model", "smallcnn", "--seeds", "0",
                 "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "resnet18" in err and "smallcnn" in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "models").exists()


def _rows(n: int) -> list[dict]:
    return [dict(dataset="digits", model="smallcnn", setting="full_class", target="3", seed=s, method=m,
                 n_forget=137, acc_retain=0.5, acc_forget=float("nan"), acc_test=0.5, mia=0.5, loss_mia=0.5,
                 js_forget=0.1, seconds=float("nan"), steps=0)
            for s in range(n) for m in ("original", "retrain", "jit")]


def test_two_writers_sharing_an_out_never_corrupt_it_and_readers_never_see_a_partial_file(tmp_path):
    """Issue 14: fixed temporary names raced (14 and 35 failures in 300 writes); a reader saw an empty results.csv."""
    out = tmp_path / "shared"
    out.mkdir()
    write_outputs(_rows(2), str(out))
    errors, seen, stop = [], [], threading.Event()

    def writer(n):
        try:
            for _ in range(60):
                write_outputs(_rows(n), str(out))
                write_json(str(out / "runs" / "full_class__3__seed0__jit.json"), _rows(1)[2])
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    def reader():
        while not stop.is_set():
            text = (out / "results.csv").read_text()
            lines = text.splitlines()
            seen.append(len(lines))
            if not text.endswith("\n") or len(lines) not in (7, 10) or not lines[0].startswith("dataset,"):
                errors.append(AssertionError(f"partial results.csv: {text!r}"))
            json.loads((out / "results.json").read_text())

    threads = [threading.Thread(target=writer, args=(n,)) for n in (2, 3)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert not errors, errors[:3]
    assert seen and not [p for p in out.iterdir() if p.name.endswith(".tmp")], "no temporary file left behind"


def test_json_is_strict_and_results_json_has_its_siblings_permissions(tmp_path):
    out = tmp_path / "o"
    write_outputs(_rows(1), str(out))
    write_json(str(out / "runs" / "x.json"), _rows(1)[0])

    def refuse(name):
        raise ValueError(f"bare {name} in JSON")

    for path in (out / "results.json", out / "runs" / "x.json"):
        data = json.loads(path.read_text(), parse_constant=refuse)
        first = data[0] if isinstance(data, list) else data
        assert first["acc_forget"] is None and first["seconds"] is None
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir() if p.is_file()}
    assert set(modes.values()) == {0o666 & ~umask}, modes
    assert collect(str(out))[0]["acc_forget"] != collect(str(out))[0]["acc_forget"]  # read back as NaN
