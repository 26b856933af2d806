"""Bad input at the command line's boundary (issue 14, part 5): every bad invocation of
``python -m unlearn_core.bench`` and ``python -m unlearn_core.pretrain`` exits non-zero with one line that
names the flag, no traceback, and before any work starts. Run in process (``main(argv)``); the functions
that would start work are replaced by ones that fail the test, so nothing here trains.

Also: the bounds table in docs/cli.md is the code's, the CIFAR reader refuses an archive that
declares a huge member without reading it (issue 14, part 6), and image folders are bounded.
"""
import gzip
import io
import os
import pathlib
import pickle
import tarfile
import time
import tracemalloc

import pytest

import unlearn_core.bench.cli as cli
import unlearn_core.bench.pretrain as pretrain
from conftest import run_entry
from unlearn_core.bench.engine import ENGINE_FLAGS
from unlearn_core.bench.parsing import FLAG_BOUNDS, bounds_table
from unlearn_core.images import cifar, data
from unlearn_core.images.checkpoints import save_checkpoint
from unlearn_core.images.zoo import build_model
from unlearn_core.testing import write_fake_cifar, write_fake_folder

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: Phrases no message may hold: internals, Python's own conversion errors, argparse's type names.
FORBIDDEN = ("Traceback", "expected non-negative integer", "invalid literal for int()", "keep_in_train",
             "scikit-learn", "invalid int value", "invalid float value", "Error:", "<function")
#: A folder no one can create a file in (root included), when the machine has one.
UNWRITABLE = "/proc" if os.path.isdir("/proc") else None
BASE = ["--quiet", "--n-samples", "120", "--epochs", "2", "--seeds", "0"]


@pytest.fixture
def no_work(monkeypatch):
    """Any run that starts fails the test: the bad input must be caught before."""
    def started(*args, **kwargs):
        raise AssertionError("work started before the bad input was caught")
    for name in ("run_seed", "run_images", "run_sweep"):
        monkeypatch.setattr(cli, name, started)
    monkeypatch.setattr(pretrain, "train_images", started)


run = run_entry  # (exit code, stdout, stderr) of main(argv)


def assert_clean_error(code, err, flag, *phrases):
    assert code not in (0, None), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) < 600, err
    assert flag in lines[0], lines[0]
    for bad in FORBIDDEN:
        assert bad not in lines[0], lines[0]
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def tmp_paths(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    extreme = tmp_path / "extreme.csv"
    extreme.write_text("x,y,label\n0,0,a\n1,1,b\n3.4e38,1,a\n1e30,2,b\n")
    one_class = tmp_path / "one.csv"
    one_class.write_text("x,y,label\n0,0,a\n1,1,a\n")
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("x,y,label\n0,0,a\n1,1,b\n2,2,a\n")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    return dict(tmp=str(tmp_path), afile=str(afile), extreme=str(extreme), one=str(one_class), tiny=str(tiny),
                binary=str(binary))


# (argv, the flag the message must name, more phrases it must hold). {tmp}, {afile}... are filled in per test.
BENCH_CASES = [
    (["--device", "bogus"], "--device", ["cpu, cuda"]),
    (["--device", "meta"], "--device", []),
    (["--device", "cuda:x"], "--device", []),
    (["--methods", "finetune", "--set", "finetune.epochs=[1,2]"], "--set finetune.epochs", ["integer"]),
    (["--methods", "finetune", "--set", "finetune.epochs=abc"], "--set finetune.epochs", ["integer"]),
    (["--methods", "finetune", "--set", "finetune.epochs=-3"], "--set finetune.epochs", ["integer"]),
    (["--methods", "finetune", "--set", "finetune.epochs=2.5"], "--set finetune.epochs", ["integer"]),
    (["--methods", "finetune", "--set", "finetune.epochs=True"], "--set finetune.epochs", ["integer"]),
    (["--methods", "finetune", "--set", "finetune.epochs=1e9"], "--set finetune.epochs", ["10,000"]),
    (["--methods", "finetune", "--set", "finetune.batch_size=1e9"], "--set finetune.batch_size", []),
    (["--methods", "finetune", "--set", "finetune.lr=inf"], "--set finetune.lr", []),
    (["--set", "jit.seed=-1"], "--set jit.seed", []),
    (["--epochs", "9" * 400], "--epochs", []),  # int() of it works, float() of it overflows
    (["--seeds", "9" * 400], "--seeds", []),
    (["--lr", "9" * 400], "--lr", []),
    (["--methods", "finetune", "--set", "finetune.epochs=" + "9" * 50], "--set finetune.epochs", []),
    (["--methods", "finetune", "--set", "finetune.epochs=" + "9" * 400], "--set", ["characters long"]),
    (["--jit-n", "9" * 5000], "--jit-n", ["characters long"]),
    (["--json", "{tmp}/missing/rows.json"], "--json", ["does not exist"]),
    (["--json", "{tmp}"], "--json", ["is a folder"]),
    (["--json", "{afile}/rows.json"], "--json", []),
    (["--json", ""], "--json", []),
    (["--dataset", "digits", "--out", "{afile}"], "--out", ["is a file"]),
    (["--dataset", "digits", "--out", "{afile}/sub"], "--out", []),
    (["--out", "{tmp}/o"], "--out", ["--json"]),  # the 2-D bench has no --out: refused, not ignored
    (["--setting", "high_info", "--radius", "1e300"], "--radius", []),
    (["--setting", "high_info", "--tau", "nan"], "--tau", []),
    (["--setting", "high_info", "--radius", "1e-9"], "--tau, --radius", ["no training point"]),
    (["--setting", "high_info", "--n-samples", "10000"], "--setting high_info", ["4,000"]),
    (["--setting", "region", "--n-samples", "10000"], "--forget-region", ["4,000"]),
    (["--jit-n", "1e9"], "--jit-n 1e9", ["10,000"]),
    (["--jit-epochs", "1e9"], "--jit-epochs 1e9", []),
    (["--jit-batch-size", "1e9"], "--jit-batch-size 1e9", []),
    (["--jit-sigma", "inf"], "--jit-sigma inf", []),
    (["--threads", "1e6"], "--threads", ["256"]),
    (["--threads", "1000000"], "--threads", []),
    (["--threads", "0"], "--threads", []),
    (["--lr", "inf"], "--lr", []),
    (["--lr", "nan"], "--lr", []),
    (["--lr", "-1"], "--lr", []),
    (["--dataset", "digits", "--train-lr", "inf"], "--train-lr", []),
    (["--dataset", "digits", "--train-epochs", "1e9"], "--train-epochs", []),
    (["--dataset", "digits", "--train-batch-size", "1e9"], "--train-batch-size", []),
    (["--methods", "finetune", "--set", "jit.sigma=0.1"], "--set jit.sigma=0.1", ["not among the methods run"]),
    (["--methods", "finetune", "--jit-lr", "0.1"], "--jit-lr 0.1", ["not among the methods run"]),
    (["--set", "ssd.alpha=2"], "--set ssd.alpha=2", ["not among the methods run"]),  # ssd is not a 2-D default
    (["--methods", "jit,emmn", "--set", "emmn.n_noise=3"], "--set emmn.n_noise=3", ["does not run in the random"]),
    (["--dataset", "digits", "--methods", "jit", "--set", "finetune.epochs=2"], "--set finetune.epochs=2", []),
    (["--dataset", "digits", "--setting", "sub_class", "--methods", "gkt", "--set", "gkt.lr=0.1"],
     "--set gkt.lr=0.1", ["sub_class"]),
    (["--methods", ""], "--methods", ["names no method"]),
    (["--methods", " , "], "--methods", []),
    (["--methods", "jit,magic"], "--methods", ["unknown method"]),
    (["--dataset", "digits", "--methods", ""], "--methods", []),
    (["--hidden", "10000000"], "--hidden", ["1,024"]),
    (["--hidden", "8,8,8,8,8,8,8,8,8"], "--hidden", ["at most 8"]),
    (["--hidden", "a,b"], "--hidden", []),
    (["--epochs", "1e9"], "--epochs", ["10,000"]),
    (["--epochs", "0"], "--epochs", []),
    (["--audit", "1000000"], "--audit", ["1,024"]),
    (["--audit", "2"], "--audit", ["K >= 4"]),
    (["--n-samples", "1e9"], "--n-samples", []),
    (["--n-samples", "2.5"], "--n-samples", ["integer"]),
    (["--batch-size", "1e9"], "--batch-size", []),
    (["--classes", "1000000"], "--classes", []),
    (["--dataset", "moons", "--classes", "3"], "--classes", []),
    (["--noise", "1e300"], "--noise", []),
    (["--test-size", "2"], "--test-size", []),
    (["--data-seed", "-1"], "--data-seed", []),
    (["--seeds", "-1"], "--seeds", []),
    (["--seeds", ",".join(map(str, range(101)))], "--seeds", ["at most 100"]),
    (["--seeds", "x"], "--seeds", []),
    (["--forget-count", "1e9"], "--forget-count", []),
    (["--forget-class", "-1"], "--forget-class", []),
    (["--setting", "region", "--forget-region", "1e300", "0", "0", "1"], "--forget-region", []),
    (["--setting", "indices", "--forget-indices", "99999"], "--forget-indices", []),
    (["--setting", "indices", "--forget-indices", "500"], "--forget-indices", ["out of range"]),
    (["--dataset", "digits", "--target", ",".join(map(str, range(101)))], "--target", []),
    (["--dataset", "csv"], "--data-dir", []),
    (["--dataset", "csv", "--data-dir", "{tmp}/missing.csv"], "--data-dir", ["does not exist"]),
    (["--dataset", "csv", "--data-dir", "{tmp}"], "--data-dir", ["not a file"]),
    (["--dataset", "csv", "--data-dir", "{extreme}"], "--data-dir", ["too large", "Rescale"]),
    (["--dataset", "csv", "--data-dir", "{one}"], "--data-dir", ["Only one class"]),
    (["--dataset", "csv", "--data-dir", "{tiny}"], "--data-dir", ["at least 8 points"]),
    (["--dataset", "csv", "--data-dir", "{binary}"], "--data-dir", []),
    (["--dataset", "csv", "--data-dir", "{afile}", "--noise", "0.1"], "--noise", ["--dataset csv"]),
    (["--dataset", "moons", "--data-dir", "{tmp}"], "--data-dir", []),
    (["--dataset", "digits", "--epochs", "3"], "--epochs", ["--train-epochs", "would ignore"]),
    (["--dataset", "digits", "--hidden", "8", "--tau", "0.3"], "--tau, --hidden", []),
    (["--model", "vgg11"], "--model", ["would ignore"]),
    (["--train-epochs", "3"], "--train-epochs", ["would ignore"]),
    (["--dataset", "digits", "--target", " , "], "--target", ["names no class"]),
    (["--dataset", "cifar10", "--data-dir", "{tmp}/nope"], "--data-dir", ["does not exist"]),
    (["--dataset", "cifar10", "--data-dir", "{afile}"], "--data-dir", ["not a tar archive"]),
    (["--dataset", "folder", "--data-dir", "{tmp}/nope"], "--data-dir", []),
    (["--dataset", "digits", "--setting", "region"], "--setting", ["image settings are"]),
    (["--dataset", "digits", "--setting", ","], "--setting", []),
    (["--sweep", "--threads", "1e6"], "--threads", []),
    (["--sweep", "--json", "{tmp}"], "--json", []),
]


@pytest.mark.parametrize("argv, flag, phrases", BENCH_CASES, ids=[" ".join(c[0])[:60] for c in BENCH_CASES])
def test_bench_bad_input_is_one_line_naming_the_flag(argv, flag, phrases, tmp_path, capsys, no_work):
    paths = tmp_paths(tmp_path)
    argv = [a.format(**paths) for a in argv]
    base = [] if "--sweep" in argv else BASE
    if "--dataset" in argv and argv[argv.index("--dataset") + 1] != "moons":
        base = ["--quiet", "--seeds", "0"]  # --n-samples / --epochs are the generated datasets' flags
    code, out, err = run(cli.main, base + argv, capsys)
    assert_clean_error(code, err, flag, *phrases)
    assert code == 2 and out == ""


@pytest.mark.skipif(UNWRITABLE is None, reason="no folder that even root cannot write to")
def test_bench_unwritable_json_and_out_folders(capsys, no_work):
    code, _, err = run(cli.main, BASE + ["--json", f"{UNWRITABLE}/rows.json"], capsys)
    assert_clean_error(code, err, "--json", "cannot write")
    code, _, err = run(cli.main, ["--quiet", "--dataset", "digits", "--out", f"{UNWRITABLE}/results"], capsys)
    assert_clean_error(code, err, "--out", "cannot write")


def test_a_good_command_line_gets_past_the_checks(tmp_path, capsys, no_work):
    """The guard itself: a valid command line reaches the run (and the fake run fails the test's way)."""
    with pytest.raises(AssertionError, match="work started"):
        cli.main(BASE + ["--methods", "jit,finetune", "--set", "finetune.epochs=3", "--jit-n", "1e3",
                         "--json", str(tmp_path / "rows.json"), "--threads", "1"])


# --- pretrain --------------------------------------------------------------------------------------------

@pytest.fixture
def other_checkpoint(tmp_path):
    """A checkpoint of a 2-class SmallCNN: not what `pretrain --dataset digits` (10 classes) builds."""
    path = tmp_path / "other.pt"
    save_checkpoint(path, build_model("smallcnn", 2, (1, 8, 8), seed=0),
                    meta=dict(in_shape=(1, 8, 8), dataset="digits-parity", seed=0, role="original"))
    return str(path)


PRETRAIN_CASES = [
    (["--out", "{tmp}/m.pt", "--device", "bogus"], "--device", []),
    (["--out", "{tmp}/missing/m.pt"], "--out", ["does not exist"]),
    (["--out", "{tmp}"], "--out", ["is a folder"]),
    (["--out", "{afile}/m.pt"], "--out", []),
    (["--out", "{afile}"], "--out", []),  # exists, so resume would read it: not a checkpoint
    (["--out", "{tmp}/m.pt", "--epochs", "1e9"], "--epochs", ["1,000"]),
    (["--out", "{tmp}/m.pt", "--lr", "inf"], "--lr", []),
    (["--out", "{tmp}/m.pt", "--batch-size", "1e9"], "--batch-size", []),
    (["--out", "{tmp}/m.pt", "--seed", "-1"], "--seed", []),
    (["--out", "{other}"], "--out", ["another model", "n_classes"]),
    (["--out", "{other}", "--model", "vgg11"], "--out", ["architecture"]),
]


@pytest.mark.parametrize("argv, flag, phrases", PRETRAIN_CASES, ids=[" ".join(c[0]) for c in PRETRAIN_CASES])
def test_pretrain_bad_input_is_one_line_naming_the_flag(argv, flag, phrases, tmp_path, other_checkpoint, capsys,
                                                        no_work):
    paths = dict(tmp_paths(tmp_path), other=other_checkpoint)
    argv = ["--dataset", "digits", "--quiet"] + [a.format(**paths) for a in argv]
    code, out, err = run(pretrain.main, argv, capsys)
    assert_clean_error(code, err, flag, *phrases)
    assert out == ""


@pytest.mark.skipif(UNWRITABLE is None, reason="no folder that even root cannot write to")
def test_pretrain_unwritable_out_fails_before_training(capsys, no_work):
    code, _, err = run(pretrain.main, ["--dataset", "digits", "--out", f"{UNWRITABLE}/m.pt"], capsys)
    assert_clean_error(code, err, "--out", "cannot write")


# --- the bounds are documented -----------------------------------------------------------------------------

def test_every_size_and_count_flag_has_a_bound_and_docs_cli_shows_the_table():
    parser = cli.build_parser()
    typed = {a.option_strings[0] for a in parser._actions
             if a.option_strings and getattr(a.type, "__name__", "") == a.option_strings[0]}
    numeric = {a.option_strings[0] for a in parser._actions if a.option_strings and a.type in (int, float)}
    numeric -= set(ENGINE_FLAGS)  # the engine checks and documents its own bounds (engine.py, docs/cluster.md)
    assert not numeric, f"flags with an unbounded int/float type: {numeric}"
    assert typed <= set(FLAG_BOUNDS)
    docs = (ROOT / "docs" / "cli.md").read_text()
    assert bounds_table() in docs, "docs/cli.md's bounds table differs from parsing.bounds_table(); paste it again"
    pre = {a.option_strings[0] for a in pretrain.build_parser()._actions if a.option_strings and a.type in (int, float)}
    assert not pre


# --- archives: sizes come from the headers, checked before reading (issue 14, part 6) ---------------------

def huge_member_archive(path, name="cifar-10-batches-py/data_batch_1", size=1 << 30):
    """A small tar.gz whose first member declares ``size`` bytes; only 1 MB of zeros follows."""
    info = tarfile.TarInfo(name)
    info.size = size
    with gzip.open(path, "wb", compresslevel=1) as gz:
        gz.write(info.tobuf(format=tarfile.GNU_FORMAT))
        gz.write(b"\0" * (1 << 20))
    return path


@pytest.mark.parametrize("name", ["cifar-10-batches-py/data_batch_1", "cifar-10-batches-py/readme.html"])
def test_archive_declaring_a_1gib_member_fails_fast_without_reading_it(tmp_path, name):
    archive = huge_member_archive(tmp_path / "cifar-10-python.tar.gz", name)
    assert archive.stat().st_size < 100_000
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ValueError, match=r"1,073,741,824 bytes.*refused without reading it"):
            cifar.read_cifar("cifar10", archive)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t0 < 5 and peak < 20 * 1024 * 1024


def test_bench_names_the_oversized_member_in_one_line(tmp_path, capsys):
    archive = huge_member_archive(tmp_path / "cifar-10-python.tar.gz")
    code, _, err = run(cli.main, ["--quiet", "--dataset", "cifar10", "--data-dir", str(archive), "--seeds", "0",
                                  "--out", str(tmp_path / "o")], capsys)
    assert_clean_error(code, err, "data_batch_1", "refused without reading it")


def test_member_and_file_caps_apply_to_real_data(tmp_path, monkeypatch):
    archive = write_fake_cifar(tmp_path / "a", "cifar10", n_train=20, n_test=10)
    folder = write_fake_cifar(tmp_path / "d", "cifar10", n_train=20, n_test=10, as_archive=False)
    assert cifar.read_cifar("cifar10", archive).train.shape[0] == 20  # within the real caps
    monkeypatch.setattr(cifar, "MAX_MEMBER_BYTES", 1000)
    for where in (archive, folder):
        with pytest.raises(ValueError, match="more than the 1,000 bytes"):
            cifar.read_cifar("cifar10", where)


def test_archive_member_count_and_total_caps(tmp_path, monkeypatch):
    archive = tmp_path / "many.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for i in range(6):
            data = pickle.dumps({"x": i}) * 50
            info = tarfile.TarInfo(f"junk/{i}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(cifar, "MAX_ARCHIVE_MEMBERS", 3)
    with pytest.raises(ValueError, match="more than 3 members"):
        cifar.read_cifar("cifar10", archive)
    monkeypatch.setattr(cifar, "MAX_ARCHIVE_MEMBERS", 1000)
    monkeypatch.setattr(cifar, "MAX_ARCHIVE_BYTES", 500)
    with pytest.raises(ValueError, match="unpacks to more than 500 bytes"):
        cifar.read_cifar("cifar10", archive)


def test_image_folder_bounds_are_checked_before_decoding(tmp_path, monkeypatch):
    root = write_fake_folder(tmp_path / "imgs", classes=2, per_class=3, size=8)
    with pytest.raises(ValueError, match="size must be an integer from 1 to 512"):
        data.load_folder(root, size=100_000)
    monkeypatch.setattr(data, "MAX_FOLDER_IMAGES", 5)
    with pytest.raises(ValueError, match="holds 6 images, more than the 5"):
        data.load_folder(root)
    monkeypatch.setattr(data, "MAX_FOLDER_IMAGES", 1000)
    monkeypatch.setattr(data, "MAX_IMAGE_FILE_BYTES", 10)
    with pytest.raises(ValueError, match="more than the 10 allowed"):
        data.load_folder(root)


def test_pretrain_resumes_a_checkpoint_of_the_same_model(tmp_path):
    """check_existing lets the resume of the same model through (and names what differs otherwise)."""
    model = build_model("smallcnn", 10, (1, 8, 8), seed=0)
    path = save_checkpoint(tmp_path / "same.pt", model, meta=dict(in_shape=(1, 8, 8), dataset="digits"))
    pretrain.check_existing(str(path), build_model("smallcnn", 10, (1, 8, 8), seed=1), "smallcnn", 10, (1, 8, 8))
    with pytest.raises(ValueError, match=r"--out .*in_shape \[1, 8, 8\] \(now \[3, 8, 8\]\)"):
        pretrain.check_existing(str(path), build_model("smallcnn", 10, (3, 8, 8)), "smallcnn", 10, (3, 8, 8))


def test_archive_with_a_huge_extended_header_is_refused_before_tarfile_reads_it(tmp_path):
    """tarfile reads a pax header or a GNU long name whole: one declaring 1 GiB is refused first."""
    for kind in (tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME):
        info = tarfile.TarInfo("././@PaxHeader" if kind == tarfile.XHDTYPE else "././@LongLink")
        info.type, info.size = kind, 1 << 30
        archive = tmp_path / f"cifar-10-python-{kind!r}.tar.gz"
        with gzip.open(archive, "wb", compresslevel=1) as gz:
            gz.write(info.tobuf(format=tarfile.USTAR_FORMAT if kind == tarfile.XHDTYPE else tarfile.GNU_FORMAT))
            gz.write(b"\0" * 4096)
        with pytest.raises(ValueError, match="extended tar header of 1,073,741,824 bytes"):
            cifar.read_cifar("cifar10", archive)
