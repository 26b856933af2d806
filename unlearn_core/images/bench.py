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

Keys. Every cached model and every run carries a key: everything that determines it (the data's
fingerprint, the setting, target and split, the seed, the architecture, the training recipe, the
original and retrain it was measured against, the method with its resolved hyperparameters and the
version of its code, the evaluation code, the device type; ``Plan.run_key``). Models are cached
under a name ending in their key's hash; a run file stores its key, and a rerun reuses it only when
the key is equal. Anything else (other settings, a damaged file, a run that failed) is recomputed
and ``BenchResult.notes`` says which file and which field differed. The cells of the grid
(``plan_benchmark``, ``original_model``, ``run_job``, ``record``) are what the engines of
``unlearn_core.bench.engine`` distribute; ``run_benchmark`` is the serial engine.

The forgetting audit (``BenchConfig.audit`` = K, ``--audit K``): per cell, the members of
``unlearn_core.images.audit`` (2K retrains, K unlearned models per method, K originals under the
"originals" protocol) are run (``run_audit_member``) and scored (``add_audit``), and their columns go onto
the cell's rows before they are written; the run keys hold K, the protocol and the audit's code.

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

import ast
import csv
import functools
import hashlib
import inspect
import io
import json
import os
import textwrap
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from unlearn_core import audit as audit_core, metrics, models
from unlearn_core.data import resolve_device
from unlearn_core.images import audit as image_audit, train, zoo
from unlearn_core.images.audit import AUDIT_RETAIN_SAMPLE, Member, audit_data, check_audit, plan_members
from unlearn_core.images.checkpoints import CheckpointError, load_checkpoint, load_model
from unlearn_core.images.cifar import CIFAR_KINDS
from unlearn_core.images.data import ImageData, load_dataset
from unlearn_core.images.splits import SETTINGS, Split, make_split
from unlearn_core.images.train import ImageRecipe, recipe_for, train_images
from unlearn_core.images.zoo import architecture_meta, build_from_factory, build_model, canonical_name
from unlearn_core.methods import DEFAULTS, METHODS, common, defaults_for, unlearn
from unlearn_core.methods.spec import not_applicable
from unlearn_core.metrics import accuracy, entropy_mia, loss_mia, mean_js
from unlearn_core.report import IMAGE_COLUMNS, IMAGE_GAP_KEYS, atomic_write_text, strict_json, table, write_json
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


# ----------------------------------------------------------------------------------------------------------
# Keys: what determines a cached model or a run
# ----------------------------------------------------------------------------------------------------------

#: Bumped when what a run row means changes (its layout, the metrics): every stored run is then recomputed.
RUN_FORMAT = 2


def digest(value) -> str:
    """A short stable hash (16 hex digits) of plain data (dicts, lists, numbers, strings)."""
    text = json.dumps(strict_json(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


@functools.lru_cache(maxsize=None)
def code_version(path: str) -> str:
    """The version of a source file's *code*: a hash of its syntax tree without docstrings, so editing a
    comment or a docstring keeps every cached result, and editing the code invalidates them."""
    with open(path, encoding="utf-8") as fh:
        tree = _strip_docstrings(ast.parse(fh.read()))
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def _module_file(obj) -> str:
    return inspect.getsourcefile(obj) or ""


def method_version(method: str) -> str:
    """The code version of a method: its file (``methods/<name>.py``) and the helpers every method shares."""
    files = [_module_file(METHODS[method].run), _module_file(common)]
    return digest([code_version(f) for f in files])


def model_code_version() -> str:
    """The code that builds and trains the bench's models: the zoo, the SmallCNN and initialisation, the trainer."""
    return digest([code_version(_module_file(m)) for m in (zoo, models, train)])


def evaluation_version() -> str:
    """The code that scores a run: the metrics and this module's ``evaluate_images``."""
    src = textwrap.dedent(inspect.getsource(evaluate_images))
    return digest([code_version(_module_file(metrics)),
                   hashlib.sha256(ast.dump(_strip_docstrings(ast.parse(src))).encode()).hexdigest()])


def data_fingerprint(data: ImageData) -> str:
    """A hash of the data itself (images, labels, class names): two data dirs with the same images agree,
    a changed file does not."""
    h = hashlib.sha256()
    for t in (data.X_train, data.y_train, data.X_test, data.y_test, data.fine_train, data.fine_test):
        if t is not None:
            t = t.detach().cpu().contiguous()
            h.update(str((t.dtype, tuple(t.shape))).encode())
            h.update(t.numpy().tobytes())
    h.update(json.dumps([data.name, list(data.class_names), list(data.fine_names or [])]).encode())
    return h.hexdigest()[:16]


def file_fingerprint(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def index_digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.asarray(a, dtype=np.int64).tobytes())
        h.update(b"|")
    return h.hexdigest()[:16]


def key_difference(old: dict | None, new: dict) -> str:
    """The fields in which two keys differ, in words: "recipe (epochs 1 -> 3), original"."""
    if not isinstance(old, dict):
        return "no key (written by an older version)"
    parts = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            sub = [f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
            parts.append(f"{name} ({', '.join(sub[:4])}{', ...' if len(sub) > 4 else ''})")
        elif isinstance(a, (dict, list)) or isinstance(b, (dict, list)) or name in ("original", "retrain", "data",
                                                                                       "split", "code"):
            parts.append(name)
        else:
            parts.append(f"{name} ({a!r} -> {b!r})")
    return ", ".join(parts) or "nothing"


# ----------------------------------------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------------------------------------

def checkpoint_architecture(path: str) -> tuple[str | None, str | None]:
    """(zoo architecture, factory spec) a checkpoint records; (None, None) for a bare state_dict."""
    meta = load_checkpoint(path)["meta"] or {}
    return meta.get("architecture"), meta.get("factory")


def resolve_architecture(cfg: "BenchConfig") -> str:
    """The architecture the bench runs: with ``--checkpoint``, the checkpoint's (a different ``--model`` or
    ``--model-factory`` is an error naming both); else ``--model-factory``, ``--model`` or the dataset's default.

    A factory named inside a checkpoint is never imported on the file's say-so: ``--model-factory`` must
    name it."""
    asked = cfg.model_factory or (canonical_name(cfg.model) if cfg.model else None)
    if cfg.checkpoint:
        if not os.path.isfile(cfg.checkpoint):
            raise ValueError(f"--checkpoint {cfg.checkpoint}: no such file")
        try:
            zoo_arch, factory = checkpoint_architecture(cfg.checkpoint)
        except CheckpointError as err:
            raise ValueError(f"--checkpoint: {err}") from None
        saved = zoo_arch or factory
        if saved is not None and asked is not None and saved != asked:
            flag = "--model-factory" if cfg.model_factory else "--model"
            raise ValueError(f"--checkpoint {cfg.checkpoint} holds a {saved} but {flag} {asked} was given; "
                             f"leave out {flag} (the architecture comes from the checkpoint) or give a {asked} "
                             "checkpoint")
        if zoo_arch is None and factory is not None and asked is None:
            raise ValueError(f"--checkpoint {cfg.checkpoint} was saved from factory {factory}; add --model-factory "
                             f"{factory} if you trust that module (it is never imported on the file's say-so)")
        if saved is not None:
            return saved
        if asked is None:
            raise ValueError(f"--checkpoint {cfg.checkpoint} is a bare state_dict that does not say which "
                             "architecture it holds; add --model (or --model-factory)")
        return asked
    return asked or DEFAULT_MODEL[cfg.dataset]


def _build(arch: str, n_classes: int, in_shape, seed=None):
    if ":" in arch:
        return build_from_factory(arch, n_classes, in_shape, seed)
    return build_model(arch, n_classes, in_shape, seed=seed)


def trained_model(loaded: Loaded, arch: str, recipe: ImageRecipe, seed: int, device, cache_dir: str,
                  *, factory: str | None = None, retain_idx: np.ndarray | None = None, tag: str = "original",
                  checkpoint: str | None = None, on_epoch: Callable[[int, int], None] | None = None,
                  key: dict | None = None):
    """The original (or, with ``retain_idx``, a retrained) model: cached, resumable, weights-only on disk.

    ``key``: everything that determines the model (``Plan.model_key``); the cache file's name ends in its
    hash and the checkpoint records it, so a model trained under other settings is never reused.
    ``on_epoch(epoch, epochs)`` runs after each training epoch (not for epochs resumed from the cache)."""
    d = loaded.data
    in_shape = tuple(loaded.Xtr.shape[1:])
    arch = factory or arch  # a zoo name, or a factory spec ("package.module:function")
    factory = arch if ":" in arch else None
    if checkpoint and retain_idx is None:
        model = load_model(checkpoint, factory=factory, n_classes=d.n_classes, in_shape=in_shape,
                           architecture=None if factory else arch)
        model.fit_recipe = recipe.to_dict()
        return model.to(resolve_device(device)).eval()
    if key is None:
        key = dict(role=tag, data=data_fingerprint(d), variant=loaded.variant, architecture=arch,
                   recipe=recipe.to_dict(), seed=int(seed), code=model_code_version(),
                   retain=None if retain_idx is None else index_digest(retain_idx))
    key_hash = digest(key)
    path = None
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        path = os.path.join(cache_dir, f"{tag}_{slug(loaded.variant)}_{slug(arch)}_seed{seed}_{key_hash}.pt")
        if os.path.exists(path):
            try:
                stored = (load_checkpoint(path)["meta"] or {}).get("cache_key")
            except (CheckpointError, OSError):
                stored = None
            if stored != key_hash:  # damaged, or not this model: train afresh
                os.unlink(path)
    model = _build(arch, d.n_classes, in_shape, seed)
    X, y = loaded.Xtr, d.y_train
    if retain_idx is not None:
        X, y = X[torch.as_tensor(retain_idx)], y[torch.as_tensor(retain_idx)]
    meta = dict(architecture=arch, dataset=loaded.variant, n_classes=d.n_classes, in_shape=list(in_shape),
                seed=int(seed), role=tag, cache_key=key_hash)
    cb = None
    if on_epoch is not None:
        cb = lambda e, entry, m: on_epoch(e, recipe.epochs)  # noqa: E731
    train_images(model, X, y, recipe, seed=seed, device=device, checkpoint=path, resume=True,
                 checkpoint_meta=meta, callback=cb)
    return model


def model_package(model) -> dict:
    """A model as plain data that travels between processes: its architecture, CPU state_dict and history."""
    return dict(meta=architecture_meta(model), state_dict={k: v.detach().cpu() for k, v in model.state_dict().items()},
                fit_recipe=getattr(model, "fit_recipe", None), fit_history=getattr(model, "fit_history", None))


def model_from_package(pkg: dict, arch: str, n_classes: int, in_shape, device):
    """Rebuild a ``model_package`` (zoo models with their recorded options; factories by ``arch``)."""
    meta = pkg.get("meta") or {}
    if meta.get("architecture"):
        model = build_model(meta["architecture"], n_classes, in_shape, **dict(meta.get("options") or {}))
    else:
        model = _build(arch, n_classes, in_shape)
    model.load_state_dict(pkg["state_dict"], strict=True)
    model.fit_recipe, model.fit_history = pkg.get("fit_recipe"), pkg.get("fit_history")
    return model.to(resolve_device(device)).eval()


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


# ----------------------------------------------------------------------------------------------------------
# Run files and outputs
# ----------------------------------------------------------------------------------------------------------

#: The numeric fields of a row: stored as JSON null where NaN, read back as NaN.
NUMERIC_FIELDS = ("acc_retain", "acc_forget", "acc_test", "acc_forget_train", "mia", "loss_mia", "js_forget",
                  "seconds")
#: The audit's columns of a row (``--audit K``); its numbers are stored as JSON null where NaN too.
AUDIT_FIELDS = ("audit_F", "audit_final", "audit_eps_mean", "audit_ulira", "audit_retain_F", "audit_no_spread",
                "audit_spread_capped", "audit_error")


def run_file(out_dir: str, setting: str, target, seed: int, method: str) -> str:
    return os.path.join(out_dir, "runs", f"{setting}__{slug(target)}__seed{seed}__{method}.json")


class DamagedRunError(ValueError):
    """A file under ``runs/`` that is not a whole run row (truncated, edited, not JSON)."""


def read_run(path: str) -> dict:
    """One run row from ``path``: JSON nulls in numeric fields back to NaN. DamagedRunError names the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            row = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DamagedRunError(f"{path} is damaged ({type(err).__name__}: {str(err)[:120]}); delete it to "
                              "recompute that run") from None
    if not isinstance(row, dict) or not isinstance(row.get("method"), str):
        raise DamagedRunError(f"{path} is damaged (not a run row); delete it to recompute that run")
    for k in NUMERIC_FIELDS + AUDIT_FIELDS[:5]:
        if k in row and row[k] is None:
            row[k] = float("nan")
    return row


def collect(out_dir: str) -> list[dict]:
    """Every run row under ``out_dir/runs`` (DamagedRunError names a damaged file)."""
    rows = []
    folder = os.path.join(out_dir, "runs")
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".json") and not name.startswith("."):
                rows.append(read_run(os.path.join(folder, name)))
    return rows


def write_outputs(rows: list[dict], out_dir: str) -> str:
    """results.json / results.csv / table.md (one table per setting and target); returns the markdown.

    Every file is written atomically under a unique temporary name (``report.atomic_write_text``): two
    runs sharing ``out_dir`` never corrupt each other, and a reader never sees a partial file.
    The CLI adds gap.html (``unlearn_core.bench.plots``)."""
    write_json(os.path.join(out_dir, "results.json"), rows)
    keys = ["dataset", "model", "setting", "target", "seed", "method", "n_forget", *[c[0] for c in IMAGE_COLUMNS],
            "acc_forget_train", "steps", "na", "error"]
    if any("audit" in r or "audit_error" in r for r in rows):
        keys += list(AUDIT_FIELDS)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_text(os.path.join(out_dir, "results.csv"), buf.getvalue())
    parts = []
    groups = list(dict.fromkeys((r["setting"], str(r["target"])) for r in rows))
    for setting, target in groups:
        sub = [r for r in rows if r["setting"] == setting and str(r["target"]) == target]
        seeds = sorted({r["seed"] for r in sub})
        parts.append(f"**{sub[0]['dataset']} / {sub[0]['model']}, {setting}, forget {target}** "
                     f"({sub[0]['n_forget']} training images; seeds {','.join(map(str, seeds))}; "
                     f"mean ± std, (gap to retrain; ± retrain's spread over seeds))\n\n" + table(sub, cols=IMAGE_COLUMNS, gap_keys=IMAGE_GAP_KEYS))
    md = "\n\n".join(parts)
    atomic_write_text(os.path.join(out_dir, "table.md"), md + "\n")
    return md


# ----------------------------------------------------------------------------------------------------------
# The plan and its cells
# ----------------------------------------------------------------------------------------------------------

@dataclass
class BenchConfig:
    """What to run: the CLI's flags, or the app's widgets."""
    dataset: str = "digits"
    data_dir: str | None = None
    model: str | None = None  # architecture (default per dataset; with a checkpoint, the checkpoint's)
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
    audit: int = 0  # K models per sample of the forgetting audit of every cell (0: no audit; unlearn_core.images.audit)
    audit_protocol: str = "challenge"  # where the audit's unlearned models come from (unlearn_core.audit.PROTOCOLS)

    @property
    def arch(self) -> str:
        """The architecture asked for (without reading a checkpoint; ``resolve_architecture`` does)."""
        return self.model_factory or self.model or DEFAULT_MODEL[self.dataset]


@dataclass
class Job:
    """One cell of the grid: a (setting, target, seed), its split and its data."""
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
    - "finished": the run of ``method`` (original, retrain or a method) is evaluated and recorded;
    - "audit" (with ``cfg.audit``): member ``epoch`` of ``epochs`` of the job's audit is done; ``method``
      names it ("reference 3", "jit 0").

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
        if self.stage == "audit":
            return f"audit {job}: {self.method} ({self.epoch}/{self.epochs})"
        return f"{self.method}: {job}"


@dataclass
class BenchResult:
    rows: list[dict]
    jobs: list[Job]
    models: dict  # (setting, label, seed) -> {method: model} (only with keep_models)
    notes: list[str] = field(default_factory=list)  # stored runs recomputed, and why (the CLI prints them)


@dataclass
class Plan:
    """Everything ``run_benchmark`` and the engines (``unlearn_core.bench.engine``) share: the resolved
    configuration, the jobs (cells) and the keys of every model and run."""
    cfg: BenchConfig
    jobs: list[Job]
    arch: str  # a zoo name, or a factory spec
    recipe: ImageRecipe
    device: str  # "cpu" or "cuda[:i]", resolved
    methods: list[str]  # without retrain
    fingerprints: dict  # variant -> data fingerprint
    checkpoint_hash: str | None = None
    #: code versions, read once on the driver (workers use these, never their own copy of the files):
    #: {"model": ..., "evaluation": ..., "methods": {name: ...}}
    versions: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return ["original", "retrain"] + self.methods

    @property
    def models_dir(self) -> str | None:
        return os.path.join(self.cfg.out_dir, "models") if self.cfg.out_dir else None

    def original_key(self, loaded: Loaded, seed: int) -> dict:
        if self.checkpoint_hash:
            return dict(role="original", checkpoint=self.checkpoint_hash, architecture=self.arch,
                        data=self.fingerprints[loaded.variant])
        return dict(role="original", data=self.fingerprints[loaded.variant], variant=loaded.variant,
                    architecture=self.arch, recipe=self.recipe.to_dict(), seed=int(seed), code=self.versions["model"])

    def retrain_key(self, job: Job) -> dict:
        return dict(role="retrain", data=self.fingerprints[job.loaded.variant], variant=job.loaded.variant,
                    architecture=self.arch, recipe=self.recipe.to_dict(), seed=int(job.seed),
                    code=self.versions["model"], retain=index_digest(job.split.retain_train))

    def hyperparameters(self, job: Job, method: str) -> dict:
        """The method's resolved hyperparameters for this job: the profile's defaults, the overrides, the seed."""
        spec = METHODS[method]
        given = dict((self.cfg.overrides or {}).get(method, {}))
        given.setdefault("seed", job.seed)
        return dict(DEFAULTS[defaults_for(self.arch if ":" not in self.arch else "image", job.setting)][method],
                    **spec.check(given))

    def run_key(self, job: Job, method: str) -> dict:
        """Everything that determines one run's row: data, split, setting, target, seed, architecture,
        recipe, the original and retrain, the method with its hyperparameters and code version, the
        evaluation code, the device type."""
        key = dict(format=RUN_FORMAT, dataset=self.cfg.dataset, data=self.fingerprints[job.loaded.variant],
                   setting=job.setting, target=job.label, seed=int(job.seed),
                   split=index_digest(job.split.forget_train, job.split.retain_train, job.split.forget_test,
                                      job.split.retain_test),
                   architecture=self.arch, recipe=self.recipe.to_dict(),
                   original=digest(self.original_key(job.loaded, job.seed)), retrain=digest(self.retrain_key(job)),
                   method=method, evaluation=self.versions["evaluation"], device=torch.device(self.device).type)
        if method not in ("original", "retrain"):
            key["hyperparameters"] = self.hyperparameters(job, method)
            key["code"] = self.versions["methods"][method]
        if self.cfg.audit:  # a row with audit columns: another K or protocol is another row
            key["audit"] = dict(K=int(self.cfg.audit), protocol=self.cfg.audit_protocol,
                                retain_sample=AUDIT_RETAIN_SAMPLE, code=self.versions["audit"])
        return key

    def audited(self, job: Job, method: str) -> bool:
        """Whether the audit measures ``method`` in this job (not a method that does not run in its setting)."""
        if method in ("original", "retrain"):
            return True
        return not not_applicable(METHODS[method], job.setting) and not (
            method in FULL_CLASS_ONLY and job.setting != "full_class")

    def audit_members(self, job: Job, todo) -> list[Member]:
        """The audit's members for the runs ``todo`` of ``job`` (none without ``cfg.audit``): the reference,
        the floor when the retrain row is to do, the ceiling when the original row is, K per method to do."""
        methods = [m for m in self.methods if m in todo and self.audited(job, m)]
        floor, ceiling = "retrain" in todo, "original" in todo
        if not self.cfg.audit or not (methods or floor or ceiling):
            return []
        return plan_members(job.seed, int(self.cfg.audit), self.cfg.audit_protocol, methods, floor=floor,
                            ceiling=ceiling)


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


def plan_benchmark(cfg: BenchConfig, *, device: str | None = None) -> Plan:
    """Check ``cfg`` and build the plan (jobs, architecture, recipe, keys); ValueError before any training.

    ``device``: where the runs will happen when that is not this process (an engine's workers: "cuda"
    on a cluster's GPUs); default ``cfg.device`` resolved here."""
    jobs = plan_jobs(cfg)
    arch = resolve_architecture(cfg)
    dev = torch.device(device) if device is not None else resolve_device(cfg.device)
    recipe_arch = arch if ":" not in arch else "image"
    recipe = recipe_for(cfg.dataset, recipe_arch, epochs=cfg.train_epochs, lr=cfg.train_lr,
                        batch_size=cfg.train_batch_size)
    if dev.type == "cuda":
        recipe.amp, recipe.channels_last = bool(cfg.amp), True
    fingerprints = {}
    for job in jobs:
        if job.loaded.variant not in fingerprints:
            fingerprints[job.loaded.variant] = data_fingerprint(job.loaded.data)
    methods = [m for m in (cfg.methods or METHODS) if m != "retrain"]
    versions = dict(model=model_code_version(), evaluation=evaluation_version(),
                    methods={m: method_version(m) for m in methods},
                    audit=digest([code_version(_module_file(m)) for m in (audit_core, image_audit)]))
    if cfg.audit:
        check_audit(cfg.audit, cfg.audit_protocol)
    plan = Plan(cfg, jobs, arch, recipe, str(dev), methods, fingerprints,
                checkpoint_hash=file_fingerprint(cfg.checkpoint) if cfg.checkpoint else None, versions=versions)
    for job in jobs:  # every override is checked against its method before anything runs
        for m in methods:
            plan.hyperparameters(job, m)
    return plan


def stored_runs(plan: Plan, job: Job) -> tuple[dict, list[str], list[str]]:
    """({method: row} of the job's runs on disk that can be reused, the methods still to run, notes).

    A stored run is reused only when its key equals the key of the run asked for; otherwise (other
    settings, a damaged file, a run that failed) it is recomputed, and a note says which file and why."""
    out = plan.cfg.out_dir
    if not out:
        return {}, list(plan.names), []
    done, todo, notes = {}, [], []
    for m in plan.names:
        path = run_file(out, job.setting, job.label, job.seed, m)
        if not os.path.exists(path):
            todo.append(m)
            continue
        try:
            row = read_run(path)
        except DamagedRunError as err:
            notes.append(f"{err}: recomputed")
            todo.append(m)
            continue
        key = plan.run_key(job, m)
        if not isinstance(row.get("key"), dict):
            notes.append(f"{path} has no key (written by an older version of the bench): recomputed")
            todo.append(m)
        elif row["key"] != key:
            notes.append(f"{path} was made with a different {key_difference(row['key'], key)}: recomputed")
            todo.append(m)
        elif row.get("failed"):
            notes.append(f"{path} holds a failed run ({str(row.get('error'))[:80]}): retried")
            todo.append(m)
        else:
            done[m] = row
    return done, todo, notes


def record(plan: Plan, row: dict) -> None:
    """Write one finished run atomically to ``OUT/runs/`` (the driver alone writes; nothing without out_dir)."""
    if plan.cfg.out_dir:
        write_json(run_file(plan.cfg.out_dir, row["setting"], row["target"], row["seed"], row["method"]), row)


def failed_rows(plan: Plan, job: Job, todo, error: str) -> list[dict]:
    """Rows for the runs of a cell that could not be computed (a task that died): marked failed, so a rerun
    retries them; the table shows them as failures."""
    nan = float("nan")
    rows = []
    for m in todo:
        row = dict(_base(plan, job), method=m, seconds=nan, steps=0, hyperparameters={},
                   **{k: nan for k in NUMERIC_FIELDS if k != "seconds"}, error=error, failed=True,
                   key=plan.run_key(job, m))
        rows.append(row)
    return rows


def _base(plan: Plan, job: Job) -> dict:
    return dict(dataset=plan.cfg.dataset, model=plan.arch, setting=job.setting, target=job.label, seed=job.seed,
                n_forget=int(len(job.split.forget_train)))


def original_model(plan: Plan, loaded: Loaded, seed: int, *, cache_dir: str | None = None, on_epoch=None):
    """The original of ``seed`` on ``loaded``: trained (cached under ``cache_dir``) or from the checkpoint."""
    return trained_model(loaded, plan.arch, plan.recipe, seed, plan.device, cache_dir, checkpoint=plan.cfg.checkpoint,
                         key=plan.original_key(loaded, seed), on_epoch=on_epoch)


def run_job(plan: Plan, job: Job, original, todo, *, cache_dir: str | None = None, report=None,
            keep_models: bool = False, on_row=None) -> tuple[list[dict], dict]:
    """One cell: the retrained oracle (cached under ``cache_dir``), then every run in ``todo`` (original,
    retrain, methods), evaluated. Returns (rows, {method: model} when ``keep_models``); writes nothing.

    A method that refuses its inputs (ValueError) gives a row with the ``error``; one that crashes (any
    other exception) a row with ``error`` and ``failed``, which is not final: a rerun retries it. The
    rest of the cell goes on. ``report(stage, finished, **details)`` is called as
    ``run_benchmark``'s progress events; ``on_row(row)`` as soon as each row is ready (the serial
    engine writes it there, so a killed run loses nothing finished)."""
    report = report or (lambda *a, **k: None)
    if not todo:
        return [], {}
    report("retraining")
    retrained = trained_model(
        job.loaded, plan.arch, plan.recipe, job.seed, plan.device, cache_dir,
        retain_idx=job.split.retain_train, tag=f"retrain-{job.setting}-{slug(job.label)}", key=plan.retrain_key(job),
        on_epoch=lambda e, n: report("epoch", model="retrain", epoch=e, epochs=n))
    d = job.loaded.data
    ft, rt = torch.as_tensor(job.split.forget_train), torch.as_tensor(job.split.retain_train)
    forget = (job.loaded.Xtr[ft], d.y_train[ft])
    retain = (job.loaded.Xtr[rt], d.y_train[rt])
    base = _base(plan, job)
    profile = defaults_for(plan.arch if ":" not in plan.arch else "image", job.setting)
    rows, kept = [], {}
    for m in todo:
        na = None if m in ("original", "retrain") else not_applicable(METHODS[m], job.setting)
        failed = False
        if m in ("original", "retrain"):
            # retrain's seconds: the oracle's training time, kept in its checkpoint's history.
            model = original if m == "original" else retrained
            secs = 0.0 if m == "original" else training_seconds(retrained)
            steps, hp, error = 0, plan.recipe.to_dict(), None
        elif na:
            model, secs, steps, hp = None, float("nan"), 0, {}
            error = f"n/a: {na} ({m} forgets whole classes; the {job.setting} setting has none to forget)"
        elif m in FULL_CLASS_ONLY and job.setting != "full_class":
            model, secs, steps, hp = None, float("nan"), 0, {}
            error = f"{m} is a full-class method (Chundawat et al.); not run in the {job.setting} setting"
        else:
            hp = dict((plan.cfg.overrides or {}).get(m, {}))
            hp.setdefault("seed", job.seed)
            try:
                res = unlearn(m, original, forget=forget, retain=retain, device=plan.device, profile=profile, **hp)
                model, secs, steps, hp, error = res.model, res.seconds, len(res.history), res.hyperparameters, None
            except ValueError as err:  # the method refuses these inputs (its key holds them all): final
                model, secs, steps, error = None, float("nan"), 0, str(err)
            except Exception as err:  # noqa: BLE001 - a crash (e.g. out of memory): a failed run, retried by a rerun
                model, secs, steps = None, float("nan"), 0
                error, failed = f"{type(err).__name__}: {err}", True
        scores = (evaluate_images(model, job.loaded, job.split, reference=retrained) if model is not None
                  else {k: float("nan") for k, _, _ in IMAGE_COLUMNS if k != "seconds"})
        row = dict(base, method=m, seconds=secs, steps=steps, hyperparameters=hp, **scores)
        if error:
            row["error"] = error
        if na:
            row["na"] = na  # tables show "n/a: class-level method"
        if failed:
            row["failed"] = True
        row["key"] = plan.run_key(job, m)
        rows.append(row)
        if on_row is not None:
            on_row(row)
        if keep_models and model is not None:
            kept[m] = model
        report("finished", 1, method=m)
    return rows, kept


def job_audit_data(job: Job) -> image_audit.AuditData:
    """The audit's data for ``job``: its forget set, its retain set and a retain sample drawn with its seed."""
    d = job.loaded.data
    return audit_data(job.loaded.Xtr, d.y_train, job.loaded.Xte, d.y_test, job.split.forget_train, job.seed)


def run_audit_member(plan: Plan, job: Job, member: Member, original, data: image_audit.AuditData | None = None):
    """One member of ``job``'s audit (``unlearn_core.images.audit.run_member``) with the bench's model,
    recipe, device, profile and hyperparameters: (its result, the model of a trained original or None)."""
    d = job.loaded.data
    make = functools.partial(_build, plan.arch, d.n_classes, tuple(job.loaded.Xtr.shape[1:]))
    profile = defaults_for(plan.arch if ":" not in plan.arch else "image", job.setting)
    hp = (plan.cfg.overrides or {}).get(member.method, {}) if member.method else {}
    return image_audit.run_member(member, make_model=make, recipe=plan.recipe, data=data or job_audit_data(job),
                                  original=original, device=plan.device, profile=profile, hp=hp)


def add_audit(plan: Plan, job: Job, rows: list[dict], results: dict) -> None:
    """Score ``job``'s audit from its members' ``results`` and put the columns on its rows in place (as the
    2-D bench does: ``AuditResult.row_fields``). A method whose models could not be scored gets an
    ``audit_error``; rows the audit does not measure (n/a) get nothing."""
    K, protocol = int(plan.cfg.audit), plan.cfg.audit_protocol
    methods = [m for m in plan.methods if any(mem.method == m for mem in results)]
    try:
        res = image_audit.score_members(K, protocol, job.seed, job_audit_data(job), results, methods)
    except ValueError as err:  # the reference itself is not finite: nothing can be judged against it
        for row in rows:
            if plan.audited(job, row["method"]):
                row["audit_error"] = f"the audit could not be scored: {err}"
        return
    for row in rows:
        fields = res.row_fields(row["method"])
        if fields is not None:
            row.update(fields)
        elif row["method"] in res.errors:
            row["audit_error"] = res.errors[row["method"]]


def sort_rows(plan: Plan, rows: list[dict]) -> list[dict]:
    order = plan.names
    return sorted(rows, key=lambda r: (SETTINGS.index(r["setting"]), str(r["target"]), order.index(r["method"]),
                                       r["seed"]))


def run_benchmark(cfg: BenchConfig, *, progress: Callable[[BenchProgress], None] | None = None,
                  keep_models: bool = False) -> BenchResult:
    """Run every job of ``cfg`` in this process (the serial engine); with ``cfg.out_dir`` each finished
    run is written and a rerun resumes, reusing only runs whose key matches.

    ``progress(event)`` receives a :class:`BenchProgress` after every run, when a model starts
    training and after each of its epochs. Raises ValueError on bad input before any training.
    """
    plan = plan_benchmark(cfg)
    total, count = len(plan.jobs) * len(plan.names), [0]
    rows: list[dict] = []
    kept: dict = {}
    originals: dict = {}
    notes: list[str] = []
    for job in plan.jobs:
        def report(stage: str, finished: int = 0, job=job, **details) -> None:
            count[0] += finished
            if progress is not None:
                progress(BenchProgress(count[0], total, stage, job.setting, job.label, job.seed, **details))

        done, todo, why = stored_runs(plan, job)
        notes += why
        rows += done.values()
        if done:
            report("resumed", len(done), skipped=len(done))
        if not todo:
            continue
        key = (job.loaded.variant, job.seed)
        if key not in originals:
            report("training")
            originals[key] = original_model(plan, job.loaded, job.seed, cache_dir=plan.models_dir,
                                            on_epoch=lambda e, n, r=report: r("epoch", model="original", epoch=e,
                                                                             epochs=n))

        members = plan.audit_members(job, todo)
        new, job_models = run_job(plan, job, originals[key], todo, cache_dir=plan.models_dir, report=report,
                                  keep_models=keep_models, on_row=None if members else lambda row: record(plan, row))
        if members:  # the rows are written once their audit columns are on them
            data = job_audit_data(job)
            try:
                results = image_audit.run_members(
                    members, original=originals[key], protocol=plan.cfg.audit_protocol,
                    run=lambda mem, src, job=job, data=data: run_audit_member(plan, job, mem, src, data),
                    progress=lambda i, n, mem, r=report: r("audit", method=mem.label, epoch=i, epochs=n))
                add_audit(plan, job, new, results)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as err:  # noqa: BLE001 - a crash in the audit: the cell's runs failed, a rerun retries
                new = failed_rows(plan, job, todo, f"audit: {type(err).__name__}: {str(err)[:300]}")
            for row in new:
                record(plan, row)
        rows += new
        if keep_models:
            kept[(job.setting, job.label, job.seed)] = job_models
    return BenchResult(sort_rows(plan, rows), plan.jobs, kept, notes)


def training_seconds(model) -> float:
    """Wall-clock seconds of the model's training, summed over resumed sessions (NaN if unknown)."""
    hist = getattr(model, "fit_history", None) or []
    return float(hist[-1].get("seconds", float("nan"))) if hist else float("nan")
