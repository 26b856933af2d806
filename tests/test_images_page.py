"""The Images page: its controller (ui/state/images.py), its figures (ui/views/images.py) and the page
through AppTest.

Small everywhere: digits, one seed, two or three methods and 5 training epochs (an undertrained model,
which the page says; the flow is what is tested). AppTest cannot drive st.file_uploader, so results
files go through ``load_results`` directly.
"""
import json
import math
import shlex
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from ui.state import images as im
from ui.views import images as draw
from unlearn_core.bench.cli import build_parser
from unlearn_core.images.bench import BenchProgress, run_benchmark
from unlearn_core.images.splits import PAPER_TARGETS
from unlearn_core.report import IMAGE_COLUMNS as COLUMNS, IMAGE_GAP_KEYS as GAP_KEYS, gap_summary
from unlearn_core.testing import write_fake_cifar, write_fake_folder
from unlearn_core.training import predict_logits

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "app_pages" / "images.py")
EPOCHS = 5


@pytest.fixture(scope="module")
def result():
    cfg = im.make_config(methods=["jit", "finetune"], train_epochs=EPOCHS)
    calls = []
    r = run_benchmark(cfg, progress=calls.append, keep_models=True)
    r.calls = calls
    return r


def row(method, seed=0, setting="full_class", target="3", **metrics):
    base = dict(dataset="digits", model="smallcnn", setting=setting, target=target, seed=seed, method=method,
                n_forget=137, acc_retain=0.9, acc_forget=0.5, acc_test=0.9, acc_forget_train=0.5, mia=0.2,
                loss_mia=0.6, js_forget=0.1, seconds=1.0, steps=3, hyperparameters={})
    base.update(metrics)
    return base


# --- choices and the config --------------------------------------------------------------------------

def test_targets_per_dataset_and_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(im.DATA_ROOT_ENV, str(tmp_path))  # the page reads only inside its data folder
    digits = [str(k) for k in range(10)]
    assert im.targets_for("digits", "full_class") == digits == im.targets_for("digits", "sub_class")
    assert im.targets_for("digits", "random") == []
    c100 = im.targets_for("cifar100", "full_class")
    assert c100[:5] == PAPER_TARGETS["cifar100"]["full_class"] and len(c100) == len(set(c100)) == 100
    assert im.targets_for("cifar20", "full_class")[:5] == PAPER_TARGETS["cifar20"]["full_class"]
    c20 = im.targets_for("cifar20", "sub_class")
    assert c20[:5] == PAPER_TARGETS["cifar20"]["sub_class"] and len(c20) == 100
    assert im.targets_for("cifar10", "full_class")[:2] == ["airplane", "automobile"]
    with pytest.raises(ValueError, match="no sub-class setting"):
        im.targets_for("cifar10", "sub_class")
    write_fake_folder(tmp_path / "faces", classes=["ann", "bob", "cy"], per_class=2, size=8)
    assert im.targets_for("folder", "full_class", str(tmp_path / "faces")) == ["ann", "bob", "cy"]
    with pytest.raises(ValueError, match="No data at"):
        im.targets_for("folder", "full_class", str(tmp_path / "nope"))
    assert im.settings_for("digits") == ("full_class", "sub_class", "random")
    assert im.settings_for("cifar10") == ("full_class", "random")
    assert im.target_label("digits", "sub_class", "3") == "3 (odd)"
    assert im.target_label("cifar100", "full_class", "rocket") == "rocket (paper)"
    assert im.target_label("cifar100", "full_class", "apple") == "apple"
    assert im.method_label("emmn") == "emmn (full-class only)" and im.method_label("jit") == "jit"
    assert im.default_target("digits", "full_class", digits) == "3"
    assert im.default_target("cifar10", "full_class", im.targets_for("cifar10", "full_class")) == "airplane"


def test_make_config_builds_what_the_cli_would():
    cfg = im.make_config(methods=["jit", "ssd", "retrain", "jit"], n_seeds=2, train_epochs=30)
    assert (cfg.dataset, cfg.model, cfg.settings, cfg.targets, cfg.methods, cfg.seeds, cfg.device) == (
        "digits", "smallcnn", ("full_class",), ("3",), ("jit", "ssd"), (0, 1), "cpu")
    assert cfg.train_epochs is None and cfg.out_dir is None and cfg.forget_count is None  # 30 = the recipe's
    assert im.make_config(train_epochs=5).train_epochs == 5
    rnd = im.make_config(setting="random", target="3")
    assert rnd.targets is None and rnd.forget_count == 27  # 2% of 1,347, as the core's default
    assert im.make_config(setting="sub_class", target="7").targets == ("7",)


@pytest.mark.parametrize("kw, message", [
    (dict(methods=[]), "at least one method"),
    (dict(methods=["retrain"]), "at least one method"),
    (dict(methods=["nope"]), "unknown method"),
    (dict(dataset="mnist"), "unknown image dataset"),
    (dict(dataset="cifar10"), "nothing is downloaded"),
    (dict(dataset="cifar10", data_dir="/definitely/not/here"), "No data at"),
    (dict(dataset="folder", data_dir=""), "needs a data path"),
    (dict(target="12"), "pick the class to forget"),
    (dict(setting="sub_class", target="ten"), "pick the fine class"),
    (dict(setting="region"), "no 'region' setting"),
    (dict(device="cuda", cuda_available=False), "CUDA is not available"),
    (dict(n_seeds=4), "seeds must be 1 to 3"),
    (dict(train_epochs=0), "at least 1"),
    (dict(setting="random", forget_count=0), "at least 1"),
    (dict(setting="random", forget_count=1347), "at most 1,346"),
    (dict(model="resnet50"), "unknown model"),
])
def test_make_config_refuses_bad_input_with_a_reason(kw, message):
    with pytest.raises(ValueError, match=message):
        im.make_config(**kw)


def test_data_paths_are_checked_with_the_loaders_messages(tmp_path, monkeypatch):
    monkeypatch.setenv(im.DATA_ROOT_ENV, str(tmp_path))  # paths outside it: tests/test_paths.py
    archive = write_fake_cifar(tmp_path, "cifar10", n_train=20, n_test=10)
    assert im.check_data_path("cifar10", f"  {archive}  ") == str(archive)
    assert im.check_data_path("cifar10", str(tmp_path)) == str(tmp_path)  # a folder holding the archive
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="not a tar archive"):
        im.check_data_path("cifar10", str(junk))
    with pytest.raises(ValueError, match="no CIFAR-100 data"):
        im.check_data_path("cifar100", str(tmp_path))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class subfolders"):
        im.check_data_path("folder", str(tmp_path / "empty"))
    assert im.check_data_path("digits", "ignored") == ""


def test_config_key_and_the_equivalent_cli_command():
    a = im.make_config(methods=["jit", "finetune"], train_epochs=EPOCHS)
    assert im.config_key(a) == im.config_key(im.make_config(methods=["jit", "finetune"], train_epochs=EPOCHS))
    others = [im.make_config(methods=["jit"], train_epochs=EPOCHS), im.make_config(methods=["jit", "finetune"]),
              im.make_config(methods=["jit", "finetune"], train_epochs=EPOCHS, n_seeds=2),
              im.make_config(methods=["jit", "finetune"], train_epochs=EPOCHS, target="4")]
    assert len({im.config_key(c) for c in [a, *others]}) == 5
    # The printed command parses with the CLI's own parser into the same run.
    cfg = im.make_config(setting="sub_class", target="7", methods=["jit", "scrub"], n_seeds=3, train_epochs=12)
    cmd = im.cli_command(cfg)
    argv = shlex.split(cmd.replace("\\\n", " "))
    assert argv[:3] == ["python", "-m", "unlearn_core.bench"]
    args = build_parser().parse_args(argv[3:])
    assert (args.dataset, args.setting, args.target, args.methods, list(args.seeds), args.train_epochs) == (
        "digits", "sub_class", "7", "jit,scrub", [0, 1, 2], 12)
    assert args.out == "results/digits-smallcnn" and args.model is None
    rnd = build_parser().parse_args(shlex.split(im.cli_command(im.make_config(setting="random", forget_count=9))
                                                .replace("\\\n", " "))[3:])
    assert rnd.forget_count == 9 and rnd.target is None and rnd.train_epochs is None


def test_time_estimate_and_progress_text():
    small = im.estimate_seconds(im.make_config(methods=["jit"], train_epochs=5))
    full = im.estimate_seconds(im.make_config())
    assert 2 < small < full < 60
    assert im.estimate_seconds(im.make_config(model="vgg11")) is None
    job = dict(setting="full_class", target="3", seed=0)
    assert im.progress_text(BenchProgress(2, 4, "resumed", **job, skipped=2)) == \
        "2 of 4 runs done · starting full_class 3, seed 0"
    assert im.progress_text(BenchProgress(3, 4, "finished", **job, method="jit")) == \
        "3 of 4 runs done · jit finished (full_class 3, seed 0)"
    assert im.progress_text(BenchProgress(0, 4, "training", **job)) == \
        "0 of 4 runs done · training the original model, seed 0"
    assert im.progress_text(BenchProgress(1, 4, "epoch", **job, model="retrain", epoch=2, epochs=5)) == \
        "1 of 4 runs done · retraining without 3 (full_class), seed 0: epoch 2/5"
    assert im.progress_fraction(3, 4) == 0.75 and im.progress_fraction(0, 0) == 0.0


def test_the_pages_words_come_from_the_core_tables():
    assert im.MODELS == ("smallcnn", "resnet18", "vgg11", "vit") and set(im.MODEL_LABELS) == set(im.MODELS)
    assert im.recipe_text("digits") == "SGD with momentum 0.9, OneCycle schedule, weight decay 5e-4"
    assert im.forget_count_help() == "Default: 2% of the training set (27 on digits); 83 on CIFAR, as the paper."
    assert im.recipe_epochs("digits") == 30 and im.recipe_epochs("cifar10", "vgg11") == 25


# --- results ----------------------------------------------------------------------------------------

def test_table_shows_mean_std_and_the_gap_to_retrain():
    rows = [row("original", 0, acc_forget=1.0), row("original", 1, acc_forget=0.98),
            row("retrain", 0, acc_forget=0.0, acc_retain=0.95), row("retrain", 1, acc_forget=0.02, acc_retain=0.97),
            row("jit", 0, acc_forget=0.2, acc_retain=0.80), row("jit", 1, acc_forget=0.3, acc_retain=0.84),
            row("emmn", 0, acc_forget=float("nan"), acc_retain=float("nan"), acc_test=float("nan"), mia=float("nan"),
                loss_mia=float("nan"), js_forget=float("nan"), seconds=float("nan"), error="diverged: boom")]
    frame = im.summary_frame(rows).loc[("full_class", "3")]
    assert frame.loc["jit", "acc_forget"] == pytest.approx(25.0)
    assert frame.loc["jit", "acc_forget_std"] == pytest.approx(np.std([20, 30], ddof=1))
    assert frame.loc["jit", "acc_forget_gap"] == pytest.approx(25.0 - 1.0)
    assert frame.loc["jit", "acc_retain_gap"] == pytest.approx(82.0 - 96.0)
    assert math.isnan(frame.loc["retrain", "acc_forget_gap"]) and frame.loc["emmn", "errors"] == 1
    table = im.results_table(rows, "full_class", "3")
    assert list(table.index) == ["original", "retrain", "jit", "emmn"]
    assert list(table.columns) == [h for _, h, _ in COLUMNS] + [im.MEAN_GAP]
    assert "forget acc % (→ retrain)" in table.columns and "retain acc % ↑" in table.columns
    assert table.loc["jit", "forget acc % (→ retrain)"] == "25.0 ± 7.1 (+24.0)"
    assert table.loc["retrain", "forget acc % (→ retrain)"] == "1.0 ± 1.4"  # no gap to itself
    assert table.loc["emmn", "retain acc % ↑"] == "n/a" and table.loc["retrain", im.MEAN_GAP] == ""
    gaps = [abs(frame.loc["jit", f"{k}_gap"]) for k in GAP_KEYS]
    assert float(table.loc["jit", im.MEAN_GAP]) == pytest.approx(np.mean(gaps), abs=0.05)
    assert im.group_caption(rows, "full_class", "3") == ("digits / smallcnn, full class, forget 3: 137 training "
                                                          "images; seeds 0, 1")
    assert im.error_lines(rows) == ["**emmn** (full class 3, seed 0): diverged: boom"]


def test_findings_name_an_undertrained_model_jits_cost_and_the_closest_method():
    rows = [row("original", acc_test=0.3), row("retrain", acc_retain=0.99), row("jit", acc_retain=0.85),
            row("finetune", acc_retain=0.98)]
    lines = im.findings(rows)
    assert "only 30% test accuracy" in lines[0] and "undertrained" in lines[0]
    assert "14.0 points below retrain" in lines[1] and "costs retain accuracy" in lines[1]
    assert "**finetune**" in lines[2]
    assert "while finetune also trains on the retained ones" in lines[1] and "SCRUB" not in lines[1]
    ok = [row("original"), row("retrain"), row("jit", acc_retain=0.88)]
    assert len(im.findings(ok)) == 1 and "**jit**" in im.findings(ok)[0]
    # A method whose numbers stay within 0.5 points of the original's barely changed it.
    same = [row("original", setting="random", target="27 random"), row("retrain", setting="random", target="27 random",
                                                                        acc_forget=0.4),
            row("jit", setting="random", target="27 random", acc_test=0.902)]
    lines = im.findings(same)
    assert lines[0].startswith("**jit** barely changed the model (27 random images)")
    assert im.where("random", "27 random") == "27 random images"
    # Only JiT was run: the finding names no method that was not (issue 12: "findings mention methods not run").
    alone = [row("original"), row("retrain", acc_retain=0.99), row("jit", acc_retain=0.80)]
    cost = next(line for line in im.findings(alone) if "at a cost" in line)
    assert cost.endswith("JiT only sees the forget images.") and "finetune" not in cost and "SCRUB" not in cost and im.where("sub_class", "3") == "sub-class 3"
    assert im.group_caption(same, "random", "27 random") == ("digits / smallcnn, forget 27 random images: 137 training "
                                                             "images; seed 0")


@pytest.mark.slow  # a real digits run (the module's `result`)
def test_gap_figure_is_the_cores(result):
    fig = draw.gap_figure(result.rows)
    (bar,) = fig.data
    summary = {s["method"]: s["mean_gap"] for s in gap_summary(result.rows)}
    assert list(bar.x) == ["original", "jit", "finetune"]
    assert np.allclose(bar.y, [summary[m] for m in bar.x])
    assert fig.layout.height == 380 and "lower is closer" in fig.layout.title.text


@pytest.mark.slow  # a real digits run (the module's `result`)
def test_a_real_run_progress_rows_and_models(result):
    assert [r["method"] for r in result.rows] == ["original", "retrain", "jit", "finetune"]
    assert (result.calls[-1].done, result.calls[-1].total) == (4, 4) and set(result.models[("full_class", "3", 0)]) == {
        "original", "retrain", "jit", "finetune"}
    # An undertrained original (5 epochs): the page says so.
    assert any("undertrained" in line for line in im.findings(result.rows))


# --- results files ----------------------------------------------------------------------------------

@pytest.mark.slow  # a real digits run (the module's `result`)
def test_a_results_file_round_trips(result):
    text = im.rows_json(result.rows)
    rows = im.load_results(text.encode())
    assert [r["method"] for r in rows] == ["original", "retrain", "jit", "finetune"]
    assert im.results_table(rows, "full_class", "3").equals(im.results_table(result.rows, "full_class", "3"))
    assert im.file_warnings(rows) == []
    # null metrics become NaN; missing optional metrics too; a BOM is fine
    raw = json.loads(text)
    raw[2]["mia"] = None
    del raw[3]["loss_mia"]
    rows = im.load_results(("\ufeff" + json.dumps(raw)).encode())
    assert math.isnan(rows[2]["mia"]) and math.isnan(rows[3]["loss_mia"])
    only_jit = [r for r in raw if r["method"] != "retrain"]
    assert "No retrain row" in im.file_warnings(im.load_results(json.dumps(only_jit)))[0]


@pytest.mark.parametrize("data, message", [
    (b"{not json", "not valid JSON: .* line 1, column 2"),
    (b"\xff\xfe\x00garbage", "not text"),
    (b'{"rows": []}', "Expected a JSON list of result rows .* got a JSON object"),
    (b"[]", "empty list"),
    (b"[1, 2]", "Row 0 is a JSON number"),
    (json.dumps([row("original"), {k: v for k, v in row("jit").items() if k != "acc_forget"}]).encode(),
     r"Row 1 \(method 'jit'\) is missing 'acc_forget'"),
    (json.dumps([{k: v for k, v in row("jit").items() if k not in ("seed", "mia")}]).encode(),
     r"Row 0 \(method 'jit'\) is missing 'seed', 'mia'"),
    (json.dumps([row("jit", acc_test="high")]).encode(), r"Row 0 \(method 'jit'\): 'acc_test' must be a number"),
    (json.dumps([row("jit", setting="region")]).encode(), "unknown setting 'region'"),
    (json.dumps([row("jit", seed=0.5)]).encode(), "'seed' must be a whole number"),
    (json.dumps([row("jit", seed=float("nan"))]).encode(), "'seed' must be a whole number"),
    (json.dumps([{"dataset": "moons", "setting": "random", "seed": 0, "method": "jit", "acc_retain": 1}]).encode(),
     "2-D benchmark"),
])
def test_bad_results_files_are_refused_with_the_row_and_key(data, message):
    with pytest.raises(ValueError, match=message):
        im.load_results(data)


# --- the sample grid --------------------------------------------------------------------------------

@pytest.mark.slow  # a real digits run (the module's `result`)
def test_sample_view_shows_forget_images_and_each_models_prediction(result):
    job = result.jobs[0]
    models = result.models[im.job_key(job)]
    view = im.sample_view(job, models)
    assert view.models == ["original", "retrain", "jit", "finetune"]
    assert len(view.rows) == 8 and set(view.rows) <= set(job.split.forget_train.tolist())
    assert draw.to_rgb(view.images).shape == (8, 64, 64, 3) and draw.to_rgb(view.images).dtype == np.uint8
    x = job.loaded.Xtr[torch.as_tensor(view.rows)]
    for i, m in enumerate(view.models):
        p = torch.softmax(predict_logits(models[m], x), 1)
        assert np.array_equal(view.pred[i], p.argmax(1).numpy())
        assert np.allclose(view.conf[i], p.max(1).values.numpy(), atol=1e-6)
    assert (view.true == 3).all() and view.fine is None
    table = draw.sample_table(view)
    assert list(table.columns) == ["image", "training row", "true label", *view.models]
    assert table["image"][0].startswith("data:image/png;base64,") and table["true label"][0] == "3"
    name = job.loaded.data.class_names[int(view.pred[0, 0])]
    assert table.loc[0, "original"] == f"{name} ({view.conf[0, 0]:.0%})"
    styles = draw.sample_styles(view, table, "X")
    assert ((styles["original"] == "X").to_numpy() == view.matches()[0]).all() and (styles["image"] == "").all()
    assert view.kept_counts()["original"] == int(view.matches()[0].sum())
    assert im.job_label(job) == "full class 3, seed 0"


def test_images_are_enlarged_without_blurring():
    gray = torch.zeros(2, 1, 8, 8)
    gray[0, 0, 0, 0] = 1.0
    rgb = draw.to_rgb(gray)
    assert rgb.shape == (2, 64, 64, 3)
    assert (rgb[0, :8, :8] == 0).all() and (rgb[0, 8:, :] == 255).all()  # ink dark on white, one block per pixel
    colour = torch.rand(1, 3, 32, 32)
    out = draw.to_rgb(colour)
    assert out.shape == (1, 64, 64, 3) and out[0, 0, 0, 2] == round(float(colour[0, 2, 0, 0]) * 255)
    assert im.sample_rows(type("J", (), {"split": type("S", (), {"forget_train": np.arange(3)})})(), 8).tolist() == \
        [0, 1, 2]


# --- the page through AppTest -------------------------------------------------------------------------

def start() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    return at


@pytest.mark.slow
def test_page_runs_digits_shows_results_and_never_recomputes():
    at = start()
    assert any("Press **Run**" in i.value for i in at.info)
    code = at.code[0].value
    assert "--dataset digits" in code and "--target 3" in code
    assert "--methods jit,finetune,random_label,ssd,scrub" in code
    at.number_input(key="images_epochs_digits_smallcnn").set_value(EPOCHS)
    at.multiselect(key="images_methods").set_value(["jit", "finetune"]).run()
    assert f"--train-epochs {EPOCHS}" in at.code[0].value
    at.button(key="images_run").click().run()
    assert not at.exception and not at.error
    (key, res), = at.session_state["images_results"].items()
    assert [r["method"] for r in res.rows] == ["original", "retrain", "jit", "finetune"]
    assert any(m.value.startswith("**digits / smallcnn, full class, forget 3") for m in at.markdown)
    assert "forget acc % (→ retrain)" in at.table[0].value.columns
    assert any("undertrained" in m.value for m in at.markdown)  # 5 epochs
    assert len(at.get("plotly_chart")) == 1 and len(at.dataframe) == 1
    assert list(at.dataframe[0].value.columns)[:3] == ["image", "training row", "true label"]
    # Run again and rerun: served from the cache, the same objects.
    at.button(key="images_run").click().run()
    at.run()
    assert at.session_state["images_results"][key] is res and len(at.session_state["images_results"]) == 1


@pytest.mark.slow
def test_page_lists_methods_that_did_not_run():
    at = start()
    at.number_input(key="images_epochs_digits_smallcnn").set_value(EPOCHS)
    at.radio(key="images_setting_digits").set_value("random").run()
    assert not at.exception
    at.number_input(key="images_count_digits").set_value(10)
    at.multiselect(key="images_methods").set_value(["jit", "emmn"]).run()
    assert "--forget-count 10" in at.code[0].value and "--target" not in at.code[0].value
    at.button(key="images_run").click().run()
    assert not at.exception
    notes = next(m.value for m in at.markdown if m.value.startswith("**Not run or failed**"))
    assert "**emmn** (10 random images, seed 0): n/a: class-level method" in notes
    assert "the random setting has none to forget" in notes
    assert at.table[0].value.loc["emmn", "retain acc % ↑"].startswith("n/a")


def test_page_digits_sub_class_uses_parity_labels():
    at = start()
    at.radio(key="images_setting_digits").set_value("sub_class").run()
    target = at.selectbox(key="images_target_digits_sub_class")
    assert target.value == "3" and target.options[3] == "3 (odd)"
    assert any("parity labels" in c.value for c in at.caption)
    assert "--setting sub_class" in at.code[0].value


@pytest.mark.slow
def test_page_explains_data_paths_and_loader_errors(tmp_path, monkeypatch):
    monkeypatch.setenv(im.DATA_ROOT_ENV, str(tmp_path))
    at = start()
    at.selectbox(key="images_dataset").select("cifar10").run()
    assert not at.exception
    assert any("nothing is downloaded" in c.value for c in at.caption)
    assert any("needs a data path" in e.value for e in at.error) and not at.button
    at.text_input(key="images_data_dir").input(str(tmp_path / "missing")).run()
    assert any("No data at" in e.value for e in at.error) and not at.button
    assert at.selectbox(key="images_model_cifar10").value == "vgg11"
    assert any("needs a GPU" in o for o in at.selectbox(key="images_model_cifar10").options)
    # A (fake, tiny) CIFAR-10 archive: the targets, then a run on the CPU with the small CNN.
    archive = write_fake_cifar(tmp_path, "cifar10", n_train=100, n_test=40)
    at.text_input(key="images_data_dir").input(str(archive)).run()
    assert not at.error
    assert any("hours for CIFAR" in w.value for w in at.warning)  # vgg11 on a CPU
    at.selectbox(key="images_model_cifar10").select("smallcnn").run()
    assert at.selectbox(key="images_target_cifar10_full_class").value == "airplane"
    at.number_input(key="images_epochs_cifar10_smallcnn").set_value(1)
    at.multiselect(key="images_methods").set_value(["jit"]).run()
    assert f"--data-dir {archive}" in at.code[0].value
    at.button(key="images_run").click().run()
    assert not at.exception and not at.error
    (res,) = at.session_state["images_results"].values()
    assert res.rows[0]["dataset"] == "cifar10" and res.rows[0]["n_forget"] == 10
    assert at.dataframe[0].value["true label"][0] == "airplane"


def test_page_is_in_the_app_after_compare():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("app_pages/images.py").run()
    assert not at.exception
    assert at.title[0].value == "Unlearning on images"
    app = (ROOT / "app.py").read_text()
    pos = [app.index(f'"app_pages/{name}.py"') for name in ("compare", "images", "geometry")]
    assert pos == sorted(pos)
