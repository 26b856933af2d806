"""``python -m unlearn_core.bench``: run unlearning methods on 2-D data and print a table.

Per seed: train the original model on the training split, pick the forget set, retrain from
scratch without it (the oracle, always run), apply each method, and evaluate everything on the
same retain / forget / test sets. Prints mean ± std over seeds with the gap to retrain, and
writes JSON rows with --json. ``--sweep`` runs the sweep that chose the default JiT settings
(see ``unlearn_core.sweep``).

Exit codes: 0 on success, 2 on bad flags or an impossible setting (one-line message on stderr).
"""
from __future__ import annotations

import argparse
import ast
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass

import numpy as np
import torch

import toy_data

from .imagebench import IMAGE_DATASETS
from .methods import METHODS, unlearn
from .metrics import data_bounds, evaluate
from .models import MLP
from .training import FIT_DEFAULTS, fit, predict_logits
from . import scenarios

DEFAULT_2D_METHODS = "jit,retrain,finetune,neggrad_plus,random_label"
METRICS = ("acc_retain", "acc_forget", "acc_test", "mia", "js_forget", "js_test", "boundary_disagreement", "seconds")


@dataclass
class Problem:
    """A 2-D dataset split into train and test, as the CLI and the sweep use it."""
    dataset: str
    X: np.ndarray  # all points, as make_dataset returned them
    y: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    n_classes: int

    @property
    def X_train(self):
        return self.X[self.train_idx]

    @property
    def y_train(self):
        return self.y[self.train_idx]

    @property
    def test(self):
        return self.X[self.test_idx], self.y[self.test_idx]

    @property
    def bounds(self):
        return data_bounds(self.X)


def make_problem(dataset: str, *, n_samples: int = 600, noise: float | None = None, data_seed: int = 0,
                 classes: int | None = None, test_size: float = 0.25, keep_in_train=None) -> Problem:
    X, y = toy_data.make_dataset(dataset, n_samples=n_samples, noise=noise, seed=data_seed, classes=classes)
    *_, tr, te = toy_data.train_test_split(X, y, test_size=test_size, seed=data_seed, keep_in_train=keep_in_train)
    return Problem(dataset, X, y, np.asarray(tr), np.asarray(te), int(y.max()) + 1)


@dataclass
class ModelRecipe:
    hidden: tuple[int, ...] = (64, 64)
    activation: str = "relu"
    epochs: int = FIT_DEFAULTS["epochs"]
    lr: float = FIT_DEFAULTS["lr"]
    batch_size: int = FIT_DEFAULTS["batch_size"]


def train_original(problem: Problem, recipe: ModelRecipe, seed: int, device="cpu") -> MLP:
    model = MLP(2, problem.n_classes, recipe.hidden, recipe.activation, seed=seed)
    fit(model, problem.X_train, problem.y_train, epochs=recipe.epochs, lr=recipe.lr,
        batch_size=recipe.batch_size, seed=seed, device=device)
    return model


def choose_forget(setting: str, problem: Problem, model, seed: int, *, forget_class=None, forget_count=20,
                  forget_region=None, forget_indices=None, tau=0.5, radius=0.3) -> np.ndarray:
    """Rows of the *training split* to forget, for one of ``scenarios.SETTINGS``."""
    Xtr, ytr = problem.X_train, problem.y_train
    if setting == "full_class":
        if forget_class is None:
            raise ValueError("--setting full_class needs --forget-class")
        return scenarios.full_class(ytr, int(forget_class))
    if setting == "random":
        return scenarios.random_points(len(ytr), int(forget_count), seed)
    if setting == "region":
        box = forget_region if forget_region is not None else scenarios.auto_region(Xtr, ytr, forget_class, seed=seed)
        return scenarios.region(Xtr, box)
    if setting == "indices":
        if not forget_indices:
            raise ValueError("--setting indices needs --forget-indices I,J,...")
        pos = {int(i): k for k, i in enumerate(problem.train_idx)}
        bad = [i for i in forget_indices if i not in pos]
        if bad:
            raise ValueError(f"forget indices {bad[:5]} are not in the training split "
                             f"(valid: 0..{len(problem.X) - 1})")
        return np.sort(np.array([pos[int(i)] for i in forget_indices], dtype=np.int64))
    if setting == "high_info":
        pred = predict_logits(model, torch.as_tensor(Xtr)).argmax(1).numpy()
        return scenarios.high_information(Xtr, ytr, tau=tau, radius=radius, correct=pred == ytr)
    raise ValueError(f"unknown setting {setting!r}; choose one of {', '.join(scenarios.SETTINGS)}")


def split(problem: Problem, forget_rows: np.ndarray):
    """(forget, retain) (X, y) pairs of the training split; an error if nothing would be retained."""
    Xtr, ytr = problem.X_train, problem.y_train
    mask = np.zeros(len(ytr), bool)
    mask[forget_rows] = True
    if mask.all():
        raise ValueError("the forget set is the whole training set; nothing would be left to retrain on")
    return (Xtr[mask], ytr[mask]), (Xtr[~mask], ytr[~mask])


def run_seed(problem: Problem, recipe: ModelRecipe, seed: int, setting: str, methods: list[str],
             overrides: dict[str, dict], device: str = "cpu", progress=None, audit: int = 0,
             **forget_kw) -> list[dict]:
    """One seed: original, retrain (always), then each method. Returns JSON rows.

    With ``audit=K`` the seed's forget set is also audited with K models per sample
    (``unlearn_core.audit.run_audit``): method rows get the method's scores, the retrain row the
    floor (retrain vs retrain) and the original row the ceiling (no unlearning).
    """
    original = train_original(problem, recipe, seed, device)
    rows_f = choose_forget(setting, problem, original, seed, **forget_kw)
    forget, retain = split(problem, rows_f)
    test = problem.test
    tick = progress.update if progress is not None else (lambda n=1: None)
    tick()
    base = dict(dataset=problem.dataset, setting=setting, seed=seed, n_forget=int(len(rows_f)))
    results = {}
    ref = unlearn("retrain", original, forget=forget, retain=retain, device=device, seed=seed,
                  **overrides.get("retrain", {}))
    results["retrain"] = ref
    tick()
    for m in methods:
        if m == "retrain":
            continue
        hp = dict(overrides.get(m, {}))
        hp.setdefault("seed", seed)
        results[m] = unlearn(m, original, forget=forget, retain=retain, device=device, **hp)
        tick()
    rows = []
    kw = dict(retain=retain, forget=forget, test=test, reference=ref.model, bounds=problem.bounds)
    rows.append(dict(base, method="original", seconds=0.0, steps=0, hyperparameters=dict(vars(recipe)),
                     **evaluate(original, **kw)))
    for m in ["retrain"] + [m for m in methods if m != "retrain"]:
        r = results[m]
        rows.append(dict(base, method=m, seconds=r.seconds, steps=len(r.history),
                         hyperparameters=r.hyperparameters, **evaluate(r.model, **kw)))
    if audit:
        add_audit(rows, problem, recipe, seed, rows_f, methods, overrides, int(audit), device)
        tick()
    return rows


def add_audit(rows: list[dict], problem: Problem, recipe: ModelRecipe, seed: int, rows_f, methods, overrides,
              K: int, device) -> None:
    """Audit one seed's forget set with K models per sample and add the scores to its rows in place."""
    from .audit import run_audit

    res = run_audit(lambda s: MLP(2, problem.n_classes, recipe.hidden, recipe.activation, seed=s),
                    (problem.X_train, problem.y_train), rows_f, problem.test, K=K, methods=methods,
                    recipe=dict(epochs=recipe.epochs, lr=recipe.lr, batch_size=recipe.batch_size),
                    overrides=overrides, seed=seed, device=device)
    for row in rows:
        s = res.scores.get(row["method"])
        if s is None:
            continue
        summ = s.summary()
        row.update(audit_F=summ["forget_quality"], audit_final=summ["final_score"], audit_eps_mean=summ["eps_mean"],
                   audit_ulira=summ["ulira_acc"], audit_retain_F=summ["retain_quality"],
                   audit=dict(K=K, role=s.role, eps=s.eps.tolist(), ulira=s.ulira.tolist(),
                              eps_retain=s.eps_retain.tolist(), forget_rows=res.forget_rows.tolist(),
                              retain_rows=res.retain_rows.tolist(), seconds=s.seconds, batched=s.batched))


def _fmt(vals: list[float], pct: bool) -> tuple[str, float]:
    arr = np.array([v for v in vals if v is not None and not math.isnan(v)], dtype=float)
    if len(arr) == 0:
        return "n/a", float("nan")
    k = 100.0 if pct else 1.0
    mean, std = arr.mean() * k, (arr.std(ddof=1) * k if len(arr) > 1 else 0.0)
    digits = 1 if pct else 3
    return (f"{mean:.{digits}f} ± {std:.{digits}f}" if len(arr) > 1 else f"{mean:.{digits}f}"), mean


TABLE_2D = [("acc_retain", "retain acc % ↑", True), ("acc_forget", "forget acc % (→ retrain)", True),
            ("acc_test", "test acc % ↑", True), ("mia", "entropy MIA % (→ retrain)", True),
            ("js_forget", "JS forget (↓, vs retrain)", False), ("boundary_disagreement", "boundary disagree % ↓", True),
            ("seconds", "seconds", False)]


def table(rows: list[dict], cols=None, gap_keys=("acc_retain", "acc_forget", "acc_test", "mia")) -> str:
    """Markdown table: mean ± std over seeds; in brackets the gap to retrain (method - retrain).

    ``cols``: (key, header, as_percent) per column (default: the 2-D columns); ``gap_keys``: the
    columns that get the gap to retrain.
    """
    order = list(dict.fromkeys(r["method"] for r in rows))
    cols = list(TABLE_2D if cols is None else cols)
    if any("audit_F" in r for r in rows):
        cols += [("audit_F", "audit F ↑ (retrain row = floor)", False), ("audit_final", "audit final ↑", False),
                 ("audit_eps_mean", "mean ε ↓", False), ("audit_ulira", "U-LiRA acc (→ 0.5)", False),
                 ("audit_retain_F", "retain-sample F ↑", False)]
    means = {}
    cells = {}
    for m in order:
        sub = [r for r in rows if r["method"] == m]
        for key, _, pct in cols:
            cells[m, key], means[m, key] = _fmt([r.get(key) for r in sub], pct)
    lines = ["| method | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for m in order:
        out = []
        for key, _, pct in cols:
            cell = cells[m, key]
            gap_ok = key in gap_keys and m != "retrain" and ("retrain", key) in means
            if gap_ok and not math.isnan(means[m, key]):
                cell += f" ({means[m, key] - means['retrain', key]:+.1f})"
            out.append(cell)
        lines.append(f"| {m} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def write_json(path: str, rows: list[dict]) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(rows, fh, indent=1, default=float)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit code 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def _int_list(text: str) -> list[int]:
    try:
        vals = [int(t) for t in text.split(",") if t.strip() != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return vals


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m unlearn_core.bench", description=__doc__.split("\n\n")[0],
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = p.add_argument_group("data")
    d.add_argument("--dataset", default="moons", choices=sorted(toy_data.DATASETS) + list(IMAGE_DATASETS),
                   help="a 2-D dataset, or an image dataset (digits, cifar10, cifar20, cifar100, folder)")
    d.add_argument("--data-dir", default=None,
                   help="images: the CIFAR 'python version' archive (.tar.gz) or its extracted folder, or the image "
                        "folder (one subfolder per class)")
    d.add_argument("--n-samples", type=int, default=600)
    d.add_argument("--noise", type=float, default=None, help="default: the dataset's own")
    d.add_argument("--classes", type=int, default=None, help="classes (blobs, spirals, gaussian_quantiles)")
    d.add_argument("--data-seed", type=int, default=0)
    d.add_argument("--test-size", type=float, default=0.25)
    f = p.add_argument_group("what to forget")
    f.add_argument("--setting", default="random",
                   help=f"2-D: one of {', '.join(scenarios.SETTINGS)}; images: full_class, sub_class, random, "
                        "a comma list of them, or all")
    f.add_argument("--target", default=None,
                   help="images: the class to forget (full_class) or the fine class (sub_class), by name or index; "
                        "a comma list runs several (default: the paper's first, or digit 3)")
    f.add_argument("--forget-class", type=int, default=None)
    f.add_argument("--forget-count", type=int, default=None,
                   help="random setting: how many training points (2-D default 20; images: 83 on CIFAR as the "
                        "paper, 2%% of the training set otherwise)")
    f.add_argument("--forget-region", type=float, nargs=4, metavar=("X0", "X1", "Y0", "Y1"), default=None,
                   help="region setting: the box to forget (default: a box around ~10%% of a class)")
    f.add_argument("--forget-indices", type=_int_list, default=None,
                   help="indices into make_dataset's output; they are kept in the training split")
    f.add_argument("--tau", type=float, default=0.5, help="high_info: alpha(x) < tau")
    f.add_argument("--radius", type=float, default=0.3, help="high_info: neighbourhood radius (standardised units)")
    m = p.add_argument_group("model and methods")
    m.add_argument("--hidden", type=_int_list, default=[64, 64])
    m.add_argument("--activation", default="relu", choices=["relu", "tanh", "gelu", "sigmoid"])
    m.add_argument("--epochs", type=int, default=FIT_DEFAULTS["epochs"])
    m.add_argument("--lr", type=float, default=FIT_DEFAULTS["lr"])
    m.add_argument("--batch-size", type=int, default=FIT_DEFAULTS["batch_size"])
    m.add_argument("--methods", default=None,
                   help="comma list (default: 2-D jit,retrain,finetune,neggrad_plus,random_label; images: all)")
    m.add_argument("--seeds", type=_int_list, default=[0, 1, 2])
    m.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    im = p.add_argument_group("image models and training")
    im.add_argument("--model", default=None, choices=["smallcnn", "resnet18", "vgg11", "vit"],
                    help="architecture (default: smallcnn on digits, vgg11 elsewhere)")
    im.add_argument("--model-factory", default=None, metavar="PACKAGE.MODULE:FACTORY",
                    help="your own model: factory(n_classes=..., in_shape=...) -> nn.Module")
    im.add_argument("--checkpoint", default=None, metavar="PATH",
                    help="start from this trained original (weights only; never an arbitrary pickle)")
    im.add_argument("--train-epochs", type=int, default=None, help="override the training recipe's epochs")
    im.add_argument("--train-lr", type=float, default=None, help="override the recipe's peak learning rate")
    im.add_argument("--train-batch-size", type=int, default=None)
    im.add_argument("--amp", action="store_true", help="CUDA: bf16 autocast for training")
    im.add_argument("--out", default=None, metavar="DIR",
                    help="images: results folder (runs/, models/, table.md, results.csv/json, gap.html); "
                         "rerunning with the same folder resumes (default: results/DATASET-MODEL)")
    im.add_argument("--no-plot", action="store_true", help="images: skip gap.html")
    h = p.add_argument_group("hyperparameter overrides")
    h.add_argument("--jit-sigma", type=float)
    h.add_argument("--jit-lr", type=float)
    h.add_argument("--jit-n", type=int, help="JiT's n_samples (perturbations per point)")
    h.add_argument("--jit-batch-size", type=int)
    h.add_argument("--jit-epochs", type=int)
    h.add_argument("--jit-normalize-step", choices=["off", "first", "probe"],
                   help="the scale-free step extension (off = the paper's plain SGD)")
    h.add_argument("--jit-reproduce-authors", action="store_true", help="the authors' code's behaviour")
    h.add_argument("--set", action="append", default=[], metavar="METHOD.NAME=VALUE",
                   help="any hyperparameter, e.g. --set finetune.epochs=5 (repeatable)")
    a = p.add_argument_group("forgetting audit")
    a.add_argument("--audit", type=int, default=0, metavar="K",
                   help="also audit each seed's forget set with K models per sample (K originals, 2K retrains, "
                        "K unlearned per method, trained at once): per-example epsilon, F, final score, U-LiRA")
    o = p.add_argument_group("output")
    o.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    o.add_argument("--sweep", action="store_true", help="run the JiT default-picking sweep instead (see README)")
    o.add_argument("--quiet", action="store_true", help="no progress bar")
    o.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's own; 1 is fastest for the small 2-D models)")
    return p


def parse_overrides(args) -> dict[str, dict]:
    over: dict[str, dict] = {}
    jit = {"sigma": args.jit_sigma, "lr": args.jit_lr, "n_samples": args.jit_n,
           "batch_size": args.jit_batch_size, "epochs": args.jit_epochs,
           "normalize_step": {None: None, "off": False}.get(args.jit_normalize_step, args.jit_normalize_step),
           "reproduce_authors": True if args.jit_reproduce_authors else None}
    over["jit"] = {k: v for k, v in jit.items() if v is not None}
    for item in args.set:
        key, eq, val = item.partition("=")
        meth, dot, name = key.partition(".")
        if not eq or not dot:
            raise ValueError(f"--set expects METHOD.NAME=VALUE, got {item!r}")
        if meth not in METHODS:
            raise ValueError(f"--set {item!r}: unknown method {meth!r}; choose one of {', '.join(METHODS)}")
        if name not in METHODS[meth].defaults():
            raise ValueError(f"--set {item!r}: {meth} has no hyperparameter {name!r}; "
                             f"it takes {', '.join(sorted(METHODS[meth].defaults()))}")
        over.setdefault(meth, {})[name] = _value(val)
    return over


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        torch.set_num_threads(args.threads)
    if args.dataset in IMAGE_DATASETS:
        if args.audit:
            parser.error("--audit runs on 2-D datasets (the ensembles are trained at once on the CPU); "
                         "not on image datasets yet")
        from .imagebench import run_cli
        return run_cli(args, parser)
    if args.sweep:
        from .sweep import run_sweep
        return run_sweep(args)
    try:
        if args.setting not in scenarios.SETTINGS:
            raise ValueError(f"--setting {args.setting!r} is not a 2-D setting; choose one of {', '.join(scenarios.SETTINGS)}")
        args.forget_count = 20 if args.forget_count is None else args.forget_count
        methods = [m.strip() for m in (args.methods or DEFAULT_2D_METHODS).split(",") if m.strip()]
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise ValueError(f"unknown method(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METHODS)}")
        overrides = parse_overrides(args)
        problem = make_problem(args.dataset, n_samples=args.n_samples, noise=args.noise, data_seed=args.data_seed,
                               classes=args.classes, test_size=args.test_size, keep_in_train=args.forget_indices)
        recipe = ModelRecipe(tuple(args.hidden), args.activation, args.epochs, args.lr, args.batch_size)
        forget_kw = dict(forget_class=args.forget_class, forget_count=args.forget_count,
                         forget_region=args.forget_region, forget_indices=args.forget_indices,
                         tau=args.tau, radius=args.radius)
        # Check the forget selection once before any training where it needs no model.
        if args.setting != "high_info":
            split(problem, choose_forget(args.setting, problem, None, args.seeds[0], **forget_kw))
        from tqdm import tqdm
        if args.audit and args.audit < 4:
            raise ValueError(f"--audit needs K >= 4 models per sample (64 is the usual figure), got {args.audit}")
        total = len(args.seeds) * (2 + len([m for m in methods if m != "retrain"]) + (1 if args.audit else 0))
        rows: list[dict] = []
        with tqdm(total=total, desc="runs", file=sys.stderr, delay=0.5, disable=args.quiet) as bar:
            for seed in args.seeds:
                rows += run_seed(problem, recipe, seed, args.setting, methods, overrides, args.device,
                                 progress=bar, audit=args.audit, **forget_kw)
    except ValueError as err:
        print(f"{parser.prog}: error: {err}", file=sys.stderr)
        return 2
    counts = sorted({r["n_forget"] for r in rows})
    n_text = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    print(f"{args.dataset}, setting {args.setting}, {n_text} points forgotten, "
          f"seeds {','.join(map(str, args.seeds))}; mean ± std over seeds, (gap to retrain)")
    print(table(rows))
    print("forget acc and MIA: the target is retrain's value; MIA = entropy-LR attack, share of the "
          "forget set called 'member' (paper's variant).")
    if args.audit:
        print(f"audit with K={args.audit} models per sample: F = mean challenge points over the forget set "
              f"(1 = indistinguishable from retraining; with K models even a second set of retrained models, the "
              f"retrain row, scores only about this floor); final = F x retain-acc ratio x test-acc ratio; "
              f"ε = per-example epsilon (0 ideal, cap 50); U-LiRA = likelihood-ratio attack accuracy (0.5 ideal); "
              f"the original row is the ceiling (no unlearning).")
    if args.json:
        write_json(args.json, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
