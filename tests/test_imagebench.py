"""Image training (checkpoints, resume), the image bench CLI end to end, resume after a kill, pretrain.

The bench is called in process (``main(argv)``); two tests run the commands themselves:
``python -m unlearn_core.bench`` (killed, then resumed) and ``python -m unlearn_core.pretrain``."""
import csv
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import run_entry
from unlearn_core import unlearn
from unlearn_core.bench.cli import main
from unlearn_core.bench.pretrain import main as pretrain_main
from unlearn_core.images.data import load_digits
from unlearn_core.images.train import ImageRecipe, train_images
from unlearn_core.images.zoo import build_model
from unlearn_core.testing import write_fake_cifar, write_fake_folder

ROOT = Path(__file__).resolve().parent.parent
TINY_RECIPE = ImageRecipe(epochs=4, lr=0.05, batch_size=64, crop_pad=1, flip=False)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return d, d.normalize(d.X_train[:300]), d.y_train[:300]


run_main = run_entry  # (exit code, stdout, stderr) of entry(argv)


def test_killed_training_resumes_to_the_same_weights(digits, tmp_path):
    _, X, y = digits
    straight = build_model("smallcnn", 10, (1, 8, 8), seed=0)
    train_images(straight, X, y, TINY_RECIPE, seed=0, device="cpu")

    ck = tmp_path / "ck.pt"
    killed = build_model("smallcnn", 10, (1, 8, 8), seed=0)

    class Killed(Exception):
        pass

    def stop_after_two(epoch, entry, model):
        if epoch == 2:
            raise Killed()
    with pytest.raises(Killed):
        train_images(killed, X, y, TINY_RECIPE, seed=0, device="cpu", checkpoint=str(ck), callback=stop_after_two)
    resumed = build_model("smallcnn", 10, (1, 8, 8), seed=0)
    hist = train_images(resumed, X, y, TINY_RECIPE, seed=0, device="cpu", checkpoint=str(ck), resume=True)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    for k, v in straight.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), k
    assert resumed.fit_recipe["trainer"] == "image" and hist[-1]["seconds"] > 0
    assert not [p for p in os.listdir(tmp_path) if p != "ck.pt"], "no temporary files left behind"
    # a different recipe cannot silently continue that checkpoint
    with pytest.raises(ValueError, match="cannot resume"):
        train_images(build_model("smallcnn", 10, (1, 8, 8), seed=0), X, y,
                     ImageRecipe(epochs=6, lr=0.05, batch_size=64, crop_pad=1, flip=False), seed=0, device="cpu",
                     checkpoint=str(ck), resume=True)


def test_retrain_repeats_the_image_recipe_from_scratch(digits):
    _, X, y = digits
    original = build_model("smallcnn", 10, (1, 8, 8), seed=0)
    recipe = ImageRecipe(epochs=2, lr=0.05, batch_size=64, crop_pad=1, flip=False)
    train_images(original, X, y, recipe, seed=0, device="cpu")
    res = unlearn("retrain", original, forget=(X[:20], y[:20]), retain=(X[20:], y[20:]), device="cpu", seed=5)
    fresh = build_model("smallcnn", 10, (1, 8, 8), seed=5)
    train_images(fresh, X[20:], y[20:], recipe, seed=5, device="cpu")
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, res.model.state_dict()[k]), k
    assert len(res.history) == 2  # one entry per epoch for image recipes


def test_bad_recipes_and_inputs_are_refused(digits):
    _, X, y = digits
    with pytest.raises(ValueError, match="optimizer"):
        ImageRecipe(optimizer="lbfgs")
    with pytest.raises(ValueError, match="schedule"):
        ImageRecipe(schedule="cosine")
    with pytest.raises(ValueError, match=r"\[n, C, H, W\]"):
        train_images(build_model("smallcnn", 10, (1, 8, 8)), X.flatten(1), y, TINY_RECIPE, device="cpu")
    with pytest.raises(ValueError, match="CUDA only"):
        train_images(build_model("smallcnn", 10, (1, 8, 8)), X, y, ImageRecipe(amp=True), device="cpu")


def test_class_level_methods_are_na_in_the_random_setting(tmp_path, capsys):
    """UNSIR, EMMN and GKT are not run on a random forget set: n/a rows in the JSON, the CSV and the tables."""
    out = tmp_path / "na"
    args = ["--dataset", "digits", "--setting", "random", "--methods", "unsir,emmn,gkt,finetune", "--seeds", "0",
            "--train-epochs", "1", "--out", str(out), "--quiet", "--threads", "1", "--set", "finetune.epochs=1"]
    code, stdout, err = run_main(main, args, capsys)
    assert code == 0, err
    rows = {r["method"]: r for r in json.loads((out / "results.json").read_text())}
    for m in ("unsir", "emmn", "gkt"):
        assert rows[m]["na"] == "class-level method" and rows[m]["steps"] == 0, m
        assert rows[m]["error"].startswith("n/a: class-level method") and rows[m]["hyperparameters"] == {}
        assert all(rows[m][k] is None for k in ("acc_retain", "acc_forget", "mia", "seconds"))  # NaN -> null
        saved = json.loads((out / "runs" / f"random__27_random__seed0__{m}.json").read_text())
        assert saved["na"] == "class-level method"
    assert "na" not in rows["finetune"] and "error" not in rows["finetune"]
    lines = {line.split("|")[1].strip(): line for line in (out / "table.md").read_text().splitlines()
             if line.startswith("| ")}
    for m in ("unsir", "emmn", "gkt"):
        cells = [c.strip() for c in lines[m].split("|")[2:-1]]
        assert cells and all(c == "n/a: class-level method" for c in cells), lines[m]
    assert "n/a" not in lines["finetune"]
    with open(out / "results.csv", newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert {r["method"]: r["na"] for r in csv_rows if r["method"] in ("unsir", "emmn", "gkt", "finetune")} == \
        {"unsir": "class-level method", "emmn": "class-level method", "gkt": "class-level method", "finetune": ""}


@pytest.mark.slow
def test_digits_cli_end_to_end_with_outputs_and_resume(tmp_path, capsys):
    out = tmp_path / "digits"
    args = ["--dataset", "digits", "--setting", "full_class,random", "--methods", "jit,finetune,emmn",
            "--seeds", "0,1", "--train-epochs", "2", "--out", str(out), "--quiet", "--threads", "1",
            "--set", "finetune.epochs=1", "--set", "emmn.max_noise_steps=2", "--set", "emmn.min_noise_steps=2",
            "--set", "emmn.impair_epochs=1", "--set", "emmn.repair_epochs=1"]
    code, stdout, err = run_main(main, args, capsys)
    assert code == 0, err
    table_md = (out / "table.md").read_text()
    assert table_md.rstrip("\n") in stdout  # the printed tables are table.md's
    assert [line.split("|")[1].strip() for line in table_md.splitlines() if line.startswith("| ")][:6] == \
        ["method", "original", "retrain", "jit", "finetune", "emmn"]
    html = (out / "gap.html").read_text()
    assert "full_class (3)" in html and "random (27 random)" in html  # one group of bars per setting
    rows = json.loads((out / "results.json").read_text())
    # 2 settings x 2 seeds x (original, retrain, jit, finetune, emmn)
    assert len(rows) == 20 and len(list((out / "runs").iterdir())) == 20
    by = {(r["setting"], r["seed"], r["method"]): r for r in rows}
    assert by["random", 0, "finetune"]["hyperparameters"]["epochs"] == 1  # --set reached the image bench
    assert by["full_class", 0, "retrain"]["js_forget"] == 0.0 and by["full_class", 0, "retrain"]["seconds"] > 0
    assert by["full_class", 0, "original"]["n_forget"] == 137  # every training image of digit 3
    assert by["random", 1, "jit"]["target"] == "27 random" and by["random", 1, "jit"]["n_forget"] == 27
    assert by["random", 0, "emmn"]["na"] == "class-level method"
    assert "n/a: class-level method" in by["random", 0, "emmn"]["error"]
    assert "na" not in by["full_class", 0, "emmn"]
    assert "error" not in by["full_class", 0, "emmn"]
    for r in rows:
        for key in ("acc_retain", "acc_forget", "acc_test", "mia", "loss_mia", "seconds", "hyperparameters"):
            assert key in r
    assert "full_class, forget 3" in stdout and "loss MIA" in stdout and "emmn did not run" in stdout
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("dataset,model,setting") and len(csv_lines) == 21

    # Resume: delete one finished run; the rerun recomputes only that one (the others keep their files).
    victim = out / "runs" / "full_class__3__seed1__jit.json"
    victim.unlink()
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir()}
    models = {p.name: p.stat().st_mtime_ns for p in (out / "models").iterdir()}
    code, _, err = run_main(main, args, capsys)
    assert code == 0, err
    assert victim.exists()
    assert {p.name: p.stat().st_mtime_ns for p in (out / "runs").iterdir() if p.name != victim.name} == stamps
    assert {p.name: p.stat().st_mtime_ns for p in (out / "models").iterdir()} == models, "no model retrained"
    assert len(json.loads((out / "results.json").read_text())) == 20


@pytest.mark.slow
def test_a_killed_bench_loses_nothing_finished(tmp_path, capsys):
    """``python -m unlearn_core.bench`` as a command, killed mid-run; the rerun (in process) keeps what was finished."""
    out = tmp_path / "killed"
    args = ["-m", "unlearn_core.bench", "--dataset", "digits", "--setting", "full_class", "--methods",
            "jit,finetune,ssd", "--seeds", "0", "--train-epochs", "2", "--out", str(out), "--quiet", "--threads", "1",
            "--set", "finetune.epochs=3"]
    proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    runs = out / "runs"
    while time.monotonic() < deadline and proc.poll() is None:
        if runs.exists() and len([p for p in runs.iterdir() if p.suffix == ".json"]) >= 2:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.name: p.read_text() for p in runs.iterdir() if p.suffix == ".json"}
    assert finished and all(json.loads(t)["method"] for t in finished.values()), "every written run is whole JSON"
    assert not [p for p in runs.iterdir() if p.suffix != ".json"], "no half-written files"
    code, _, err = run_main(main, args[2:], capsys)
    assert code == 0, err
    after = {p.name: p.read_text() for p in runs.iterdir()}
    assert len(after) == 5 and all(after[name] == text for name, text in finished.items())


@pytest.mark.slow
def test_cifar_archive_and_image_folder_through_the_cli(tmp_path, capsys):
    write_fake_cifar(tmp_path / "c", "cifar100", n_train=400, n_test=200, seed=0)
    code, _, err = run_main(main, ["--dataset", "cifar20", "--data-dir", str(tmp_path / "c"), "--model", "smallcnn",
                                   "--setting", "sub_class", "--target", "rocket", "--methods", "jit", "--seeds", "0",
                                   "--train-epochs", "1", "--out", str(tmp_path / "o1"), "--quiet", "--threads", "1",
                                   "--no-plot"], capsys)
    assert code == 0, err
    rows = json.loads((tmp_path / "o1" / "results.json").read_text())
    assert {r["target"] for r in rows} == {"rocket"} and rows[0]["n_forget"] == 4  # 400 images cycle 100 classes
    write_fake_folder(tmp_path / "f", classes=3, per_class=12, size=16)
    code, _, err = run_main(main, ["--dataset", "folder", "--data-dir", str(tmp_path / "f"), "--model", "smallcnn",
                                   "--setting", "full_class", "--target", "0", "--methods", "jit", "--seeds", "0",
                                   "--train-epochs", "1", "--out", str(tmp_path / "o2"), "--quiet", "--threads", "1",
                                   "--no-plot"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "o2" / "results.json").read_text())[0]["dataset"] == "folder"


@pytest.mark.parametrize("args,message", [
    (["--dataset", "cifar10"], "needs --data-dir"),
    (["--dataset", "cifar10", "--data-dir", "/nonexistent"], "cifar-10-python.tar.gz"),
    (["--dataset", "digits", "--setting", "region"], "image settings are"),
    (["--dataset", "digits", "--setting", "full_class", "--target", "eleven"], "eleven"),
    (["--dataset", "digits", "--methods", "jit,magic"], "unknown method"),
    (["--dataset", "digits", "--audit", "2"], "--audit needs K >= 4"),  # image audits run (test_image_audit.py)
    (["--dataset", "digits", "--set", "ssd.alpha=-1"], "--set ssd.alpha=-1: ssd: alpha must be"),
    (["--dataset", "digits", "--jit-lr", "0.1", "--set", "jit.lr=0.2"],
     "--jit-lr 0.1 and --set jit.lr=0.2 give jit.lr two different values"),
])
def test_image_cli_bad_input_exits_2_with_one_line(tmp_path, args, message, capsys):
    code, out, err = run_main(main, [*args, "--seeds", "0", "--train-epochs", "1", "--out", str(tmp_path / "o"),
                                     "--quiet"], capsys)
    assert code == 2, (out, err)
    err = err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o" / "models").exists(), "nothing trained before the input was checked"


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('EVIL_MARKER', '/tmp/never')}",))


@pytest.mark.slow
def test_pretrain_then_bench_from_the_checkpoint_and_a_malicious_checkpoint_is_refused(tmp_path, capsys):
    """``python -m unlearn_core.pretrain`` as a command; the rest in process."""
    ck = tmp_path / "digits.pt"
    argv = ["--dataset", "digits", "--epochs", "12", "--out", str(ck), "--quiet"]
    proc = subprocess.run([sys.executable, "-m", "unlearn_core.pretrain", *argv], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout and ck.exists()
    stamp = ck.stat().st_mtime_ns
    code, _, err = run_main(pretrain_main, argv, capsys)  # finished: resumes to the end, writes nothing
    assert code == 0 and ck.stat().st_mtime_ns == stamp, err
    code, _, err = run_main(main, ["--dataset", "digits", "--checkpoint", str(ck), "--setting", "full_class",
                                   "--methods", "jit", "--seeds", "0", "--train-epochs", "12", "--out",
                                   str(tmp_path / "o"), "--quiet", "--no-plot"], capsys)
    assert code == 0, err
    original = [r for r in json.loads((tmp_path / "o" / "results.json").read_text()) if r["method"] == "original"][0]
    assert original["acc_test"] > 0.6  # the checkpoint, not an untrained model
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as fh:
        os.environ["EVIL_MARKER"] = str(marker)
        try:
            pickle.dump({"state_dict": _Evil()}, fh)
        finally:
            del os.environ["EVIL_MARKER"]
    code, _, err = run_main(main, ["--dataset", "digits", "--checkpoint", str(evil), "--setting", "full_class",
                                   "--methods", "jit", "--seeds", "0", "--out", str(tmp_path / "o3"), "--quiet",
                                   "--no-plot"], capsys)
    assert code == 2 and "weights-only" in err.lower().replace("weights only", "weights-only"), err
    assert not marker.exists(), "the pickle's payload must never run"


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "digits", "--out", "x.pt", "--epochs", "many"], "--epochs: must be an integer from 1 to"),
    (["--dataset", "mnist", "--out", "x.pt"], "invalid choice: 'mnist'"),
    (["--dataset", "digits"], "the following arguments are required: --out"),
    (["--dataset", "cifar10", "--labels", "parity", "--out", "x.pt"], "--labels parity is for digits"),
])
def test_pretrain_bad_input_exits_2_with_one_line(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(pretrain_main, argv, capsys)
    assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "x.pt").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_with_bf16_and_channels_last_and_jit_amp(digits):
    _, X, y = digits
    model = build_model("vgg11", 10, (1, 8, 8), seed=0)
    recipe = ImageRecipe(epochs=2, lr=0.05, batch_size=64, crop_pad=1, flip=False, amp=True, channels_last=True)
    hist = train_images(model, X, y, recipe, seed=0, device="cuda")
    assert len(hist) == 2 and all(torch.isfinite(torch.tensor(h["loss"])) for h in hist)
    res = unlearn("jit", model, forget=(X[:32], y[:32]), device="cuda", profile="vgg11/full_class", amp=True)
    assert res.model(X[:4].cuda()).isfinite().all()
