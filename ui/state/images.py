"""The Images page's controller: the image benchmark (``unlearn_core.images.bench``) from widget values,
its results as tables and findings, results files written by the CLI, and the forget images' predictions.

No Streamlit and no figures here (those are in ``ui.views.images``). The page runs exactly what
``python -m unlearn_core.bench --dataset digits ...`` runs (``run_benchmark``), only without writing files:

    cfg = make_config(dataset="digits", setting="full_class", target="3", methods=["jit", "ssd"])
    result = run_benchmark(cfg, progress=on_event, keep_models=True)   # progress_text(event): the bar's text
    results_table(result.rows, "full_class", "3")    # mean ± std over seeds (gap to retrain), as table.md
    view = sample_view(result.jobs[0], result.models[job_key(result.jobs[0])])   # predictions on forget images
    rows = load_results(uploaded_bytes)             # a results.json from the CLI (JSON only)

Data paths typed in the app are confined to the data folder (``data_root()``: ``$UNLEARN_DATA_ROOT``, default
``data/`` beside app.py), after symlinks and ``..`` are resolved, and a path outside it gets the same answer as
a missing one, so that a visitor cannot explore the server's disk. The CLI, run by the machine's own user,
takes any path.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from unlearn_core import METHODS
from unlearn_core.images.bench import (DEFAULT_MODEL, DEFAULT_TARGET, FULL_CLASS_ONLY, IMAGE_DATASETS, BenchConfig,
                                       BenchProgress)
from unlearn_core.images.cifar import CIFAR10_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR100_FINE_CLASSES, CIFAR_KINDS
from unlearn_core.images.data import check_data_dir, folder_classes
from unlearn_core.images.splits import DEFAULT_RANDOM_SHARE, PAPER_N_RANDOM, PAPER_TARGETS, SETTINGS, default_n_random
from unlearn_core.images.train import recipe_for
from unlearn_core.images.zoo import ARCHITECTURES
from unlearn_core.report import IMAGE_COLUMNS as COLUMNS, IMAGE_GAP_KEYS as GAP_KEYS, summarize
from unlearn_core.training import predict_logits

DATASETS = IMAGE_DATASETS
DATASET_LABELS = {
    "digits": "digits (8x8, bundled with scikit-learn)",
    "cifar10": "CIFAR-10",
    "cifar20": "CIFAR-20 (CIFAR-100's 20 superclasses)",
    "cifar100": "CIFAR-100",
    "folder": "an image folder (one subfolder per class)",
}
CIFAR = CIFAR_KINDS
NEEDS_PATH = (*CIFAR, "folder")
DATA_PATH_HELP = {
    **{d: "the CIFAR 'python version' archive (.tar.gz) or its extracted folder; nothing is downloaded"
       for d in CIFAR},
    "folder": "a folder with one subfolder of images per class (or train/ and test/ folders laid out so); "
              "images are resized to 32x32",
}
MODELS = tuple(ARCHITECTURES)  # the zoo's architectures, in its order
_MODEL_NOTES = {
    "smallcnn": "small CNN; fine on a CPU",
    "resnet18": "needs a GPU to be practical",
    "vgg11": "the paper's; needs a GPU to be practical",
    "vit": "a small ViT; needs a GPU to be practical",
}
MODEL_LABELS = {m: f"{m} ({_MODEL_NOTES[m]})" if m in _MODEL_NOTES else m for m in MODELS}

SETTING_LABELS = {"full_class": "full class", "sub_class": "sub-class", "random": "random images"}
#: One line per setting: what is forgotten and how forget accuracy is scored.
SETTING_HELP = {
    "full_class": "Forget every training image of one class. Forget accuracy: that class's test images "
                  "(retrain never saw the class, so its value is about 0).",
    "sub_class": "Forget one fine class from a model that predicts coarse ones (CIFAR-20: a class inside its "
                 "superclass; digits: the model predicts even/odd and one digit is forgotten). Forget accuracy: "
                 "the fine class's test images scored against their coarse label (retrain still gets many right "
                 "through the sibling classes).",
    "random": "Forget a random set of training images. Forget accuracy: on those images themselves (retrain "
              "still gets most of them right: they look like the images it kept).",
}
DEFAULT_METHODS = ("jit", "finetune", "random_label", "ssd", "scrub")
CHOICES = tuple(m for m in METHODS if m != "retrain")  # retrain always runs: it is the reference
MAX_SEEDS = 3
DIGITS_TRAIN_IMAGES = 1347  # load_digits' training split at its defaults
#: Rough seconds on one CPU thread for digits + smallcnn (measured, 1,347 training images):
#: training one model per epoch, and each method's own run (plus evaluation).
DIGITS_EPOCH_S = 0.25
DIGITS_METHOD_S = {"jit": 0.6, "finetune": 1.2, "neggrad_plus": 1.8, "random_label": 0.9, "bad_teacher": 2.1,
                   "ssd": 1.1, "lf_ssd": 1.0, "scrub": 3.5, "unsir": 5.0, "emmn": 30.0, "gkt": 15.0}
REQUIRED_KEYS = ("dataset", "model", "setting", "target", "seed", "method", "acc_retain", "acc_forget", "acc_test",
                 "mia")
OPTIONAL_NUMBERS = ("loss_mia", "js_forget", "seconds", "acc_forget_train", "n_forget", "steps")
METRIC_KEYS = tuple(k for k, _, _ in COLUMNS)


#: The environment variable naming the folder the page may read data from.
DATA_ROOT_ENV = "UNLEARN_DATA_ROOT"
#: Its default: ``data/`` beside app.py.
DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2] / "data"


# --- data paths ---------------------------------------------------------------------------------

def data_root() -> str:
    """The folder the page's data paths are confined to, symlinks resolved: ``$UNLEARN_DATA_ROOT``, else
    ``data/`` beside app.py. Read at each call, so a server started with the variable uses it."""
    return os.path.realpath(os.environ.get(DATA_ROOT_ENV) or DEFAULT_DATA_ROOT)


def data_root_text() -> str:
    """Where the data folder is, in words that do not reveal the server's layout."""
    if os.environ.get(DATA_ROOT_ENV):
        return f"the folder that {DATA_ROOT_ENV} names on the server"
    return "data/ beside app.py on the server"


def confine(path: str, root: str | None = None) -> str:
    """``path`` (relative to the data folder ``root``, default ``data_root()``, or absolute inside it) with
    symlinks and ``..`` resolved. ValueError with one and the same message whether it does not exist or
    lies outside the folder: the answer never tells which."""
    where = data_root_text() if root is None else "the configured data folder"
    root = os.path.realpath(root) if root is not None else data_root()
    text = str(path).strip()
    try:
        real = os.path.realpath(os.path.join(root, text)) if text and len(text) <= 4096 else ""
        found = bool(real) and os.path.exists(real)
    except (ValueError, OSError):  # a NUL byte, a loop of links: as missing
        real, found = "", False
    inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
    if not text or not inside or not found:
        raise ValueError(f"No data at {text[:200]!r} in the data folder. The app reads data only from its data "
                         f"folder ({where}): put the archive or image folder there and give its path relative to "
                         f"that folder.")
    return real


# --- choices ------------------------------------------------------------------------------------

def settings_for(dataset: str) -> tuple[str, ...]:
    """The settings a dataset supports: sub_class needs coarse labels with fine ones (digits, CIFAR-20)."""
    return SETTINGS if dataset in ("digits", "cifar20") else ("full_class", "random")


def method_label(m: str) -> str:
    """The multiselect's label: the name, plus "full-class only" for EMMN and GKT."""
    return f"{m} (full-class only)" if m in FULL_CLASS_ONLY else m


def paper_targets(dataset: str, setting: str) -> list[str]:
    """The classes the paper forgets in this dataset and setting (empty when the paper has none)."""
    return list(PAPER_TARGETS.get(dataset, {}).get(setting, []))


def check_data_path(dataset: str, path: str | None, root: str | None = None) -> str:
    """The data path inside the data folder, resolved (``confine``); ValueError when it is missing or
    outside the folder (one message for both), else with the loader's own message when it cannot hold
    the data.

    A cheap check (no image is decoded; ``unlearn_core.images.data.check_data_dir``): CIFAR must be the
    archive, the extracted folder or a folder holding either; an image folder needs class subfolders.
    Only paths inside the data folder reach the loader's check, so its messages never tell anything about
    files outside it. Loading can still fail later (a damaged archive, an unreadable image), with the
    loader's message."""
    if dataset not in NEEDS_PATH:
        return ""
    path = (path or "").strip()
    if not path:
        raise ValueError(f"{DATASET_LABELS[dataset]} needs a data path: {DATA_PATH_HELP[dataset]}, in the data "
                         f"folder ({data_root_text()}).")
    real = confine(path, root)
    check_data_dir(dataset, real)
    return real


def targets_for(dataset: str, setting: str, data_dir: str | None = None) -> list[str]:
    """What can be forgotten, as names the core accepts; the paper's targets first (CIFAR).

    full_class: the class names; sub_class: the fine class names (digits: the digits 0-9 of the
    parity model); random: [] (no target). For a folder, its class subfolders (ValueError if the
    path does not hold any)."""
    if setting == "random":
        return []
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(SETTINGS)}")
    if setting not in settings_for(dataset):
        raise ValueError(f"{DATASET_LABELS.get(dataset, dataset)} has no sub-class setting: its model predicts the "
                         "fine classes directly (sub-class needs digits or CIFAR-20)")
    if dataset == "digits":
        names = [str(k) for k in range(10)]
    elif dataset == "cifar10":
        names = list(CIFAR10_CLASSES)
    elif dataset == "cifar100" or (dataset == "cifar20" and setting == "sub_class"):
        names = list(CIFAR100_FINE_CLASSES)
    elif dataset == "cifar20":
        names = list(CIFAR100_COARSE_CLASSES)
    elif dataset == "folder":
        names = folder_classes(check_data_path("folder", data_dir))
    else:
        raise ValueError(f"unknown image dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    first = [t for t in paper_targets(dataset, setting) if t in names]
    return first + [n for n in names if n not in first]


def target_label(dataset: str, setting: str, target: str) -> str:
    """How the target selectbox shows a target: "rocket (paper)", "3 (odd)" for digit 3 of the parity model."""
    if dataset == "digits" and setting == "sub_class" and str(target).isdigit():
        return f"{target} ({'odd' if int(target) % 2 else 'even'})"
    return f"{target} (paper)" if target in paper_targets(dataset, setting) else str(target)


def default_target(dataset: str, setting: str, targets: list[str]) -> str | None:
    t = DEFAULT_TARGET.get((dataset, setting))
    return t if t in targets else (targets[0] if targets else None)


def default_forget_count(dataset: str) -> int:
    """The core's default random forget-set size: 83 on CIFAR (the paper's), 2% of the training set elsewhere."""
    if dataset in CIFAR or dataset == "digits":
        return default_n_random(dataset, DIGITS_TRAIN_IMAGES)  # (the size only matters for digits)
    return 20


def forget_count_help() -> str:
    """The random setting's default forget-set sizes in words (from ``unlearn_core.images.splits``)."""
    return (f"Default: {DEFAULT_RANDOM_SHARE:.0%} of the training set ({default_forget_count('digits')} on digits); "
            f"{PAPER_N_RANDOM} on CIFAR, as the paper.")


def recipe_epochs(dataset: str, model: str | None = None) -> int:
    """The training recipe's epochs for the original and the retrained model."""
    return recipe_for(dataset, model or DEFAULT_MODEL[dataset]).epochs


def recipe_text(dataset: str, model: str | None = None) -> str:
    """The training recipe's optimiser, schedule and weight decay in words, read from the recipe table
    (``unlearn_core.images.train``): "SGD with momentum 0.9, OneCycle schedule, weight decay 5e-4"."""
    r = recipe_for(dataset, model or DEFAULT_MODEL[dataset])
    opt = f"SGD with momentum {r.momentum:g}" if r.optimizer == "sgd" else "Adam"
    schedule = "OneCycle schedule" if r.schedule == "onecycle" else "constant learning rate"
    wd = f"{r.weight_decay:g}" if r.weight_decay == 0 or r.weight_decay >= 1e-3 else \
        f"{r.weight_decay:.0e}".replace("e-0", "e-")
    return f"{opt}, {schedule}, weight decay {wd}"

# --- the config ---------------------------------------------------------------------------------

def make_config(*, dataset: str = "digits", data_dir: str | None = None, model: str | None = None,
                setting: str = "full_class", target: str | None = None, forget_count: int | None = None,
                methods=DEFAULT_METHODS, n_seeds: int = 1, device: str = "cpu", train_epochs: int | None = None,
                cuda_available: bool | None = None) -> BenchConfig:
    """A ``BenchConfig`` for one setting and target from the page's widgets; ValueError with a clear
    message for anything the page cannot run. No ``target``: the default (digit 3, the paper's first,
    else the first class). ``train_epochs`` equal to the recipe's is dropped (None),
    so that the key and the CLI command stay the default's."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown image dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    data_dir = check_data_path(dataset, data_dir) or None
    model = model or DEFAULT_MODEL[dataset]
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if setting not in settings_for(dataset):
        raise ValueError(f"{DATASET_LABELS[dataset]} has no {setting!r} setting; choose one of "
                         f"{', '.join(settings_for(dataset))}")
    methods = list(dict.fromkeys(m for m in methods if m != "retrain"))
    if not methods:
        raise ValueError("Pick at least one method (retraining from scratch always runs: it is the reference).")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(CHOICES)}")
    if isinstance(n_seeds, bool) or int(n_seeds) != n_seeds or not 1 <= int(n_seeds) <= MAX_SEEDS:
        raise ValueError(f"seeds must be 1 to {MAX_SEEDS}, got {n_seeds!r}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu or cuda, got {device!r}")
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if device == "cuda" and not cuda_available:
        raise ValueError("CUDA is not available on this machine: run on the CPU, or run the CLI on a GPU machine "
                         "and view its results.json here.")
    targets, count = None, None
    if setting == "random":
        count = default_forget_count(dataset) if forget_count is None else forget_count
        if isinstance(count, bool) or int(count) != count or int(count) < 1:
            raise ValueError(f"the number of random images to forget must be a whole number of at least 1, got "
                             f"{forget_count!r}")
        count = int(count)
        if dataset == "digits" and count >= DIGITS_TRAIN_IMAGES:
            raise ValueError(f"digits has {DIGITS_TRAIN_IMAGES:,} training images and at least one must be kept: "
                             f"forget at most {DIGITS_TRAIN_IMAGES - 1:,} (got {count})")
    else:
        names = targets_for(dataset, setting, data_dir)
        if target is None:
            target = default_target(dataset, setting, names)
        if target is None or str(target) not in names:
            what = "fine class" if setting == "sub_class" else "class"
            raise ValueError(f"pick the {what} to forget: one of {', '.join(names[:20])}"
                             f"{', ...' if len(names) > 20 else ''} (got {target!r})")
        targets = (str(target),)
    epochs = None
    if train_epochs is not None:
        if isinstance(train_epochs, bool) or int(train_epochs) != train_epochs or int(train_epochs) < 1:
            raise ValueError(f"training epochs must be a whole number of at least 1, got {train_epochs!r}")
        epochs = None if int(train_epochs) == recipe_epochs(dataset, model) else int(train_epochs)
    return BenchConfig(dataset=dataset, data_dir=data_dir, model=model, settings=(setting,), targets=targets,
                       forget_count=count, methods=tuple(methods), seeds=tuple(range(int(n_seeds))), device=device,
                       out_dir=None, train_epochs=epochs)


def config_key(cfg: BenchConfig) -> str:
    """A stable, hashable key of everything that changes a run's results."""
    return json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)


def cli_command(cfg: BenchConfig, out: str | None = None) -> str:
    """The equivalent ``python -m unlearn_core.bench`` command (it writes OUT/results.json, which this page reads)."""
    q = shlex.quote
    parts = ["python -m unlearn_core.bench", f"--dataset {cfg.dataset}"]
    if cfg.data_dir:
        parts.append(f"--data-dir {q(cfg.data_dir)}")
    if cfg.model and cfg.model != DEFAULT_MODEL[cfg.dataset]:
        parts.append(f"--model {cfg.model}")
    parts.append(f"--setting {','.join(cfg.settings)}")
    if cfg.targets:
        parts.append(f"--target {q(','.join(map(str, cfg.targets)))}")
    if cfg.forget_count is not None:
        parts.append(f"--forget-count {cfg.forget_count}")
    if cfg.methods:
        parts.append(f"--methods {','.join(cfg.methods)}")
    parts.append(f"--seeds {','.join(map(str, cfg.seeds))}")
    parts.append(f"--device {cfg.device}")
    if cfg.train_epochs is not None:
        parts.append(f"--train-epochs {cfg.train_epochs}")
    parts.append(f"--out {q(out or os.path.join('results', f'{cfg.dataset}-{cfg.arch}'))}")
    return " \\\n  ".join(parts)


def estimate_seconds(cfg: BenchConfig) -> float | None:
    """Rough wall time on one CPU thread for digits + smallcnn (None elsewhere: it depends on the GPU)."""
    if cfg.dataset != "digits" or cfg.arch != "smallcnn" or cfg.device != "cpu":
        return None
    epochs = cfg.train_epochs or recipe_epochs("digits", "smallcnn")
    per_seed = 2 * epochs * DIGITS_EPOCH_S + 0.6
    for m in cfg.methods or ():
        if m in FULL_CLASS_ONLY and cfg.settings[0] != "full_class":
            continue
        per_seed += DIGITS_METHOD_S.get(m, 3.0)
    return 1.0 + len(cfg.seeds) * per_seed


def progress_fraction(done: int, total: int) -> float:
    return min(1.0, max(0.0, done / total)) if total else 0.0


def progress_text(event: BenchProgress) -> str:
    """The bar's text for one of ``run_benchmark``'s progress events: runs done, then what happens."""
    job = f"{event.setting} {event.target}, seed {event.seed}"
    if event.stage == "resumed":  # runs of this job found on disk
        what = f"starting {job}"
    elif event.stage == "finished":
        what = f"{event.method} finished ({job})"
    elif event.stage == "epoch":
        model = (f"training the original model, seed {event.seed}" if event.model == "original" else
                 f"retraining without {event.target} ({event.setting}), seed {event.seed}")
        what = f"{model}: epoch {event.epoch}/{event.epochs}"
    else:  # "training", "retraining"
        what = event.text
    return f"{event.done} of {event.total} runs done · {what}"

# --- results: table, errors, findings, plot -----------------------------------------------------

def groups(rows: list[dict]) -> list[tuple[str, str]]:
    """(setting, target) of each table, in the rows' order."""
    return list(dict.fromkeys((r["setting"], str(r["target"])) for r in rows))


def _summaries(rows: list[dict], setting: str, target: str) -> list[dict]:
    """``unlearn_core.report.summarize`` of one (setting, target): the numbers of the CLI's table.md."""
    return summarize([r for r in rows if r["setting"] == setting and str(r["target"]) == str(target)],
                     COLUMNS, GAP_KEYS)


def _gap(column: dict) -> float:
    return float("nan") if column["gap"] is None else float(column["gap"])


def _mean_gap(columns: dict) -> float:
    """The mean |gap to retrain| over the gap metrics that have one (NaN for none, e.g. retrain itself)."""
    gaps = [abs(_gap(columns[k])) for k in GAP_KEYS if not math.isnan(_gap(columns[k]))]
    return float(np.mean(gaps)) if gaps else float("nan")


def summary_frame(rows: list[dict]) -> pd.DataFrame:
    """Numbers behind the table: one row per (setting, target, method) with, per metric, its mean, std
    (over seeds, ddof 1; 0 with one seed) and gap to retrain (mean − retrain's mean); percentages for
    the accuracies and MIAs, pp for the gaps. Also ``seeds`` (how many ran), ``errors`` and ``mean_gap``.
    The numbers are ``unlearn_core.report.summarize``'s, as in the CLI's table.md."""
    records = []
    for setting, target in groups(rows):
        for s in _summaries(rows, setting, target):
            cols = s["columns"]
            rec = dict(setting=setting, target=target, method=s["method"], seeds=cols["acc_test"]["n"],
                       errors=s["errors"])
            for key in METRIC_KEYS:
                rec[key], rec[f"{key}_std"] = cols[key]["mean"], cols[key]["std"]
            for key in GAP_KEYS:
                rec[f"{key}_gap"] = _gap(cols[key])
            rec["mean_gap"] = _mean_gap(cols)
            records.append(rec)
    return pd.DataFrame.from_records(records).set_index(["setting", "target", "method"])


MEAN_GAP = "mean |gap| to retrain (pp) ↓"


def results_table(rows: list[dict], setting: str, target: str) -> pd.DataFrame:
    """One table as the page shows it: index = method (original, retrain, then the methods), one column
    per metric named with its direction, cells "mean ± std (gap to retrain)" as in the CLI's table.md
    ("n/a" for a method that did not run), then the mean |gap| over the five gap metrics. The cells are
    ``unlearn_core.report.summarize``'s, the same as the CLI's table.md."""
    out = {}
    for s in _summaries(rows, setting, target):
        cols, row = s["columns"], {}
        for key, header, _ in COLUMNS:
            gap = _gap(cols[key])
            row[header] = cols[key]["cell"] + ("" if math.isnan(gap) else f" ({gap:+.1f})")
        mean_gap = _mean_gap(cols)
        row[MEAN_GAP] = "" if s["method"] == "retrain" or math.isnan(mean_gap) else f"{mean_gap:.1f}"
        out[s["method"]] = row
    df = pd.DataFrame.from_dict(out, orient="index")
    df.index.name = "method"
    return df


def where(setting: str, target) -> str:
    """A (setting, target) in words: "full class 3", "sub-class rocket", "27 random images"."""
    if setting == "random":
        return f"{str(target).replace(' random', '')} random images"
    return f"{SETTING_LABELS.get(setting, setting)} {target}"


def group_caption(rows: list[dict], setting: str, target: str) -> str:
    """"digits / smallcnn, full class, forget 3: 137 training images; seeds 0, 1"."""
    sub = [r for r in rows if r["setting"] == setting and str(r["target"]) == str(target)]
    first = sub[0]
    seeds = sorted({int(r["seed"]) for r in sub})
    n = first.get("n_forget")
    size = f"{int(n)} training images; " if n is not None and not math.isnan(float(n)) else ""
    what = f"forget {where(setting, target)}" if setting == "random" else \
        f"{SETTING_LABELS.get(setting, setting)}, forget {target}"
    return (f"{first['dataset']} / {first['model']}, {what}: {size}seed{'s' if len(seeds) > 1 else ''} "
            f"{', '.join(map(str, seeds))}")


def error_lines(rows: list[dict]) -> list[str]:
    """Methods that did not run or diverged, one line per (method, setting, target, reason) with its seeds."""
    found: dict[tuple, list[int]] = {}
    for r in rows:
        if r.get("error"):
            found.setdefault((r["method"], r["setting"], str(r["target"]), str(r["error"])), []).append(int(r["seed"]))
    lines = []
    for (m, setting, target, err), seeds in found.items():
        plural = "s" if len(seeds) > 1 else ""
        lines.append(f"**{m}** ({where(setting, target)}, seed{plural} "
                     f"{', '.join(map(str, sorted(seeds)))}): {err}")
    return lines


def findings(rows: list[dict]) -> list[str]:
    """Plain sentences on what the numbers show: an undertrained original, JiT's cost in retain accuracy,
    methods that barely changed the model, the method closest to retrain."""
    out = []
    frame = summary_frame(rows)
    for setting, target in groups(rows):
        f = frame.loc[(setting, target)]
        place = where(setting, target)
        on_digits = any(r["dataset"] == "digits" for r in rows
                        if r["setting"] == setting and str(r["target"]) == target)
        if "original" in f.index and f.loc["original", "acc_test"] < 50:
            out.append(f"The original model reaches only {f.loc['original', 'acc_test']:.0f}% test accuracy "
                       f"({place}): it is undertrained, so what forgetting does here means little. Train for more "
                       f"epochs (the advanced settings).")
        if "jit" in f.index and setting == "full_class" and f.loc["jit", "acc_retain_gap"] < -5:
            # Name only the methods of this run that train on the retained images (never one that was not run).
            with_retain = [m for m in f.index if m in METHODS and m != "retrain" and METHODS[m].needs != "forget"]
            contrast = (f", while {', '.join(with_retain)} also train{'s' if len(with_retain) == 1 else ''} on the "
                        f"retained ones" if with_retain else "")
            out.append(f"JiT forgets here at a cost: its retain accuracy is {-f.loc['jit', 'acc_retain_gap']:.1f} "
                       f"points below retrain's ({place}). "
                       + ("On digits, JiT's forgetting of a whole class costs retain accuracy: " if on_digits else "")
                       + f"JiT only sees the forget images{contrast}.")
        if "original" in f.index:
            same = [m for m in f.index if m not in ("original", "retrain") and all(
                abs(f.loc[m, k] - f.loc["original", k]) < 0.5 for k in GAP_KEYS)]
            if same:
                out.append(f"{', '.join(f'**{m}**' for m in same)} barely changed the model ({place}): within 0.5 "
                           f"points of the original's retain / forget / test accuracy and both MIAs (the original "
                           f"is {f.loc['original', 'mean_gap']:.1f} points from retrain on average).")
        ranked = f.drop(index=[m for m in ("original", "retrain") if m in f.index])["mean_gap"].dropna()
        if len(ranked):
            best = ranked.idxmin()
            orig = f.loc["original", "mean_gap"] if "original" in f.index else float("nan")
            tail = f"; doing nothing (the original) is {orig:.1f} away" if not math.isnan(orig) else ""
            out.append(f"Closest to retraining ({place}): **{best}**, {ranked.min():.1f} points away on average over "
                       f"retain / forget / test accuracy and both MIAs{tail}.")
    return out

def rows_json(rows: list[dict]) -> str:
    """The rows as the CLI's results.json (NaN written as NaN, as Python's json does)."""
    return json.dumps(rows, indent=1, default=float)


# --- a results file from the CLI ----------------------------------------------------------------

def load_results(data: bytes | str) -> list[dict]:
    """Rows from a results.json written by ``python -m unlearn_core.bench`` (JSON only, never a pickle).

    ValueError, naming the row and the key, for: text that is not JSON, JSON that is not a non-empty
    list of objects, a row missing a key the page needs or holding a non-number where a number goes,
    an unknown setting, a 2-D benchmark's file. Missing optional metrics become NaN; null becomes NaN."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise ValueError(f"This file is not text (UTF-8 fails at byte {err.start}); a results.json from the CLI "
                             "is JSON text.") from None
    try:
        rows = json.loads(data)
    except json.JSONDecodeError as err:
        raise ValueError(f"This file is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}.") from None
    if not isinstance(rows, list):
        raise ValueError(f"Expected a JSON list of result rows (as results.json holds), got a JSON "
                         f"{_json_type(rows)}.")
    if not rows:
        raise ValueError("The file holds an empty list: no results to show.")
    out = []
    for i, r in enumerate(rows):
        if not isinstance(r, dict):
            raise ValueError(f"Row {i} is a JSON {_json_type(r)}, not an object with a run's results.")
        if "dataset" in r and r["dataset"] not in DATASETS and "model" not in r:
            raise ValueError(f"Row {i} is from a 2-D benchmark (dataset {r['dataset']!r}); this page shows image "
                             f"benchmarks ({', '.join(DATASETS)}): the CLI's --dataset digits|cifar10|... output.")
        name = f"Row {i}" + (f" (method {r['method']!r})" if isinstance(r.get("method"), str) else "")
        missing = [k for k in REQUIRED_KEYS if k not in r]
        if missing:
            raise ValueError(f"{name} is missing {', '.join(repr(k) for k in missing)}; a results.json row from the "
                             f"CLI has {', '.join(REQUIRED_KEYS)}.")
        row = dict(r)
        for k in ("dataset", "model", "setting", "method"):
            if not isinstance(row[k], str) or not row[k]:
                raise ValueError(f"{name}: {k!r} must be a non-empty string, got {row[k]!r}.")
        if row["setting"] not in SETTINGS:
            raise ValueError(f"{name}: unknown setting {row['setting']!r}; image settings are "
                             f"{', '.join(SETTINGS)}.")
        seed = row["seed"]
        if isinstance(seed, bool) or not isinstance(seed, (int, float)) or not math.isfinite(seed) or int(seed) != seed:
            raise ValueError(f"{name}: 'seed' must be a whole number, got {row['seed']!r}.")
        row["seed"] = int(row["seed"])
        if not isinstance(row["target"], (str, int, float)) or isinstance(row["target"], bool):
            raise ValueError(f"{name}: 'target' must be a class name or label, got {row['target']!r}.")
        row["target"] = str(row["target"])
        for k in (*METRIC_KEYS, *OPTIONAL_NUMBERS):
            v = row.get(k)
            if v is None:
                row[k] = float("nan")
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"{name}: {k!r} must be a number (or null), got {v!r}.")
            else:
                row[k] = float(v)
        if row.get("error") is not None and not isinstance(row["error"], str):
            row["error"] = str(row["error"])
        out.append(row)
    return out


def file_warnings(rows: list[dict]) -> list[str]:
    """Things to know about a loaded file: groups without a retrain row, mixed datasets or models."""
    out = []
    for setting, target in groups(rows):
        if not any(r["method"] == "retrain" for r in rows if r["setting"] == setting and r["target"] == target):
            out.append(f"No retrain row for {SETTING_LABELS.get(setting, setting)} {target}: its gaps to retrain "
                       "cannot be computed.")
    runs = sorted({(r["dataset"], r["model"]) for r in rows})
    if len(runs) > 1:
        out.append("This file mixes " + ", ".join(f"{d} / {m}" for d, m in runs) + "; the tables group rows by "
                   "setting and target only.")
    return out


def _json_type(v) -> str:
    return {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number" if isinstance(v, (int, float)) else type(v).__name__)

# --- the sample grid ----------------------------------------------------------------------------

def job_key(job) -> tuple:
    """The key of ``BenchResult.models`` for a job."""
    return (job.setting, job.label, job.seed)


def job_label(job) -> str:
    return f"{SETTING_LABELS.get(job.setting, job.setting)} {job.label}, seed {job.seed}"


def sample_rows(job, n: int = 8) -> np.ndarray:
    """Up to ``n`` forget images (rows of X_train), evenly spread over the forget set."""
    forget = np.asarray(job.split.forget_train, dtype=np.int64)
    if len(forget) == 0:
        return forget
    pos = np.unique(np.linspace(0, len(forget) - 1, min(int(n), len(forget))).round().astype(int))
    return forget[pos]


@dataclass
class SampleView:
    """Forget images and each model's prediction on them (drawn by ``ui.views.images``)."""
    rows: np.ndarray  # rows of X_train
    images: np.ndarray  # float32 [n, C, H, W] in [0, 1], as loaded (not normalised)
    true: np.ndarray  # the label the model predicts (coarse in sub_class)
    fine: list[str] | None  # the fine class names (sub_class), else None
    class_names: tuple[str, ...]
    models: list[str]  # original, retrain, then the methods
    pred: np.ndarray  # [n_models, n]
    conf: np.ndarray  # [n_models, n] softmax probability of the predicted class

    def true_name(self, j: int) -> str:
        name = self.class_names[int(self.true[j])]
        return f"{self.fine[j]} ({name})" if self.fine is not None else name

    def pred_name(self, i: int, j: int) -> str:
        """Model ``i``'s prediction on image ``j`` and its confidence: "3 (97%)"."""
        return f"{self.class_names[int(self.pred[i, j])]} ({self.conf[i, j]:.0%})"

    def matches(self) -> np.ndarray:
        """bool [n_models, n]: the model predicts the image's true label."""
        return self.pred == self.true[None, :]

    def kept_counts(self) -> dict[str, int]:
        """Per model: on how many of the images it still predicts the true label."""
        return {m: int(k) for m, k in zip(self.models, self.matches().sum(axis=1))}


def sample_view(job, models: dict, n: int = 8) -> SampleView:
    """The first job's (or any job's) forget images and the predictions of its kept models
    (``BenchResult.models[job_key(job)]``), in the order original, retrain, then the methods."""
    d = job.loaded.data
    rows = sample_rows(job, n)
    idx = torch.as_tensor(rows)
    fixed = ("original", "retrain")
    order = [m for m in fixed if m in models] + [m for m in models if m not in fixed]
    preds, confs = [], []
    x = job.loaded.Xtr[idx]
    for m in order:
        p = torch.softmax(predict_logits(models[m], x).float(), dim=1)
        c, k = p.max(dim=1)
        preds.append(k.numpy())
        confs.append(c.numpy())
    fine = None
    if job.setting == "sub_class" and d.has_fine:
        fine = [d.fine_names[int(f)] for f in d.fine_train[idx]]
    shape = (len(order), len(rows))
    return SampleView(rows=rows, images=d.X_train[idx].numpy(), true=d.y_train[idx].numpy(), fine=fine,
                      class_names=tuple(d.class_names), models=order,
                      pred=np.array(preds, dtype=np.int64).reshape(shape),
                      conf=np.array(confs, dtype=np.float32).reshape(shape))
