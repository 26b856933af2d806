import json
import subprocess
import sys

import pytest

import toy_data
from unlearn_core.bench.cli import main

TINY = ["--n-samples", "120", "--epochs", "15", "--seeds", "0,1", "--quiet", "--threads", "1",
        "--set", "finetune.epochs=2", "--set", "neggrad_plus.epochs=2", "--set", "random_label.epochs=2"]


def run_cli(args):
    return subprocess.run([sys.executable, "-m", "unlearn_core.bench", *args], capture_output=True, text=True,
                          timeout=300)


def test_cli_end_to_end_json_and_table(tmp_path):
    out = tmp_path / "rows.json"
    proc = run_cli(TINY + ["--setting", "random", "--forget-count", "10", "--json", str(out)])
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())
    methods = ["original", "retrain", "jit", "finetune", "neggrad_plus", "random_label"]
    assert [r["method"] for r in rows] == methods * 2
    assert sorted({r["seed"] for r in rows}) == [0, 1]
    for r in rows:
        for key in ("dataset", "setting", "method", "seed", "acc_retain", "acc_forget", "acc_test", "mia",
                    "seconds", "hyperparameters"):
            assert key in r
        assert r["dataset"] == "moons" and r["setting"] == "random" and r["n_forget"] == 10
        assert 0 <= r["acc_forget"] <= 1 and 0 <= r["mia"] <= 1
    assert [r for r in rows if r["method"] == "retrain"][0]["js_forget"] == 0.0
    assert rows[2]["hyperparameters"]["sigma"] > 0
    lines = proc.stdout.splitlines()
    table = [l for l in lines if l.startswith("| ")]
    assert table[0].startswith("| method |") and [l.split("|")[1].strip() for l in table[1:]] == methods
    assert "±" in proc.stdout and "(+" in proc.stdout or "(-" in proc.stdout


def test_cli_indices_replay_keeps_points_in_training(tmp_path):
    X, y = toy_data.make_dataset("moons", n_samples=120, seed=0)
    _, _, _, _, tr, te = toy_data.train_test_split(X, y, seed=0)
    picks = [int(te[0]), int(te[1]), int(tr[0])]  # two would be test points without keep_in_train
    out = tmp_path / "rows.json"
    code = main(TINY + ["--setting", "indices", "--forget-indices", ",".join(map(str, picks)),
                        "--methods", "jit", "--seeds", "0", "--json", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())
    assert [r["method"] for r in rows] == ["original", "retrain", "jit"] and rows[0]["n_forget"] == 3


def test_cli_full_class_and_region(tmp_path):
    assert main(TINY + ["--setting", "full_class", "--forget-class", "1", "--methods", "jit", "--seeds", "0"]) == 0
    assert main(TINY + ["--setting", "region", "--forget-region", "-2", "0", "-1", "2", "--methods", "jit",
                        "--seeds", "0"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--dataset", "nope"], "invalid choice"),
    (["--setting", "region", "--forget-region", "50", "51", "50", "51"], "holds no training points"),
    (["--setting", "full_class", "--forget-class", "5"], "class 5 does not exist"),
    (["--setting", "full_class"], "needs --forget-class"),
    (["--methods", "jit,magic"], "unknown method"),
    (["--set", "jit.sigmaa=1"], "no hyperparameter 'sigmaa'"),
    (["--seeds", "a,b"], "comma-separated integers"),
    (["--setting", "indices", "--forget-indices", "99999"], "out of range|not in the training split"),
    (["--setting", "random", "--forget-count", "100000"], "between 1 and"),
    (["--n-samples", "1"], "n_samples"),
    (["--jit-sigma", "-1", "--methods", "jit"], "sigma must be positive"),
    (["--audit", "2"], "--audit needs K >= 4"),
])
def test_cli_bad_input_exits_2_with_one_line(args, message):
    proc = run_cli(["--quiet", "--n-samples", "120", "--epochs", "2", "--seeds", "0", *args])
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "error" in err[0], proc.stderr
    import re
    assert re.search(message, err[0]), err[0]
    assert "Traceback" not in proc.stderr


def test_cli_audit_end_to_end(tmp_path):
    out = tmp_path / "audit.json"
    proc = run_cli(["--n-samples", "120", "--epochs", "15", "--seeds", "0", "--quiet", "--threads", "1",
                    "--methods", "jit,finetune", "--set", "finetune.epochs=2", "--setting", "random",
                    "--forget-count", "6", "--audit", "6", "--json", str(out)])
    assert proc.returncode == 0, proc.stderr
    rows = {r["method"]: r for r in json.loads(out.read_text())}
    assert rows["retrain"]["audit"]["role"] == "floor" and rows["original"]["audit"]["role"] == "ceiling"
    for r in rows.values():
        assert 0 <= r["audit_F"] <= 1 and 0 <= r["audit_ulira"] <= 1 and r["audit"]["K"] == 6
        assert len(r["audit"]["eps"]) == 6 and all(0 <= e <= 50 for e in r["audit"]["eps"])
    header = next(l for l in proc.stdout.splitlines() if l.startswith("| method"))
    assert "audit F" in header and "U-LiRA" in header
    assert "K=6" in proc.stdout
