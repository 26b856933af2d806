"""The 2-D bench command line, called in process (``main(argv)``): runs end to end, bad input exits 2 with
one line, the --jit-* flags are aliases of --set, and --sweep refuses the flags it would ignore.
(tests/test_imagebench.py runs ``python -m unlearn_core.bench`` and ``python -m unlearn_core.pretrain`` as commands.)"""
import json
import re

import pytest

from conftest import run_entry
import toy_data
import unlearn_core.bench.run2d as run2d
from unlearn_core.bench.cli import JIT_ALIASES, audit_note, build_parser, main, parse_overrides, sweep_ignores
from unlearn_core.bench.parsing import Override
from unlearn_core.bench.sweep import SWEEP_FLAGS

SMALL = ["--n-samples", "120", "--epochs", "15", "--seeds", "0,1", "--quiet", "--threads", "1"]
# The default methods, each kept short (an override for a method that is not run is an error).
TINY = SMALL + ["--set", "finetune.epochs=2", "--set", "neggrad_plus.epochs=2", "--set", "random_label.epochs=2"]


def run_main(argv, capsys):
    """(exit code, stdout, stderr) of the bench's ``main(argv)``."""
    return run_entry(main, argv, capsys)


def one_line_error(code, err, message):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], err
    assert re.search(message, lines[0]), lines[0]
    return lines[0]


@pytest.mark.slow
def test_cli_end_to_end_json_and_table(tmp_path, capsys):
    out = tmp_path / "rows.json"
    code, stdout, err = run_main(TINY + ["--setting", "random", "--forget-count", "10", "--json", str(out)], capsys)
    assert code == 0, err
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
    assert [r["hyperparameters"]["epochs"] for r in rows[3:6]] == [2, 2, 2]  # the --set overrides ran
    table = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| method |") and [line.split("|")[1].strip() for line in table[1:]] == methods
    jit_cells = table[3].split("|")[2:6]  # retain, forget, test, MIA: mean ± std (gap to retrain; ± retrain's std)
    assert all(re.fullmatch(r" \d+\.\d ± \d+\.\d \([+-]\d+\.\d; ±\d+\.\d\) ", c) for c in jit_cells), jit_cells


def test_cli_indices_replay_keeps_points_in_training(tmp_path):
    X, y = toy_data.make_dataset("moons", n_samples=120, seed=0)
    _, _, _, _, tr, te = toy_data.train_test_split(X, y, seed=0)
    picks = [int(te[0]), int(te[1]), int(tr[0])]  # two would be test points without keep_in_train
    out = tmp_path / "rows.json"
    code = main(SMALL + ["--setting", "indices", "--forget-indices", ",".join(map(str, picks)),
                        "--methods", "jit", "--seeds", "0", "--json", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())
    assert [r["method"] for r in rows] == ["original", "retrain", "jit"] and rows[0]["n_forget"] == 3


def test_cli_full_class_and_region(tmp_path):
    assert main(SMALL + ["--setting", "full_class", "--forget-class", "1", "--methods", "jit", "--seeds", "0"]) == 0
    assert main(SMALL + ["--setting", "region", "--forget-region", "-2", "0", "-1", "2", "--methods", "jit",
                         "--seeds", "0"]) == 0


@pytest.mark.parametrize("args, message", [
    (["--dataset", "nope"], "invalid choice"),
    (["--setting", "region", "--forget-region", "50", "51", "50", "51"], "holds no training points"),
    (["--setting", "full_class", "--forget-class", "5"], "class 5 does not exist"),
    (["--setting", "full_class"], "needs --forget-class"),
    (["--methods", "jit,magic"], "unknown method"),
    (["--set", "jit.sigmaa=1"], r"--set jit\.sigmaa=1: jit has no hyperparameter 'sigmaa'"),
    (["--set", "magic.lr=1"], "unknown method 'magic'"),
    (["--set", "jit.lr"], "expects METHOD.NAME=VALUE"),
    (["--seeds", "a,b"], "--seeds: each value must be an integer"),
    (["--setting", "indices", "--forget-indices", "99999"], "--forget-indices: each value must be an integer"),
    (["--setting", "indices", "--forget-indices", "200"], "--forget-indices: 200 is out of range"),
    (["--setting", "random", "--forget-count", "100"], "between 1 and"),
    (["--n-samples", "1"], "--n-samples: must be an integer from 4 to 50,000"),
    (["--jit-sigma", "-1", "--methods", "jit"], r"--jit-sigma -1: jit: sigma must be"),
    (["--set", "jit.sigma=-1", "--methods", "jit"], r"--set jit\.sigma=-1: jit: sigma must be"),
    (["--jit-n", "2.5"], r"--jit-n 2\.5: jit: n_samples must be an integer"),
    (["--jit-normalize-step", "sgd"], "invalid choice: 'sgd'"),
    (["--audit", "2"], "--audit needs K >= 4"),
    (["--threads", "0"], "--threads: must be an integer from 1 to 256"),
])
def test_cli_bad_input_exits_2_with_one_line(args, message, capsys):
    code, _, err = run_main(["--quiet", "--n-samples", "120", "--epochs", "2", "--seeds", "0", *args], capsys)
    one_line_error(code, err, message)
    assert "Traceback" not in err


@pytest.mark.slow
def test_cli_audit_end_to_end(tmp_path, capsys):
    out = tmp_path / "audit.json"
    code, stdout, err = run_main(["--n-samples", "120", "--epochs", "15", "--seeds", "0", "--quiet", "--threads", "1",
                                  "--methods", "jit,finetune", "--set", "finetune.epochs=2", "--setting", "random",
                                  "--forget-count", "6", "--audit", "6", "--json", str(out)], capsys)
    assert code == 0, err
    rows = {r["method"]: r for r in json.loads(out.read_text())}
    assert rows["retrain"]["audit"]["role"] == "floor" and rows["original"]["audit"]["role"] == "ceiling"
    for r in rows.values():
        assert 0 <= r["audit_F"] <= 1 and 0 <= r["audit_ulira"] <= 1 and r["audit"]["K"] == 6
        assert len(r["audit"]["eps"]) == 6 and all(0 <= e <= 50 for e in r["audit"]["eps"])
    header = next(line for line in stdout.splitlines() if line.startswith("| method"))
    assert "audit F" in header and "U-LiRA" in header
    assert "K=6" in stdout
    assert "protocol challenge" in stdout and all(r["audit"]["protocol"] == "challenge" for r in rows.values())
    # The ceiling is K copies of one original under the challenge protocol: no spread, said under the table.
    assert rows["original"]["audit_no_spread"] and rows["original"]["audit"]["eps"] == [50.0] * 6
    assert re.search(r"no spread: original\b.*cap 50", stdout)


@pytest.mark.parametrize("argv, expected", [([], "challenge"), (["--audit-protocol", "originals"], "originals"),
                                            (["--audit-protocol", "challenge"], "challenge")])
def test_audit_protocol_flag_reaches_run_audit(argv, expected, monkeypatch, capsys):
    seen = []

    def fake_run_audit(*args, protocol, **kw):
        seen.append(protocol)
        raise ValueError("stop here")
    monkeypatch.setattr(run2d, "run_audit", fake_run_audit)
    code, _, err = run_main(["--n-samples", "60", "--epochs", "2", "--seeds", "0", "--quiet", "--methods", "jit",
                             "--audit", "4"] + argv, capsys)
    assert seen == [expected] and code == 2 and "stop here" in err
    assert build_parser().parse_args(argv).audit_protocol == expected


def test_audit_protocol_is_checked(capsys):
    one_line_error(*run_main(["--audit-protocol", "originals", "--quiet"], capsys)[::2], "add --audit K")
    one_line_error(*run_main(["--audit", "4", "--audit-protocol", "nope"], capsys)[::2], "invalid choice")


def test_audit_note_names_the_rows_without_spread():
    rows = [dict(method="original", n_forget=5, audit_no_spread=True, audit_spread_capped=5),
            dict(method="ssd", n_forget=5, audit_no_spread=True, audit_spread_capped=5),
            dict(method="finetune", n_forget=5, audit_no_spread=False, audit_spread_capped=2),
            dict(method="jit", n_forget=5, audit_no_spread=False, audit_spread_capped=0)]
    text = audit_note(rows, 8, "challenge")
    assert "protocol challenge (NeurIPS 2023)" in text and "unlearned 8 times with 8 seeds" in text
    assert "no spread: original, ssd:" in text and "deterministic" in text and "--audit-protocol originals" in text
    assert "spread rule: finetune 2 of 5 forget points" in text and "jit" not in text.split("spread rule:")[1]
    plain = audit_note(rows[3:], 8, "originals")
    assert "protocol originals" in plain and "no spread" not in plain and "spread rule" not in plain


# --- --set is the one override; the --jit-* flags are its aliases -----------------------------------------

ALIAS_VALUES = {"--jit-sigma": ("0.5", 0.5), "--jit-lr": ("1e-3", 0.001), "--jit-n": ("7", 7),
                "--jit-batch-size": ("3", 3), "--jit-epochs": ("2", 2), "--jit-normalize-step": ("off", "off"),
                "--jit-reproduce-authors": (None, True), "--jit-gradient": ("full", "full")}


@pytest.mark.parametrize("flag", list(JIT_ALIASES))
def test_each_jit_flag_is_translated_to_the_equivalent_set_item(flag):
    name = JIT_ALIASES[flag]
    text, value = ALIAS_VALUES[flag]
    argv = [flag] if text is None else [flag, text]
    items = build_parser().parse_args(argv).set
    assert items == [Override(f"jit.{name}={'True' if text is None else text}", " ".join(argv), alias=True)]
    assert parse_overrides(items) == {"jit": {name: value}}
    same = build_parser().parse_args(["--set", f"jit.{name}={'True' if text is None else text}"]).set
    assert parse_overrides(same) == parse_overrides(items)
    assert f"alias of --set jit.{name}=" in " ".join(build_parser().format_help().split())


def test_aliases_and_set_items_combine_and_the_last_of_one_route_counts():
    items = build_parser().parse_args(["--jit-lr", "0.1", "--set", "finetune.epochs=5", "--jit-lr", "0.2",
                                       "--set", "jit.lr=0.2", "--set", "jit.normalize_step=probe"]).set
    assert [i.flag for i in items] == ["--jit-lr 0.1", "--set finetune.epochs=5", "--jit-lr 0.2",
                                       "--set jit.lr=0.2", "--set jit.normalize_step=probe"]
    assert parse_overrides(items) == {"jit": {"lr": 0.2, "normalize_step": "probe"}, "finetune": {"epochs": 5}}


@pytest.mark.parametrize("argv, both", [
    (["--jit-lr", "0.1", "--set", "jit.lr=0.2"], ("--jit-lr 0.1", "--set jit.lr=0.2")),
    (["--set", "jit.normalize_step=first", "--jit-normalize-step", "off"],
     ("--jit-normalize-step off", "--set jit.normalize_step=first")),
    (["--jit-reproduce-authors", "--set", "jit.reproduce_authors=False"],
     ("--jit-reproduce-authors", "--set jit.reproduce_authors=False")),
])
def test_one_hyperparameter_given_both_ways_with_different_values_is_an_error_naming_both(argv, both, capsys):
    code, _, err = run_main(["--quiet", "--seeds", "0", "--methods", "jit", *argv], capsys)
    line = one_line_error(code, err, "two different values")
    assert all(flag in line for flag in both), line


def test_normalize_step_has_one_spelling(capsys):
    for word in ("off", "first", "probe"):
        assert parse_overrides([Override(f"jit.normalize_step={word}", "--set")]) == {"jit": {"normalize_step": word}}
    code, _, err = run_main(["--quiet", "--seeds", "0", "--set", "jit.normalize_step=False"], capsys)
    one_line_error(code, err, "normalize_step must be .*'off', 'first', 'probe'")


# --- --sweep refuses what it would ignore -------------------------------------------------------------------

@pytest.mark.parametrize("argv, flag", [
    (["--jit-lr", "0.1"], "--jit-lr"),
    (["--jit-reproduce-authors"], "--jit-reproduce-authors"),
    (["--set", "jit.sigma=0.5"], "--set"),
    (["--methods", "jit"], "--methods"),
    (["--setting", "region"], "--setting"),
    (["--audit", "8"], "--audit"),
    (["--dataset", "digits"], "--dataset"),
    (["--dataset", "moons"], "--dataset"),  # given with its default value: still ignored, still refused
    (["--n-samples", "300"], "--n-samples"),
    (["--forget-region", "0", "1", "0", "1"], "--forget-region"),
    (["--model", "vgg11"], "--model"),
    (["--train-epochs", "3"], "--train-epochs"),
])
def test_sweep_refuses_each_flag_it_would_ignore(argv, flag, capsys):
    code, out, err = run_main(["--sweep", "--seeds", "0", "--quiet", *argv], capsys)
    line = one_line_error(code, err, "--sweep does not use")
    assert line.split("does not use ")[1].split(":")[0] == flag and out == ""


def test_sweep_names_every_ignored_flag_and_accepts_the_ones_it_reads():
    parser = build_parser()
    argv = ["--sweep", "--methods", "jit", "--jit-lr", "0.1", "--set", "jit.sigma=1", "--setting", "region"]
    assert sweep_ignores(parser, parser.parse_args(argv), argv) == ["--setting", "--methods", "--jit-lr", "--set"]
    reads = ["--sweep", "--seeds", "0", "--hidden", "8", "--activation", "tanh", "--epochs", "3", "--lr", "0.01",
             "--batch-size", "16", "--device", "cpu", "--json", "x.json", "--quiet", "--threads", "1",
             "--engine", "serial", "--address", "auto", "--cpus-per-task", "1", "--gpus-per-task", "0",
             "--task-retries", "1"]
    assert sorted(f for f in reads if f.startswith("--")) == sorted(SWEEP_FLAGS)
    assert sweep_ignores(parser, parser.parse_args(reads), reads) == []


# --- --dataset csv: the user's own 2-D points, through the app's loader ------------------------------------

def test_cli_runs_on_a_csv_file_with_the_apps_loader(tmp_path, capsys):
    X, y = toy_data.make_dataset("blobs", n_samples=90, classes=3, seed=1)
    points = tmp_path / "points.csv"
    toy_data.save_csv(points, X, y, label_names=("cat", "dog", "eel"))
    out = tmp_path / "rows.json"
    code, stdout, err = run_main(["--dataset", "csv", "--data-dir", str(points), "--epochs", "10", "--seeds", "0",
                                  "--quiet", "--threads", "1", "--methods", "jit", "--setting", "indices",
                                  "--forget-indices", "0,1,2", "--json", str(out)], capsys)
    assert code == 0, err
    rows = json.loads(out.read_text())
    assert [r["method"] for r in rows] == ["original", "retrain", "jit"]
    assert all(r["dataset"] == "csv" and r["n_forget"] == 3 for r in rows)
    assert stdout.startswith("csv, setting indices, 3 points forgotten")
    # the same split as a generated dataset: stratified, seeded by --data-seed, the forget rows kept in training
    problem = run2d.csv_problem(points, data_seed=0, test_size=0.25, keep_in_train=[0, 1, 2])
    assert problem.n_classes == 3 and len(problem.train_idx) + len(problem.test_idx) == 90
    assert {0, 1, 2} <= set(problem.train_idx.tolist())


def test_a_diverged_method_is_a_failure_row_named_under_the_table(capsys):
    """No scikit-learn paragraph: a method whose outputs are no longer finite is a failure row, not an error."""
    code, stdout, err = run_main(["--n-samples", "80", "--epochs", "3", "--seeds", "0", "--quiet", "--threads", "1",
                                  "--methods", "jit", "--set", "jit.lr=10", "--set", "jit.epochs=50"], capsys)
    assert code == 0 and "jit did not run to a usable model: diverged" in stdout, stdout + err
    assert "Traceback" not in err and "scikit-learn" not in stdout + err
