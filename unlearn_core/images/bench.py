"""Image benchmarks: the paper's settings on digits, CIFAR-10/20/100 and image folders, resumable.

``python -m unlearn_core.bench --dataset digits ...`` lands here (``run_cli``). Per seed s:

1. the original model: trained with the dataset's recipe and seed s (or loaded from
   ``--checkpoint``), cached as a weights-only checkpoint under ``OUT/models/`` (resumable);
2. per setting and target: the split (``unlearn_core.images.splits.make_split``), the retrained oracle
   (full re-initialisation, the original recipe on the retain set; cached the same way), and each
   method applied to the original (``unlearn``, hyperparameters from ``methods.DEFAULTS`` for the
   architecture and setting, seed s);
3. every finished (setting, target, seed, method) run is written atomically to
   ``OUT/runs/<...>.json``; a rerun skips those, so a killed run loses nothing finished.

Then ``OUT/results.json``, ``results.csv``, ``table.md`` (mean ± std over seeds with the gap to
retrain) and ``gap.html`` (a plot of each method's gap to retrain). Method time excludes
evaluation; evaluation is batched. Progress reaches the caller as :class:`BenchProgress` events
(what happens, to which job, how many runs are done); the training recipes are
``unlearn_core.images.train.RECIPES``.

Class-level methods (UNSIR, EMMN, GKT: ``MethodSpec.class_level``) are not run in the random setting:
their rows carry ``na = "class-level method"`` (and an ``error`` that says why), NaN metrics, and the
tables show "n/a: class-level method". EMMN and GKT (``full_class_only``) are not run for sub_class either.

Metrics (PAPER.md section 6; directions as EVALUATION.md asks):
- acc_test: the whole test set. acc_retain: test images outside the forgotten (sub)class
  (random: the whole test set). acc_forget: the forgotten class's test images (full_class), the
  fine class's test images scored against their superclass (sub_class), the forgotten training
  images (random). Target for acc_forget: retrain's value.
- mia: the paper's entropy-LR MIA (share of D_f called "member"; target: retrain's value).
- loss_mia: the NeurIPS 2023 starting kit's loss-LR attack accuracy, D_f vs test (target: retrain's, about 0.5).
- js_forget: Jensen-Shannon divergence to the retrained model's predictions on D_f (0 = same).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from unlearn_core.data import resolve_device
from unlearn_core.images.checkpoints import load_model
from unlearn_core.images.cifar import CIFAR_KINDS
from unlearn_core.images.data import ImageData, load_dataset
from unlearn_core.images.splits import SETTINGS, Split, make_split
from unlearn_core.images.train import ImageRecipe, recipe_for, train_images
from unlearn_core.images.zoo import build_from_factory, build_model
from unlearn_core.methods import METHODS, defaults_for, unlearn
from unlearn_core.methods.spec import not_applicable
from unlearn_core.metrics import accuracy, entropy_mia, loss_mia, mean_js
from unlearn_core.report import IMAGE_COLUMNS, IMAGE_GAP_KEYS, table, write_json
from unlearn_core.training import predict_logits

#: The bench's datasets (digits' sub_class setting runs on its parity labels, ``load_variant``).
IMAGE_DATASETS = ("digits", *CIFAR_KINDS, "folder")
#: Methods run for full-class forgetting only (the JiT authors ran EMMN and GKT there alone).
FULL_CLASS_ONLY = tuple(name for name, spec in METHODS.items() if spec.full_class_only)
#: Class-level methods (UNSIR, EMMN, GKT): an "n/a: class-level method" row in the random setting.
CLASS_LEVEL = tuple(name for name, spec in METHODS.items() if spec.class_level)
DEFAULT_MODEL = {"digits": "smallcnn", "cifar10": "vgg11", "cifar20": "vgg11", "cifar100": "vgg11", "folder": "vgg11"}
# Default forget targets: the paper's first (rocket / its superclass) on CIFAR; digit 3 on digits.
DEFAULT_TARGET = {("digits", "full_class"): "3", ("digits", "sub_class"): "3",
                  ("cifar100", "full_class"): "rocket", ("cifar20", "full_class"): "vehicles_2",
                  ("cifar20", "sub_class"): "rocket"}


@dataclass
class Loaded:
    """A dataset variant as the models see it: normalised tensors plus the raw ImageData."""
    data: ImageData
    Xtr: torch.Tensor
    Xte: torch.Tensor
    variant: str  # e.g. "digits", "digits-parity", "cifar20"


def load_variant(dataset: str, setting: str, data_dir: str | None) -> Loaded:
    kw = {}
    variant = dataset
    if dataset == "digits" and setting == "sub_class":
        kw["labels"] = "parity"  # the digits analogue of CIFAR-20's sub-class setting
        variant = "digits-parity"
    data = load_dataset(dataset, data_dir=data_dir, **kw)
    return Loaded(data, data.normalize(data.X_train), data.normalize(data.X_test), variant)


def slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))


def _recipe_hash(recipe: ImageRecipe) -> str:
    return hashlib.sha1(json.dumps(recipe.to_dict(), sort_keys=True).encode()).hexdigest()[:8]


def trained_model(loaded: Loaded, arch: str, recipe: ImageRecipe, seed: int, device, cache_dir: str,
                  *, factory: str | None = None, retain_idx: np.ndarray | None = None, tag: str = "original",
                  checkpoint: str | None = None, on_epoch: Callable[[int, int], None] | None = None):
    """The original (or, with ``retain_idx``, a retrained) model: cached, resumable, weights-only on disk.

    ``on_epoch(epoch, epochs)`` runs after each training epoch (not for epochs resumed from the cache)."""
    d = loaded.data
    in_shape = tuple(loaded.Xtr.shape[1:])
    if checkpoint and retain_idx is None:
        model = load_model(checkpoint, factory=factory, n_classes=d.n_classes, in_shape=in_shape)
        model.fit_recipe = recipe.to_dict()
        return model.to(resolve_device(device)).eval()
    build = (lambda s: build_from_factory(factory, d.n_classes, in_shape, s)) if factory else \
        (lambda s: build_model(arch, d.n_classes, in_shape, seed=s))
    path = None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        path = os.path.join(cache_dir, f"{tag}_{slug(loaded.variant)}_{slug(factory or arch)}_"
                                       f"{_recipe_hash(recipe)}_seed{seed}.pt")
    model = build(seed)
    X, y = loaded.Xtr, d.y_train
    if retain_idx is not None:
        X, y = X[torch.as_tensor(retain_idx)], y[torch.as_tensor(retain_idx)]
    meta = dict(architecture=factory or arch, dataset=loaded.variant, n_classes=d.n_classes, in_shape=list(in_shape),
                seed=int(seed), role=tag)
    cb = None
    if on_epoch is not None:
        cb = lambda e, entry, m: on_epoch(e, recipe.epochs)  # noqa: E731
    train_images(model, X, y, recipe, seed=seed, device=device, checkpoint=path, resume=True,
                 checkpoint_meta=meta, callback=cb)
    return model


def evaluate_images(model, loaded: Loaded, split, *, reference=None) -> dict:
    """The setting's accuracies, both MIAs and the JS divergence to ``reference`` (see the module docstring)."""
    d = loaded.data
    t = lambda idx: torch.as_tensor(np.asarray(idx, dtype=np.int64))  # noqa: E731
    Xtr, ytr, Xte, yte = loaded.Xtr, d.y_train, loaded.Xte, d.y_test
    ftr, rtr = t(split.forget_train), t(split.retain_train)
    forget_train = (Xtr[ftr], ytr[ftr])
    retain_train = (Xtr[rtr], ytr[rtr])
    test = (Xte, yte)
    if len(split.forget_test):
        fte = t(split.forget_test)
        forget_eval = (Xte[fte], yte[fte])
    else:  # random: the forgotten training images themselves
        forget_eval = forget_train
    rte = t(split.retain_test)
    probe = torch.cat([Xte[:256], forget_train[0][:256]])
    if not torch.isfinite(predict_logits(model, probe)).all():  # a diverged model: no metric means anything
        nan = float("nan")
        out = dict(acc_retain=nan, acc_forget=nan, acc_test=nan, acc_forget_train=nan, mia=nan, loss_mia=nan,
                   error="diverged: the model's outputs are no longer finite (try a smaller step)")
        if reference is not None:
            out["js_forget"] = nan
        return out
    out = dict(acc_retain=accuracy(model, Xte[rte], yte[rte]), acc_forget=accuracy(model, *forget_eval),
               acc_test=accuracy(model, *test), acc_forget_train=accuracy(model, *forget_train),
               mia=entropy_mia(model, retain=retain_train, forget=forget_train, test=test),
               loss_mia=loss_mia(model, forget=forget_train, test=test))
    if reference is not None:
        out["js_forget"] = mean_js(model, reference, forget_train[0])
    return out


def run_file(out_dir: str, setting: str, target, seed: int, method: str) -> str:
    return os.path.join(out_dir, "runs", f"{setting}__{slug(target)}__seed{seed}__{method}.json")


def collect(out_dir: str) -> list[dict]:
    rows = []
    folder = os.path.join(out_dir, "runs")
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json"):
                with open(os.path.join(folder, name)) as fh:
                    rows.append(json.load(fh))
    return rows


def write_outputs(rows: list[dict], out_dir: str) -> str:
    """results.json / results.csv / table.md (one table per setting and target); returns the markdown.

    The CLI adds gap.html (``unlearn_core.bench.plots``)."""
    write_json(os.path.join(out_dir, "results.json"), rows)
    keys = ["dataset", "model", "setting", "target", "seed", "method", "n_forget", *[c[0] for c in IMAGE_COLUMNS],
            "acc_forget_train", "steps", "na"]
    tmp = os.path.join(out_dir, "results.csv.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    os.replace(tmp, os.path.join(out_dir, "results.csv"))
    parts = []
    groups = list(dict.fromkeys((r["setting"], str(r["target"])) for r in rows))
    for setting, target in groups:
        sub = [r for r in rows if r["setting"] == setting and str(r["target"]) == target]
        seeds = sorted({r["seed"] for r in sub})
        parts.append(f"**{sub[0]['dataset']} / {sub[0]['model']}, {setting}, forget {target}** "
                     f"({sub[0]['n_forget']} training images; seeds {','.join(map(str, seeds))}; "
                     f"mean ± std, (gap to retrain))\n\n" + table(sub, cols=IMAGE_COLUMNS, gap_keys=IMAGE_GAP_KEYS))
    md = "\n\n".join(parts)
    tmp = os.path.join(out_dir, "table.md.tmp")
    with open(tmp, "w") as fh:
        fh.write(md + "\n")
    os.replace(tmp, os.path.join(out_dir, "table.md"))
    return md


@dataclass
class BenchConfig:
    """What to run: the CLI's flags, or the app's widgets."""
    dataset: str = "digits"
    data_dir: str | None = None
    model: str | None = None  # architecture (default per dataset)
    model_factory: str | None = None  # "package.module:factory" for users' own models
    checkpoint: str | None = None  # a trained original (weights only)
    settings: tuple = ("full_class",)
    targets: tuple | None = None  # class / fine-class names or indices (default per dataset and setting)
    forget_count: int | None = None  # random setting
    methods: tuple | None = None  # default: all
    seeds: tuple = (0,)
    device: str = "auto"
    out_dir: str | None = None  # None: nothing written, nothing resumed (the app)
    train_epochs: int | None = None
    train_lr: float | None = None
    train_batch_size: int | None = None
    amp: bool = False
    overrides: dict | None = None  # method -> hyperparameters

    @property
    def arch(self) -> str:
        return self.model or DEFAULT_MODEL[self.dataset]


@dataclass
class Job:
    setting: str
    label: str  # the target as shown ("3", "rocket", "27 random")
    seed: int
    split: Split
    loaded: Loaded


@dataclass(frozen=True)
class BenchProgress:
    """One report of ``run_benchmark`` to its ``progress`` callback.

    ``done`` of ``total`` runs are finished (a run: one model of one job, i.e. the original, retrain or
    a method for one setting, target and seed). ``stage`` says what just happened:

    - "resumed": ``skipped`` runs of this job were already on disk (``done`` counts them);
    - "training": the original model for ``seed`` starts training;
    - "retraining": the retrained oracle of this job starts training;
    - "epoch": ``model`` ("original" or "retrain") finished training epoch ``epoch`` of ``epochs``;
    - "finished": the run of ``method`` (original, retrain or a method) is evaluated and recorded.

    ``setting``, ``target`` (the job's label: "3", "rocket", "27 random") and ``seed`` name the job.
    ``text`` says it in one line (the CLI's progress bar shows it).
    """
    done: int
    total: int
    stage: str
    setting: str
    target: str
    seed: int
    method: str | None = None
    model: str | None = None
    epoch: int | None = None
    epochs: int | None = None
    skipped: int = 0

    @property
    def text(self) -> str:
        job = f"{self.setting} {self.target}, seed {self.seed}"
        if self.stage == "resumed":
            return f"{job}: already done"
        if self.stage == "training":
            return f"training the original model, seed {self.seed}"
        if self.stage == "retraining":
            return f"retraining without {self.target} ({self.setting}), seed {self.seed}"
        if self.stage == "epoch":
            tag = "original" if self.model == "original" else f"retrain-{self.setting}-{slug(self.target)}"
            return f"{tag} seed {self.seed}: epoch {self.epoch}/{self.epochs}"
        return f"{self.method}: {job}"


@dataclass
class BenchResult:
    rows: list[dict]
    jobs: list[Job]
    models: dict  # (setting, label, seed) -> {method: model} (only with keep_models)


def plan_jobs(cfg: BenchConfig) -> list[Job]:
    """Every (setting, target, seed) job, built before any training so that bad targets fail early."""
    if cfg.dataset not in IMAGE_DATASETS:
        raise ValueError(f"unknown image dataset {cfg.dataset!r}; choose one of {', '.join(IMAGE_DATASETS)}")
    if cfg.dataset == "folder" and not cfg.data_dir:
        raise ValueError("--dataset folder needs --data-dir pointing at a folder with one subfolder per class")
    if cfg.dataset in CIFAR_KINDS and not cfg.data_dir:
        raise ValueError(f"--dataset {cfg.dataset} needs --data-dir: the CIFAR 'python version' archive "
                         "(.tar.gz) or its extracted folder (nothing is downloaded)")
    bad = [s for s in cfg.settings if s not in SETTINGS]
    if bad or not cfg.settings:
        raise ValueError(f"image settings are {', '.join(SETTINGS)} (or all), got {', '.join(bad) or 'none'}")
    methods = list(cfg.methods or METHODS)
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    jobs, loaded_by = [], {}
    for setting in cfg.settings:
        variant = "digits-parity" if cfg.dataset == "digits" and setting == "sub_class" else cfg.dataset
        if variant not in loaded_by:
            loaded_by[variant] = load_variant(cfg.dataset, setting, cfg.data_dir)
        loaded = loaded_by[variant]
        if setting == "random":
            targets = [None]
        else:
            targets = list(cfg.targets) if cfg.targets else [DEFAULT_TARGET.get((cfg.dataset, setting))]
            if targets == [None]:
                raise ValueError(f"--setting {setting} on {cfg.dataset} needs --target (a class name or index; "
                                 f"classes: {', '.join(map(str, loaded.data.class_names[:20]))})")
        for target in targets:
            for seed in cfg.seeds:
                split = make_split(loaded.data, setting, target, seed=seed, n_random=cfg.forget_count)
                label = f"{len(split.forget_train)} random" if setting == "random" else str(target)
                jobs.append(Job(setting, label, int(seed), split, loaded))
    return jobs


def run_benchmark(cfg: BenchConfig, *, progress: Callable[[BenchProgress], None] | None = None,
                  keep_models: bool = False) -> BenchResult:
    """Run every job of ``cfg``; with ``cfg.out_dir`` each finished run is written and a rerun resumes.

    ``progress(event)`` receives a :class:`BenchProgress` after every run, when a model starts
    training and after each of its epochs. Raises ValueError on bad input before any training.
    """
    jobs = plan_jobs(cfg)
    methods = [m for m in (cfg.methods or METHODS) if m != "retrain"]
    arch, dev = cfg.arch, resolve_device(cfg.device)
    overrides = cfg.overrides or {}
    out = cfg.out_dir
    if out:
        os.makedirs(os.path.join(out, "runs"), exist_ok=True)
    done_files = set(os.listdir(os.path.join(out, "runs"))) if out else set()
    models_dir = os.path.join(out, "models") if out else None
    names = ["original", "retrain"] + methods
    total, count = len(jobs) * len(names), [0]
    rows: list[dict] = []
    kept: dict = {}
    originals: dict = {}

    def report(job: Job, stage: str, finished: int = 0, **details) -> None:
        count[0] += finished
        if progress is not None:
            progress(BenchProgress(count[0], total, stage, job.setting, job.label, job.seed, **details))

    for job in jobs:
        recipe = recipe_for(cfg.dataset, arch, epochs=cfg.train_epochs, lr=cfg.train_lr,
                            batch_size=cfg.train_batch_size)
        if dev.type == "cuda":
            recipe.amp, recipe.channels_last = bool(cfg.amp), True
        todo = [m for m in names if os.path.basename(run_file(out, job.setting, job.label, job.seed, m))
                not in done_files] if out else list(names)
        if out:
            rows += [r for r in _load_runs(out, job, names) if r["method"] not in todo]
        if len(todo) < len(names):
            skipped = len(names) - len(todo)
            report(job, "resumed", skipped, skipped=skipped)
        if not todo:
            continue
        key = (job.loaded.variant, job.seed)
        if key not in originals:
            report(job, "training")
            originals[key] = trained_model(
                job.loaded, arch, recipe, job.seed, dev, models_dir, factory=cfg.model_factory,
                checkpoint=cfg.checkpoint,
                on_epoch=lambda e, n, job=job: report(job, "epoch", model="original", epoch=e, epochs=n))
        original = originals[key]
        report(job, "retraining")
        retrained = trained_model(
            job.loaded, arch, recipe, job.seed, dev, models_dir, factory=cfg.model_factory,
            retain_idx=job.split.retain_train, tag=f"retrain-{job.setting}-{slug(job.label)}",
            on_epoch=lambda e, n, job=job: report(job, "epoch", model="retrain", epoch=e, epochs=n))
        d = job.loaded.data
        ft, rt = torch.as_tensor(job.split.forget_train), torch.as_tensor(job.split.retain_train)
        forget = (job.loaded.Xtr[ft], d.y_train[ft])
        retain = (job.loaded.Xtr[rt], d.y_train[rt])
        base = dict(dataset=cfg.dataset, model=cfg.model_factory or arch, setting=job.setting, target=job.label,
                    seed=job.seed, n_forget=int(len(job.split.forget_train)))
        profile = defaults_for(arch, job.setting)
        job_models = kept.setdefault((job.setting, job.label, job.seed), {}) if keep_models else {}
        for m in todo:
            na = None if m in ("original", "retrain") else not_applicable(METHODS[m], job.setting)
            if m in ("original", "retrain"):
                # retrain's seconds: the oracle's training time, kept in its checkpoint's history.
                model = original if m == "original" else retrained
                secs = 0.0 if m == "original" else training_seconds(retrained)
                steps, hp, error = 0, recipe.to_dict(), None
            elif na:
                model, secs, steps, hp = None, float("nan"), 0, {}
                error = f"n/a: {na} ({m} forgets whole classes; the {job.setting} setting has none to forget)"
            elif m in FULL_CLASS_ONLY and job.setting != "full_class":
                model, secs, steps, hp = None, float("nan"), 0, {}
                error = f"{m} is a full-class method (Chundawat et al.); not run in the {job.setting} setting"
            else:
                hp = dict(overrides.get(m, {}))
                hp.setdefault("seed", job.seed)
                try:
                    res = unlearn(m, original, forget=forget, retain=retain, device=dev, profile=profile, **hp)
                    model, secs, steps, hp, error = res.model, res.seconds, len(res.history), res.hyperparameters, None
                except ValueError as err:  # e.g. EMMN / GKT on a setting they do not support
                    model, secs, steps, error = None, float("nan"), 0, str(err)
            metrics = (evaluate_images(model, job.loaded, job.split, reference=retrained) if model is not None
                       else {k: float("nan") for k, _, _ in IMAGE_COLUMNS if k != "seconds"})
            row = dict(base, method=m, seconds=secs, steps=steps, hyperparameters=hp, **metrics)
            if error:
                row["error"] = error
            if na:
                row["na"] = na  # tables show "n/a: class-level method"
            if out:
                write_json(run_file(out, job.setting, job.label, job.seed, m), row)
            rows.append(row)
            if keep_models and model is not None:
                job_models[m] = model
            report(job, "finished", 1, method=m)
    order = ["original", "retrain"] + methods
    rows.sort(key=lambda r: (SETTINGS.index(r["setting"]), str(r["target"]), order.index(r["method"]), r["seed"]))
    return BenchResult(rows, jobs, kept)


def _load_runs(out: str, job: Job, names) -> list[dict]:
    rows = []
    for m in names:
        path = run_file(out, job.setting, job.label, job.seed, m)
        if os.path.exists(path):
            with open(path) as fh:
                rows.append(json.load(fh))
    return rows


def training_seconds(model) -> float:
    """Wall-clock seconds of the model's training, summed over resumed sessions (NaN if unknown)."""
    hist = getattr(model, "fit_history", None) or []
    return float(hist[-1].get("seconds", float("nan"))) if hist else float("nan")
